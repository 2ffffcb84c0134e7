"""A streaming server's send side: a file over TCP to HOST:PORT (resolved by
getaddrinfo, so a LIN6 name works), paced by the kernel at RATE bytes/s
(SO_MAX_PACING_RATE; TCP paces internally without the fq qdisc), until
the file ends or the file STOP exists: then it finishes the chunk it is
sending, closes its side as a server whose client went away would, and
writes how many bytes it sent to SENT. The receiver then holds exactly
the first SENT bytes of FILE.

Pacing in the socket rather than in a queue on the link is what a media
server does, and it keeps the packets that are not yet sent *before*
lin6.ko's translation: after a handover the next segment leaves with the
new locator instead of waiting behind a queue of segments already
translated to the old one.

Usage: paced_send.py HOST PORT FILE RATE STOP SENT
"""

import os
import socket
import struct
import sys

SO_MAX_PACING_RATE = getattr(socket, "SO_MAX_PACING_RATE", 47)
CHUNK = 16384


def main():
    host, port, path, rate, stop, sent_path = sys.argv[1:7]
    family, kind, proto, _, addr = socket.getaddrinfo(
        host, int(port), socket.AF_INET6, socket.SOCK_STREAM
    )[0]
    sent = 0
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, struct.pack("I", int(rate)))
        sock.connect(addr)
        with open(path, "rb") as f:
            while not os.path.exists(stop) and (chunk := f.read(CHUNK)):
                sock.sendall(chunk)
                sent += len(chunk)
        sock.shutdown(socket.SHUT_WR)
        # Until the receiver has it all and closes.
        while sock.recv(4096):
            pass
    with open(sent_path, "w") as f:
        f.write(f"{sent}\n")


if __name__ == "__main__":
    main()

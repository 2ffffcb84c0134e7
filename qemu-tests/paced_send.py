"""A streaming server's send side: a file over TCP to HOST:PORT (resolved by
getaddrinfo, so a LIN6 name works), paced by the kernel at RATE bytes/s
(SO_MAX_PACING_RATE; TCP paces internally without the fq qdisc), until
the file UNPACE exists, then at full speed.

Pacing in the socket rather than in a queue on the link is what a media
server does, and it keeps the packets that are not yet sent *before*
lin6.ko's translation: after a handover the next segment leaves with the
new locator instead of waiting behind a queue of segments already
translated to the old one.

Usage: paced_send.py HOST PORT FILE RATE UNPACE
"""

import os
import socket
import struct
import sys

SO_MAX_PACING_RATE = getattr(socket, "SO_MAX_PACING_RATE", 47)
CHUNK = 16384


def set_rate(sock, rate):
    sock.setsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, struct.pack("I", rate))


def main():
    host, port, path, rate, unpace = sys.argv[1:6]
    family, kind, proto, _, addr = socket.getaddrinfo(
        host, int(port), socket.AF_INET6, socket.SOCK_STREAM
    )[0]
    with socket.socket(family, kind, proto) as sock:
        set_rate(sock, int(rate))
        sock.connect(addr)
        paced = True
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                sock.sendall(chunk)
                if paced and os.path.exists(unpace):
                    set_rate(sock, 0xFFFFFFFF)
                    paced = False
        sock.shutdown(socket.SHUT_WR)
        # Until the receiver has it all and closes.
        while sock.recv(4096):
            pass


if __name__ == "__main__":
    main()

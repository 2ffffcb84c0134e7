#!/usr/bin/python3
"""Hand-made load-sharing messages (docs/protocol.md, "Load-sharing
messages") for scenario ls_f: what an attacker without the cluster key can
send. Prints one JSON line of what was sent (and, for the flood, answered).

  ls_packets.py flood --ls ADDR --node-id ID --pool ADDR --seconds S
      LSS_MA_REQUESTs to the LS at ADDR:7310 as fast as one socket goes, for
      S seconds; replies are counted by code.
  ls_packets.py forge --ls ADDR --ma-control [ADDR]:PORT --ma ADDR --user ID
      One of each forgery: heartbeats for a made-up MA signed with a wrong
      key, under an unknown key ID and unsigned; to the LS's peer port an
      MA table update marking --ma inactive and an answer-table update for
      a made-up prefix, with a wrong key; to the MA's control socket an
      LSS_MA_ASSIGN of --user and an LSS_RTT_REQUEST, with a wrong key.
"""
import argparse
import hashlib
import hmac
import json
import os
import socket
import struct
import time

HEARTBEAT, RTT_REQUEST, MA_REQUEST, MATBL_UPDATE, ANSTBL_UPDATE, MA_ASSIGN = 1, 2, 4, 6, 7, 9
LS_PORT, PEER_PORT = 7310, 7311


def a6(text):
    return socket.inet_pton(socket.AF_INET6, text)


def node_id(text):
    return bytes(int(b, 16) for b in text.split(":"))


def frame(kind, body, key_id=0, key=None, seq=None):
    """Header (version 1, type, body length, sequence, timestamp, key ID),
    body, and an HMAC-SHA-256 trailer when a key is given."""
    seq = int(time.time() * 1000) % 2**32 if seq is None else seq
    head = struct.pack("!BBHIII", 1, kind, len(body), seq, int(time.time()) % 2**32, key_id)
    msg = head + body
    if key is not None:
        msg += hmac.new(key, msg, hashlib.sha256).digest()
    return msg


def flood(args):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setblocking(False)
    body = node_id(args.node_id) + a6(args.pool)
    to = (args.ls, LS_PORT)
    sent, codes = 0, {}

    def drain():
        while True:
            try:
                reply = s.recv(256)
            except BlockingIOError:
                return
            if len(reply) >= 17:
                codes[reply[16]] = codes.get(reply[16], 0) + 1

    # As many as asked for, however slow the guest is (a time-bound flood
    # from a starved guest was too small to test the limit), within a cap.
    end = time.monotonic() + args.seconds
    while sent < args.count and time.monotonic() < end:
        try:
            s.sendto(frame(MA_REQUEST, body, seq=sent), to)
            sent += 1
        except BlockingIOError:
            pass
        drain()
    time.sleep(1.5)  # decisions under way answer within lsd's rtt deadline
    drain()
    print(json.dumps({"sent": sent, "replies": {str(k): v for k, v in sorted(codes.items())}}))


def forge(args):
    wrong = os.urandom(32)
    fake_ma = a6("2001:db8:666::1")
    ma = a6(args.ma)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    hb = fake_ma + struct.pack("!IIIIB3x", 100000, 0, 0, 0, 0)
    to_ls = [
        frame(HEARTBEAT, hb, key_id=1, key=wrong),     # wrong key
        frame(HEARTBEAT, hb, key_id=9, key=wrong),     # unknown key ID
        frame(HEARTBEAT, hb),                          # unsigned
    ]
    for m in to_ls:
        s.sendto(m, (args.ls, LS_PORT))
    # A peer's relay: the real MA inactive (flags 0), and a made-up answer.
    entry = ma + fake_ma + struct.pack("!HBxIIIII", 7310, 0, 100000, 0, 0, 0, 0)
    ans = a6("2001:db8:666::")[:8] + fake_ma + struct.pack("!I", 600)
    to_peer = [
        frame(MATBL_UPDATE, struct.pack("!BB2x", 0, 1) + entry, key_id=1, key=wrong),
        frame(ANSTBL_UPDATE, struct.pack("!BB2x", 0, 1) + ans, key_id=1, key=wrong),
    ]
    for m in to_peer:
        s.sendto(m, (args.ls, PEER_PORT))
    host, port = args.ma_control.rsplit(":", 1)
    control = (host.strip("[]"), int(port))
    assign = node_id(args.user) + struct.pack("!B3x", 1) + a6("2001:db8:666::2") + ma
    rtt = struct.pack("!I", 7) + a6("2001:db8:666::2") + struct.pack("!BB2x", 4, 64)
    to_ma = [
        frame(MA_ASSIGN, assign, key_id=1, key=wrong),
        frame(RTT_REQUEST, rtt, key_id=1, key=wrong),
    ]
    for m in to_ma:
        s.sendto(m, control)
    print(json.dumps({"to_ls": len(to_ls) + len(to_peer), "to_ma": len(to_ma)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flood")
    f.add_argument("--ls", required=True)
    f.add_argument("--node-id", required=True)
    f.add_argument("--pool", required=True)
    f.add_argument("--count", type=int, default=600)
    f.add_argument("--seconds", type=float, default=60, help="gives up after this long")
    g = sub.add_parser("forge")
    g.add_argument("--ls", required=True)
    g.add_argument("--ma-control", required=True)
    g.add_argument("--ma", required=True)
    g.add_argument("--user", required=True)
    args = p.parse_args()
    {"flood": flood, "forge": forge}[args.cmd](args)


if __name__ == "__main__":
    main()

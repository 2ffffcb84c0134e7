#!/usr/bin/python3
"""Hand-made packets for the bad-input scenario.

  packets.py dstopts --src A --dst B [--port P] [--count N]
      UDP datagrams "dstopts-N" from A to B:P that carry a Destination
      Options header (PadN), sent through the normal socket API.
  packets.py truncated --dev IF --src A --dst B --dst-mac MAC
      Raw Ethernet frames out of IF to B whose transport header is cut
      short (TCP, UDP, ICMPv6), plus a lone fragment and an unknown next
      header: the receiver must drop or handle them without harm.
"""
import argparse
import socket
import struct
import sys


def dstopts(args):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((args.src, 0))
    # Next header and length are filled in by the kernel; PadN of 6 bytes.
    opts = bytes([0, 0, 1, 4, 0, 0, 0, 0])
    for i in range(args.count):
        s.sendmsg([f"dstopts-{i}\n".encode()],
                  [(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, opts)], 0, (args.dst, args.port))
    return 0


def mac(text):
    return bytes(int(b, 16) for b in text.split(":"))


def ipv6(src, dst, nexthdr, payload):
    head = struct.pack("!IHBB", 6 << 28, len(payload), nexthdr, 64)
    return head + socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + payload


def truncated(args):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((args.dev, 0))
    src_mac = mac(open(f"/sys/class/net/{args.dev}/address").read().strip())
    eth = mac(args.dst_mac) + src_mac + struct.pack("!H", 0x86DD)
    frames = [
        ipv6(args.src, args.dst, 6, b"\x13\x89\x00"),          # TCP: 3 of 20 bytes
        ipv6(args.src, args.dst, 17, b"\x13\x89\x13"),         # UDP: 3 of 8 bytes
        ipv6(args.src, args.dst, 58, b"\x80"),                 # ICMPv6: 1 of 4 bytes
        ipv6(args.src, args.dst, 6, b""),                      # nothing after the header
        # A later fragment (offset 8, more fragments) with no transport header.
        ipv6(args.src, args.dst, 44, struct.pack("!BBHI", 17, 0, (1 << 3) | 1, 7) + b"x" * 16),
        # A first fragment whose UDP header is cut by the fragment end.
        ipv6(args.src, args.dst, 44, struct.pack("!BBHI", 17, 0, 1, 8) + b"\x13\x89"),
        # Destination options that claim more length than there is.
        ipv6(args.src, args.dst, 60, bytes([17, 8, 1, 4, 0, 0, 0, 0])),
        ipv6(args.src, args.dst, 253, b"experimental"),
    ]
    for _ in range(args.repeat):
        for f in frames:
            s.send(eth + f)
    print(f"sent {len(frames) * args.repeat} frames")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    d = sub.add_parser("dstopts")
    d.add_argument("--src", required=True)
    d.add_argument("--dst", required=True)
    d.add_argument("--port", type=int, default=7001)
    d.add_argument("--count", type=int, default=3)
    t = sub.add_parser("truncated")
    t.add_argument("--dev", required=True)
    t.add_argument("--src", required=True)
    t.add_argument("--dst", required=True)
    t.add_argument("--dst-mac", required=True)
    t.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    return dstopts(args) if args.what == "dstopts" else truncated(args)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Sends the lin6 genetlink family malformed, oversized, missing, unknown and
unprivileged requests, then a few thousand random ones, and checks that each
is answered with the right error and nothing hangs. Exits non-zero on any
unexpected answer. Run inside the guest with lin6.ko loaded.

    genl_abuse.py [--random N] [--seed S]
"""
import argparse
import errno
import os
import random
import socket
import struct
import sys

NETLINK_GENERIC = 16
NETLINK_EXT_ACK = 11
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 0x10, 3, 1, 2
NLMSGERR_ATTR_MSG = 1

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "kmod"))
# The numbers come from the spec, as they do for the module and lin6ctl.
import yaml  # noqa: E402

SPEC = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), "..", "kmod", "lin6.yaml")))
CMD = {op["name"]: i for i, op in enumerate(SPEC["operations"]["list"], start=1)}
ATTR = {a["name"]: i for i, a in enumerate(SPEC["attribute-sets"][0]["attributes"], start=1)}


def nla(ty, payload):
    hdr = struct.pack("=HH", 4 + len(payload), ty)
    return hdr + payload + b"\0" * ((4 - len(payload) % 4) % 4)


class Genl:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.s.setsockopt(270, NETLINK_EXT_ACK, 1)
        self.s.settimeout(5)
        self.seq = 0

    def request(self, family, cmd, body=b"", flags=NLM_F_REQUEST | NLM_F_ACK, raw_len=None):
        self.seq += 1
        payload = struct.pack("=BBH", cmd, 1, 0) + body
        length = raw_len if raw_len is not None else 16 + len(payload)
        self.s.send(struct.pack("=IHHII", length, family, flags, self.seq, 0) + payload)
        return self.answers()

    def answers(self):
        """(errno, extack message, replies) for the last request."""
        replies = []
        while True:
            data = self.s.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, ty, _flags, seq, _pid = struct.unpack_from("=IHHII", data, off)
                if length < 16:
                    raise RuntimeError("bad netlink length from the kernel")
                if seq != self.seq:
                    # A late answer to an earlier request (a dump's ack).
                    off += (length + 3) & ~3
                    continue
                if ty == NLMSG_ERROR:
                    err = -struct.unpack_from("=i", data, off + 16)[0]
                    return err, extack_msg(data[off:off + length]), replies
                if ty == 3:  # NLMSG_DONE
                    return 0, "", replies
                replies.append(data[off + 20:off + length])
                off += (length + 3) & ~3


def extack_msg(msg):
    # After the error code comes the original header (+ payload unless
    # capped), then the extack attributes: find the message attribute.
    flags = struct.unpack_from("=H", msg, 6)[0]
    off = 20 + 16
    if not flags & 0x100:  # NLM_F_CAPPED
        off = 20 + struct.unpack_from("=I", msg, 20)[0]
    off = (off + 3) & ~3
    while off + 4 <= len(msg):
        ln, ty = struct.unpack_from("=HH", msg, off)
        if ln < 4:
            break
        if ty & 0x3FFF == NLMSGERR_ATTR_MSG:
            return msg[off + 4:off + ln].rstrip(b"\0").decode(errors="replace")
        off += (ln + 3) & ~3
    return ""


def family_id(g):
    err, _, replies = g.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, nla(CTRL_ATTR_FAMILY_NAME, b"lin6\0"))
    if err:
        sys.exit(f"lin6 family not found: {os.strerror(err)}")
    body = replies[0]
    off = 0
    while off < len(body):
        ln, ty = struct.unpack_from("=HH", body, off)
        if ty == CTRL_ATTR_FAMILY_ID:
            return struct.unpack_from("=H", body, off + 4)[0]
        off += (ln + 3) & ~3
    sys.exit("no family id in the reply")


FAILURES = []


def expect(name, got, want_err, want_msg=None):
    err, msg, _ = got
    ok = err == want_err and (want_msg is None or want_msg in msg)
    print(f"{'ok' if ok else 'FAILED'}: {name}: errno {err} ({os.strerror(err) if err else 'ok'}) {msg!r}")
    if not ok:
        FAILURES.append(name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--random", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--unprivileged", action="store_true", help="run as nobody; expect EPERM for changes")
    args = ap.parse_args()
    if args.unprivileged:
        os.setgid(65534)
        os.setuid(65534)
    g = Genl()
    fam = family_id(g)
    nid = nla(ATTR["node-id"], struct.pack("=Q", 0x02014A0000000042))
    pfx = nla(ATTR["prefix"], bytes.fromhex("20010db8004200000000000000000000"))

    if args.unprivileged:
        expect("map-new without CAP_NET_ADMIN", g.request(fam, CMD["map-new"], nid + pfx), errno.EPERM)
        expect("map-flush without CAP_NET_ADMIN", g.request(fam, CMD["map-flush"]), errno.EPERM)
        expect("node-set without CAP_NET_ADMIN", g.request(fam, CMD["node-set"], nid), errno.EPERM)
        expect("node-get is allowed", g.request(fam, CMD["node-get"]), 0)
    else:
        expect("node-id of 4 bytes", g.request(fam, CMD["map-new"], nla(ATTR["node-id"], b"\1\2\3\4") + pfx), errno.EINVAL)
        expect("missing node-id", g.request(fam, CMD["map-new"], pfx), errno.EINVAL, "node-id is required")
        expect("missing prefix", g.request(fam, CMD["map-new"], nid), errno.EINVAL, "prefix is required")
        expect("prefix of 15 bytes", g.request(fam, CMD["map-new"], nid + nla(ATTR["prefix"], b"\x20" * 15)), errno.ERANGE,
               "size out of range")
        expect("prefix with an interface id", g.request(
            fam, CMD["map-new"], nid + nla(ATTR["prefix"], bytes.fromhex("20010db8004200000000000000000001"))),
            errno.EINVAL, "zero interface identifier")
        expect("stationary node-id", g.request(
            fam, CMD["map-new"], nla(ATTR["node-id"], struct.pack("=Q", 0x00014A0000000042)) + pfx),
            errno.EINVAL, "not a mobile Node ID")
        expect("unknown attribute type", g.request(fam, CMD["map-new"], nid + pfx + nla(60, b"x")), errno.EINVAL)
        expect("reply-only attribute in a request", g.request(
            fam, CMD["map-new"], nid + pfx + nla(ATTR["capacity"], struct.pack("=I", 1))), errno.EINVAL)
        expect("attribute longer than the message", g.request(
            fam, CMD["map-new"], struct.pack("=HH", 200, ATTR["node-id"]) + b"\0" * 8), errno.EINVAL)
        expect("oversized attribute", g.request(fam, CMD["map-new"], nid + nla(ATTR["prefix"], b"\0" * 60000)), errno.ERANGE)
        expect("unknown command", g.request(fam, 200), errno.EOPNOTSUPP)
        expect("command 0", g.request(fam, 0), errno.EOPNOTSUPP)
        expect("delete of a missing mapping", g.request(fam, CMD["map-del"], nid), errno.ENOENT, "no mapping")
        expect("get of a missing mapping", g.request(fam, CMD["map-get"], nid), errno.ENOENT)
        expect("node-set with nothing", g.request(fam, CMD["node-set"]), errno.EINVAL, "nothing to set")
        expect("a valid map-new", g.request(fam, CMD["map-new"], nid + pfx), 0)
        expect("a valid map-del", g.request(fam, CMD["map-del"], nid), 0)

    # Random requests: any command number, random attributes, sometimes
    # random bytes. Each must get an answer; we only count them.
    rnd = random.Random(args.seed)
    answered = 0
    for _ in range(args.random):
        cmd = rnd.randrange(0, 16)
        body = b""
        for _ in range(rnd.randrange(0, 5)):
            ty = rnd.randrange(0, 24)
            body += nla(ty, rnd.randbytes(rnd.choice([0, 1, 2, 4, 8, 15, 16, 17, 40])))
        if rnd.random() < 0.2:
            body = rnd.randbytes(rnd.randrange(0, 64))
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if rnd.random() < 0.2 else 0)
        try:
            g.request(fam, cmd, body, flags)
            answered += 1
        except socket.timeout:
            FAILURES.append(f"no answer to random request (cmd {cmd})")
            break
    print(f"random requests answered: {answered}/{args.random}")
    # The table must not have filled up with random junk unless privileged.
    if FAILURES:
        sys.exit(f"{len(FAILURES)} unexpected answers: {FAILURES}")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Summarizes the paper benchmark (guest side, Debian's python3).

    paper_summary.py RESULTS.tsv META.json WIRE.pcap

RESULTS.tsv lines (paper.sh writes them):
    file MTU CONTENDER ROUND SECONDS RX_BYTES_PER_S
    udp SIZE CONTENDER ROUND RX_PPS TX_PPS
    cycles KIND CYCLES PACKETS
WIRE.pcap: the echo request and reply of each contender, captured on the
router. Prints a table, then one line "BENCH-JSON {...}" that scripts/bench
extracts.
"""
import ipaddress
import json
import statistics
import struct
import sys

from summarize import GOAL, goal_verdict  # the same decision as the datapath benchmark's

NAMES = {"plain": "plain IPv6", "lin6": "LIN6", "ila": "ILA",
         "mip6": "MIPv6 MN-CN", "mip6mm": "MIPv6 MN-MN"}
GOAL_BULK = GOAL  # LIN6 bulk TCP >= 95 % of plain IPv6
EXT = {0: "hopopts", 43: "routing", 60: "dstopts", 44: "fragment"}


def stat(values):
    if not values:
        return None
    med = statistics.median(values)
    return {"runs": values, "median": med, "min": min(values), "max": max(values),
            # (max - min) / median, per cent
            "spread_pct": (max(values) - min(values)) / med * 100 if med else None}


def read_pcap(path):
    """Yields the Ethernet frames of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise SystemExit(f"wire.pcap: link type {linktype}, expected Ethernet")
    off = 24
    while off + 16 <= len(data):
        _s, _us, incl, orig = struct.unpack(endian + "IIII", data[off:off + 16])
        yield data[off + 16:off + 16 + incl], orig
        off += 16 + incl


def parse_ipv6(frame, orig_len):
    """The IPv6 packet of an Ethernet frame: addresses, its length on the
    wire, the header chain with each extension header's size, and the
    ICMPv6 type (or None)."""
    if len(frame) < 54 or frame[12:14] != b"\x86\xdd":
        return None
    ip = frame[14:]
    plen = struct.unpack(">H", ip[4:6])[0]
    src = str(ipaddress.IPv6Address(ip[8:24]))
    dst = str(ipaddress.IPv6Address(ip[24:40]))
    nh, off, chain, ext_bytes = ip[6], 40, ["ipv6(40)"], 0
    while nh in EXT and off + 2 <= len(ip):
        size = 8 if nh == 44 else (ip[off + 1] + 1) * 8
        what = EXT[nh]
        if nh == 43 and off + 3 <= len(ip):
            what += f" type {ip[off + 2]}"
        if nh == 60 and _option_offset(ip[off + 2:off + size], 0xC9) >= 0:
            what += " HAO"  # the Home Address option (type 201)
        chain.append(f"{what}({size})")
        ext_bytes += size
        nh, off = ip[off], off + size
    icmp_type = ip[off] if nh == 58 and off < len(ip) else None
    chain.append({58: "icmpv6", 6: "tcp", 17: "udp"}.get(nh, f"proto {nh}"))
    return {"src": src, "dst": dst, "ipv6_bytes": 40 + plen, "frame_bytes": orig_len,
            "ext_header_bytes": ext_bytes, "headers": chain, "icmp_type": icmp_type}


def _option_offset(opts, wanted):
    """Offset of the first TLV option of type `wanted` in a destination
    options header's option area, or -1 when there is none."""
    i = 0
    while i < len(opts):
        t = opts[i]
        if t == wanted:
            return i
        if t == 0:  # Pad1
            i += 1
            continue
        if i + 1 >= len(opts):
            break
        i += 2 + opts[i + 1]
    return -1


def wire(pcap_path, meta):
    """Per contender: its echo request and reply as captured, and their
    bytes beyond plain IPv6's."""
    norm = lambda a: str(ipaddress.IPv6Address(a))
    addrs = {c: {norm(a) for a in v} for c, v in meta["wire_addresses"].items()}
    seen = {c: {} for c in meta["contenders"]}
    for frame, orig in read_pcap(pcap_path):
        p = parse_ipv6(frame, orig)
        if not p or p["icmp_type"] not in (128, 129):
            continue
        kind = "request" if p["icmp_type"] == 128 else "reply"
        for c, a in addrs.items():
            if p["src"] in a and p["dst"] in a:
                seen[c].setdefault(kind, p)
    plain = seen.get("plain", {})
    for c, d in seen.items():
        d["extra_bytes"] = {k: (d[k]["ipv6_bytes"] - plain[k]["ipv6_bytes"]
                                if k in d and k in plain else None)
                            for k in ("request", "reply")}
    return seen


def main():
    results_path, meta_path, pcap_path = sys.argv[1:4]
    with open(meta_path) as f:
        meta = json.load(f)
    contenders = meta["contenders"]
    rows = [l.split() for l in open(results_path) if l.strip()]

    out = dict(meta)
    out["names"] = NAMES
    out["wire"] = wire(pcap_path, meta)

    # The file over TCP, per MTU: seconds (and MB/s), ratio to plain.
    out["file"] = {}
    for mtu in meta["mtus"]:
        secs = {c: [float(r[4]) for r in rows if r[0] == "file" and r[1] == str(mtu) and r[2] == c]
                for c in contenders}
        m = {}
        for c in contenders:
            s = stat(secs[c])
            if s:
                s["mb_per_s_median"] = meta["file_bytes"] / s["median"] / 1e6
                p = secs["plain"]
                # Throughput relative to plain: plain's time over ours.
                s["throughput_ratio_to_plain"] = statistics.median(p) / s["median"] if p else None
                pairs = [a / b for a, b in zip(p, secs[c]) if b]
                s["throughput_ratio_per_round"] = pairs
                s["throughput_ratio_per_round_median"] = statistics.median(pairs) if pairs else None
            m[c] = s
        out["file"][str(mtu)] = m

    # Small UDP, per payload size: packets/s received, ratio to plain, and the
    # IPv6 bytes each packet takes on the wire.
    out["udp"] = {}
    extra = {"plain": 0, "lin6": 0, "ila": 0, "mip6": 24, "mip6mm": 48}
    for c, d in out["wire"].items():
        # What the capture measured (one way: MN -> peer), where there is one.
        if d.get("extra_bytes", {}).get("request") is not None:
            extra[c] = d["extra_bytes"]["request"]
    for size in meta["udp_sizes"]:
        rx = {c: [float(r[4]) for r in rows if r[0] == "udp" and r[1] == str(size) and r[2] == c]
              for c in contenders}
        tx = {c: [float(r[5]) for r in rows if r[0] == "udp" and r[1] == str(size) and r[2] == c]
              for c in contenders}
        m = {}
        for c in contenders:
            s = stat(rx[c])
            if s:
                s["sent_pps_median"] = statistics.median(tx[c])
                s["ipv6_bytes_per_packet"] = 40 + 8 + size + extra[c]
                s["payload_mb_per_s_median"] = s["median"] * size / 1e6
                p = rx["plain"]
                s["ratio_to_plain"] = s["median"] / statistics.median(p) if p else None
                pairs = [a / b for a, b in zip(rx[c], p) if b]
                s["ratio_per_round_median"] = statistics.median(pairs) if pairs else None
            m[c] = s
        out["udp"][str(size)] = m

    # lin6's cycles per translated packet (Table 4).
    out["cycles"] = {}
    for r in rows:
        if r[0] == "cycles":
            cyc, pk = int(r[2]), int(r[3])
            out["cycles"][r[1]] = {"cycles": cyc, "packets": pk,
                                   "per_packet": cyc / pk if pk else None}
            # Under icount the TSC ticks a fixed number of times per guest
            # instruction: the cycles are an instruction count.
            tpi = (meta.get("clock") or {}).get("ticks_per_instruction")
            if tpi and pk:
                out["cycles"][r[1]]["instructions_per_packet"] = cyc / pk / tpi

    # Goals (issue 6 §4); handover is added on the host (scripts/bench).
    goals = {}
    f = out["file"].get("1500") or out["file"][str(meta["mtus"][0])]
    r = f["lin6"]["throughput_ratio_to_plain"] if f.get("lin6") else None
    pairs = (f.get("lin6") or {}).get("throughput_ratio_per_round") or []
    goals["bulk_tcp"] = {"what": "LIN6 >= 95% of plain IPv6 on bulk TCP (file transfer, MTU 1500), "
                                 "decided on the 95% bootstrap interval of the paired per-round median",
                         "value": r, "threshold": GOAL_BULK, **goal_verdict(pairs),
                         "per_mtu": {m: (v["lin6"] or {}).get("throughput_ratio_to_plain")
                                     for m, v in out["file"].items()}}
    small = {}
    for size, m in out["udp"].items():
        for peer in ("mip6", "mip6mm"):
            if m.get("lin6") and m.get(peer) and m[peer]["median"]:
                ratio = m["lin6"]["median"] / m[peer]["median"]
                header = m[peer]["ipv6_bytes_per_packet"] / m["lin6"]["ipv6_bytes_per_packet"]
                small.setdefault(size, {})[peer] = {"lin6_over_mip6_pps": ratio,
                                                    "header_ratio": header, "met": ratio >= header}
    goals["small_packets"] = {
        "what": "LIN6's small-UDP packet rate over MIPv6's >= MIPv6's wire bytes per packet over LIN6's "
                "(MN-MN, the paper's MIPv6-MIPv6 case; MN-CN beside it)",
        "per_size": small,
        "met": all(v["mip6mm"]["met"] for v in small.values()) if small else None}
    u = out["udp"].get("64", {})
    if u.get("lin6") and u.get("ila") and u["ila"]["median"]:
        rr = u["lin6"]["median"] / u["ila"]["median"]
    else:
        rr = None
    # Per round, LIN6 over the ILA round beside it: the rounds alternate, so
    # the host's slow spells hit both alike.
    rx64 = {c: [float(r[4]) for r in rows if r[0] == "udp" and r[1] == "64" and r[2] == c]
            for c in ("lin6", "ila")}
    vs_ila = [a / b for a, b in zip(rx64["lin6"], rx64["ila"]) if b]
    goals["per_packet_vs_ila"] = {
        "what": "lin6's per-packet cost no worse than ILA's: 64-byte UDP packet rate, LIN6 / ILA >= 1, "
                "decided on the 95% bootstrap interval of the paired per-round median "
                "(the kernel has no cycle counter for ILA)",
        "value": rr, "threshold": 1.0, **goal_verdict(vs_ila, threshold=1.0)}
    out["goals"] = goals

    # The table.
    print()
    hdr = f"{'':30}" + "".join(f"{NAMES[c]:>14}" for c in contenders)
    print("bytes per packet on the wire (IPv6 header and beyond), echo request / reply:")
    print(hdr)
    row = f"{'  56-byte echo, IPv6 bytes':30}"
    for c in contenders:
        d = out["wire"].get(c, {})
        rq, rp = d.get("request"), d.get("reply")
        row += f"{(str(rq['ipv6_bytes']) if rq else '-') + ' / ' + (str(rp['ipv6_bytes']) if rp else '-'):>14}"
    print(row)
    row = f"{'  extra over plain':30}"
    for c in contenders:
        e = out["wire"].get(c, {}).get("extra_bytes", {})
        row += f"{'%s / %s' % (e.get('request'), e.get('reply')):>14}"
    print(row)
    for c in contenders:
        d = out["wire"].get(c, {})
        if "request" in d:
            print(f"  {NAMES[c]:12} request: {' > '.join(d['request']['headers'])}")
        if "reply" in d:
            print(f"  {NAMES[c]:12} reply:   {' > '.join(d['reply']['headers'])}")
    print(f"\nfile transfer, {meta['file_bytes']} bytes over TCP, seconds (median; throughput ratio to plain):")
    print_table(hdr, contenders, out["file"], "  MTU {}", "%.2f", "throughput_ratio_to_plain")
    print("\nUDP packets/s received (median; ratio to plain):")
    print_table(hdr, contenders, out["udp"], "  {}-byte payload", "%.0f", "ratio_to_plain")
    print("\nLIN6 cycles per translated packet (paper, Athlon 1 GHz: ICMP 23163, TCP 18774):")
    for k, v in out["cycles"].items():
        insns = v.get("instructions_per_packet")
        more = f": {insns:.0f} guest instructions (icount)" if insns is not None else ""
        print(f"  {k:8} {v['per_packet']:.0f} over {v['packets']} packets{more}")
    for k, g in goals.items():
        verdict = "n/a" if g["met"] is None else ("met" if g["met"] else "NOT met")
        if "ci95" in g and not g["ci95"]:
            verdict = "n/a (too few rounds to decide)"
        if g.get("ci95"):
            if g["met"] is None:
                verdict = "undecided (the interval straddles it; more rounds)"
            lo, hi = g["ci95"]
            verdict += f" (paired median {g['paired_median']:.3f}, 95% interval {lo:.3f}-{hi:.3f} " \
                       f"over {g['rounds']} rounds)"
        print(f"goal {k}: {verdict}")
    print("BENCH-JSON " + json.dumps(out, separators=(",", ":")))


def print_table(hdr, contenders, table, label, fmt, ratio_key):
    """One row per key of `table` (an MTU, a payload size), one column per
    contender: its median in `fmt` and its ratio to plain."""
    print(hdr)
    for key, m in table.items():
        row = f"{label.format(key):30}"
        for c in contenders:
            s = m.get(c)
            cell = "-" if not s else f"{fmt % s['median']} ({s[ratio_key]:.2f})"
            row += f"{cell:>14}"
        print(row)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Handover times of scenario cp_b, and where each one went.

    handover.py WORK MN_IID

WORK is the scenario's $CP_WORK: `moves` and `downs` (one line per move:
old network, new network, unix time of the new link's `up` / the old
link's `down`), `addrmon` (`ip -ts -o monitor address` in the MN),
`dumpN` (`tcpdump -tt -S` on network N's router side: the CN's packets to
the MN's locator there, and Router Advertisements), and the daemons' logs
(`resolvd-mn.log`, `resolvd-cn.log`, `ma1.log`: tracing's RFC 3339 UTC
timestamps). Everything is on the guest's one clock.

Handover time, per move: from the new address becoming usable on the MN
(start) to the first packet from the CN that reaches the new locator (end).
The start is the earlier of two readings of the kernel's notice of the new
address, each taken when a process read it, so a little late, never early:
the RTM_NEWADDR as `ip -ts monitor` printed it, and the MN resolver's read
of lin6.ko's PREFIX event (sent from the same address notifier chain). Then
the stages in between, each as time since the start (the step from the
stage before in brackets); a stage a move did not go through prints "-".
Last, all of it as one line "HANDOVER-JSON {...}": moves (each with its
handover_ms and stages_ms), median_ms, max_ms.
"""

import datetime
import json
import re
import statistics
import sys
import time

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SEQ = re.compile(r"\bseq (\d+):(\d+)")


def ts_monitor(line):
    # "[2026-11-25T12:09:39.123456] 4: eth2 inet6 ..." (local time)
    d = datetime.datetime.fromisoformat(line[1 : line.index("]")])
    return time.mktime(d.timetuple()) + d.microsecond / 1e6


def log_events(path):
    """(unix time, line) of each line of a tracing log."""
    out = []
    try:
        f = open(path, errors="replace")
    except OSError:
        return out
    for line in f:
        line = ANSI.sub("", line).strip()
        head = line.split(" ", 1)[0]
        if not head[:4].isdigit():
            continue
        try:
            t = datetime.datetime.fromisoformat(head.replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
        out.append((t, line))
    return out


def kind(line):
    """What a captured packet is: an RA, neighbour discovery, or data."""
    for text, k in (("router advertisement", "ra"), ("neighbor solicitation", "ns"),
                    ("neighbor advertisement", "na")):
        if text in line:
            return k
    return "data"


def dump(path):
    """(time, kind, seq_start, seq_end) of each captured packet."""
    out = []
    for line in open(path):
        f = line.split()
        if not f:
            continue
        try:
            t = float(f[0])
        except ValueError:
            continue
        m = SEQ.search(line)
        s, e = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        out.append((t, kind(line), s, e))
    return out


def main():
    work, iid = sys.argv[1], sys.argv[2]
    mon = [
        (ts_monitor(l), l)
        for l in open(f"{work}/addrmon")
        if l.startswith("[") and "Deleted" not in l
    ]
    moves = [l.split() for l in open(f"{work}/moves") if l.strip()]
    downs = {i: float(l.split()[2]) for i, l in enumerate(open(f"{work}/downs")) if l.strip()}
    dumps = {n: dump(f"{work}/dump{n}") for n in (1, 2, 3)}
    data_all = sorted(
        (t, n, s, e) for n, d in dumps.items() for (t, k, s, e) in d if k == "data" and s is not None
    )
    mn = log_events(f"{work}/resolvd-mn.log")
    cn = log_events(f"{work}/resolvd-cn.log")
    ma = log_events(f"{work}/ma1.log")

    def first(events, lo, hi, *needles, last=False):
        hits = [t for t, l in events if lo <= t < hi and all(n in l for n in needles)]
        if not hits:
            return None
        return hits[-1] if last else hits[0]

    rows, stage_rows, records = [], [], []
    for i, (old, new, t_up) in enumerate(moves):
        t_up = float(t_up)
        t_next = float(moves[i + 1][2]) if i + 1 < len(moves) else float("inf")
        loc = f"inet6 2001:db8:{new}:0:{iid}/64"
        t_mon = min(t for t, l in mon if loc in l and t >= t_up - 0.001)
        t_pfx = first(mn, t_up, t_next, "we moved", f"locator=2001:db8:{new}:0:{iid}")
        t_addr = min(t_mon, t_pfx) if t_pfx else t_mon
        ra = [t for (t, k, _, _) in dumps[int(new)] if k == "ra"]
        data = [(t, s, e) for (t, k, s, e) in dumps[int(new)] if k == "data"]
        t_ra = max([t for t in ra if t_up <= t <= t_addr + 0.001], default=None)
        t_first, s_first, _ = min((d for d in data if d[0] >= t_addr), key=lambda d: d[0])
        ho = (t_first - t_addr) * 1000
        rows.append(ho)
        ra_ms = (t_first - t_ra) * 1000 if t_ra else float("nan")
        print(
            f"move {old} -> {new}: handover {ho:.1f} ms (from the RA: {ra_ms:.1f} ms; "
            f"address {(t_addr - t_up) * 1000:.0f} ms after link up)"
        )

        # The stages, on the guest's one clock. Log lines from a little
        # before the RTM_NEWADDR count ("ip monitor" reads it late).
        lo, hi = t_addr - 0.05, min(t_next, t_first + 2)
        pfx = f"2001:db8:{new}::/64"
        t_inst = first(cn, lo, hi, "mapping installed", pfx)
        before_inst = t_inst if t_inst else hi
        st = [
            ("MN resolver: PREFIX event read", first(mn, lo, hi, "we moved")),
            ("MN: Mapping Update Request sent", first(mn, lo, hi, "Update Request sent", pfx)),
            ("MA: request received", first(ma, lo, hi, "Update Request received")),
            ("MA: registered (database committed)", first(ma, lo, hi, "registered", "prefix=" + pfx)),
            ("MN: registration accepted (reply)", first(mn, lo, hi, "registered", "prefix=" + pfx)),
            ("MN: Mapping Refresh sent", first(mn, lo, hi, "Mapping Refresh sent")),
            ("CN: Mapping Refresh received", first(cn, lo, hi, "Mapping Refresh: asking")),
            ("CN: MA Query sent", first(cn, lo, before_inst, "MA Query sent", last=True)),
            ("MA: query answered", first(ma, lo, before_inst + 0.001, "MA Query answered", last=True)),
            ("CN: MA Reply received", first(cn, lo, before_inst, "MA Reply received", last=True)),
            ("CN: new mapping installed in the kernel", t_inst),
            ("first CN packet at the new locator", t_first),
        ]
        stage_rows.append([t for _, t in st])
        records.append({
            "from": int(old), "to": int(new), "handover_ms": round(ho, 3),
            "from_ra_ms": None if ra_ms != ra_ms else round(ra_ms, 3),
            "address_after_link_up_ms": round((t_addr - t_up) * 1000, 3),
            # Each stage as ms since the new address, null if not seen.
            "stages_ms": {name: None if t is None else round((t - t_addr) * 1000, 3)
                          for name, t in st},
        })
        prev = t_addr
        print(f"     0.0 ms  new address (RTM_NEWADDR read at {(t_mon - t_addr) * 1000:.1f} ms)")
        for name, t in st:
            if t is None:
                print(f"        -   {name}")
                continue
            print(f"  {(t - t_addr) * 1000:6.1f} ms  {name} (+{(t - prev) * 1000:.1f})")
            prev = t
        # What else happened: the CN's misses (a moved source) and queries
        # that came back with the old prefix, the old link going down, and
        # whether the first packet at the new locator was a retransmission.
        misses = [t for t, l in cn if lo <= t < before_inst and "miss" in l and "reason" in l]
        queries = [t for t, l in cn if lo <= t < before_inst and "MA Query sent" in l]
        dropped = [t for t, l in cn if lo <= t < before_inst and "already being resolved" in l]
        extra = [f"CN misses {len(misses)}", f"CN queries {len(queries)}"]
        if misses:
            extra.append(f"first miss at {(misses[0] - t_addr) * 1000:.1f} ms")
        if dropped:
            extra.append(f"{len(dropped)} CN events came while resolving")
        early = [t for t, l in ma if lo <= t < hi and "answered from the registration being committed" in l]
        if early:
            extra.append(f"{len(early)} MA queries answered from the registration being committed")
        waited = [t for t, l in ma if lo <= t < hi and "answered after the registration" in l]
        if waited:
            extra.append(f"{len(waited)} MA queries waited for the registration")
        kicked = [t for t, l in cn if lo <= t < hi and "asked to query again" in l]
        if kicked:
            extra.append(f"{len(kicked)} CN queries resent on a Refresh")
        if i in downs:
            extra.append(f"old link down at {(downs[i] - t_addr) * 1000:.1f} ms")
        # Neighbour discovery on the new link just before the first packet:
        # the router resolving the MN's new address holds that packet.
        nd = [(t, k) for (t, k, _, _) in dumps[int(new)] if k in ("ns", "na") and t_addr <= t <= t_first]
        for t, k in nd[:4]:
            extra.append(f"{'NS' if k == 'ns' else 'NA'} on the new link at {(t - t_addr) * 1000:.1f} ms")
        sent_before = [e for (t, _, s, e) in data_all if t < t_first]
        last_old = max([t for (t, n, _, _) in data_all if n == int(old) and t < t_first], default=None)
        if last_old is not None:
            extra.append(f"last CN packet at the old locator {(last_old - t_addr) * 1000:.1f} ms")
        if s_first is not None and sent_before:
            top = max(sent_before)
            extra.append("first packet is a retransmission" if s_first < top else "first packet is new data")
        print("    (" + "; ".join(extra) + ")")
    print(
        f"handover over {len(rows)} moves: median {statistics.median(rows):.1f} ms, "
        f"max {max(rows):.1f} ms"
    )
    # For the benchmark (scripts/bench handover reads this line; the
    # format is in docs/benchmarks.md).
    result = {
        "source": "cp_b_handover_under_load",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "moves": records,
        "median_ms": round(statistics.median(rows), 3),
        "max_ms": round(max(rows), 3),
    }
    print("HANDOVER-JSON " + json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Summarizes the datapath benchmark's runs (guest side, Debian's python3).

    summarize.py RESULTS.tsv META.json

RESULTS.tsv holds one line per run: KIND CONTENDER ROUND VALUE [SENT]
(KIND tcp: VALUE in MB/s; KIND udp: VALUE received packets/s, SENT sent
packets/s). META.json holds the run's parameters and the cycle measurement.
Prints a table, then one line "BENCH-JSON {...}" that scripts/bench extracts.
"""
import json
import random
import statistics
import sys

CONTENDERS = ["plain", "lin6", "ila"]
GOAL = 0.95  # LIN6 TCP throughput >= 95 % of plain IPv6 in the same run


def stat(values):
    if not values:
        return None
    med = statistics.median(values)
    return {
        "runs": values,
        "median": med,
        "min": min(values),
        "max": max(values),
        # spread: (max - min) / median, in per cent of the median
        "spread_pct": (max(values) - min(values)) / med * 100 if med else None,
    }


def median_ci95(values, resamples=2000):
    """A 95 % bootstrap interval for the median of `values` (percentile
    method, rounds resampled with replacement; a fixed seed, so the same
    runs always give the same interval)."""
    if len(values) < 2:
        return None
    rng = random.Random(1)
    meds = sorted(statistics.median(rng.choices(values, k=len(values)))
                  for _ in range(resamples))
    return [meds[int(0.025 * resamples)], meds[int(0.975 * resamples) - 1]]


def goal_verdict(pairs, threshold=GOAL):
    """Decides a ratio goal (the TCP goal's by default) from the per-round
    paired ratios, not from one ratio of medians: under TCG a contender's
    rounds spread by 50 % and more, so a single figure says little. Met
    when the whole 95 % interval of the paired median is at or above
    `threshold`, not met when it is all below, otherwise undecided (more
    rounds narrow it)."""
    if not pairs:
        return {"met": None, "decided": False}
    med = statistics.median(pairs)
    ci = median_ci95(pairs)
    if ci is None:
        return {"met": med >= threshold, "decided": False, "paired_median": med, "ci95": None}
    decided = ci[0] >= threshold or ci[1] < threshold
    return {"met": ci[0] >= threshold if decided else None, "decided": decided,
            "paired_median": med, "ci95": ci, "rounds": len(pairs)}


def main():
    results_path, meta_path = sys.argv[1], sys.argv[2]
    with open(meta_path) as f:
        meta = json.load(f)
    runs = {"tcp": {c: [] for c in CONTENDERS}, "udp": {c: [] for c in CONTENDERS}}
    sent = {c: [] for c in CONTENDERS}
    for line in open(results_path):
        parts = line.split()
        if not parts:
            continue
        kind, who, _round, value = parts[:4]
        runs[kind][who].append(float(value))
        if kind == "udp" and len(parts) > 4:
            sent[who].append(float(parts[4]))

    out = dict(meta)
    out["unit"] = {"tcp": "MB/s (10^6 bytes/s, receiver side)",
                   "udp": "packets/s received"}
    for kind in ("tcp", "udp"):
        out[kind] = {c: stat(runs[kind][c]) for c in CONTENDERS}
        for c in CONTENDERS:
            if kind == "udp" and out[kind][c] is not None and sent[c]:
                out[kind][c]["sent_pps_median"] = statistics.median(sent[c])
        plain = out[kind]["plain"]
        ratios = {}
        for c in ("lin6", "ila"):
            s = out[kind][c]
            if plain and s and plain["median"]:
                ratios[c] = s["median"] / plain["median"]
                # Paired per round: each round's contender over that round's plain.
                pairs = [a / b for a, b in zip(runs[kind][c], runs[kind]["plain"]) if b]
                out[kind][c]["ratio_per_round"] = pairs
                out[kind][c]["ratio_per_round_median"] = statistics.median(pairs) if pairs else None
            else:
                ratios[c] = None
        out[kind]["ratio_to_plain"] = ratios
    lin6_tcp = out["tcp"]["ratio_to_plain"]["lin6"]
    lin6_pairs = (out["tcp"]["lin6"] or {}).get("ratio_per_round") or []
    out["goal"] = {"what": "LIN6 TCP throughput >= 95% of plain IPv6 in the same run, "
                           "decided on the 95% bootstrap interval of the paired per-round median",
                   "min_ratio": GOAL, **goal_verdict(lin6_pairs)}

    def fmt(s, digits):
        if s is None:
            return "-"
        return f"{s['median']:.{digits}f}"

    print()
    print(f"datapath benchmark: {meta['runs']} run(s) per contender, TCP {meta['tcp_seconds']} s, "
          f"UDP {meta['udp_seconds']} s with {meta['udp_len']}-byte payloads")
    print(f"{'':24}{'plain IPv6':>14}{'LIN6':>14}{'ILA':>14}{'LIN6/plain':>12}{'ILA/plain':>11}")
    for kind, label, digits in (("tcp", "TCP MB/s", 1), ("udp", "UDP pkt/s recv", 0)):
        row = f"{label + ' (median)':24}"
        for c in CONTENDERS:
            row += f"{fmt(out[kind][c], digits):>14}"
        for c in ("lin6", "ila"):
            r = out[kind]["ratio_to_plain"][c]
            txt = "-" if r is None else "%.3f" % r
            row += txt.rjust(12 if c == "lin6" else 11)
        print(row)
        row = f"{'  paired ratio (median)':24}" + " " * 42
        for c in ("lin6", "ila"):
            s = out[kind][c]
            r = None if s is None else s.get("ratio_per_round_median")
            txt = "-" if r is None else "%.3f" % r
            row += txt.rjust(12 if c == "lin6" else 11)
        print(row)
        row = f"{'  spread (max-min)':24}"
        for c in CONTENDERS:
            s = out[kind][c]
            txt = "-" if s is None or s["spread_pct"] is None else "%.1f %%" % s["spread_pct"]
            row += f"{txt:>14}"
        print(row)
    cyc = meta.get("cycles_per_packet")
    if cyc is None:
        cyc_txt = "n/a (%s)" % meta.get("cycles_note", "measurement not enabled")
    else:
        cyc_txt = "%.0f (over %d packets)" % (cyc, meta.get("cycles_packets", 0))
        tpi = (meta.get("clock") or {}).get("ticks_per_instruction")
        if tpi:
            out["instructions_per_packet"] = cyc / tpi
            cyc_txt += ": %.0f guest instructions (icount, %d ticks each)" % (cyc / tpi, tpi)
    print("LIN6 mean cycles per translated packet: " + cyc_txt)
    g = out["goal"]
    if g.get("ci95"):
        verdict = {True: "met", False: "NOT met", None: "undecided (the interval straddles it; more rounds)"}[g["met"]]
        ratio_txt = "paired median %.3f, 95%% interval %.3f-%.3f over %d rounds" % (
            g["paired_median"], g["ci95"][0], g["ci95"][1], g["rounds"])
    else:
        verdict = "n/a (too few rounds to decide)"
        ratio_txt = "-" if lin6_tcp is None else "ratio of medians %.3f" % lin6_tcp
    print(f"goal (LIN6 >= {GOAL:.0%} of plain TCP): {verdict} ({ratio_txt})")
    print("BENCH-JSON " + json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()

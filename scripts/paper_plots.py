#!/usr/bin/python3
"""Draws the paper benchmark's plots from its JSON (host side; Debian's
python3 with python3-matplotlib, which scripts/setup installs).

    scripts/paper_plots.py RESULT.json OUT_DIR [svg|png]

Writes OUT_DIR/paper-{cycles,file,udp,wire,handover}.svg (or .png), in the manner of
the paper's Fig. 9 (per-packet processing cycles) and Fig. 10 (file
transfer times), with the paper's own figures beside ours where the paper
gives them. Our figures come from a TCG guest: compare them with each
other (ratios), not with the paper's Athlon in absolute terms.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                     "axes.spines.right": False, "svg.hashsalt": "lin6"})
FORMAT = "svg"
COLORS = {"plain": "#888888", "lin6": "#1f77b4", "ila": "#2ca02c", "mip6": "#ff7f0e",
          "mip6mm": "#d62728"}


def bar_labels(ax, bars, fmt):
    for b in bars:
        h = b.get_height()
        if h:
            ax.annotate(fmt % h, (b.get_x() + b.get_width() / 2, h), ha="center", va="bottom",
                        fontsize=7, xytext=(0, 2), textcoords="offset points")


def subtitle(d):
    return (f"ours: {d.get('date', '?')}, kernel {d.get('kernel', '?')}, QEMU TCG guest"
            f"{' (--quick)' if d.get('quick') else ''}")


def cycles(d, out):
    paper = d["paper"]["table4_cycles"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    kinds = ["ICMP (ping)", "TCP (ssh)"]
    w = 0.38
    for i, (proto, color) in enumerate((("LIN6-LIN6", COLORS["lin6"]), ("MIPv6-MIPv6", COLORS["mip6mm"]))):
        vals = [paper[proto]["icmp"], paper[proto]["tcp"]]
        bars = a.bar([x + (i - 0.5) * w for x in range(2)], vals, w, label=proto, color=color)
        bar_labels(a, bars, "%d")
    a.set_xticks(range(2), kinds)
    a.set_ylabel("CPU clock cycles per packet")
    a.set_title("paper, Table 4 / Fig. 9\n(Athlon 1 GHz, Linux 2.4, MIPL)")
    a.legend(frameon=False, fontsize=8)
    c = d.get("cycles", {})
    # Under QEMU's icount the TSC counts instructions: show those.
    icount = any(v.get("instructions_per_packet") for v in c.values())
    key = "instructions_per_packet" if icount else "per_packet"
    labels, vals = [], []
    for k, lab in (("icmp", "ICMP echo"), ("tcp", "TCP"), ("udp64", "UDP 64 B")):
        if c.get(k) and c[k].get(key):
            labels.append(f"{lab}\n({c[k]['packets']} pkts)")
            vals.append(c[k][key])
    bars = b.bar(range(len(vals)), vals, 0.5, color=COLORS["lin6"], label="lin6.ko")
    bar_labels(b, bars, "%.0f")
    b.set_xticks(range(len(vals)), labels)
    if icount:
        b.set_title("ours: lin6.ko, guest instructions per translated packet\n(QEMU TCG with icount, perf kernel)")
    else:
        b.set_title("ours: lin6.ko, cycles per translated packet\n(QEMU TCG: emulated TSC, perf kernel)")
    b.set_xlabel("MIPv6 (the kernel's xfrm mip6) has no cycle counter: see the packet rates",
                 fontsize=7, color="#555555")
    fig.suptitle(subtitle(d), fontsize=7, y=0.01, va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(os.path.join(out, "paper-cycles." + FORMAT))
    plt.close(fig)


def grouped_bars(a, b, d, table, groups, ratio_key):
    """One bar per contender in each group (an MTU, a payload size): the
    median with its min-max on `a`, the ratio to plain IPv6 on `b`."""
    cs = d["contenders"]
    w = 0.8 / len(cs)
    for i, c in enumerate(cs):
        xs, med, lo, hi, ratio = [], [], [], [], []
        for j, g in enumerate(groups):
            s = table[g].get(c)
            if not s:
                continue
            xs.append(j + (i - (len(cs) - 1) / 2) * w)
            med.append(s["median"])
            lo.append(s["median"] - s["min"])
            hi.append(s["max"] - s["median"])
            ratio.append(s[ratio_key])
        a.bar(xs, med, w, yerr=[lo, hi], capsize=2, color=COLORS[c], label=d["names"][c],
              error_kw={"elinewidth": 0.8})
        bars = b.bar(xs, ratio, w, color=COLORS[c], label=d["names"][c])
        bar_labels(b, bars, "%.2f")


def file_fig(d, out):
    mtus = list(d["file"].keys())
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    grouped_bars(a, b, d, d["file"], mtus, "throughput_ratio_to_plain")
    for ax in (a, b):
        ax.set_xticks(range(len(mtus)), [f"MTU {m}" for m in mtus])
    a.set_ylabel(f"seconds for {d['file_bytes']:,} bytes")
    a.set_title("file transfer over TCP (median, min-max)")
    a.legend(frameon=False, fontsize=7, ncol=2, loc="lower left")
    b.axhline(0.95, color="#1f77b4", lw=0.8, ls="--")
    b.text(len(mtus) - 0.5, 0.95, "goal: LIN6 >= 0.95", fontsize=7, ha="right", va="bottom",
           color="#1f77b4")
    b.set_ylabel("throughput / plain IPv6's (same run)")
    b.set_title("relative to plain IPv6")
    fig.suptitle(subtitle(d) + ".  Paper (Table 5 / Fig. 10): LIN6-LIN6 about as fast as IPv6-IPv6, "
                 "MIPv6-MIPv6 slower; its seconds are lost from our copy of the paper",
                 fontsize=7, y=0.01, va="bottom")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(os.path.join(out, "paper-file." + FORMAT))
    plt.close(fig)


def udp_fig(d, out):
    sizes = list(d["udp"].keys())
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    grouped_bars(a, b, d, d["udp"], sizes, "ratio_to_plain")
    # Under each size: the header ratio LIN6 must beat MIPv6 MN-MN by (its
    # IPv6 bytes per packet over LIN6's).
    ticks = []
    for sz in sizes:
        m = d["udp"][sz]
        t = f"{sz}-byte payload"
        if m.get("lin6") and m.get("mip6mm"):
            t += f"\nheader ratio MN-MN {m['mip6mm']['ipv6_bytes_per_packet'] / m['lin6']['ipv6_bytes_per_packet']:.2f}"
        ticks.append(t)
    for ax in (a, b):
        ax.set_xticks(range(len(sizes)), ticks)
    a.set_ylabel("UDP packets/s received")
    a.set_title("small-packet UDP (iperf3 -b 0; median, min-max)")
    a.legend(frameon=False, fontsize=7, ncol=2, loc="lower left")
    b.set_ylabel("packet rate / plain IPv6's (same run)")
    b.set_title("relative to plain IPv6")
    fig.suptitle(subtitle(d), fontsize=7, y=0.01, va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(os.path.join(out, "paper-udp." + FORMAT))
    plt.close(fig)


def wire_fig(d, out):
    cs = [c for c in d["contenders"] if c in d["wire"]]
    names = d["names"]
    fig, ax = plt.subplots(figsize=(6, 3))
    w = 0.38
    for i, (kind, hatch) in enumerate((("request", ""), ("reply", "//"))):
        got = [(d["wire"][c].get("extra_bytes") or {}).get(kind) for c in cs]
        vals = [v or 0 for v in got]
        bars = ax.bar([x + (i - 0.5) * w for x in range(len(cs))], vals, w, hatch=hatch,
                      color=[COLORS[c] for c in cs], edgecolor="white",
                      label="MN -> peer (echo request)" if kind == "request" else "peer -> MN (echo reply)")
        for b, v in zip(bars, got):
            ax.annotate("n/a" if v is None else f"+{v}", (b.get_x() + b.get_width() / 2, v or 0), ha="center", va="bottom",
                        fontsize=7, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(cs)), [names[c] for c in cs])
    ax.set_ylabel("bytes per packet beyond plain IPv6")
    ax.set_title("measured on a capture at the router (56-byte ICMPv6 echo)")
    ax.set_ylim(0, 60)
    ax.legend(frameon=False, fontsize=7, loc="upper left")
    fig.suptitle(subtitle(d), fontsize=7, y=0.01, va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(os.path.join(out, "paper-wire." + FORMAT))
    plt.close(fig)


def handover_fig(d, out):
    h = d.get("handover") or {}
    p = d["paper"]["handover_ms"]
    fig, ax = plt.subplots(figsize=(5, 3))
    labels = ["paper LIN6\n(mean of 10)", "paper MIPv6\n(mean of 10)"]
    vals = [p["LIN6"], p["MIPv6"]]
    colors = [COLORS["lin6"], COLORS["mip6mm"]]
    if h.get("median_ms") is not None:
        labels += [f"ours LIN6 median\n({h.get('moves', '?')} moves)", "ours LIN6 max"]
        vals += [h["median_ms"], h["max_ms"]]
        colors += ["#aec7e8", "#aec7e8"]
    bars = ax.bar(range(len(vals)), vals, 0.6, color=colors)
    bar_labels(ax, bars, "%.0f ms")
    ax.set_xticks(range(len(vals)), labels, fontsize=7)
    ax.set_ylabel("handover time, ms")
    ax.set_title("handover")
    if h.get("median_ms") is None:
        ax.set_xlim(-0.5, 2.5)
        ax.set_xticks(range(3), labels + ["ours LIN6"], fontsize=7)
        ax.annotate("not measured\nin this run", (2, 10), ha="center", va="bottom", fontsize=8,
                    color="#555555")
        ax.set_xlabel(h.get("note", ""), fontsize=6, color="#555555")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "paper-handover." + FORMAT))
    plt.close(fig)


def main():
    global FORMAT
    src, out = sys.argv[1], sys.argv[2]
    FORMAT = sys.argv[3] if len(sys.argv) > 3 else "svg"
    with open(src) as f:
        d = json.load(f)
    os.makedirs(out, exist_ok=True)
    for draw in (cycles, file_fig, udp_fig, wire_fig, handover_fig):
        draw(d, out)
        print(os.path.join(out, "paper-" + {"cycles": "cycles", "file_fig": "file", "udp_fig": "udp",
                                            "wire_fig": "wire", "handover_fig": "handover"}[draw.__name__]
                           + "." + FORMAT))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Datapath benchmark, run inside the guest (scripts/bench datapath boots it):
#
#   datapath.sh [--runs N] [--seconds S] [--udp-seconds S] [--udp-len BYTES]
#
# mn1 -- rt -- mn2 (two_mobiles from lib.sh). Three contenders on that same
# path, between the same two namespaces:
#   plain  the hosts' ordinary addresses 2001:db8:a::100 -> 2001:db8:b::100
#          (lin6.ko loaded, its hooks run, nothing to translate);
#   lin6   the LIN6 addresses, static mappings: lin6.ko rewrites source and
#          destination on output and input;
#   ila    Linux's ILA: SIR addresses 2001:db8:5151::a1 / ::a2, an
#          `encap ila` route on output (SIR -> locator 2001:db8:1a/1b::/64)
#          and an `ip ila` mapping on input (locator -> SIR); destination only.
# The router knows neither the LIN6 prefix nor the SIR prefix, so a packet of
# the lin6 or ila contender that arrives was translated.
# TCP throughput (iperf3) and small-UDP packet rate (iperf3 -u -b 0) are
# measured in alternating rounds (plain, lin6, ila, plain, ...). Then one
# more LIN6 round with lin6.ko's measure_cycles turned on (through sysfs)
# gives the mean cycles per translated packet.
# Prints progress, a table and a last line "BENCH-JSON {...}".
set -euo pipefail
: "${LIN6_QEMU_TESTS:?run me through qemu-tests/run --exec (scripts/bench datapath)}"
source "$LIN6_QEMU_TESTS/lib.sh"
source "$LIN6_QEMU_TESTS/bench/common.sh"
BENCH_CONTENDERS=(plain lin6 ila)
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

runs=4 tcp_secs=5 udp_secs=3 udp_len=64
while (($#)); do
  case "$1" in
    --runs) runs=${2:?}; shift 2 ;;
    --seconds) tcp_secs=${2:?}; shift 2 ;;
    --udp-seconds) udp_secs=${2:?}; shift 2 ;;
    --udp-len) udp_len=${2:?}; shift 2 ;;
    *) echo "datapath.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for v in "$runs" "$tcp_secs" "$udp_secs" "$udp_len"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "datapath.sh: '$v' is not a positive integer" >&2; exit 2; }
done

say() { printf '[bench] %s\n' "$*"; }
work=$(mktemp -d)
trap 'cleanup_netns; rm -rf "$work"; echo 0 > "$MEASURE_CYCLES_PARAM" || true' EXIT

# --- topology -------------------------------------------------------------
# The path and all contenders of common.sh (MIPv6's too: every contender of
# the paper benchmark is set up, this one measures three of them).
topology() {
  bench_topology
  iperf3_server
}

translated() { echo $(( $(lin6_counter mn1 translated_out) + $(lin6_counter mn1 translated_in) )); }

# run KIND CONTENDER ROUND: appends "KIND CONTENDER ROUND VALUE [SENT]" to
# results.tsv and checks that lin6 translated only in the lin6 runs.
run() {
  local kind=$1 c=$2 r=$3 before after rx tx line
  before=$(translated)
  if [ "$kind" = tcp ]; then
    iperf3_run "$c" "$work/run.json" -t "$tcp_secs"
    read -r rx tx < <(rate "$work/run.json") || fail "no result in iperf3's output: $(cat "$work/run.json")"
    line=$(awk -v b="$rx" 'BEGIN { printf "%.3f", b / 1e6 }')
    say "tcp round $r/$runs  $(printf '%-5s' "$c") $line MB/s"
  else
    iperf3_run "$c" "$work/run.json" -u -b 0 -l "$udp_len" -t "$udp_secs"
    read -r rx tx < <(rate "$work/run.json") || fail "no result in iperf3's output: $(cat "$work/run.json")"
    line=$(awk -v r="$rx" -v t="$tx" -v n="$udp_len" 'BEGIN { printf "%.0f %.0f", r / n, t / n }')
    say "udp round $r/$runs  $(printf '%-5s' "$c") ${line% *} pkt/s received (${line#* } sent)"
  fi
  echo "$kind $c $r $line" >> "$work/results.tsv"
  after=$(translated)
  if [ "$c" = lin6 ]; then
    ((after > before)) || fail "lin6 run $r ($kind) translated nothing"
  else
    ((after == before)) || fail "$c run $r ($kind) was translated by lin6 ($((after - before)) packets)"
  fi
}

# --- cycles per translated packet ------------------------------------------
cycles_per_packet=null cycles_packets=0 cycles_note="measurement not enabled"
# lin6_sum NAME: NAME's counter summed over mn1 and mn2.
lin6_sum() { echo $(( $(lin6_counter mn1 "$1") + $(lin6_counter mn2 "$1") )); }

measure_cycles() {
  cycles_counting 1
  local c0 p0 c1 p1
  c0=$(lin6_sum cycles) p0=$(lin6_sum cycles_packets)
  run tcp lin6 cycles
  run udp lin6 cycles
  c1=$(lin6_sum cycles) p1=$(lin6_sum cycles_packets)
  cycles_counting 0
  # These runs are not part of the throughput figures.
  sed -i '/ cycles /d' "$work/results.tsv"
  if ((p1 > p0 && c1 > c0)); then
    cycles_packets=$((p1 - p0))
    cycles_per_packet=$($PY -c "print($((c1 - c0)) / $cycles_packets)")
    cycles_note="measure_cycles=1, one TCP and one UDP LIN6 run, mn1 + mn2"
    say "cycles per translated packet: $cycles_per_packet over $cycles_packets packets"
  else
    cycles_note="measurement not enabled: measure_cycles=1 left the counters at 0"
    say "counters cycles/cycles_packets stayed 0: cycles n/a"
  fi
  declare -p cycles_per_packet cycles_packets cycles_note > "$work/cycles.env"
}

# --- main -------------------------------------------------------------------
say "clock: $(clock_json)"
say "kernel $(uname -r), $(nproc) CPU(s), iperf3 $(iperf3 --version | awk 'NR==1{print $2}')"
say "topology: mn1 -- rt -- mn2; contenders plain, lin6, ila"
topology
: > "$work/results.tsv"
say "warm-up (1 s TCP each, not counted)"
for c in plain lin6 ila; do iperf3_run "$c" "$work/warm.json" -t 1; done
start=$SECONDS
for r in $(seq "$runs"); do
  for c in plain lin6 ila; do run tcp "$c" "$r"; done
done
for r in $(seq "$runs"); do
  for c in plain lin6 ila; do run udp "$c" "$r"; done
done
say "throughput rounds took $((SECONDS - start)) s"
# A failure here must not lose the throughput figures: a subshell, whose
# findings come back through a file.
if ( measure_cycles ); then
  [ ! -f "$work/cycles.env" ] || source "$work/cycles.env"
else
  say "the cycle measurement failed: cycles n/a"
  cycles_note="measurement failed (see the log above)"
fi

cat > "$work/meta.json" <<EOF
{"benchmark":"datapath","date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","kernel":"$(uname -r)",
 "cpus":$(nproc),"iperf3":"$(iperf3 --version | awk 'NR==1{print $2}')",
 "runs":$runs,"tcp_seconds":$tcp_secs,"udp_seconds":$udp_secs,"udp_len":$udp_len,
 "order":"alternating rounds: plain, lin6, ila",
 "cycles_per_packet":$cycles_per_packet,"cycles_packets":$cycles_packets,
 "cycles_note":"$cycles_note","clock":$(clock_json)}
EOF
$PY "$here/summarize.py" "$work/results.tsv" "$work/meta.json"

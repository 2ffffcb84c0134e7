#!/usr/bin/env bash
# The paper's section VI study (LIN6 vs Mobile IPv6, with plain IPv6 and
# Linux ILA beside them), run inside ONE guest: scripts/bench paper boots it.
#
#   paper.sh [--quick] [--runs N] [--file-bytes B] [--udp-seconds S]
#            [--udp-runs N] [--mtus "1500 1280 9000"] [--udp-sizes "64 256 512"]
#            [--pings N]
#
# Contenders and path: common.sh (plain, lin6, ila, mip6 = MIPv6 MN -> CN,
# mip6mm = MIPv6 MN <-> MN). In order:
#   1. wire: one ICMPv6 echo (56-byte payload) per contender, captured on
#      the router; the summary reads each packet's length and header chain
#      from the capture;
#   2. small UDP: iperf3 -u -b 0 at each payload size, alternating (MTU 1500);
#   3. file: the paper's 53,850,039-byte transfer over TCP (iperf3 -n), in
#      rounds that alternate the contenders, at each MTU;
#   4. cycles: lin6.ko's measure_cycles turned on (through sysfs; off for 2
#      and 3, which it would slow), then lin6's cycles per translated packet
#      for ICMP echo, for TCP and for 64-byte UDP (the paper's Table 4).
# Prints progress, a table and a last line "BENCH-JSON {...}".
set -euo pipefail
: "${LIN6_QEMU_TESTS:?run me through qemu-tests/run --exec (scripts/bench paper)}"
source "$LIN6_QEMU_TESTS/lib.sh"
source "$LIN6_QEMU_TESTS/bench/common.sh"
here=$(cd "$(dirname "$0")" && pwd)

PAPER_FILE_BYTES=53850039
runs=5 file_bytes=$PAPER_FILE_BYTES udp_secs=3 udp_runs=3 mtus="1500 1280 9000"
udp_sizes="64 256 512" pings=300 quick=false
while (($#)); do
  case "$1" in
    # Quick: the CI smoke run (352 s in the guest measured on a loaded host,
    # load average 6-9, another guest beside it). One round per
    # contender at the two other MTUs and per UDP size: it proves every path
    # works, its figures are not worth quoting.
    --quick) quick=true runs=2 file_bytes=8000000 udp_secs=1 udp_runs=1 pings=100; shift ;;
    --runs) runs=${2:?}; shift 2 ;;
    --file-bytes) file_bytes=${2:?}; shift 2 ;;
    --udp-seconds) udp_secs=${2:?}; shift 2 ;;
    --udp-runs) udp_runs=${2:?}; shift 2 ;;
    --mtus) mtus=${2:?}; shift 2 ;;
    --udp-sizes) udp_sizes=${2:?}; shift 2 ;;
    --pings) pings=${2:?}; shift 2 ;;
    *) echo "paper.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for v in "$runs" "$file_bytes" "$udp_secs" "$udp_runs" "$pings" $mtus $udp_sizes; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "paper.sh: '$v' is not a positive integer" >&2; exit 2; }
done

say() { printf '[paper] %s\n' "$*"; }
work=$(mktemp -d)
trap 'cleanup_netns; rm -rf "$work"; echo 0 > "$MEASURE_CYCLES_PARAM" || true' EXIT
: > "$work/results.tsv"

setup() {
  bench_topology
  iperf3_server
}

lin6_sum() { echo $(( $(lin6_counter mn1 "$1") + $(lin6_counter mn2 "$1") )); }

# --- 1. bytes on the wire ------------------------------------------------------
# One echo request and reply per contender, all captured on the router's
# link to mn2 (every contender crosses it both ways). The summary tells the
# contenders apart by the addresses on the wire and measures each packet.
wire() {
  say "wire: one ICMPv6 echo (56-byte payload) per contender, captured on rt-b"
  # Not through in_ns: $! must be tcpdump itself, and TERM (not INT, which a
  # background job of a script ignores) ends it.
  ip netns exec rt tcpdump -i rt-b -n -U -s 256 -w "$work/wire.pcap" ip6 2>"$work/tcpdump.err" &
  local cap=$!
  wait_for 20 grep -q "listening on" "$work/tcpdump.err" || fail "tcpdump did not start: $(cat "$work/tcpdump.err")"
  local c
  for c in "${ALL_CONTENDERS[@]}"; do
    bench_for "$c"
    in_ns mn1 ping -6 -c 1 -s 56 -W 3 -I "${SRC[$c]}" "${DST[$c]}" >/dev/null ||
      fail "wire: no echo reply for $c"
  done
  # tcpdump writes in order: once the last contender's request and reply
  # are in the file, every packet before them is too. (A fixed half second
  # lost the last contender's packets in a loaded guest.)
  local last=${ALL_CONTENDERS[-1]}
  wait_for 20 bash -c "(( \$(tcpdump -r '$work/wire.pcap' -n '${WIRE[$last]}' 2>/dev/null | wc -l) >= 2 ))" ||
    fail "wire: the capture never showed $last's echo request and reply"
  kill "$cap"; wait "$cap" || true
  say "wire: $(tail -n 1 "$work/tcpdump.err")"
}

# --- 3. the file over TCP ---------------------------------------------------------
file_runs() {
  local mtu=$1 n=$2 r c rx tx secs
  bench_mtu "$mtu"
  # One short transfer each first: TCP metrics and neighbours settle, and
  # the first round is not the only one to pay for them. (--quick skips it:
  # its figures are not quoted, and it is the CI smoke run.)
  if ! $quick; then
    for c in "${ALL_CONTENDERS[@]}"; do iperf3_run "$c" "$work/warm.json" -n 1000000; done
  fi
  for r in $(seq "$n"); do
    for c in "${ALL_CONTENDERS[@]}"; do
      iperf3_run "$c" "$work/run.json" -n "$file_bytes"
      read -r rx tx < <(rate "$work/run.json") || fail "no result in iperf3's output: $(cat "$work/run.json")"
      # The file's transfer time at the receiver's rate.
      secs=$(awk -v b="$file_bytes" -v r="$rx" 'BEGIN { printf "%.4f", b / r }')
      say "file mtu $mtu round $r/$n  $(printf '%-6s' "$c") $secs s ($(awk -v r="$rx" 'BEGIN { printf "%.1f", r / 1e6 }') MB/s)"
      echo "file $mtu $c $r $secs $rx" >> "$work/results.tsv"
    done
  done
}

# --- 2. small UDP ----------------------------------------------------------------
udp_runs() {
  local size=$1 n=$2 r c rx tx
  for r in $(seq "$n"); do
    for c in "${ALL_CONTENDERS[@]}"; do
      iperf3_run "$c" "$work/run.json" -u -b 0 -l "$size" -t "$udp_secs"
      read -r rx tx < <(rate "$work/run.json") || fail "no result in iperf3's output: $(cat "$work/run.json")"
      read -r rx tx < <(awk -v r="$rx" -v t="$tx" -v n="$size" 'BEGIN { printf "%.0f %.0f\n", r / n, t / n }')
      say "udp ${size} B round $r/$n  $(printf '%-6s' "$c") $rx pkt/s received ($tx sent)"
      echo "udp $size $c $r $rx $tx" >> "$work/results.tsv"
    done
  done
}

# --- 4. lin6's cycles per translated packet ---------------------------------------
# cycles_of KIND CMD...: runs CMD and appends "cycles KIND CYCLES PACKETS"
# (what lin6.ko counted in mn1 and mn2 meanwhile).
cycles_of() {
  local kind=$1 c0 p0 c1 p1; shift
  c0=$(lin6_sum cycles) p0=$(lin6_sum cycles_packets)
  "$@"
  c1=$(lin6_sum cycles) p1=$(lin6_sum cycles_packets)
  ((p1 > p0)) || fail "cycles: lin6 counted no packet for $kind"
  say "cycles $kind: $(( (c1 - c0) / (p1 - p0) )) per translated packet over $((p1 - p0)) packets"
  echo "cycles $kind $((c1 - c0)) $((p1 - p0))" >> "$work/results.tsv"
}
cycles() {
  cycles_counting 1
  bench_for lin6
  cycles_of icmp in_ns mn1 ping -6 -q -c "$pings" -i 0.01 -s 56 -I "${SRC[lin6]}" "${DST[lin6]}"
  cycles_of tcp iperf3_run lin6 "$work/run.json" -n "$file_bytes"
  cycles_of udp64 iperf3_run lin6 "$work/run.json" -u -b 0 -l 64 -t "$udp_secs"
  cycles_counting 0
}

# --- main --------------------------------------------------------------------------
t0=$SECONDS
say "clock: $(clock_json)"
say "kernel $(uname -r), $(nproc) CPU(s), iperf3 $(iperf3 --version | awk 'NR==1{print $2}')"
say "contenders: ${ALL_CONTENDERS[*]}; file $file_bytes bytes x $runs runs at MTU ${mtus// /, }; UDP ${udp_sizes// /, } B x $udp_runs runs of $udp_secs s"
setup
say "set up in $((SECONDS - t0)) s"
wire
# UDP before the MTU changes: after the links went to 9000 and back, iperf3's
# UDP tests failed to start ("unable to read from stream socket").
for size in $udp_sizes; do udp_runs "$size" "$udp_runs"; done
first=true
for mtu in $mtus; do
  # --quick: full rounds at the first MTU only.
  n=$runs; if $quick && ! $first; then n=1; fi
  file_runs "$mtu" "$n"
  first=false
done
say "measurements took $((SECONDS - t0)) s"
cycles
say "all took $((SECONDS - t0)) s"

# What the summary needs to tell the contenders apart on the wire.
{
  printf '{"benchmark":"paper","date":"%s","kernel":"%s","cpus":%s,"iperf3":"%s",\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(uname -r)" "$(nproc)" "$(iperf3 --version | awk 'NR==1{print $2}')"
  printf ' "quick":%s,"runs":%s,"file_bytes":%s,"paper_file_bytes":%s,"mtus":[%s],\n' \
    "$quick" "$runs" "$file_bytes" "$PAPER_FILE_BYTES" "${mtus// /,}"
  printf ' "udp_sizes":[%s],"udp_seconds":%s,"udp_runs":%s,"pings":%s,"guest_seconds":%s,\n' \
    "${udp_sizes// /,}" "$udp_secs" "$udp_runs" "$pings" "$((SECONDS - t0))"
  printf ' "clock":%s,\n' "$(clock_json)"
  printf ' "contenders":["%s"],\n' "$(IFS=,; echo "${ALL_CONTENDERS[*]}" | sed 's/,/","/g')"
  printf ' "addresses":{'
  sep=
  for c in "${ALL_CONTENDERS[@]}"; do
    printf '%s"%s":{"src":"%s","dst":"%s"}' "$sep" "$c" "${SRC[$c]}" "${DST[$c]}"; sep=,
  done
  printf '},\n "wire_addresses":{"plain":["%s","%s"],"lin6":["2001:db8:a:0:%s","2001:db8:b:0:%s"],' \
    "${SRC[plain]}" "${DST[plain]}" "$MN1_IID" "$MN2_IID"
  printf '"ila":["%s::a1","2001:db8:1b::a2","%s::a2","2001:db8:1a::a1"],' "$SIR" "$SIR"
  printf '"mip6":["%s","%s"],"mip6mm":["%s","%s"]}}\n' "$COA1" "$CN" "$COA1" "$COA2"
} > "$work/meta.json"
/usr/bin/python3 "$here/paper_summary.py" "$work/results.tsv" "$work/meta.json" "$work/wire.pcap"

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
# measured in alternating rounds (plain, lin6, ila, plain, ...). Then, if
# lin6.ko has the parameter measure_cycles, one more LIN6 round with it on
# gives the mean cycles per translated packet.
# Prints progress, a table and a last line "BENCH-JSON {...}".
set -euo pipefail
: "${LIN6_QEMU_TESTS:?run me through qemu-tests/run --exec (scripts/bench datapath)}"
source "$LIN6_QEMU_TESTS/lib.sh"
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
trap 'cleanup_netns; rm -rf "$work"' EXIT
PORT=5201
SIR=2001:db8:5151

# --- topology -------------------------------------------------------------
declare -A SRC DST
SRC[plain]=2001:db8:a::100   DST[plain]=2001:db8:b::100
SRC[lin6]=$MN1_LIN6          DST[lin6]=$MN2_LIN6
SRC[ila]=$SIR::a1            DST[ila]=$SIR::a2

topology() {
  two_mobiles
  # plain: ordinary addresses beside the locators
  in_ns mn1 ip -6 addr add "${SRC[plain]}/64" dev eth0 nodad
  in_ns mn2 ip -6 addr add "${DST[plain]}/64" dev eth0 nodad
  # ILA: the SIR address on lo; the locator prefixes 2001:db8:1a::/64 (mn1)
  # and 2001:db8:1b::/64 (mn2) ride the same links. ILA's input mapping
  # matches a whole locator /64, so they are not the LIN6/plain /64s. The
  # locator addresses are on no interface: the router reaches them through
  # permanent neighbour entries (no ND to translate).
  in_ns mn1 ip -6 addr add "$SIR::a1/128" dev lo nodad
  in_ns mn2 ip -6 addr add "$SIR::a2/128" dev lo nodad
  local mac1 mac2
  mac1=$(in_ns mn1 cat /sys/class/net/eth0/address)
  mac2=$(in_ns mn2 cat /sys/class/net/eth0/address)
  in_ns rt ip -6 route add 2001:db8:1a::/64 dev rt-a
  in_ns rt ip -6 route add 2001:db8:1b::/64 dev rt-b
  in_ns rt ip -6 neigh replace 2001:db8:1a::a1 lladdr "$mac1" dev rt-a nud permanent
  in_ns rt ip -6 neigh replace 2001:db8:1b::a2 lladdr "$mac2" dev rt-b nud permanent
  local ila=(csum-mode adj-transport ident-type luid)
  in_ns mn1 ip -6 route add "$SIR::a2/128" encap ila 2001:db8:1b:0 "${ila[@]}" hook-type output \
    via 2001:db8:a::1 dev eth0 src "$SIR::a1"
  in_ns mn2 ip -6 route add "$SIR::a1/128" encap ila 2001:db8:1a:0 "${ila[@]}" hook-type output \
    via 2001:db8:b::1 dev eth0 src "$SIR::a2"
  in_ns mn1 ip ila add loc_match 2001:db8:1a:0 loc "$SIR:0" "${ila[@]}"
  in_ns mn2 ip ila add loc_match 2001:db8:1b:0 loc "$SIR:0" "${ila[@]}"

  local c
  for c in plain lin6 ila; do
    in_ns mn1 ping -6 -c 2 -i 0.2 -W 3 -I "${SRC[$c]}" "${DST[$c]}" >/dev/null ||
      fail "no connectivity for $c (${SRC[$c]} -> ${DST[$c]})"
  done
  in_ns mn2 iperf3 -s -p "$PORT" >"$work/iperf3-server.log" 2>&1 &
  wait_for 10 bash -c "ip netns exec mn2 ss -Htln | grep -q ':$PORT\b'" ||
    fail "iperf3 server did not start: $(cat "$work/iperf3-server.log")"
}

# --- one run ----------------------------------------------------------------
# iperf3_run CONTENDER OUT.json ARGS...: one iperf3 client run from mn1;
# retried once if the server is still busy with the previous test.
iperf3_run() {
  local c=$1 out=$2 try; shift 2
  for try in 1 2 3; do
    if in_ns mn1 timeout 120 iperf3 -c "${DST[$c]}" -B "${SRC[$c]}" -p "$PORT" -A 0,1 -J "$@" >"$out" 2>&1; then
      return 0
    fi
    sleep 1
  done
  echo "iperf3 for $c failed:" >&2
  grep '"error"' "$out" >&2 || cat "$out" >&2
  return 1
}

# lin6_counter NS NAME: one counter of NS's lin6 statistics, without a Python start
# per call (slow under TCG).
lin6_counter() {
  local j; j=$(in_ns "$1" lin6ctl -j stats)
  [[ $j =~ \"$2\":([0-9]+) ]] || fail "lin6ctl -j stats in $1 has no $2: $j"
  echo "${BASH_REMATCH[1]}"
}
translated() { echo $(( $(lin6_counter mn1 translated_out) + $(lin6_counter mn1 translated_in) )); }

# rate FILE: "RECEIVED SENT" bytes per second from iperf3's pretty-printed
# JSON (its sum_received and sum_sent blocks), by awk: a Python start per
# run costs seconds under TCG.
rate() {
  awk '
    /"sum_(sent|received)":/ { blk = ($1 ~ /received/) ? "rx" : "tx"; next }
    blk && /}/ { blk = "" }
    blk && /"seconds":/ { gsub(/,/, "", $2); secs[blk] = $2 }
    blk && /"bytes":/ { gsub(/,/, "", $2); bytes[blk] = $2 }
    END {
      if (!secs["rx"] || !secs["tx"]) exit 1
      printf "%.3f %.3f\n", bytes["rx"] / secs["rx"], bytes["tx"] / secs["tx"]
    }' "$1"
}

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
cycles_param=/sys/module/lin6/parameters/measure_cycles
# lin6_sum NAME: NAME's counter summed over mn1 and mn2.
lin6_sum() { echo $(( $(lin6_counter mn1 "$1") + $(lin6_counter mn2 "$1") )); }

measure_cycles() {
  local how
  # root passes `test -w` on a read-only (0444) parameter: look at the mode.
  if [ -e "$cycles_param" ] && [[ $(stat -c %A "$cycles_param") == -rw* ]] &&
     echo 1 2>/dev/null > "$cycles_param"; then
    how=sysfs
  elif modinfo -p "$LIN6_KO" 2>/dev/null | grep -q '^measure_cycles:'; then
    # A load-time parameter: reload the module with it, rebuild the hosts.
    say "reloading lin6.ko with measure_cycles=1"
    cleanup_netns
    rmmod lin6 && insmod "$LIN6_KO" measure_cycles=1 || fail "insmod measure_cycles=1 failed"
    topology
    how=reload
  else
    say "lin6.ko has no measure_cycles parameter: cycles n/a"
    cycles_note="measurement not enabled: lin6.ko has no measure_cycles parameter"
    declare -p cycles_note > "$work/cycles.env"
    return 0
  fi
  local c0 p0 c1 p1
  c0=$(lin6_sum cycles) p0=$(lin6_sum cycles_packets)
  run tcp lin6 cycles
  run udp lin6 cycles
  c1=$(lin6_sum cycles) p1=$(lin6_sum cycles_packets)
  # These runs are not part of the throughput figures.
  sed -i '/ cycles /d' "$work/results.tsv"
  if [ "$how" = sysfs ]; then echo 0 > "$cycles_param"; fi
  if ((p1 > p0 && c1 > c0)); then
    cycles_packets=$((p1 - p0))
    cycles_per_packet=$($PY -c "print($((c1 - c0)) / $cycles_packets)")
    cycles_note="measure_cycles=1 ($how), one TCP and one UDP LIN6 run, mn1 + mn2"
    say "cycles per translated packet: $cycles_per_packet over $cycles_packets packets"
  else
    cycles_note="measurement not enabled: measure_cycles=1 left the counters at 0"
    say "counters cycles/cycles_packets stayed 0: cycles n/a"
  fi
  declare -p cycles_per_packet cycles_packets cycles_note > "$work/cycles.env"
}

# --- main -------------------------------------------------------------------
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
 "cycles_note":"$cycles_note"}
EOF
$PY "$here/summarize.py" "$work/results.tsv" "$work/meta.json"

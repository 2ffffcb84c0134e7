# (y) The paper benchmark (scripts/bench paper) still works: its quick
# variant, in this same guest, must print a result in which every contender
# (plain, LIN6, ILA, MIPv6 MN-CN, MIPv6 MN-MN) moved data at every MTU and UDP
# size, lin6's cycles were counted for ICMP and TCP, and the capture shows
# the bytes each contender adds per packet: 0 for LIN6 and ILA, 24 each way
# for MIPv6 between a mobile and a correspondent node, 48 between two
# mobile nodes. The throughput figures mean little at this length
# (docs/benchmarks.md has the real ones); the header sizes are exact.
source "$LIN6_QEMU_TESTS/lib.sh"
out=$(mktemp)
# Not through check: its own failure would exit before the output is shown.
status=0
# Smaller than --quick alone: one round, a 2 MB file (MIPv6 at ~0.04 of
# plain is what takes the time), one MTU (9000: the links are reconfigured
# for it, as for every MTU but the default), one UDP size and 30 pings
# still cross every contender's path and every part of the script; each
# iperf3 run costs a loaded TCG guest some 6 s whatever its length.
bash "$LIN6_QEMU_TESTS/bench/paper.sh" --quick --runs 1 --file-bytes 2000000 --pings 30 \
  --mtus 9000 --udp-sizes 64 > "$out" 2>&1 || status=$?
grep -v '^BENCH-JSON' "$out" | tr -d '\r'
check "paper.sh --quick runs to the end" test "$status" = 0
json=$(tr -d '\r' < "$out" | sed -n 's/^.*BENCH-JSON //p' | tail -n 1)
echo "BENCH-JSON $json"
check "it printed a BENCH-JSON result" test -n "$json"
printf '%s' "$json" > "$out"

# jq -e: fails (exit 1) when the expression is false or null.
expect() {
  local what=$1 expr=$2
  check "$what" jq -e "$expr" "$out" >/dev/null || { jq -c "$3" "$out"; false; }
}
expect "every contender transferred the file at every MTU" \
  '. as $d | [$d.mtus[] as $m | $d.contenders[] as $c | ($d.file[$m|tostring][$c].median // 0) > 0]
   | all and length == ($d.mtus | length) * ($d.contenders | length)' \
  '.file | map_values(map_values(.median?))'
expect "every contender carried UDP at every payload size" \
  '. as $d | [$d.udp_sizes[] as $s | $d.contenders[] as $c | ($d.udp[$s|tostring][$c].median // 0) > 0]
   | all and length == ($d.udp_sizes | length) * ($d.contenders | length)' \
  '.udp | map_values(map_values(.median?))'
expect "lin6 cycles per packet counted for ICMP echo and TCP" \
  '(.cycles.icmp.per_packet // 0) > 0 and (.cycles.tcp.per_packet // 0) > 0' '.cycles'
# The overheads, as measured on the capture: echo request (MN -> peer) and
# reply (peer -> MN), each against plain IPv6's packet of the same payload.
for c_extra in plain:0 lin6:0 ila:0 mip6:24 mip6mm:48; do
  c=${c_extra%:*} extra=${c_extra#*:}
  expect "on the wire, $c adds $extra bytes per packet each way" \
    ".wire.$c.extra_bytes.request == $extra and .wire.$c.extra_bytes.reply == $extra" ".wire.$c"
done
# The MIPv6 bytes are the headers Mobile IPv6 defines, not something else.
expect "MIPv6 MN-CN: a Home Address option out, a type 2 routing header back" \
  '(.wire.mip6.request.headers | index("dstopts HAO(24)")) != null and (.wire.mip6.reply.headers | index("routing type 2(24)")) != null' \
  '.wire.mip6'
expect "MIPv6 MN-MN: both headers each way" \
  '[.wire.mip6mm.request, .wire.mip6mm.reply | (.headers | index("routing type 2(24)")) != null and (.headers | index("dstopts HAO(24)")) != null] | all' \
  '.wire.mip6mm'
rm -f "$out"
check "the benchmark turned cycle counting off again" test "$(cat /sys/module/lin6/parameters/measure_cycles)" = N

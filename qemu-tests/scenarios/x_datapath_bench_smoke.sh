# (x) The datapath benchmark (scripts/bench datapath) still works: one short
# round per contender, in this same guest, must print a result with a
# positive rate for plain, LIN6 and ILA and a cycles-per-packet figure. The
# figures themselves mean nothing at this length (docs/benchmarks.md has the
# real ones); this only keeps the benchmark from rotting.
source "$LIN6_QEMU_TESTS/lib.sh"
out=$(mktemp)
# Not through check: its own failure would exit before the output is shown.
status=0
bash "$LIN6_QEMU_TESTS/bench/datapath.sh" --runs 1 --seconds 1 --udp-seconds 1 > "$out" 2>&1 || status=$?
((status == 0)) || cat "$out"
check "datapath.sh runs to the end" test "$status" = 0
json=$(tr -d '\r' < "$out" | sed -n 's/^.*BENCH-JSON //p' | tail -n 1)
echo "$json"
check "it printed a BENCH-JSON result" test -n "$json"
check "every contender moved data and LIN6 cycles were counted" python3 -c "
import json, sys
d = json.loads(sys.argv[1])
for kind in ('tcp', 'udp'):
    for c in ('plain', 'lin6', 'ila'):
        assert d[kind][c] and d[kind][c]['median'] > 0, (kind, c, d[kind][c])
assert (d.get('cycles_per_packet') or 0) > 0, d.get('cycles_per_packet')
" "$json"
rm -f "$out"
check "the benchmark turned cycle counting off again" test "$(cat /sys/module/lin6/parameters/measure_cycles)" = N

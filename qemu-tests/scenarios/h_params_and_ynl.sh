# Module parameters (max_mappings, measure_cycles, miss_timeout_ms,
# flow_capacity, flow_idle_s) take effect and bad values are refused: pool
# flows are bounded (the stalest live one gives way) and an idle one
# expires (its next packet follows the mapping); the kernel's own ynl CLI drives the
# family from kmod/lin6.yaml just as lin6ctl does.
source "$LIN6_QEMU_TESTS/lib.sh"
# The first call validates the spec against the kernel's genetlink schema;
# the others skip it: the validation is most of each call's 15-35 s in a
# loaded TCG guest, and the spec does not change between calls.
YNL="/usr/bin/python3 $LIN6_KTREE/tools/net/ynl/cli.py --spec $LIN6_QEMU_TESTS/../kmod/lin6.yaml --no-schema"
YNL_VALIDATING="/usr/bin/python3 $LIN6_KTREE/tools/net/ynl/cli.py --spec $LIN6_QEMU_TESTS/../kmod/lin6.yaml --schema $LIN6_KTREE/Documentation/netlink/genetlink.yaml"

check "rmmod" rmmod lin6
check "max_mappings=0 is refused" bash -c "! insmod $LIN6_KO max_mappings=0"
check "flow_capacity=0 is refused" bash -c "! insmod $LIN6_KO flow_capacity=0"
check "insmod with a table of 2, cycle counting, 8 pool flows idle for 3 s" \
  insmod "$LIN6_KO" max_mappings=2 measure_cycles=1 flow_capacity=8 flow_idle_s=3
two_mobiles
in_ns mn1 lin6ctl map add 02:01:4a:00:00:00:00:07 2001:db8:7::/64 --static
set +e
in_ns mn1 lin6ctl map add 02:01:4a:00:00:00:00:08 2001:db8:8::/64 --static 2> /tmp/full
status=$?
set -e
check "a third mapping fails with 'table full' (exit 6)" test "$status" = 6
check "and says so" grep -qi "full" /tmp/full
check "node show reports capacity 2" bash -c "ip netns exec mn1 lin6ctl -j node show | grep -q '\"capacity\":2'"
check "LIN6 ping" in_ns mn1 ping -6 -c 3 -i 0.2 -W 2 "$MN2_LIN6"
check "cycles were counted for translated packets" test "$(lin6_stat mn1 cycles_packets)" -ge 3
check "and are not zero" test "$(lin6_stat mn1 cycles)" -gt 0
echo "cycles per translated packet (TCG): $(( $(lin6_stat mn1 cycles) / $(lin6_stat mn1 cycles_packets) ))"
# measure_cycles is writable while the module runs (the benchmarks turn it
# on for their cycle rounds only); the other parameters are not.
check "measure_cycles is root-writable (0644), max_mappings read-only (0444)" test \
  "$(stat -c %a /sys/module/lin6/parameters/measure_cycles) $(stat -c %a /sys/module/lin6/parameters/max_mappings)" = "644 444"
echo 0 > /sys/module/lin6/parameters/measure_cycles
counted=$(lin6_stat mn1 cycles_packets)
in_ns mn1 ping -6 -c 2 -i 0.2 -W 2 "$MN2_LIN6" > /dev/null
check "turned off through sysfs, it counts no more packets" test "$(lin6_stat mn1 cycles_packets)" = "$counted"
check "and translation went on" test "$(lin6_stat mn1 translated_out)" -ge 5

# Pool flows, in one shell (bash's /dev/udp: no exec per datagram). One
# socket is a flow: pinned to mn2 across a mapping change, then idle past
# flow_idle_s, after which it follows the mapping (to a network with no
# route: the packet never reaches mn2); then 12 new flows into 8 slots.
# A sink on mn2: a Port Unreachable would fail the socket's next send.
in_ns mn2 socat -u UDP6-RECV:9 OPEN:/dev/null > /dev/null 2>&1 &
in_ns mn1 lin6ctl map add "$MN2_ID" 2001:db8:b::/64 --static --pool
before=$(lin6_stat mn2 translated_in)
ip netns exec mn1 bash -c "
  exec 3>/dev/udp/$MN2_LIN6/9
  echo pinned >&3
  lin6ctl map add $MN2_ID 2001:db8:e::/64 --static --pool
  echo still-pinned >&3
  sleep 3.5
  echo idle-too-long >&3
  for i in \$(seq 12); do echo new > /dev/udp/$MN2_LIN6/9; done" 2>/dev/null || true
echo "pool flows: pinned $(lin6_stat mn1 flows_pinned), evicted $(lin6_stat mn1 flow_evictions)"
check "a pinned flow reached mn2 after the mapping moved, until it idled out" \
  test "$(lin6_stat mn2 translated_in)" = $((before + 2))
check "14 flows pinned (the idle one pinned again)" stat_is mn1 flows_pinned 14
check "live flows gave way when the table was full" test "$(lin6_stat mn1 flow_evictions)" -ge 1

# The ynl CLI, from the spec alone.
check "ynl: node-get, with the spec validated against the genetlink schema" bash -c "ip netns exec mn1 $YNL_VALIDATING --do node-get | grep -q node-id"
check "ynl: map-new" in_ns mn2 $YNL --do map-new --json '{"node-id": 144478026913021961, "prefix": "20010db8000900000000000000000000", "lifetime": 600}'
check "lin6ctl sees what ynl added" bash -c "ip netns exec mn2 lin6ctl map show 02:01:4a:00:00:00:00:09 | grep -q 2001:db8:9::"
check "ynl: map-get dump" bash -c "ip netns exec mn2 $YNL --dump map-get | grep -q 2001:db8:9::"
check "ynl: stats-get" bash -c "ip netns exec mn2 $YNL --do stats-get | grep -q translated-in"
check "ynl: map-new with the pool flag" in_ns mn1 $YNL --do map-new --json '{"node-id": 144478026913021954, "prefix": "20010db8000b00000000000000000000", "flags": ["static", "pool"]}'
check "ynl: map-get shows it" bash -c "ip netns exec mn1 $YNL --do map-get --json '{\"node-id\": 144478026913021954}' | grep -q pool"
check "ynl: an invalid request is refused" bash -c "! ip netns exec mn2 $YNL --do map-new --json '{\"node-id\": 1}' 2>/dev/null"

# Leave the module as the other scenarios expect it.
cleanup_netns
check "rmmod" rmmod lin6
check "insmod with defaults" insmod "$LIN6_KO"

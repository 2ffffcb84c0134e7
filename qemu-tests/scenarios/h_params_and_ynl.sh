# Module parameters (max_mappings, measure_cycles, miss_timeout_ms) take
# effect and bad values are refused; the kernel's own ynl CLI drives the
# family from kmod/lin6.yaml just as lin6ctl does.
source "$LIN6_QEMU_TESTS/lib.sh"
# The first call validates the spec against the kernel's genetlink schema;
# the others skip it: the validation is most of each call's 15-35 s in a
# loaded TCG guest, and the spec does not change between calls.
YNL="/usr/bin/python3 $LIN6_KTREE/tools/net/ynl/cli.py --spec $LIN6_QEMU_TESTS/../kmod/lin6.yaml --no-schema"
YNL_VALIDATING="/usr/bin/python3 $LIN6_KTREE/tools/net/ynl/cli.py --spec $LIN6_QEMU_TESTS/../kmod/lin6.yaml --schema $LIN6_KTREE/Documentation/netlink/genetlink.yaml"

check "rmmod" rmmod lin6
check "max_mappings=0 is refused" bash -c "! insmod $LIN6_KO max_mappings=0"
check "insmod with a table of 2 and cycle counting" insmod "$LIN6_KO" max_mappings=2 measure_cycles=1
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

# The ynl CLI, from the spec alone.
check "ynl: node-get, with the spec validated against the genetlink schema" bash -c "ip netns exec mn1 $YNL_VALIDATING --do node-get | grep -q node-id"
check "ynl: map-new" in_ns mn2 $YNL --do map-new --json '{"node-id": 144478026913021961, "prefix": "20010db8000900000000000000000000", "lifetime": 60}'
check "lin6ctl sees what ynl added" bash -c "ip netns exec mn2 lin6ctl map show 02:01:4a:00:00:00:00:09 | grep -q 2001:db8:9::"
check "ynl: map-get dump" bash -c "ip netns exec mn2 $YNL --dump map-get | grep -q 2001:db8:9::"
check "ynl: stats-get" bash -c "ip netns exec mn2 $YNL --do stats-get | grep -q translated-in"
check "ynl: an invalid request is refused" bash -c "! ip netns exec mn2 $YNL --do map-new --json '{\"node-id\": 1}' 2>/dev/null"

# Leave the module as the other scenarios expect it.
cleanup_netns
check "rmmod" rmmod lin6
check "insmod with defaults" insmod "$LIN6_KO"

# (i) linsix0: every namespace gets one when it appears; it holds the LIN6
# address and the LIN6 prefix's route; it stays in its namespace and cannot
# be deleted by hand; a packet that reaches it untranslated is dropped and
# counted, never sent with a LIN6 address on the wire; a namespace with it
# up and addressed goes away cleanly.
source "$LIN6_QEMU_TESTS/lib.sh"
two_mobiles

check "the first namespace has linsix0" ip link show linsix0
host fresh
check "a namespace made after the module loaded has linsix0" in_ns fresh ip link show linsix0
check "linsix0 has no link-layer address (ARPHRD_NONE)" \
  bash -c "ip netns exec fresh ip -d link show linsix0 | grep -q 'link/none'"
check "linsix0 cannot move to another namespace" bash -c "! ip netns exec fresh ip link set linsix0 netns mn1 2>/dev/null"
check "nor be deleted by hand" bash -c "! ip netns exec fresh ip link del linsix0 2>/dev/null"
check "fresh still has it" in_ns fresh ip link show linsix0

check "mn1's LIN6 address is on linsix0" \
  bash -c "ip netns exec mn1 ip -6 addr show dev linsix0 | grep -q '$MN1_LIN6/64'"
route=$(in_ns mn1 ip -6 route get "$MN2_LIN6")
echo "route to mn2's LIN6 address: $route"
check "the LIN6 prefix routes through linsix0 with our LIN6 source" \
  bash -c "grep -q 'dev linsix0' <<<'$route' && grep -q 'src $MN1_LIN6' <<<'$route'"
check "LIN6 traffic still leaves by the locator" in_ns mn1 ping -6 -c 2 -i 0.2 -W 2 "$MN2_LIN6"

# A stationary Node ID under the LIN6 prefix is never translated: the route
# takes it to linsix0, which must drop it.
stationary=$LIN6_PREFIX:1:4a00:0:9
work=$(mktemp -d)
in_ns rt timeout 8 tcpdump -ni rt-a -w "$work/wire.pcap" ip6 2>/dev/null &
dump=$!
sleep 1
drops=$(lin6_stat mn1 drop_untranslated)
txd=$(in_ns mn1 ip -j -s link show linsix0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])')
check "a ping to a stationary LIN6 address gets no answer" \
  bash -c "! ip netns exec mn1 ping -6 -c 3 -i 0.2 -W 1 $stationary >/dev/null"
check "its three packets were counted as untranslated drops" \
  test "$(lin6_stat mn1 drop_untranslated)" = $((drops + 3))
txd2=$(in_ns mn1 ip -j -s link show linsix0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])')
check "and in linsix0's own TX dropped ($txd -> $txd2)" test "$txd2" -ge $((txd + 3))
wait $dump || true
check "no LIN6 address reached the wire" \
  bash -c "! tcpdump -nr $work/wire.pcap 2>/dev/null | grep -q '$LIN6_PREFIX'"

check "deleting a namespace with linsix0 up and addressed" ip netns del fresh
in_ns mn1 ip link set linsix0 down
check "linsix0 down: the LIN6 route goes with it" \
  bash -c "! ip netns exec mn1 ip -6 route show $LIN6_PREFIX::/64 | grep -q linsix0"
rm -rf "$work"

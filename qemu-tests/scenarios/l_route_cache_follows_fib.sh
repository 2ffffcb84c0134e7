# (l) The route to a mapping's locator is cached per mapping (a dst_cache,
# so that a translated packet costs no FIB lookup), and the cache follows
# the FIB: a route added for the peer's locator prefix takes effect at
# once for a flow whose route is cached, and so does its removal. A packet
# with no route to its locator is dropped and counted as drop-no-route.
source "$LIN6_QEMU_TESTS/lib.sh"
two_mobiles

check "LIN6 ping works (and fills the route cache)" \
  in_ns mn1 ping -6 -c 3 -i 0.2 -W 2 "$MN2_LIN6"
no_route=$(lin6_stat mn1 drop_no_route)

in_ns mn1 ip -6 route add unreachable 2001:db8:b::/64
check "with mn2's locator prefix unreachable, LIN6 ping fails" \
  bash -c "! ip netns exec mn1 ping -6 -c 2 -i 0.2 -W 1 $MN2_LIN6"
check "and the packets were counted as drop-no-route" \
  test "$(lin6_stat mn1 drop_no_route)" -ge $((no_route + 2))
no_route=$(lin6_stat mn1 drop_no_route)

in_ns mn1 ip -6 route del unreachable 2001:db8:b::/64
check "with the route gone again, LIN6 ping works" \
  in_ns mn1 ping -6 -c 3 -i 0.2 -W 2 "$MN2_LIN6"
check "and none of them was dropped" stat_is mn1 drop_no_route "$no_route"

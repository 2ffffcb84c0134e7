# (d) With the module loaded and LIN6 configured, plain IPv6 between the
# same hosts' ordinary addresses, and a stationary node's addresses, are
# never translated; hosts without a Node ID do not even run lin6's hooks.
source "$LIN6_QEMU_TESTS/lib.sh"
two_mobiles
# Ordinary addresses beside the locators, and a stationary node (OUI
# 00:01:4a: its LIN6 address is an ordinary routable address).
in_ns mn1 ip -6 addr add 2001:db8:a::100/64 dev eth0 nodad
in_ns mn2 ip -6 addr add 2001:db8:b::100/64 dev eth0 nodad
host st
link st eth0 rt rt-s
in_ns rt ip -6 addr add 2001:db8:c::1/64 dev rt-s nodad
in_ns st ip -6 addr add 2001:db8:c::1:4a00:0:9/64 dev eth0 nodad
in_ns st ip -6 route add default via 2001:db8:c::1

before_out=$(lin6_stat mn1 translated_out) before_in=$(lin6_stat mn1 translated_in)
check "plain ping between ordinary addresses" \
  in_ns mn1 ping -6 -c 3 -i 0.2 -W 2 -I 2001:db8:a::100 2001:db8:b::100
check "plain TCP between ordinary addresses" bash -c "
  ip netns exec mn2 timeout 30 socat -u TCP6-LISTEN:5002,bind=[2001:db8:b::100] OPEN:/tmp/plain,creat,trunc &
  for i in \$(seq 100); do ip netns exec mn2 ss -ltn | grep -q ':5002 ' && break; sleep 0.2; done
  echo plain-tcp | ip netns exec mn1 socat -u - TCP6:[2001:db8:b::100]:5002,bind=[2001:db8:a::100]
  for i in \$(seq 50); do grep -q plain-tcp /tmp/plain && break; sleep 0.2; done; grep -q plain-tcp /tmp/plain"
check "mn1 talks to the stationary node" \
  in_ns mn1 ping -6 -c 3 -i 0.2 -W 2 -I 2001:db8:a::100 2001:db8:c::1:4a00:0:9
check "the stationary node talks to mn1's ordinary address" \
  in_ns st ping -6 -c 3 -i 0.2 -W 2 2001:db8:a::100
check "nothing was translated out" test "$(lin6_stat mn1 translated_out)" = "$before_out"
check "nothing was translated in" test "$(lin6_stat mn1 translated_in)" = "$before_in"
# And LIN6 traffic still is, beside it.
check "LIN6 ping still works" in_ns mn1 ping -6 -c 2 -i 0.2 -W 2 "$MN2_LIN6"
check "and was translated" test "$(lin6_stat mn1 translated_out)" -gt "$before_out"

# lin6's hooks start with a namespace's Node ID (as ILA's start with its
# first mapping): the router and the stationary host have none and run
# none of them; a mobile node runs both. (nft lists every netfilter hook of
# a namespace, with the module that registered it.)
lin6_hooks() {
  local out
  out=$(in_ns "$1" nft list hooks ip6) || return 1
  grep -c '\[lin6\]$' <<< "$out" || true
}
check "mn1 runs lin6's two hooks (prerouting and output)" test "$(lin6_hooks mn1)" = 2
check "the router runs none of them" test "$(lin6_hooks rt)" = 0
check "nor does the stationary host" test "$(lin6_hooks st)" = 0

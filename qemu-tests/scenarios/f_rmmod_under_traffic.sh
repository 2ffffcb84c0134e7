# (f) rmmod while LIN6 traffic flows, then insmod again: no oops, no
# warning, and traffic resumes once the node is configured again.
source "$LIN6_QEMU_TESTS/lib.sh"
two_mobiles
in_ns mn1 ping -6 -i 0.01 -W 1 -q "$MN2_LIN6" > /dev/null 2>&1 &
pinger=$!
in_ns mn2 timeout 60 socat -u TCP6-LISTEN:5004,bind=[$MN2_LIN6],reuseaddr OPEN:/dev/null &
in_ns mn1 timeout 60 socat -u OPEN:/dev/zero TCP6:[$MN2_LIN6]:5004 > /dev/null 2>&1 &
# Waited for, not slept on: a KASAN guest takes seconds to get going.
translating() { test "$(lin6_stat mn1 translated_out)" -gt 50; }
check "traffic is being translated" wait_for 30 translating
for round in 1 2 3; do
  check "rmmod under traffic (round $round)" rmmod lin6
  sleep 0.5
  check "insmod again (round $round)" insmod "$LIN6_KO"
  sleep 0.3
done
kill $pinger 2>/dev/null || true
# A fresh module has fresh, empty state and a fresh linsix0, without the
# address: configure the nodes again.
check "the old linsix0 went with the module, a new one came" bash -c "ip netns exec mn1 ip link show linsix0 >/dev/null && ! ip netns exec mn1 ip -6 addr show dev linsix0 | grep -q '$MN1_LIN6'"
lin6_address mn1 "$MN1_IID"
lin6_address mn2 "$MN2_IID"
in_ns mn1 lin6ctl node set --node-id "$MN1_ID" --locator "2001:db8:a::$MN1_IID"
in_ns mn2 lin6ctl node set --node-id "$MN2_ID" --locator "2001:db8:b::$MN2_IID"
in_ns mn1 lin6ctl map add "$MN2_ID" 2001:db8:b::/64 --static
in_ns mn2 lin6ctl map add "$MN1_ID" 2001:db8:a::/64 --static
check "traffic resumes after reload" in_ns mn1 ping -6 -c 3 -i 0.2 -W 2 "$MN2_LIN6"

# (g) Two namespaces with different tables at once: each sees only its own
# node and mappings, and traffic in one follows its own table.
source "$LIN6_QEMU_TESTS/lib.sh"
two_mobiles
host other
in_ns other lin6ctl node set --node-id "$MN1_ID"
in_ns other lin6ctl map add "$MN2_ID" 2001:db8:77::/64 --lifetime 300
in_ns other lin6ctl map add 02:01:4a:00:00:00:00:33 2001:db8:33::/64 --static

check "mn1 maps mn2 to 2001:db8:b::" bash -c "ip netns exec mn1 lin6ctl -j map show $MN2_ID | grep -q '2001:db8:b::'"
check "other maps mn2 to 2001:db8:77::" bash -c "ip netns exec other lin6ctl -j map show $MN2_ID | grep -q '2001:db8:77::'"
check "mn1 does not see other's extra mapping" bash -c "! ip netns exec mn1 lin6ctl map show 02:01:4a:00:00:00:00:33 2>/dev/null"
check "mn1's table has one entry" test "$(in_ns mn1 lin6ctl -j map show | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1
check "other's table has two entries" test "$(in_ns other lin6ctl -j map show | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2
check "the first namespace has no node" test "$(lin6ctl -j node show | python3 -c 'import json,sys; print(json.load(sys.stdin)["node_id"])')" = None
check "traffic in mn1 still follows mn1's table" in_ns mn1 ping -6 -c 2 -i 0.2 -W 2 "$MN2_LIN6"
check "flushing other leaves mn1 alone" bash -c "ip netns exec other lin6ctl map flush && ip netns exec mn1 lin6ctl map show $MN2_ID >/dev/null"

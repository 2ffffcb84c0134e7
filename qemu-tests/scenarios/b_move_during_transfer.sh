# (b) mn1 moves to another network during a TCP transfer from mn2: the new
# address with mn1's Node ID appears, mn1's kernel switches its locator by
# itself and says so (PREFIX event), mn2's mapping is updated with lin6ctl,
# and the transfer completes with the data intact.
source "$LIN6_QEMU_TESTS/lib.sh"
two_mobiles
# A third network for mn1 to move to.
link mn1 eth1 rt rt-c
in_ns rt ip -6 addr add 2001:db8:c::1/64 dev rt-c nodad
# Slow the path so the move lands mid-stream (about 8 s for the file).
in_ns rt tc qdisc add dev rt-a root netem rate 50mbit
in_ns rt tc qdisc add dev rt-c root netem rate 50mbit

work=$(mktemp -d)
random_file 53850039 "$work/file"
in_ns mn1 timeout 120 socat -u TCP6-LISTEN:5003,bind=[$MN1_LIN6],reuseaddr OPEN:"$work/recv",creat,trunc &
server=$!
sleep 0.5
in_ns mn2 timeout 120 socat -u OPEN:"$work/file" TCP6:[$MN1_LIN6]:5003 &
client=$!
sleep 3
check "the transfer is still running when mn1 moves" kill -0 $client
got_before=$(stat -c %s "$work/recv")

# The move: new address on the new link (the kernel takes it as the new
# locator), the default route through it, the peer's mapping; then the old
# network goes away. The LIN6 prefix's route (through linsix0) stays as it is.
in_ns mn1 lin6ctl -j monitor --count 1 --timeout 30 > "$work/events" &
monitor=$!
sleep 1
new=2001:db8:c::$MN1_IID
in_ns mn1 ip -6 addr add "$new/64" dev eth1 nodad
in_ns mn1 ip -6 route replace default via 2001:db8:c::1 dev eth1
in_ns mn2 lin6ctl map add "$MN1_ID" 2001:db8:c::/64 --static
in_ns mn1 ip -6 addr del "2001:db8:a::$MN1_IID/64" dev eth0
in_ns mn1 ip link set eth0 down

wait $client; wait $server
check "a PREFIX event told of the move" wait $monitor
cat "$work/events"
check "from the old locator" grep -q '"old_locator":"2001:db8:a:0:201:4a00:0:1"' "$work/events"
check "to the new one" grep -q '"new_locator":"2001:db8:c:0:201:4a00:0:1"' "$work/events"
check "mn1 had received part of the file before the move" test "$got_before" -gt 0
check "part of the file arrived after the move" test "$got_before" -lt 53850039
check "the transfer completed intact" test "$(sha256sum < "$work/recv")" = "$(sha256sum < "$work/file")"
check "mn2 now maps mn1 to the new network" bash -c "ip netns exec mn2 lin6ctl -j map show $MN1_ID | grep -q 2001:db8:c::"
check "mn1 reports its new locator" bash -c "ip netns exec mn1 lin6ctl -j node show | grep -q 2001:db8:c:0:201:4a00:0:1"
rm -rf "$work"

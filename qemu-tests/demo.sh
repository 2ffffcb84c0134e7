# The README's demo, run inside the guest by scripts/demo: two mobile nodes
# behind a router talk over their LIN6 addresses; one moves to another
# network in the middle of a transfer, and the transfer goes on.
set -euo pipefail
source "$LIN6_QEMU_TESTS/lib.sh"
say() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "Two mobile nodes, mn1 on 2001:db8:a::/64 and mn2 on 2001:db8:b::/64, behind a router"
two_mobiles
link mn1 eth1 rt rt-c
in_ns rt ip -6 addr add 2001:db8:c::1/64 dev rt-c nodad
run ip netns exec mn1 lin6ctl node show
run ip netns exec mn1 lin6ctl map show

say "Applications use LIN6 addresses; the wire carries locators"
run ip netns exec mn1 ping -6 -c 2 -i 0.3 "$MN2_LIN6"
echo '$ tcpdump on the router (echo request and reply):'
in_ns rt tcpdump -i rt-b -nn -c 4 'icmp6 and (ip6[40] == 128 or ip6[40] == 129)' 2>/dev/null &
sleep 0.5
in_ns mn1 ping -6 -c 2 -i 0.3 "$MN2_LIN6" > /dev/null
wait

say "A 53,850,039-byte transfer from mn2 to mn1; mn1 moves to 2001:db8:c::/64 half-way"
in_ns rt tc qdisc add dev rt-a root netem rate 50mbit
in_ns rt tc qdisc add dev rt-c root netem rate 50mbit
work=$(mktemp -d)
head -c 53850039 /dev/urandom > "$work/file"
in_ns mn1 timeout 120 socat -u TCP6-LISTEN:5003,bind=[$MN1_LIN6],reuseaddr OPEN:"$work/recv",creat,trunc &
server=$!
sleep 0.5
in_ns mn2 timeout 120 socat -u OPEN:"$work/file" TCP6:[$MN1_LIN6]:5003 &
client=$!
in_ns mn1 lin6ctl monitor --count 1 --timeout 30 &
monitor=$!
sleep 3
run ip netns exec mn1 ss -tn
printf 'received so far: %s bytes\n' "$(stat -c %s "$work/recv")"
say "mn1 moves: a new address with its Node ID appears; its kernel switches locator at once"
run ip netns exec mn1 ip -6 addr add "2001:db8:c::$MN1_IID/64" dev eth1 nodad
wait $monitor
in_ns mn1 ip -6 route replace default via 2001:db8:c::1 dev eth1
say "mn2 learns the new mapping (lin6resolvd does this from the MA; here by hand)"
run ip netns exec mn2 lin6ctl map add "$MN1_ID" 2001:db8:c::/64 --static
in_ns mn1 ip -6 addr del "2001:db8:a::$MN1_IID/64" dev eth0
in_ns mn1 ip link set eth0 down
wait $client; wait $server
say "The transfer finished over the new network"
printf 'sent     %s\nreceived %s\n' "$(sha256sum < "$work/file")" "$(sha256sum < "$work/recv")"
[ "$(sha256sum < "$work/file")" = "$(sha256sum < "$work/recv")" ] && echo "intact: yes"
run ip netns exec mn1 lin6ctl node show
run ip netns exec mn1 lin6ctl stats
rm -rf "$work"

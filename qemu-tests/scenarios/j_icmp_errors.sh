# (j) ICMPv6 errors quote the packet they are about; the quote's addresses
# are translated too, so the stacks at both ends can match the error to
# its socket. A Packet Too Big from a router reaches a LIN6 TCP socket
# (path MTU discovery works: a transfer over a narrower link completes),
# and a Port Unreachable sent by a LIN6 node quotes locators on the wire
# and reaches the sender's LIN6 UDP socket as ECONNREFUSED.
source "$LIN6_QEMU_TESTS/lib.sh"
two_mobiles
work=$(mktemp -d)

in_ns rt timeout 60 tcpdump -U -ni rt-a -w "$work/icmp.pcap" icmp6 2>/dev/null &
dump=$!
sleep 1

# mn2's network is narrower than mn1's: mn1's first full-size segments die
# at rt, which tells mn1's locator so, quoting locators.
in_ns rt ip link set rt-b mtu 1280
in_ns mn2 ip link set eth0 mtu 1280
random_file 3000000 "$work/file"
in_ns mn2 timeout 60 socat -u TCP6-LISTEN:5010,bind=[$MN2_LIN6] OPEN:"$work/recv",creat,trunc &
server=$!
sleep 0.5
check "a TCP transfer over the narrower path completes" \
  in_ns mn1 timeout 40 socat -u OPEN:"$work/file" TCP6:[$MN2_LIN6]:5010
wait $server || true
check "intact" test "$(sha256sum < "$work/recv")" = "$(sha256sum < "$work/file")"
route=$(in_ns mn1 ip -6 route get "$MN2_LIN6")
echo "mn1's route to mn2's LIN6 address: $route"
check "mn1 learnt the path MTU for mn2's LIN6 address" grep -q "mtu 1280" <<<"$route"

# No one listens on mn2's port 9: its Port Unreachable goes back to mn1.
check "a LIN6 UDP socket hears ECONNREFUSED from the peer" in_ns mn1 python3 -c "
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(('$MN2_LIN6', 9))
s.send(b'x')
try:
    s.recv(10)
except ConnectionRefusedError:
    raise SystemExit(0)
raise SystemExit(1)
"
sleep 1
pkill -f "tcpdump -U -ni rt-a" || true; wait $dump 2>/dev/null || true
tcpdump -vvnr "$work/icmp.pcap" 2>/dev/null > "$work/icmp.txt" || true
grep -E "too big|unreachable" "$work/icmp.txt" || true
check "the router's Packet Too Big went to mn1's locator" grep -q "> 2001:db8:a:0:201:4a00:0:1: .*packet too big" "$work/icmp.txt"
check "the Port Unreachable quotes mn2's locator" grep -q "unreachable port, 2001:db8:b:0:201:4a00:0:2 udp port 9" "$work/icmp.txt"
check "no LIN6 address on the wire, quotes included" bash -c "! grep -q '$LIN6_PREFIX' $work/icmp.txt"
check "every ICMPv6 checksum on the wire is correct" bash -c "grep -q 'icmp6 sum ok' $work/icmp.txt && ! grep -q 'bad icmp6 cksum' $work/icmp.txt"
rm -rf "$work"

# (a) Two mobile nodes on different /64s behind a router, static mappings:
# ping and a 53,850,039-byte TCP transfer between LIN6 addresses; the wire
# between them shows only locators, no extension headers and correct
# checksums; the sockets show only LIN6 addresses.
source "$LIN6_QEMU_TESTS/lib.sh"
two_mobiles
work=$(mktemp -d)

# The capture on the router's link to mn2 must show finished checksums:
# veth passes offloaded (CHECKSUM_PARTIAL) packets on unfinished, so the
# router's egress to mn2 and mn2's own egress finish them in software.
# The packets mn1 sends reach the router still partial when mn1's offload is
# on (the pseudo-header sum lin6 adjusted is what gets finished) and with a
# full software checksum that lin6 adjusted when it is off (UDP, ICMPv6).
in_ns rt ethtool -K rt-b tx off >/dev/null
in_ns mn2 ethtool -K eth0 tx off >/dev/null
# Written raw and decoded after the transfers, so that decoding does not
# compete with them for the guest's CPUs.
in_ns rt tcpdump -i rt-b -nn -U -s 200 -w "$work/wire.pcap" ip6 2>/dev/null &
dump=$!
sleep 1

check "ping mn1 -> mn2 by LIN6 address" in_ns mn1 ping -6 -c 3 -i 0.2 -W 2 "$MN2_LIN6"
check "ping mn2 -> mn1 by LIN6 address" in_ns mn2 ping -6 -c 3 -i 0.2 -W 2 "$MN1_LIN6"

# The paper's file, over TCP, with checksum offload (CHECKSUM_PARTIAL at the
# hook); then 8 MB without (a full software checksum at the hook), which
# shows the other checksum path as well as the whole file would, faster.
random_file 53850039 "$work/file-on"
head -c 8000000 "$work/file-on" > "$work/file-off"
for offload in on off; do
  want=$(sha256sum < "$work/file-$offload")
  in_ns mn1 ethtool -K eth0 tx "$offload" >/dev/null
  # Sent again until it arrives: a loaded guest may take seconds to start
  # the receiver, and a datagram sent before it binds is lost.
  in_ns mn2 timeout 30 socat -u UDP6-RECV:7000,bind=[$MN2_LIN6] OPEN:"$work/udp-$offload",creat &
  udp_server=$!
  udp_arrived() {
    echo lin6-udp | in_ns mn1 socat -u - "UDP6-SENDTO:[$MN2_LIN6]:7000,bind=[$MN1_LIN6]"
    pause 0.3
    logged "$work/udp-$offload" lin6-udp
  }
  check "UDP mn1 -> mn2 (offload $offload)" wait_for 20 udp_arrived
  # It would hold the port until its timeout, past the next round's start
  # in a fast guest.
  pkill -f "UDP6-RECV:7000,bind=" || true
  wait "$udp_server" 2>/dev/null || true
  check "ping mn1 -> mn2 (offload $offload)" in_ns mn1 ping -6 -c 2 -i 0.2 -W 2 "$MN2_LIN6"
  in_ns mn2 timeout 120 socat -u TCP6-LISTEN:5001,bind=[$MN2_LIN6],reuseaddr OPEN:"$work/recv-$offload",creat,trunc &
  server=$!
  sleep 0.5
  in_ns mn1 timeout 120 socat -u OPEN:"$work/file-$offload" TCP6:[$MN2_LIN6]:5001 &
  client=$!
  # While the stream runs, both ends' sockets name only LIN6 addresses:
  # looked at once both ends hold an established connection (a loaded guest
  # may take seconds to start the client), and during the long transfer
  # only (the 8 MB one can end before two ss execs have run).
  snapshot() {
    in_ns mn1 ss -Htn state established > "$work/ss1-$offload"
    in_ns mn2 ss -Htn state established > "$work/ss2-$offload"
    grep -q . "$work/ss1-$offload" && grep -q . "$work/ss2-$offload"
  }
  if [ "$offload" = on ]; then
    check "both ends' sockets seen established during the transfer" wait_for 30 snapshot
  fi
  wait $client; wait $server
  check "TCP transfer of $(stat -c %s "$work/file-$offload") bytes (offload $offload): sha256 equal" test "$(sha256sum < "$work/recv-$offload")" = "$want"
done
for f in "$work"/ss*; do
  check "ss shows LIN6 addresses ($(basename "$f"))" grep -q "$LIN6_PREFIX" "$f"
  check "ss shows no locator ($(basename "$f"))" bash -c "! grep -q 2001:db8 $f"
done

sleep 0.5; pkill -f "tcpdump -i rt-b -nn -U" || true; wait $dump 2>/dev/null || true
# The capture holds some 60,000 packets. Filters sift all of them (fast);
# decoding (slow under TCG) is kept to packets captured whole, the only ones
# whose checksums tcpdump can verify: every ICMPv6 and UDP packet and the
# first 1,000 TCP ones (handshakes, ACKs). The data segments' checksums are
# proven by the sha256 above: the receiving TCP drops a segment whose
# checksum is wrong.
count() { tcpdump -nn -r "$work/wire.pcap" "$@" 2>/dev/null | wc -l; }
check "capture saw traffic from mn1's locator" test "$(count -c 1001 src 2001:db8:a:0:201:4a00:0:1)" -gt 1000
check "no LIN6 address on the wire" test "$(count net $LIN6_PREFIX::/64)" = 0
check "no extension headers on the wire" test "$(count 'ip6 and (ip6 proto 0 or ip6 proto 43 or ip6 proto 44 or ip6 proto 60)')" = 0
{ tcpdump -nn -vv -r "$work/wire.pcap" 'ip6[4:2] < 140 and not tcp'
  tcpdump -nn -vv -r "$work/wire.pcap" -c 1000 'ip6[4:2] < 140 and tcp'; } > "$work/wire.txt" 2>/dev/null || true
echo "decoded $(wc -l < "$work/wire.txt") whole packets"
grep -Ei "incorrect|bad (udp|icmp6|tcp) ?cksum" "$work/wire.txt" | head -3 || true
check "no bad checksum on the wire" bash -c "! grep -Eiq 'incorrect|bad (udp|icmp6|tcp) ?cksum' $work/wire.txt"
check "TCP checksums verified correct" grep -q '(correct)' "$work/wire.txt"
check "ICMPv6 checksums verified" grep -q 'icmp6 sum ok' "$work/wire.txt"
check "UDP checksums verified" grep -q 'udp sum ok' "$work/wire.txt"
check "mn1 counted translated packets" test "$(lin6_stat mn1 translated_out)" -gt 1000
check "mn2 counted translated packets" test "$(lin6_stat mn2 translated_in)" -gt 1000
rm -rf "$work"

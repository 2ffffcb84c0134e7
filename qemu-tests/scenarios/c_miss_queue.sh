# (c) Miss: the first packet to a Node ID with no mapping raises a MISS
# event (seen by lin6ctl monitor), waits in the queue, and is delivered once
# `lin6ctl map add` installs the mapping. The queue's bounds (packets per
# destination, destinations) and its timeout are honoured and counted.
source "$LIN6_QEMU_TESTS/lib.sh"
two_mobiles
work=$(mktemp -d)
in_ns mn1 lin6ctl map del "$MN2_ID"

in_ns mn1 lin6ctl -j monitor --count 1 --timeout 30 > "$work/events" &
monitor=$!
sleep 1
in_ns mn1 ping -6 -c 1 -W 15 "$MN2_LIN6" > "$work/ping" 2>&1 &
pinger=$!
check "lin6ctl monitor saw one MISS event" wait $monitor
# The packet waits 3 s at most, and every command is slow under TCG: answer
# the miss first, look at the evidence after.
check "the ping is still waiting when the mapping comes" kill -0 $pinger
in_ns mn1 lin6ctl map add "$MN2_ID" 2001:db8:b::/64 --static
check "the waiting echo request was delivered and answered" wait $pinger
cat "$work/events"
check "the event names mn2's Node ID" grep -q "\"node_id\":\"$MN2_ID\"" "$work/events"
check "the event names the LIN6 address" grep -q "\"address\":\"$MN2_LIN6\"" "$work/events"
check "the event says no-mapping" grep -q '"reason":"no-mapping"' "$work/events"
check "one packet waited" test "$(lin6_stat mn1 queued)" = 1
check "it was sent from the queue" test "$(lin6_stat mn1 sent_from_queue)" = 1

# Bounds, in one burst well inside the timeout: 20 packets to one unknown
# node (16 wait, 4 find no room), then one packet to each of 70 more
# unknown nodes (63 fit beside the first, 7 find no room).
in_ns mn1 /usr/bin/python3 -c "
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(('$MN1_LIN6', 0))
for _ in range(20):
    s.sendto(b'x', ('$LIN6_PREFIX:201:4a00:0:33', 9))
for i in range(0x100, 0x100 + 70):
    s.sendto(b'x', ('$LIN6_PREFIX:201:4a00:0:%x' % i, 9))
"
check "16 + 63 packets wait" test "$(lin6_stat mn1 queued)" = $((1 + 16 + 63))
check "4 + 7 were dropped as queue-full" test "$(lin6_stat mn1 drop_queue_full)" = $((4 + 7))
# The timeout: 3 s after they queued, all 79 waiting packets are dropped.
check "they time out and are counted" wait_for 8 stat_is mn1 drop_queue_timeout 79
check "nothing was sent for them" test "$(lin6_stat mn1 sent_from_queue)" = 1
check "mn1 still talks to mn2" in_ns mn1 ping -6 -c 2 -i 0.2 -W 2 "$MN2_LIN6"

# A queued packet that the output path refuses once its mapping comes is
# counted as drop-queue-send, not as sent: an nftables chain behind lin6's
# hook (priority LAST, lin6's is LAST - 1) drops what lin6 translated to
# node :44's locator. The first pass never reaches it (lin6 queues the
# packet); the send from the queue does.
in_ns mn1 nft -f - <<EOF
table ip6 lin6_test {
  chain out {
    type filter hook output priority 2147483647;
    ip6 daddr 2001:db8:b:0:201:4a00:0:44 counter drop
  }
}
EOF
in_ns mn1 /usr/bin/python3 -c "
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(('$MN1_LIN6', 0))
for _ in range(2):
    s.sendto(b'x', ('$LIN6_PREFIX:201:4a00:0:44', 9))
"
in_ns mn1 lin6ctl map add 02:01:4a:00:00:00:00:44 2001:db8:b::/64 --static
check "two packets the output path refused are counted as drop-queue-send" stat_is mn1 drop_queue_send 2
check "and not as sent from the queue" test "$(lin6_stat mn1 sent_from_queue)" = 1
check "nor as malformed" stat_is mn1 drop_malformed 0
check "the nftables rule dropped them" bash -c "ip netns exec mn1 nft list chain ip6 lin6_test out | grep -q 'packets 2 '"
in_ns mn1 nft delete table ip6 lin6_test

# Expiry: a mapping with a lifetime stops translating when it runs out. The
# packet path compares against the tick's monotonic seconds, so this is what
# proves that clock is read right. After expiry the next packet is a miss
# again (queued, one more MISS event), not a packet sent to the old locator.
in_ns mn1 lin6ctl map add "$MN2_ID" 2001:db8:b::/64 --lifetime 3
check "a mapping with 3 s left translates" in_ns mn1 ping -6 -c 1 -W 2 "$MN2_LIN6"
check "it has a lifetime, not static" bash -c "ip netns exec mn1 lin6ctl -j map show $MN2_ID | grep -q '\"lifetime\":[1-3][,}]'"
check "it is gone from the table once its lifetime ran out" \
  wait_for 10 bash -c "! ip netns exec mn1 lin6ctl map show $MN2_ID >/dev/null 2>&1"
queued=$(lin6_stat mn1 queued)
in_ns mn1 ping -6 -c 1 -W 1 "$MN2_LIN6" >/dev/null 2>&1 || true
check "the next packet to it waits as a miss" test "$(lin6_stat mn1 queued)" = $((queued + 1))
rm -rf "$work"

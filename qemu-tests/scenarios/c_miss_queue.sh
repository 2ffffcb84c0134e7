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
rm -rf "$work"

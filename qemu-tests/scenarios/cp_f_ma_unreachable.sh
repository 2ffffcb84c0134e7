# (cp f) The MA is unreachable when a miss happens (issue 4 §5f). The MN's
# MA (ma1) is cut off (its router link down) when the CN first sends to the
# MN: the CN's kernel queues the first packets within its bound (16 per
# destination) and drops the rest (counted), lin6resolvd's MA Query times
# out and it retries in rounds with backoff; the link comes back within the
# kernel's miss timeout, the next round installs the mapping, the queued
# packets are sent, and traffic flows. Nothing crashes or spins: both
# resolvers are alive and used little CPU while the MA was away.
source "$LIN6_QEMU_TESTS/cp_lib.sh"
cp_topology
cp_deployment
cp_dns_start
cp_agent ma1 ma1 $CP_MA1 "$MN_ID"
cp_agent ma2 ma2 $CP_MA2 "$CN_ID"
cp_resolvd mn "$MN_ID" $MN_NAME
cp_resolvd cn "$CN_ID" $CN_NAME
# Known to the kernel (lin6.ko's default miss_timeout_ms) and the resolver.
queue_bound=16

cpu_ticks() { awk '{print $14 + $15}' "/proc/$(cat "$CP_WORK/resolvd-$1/pid")/stat"; }
cn_ticks=$(cpu_ticks cn)

# The receiver on mn counts datagrams for 12 s.
in_ns mn timeout 12 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 7006))
n = 0
try:
    s.settimeout(11)
    while True:
        s.recv(100); n += 1
        open(sys.argv[2], "w").write(str(n))
except Exception:
    pass' "$MN_LIN6" "$CP_WORK/udp-count" &
rx=$!
sleep 0.5

in_ns rt ip link set rt-m1 down
t0=$(date +%s%N)
# 40 datagrams at once: 16 wait, 24 find the queue full.
in_ns cn python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
for i in range(40): s.sendto(b"x%d" % i, (sys.argv[1], 7006))' "$MN_LIN6"
sleep 0.3
check "cn's kernel raised a miss" test "$(lin6_stat cn misses)" -ge 1
check "cn queued the first $queue_bound packets" test "$(lin6_stat cn queued)" = $queue_bound
check "and dropped the other 24, counted" test "$(lin6_stat cn drop_queue_full)" = 24
check "nothing has reached mn yet" test ! -s "$CP_WORK/udp-count"
# The resolver's first query goes unanswered; it is retrying.
retrying() { grep -q "round 1:" "$CP_WORK/resolvd-cn.log"; }
check "cn's resolver is retrying (round 1 failed)" wait_for 3 retrying
in_ns rt ip link set rt-m1 up
echo "ma1 back after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "the mapping arrives once the MA is back" \
  wait_for 5 bash -c "ip netns exec cn lin6ctl map show $MN_ID >/dev/null 2>&1"
echo "mapping installed $(( ($(date +%s%N) - t0) / 1000000 )) ms after the first packet"
check "the queued packets were sent" wait_for 3 stat_is cn sent_from_queue $queue_bound
check "none timed out" test "$(lin6_stat cn drop_queue_timeout)" = 0
wait_for 3 test -s "$CP_WORK/udp-count" || true
check "mn received the $queue_bound waiting datagrams (got $(cat "$CP_WORK/udp-count" 2>/dev/null))" \
  test "$(cat "$CP_WORK/udp-count" 2>/dev/null)" = $queue_bound
check "traffic flows: cn pings mn" in_ns cn ping -6 -c 3 -i 0.2 -W 3 "$MN_LIN6"
kill $rx 2>/dev/null; wait $rx 2>/dev/null || true

# A longer outage: every round fails, the resolver gives up on that miss
# (counted), the kernel drops what waited when it times out, and the next
# packet after the MA is back resolves.
in_ns cn lin6ctl map del "$MN_ID"
in_ns rt ip link set rt-m1 down
failed=$(cp_resolvd_metric cn lin6resolvd_resolve_failed_total)
in_ns cn ping -6 -c 1 -W 1 "$MN_LIN6" > /dev/null 2>&1 || true
gave_up() { test "$(cp_resolvd_metric cn lin6resolvd_resolve_failed_total)" -gt "$failed"; }
check "with the MA away for long, the resolver gives up on the miss, counted" wait_for 15 gave_up
check "and the kernel dropped the waiting packet on its timeout" wait_for 5 bash -c \
  "test \$(ip netns exec cn lin6ctl -j stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"drop_queue_timeout\"])') -ge 1"
in_ns rt ip link set rt-m1 up
check "after the MA is back, the next packet resolves and flows" \
  wait_for 10 in_ns cn ping -6 -c 1 -W 2 "$MN_LIN6"

# No crash, no spin: both resolvers alive, and cn's used < 2 s of CPU in all.
for ns in mn cn; do
  check "lin6resolvd in $ns is alive" kill -0 "$(cat "$CP_WORK/resolvd-$ns/pid")"
done
used=$(( $(cpu_ticks cn) - cn_ticks ))
echo "cn's lin6resolvd used $used ticks of CPU ($(getconf CLK_TCK)/s) through both outages"
check "cn's lin6resolvd did not spin" test "$used" -lt $(( 2 * $(getconf CLK_TCK) ))

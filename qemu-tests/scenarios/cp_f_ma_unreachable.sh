# (cp f) The MA is unreachable when a miss happens (issue 4 §5f). The MN's
# MA (ma1) is cut off (its router drops all to it: netem loss 100%) when the CN first sends to the
# MN: the CN's kernel queues the first packets within its bound (16 per
# destination) and drops the rest (counted), lin6resolvd's MA Query times
# out and it retries in rounds with backoff; the link comes back within the
# kernel's miss timeout, the next round installs the mapping, the queued
# packets are sent, and traffic flows. Nothing crashes or spins: both
# resolvers are alive and used little CPU while the MA was away.
source "$LIN6_QEMU_TESTS/cp_lib.sh"
cp_topology
cp_control_plane
# Known to the kernel (lin6.ko's default miss_timeout_ms) and the resolver.
queue_bound=16

cpu_ticks() { awk '{print $14 + $15}' "/proc/$(cat "$CP_WORK/resolvd-$1/pid")/stat"; }
cn_ticks=$(cpu_ticks cn) cn_since=$SECONDS

# The receiver on mn counts datagrams and notes when the first arrived.
in_ns mn timeout 20 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 7006))
s.settimeout(15)
n = 0
try:
    while True:
        s.recv(100); n += 1
        if n == 1: open(sys.argv[2] + ".first", "w").write("%.6f" % time.time())
        open(sys.argv[2], "w").write(str(n))
except Exception:
    pass' "$MN_LIN6" "$CP_WORK/udp-count" &
rx=$!
sleep 1

# The MA comes back 1 s after the first packet was sent, whatever the speed
# of the checks (a guest under TCG on a loaded host is slow): a timer of its
# own, started by the sender's timestamp. The tc that brings it back is
# started beforehand and reads its command from a FIFO, because an exec can
# take seconds in a loaded guest and the kernel holds the packets for 3 s.
in_ns rt tc qdisc replace dev rt-m1 root netem loss 100%
mkfifo "$CP_WORK/tc-cmds"
in_ns rt tc -batch "$CP_WORK/tc-cmds" &
tc_batch=$!
exec 7> "$CP_WORK/tc-cmds"
# The timer waits with `read -t` on a FIFO nobody writes: no sleep to exec.
mkfifo "$CP_WORK/never"
(exec 8<> "$CP_WORK/never"
 until [ -s "$CP_WORK/sent" ]; do read -r -t 0.05 -u 8 || true; done
 read -r -t 1 -u 8 || true
 echo "qdisc del dev rt-m1 root" >&7; echo "$EPOCHREALTIME" > "$CP_WORK/ma-up") &
timer=$!
# 40 datagrams at once: 16 wait, 24 find the queue full.
in_ns cn python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
open(sys.argv[2], "w").write("%.6f" % time.time())
for i in range(40): s.sendto(b"x%d" % i, (sys.argv[1], 7006))' "$MN_LIN6" "$CP_WORK/sent"
wait $timer
exec 7>&-
wait $tc_batch
echo "ma1 back $(echo "($(cat "$CP_WORK/ma-up") - $(cat "$CP_WORK/sent")) * 1000 / 1" | bc) ms after the first packet"
installed() { in_ns cn lin6ctl map show "$MN_ID" > /dev/null 2>&1; }
check "the mapping arrives once the MA is back" wait_for 10 installed
check "cn's kernel raised a miss" test "$(lin6_stat cn misses)" -ge 1
check "cn queued the first $queue_bound packets" test "$(lin6_stat cn queued)" = $queue_bound
check "and dropped the other 24, counted" test "$(lin6_stat cn drop_queue_full)" = 24
check "the queued packets were sent" wait_for 5 stat_is cn sent_from_queue $queue_bound
check "none timed out" test "$(lin6_stat cn drop_queue_timeout)" = 0
check "cn's resolver retried: its first round got no answer" grep -q "round 1: no MA answered" "$CP_WORK/resolvd-cn.log"
got() { test "$(cat "$CP_WORK/udp-count" 2>/dev/null)" = $queue_bound; }
check "mn received the $queue_bound waiting datagrams" wait_for 5 got
first=$(cat "$CP_WORK/udp-count.first")
echo "first datagram at mn $(echo "($first - $(cat "$CP_WORK/sent")) * 1000 / 1" | bc) ms after it was sent"
check "none of them reached mn before the MA was back" \
  test "$(echo "$first > $(cat "$CP_WORK/ma-up") - 0.5" | bc)" = 1
check "traffic flows: cn pings mn" in_ns cn ping -6 -c 3 -i 0.2 -W 3 "$MN_LIN6"
kill $rx 2>/dev/null || true; wait $rx 2>/dev/null || true

# A longer outage: every round fails, the resolver gives up on that miss
# (counted), the kernel drops what waited when it times out, and the next
# packet after the MA is back resolves.
in_ns cn lin6ctl map del "$MN_ID"
in_ns rt tc qdisc replace dev rt-m1 root netem loss 100%
failed=$(cp_resolvd_metric cn lin6resolvd_resolve_failed_total)
in_ns cn ping -6 -c 1 -W 1 "$MN_LIN6" > /dev/null 2>&1 || true
gave_up() { test "$(cp_resolvd_metric cn lin6resolvd_resolve_failed_total)" -gt "$failed"; }
check "with the MA away for long, the resolver gives up on the miss, counted" wait_for 15 gave_up
timed_out() { test "$(lin6_stat cn drop_queue_timeout)" -ge 1; }
check "and the kernel dropped the waiting packet on its timeout" wait_for 5 timed_out
in_ns rt tc qdisc del dev rt-m1 root
check "after the MA is back, the next packet resolves and flows" \
  wait_for 15 in_ns cn ping -6 -c 1 -W 2 "$MN_LIN6"

# No crash, no spin: both resolvers alive, and cn's used under a quarter of
# one CPU over the outages (a spinning loop takes all of one; under TCG on
# a loaded host a fixed budget in seconds would measure the host instead).
for ns in mn cn; do
  check "lin6resolvd in $ns is alive" kill -0 "$(cat "$CP_WORK/resolvd-$ns/pid")"
done
used=$(( $(cpu_ticks cn) - cn_ticks ))
echo "cn's lin6resolvd used $used ticks of CPU ($(getconf CLK_TCK)/s) through both outages"
wall=$(( SECONDS - cn_since ))
echo "over $wall s of wall-clock time"
check "cn's lin6resolvd did not spin" test "$(( used * 4 ))" -lt $(( wall * $(getconf CLK_TCK) ))

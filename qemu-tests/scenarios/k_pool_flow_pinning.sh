# (k) Per-flow pinning for a load-sharing pool (issue 5 scenario a, the
# datapath's part, with static mappings): two servers s1 (2001:db8:b::/64)
# and s2 (2001:db8:c::/64) share one pool Node ID and LIN6 address; the
# client maps the pool to s1 with the pool flag and starts a TCP stream and
# a ping from it. The mapping moves to s2 mid-stream: a new connection
# reaches s2, while the running stream completes intact from s1 and the
# running ping (one echo identifier, one flow) is answered by s1 after the
# move; a new ping goes to s2, which ignores echo requests, so only
# s1 can have answered the first. The pinned flows show in the stats and
# the flag in `map show`. Without the pool flag a move takes a running
# ping's flow at once (its replies stop).
source "$LIN6_QEMU_TESTS/lib.sh"
POOL_ID=02:01:4a:00:00:00:00:63 POOL_IID=201:4a00:0:63
POOL_LIN6=$LIN6_PREFIX:$POOL_IID
work=$(mktemp -d)
# The files the servers stream, made while the network is set up.
{ random_file 8000000 "$work/s1-file" && random_file 200000 "$work/s2-file"; } &
make_files=$!
net_begin
router rt; host mn; host s1; host s2
link mn eth0 rt rt-a
link s1 eth0 rt rt-b
link s2 eth0 rt rt-c
for net in a b c; do nsip rt addr add 2001:db8:$net::1/64 dev rt-$net nodad; done
lin6_node mn "$MN1_ID" "$MN1_IID" 2001:db8:a: 2001:db8:a::1
lin6_node s1 "$POOL_ID" "$POOL_IID" 2001:db8:b: 2001:db8:b::1
lin6_node s2 "$POOL_ID" "$POOL_IID" 2001:db8:c: 2001:db8:c::1
net_commit
in_ns s1 lin6ctl map add "$MN1_ID" 2001:db8:a::/64 --static
in_ns s2 lin6ctl map add "$MN1_ID" 2001:db8:a::/64 --static
in_ns s2 sysctl -qw net.ipv6.icmp.echo_ignore_all=1
# The servers' streams reach the client at 20 Mbit/s (a short queue keeps
# pings timely), so a stream of 8 MB runs for seconds.
tc -n rt qdisc add dev rt-a root netem rate 20mbit limit 100
wait $make_files || fail "the servers' files were not made"
# serve NS: NS streams its file to each connection to the pool, two at a
# time, until the scenario ends. Background processes write to files, not
# to the harness's pipe, which a failed scenario would otherwise leave open.
serve() {
  in_ns "$1" timeout 300 socat -u OPEN:"$work/$1-file" \
    TCP6-LISTEN:5005,bind=[$POOL_LIN6],reuseaddr,fork,max-children=2 > "$work/$1.log" 2>&1 &
}
serve s1; s1=$!
serve s2; s2=$!
sleep 0.5

in_ns mn lin6ctl map add "$POOL_ID" 2001:db8:b::/64 --static --pool
check "map show marks the pool" bash -c "lin6ctl -n mn map show | grep -q ' pool$'"
check "and so does its JSON" bash -c "lin6ctl -n mn -j map show $POOL_ID | jq -e '.[0].pool'"
in_ns mn timeout 60 socat -u TCP6:[$POOL_LIN6]:5005 OPEN:"$work/recv1",creat,trunc 2> "$work/stream.log" &
stream=$!
in_ns mn ping -6 -c 25 -i 0.2 "$POOL_LIN6" > "$work/ping-pinned" 2>&1 &
ping=$!
check "the stream from s1 started" wait_for 30 test -s "$work/recv1"
check "the pool moves to s2 while the stream runs" kill -0 $stream
in_ns mn lin6ctl map add "$POOL_ID" 2001:db8:c::/64 --static --pool
check "and the ping runs" kill -0 $ping
check "a new connection reaches s2" bash -c "ip netns exec mn timeout 30 socat -u TCP6:[$POOL_LIN6]:5005 - | cmp -s - $work/s2-file"
check "a new ping goes to s2 (which ignores it)" bash -c "! ip netns exec mn ping -6 -c 1 -W 1 $POOL_LIN6 >/dev/null"
wait $ping || true
grep -E 'transmitted|rtt' "$work/ping-pinned" || true
# Most of its 25 requests went after the move: had the flow moved, they
# would all be lost. The queue behind the stream may drop a reply or two.
received=$(grep -Eo '[0-9]+ received' "$work/ping-pinned" | cut -d' ' -f1)
check "the running ping was answered after the move (by s1): $received of 25" test "${received:-0}" -ge 20
wait $stream
check "the running stream completed intact from s1" cmp -s "$work/recv1" "$work/s1-file"
# The stream, the ping, the connection to s2 and the new ping.
check "4 flows were pinned" stat_is mn flows_pinned 4
check "none evicted" stat_is mn flow_evictions 0

# Without the pool flag (the flows are forgotten), a running flow moves
# with the mapping: the ping's requests go to s2 from then on.
in_ns mn lin6ctl map add "$POOL_ID" 2001:db8:b::/64 --static
check "map show drops the mark" bash -c "! lin6ctl -n mn map show | grep -q pool"
in_ns mn ping -6 -c 15 -i 0.2 "$POOL_LIN6" > "$work/ping-moved" 2>&1 &
ping=$!
check "s1 answers the ping" wait_for 20 grep -q 'bytes from' "$work/ping-moved"
in_ns mn lin6ctl map add "$POOL_ID" 2001:db8:c::/64 --static
check "the ping runs when the mapping moves" kill -0 $ping
wait $ping || true
grep -E 'transmitted' "$work/ping-moved" || true
check "its replies stopped: the flow moved at once" bash -c \
  "grep -Eq 'transmitted, ([1-9]|1[0-4]) received' $work/ping-moved"
check "no flow was pinned" stat_is mn flows_pinned 4

kill $s1 $s2 2>/dev/null || true; wait $s1 $s2 2>/dev/null || true
rm -rf "$work"

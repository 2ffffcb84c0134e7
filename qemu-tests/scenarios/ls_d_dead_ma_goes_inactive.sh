# (ls d, first part) An LS and two MAs in separate namespaces, over the
# real LS protocol: both MAs heartbeat and are active; one MA is killed and
# within the heartbeat timeout the LS marks it inactive (not deleted) while
# the other stays active; an operator drain shows in `lin6ctl ls status`.
# (Cached answers going with the MA, and no user being sent to it, need a
# user's LSS_MA_REQUEST: the lsd tests on the host show those; the guest
# version waits for lin6resolvd to ask an LS.)
source "$LIN6_QEMU_TESTS/lib.sh"
KEY=00112233445566778899aabbccddeeff
router rt; host ls1; host s1; host s2
link ls1 eth0 rt rt-l
link s1 eth0 rt rt-1
link s2 eth0 rt rt-2
in_ns rt ip -6 addr add 2001:db8:10::1/64 dev rt-l nodad
in_ns rt ip -6 addr add 2001:db8:1::1/64 dev rt-1 nodad
in_ns rt ip -6 addr add 2001:db8:2::1/64 dev rt-2 nodad
for n in ls1:10 s1:1 s2:2; do
  ns=${n%%:*} net=${n##*:}
  in_ns "$ns" ip -6 addr add "2001:db8:$net::10/64" dev eth0 nodad
  in_ns "$ns" ip -6 route add default via "2001:db8:$net::1"
done
work=$(mktemp -d)
# The daemons' logs, whatever happens.
trap 'for f in "$work"/*.log; do echo "--- $f"; tail -n 15 "$f"; done; rm -rf "$work"' EXIT
cat > "$work/lsd.yaml" <<YAML
listen: "[::]:7310"
peer_listen: "[::]:7311"
peers: []
cluster_key: { id: 1, secret_hex: "$KEY" }
metrics_listen: "[::1]:9731"
ma_table:
  capacity: 64
  heartbeat_timeout_ms: 3000
subscribers:
  "02:01:4a:00:00:00:00:01": premium
YAML
for s in s1 s2; do
  cat > "$work/$s.yaml" <<YAML
registration_listen: "[::]:7300"
query_listen: "[::]:7301"
database:
  url: "sqlite://$work/$s.db"
ls:
  servers: ["[2001:db8:10::10]:7310"]
  cluster_key: { id: 1, secret_hex: "$KEY" }
  ma_addr: "2001:db8:${s#s}::10"
  heartbeat_interval_ms: 500
  failover_after_ms: 5000
  capacity_kbps: 100000
YAML
done
in_ns ls1 lsd --config "$work/lsd.yaml" > "$work/lsd.log" 2>&1 &
in_ns s1 lin6agentd --config "$work/s1.yaml" > "$work/s1.log" 2>&1 &
in_ns s2 lin6agentd --config "$work/s2.yaml" > "$work/s2.log" 2>&1 &
s2_pid=$!

state() { in_ns ls1 lin6ctl -j ls status 2>/dev/null || echo '{"mas": []}'; }
ma_active() {  # ma_active ADDR true|false
  state | python3 -c "
import json, sys
mas = {m['addr']: m for m in json.load(sys.stdin)['mas']}
sys.exit(0 if sys.argv[1] in mas and mas[sys.argv[1]]['active'] == (sys.argv[2] == 'true') else 1)
" "$1" "$2"
}
both_active() { ma_active 2001:db8:1::10 true && ma_active 2001:db8:2::10 true; }
check "both MAs heartbeat and are active" wait_for 60 both_active
in_ns ls1 lin6ctl ls status

# s2's agent dies, with no chance to say goodbye (its process, found by
# the namespace it runs in).
kill -9 "$(ip netns pids s2 | head -1)" 2>/dev/null || kill -9 $s2_pid
start=$SECONDS
check "the dead MA is marked inactive" wait_for 30 ma_active 2001:db8:2::10 false
echo "marked inactive after ~$((SECONDS - start)) s (heartbeat timeout 3 s)"
check "and kept in the table, not deleted" bash -c "ip netns exec ls1 lin6ctl -j ls status | grep -q '2001:db8:2::10'"
check "the live MA stays active" ma_active 2001:db8:1::10 true

check "an operator drains the live MA" in_ns ls1 lin6ctl ls drain 2001:db8:1::10
in_ns ls1 lin6ctl ls status
check "status shows it drained" bash -c "ip netns exec ls1 lin6ctl ls status | grep 2001:db8:1::10 | grep -q drain"

# (cp d) Restart (issue 4 §5d). Killing lin6agentd (SIGKILL) and starting it
# again keeps its mappings (SQLite): a miss after the restart is answered
# from them. Killing lin6resolvd (SIGKILL) and starting it again makes it
# register again (not refused as a replay), and the node stays reachable by
# its LIN6 address for new and established connections. Last, lin6.ko
# itself is reloaded under the running resolvers: they set their nodes up
# again (Node ID, locator, LIN6 address on the fresh linsix0, events) and
# the nodes reach each other again through new misses.
source "$LIN6_QEMU_TESTS/cp_lib.sh"
cp_topology
cp_control_plane
check "cn reaches mn" in_ns cn ping -6 -c 2 -i 0.2 -W 3 "$MN_LIN6"

# A TCP stream runs from cn to mn through both restarts.
random_file 3000000 "$CP_WORK/file"
in_ns mn timeout 120 socat -u TCP6-LISTEN:5004,bind=[$MN_LIN6],reuseaddr OPEN:"$CP_WORK/recv",creat,trunc &
server=$!
sleep 0.5
# ~30 s at 100 KB/s: a pipe throttled by pv-less shell (dd in blocks).
in_ns cn timeout 120 bash -c "for i in \$(seq 0 29); do dd if=$CP_WORK/file bs=100000 skip=\$i count=1 status=none; sleep 0.5; done \
  | socat -u - TCP6:[$MN_LIN6]:5004" &
client=$!

# 1. lin6agentd: SIGKILL, restart, its mappings are still there.
sleep 1
check "ma1 holds mn's mapping before" test "$(cp_agent_maps ma1 ma1 "$MN_ID")" = 2001:db8:a::/64
pid=$(cat "$CP_WORK/ma1/pid")
cp_kill ma1 KILL
check "ma1 is gone" test ! -e "/proc/$pid"
cp_agent_run ma1 ma1
check "after the restart ma1 still holds mn's mapping" test "$(cp_agent_maps ma1 ma1 "$MN_ID")" = 2001:db8:a::/64
check "the restarted ma1 loaded it into its cache" \
  test "$(cp_agent_metric ma1 lin6agentd_cache_entries)" -ge 1
# A fresh miss at cn (its table flushed) is answered by the restarted MA.
in_ns cn lin6ctl map del "$MN_ID"
check "cn reaches mn again through a new MISS -> MA Query" in_ns cn ping -6 -c 2 -i 0.2 -W 3 "$MN_LIN6"
check "answered by the restarted ma1 from what it kept" \
  test "$(cp_agent_metric ma1 lin6agentd_queries_total 'result="found"')" -ge 1
check "cn maps mn again" test "$(cp_map cn "$MN_ID" | cut -d' ' -f1)" = 2001:db8:a::/64

# 2. lin6resolvd on mn: SIGKILL, restart: it registers again.
cp_kill resolvd-mn KILL
accepted=$(cp_agent_metric ma1 lin6agentd_registrations_accepted_total)
cp_resolvd_run mn
# Accepted, so its sequence numbers are newer than the killed one's: a
# restart that reused old ones would be refused as replays, every time.
# (One refusal may still show: in a loaded guest the resolver's first
# request can outlive its retransmission timer, and when the newer
# retransmission commits first the older is a replay, rightly refused.)
check "the restarted resolver registered (ma1 accepted one more)" \
  test "$(cp_agent_metric ma1 lin6agentd_registrations_accepted_total)" -gt "$accepted"
check "and ma1 holds mn's mapping from it" test "$(cp_agent_maps ma1 ma1 "$MN_ID")" = 2001:db8:a::/64
check "mn's LIN6 address is still on linsix0" bash -c \
  "ip netns exec mn ip -6 addr show dev linsix0 | grep -q '$MN_LIN6/64'"
in_ns cn lin6ctl map del "$MN_ID"
check "mn stays reachable (new miss at cn)" in_ns cn ping -6 -c 2 -i 0.2 -W 3 "$MN_LIN6"
check "mn reaches cn" in_ns mn ping -6 -c 2 -i 0.2 -W 3 "$CN_LIN6"

wait $client; wait $server
check "the stream across both restarts arrived intact" \
  test "$(cp_sha "$CP_WORK/recv")" = "$(cp_sha "$CP_WORK/file")"
check "no static mapping on cn" cp_no_static cn
check "no static mapping on mn" cp_no_static mn

# 3. lin6.ko reloaded under the running resolvers.
rmmod lin6
insmod "$LIN6_KO"
lin6_back() {
  in_ns "$1" ip -6 addr show dev linsix0 2>/dev/null | grep -q "$2/64" &&
    in_ns "$1" lin6ctl -j node show | grep -q '"locator":"2001:db8'
}
check "mn's resolver set its node up again on the new module" wait_for 15 lin6_back mn "$MN_LIN6"
check "cn's resolver set its node up again on the new module" wait_for 15 lin6_back cn "$CN_LIN6"
check "cn reaches mn after the reload (MISS -> MA again)" wait_for 10 in_ns cn ping -6 -c 1 -W 2 "$MN_LIN6"
check "the events group was joined again (cn resolved after the reload)" \
  test "$(cp_map cn "$MN_ID" | cut -d' ' -f1)" = 2001:db8:a::/64

# (cp e) Plain IPv6 and stationary nodes still talk to LIN6 nodes' ordinary
# addresses (issue 4 §5e), with the whole control plane running: a plain
# host (no lin6 anywhere in its namespace's config) and a stationary node
# (Node ID 00:01:4a:..., which lin6 never translates) exchange ping, UDP and
# TCP with the MN's ordinary address (its locator) both ways, while MN and
# CN talk LIN6. The plain traffic moves no lin6 counter on the MN and starts
# no resolution.
source "$LIN6_QEMU_TESTS/cp_lib.sh"
net_begin
cp_topology
host pl; host st
link pl eth0 rt rt-p
link st eth0 rt rt-s
cp_addr rt rt-p 2001:db8:c::1/64
cp_addr rt rt-s 2001:db8:d::1/64
PL=2001:db8:c::5
ST=2001:db8:d::1:4a00:0:10     # stationary: interface ID from 00:01:4a:00:00:00:00:10
cp_addr pl eth0 $PL/64 2001:db8:c::1
cp_addr st eth0 $ST/64 2001:db8:d::1
net_commit
cp_control_plane
MN_PLAIN=2001:db8:a::$MN_IID
check "LIN6 first: cn reaches mn by LIN6 address" in_ns cn ping -6 -c 2 -i 0.2 -W 3 "$MN_LIN6"

stats() { in_ns mn lin6ctl -j stats | jq -r '"\(.translated_out) \(.translated_in) \(.misses) \(.queued)"'; }
before=$(stats)
resolved=$(cp_resolvd_metric mn lin6resolvd_resolved_total)

random_file 2000000 "$CP_WORK/file"
for peer in pl st; do
  addr=$PL; [ $peer = st ] && addr=$ST
  check "$peer pings mn's ordinary address" in_ns $peer ping -6 -c 2 -i 0.2 -W 3 $MN_PLAIN
  check "mn pings $peer" in_ns mn ping -6 -c 2 -i 0.2 -W 3 $addr
  # TCP to mn's ordinary address, and from mn to the peer.
  in_ns mn timeout 30 socat -u TCP6-LISTEN:5005,bind=[$MN_PLAIN],reuseaddr OPEN:"$CP_WORK/in-$peer",creat,trunc &
  srv=$!; sleep 0.5
  in_ns $peer timeout 30 socat -u OPEN:"$CP_WORK/file" TCP6:[$MN_PLAIN]:5005
  wait $srv
  check "TCP $peer -> mn intact" test "$(cp_sha "$CP_WORK/in-$peer")" = "$(cp_sha "$CP_WORK/file")"
  in_ns $peer timeout 30 socat -u TCP6-LISTEN:5006,bind=[$addr],reuseaddr OPEN:"$CP_WORK/out-$peer",creat,trunc &
  srv=$!; sleep 0.5
  in_ns mn timeout 30 socat -u OPEN:"$CP_WORK/file" TCP6:[$addr]:5006
  wait $srv
  check "TCP mn -> $peer intact" test "$(cp_sha "$CP_WORK/out-$peer")" = "$(cp_sha "$CP_WORK/file")"
  check "UDP $peer -> mn" bash -c "
    ip netns exec mn timeout 5 socat -u UDP6-RECV:7005,bind=[$MN_PLAIN] OPEN:$CP_WORK/udp-$peer,creat &
    sleep 0.5
    echo plain-udp | ip netns exec $peer socat -u - UDP6-SENDTO:[$MN_PLAIN]:7005
    sleep 0.5; grep -q plain-udp $CP_WORK/udp-$peer"
done
# And the stationary node is no LIN6 node to mn: mn sends it untranslated
# even though its interface ID carries the OUI.
check "no lin6 counter moved on mn (out, in, misses, queued: $before)" test "$(stats)" = "$before"
check "mn's resolver resolved nothing for them" test "$(cp_resolvd_metric mn lin6resolvd_resolved_total)" = "$resolved"
check "LIN6 still works alongside: cn -> mn" in_ns cn ping -6 -c 2 -i 0.2 -W 3 "$MN_LIN6"
check "no static mapping on mn" cp_no_static mn

# (cp a) Bootstrap by name (issue 4 §5a): MN and CN, each with lin6resolvd;
# their MAs (lin6agentd, one each); Knot DNS serving what `lin6ctl dns
# records` made. The CN connects to the MN by name (getaddrinfo returns the
# MN's LIN6 address) with no static mapping anywhere: the kernel tables fill
# through MISS -> DNS (TXT at the reverse name) -> MA Query.
source "$LIN6_QEMU_TESTS/cp_lib.sh"
net_begin
cp_topology
net_commit
cp_control_plane

# Each resolver set its node up: identity, locator, LIN6 address on linsix0.
check "mn's kernel knows its node ID and locator" bash -c \
  "ip netns exec mn lin6ctl -j node show | grep -q '\"locator\":\"2001:db8:a:0:$MN_IID\"'"
check "mn's LIN6 address is on linsix0" bash -c \
  "ip netns exec mn ip -6 addr show dev linsix0 | grep -q '$MN_LIN6/64'"
check "cn's LIN6 address is on linsix0" bash -c \
  "ip netns exec cn ip -6 addr show dev linsix0 | grep -q '$CN_LIN6/64'"
check "ma1 holds mn's locator prefix" test "$(cp_agent_maps ma1 ma1 "$MN_ID")" = 2001:db8:a::/64
check "ma2 holds cn's locator prefix" test "$(cp_agent_maps ma2 ma2 "$CN_ID")" = 2001:db8:b::/64
check "cn's table is empty before" test "$(in_ns cn lin6ctl -j map show)" = "[]"
check "mn's table is empty before" test "$(in_ns mn lin6ctl -j map show)" = "[]"

# getaddrinfo on the CN gives the MN's LIN6 address.
got=$(cp_in_dns_ns cn getent ahostsv6 $MN_NAME | awk 'NR == 1 {print $1}')
check "getaddrinfo($MN_NAME) = $MN_LIN6 (got $got)" test "$got" = "$MN_LIN6"

# A TCP transfer by name: the CN's first SYN misses, waits in the queue,
# lin6resolvd resolves it, the SYN goes out. The MN's kernel sees a packet
# from an unknown source (a miss, reason unknown-source) and asks the CN's MA.
random_file 4000000 "$CP_WORK/file"
in_ns mn timeout 60 socat -u TCP6-LISTEN:5001,bind=[$MN_LIN6],reuseaddr OPEN:"$CP_WORK/recv",creat,trunc &
server=$!
sleep 0.5
start=$(date +%s%N)
cp_in_dns_ns cn timeout 60 socat -u OPEN:"$CP_WORK/file" TCP6:$MN_NAME:5001,connect-timeout=10
echo "connect by name + 4 MB transfer: $(( ($(date +%s%N) - start) / 1000000 )) ms"
wait $server
check "the transfer by name arrived intact" test "$(cp_sha "$CP_WORK/recv")" = "$(cp_sha "$CP_WORK/file")"
check "ping mn by name from cn" cp_in_dns_ns cn ping -6 -c 2 -i 0.2 -W 2 $MN_NAME

# How the tables filled: misses, the resolvers' DNS lookups and installs.
check "cn's kernel raised a miss" test "$(lin6_stat cn misses)" -ge 1
check "cn's kernel queued the first packet" test "$(lin6_stat cn queued)" -ge 1
check "cn's kernel sent it from the queue" test "$(lin6_stat cn sent_from_queue)" -ge 1
read -r pfx static life <<<"$(cp_map cn "$MN_ID")"
check "cn maps mn to 2001:db8:a::/64 (got '$pfx')" test "$pfx" = 2001:db8:a::/64
check "cn's mapping of mn is not static, has a lifetime ($life s)" \
  bash -c "test '$static' = False && test '$life' -gt 0"
read -r pfx static life <<<"$(cp_map mn "$CN_ID")"
check "mn maps cn to 2001:db8:b::/64 (got '$pfx')" test "$pfx" = 2001:db8:b::/64
check "mn's mapping of cn is not static" test "$static" = False
check "cn's resolver looked its peer's MA up in DNS" test "$(cp_resolvd_metric cn lin6resolvd_dns_lookups_total)" -ge 1
check "cn's resolver installed a mapping" test "$(cp_resolvd_metric cn lin6resolvd_resolved_total)" -ge 1
check "mn's resolver installed a mapping" test "$(cp_resolvd_metric mn lin6resolvd_resolved_total)" -ge 1
check "ma1 answered a query with a mapping" test "$(cp_agent_metric ma1 lin6agentd_queries_total 'result="found"')" -ge 1
check "ma2 answered a query with a mapping" test "$(cp_agent_metric ma2 lin6agentd_queries_total 'result="found"')" -ge 1
check "no static mapping on cn" cp_no_static cn
check "no static mapping on mn" cp_no_static mn

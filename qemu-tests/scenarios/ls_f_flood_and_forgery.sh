# (ls f) Abuse (issue 5 section 7 f), on the shared pool topology (2 sites,
# 1 LS): user 1 (network 1) resolves the pool as usual. A subscriber's
# host on network 2 that drops every echo request (so no decision succeeds
# and none is cached: each request of the flood could start a new round of
# probes) floods the LS with LSS_MA_REQUEST from its one prefix; the RTT
# requests the MAs received, and the echo requests that reached the
# flooder, stay within the LS's overall probe limit (rate 1/s, burst 2:
# one token per RTT request), and the LS counts what it refused. Then
# forged LS messages (heartbeats under a wrong key, an unknown key ID and
# none; peer updates from a non-peer with a wrong key; an assignment and
# an RTT request to an MA's control socket with a wrong key) change
# neither the LS's tables nor the MA's users, and each is counted.
source "$LIN6_QEMU_TESTS/ls_lib.sh"
LS_LSD_EXTRA='rate_limits:
  requests_per_prefix: { rate_per_s: 10000, burst: 10000 }
  decisions_per_prefix: { rate_per_s: 10000, burst: 10000 }
  probes_total: { rate_per_s: 1, burst: 2 }'
ls_topology 2 2 1
ls_user 1 1 normal
ls_user 9 2 normal bare
ls_start
in_ns u9 nft -f - <<'EOF'
table ip6 flooder {
  chain input {
    type filter hook input priority 0;
    icmpv6 type echo-request counter drop
  }
}
EOF

check "user 1 reaches the pool" ls_resolve 1
check "and is served by site 1" ls_site_is 1 1

rtt_requests() { echo $(($(cp_agent_metric s1 lin6agentd_ls_rtt_requests_total) + $(cp_agent_metric s2 lin6agentd_ls_rtt_requests_total))); }
before=$(rtt_requests)
refused=$(ls_metric 1 lsd_dropped_total 'reason="rate_limited"')
t0=$EPOCHREALTIME
flood=$(in_ns u9 python3 "$LIN6_QEMU_TESTS/ls_packets.py" flood --ls "$(ls_ls 1)" \
  --node-id "$(ls_user_id 9)" --pool "$POOL_LIN6" --count 600 --seconds 60)
echo "flood: $flood"
# Probes still under way when the flood ended are answered within
# probe_timeout_ms; the MAs count a request when it arrives.
sleep 1
asked=$(($(rtt_requests) - before))
secs=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000000 + 1))
limit=$((2 + secs))
echoes=$(in_ns u9 nft -j list ruleset | jq '[.nftables[] | .rule? | select(.) | .expr[] | .counter? | select(.) | .packets] | add')
echo "RTT requests at the MAs during the flood: $asked (limit over ${secs} s: $limit); echo requests at the flooder: $echoes"
check "the flood was large (600 requests)" test "$(jq .sent <<<"$flood")" -ge 600
check "it caused some probes (the limit, not silence, bounds them)" test "$asked" -ge 1
check "RTT requests stay within the probe limit" test "$asked" -le "$limit"
check "echo requests at the flooder: at most 4 per RTT request" test "$echoes" -le $((4 * asked))
check "the LS refused the rest as rate limited, and counted them" \
  test "$(ls_metric 1 lsd_dropped_total 'reason="rate_limited"')" -gt "$refused"
check "the flooder was told so (code 3)" jq -e '.replies["3"] > 0' <<<"$flood"
check "user 1's answer is still cached" test "$(ls_answer 1 1)" = "$(ls_ma 1)"

# What the forgeries aim at: the set of MAs (a made-up MA, the real one
# marked inactive by a fake peer) and the answers (a made-up one). Counts
# and timers move on their own, and a starved guest's MAs may even flap.
mas() { ls_state 1 | jq -c '[.mas[].addr] | sort'; }
no_forged_answer() { ls_state 1 | jq -e 'all(.answers[]; .ma != "2001:db8:666::1" and (.prefix | startswith("2001:db8:666:") | not))' > /dev/null; }
tables=$(mas)
users=$(ls_ma_status 1 | jq -c '[.users[].node_id]')
# (One read of the LS's metrics for the four reasons.)
forged_drops() {
  cp_metrics ls1 9731 | awk '$1 ~ /^lsd_dropped_total\{/ && $1 ~ /reason="(malformed|unknown_key|bad_tag|unknown_peer)"/ { s += $2 }
    END { printf "%d\n", s }'
}
ls_drops=$(forged_drops)
ma_drops=$(cp_agent_metric s1 lin6agentd_ls_dropped_total)
control=$(ls_state 1 | jq -r --arg a "$(ls_ma 1)" '.mas[] | select(.addr == $a) | .control')
forged=$(in_ns u9 python3 "$LIN6_QEMU_TESTS/ls_packets.py" forge --ls "$(ls_ls 1)" \
  --ma-control "$control" --ma "$(ls_ma 1)" --user "$(ls_user_id 9)")
echo "forged: $forged"
ls_counted() { test "$(forged_drops)" -eq $((ls_drops + $(jq .to_ls <<<"$forged"))); }
ma_counted() { test "$(cp_agent_metric s1 lin6agentd_ls_dropped_total)" -eq $((ma_drops + $(jq .to_ma <<<"$forged"))); }
check "the LS dropped and counted each forged message" wait_for 10 ls_counted
check "the MA dropped and counted each forged message" wait_for 10 ma_counted
check "the LS's MA table holds the same MAs" test "$(mas)" = "$tables"
check "and no forged answer" no_forged_answer
check "the real MA was not marked inactive by the forged peer update" ls_ma_is 1 1 true
check "the MA's users are unchanged" test "$(ls_ma_status 1 | jq -c '[.users[].node_id]')" = "$users"
cp_metrics ls1 9731 | grep '^lsd_dropped_total'

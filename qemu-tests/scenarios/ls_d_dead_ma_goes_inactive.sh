# (ls d) An MA dies (issue 5 section 7 d), on the shared pool topology
# (ls_lib.sh: 2 sites, 1 user network nearest to site 1, 1 LS, 2 users):
# user 1 resolves the pool through the LS and gets site 1, the LS caching
# that answer for its network; MA 1 is killed (-9): within the heartbeat
# timeout the LS marks it inactive (kept in the table, not deleted) and
# drops the cached answer that pointed to it, MA 2 stays active; user 2 on
# the same network then asks and is sent to site 2, and MA 1 gets no new
# user. An operator drain of MA 2 shows in `lin6ctl ls status`.
source "$LIN6_QEMU_TESTS/ls_lib.sh"
ls_topology 2 1 1
ls_user 1 1 normal
ls_user 2 1 normal
ls_start
check "both MAs heartbeat and are active" ls_ma_is 1 2 true

check "user 1 reaches the pool" ls_resolve 1
check "user 1 is served by its nearest site, 1" ls_site_is 1 1
check "the LS caches site 1 for user 1's network" test "$(ls_answer 1 1)" = "$(ls_ma 1)"
in_ns ls1 lin6ctl ls status
# MA 1's users as the LS counts them (user 1), to see no new one added.
ma1_users() { ls_state 1 | jq -c --arg a "$(ls_ma 1)" '.mas[] | select(.addr == $a) | [.normal, .premium]'; }
before=$(ma1_users)

cp_kill ma1 KILL
start=$SECONDS
check "the dead MA is marked inactive" wait_for 30 ls_ma_is 1 1 false
echo "marked inactive after ~$((SECONDS - start)) s (heartbeat timeout $LS_HB_TIMEOUT_MS ms)"
check "its cached answer is gone" test -z "$(ls_answer 1 1)"
check "the MA stays in the table" bash -c "ip netns exec ls1 lin6ctl -j ls status | grep -q '$(ls_ma 1)'"
check "the live MA stays active" ls_ma_is 1 2 true

check "user 2 on the same network reaches the pool" ls_resolve 2
check "and is served by the live site, 2" ls_site_is 2 2
check "the LS now caches site 2 for that network" test "$(ls_answer 1 1)" = "$(ls_ma 2)"
check "MA 2 was told user 2 is coming" bash -c "ip netns exec s2 curl -sSf -g 'http://[::1]:9301/ls' | jq -e '.users | any(.node_id == \"$(ls_user_id 2)\")' > /dev/null"
check "and the dead MA got no new user ($before normal, premium)" test "$(ma1_users)" = "$before"
in_ns ls1 lin6ctl ls status

check "an operator drains the live MA" in_ns ls1 lin6ctl ls drain "$(ls_ma 2)"
check "status shows it drained" bash -c "ip netns exec ls1 lin6ctl ls status | grep '$(ls_ma 2)' | grep -q drain"

# (ls b) A site full for premium but not for normal (issue 5 section 7 b).
# Two sites; both user networks are nearest to site 1 (site 2 is 100 ms
# further from each). Site 1's server reports 3000 kbit/s of capacity, so
# with lsd's defaults (Th_load 0.9, normal 500, premium 2000 kbit/s) one
# premium user fills it for premium (2000 + 2000 > 0.9 x 3000) and leaves
# room for normal (2000 + 500 <= 2700). That user is real: premium user 1
# resolves the pool and is sent to site 1, whose MA counts it. Then
# premium user 2 on the same network is sent past its nearest site to
# site 2, and normal user 3, on the other network (a fresh decision, not
# the cached answer of network 1), still gets site 1.
source "$LIN6_QEMU_TESTS/ls_lib.sh"
LS_CAPACITY[1]=3000
ls_topology 2 2 1
ls_delay 2 1 0
ls_delay 2 2 100
ls_user 1 1 premium
ls_user 2 1 premium
ls_user 3 2 normal
ls_start

check "premium user 1 reaches the pool" ls_resolve 1
check "and is served by its nearest site, 1" ls_site_is 1 1
premium_at_ma1() {
  ls_state 1 | jq -e --arg a "$(ls_ma 1)" 'any(.mas[]; .addr == $a and .premium == 1 and .load_ppm > 600000)' > /dev/null
}
check "the LS counts one premium user on site 1 (load index 2/3)" premium_at_ma1
in_ns ls1 lin6ctl ls status

check "premium user 2 reaches the pool" ls_resolve 2
check "and is served by site 2: site 1 has no room for premium" ls_site_is 2 2
check "normal user 3 reaches the pool" ls_resolve 3
check "and is served by site 1, its nearest, which has room for normal" ls_site_is 3 1
check "site 1's MA was assigned users 1 and 3, site 2's user 2" bash -c "
  ip netns exec s1 curl -sSf -g 'http://[::1]:9301/ls' | jq -e '[.users[].node_id] | sort == [\"$(ls_user_id 1)\", \"$(ls_user_id 3)\"]' > /dev/null &&
  ip netns exec s2 curl -sSf -g 'http://[::1]:9301/ls' | jq -e '[.users[].node_id] == [\"$(ls_user_id 2)\"]' > /dev/null"
in_ns ls1 lin6ctl ls status

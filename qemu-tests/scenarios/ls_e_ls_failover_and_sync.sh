# (ls e) LS failover and sync (issue 5 section 7 e), on the shared pool
# topology with two LS peers (the pool's TXT lists LS 1 first) and two
# sites. Both MAs, which find the LSs only through DNS, heartbeat LS 1,
# which relays them to LS 2. User 1 streams a media file from site 1's
# nginx through the pool address; LS 1 is killed (-9) mid-stream. Both MAs
# fail over to LS 2; user 2, new, asks LS 1 in vain, then LS 2, and is
# answered. LS 1 restarts while the stream goes on, asks LS 2 for its
# tables (LSS_SYNC_REQUEST) and then holds the same MA table and answer
# cache as LS 2, though it decided nothing itself. User 1's stream, never
# interrupted, arrives intact from the same site.
source "$LIN6_QEMU_TESTS/ls_lib.sh"
# User network 1's answer, decided by LS 1 before it dies, must outlive
# the failover, the stream and the restart to be compared after the sync.
LS_LSD_EXTRA="answers: { ttl_s: 600 }"
ls_topology 2 1 2
ls_user 1 1 normal
ls_user 2 1 normal
ls_start
# 5 MB at 1.1 Mbit/s: a stream of ~38 s, which must still be running when
# LS 1 dies and through the failover (~8 s), and in CI's runs lasts through
# the restart and the sync too (~30 s after it starts). The network paces it (an HTB class
# on rt's port to user 1): curl's --limit-rate 100k did not, in the guest
# it fetched the 5 MB in 2.8 s by its own timing.
LS_MEDIA_MB=5 ls_media
ls_nginx 1

current_ls_is() {  # current_ls_is SITE K: MA SITE heartbeats LS K, which acknowledges
  ls_ma_status "$1" | jq -e --arg ls "[$(ls_ls "$2")]:7310" '.current_ls == $ls and .acknowledged' > /dev/null
}
both_heartbeat() { current_ls_is 1 "$1" && current_ls_is 2 "$1"; }
both_active_at() { ls_ma_is "$1" 1 true && ls_ma_is "$1" 2 true; }
check "both MAs heartbeat LS 1, the first the pool's TXT lists" wait_for 30 both_heartbeat 1
check "LS 2 holds both as active (relayed by LS 1)" wait_for 20 both_active_at 2

check "user 1 reaches the pool" ls_resolve 1
check "and is served by site 1" ls_site_is 1 1
tc -n rt -b - <<EOF
qdisc add dev rt-u1 root handle 1: htb default 1
class add dev rt-u1 parent 1: classid 1:1 htb rate 1100kbit
EOF
# The stream's end time (bash's clock, no exec) and curl's own figures, so
# that "still running at the failover" is read from when it ended.
(
  in_ns u1 curl -sS -o "$CP_WORK/got.bin" -g "http://[$POOL_LIN6]/media.bin" \
    -w '%{size_download} B in %{time_total} s, %{speed_download} B/s\n' > "$CP_WORK/curl.out"
  rc=$?
  echo "$EPOCHREALTIME" > "$CP_WORK/stream.end"
  exit $rc
) &
stream=$!
got_some() { test -s "$CP_WORK/got.bin"; }
check "user 1's stream from site 1 is flowing" wait_for 30 got_some

ls_lsd_kill 1
start=$SECONDS
check "user 1's stream was running when LS 1 died" kill -0 $stream
check "both MAs fail over to LS 2" wait_for 30 both_heartbeat 2
failover_at=$EPOCHREALTIME
echo "MAs on LS 2 ~$((SECONDS - start)) s after LS 1 died (failover_after 2.5 s)"
check "LS 2 holds both MAs active" both_active_at 2
check "the MAs counted their failover" test "$(cp_agent_metric s1 lin6agentd_ls_failovers_total)" -ge 1

check "user 2, new, reaches the pool" ls_resolve 2
check "answered by LS 2 after LS 1 did not answer" test "$(cp_resolvd_metric u2 lin6resolvd_ls_failovers_total)" -ge 1
check "and served by site 1, its nearest" ls_site_is 2 1
check "LS 2 answered it" test "$(ls_metric 2 lsd_ma_requests_total)" -ge 1

# LS 1 restarts (the MAs may come back to it: it is first in the TXT).
# Its sync request is answered with LS 2's whole tables (FULL updates),
# which alone mark LS 2 "up" at LS 1: the relays LS 2 sends all along do not.
syncs=$(ls_metric 2 lsd_sync_requests_received_total)
ls_lsd_spawn 1
ls_lsd_wait 1
ls2_up_at_ls1() { ls_state 1 | jq -e '.peers[0].status == "up"' > /dev/null; }
if ! wait_for 20 ls2_up_at_ls1; then
  echo "DIAG LS2 metrics:"; cp_metrics ls2 9731 | grep -E "drop|sync|peer"
  echo "DIAG LS1 metrics:"; cp_metrics ls1 9731 | grep -E "drop|sync|peer|send"
  echo "DIAG LS1 state:"; ls_state 1
  echo "DIAG lsd2 log:"; grep -aE "replay|ync|f1::10|peer" "$CP_WORK/lsd2.log" | tail -40
  echo "DIAG lsd1 log:"; grep -avE "new MA|MA active" "$CP_WORK/lsd1.log" | tail -60
  fail "the restarted LS 1 got LS 2's answer to its sync request"
fi
echo "ok: the restarted LS 1 got LS 2's answer to its sync request (at $(since_start))"
grep -aE "sync request answered|relay before" "$CP_WORK/lsd1.log" | tail -n 4
check "LS 2 answered an LSS_SYNC_REQUEST" test "$(ls_metric 2 lsd_sync_requests_received_total)" -gt "$syncs"
same_tables() {
  { ls_tables 1; ls_tables 2; } | jq -se '
    .[0] == .[1] and (.[0].mas | map(select(.active)) | length) == 2
      and .[0].answers == [{prefix: "'"$(ls_net_prefix 1)"'::/64", ma: "'"$(ls_ma 1)"'"}]' > /dev/null
}
check "LS 1's MA table and answer cache equal LS 2's: both MAs active, user network 1 -> site 1" \
  wait_for 30 same_tables
check "LS 1 decided nothing itself: its answer came from LS 2" test "$(ls_metric 1 lsd_decisions_total)" = 0

check "user 1's stream completes" wait $stream
cat "$CP_WORK/curl.out"
read -r ended < "$CP_WORK/stream.end"
check "and was still running when both MAs were on LS 2" test "${ended/./}" -gt "${failover_at/./}"
check "intact" test "$(cp_sha "$CP_WORK/got.bin")" = "$(cp_sha "$CP_WORK/www/media.bin")"
check "from the same site" ls_site_is 1 1

# (cp c) Security (issue 4 §5c). At the MN's MA (ma1), registrations with a
# wrong key, a replayed registration, an unknown Node ID and a disabled
# subscriber are each rejected with the right code, counted by reason
# (lin6agentd_registrations_rejected_total{reason}) and logged, and the MN's
# mapping stays what the MN registered. A forged Mapping Refresh makes the
# CN re-query the MN's MA and keep the true mapping.
#
# The attacker lives in namespace ev (2001:db8:e::/64). The wrong key, the
# unknown node and the disabled subscriber are real lin6resolvd instances
# there, misconfigured; the replay is the MN's own registration, captured
# on ma1's link and sent again from ev; the refresh is hand-made (16 bytes,
# type 0x03, docs/protocol.md).
source "$LIN6_QEMU_TESTS/cp_lib.sh"
net_begin
cp_topology
host ev
link ev eth0 rt rt-e
cp_addr rt rt-e 2001:db8:e::1/64
net_commit
cp_deployment
cp_dns_spawn
EVIL_ID=02:01:4a:00:00:00:00:09 EVIL_IID=201:4a00:0:9
OFF_ID=02:01:4a:00:00:00:00:08 OFF_IID=201:4a00:0:8
cp_agent_pair "$MN_ID $OFF_ID" "$CN_ID"
in_ns ma1 lin6agentd -c "$CP_WORK/ma1/agent.yaml" subscriber disable "$OFF_ID"
cp_dns_wait

# The MN registers while ma1's link is captured: that datagram is replayed.
in_ns ma1 tcpdump -i eth0 -s 0 -U -w "$CP_WORK/reg.pcap" udp dst port 7300 2> "$CP_WORK/tcpdump.err" &
dump=$!
wait_for 30 grep -q 'listening on' "$CP_WORK/tcpdump.err" || fail "tcpdump does not capture: $(cat "$CP_WORK/tcpdump.err")"
cp_resolvd_pair
sleep 0.5; kill $dump; wait $dump 2>/dev/null || true
true_pfx=2001:db8:a::/64
check "ma1 holds the MN's true prefix" test "$(cp_agent_maps ma1 ma1 "$MN_ID")" = $true_pfx
# Traffic, so that the CN maps the MN (through MISS -> DNS -> MA).
check "cn pings mn's LIN6 address" in_ns cn ping -6 -c 2 -i 0.2 -W 3 "$MN_LIN6"
check "cn maps mn to its true prefix" test "$(cp_map cn "$MN_ID" | cut -d' ' -f1)" = $true_pfx

rejected() { cp_agent_metric ma1 lin6agentd_registrations_rejected_total "reason=\"$1\""; }
rejected_ge() { test "$(rejected "$1")" -ge "$2"; }
found_gt() { test "$(cp_agent_metric ma1 lin6agentd_queries_total 'result="found"')" -gt "$1"; }
# 1. Wrong key: ev claims the MN's Node ID, with its own locator prefix.
cp_addr ev eth0 "2001:db8:e::$MN_IID/64" 2001:db8:e::1
CP_SECRET=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100 \
  cp_resolvd_conf ev "$MN_ID" -
# (Each wait below also covers the resolver's start-up.)
cp_resolvd_spawn ev
check "wrong key: rejected as auth_failed (code 1) and counted" wait_for 30 rejected_ge auth_failed 1
check "wrong key: ev's resolver was told AuthenticationFailed" wait_for 10 grep -q 'last code: AuthenticationFailed' "$CP_WORK/resolvd-ev.log"
check "wrong key: ma1 logged the refusal" grep -q 'registration refused.*auth_failed' "$CP_WORK/ma1.log"
check "wrong key: the MN's mapping is unchanged" test "$(cp_agent_maps ma1 ma1 "$MN_ID")" = $true_pfx
cp_kill resolvd-ev

# 2. Replay: the MN's captured registration, sent again from ev.
replay_code=$(in_ns ev python3 - "$CP_WORK/reg.pcap" $CP_MA1 <<'EOF'
import socket, struct, sys
data = open(sys.argv[1], "rb").read()
off, reg = 24, None
while off + 16 <= len(data):
    incl = struct.unpack_from("<I", data, off + 8)[0]
    frame = data[off + 16: off + 16 + incl]
    off += 16 + incl
    if len(frame) >= 68 and reg is None:
        reg = frame[-68:]   # the UDP payload: an authenticated Update Request
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(reg, (sys.argv[2], 7300))
reply, _ = s.recvfrom(100)
print(reply[1])              # the reply's code
EOF
)
check "replay: answered with code 5 ReplayedSequence (got $replay_code)" test "$replay_code" = 5
check "replay: counted" test "$(rejected replayed_sequence)" -ge 1
check "replay: logged" grep -q 'registration refused.*replayed_sequence' "$CP_WORK/ma1.log"
check "replay: the MN's mapping is unchanged" test "$(cp_agent_maps ma1 ma1 "$MN_ID")" = $true_pfx

# ev_registers ID IID: the attacker's namespace ev renumbered to IID's
# address, running a resolver for ID that registers with ma1.
ev_registers() {
  net_begin
  nsip ev addr flush dev eth0 scope global
  cp_addr ev eth0 "2001:db8:e::$2/64" 2001:db8:e::1
  net_commit
  cp_resolvd_conf ev "$1" - "ma: ['$CP_MA1']"
  cp_resolvd_spawn ev
}

# 3. Unknown Node ID: a subscriber ma1 never heard of.
ev_registers "$EVIL_ID" "$EVIL_IID"
check "unknown node: rejected as unknown_node (code 2) and counted" wait_for 30 rejected_ge unknown_node 1
check "unknown node: its resolver was told UnknownNode" wait_for 10 grep -q 'last code: UnknownNode' "$CP_WORK/resolvd-ev.log"
check "unknown node: logged" grep -q 'registration refused.*unknown_node' "$CP_WORK/ma1.log"
check "unknown node: ma1 has no entry for it" test -z "$(cp_agent_maps ma1 ma1 "$EVIL_ID")"
cp_kill resolvd-ev

# 4. A disabled subscriber, with its right key.
ev_registers "$OFF_ID" "$OFF_IID"
check "disabled: rejected as disabled (code 3) and counted" wait_for 30 rejected_ge disabled 1
check "disabled: its resolver was told SubscriberDisabled" wait_for 10 grep -q 'last code: SubscriberDisabled' "$CP_WORK/resolvd-ev.log"
check "disabled: logged" grep -q 'registration refused.*disabled' "$CP_WORK/ma1.log"
check "disabled: it has no mapping" test "$(cp_agent_maps ma1 ma1 "$OFF_ID")" = none
cp_kill resolvd-ev

# Every registration ma1 accepted is the MN's, at its true prefix. (Not a
# count: under load the MN resends a request whose reply is late, and the MA
# accepts both, each with its own sequence, while the MN counts one.)
not_the_mn() { grep ' lin6agentd::agent: registered ' "$CP_WORK/ma1.log" | grep -v " node=$MN_ID prefix=$true_pfx " || true; }
check "nothing the attacker sent was accepted (ma1 registered only the MN, at its prefix)" test -z "$(not_the_mn)"
check "the MN's mapping is still the true one" test "$(cp_agent_maps ma1 ma1 "$MN_ID")" = $true_pfx

# 5. A forged Mapping Refresh for the MN, from ev, to the CN's resolver.
requeries=$(cp_resolvd_metric cn lin6resolvd_requeries_total)
found=$(cp_agent_metric ma1 lin6agentd_queries_total 'result="found"')
forge() {
  in_ns ev python3 -c '
import socket, struct, sys, time
node = int(sys.argv[1].replace(":", ""), 16)
msg = struct.pack("!B3xQI", 3, node, int(time.time()))
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(msg, (sys.argv[2], 7302))' "$1" "2001:db8:b::$CN_IID"
}
forge "$MN_ID"
check "forged refresh: the CN re-queried the MN's MA" wait_for 10 found_gt "$found"
check "forged refresh: counted as a re-query" test "$(cp_resolvd_metric cn lin6resolvd_requeries_total)" -gt "$requeries"
check "forged refresh: the CN keeps the true mapping" test "$(cp_map cn "$MN_ID" | cut -d' ' -f1)" = $true_pfx
# One for a node the CN does not talk to costs nothing.
ignored=$(cp_resolvd_metric cn lin6resolvd_refreshes_ignored_total)
forge "$EVIL_ID"
ignored_gt() { test "$(cp_resolvd_metric cn lin6resolvd_refreshes_ignored_total)" -gt "$1"; }
check "refresh for a stranger ignored" wait_for 5 ignored_gt "$ignored"
check "the CN still reaches the MN" in_ns cn ping -6 -c 2 -i 0.2 -W 3 "$MN_LIN6"

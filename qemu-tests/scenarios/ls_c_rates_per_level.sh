# (ls c) Bandwidth per service level (issue 5 section 4, scenario c): a
# server shapes a normal and a premium user at once, the way lin6agentd
# does on LSS_MA_ASSIGN (nftables marks by Node ID through nftnl, an HTB
# class per user under its level, fw filters); both stream from the server
# at the same time and each gets its level's rate within 10%.
# Users are tagged by the low 64 bits of the destination (their Node ID),
# so the tag does not depend on which network the user is on.
source "$LIN6_QEMU_TESTS/lib.sh"
# Rates an emulated guest can still fill when three guests share two cores
# (a 9 Mbit/s premium level reached only 7.4 Mbit/s in such a CI run).
NORMAL_KBPS=2000 PREMIUM_KBPS=6000
U1_ID=02:01:4a:00:00:00:00:11 U2_ID=02:01:4a:00:00:00:00:12
router rt; host srv; host u1; host u2
link srv eth0 rt rt-s
link u1 eth0 rt rt-1
link u2 eth0 rt rt-2
in_ns rt ip -6 addr add 2001:db8:5::1/64 dev rt-s nodad
in_ns rt ip -6 addr add 2001:db8:1::1/64 dev rt-1 nodad
in_ns rt ip -6 addr add 2001:db8:2::1/64 dev rt-2 nodad
in_ns srv ip -6 addr add 2001:db8:5::10/64 dev eth0 nodad
in_ns srv ip -6 route add default via 2001:db8:5::1
U1=2001:db8:1:0:201:4a00:0:11 U2=2001:db8:2:0:201:4a00:0:12
in_ns u1 ip -6 addr add $U1/64 dev eth0 nodad
in_ns u1 ip -6 route add default via 2001:db8:1::1
in_ns u2 ip -6 addr add $U2/64 dev eth0 nodad
in_ns u2 ip -6 route add default via 2001:db8:2::1

check "lin6agentd installs the shaping (classifier fw)" \
  in_ns srv lin6agentd shape --device eth0 --classifier fw --once \
    --normal-kbps $NORMAL_KBPS --premium-kbps $PREMIUM_KBPS \
    --user "$U1_ID=normal" --user "$U2_ID=premium"
in_ns srv nft list table ip6 lin6_shaping
in_ns srv tc class show dev eth0
in_ns srv tc filter show dev eth0
check "an fw filter per user" test "$(in_ns srv tc filter show dev eth0 | grep -c 'fw')" -ge 2

work=$(mktemp -d)
in_ns u1 iperf3 -s -1 -D -p 5201 --logfile "$work/s1.log"
in_ns u2 iperf3 -s -1 -D -p 5202 --logfile "$work/s2.log"
sleep 1
# Both at once, from the server to the users: the shaped direction.
in_ns srv iperf3 -c $U1 -p 5201 -t 10 -O 2 -J > "$work/u1.json" &
c1=$!
in_ns srv iperf3 -c $U2 -p 5202 -t 10 -O 2 -J > "$work/u2.json" &
c2=$!
wait $c1; wait $c2
rate() { python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['end']['sum_received']['bits_per_second'] / 1000))" "$1"; }
r1=$(rate "$work/u1.json") r2=$(rate "$work/u2.json")
echo "normal user:  $r1 kbit/s (level rate $NORMAL_KBPS)"
echo "premium user: $r2 kbit/s (level rate $PREMIUM_KBPS)"
within() { python3 -c "import sys; r, want = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if abs(r - want) <= 0.10 * want else 1)" "$1" "$2"; }
check "the normal user gets the normal rate within 10%" within "$r1" $NORMAL_KBPS
check "the premium user gets the premium rate within 10%" within "$r2" $PREMIUM_KBPS
in_ns srv tc -s class show dev eth0 | grep -E "class htb|Sent" || true

check "clearing removes the table" bash -c "ip netns exec srv lin6agentd shape --device eth0 --clear && ! ip netns exec srv nft list table ip6 lin6_shaping 2>/dev/null"
check "and the device's HTB" bash -c "! ip netns exec srv tc qdisc show dev eth0 | grep -q htb"
rm -rf "$work"

# (e) Bad input: malformed, oversized, missing and unknown genetlink
# requests, random ones, and a caller without CAP_NET_ADMIN, all answered
# with errors; truncated packets, fragments and extension headers to LIN6
# addresses handled without an oops or corruption.
source "$LIN6_QEMU_TESTS/lib.sh"
host abuse
check "malformed and random genetlink requests" in_ns abuse /usr/bin/python3 "$LIN6_QEMU_TESTS/genl_abuse.py" --random 3000
check "unprivileged genetlink requests" in_ns abuse /usr/bin/python3 "$LIN6_QEMU_TESTS/genl_abuse.py" --unprivileged --random 500
check "lin6ctl as nobody: permission denied, non-zero exit" bash -c \
  "! ip netns exec abuse setpriv --reuid=65534 --regid=65534 --clear-groups lin6ctl map flush 2>/tmp/eperm; grep -qi 'permission' /tmp/eperm"

two_mobiles
check "large pings are fragmented and still answered" in_ns mn1 ping -6 -c 3 -i 0.2 -W 2 -s 3000 "$MN2_LIN6"
in_ns mn2 timeout 10 socat -u UDP6-RECV:7001,bind=[$MN2_LIN6] OPEN:/tmp/dstopts,creat,trunc &
sleep 0.5
check "UDP with a destination options header is sent" in_ns mn1 /usr/bin/python3 "$LIN6_QEMU_TESTS/packets.py" dstopts \
  --src "$MN1_LIN6" --dst "$MN2_LIN6" --count 1
check "and arrives intact" wait_for 5 grep -q dstopts-0 /tmp/dstopts
drops=$(lin6_stat mn2 drop_malformed)
check "truncated packets to a LIN6 node's locator" in_ns rt /usr/bin/python3 "$LIN6_QEMU_TESTS/packets.py" truncated \
  --dev rt-b --src 2001:db8:a::201:4a00:0:1 --dst 2001:db8:b::201:4a00:0:2 \
  --dst-mac "$(in_ns mn2 cat /sys/class/net/eth0/address)"
check "truncated packets were dropped and counted" test "$(lin6_stat mn2 drop_malformed)" -gt "$drops"
check "mn2 still talks afterwards" in_ns mn1 ping -6 -c 2 -i 0.2 -W 2 "$MN2_LIN6"

# Helpers for the scenarios (sourced inside the guest).
# shellcheck shell=bash

# Kernel log lines that mean the kernel found a fault: warnings (lockdep and
# RCU splats are WARNINGs), BUGs (sleeping in atomic context too), oopses.
SPLAT='WARNING:|BUG:|Oops|general protection fault|Kernel panic|kernel BUG|UBSAN|KASAN|possible recursive locking|circular locking|inconsistent lock state|suspicious RCU usage|rust_panic|panicked at'

# Prints and clears the kernel log; fails if it holds a splat.
kernel_log_clean() {
  local what=$1 log
  log=$(dmesg -c 2>/dev/null)
  if grep -qE "$SPLAT" <<<"$log"; then
    echo "!!! kernel log after $what holds a fault:"
    sed 's/^/!!! /' <<<"$log"
    return 1
  fi
}

# Each check says when it ended, counted from the scenario's start, so a
# slow step shows in the log without timing it by hand.
LIN6_T0=${LIN6_T0:-$EPOCHREALTIME}
since_start() {
  local d=$(((${EPOCHREALTIME/./} - ${LIN6_T0/./}) / 100000))
  printf '%d.%d s' $((d / 10)) $((d % 10))
}
fail() { echo "FAILED: $* (at $(since_start))" >&2; exit 1; }
# check DESCRIPTION CMD...: runs CMD, fails the scenario if it fails.
check() {
  local what=$1; shift
  if "$@"; then echo "ok: $what (at $(since_start))"; else fail "$what"; fi
}

cleanup_netns() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
}

# --- topology ---------------------------------------------------------------
LIN6_PREFIX=3ffe:501:1830:1999
# Node IDs of the test hosts (EUI-64 form) and their interface-ID form.
MN1_ID=02:01:4a:00:00:00:00:01 MN1_IID=201:4a00:0:1
MN2_ID=02:01:4a:00:00:00:00:02 MN2_IID=201:4a00:0:2
MN1_LIN6=$LIN6_PREFIX:$MN1_IID
MN2_LIN6=$LIN6_PREFIX:$MN2_IID

# `ip -n` and `lin6ctl -n` enter the namespace in the one process, where
# `ip netns exec` would exec the program a second time after remounting
# /sys: under TCG every exec counts.
in_ns() {
  local ns=$1; shift
  case "$1" in
    ip|lin6ctl) local prog=$1; shift; "$prog" -n "$ns" "$@" ;;
    *) ip netns exec "$ns" "$@" ;;
  esac
}

# host NAME: a namespace with its loopback up, and DAD off (the guest script
# sets that in the first namespace, which every new one inherits).
host() {
  ip netns add "$1"
  in_ns "$1" ip link set lo up
}

# link NS_A IF_A NS_B IF_B: a veth pair between two namespaces, both ends up.
link() {
  ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
  in_ns "$1" ip link set "$2" up
  in_ns "$3" ip link set "$4" up
}

# router NAME: a host that forwards IPv6.
router() {
  host "$1"
  in_ns "$1" sysctl -qw net.ipv6.conf.all.forwarding=1
}

# lin6_node NS NODE_ID IID LOCATOR_PREFIX GATEWAY: makes NS a LIN6 node
# whose locator is LOCATOR_PREFIX:IID. Its LIN6 address sits on linsix0 (the
# module's device) with the LIN6 prefix, whose route goes through linsix0, so
# sockets pick the LIN6 address; the hook then sends packets out by their
# locators, whatever the routes to those are.
lin6_node() {
  local ns=$1 id=$2 iid=$3 pfx=$4 gw=$5
  in_ns "$ns" ip -6 addr add "$pfx:$iid/64" dev eth0 nodad
  in_ns "$ns" ip -6 route add default via "$gw"
  lin6_address "$ns" "$iid"
  in_ns "$ns" lin6ctl node set --node-id "$id" --locator "$pfx:$iid"
}

# lin6_address NS IID: NS's LIN6 address on its linsix0, which goes up. (A
# reloaded module makes a fresh linsix0: this is needed again then.)
lin6_address() {
  in_ns "$1" ip link set linsix0 up
  in_ns "$1" ip -6 addr add "$LIN6_PREFIX:$2/64" dev linsix0 nodad
}

# two_mobiles: mn1 (2001:db8:a::/64) -- rt -- mn2 (2001:db8:b::/64), each
# node with a static mapping for the other.
two_mobiles() {
  router rt; host mn1; host mn2
  link mn1 eth0 rt rt-a
  link mn2 eth0 rt rt-b
  in_ns rt ip -6 addr add 2001:db8:a::1/64 dev rt-a nodad
  in_ns rt ip -6 addr add 2001:db8:b::1/64 dev rt-b nodad
  lin6_node mn1 "$MN1_ID" "$MN1_IID" 2001:db8:a: 2001:db8:a::1
  lin6_node mn2 "$MN2_ID" "$MN2_IID" 2001:db8:b: 2001:db8:b::1
  in_ns mn1 lin6ctl map add "$MN2_ID" 2001:db8:b::/64 --static
  in_ns mn2 lin6ctl map add "$MN1_ID" 2001:db8:a::/64 --static
}

# lin6_stat NS NAME: one counter of NS's lin6 statistics (JSON names, with _).
lin6_stat() {
  in_ns "$1" lin6ctl -j stats | jq -e ".$2"
}

# stat_is NS NAME VALUE: whether NS's counter NAME is VALUE now (for
# wait_for, which must re-read the counter on every try).
stat_is() { test "$(lin6_stat "$1" "$2")" = "$3"; }

# wait_for SECONDS CMD...: retries CMD until it succeeds or time runs out.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

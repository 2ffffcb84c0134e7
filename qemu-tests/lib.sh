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

# Kills every process in a named namespace and deletes the namespaces: the
# processes found by comparing each one's /proc/PID/ns/net with the names
# in /run/netns (bash's -ef, no exec), the namespaces deleted in one ip
# batch (under TCG an exec per namespace took seconds per scenario).
cleanup_netns() {
  local f p nss=() pids=()
  for f in /run/netns/*; do [ -e "$f" ] && nss+=("$f"); done
  ((${#nss[@]})) || return 0
  for p in /proc/[0-9]*; do
    for f in "${nss[@]}"; do
      if [[ $p/ns/net -ef $f ]]; then pids+=("${p#/proc/}"); break; fi
    done
  done
  ((${#pids[@]} == 0)) || kill -9 "${pids[@]}" 2>/dev/null
  printf 'netns del %s\n' "${nss[@]##*/}" | ip -force -b - 2>/dev/null
  return 0
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

# A topology in few execs (an `ip` costs ~250 ms in the guest): between
# net_begin and net_commit, host, link, router and nsip only write ip batch
# lines; net_commit runs one `ip -b` in the root namespace (namespaces, veth
# pairs), then one `ip -6 -n NS -b` per namespace, each namespace's lines in
# the order they were given. Outside net_begin ... net_commit they act at
# once.
# net_then CMD... runs CMD after the batches (at once outside them).
NET_BATCH=
net_begin() {
  NET_BATCH=$(mktemp -d /tmp/net.XXXXXX)
  NET_NS=() NET_ROUTERS=() NET_THEN=()
  : > "$NET_BATCH/root"
}
net_commit() {
  local b=$NET_BATCH ns cmd
  NET_BATCH=
  ip -b "$b/root" || fail "ip batch in the root namespace failed: $(cat "$b/root")"
  for ns in "${NET_NS[@]}"; do
    ip -6 -n "$ns" -b "$b/ns-$ns" || fail "ip batch in $ns failed: $(cat "$b/ns-$ns")"
  done
  for ns in "${NET_ROUTERS[@]}"; do
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.forwarding=1
  done
  rm -rf "$b"
  for cmd in "${NET_THEN[@]}"; do eval "$cmd"; done
}
net_then() {
  if [ -z "$NET_BATCH" ]; then "$@"; return; fi
  NET_THEN+=("$(printf '%q ' "$@")")
}

# nsip NS IP_ARGS...: `ip -6 -n NS IP_ARGS...` (no quoting inside the args).
nsip() {
  local ns=$1; shift
  if [ -z "$NET_BATCH" ]; then ip -6 -n "$ns" "$@"; return; fi
  [ -e "$NET_BATCH/ns-$ns" ] || NET_NS+=("$ns")
  echo "$*" >> "$NET_BATCH/ns-$ns"
}

# host NAME: a namespace with its loopback up, and DAD off (the guest script
# sets that in the first namespace, which every new one inherits).
host() {
  if [ -n "$NET_BATCH" ]; then echo "netns add $1" >> "$NET_BATCH/root"; else ip netns add "$1"; fi
  nsip "$1" link set lo up
}

# link NS_A IF_A NS_B IF_B: a veth pair between two namespaces, both ends up.
link() {
  local add=(link add "$2" netns "$1" type veth peer name "$4" netns "$3")
  if [ -n "$NET_BATCH" ]; then echo "${add[*]}" >> "$NET_BATCH/root"; else ip "${add[@]}"; fi
  nsip "$1" link set "$2" up
  nsip "$3" link set "$4" up
}

# router NAME: a host that forwards IPv6.
router() {
  host "$1"
  if [ -n "$NET_BATCH" ]; then NET_ROUTERS+=("$1"); return; fi
  in_ns "$1" sysctl -qw net.ipv6.conf.all.forwarding=1
}

# lin6_node NS NODE_ID IID LOCATOR_PREFIX GATEWAY: makes NS a LIN6 node
# whose locator is LOCATOR_PREFIX:IID. Its LIN6 address sits on linsix0 (the
# module's device) with the LIN6 prefix, whose route goes through linsix0, so
# sockets pick the LIN6 address; the hook then sends packets out by their
# locators, whatever the routes to those are.
lin6_node() {
  local ns=$1 id=$2 iid=$3 pfx=$4 gw=$5
  nsip "$ns" addr add "$pfx:$iid/64" dev eth0 nodad
  nsip "$ns" route add default via "$gw"
  lin6_address "$ns" "$iid"
  net_then in_ns "$ns" lin6ctl node set --node-id "$id" --locator "$pfx:$iid"
}

# lin6_address NS IID: NS's LIN6 address on its linsix0, which goes up. (A
# reloaded module makes a fresh linsix0: this is needed again then.)
lin6_address() {
  nsip "$1" link set linsix0 up
  nsip "$1" addr add "$LIN6_PREFIX:$2/64" dev linsix0 nodad
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
    pause 0.2
  done
}

# random_file BYTES PATH: BYTES random bytes into PATH. openssl's generator
# is native code; the guest kernel's /dev/urandom (generic C ChaCha20,
# emulated) took seconds of system time per 10 MB, ~10 s for the paper's
# file.
random_file() {
  openssl rand -out "$2" "$1" 2> /dev/null || head -c "$1" /dev/urandom > "$2"
}

# pause SECONDS: a sleep without an exec (a read timing out on a FIFO that
# nobody writes), for loops that poll: each `sleep` costs an exec's time
# again in the guest.
pause() {
  if [ -z "${LIN6_NEVER_FD:-}" ]; then
    local f=/tmp/lin6-never.$BASHPID.$RANDOM
    mkfifo "$f"
    exec {LIN6_NEVER_FD}<> "$f"
    rm -f "$f"
  fi
  read -r -t "$1" -u "$LIN6_NEVER_FD" || true
}

# logged FILE TEXT [FROM]: whether FILE holds TEXT after its first FROM
# characters (default 0); log_length FILE: how many it holds now. Bash
# builtins only, so that a wait on a daemon's log line costs no exec per
# try; FROM skips what an earlier run of the daemon wrote to the same log.
logged() {
  local c=
  if [ -f "$1" ]; then IFS= read -r -d '' c < "$1" || true; fi
  [[ ${c:${3:-0}} == *"$2"* ]]
}
log_length() {
  local c=
  if [ -f "$1" ]; then IFS= read -r -d '' c < "$1" || true; fi
  echo "${#c}"
}

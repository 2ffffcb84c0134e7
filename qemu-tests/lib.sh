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

fail() { echo "FAILED: $*" >&2; exit 1; }
# check DESCRIPTION CMD...: runs CMD, fails the scenario if it fails.
check() {
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else fail "$what"; fi
}

cleanup_netns() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
}

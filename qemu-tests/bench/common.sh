# The benchmarks' path, its contenders and the iperf3 helpers (sourced inside the guest by
# datapath.sh and paper.sh, after lib.sh).
# shellcheck shell=bash
#
# mn1 (2001:db8:a::/64) -- rt -- mn2 (2001:db8:b::/64): two_mobiles from
# lib.sh, veth links. Every contender runs between these same two
# namespaces, through the same router, so that they differ only in what
# happens to their packets:
#
#   plain   ordinary addresses 2001:db8:a::100 -> 2001:db8:b::100 (lin6.ko
#           loaded, its hooks run, nothing to translate): the baseline;
#   lin6    LIN6 addresses, static mappings: lin6.ko rewrites source and
#           destination on output and input;
#   ila     Linux's ILA: SIR addresses 2001:db8:5151::a1 / ::a2, an
#           `encap ila` route on output (SIR -> locator 2001:db8:1a/1b::/64)
#           and an `ip ila` mapping on input (locator -> SIR); destination only;
#   mip6    Mobile IPv6 route optimisation, mobile node mn1 (home address
#           HOA1 on lo, care-of address COA1) to a correspondent node (mn2's
#           address CN): the MN's packets carry a Home Address option (24
#           bytes, destination options), the CN's a type 2 routing header
#           (24 bytes);
#   mip6mm  the same between two mobile nodes (HOA1/COA1 <-> HOA2/COA2):
#           both headers on every packet, 48 bytes each way.
# The MIPv6 data path is the kernel's own (CONFIG_IPV6_MIP6, net/ipv6/mip6.c)
# driven by xfrm states and policies, as a Mobile IPv6 daemon (UMIP) would
# install them after its binding updates; no daemon runs here.
# The router knows neither the LIN6 prefix, nor the SIR prefix, nor the home
# prefixes, so any packet of those contenders that arrives was translated.

SIR=2001:db8:5151
HOA1=2001:db8:4a::1   COA1=2001:db8:a::c1    # mobile node 1 (in mn1)
HOA2=2001:db8:4b::2   COA2=2001:db8:b::c2    # mobile node 2 (in mn2)
CN=2001:db8:b::c0                            # a correspondent (in mn2)
ALL_CONTENDERS=(plain lin6 ila mip6 mip6mm)
# The ones bench_topology and iperf3_server set up: a benchmark that uses
# fewer sets this after sourcing (each contender's set-up costs execs).
BENCH_CONTENDERS=("${ALL_CONTENDERS[@]}")

declare -A SRC DST
SRC[plain]=2001:db8:a::100   DST[plain]=2001:db8:b::100
SRC[lin6]=$MN1_LIN6          DST[lin6]=$MN2_LIN6
SRC[ila]=$SIR::a1            DST[ila]=$SIR::a2
SRC[mip6]=$HOA1              DST[mip6]=$CN
SRC[mip6mm]=$HOA1            DST[mip6mm]=$HOA2

# What each contender's packets carry on the wire, as a capture filter (the
# addresses in the IPv6 header between mn1 and mn2): ILA rewrites only the
# destination, MIPv6 puts the care-of addresses in the header.
declare -A WIRE
WIRE[plain]="host ${SRC[plain]} and host ${DST[plain]}"
WIRE[lin6]="host 2001:db8:a:0:$MN1_IID and host 2001:db8:b:0:$MN2_IID"
WIRE[ila]="host 2001:db8:1b::a2 or host 2001:db8:1a::a1"
WIRE[mip6]="host $COA1 and host $CN"
WIRE[mip6mm]="host $COA1 and host $COA2"

# ro NS SRC DST PROTO COA: a route-optimisation state. The same state serves
# both ends: on output it moves the home address into the header (hao: the
# source; route2: the destination) and puts the care-of address COA in the
# IPv6 header; on input the kernel finds it by (DST, SRC, PROTO) and checks
# that the packet came from / to COA. The mip6 types carry no SPI and no key.
ro() { in_ns "$1" ip xfrm state add src "$2" dst "$3" proto "$4" mode ro coa "$5"; }

# ro_policy NS DIR SRC DST PROTO...: the flow SRC -> DST goes through (out)
# or must have come through (in) the named headers. Inbound templates are
# optional (level use): a policy must exist for the kernel to accept a
# packet that an ro state touched, but it need not demand every header.
# The kernel matches inbound templates last first against the states in the
# order the packet's headers were processed: an inbound policy lists them in
# reverse (hao, then route2), or a packet with both is rejected.
ro_policy() {
  local ns=$1 dir=$2 src=$3 dst=$4 p tmpl=(); shift 4
  for p in "$@"; do
    tmpl+=(tmpl proto "$p" mode ro)
    if [ "$dir" = in ]; then tmpl+=(level use); fi
  done
  in_ns "$ns" ip xfrm policy add src "$src/128" dst "$dst/128" dir "$dir" "${tmpl[@]}"
}

mip6_topology() {
  # Home addresses sit on lo, marked `home` (IFA_F_HOMEADDRESS): the kernel
  # accepts a type 2 routing header only for such an address. Care-of
  # addresses and the CN's address are ordinary addresses on the links.
  in_ns mn1 ip -6 addr add "$HOA1/128" dev lo home nodad
  in_ns mn2 ip -6 addr add "$HOA2/128" dev lo home nodad
  in_ns mn1 ip -6 addr add "$COA1/64" dev eth0 nodad
  in_ns mn2 ip -6 addr add "$COA2/64" dev eth0 nodad
  in_ns mn2 ip -6 addr add "$CN/64" dev eth0 nodad

  # MN -> CN: the MN sends with a Home Address option, the CN answers with
  # a type 2 routing header; both ends hold both states.
  local ns
  for ns in mn1 mn2; do
    ro "$ns" "$HOA1" "$CN" hao "$COA1"
    ro "$ns" "$CN" "$HOA1" route2 "$COA1"
  done

  # MN <-> MN: both headers each way. Output: a route2 state for the peer's
  # home address (-> its care-of address) and a hao state for our own. On
  # input the type 2 header is processed first, while the source is still
  # the peer's care-of address: that state is keyed by it.
  ro mn1 "$HOA1" "$HOA2" route2 "$COA2"
  ro mn1 "$HOA1" "$HOA2" hao "$COA1"
  ro mn1 "$COA2" "$HOA1" route2 "$COA1"
  ro mn1 "$HOA2" "$HOA1" hao "$COA2"
  ro mn2 "$HOA2" "$HOA1" route2 "$COA1"
  ro mn2 "$HOA2" "$HOA1" hao "$COA2"
  ro mn2 "$COA1" "$HOA2" route2 "$COA2"
  ro mn2 "$HOA1" "$HOA2" hao "$COA1"
  mip6_policy_set
  MIP6_POLICIES=on
}

# Both MIPv6 contenders' policies: MN -> CN, then MN <-> MN.
mip6_policy_set() {
  ro_policy mn1 out "$HOA1" "$CN" hao
  ro_policy mn1 in "$CN" "$HOA1" route2
  ro_policy mn2 out "$CN" "$HOA1" route2
  ro_policy mn2 in "$HOA1" "$CN" hao
  ro_policy mn1 out "$HOA1" "$HOA2" route2 hao
  ro_policy mn1 in "$HOA2" "$HOA1" hao route2
  ro_policy mn2 out "$HOA2" "$HOA1" route2 hao
  ro_policy mn2 in "$HOA1" "$HOA2" hao route2
}

# MIPv6's policies are in place only while a MIPv6 contender runs
# (bench_for). Any IPsec output policy in a namespace sends every packet
# lin6 translates there through the full re-route, policy lookup included
# (a cached route could bypass a policy: docs/kernel.md), a cost that a
# LIN6 node without IPsec never pays; plain IPv6's sockets and ILA keep
# the policy decision in their cached routes and do not notice. MIP6_POLICIES:
# none (MIPv6 not set up), on or off.
MIP6_POLICIES=none
mip6_policies() {
  if [ "$MIP6_POLICIES" = none ] || [ "$MIP6_POLICIES" = "$1" ]; then return 0; fi
  if [ "$1" = on ]; then
    mip6_policy_set
  else
    in_ns mn1 ip xfrm policy flush
    in_ns mn2 ip xfrm policy flush
  fi
  MIP6_POLICIES=$1
}

# bench_for CONTENDER: the hosts as CONTENDER is measured.
bench_for() {
  case $1 in
    mip6 | mip6mm) mip6_policies on ;;
    *) mip6_policies off ;;
  esac
}

ila_topology() {
  # The SIR address on lo; the locator prefixes 2001:db8:1a::/64 (mn1) and
  # 2001:db8:1b::/64 (mn2) ride the same links. ILA's input mapping matches a
  # whole locator /64, so they are not the LIN6/plain /64s. The locator
  # addresses are on no interface: the router reaches them through permanent
  # neighbour entries (no ND to translate).
  in_ns mn1 ip -6 addr add "$SIR::a1/128" dev lo nodad
  in_ns mn2 ip -6 addr add "$SIR::a2/128" dev lo nodad
  local mac1 mac2
  mac1=$(in_ns mn1 cat /sys/class/net/eth0/address)
  mac2=$(in_ns mn2 cat /sys/class/net/eth0/address)
  in_ns rt ip -6 route add 2001:db8:1a::/64 dev rt-a
  in_ns rt ip -6 route add 2001:db8:1b::/64 dev rt-b
  in_ns rt ip -6 neigh replace 2001:db8:1a::a1 lladdr "$mac1" dev rt-a nud permanent
  in_ns rt ip -6 neigh replace 2001:db8:1b::a2 lladdr "$mac2" dev rt-b nud permanent
  local ila=(csum-mode adj-transport ident-type luid)
  in_ns mn1 ip -6 route add "$SIR::a2/128" encap ila 2001:db8:1b:0 "${ila[@]}" hook-type output \
    via 2001:db8:a::1 dev eth0 src "$SIR::a1"
  in_ns mn2 ip -6 route add "$SIR::a1/128" encap ila 2001:db8:1a:0 "${ila[@]}" hook-type output \
    via 2001:db8:b::1 dev eth0 src "$SIR::a2"
  in_ns mn1 ip ila add loc_match 2001:db8:1a:0 loc "$SIR:0" "${ila[@]}"
  in_ns mn2 ip ila add loc_match 2001:db8:1b:0 loc "$SIR:0" "${ila[@]}"
}

# bench_topology: the path and every contender; fails unless each one
# answers a ping.
bench_topology() {
  two_mobiles
  in_ns mn1 ip -6 addr add "${SRC[plain]}/64" dev eth0 nodad
  in_ns mn2 ip -6 addr add "${DST[plain]}/64" dev eth0 nodad
  local c mip6_done=false
  for c in "${BENCH_CONTENDERS[@]}"; do
    case $c in
      ila) ila_topology ;;
      # One set-up holds both MIPv6 contenders' addresses and states.
      mip6 | mip6mm) $mip6_done || mip6_topology; mip6_done=true ;;
    esac
  done
  for c in "${BENCH_CONTENDERS[@]}"; do
    bench_for "$c"
    in_ns mn1 ping -6 -c 2 -i 0.2 -W 3 -I "${SRC[$c]}" "${DST[$c]}" >/dev/null ||
      fail "no connectivity for $c (${SRC[$c]} -> ${DST[$c]})"
  done
}

# bench_mtu MTU: every link on the path, and linsix0 (whose route the LIN6
# sockets take: their MSS follows its MTU), at MTU bytes.
bench_mtu() {
  local mtu=$1
  in_ns mn1 ip link set eth0 mtu "$mtu"
  in_ns mn2 ip link set eth0 mtu "$mtu"
  in_ns rt ip link set rt-a mtu "$mtu"
  in_ns rt ip link set rt-b mtu "$mtu"
  in_ns mn1 ip link set linsix0 mtu "$mtu"
  in_ns mn2 ip link set linsix0 mtu "$mtu"
}

# --- iperf3 -------------------------------------------------------------------
# One server per contender in mn2, bound to that contender's address, for
# the whole benchmark (the caller sets $work). Bound, because a UDP server
# on :: answers from the source address the kernel selects, and with
# MIPv6's home addresses present that is a home address (RFC 6724 rule 4
# prefers them), which the client's connected socket drops: UDP failed for
# every contender.
PORT=5201
declare -A SERVER_PORT
iperf3_server() {
  local c i=0
  for c in "${BENCH_CONTENDERS[@]}"; do
    SERVER_PORT[$c]=$((PORT + i)); i=$((i + 1))
    in_ns mn2 iperf3 -s -B "${DST[$c]}" -p "${SERVER_PORT[$c]}" >"$work/iperf3-server-$c.log" 2>&1 &
  done
  for c in "${BENCH_CONTENDERS[@]}"; do
    wait_for 10 bash -c "ip netns exec mn2 ss -Htln | grep -q ':${SERVER_PORT[$c]}\b'" ||
      fail "iperf3 server for $c did not start: $(cat "$work/iperf3-server-$c.log")"
  done
}

# iperf3_run CONTENDER OUT.json ARGS...: one iperf3 client run from mn1
# (client on vCPU 0, server on vCPU 1, where the guest has two); retried
# if the server is still busy with the previous test.
IPERF3_AFFINITY=()
[ "$(nproc)" -ge 2 ] && IPERF3_AFFINITY=(-A 0,1)
iperf3_run() {
  local c=$1 out=$2 try; shift 2
  bench_for "$c"
  for try in 1 2 3; do
    if in_ns mn1 timeout 120 iperf3 -c "${DST[$c]}" -B "${SRC[$c]}" -p "${SERVER_PORT[$c]}" "${IPERF3_AFFINITY[@]}" -J "$@" >"$out" 2>&1; then
      return 0
    fi
    sleep 1
  done
  echo "iperf3 for $c failed:" >&2
  grep '"error"' "$out" >&2 || cat "$out" >&2
  return 1
}

# rate FILE: "RECEIVED SENT" bytes per second from iperf3's pretty-printed
# JSON (its sum_received and sum_sent blocks), by awk: a Python start per
# run costs seconds under TCG.
rate() {
  awk '
    /"sum_(sent|received)":/ { blk = ($1 ~ /received/) ? "rx" : "tx"; next }
    blk && /}/ { blk = "" }
    blk && /"seconds":/ { gsub(/,/, "", $2); secs[blk] = $2 }
    blk && /"bytes":/ { gsub(/,/, "", $2); bytes[blk] = $2 }
    END {
      if (!secs["rx"] || !secs["tx"]) exit 1
      printf "%.3f %.3f\n", bytes["rx"] / secs["rx"], bytes["tx"] / secs["tx"]
    }' "$1"
}

# lin6_counter NS NAME: one counter of NS's lin6 statistics (a regex, not jq
# or python: this runs around every measurement, and an exec is slow under
# TCG).
lin6_counter() {
  local j; j=$(in_ns "$1" lin6ctl -j stats)
  [[ $j =~ \"$2\":([0-9]+) ]] || fail "lin6ctl -j stats in $1 has no $2: $j"
  echo "${BASH_REMATCH[1]}"
}

# The clock the benchmark runs by (scripts/bench --clock, passed in as
# LIN6_BENCH_CLOCK): "host" (QEMU's clock follows the host's: figures move
# with the host's load) or "icount" (QEMU counts the guest's instructions
# and its clock, the TSC too, advances 2^LIN6_ICOUNT_SHIFT ns per
# instruction: a second is a fixed amount of work, whatever the host does;
# the vCPUs take turns, so together they retire one instruction per
# 2^LIN6_ICOUNT_SHIFT ns).
BENCH_CLOCK=${LIN6_BENCH_CLOCK:-host}
ICOUNT_SHIFT=${LIN6_ICOUNT_SHIFT:-0}

# cycles_counting 1|0: lin6.ko's measure_cycles on or off (a parameter
# writable while the module runs), for the rounds that measure cycles only:
# reading the cycle counter around every packet slows the others. Under
# icount the other vCPUs go offline meanwhile: they take turns with this
# one, and a turn taken inside a measured span would add its instructions.
MEASURE_CYCLES_PARAM=/sys/module/lin6/parameters/measure_cycles
cycles_counting() {
  local cpu
  if [ "$BENCH_CLOCK" = icount ]; then
    for cpu in /sys/devices/system/cpu/cpu[1-9]*/online; do
      [ -e "$cpu" ] || continue
      echo $((1 - $1)) > "$cpu" || fail "cannot set $cpu to $((1 - $1))"
    done
    IPERF3_AFFINITY=()
    [ "$1" = 0 ] && [ "$(nproc)" -ge 2 ] && IPERF3_AFFINITY=(-A 0,1)
  fi
  echo "$1" 2>/dev/null > "$MEASURE_CYCLES_PARAM" ||
    fail "cannot write $MEASURE_CYCLES_PARAM (lin6.ko without a writable measure_cycles?)"
}

# clock_json: the clock as a JSON object for the result; under icount
# `ticks_per_instruction` turns the cycles lin6.ko counts (TSC ticks) into
# the guest instructions they stand for.
clock_json() {
  if [ "$BENCH_CLOCK" = icount ]; then
    printf '{"mode":"icount","icount_shift":%s,"ticks_per_instruction":%s}' "$ICOUNT_SHIFT" $((1 << ICOUNT_SHIFT))
  else
    printf '{"mode":"host"}'
  fi
}

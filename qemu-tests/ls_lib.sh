# Helpers for the load-sharing scenarios (ls_*; issue 5 section 7), sourced
# inside the guest. Builds on cp_lib.sh (Knot DNS, agents, resolvers,
# metrics, daemon logs on failure). Nothing is faked: users resolve the
# pool through lin6resolvd -> LS (LSS_MA_REQUEST) -> MA Query, the MAs
# heartbeat and measure real RTTs, the kernels translate.
#
#                       rt (router)
#   users u<J> --- br-a<N> |--- rt-s<I> (netem per user network) --- s<I>
#   (network N:            |--- ls<K>   2001:db8:f<K>::10  (lsd)
#    2001:db8:a<N>::/64)   |--- dns     2001:db8:53::53 (knotd)
#                                       2001:db8:53::7  (users' MA, "hma")
#
# - Site I (namespace s<I>, 2001:db8:6<I>::/64) is the content server S_I
#   and its MA_I in one box: S_I is a LIN6 node whose Node ID is the pool's
#   ($POOL_ID; locator 2001:db8:6<I>::$POOL_IID) and registers with MA_I
#   (lin6resolvd with `registration.ma` naming MA_I); MA_I (lin6agentd at
#   2001:db8:6<I>::a, its own SQLite) therefore answers for the pool
#   address with S_I's own locator, heartbeats the LS and measures RTTs.
#   The MAs find the LSs through DNS (ls.discovery), as the issue asks.
# - User network N is a bridge in rt; user J (namespace u<J>, Node ID
#   02:01:4a:00:00:00:00:2J) has one veth into the bridge of its network,
#   so moving it is re-plugging that veth and renumbering (ls_user_move).
# - RTTs: packets from user network N towards site I wait
#   LS_DELAY_STEP_MS x |I - N| ms (netem on rt's port to the site, chosen
#   by source prefix), so network N's nearest site is site N (the last
#   site for N > sites); ls_delay changes one pair.
# - DNS: the pool's name and AAAA, its reverse TXT "lin6 v=1 ls=<LSs>",
#   and every user's AAAA and reverse TXT naming the users' MA (hma),
#   which S_I's resolver asks to reach a user.
# - LSs: lsd in ls<K>, each with the others as peers and the users' levels
#   as a static subscriber map.
#
# A scenario: ls_topology SITES NETS LSS; ls_user J NET LEVEL ...; ls_start.
# ls_topology and ls_user only write the topology down (lib.sh's net_begin:
# a few ip batches instead of an exec per command); ls_start builds it,
# then starts the daemons. Logs of every daemon are printed on failure
# (cp_on_exit).
# shellcheck shell=bash
source "$LIN6_QEMU_TESTS/cp_lib.sh"

# The cluster key every MA and LS of the pool shares.
LS_KEY=8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677
POOL_ID=02:01:4a:00:00:00:01:00 POOL_IID=201:4a00:0:100
POOL_LIN6=$LIN6_PREFIX:$POOL_IID
POOL_NAME=stream.lin6.test
LS_HMA=2001:db8:53::7            # the users' own MA (where they register)
# 100 ms a step: a loaded TCG guest's RTT probes scatter by tens of ms (two
# sites 40 ms apart measured 72 and 66 ms in ls_e), so nearer must be clearly nearer.
LS_DELAY_STEP_MS=${LS_DELAY_STEP_MS:-100}
LS_HB_TIMEOUT_MS=${LS_HB_TIMEOUT_MS:-4000}   # lsd's heartbeat timeout
LS_LSD_EXTRA=${LS_LSD_EXTRA:-}   # YAML lines appended to every lsd config
declare -A LS_CAPACITY=()        # site -> capacity_kbps its MA reports (default 100000)
declare -A LS_LEVEL=() LS_NET=() LS_BARE=()
declare -A LS_DELAY_MS=()        # "NET,SITE" -> delay set by ls_delay
LS_SITES=0 LS_NETS=0 LS_LSS=0 LS_DELAYS_SET=

# Addresses. ls_site_prefix I: site I's /64 without "::/64". (Not
# 2001:db8:5<I>: site 3's would be the DNS network's, 2001:db8:53.)
ls_site_prefix() { echo "2001:db8:6$1"; }
ls_ma() { echo "2001:db8:6$1::a"; }
ls_net_prefix() { echo "2001:db8:a$1"; }
ls_ls() { echo "2001:db8:f$1::10"; }
ls_user_id() { echo "02:01:4a:00:00:00:00:2$1"; }
ls_user_iid() { echo "201:4a00:0:2$1"; }
ls_user_lin6() { echo "$LIN6_PREFIX:$(ls_user_iid "$1")"; }
ls_user_addr() { echo "$(ls_net_prefix "${LS_NET[$1]}")::$(ls_user_iid "$1")"; }

# ls_topology SITES NETS LSS: namespaces, links, addresses and delays for
# SITES sites, NETS user networks and LSS load-sharing servers (1-9 each),
# plus dns. Written down only: ls_start builds it, then starts the daemons.
ls_topology() {
  LS_SITES=$1 LS_NETS=$2 LS_LSS=$3
  local i n k
  net_begin
  router rt; host dns
  link dns eth0 rt rt-d
  cp_addr rt rt-d 2001:db8:53::1/64
  cp_addr dns eth0 $CP_DNS/64 2001:db8:53::1
  cp_addr dns eth0 $LS_HMA/64
  for ((n = 1; n <= LS_NETS; n++)); do
    nsip rt link add "br-a$n" type bridge
    nsip rt link set "br-a$n" up
    cp_addr rt "br-a$n" "$(ls_net_prefix $n)::1/64"
  done
  for ((k = 1; k <= LS_LSS; k++)); do
    host "ls$k"
    link "ls$k" eth0 rt "rt-l$k"
    cp_addr rt "rt-l$k" "2001:db8:f$k::1/64"
    cp_addr "ls$k" eth0 "$(ls_ls $k)/64" "2001:db8:f$k::1"
  done
  for ((i = 1; i <= LS_SITES; i++)); do
    local p; p=$(ls_site_prefix $i)
    host "s$i"
    link "s$i" eth0 rt "rt-s$i"
    cp_addr rt "rt-s$i" "$p::1/64"
    cp_addr "s$i" eth0 "$(ls_ma $i)/64"
    cp_addr "s$i" eth0 "$p::$POOL_IID/64"
    # The MA's address as the source of what the box sends to plain
    # addresses (heartbeats, RTT probes): a probe from S_I's locator would
    # look like LIN6 traffic from the pool to the user's kernel, whose
    # echo reply would then wait for the pool's mapping.
    nsip "s$i" route add default via "$p::1" src "$(ls_ma $i)"
  done
}

# ls_delays: the netem delays of every (user network, site) pair, one tc
# batch: on rt's port to each site an HTB (the kernel has no prio qdisc)
# with a class per user network, picked by source prefix, whose netem
# delays the user's packets towards that site; other traffic is not delayed.
ls_delays() {
  local i n b=$CP_WORK/delays.tc
  : > "$b"
  for ((i = 1; i <= LS_SITES; i++)); do
    echo "qdisc add dev rt-s$i root handle 1: htb default 99" >> "$b"
    echo "class add dev rt-s$i parent 1: classid 1:99 htb rate 1gbit quantum 60000" >> "$b"
    for ((n = 1; n <= LS_NETS; n++)); do
      local near=$((n < LS_SITES ? n : LS_SITES))
      local ms=${LS_DELAY_MS[$n,$i]:-$((LS_DELAY_STEP_MS * (i > near ? i - near : near - i)))}
      cat >> "$b" <<EOF
class add dev rt-s$i parent 1: classid 1:$n htb rate 1gbit quantum 60000
qdisc add dev rt-s$i parent 1:$n handle $((n + 10)): netem delay ${ms}ms
filter add dev rt-s$i parent 1: protocol ipv6 prio 1 u32 match ip6 src $(ls_net_prefix $n)::/64 flowid 1:$n
EOF
    done
  done
  tc -n rt -b "$b"
  LS_DELAYS_SET=1
}

# ls_delay NET SITE MS: packets from user network NET towards SITE wait MS
# ms (replaces the default), from ls_start on, or at once after it.
ls_delay() {
  LS_DELAY_MS[$1,$2]=$3
  [ -z "$LS_DELAYS_SET" ] ||
    tc -n rt qdisc change dev "rt-s$2" parent "1:$1" handle "$(($1 + 10)):" netem delay "$3ms"
}

# ls_user J NET LEVEL [bare]: user J (namespace u<J>) on user network NET,
# a subscriber of LEVEL (normal|premium) at the LSs. ls_start starts its
# lin6resolvd unless "bare" (a host that only sends what the scenario makes).
# Declare every user before ls_start: DNS and the LSs are written from them.
ls_user() {
  local j=$1 n=$2
  LS_NET[$j]=$n LS_LEVEL[$j]=$3 LS_BARE[$j]=${4:-}
  host "u$j"
  link "u$j" eth0 rt "rt-u$j"
  nsip rt link set "rt-u$j" master "br-a$n"
  cp_addr "u$j" eth0 "$(ls_user_addr "$j")/64" "$(ls_net_prefix "$n")::1"
}

# ls_user_move J NET: user J moves to network NET: its veth goes into NET's
# bridge, it gets its locator there (lin6.ko raises a PREFIX event, its
# lin6resolvd re-registers and tells its correspondents), and the old
# address goes. Two execs: the user's side is one ip batch (new address,
# default route through NET's router, old address deleted), in that order,
# so the node always has a locator (the old one's going is then no event).
ls_user_move() {
  local j=$1 old; old=$(ls_user_addr "$1")
  in_ns rt ip link set "rt-u$j" master "br-a$2"
  LS_NET[$j]=$2
  ip -6 -n "u$j" -b - <<EOF || fail "user $j's move to network $2 failed"
addr add $(ls_user_addr "$j")/64 dev eth0 nodad
route replace default via $(ls_net_prefix "$2")::1 dev eth0
addr del $old/64 dev eth0
EOF
}

# ls_start: builds the topology, then starts Knot DNS, the users' MA, the
# LSs, every site's MA and server resolver, every user's resolver; returns
# when all have registered and every MA is active at LS 1. Under TCG a
# daemon takes seconds to start (and a `subscriber add` seconds to write
# its database), so the daemons start together, each waited for only where
# another needs it: the LSs before the site MAs (which would otherwise fail
# over from LS 1 before it listens), Knot before the resolvers. A resolver
# retries its registration until its MA answers, and the registrations
# and LS 1's MA table are waited for at the end.
ls_start() {
  local i j k p ids=() confs=()
  net_commit
  ls_delays
  ls_dns
  for ((k = 1; k <= LS_LSS; k++)); do ls_lsd_spawn "$k"; done
  for j in "${!LS_LEVEL[@]}"; do ids+=("$(ls_user_id "$j")"); done
  cp_agent_conf dns hma $LS_HMA "${ids[@]}" &
  confs+=($!)
  for ((i = 1; i <= LS_SITES; i++)); do
    ls_site_agent_conf "$i" &
    confs+=($!)
  done
  for p in "${confs[@]}"; do wait "$p" || fail "lin6agentd subscriber add failed"; done
  cp_agent_start dns hma
  for ((k = 1; k <= LS_LSS; k++)); do ls_lsd_wait "$k"; done
  for ((i = 1; i <= LS_SITES; i++)); do cp_agent_start "s$i" "ma$i"; done
  cp_dns_wait dns "$POOL_NAME"
  for ((i = 1; i <= LS_SITES; i++)); do
    ls_site_resolvd_conf "$i"
    cp_resolvd_spawn "s$i"
  done
  for j in "${!LS_LEVEL[@]}"; do
    [ -n "${LS_BARE[$j]}" ] && continue
    cp_resolvd_conf "u$j" "$(ls_user_id "$j")" - \
      "load_sharing: {timeout_ms: 400, attempts: 3}"
    cp_resolvd_spawn "u$j"
  done
  for ((i = 1; i <= LS_SITES; i++)); do cp_resolvd_wait_registered "s$i"; done
  for j in "${!LS_LEVEL[@]}"; do
    [ -n "${LS_BARE[$j]}" ] && continue
    cp_resolvd_wait_registered "u$j"
  done
  wait_for 30 ls_all_mas_active 1 || fail "not every MA is active at LS 1: $(ls_state 1)"
}

# ls_all_mas_active K: whether LS K holds every site's MA as active.
ls_all_mas_active() {
  local i mas=()
  for ((i = 1; i <= LS_SITES; i++)); do mas+=("\"$(ls_ma "$i")\""); done
  ls_state "$1" 2>/dev/null | jq -e "[$(IFS=,; echo "${mas[*]}")] - [.mas[] | select(.active) | .addr] == []" > /dev/null
}

# ls_dns: the deployment (users and the pool) into Knot DNS in dns (started,
# not waited for: cp_dns_wait).
ls_dns() {
  local j k lss=()
  for ((k = 1; k <= LS_LSS; k++)); do lss+=("'$(ls_ls $k)'"); done
  {
    echo "ttl: 60"
    echo "nameserver: ns1.$CP_ZONE"
    echo "nodes:"
    for j in "${!LS_LEVEL[@]}"; do
      echo "  - {name: u$j.$CP_ZONE, node_id: '$(ls_user_id "$j")', ma: ['$LS_HMA']}"
    done
    echo "pools:"
    echo "  - {name: $POOL_NAME., address: '$POOL_LIN6', ls: [$(IFS=,; echo "${lss[*]}")]}"
  } > "$CP_WORK/deploy.yaml"
  cp_dns_spawn
}

# ls_lsd_conf K: writes LS K's config (peers: every other LS).
ls_lsd_conf() {
  local k=$1 p peers=() j
  for ((p = 1; p <= LS_LSS; p++)); do
    ((p == k)) || peers+=("\"[$(ls_ls $p)]:7311\"")
  done
  {
    cat <<EOF
listen: "[::]:7310"
peer_listen: "[::]:7311"
peers: [$(IFS=,; echo "${peers[*]}")]
cluster_key: { id: 1, secret_hex: "$LS_KEY" }
metrics_listen: "[::1]:9731"
pool: "$POOL_LIN6"
ma_table:
  heartbeat_timeout_ms: $LS_HB_TIMEOUT_MS
peering:
  retry_interval_ms: 500
  max_tries: 40
subscribers:
EOF
    for j in "${!LS_LEVEL[@]}"; do
      echo "  \"$(ls_user_id "$j")\": ${LS_LEVEL[$j]}"
    done
    [ -z "$LS_LSD_EXTRA" ] || echo "$LS_LSD_EXTRA"
  } > "$CP_WORK/lsd$k.yaml"
}

# ls_lsd_spawn K: (re)starts lsd in ls<K> (configured on first start; its
# RUST_LOG is LS_LSD_LOG, default lsd=info);
# ls_lsd_wait K: until it runs.
ls_lsd_spawn() {
  local k=$1
  [ -f "$CP_WORK/lsd$k.yaml" ] || ls_lsd_conf "$k"
  CP_LOG_FROM[lsd$k]=$(log_length "$CP_WORK/lsd$k.log")
  ip netns exec "ls$k" env NO_COLOR=1 RUST_LOG=${LS_LSD_LOG:-lsd=info} lsd --config "$CP_WORK/lsd$k.yaml" >> "$CP_WORK/lsd$k.log" 2>&1 &
  echo $! > "$CP_WORK/lsd$k.pid"
}
ls_lsd_wait() {  # (as cp_agent_wait: lsd logs this once every socket is bound)
  wait_for 20 logged "$CP_WORK/lsd$1.log" "lsd running" "${CP_LOG_FROM[lsd$1]:-0}" ||
    fail "lsd $1 does not start"
}

# ls_lsd_kill K [SIGNAL]: stops LS K by its PID.
ls_lsd_kill() {
  local pid; pid=$(cat "$CP_WORK/lsd$1.pid")
  kill -"${2:-KILL}" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# ls_site_agent_conf I: MA_I's config and database (agent "ma<I>", to run in
# s<I>): the pool's Node ID as its one subscriber, the LSs found through
# DNS, its server's capacity LS_CAPACITY[I].
ls_site_agent_conf() {
  local i=$1 d=$CP_WORK/ma$1 ma; ma=$(ls_ma "$1")
  mkdir -p "$d"
  cat > "$d/agent.yaml" <<EOF
registration_listen: "[$ma]:7300"
query_listen: "[$ma]:7301"
metrics_listen: "[::1]:9301"
database:
  url: "sqlite://$d/agent.db"
  connect_timeout_ms: 60000   # as cp_agent_conf's
mapping:
  max_lifetime_s: 600
replay:
  window_s: 300
cache:
  poll_ms: 100
query:
  workers: 1
ls:
  discovery:
    pool: "$POOL_LIN6"
    dns_servers: ["[$CP_DNS]:53"]
    timeout_ms: 500
    attempts: 2
    retry_ms: 500
  cluster_key: { id: 1, secret_hex: "$LS_KEY" }
  ma_addr: "$ma"
  listen: "[$ma]:0"
  capacity_kbps: ${LS_CAPACITY[$i]:-100000}
  heartbeat_interval_ms: 500
  failover_after_ms: 2500
  user_grace_s: 600   # users register with hma, so this MA never holds their mapping
EOF
  lin6agentd -c "$d/agent.yaml" subscriber add "$POOL_ID" --key $CP_KEY --key-id 1 > /dev/null
}

# ls_site_resolvd_conf I: S_I's lin6resolvd: the pool's Node ID,
# registering with MA_I (registration.ma: the pool's TXT names LSs, not
# an MA) and finding its users' MAs through DNS.
ls_site_resolvd_conf() {
  local d=$CP_WORK/resolvd-s$1
  mkdir -p "$d"
  cat > "$d/resolvd.yaml" <<EOF
node_id: "$POOL_ID"
key: {id: 1, secret: "$CP_KEY"}
dns:
  servers: ["[$CP_DNS]:53"]
  timeout_ms: 500
registration:
  lifetime_s: 600   # the pool's mapping in users' kernels lives this long: no refresh mid-check
  ma: ["$(ls_ma "$1")"]
  sticky_ma: true
metrics_listen: "[::1]:9302"
EOF
}

# ls_resolve J: user J pings the pool address until one reply comes back
# (at most 30 s): its miss is resolved through an LS and an MA, the site's
# reply through hma. Pings go on every 0.5 s because a packet waits for a
# mapping only miss_timeout_ms (3 s), less than a resolution that first
# waits out a dead LS.
ls_resolve() {
  in_ns "u$1" ping -c 1 -i 0.5 -w 30 "$POOL_LIN6" > /dev/null
}

# ls_site_of J: the site whose server user J's kernel maps the pool to.
ls_site_of() {
  local p; p=$(cp_map "u$1" "$POOL_ID")
  p=${p%%::/64*}
  echo "${p#2001:db8:6}"
}
ls_site_is() { test "$(ls_site_of "$1")" = "$2"; }

# ls_state K: LS K's tables (`lin6ctl -j ls status`).
ls_state() { in_ns "ls$1" lin6ctl -j ls status; }

# ls_ma_is K I true|false: whether LS K holds MA I as active (or inactive).
ls_ma_is() {
  ls_state "$1" 2>/dev/null | jq -e --arg a "$(ls_ma "$2")" --argjson v "$3" \
    'any(.mas[]; .addr == $a and .active == $v)' > /dev/null
}

# ls_answer K NET: the MA LS K's answer cache holds for user network NET
# (empty if none).
ls_answer() {
  ls_state "$1" | jq -r --arg p "$(ls_net_prefix "$2")::/64" \
    '.answers[] | select(.prefix == $p) | .ma'
}

# ls_tables K: what two LSs in sync hold alike, sorted: each MA's address,
# state and load, each answer's prefix and MA; not the timers, nor where an
# MA's heartbeats come from.
ls_tables() {
  ls_state "$1" | jq -cS '{mas: [.mas[] | {addr, active, ma_draining, admin_drained, capacity_kbps,
                                      normal, premium, load_ppm, reported_load_ppm}] | sort_by(.addr),
    answers: [.answers[] | {prefix, ma}] | sort_by(.prefix)}'
}

# ls_metric K NAME [LABELS]: one of LS K's metrics.
ls_metric() { cp_metric "ls$1" 9731 "$2" "${3:-}"; }

# ls_ma_status I: MA_I's LS side (GET /ls: current LS, users).
ls_ma_status() { in_ns "s$1" curl -sSf -m 2 -g "http://[::1]:9301/ls"; }

# ls_media: a media file (random bytes, LS_MEDIA_MB MB) every site serves.
ls_media() {
  mkdir -p "$CP_WORK/www"
  head -c "$((${LS_MEDIA_MB:-8} * 1048576))" /dev/urandom > "$CP_WORK/www/media.bin"
}

# ls_nginx I: nginx in site I serving $CP_WORK/www on port 80 (of every
# address, the pool's LIN6 address among them). One process, no daemon:
# the guest's root is read-only, so every path it writes is under CP_WORK.
ls_nginx() {
  local d=$CP_WORK/nginx$1
  mkdir -p "$d"
  cat > "$d/nginx.conf" <<EOF
daemon off;
master_process off;
user root;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 64; }
http {
  # The connection's serial number with each request: one request on one
  # connection shows that a stream was never fetched again.
  log_format conn '\$remote_addr conn=\$connection \$status \$body_bytes_sent "\$request"';
  access_log $d/access.log conn;
  client_body_temp_path $d/body;
  proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fastcgi;
  uwsgi_temp_path $d/uwsgi;
  scgi_temp_path $d/scgi;
  default_type application/octet-stream;
  server { listen [::]:80; root $CP_WORK/www; }
}
EOF
  ip netns exec "s$1" nginx -c "$d/nginx.conf" -e "$d/error.log" >> "$CP_WORK/nginx$1.log" 2>&1 &
  wait_for 10 in_ns "s$1" curl -sf -o /dev/null -g "http://[$(ls_ma "$1")]/media.bin" -r 0-0 \
    || fail "nginx in s$1 does not serve"
}

# ls_fetch J OUT [CURL_ARGS...]: user J fetches the media file by the pool's
# name (getaddrinfo through Knot DNS, then the pool's LIN6 address) into
# OUT; prints curl's "connections remote_ip http_code bytes".
ls_fetch() {
  local j=$1 out=$2; shift 2
  cp_in_dns_ns "u$j" curl -6 -sS "$@" -o "$out" \
    -w '%{num_connects} %{remote_ip} %{http_code} %{size_download}\n' "http://$POOL_NAME/media.bin"
}

# ls_served I J: the lines of site I's nginx access log for user J (by its
# LIN6 address, which the site's kernel gives the server as the peer), one
# per request: 'ADDR conn=N STATUS BYTES "REQUEST"'. Builtins only.
ls_served() {
  local f=$CP_WORK/nginx$1/access.log me l lines=()
  me=$(ls_user_lin6 "$2")
  [ -f "$f" ] || return 0
  mapfile -t lines < "$f"
  for l in "${lines[@]}"; do
    if [[ $l == "$me "* ]]; then echo "$l"; fi
  done
}

#!/bin/sh
# Starts a throwaway PostgreSQL cluster from Debian's packages for the
# lin6agentd PostgreSQL tests, and prints the shell lines that point the
# tests at it:
#
#   eval "$(lin6agentd/tests/pg/start-postgres.sh)"
#   cargo test -p lin6agentd --test pg_replicas
#   lin6agentd/tests/pg/stop-postgres.sh
#
# or all three at once: lin6agentd/tests/pg/run-pg-tests.sh
#
# Installs the `postgresql` package with apt if no server binaries are found
# (idempotent), creates the cluster in a fresh temporary directory owned by
# the `postgres` user, listens on 127.0.0.1 only (port $LIN6_PG_PORT, default
# 54329) and on a unix socket in that directory, with trust authentication:
# it is for tests, nothing else can reach it. Everything it prints goes to
# stdout; progress goes to stderr.
set -eu

port="${LIN6_PG_PORT:-54329}"

find_bin() {
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            bin="$d"
        fi
    done
}

bin=""
find_bin
if [ -z "$bin" ]; then
    echo "start-postgres: installing postgresql with apt" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends postgresql >&2; then
        apt-get update >&2
        apt-get install -y --no-install-recommends postgresql >&2
    fi
    find_bin
fi
if [ -z "$bin" ]; then
    echo "start-postgres: no initdb/pg_ctl under /usr/lib/postgresql/*/bin" >&2
    exit 1
fi

# initdb refuses to run as root: run the server as `postgres` (created by
# the package), or as ourselves when we are not root.
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

dir="$(mktemp -d /tmp/lin6-pg.XXXXXX)"
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"

as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
}
# fsync off: a test cluster, thrown away afterwards; it makes the tests fast.
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" \
    start >&2 || {
    cat "$dir/server.log" >&2
    exit 1
}
echo "start-postgres: PostgreSQL $("$bin/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port, data in $dir" >&2

echo "export LIN6_PG_DIR='$dir'"
echo "export LIN6_PG_BIN='$bin'"
echo "export DATABASE_URL='postgres://postgres@127.0.0.1:$port/postgres'"

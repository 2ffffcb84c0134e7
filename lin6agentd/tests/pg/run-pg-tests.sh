#!/bin/sh
# Runs lin6agentd's PostgreSQL tests against a real, throwaway PostgreSQL
# server (the CI entry point). Extra arguments go to `cargo test`.
# LIN6AGENTD_REQUIRE_PG=1 makes the tests fail, not skip, without a server.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
eval "$("$here/start-postgres.sh")"
trap '"$here/stop-postgres.sh"' EXIT INT TERM
# lsd reads service levels from the same database (lin6db): subscriber_db.
# --workspace, not -p: the features are then the ones `cargo test
# --workspace` built with, so nothing is compiled a second time.
LIN6AGENTD_REQUIRE_PG=1 cargo test --workspace --test pg_replicas --test subscriber_db "$@"

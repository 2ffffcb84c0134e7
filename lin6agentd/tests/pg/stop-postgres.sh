#!/bin/sh
# Stops the cluster start-postgres.sh started and deletes its directory.
# Uses LIN6_PG_DIR and LIN6_PG_BIN as start-postgres.sh exported them.
set -eu
: "${LIN6_PG_DIR:?run eval \"\$(start-postgres.sh)\" first}"
: "${LIN6_PG_BIN:?run eval \"\$(start-postgres.sh)\" first}"
if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$LIN6_PG_BIN/pg_ctl" -D "$LIN6_PG_DIR/data" -m fast -w stop >&2 || true
else
    "$LIN6_PG_BIN/pg_ctl" -D "$LIN6_PG_DIR/data" -m fast -w stop >&2 || true
fi
rm -rf "$LIN6_PG_DIR"

#!/usr/bin/env bash
# make bench-fleet: runs hack/fleetsim against BROKER_URL with ADMIN_PAK, or, without
# BROKER_URL, against a broker it starts itself on an embedded database in a temporary
# directory (stopped at the end), passing fleetsim the broker's pid and database URL. With
# FLEET_DIR, the broker's data lives there instead and is kept, so that a later run with
# `-prefix NAME -reuse` in FLEET_ARGS finds its fleet again. FLEET_ARGS are passed on to
# fleetsim.
set -euo pipefail
GO=${GO:-go}
ARGS=${FLEET_ARGS:--agents 1000 -duration 60s -channel -distribute}
if [[ -n "${BROKER_URL:-}" ]]; then
	exec "$GO" run ./hack/fleetsim -url "$BROKER_URL" -admin-pak "${ADMIN_PAK:?ADMIN_PAK is needed with BROKER_URL}" $ARGS
fi
tmp=$(mktemp -d)
chmod 755 "$tmp" # the embedded database may run as another user (root starts it as postgres)
dir=$tmp
if [[ -n "${FLEET_DIR:-}" ]]; then
	mkdir -p "$FLEET_DIR"
	dir=$(cd "$FLEET_DIR" && pwd)
	chmod 755 "$dir"
fi
"$GO" build -o "$tmp/brokkr-broker" ./cmd/brokkr-broker
"$GO" build -o "$tmp/fleetsim" ./hack/fleetsim
port=${FLEET_PORT:-3917}
"$tmp/brokkr-broker" serve --listen "127.0.0.1:$port" --data-dir "$dir/postgres" --log-level warn >"$tmp/broker.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 120); do
	[[ -s "$dir/admin-pak" ]] && curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
	kill -0 $broker 2>/dev/null || { cat "$tmp/broker.log"; exit 1; }
	sleep 0.5
done
# the embedded PostgreSQL's port is the fourth line of its postmaster.pid
pgport=$(sed -n 4p "$dir/postgres/postmaster.pid")
"$tmp/fleetsim" -url "http://127.0.0.1:$port" -admin-pak "$(cat "$dir/admin-pak")" -broker-pid $broker \
	-database-url "postgres://postgres@127.0.0.1:$pgport/brokkr?sslmode=disable" $ARGS

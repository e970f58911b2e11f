#!/usr/bin/env bash
# Reproduces the README's Performance table. Gatehouse runs on the
# PostgreSQL store named by GATEHOUSE_DATABASE_URL (with GATEHOUSE_SECRETS),
# or in dev mode when it is unset; the baseline token server runs as its own
# process. Both listen on loopback only; every run is bounded by
# --duration and --requests.
#
#   GATEHOUSE_DATABASE_URL=postgres://... GATEHOUSE_SECRETS=... cmd/gatehouse-bench/perf.sh
#   DURATION=10s OUT=/tmp/perf cmd/gatehouse-bench/perf.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
REQUESTS=${REQUESTS:-1000000}
OUT=${OUT:-/tmp/gatehouse-perf}
GH_ADDR=127.0.0.1:18181
ADMIN_ADDR=127.0.0.1:18183
BASE_ADDR=127.0.0.1:18282
mkdir -p "$OUT"
go build -o "$OUT/gatehouse" ./cmd/gatehouse
go build -o "$OUT/gatehouse-bench" ./cmd/gatehouse-bench
GH="$OUT/gatehouse"
GHB="$OUT/gatehouse-bench"

# Every password request here is one user from one address, with the right
# password. The throttle counts an attempt from before its hash until it
# succeeds, so 64 in flight would pass the per-user-address limit (10): the
# limits are raised for the load runs, which measure hashing, not the
# throttle.
THROTTLE="--throttle-per-user-address 100000 --throttle-per-user 100000 --throttle-per-address 100000"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

if [ -n "${GATEHOUSE_DATABASE_URL:-}" ]; then
	"$GH" migrate >/dev/null
	suffix=$RANDOM$RANDOM
	"$GH" clients create --name "bench-$suffix" --grant-types client_credentials,password,refresh_token \
		--scopes read,offline_access --roles service 2>/dev/null >"$OUT/client.txt"
	echo "bench-password-$suffix" | "$GH" users create --username "bench-$suffix" --roles user --password-stdin >/dev/null 2>&1
	CLIENT_ID=$(sed -n 's/^client_id=//p' "$OUT/client.txt")
	CLIENT_SECRET=$(sed -n 's/^client_secret=//p' "$OUT/client.txt")
	USERNAME=bench-$suffix PASSWORD=bench-password-$suffix
	# A loopback benchmark without TLS: the http:// issuer is opted into.
	"$GH" serve --addr $GH_ADDR --admin-addr $ADMIN_ADDR --issuer http://$GH_ADDR --insecure-http-issuer $THROTTLE >"$OUT/server.out" 2>&1 &
	pids+=($!)
	sleep 2
else
	"$GH" serve --addr $GH_ADDR --admin-addr $ADMIN_ADDR $THROTTLE >"$OUT/server.out" 2>&1 &
	pids+=($!)
	sleep 3
	CLIENT_ID=$(sed -n 's/^client_id=//p' "$OUT/server.out")
	CLIENT_SECRET=$(sed -n 's/^client_secret=//p' "$OUT/server.out")
	USERNAME=$(sed -n 's/^username=//p' "$OUT/server.out")
	PASSWORD=$(sed -n 's/^password=//p' "$OUT/server.out")
fi
SERVER=${pids[0]}
"$GHB" --baseline-serve $BASE_ADDR >"$OUT/baseline.out" 2>&1 &
pids+=($!)
BASELINE=${pids[1]}
sleep 1

run() {
	echo "== $*"
	"$GHB" --duration "$DURATION" --warmup "$WARMUP" --requests "$REQUESTS" "$@"
}
gh() { run --url http://$GH_ADDR --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" --username "$USERNAME" --password "$PASSWORD" --server-pid "$SERVER" "$@"; }
base() { run --url http://$BASE_ADDR --client-id baseline-client --client-secret baseline-secret-for-benchmarks-only --server-pid "$BASELINE" "$@"; }

for c in 8 64; do
	base --scenario client_credentials -c $c
	gh --scenario client_credentials -c $c
done
gh --scenario password -c 8
# Password load at 64 connections against argon2id alone (the baseline's
# password grant: one hash at the default cost per request, one per CPU).
base --scenario password -c 64 --username baseline-user --password baseline-password-for-benchmarks-only
gh --scenario password -c 64
gh --scenario refresh -c 8
gh --scenario refresh -c 64

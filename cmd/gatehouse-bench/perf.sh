#!/usr/bin/env bash
# Reproduces the README's Performance table. Gatehouse runs on the
# PostgreSQL store named by GATEHOUSE_DATABASE_URL (with GATEHOUSE_SECRETS),
# or in dev mode when it is unset; the baseline token server runs as its own
# process. Both listen on loopback only; every run is bounded by
# --duration and --requests.
#
#   GATEHOUSE_DATABASE_URL=postgres://... GATEHOUSE_SECRETS=... cmd/gatehouse-bench/perf.sh
#   DURATION=10s OUT=/tmp/perf cmd/gatehouse-bench/perf.sh
#
# ROUNDS=n repeats the whole sequence n times, so that every Gatehouse run
# has its baseline run next to it: on two shared cores single runs move by
# a quarter. PGBENCH="-h HOST -p PORT DB" (a database made with pgbench -i)
# runs pgbench -N at 64 clients right after each refresh run at 64
# connections. The last lines summarise each round's ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-1}
PGBENCH=${PGBENCH:-}
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

for round in $(seq "$ROUNDS"); do
	echo "## round $round"
	for c in 8 64; do
		base --scenario client_credentials -c $c
		gh --scenario client_credentials -c $c
	done
	gh --scenario password -c 8
	# Password load at 64 connections against argon2id alone (the
	# baseline's password grant: one hash at the default cost per request,
	# one per CPU).
	base --scenario password -c 64 --username baseline-user --password baseline-password-for-benchmarks-only
	gh --scenario password -c 64
	gh --scenario refresh -c 8
	gh --scenario refresh -c 64
	if [ -n "$PGBENCH" ]; then
		echo "== pgbench -N -c 64"
		# shellcheck disable=SC2086 # PGBENCH is a list of arguments
		pgbench $PGBENCH -N -c 64 -j 2 -T "${DURATION%s}" 2>&1 | grep -E '^tps'
	fi
done | tee "$OUT/perf.log"

# One line per round: Gatehouse over its baseline run, and refresh over
# pgbench -N.
awk '
/^## round/ { r = $3 }
/^== pgbench/ { who = "pgbench" }
/^== / && !/pgbench/ { who = ($0 ~ /--client-id baseline-client/) ? "base" : "gh"; match($0, /--scenario [a-z_]+ -c [0-9]+/); sc = substr($0, RSTART + 11, RLENGTH - 11); gsub(/ -c /, "@", sc) }
/^throughput/ { v[r, who, sc] = $2 }
/^tps/ { v[r, "pgbench", ""] = $3 }
END {
	for (i = 1; i <= r; i++) {
		printf "round %d:", i
		printf " client_credentials@8 %.0f%%", 100 * v[i, "gh", "client_credentials@8"] / v[i, "base", "client_credentials@8"]
		printf ", @64 %.0f%%", 100 * v[i, "gh", "client_credentials@64"] / v[i, "base", "client_credentials@64"]
		printf "; password@64 %.0f%% of argon2id alone", 100 * v[i, "gh", "password@64"] / v[i, "base", "password@64"]
		if (v[i, "pgbench", ""] > 0) printf "; refresh@64 %.0f%% of pgbench -N", 100 * v[i, "gh", "refresh@64"] / v[i, "pgbench", ""]
		printf "\n"
	}
}' "$OUT/perf.log"

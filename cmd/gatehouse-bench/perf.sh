#!/usr/bin/env bash
# Reproduces the README's Performance table: Gatehouse in dev mode and the
# baseline token server, each as its own process on loopback, loaded by
# gatehouse-bench. Every run is bounded (--duration and --requests) and
# each group starts a fresh server and runs REPEAT times back to back.
#
#   cmd/gatehouse-bench/perf.sh            # from the repository root
#   DURATION=10s REPEAT=2 OUT=/tmp/perf cmd/gatehouse-bench/perf.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
REQUESTS=${REQUESTS:-1000000}
REPEAT=${REPEAT:-2}
OUT=${OUT:-/tmp/gatehouse-perf}
GH_ADDR=127.0.0.1:18181
BASE_ADDR=127.0.0.1:18282
mkdir -p "$OUT"

go build -o "$OUT/gatehouse" ./cmd/gatehouse
go build -o "$OUT/gatehouse-bench" ./cmd/gatehouse-bench

SERVER_PID=
stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}
trap stop_server EXIT

# wait_for KEY FILE: wait until FILE has a KEY= line and print its value.
wait_for() {
	for _ in $(seq 100); do
		if v=$(sed -n "s/^$1=//p" "$2") && [ -n "$v" ]; then
			echo "$v"
			return
		fi
		sleep 0.1
	done
	echo "no $1= line in $2" >&2
	return 1
}

start_gatehouse() {
	"$OUT/gatehouse" serve --addr "$GH_ADDR" >"$OUT/gatehouse.out" 2>"$OUT/gatehouse.err" &
	SERVER_PID=$!
	GATEHOUSE_BENCH_CLIENT_ID=$(wait_for client_id "$OUT/gatehouse.out")
	GATEHOUSE_BENCH_CLIENT_SECRET=$(wait_for client_secret "$OUT/gatehouse.out")
	GATEHOUSE_BENCH_USERNAME=$(wait_for username "$OUT/gatehouse.out")
	GATEHOUSE_BENCH_PASSWORD=$(wait_for password "$OUT/gatehouse.out")
	GATEHOUSE_BENCH_URL=http://$GH_ADDR
	export GATEHOUSE_BENCH_CLIENT_ID GATEHOUSE_BENCH_CLIENT_SECRET GATEHOUSE_BENCH_USERNAME GATEHOUSE_BENCH_PASSWORD GATEHOUSE_BENCH_URL
}

start_baseline() {
	"$OUT/gatehouse-bench" --baseline-serve "$BASE_ADDR" >"$OUT/baseline.out" 2>"$OUT/baseline.err" &
	SERVER_PID=$!
	GATEHOUSE_BENCH_URL=$(wait_for url "$OUT/baseline.out")
	GATEHOUSE_BENCH_CLIENT_ID=$(wait_for client_id "$OUT/baseline.out")
	GATEHOUSE_BENCH_CLIENT_SECRET=$(wait_for client_secret "$OUT/baseline.out")
	export GATEHOUSE_BENCH_CLIENT_ID GATEHOUSE_BENCH_CLIENT_SECRET GATEHOUSE_BENCH_URL
}

# group NAME START SCENARIO CONNECTIONS: a fresh server, REPEAT runs.
group() {
	local name=$1 start=$2 scenario=$3 conns=$4
	"$start"
	for i in $(seq "$REPEAT"); do
		echo "== $name run $i (load average $(cut -d' ' -f1-3 /proc/loadavg))"
		"$OUT/gatehouse-bench" --scenario "$scenario" --connections "$conns" \
			--duration "$DURATION" --requests "$REQUESTS" --warmup "$WARMUP" \
			--server-pid "$SERVER_PID" --json-out "$OUT/$name-$i.json"
	done
	stop_server
}

group gatehouse-cc-8 start_gatehouse client_credentials 8
group baseline-cc-8 start_baseline client_credentials 8
group gatehouse-cc-64 start_gatehouse client_credentials 64
group baseline-cc-64 start_baseline client_credentials 64
group gatehouse-password-8 start_gatehouse password 8
group gatehouse-refresh-8 start_gatehouse refresh 8
group gatehouse-refresh-64 start_gatehouse refresh 64

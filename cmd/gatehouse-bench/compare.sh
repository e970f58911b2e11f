#!/usr/bin/env bash
# Compares token endpoint throughput across revisions of Gatehouse, each
# run against its own baseline run: "did this change make the token
# endpoint slower?" asked of code from different days, on the same machine
# and day.
#
#   cmd/gatehouse-bench/compare.sh REV [REV ...]       # e.g. 1eaab57 HEAD
#   ROUNDS=6 DURATION=10s cmd/gatehouse-bench/compare.sh 1eaab57 5f51185 HEAD
#   SCENARIO=refresh PGBENCH="-h HOST -p PORT DB" GATEHOUSE_DATABASE_URL=... \
#     GATEHOUSE_SECRETS=... cmd/gatehouse-bench/compare.sh HEAD~1 HEAD
#
# Every revision is built in a temporary git worktree. A round runs the
# revisions in random order, each run right after a baseline run, and a
# run's ratio is taken against that baseline run. The load tool is the
# current one for every revision. Loopback only; every run is bounded by
# --duration and --requests. The last lines give each revision's median
# ratio and server CPU per token.
#
# SCENARIO=client_credentials (the default) serves each revision in dev
# mode (in-memory store; client_credentials reads no database per request
# anyway) at 8 and 64 connections; the baseline is gatehouse-bench
# --baseline-serve. SCENARIO=refresh serves each revision on the
# PostgreSQL database GATEHOUSE_DATABASE_URL names, at 64 connections; the
# baseline is pgbench -N -c 64 on the cluster PGBENCH names (a database
# made with pgbench -i). The revisions must accept that database's schema.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ $# -gt 0 ] || { echo "usage: $0 REV [REV ...]" >&2; exit 2; }
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-6}
SCENARIO=${SCENARIO:-client_credentials}
case $SCENARIO in
client_credentials) CONNS="8 64" ;;
refresh)
	CONNS=64
	[ -n "${GATEHOUSE_DATABASE_URL:-}" ] && [ -n "${GATEHOUSE_SECRETS:-}" ] && [ -n "${PGBENCH:-}" ] || {
		echo "$0: SCENARIO=refresh needs GATEHOUSE_DATABASE_URL, GATEHOUSE_SECRETS and PGBENCH" >&2
		exit 2
	}
	;;
*)
	echo "$0: SCENARIO is client_credentials or refresh, not $SCENARIO" >&2
	exit 2
	;;
esac
OUT=${OUT:-/tmp/gatehouse-compare}
GH_ADDR=127.0.0.1:18191
ADMIN_ADDR=127.0.0.1:18193
BASE_ADDR=127.0.0.1:18282
mkdir -p "$OUT"
go build -o "$OUT/gatehouse-bench" ./cmd/gatehouse-bench
GHB="$OUT/gatehouse-bench"

revs=()
for rev in "$@"; do
	sha=$(git rev-parse --short "$rev^{commit}")
	if [ ! -x "$OUT/gatehouse-$sha" ]; then
		tree=$(mktemp -d)
		git worktree add --quiet --detach "$tree" "$sha"
		(cd "$tree" && go build -o "$OUT/gatehouse-$sha" ./cmd/gatehouse)
		git worktree remove --force "$tree"
	fi
	revs+=("$sha")
done

pids=()
user=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
if [ "$SCENARIO" = client_credentials ]; then
	"$GHB" --baseline-serve $BASE_ADDR >"$OUT/baseline.out" 2>&1 &
	pids+=($!)
	BASELINE=$!
	sleep 1
else
	# One client and user for every revision, made with the last one's CLI.
	# The refresh chains start with a password grant per worker: 64 in
	# flight for one user from one address, so the throttle limits are
	# raised as perf.sh raises them.
	last=${revs[${#revs[@]} - 1]}
	"$OUT/gatehouse-$last" migrate >/dev/null
	suffix=$RANDOM$RANDOM
	"$OUT/gatehouse-$last" clients create --name "compare-$suffix" --grant-types password,refresh_token \
		--scopes read,offline_access 2>/dev/null >"$OUT/client.txt"
	echo "compare-password-$suffix" | "$OUT/gatehouse-$last" users create --username "compare-$suffix" \
		--roles user --password-stdin >/dev/null 2>&1
	THROTTLE="--throttle-per-user-address 100000 --throttle-per-user 100000 --throttle-per-address 100000"
	user=(--username "compare-$suffix" --password "compare-password-$suffix")
fi

# run ARGS... prints "tokens/s µs-per-token" of one bounded run.
run() {
	"$GHB" --duration "$DURATION" --warmup 1s --requests 1000000 --scenario "$SCENARIO" "$@" |
		awk '/^throughput/ { t = $2 } /^server/ { for (i = 1; i <= NF; i++) if ($i == "µs") c = $(i - 1) } END { print t, c }'
}

# baseline C prints "tokens/s µs-per-token" (or "tps -") of one baseline
# run at C connections.
baseline() {
	if [ "$SCENARIO" = client_credentials ]; then
		run --url http://$BASE_ADDR --client-id baseline-client \
			--client-secret baseline-secret-for-benchmarks-only --server-pid "$BASELINE" -c "$1"
	else
		# shellcheck disable=SC2086 # PGBENCH is a list of arguments
		pgbench $PGBENCH -N -c "$1" -j 2 -T "${DURATION%s}" 2>&1 | awk '/^tps/ { print $3, "-" }'
	fi
}

: >"$OUT/compare.log"
for round in $(seq "$ROUNDS"); do
	for sha in $(printf '%s\n' "${revs[@]}" | shuf); do
		if [ "$SCENARIO" = client_credentials ]; then
			env -u GATEHOUSE_DATABASE_URL "$OUT/gatehouse-$sha" serve --addr $GH_ADDR --admin-addr $ADMIN_ADDR >"$OUT/$sha.out" 2>&1 &
			creds="$OUT/$sha.out"
		else
			# shellcheck disable=SC2086 # THROTTLE is a list of arguments
			"$OUT/gatehouse-$sha" serve --addr $GH_ADDR --admin-addr $ADMIN_ADDR --issuer http://$GH_ADDR \
				--insecure-http-issuer $THROTTLE >"$OUT/$sha.out" 2>&1 &
			creds="$OUT/client.txt"
		fi
		server=$!
		pids+=($server)
		sleep 2
		client_id=$(sed -n 's/^client_id=//p' "$creds")
		client_secret=$(sed -n 's/^client_secret=//p' "$creds")
		for c in $CONNS; do
			read -r bt bc < <(baseline $c)
			read -r gt gc < <(run --url http://$GH_ADDR --client-id "$client_id" --client-secret "$client_secret" \
				"${user[@]}" --server-pid "$server" -c $c)
			echo "round $round rev $sha c $c baseline $bt $bc gatehouse $gt $gc ratio $(awk -v g="$gt" -v b="$bt" 'BEGIN { printf "%.1f", 100 * g / b }')" |
				tee -a "$OUT/compare.log"
		done
		kill "$server"
		wait "$server" 2>/dev/null || true
	done
done

# Each revision's median ratio and CPU per token, per connection count.
sort -k4,4 -k6,6n "$OUT/compare.log" | awk '
function median(list,   n, a, i, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = $4 " at " $6; r[k] = r[k] " " $14; c[k] = c[k] " " $12; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
END { for (i = 1; i <= n; i++) printf "%s connections: ratio %.1f%%, server CPU %.1f µs per token (medians)\n", order[i], median(r[order[i]]), median(c[order[i]]) }'

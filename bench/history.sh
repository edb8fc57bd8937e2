#!/bin/sh
# bench/history.sh — reading the history: `slipway runs`, `show` and `logs` over a database of
# 10,000 runs and 200,000 log lines, beside the sqlite3 shell selecting the same lines (the
# floor: SQLite reading the rows and printing them). Medians of 10 runs, and the ratio.
# Needs sqlite3 and the fixture writer tests/unit/test-history-fixture (`make` builds it).
#
#   sh bench/history.sh            (SLIPWAY=path/to/slipway, BENCH_DIR=where to work)
set -eu

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SLIPWAY="${SLIPWAY:-$ROOT/slipway}"
FIXTURE="$ROOT/tests/unit/test-history-fixture"
BENCH_DIR="${BENCH_DIR:-$(mktemp -d /var/tmp/slipway-bench.XXXXXX)}"
owner=
trap '[ -n "$owner" ] && kill "$owner"; rm -rf "$BENCH_DIR"' EXIT INT TERM
[ -x "$FIXTURE" ] || make -s -C "$ROOT" tests/unit/test-history-fixture

# The median wall time in ms of 10 runs of "$@" (output discarded).
median_ms() {
	i=0
	while [ $i -lt 10 ]; do
		a=$(date +%s%N)
		"$@" >/dev/null
		b=$(date +%s%N)
		echo $(((b - a) / 1000))
		i=$((i + 1))
	done | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", (v[5] + v[6]) / 2000 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

sleep 3600 &
owner=$!
"$FIXTURE" fixture "$BENCH_DIR" "$owner"
sqlite3 "$BENCH_DIR/slipway.db" "
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO runs (repo_id, number, commit_hash, branch, event, trigger_kind, status, queued_at,
                  started_at, finished_at)
SELECT 1, 100 + i, 'abcdef0123456789abcdef0123456789abcdef01', 'main', 'push', 'poll',
       CASE WHEN i % 7 = 0 THEN 'failed' ELSE 'passed' END, 1764300000000 + i * 60000,
       1764300001000 + i * 60000, 1764300031000 + i * 60000 FROM n;
UPDATE repos SET last_run_number = 10100 WHERE name = 'app';
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO log_lines (run_id, step_id, t_ms, stream, line)
SELECT 1, (SELECT id FROM steps WHERE run_id = 1 AND name = 'test'), 1764300000000 + i, 0,
       'ok ' || i || ' - a test line of some sixty bytes, as a test runner prints' FROM n;"
step=$(sqlite3 "$BENCH_DIR/slipway.db" "SELECT id FROM steps WHERE run_id = 1 AND name = 'test'")
echo "database: $(du -m "$BENCH_DIR/slipway.db" | cut -f1) MB, 10,010 runs, 200,000+ log lines"

sw() { "$SLIPWAY" --data-dir "$BENCH_DIR" "$@"; }
for cmd in "runs" "runs --status failed" "show app#1"; do
	# shellcheck disable=SC2086
	printf '%-34s %8s ms\n' "slipway $cmd" "$(median_ms sw $cmd)"
done
peer=$(median_ms sqlite3 "$BENCH_DIR/slipway.db" \
	"SELECT line FROM log_lines WHERE step_id = $step ORDER BY id")
for cmd in "logs app#1/test" "logs -t app#1/test" "logs app#1"; do
	# shellcheck disable=SC2086
	t=$(median_ms sw $cmd)
	printf '%-34s %8s ms   %s x sqlite3\n' "slipway $cmd" "$t" "$(ratio "$t" "$peer")"
done
printf '%-34s %8s ms\n' "sqlite3 SELECT the step's lines" "$peer"

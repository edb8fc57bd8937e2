#!/usr/bin/env bats
# slipway runs, show and logs over real history databases: a fixture written through the store
# API (tests/unit/test-history-fixture: several repos; passing, failing, running, queued,
# cancelled and errored runs; steps with stats; logs with secrets already masked; deploys), a
# run another process is writing live, a damaged file and a locked one.
load helpers

ROOT="$BATS_TEST_DIRNAME/../.."
FIXTURE="$ROOT/tests/unit/test-history-fixture"
export LC_ALL=C.UTF-8

setup_file() {
	if [ ! -x "$FIXTURE" ]; then
		make -s -C "$ROOT" tests/unit/test-history-fixture >&2
	fi
	FX=$(mktemp -d /tmp/slipway-history-fx.XXXXXX)
	# the live process that owns the fixture's running and queued runs
	sleep 3600 3>&- &
	echo $! >"$FX/owner.pid"
	"$FIXTURE" fixture "$FX" "$(cat "$FX/owner.pid")"
	export FX
}

teardown_file() {
	kill "$(cat "$FX/owner.pid")" 2>/dev/null || true
	rm -rf "$FX"
}

setup() {
	T=$(mktemp -d /tmp/slipway-history.XXXXXX)
}

teardown() {
	if [ -f "$T/pids" ]; then
		while read -r pid; do
			kill -9 "$pid" 2>/dev/null || true
		done <"$T/pids"
	fi
	rm -rf "$T"
}

sw() {
	"$SLIPWAY" --data-dir "$FX" "$@"
}

# Starts a command in the background, remembered for teardown; $BG gets its pid.
bg() {
	"$@" 3>&- &
	BG=$!
	echo "$BG" >>"$T/pids"
}

# Waits (at most 30 s) until file $1 exists and, with $2, contains it.
wait_for() {
	for _ in $(seq 600); do
		if [ -e "$1" ] && { [ -z "${2:-}" ] || grep -qF -- "$2" "$1"; }; then
			return 0
		fi
		sleep 0.05
	done
	echo "timed out waiting for '$1' ${2:+to contain '$2'}" >&2
	return 1
}

# The display width of the text before $2 on line $1 (wide characters count two).
col_of() {
	local prefix="${1%%"$2"*}"
	printf '%s' "$prefix" | wc -L
}

@test "runs: every repo's runs newest first, columns aligned whatever the names" {
	run -0 sw runs
	[[ "${lines[0]}" == "RUN "*"STATUS "*"BRANCH "*"COMMIT "*"EVENT "*"STARTED "*"DURATION" ]]
	[ "${#lines[@]}" -eq 11 ]
	[[ "${lines[1]}" == "lib#2 "* ]]
	[[ "${lines[10]}" == "app#1 "* ]]
	status_col=$(col_of "${lines[0]}" STATUS)
	commit_col=$(col_of "${lines[0]}" COMMIT)
	event_col=$(col_of "${lines[0]}" EVENT)
	for line in "${lines[@]:1}"; do
		for state in queued running passed failed error cancelled interrupted; do
			[[ "$line" == *" $state "* ]] && break
		done
		[ "$(col_of "$line" "$state ")" -eq "$status_col" ]
		for c in 11111111 22222222 abcdef01; do
			[[ "$line" == *" $c "* ]] && break
		done
		[ "$(col_of "$line" "$c ")" -eq "$commit_col" ]
	done
	# the long repo name is whole, the long branch cut with an ellipsis, wide characters
	# kept and aligned
	grep -q '^team/a-rather-long-repository-name#2  passed ' <<<"$output"
	line=$(grep 'feature/an-extremely' <<<"$output")
	[[ "$line" == *"feature/an-extremely-long-branch-name-that-keep… "* ]]
	[[ "$line" != *"going-and-going"* ]]
	line=$(grep 'fix/' <<<"$output")
	[[ "$line" == *"fix/ünïcödé-宽字符 "* ]]
	[ "$(col_of "$line" "manual")" -eq "$event_col" ]
	# a tag run shows its tag; times are relative; durations as people read them
	grep -Eq '#3 +cancelled +v1\.0\.0 +abcdef01 +tag +20[0-9]{2}-[0-9]{2}-[0-9]{2} +9\.0s$' <<<"$output"
	grep -Eq '^app#1 +passed +main +11111111 +push +10m ago +1m02s$' <<<"$output"
	grep -Eq '^app#4 +running +main +abcdef01 +push +([0-9]+s|[0-9]+m) ago +[0-9.ms]+$' <<<"$output"
	grep -Eq '#4 +queued +main +abcdef01 +push +- +-$' <<<"$output"
	grep -Eq '#1 +error .* +3h ago +1\.0s$' <<<"$output"
	grep -Eq '#2 +passed .* +2d ago +1h02m$' <<<"$output"
}

@test "runs REPO, --limit, --status, --branch and --event filter; bad values are usage errors" {
	run -0 sw runs app
	[ "${#lines[@]}" -eq 5 ]
	[[ "${lines[1]}" == "app#4 "* && "${lines[4]}" == "app#1 "* ]]
	run -0 sw runs --limit 2
	[ "${#lines[@]}" -eq 3 ]
	run -0 sw runs -n 1 app
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == "app#4 "* ]]
	run -0 sw runs --status failed,error
	[ "${#lines[@]}" -eq 4 ]
	! grep -Eq ' (passed|running|queued|cancelled|interrupted) ' <<<"${output#*$'\n'}"
	run -0 sw runs app --status passed
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[1]}" == "app#3 "* && "${lines[2]}" == "app#1 "* ]]

	run -0 sw runs --branch feature/login
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[1]}" == "app#3 "* && "${lines[2]}" == "app#2 "* ]]
	run -0 sw runs -e rerun app
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == "app#3 "* ]]
	run -0 sw runs --event push --branch main --status passed,failed
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[1]}" == "lib#1 "* && "${lines[2]}" == "app#1 "* ]]
	run -0 sw runs --branch nope
	[ "${#lines[@]}" -eq 1 ]

	run -2 sw runs --status green
	[[ "$output" == *"unknown run status 'green'"* ]]
	run -2 sw runs --limit 0
	[[ "$output" == *"'0'"* ]]
	run -2 sw runs nope
	[[ "$output" == "slipway: no repo 'nope' in the history" ]]
	run -2 sw runs app lib
	[[ "$output" == *"unexpected argument 'lib'"* ]]
}

@test "runs --json: an array of runs with the API's field names" {
	run -0 sw runs --json
	jq -e 'type == "array" and length == 10' <<<"$output"
	jq -e '.[0] | keys_unsorted == ["id","repo","number","commit","branch","tag","event",
		"trigger","status","parent","queued_at","started_at","finished_at","duration_ms",
		"image_digest"]' <<<"$output"
	jq -e 'map(select(.repo == "app")) | length == 4' <<<"$output"
	jq -e '.[] | select(.repo == "app" and .number == 1) | .status == "passed" and
		.duration_ms == 62000 and .branch == "main" and .tag == null and
		(.image_digest | startswith("sha256:")) and
		(.started_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"))' <<<"$output"
	jq -e '.[] | select(.repo == "app" and .number == 3) | .parent == 2 and .event == "rerun"' \
		<<<"$output"
	jq -e '.[] | select(.status == "queued") | .started_at == null and .duration_ms == null' \
		<<<"$output"
	run -0 sw runs --json --status passed app
	jq -e 'length == 2 and all(.status == "passed")' <<<"$output"
}

@test "a run whose process died is interrupted at the next command" {
	run -0 sw runs lib
	grep -Eq '^lib#2 +interrupted ' <<<"$output"
	run -0 sw show lib#2
	grep -Eq '^build +interrupted ' <<<"$output"
	grep -q '^Error: .*the process running it (pid [0-9]*) is gone' <<<"$output"
	run -0 sw logs lib#2
	[[ "${lines[0]}" == "build   | compiling 3 of 9" ]]
	[[ "${lines[1]}" == "slipway | [slipway] run interrupted: the process running it"* ]]
	# runs whose owner lives stay as they are
	run -0 sw runs --json
	jq -e 'map(select(.status == "running")) | length == 1' <<<"$output"
	jq -e 'map(select(.status == "queued")) | length == 1' <<<"$output"
}

@test "show: the run, its steps with exit, duration, cpu and memory, its deploys" {
	run -0 sw show app#1
	[[ "${lines[0]}" == "Run:      app#1 (id 1)" ]]
	[[ "${lines[1]}" == "Status:   passed" ]]
	grep -qx 'Commit:   1111111122222222333333334444444455555555' <<<"$output"
	grep -qx 'Event:    push (trigger webhook)' <<<"$output"
	grep -q '^Image:    sha256:0123456789abcdef' <<<"$output"
	grep -qx 'Duration: 1m02s' <<<"$output"
	grep -Eq '^STEP +STATUS +EXIT +DURATION +CPU +MEM PEAK$' <<<"$output"
	grep -Eq '^image \(build\) +passed +0 +15\.0s +14\.2s +200 MiB$' <<<"$output"
	grep -Eq '^db \(service\) +passed +0 +45\.0s +900ms +30 MiB / 128 MiB$' <<<"$output"
	grep -Eq '^test +passed +0 +40\.0s +12\.5s +48 MiB / 256 MiB$' <<<"$output"
	grep -Eq '^DEPLOY +KIND +STATUS +RESPONSE +ATTEMPTS +DURATION +ERROR$' <<<"$output"
	grep -Eq '^staging +webhook +passed +200 +1 +800ms +-$' <<<"$output"
	grep -Eq '^announce +command +passed +- +1 ' <<<"$output"

	run -0 sw show lib#1
	grep -Eq '^build +failed \(oom\) +137 +12\.0s +11\.0s +64 MiB / 64 MiB$' <<<"$output"
	grep -Eq '^slow +failed \(timeout\) +143 +1m00s ' <<<"$output"
	grep -qx "Error:    step 'build' failed" <<<"$output"

	run -0 sw show app#3
	grep -qx 'Parent:   app#2 (id 2)' <<<"$output"
	grep -Eq '^staging +webhook +failed +502 +2 .*gave 502 after 2 attempts$' <<<"$output"

	run -0 sw show app#2
	grep -Eq '^package +skipped +- +- +- +-$' <<<"$output"
}

@test "show --json: the run with steps (and their kind) and deploys" {
	run -0 sw show app#1 --json
	jq -e '.repo == "app" and .number == 1 and .status == "passed" and .error == null' <<<"$output"
	jq -e '.steps | map(.name) == ["image","db","test","lint"]' <<<"$output"
	jq -e '.steps | map(.kind) == ["build","service","step","step"]' <<<"$output"
	jq -e '.steps[2] | .exit_code == 0 and .memory_peak_bytes == 50331648 and
		.memory_limit_bytes == 268435456 and .cpu_us == 12500000 and .oom_killed == false' \
		<<<"$output"
	jq -e '.deploys | map([.name, .kind, .status, .http_status]) ==
		[["staging","webhook","passed",200], ["announce","command","passed",null]]' <<<"$output"
	run -0 sw show lib#1 --json
	jq -e '.steps[0].oom_killed and .steps[1].timed_out and .error == "step '"'build'"' failed"' \
		<<<"$output"
}

@test "RUN is REPO#N, N of the only repo, or the run id; missing ones are named, exit 2" {
	run -0 sw show team/a-rather-long-repository-name#2
	[[ "${lines[0]}" == "Run:      team/a-rather-long-repository-name#2 (id 6)" ]]
	# several repos: a bare number is the run id
	run -0 sw show 9
	[[ "${lines[0]}" == "Run:      lib#1 (id 9)" ]]
	run -2 sw show app#99
	[ "$output" = "slipway: no run 'app#99'" ]
	run -2 sw show nope#1
	[ "$output" = "slipway: no run 'nope#1'" ]
	run -2 sw logs 999
	[[ "$output" == "slipway: no run with id 999"* ]]
	run -2 sw show 'app#x'
	[[ "$output" == "slipway: run 'app#x': expected REPO#NUMBER or NUMBER"* ]]
	run -2 sw show app#1/test
	[[ "$output" == "slipway: run 'app#1/test': expected"* ]]
	run -2 sw logs app#1/nope
	[ "$output" = "slipway: run 'app#1' has no step 'nope' (its steps: image, db, test, lint)" ]
	run -2 sw logs -f app#1/nope
	[[ "$output" == "slipway: run 'app#1' has no step 'nope'"* ]]
	run -2 sw show
	[[ "$output" == *"missing RUN"* ]]
	run -2 sw logs app#1 app#2
	[[ "$output" == *"expected one RUN[/STEP]"* ]]

	# one repo: a bare number is that repo's run number
	D="$T/one"
	bg "$FIXTURE" live "$D" passed
	wait_for "$D/ready"
	run -0 "$SLIPWAY" --data-dir "$D" logs 1/work
	[ "${lines[0]}" = "line 1" ]
	run -2 "$SLIPWAY" --data-dir "$D" show 2
	[ "$output" = "slipway: no run 'live#2'" ]
	# no history yet: readers say so and create nothing (a mistyped --data-dir stays unmade)
	run -2 "$SLIPWAY" --data-dir "$T/none" show 1
	[ "$output" = "slipway: no run '1': no history in '$T/none' (no slipway.db there)" ]
	run -2 "$SLIPWAY" --data-dir "$T/none" logs -f app#1
	[[ "$output" == "slipway: no run 'app#1': no history in"* ]]
	run -0 "$SLIPWAY" --data-dir "$T/none" runs
	[ "$output" = "RUN  STATUS  BRANCH  COMMIT  EVENT  STARTED  DURATION" ]
	run -0 "$SLIPWAY" --data-dir "$T/none" runs --json
	[ "$output" = "[]" ]
	run -2 "$SLIPWAY" --data-dir "$T/none" runs app
	[ "$output" = "slipway: no repo 'app' in the history" ]
	[ ! -e "$T/none" ]
	# an empty database: a bare number is a run id
	mkdir "$T/empty"
	"$FIXTURE" lock "$T/empty" 0
	run -2 "$SLIPWAY" --data-dir "$T/empty" show 1
	[ "$output" = "slipway: no run with id 1: the history is empty" ]
}

@test "logs: the stored lines in order, step prefixes, one step, -t, --json; secrets stay masked" {
	run -0 sw logs app#1
	[ "${lines[0]}" = "image   | STEP 1/3: FROM busybox" ]
	[ "${lines[1]}" = "test    | ok 1 - parses" ]
	[ "${lines[2]}" = "test    | warning: slow test" ]
	[ "${lines[3]}" = "test    | ok 2 - runs" ]
	[ "${lines[4]}" = "lint    | all clean" ]
	[ "${lines[5]}" = "slipway | [slipway] pushed registry.example.com/app:11111111" ]
	[ "${#lines[@]}" -eq 6 ]
	run -0 sw logs app#2/test
	[ "$output" = $'using token ********\nFAIL: login_test' ]
	run -0 sw logs -t app#2/test
	[[ "${lines[0]}" =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\ using\ token\ \*{8}$ ]]
	run -0 sw logs --json app#2
	[ "${#lines[@]}" -eq 2 ]
	for l in "${lines[@]}"; do
		jq -e 'keys_unsorted == ["id","time","step","stream","text"] and .step == "test"' <<<"$l"
	done
	jq -e '.stream == "stderr" and .text == "FAIL: login_test"' <<<"${lines[1]}"
	run -0 sw logs app#2/package
	[ -z "$output" ]
	# a reader that goes away early is no error
	run -0 bash -c '"$SLIPWAY" --data-dir "$FX" logs app#1 | head -1'
}

@test "logs -f follows a run another process writes, to the end; exit 0 when it passed" {
	D="$T/live"
	bg "$FIXTURE" live "$D" passed
	writer=$BG
	wait_for "$D/ready"
	bg timeout 60 "$SLIPWAY" --data-dir "$D" logs -f "$(cat "$D/ready")/work" >"$T/out" 2>"$T/err"
	follower=$BG
	wait_for "$T/out" "line 5"
	# the run is still live (the writer waits): what logs -f printed came while following
	kill -0 "$writer"
	# a step the live run does not have is a mistake said at once, not waited for
	run -2 timeout 20 "$SLIPWAY" --data-dir "$D" logs -f live#1/nope
	[ "$output" = "slipway: run 'live#1' has no step 'nope' (its steps: work)" ]
	run -0 "$SLIPWAY" --data-dir "$D" runs --json
	jq -e '.[0].status == "running"' <<<"$output"
	touch "$D/go"
	rc=0
	wait "$follower" || rc=$?
	[ "$rc" -eq 0 ]
	[ "$(cat "$T/out")" = "$(printf 'line %d\n' $(seq 10))" ]
	[ ! -s "$T/err" ]
}

@test "logs -f of a run that fails: every line, then exit 1 saying so" {
	D="$T/live"
	bg "$FIXTURE" live "$D" failed
	wait_for "$D/ready"
	bg timeout 60 "$SLIPWAY" --data-dir "$D" logs -f -t live#1 >"$T/out" 2>"$T/err"
	follower=$BG
	wait_for "$T/out" "line 5"
	touch "$D/go"
	rc=0
	wait "$follower" || rc=$?
	[ "$rc" -eq 1 ]
	[ "$(wc -l <"$T/out")" -eq 10 ]
	grep -Eq '^20[0-9-]{8}T[0-9:.]{12}Z work +\| line 10$' "$T/out"
	[ "$(cat "$T/err")" = "slipway: run 'live#1': failed" ]
	# a finished run: logs -f prints it and exits with its status at once
	run -1 "$SLIPWAY" --data-dir "$D" logs -f live#1
	[ "${#lines[@]}" -eq 11 ]
	run -0 sw logs -f app#1/test
	[ "${#lines[@]}" -eq 3 ]
}

@test "logs -f of a run whose process is killed ends, showing it interrupted" {
	D="$T/live"
	bg "$FIXTURE" live "$D" passed
	writer=$BG
	wait_for "$D/ready"
	bg timeout 60 "$SLIPWAY" --data-dir "$D" logs -f live#1 >"$T/out" 2>"$T/err"
	follower=$BG
	wait_for "$T/out" "line 5"
	kill -9 "$writer"
	rc=0
	wait "$follower" || rc=$?
	[ "$rc" -eq 1 ]
	grep -q '^slipway | \[slipway\] run interrupted: the process running it' "$T/out"
	[ "$(cat "$T/err")" = "slipway: run 'live#1': interrupted" ]
}

@test "a damaged database: a clear message naming the file, exit 3" {
	mkdir "$T/bad"
	head -c 4096 /dev/urandom >"$T/bad/slipway.db"
	cp "$T/bad/slipway.db" "$T/copy"
	for cmd in "runs" "show app#1" "logs app#1"; do
		run -3 "$SLIPWAY" --data-dir "$T/bad" $cmd
		[[ "$output" == *"'$T/bad/slipway.db'"*"damaged or not an SQLite database"* ]]
	done
	cmp "$T/bad/slipway.db" "$T/copy" # left untouched
}

@test "a locked database: readers wait for the lock, and name it when it stays" {
	D="$T/locked"
	"$FIXTURE" fixture "$D" "$(cat "$FX/owner.pid")"
	bg "$FIXTURE" lock "$D" 1
	wait_for "$D/locked"
	run -0 "$SLIPWAY" --data-dir "$D" runs app
	[ "${#lines[@]}" -eq 5 ]
	wait "$BG"
	rm "$D/locked"
	bg "$FIXTURE" lock "$D" 60
	wait_for "$D/locked"
	run -3 "$SLIPWAY" --data-dir "$D" runs
	[[ "$output" == *"database '$D/slipway.db' stayed locked by another process"* ]]
}

@test "status colours only on a terminal, and never with NO_COLOR" {
	run -0 sw runs
	[[ "$output" != *$'\e'* ]]
	run -0 sw show app#1
	[[ "$output" != *$'\e'* ]]
	# (finished runs only: a running one's duration moves between two calls)
	run -0 script -qec "'$SLIPWAY' --data-dir '$FX' runs app -s passed,failed" /dev/null
	[[ "$output" == *$'\e[32mpassed\e[0m'* ]]
	[[ "$output" == *$'\e[31mfailed\e[0m'* ]]
	# colour codes do not break the alignment
	plain=$(sed 's/\x1b\[[0-9;]*m//g; s/\r$//' <<<"$output")
	[ "$plain" = "$(sw runs app -s passed,failed)" ]
	run -0 script -qec "NO_COLOR=1 '$SLIPWAY' --data-dir '$FX' show app#1" /dev/null
	[[ "$output" != *$'\e'* ]]
}

@test "logs: a build's colours reach a terminal, other control sequences do not" {
	run -0 sw logs lib#1/build
	[ "${lines[0]}" = $'\e[31mred\e[0m and \e]0;pwned\a title\tend' ]
	[ "${lines[1]}" = $'\e[2Jcleared \u009b6n' ]
	run -0 script -qec "'$SLIPWAY' --data-dir '$FX' logs lib#1/build" /dev/null
	[ "${lines[0]}" = $'\e[31mred\e[0m and ?]0;pwned? title\tend\r' ]
	[ "${lines[1]}" = $'?[2Jcleared ?6n\r' ]
}

@test "help lists runs, show and logs" {
	run -0 "$SLIPWAY" help
	grep -Eq '^  runs +list runs' <<<"$output"
	grep -Eq '^  show +show a run' <<<"$output"
	grep -Eq '^  logs +print' <<<"$output"
	run -0 "$SLIPWAY" logs --help
	[[ "$output" == *"-f, --follow"* && "$output" == *"-t, --timestamps"* ]]
}

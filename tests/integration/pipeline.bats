#!/usr/bin/env bats
# slipway run: a repository's .slipway.yml end to end, as a user drives it.

load helpers
load pipeline-helpers
load registry-helpers

setup() { pipeline_setup; }
teardown() {
	registry_teardown
	pipeline_teardown
}

@test "a passing pipeline: steps run in order in the checked-out workspace, history records it" {
	commit_pipeline <<'Y'
steps:
  - name: first
    image: bb:1
    commands:
      - cat README
      - echo "commit $SLIPWAY_COMMIT_SHORT on $SLIPWAY_BRANCH run $SLIPWAY_RUN" > out.txt
  - name: second
    image: bb:1
    commands:
      - cat out.txt
      - pwd
Y
	run sw run --repo "$REPO"
	[ "$status" -eq 0 ]
	[[ "$output" == *"first"*"| hello from the repo"* ]]
	short=$(git -C "$REPO" rev-parse HEAD | cut -c1-8)
	[[ "$output" == *"second"*"| commit $short on main run 1"* ]]
	[[ "$output" == *"second"*"| /workspace"* ]]
	[[ "$output" == *"run app#1 passed"* ]]
	# the source repository is untouched, the workspace is gone
	[ ! -e "$REPO/out.txt" ]
	[ -z "$(ls "$DATA/work")" ]
	[ "$(sqlite3 "$DATA/slipway.db" "select status from runs")" = passed ]
	[ "$(sqlite3 "$DATA/slipway.db" "select group_concat(name || '=' || status, ' ') from steps")" = "first=passed second=passed" ]
}

@test "--json prints the run with its steps and their usage" {
	commit_pipeline <<'Y'
defaults:
  resources: { memory: 64M, pids: 100 }
steps:
  - name: only
    image: bb:1
    commands: [echo hi]
Y
	run_json
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = passed ]
	[ "$(jq -r .number <<<"$output")" = 1 ]
	[ "$(step_field only exit_code)" = 0 ]
	[ "$(step_field only memory_limit_bytes)" = $((64 << 20)) ]
	[ "$(step_field only memory_peak_bytes)" -gt 0 ]
}

@test "a failing step fails the run, skips its dependents, and independent steps still run" {
	commit_pipeline <<'Y'
steps:
  - name: build
    image: bb:1
    commands: [echo building, "false", echo never]
  - name: test
    image: bb:1
    commands: [echo tested]
  - name: lint
    image: bb:1
    depends_on: []
    commands: [echo linted]
  - name: after-test
    image: bb:1
    depends_on: [test]
    commands: [echo after]
Y
	run_json
	[ "$status" -eq 1 ]
	[ "$(jq -r .status <<<"$output")" = failed ]
	[ "$(step_field build status)" = failed ]
	[ "$(step_field build exit_code)" = 1 ]
	[ "$(step_field test status)" = skipped ]
	[ "$(step_field after-test status)" = skipped ]
	[ "$(step_field lint status)" = passed ]
	run sw logs app#1/build
	[[ "$output" == *"building"* ]]
	[[ "$output" != *"never"* ]]
}

@test "failure: ignore keeps the run green" {
	commit_pipeline <<'Y'
steps:
  - name: flaky
    image: bb:1
    failure: ignore
    commands: ["exit 3"]
  - name: next
    image: bb:1
    commands: [echo next]
Y
	run_json
	[ "$status" -eq 0 ]
	[ "$(step_field flaky status)" = failed ]
	[ "$(step_field flaky exit_code)" = 3 ]
	[ "$(step_field next status)" = passed ]
}

@test "steps without dependencies run at the same time" {
	# Each waits (up to 20 s) for the other to have started: only parallel steps pass.
	commit_pipeline <<'Y'
steps:
  - name: a
    image: bb:1
    depends_on: []
    commands:
      - touch a.started
      - for i in $(seq 200); do [ -e b.started ] && exit 0; sleep 0.1; done; exit 1
  - name: b
    image: bb:1
    depends_on: []
    commands:
      - touch b.started
      - for i in $(seq 200); do [ -e a.started ] && exit 0; sleep 0.1; done; exit 1
Y
	run_json --parallel 2
	[ "$status" -eq 0 ]
	[ "$(step_field a status)" = passed ]
	[ "$(step_field b status)" = passed ]
}

@test "an out-of-memory step is reported from the cgroup, the runner survives" {
	commit_pipeline <<'Y'
steps:
  - name: hog
    image: bb:1
    resources: { memory: 32M }
    commands:
      - dd if=/dev/zero of=/dev/null bs=100M count=1
  - name: after
    image: bb:1
    depends_on: []
    commands: [echo alive]
Y
	run_json
	[ "$status" -eq 1 ]
	[ "$(step_field hog status)" = failed ]
	[ "$(step_field hog oom_killed)" = true ]
	[ "$(step_field after status)" = passed ]
	run sw logs app#1/hog
	[[ "$output" == *"ran out of memory (limit 32 MiB)"* ]]
}

@test "a step that runs past its timeout is killed and marked timed out" {
	commit_pipeline <<'Y'
steps:
  - name: slow
    image: bb:1
    timeout: 1s
    commands: [sleep 30]
Y
	SECONDS=0
	run_json
	[ "$status" -eq 1 ]
	[ "$SECONDS" -lt 20 ]
	[ "$(step_field slow timed_out)" = true ]
	[ "$(step_field slow status)" = failed ]
}

@test "services are reachable from the steps by name, and nothing outside the run is" {
	port=$(free_port)
	python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1 &
	KILL_PIDS="$!"
	commit_pipeline <<Y
services:
  - name: web
    image: bb:1
    commands:
      - mkdir -p /www && echo "served by web" > /www/index.html
      - httpd -f -p 80 -h /www
steps:
  - name: fetch
    image: bb:1
    commands:
      - for i in \$(seq 100); do wget -q -O- http://web/ && break; sleep 0.1; done
      - if wget -q -T 2 -O- http://127.0.0.1:$port/ ; then echo "reached-\$((1+1))"; exit 1; fi
Y
	run sw run --repo "$REPO"
	[ "$status" -eq 0 ]
	[[ "$output" == *"fetch"*"| served by web"* ]]
	[[ "$output" != *"reached-2"* ]]
	[ "$(sqlite3 "$DATA/slipway.db" "select kind || ':' || status from steps where name = 'web'")" = service:passed ]
}

@test "secrets reach the step and never its logs" {
	sum=$(printf hunter2-s3cret | sha256sum | cut -c1-64)
	commit_pipeline <<Y
steps:
  - name: use
    image: bb:1
    environment:
      TOKEN: { from_secret: api_token }
    commands:
      - echo "token is \$TOKEN"
      - '[ "\$(printf %s "\$TOKEN" | sha256sum | cut -c1-64)" = $sum ]'
Y
	run sw run --repo "$REPO" --secret api_token=hunter2-s3cret
	[ "$status" -eq 0 ]
	[[ "$output" == *"token is ********"* ]]
	[[ "$output" != *"hunter2"* ]]
	run sw logs app#1
	[[ "$output" == *"token is ********"* ]]
	! grep -r -a -q hunter2 "$DATA"
}

@test "a missing secret is an input error before anything runs" {
	commit_pipeline <<'Y'
steps:
  - name: use
    image: bb:1
    environment:
      TOKEN: { from_secret: api_token }
    commands: [echo hi]
Y
	run sw run --repo "$REPO"
	[ "$status" -eq 2 ]
	[[ "$output" == *"secret 'api_token'"*"--secret api_token=VALUE"* ]]
	[ "$(sqlite3 "$DATA/slipway.db" "select count(*) from runs" 2>/dev/null || echo 0)" = 0 ]
}

@test "an invalid .slipway.yml is reported with its line and column, nothing runs" {
	commit_pipeline <<'Y'
steps:
  - name: one
    image: bb:1
    comands: [echo hi]
Y
	run sw run --repo "$REPO"
	[ "$status" -eq 2 ]
	[[ "$output" == *".slipway.yml:4:5:"*"comands"* ]]
	[ "$(sqlite3 "$DATA/slipway.db" "select count(*) from runs" 2>/dev/null || echo 0)" = 0 ]
}

@test "a commit without .slipway.yml is a clear error" {
	git -C "$REPO" add README
	git -C "$REPO" commit -qm plain
	run sw run --repo "$REPO"
	[ "$status" -eq 2 ]
	[[ "$output" == *"has no .slipway.yml"* ]]
}

@test "when: filters the pipeline and its steps by branch, event and changed paths" {
	commit_pipeline <<'Y'
steps:
  - name: always
    image: bb:1
    commands: [echo always]
  - name: release-only
    image: bb:1
    when: { branch: "release/*" }
    commands: [echo release]
  - name: docs-changed
    image: bb:1
    when: { path: ["docs/**"] }
    commands: [echo docs]
  - name: on-tag
    image: bb:1
    when: { event: tag }
    commands: [echo tag]
Y
	run_json
	[ "$status" -eq 0 ]
	[ "$(step_field always status)" = passed ]
	[ "$(step_field release-only status)" = skipped ]
	[ "$(step_field docs-changed status)" = skipped ]
	[ "$(step_field on-tag status)" = skipped ]
	mkdir -p "$REPO/docs" && echo doc >"$REPO/docs/x.md"
	git -C "$REPO" add -A && git -C "$REPO" commit -qm docs
	run_json --branch release/1.0
	[ "$(step_field release-only status)" = passed ]
	[ "$(step_field docs-changed status)" = passed ]
	[ "$(step_field on-tag status)" = skipped ]
}

@test "a pipeline whose when does not match records no run" {
	commit_pipeline <<'Y'
when: { branch: production }
steps:
  - name: s
    image: bb:1
    commands: [echo hi]
Y
	run sw run --repo "$REPO"
	[ "$status" -eq 0 ]
	[[ "$output" == *"skipped"* ]]
	[ "$(sqlite3 "$DATA/slipway.db" "select count(*) from runs" 2>/dev/null || echo 0)" = 0 ]
}

@test "a webhook deploy posts the run, signed with the secret; a failed run deploys nothing" {
	start_receiver "$T/rx"
	commit_pipeline <<Y
steps:
  - name: test
    image: bb:1
    commands: [echo ok]
deploy:
  - name: staging
    when: { branch: main }
    webhook: { url: "$RECEIVER_URL", secret: { from_secret: deploy_key } }
  - name: prod
    when: { branch: production }
    webhook: { url: "$RECEIVER_URL" }
Y
	run_json --secret deploy_key=k3y-value
	[ "$status" -eq 0 ]
	[ "$(jq -r '.deploys[0].name + " " + .deploys[0].status + " " + (.deploys[0].http_status|tostring)' <<<"$output")" = "staging passed 200" ]
	[ "$(jq -r '.deploys | length' <<<"$output")" = 1 ]
	[ -f "$T/rx/body.1" ] && [ ! -f "$T/rx/body.2" ]
	[ "$(jq -r .repo "$T/rx/body.1")" = app ]
	[ "$(jq -r .commit "$T/rx/body.1")" = "$(git -C "$REPO" rev-parse HEAD)" ]
	[ "$(jq -r .status "$T/rx/body.1")" = passed ]
	want=$(openssl dgst -sha256 -hmac k3y-value -hex <"$T/rx/body.1" | sed 's/.*= //')
	grep -qi "^X-Slipway-Signature-256: sha256=$want" "$T/rx/headers.1"

	# a failing run must not deploy
	sed -i 's/echo ok/exit 1/' "$REPO/.slipway.yml"
	git -C "$REPO" commit -qam fail
	run_json --secret deploy_key=k3y-value
	[ "$status" -eq 1 ]
	[ ! -f "$T/rx/body.2" ]
}

@test "a command deploy runs like a step with its secrets" {
	commit_pipeline <<'Y'
steps:
  - name: test
    image: bb:1
    commands: [echo ok]
deploy:
  - name: announce
    image: bb:1
    environment: { KEY: { from_secret: k } }
    commands: ['echo "deploying $SLIPWAY_COMMIT_SHORT with $KEY"']
Y
	run sw run --repo "$REPO" --secret k=topsecretvalue
	[ "$status" -eq 0 ]
	[[ "$output" == *"announce"*"| deploying "*" with ********"* ]]
	[[ "$output" != *topsecretvalue* ]]
}

@test "caches persist across runs of a repo" {
	commit_pipeline <<'Y'
steps:
  - name: count
    image: bb:1
    cache: [.cache/counter]
    commands:
      - echo x >> .cache/counter/runs
      - echo "runs so far $(wc -l < .cache/counter/runs)"
Y
	run sw run --repo "$REPO"
	[[ "$output" == *"runs so far 1"* ]]
	run sw run --repo "$REPO"
	[[ "$output" == *"runs so far 2"* ]]
}

@test "rerun runs the same commit again as a child of the first run" {
	commit_pipeline <<'Y'
steps:
  - name: s
    image: bb:1
    commands: ['echo "event $SLIPWAY_EVENT"']
Y
	run sw run --repo "$REPO"
	[ "$status" -eq 0 ]
	git -C "$REPO" commit -q --allow-empty -m later
	run sw rerun app#1
	[ "$status" -eq 0 ]
	[[ "$output" == *"event rerun"* ]]
	[[ "$output" == *"run app#2 passed"* ]]
	[ "$(sqlite3 "$DATA/slipway.db" "select parent_id from runs where number = 2")" = \
		"$(sqlite3 "$DATA/slipway.db" "select id from runs where number = 1")" ]
	[ "$(sqlite3 "$DATA/slipway.db" "select count(distinct commit_hash) from runs")" = 1 ]
	[ "$(sqlite3 "$DATA/slipway.db" "select event from runs where number = 2")" = rerun ]
}

@test "slipway cancel stops a live run: its containers end, it is recorded cancelled" {
	commit_pipeline <<'Y'
steps:
  - name: long
    image: bb:1
    commands: [echo started, sleep 600]
  - name: next
    image: bb:1
    commands: [echo never]
Y
	sw run --repo "$REPO" >"$T/out" 2>&1 &
	pid=$!
	KILL_PIDS="$pid"
	for _ in $(seq 200); do grep -q "| started" "$T/out" && break; sleep 0.1; done
	run sw ps
	[[ "$output" == *"app#1"*"running"*"long"* ]]
	run sw cancel app#1
	[ "$status" -eq 0 ]
	[[ "$output" == *"cancelled"* ]]
	wait "$pid" || rc=$?
	[ "${rc:-0}" -eq 143 ]
	[ "$(sqlite3 "$DATA/slipway.db" "select group_concat(name || '=' || status, ' ') from steps")" = "long=cancelled next=cancelled" ]
	! pgrep -f "sleep 600"
}

@test "Ctrl-C (SIGINT) cancels the run" {
	commit_pipeline <<'Y'
steps:
  - name: long
    image: bb:1
    commands: [echo started, sleep 600]
Y
	# a background job ignores SIGINT unless told otherwise
	env --default-signal=INT "$SLIPWAY" --data-dir "$DATA" run --repo "$REPO" >"$T/out" 2>&1 &
	pid=$!
	KILL_PIDS="$pid"
	for _ in $(seq 200); do grep -q "| started" "$T/out" && break; sleep 0.1; done
	kill -INT "$pid"
	wait "$pid" || rc=$?
	[ "${rc:-0}" -eq 130 ]
	[ "$(sqlite3 "$DATA/slipway.db" "select status from runs")" = cancelled ]
}

@test "kill -9 of slipway: the run is found interrupted and nothing of it remains" {
	commit_pipeline <<'Y'
services:
  - name: svc
    image: bb:1
    commands: [sleep 700]
steps:
  - name: long
    image: bb:1
    commands: [echo started, sleep 601]
Y
	"$SLIPWAY" --data-dir "$DATA" run --repo "$REPO" >"$T/out" 2>&1 &
	pid=$!
	for _ in $(seq 200); do grep -q "| started" "$T/out" && break; sleep 0.1; done
	kill -9 "$pid"
	wait "$pid" || true
	run sw ps
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$DATA/slipway.db" "select status from runs")" = interrupted ]
	sw prune >/dev/null
	for _ in $(seq 50); do pgrep -f "sleep 60[01]|sleep 700" >/dev/null || break; sleep 0.1; done
	! pgrep -f "sleep 601"
	! pgrep -f "sleep 700"
	! grep -q "$DATA" /proc/self/mountinfo
	[ -z "$(ls "$DATA/work" 2>/dev/null)" ]
}

@test "network: host is refused for repos not marked trusted" {
	commit_pipeline <<'Y'
steps:
  - name: h
    image: bb:1
    network: host
    commands: [echo hi]
Y
	run_json
	[ "$status" -eq 1 ]
	[ "$(step_field h status)" = error ]
	run sw logs app#1/h
	[[ "$output" == *"only trusted repos"* ]]
}

@test "run usage errors exit 2" {
	run sw run --bogus
	[ "$status" -eq 2 ]
	run sw run --repo "$T/nonexistent"
	[ "$status" -eq 2 ]
	run sw run --event sideways
	[ "$status" -eq 2 ]
	run sw cancel nosuch#1
	[ "$status" -eq 2 ]
}

@test "the pipeline's image is built from the commit's Dockerfile, used by the steps and pushed" {
	registry_start reg
	cat >"$REPO/Dockerfile" <<'D'
FROM bb:1
COPY README /app/README
RUN echo "built in a container" > /app/built
ENV APP_MODE=test
D
	commit_pipeline <<Y
image:
  tags: ["\${SLIPWAY_COMMIT_SHORT}", latest]
  push: 127.0.0.1:$reg_PORT/team/app
steps:
  - name: check
    commands:
      - cat /app/built /app/README
      - 'echo "mode \$APP_MODE image \$SLIPWAY_IMAGE"'
Y
	short=$(git -C "$REPO" rev-parse HEAD | cut -c1-8)
	run_json
	[ "$status" -eq 0 ]
	digest=$(jq -r .image_digest <<<"$output")
	[[ "$digest" == sha256:* ]]
	[ "$(step_field image status)" = passed ]
	[ "$(step_field check status)" = passed ]
	run sw logs app#1/check
	[[ "$output" == *"built in a container"* ]]
	[[ "$output" == *"hello from the repo"* ]]
	[[ "$output" == *"mode test image 127.0.0.1:$reg_PORT/team/app:$short"* ]]
	# the image landed in the registry, under both tags, with the digest the run recorded
	run skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$reg_PORT/team/app:$short"
	[ "$status" -eq 0 ]
	[ "sha256:$(printf '%s' "$output" | sha256sum | cut -d' ' -f1)" = "$digest" ]
	run skopeo inspect --tls-verify=false "docker://127.0.0.1:$reg_PORT/team/app:latest"
	[ "$status" -eq 0 ]
}

@test "a failing Dockerfile fails the run before any step; --no-push pushes nothing" {
	registry_start reg
	cat >"$REPO/Dockerfile" <<'D'
FROM bb:1
RUN echo compiling && exit 7
D
	commit_pipeline <<Y
image:
  push: 127.0.0.1:$reg_PORT/team/app
steps:
  - name: never
    commands: [echo never]
Y
	run_json
	[ "$status" -eq 1 ]
	[ "$(step_field image status)" = failed ]
	[ "$(step_field never status)" = skipped ]
	printf 'FROM bb:1\n' >"$REPO/Dockerfile"
	git -C "$REPO" commit -qam fixed
	run_json --no-push
	[ "$status" -eq 0 ]
	! grep -q 'PUT /v2/team/app/manifests' "$reg_LOG"
}

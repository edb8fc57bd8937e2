# Helpers for pipeline.bats: a data dir with a busybox image, a git repo per test, and a
# webhook receiver.

pipeline_setup() {
	T="$BATS_TEST_TMPDIR"
	DATA="$T/data"
	REPO="$T/app"
	export T DATA REPO
	mkdir -p "$DATA"
	if [ ! -f "$BATS_FILE_TMPDIR/bb.tar" ]; then
		local r="$BATS_FILE_TMPDIR/bbroot"
		mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root"
		cp /bin/busybox "$r/bin/busybox"
		for a in $(/bin/busybox --list); do
			[ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
		done
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$r/etc/passwd"
		printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
		chmod 1777 "$r/tmp"
		tar -C "$r" -cf "$BATS_FILE_TMPDIR/bb.tar" .
	fi
	sw image import "$BATS_FILE_TMPDIR/bb.tar" bb:1 >/dev/null
	git init -q -b main "$REPO"
	git -C "$REPO" config user.email t@example.com
	git -C "$REPO" config user.name tester
	echo "hello from the repo" >"$REPO/README"
}

pipeline_teardown() {
	local p
	# Stop a receiver or a backgrounded run the test started.
	for p in ${KILL_PIDS:-}; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	"$SLIPWAY" --data-dir "$DATA" prune >/dev/null 2>&1 || true
	local m
	for m in $(awk -v t="$T" '$5 ~ "^"t {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
}

sw() {
	"$SLIPWAY" --data-dir "$DATA" "$@"
}

# commit_pipeline: .slipway.yml from stdin, committed.
commit_pipeline() {
	cat >"$REPO/.slipway.yml"
	git -C "$REPO" add -A
	git -C "$REPO" commit -qm "${1:-pipeline}"
}

# Runs the pipeline with --json; sets $status and $output (the run's JSON).
run_json() {
	run --separate-stderr "$SLIPWAY" --data-dir "$DATA" run --repo "$REPO" --json "$@"
}

step_field() { # step_field STEP FIELD  (from $output)
	jq -r --arg s "$1" ".steps[] | select(.name == \$s) | .$2" <<<"$output"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_receiver DIR: an HTTP server on loopback that stores each POST's headers and body in
# DIR and answers ${RECEIVER_STATUS:-200}; sets RECEIVER_URL.
start_receiver() {
	local dir="$1" port
	mkdir -p "$dir"
	port=$(free_port)
	python3 - "$dir" "$port" "${RECEIVER_STATUS:-200}" <<'PY' &
import http.server, sys, os
d, port, code = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
n = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        n[0] += 1
        with open(os.path.join(d, 'body.%d' % n[0]), 'wb') as f: f.write(body)
        with open(os.path.join(d, 'headers.%d' % n[0]), 'w') as f: f.write(str(self.headers))
        self.send_response(code); self.send_header('Content-Length', '2'); self.end_headers()
        self.wfile.write(b'ok')
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', port), H).serve_forever()
PY
	KILL_PIDS="${KILL_PIDS:-} $!"
	RECEIVER_URL="http://127.0.0.1:$port/hook"
	for _ in $(seq 50); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

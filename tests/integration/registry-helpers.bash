# Helpers for registry.bats: real Distribution registries (docker-registry) on free loopback
# ports with their own storage, htpasswd (bcrypt) or token auth, a test token server, and the
# cleanup that stops every one of them in teardown (also after a failure).

REG_HELPERS="$BATS_TEST_DIRNAME/../helpers-registry"

# registry_start NAME [none|basic|token]: starts a registry; sets NAME_PORT, NAME_LOG (its
# access log and messages), NAME_DIR. Basic: user "alice" password "s3cret-pw". Token: the same
# user and "reader" (password "read-pw", pull only), through a token server started alongside
# (its log: NAME_TOKEN_LOG).
registry_start() {
	local name="$1" mode="${2:-none}" dir="$T/reg-$1" port=""
	mkdir -p "$dir/storage"
	{
		echo "version: 0.1"
		echo "log: {level: info, formatter: text, accesslog: {disabled: false}}"
		echo "storage: {filesystem: {rootdirectory: $dir/storage}, delete: {enabled: true}}"
		echo "http: {addr: '127.0.0.1:${3:-0}', secret: slipway-test-secret}"
	} >"$dir/config.yml"
	case "$mode" in
	basic)
		htpasswd -Bbc "$dir/htpasswd" alice s3cret-pw 2>/dev/null
		echo "auth: {htpasswd: {realm: slipway-test, path: $dir/htpasswd}}" >>"$dir/config.yml"
		;;
	token)
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
			-days 2 -subj "/CN=slipway-test-token" 2>/dev/null
		: >"$dir/token.log"
		(/usr/bin/python3 "$REG_HELPERS/token-server.py" "$dir/token.port" "$dir/key.pem" \
			"$dir/cert.pem" "alice:s3cret-pw,reader:read-pw" "$dir/token.log" </dev/null >"$dir/token.out" 2>&1 3>&- &
			echo $! >>"$T/registry-pids")
		for _ in $(seq 100); do [ -s "$dir/token.port" ] && break; sleep 0.05; done
		[ -s "$dir/token.port" ] || { cat "$dir/token.out"; return 1; }
		echo "auth: {token: {realm: 'http://127.0.0.1:$(cat "$dir/token.port")/token', service: slipway-test-registry, issuer: slipway-test-issuer, rootcertbundle: $dir/cert.pem}}" >>"$dir/config.yml"
		eval "${name}_TOKEN_LOG=\$dir/token.log"
		;;
	esac
	: >"$dir/log"
	# In a subshell: not a job of the test's shell, so killing it prints nothing.
	(docker-registry serve "$dir/config.yml" </dev/null >>"$dir/log" 2>&1 3>&- &
		echo $! >"$dir/pid")
	cat "$dir/pid" >>"$T/registry-pids"
	for _ in $(seq 200); do
		port="$(grep -o 'listening on 127.0.0.1:[0-9]*' "$dir/log" | head -1 | cut -d: -f2)"
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { cat "$dir/log"; return 1; }
	eval "${name}_PORT=\$port ${name}_LOG=\$dir/log ${name}_DIR=\$dir"
}

# proxy_start NAME UPSTREAM_PORT RULES: a flaky front (tests/helpers-registry/flaky-proxy.py)
# for the registry on UPSTREAM_PORT; sets NAME_PORT and NAME_LOG (one line per request).
proxy_start() {
	local name="$1" dir="$T/proxy-$1"
	mkdir -p "$dir"
	: >"$dir/log"
	(/usr/bin/python3 "$REG_HELPERS/flaky-proxy.py" "$dir/port" "$2" "$3" "$dir/log" \
		</dev/null >"$dir/out" 2>&1 3>&- &
		echo $! >>"$T/registry-pids")
	for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
	[ -s "$dir/port" ] || { cat "$dir/out"; return 1; }
	eval "${name}_PORT=\$(cat \"\$dir/port\") ${name}_LOG=\$dir/log"
}

# registry_stop NAME: kills that registry (SIGKILL: as if the machine lost it).
registry_stop() {
	local dir="$T/reg-$1"
	local pid
	pid="$(cat "$dir/pid")"
	kill -9 "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
}

registry_teardown() {
	local pid
	[ -f "$T/registry-pids" ] || return 0
	while read -r pid; do
		kill -9 "$pid" 2>/dev/null || true
	done <"$T/registry-pids"
	while read -r pid; do
		while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
	done <"$T/registry-pids"
	rm -f "$T/registry-pids"
}

# The access log lines (combined format) that upload blob bytes: PATCH, or PUT of an upload.
upload_lines() {
	grep -E '"(PATCH|PUT) /v2/[^ ]*/blobs/uploads/' "$1" || true
}

# A small busybox image imported into $DATA as NAME:TAG, with a file of random bytes so
# every test's image differs.
make_test_image() {
	local ref="$1" r="$T/rootfs-$RANDOM"
	mkdir -p "$r/bin" "$r/etc"
	cp /bin/busybox "$r/bin/busybox"
	ln -s busybox "$r/bin/sh"
	head -c "${2:-100000}" /dev/urandom >"$r/etc/random.bin"
	echo "hello from $ref" >"$r/etc/motd"
	sw image import --compression gzip "$r" "$ref" >/dev/null
}

# upload_blob PORT REPO FILE: a monolithic upload with curl (POST, then PUT ?digest= with the
# bytes); prints the digest.
upload_blob() {
	local port="$1" repo="$2" file="$3" d loc
	d="sha256:$(sha256sum "$file" | cut -d' ' -f1)"
	loc="$(curl -fsS -X POST -D - -o /dev/null "http://127.0.0.1:$port/v2/$repo/blobs/uploads/" |
		tr -d '\r' | sed -n 's/^Location: //Ip')"
	case "$loc" in /*) loc="http://127.0.0.1:$port$loc" ;; esac
	curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$file" \
		"$loc&digest=$d" >/dev/null
	echo "$d"
}

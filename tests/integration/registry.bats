#!/usr/bin/env bats
# slipway image push/pull, login/logout against the real Distribution registry started here on
# free loopback ports: no auth, htpasswd Basic auth, Bearer tokens from a test token server;
# interop with skopeo both ways; blob reuse seen in the registry's access log; failures.
load helpers
load image-helpers
load registry-helpers

setup() {
	image_setup
	export HOME="$T/home" DOCKER_CONFIG="$T/docker"
	mkdir -p "$HOME"
}

teardown() {
	registry_teardown
	image_teardown
}

local_digest() {
	sw image inspect "$1" | jq -r .digest
}

@test "push, then skopeo inspects and copies it, and a pull into a fresh data dir gives the same image" {
	registry_start r
	make_test_image demo/app:v1
	want="$(local_digest demo/app:v1)"
	run --separate-stderr sw image push demo/app:v1 "127.0.0.1:$r_PORT/team/app:v1"
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
	[[ "$stderr" == *"2 blobs uploaded"* ]]
	# the upload as the registry saw it: POST, PATCH, PUT ?digest=, then the manifest
	grep -q '"POST /v2/team/app/blobs/uploads/ ' "$r_LOG"
	grep -q '"PATCH /v2/team/app/blobs/uploads/' "$r_LOG"
	grep -q '"PUT /v2/team/app/blobs/uploads/[^ ]*digest=sha256' "$r_LOG"
	grep -q '"PUT /v2/team/app/manifests/v1 ' "$r_LOG"

	run skopeo inspect --tls-verify=false "docker://127.0.0.1:$r_PORT/team/app:v1"
	[ "$status" -eq 0 ]
	[ "$(jq -r .Digest <<<"$output")" = "$want" ]
	run skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$r_PORT/team/app:v1"
	[ "$(jq -r .mediaType <<<"$output")" = application/vnd.oci.image.manifest.v1+json ]
	skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$r_PORT/team/app:v1" "oci:$T/oci:app"
	umoci unpack --image "$T/oci:app" "$T/bundle" >/dev/null
	[ "$(cat "$T/bundle/rootfs/etc/motd")" = "hello from demo/app:v1" ]

	DATA="$T/data2"
	run --separate-stderr sw image pull "127.0.0.1:$r_PORT/team/app:v1"
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
	[ "$(local_digest "127.0.0.1:$r_PORT/team/app:v1")" = "$want" ]
	# unpacked in the same pass: the layer dir is there before anything asks for it
	layer="$(sw image inspect --layers "127.0.0.1:$r_PORT/team/app:v1")"
	[ "$(cat "$layer/etc/motd")" = "hello from demo/app:v1" ]
	cmp "$layer/bin/busybox" /bin/busybox
	[ -z "$(ls -A "$DATA/tmp")" ]
}

@test "re-push of an unchanged image uploads no blob bytes; a second repository mounts" {
	registry_start r
	make_test_image demo/app:v1 3000000
	sw image push demo/app:v1 "127.0.0.1:$r_PORT/team/app:v1"
	before="$(upload_lines "$r_LOG" | wc -l)"
	[ "$before" -ge 2 ]
	run --separate-stderr sw --json image push demo/app:v1 "127.0.0.1:$r_PORT/team/app:v1"
	[ "$status" -eq 0 ]
	[ "$(jq -r .blobs_present <<<"$output")" = 2 ]
	[ "$(jq -r .blobs_uploaded <<<"$output")" = 0 ]
	[ "$(jq -r .bytes_sent <<<"$output")" -lt 4096 ]
	[ "$(upload_lines "$r_LOG" | wc -l)" -eq "$before" ]

	run --separate-stderr sw --json image push demo/app:v1 "127.0.0.1:$r_PORT/other/app:v2"
	[ "$status" -eq 0 ]
	[ "$(jq -r .blobs_mounted <<<"$output")" = 2 ]
	[ "$(jq -r .blobs_uploaded <<<"$output")" = 0 ]
	[ "$(upload_lines "$r_LOG" | wc -l)" -eq "$before" ]
	grep -q '"POST /v2/other/app/blobs/uploads/?mount=sha256:[0-9a-f]*&from=team/app ' "$r_LOG"
	run skopeo inspect --tls-verify=false "docker://127.0.0.1:$r_PORT/other/app:v2"
	[ "$status" -eq 0 ]
}

@test "images pushed by skopeo (Docker schema 2) are pulled by slipway; --format docker pushes schema 2" {
	registry_start r
	make_test_image demo/app:v1
	skopeo copy -q --dest-tls-verify=false --format v2s2 "oci:$DATA/images:demo/app:v1" \
		"docker://127.0.0.1:$r_PORT/sk/app:v1"
	want="$(skopeo inspect --tls-verify=false "docker://127.0.0.1:$r_PORT/sk/app:v1" | jq -r .Digest)"
	DATA="$T/data2"
	run --separate-stderr sw image pull "127.0.0.1:$r_PORT/sk/app:v1"
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
	[ "$(sw image inspect "127.0.0.1:$r_PORT/sk/app:v1" | jq -r .manifest.mediaType)" = \
		application/vnd.docker.distribution.manifest.v2+json ]
	layer="$(sw image inspect --layers "127.0.0.1:$r_PORT/sk/app:v1")"
	[ "$(cat "$layer/etc/motd")" = "hello from demo/app:v1" ]

	DATA="$T/data"
	run --separate-stderr sw image push --format docker demo/app:v1 "127.0.0.1:$r_PORT/dk/app:v1"
	[ "$status" -eq 0 ]
	run skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$r_PORT/dk/app:v1"
	[ "$(jq -r .mediaType <<<"$output")" = application/vnd.docker.distribution.manifest.v2+json ]
	[ "$(jq -r .config.mediaType <<<"$output")" = application/vnd.docker.container.image.v1+json ]
	skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$r_PORT/dk/app:v1" "oci:$T/oci2:x"
}

@test "an index: linux/amd64 by default, --platform picks another, a missing platform is named" {
	registry_start r
	make_test_image demo/app:v1
	d="$(sw image push demo/app:v1 "127.0.0.1:$r_PORT/multi/app:one")"
	size="$(skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$r_PORT/multi/app:one" | wc -c)"
	make_test_image demo/arm:v1
	d2="$(sw image push demo/arm:v1 "127.0.0.1:$r_PORT/multi/app:two")"
	size2="$(skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$r_PORT/multi/app:two" | wc -c)"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"os":"linux","architecture":"amd64"}}]}' \
		"$d2" "$size2" "$d" "$size" >"$T/index.json"
	curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' \
		--data-binary @"$T/index.json" "http://127.0.0.1:$r_PORT/v2/multi/app/manifests/latest"
	DATA="$T/data2"
	run --separate-stderr sw image pull "127.0.0.1:$r_PORT/multi/app"
	[ "$status" -eq 0 ]
	[ "$output" = "$d" ]
	run --separate-stderr sw image pull --platform linux/arm64 "127.0.0.1:$r_PORT/multi/app:latest"
	[ "$status" -eq 0 ]
	[ "$output" = "$d2" ]
	run --separate-stderr sw image pull --platform windows/amd64 "127.0.0.1:$r_PORT/multi/app"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"no image for platform 'windows/amd64'"*"linux/arm64/v8, linux/amd64"* ]]
	# by digest: tagged NAME:sha256-<hex>
	run --separate-stderr sw image pull "127.0.0.1:$r_PORT/multi/app@$d"
	[ "$status" -eq 0 ]
	sw image inspect "127.0.0.1:$r_PORT/multi/app@$d" >/dev/null
	run --separate-stderr sw image pull "127.0.0.1:$r_PORT/multi/app:nope"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"manifest 'nope' not found in 'multi/app'"* ]]
}

@test "pulled images run: one pushed by slipway, one pushed by skopeo" {
	registry_start r
	make_test_image demo/app:v1
	sw image push demo/app:v1 "127.0.0.1:$r_PORT/team/app:v1" >/dev/null 2>&1
	skopeo copy -q --dest-tls-verify=false "oci:$DATA/images:demo/app:v1" \
		"docker://127.0.0.1:$r_PORT/sk/app:v1"
	DATA="$T/data2"
	sw image pull "127.0.0.1:$r_PORT/team/app:v1" >/dev/null 2>&1
	sw image pull "127.0.0.1:$r_PORT/sk/app:v1" >/dev/null 2>&1
	run sw container run "127.0.0.1:$r_PORT/team/app:v1" /bin/sh -c 'cat /etc/motd; ls /proc/1/ >/dev/null && echo isolated'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hello from demo/app:v1" ]
	[ "${lines[1]}" = isolated ]
	run sw container run "127.0.0.1:$r_PORT/sk/app:v1" /bin/busybox wc -c /etc/random.bin
	[ "$status" -eq 0 ]
	[[ "$output" == "100000 /etc/random.bin" ]]
}

@test "a three-layer image made by hand: pulled, whiteouts applied, the result runs" {
	registry_start r
	mkdir -p "$T/l1/etc" "$T/l1/bin" "$T/l2/etc" "$T/l3/etc"
	cp /bin/busybox "$T/l1/bin/busybox"
	ln -s busybox "$T/l1/bin/sh"
	echo one >"$T/l1/etc/one"
	echo gone >"$T/l1/etc/gone"
	echo two >"$T/l2/etc/two"
	: >"$T/l2/etc/.wh.gone"
	echo three >"$T/l3/etc/three"
	layers="" diffs=""
	for i in 1 2 3; do
		tar -C "$T/l$i" -cf "$T/l$i.tar" .
		gzip -n -c "$T/l$i.tar" >"$T/l$i.tar.gz"
		d="$(upload_blob "$r_PORT" hand/made "$T/l$i.tar.gz")"
		layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$d\",\"size\":$(stat -c %s "$T/l$i.tar.gz")}"
		diffs="$diffs${diffs:+,}\"sha256:$(sha256sum "$T/l$i.tar" | cut -d' ' -f1)\""
	done
	printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$diffs" >"$T/config.json"
	c="$(upload_blob "$r_PORT" hand/made "$T/config.json")"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
		"$c" "$(stat -c %s "$T/config.json")" "$layers" >"$T/manifest.json"
	curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
		--data-binary @"$T/manifest.json" "http://127.0.0.1:$r_PORT/v2/hand/made/manifests/v1"

	run --separate-stderr sw --json image pull "127.0.0.1:$r_PORT/hand/made:v1"
	[ "$status" -eq 0 ]
	[ "$(jq -r .blobs_downloaded <<<"$output")" = 3 ]
	[ "$(jq -r .digest <<<"$output")" = "sha256:$(sha256sum "$T/manifest.json" | cut -d' ' -f1)" ]
	run sw image inspect --layers "127.0.0.1:$r_PORT/hand/made:v1"
	[ "${#lines[@]}" -eq 3 ]
	# the middle layer's whiteout is an overlay whiteout (a 0/0 character device)
	[ "$(stat -c '%F %t %T' "${lines[1]}/etc/gone")" = "character special file 0 0" ]
	run sw container run "127.0.0.1:$r_PORT/hand/made:v1" /bin/sh -c 'cat /etc/one /etc/two /etc/three; ls /etc'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = one ] && [ "${lines[1]}" = two ] && [ "${lines[2]}" = three ]
	[[ "$output" != *gone* ]]
	# pulled again: nothing to download
	run --separate-stderr sw --json image pull "127.0.0.1:$r_PORT/hand/made:v1"
	[ "$(jq -r .blobs_cached <<<"$output")" = 3 ]
	[ "$(jq -r .blobs_downloaded <<<"$output")" = 0 ]
	# and pushed elsewhere in the same registry: every blob is mounted
	run --separate-stderr sw --json image push "127.0.0.1:$r_PORT/hand/made:v1" "127.0.0.1:$r_PORT/copy/made:v1"
	[ "$status" -eq 0 ]
	[ "$(jq -r .blobs_mounted <<<"$output")" = 4 ]
	[ "$(jq -r .digest <<<"$output")" = "sha256:$(sha256sum "$T/manifest.json" | cut -d' ' -f1)" ]
}

@test "Basic auth: login checks the password first, saves it 0600, never shows it; wrong password is exit 1 without a retry storm" {
	registry_start r basic
	make_test_image demo/app:v1
	run --separate-stderr sw image push demo/app:v1 "127.0.0.1:$r_PORT/team/app:v1"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"requires authentication"*"slipway login 127.0.0.1:$r_PORT"* ]]

	n0="$(grep -c '"GET /v2/ ' "$r_LOG")"
	run --separate-stderr sw login "127.0.0.1:$r_PORT" -u alice --password-stdin <<<"wrong-pw-123"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"wrong username or password"* ]]
	[[ "$stderr$output" != *wrong-pw-123* ]]
	[ ! -e "$DATA/auth.json" ] || ! grep -q "127.0.0.1:$r_PORT" "$DATA/auth.json"
	# one unauthenticated GET /v2/ and one with the credentials: no retries
	[ "$(($(grep -c '"GET /v2/ ' "$r_LOG") - n0))" -le 2 ]

	run --separate-stderr sw login "127.0.0.1:$r_PORT" -u alice --password-stdin <<<"s3cret-pw"
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$DATA/auth.json")" = 600 ]
	! grep -q s3cret-pw "$DATA/auth.json"
	run --separate-stderr sw image push demo/app:v1 "127.0.0.1:$r_PORT/team/app:v1"
	[ "$status" -eq 0 ]
	[[ "$stderr$output" != *s3cret-pw* ]]
	! grep -q s3cret-pw "$r_LOG"
	DATA="$T/data2" run --separate-stderr "$SLIPWAY" --data-dir "$T/data2" image pull "127.0.0.1:$r_PORT/team/app:v1"
	[ "$status" -eq 1 ]

	run sw logout "127.0.0.1:$r_PORT"
	[ "$status" -eq 0 ]
	run --separate-stderr sw image push demo/app:v1 "127.0.0.1:$r_PORT/team/app:v2"
	[ "$status" -eq 1 ]

	# Docker's config.json "auths" is read too
	mkdir -p "$DOCKER_CONFIG"
	printf '{"auths":{"http://127.0.0.1:%s":{"auth":"%s"}}}' "$r_PORT" "$(printf alice:s3cret-pw | base64)" \
		>"$DOCKER_CONFIG/config.json"
	run --separate-stderr sw image push demo/app:v1 "127.0.0.1:$r_PORT/team/app:v3"
	[ "$status" -eq 0 ]
}

@test "Bearer tokens: anonymous pull, login, tokens cached, a mount asks two scopes, wrong password is one refused token request" {
	registry_start r token
	make_test_image demo/app:v1
	run --separate-stderr sw image push demo/app:v1 "127.0.0.1:$r_PORT/team/app:v1"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"requires authentication"* ]]

	: >"$r_TOKEN_LOG"
	run --separate-stderr sw login "127.0.0.1:$r_PORT" -u alice --password-stdin <<<"nope-nope"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"wrong username or password"* ]]
	[ "$(grep -c ' 401$' "$r_TOKEN_LOG")" -eq 1 ]
	[ "$(wc -l <"$r_TOKEN_LOG")" -eq 1 ]

	sw login "127.0.0.1:$r_PORT" -u alice --password-stdin <<<"s3cret-pw"
	: >"$r_TOKEN_LOG"
	run --separate-stderr sw image push demo/app:v1 "127.0.0.1:$r_PORT/team/app:v1"
	[ "$status" -eq 0 ]
	# one token for the whole push (ping, HEADs, uploads, manifest)
	[ "$(wc -l <"$r_TOKEN_LOG")" -eq 1 ]
	grep -q 'user=alice scopes=1 200' "$r_TOKEN_LOG"

	: >"$r_TOKEN_LOG"
	run --separate-stderr sw --json image push demo/app:v1 "127.0.0.1:$r_PORT/second/app:v1"
	[ "$status" -eq 0 ]
	[ "$(jq -r .blobs_mounted <<<"$output")" = 2 ]
	grep -q 'user=alice scopes=2 200' "$r_TOKEN_LOG"
	! grep -q s3cret-pw "$r_LOG" "$r_TOKEN_LOG"

	# anonymous pull (the token server grants pull to anyone)
	run --separate-stderr "$SLIPWAY" --data-dir "$T/data2" image pull "127.0.0.1:$r_PORT/team/app:v1"
	[ "$status" -eq 0 ]
	grep -q 'user=- scopes=1 200' "$r_TOKEN_LOG"

	# a user whose token lacks push: told so, not "wrong password"
	"$SLIPWAY" --data-dir "$T/data3" login "127.0.0.1:$r_PORT" -u reader --password-stdin <<<"read-pw"
	"$SLIPWAY" --data-dir "$T/data3" image pull "127.0.0.1:$r_PORT/team/app:v1" 2>/dev/null
	run --separate-stderr "$SLIPWAY" --data-dir "$T/data3" image push "127.0.0.1:$r_PORT/team/app:v1" "127.0.0.1:$r_PORT/team/app:v9"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"user 'reader' may not do 'repository:team/app:pull,push'"* ]]
}

@test "registry killed in the middle of a push: a clear error, bounded retries, no manifest" {
	registry_start r
	make_test_image demo/big:v1 12000000
	SLIPWAY_REGISTRY_LIMIT_RATE=2M SLIPWAY_REGISTRY_RETRY=2s \
		"$SLIPWAY" --data-dir "$DATA" image push demo/big:v1 "127.0.0.1:$r_PORT/team/big:v1" \
		>"$T/push.out" 2>"$T/push.err" 3>&- &
	pid=$!
	for _ in $(seq 100); do grep -q '"POST /v2/team/big/blobs/uploads/' "$r_LOG" && break; sleep 0.05; done
	sleep 0.5
	registry_stop r
	start=$SECONDS
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 1 ]
	[ $((SECONDS - start)) -lt 30 ]
	grep -q "registry '127.0.0.1:$r_PORT'" "$T/push.err"
	grep -Eq "gave up after [0-9]+ attempts|connect" "$T/push.err"
	[ ! -s "$T/push.out" ]
	# the same storage, served again: no manifest was written
	registry_start r
	run curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://127.0.0.1:$r_PORT/v2/team/big/manifests/v1"
	[ "$output" = 404 ]
}

@test "5xx and 429 are retried with backoff; a registry that keeps failing is given up on in bounded time" {
	registry_start r
	make_test_image demo/app:v1
	proxy_start p "$r_PORT" 'POST:/blobs/uploads/:503:2;PATCH:/blobs/uploads/:502:1;PUT:/manifests/:429:1;GET:/blobs/:500:1'
	run --separate-stderr sw image push demo/app:v1 "127.0.0.1:$p_PORT/team/app:v1"
	[ "$status" -eq 0 ]
	grep -q 'POST /v2/team/app/blobs/uploads/ 503' "$p_LOG"
	grep -q 'PATCH /v2/team/app/blobs/uploads/[^ ]* 502' "$p_LOG"
	grep -q 'PUT /v2/team/app/manifests/v1 429' "$p_LOG"
	grep -q 'PUT /v2/team/app/manifests/v1 201' "$p_LOG"
	DATA="$T/data2"
	run --separate-stderr sw image pull "127.0.0.1:$p_PORT/team/app:v1"
	[ "$status" -eq 0 ]
	grep -q 'GET /v2/team/app/blobs/sha256:[0-9a-f]* 500' "$p_LOG"

	proxy_start q "$r_PORT" 'GET:/manifests/:503:100000'
	start=$SECONDS
	run --separate-stderr env SLIPWAY_REGISTRY_RETRY=3s "$SLIPWAY" --data-dir "$T/data3" image pull "127.0.0.1:$q_PORT/team/app:v1"
	[ "$status" -eq 1 ]
	[ $((SECONDS - start)) -lt 15 ]
	[[ "$stderr" == *"HTTP 503 (gave up after "*" attempts in "* ]]
	# backoff, not a storm: a handful of tries in 3 s
	n="$(grep -c 'GET /v2/team/app/manifests/v1 503' "$q_LOG")"
	[ "$n" -ge 2 ] && [ "$n" -le 8 ]
}

@test "a blob whose bytes do not match its digest: the pull fails and stores nothing" {
	registry_start r
	make_test_image demo/app:v1
	sw image push demo/app:v1 "127.0.0.1:$r_PORT/team/app:v1" >/dev/null
	layer="$(sw image inspect demo/app:v1 | jq -r '.manifest.layers[0].digest')"
	data="$r_DIR/storage/docker/registry/v2/blobs/sha256/${layer:7:2}/${layer#sha256:}/data"
	[ -f "$data" ]
	size="$(stat -c %s "$data")"
	head -c "$size" /dev/urandom >"$data"
	DATA="$T/data2"
	mkdir -p "$DATA"
	run --separate-stderr sw image pull "127.0.0.1:$r_PORT/team/app:v1"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"$layer"* ]]
	[ -z "$(sw image ls --json | jq -r '.[]')" ]
	[ -z "$(find "$DATA/layers" "$DATA/tmp" -mindepth 1)" ]
	# only what was there before the pull: the config and manifest blobs are gone too
	[ -z "$(find "$DATA/images/blobs/sha256" -type f)" ]
}

@test "references as Docker reads them; plain HTTP only for loopback" {
	run --separate-stderr sw image pull "Upper/Case:v1"
	[ "$status" -eq 2 ]
	run --separate-stderr sw image push nothing/here:v1 "127.0.0.1:1/x:v1"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"no such image 'nothing/here:v1'"* ]]
	# a registry that is not loopback nor listed insecure is spoken to over HTTPS
	run --separate-stderr env SLIPWAY_REGISTRY_RETRY=1s "$SLIPWAY" --data-dir "$DATA" image pull registry.invalid:5000/x/y:v1
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"registry 'registry.invalid:5000'"* ]]
	run sw login --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--password-stdin"* ]]
}

#!/usr/bin/env bats
# slipway image build: real Dockerfiles over a busybox base, every instruction, multi-stage
# with --target, .dockerignore, owners checked inside a container of the result, the cache,
# reproducible digests, failures that leave nothing behind, and the same trees as buildah's.
load helpers
load image-helpers

FIX="$BATS_TEST_DIRNAME/../fixtures/build"

setup() {
	image_setup
	make_busybox "$T/bb"
	sw image import "$T/bb" localhost/bb:1 >/dev/null
}

teardown() {
	if [ -n "${BUILDAH_ROOT:-}" ] && command -v buildah >/dev/null; then
		bh rm -a >/dev/null 2>&1 || true
		bh umount -a >/dev/null 2>&1 || true
	fi
	image_teardown
}

# A busybox root with every applet, a few users and groups.
make_busybox() {
	local r="$1" a
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root" "$r/home"
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\napp:x:1000:\nstaff:x:50:\n' >"$r/etc/group"
	chmod 1777 "$r/tmp"
}

# A fixture context copied to $T (tests change files in it).
ctx() {
	rm -rf "$T/ctx-$1"
	cp -a "$FIX/$1" "$T/ctx-$1"
	echo "$T/ctx-$1"
}

build() {
	sw image build "$@"
}

# Nothing of a build may stay: temp dirs, containers.
assert_clean() {
	run find "$DATA/tmp" "$DATA/containers" -mindepth 1 -maxdepth 1
	[ -z "$output" ] || { echo "left behind: $output"; return 1; }
}

cfg() {
	sw image inspect "$1" | jq -c ".config$2"
}

@test "every instruction: the config, history and files are what Docker makes" {
	c="$(ctx all)"
	run build -t demo/all:1 --build-arg FLAVOR=mint "$c"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" == sha256:* ]]
	[[ "$output" == *"[1/22] FROM localhost/bb:1"* ]]
	[ "$(cfg demo/all:1 .config.Env)" = '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","APP_HOME=/srv/app","VERSION_ENV=1.0","LEGACY=legacy value"]' ]
	[ "$(cfg demo/all:1 .config.Labels)" = '{"org.example.version":"1.0","with space":"yes"}' ]
	[ "$(cfg demo/all:1 '.config.ExposedPorts|keys')" = '["53/udp","8080/tcp","9000/tcp","9001/tcp"]' ]
	[ "$(cfg demo/all:1 '.config.Volumes|keys')" = '["/cache","/data","/logs"]' ]
	[ "$(cfg demo/all:1 .config.WorkingDir)" = '"/srv/app/sub"' ]
	[ "$(cfg demo/all:1 .config.User)" = '"1000:1000"' ]
	[ "$(cfg demo/all:1 .config.Entrypoint)" = '["/bin/sh","-c"]' ]
	[ "$(cfg demo/all:1 .config.Cmd)" = '["cat /built.txt"]' ]
	[ "$(cfg demo/all:1 .config.Shell)" = '["/bin/sh","-e","-c"]' ]
	[ "$(cfg demo/all:1 .config.StopSignal)" = '"SIGTERM"' ]
	[ "$(cfg demo/all:1 .config.OnBuild)" = '["RUN echo child"]' ]
	[ "$(cfg demo/all:1 .config.Healthcheck)" = '{"Interval":30000000000,"Retries":3,"Test":["CMD-SHELL","wget -q -O- http://localhost:8080/ || exit 1"],"Timeout":5000000000}' ]
	[ "$(cfg demo/all:1 .author)" = '"someone@example.com"' ]
	# history: the base's entry, then one per instruction but ARG, empty_layer for metadata;
	# layers: the base, two WORKDIRs (they create the dirs), COPY, ADD, RUN
	[ "$(cfg demo/all:1 '.history|length')" -eq 20 ]
	[ "$(cfg demo/all:1 '.history|[.[]|select(.empty_layer|not)]|length')" -eq 6 ]
	[ "$(cfg demo/all:1 '.history[-1].created_by')" = '"CMD [\"cat /built.txt\"]"' ]
	[ "$(cfg demo/all:1 '.rootfs.diff_ids|length')" -eq 6 ]
	# ARGs reach RUN but are not kept; the SHELL ran it; the workdir was the cwd
	run sw container run demo/all:1
	[ "$status" -eq 0 ]
	[ "$output" = "v=1.0 flavor=mint env=1.0 pwd=/srv/app/sub" ]
	run sw container run --user 0 demo/all:1 "cat /srv/app/sub/conf/app.conf /srv/app/data.txt; env | grep -c FLAVOR"
	[ "${lines[0]}" = "port=8080" ]
	[ "${lines[1]}" = "data" ]
	[ "${lines[2]}" = "0" ]
	assert_clean
}

@test "multi-stage: --target builds only the stages it needs; COPY --from a stage and an index" {
	c="$(ctx multistage)"
	run build -t demo/ms:final "$c"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"must not be built"* ]]
	[[ "$output" != *"tested"* ]]
	[ "$(cfg demo/ms:final '.rootfs.diff_ids|length')" -eq 2 ]
	# a scratch image: look at its layers (topmost first)
	run sw image inspect --layers demo/ms:final
	[ "$(cat "${lines[1]}/app/note")" = "built by builder" ]
	[ -f "${lines[1]}/app/program" ]
	[ -f "${lines[0]}/app/src/main.c" ]
	run build -t demo/ms:tester --target tester "$c"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"FROM builder AS tester"* ]]
	[[ "$output" != *"AS final"* ]]
	[[ "$output" != *"must not be built"* ]]
	run sw container run demo/ms:tester cat /out/tested /out/note
	[ "${lines[0]}" = tested ]
	run build --target unused "$c"
	[ "$status" -eq 1 ]
	[[ "$output" == *"Dockerfile:9: RUN /bin/sh -c echo \"this stage must not be built\" && exit 1: exit status 1"* ]]
	run build --target nope "$c"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--target 'nope': no such stage"* ]]
	assert_clean
}

@test ".dockerignore: patterns, ** and ! exceptions decide what COPY sees" {
	c="$(ctx ignore)"
	run build -t demo/ign:1 "$c"
	echo "$output"
	[ "$status" -eq 0 ]
	layer="$(sw image inspect --layers demo/ign:1)"
	run bash -c "cd '$layer/ctx' && find . -mindepth 1 | sort"
	echo "$output"
	[ "$output" = "$(printf '%s\n' ./.dockerignore ./deep ./deep/a ./deep/a/b ./deep/a/b/ok.txt ./docs ./docs/README.md ./important.log ./keep.txt)" ]
	# an excluded file cannot be named either
	printf 'FROM scratch\nCOPY debug.log /\n' >"$c/Dockerfile.2"
	run build -f "$c/Dockerfile.2" "$c"
	[ "$status" -eq 1 ]
	[[ "$output" == *"COPY 'debug.log': no such file or directory in the build context (or excluded by .dockerignore)"* ]]
	assert_clean
}

@test "USER, WORKDIR and --chown as a container of the result sees them" {
	c="$(ctx owners)"
	run build -t demo/own:1 "$c"
	echo "$output"
	[ "$status" -eq 0 ]
	run sw container run demo/own:1 sh -c 'id -u; id -g; pwd; stat -c "%n %u:%g %a" file.txt tree tree/inner/f made-by-worker /root-owned.txt; cat whoami'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 2001 ]
	[ "${lines[1]}" = 2000 ]
	[ "${lines[2]}" = /home/worker/project ]
	[ "${lines[3]}" = "file.txt 2001:2000 644" ]
	[ "${lines[4]}" = "tree 2001:2001 750" ]
	[ "${lines[5]}" = "tree/inner/f 2001:2001 750" ]
	[ "${lines[6]}" = "made-by-worker 2001:2000 644" ]
	[ "${lines[7]}" = "/root-owned.txt 0:0 644" ]
	[ "${lines[8]}" = 2001 ]

	# WORKDIR after USER: the new directories are the user's, existing ones keep theirs
	mkdir -p "$T/wd"
	printf 'FROM localhost/bb:1\nRUN mkdir -p -m 0750 /home/x && chown 0:1000 /home/x\nUSER app\nWORKDIR /home/x/y/z\nRUN touch mine\n' >"$T/wd/Dockerfile"
	run build -t demo/wd:1 "$T/wd"
	[ "$status" -eq 0 ]
	run sw container run --user 0 demo/wd:1 stat -c "%n %u:%g %a" /home/x /home/x/y /home/x/y/z /home/x/y/z/mine
	[ "${lines[0]}" = "/home/x 0:1000 750" ]
	[ "${lines[1]}" = "/home/x/y 1000:1000 755" ]
	[ "${lines[2]}" = "/home/x/y/z 1000:1000 755" ]
	[ "${lines[3]}" = "/home/x/y/z/mine 1000:1000 644" ]
}

@test "cache: a rebuild runs no container; touching changes nothing; new bytes re-run from that COPY" {
	c="$(ctx cache)"
	run build -t demo/cache:1 "$c"
	[ "$status" -eq 0 ]
	first="${lines[-1]}"
	[ "$(grep -c CACHED <<<"$output")" -eq 0 ]

	run build -t demo/cache:1 "$c"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "$first" ]
	[ "$(grep -c CACHED <<<"$output")" -eq 4 ]
	[[ "$output" != *running* ]] # no container started

	touch -d '2001-01-01' "$c/input.txt" "$c/static.txt"
	chown 1234:1234 "$c/input.txt" # COPY resets owners to 0:0: nothing changes
	run build -t demo/cache:1 "$c"
	[ "${lines[-1]}" = "$first" ]
	[ "$(grep -c CACHED <<<"$output")" -eq 4 ]

	printf 'two\n' >"$c/input.txt"
	run build -t demo/cache:2 "$c"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$(grep 'COPY static.txt' <<<"$output")" == *CACHED ]]
	[[ "$(grep 'RUN /bin/sh -c echo step-two' <<<"$output")" == *CACHED ]]
	[[ "$(grep 'COPY input.txt' <<<"$output")" != *CACHED ]]
	[[ "$(grep 'RUN /bin/sh -c cat' <<<"$output")" != *CACHED ]]
	[ "${lines[-1]}" != "$first" ]
	run sw container run demo/cache:2
	[ "$output" = two ]
	run sw container run demo/cache:1
	[ "$output" = one ]

	chmod 0600 "$c/input.txt"
	run build "$c"
	[[ "$(grep 'COPY input.txt' <<<"$output")" != *CACHED ]]

	run build --no-cache "$c"
	[ "$(grep -c CACHED <<<"$output")" -eq 0 ]
	assert_clean
}

@test "reproducible: with SOURCE_DATE_EPOCH two builds give one digest, cached or not" {
	c="$(ctx owners)"
	export SOURCE_DATE_EPOCH=1700000000
	run build -t demo/repro:1 "$c"
	[ "$status" -eq 0 ]
	a="${lines[-1]}"
	run build --no-cache "$c"
	b="${lines[-1]}"
	run build "$c"
	d="${lines[-1]}"
	# a second store with the same base knows nothing of the first's cache
	sw image save localhost/bb:1 "$T/bb.tar"
	"$SLIPWAY" --data-dir "$T/data2" image load "$T/bb.tar" >/dev/null
	run "$SLIPWAY" --data-dir "$T/data2" image build "$c"
	e="${lines[-1]}"
	echo "$a $b $d $e"
	[ "$a" = "$b" ] && [ "$b" = "$d" ] && [ "$d" = "$e" ]
	[ "$(cfg demo/repro:1 .created)" = '"2023-11-14T22:13:20Z"' ]
	unset SOURCE_DATE_EPOCH
	run build --no-cache "$c"
	[ "${lines[-1]}" != "$a" ]
}

@test "ONBUILD: recorded in the image, run when a child build starts from it, not inherited" {
	mkdir -p "$T/parent" "$T/child"
	printf 'FROM localhost/bb:1\nONBUILD RUN echo trigger-ran > /onbuild\nONBUILD ENV FROM_TRIGGER=yes\n' >"$T/parent/Dockerfile"
	printf 'FROM demo/parent:1\nRUN cat /onbuild\n' >"$T/child/Dockerfile"
	run build -t demo/parent:1 "$T/parent"
	[ "$status" -eq 0 ]
	[ "$(cfg demo/parent:1 .config.OnBuild)" = '["RUN echo trigger-ran > /onbuild","ENV FROM_TRIGGER=yes"]' ]
	run build -t demo/child:1 "$T/child"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\n'"trigger-ran"$'\n'* ]]
	[ "$(cfg demo/child:1 .config.OnBuild)" = null ]
	[ "$(cfg demo/child:1 '.config.Env[-1]')" = '"FROM_TRIGGER=yes"' ]
}

@test "scratch: COPY into an empty image; skopeo reads the result" {
	c="$(ctx scratch)"
	run build -t demo/scratch:1 -t demo/scratch:also "$c"
	[ "$status" -eq 0 ]
	d="${lines[-1]}"
	run skopeo inspect "oci:$DATA/images:demo/scratch:1"
	[ "$status" -eq 0 ]
	[ "$(jq -r .Digest <<<"$output")" = "$d" ]
	[ "$(jq -r '.Layers|length' <<<"$output")" = 1 ]
	[ "$(sw image inspect demo/scratch:also | jq -r .digest)" = "$d" ]
	layer="$(sw image inspect --layers demo/scratch:1)"
	[ "$(cat "$layer/hello")" = "hello from scratch" ]
}

@test "RUN: network none unless --network host; the failing status and output; nothing moves" {
	mkdir -p "$T/net"
	printf 'FROM localhost/bb:1\nRUN echo "ifaces:$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\\n" " ")."\n' >"$T/net/Dockerfile"
	run build --no-cache "$T/net"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ifaces:lo ."* ]]
	run build --no-cache --network host "$T/net"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ifaces:"* && "$output" != *"ifaces:lo ."* ]]

	mkdir -p "$T/fail"
	printf 'FROM localhost/bb:1\nRUN echo good > /good\n' >"$T/fail/Dockerfile"
	run build -t demo/fail:1 "$T/fail"
	[ "$status" -eq 0 ]
	good="${lines[-1]}"
	printf 'FROM localhost/bb:1\nRUN echo good > /good\nRUN echo to-stdout; echo to-stderr >&2; exit 7\n' >"$T/fail/Dockerfile"
	run build -t demo/fail:1 "$T/fail"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *to-stdout* && "$output" == *to-stderr* ]]
	[[ "$output" == *"slipway: Dockerfile:3: RUN /bin/sh -c echo to-stdout; echo to-stderr >&2; exit 7: exit status 7"* ]]
	[ "$(jq -r '.manifests[]|select(.annotations["org.opencontainers.image.ref.name"]=="demo/fail:1")|.digest' "$DATA/images/index.json")" = "$good" ]
	assert_clean
	run find "$DATA/images/blobs" -name '*.tmp*'
	[ -z "$output" ]

	printf 'FROM localhost/bb:1\nRUN ["/no/such/program"]\n' >"$T/fail/Dockerfile"
	run build "$T/fail"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot run '/no/such/program'"* ]]
	assert_clean
}

@test "RUN gets the build's --memory limit: over it, the OOM kill is reported with the limit" {
	hog="$BATS_TEST_DIRNAME/../helpers/memhog"
	[ -x "$hog" ] || skip "tests/helpers/memhog is not built (make check builds it)"
	mkdir -p "$T/mem"
	cp "$hog" "$T/mem/memhog"
	printf 'FROM localhost/bb:1\nCOPY memhog /memhog\nRUN /memhog 16 && echo small-ok\n' >"$T/mem/Dockerfile"
	run build --memory 64M "$T/mem"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *small-ok* ]]
	printf 'FROM localhost/bb:1\nCOPY memhog /memhog\nRUN /memhog 512 && echo big-ok\n' >"$T/mem/Dockerfile"
	run build --memory 64M --cpus 0.5 "$T/mem"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"Dockerfile:3: RUN /bin/sh -c /memhog 512 && echo big-ok: killed: out of memory (limit 64 MiB)"* ]]
	assert_clean
}

@test "interrupted: SIGINT stops the RUN, exits 130, tags nothing, leaves nothing" {
	mkdir -p "$T/sig"
	printf 'FROM localhost/bb:1\nRUN echo started; sleep 30; echo never\n' >"$T/sig/Dockerfile"
	"$SLIPWAY" --data-dir "$DATA" image build -t demo/sig:1 "$T/sig" >"$T/out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do grep -q started "$T/out" && break; sleep 0.1; done
	kill -INT "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$T/out"
	[ "$rc" -eq 130 ]
	grep -q "interrupted" "$T/out"
	! grep -q never "$T/out"
	run sw image ls
	[[ "$output" != *demo/sig* ]]
	assert_clean
}

@test "bad input: Dockerfile:LINE errors exit 2; COPY outside the context; missing base image" {
	mkdir -p "$T/bad"
	check() {
		printf "$1" >"$T/bad/Dockerfile"
		run build "$T/bad"
		echo "$output"
		[ "$status" -eq "$2" ]
		[[ "$output" == *"$3"* ]]
	}
	check 'FROM localhost/bb:1\n\nFROB x\n' 2 "slipway: Dockerfile:3: unknown instruction 'FROB'"
	check 'FROM localhost/bb:1\nCOPY a\n' 2 "Dockerfile:2: COPY requires at least two arguments"
	check 'FROM localhost/bb:1\nENV A="x\n' 2 "Dockerfile:2: unterminated double quote"
	check 'FROM localhost/bb:1\nRUN --mount=type=cache,target=/x true\n' 2 "Dockerfile:2: RUN --mount is not supported"
	check 'FROM localhost/bb:1\nCOPY ../etc/passwd /x\n' 2 "COPY '../etc/passwd': the path is outside the build context"
	check 'FROM localhost/bb:1\nCOPY missing.txt /x\n' 1 "COPY 'missing.txt': no such file or directory in the build context"
	check 'FROM localhost/bb:1\nCOPY *.none /x/\n' 1 "COPY '*.none': no such file or directory"
	check 'FROM no/such:image\n' 1 "Dockerfile:1: image 'no/such:image' not found locally"
	check 'FROM localhost/bb:1\nEXPOSE 99999\n' 2 "Dockerfile:2: EXPOSE: invalid port '99999'"
	check 'FROM localhost/bb:1\nCOPY --chown=nobody x /\n' 1 "no such file"
	printf 'x\n' >"$T/bad/x"
	check 'FROM localhost/bb:1\nCOPY --chown=nobody x /\n' 2 "unknown user 'nobody'"
	run build "$T/nonexistent"
	[ "$status" -eq 2 ]
	run build -t 'Bad:Tag!' "$T/bad"
	[ "$status" -eq 2 ]
	run build --network bridge "$T/bad"
	[ "$status" -eq 2 ]
	assert_clean
}

bh() {
	buildah --root "$BUILDAH_ROOT" --runroot "$T/buildah-run" --storage-driver overlay "$@"
}

@test "buildah builds the same Dockerfile into the same tree (names, modes, owners, contents)" {
	command -v buildah >/dev/null || skip "buildah is not installed"
	BUILDAH_ROOT="$T/buildah"
	c="$(ctx compare)"
	mkdir -p "$T/arc/pkg"
	printf 'inside\n' >"$T/arc/pkg/file"
	tar -C "$T/arc" --owner=3 --group=4 -czf "$c/pkg.tar.gz" pkg
	run build -t localhost/cmp:1 "$c"
	echo "$output"
	[ "$status" -eq 0 ]
	# buildah takes the same base from slipway's OCI layout
	skopeo copy -q "oci:$DATA/images:localhost/bb:1" \
		"containers-storage:[overlay@$BUILDAH_ROOT+$T/buildah-run]localhost/bb:1"
	run bh bud --isolation chroot -q -t localhost/cmp:1 "$c"
	echo "$output"
	[ "$status" -eq 0 ]
	bh push -q localhost/cmp:1 "oci:$T/b-oci:cmp"
	umoci unpack --image "$T/b-oci:cmp" "$T/b-bundle" >/dev/null
	# umoci reads gzip layers only: convert slipway's with skopeo
	skopeo copy -q --dest-compress --dest-compress-format gzip "oci:$DATA/images:localhost/cmp:1" "oci:$T/s-oci:cmp"
	umoci unpack --image "$T/s-oci:cmp" "$T/s-bundle" >/dev/null
	# buildah leaves its mount points behind (empty /dev, /proc, /sys, /run, /etc/hosts...)
	artifacts='^(dev|proc|sys|run)\||^etc/(hosts|hostname|resolv\.conf)\||\./etc/(hosts|hostname|resolv\.conf)$'
	diff <(tree_list "$T/s-bundle/rootfs") <(tree_list "$T/b-bundle/rootfs" | grep -Ev "$artifacts")
	[ "$(cat "$T/s-bundle/rootfs/var/data/out")" = built ]
	[ ! -e "$T/s-bundle/rootfs/bin/vi" ]
	[ ! -e "$T/s-bundle/rootfs/etc/group" ]
	[ ! -e "$T/s-bundle/rootfs/srv/app/notes.txt" ]
}

#!/usr/bin/env bats
# slipway image: the OCI store as skopeo and umoci see it, layers with whiteouts mounted with
# overlayfs, hostile archives refused, reproducible packing, save/load round trips, prune.
load helpers
load image-helpers

setup() {
	image_setup
}

teardown() {
	image_teardown
}

@test "import a directory: skopeo inspects it, umoci unpacks the same tree" {
	make_rootfs "$T/root"
	run sw image import --compression gzip "$T/root" demo/base:v1
	[ "$status" -eq 0 ]
	digest="$output"
	[[ "$digest" == sha256:* ]]
	[ -f "$DATA/images/oci-layout" ]
	jq -e '.manifests[0].annotations["org.opencontainers.image.ref.name"] == "demo/base:v1"' \
		"$DATA/images/index.json"
	run skopeo inspect "oci:$DATA/images:demo/base:v1"
	[ "$status" -eq 0 ]
	[ "$(jq -r .Digest <<<"$output")" = "$digest" ]
	[ "$(jq -r .Os <<<"$output")" = linux ]
	[ "$(jq -r .Architecture <<<"$output")" = amd64 ]
	jq -e '.Env | index("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")' <<<"$output"
	run skopeo inspect --config "oci:$DATA/images:demo/base:v1"
	jq -e '.config.Cmd == ["/bin/sh"]' <<<"$output"

	umoci unpack --image "$DATA/images:demo/base:v1" "$T/bundle"
	diff <(tree_list "$T/root") <(tree_list "$T/bundle/rootfs")
	# the hardlink is a hardlink, setuid/setgid survive
	[ "$(stat -c %i "$T/bundle/rootfs/etc/motd")" = "$(stat -c %i "$T/bundle/rootfs/etc/motd.hard")" ]
	[ "$(stat -c %a "$T/bundle/rootfs/usr/lib/su-like")" = 4755 ]
}

@test "slipway's own unpack (inspect --layers) gives the input tree; zstd is the default" {
	make_rootfs "$T/root"
	sw image import "$T/root" demo
	run sw image inspect demo:latest
	[ "$status" -eq 0 ]
	[ "$(jq -r '.manifest.layers[0].mediaType' <<<"$output")" = application/vnd.oci.image.layer.v1.tar+zstd ]
	run sw image inspect --layers demo
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	layer="${lines[0]}"
	[[ "$layer" == "$DATA/layers/"* ]]
	diff <(tree_list "$T/root") <(tree_list "$layer")
	[ "$(stat -c %Y "$layer/etc/motd")" = "$(stat -c %Y "$T/root/etc/motd")" ]
	# the blob decompresses with the zstd tool and hashes to the config's diff_id
	blob="$(jq -r '.manifests[0].digest' "$DATA/images/index.json")"
	ldig="$(sw image inspect demo | jq -r '.manifest.layers[0].digest')"
	diff_id="$(sw image inspect demo | jq -r '.config.rootfs.diff_ids[0]')"
	[ "sha256:$(zstd -dc "$DATA/images/blobs/sha256/${ldig#sha256:}" | sha256sum | cut -d' ' -f1)" = "$diff_id" ]
	[ "$(basename "$layer")" = "${diff_id#sha256:}" ]
	[ -n "$blob" ]
}

@test "import a tar, tar.gz and tar.zst of one tree: one layer digest, reproducible" {
	make_rootfs "$T/root"
	tar -C "$T/root" -cf "$T/root.tar" .
	gzip -c "$T/root.tar" >"$T/root.tar.gz"
	zstd -q -c "$T/root.tar" >"$T/root.tar.zst"
	cp -a "$T/root" "$T/copy" # other inodes, other readdir order
	for src in root root.tar root.tar.gz root.tar.zst copy; do
		sw image import "$T/$src" "r/$src:x" >/dev/null
		sw image inspect "r/$src:x" | jq -r '.manifest.layers[0].digest' >>"$T/digests"
	done
	[ "$(sort -u "$T/digests" | wc -l)" -eq 1 ]
	# whole images are identical with SOURCE_DATE_EPOCH, also mtimes clamped to it
	a="$(SOURCE_DATE_EPOCH=1000000 sw image import "$T/root" same:a)"
	sleep 1
	b="$(SOURCE_DATE_EPOCH=1000000 sw image import "$T/root.tar" same:b)"
	[ "$a" = "$b" ]
	[ "$(sw image inspect same:a | jq -r .config.created)" = 1970-01-12T13:46:40Z ]
	run sw image inspect --layers same:a
	[ "$(stat -c %Y "${lines[0]}/etc/motd")" = 1000000 ] || [ "$(stat -c %Y "${lines[0]}/etc/motd")" -lt 1000000 ]
	[ "$(stat -c %Y "${lines[0]}/bin/busybox")" = 1000000 ]
}

@test "image ls, tag, rm, --json, references" {
	make_rootfs "$T/root"
	d="$(sw image import "$T/root" registry.local:5000/team/app:1.0)"
	sw image tag registry.local:5000/team/app:1.0 app
	run sw image ls
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == REPOSITORY*TAG*DIGEST*SIZE*CREATED ]]
	[[ "${lines[1]}" == app*latest*"${d:7:12}"* ]]
	[[ "${lines[2]}" == registry.local:5000/team/app*1.0*"${d:7:12}"* ]]
	run sw image ls --json
	[ "$(jq length <<<"$output")" -eq 2 ]
	[ "$(jq -r '.[0].digest' <<<"$output")" = "$d" ]
	[ "$(jq -r '.[0].size' <<<"$output")" -gt 1000 ]
	# lookups by digest, short digest and NAME@DIGEST
	sw image inspect "$d" >/dev/null
	sw image inspect "${d:0:19}" >/dev/null
	sw image inspect "app@$d" >/dev/null
	run sw image inspect nothere
	[ "$status" -eq 1 ]
	[[ "$output" == *"no such image 'nothere'"* ]]
	run sw image tag app Bad/Name
	[ "$status" -eq 2 ]
	sw image rm app
	run sw image ls --json
	[ "$(jq length <<<"$output")" -eq 1 ]
	run skopeo inspect "oci:$DATA/images:registry.local:5000/team/app:1.0"
	[ "$status" -eq 0 ]
}

@test "a umoci image with a whiteout and an opaque dir, loaded from oci-archive and docker-archive, mounts right" {
	L="$T/layout"
	umoci init --layout "$L"
	umoci new --image "$L:w"
	umoci unpack --image "$L:w" "$T/b1"
	mkdir -p "$T/b1/rootfs/etc" "$T/b1/rootfs/opq/sub"
	echo gone >"$T/b1/rootfs/etc/gone"
	echo kept >"$T/b1/rootfs/etc/kept"
	echo old >"$T/b1/rootfs/opq/old"
	echo old2 >"$T/b1/rootfs/opq/sub/old2"
	umoci repack --image "$L:w" "$T/b1"
	# the second layer: delete etc/gone, make opq opaque with one new file
	mkdir -p "$T/l2/etc" "$T/l2/opq"
	touch "$T/l2/etc/.wh.gone" "$T/l2/opq/.wh..wh..opq"
	echo new >"$T/l2/opq/new"
	tar -C "$T/l2" -cf "$T/l2.tar" etc opq
	umoci raw add-layer --image "$L:w" "$T/l2.tar"

	skopeo copy -q "oci:$L:w" "oci-archive:$T/w.tar:wh:test"
	skopeo copy -q "oci:$L:w" "docker-archive:$T/wd.tar:whd:test" # RepoTags docker.io/library/whd:test
	for ref in wh:test whd:test; do
		[ "$ref" = wh:test ] && sw image load "$T/w.tar" || sw image load "$T/wd.tar"
		run sw image inspect --layers "$ref"
		[ "$status" -eq 0 ]
		[ "${#lines[@]}" -eq 2 ]
		top="${lines[0]}"
		[ "$(stat -c '%F %t:%T' "$top/etc/gone")" = "character special file 0:0" ]
		mkdir -p "$T/m-$ref"
		mount -t overlay overlay -o "lowerdir=${lines[0]}:${lines[1]}" "$T/m-$ref"
		m="$T/m-$ref"
		[ ! -e "$m/etc/gone" ]
		[ "$(cat "$m/etc/kept")" = kept ]
		[ "$(cat "$m/opq/new")" = new ]
		[ ! -e "$m/opq/old" ]
		[ ! -e "$m/opq/sub" ]
		[ "$(ls -A "$m/opq")" = new ]
		umount "$m"
	done
}

@test "save -> skopeo copy oci-archive -> load keeps every digest" {
	make_rootfs "$T/root"
	d="$(sw image import "$T/root" rt/img:1)"
	cfg="$(sw image inspect rt/img:1 | jq -r .config_digest)"
	sw image save rt/img:1 "$T/saved.tar"
	run skopeo inspect "oci-archive:$T/saved.tar"
	[ "$status" -eq 0 ]
	[ "$(jq -r .Digest <<<"$output")" = "$d" ]
	skopeo copy -q "oci-archive:$T/saved.tar" "oci-archive:$T/copied.tar:rt/img:2"
	sw image rm rt/img:1
	sw image prune
	[ -z "$(ls "$DATA/images/blobs/sha256")" ]
	run sw image load "$T/copied.tar"
	[ "$status" -eq 0 ]
	[[ "$output" == *"loaded: rt/img:2"* ]]
	[ "$(sw image inspect rt/img:2 | jq -r .digest)" = "$d" ]
	[ "$(sw image inspect rt/img:2 | jq -r .config_digest)" = "$cfg" ]
	# docker-save archives hold uncompressed layers (no zstd): from a gzip image
	sw image import --compression gzip "$T/root" rt/gz:1
	cfg="$(sw image inspect rt/gz:1 | jq -r .config_digest)"
	sw image save rt/gz:1 "$T/gz.tar"
	skopeo copy -q "oci-archive:$T/gz.tar" "docker-archive:$T/docker.tar:docker.io/library/rtdocker:1"
	run sw image load "$T/docker.tar"
	[[ "$output" == "loaded: rtdocker:1" ]]
	[ "$(sw image inspect docker.io/library/rtdocker:1 | jq -r .config_digest)" = "$cfg" ]
	run sw image inspect --layers rtdocker:1
	diff <(tree_list "$T/root") <(tree_list "${lines[0]}")
}

# --- hostile input ------------------------------------------------------------------------

refused_import() { # TAR ENTRY: import must fail naming ENTRY and leave nothing behind
	run sw image import "$1" evil
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"entry '$2'"* ]]
	[[ "$output" == *"$1"* ]]
	run sw image ls --json
	[ "$output" = "[]" ]
	assert_no_partial_state
	[ ! -e "$T/outside/pwned" ]
	[ -z "$(ls -A "$T/outside")" ]
}

@test "hostile tars are refused: .., absolute, write through symlinks" {
	mkdir -p "$T/outside" "$T/src"
	echo x >"$T/src/x"
	tar -C "$T/src" -P -cf "$T/dotdot.tar" --transform 's,^x$,../outside/pwned,' x
	refused_import "$T/dotdot.tar" ../outside/pwned
	tar -P -cf "$T/abs.tar" --transform "s,^.*/src/x\$,$T/outside/pwned," "$T/src/x"
	refused_import "$T/abs.tar" "$T/outside/pwned"
	# a symlink to outside (absolute), then a file under it
	ln -s "$T/outside" "$T/src/link"
	tar -C "$T/src" -P -cf "$T/symabs.tar" link
	tar -C "$T/src" -P -rf "$T/symabs.tar" --transform 's,^x$,link/pwned,' x
	refused_import "$T/symabs.tar" link/pwned
	# a relative symlink climbing out, then a file under it
	rm "$T/src/link"
	ln -s ../../../../../../../../.. "$T/src/up"
	tar -C "$T/src" -P -cf "$T/symrel.tar" up
	tar -C "$T/src" -P -rf "$T/symrel.tar" --transform "s,^x\$,up${T}/outside/pwned," x
	refused_import "$T/symrel.tar" "up${T}/outside/pwned"
}

@test "a symlink inside the layer may be written through; the last component is replaced, not followed" {
	mkdir -p "$T/outside" "$T/src/usr/lib"
	ln -s usr/lib "$T/src/lib"
	echo so >"$T/src/x"
	ln -s "$T/outside/pwned" "$T/src/victim"
	tar -C "$T/src" -cf "$T/ok.tar" usr lib victim
	tar -C "$T/src" -rf "$T/ok.tar" --transform 's,^x$,lib/x.so,' x
	tar -C "$T/src" -rf "$T/ok.tar" --transform 's,^x$,victim,' x
	sw image import "$T/ok.tar" fine
	run sw image inspect --layers fine
	[ "$(cat "${lines[0]}/usr/lib/x.so")" = so ]
	[ -L "${lines[0]}/lib" ]
	[ -f "${lines[0]}/victim" ] && [ ! -L "${lines[0]}/victim" ]
	[ ! -e "$T/outside/pwned" ]
}

@test "tar bombs, a corrupted gzip and wrong digests are refused without partial state" {
	mkdir -p "$T/outside" "$T/bomb"
	head -c 3000000 /dev/zero >"$T/bomb/zeros"
	tar -C "$T/bomb" -cf - zeros | gzip >"$T/bomb.tar.gz"
	SLIPWAY_LAYER_MAX_BYTES=1M run sw image import "$T/bomb.tar.gz" bomb
	[ "$status" -eq 1 ]
	[[ "$output" == *"larger than 1048576 bytes"* ]]
	assert_no_partial_state
	# many entries each under the cap, together over it
	rm "$T/bomb/zeros"
	for i in 1 2 3 4 5; do head -c 700000 /dev/zero >"$T/bomb/z$i"; done
	tar -C "$T/bomb" -cf - . | zstd -q >"$T/sum.tar.zst"
	SLIPWAY_LAYER_MAX_BYTES=1M run sw image import "$T/sum.tar.zst" bomb
	[ "$status" -eq 1 ]
	[[ "$output" == *"more than 1048576 bytes uncompressed"* ]]
	assert_no_partial_state
	rm "$T"/bomb/z*
	for i in $(seq 1 30); do : >"$T/bomb/f$i"; done
	tar -C "$T/bomb" -cf "$T/many.tar" .
	make_oci_archive "$T/many-oci.tar" many:1 "$T/many.tar"
	SLIPWAY_LAYER_MAX_ENTRIES=20 run sw image load "$T/many-oci.tar"
	[ "$status" -eq 1 ]
	[[ "$output" == *"more than 20 entries"* ]]
	[[ "$output" == *"layer 'sha256:$(sha256sum "$T/many.tar" | cut -c1-64)'"* ]]
	assert_no_partial_state
	[ -z "$(ls "$DATA/images/blobs/sha256")" ]

	# corrupted gzip: valid header, garbage in the middle
	tar -C "$T/bomb" -cf - . | gzip >"$T/good.tar.gz"
	head -c 300000 /dev/urandom >"$T/bomb/rand"
	tar -C "$T/bomb" -cf - . | gzip >"$T/good.tar.gz"
	cp "$T/good.tar.gz" "$T/bad.tar.gz"
	printf 'garbagegarbage' | dd of="$T/bad.tar.gz" bs=1 seek=2000 conv=notrunc status=none
	make_oci_archive "$T/bad-oci.tar" bad:1 "$T/bad.tar.gz" application/vnd.oci.image.layer.v1.tar+gzip \
		"$(gzip -dc "$T/good.tar.gz" | sha256sum | cut -c1-64)"
	run sw image load "$T/bad-oci.tar"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"layer 'sha256:"* ]]
	assert_no_partial_state
	[ -z "$(ls "$DATA/images/blobs/sha256")" ]

	# a blob whose name is not its digest
	make_oci_archive "$T/wrong.tar" wrong:1 "$T/many.tar" application/vnd.oci.image.layer.v1.tar "" \
		0000000000000000000000000000000000000000000000000000000000000000
	run sw image load "$T/wrong.tar"
	[ "$status" -eq 1 ]
	[[ "$output" == *"digest mismatch"* ]]
	assert_no_partial_state
	[ -z "$(ls "$DATA/images/blobs/sha256")" ]

	# a diff_id that is not the layer's
	make_oci_archive "$T/diff.tar" diff:1 "$T/many.tar" application/vnd.oci.image.layer.v1.tar \
		1111111111111111111111111111111111111111111111111111111111111111
	run sw image load "$T/diff.tar"
	[ "$status" -eq 1 ]
	[[ "$output" == *"diff_id is 'sha256:$(sha256sum "$T/many.tar" | cut -c1-64)'"* ]]
	assert_no_partial_state
	[ -z "$(ls "$DATA/images/blobs/sha256")" ]
	run sw image ls --json
	[ "$output" = "[]" ]
}

@test "prune removes unreferenced blobs and layer dirs but never a pinned one" {
	make_rootfs "$T/root"
	sw image import "$T/root" keep:1 >/dev/null
	echo more >"$T/root/more"
	sw image import "$T/root" drop:1 >/dev/null
	echo evenmore >"$T/root/evenmore"
	sw image import "$T/root" pinned:1 >/dev/null
	keep="$(sw image inspect --layers keep:1)"
	drop="$(sw image inspect --layers drop:1)"
	pinned="$(sw image inspect --layers pinned:1)"
	mkdir -p "$DATA/containers/c1"
	sw image inspect pinned:1 | jq -r '.config.rootfs.diff_ids[]' >"$DATA/containers/c1/layers"
	nblobs="$(ls "$DATA/images/blobs/sha256" | wc -l)"
	sw image rm drop:1 pinned:1
	run sw image prune --json
	[ "$status" -eq 0 ]
	[ "$(jq .layer_dirs <<<"$output")" -eq 1 ]
	[ "$(jq .blobs <<<"$output")" -eq 6 ]
	[ "$(ls "$DATA/images/blobs/sha256" | wc -l)" -eq $((nblobs - 6)) ]
	[ -d "$keep" ] && [ -d "$pinned" ] && [ ! -e "$drop" ]
	run skopeo inspect "oci:$DATA/images:keep:1"
	[ "$status" -eq 0 ]
	rm -r "$DATA/containers/c1"
	sw image prune
	[ ! -e "$pinned" ] && [ -d "$keep" ]
}

@test "concurrent imports and tags keep index.json whole" {
	make_rootfs "$T/root"
	for i in $(seq 1 8); do
		sw image import "$T/root" "par/img:$i" >/dev/null &
	done
	wait
	run sw image ls --json
	[ "$(jq length <<<"$output")" -eq 8 ]
	[ "$(ls "$DATA/tmp" | wc -l)" -eq 0 ]
}

@test "prune running beside imports never breaks a tagged image" {
	make_rootfs "$T/root"
	for i in $(seq 1 6); do
		cp -a "$T/root" "$T/root$i"
		echo "$i" >"$T/root$i/n"
	done
	for i in $(seq 1 6); do
		sw image import "$T/root$i" "race:$i" >/dev/null &
		sw image prune >/dev/null &
	done
	wait
	run sw image ls --json
	[ "$(jq length <<<"$output")" -eq 6 ]
	for i in $(seq 1 6); do
		sw image inspect --layers "race:$i" >/dev/null
	done
	sw image prune >/dev/null
	for i in $(seq 1 6); do
		sw image inspect --layers "race:$i" >/dev/null
	done
}

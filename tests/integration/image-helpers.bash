# Helpers for image.bats: a data dir per test, test root filesystems, tree listings that
# compare names, types, modes, owners, link targets, hardlink counts and contents, and
# hand-made OCI archives (for hostile layers and wrong digests).

image_setup() {
	DATA="$BATS_TEST_TMPDIR/data"
	T="$BATS_TEST_TMPDIR"
	export DATA T
	mkdir -p "$DATA"
}

image_teardown() {
	# Unmount whatever a test mounted below its temp dir (also after a failure).
	local m
	for m in $(awk -v t="$BATS_TEST_TMPDIR" '$5 ~ "^"t {print $5}' /proc/self/mountinfo | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
}

sw() {
	"$SLIPWAY" --data-dir "$DATA" "$@"
}

# A small root filesystem with the kinds of entries an image holds.
make_rootfs() {
	local r="$1"
	mkdir -p "$r/bin" "$r/etc" "$r/usr/lib" "$r/private" "$r/dev" "$r/tmp"
	cp /bin/busybox "$r/bin/busybox"
	ln -s busybox "$r/bin/sh"
	ln -s usr/lib "$r/lib"
	printf 'hello\n' >"$r/etc/motd"
	ln "$r/etc/motd" "$r/etc/motd.hard"
	printf 'secret\n' >"$r/private/key"
	chmod 0600 "$r/private/key"
	chmod 0700 "$r/private"
	chown -R 1000:1001 "$r/private"
	cp /bin/busybox "$r/usr/lib/su-like"
	chmod 4755 "$r/usr/lib/su-like"
	printf 'g\n' >"$r/usr/lib/sgid"
	chmod 2750 "$r/usr/lib/sgid"
	chmod 1777 "$r/tmp"
	mkfifo "$r/dev/fifo"
	mknod "$r/dev/null" c 1 3
	chmod 0666 "$r/dev/null"
	head -c 300000 /dev/urandom >"$r/usr/lib/blob.bin"
	touch -d '2020-01-02 03:04:05' "$r/etc/motd"
}

# One line per entry: path|type|mode|uid|gid|link target|link count|size(files); then hashes.
tree_list() {
	(
		cd "$1" || exit 1
		find . -mindepth 1 \( -type d -printf '%P|%y|%m|%U|%G\n' \) -o \
			\( -printf '%P|%y|%m|%U|%G|%l|%n|' -a \( -type f -printf '%s' -o -true \) -printf '\n' \) |
			sort
		find . -type f -exec sha256sum {} + | sort -k2
	)
}

# make_oci_archive OUT.tar NAME:TAG LAYER_FILE [MEDIA_TYPE [DIFF_ID [LAYER_DIGEST_OVERRIDE]]]
# Writes an OCI archive of a one-layer image by hand (no slipway involved).
make_oci_archive() {
	local out="$1" ref="$2" layer="$3" mt="${4:-application/vnd.oci.image.layer.v1.tar}"
	local dir ldig diff cfg cdig man mdig
	dir="$(mktemp -d "$T/oci.XXXXXX")"
	mkdir -p "$dir/blobs/sha256"
	ldig="$(sha256sum "$layer" | cut -d' ' -f1)"
	case "$mt" in
	*gzip) diff="$(gzip -dc "$layer" | sha256sum | cut -d' ' -f1)" ;;
	*zstd) diff="$(zstd -dc "$layer" | sha256sum | cut -d' ' -f1)" ;;
	*) diff="$ldig" ;;
	esac
	diff="${5:-$diff}"
	cp "$layer" "$dir/blobs/sha256/${6:-$ldig}"
	cfg='{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:'"$diff"'"]}}'
	printf '%s' "$cfg" >"$dir/cfg"
	cdig="$(sha256sum "$dir/cfg" | cut -d' ' -f1)"
	mv "$dir/cfg" "$dir/blobs/sha256/$cdig"
	man='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'"$cdig"'","size":'"${#cfg}"'},"layers":[{"mediaType":"'"$mt"'","digest":"sha256:'"${6:-$ldig}"'","size":'"$(stat -c %s "$layer")"'}]}'
	printf '%s' "$man" >"$dir/man"
	mdig="$(sha256sum "$dir/man" | cut -d' ' -f1)"
	mv "$dir/man" "$dir/blobs/sha256/$mdig"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
		"$mdig" "${#man}" "$ref" >"$dir/index.json"
	tar -C "$dir" -cf "$out" oci-layout index.json blobs
	rm -rf "$dir"
}

# Nothing half-done may stay behind after a refused layer.
assert_no_partial_state() {
	run find "$DATA/layers" "$DATA/tmp" -mindepth 1
	[ "$status" -eq 0 ]
	[ -z "$output" ] || { echo "left behind: $output"; return 1; }
}

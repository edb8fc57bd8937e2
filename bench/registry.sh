#!/bin/sh
# bench/registry.sh — slipway image push/pull beside skopeo copy, on the same ~200 MB image and
# the same local Distribution registry (docker-registry on a free loopback port, its own
# storage): first push, re-push of the unchanged image, pull into an empty store. Each figure
# is the median of $RUNS runs (default 3), each against a fresh registry. skopeo goes first in each round so that its blob cache cannot turn its
# push into a mount of what slipway pushed. slipway's pull also unpacks every layer (skopeo's
# copy to an OCI layout does not).
#   SLIPWAY=./slipway RUNS=3 SIZE_MB=200 sh bench/registry.sh
set -eu
S=$(realpath "${SLIPWAY:-./slipway}")
RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-200}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/slipway-bench-registry.XXXXXX")
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

mkdir -p "$tmp/root/bin"
# A fresh registry (new storage, new port) for each round: neither tool's memory of where a
# blob was seen (skopeo's blob info cache, slipway's $DATA/registry-blobs.json) can turn a
# first push into a mount.
registry_start() {
	rm -rf "$tmp/storage" "$tmp/log"
	mkdir -p "$tmp/storage"
	cat >"$tmp/config.yml" <<CFG
version: 0.1
log: {level: info, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $tmp/storage}}
http: {addr: '127.0.0.1:0'}
CFG
	docker-registry serve "$tmp/config.yml" >"$tmp/log" 2>&1 &
	pid=$!
	port=""
	for _ in $(seq 200); do
		port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/log" | head -1)
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { echo "registry did not start" >&2; cat "$tmp/log" >&2; exit 1; }
	reg="127.0.0.1:$port"
}
registry_stop() {
	kill "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	pid=""
}

# The image: busybox plus SIZE_MB of incompressible data in one zstd layer.
cp /bin/busybox "$tmp/root/bin/busybox"
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$tmp/root/data.bin"
"$S" --data-dir "$tmp/data" image import "$tmp/root" bench/img:v1 >/dev/null
bytes=$("$S" --data-dir "$tmp/data" image ls --json | jq '.[0].size')
rm -rf "$tmp/root"

ms() { # ms CMD...: wall milliseconds of CMD (its output discarded)
	# Start each from clean page cache: on ext4 one tool's fsync would otherwise also
	# write back what the tool before it left dirty.
	sync
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

sk_push="" sw_push="" sk_re="" sw_re="" sk_pull="" sw_pull=""
i=1
while [ "$i" -le "$RUNS" ]; do
	registry_start
	rm -f "$tmp/data/registry-blobs.json"
	sk_push="$sk_push $(ms skopeo copy -q --dest-tls-verify=false "oci:$tmp/data/images:bench/img:v1" "docker://$reg/sk$i/img:v1")"
	sw_push="$sw_push $(ms "$S" --data-dir "$tmp/data" image push bench/img:v1 "$reg/sw$i/img:v1")"
	sk_re="$sk_re $(ms skopeo copy -q --dest-tls-verify=false "oci:$tmp/data/images:bench/img:v1" "docker://$reg/sk$i/img:v1")"
	sw_re="$sw_re $(ms "$S" --data-dir "$tmp/data" image push bench/img:v1 "$reg/sw$i/img:v1")"
	sk_pull="$sk_pull $(ms skopeo copy -q --src-tls-verify=false "docker://$reg/sk$i/img:v1" "oci:$tmp/sk-pull$i:img")"
	sw_pull="$sw_pull $(ms "$S" --data-dir "$tmp/pull$i" image pull "$reg/sw$i/img:v1")"
	rm -rf "$tmp/sk-pull$i" "$tmp/pull$i"
	registry_stop
	i=$((i + 1))
done

mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "registry push/pull of a $mb MiB image (1 layer, zstd), local docker-registry, median of $RUNS runs"
printf '%-12s %12s %12s %14s\n' "what" "slipway ms" "skopeo ms" "skopeo/slipway"
row() {
	a=$(echo "$2" | median)
	b=$(echo "$3" | median)
	printf '%-12s %12s %12s %13.2fx' "$1" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print (a > 0 ? b / a : 0) }')"
	if [ "$4" = yes ]; then
		awk -v a="$a" -v b="$b" -v by="$bytes" 'BEGIN { printf "   (%.0f vs %.0f MB/s)", by / 1e6 / (a / 1000), by / 1e6 / (b / 1000) }'
	fi
	echo
}
row "first push" "$sw_push" "$sk_push" yes
row "re-push" "$sw_re" "$sk_re" no
row "pull" "$sw_pull" "$sk_pull" yes

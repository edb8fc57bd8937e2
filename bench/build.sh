#!/bin/sh
# bench/build.sh — `slipway image build` against `buildah bud --isolation chroot
# --storage-driver overlay` on the same Dockerfile (busybox base, RUN + COPY + ENV + CMD),
# the same base image and context: a cold build, a fully cached rebuild, and a rebuild after
# the COPY input changed. Medians of N runs each (N=5, $BENCH_RUNS), both figures and the
# ratio printed. Needs root, busybox-static, buildah, skopeo.
#
#   sh bench/build.sh            (SLIPWAY=path/to/slipway, BENCH_DIR=where to work)
set -eu

SLIPWAY="${SLIPWAY:-$(cd "$(dirname "$0")/.." && pwd)/slipway}"
BENCH_DIR="${BENCH_DIR:-$(mktemp -d /var/tmp/slipway-bench.XXXXXX)}"
RUNS="${BENCH_RUNS:-5}"
B="$BENCH_DIR/buildah"
cleanup() {
	buildah --root "$B/root" --runroot "$B/run" --storage-driver overlay rm -a >/dev/null 2>&1 || true
	buildah --root "$B/root" --runroot "$B/run" --storage-driver overlay umount -a >/dev/null 2>&1 || true
	rm -rf "$BENCH_DIR"
}
trap cleanup EXIT INT TERM
command -v buildah >/dev/null || { echo "bench/build.sh: buildah is not installed" >&2; exit 1; }

sw() { "$SLIPWAY" --data-dir "$BENCH_DIR/data" "$@"; }
bh() { buildah --root "$B/root" --runroot "$B/run" --storage-driver overlay "$@"; }
now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# The base: busybox with every applet, in slipway's store and (the same blobs) in buildah's.
r="$BENCH_DIR/bb"
mkdir -p "$r/bin" "$r/etc" "$r/tmp"
cp /bin/busybox "$r/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
sw image import "$r" localhost/bb:1 >/dev/null
skopeo copy -q "oci:$BENCH_DIR/data/images:localhost/bb:1" \
	"containers-storage:[overlay@$B/root+$B/run]localhost/bb:1"

ctx="$BENCH_DIR/ctx"
mkdir -p "$ctx/app"
i=0
while [ $i -lt 200 ]; do
	seq $((i * 1000)) $((i * 1000 + 500)) >"$ctx/app/f$i.txt"
	i=$((i + 1))
done
cat >"$ctx/Dockerfile" <<'EOF'
FROM localhost/bb:1
ENV APP_HOME=/app GREETING=hello
RUN mkdir -p /var/lib/demo && echo "$GREETING" > /var/lib/demo/greeting && ls / > /var/lib/demo/root
COPY app/ /app/
RUN cat /app/*.txt | wc -l > /app/lines
CMD ["cat", "/app/lines"]
EOF
echo "context: $(find "$ctx" -type f | wc -l) files, $(du -sk "$ctx" | cut -f1) KB; $RUNS runs each"

# time_one KIND TOOL: one build in ms. cold: caches and the result removed first.
time_one() {
	_kind=$1 _tool=$2
	case $_kind in
	cold)
		if [ "$_tool" = slipway ]; then
			rm -rf "$BENCH_DIR/data/build-cache"
			sw image rm bench:1 >/dev/null 2>&1 || true
			sw image prune >/dev/null
		else
			bh rmi -f localhost/bench:1 >/dev/null 2>&1 || true
			bh rmi --prune >/dev/null 2>&1 || true
		fi
		;;
	changed)
		date +%s%N >"$ctx/app/changing.txt"
		;;
	esac
	sync
	t0=$(now)
	if [ "$_tool" = slipway ]; then
		sw image build -t bench:1 "$ctx" >/dev/null 2>&1
	else
		bh bud --isolation chroot -q --layers -t localhost/bench:1 "$ctx" >/dev/null 2>&1
	fi
	t1=$(now)
	ms "$t0" "$t1"
}

for kind in cold cached changed; do
	for tool in slipway buildah; do
		n=0
		: >"$BENCH_DIR/t"
		# prime: the cached and changed runs start from a built image
		[ "$kind" = cold ] || time_one cached "$tool" >/dev/null
		while [ $n -lt "$RUNS" ]; do
			time_one "$kind" "$tool" >>"$BENCH_DIR/t"
			n=$((n + 1))
		done
		eval "${kind}_${tool}=$(median <"$BENCH_DIR/t")"
	done
done

printf '%-28s %10s %10s %8s  %s\n' build slipway buildah ratio target
printf '%-28s %8sms %8sms %8s  %s\n' "cold" "$cold_slipway" "$cold_buildah" \
	"$(ratio "$cold_slipway" "$cold_buildah")" "<= 0.5"
printf '%-28s %8sms %8sms %8s  %s\n' "fully cached" "$cached_slipway" "$cached_buildah" \
	"$(ratio "$cached_slipway" "$cached_buildah")" "<= 0.25"
printf '%-28s %8sms %8sms %8s  %s\n' "COPY input changed" "$changed_slipway" "$changed_buildah" \
	"$(ratio "$changed_slipway" "$changed_buildah")" "<= 0.5"

#!/bin/sh
# bench/layers.sh — packing and unpacking a 200 MB tree into a layer: slipway against
# `tar | gzip -6`, `tar | zstd -3` (packing) and `umoci unpack` (unpacking). One run each,
# times and ratios printed. Needs root (ownership, umoci), zstd, umoci.
#
#   sh bench/layers.sh            (SLIPWAY=path/to/slipway, BENCH_DIR=where to work)
set -eu

SLIPWAY="${SLIPWAY:-$(cd "$(dirname "$0")/.." && pwd)/slipway}"
BENCH_DIR="${BENCH_DIR:-$(mktemp -d /var/tmp/slipway-bench.XXXXXX)}"
trap 'rm -rf "$BENCH_DIR"' EXIT INT TERM
tree="$BENCH_DIR/tree"
data="$BENCH_DIR/data"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# 100 MB of random data in 1 MiB..4 MiB files, 100 MB of text in many small files.
mkdir -p "$tree/bin" "$tree/src"
i=0
while [ $i -lt 40 ]; do
	head -c $((2500 * 1024)) /dev/urandom >"$tree/bin/blob$i"
	i=$((i + 1))
done
i=0
while [ $i -lt 50 ]; do
	mkdir -p "$tree/src/d$i"
	j=0
	while [ $j -lt 40 ]; do
		# ~50 KB of text per file
		seq $((i * 100000 + j * 1000)) $((i * 100000 + j * 1000 + 7000)) >"$tree/src/d$i/f$j.txt"
		j=$((j + 1))
	done
	i=$((i + 1))
done
size=$(du -sm "$tree" | cut -f1)
echo "tree: ${size} MB, $(find "$tree" | wc -l) entries"
sync

t0=$(now); tar -C "$tree" -cf - . | gzip -6 >"$BENCH_DIR/t.tar.gz"; t1=$(now)
gz=$(elapsed "$t0" "$t1")
t0=$(now); tar -C "$tree" -cf - . | zstd -q -3 >"$BENCH_DIR/t.tar.zst"; t1=$(now)
zs=$(elapsed "$t0" "$t1")
t0=$(now); "$SLIPWAY" --data-dir "$data" image import "$tree" bench:zstd >/dev/null; t1=$(now)
sw=$(elapsed "$t0" "$t1")
t0=$(now); "$SLIPWAY" --data-dir "$data" image import --compression gzip "$tree" bench:gzip >/dev/null; t1=$(now)
swg=$(elapsed "$t0" "$t1")

echo "pack   tar|gzip -6        ${gz}s  $(du -m "$BENCH_DIR/t.tar.gz" | cut -f1) MB"
echo "pack   tar|zstd -3        ${zs}s  $(du -m "$BENCH_DIR/t.tar.zst" | cut -f1) MB"
echo "pack   slipway (zstd)     ${sw}s  (layer + config + manifest, fsynced)"
echo "pack   slipway (gzip)     ${swg}s"
echo "ratio  tar|gzip / slipway(zstd): $(ratio "$gz" "$sw")x   (target >= 3)"
echo "ratio  tar|zstd / slipway(zstd): $(ratio "$zs" "$sw")x"

# Unpacking the same gzip layer (umoci cannot read zstd layers).
sync
t0=$(now); umoci unpack --image "$data/images:bench:gzip" "$BENCH_DIR/bundle" >/dev/null 2>&1; t1=$(now)
um=$(elapsed "$t0" "$t1")
t0=$(now); "$SLIPWAY" --data-dir "$data" image inspect --layers bench:gzip >/dev/null; t1=$(now)
swu=$(elapsed "$t0" "$t1")
# both images have one diff_id (one tree): remove the dir to unpack again from zstd
rm -rf "$data/layers/"*
sync
t0=$(now); "$SLIPWAY" --data-dir "$data" image inspect --layers bench:zstd >/dev/null; t1=$(now)
swz=$(elapsed "$t0" "$t1")
echo "unpack umoci (gzip)       ${um}s"
echo "unpack slipway (gzip)     ${swu}s"
echo "unpack slipway (zstd)     ${swz}s"
echo "ratio  umoci / slipway (gzip): $(ratio "$um" "$swu")x   (target >= 1)"

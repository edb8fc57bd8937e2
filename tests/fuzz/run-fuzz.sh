#!/bin/sh
# tests/fuzz/run-fuzz.sh [SECONDS] — fuzzes pipeline_parse with libFuzzer and ASan.
#
# Seeds the corpus from tests/fixtures/pipelines, runs for SECONDS (default 180) on one core,
# and copies any crash, leak or timeout input to tests/fixtures/pipelines/fuzz/ so that
# test-pipeline replays it from then on. Exit status: 0 clean, 1 something was found.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-180}
out=build/fuzz
mkdir -p "$out/corpus" "$out/artifacts"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I. -D_GNU_SOURCE -std=gnu11 $(pkg-config --cflags yaml-0.1) \
	-o "$out/fuzz-pipeline" tests/fuzz/fuzz-pipeline.c pipelines/*.c \
	lib/error.c lib/buf.c lib/parse.c $(pkg-config --libs yaml-0.1) -lm
cp tests/fixtures/pipelines/*/*.yml "$out/corpus/" 2>/dev/null || true
status=0
"$out/fuzz-pipeline" -max_total_time="$secs" -max_len=4096 -timeout=5 -rss_limit_mb=1024 \
	-dict=tests/fuzz/yaml.dict -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
	"$out/corpus" || status=1
found=0
for f in "$out"/artifacts/*; do
	[ -e "$f" ] || continue
	mkdir -p tests/fixtures/pipelines/fuzz
	cp "$f" "tests/fixtures/pipelines/fuzz/$(basename "$f").yml"
	echo "run-fuzz: kept $(basename "$f") in tests/fixtures/pipelines/fuzz/"
	found=1
done
[ "$found" = 0 ] && [ "$status" = 0 ] && echo "run-fuzz: nothing found in ${secs}s"
[ "$found" = 0 ] && exit "$status"
exit 1

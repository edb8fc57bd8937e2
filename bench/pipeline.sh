#!/bin/sh
# bench/pipeline.sh — slipway's main job beside the same work scripted with buildah + crun +
# skopeo, in one run on this machine:
#   1. a pipeline of checkout, image build, three steps and push, end to end
#      (target: slipway <= 0.5 x the script);
#   2. the cost of one more step: (50 sequential `true` steps - 1 step) / 49, beside one
#      `crun run` of /bin/true (target: <= 0.5 x crun).
# Needs root, crun, buildah, skopeo, docker-registry (./configure --install-deps).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
SLIPWAY=${SLIPWAY:-$top/slipway}
N=${N:-5}
W=$(mktemp -d /tmp/slipway-bench-pipeline.XXXXXX)
DATA=$W/data
sw() { "$SLIPWAY" --data-dir "$DATA" "$@"; }

cleanup() {
	[ -f "$W/registry.pid" ] && kill "$(cat "$W/registry.pid")" 2>/dev/null || true
	buildah --storage-driver overlay --root "$W/bstore" --runroot "$W/brun" rm -a >/dev/null 2>&1 || true
	for m in $(awk -v w="$W" '$5 ~ "^"w {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

for t in crun buildah skopeo docker-registry python3 git; do
	command -v "$t" >/dev/null || { echo "bench/pipeline.sh: '$t' is missing (./configure --install-deps)"; exit 1; }
done

now_ms() { date +%s%3N; }
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# A busybox root, the slipway image and the registry.
root=$W/root
mkdir -p "$root/bin" "$root/etc" "$root/tmp"
cp /bin/busybox "$root/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
sw image import "$root" busybox:latest >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/registry.yml" <<YML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $W/registry } }
http: { addr: 127.0.0.1:$port }
YML
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
echo $! >"$W/registry.pid"
sleep 0.3
REG=127.0.0.1:$port
skopeo copy -q --dest-tls-verify=false "oci:$DATA/images:busybox:latest" "docker://$REG/busybox:latest"

# The project: a Dockerfile (RUN + COPY + ENV + CMD) and three steps.
app=$W/app
mkdir -p "$app/src"
seq 1 2000 >"$app/src/numbers"
cat >"$app/Dockerfile" <<'EOF2'
FROM busybox:latest
ENV APP=/app
COPY src/ /app/
RUN wc -l /app/numbers > /app/count
CMD ["cat", "/app/count"]
EOF2
cat >"$app/.slipway.yml" <<YML
image:
  tags: [bench]
  push: $REG/bench/slipway
steps:
  - name: one
    commands: [cat /app/count]
  - name: two
    commands: [grep -c 7 /app/numbers]
  - name: three
    commands: [test -s /app/count]
YML
git -C "$app" init -q -b main && git -C "$app" add -A &&
	git -C "$app" -c user.name=b -c user.email=b@x commit -qm bench

# The same work, scripted.
B="buildah --storage-driver overlay --root $W/bstore --runroot $W/brun"
sed "s|FROM busybox:latest|FROM $REG/busybox:latest|" "$app/Dockerfile" >"$W/Dockerfile.peer"
script_run() {
	rm -rf "$W/co"
	git clone -q "$app" "$W/co"
	$B bud -q --isolation chroot --tls-verify=false -f "$W/Dockerfile.peer" -t bench-peer "$W/co" >/dev/null
	ctr=$($B from -q bench-peer)
	mnt=$($B mount "$ctr")
	for cmd in "cat /app/count" "grep -c 7 /app/numbers" "test -s /app/count"; do
		rm -rf "$W/bundle" && mkdir -p "$W/bundle" && (cd "$W/bundle" && crun spec)
		python3 - "$W/bundle/config.json" "$mnt" "$cmd" <<'PY'
import json, sys
p, root, cmd = sys.argv[1:]
c = json.load(open(p))
c['root'] = {'path': root, 'readonly': True}
c['process']['args'] = ['/bin/sh', '-c', cmd]
c['process']['terminal'] = False
json.dump(c, open(p, 'w'))
PY
		unshare -m --propagation private sh -c \
			"umount /sys/fs/cgroup/unified 2>/dev/null; crun run -b $W/bundle bench-\$\$" >/dev/null
	done
	$B umount "$ctr" >/dev/null
	$B rm "$ctr" >/dev/null
	$B push -q --tls-verify=false bench-peer "docker://$REG/bench/peer:bench" >/dev/null
}

echo "== 1. checkout + build + 3 steps + push, end to end (median of $N)"
: >"$W/t.sw"
: >"$W/t.peer"
for i in $(seq "$N"); do
	git -C "$app" commit -q --allow-empty -m "run $i"
	t0=$(now_ms); sw run --repo "$app" >/dev/null; t1=$(now_ms)
	echo $((t1 - t0)) >>"$W/t.sw"
	t0=$(now_ms); script_run; t1=$(now_ms)
	echo $((t1 - t0)) >>"$W/t.peer"
done
a=$(median <"$W/t.sw"); b=$(median <"$W/t.peer")
printf '  slipway run                     %6s ms\n' "$a"
printf '  buildah + crun + skopeo script  %6s ms\n' "$b"
printf '  ratio slipway/script            %6s   (target <= 0.5)\n' "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", a/b}')"

echo "== 2. the cost of one step: (50 steps - 1 step) / 49, beside crun run /bin/true"
mk_steps() {
	d=$1 n=$2
	mkdir -p "$d"
	{ echo "steps:"; for i in $(seq "$n"); do printf '  - name: s%d\n    image: busybox:latest\n    commands: ["true"]\n' "$i"; done; } >"$d/.slipway.yml"
	git -C "$d" init -q -b main && git -C "$d" add -A && git -C "$d" -c user.name=b -c user.email=b@x commit -qm s
}
mk_steps "$W/s1" 1
mk_steps "$W/s50" 50
: >"$W/t.1"; : >"$W/t.50"
for i in $(seq "$N"); do
	t0=$(now_ms); sw run --repo "$W/s1" >/dev/null; t1=$(now_ms); echo $((t1 - t0)) >>"$W/t.1"
	t0=$(now_ms); sw run --repo "$W/s50" >/dev/null; t1=$(now_ms); echo $((t1 - t0)) >>"$W/t.50"
done
s1=$(median <"$W/t.1"); s50=$(median <"$W/t.50")
per=$(awk -v a="$s50" -v b="$s1" 'BEGIN{printf "%.1f", (a-b)/49}')
rm -rf "$W/bundle" && mkdir -p "$W/bundle" && (cd "$W/bundle" && crun spec)
python3 - "$W/bundle/config.json" "$root" <<'PY'
import json, sys
p, root = sys.argv[1:]
c = json.load(open(p)); c['root'] = {'path': root, 'readonly': True}
c['process']['args'] = ['/bin/true']; c['process']['terminal'] = False
json.dump(c, open(p, 'w'))
PY
: >"$W/t.crun"
for i in $(seq 20); do
	t0=$(date +%s%N)
	unshare -m --propagation private sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; crun run -b $W/bundle b-$i" >/dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 100000)) >>"$W/t.crun"
done
c=$(median <"$W/t.crun" | awk '{printf "%.1f", $1/10}')
printf '  slipway, per extra step          %6s ms  (1 step %s ms, 50 steps %s ms)\n' "$per" "$s1" "$s50"
printf '  crun run /bin/true               %6s ms\n' "$c"
printf '  ratio slipway/crun               %6s   (target <= 0.5)\n' "$(awk -v a="$per" -v b="$c" 'BEGIN{printf "%.2f", a/b}')"

#!/bin/sh
# bench/container.sh — starting a container with /bin/true on the same busybox root: slipway
# against crun and runc (and plain unshare with the same namespaces), full isolation, with and
# without a memory limit. One interleaved run (A B C A B C ...), medians and ratios printed.
#
# Two figures for slipway:
#   command line   `slipway container run --rootfs DIR /bin/true` vs `crun run`
#   launch         container_run() from inside a running process (what every pipeline step and
#                  build RUN pays), vs crun's command line
# crun 1.8 refuses hybrid cgroup hosts: it runs in a mount namespace where the cgroup2 mount is
# unmounted (../shared/REFERENCE.md). Needs root, crun; runc when installed.
#
#   sh bench/container.sh         (SLIPWAY=path/to/slipway, N=runs, default 100)
set -eu

top="$(cd "$(dirname "$0")/.." && pwd)"
SLIPWAY="${SLIPWAY:-$top/slipway}"
N="${N:-100}"
CC="${CC:-cc}"
work="$(mktemp -d /var/tmp/slipway-bench-container.XXXXXX)"
nsfile="$work/mntns"
nspid=
cleanup() {
	[ -n "$nspid" ] && kill "$nspid" 2>/dev/null
	umount "$nsfile" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

command -v crun >/dev/null || { echo "bench/container.sh: crun is not installed (apt-get install crun)" >&2; exit 1; }

# The busybox root, shared by everyone.
root="$work/bundle/rootfs"
mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/dev" "$root/sys" "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/true"
ln -s busybox "$root/bin/sh"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"

# OCI bundles: crun's default spec (pid, net, ipc, uts, mount, cgroup namespaces), read-only
# root, /bin/true; a second one with a memory limit.
mk_bundle() { # DIR MEMORY
	mkdir -p "$1"
	[ "$1" = "$work/bundle" ] || ln -s "$work/bundle/rootfs" "$1/rootfs"
	(cd "$1" && crun spec)
	jq --argjson mem "$2" '.process.terminal = false | .process.args = ["/bin/true"] |
		.root.readonly = true | .root.path = "rootfs" |
		(if $mem > 0 then .linux.resources.memory.limit = $mem else . end)' \
		"$1/config.json" >"$1/c.json" && mv "$1/c.json" "$1/config.json"
}
mk_bundle "$work/bundle" 0
mk_bundle "$work/bundle-mem" $((64 << 20))

# The mount namespace crun runs in: private, without the cgroup2 mount.
touch "$nsfile"
unshare --mount="$nsfile" --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; true'

# The timers.
"$CC" -O2 -o "$work/container-time" "$top/bench/container-time.c"
"$CC" -O2 -I"$top" -D_GNU_SOURCE -o "$work/container-launch" "$top/bench/container-launch.c" \
	"$top/build/libslipway.a" -ljansson -lseccomp -lpthread

data="$work/data"
sw="$SLIPWAY --data-dir $data container run --rootfs $root"
set -- "$sw /bin/true" "$sw --memory 64M /bin/true" \
	"ns:crun run --bundle $work/bundle bench-crun-$$" \
	"ns:crun run --bundle $work/bundle-mem bench-crunm-$$" \
	"unshare --mount --pid --net --uts --ipc --cgroup --fork /bin/true"
labels="slipway|slipway --memory 64M|crun run|crun run (memory limit)|unshare (same namespaces)"
have_runc=no
if command -v runc >/dev/null; then
	have_runc=yes
	set -- "$@" "runc run --bundle $work/bundle bench-runc-$$"
	labels="$labels|runc run"
fi

echo "container start, /bin/true, busybox root, N=$N interleaved (median ms); $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
# The in-process launch, timed in chunks between chunks of the command lines.
chunks=5
per=$((N / chunks))
[ "$per" -ge 1 ] || per=1
: >"$work/cli" && : >"$work/launch" && : >"$work/launchm"
i=0
while [ $i -lt $chunks ]; do
	BENCH_MNTNS="$nsfile" "$work/container-time" "$per" "$@" >>"$work/cli"
	"$work/container-launch" "$data" "$root" "$per" >>"$work/launch"
	"$work/container-launch" "$data" "$root" "$per" --memory $((64 << 20)) >>"$work/launchm"
	i=$((i + 1))
done
ncmd=$#
# Median of the chunk medians, per command.
med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
col() { awk -v k="$1" -v n="$ncmd" '(NR - 1) % n == k - 1' "$work/cli" | med; }
sw_cli=$(col 1); sw_mem=$(col 2); crun=$(col 3); crun_mem=$(col 4); unsh=$(col 5)
launch=$(med <"$work/launch"); launchm=$(med <"$work/launchm")
printf '  %-40s %8s\n' "crun run" "$crun" "crun run, memory limit" "$crun_mem" \
	"unshare, same namespaces" "$unsh"
[ $have_runc = yes ] && printf '  %-40s %8s\n' "runc run" "$(col 6)"
printf '  %-40s %8s   %s x crun\n' "slipway container run" "$sw_cli" "$(ratio "$sw_cli" "$crun")" \
	"slipway container run --memory 64M" "$sw_mem" "$(ratio "$sw_mem" "$crun_mem")" \
	"slipway launch in-process" "$launch" "$(ratio "$launch" "$crun")" \
	"slipway launch in-process, memory limit" "$launchm" "$(ratio "$launchm" "$crun_mem")"
echo "targets: command line <= 1.0 x crun; in-process launch <= 0.5 x crun"

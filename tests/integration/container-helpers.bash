# Helpers for container.bats and cgroup.bats: a data dir and a busybox root per test, the
# static test helpers copied in, and finding a running container's cgroup from a process.

container_setup() {
	T="$BATS_TEST_TMPDIR"
	DATA="$T/data"
	ROOT="$T/root"
	export T DATA ROOT
	mkdir -p "$DATA"
	make_container_rootfs "$ROOT"
	# A marker no other test uses, to find our own processes.
	MARK="sw$$x$RANDOM$RANDOM"
	export MARK
}

container_teardown() {
	local p
	# Whatever a failing test left running: its processes carry our marker.
	for p in $(pgrep -f "$MARK" 2>/dev/null); do
		[ "$p" != "$$" ] && kill -9 "$p" 2>/dev/null
	done
	"$SLIPWAY" --data-dir "$DATA" prune >/dev/null 2>&1 || true
}

sw() {
	"$SLIPWAY" --data-dir "$DATA" "$@"
}

# A busybox root with every applet linked, /etc/passwd and /etc/group, the test helpers.
make_container_rootfs() {
	local r="$1" h
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/home/user"
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nother:x:1001:1001::/:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\nother:x:1001:\nextra:x:2000:user,other\n' >"$r/etc/group"
	printf 'from the lower dir\n' >"$r/etc/motd"
	chmod 1777 "$r/tmp"
	chown 1000:1000 "$r/home/user"
	for h in "$BATS_TEST_DIRNAME"/../helpers/*; do
		[ -x "$h" ] && [ -f "$h" ] && cp "$h" "$r/bin/"
	done
	return 0
}

# The cgroup directory (v1 controller CTL, or the unified one) of a process.
cgroup_of() {
	local pid="$1" ctl="$2" path
	path="$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$pid/cgroup")"
	if [ -n "$path" ]; then
		echo "/sys/fs/cgroup/$ctl$path"
	else
		echo "/sys/fs/cgroup/unified$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")"
	fi
}

# Waits until a process whose command line holds $1 exists; prints its pid.
wait_for_process() {
	local i p
	for i in $(seq 100); do
		p="$(pgrep -f "$1" | head -1)"
		if [ -n "$p" ]; then
			echo "$p"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# Waits until process $1 has a child; prints the child's pid.
wait_for_child() {
	local i p
	for i in $(seq 200); do
		p="$(pgrep -P "$1" | head -1)"
		if [ -n "$p" ]; then
			echo "$p"
			return 0
		fi
		sleep 0.025
	done
	return 1
}

# Starts `slipway container run ARGS` in the background; sets SW_PID (slipway), INIT_PID (the
# container's pid 1) and CMD_PID (the command) once the command runs. Output goes to $T/out.
start_container() {
	"$SLIPWAY" --data-dir "$DATA" container run "$@" >"$T/out" 2>&1 &
	SW_PID=$!
	INIT_PID="$(wait_for_child "$SW_PID")"
	CMD_PID="$(wait_for_child "$INIT_PID")"
	[ -n "$CMD_PID" ]
}

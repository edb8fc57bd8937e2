#!/usr/bin/env bats
# slipway container run: what a user sees — namespaces, the overlay root, limits, OOM, timeouts,
# signals, security defaults, bad input, images, and that nothing is left behind.
load helpers
load container-helpers

setup() {
	container_setup
}

teardown() {
	container_teardown
}

@test "runs a command and passes its output, stdin and exit status" {
	run sw container run --rootfs "$ROOT" echo hello
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
	run sw container run --rootfs "$ROOT" sh -c 'exit 7'
	[ "$status" -eq 7 ]
	run sw container run --rootfs "$ROOT" sh -c 'kill -9 $$'
	[ "$status" -eq 137 ]
	run bash -c "echo piped | '$SLIPWAY' --data-dir '$DATA' container run --rootfs '$ROOT' cat"
	[ "$output" = piped ]
}

@test "pid namespace: ps sees only the container's processes, init is pid 1" {
	run sw container run --rootfs "$ROOT" sh -c 'ps -o pid,comm | tail -n +2'
	[ "$status" -eq 0 ]
	# init, sh, ps: nothing of the host
	[ "$(echo "$output" | wc -l)" -le 4 ]
	echo "$output" | grep -qE '^ *1 '
	run sw container run --rootfs "$ROOT" sh -c 'echo $$'
	[ "$output" = 2 ]
}

@test "uts, net, ipc and cgroup namespaces" {
	run sw container run --rootfs "$ROOT" hostname
	[ "$status" -eq 0 ]
	[ "$output" != "$(hostname)" ]
	run sw container run --rootfs "$ROOT" --hostname box1 sh -c 'hostname; cat /etc/hostname; grep box1 /etc/hosts'
	[ "${lines[0]}" = box1 ]
	[ "${lines[1]}" = box1 ]
	[[ "${lines[2]}" == *box1* ]]
	# only loopback, and it is up
	run sw container run --rootfs "$ROOT" sh -c 'ls /sys/class/net; ip -o link show lo'
	[ "${lines[0]}" = lo ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == *UP* ]]
	run sw container run --rootfs "$ROOT" ping -c1 -W1 127.0.0.1
	[ "$status" -eq 0 ]
	# the host's network with --network host
	run sw container run --rootfs "$ROOT" --network host ls /sys/class/net
	[ "$(echo "$output" | sort)" = "$(ls /sys/class/net | sort)" ]
	# own ipc and cgroup namespaces
	[ "$(sw container run --rootfs "$ROOT" readlink /proc/self/ns/ipc)" != "$(readlink /proc/self/ns/ipc)" ]
	run sw container run --rootfs "$ROOT" cat /proc/self/cgroup
	[ "$(echo "$output" | awk -F: '$3 != "/"' | wc -l)" -eq 0 ]
}

@test "overlay root: writes stay in the container, the lower dir is never modified" {
	before="$(cd "$ROOT" && find . -printf '%p %s %m %T@\n' | sort | sha256sum)"
	run sw container run --rootfs "$ROOT" sh -c 'echo new >/created; echo more >>/etc/motd; rm /bin/cat; mkdir -p /usr/x; cat /created'
	[ "$status" -eq 0 ]
	[ "$output" = new ]
	[ ! -e "$ROOT/created" ]
	[ "$(cat "$ROOT/etc/motd")" = "from the lower dir" ]
	[ -e "$ROOT/bin/cat" ]
	[ "$(cd "$ROOT" && find . -printf '%p %s %m %T@\n' | sort | sha256sum)" = "$before" ]
	# the next container starts from the lower dir again
	run sw container run --rootfs "$ROOT" sh -c 'cat /created 2>/dev/null || echo absent'
	[ "$output" = absent ]
	# and /proc, /dev, /sys are there
	run sw container run --rootfs "$ROOT" sh -c 'ls /dev | tr "\n" " "; test -r /proc/self/status && test -d /sys/kernel && echo ok'
	[[ "$output" == *null*ptmx*pts*random*shm*tty*urandom*zero* ]]
	[[ "$output" == *ok ]]
}

@test "--read-only root; --tmpfs and --volume" {
	run sw container run --rootfs "$ROOT" --read-only sh -c 'echo x >/etc/x'
	[ "$status" -ne 0 ]
	mkdir -p "$T/vol"
	echo host-file >"$T/vol/f"
	run sw container run --rootfs "$ROOT" --read-only --tmpfs /scratch:1M \
		-v "$T/vol:/mnt/vol" -v "$T/vol/f:/ro-file:ro" \
		sh -c 'echo s >/scratch/s && cat /scratch/s; cat /mnt/vol/f; echo w >/mnt/vol/w; (echo x >/ro-file) 2>/dev/null || echo refused'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = s ]
	[ "${lines[1]}" = host-file ]
	[ "${lines[2]}" = refused ]
	[ "$(cat "$T/vol/w")" = w ]
	[ "$(cat "$T/vol/f")" = host-file ]
	run sw container run --rootfs "$ROOT" --tmpfs /scratch:1M sh -c 'dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>&1'
	[ "$status" -ne 0 ]
}

@test "--env, --workdir, --user" {
	run sw container run --rootfs "$ROOT" -e A=1 -e B=two --workdir /work/dir sh -c 'echo $A $B; pwd; echo $HOME'
	[ "${lines[0]}" = "1 two" ]
	[ "${lines[1]}" = /work/dir ]
	[ "${lines[2]}" = /root ]
	run sw container run --rootfs "$ROOT" --user 1000 sh -c 'id -u; id -g; grep CapEff /proc/self/status; echo $HOME'
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 1000 ]
	[[ "${lines[2]}" == *0000000000000000 ]]
	[ "${lines[3]}" = /home/user ]
	# by name: supplementary groups from /etc/group
	run sw container run --rootfs "$ROOT" --user user id -G
	[ "$output" = "1000 2000" ]
	run sw container run --rootfs "$ROOT" --user 1001:2000 sh -c 'id -u; id -g'
	[ "${lines[0]}" = 1001 ]
	[ "${lines[1]}" = 2000 ]
	run sw container run --rootfs "$ROOT" --user nosuchuser id
	[ "$status" -eq 2 ]
	[[ "$output" == *"'nosuchuser'"* ]]
}

@test "memory limit: an OOM kill of the main process is detected and reported" {
	run sw container run --rootfs "$ROOT" --memory 32M --name hog --report "$T/r.json" memhog
	[ "$status" -eq 137 ]
	[[ "$output" == *"slipway: container 'hog' ran out of memory (limit 32 MiB)"* ]]
	jq -e '.oom_killed == true and .exit_code == 137 and .signal == 9' "$T/r.json"
	jq -e '.memory_peak_bytes > 20000000 and .memory_peak_bytes <= 33554432' "$T/r.json"
}

@test "memory limit: an OOM kill of a child is detected though the command exits 0" {
	run sw container run --rootfs "$ROOT" --memory 32M --name kid --report "$T/r.json" sh -c 'memhog; echo "child: $?"'
	[ "$status" -eq 0 ]
	[[ "$output" == *"child: 137"* ]]
	[[ "$output" == *"container 'kid' ran out of memory"* ]]
	jq -e '.oom_killed == true and .exit_code == 0' "$T/r.json"
	# the same command under no pressure is not an OOM
	run sw container run --rootfs "$ROOT" --memory 64M --report "$T/r2.json" sh -c 'memhog 8'
	[ "$status" -eq 0 ]
	jq -e '.oom_killed == false' "$T/r2.json"
}

@test "a fork bomb under --pids 64 is contained and leaves nothing" {
	run sw container run --rootfs "$ROOT" --pids 64 --report "$T/r.json" forkbomb 1 "$MARK"
	[ "$status" -eq 0 ]
	[[ "$output" == *"hit its process limit (64)"* ]]
	[[ "$output" == *"forked "* ]]
	made="$(echo "$output" | sed -n 's/^forked \([0-9]*\),.*/\1/p')"
	[ "$made" -le 64 ]
	jq -e '.pids_limit_hit == true' "$T/r.json"
	sleep 0.2
	[ -z "$(pgrep -f "forkbomb 1 $MARK")" ]
}

@test "--cpus 0.2 throttles a busy loop" {
	run sw container run --rootfs "$ROOT" --cpus 0.2 --timeout 1500ms --report "$T/r.json" sh -c "while :; do :; done # $MARK"
	[ "$status" -eq 124 ]
	jq -e '.timed_out == true' "$T/r.json"
	wall="$(jq .wall_ms "$T/r.json")"
	cpu="$(jq '(.cpu_user_us + .cpu_system_us) / 1000 | floor' "$T/r.json")"
	echo "wall $wall ms, cpu $cpu ms"
	[ "$wall" -ge 1400 ]
	# 0.2 of one CPU, with room for the start
	[ "$cpu" -lt $((wall / 2)) ]
	[ "$cpu" -gt 50 ]
}

@test "timeout kills the whole tree and exits 124" {
	start=$(date +%s%N)
	run sw container run --rootfs "$ROOT" --timeout 1s --name slow sh -c "sleep 1000 & sleep 1001 # $MARK"
	end=$(date +%s%N)
	[ "$status" -eq 124 ]
	[[ "$output" == *"container 'slow' timed out after"* ]]
	[ $(((end - start) / 1000000)) -lt 5000 ]
	[ -z "$(pgrep -f "$MARK")" ]
	[ -z "$(ls "$DATA/containers")" ]
}

@test "SIGTERM and SIGINT to slipway stop the container: 143 and 130" {
	for sig in TERM INT; do
		start_container --rootfs "$ROOT" sh -c "sleep 1000 # $MARK-$sig"
		kill -$sig $SW_PID
		rc=0
		wait $SW_PID || rc=$?
		if [ $sig = TERM ]; then [ "$rc" -eq 143 ]; else [ "$rc" -eq 130 ]; fi
		[ -z "$(pgrep -f "$MARK-$sig")" ]
		! kill -0 "$CMD_PID" 2>/dev/null
	done
	[ -z "$(ls "$DATA/containers")" ]
}

@test "init forwards SIGTERM to the command and reaps orphans" {
	start_container --rootfs "$ROOT" sh -c "trap 'echo got-term; exit 3' TERM; (sleep 1000 &); sleep 999 & wait # $MARK"
	# the orphan's parent is init
	for i in $(seq 100); do
		orphan="$(pgrep -P "$INIT_PID" -x sleep || true)"
		[ -n "$orphan" ] && break
		sleep 0.02
	done
	[ -n "$orphan" ]
	kill -TERM "$INIT_PID"
	rc=0
	wait $SW_PID || rc=$?
	[ "$rc" -eq 3 ]
	grep -q got-term "$T/out"
	! kill -0 "$orphan" 2>/dev/null
	[ -z "$(pgrep -f "$MARK")" ]
}

@test "SIGKILL of the container's init is cleaned up" {
	start_container --rootfs "$ROOT" sh -c "sleep 1000 # $MARK"
	kill -9 "$INIT_PID"
	rc=0
	wait $SW_PID || rc=$?
	[ "$rc" -eq 137 ]
	! kill -0 "$CMD_PID" 2>/dev/null
	[ -z "$(ls "$DATA/containers")" ]
}

@test "security: mount, unshare, sysrq-trigger, kcore and raw devices are refused" {
	run sw container run --rootfs "$ROOT" sh -c '
		mount -t tmpfs none /tmp 2>/dev/null && echo mount-ok
		unshare -n true 2>/dev/null && echo unshare-ok
		echo b 2>/dev/null >/proc/sysrq-trigger && echo sysrq-ok
		head -c1 /proc/kcore >/dev/null 2>&1 && echo kcore-ok
		echo 1 2>/dev/null >/proc/sys/kernel/panic && echo sysctl-ok
		mknod /tmp/sda b 8 0 2>/dev/null && head -c1 /tmp/sda >/dev/null 2>&1 && echo disk-ok
		grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status
		grep CapBnd /proc/self/status
		echo done'
	[ "$status" -eq 0 ]
	[[ "$output" != *-ok* ]]
	[[ "$output" == *"NoNewPrivs:"*1* ]]
	[[ "$output" == *"Seccomp:"*2* ]]
	# Docker's 14 capabilities
	[[ "$output" == *"CapBnd:"*00000000a80425fb* ]]
	[[ "$output" == *done ]]
	# masked: /proc/keys is empty
	run sw container run --rootfs "$ROOT" sh -c 'wc -c </proc/keys; wc -c </proc/timer_list'
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
}

@test "--cap-add and --cap-drop" {
	run sw container run --rootfs "$ROOT" --cap-drop ALL grep CapEff /proc/self/status
	[[ "$output" == *0000000000000000 ]]
	run sw container run --rootfs "$ROOT" --cap-drop ALL --cap-add CHOWN grep CapEff /proc/self/status
	[[ "$output" == *0000000000000001 ]]
	run sw container run --rootfs "$ROOT" --cap-add NET_ADMIN sh -c 'ip link add dummy0 type dummy 2>&1 || ip link set lo mtu 1280 && echo admin-ok'
	[[ "$output" == *admin-ok* ]]
	run sw container run --rootfs "$ROOT" sh -c 'ip link set lo mtu 1280 2>/dev/null && echo admin-ok || echo refused'
	[ "$output" = refused ]
	run sw container run --rootfs "$ROOT" --cap-drop NET_RAW ping -c1 -W1 127.0.0.1
	[ "$status" -ne 0 ]
}

@test "bad input exits 2 with the value quoted, before anything is created" {
	run sw container run --rootfs "$T/nonexistent" true
	[ "$status" -eq 2 ]
	[[ "$output" == *"'$T/nonexistent'"* ]]
	run sw container run --rootfs "$ROOT" --memory 12Q true
	[ "$status" -eq 2 ]
	[[ "$output" == *"'12Q'"* ]]
	run sw container run --rootfs "$ROOT" --cap-add NOT_A_CAP true
	[ "$status" -eq 2 ]
	[[ "$output" == *"'NOT_A_CAP'"* ]]
	run sw container run --rootfs "$ROOT" --cpuset 0-999 true
	[ "$status" -eq 2 ]
	[[ "$output" == *"'0-999'"* ]]
	run sw container run --rootfs "$ROOT" --cpuset x true
	[ "$status" -eq 2 ]
	run sw container run --rootfs "$ROOT" --timeout soon true
	[ "$status" -eq 2 ]
	run sw container run --rootfs "$ROOT" --network bridge true
	[ "$status" -eq 2 ]
	run sw container run --rootfs "$ROOT" --volume relative:/x true
	[ "$status" -eq 2 ]
	run sw container run --rootfs "$ROOT"
	[ "$status" -eq 2 ]
	[ ! -e "$DATA/containers" ] || [ -z "$(ls "$DATA/containers")" ]
	# a command that is not in the root
	run -127 sw container run --rootfs "$ROOT" foo
	[ "$status" -eq 127 ]
	[[ "$output" == *"slipway: 'foo': command not found in container"* ]]
	run -126 sw container run --rootfs "$ROOT" /etc/motd
	[ "$status" -eq 126 ]
}

@test "--report holds every field" {
	run sw container run --rootfs "$ROOT" --memory 64M --report "$T/r.json" sh -c 'memhog 16; dd if=/dev/zero of=/tmp/f bs=64k count=16 2>/dev/null; sync'
	[ "$status" -eq 0 ]
	for k in exit_code signal oom_killed timed_out pids_limit_hit wall_ms cpu_user_us cpu_system_us memory_peak_bytes io_read_bytes io_write_bytes; do
		jq -e "has(\"$k\")" "$T/r.json"
	done
	jq -e '.exit_code == 0 and .memory_peak_bytes > 16000000 and .wall_ms > 0' "$T/r.json"
	jq -e '.cpu_user_us + .cpu_system_us > 0' "$T/r.json"
}

@test "kill -9 of slipway: the container dies with it, prune removes the rest" {
	start_container --rootfs "$ROOT" --memory 64M sh -c "sleep 1000 # $MARK"
	cg="$(cgroup_of "$CMD_PID" memory)"
	[ -d "$cg" ]
	id="$(ls "$DATA/containers")"
	[ -n "$id" ]
	kill -9 $SW_PID
	wait $SW_PID || true
	for i in $(seq 50); do
		kill -0 "$CMD_PID" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$CMD_PID" 2>/dev/null
	run sw prune
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed container $id"* ]]
	[[ "$output" == *"removed cgroup "*"-$id"* ]]
	[ ! -e "$cg" ]
	[ -z "$(ls "$DATA/containers")" ]
	run sw prune --json
	[ "$output" = "[]" ]
}

@test "200 runs in a row leave mounts, cgroups and dirs as before" {
	for i in $(seq 200); do
		sw container run --rootfs "$ROOT" --memory 64M --pids 100 --report "$T/r$i.json" true
	done
	[ -z "$(ls -A "$DATA/containers")" ]
	# none of our containers' cgroups is left, in any hierarchy
	ids="$(jq -r .id "$T"/r*.json | sort -u)"
	[ "$(echo "$ids" | wc -l)" -eq 200 ]
	left="$(find /sys/fs/cgroup -maxdepth 6 -type d -path '*/slipway/*' 2>/dev/null | grep -F -f <(echo "$ids") || true)"
	[ -z "$left" ]
	# no mount of ours in this namespace
	! grep -q "$DATA" /proc/self/mountinfo
}

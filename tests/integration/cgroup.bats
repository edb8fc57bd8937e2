#!/usr/bin/env bats
# cgroups of containers on this host (v1, v2 or hybrid): every limit is visible in the
# container's own cgroup files while it runs, below slipway's own cgroup, and gone after.
load helpers
load container-helpers

setup_file() {
	container_setup_file
}

setup() {
	container_setup
}

teardown() {
	container_teardown
}

# The value of a cgroup file of the running command, for a v1 controller.
cgfile() {
	cat "$(cgroup_of "$CMD_PID" "$1")/$2"
}

@test "every limit is in the container's cgroup files while it runs" {
	local dev args=()
	dev="$(findmnt -no SOURCE -T "$T" | head -1)"
	if [ -b "$dev" ]; then
		args=(--io-read-bps "$dev:1M" --io-write-bps "$dev:2M")
	fi
	start_container --rootfs "$ROOT" --memory 48M --memory-soft 24M --cpus 0.5 --cpu-weight 200 \
		--cpuset 0 --pids 77 "${args[@]}" sh -c "sleep 1000 # $MARK"
	[ "$(cgfile memory memory.limit_in_bytes)" -eq $((48 << 20)) ]
	[ "$(cgfile memory memory.soft_limit_in_bytes)" -eq $((24 << 20)) ]
	[ "$(cgfile cpu cpu.cfs_quota_us)" -eq 50000 ]
	[ "$(cgfile cpu cpu.cfs_period_us)" -eq 100000 ]
	# weight 200 on v1: 2 + (200 - 1) * 262142 / 9999 shares
	[ "$(cgfile cpu cpu.shares)" -eq $((2 + 199 * 262142 / 9999)) ]
	[ "$(cgfile cpuset cpuset.cpus)" = 0 ]
	[ "$(cgfile pids pids.max)" -eq 77 ]
	if [ -b "$dev" ]; then
		majmin="$(printf '%d:%d' "0x$(stat -c %t "$dev")" "0x$(stat -c %T "$dev")")"
		[ "$(cgfile blkio blkio.throttle.read_bps_device)" = "$majmin 1048576" ]
		[ "$(cgfile blkio blkio.throttle.write_bps_device)" = "$majmin 2097152" ]
	fi
	# the device allowlist: no disks
	! cgfile devices devices.list | grep -q '^b 8:'
	! cgfile devices devices.list | grep -q '^a '
	# below slipway's own cgroup, in a "slipway" parent
	own="$(awk -F: '$2 == "memory" { print $3 }' /proc/$$/cgroup)"
	[[ "$(cgroup_of "$CMD_PID" memory)" == "/sys/fs/cgroup/memory${own%/}/slipway/"* ]]
	kill $SW_PID
	wait $SW_PID || true
}

@test "--swap sets the memory+swap limit where swap is accounted" {
	start_container --rootfs "$ROOT" --memory 32M --swap 64M sh -c "sleep 1000 # $MARK"
	dir="$(cgroup_of "$CMD_PID" memory)"
	if [ -e "$dir/memory.memsw.limit_in_bytes" ]; then
		[ "$(cat "$dir/memory.memsw.limit_in_bytes")" -eq $((64 << 20)) ]
	elif [ -e "$dir/memory.swap.max" ]; then
		[ "$(cat "$dir/memory.swap.max")" -eq $((32 << 20)) ]
	else
		skip "no swap accounting on this host"
	fi
	kill $SW_PID
	wait $SW_PID || true
}

@test "the cgroups are gone after the container, in every hierarchy" {
	start_container --rootfs "$ROOT" --memory 32M --pids 10 --cpus 1 --cpuset 0 sh -c "sleep 1000 # $MARK"
	dirs=()
	for c in memory pids cpu cpuacct cpuset freezer devices blkio; do
		[ -d "/sys/fs/cgroup/$c" ] && dirs+=("$(cgroup_of "$CMD_PID" $c)")
	done
	for d in "${dirs[@]}"; do [ -d "$d" ]; done
	kill $SW_PID
	wait $SW_PID || true
	for d in "${dirs[@]}"; do [ ! -e "$d" ]; done
}

@test "an OOM in one container leaves the runner and a neighbour unharmed" {
	start_container --rootfs "$ROOT" --memory 64M --report "$T/n.json" sh -c "memhog 16; sleep 1000 # $MARK"
	neighbour=$SW_PID
	run sw container run --rootfs "$ROOT" --memory 24M --report "$T/h.json" memhog
	[ "$status" -eq 137 ]
	jq -e '.oom_killed' "$T/h.json"
	kill -0 "$CMD_PID"
	kill $neighbour
	wait $neighbour || true
	jq -e '.oom_killed == false' "$T/n.json"
}

@test "accounting comes from the cgroup: CPU time of a busy loop, peak memory" {
	run sw container run --rootfs "$ROOT" --memory 128M --timeout 700ms --report "$T/r.json" \
		sh -c "memhog 40; while :; do :; done"
	[ "$status" -eq 124 ]
	jq -e '.cpu_user_us > 200000' "$T/r.json"
	jq -e '.memory_peak_bytes > 40000000' "$T/r.json"
	jq -e '.wall_ms >= 700' "$T/r.json"
}

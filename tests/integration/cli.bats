#!/usr/bin/env bats
# The command line as a user meets it: help, version, flags, exit codes, error style.

load helpers

@test "no command: usage on stderr, exit 2" {
	run -2 "$SLIPWAY"
	[[ "$output" == *"Usage: slipway"* ]]
}

@test "help lists the commands and exits 0" {
	run -0 "$SLIPWAY" help
	[[ "$output" == *"Commands:"* ]]
	[[ "$output" == *"version"* ]]
	[[ "$output" == *"Exit status"* ]]
}

@test "--help and -h equal 'help'" {
	run -0 "$SLIPWAY" --help
	a=$output
	run -0 "$SLIPWAY" -h
	[ "$output" = "$a" ]
}

@test "help COMMAND equals COMMAND --help" {
	run -0 "$SLIPWAY" help version
	a=$output
	[[ "$a" == "Usage: slipway version"* ]]
	run -0 "$SLIPWAY" version --help
	[ "$output" = "$a" ]
}

@test "unknown command: exit 2 and a pointer to help" {
	run -2 "$SLIPWAY" frobnicate
	[ "$output" = "slipway: unknown command 'frobnicate'; run 'slipway help' for the list" ]
	run -2 "$SLIPWAY" help frobnicate
	[[ "$output" == *"unknown command 'frobnicate'"* ]]
}

@test "unknown flag: exit 2, the flag quoted" {
	run -2 "$SLIPWAY" version --frob
	[[ "$output" == *"'--frob'"* ]]
	[[ "$output" == *"slipway version --help"* ]]
	run -2 "$SLIPWAY" --frob version
	[[ "$output" == *"'--frob'"* ]]
	run -2 "$SLIPWAY" version extra
	[[ "$output" == *"unexpected argument 'extra'"* ]]
}

@test "version shows slipway, every library and the cgroup mode" {
	run -0 "$SLIPWAY" version
	[[ "${lines[0]}" == "slipway "[0-9]* ]]
	for lib in libgit2 libyaml libcurl sqlite libarchive jansson libmicrohttpd openssl libseccomp; do
		grep -qE "^  $lib +[0-9]+\.[0-9]+" <<<"$output"
	done
	grep -qE '^cgroups: +(v1|v2|hybrid)' <<<"$output"
}

@test "version reports this host's cgroup mode as the mounts show it" {
	want=v1
	if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
		want=v2
	elif grep -q ' - cgroup2 ' /proc/self/mountinfo; then
		want=hybrid
	fi
	run -0 "$SLIPWAY" version --json
	[ "$(jq -r .cgroups.mode <<<"$output")" = "$want" ]
	# container cgroups go below our own memory cgroup (REFERENCE.md: nested, like runc)
	self=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)
	if [ -n "$self" ]; then
		path=$(jq -r .cgroups.controllers.memory.path <<<"$output")
		[ "$path" = "/sys/fs/cgroup/memory${self%/}/slipway" ]
	fi
}

@test "version --json is valid JSON with the data dir" {
	run -0 "$SLIPWAY" --data-dir /tmp/x version --json
	[ "$(jq -r .data_dir <<<"$output")" = /tmp/x ]
	[ "$(jq -r '.libraries | length' <<<"$output")" = 9 ]
	run -0 "$SLIPWAY" version --json --data-dir /tmp/y
	[ "$(jq -r .data_dir <<<"$output")" = /tmp/y ]
	SLIPWAY_HOME=/tmp/z run -0 "$SLIPWAY" version --json
	[ "$(jq -r .data_dir <<<"$output")" = /tmp/z ]
}

@test "bad log level is a usage error" {
	run -2 "$SLIPWAY" --log-level loud version
	[[ "$output" == *"invalid log level 'loud'"* ]]
}

@test "help loads none of the heavy libraries" {
	if ! grep -q '^LAZY_LIBS = yes' "$BATS_TEST_DIRNAME/../../config.mk"; then
		skip "built with --disable-lazy-libs"
	fi
	run -0 ldd "$SLIPWAY"
	for lib in libcurl libgit2 libarchive libmicrohttpd libsqlite3 libcrypto; do
		! grep -q "$lib" <<<"$output"
	done
	# and they are still reachable when a command needs them
	run -0 "$SLIPWAY" version
	[[ "$output" == *libcurl*7.* ]]
}

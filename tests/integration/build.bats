#!/usr/bin/env bats
# The build as a packager meets it: configure's probes and errors, install with DESTDIR.

load helpers

setup() {
	TOP=$BATS_TEST_DIRNAME/../..
	TMP=$(mktemp -d /tmp/slipway-build-test.XXXXXX)
}

teardown() {
	rm -rf "$TMP"
}

@test "configure --help lists the options" {
	run -0 "$TOP/configure" --help
	for o in --prefix --sysconfdir --localstatedir --enable-debug --enable-sanitizers --install-deps; do
		[[ "$output" == *"$o"* ]]
	done
}

@test "configure with a missing library names the apt-get line and fails" {
	# A pkg-config that knows every module but libseccomp.
	mkdir -p "$TMP/bin"
	cat >"$TMP/bin/pkg-config" <<-'EOF2'
	#!/bin/sh
	for a; do case $a in libseccomp) exit 1 ;; esac; done
	exec /usr/bin/pkg-config "$@"
	EOF2
	chmod +x "$TMP/bin/pkg-config"
	cd "$TMP"
	run -1 "$TOP/configure" PKG_CONFIG="$TMP/bin/pkg-config"
	[[ "$output" == *"checking for libseccomp... no"* ]]
	[[ "$output" == *"apt-get install libseccomp-dev"* ]]
	[ ! -e "$TMP/config.mk" ]
}

@test "configure refuses an unknown option" {
	cd "$TMP"
	run -2 "$TOP/configure" --enable-frobs
	[[ "$output" == *"unknown option: --enable-frobs"* ]]
}

@test "every package the suite needs is in the one list and installed" {
	while read -r pkg _; do
		case $pkg in '' | \#*) continue ;; esac
		dpkg-query -W -f='${Status}' "$pkg" | grep -q ' installed$'
	done <"$TOP/tools/debian-packages"
}

@test "make install honours DESTDIR" {
	run -0 make -C "$TOP" install DESTDIR="$TMP/root" prefix=/usr
	[ -x "$TMP/root/usr/bin/slipway" ]
	[ -f "$TMP/root/usr/share/man/man1/slipway.1" ]
	grep -q '^ExecStart=/usr/bin/slipway serve' "$TMP/root/lib/systemd/system/slipway.service"
	run -0 "$TMP/root/usr/bin/slipway" version
}

@test "the man page is well-formed" {
	run -0 bash -c "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$TOP/docs/slipway.1' 2>&1 >/dev/null"
	[ -z "$output" ]
}

#!/bin/sh
# Unit tests of lib/words.sh, in TAP.
. "${APP_HOME:-.}/lib/words.sh"
n=0 fail=0
check() {
	n=$((n + 1))
	if [ "$2" = "$3" ]; then echo "ok $n - $1"; else echo "not ok $n - $1: got '$2', want '$3'"; fail=1; fi
}
check "three words" "$(echo 'one two three' | count_words)" 3
check "empty input" "$(printf '' | count_words)" 0
check "longest word" "$(echo 'a bbb cc' | longest_word)" bbb
echo "1..$n"
exit $fail

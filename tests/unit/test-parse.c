/* Tests for lib/parse.c: sizes, durations, integers, formatting. */
#include <string.h>

#include "lib/parse.h"
#include "tests/unit/tap.h"

static void size_ok(const char *s, uint64_t want)
{
	struct error *err = NULL;
	uint64_t v = 0;

	if (parse_size(s, &v, &err) < 0) {
		ok(0, "size '%s': %s", s, err->msg);
		error_free(err);
		return;
	}
	is_int(v, want, "size '%s'", s);
}

static void size_bad(const char *s)
{
	struct error *err = NULL;
	uint64_t v = 0;
	char quoted[128];

	snprintf(quoted, sizeof(quoted), "'%s'", s);
	ok(parse_size(s, &v, &err) < 0 && err && err->exit_code == EXIT_USAGE &&
	       strstr(err->msg, quoted),
	   "size '%s' refused, value quoted (%s)", s, err ? err->msg : "no error");
	error_free(err);
}

static void dur_ok(const char *s, uint64_t want)
{
	struct error *err = NULL;
	uint64_t v = 0;

	if (parse_duration(s, &v, &err) < 0) {
		ok(0, "duration '%s': %s", s, err->msg);
		error_free(err);
		return;
	}
	is_int(v, want, "duration '%s'", s);
}

static void dur_bad(const char *s)
{
	struct error *err = NULL;
	uint64_t v = 0;

	ok(parse_duration(s, &v, &err) < 0 && err && err->exit_code == EXIT_USAGE,
	   "duration '%s' refused", s);
	error_free(err);
}

int main(void)
{
	char out[32];
	int64_t n;
	struct error *err = NULL;

	plan_lazy();
	size_ok("0", 0);
	size_ok("512", 512);
	size_ok("512k", 512 * 1024);
	size_ok("512K", 512 * 1024);
	size_ok("64M", 64ULL << 20);
	size_ok("64m", 64ULL << 20);
	size_ok("2G", 2ULL << 30);
	size_ok("1T", 1ULL << 40);
	size_ok("64MiB", 64ULL << 20);
	size_ok("64MB", 64ULL << 20);
	size_ok("100b", 100);
	size_bad("12Q");
	size_bad("");
	size_bad("M");
	size_bad("-1M");
	size_bad("1.5G");
	size_bad("64M ");
	size_bad("99999999999999999999");
	size_bad("17179869184G");

	dur_ok("30s", 30000);
	dur_ok("5m", 300000);
	dur_ok("1h", 3600000);
	dur_ok("1h30m", 5400000);
	dur_ok("250ms", 250);
	dur_ok("45", 45000);
	dur_ok("2m5s", 125000);
	dur_bad("");
	dur_bad("s");
	dur_bad("5x");
	dur_bad("1.5h");
	dur_bad("-3s");

	is_int(parse_int("42", 0, 100, &n, &err), 0, "int in range");
	is_int(n, 42, "int value");
	is_int(parse_int("101", 0, 100, &n, &err), -1, "int above range");
	ok(err && strstr(err->msg, "'101'"), "out of range quotes the value");
	error_clear(&err);
	is_int(parse_int("4x", 0, 100, &n, &err), -1, "trailing garbage");
	error_clear(&err);
	is_int(parse_int("", 0, 100, &n, &err), -1, "empty");
	error_clear(&err);

	format_size(512, out, sizeof(out));
	is_str(out, "512 B", "format bytes");
	format_size(32ULL << 20, out, sizeof(out));
	is_str(out, "32 MiB", "format MiB");
	format_size(1536, out, sizeof(out));
	is_str(out, "1.5 KiB", "format fractional KiB");
	format_duration(250, out, sizeof(out));
	is_str(out, "250ms", "format ms");
	format_duration(1200, out, sizeof(out));
	is_str(out, "1.2s", "format seconds");
	format_duration(185000, out, sizeof(out));
	is_str(out, "3m05s", "format minutes");
	format_duration(3720000, out, sizeof(out));
	is_str(out, "1h02m", "format hours");
	return done_testing();
}

/* Tests for lib/buf.c: growth, the hard maximum, printf, steal. */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "tests/unit/tap.h"

int main(void)
{
	struct buf b = BUF_INIT(16);
	struct error *err = NULL;
	char *s;

	plan_lazy();

	is_str(buf_str(&b), "", "an empty buffer reads as an empty string");
	is_int(buf_puts(&b, "hello", &err), 0, "append within the cap");
	is_int(buf_printf(&b, &err, " %d%s", 42, "!"), 0, "printf within the cap");
	is_str(buf_str(&b), "hello 42!", "contents");
	is_int(b.len, 9, "length");
	is_int(buf_puts(&b, "0123456789", &err), -1, "append past the cap fails");
	ok(err && strstr(err->msg, "16 bytes"), "the error names the limit");
	error_clear(&err);
	is_str(buf_str(&b), "hello 42!", "a failed append leaves the buffer as it was");
	is_int(buf_puts(&b, "1234567", &err), 0, "filling exactly to the cap works");
	is_int(b.len, 16, "length at the cap");
	is_int(buf_putc(&b, 'x', &err), -1, "one more byte fails");
	error_clear(&err);
	is_int(buf_printf(&b, &err, "%s", "y"), -1, "printf past the cap fails");
	error_clear(&err);

	buf_reset(&b);
	is_int(b.len, 0, "reset empties");
	buf_append(&b, "a\0b", 3, &err);
	is_int(b.len, 3, "binary data with NUL kept");
	ok(!memcmp(b.data, "a\0b", 4), "and NUL-terminated");
	s = buf_steal(&b);
	ok(s && b.data == NULL && b.len == 0, "steal hands the data out");
	free(s);
	s = buf_steal(&b);
	is_str(s, "", "stealing an empty buffer gives an empty string");
	free(s);

	{
		struct buf big = BUF_INIT(1 << 20);

		for (int i = 0; i < 100000; i++)
			if (buf_putc(&big, (char)('a' + i % 26), &err) < 0)
				break;
		is_int(big.len, 100000, "many small appends grow the buffer");
		ok(big.data[99999] == 'a' + 99999 % 26, "last byte right");
		buf_release(&big);
	}
	buf_release(&b);
	return done_testing();
}

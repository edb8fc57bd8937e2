/* Tests for lib/error.c: set, wrap, first cause wins, exit classes, errno text. */
#include <errno.h>
#include <string.h>

#include "lib/error.h"
#include "tests/unit/tap.h"

static int open_layer(const char *digest, struct error **err)
{
	errno = ENOENT;
	return error_errno(err, "open layer '%s'", digest);
}

int main(void)
{
	struct error *err = NULL;

	plan_lazy();

	is_int(error_set(&err, EXIT_FAILED, "step '%s' failed", "test"), -1,
	       "error_set returns -1");
	is_str(err->msg, "step 'test' failed", "message formatted");
	is_int(err->exit_code, EXIT_FAILED, "exit class kept");
	error_set(&err, EXIT_USAGE, "second");
	is_str(err->msg, "step 'test' failed", "the first cause wins");
	error_wrap(&err, "run %d", 7);
	is_str(err->msg, "run 7: step 'test' failed", "wrap prefixes context");
	error_clear(&err);
	ok(err == NULL, "error_clear resets the pointer");

	open_layer("sha256:abc", &err);
	is_str(err->msg, "open layer 'sha256:abc': No such file or directory",
	       "errno text appended");
	is_int(err->errnum, ENOENT, "errnum recorded");
	is_int(err->exit_code, EXIT_INTERNAL, "system errors are exit 3");
	error_clear(&err);

	error_usage(&err, "bad size '%s'", "12Q");
	is_int(err->exit_code, EXIT_USAGE, "usage errors are exit 2");
	error_clear(&err);
	error_failed(&err, "push refused");
	is_int(err->exit_code, EXIT_FAILED, "failures are exit 1");
	error_clear(&err);

	is_int(error_set(NULL, EXIT_FAILED, "x"), -1, "a NULL err pointer is allowed");
	is_int(error_wrap(&err, "ctx"), -1, "wrapping nothing returns -1");
	ok(err == NULL, "and creates no error");
	error_errnum(&err, EACCES, "write '%s'", "/x");
	is_str(err->msg, "write '/x': Permission denied", "error_errnum uses the given errno");
	error_free(err);
	error_free(NULL);
	return done_testing();
}

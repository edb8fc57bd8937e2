/* Tests for scheduler/mask.c: secrets never survive into a log line. */
#include <stdlib.h>
#include <string.h>

#include "scheduler/mask.h"
#include "tests/unit/tap.h"

static void check(const struct masker *m, const char *in, const char *want, const char *name)
{
	size_t n = 0;
	char *out = masker_apply(m, in, strlen(in), &n);

	is_str(out, want, "%s", name);
	ok(out && n == strlen(out), "%s: length matches", name);
	free(out);
}

int main(void)
{
	const char *secrets[] = {"hunter22",
				 "s3cr3t-token",
				 "hunter22-and-more",
				 "-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----\n",
				 "ab",
				 ""};
	struct masker *m = NULL;
	struct error *err = NULL;

	plan_lazy();
	is_int(masker_new(secrets, 6, &m, &err), 0, "masker built");
	/* 3 single values + key whole + its 3 lines; "ab" and "" are too short */
	is_int(masker_count(m), 7, "patterns: values and each line of the multi-line one");

	check(m, "password is hunter22 ok", "password is ******** ok", "a value in the middle");
	check(m, "hunter22", "********", "the whole line");
	check(m, "hunter22hunter22", "****************", "twice in a row");
	check(m, "x=hunter22-and-more!", "x=********!", "the longer value wins");
	check(m, "Authorization: s3cr3t-token", "Authorization: ********", "token");
	check(m, "AAAABBBBCCCC", "********", "a line of a multi-line secret");
	check(m, "-----BEGIN KEY-----", "********", "the key's first line");
	check(m, "nothing to see", "nothing to see", "a clean line is unchanged");
	check(m, "abc", "abc", "short values are not masked");
	check(m, "", "", "empty line");
	check(m, "hunter2", "hunter2", "a prefix of a secret is not a secret");
	{
		char bin[] = "a\0hunter22\0b";
		size_t n = 0;
		char *out = masker_apply(m, bin, sizeof(bin) - 1, &n);

		ok(out && n == 12 && !memcmp(out, "a\0********\0b", 12),
		   "binary bytes around a secret");
		free(out);
	}
	masker_free(m);

	is_int(masker_new(NULL, 0, &m, &err), 0, "a masker without secrets");
	check(m, "hunter22", "hunter22", "passes text through");
	masker_free(m);
	return done_testing();
}

/* tests/unit/test-build-ignore.c — .dockerignore (runner/build/ignore.c): Docker's pattern
 * rules, `**`, `!` exceptions with the last match winning, parents excluding children, and
 * lexical cleaning of paths. */
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "runner/build/ignore.h"
#include "tests/unit/tap.h"

static void test_clean(void)
{
	struct {
		const char *in, *want;
	} cases[] = {
	    {"a/b", "a/b"},   {"/a//b/", "a/b"},     {"./a/./b", "a/b"}, {"a/../b", "b"},
	    {"../a", "../a"}, {"a/../../b", "../b"}, {"/../a", "a"},	 {".", ""},
	    {"", ""},	      {"a/b/..", "a"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *got = path_clean_rel(cases[i].in);

		is_str(got, cases[i].want, "clean '%s'", cases[i].in);
	}
}

static void test_match(void)
{
	ok(ignore_glob_match("*.o", "x.o"), "* in one component");
	ok(!ignore_glob_match("*.o", "d/x.o"), "* does not cross '/'");
	ok(ignore_glob_match("**/*.o", "d/e/x.o"), "** crosses directories");
	ok(ignore_glob_match("**/*.o", "x.o"), "** matches zero directories");
	ok(ignore_glob_match("a/**/b", "a/b"), "a/**/b matches a/b");
	ok(ignore_glob_match("a/**/b", "a/x/y/b"), "a/**/b matches deeper");
	ok(ignore_glob_match("a/**", "a/x/y"), "a/** matches below a");
	ok(ignore_glob_match("?.txt", "a.txt") && !ignore_glob_match("?.txt", "ab.txt"), "?");
	ok(ignore_glob_match("[a-c].md", "b.md") && !ignore_glob_match("[a-c].md", "d.md"),
	   "classes");
	ok(ignore_glob_match("\\*", "*") && !ignore_glob_match("\\*", "x"), "escaped star");
}

static void test_rules(void)
{
	const char *text = "# build output\n"
			   "  build  \n"
			   "*.log\n"
			   "!keep.log\n"
			   "/secret/\n"
			   "docs\n"
			   "!docs/README.md\n"
			   "**/*.tmp\n"
			   "\n";
	struct ignore ig;
	struct error *err = NULL;

	if (!ok(ignore_parse(text, strlen(text), &ig, &err) == 0, "parse"))
		return;
	is_int(ig.n, 7, "seven patterns");
	ok(ig.has_exceptions, "has exceptions");
	ok(ignore_excluded(&ig, "build"), "a directory");
	ok(ignore_excluded(&ig, "build/x/y.c"), "what is below an excluded directory");
	ok(!ignore_excluded(&ig, "builder"), "not a prefix match");
	ok(ignore_excluded(&ig, "a.log") && !ignore_excluded(&ig, "keep.log"),
	   "the exception after the pattern wins");
	ok(!ignore_excluded(&ig, "sub/a.log"), "*.log is for the root only");
	ok(ignore_excluded(&ig, "secret/key"), "a leading '/' and trailing '/' mean nothing");
	ok(ignore_excluded(&ig, "docs/guide.md") && !ignore_excluded(&ig, "docs/README.md"),
	   "an exception inside an excluded directory");
	ok(ignore_excluded(&ig, "x/y/z.tmp") && ignore_excluded(&ig, "z.tmp"), "**/ at any depth");
	ok(!ignore_excluded(&ig, ""), "the root is never excluded");
	ok(!ignore_excluded(&ig, "Dockerfile"), "others stay");
	ignore_release(&ig);

	text = "!x\n*\n";
	ok(ignore_parse(text, strlen(text), &ig, &err) == 0 && ignore_excluded(&ig, "x"),
	   "a later pattern overrides an earlier exception");
	ignore_release(&ig);
	text = "!\n";
	ok(ignore_parse(text, strlen(text), &ig, &err) < 0 && err && err->exit_code == EXIT_USAGE,
	   "a lone '!' is an input error");
	error_free(err);
}

int main(void)
{
	plan_lazy();
	test_clean();
	test_match();
	test_rules();
	return done_testing();
}

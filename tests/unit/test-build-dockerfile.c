/* tests/unit/test-build-dockerfile.c — the Dockerfile parser (runner/build/dockerfile.c):
 * directives, comments, continuations, flags, exec and shell forms, errors with their line;
 * Docker's word splitting and ${VAR} substitution. */
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "runner/build/dockerfile.h"
#include "tests/unit/tap.h"

static const char *lookup(void *ctx, const char *name)
{
	if (!strcmp(name, "A"))
		return "apple";
	if (!strcmp(name, "EMPTY"))
		return "";
	if (!strcmp(name, "SP"))
		return "a b";
	return NULL;
}

static char *expand(const char *w, char esc)
{
	char *out = NULL;
	struct error *err = NULL;

	if (df_expand(w, esc, lookup, NULL, &out, &err) < 0) {
		char *m = strdup(err->msg);

		error_free(err);
		free(out);
		if (asprintf(&out, "ERR %s", m) < 0)
			out = NULL;
		free(m);
	}
	return out;
}

static struct dockerfile parse_ok(const char *text)
{
	struct dockerfile df;
	struct error *err = NULL;

	if (dockerfile_parse(text, strlen(text), "Dockerfile", &df, &err) < 0) {
		diag("unexpected error: %s", err->msg);
		error_free(err);
		memset(&df, 0, sizeof(df));
	}
	return df;
}

static char *parse_err(const char *text)
{
	struct dockerfile df;
	struct error *err = NULL;
	char *m;

	if (dockerfile_parse(text, strlen(text), "Dockerfile", &df, &err) == 0) {
		dockerfile_release(&df);
		return strdup("no error");
	}
	if (asprintf(&m, "%d %s", err->exit_code, err->msg) < 0)
		m = NULL;
	error_free(err);
	return m;
}

static void test_basic(void)
{
	struct dockerfile df = parse_ok("# a comment\n"
					"ARG V=1\n"
					"from busybox:${V} AS Build\n"
					"\n"
					"RUN echo a \\\n"
					"  # comment inside a continuation\n"
					"\n"
					"  && echo b\n"
					"COPY --from=build --chown=1:2 [\"a b\", \"/c/\"]\n"
					"CMD [\"sh\", \"-c\", \"x\"]\n"
					"ENTRYPOINT [not json\n"
					"  ENV   A=1 B=\"two words\"\n");

	is_int(df.n, 7, "seven instructions");
	if (df.n != 7)
		return;
	is_int(df.v[0].kind, DF_ARG, "ARG first");
	is_int(df.v[1].kind, DF_FROM, "keywords are case-insensitive");
	is_str(df.v[1].keyword, "FROM", "keyword in upper case");
	is_int(df.v[1].line, 3, "FROM on line 3");
	is_int(df.v[1].nargs, 3, "FROM x AS y: three words");
	is_int(df.v[2].line, 5, "RUN starts on line 5");
	is_str(df.v[2].rest, "echo a   && echo b",
	       "continuation joined, comment and blank skipped");
	ok(!df.v[2].json, "RUN in shell form");
	is_int(df.v[3].line, 9, "line numbers count skipped lines");
	is_str(df_flag(&df.v[3], "from"), "build", "--from flag");
	is_str(df_flag(&df.v[3], "chown"), "1:2", "--chown flag");
	ok(df.v[3].json && df.v[3].nargs == 2 && !strcmp(df.v[3].args[0], "a b"),
	   "COPY exec form keeps the space");
	ok(df.v[4].json && df.v[4].nargs == 3, "CMD exec form");
	ok(!df.v[5].json && !strcmp(df.v[5].rest, "[not json"), "bad JSON is a shell form");
	is_int(df.v[6].nargs, 2, "ENV words");
	is_str(df.v[6].args[1], "B=\"two words\"", "quotes stay in the words");
	dockerfile_release(&df);
}

static void test_escape_directive(void)
{
	struct dockerfile df = parse_ok("# escape=`\n"
					"FROM scratch\n"
					"COPY c:\\dir\\ /x/\n"
					"RUN a `\n"
					"    b\n");

	is_int(df.escape, '`', "escape directive read");
	is_int(df.n, 3, "three instructions");
	if (df.n == 3) {
		is_str(df.v[1].args[0], "c:\\dir\\", "backslash is not an escape then");
		is_str(df.v[2].rest, "a     b", "backtick continues the line");
	}
	dockerfile_release(&df);

	df = parse_ok("FROM scratch\n# escape=`\nRUN a \\\n b\n");
	is_int(df.escape, '\\', "a directive after an instruction is a comment");
	dockerfile_release(&df);
	df = parse_ok("# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\n");
	is_int(df.escape, '`', "escape after another directive");
	dockerfile_release(&df);
}

static void test_errors(void)
{
	struct {
		const char *text, *want;
	} cases[] = {
	    {"FROM scratch\nFOO bar\n", "2 Dockerfile:2: unknown instruction 'FOO'"},
	    {"RUN x\n", "2 Dockerfile:1: only ARG may come before the first FROM"},
	    {"FROM a b\n", "2 Dockerfile:1: FROM requires either one or three arguments"},
	    {"FROM scratch\nCOPY x\n", "2 Dockerfile:2: COPY requires at least two arguments"},
	    {"FROM scratch\nCOPY --bogus=1 a b\n",
	     "2 Dockerfile:2: unknown flag '--bogus' for COPY"},
	    {"FROM scratch\nENV A=\"x\n", "2 Dockerfile:2: unterminated double quote"},
	    {"FROM scratch\nSHELL sh -c\n",
	     "2 Dockerfile:2: SHELL requires the arguments in JSON form"},
	    {"FROM scratch\nWORKDIR\n", "2 Dockerfile:2: WORKDIR requires exactly one argument"},
	    {"FROM scratch\nONBUILD FROM x\n",
	     "2 Dockerfile:2: FROM is not allowed as an ONBUILD trigger"},
	    {"# escape=x\nFROM scratch\n",
	     "2 Dockerfile:1: invalid escape token 'x' (\\ or ` only)"},
	    {"# escape=`\n# escape=`\nFROM scratch\n",
	     "2 Dockerfile:2: the escape directive is given twice"},
	    {"\n# just a comment\n", "2 Dockerfile: no instructions"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *m = parse_err(cases[i].text);

		is_str(m, cases[i].want, "error %zu", i);
	}
	{
		char bad[] = "FROM scratch\nRUN a\0b\n";
		struct dockerfile df;
		struct error *err = NULL;

		ok(dockerfile_parse(bad, sizeof(bad) - 1, "Dockerfile", &df, &err) < 0 && err &&
		       strstr(err->msg, "NUL"),
		   "a NUL byte is refused");
		error_free(err);
	}
}

static void test_words(void)
{
	char **w;
	size_t n;
	struct error *err = NULL;

	ok(df_split_words("a  'b c' \"d \\\" e\" f\\ g", '\\', &w, &n, &err) == 0 && n == 4,
	   "four words");
	if (n == 4) {
		is_str(w[1], "'b c'", "single-quoted word");
		is_str(w[2], "\"d \\\" e\"", "escaped quote inside double quotes");
		is_str(w[3], "f\\ g", "escaped blank joins");
	}
	df_strv_free(w);
}

static void test_expand(void)
{
	struct {
		const char *in, *want;
	} cases[] = {
	    {"$A", "apple"},
	    {"${A}s", "apples"},
	    {"x$NOPE.y", "x.y"},
	    {"${NOPE:-dflt}", "dflt"},
	    {"${EMPTY:-dflt}", "dflt"},
	    {"${EMPTY-dflt}", ""},
	    {"${A:+alt}", "alt"},
	    {"${NOPE:+alt}", ""},
	    {"${EMPTY+alt}", "alt"},
	    {"${NOPE:-${A}}", "apple"},
	    {"'$A'", "$A"},
	    {"\"$A b\"", "apple b"},
	    {"\\$A", "$A"},
	    {"\"\\$A\"", "$A"},
	    {"\"a\\b\"", "a\\b"},
	    {"a\\ b", "a b"},
	    {"$", "$"},
	    {"$1x", "$1x"},
	    {"${SP}", "a b"},
	    {"${NOPE:?must be set}", "ERR NOPE: must be set"},
	    {"${A", "ERR missing '}' in substitution of 'A'"},
	    {"${A#x}", "ERR bad substitution '${A#': unsupported modifier"},
	    {"\"open", "ERR unterminated double quote"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *got = expand(cases[i].in, '\\');

		is_str(got, cases[i].want, "expand %s", cases[i].in);
	}
	{
		cleanup_free char *got = expand("`$A", '`');

		is_str(got, "$A", "backtick escapes with escape=`");
	}
}

int main(void)
{
	plan_lazy();
	test_basic();
	test_escape_directive();
	test_errors();
	test_words();
	test_expand();
	return done_testing();
}

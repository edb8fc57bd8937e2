/* Tests for pipelines/expand.c: $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt}, $$, unknown
 * references left for the shell, syntax errors. */
#include <string.h>

#include "pipelines/pipeline.h"
#include "tests/unit/tap.h"

static struct pipeline_vars vars;

static void exp_ok(const char *in, const char *want)
{
	struct error *err = NULL;
	char *got = pipeline_expand(in, &vars, &err);

	if (!got) {
		ok(0, "'%s': %s", in, err->msg);
		error_free(err);
		return;
	}
	is_str(got, want, "'%s' -> '%s'", in, want);
	free(got);
}

static void exp_bad(const char *in, const char *msg)
{
	struct error *err = NULL;
	char *got = pipeline_expand(in, &vars, &err);

	ok(!got && err && err->exit_code == EXIT_USAGE && strstr(err->msg, msg), "'%s' refused: %s",
	   in, err ? err->msg : "(no error)");
	free(got);
	error_free(err);
}

int main(void)
{
	struct error *err = NULL;

	plan_lazy();
	ok(pipeline_vars_set(&vars, "SLIPWAY_COMMIT_SHORT", "0123abcd", &err) == 0 &&
	       pipeline_vars_set(&vars, "SLIPWAY_BRANCH", "main", &err) == 0 &&
	       pipeline_vars_set(&vars, "SLIPWAY_TAG", "", &err) == 0 &&
	       pipeline_vars_set(&vars, "X", "old", &err) == 0 &&
	       pipeline_vars_set(&vars, "X", "1", &err) == 0 &&
	       pipeline_vars_set(&vars, "DOLLAR", "$HOME ${X}", &err) == 0,
	   "vars set");
	is_int(vars.n, 5, "setting a variable again replaces it");
	is_str(pipeline_vars_get(&vars, "X"), "1", "get");
	ok(pipeline_vars_get(&vars, "NOPE") == NULL, "get unknown");

	exp_ok("", "");
	exp_ok("plain text", "plain text");
	exp_ok("$SLIPWAY_BRANCH", "main");
	exp_ok("${SLIPWAY_BRANCH}", "main");
	exp_ok("app:${SLIPWAY_COMMIT_SHORT}-x", "app:0123abcd-x");
	exp_ok("$SLIPWAY_BRANCH-$X", "main-1");
	exp_ok("$Xy", "$Xy"); /* the name is Xy, unknown */
	exp_ok("${X}y", "1y");
	exp_ok("$HOME and ${TOKEN}", "$HOME and ${TOKEN}");
	exp_ok("${TOKEN:-fallback}", "${TOKEN:-fallback}");
	exp_ok("${SLIPWAY_TAG:-latest}", "latest");
	exp_ok("${SLIPWAY_BRANCH:-latest}", "main");
	exp_ok("${SLIPWAY_TAG:+tag-$SLIPWAY_TAG}", "");
	exp_ok("${SLIPWAY_BRANCH:+on-$SLIPWAY_BRANCH}", "on-main");
	exp_ok("${SLIPWAY_TAG:-${SLIPWAY_BRANCH}-${X}}", "main-1");
	exp_ok("${SLIPWAY_TAG:-}", "");
	exp_ok("$$", "$");
	exp_ok("$$X", "$X");
	exp_ok("$${X}", "${X}");
	exp_ok("$$$X", "$1");
	exp_ok("cost: 5$", "cost: 5$");
	exp_ok("$ 1", "$ 1");
	exp_ok("$1 $@ $?", "$1 $@ $?");
	exp_ok("${X:0:1}", "${X:0:1}"); /* not ours: left for the shell */
	exp_ok("${#X}", "${#X}");
	exp_ok("${X%.*}", "${X%.*}");
	exp_ok("${DOLLAR}", "$HOME ${X}"); /* values are not expanded again */
	exp_ok("a}b", "a}b");
	exp_ok("${X}}", "1}");
	exp_bad("${X", "unterminated '${'");
	exp_bad("echo ${", "unterminated '${'");
	exp_bad("${SLIPWAY_TAG:-${X}", "unterminated '${'");
	exp_bad("${}", "empty '${}'");
	exp_bad("${SLIPWAY_TAG:-${}}", "empty '${}'");
	exp_bad("${SLIPWAY_TAG:-${SLIPWAY_TAG:-${SLIPWAY_TAG:-${SLIPWAY_TAG:-${SLIPWAY_TAG:-"
		"${SLIPWAY_TAG:-${SLIPWAY_TAG:-${SLIPWAY_TAG:-${SLIPWAY_TAG:-x}}}}}}}}}",
		"nested too deeply");
	exp_bad("${NOPE:-${}", "unterminated");
	exp_ok("${NOPE:-${X}}", "${NOPE:-${X}}");
	pipeline_vars_release(&vars);
	is_int(vars.n, 0, "released");
	return done_testing();
}

/* tests/fuzz/fuzz-pipeline.c — libFuzzer harness for pipeline_parse and what runs on its
 * output: the DAG, `when` matching, ${VAR} expansion of every expandable string.
 * Built and run by tests/fuzz/run-fuzz.sh (clang -fsanitize=fuzzer,address). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelines/pipeline.h"

static void expand_all(const struct pipeline_strv *sv, const struct pipeline_vars *vars)
{
	for (size_t i = 0; i < sv->n; i++) {
		struct error *err = NULL;

		free(pipeline_expand(sv->v[i], vars, &err));
		error_free(err);
	}
}

static void exercise(const struct pipeline *p, const struct pipeline_vars *vars)
{
	char *paths[] = {"src/main.c", "docs/README.md", "a/b/c/d"};
	struct pipeline_event ev = {
	    .branch = "release/1.0", .event = "push", .paths = paths, .n_paths = 3};
	struct pipeline_dag dag;
	struct error *err = NULL;

	pipeline_when_matches(&p->when, &ev);
	expand_all(&p->image.tags, vars);
	for (size_t i = 0; i < p->n_steps; i++) {
		struct pipeline_resources r = pipeline_step_resources(p, &p->steps[i]);

		(void)r;
		pipeline_when_matches(&p->steps[i].when, &ev);
		expand_all(&p->steps[i].commands, vars);
	}
	for (size_t i = 0; i < p->n_deploys; i++)
		pipeline_when_matches(&p->deploys[i].when, &ev);
	if (pipeline_dag_build(p, &dag, &err) == 0) {
		size_t *order = calloc(dag.n + 1, sizeof(*order));

		if (order && (pipeline_dag_order(&dag, order) < 0 ||
			      pipeline_dag_find_cycle(&dag, order) != 0))
			abort(); /* validation must have refused a cycle */
		free(order);
		pipeline_dag_release(&dag);
	} else {
		abort(); /* validation must have refused a missing name */
	}
	error_free(err);
}

static bool has_position(const struct error *err)
{
	unsigned line = 0, col = 0;
	int n = 0;

	return err->exit_code == EXIT_USAGE &&
	       sscanf(err->msg, ".slipway.yml:%u:%u: %n", &line, &col, &n) == 2 && n > 0 &&
	       line >= 1 && col >= 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pipeline_vars vars;
	struct pipeline *p = NULL;
	struct error *err = NULL;

	if (!vars.n) {
		pipeline_vars_set(&vars, "SLIPWAY_BRANCH", "main", NULL);
		pipeline_vars_set(&vars, "SLIPWAY_TAG", "", NULL);
		pipeline_vars_set(&vars, "X", "${X}$X", NULL);
	}
	if (pipeline_parse((const char *)data, size, ".slipway.yml", &p, &err) == 0) {
		if (!p)
			abort();
		exercise(p, &vars);
		pipeline_free(p);
	} else if (!err || !err->msg) {
		abort();
	} else if (err->errnum == 0 && !has_position(err)) {
		abort(); /* every refusal is `.slipway.yml:LINE:COL: ...`, exit 2 */
	}
	error_free(err);
	return 0;
}

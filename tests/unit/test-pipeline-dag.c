/* Tests for pipelines/dag.c: absent depends_on = the previous step, [] = none, fan-in and
 * fan-out, an order that respects every edge, cycles found. */
#include <string.h>

#include "pipelines/pipeline.h"
#include "tests/unit/tap.h"

static struct pipeline *parse(const char *yml)
{
	struct pipeline *p = NULL;
	struct error *err = NULL;

	if (pipeline_parse(yml, strlen(yml), ".slipway.yml", &p, &err) < 0) {
		diag("%s", err->msg);
		error_free(err);
	}
	return p;
}

static bool deps_are(const struct pipeline_dag *d, size_t i, const size_t *want, size_t n)
{
	if (d->n_deps[i] != n)
		return false;
	for (size_t k = 0; k < n; k++)
		if (d->deps[i][k] != want[k])
			return false;
	return true;
}

static void test_graph(void)
{
	struct pipeline *p = parse("image: {}\n"
				   "steps:\n"
				   "  - {name: a, commands: [x]}\n" /* 0: none (first) */
				   "  - {name: b, commands: [x]}\n" /* 1: a (previous) */
				   "  - {name: c, commands: [x], depends_on: []}\n" /* 2: none */
				   "  - {name: d, commands: [x]}\n" /* 3: c (previous) */
				   "  - {name: e, commands: [x], depends_on: [d, a, b]}\n"
				   "  - {name: f, commands: [x], depends_on: a}\n");
	struct pipeline_dag d;
	struct error *err = NULL;
	size_t order[6], pos[6], cycle[6];
	bool respects = true;

	if (!ok(p != NULL, "DAG pipeline parses"))
		return;
	if (!ok(pipeline_dag_build(p, &d, &err) == 0, "dag built")) {
		error_free(err);
		pipeline_free(p);
		return;
	}
	is_int(d.n, 6, "six nodes");
	ok(deps_are(&d, 0, NULL, 0), "the first step waits for nothing");
	ok(deps_are(&d, 1, (size_t[]){0}, 1), "absent depends_on: the previous step");
	ok(deps_are(&d, 2, NULL, 0), "depends_on: [] waits for nothing");
	ok(deps_are(&d, 3, (size_t[]){2}, 1), "after a [] step, the next waits for it");
	ok(deps_are(&d, 4, (size_t[]){3, 0, 1}, 3), "fan-in in the order written");
	ok(deps_are(&d, 5, (size_t[]){0}, 1), "a single name as a string");
	is_int(pipeline_dag_find_cycle(&d, cycle), 0, "no cycle");
	ok(pipeline_dag_order(&d, order) == 0, "an order exists");
	for (size_t i = 0; i < 6; i++)
		pos[order[i]] = i;
	for (size_t i = 0; i < 6; i++)
		for (size_t j = 0; j < d.n_deps[i]; j++)
			respects = respects && pos[d.deps[i][j]] < pos[i];
	ok(respects, "every step comes after what it waits for");
	ok(order[0] == 0 && order[1] == 1, "file order where free");
	pipeline_dag_release(&d);
	is_int(d.n, 0, "released");
	pipeline_free(p);
}

static void test_cycle_direct(void)
{
	/* a model validation never lets through, built by hand */
	char *dep_b[] = {"b"}, *dep_a[] = {"a"};
	struct pipeline_step steps[3] = {
	    {.name = "a", .depends_on = {dep_b, 1}, .depends_set = true},
	    {.name = "b", .depends_on = {dep_a, 1}, .depends_set = true},
	    {.name = "c"},
	};
	struct pipeline p = {.steps = steps, .n_steps = 3};
	struct pipeline_dag d;
	struct error *err = NULL;
	size_t cycle[3], order[3];

	if (!ok(pipeline_dag_build(&p, &d, &err) == 0, "cyclic dag built"))
		return;
	is_int(pipeline_dag_find_cycle(&d, cycle), 2, "a two-step cycle");
	ok((cycle[0] == 0 && cycle[1] == 1) || (cycle[0] == 1 && cycle[1] == 0), "a and b");
	ok(pipeline_dag_order(&d, order) < 0, "no order for a cycle");
	pipeline_dag_release(&d);

	steps[1].depends_on.v[0] = "zz";
	ok(pipeline_dag_build(&p, &d, &err) < 0 && err && strstr(err->msg, "'zz'"),
	   "an unknown name is an error (%s)", err ? err->msg : "");
	error_free(err);
	ok(d.n == 0 && !d.deps, "nothing left on error");
}

static void test_long_chain(void)
{
	/* 1000 steps in a line: no recursion to exhaust the stack */
	size_t n = 1000, len = 0, order_ok = 1;
	char *yml = malloc(n * 64 + 64);
	struct pipeline *p;
	struct pipeline_dag d;
	struct error *err = NULL;
	size_t *order = calloc(n, sizeof(*order)), *cycle = calloc(n, sizeof(*cycle));

	len += (size_t)sprintf(yml + len, "image: {}\nsteps:\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(yml + len, "  - {name: s%zu, commands: [x]}\n", i);
	p = parse(yml);
	if (ok(p && pipeline_dag_build(p, &d, &err) == 0, "1000 steps")) {
		is_int(pipeline_dag_find_cycle(&d, cycle), 0, "no cycle in a chain");
		ok(pipeline_dag_order(&d, order) == 0, "chain ordered");
		for (size_t i = 0; i < n; i++)
			order_ok = order_ok && order[i] == i;
		ok(order_ok, "in file order");
		pipeline_dag_release(&d);
	}
	error_free(err);
	pipeline_free(p);
	free(yml);
	free(order);
	free(cycle);
}

int main(void)
{
	plan_lazy();
	test_graph();
	test_cycle_direct();
	test_long_chain();
	return done_testing();
}

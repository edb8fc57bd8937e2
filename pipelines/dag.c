/* pipelines/dag.c — the steps as a graph: who waits for whom, cycles, an order to run them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipelines/pipeline.h"

static ssize_t step_index(const struct pipeline *p, const char *name)
{
	for (size_t i = 0; i < p->n_steps; i++)
		if (!strcmp(p->steps[i].name, name))
			return (ssize_t)i;
	return -1;
}

int pipeline_dag_build(const struct pipeline *p, struct pipeline_dag *dag, struct error **err)
{
	memset(dag, 0, sizeof(*dag));
	if (!p->n_steps)
		return 0;
	dag->deps = calloc(p->n_steps, sizeof(*dag->deps));
	dag->n_deps = calloc(p->n_steps, sizeof(*dag->n_deps));
	if (!dag->deps || !dag->n_deps) {
		pipeline_dag_release(dag);
		return error_errnum(err, ENOMEM, "step graph");
	}
	dag->n = p->n_steps;
	for (size_t i = 0; i < p->n_steps; i++) {
		const struct pipeline_step *s = &p->steps[i];
		size_t want = s->depends_set ? s->depends_on.n : (i > 0);

		if (want && !(dag->deps[i] = calloc(want, sizeof(**dag->deps)))) {
			pipeline_dag_release(dag);
			return error_errnum(err, ENOMEM, "step graph");
		}
		if (!s->depends_set) {
			if (i > 0)
				dag->deps[i][dag->n_deps[i]++] = i - 1;
			continue;
		}
		for (size_t j = 0; j < s->depends_on.n; j++) {
			ssize_t k = step_index(p, s->depends_on.v[j]);

			if (k < 0) {
				pipeline_dag_release(dag);
				return error_usage(err,
						   "step '%s' depends on '%s', which is no step",
						   s->name, s->depends_on.v[j]);
			}
			dag->deps[i][dag->n_deps[i]++] = (size_t)k;
		}
	}
	return 0;
}

void pipeline_dag_release(struct pipeline_dag *dag)
{
	for (size_t i = 0; dag->deps && i < dag->n; i++)
		free(dag->deps[i]);
	free(dag->deps);
	free(dag->n_deps);
	memset(dag, 0, sizeof(*dag));
}

enum { WHITE, GREY, BLACK };

/* Depth-first, without recursion (a long chain of steps must not exhaust the stack). */
size_t pipeline_dag_find_cycle(const struct pipeline_dag *dag, size_t *cycle)
{
	unsigned char *color = calloc(dag->n ? dag->n : 1, 1);
	size_t *stack = calloc(dag->n ? dag->n : 1, sizeof(*stack));
	size_t *next = calloc(dag->n ? dag->n : 1, sizeof(*next));
	size_t found = 0;

	for (size_t root = 0; color && stack && next && !found && root < dag->n; root++) {
		size_t depth = 0;

		if (color[root] != WHITE)
			continue;
		stack[depth++] = root;
		color[root] = GREY;
		next[root] = 0;
		while (depth && !found) {
			size_t v = stack[depth - 1], w;

			if (next[v] == dag->n_deps[v]) {
				color[v] = BLACK;
				depth--;
				continue;
			}
			w = dag->deps[v][next[v]++];
			if (color[w] == WHITE) {
				color[w] = GREY;
				next[w] = 0;
				stack[depth++] = w;
			} else if (color[w] == GREY) {
				size_t from = depth;

				while (stack[--from] != w)
					;
				for (size_t k = from; k < depth; k++)
					cycle[found++] = stack[k];
			}
		}
	}
	free(color);
	free(stack);
	free(next);
	return found;
}

int pipeline_dag_order(const struct pipeline_dag *dag, size_t *order)
{
	bool *done = calloc(dag->n ? dag->n : 1, sizeof(*done));
	size_t n = 0;
	bool progress = true;

	if (!done)
		return -1;
	/* repeated sweeps keep the file's order among steps that are ready together */
	while (n < dag->n && progress) {
		progress = false;
		for (size_t i = 0; i < dag->n; i++) {
			bool ready = !done[i];

			for (size_t j = 0; ready && j < dag->n_deps[i]; j++)
				ready = done[dag->deps[i][j]];
			if (ready) {
				done[i] = true;
				order[n++] = i;
				progress = true;
			}
		}
	}
	free(done);
	return n == dag->n ? 0 : -1;
}

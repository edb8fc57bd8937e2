/* pipelines/validate.c — the checks that need the whole file: names unique across steps,
 * services and deploys, an image for every container, depends_on naming steps, no cycle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "pipelines/internal.h"

/* The node of the i-th entry's key in the list under root[list], for positions. */
static const struct ynode *entry_key(const struct ynode *root, const char *list, size_t i,
				     const char *key)
{
	const struct ynode *l = ynode_get(root, list);

	if (!l || l->kind != YNODE_SEQ || i >= l->n)
		return NULL;
	return key ? ynode_get(l->items[i], key) : l->items[i];
}

struct named {
	const char *name, *kind, *list;
	size_t index;
};

static int unique_names(const struct pipeline *p, const struct ynode *root, const char *file,
			struct error **err)
{
	size_t total = p->n_services + p->n_steps, n = 0;
	cleanup_free struct named *all = calloc(total ? total : 1, sizeof(*all));

	if (!all)
		return error_usage(err, "%s: out of memory", file);
	for (size_t i = 0; i < p->n_services; i++)
		all[n++] = (struct named){p->services[i].name, "service", "services", i};
	for (size_t i = 0; i < p->n_steps; i++)
		all[n++] = (struct named){p->steps[i].name, "step", "steps", i};
	/* services and steps share the run's network: a name is one host */
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++) {
			const struct ynode *first =
			    entry_key(root, all[j].list, all[j].index, "name");

			if (strcmp(all[i].name, all[j].name))
				continue;
			return ynode_error(
			    err, file, entry_key(root, all[i].list, all[i].index, "name"),
			    "duplicate name '%s': already a %s at %d:%d", all[i].name, all[j].kind,
			    first ? first->line : 0, first ? first->col : 0);
		}
	for (size_t i = 0; i < p->n_deploys; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(p->deploys[i].name, p->deploys[j].name))
				return ynode_error(err, file, entry_key(root, "deploy", i, "name"),
						   "duplicate name '%s': already a deploy at %d:%d",
						   p->deploys[i].name, p->deploys[j].line,
						   p->deploys[j].col);
	return 0;
}

static int images_given(const struct pipeline *p, const char *file, struct error **err)
{
	if (p->has_image)
		return 0;
	for (size_t i = 0; i < p->n_steps; i++)
		if (!p->steps[i].image)
			return error_usage(err,
					   "%s:%d:%d: step '%s' has no 'image' and the pipeline "
					   "builds none (add 'image:' to the step or at the top)",
					   file, p->steps[i].line, p->steps[i].col,
					   p->steps[i].name);
	for (size_t i = 0; i < p->n_deploys; i++)
		if (!p->deploys[i].webhook_url && !p->deploys[i].image)
			return error_usage(err,
					   "%s:%d:%d: deploy '%s' has no 'image' and the pipeline "
					   "builds none (add 'image:' to the deploy or at the top)",
					   file, p->deploys[i].line, p->deploys[i].col,
					   p->deploys[i].name);
	return 0;
}

/* The node of depends_on's j-th entry of step i (or of depends_on itself for a scalar). */
static const struct ynode *dep_node(const struct ynode *root, size_t i, size_t j)
{
	const struct ynode *d = entry_key(root, "steps", i, "depends_on");

	if (d && d->kind == YNODE_SEQ && j < d->n)
		return d->items[j];
	return d;
}

static int depends_exist(const struct pipeline *p, const struct ynode *root, const char *file,
			 struct error **err)
{
	for (size_t i = 0; i < p->n_steps; i++) {
		const struct pipeline_step *s = &p->steps[i];

		for (size_t j = 0; j < s->depends_on.n; j++) {
			const char *d = s->depends_on.v[j];
			const char *hint;
			size_t k;
			cleanup_free const char **names = NULL;

			if (!strcmp(d, s->name))
				return ynode_error(err, file, dep_node(root, i, j),
						   "step '%s' depends on itself", s->name);
			for (k = 0; k < j; k++)
				if (!strcmp(s->depends_on.v[k], d))
					return ynode_error(err, file, dep_node(root, i, j),
							   "'%s' is listed twice in depends_on", d);
			for (k = 0; k < p->n_steps && strcmp(p->steps[k].name, d); k++)
				;
			if (k < p->n_steps)
				continue;
			names = calloc(p->n_steps + 1, sizeof(*names));
			for (k = 0; names && k < p->n_steps; k++)
				names[k] = p->steps[k].name;
			hint = names ? pipeline_suggest(d, names) : NULL;
			for (k = 0; !hint && k < p->n_services; k++)
				if (!strcmp(p->services[k].name, d))
					return ynode_error(err, file, dep_node(root, i, j),
							   "step '%s' depends on '%s', a service: "
							   "services start before every step",
							   s->name, d);
			return ynode_error(err, file, dep_node(root, i, j),
					   "step '%s' depends on '%s', which is no step%s%s%s",
					   s->name, d, hint ? " (did you mean '" : "",
					   hint ? hint : "", hint ? "'?)" : "");
		}
	}
	return 0;
}

static int no_cycle(const struct pipeline *p, const struct ynode *root, const char *file,
		    struct error **err)
{
	struct pipeline_dag dag;
	cleanup_free size_t *cycle = NULL;
	struct buf msg = BUF_INIT(4096);
	size_t n, first = 0, implicit = (size_t)-1;
	int r;

	if (pipeline_dag_build(p, &dag, err) < 0)
		return -1;
	cycle = calloc(dag.n + 1, sizeof(*cycle));
	n = cycle ? pipeline_dag_find_cycle(&dag, cycle) : 0;
	pipeline_dag_release(&dag);
	if (!n)
		return 0;
	/* start at the step written first: its edge in the cycle is an explicit depends_on */
	for (size_t k = 1; k < n; k++)
		if (cycle[k] < cycle[first])
			first = k;
	for (size_t k = 0; k <= n; k++) {
		size_t s = cycle[(first + k) % n];

		buf_printf(&msg, NULL, "%s'%s'", k ? " -> " : "", p->steps[s].name);
		if (k < n && !p->steps[s].depends_set && implicit == (size_t)-1)
			implicit = s;
	}
	if (implicit != (size_t)-1)
		buf_printf(&msg, NULL,
			   " ('%s' has no depends_on, so it waits for the step before it)",
			   p->steps[implicit].name);
	{
		size_t from = cycle[first], to = cycle[(first + 1) % n], j;

		for (j = 0; j < p->steps[from].depends_on.n; j++)
			if (!strcmp(p->steps[from].depends_on.v[j], p->steps[to].name))
				break;
		r = ynode_error(err, file, dep_node(root, from, j), "dependency cycle: %s",
				buf_str(&msg));
	}
	buf_release(&msg);
	return r;
}

int pipeline_validate(const struct pipeline *p, const struct ynode *root, const char *file,
		      struct error **err)
{
	if (unique_names(p, root, file, err) < 0 || images_given(p, file, err) < 0 ||
	    depends_exist(p, root, file, err) < 0 || no_cycle(p, root, file, err) < 0)
		return -1;
	return 0;
}

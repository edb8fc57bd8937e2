/* pipelines/model.c — the model's lifetime and the rules that combine its parts (defaults
 * merged into a step's resources and timeout). */
#include <stdlib.h>

#include "pipelines/internal.h"

void pipeline_strv_release(struct pipeline_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

static void when_release(struct pipeline_when *w)
{
	pipeline_strv_release(&w->branch);
	pipeline_strv_release(&w->tag);
	pipeline_strv_release(&w->event);
	pipeline_strv_release(&w->path);
}

static void env_release(struct pipeline_env *env, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(env[i].name);
		free(env[i].value);
		free(env[i].secret);
	}
	free(env);
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	when_release(&p->when);
	free(p->image.dockerfile);
	free(p->image.context);
	free(p->image.target);
	for (size_t i = 0; i < p->image.n_args; i++) {
		free(p->image.args[i].key);
		free(p->image.args[i].value);
	}
	free(p->image.args);
	pipeline_strv_release(&p->image.tags);
	free(p->image.push);
	free(p->defaults.cpuset);
	for (size_t i = 0; i < p->n_services; i++) {
		struct pipeline_service *s = &p->services[i];

		free(s->name);
		free(s->image);
		pipeline_strv_release(&s->commands);
		env_release(s->env, s->n_env);
		free(s->resources.cpuset);
	}
	free(p->services);
	for (size_t i = 0; i < p->n_steps; i++) {
		struct pipeline_step *s = &p->steps[i];

		free(s->name);
		free(s->image);
		pipeline_strv_release(&s->commands);
		env_release(s->env, s->n_env);
		pipeline_strv_release(&s->depends_on);
		free(s->resources.cpuset);
		free(s->user);
		pipeline_strv_release(&s->cache);
		when_release(&s->when);
	}
	free(p->steps);
	for (size_t i = 0; i < p->n_deploys; i++) {
		struct pipeline_deploy *d = &p->deploys[i];

		free(d->name);
		when_release(&d->when);
		free(d->webhook_url);
		free(d->webhook_secret.name);
		free(d->webhook_secret.value);
		free(d->webhook_secret.secret);
		free(d->image);
		pipeline_strv_release(&d->commands);
		env_release(d->env, d->n_env);
	}
	free(p->deploys);
	free(p);
}

void pipeline_resources_merge(struct pipeline_resources *dst, const struct pipeline_resources *src)
{
	if (src->has_memory)
		dst->memory = src->memory, dst->has_memory = true;
	if (src->has_memory_soft)
		dst->memory_soft = src->memory_soft, dst->has_memory_soft = true;
	if (src->has_swap)
		dst->swap = src->swap, dst->has_swap = true;
	if (src->has_cpus)
		dst->cpus = src->cpus, dst->has_cpus = true;
	if (src->has_cpu_weight)
		dst->cpu_weight = src->cpu_weight, dst->has_cpu_weight = true;
	if (src->has_cpuset)
		dst->cpuset = src->cpuset, dst->has_cpuset = true;
	if (src->has_pids)
		dst->pids = src->pids, dst->has_pids = true;
}

struct pipeline_resources pipeline_step_resources(const struct pipeline *p,
						  const struct pipeline_step *s)
{
	struct pipeline_resources r = p->defaults;

	pipeline_resources_merge(&r, &s->resources);
	return r;
}

uint64_t pipeline_step_timeout_ms(const struct pipeline *p, const struct pipeline_step *s)
{
	return s->timeout_ms ? s->timeout_ms : p->default_timeout_ms;
}

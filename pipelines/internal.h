/* pipelines/internal.h — (private to pipelines/) what parse.c, validate.c and model.c share. */
#ifndef SLIPWAY_PIPELINES_INTERNAL_H
#define SLIPWAY_PIPELINES_INTERNAL_H

#include "pipelines/pipeline.h"
#include "pipelines/yaml.h"

/* The checks that need the whole file: unique names, images, depends_on, cycles. root is the
 * document the model came from (for positions). */
int pipeline_validate(const struct pipeline *p, const struct ynode *root, const char *file,
		      struct error **err);

/* The allowed key closest to key (edit distance, prefixes, other CI systems' names), or NULL. */
const char *pipeline_suggest(const char *key, const char *const *allowed);

void pipeline_strv_release(struct pipeline_strv *sv);

#endif

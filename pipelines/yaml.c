/* pipelines/yaml.c — one YAML document into a tree of nodes with positions (libyaml events). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lib/cleanup.h"
#include "pipelines/yaml.h"

struct anchor {
	char *name;
	struct ynode *node;
};

struct loader {
	struct ydoc *doc;
	const char *file;
	struct ynode *stack[YDOC_MAX_DEPTH];
	char *stack_anchor[YDOC_MAX_DEPTH];
	size_t depth;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	size_t weight; /* nodes so far, aliases expanded */
};

int ynode_error(struct error **err, const char *file, const struct ynode *n, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return error_errnum(err, ENOMEM, "%s", file);
	return error_usage(err, "%s:%d:%d: %s", file, n ? n->line : 1, n ? n->col : 1, msg);
}

static int mark_error(struct error **err, const char *file, yaml_mark_t m, const char *msg)
{
	return error_usage(err, "%s:%zu:%zu: %s", file, m.line + 1, m.column + 1, msg);
}

bool ynode_is_null(const struct ynode *n)
{
	return n->kind == YNODE_SCALAR && n->plain &&
	       (!*n->str || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
		!strcmp(n->str, "Null") || !strcmp(n->str, "NULL"));
}

const char *ynode_kind_name(const struct ynode *n)
{
	switch (n->kind) {
	case YNODE_SEQ:
		return "a list";
	case YNODE_MAP:
		return "a mapping";
	case YNODE_SCALAR:
		break;
	}
	return ynode_is_null(n) ? "empty" : "a string";
}

const struct ynode *ynode_get(const struct ynode *map, const char *key)
{
	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->items[2 * i]->str, key))
			return map->items[2 * i + 1];
	return NULL;
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 4;
	void *nv;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	nv = reallocarray(*v, c, size);
	if (!nv)
		return -1;
	*v = nv;
	*cap = c;
	return 0;
}

static struct ynode *node_new(struct loader *ld, enum ynode_kind kind, yaml_mark_t m,
			      struct error **err)
{
	struct ydoc *d = ld->doc;
	struct ynode *n;

	if (++ld->weight > YDOC_MAX_NODES) {
		mark_error(err, ld->file, m, "too many nodes (aliases counted expanded)");
		return NULL;
	}
	if (grow((void **)&d->all, &d->cap_all, d->n_all + 1, sizeof(*d->all)) < 0 ||
	    !(n = calloc(1, sizeof(*n)))) {
		error_errnum(err, ENOMEM, "%s", ld->file);
		return NULL;
	}
	d->all[d->n_all++] = n;
	n->kind = kind;
	n->line = (int)m.line + 1;
	n->col = (int)m.column + 1;
	n->weight = 1;
	return n;
}

/* Hangs n under the open container (or makes it the root). */
static int attach(struct loader *ld, struct ynode *n, struct error **err)
{
	struct ynode *parent;

	if (!ld->depth) {
		ld->doc->root = n;
		return 0;
	}
	parent = ld->stack[ld->depth - 1];
	if (parent->kind == YNODE_MAP && parent->n % 2 == 0 && n->kind != YNODE_SCALAR)
		return ynode_error(err, ld->file, n, "a key must be a string, not %s",
				   ynode_kind_name(n));
	if (grow((void **)&parent->items, &parent->cap, parent->n + 1, sizeof(*parent->items)) < 0)
		return error_errnum(err, ENOMEM, "%s", ld->file);
	parent->items[parent->n++] = n;
	return 0;
}

static int add_anchor(struct loader *ld, const char *name, struct ynode *n, struct error **err)
{
	if (!name)
		return 0;
	if (grow((void **)&ld->anchors, &ld->cap_anchors, ld->n_anchors + 1, sizeof(*ld->anchors)) <
		0 ||
	    !(ld->anchors[ld->n_anchors].name = strdup(name)))
		return error_errnum(err, ENOMEM, "%s", ld->file);
	ld->anchors[ld->n_anchors++].node = n;
	return 0;
}

static int on_alias(struct loader *ld, const yaml_event_t *ev, struct error **err)
{
	const char *name = (const char *)ev->data.alias.anchor;

	for (size_t i = ld->n_anchors; i-- > 0;) {
		struct ynode *n = ld->anchors[i].node;

		if (strcmp(ld->anchors[i].name, name))
			continue;
		ld->weight += n->weight;
		if (ld->weight > YDOC_MAX_NODES)
			return mark_error(err, ld->file, ev->start_mark,
					  "too many nodes (aliases counted expanded)");
		if (ld->depth && ld->stack[ld->depth - 1]->kind == YNODE_MAP &&
		    ld->stack[ld->depth - 1]->n % 2 == 0 && n->kind != YNODE_SCALAR)
			return mark_error(err, ld->file, ev->start_mark,
					  "a key must be a string, not an alias of a collection");
		if (ld->depth)
			ld->stack[ld->depth - 1]->weight += n->weight;
		return attach(ld, n, err);
	}
	return error_usage(err, "%s:%zu:%zu: unknown anchor '%s'", ld->file,
			   ev->start_mark.line + 1, ev->start_mark.column + 1, name);
}

static int on_scalar(struct loader *ld, const yaml_event_t *ev, struct error **err)
{
	struct ynode *n = node_new(ld, YNODE_SCALAR, ev->start_mark, err);

	if (!n)
		return -1;
	n->str = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
	if (!n->str)
		return error_errnum(err, ENOMEM, "%s", ld->file);
	if (strlen(n->str) != ev->data.scalar.length)
		return ynode_error(err, ld->file, n, "a string must not contain a NUL character");
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
	if (ld->depth)
		ld->stack[ld->depth - 1]->weight++;
	if (attach(ld, n, err) < 0)
		return -1;
	return add_anchor(ld, (const char *)ev->data.scalar.anchor, n, err);
}

static int on_start(struct loader *ld, const yaml_event_t *ev, enum ynode_kind kind,
		    const yaml_char_t *anchor, struct error **err)
{
	struct ynode *n;

	if (ld->depth == YDOC_MAX_DEPTH)
		return mark_error(err, ld->file, ev->start_mark, "nested too deeply");
	if (!(n = node_new(ld, kind, ev->start_mark, err)) || attach(ld, n, err) < 0)
		return -1;
	ld->stack_anchor[ld->depth] = anchor ? strdup((const char *)anchor) : NULL;
	if (anchor && !ld->stack_anchor[ld->depth])
		return error_errnum(err, ENOMEM, "%s", ld->file);
	ld->stack[ld->depth++] = n;
	return 0;
}

/* A collection is complete: only now may an alias name it (no alias can contain itself). */
static int on_end(struct loader *ld, struct error **err)
{
	struct ynode *n = ld->stack[--ld->depth];
	cleanup_free char *anchor = ld->stack_anchor[ld->depth];

	if (n->kind == YNODE_MAP)
		n->n /= 2;
	if (ld->depth)
		ld->stack[ld->depth - 1]->weight += n->weight;
	return add_anchor(ld, anchor, n, err);
}

static int parser_error(const yaml_parser_t *p, const char *file, struct error **err)
{
	char msg[512];

	if (p->error == YAML_MEMORY_ERROR)
		return error_errnum(err, ENOMEM, "%s", file);
	if (p->context)
		snprintf(msg, sizeof(msg), "%s (%s at %zu:%zu)",
			 p->problem ? p->problem : "invalid YAML", p->context,
			 p->context_mark.line + 1, p->context_mark.column + 1);
	else
		snprintf(msg, sizeof(msg), "%s", p->problem ? p->problem : "invalid YAML");
	if (p->error == YAML_READER_ERROR)
		return error_usage(err, "%s: %s at byte %zu", file, msg, p->problem_offset);
	return mark_error(err, file, p->problem_mark, msg);
}

static int handle(struct loader *ld, const yaml_event_t *ev, int *docs, struct error **err)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return mark_error(err, ld->file, ev->start_mark,
					  "only one YAML document is allowed");
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(ld, ev, err);
	case YAML_ALIAS_EVENT:
		return on_alias(ld, ev, err);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(ld, ev, YNODE_SEQ, ev->data.sequence_start.anchor, err);
	case YAML_MAPPING_START_EVENT:
		return on_start(ld, ev, YNODE_MAP, ev->data.mapping_start.anchor, err);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(ld, err);
	default:
		return 0;
	}
}

static void loader_release(struct loader *ld)
{
	for (size_t i = 0; i < ld->n_anchors; i++)
		free(ld->anchors[i].name);
	free(ld->anchors);
	for (size_t i = 0; i < ld->depth; i++)
		free(ld->stack_anchor[i]);
}

int ydoc_load(struct ydoc *doc, const char *data, size_t len, const char *file, struct error **err)
{
	struct loader ld = {.doc = doc, .file = file};
	yaml_parser_t parser;
	yaml_event_t ev;
	int docs = 0, r = 0;
	bool done = false;

	memset(doc, 0, sizeof(*doc));
	if (len > YDOC_MAX_BYTES)
		return error_usage(err, "%s: %zu bytes, more than the 1 MiB a pipeline may have",
				   file, len);
	if (!yaml_parser_initialize(&parser))
		return error_errnum(err, ENOMEM, "%s", file);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done && r == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			r = parser_error(&parser, file, err);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		r = handle(&ld, &ev, &docs, err);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	loader_release(&ld);
	if (r < 0)
		ydoc_release(doc);
	return r;
}

void ydoc_release(struct ydoc *doc)
{
	for (size_t i = 0; i < doc->n_all; i++) {
		free(doc->all[i]->str);
		free(doc->all[i]->items);
		free(doc->all[i]);
	}
	free(doc->all);
	memset(doc, 0, sizeof(*doc));
}

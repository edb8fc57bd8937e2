/* pipelines/yaml.h — (private to pipelines/) a YAML document as a small tree of scalars,
 * sequences and mappings, each node with its 1-based line and column.
 *
 * Loaded with libyaml's event API under hard caps: the document's size, its nesting depth and
 * the number of nodes counted with aliases expanded (a "billion laughs" file is refused before
 * it costs memory, since an alias shares its anchor's node instead of copying it).
 */
#ifndef SLIPWAY_PIPELINES_YAML_H
#define SLIPWAY_PIPELINES_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"

#define YDOC_MAX_BYTES (1u << 20)
#define YDOC_MAX_DEPTH 64
#define YDOC_MAX_NODES 100000

enum ynode_kind { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

struct ynode {
	enum ynode_kind kind;
	int line, col;
	char *str;	      /* scalar text as written (never NULL for a scalar) */
	bool plain;	      /* a plain (unquoted) scalar: may be null, a number, a bool */
	struct ynode **items; /* seq: n items; map: 2n (key, value, key, value...) */
	size_t n, cap;	      /* cap: private to the loader */
	size_t weight;	      /* nodes in this subtree, aliases expanded */
};

struct ydoc {
	struct ynode *root; /* NULL for an empty document */
	struct ynode **all; /* every node, owned (aliases point into it) */
	size_t n_all, cap_all;
};

/* Parses one YAML document; errors are `file:LINE:COL: message` (exit 2). */
int ydoc_load(struct ydoc *doc, const char *data, size_t len, const char *file, struct error **err);
void ydoc_release(struct ydoc *doc);

/* Kinds as people call them: "a string", "a list", "a mapping", "null". */
const char *ynode_kind_name(const struct ynode *n);
/* A plain scalar that YAML reads as null: "", "~", "null". */
bool ynode_is_null(const struct ynode *n);
/* The value of key in a mapping, or NULL. */
const struct ynode *ynode_get(const struct ynode *map, const char *key);

/* Sets `file:LINE:COL: message` at n (exit 2); returns -1. */
int ynode_error(struct error **err, const char *file, const struct ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

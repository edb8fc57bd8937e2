/* runner/build/dockerfile.h — the Dockerfile as Docker reads it: parser directives (escape),
 * comments, line continuations, instructions with their --flags, exec (JSON) and shell forms;
 * then words and ${VAR} substitution, applied per instruction by the builder.
 *
 * Errors are input errors (exit 2) worded `NAME:LINE: message`, NAME being what the caller
 * passed (normally "Dockerfile").
 */
#ifndef SLIPWAY_RUNNER_BUILD_DOCKERFILE_H
#define SLIPWAY_RUNNER_BUILD_DOCKERFILE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"

#define DOCKERFILE_MAX_BYTES (4u << 20)

enum df_kind {
	DF_ADD,
	DF_ARG,
	DF_CMD,
	DF_COPY,
	DF_ENTRYPOINT,
	DF_ENV,
	DF_EXPOSE,
	DF_FROM,
	DF_HEALTHCHECK,
	DF_LABEL,
	DF_MAINTAINER,
	DF_ONBUILD,
	DF_RUN,
	DF_SHELL,
	DF_STOPSIGNAL,
	DF_USER,
	DF_VOLUME,
	DF_WORKDIR,
};

struct df_flag {
	char *name;  /* without the dashes */
	char *value; /* NULL for a bare --name */
};

struct df_instr {
	enum df_kind kind;
	int line;	       /* of the keyword */
	char *keyword;	       /* upper case: "COPY" */
	char *text;	       /* keyword, flags and arguments as written, continuations joined */
	char *rest;	       /* the arguments after the flags, trimmed */
	struct df_flag *flags; /* in order of appearance */
	size_t nflags;
	bool json;   /* exec form: args are the array's strings */
	char **args; /* json: the array; else the words of rest, quotes and escapes kept
			(expand them with df_expand); NULL-terminated */
	size_t nargs;
};

struct dockerfile {
	const char *name; /* borrowed, for messages */
	char escape;	  /* '\\' or '`' */
	struct df_instr *v;
	size_t n;
};

/* Parses text (len bytes, at most DOCKERFILE_MAX_BYTES). name is kept borrowed for messages. */
int dockerfile_parse(const char *text, size_t len, const char *name, struct dockerfile *out,
		     struct error **err);
void dockerfile_release(struct dockerfile *df);

/* The input error `name:line: message` (exit 2); returns -1. */
int df_errorv(struct error **err, const char *name, int line, const char *fmt, va_list ap);

/* The flag's value (or "" for a bare one) when given, else NULL. */
const char *df_flag(const struct df_instr *in, const char *name);

/* Splits s into words at unquoted, unescaped blanks; quotes and escapes stay in the words.
 * Returns NULL-terminated (caller frees with df_strv_free). */
int df_split_words(const char *s, char esc, char ***words, size_t *n, struct error **err);
void df_strv_free(char **v);

/* Variable lookup for expansion: returns the value (borrowed) or NULL when unset. */
typedef const char *(*df_lookup_fn)(void *ctx, const char *name);

/* One word as Docker's shell-word processing reads it: quotes removed, escapes applied,
 * $VAR, ${VAR}, ${VAR:-w}, ${VAR-w}, ${VAR:+w}, ${VAR+w}, ${VAR:?msg}, ${VAR?msg} replaced
 * (unset variables become empty). Caller frees *out. */
int df_expand(const char *word, char esc, df_lookup_fn lookup, void *ctx, char **out,
	      struct error **err);

#endif

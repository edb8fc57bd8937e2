/* runner/build/dockerfile.c — the Dockerfile parser and Docker's shell-word processing.
 *
 * Lines: parser directives (`# escape=`` `, `# syntax=...`) only before anything else; comment
 * lines anywhere, also inside a continuation, where blank lines are skipped too; a line whose
 * last non-blank character is the escape character continues on the next one (joined without
 * a newline, as Docker does). Then the keyword (any case), leading --flags, and the arguments:
 * an exec form when they are a JSON array of strings, else a shell form. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "runner/build/dockerfile.h"

#define MAX_INSTRUCTIONS 10000
#define MAX_WORD (1u << 20)

static const struct {
	const char *name;
	enum df_kind kind;
	const char *flags; /* allowed flags, space separated and surrounded */
} keywords[] = {
    {"ADD", DF_ADD, " chown chmod checksum keep-git-dir link "},
    {"ARG", DF_ARG, ""},
    {"CMD", DF_CMD, ""},
    {"COPY", DF_COPY, " from chown chmod link "},
    {"ENTRYPOINT", DF_ENTRYPOINT, ""},
    {"ENV", DF_ENV, ""},
    {"EXPOSE", DF_EXPOSE, ""},
    {"FROM", DF_FROM, " platform "},
    {"HEALTHCHECK", DF_HEALTHCHECK, " interval timeout start-period start-interval retries "},
    {"LABEL", DF_LABEL, ""},
    {"MAINTAINER", DF_MAINTAINER, ""},
    {"ONBUILD", DF_ONBUILD, ""},
    {"RUN", DF_RUN, " mount network security "},
    {"SHELL", DF_SHELL, ""},
    {"STOPSIGNAL", DF_STOPSIGNAL, ""},
    {"USER", DF_USER, ""},
    {"VOLUME", DF_VOLUME, ""},
    {"WORKDIR", DF_WORKDIR, ""},
};

void df_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void instr_release(struct df_instr *in)
{
	free(in->keyword);
	free(in->text);
	free(in->rest);
	for (size_t i = 0; i < in->nflags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	df_strv_free(in->args);
}

void dockerfile_release(struct dockerfile *df)
{
	for (size_t i = 0; i < df->n; i++)
		instr_release(&df->v[i]);
	free(df->v);
	df->v = NULL;
	df->n = 0;
}

const char *df_flag(const struct df_instr *in, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; i < in->nflags; i++) /* the last one wins */
		if (!strcmp(in->flags[i].name, name))
			v = in->flags[i].value ? in->flags[i].value : "";
	return v;
}

/* --- words ---------------------------------------------------------------------------------- */

static int strv_push(char ***v, size_t *n, size_t *cap, char *s)
{
	if (!s)
		return -1;
	if (*n + 2 > *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		char **nv = realloc(*v, nc * sizeof(*nv));

		if (!nv) {
			free(s);
			return -1;
		}
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
	return 0;
}

int df_split_words(const char *s, char esc, char ***words, size_t *n, struct error **err)
{
	char **v = NULL;
	size_t nv = 0, cap = 0;
	struct buf w = BUF_INIT(MAX_WORD);
	char quote = 0;
	bool inword = false;

	*words = NULL;
	*n = 0;
	for (const char *p = s;; p++) {
		char c = *p;

		if (!c || (!quote && isblank((unsigned char)c))) {
			if (!c && quote) {
				buf_release(&w);
				df_strv_free(v);
				return error_usage(err, "unterminated %s quote",
						   quote == '"' ? "double" : "single");
			}
			if (inword && strv_push(&v, &nv, &cap, buf_steal(&w)) < 0) {
				buf_release(&w);
				df_strv_free(v);
				return error_errno(err, "split words");
			}
			inword = false;
			if (!c)
				break;
			continue;
		}
		inword = true;
		if (c == esc && quote != '\'' && p[1]) {
			if (buf_putc(&w, c, err) < 0 || buf_putc(&w, p[1], err) < 0)
				goto fail;
			p++;
			continue;
		}
		if (!quote && (c == '"' || c == '\''))
			quote = c;
		else if (quote == c)
			quote = 0;
		if (buf_putc(&w, c, err) < 0)
			goto fail;
	}
	if (!v && !(v = calloc(1, sizeof(*v))))
		return error_errno(err, "split words");
	*words = v;
	*n = nv;
	return 0;
fail:
	buf_release(&w);
	df_strv_free(v);
	return -1;
}

static bool name_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

struct expander {
	const char *p;
	char esc;
	df_lookup_fn lookup;
	void *ctx;
	int depth;
};

static int expand_until(struct expander *x, const char *stop, struct buf *out, bool in_dquote,
			struct error **err);

/* After "${": NAME, then an optional modifier and word, then '}'. */
static int expand_braced(struct expander *x, struct buf *out, struct error **err)
{
	struct buf name = BUF_INIT(4096), word = BUF_INIT(MAX_WORD);
	const char *val;
	char mod[3] = "";
	int rc = -1;

	if (++x->depth > 32) {
		error_usage(err, "variable substitution nested too deeply");
		goto out;
	}
	if (!name_start(*x->p) && !isdigit((unsigned char)*x->p)) {
		error_usage(err, "bad substitution: missing or invalid name after '${'");
		goto out;
	}
	while (name_char(*x->p))
		if (buf_putc(&name, *x->p++, err) < 0)
			goto out;
	if (*x->p == ':' && strchr("-+?", x->p[1]) && x->p[1]) {
		mod[0] = ':';
		mod[1] = x->p[1];
		x->p += 2;
	} else if (*x->p && strchr("-+?", *x->p)) {
		mod[0] = *x->p++;
	} else if (!*x->p) {
		error_usage(err, "missing '}' in substitution of '%s'", buf_str(&name));
		goto out;
	} else if (*x->p != '}') {
		error_usage(err, "bad substitution '${%s%c': unsupported modifier", buf_str(&name),
			    *x->p ? *x->p : ' ');
		goto out;
	}
	if (mod[0] && expand_until(x, "}", &word, false, err) < 0)
		goto out;
	if (*x->p != '}') {
		error_usage(err, "missing '}' in substitution of '%s'", buf_str(&name));
		goto out;
	}
	x->p++;
	val = x->lookup(x->ctx, buf_str(&name));
	{
		bool colon = mod[0] == ':';
		char m = colon ? mod[1] : mod[0];
		bool set = val && (!colon || *val);

		if (m == '-' && !set)
			val = buf_str(&word);
		else if (m == '+')
			val = set ? buf_str(&word) : "";
		else if (m == '?' && !set) {
			error_usage(err, "%s: %s", buf_str(&name),
				    word.len ? buf_str(&word) : "is not allowed to be unset");
			goto out;
		}
	}
	rc = buf_puts(out, val ? val : "", err);
out:
	x->depth--;
	buf_release(&name);
	buf_release(&word);
	return rc;
}

static int expand_dollar(struct expander *x, struct buf *out, struct error **err)
{
	x->p++; /* '$' */
	if (*x->p == '{') {
		x->p++;
		return expand_braced(x, out, err);
	}
	if (name_start(*x->p)) {
		struct buf name = BUF_INIT(4096);
		const char *val;
		int rc;

		while (name_char(*x->p))
			if (buf_putc(&name, *x->p++, err) < 0) {
				buf_release(&name);
				return -1;
			}
		val = x->lookup(x->ctx, buf_str(&name));
		rc = buf_puts(out, val ? val : "", err);
		buf_release(&name);
		return rc;
	}
	return buf_putc(out, '$', err); /* a lone '$' stays */
}

/* Reads until a character of stop (not consumed) or the end. */
static int expand_until(struct expander *x, const char *stop, struct buf *out, bool in_dquote,
			struct error **err)
{
	while (*x->p && !strchr(stop, *x->p)) {
		char c = *x->p;

		if (c == x->esc) {
			char n = x->p[1];

			if (!n) {
				x->p++;
				break;
			}
			if (in_dquote && n != '"' && n != '$' && n != x->esc) {
				if (buf_putc(out, c, err) < 0)
					return -1;
			}
			if (buf_putc(out, n, err) < 0)
				return -1;
			x->p += 2;
		} else if (c == '\'' && !in_dquote) {
			const char *end = strchr(x->p + 1, '\'');

			if (!end)
				return error_usage(err, "unterminated single quote");
			if (buf_append(out, x->p + 1, (size_t)(end - x->p - 1), err) < 0)
				return -1;
			x->p = end + 1;
		} else if (c == '"' && !in_dquote) {
			x->p++;
			if (expand_until(x, "\"", out, true, err) < 0)
				return -1;
			if (*x->p != '"')
				return error_usage(err, "unterminated double quote");
			x->p++;
		} else if (c == '$') {
			if (expand_dollar(x, out, err) < 0)
				return -1;
		} else {
			if (buf_putc(out, c, err) < 0)
				return -1;
			x->p++;
		}
	}
	return 0;
}

int df_expand(const char *word, char esc, df_lookup_fn lookup, void *ctx, char **out,
	      struct error **err)
{
	struct expander x = {word, esc, lookup, ctx, 0};
	struct buf b = BUF_INIT(MAX_WORD);

	*out = NULL;
	if (expand_until(&x, "", &b, false, err) < 0) {
		buf_release(&b);
		return -1;
	}
	*out = buf_steal(&b);
	return *out ? 0 : error_errno(err, "expand");
}

/* --- lines ---------------------------------------------------------------------------------- */

struct parser {
	struct dockerfile *df;
	size_t cap;
	const char *name;
};

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "# name=value" before anything else; returns true when line is one. */
static bool directive(char *line, char **name, char **value)
{
	char *p = line, *n, *e;

	while (isblank((unsigned char)*p))
		p++;
	if (*p++ != '#')
		return false;
	while (isblank((unsigned char)*p))
		p++;
	n = p;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == '-')
		p++;
	if (p == n)
		return false;
	e = p;
	while (isblank((unsigned char)*p))
		p++;
	if (*p != '=')
		return false;
	*e = '\0';
	*name = n;
	*value = trim(p + 1);
	return true;
}

int df_errorv(struct error **err, const char *name, int line, const char *fmt, va_list ap)
{
	cleanup_free char *m = NULL;
	int r = vasprintf(&m, fmt, ap);

	return error_usage(err, "%s:%d: %s", name, line, r < 0 ? fmt : m);
}

static int fail(struct parser *ps, int line, struct error **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct parser *ps, int line, struct error **err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = df_errorv(err, ps->name, line, fmt, ap);
	va_end(ap);
	return r;
}

/* Arguments as JSON when they are an array of strings. */
static bool parse_json_args(const char *rest, char ***args, size_t *n)
{
	json_auto_t *j = NULL;
	char **v = NULL;
	size_t nv = 0, cap = 0, i;
	json_t *e;

	if (*rest != '[')
		return false;
	j = json_loads(rest, JSON_REJECT_DUPLICATES, NULL);
	if (!j || !json_is_array(j))
		return false;
	json_array_foreach (j, i, e) {
		if (!json_is_string(e) ||
		    memchr(json_string_value(e), '\0', json_string_length(e)) ||
		    strv_push(&v, &nv, &cap, strdup(json_string_value(e))) < 0) {
			df_strv_free(v);
			return false;
		}
	}
	if (!v && !(v = calloc(1, sizeof(*v))))
		return false;
	*args = v;
	*n = nv;
	return true;
}

static bool json_allowed(enum df_kind k)
{
	return k == DF_RUN || k == DF_CMD || k == DF_ENTRYPOINT || k == DF_SHELL || k == DF_COPY ||
	       k == DF_ADD || k == DF_VOLUME;
}

static int check_args(struct parser *ps, struct df_instr *in, struct error **err)
{
	size_t n = in->nargs;
	const char *k = in->keyword;

	switch (in->kind) {
	case DF_FROM:
		if (in->json || !(n == 1 || (n == 3 && !strcasecmp(in->args[1], "as"))))
			return fail(ps, in->line, err,
				    "FROM requires either one or three arguments");
		break;
	case DF_COPY:
	case DF_ADD:
		if (n < 2)
			return fail(ps, in->line, err, "%s requires at least two arguments", k);
		break;
	case DF_SHELL:
		if (!in->json)
			return fail(ps, in->line, err, "SHELL requires the arguments in JSON form");
		if (n == 0)
			return fail(ps, in->line, err, "SHELL requires at least one argument");
		break;
	case DF_STOPSIGNAL:
	case DF_WORKDIR:
	case DF_USER:
		if (in->json || n != 1)
			return fail(ps, in->line, err, "%s requires exactly one argument", k);
		break;
	case DF_CMD:
	case DF_ENTRYPOINT:
		break; /* CMD [] is allowed */
	case DF_HEALTHCHECK:
		if (n == 0)
			return fail(ps, in->line, err, "HEALTHCHECK requires an argument");
		break;
	default:
		if (n == 0)
			return fail(ps, in->line, err, "%s requires at least one argument", k);
		break;
	}
	return 0;
}

static int parse_flags(struct parser *ps, struct df_instr *in, const char *allowed, char **rest,
		       struct error **err)
{
	char *p = *rest;

	while (p[0] == '-' && p[1] == '-') {
		char *end = p, *eq, word[4096];
		size_t len;
		struct df_flag *f;

		while (*end && !isblank((unsigned char)*end))
			end++;
		len = (size_t)(end - p);
		if (len == 2) { /* "--" ends the flags */
			p = end;
			break;
		}
		if (len >= sizeof(word))
			return fail(ps, in->line, err, "flag too long");
		memcpy(word, p + 2, len - 2);
		word[len - 2] = '\0';
		eq = strchr(word, '=');
		if (eq)
			*eq = '\0';
		{
			char pat[4200];

			snprintf(pat, sizeof(pat), " %s ", word);
			if (!*word || !strstr(allowed, pat))
				return fail(ps, in->line, err, "unknown flag '--%s' for %s", word,
					    in->keyword);
		}
		f = realloc(in->flags, (in->nflags + 1) * sizeof(*f));
		if (!f)
			return error_errno(err, "parse");
		in->flags = f;
		f = &in->flags[in->nflags++];
		f->name = strdup(word);
		f->value = eq ? strdup(eq + 1) : NULL;
		if (!f->name || (eq && !f->value))
			return error_errno(err, "parse");
		p = end;
		while (isblank((unsigned char)*p))
			p++;
	}
	while (isblank((unsigned char)*p))
		p++;
	*rest = p;
	return 0;
}

static int add_instruction(struct parser *ps, char *text, int line, struct error **err)
{
	struct df_instr in = {0};
	char *p = trim(text), *kw = p, *rest;
	size_t k;
	struct error *e = NULL;

	while (*p && !isspace((unsigned char)*p))
		p++;
	if (*p)
		*p++ = '\0';
	rest = trim(p);
	for (k = 0; k < ARRAY_SIZE(keywords); k++)
		if (!strcasecmp(kw, keywords[k].name))
			break;
	if (k == ARRAY_SIZE(keywords))
		return fail(ps, line, err, "unknown instruction '%s'", kw);
	if (ps->df->n >= MAX_INSTRUCTIONS)
		return fail(ps, line, err, "more than %d instructions", MAX_INSTRUCTIONS);
	in.kind = keywords[k].kind;
	in.line = line;
	in.keyword = strdup(keywords[k].name);
	if (!in.keyword || asprintf(&in.text, "%s%s%s", in.keyword, *rest ? " " : "", rest) < 0) {
		in.text = NULL;
		instr_release(&in);
		return error_errno(err, "parse");
	}
	if (parse_flags(ps, &in, keywords[k].flags, &rest, err) < 0) {
		instr_release(&in);
		return -1;
	}
	if (!(in.rest = strdup(rest))) {
		instr_release(&in);
		return error_errno(err, "parse");
	}
	if (json_allowed(in.kind) && parse_json_args(rest, &in.args, &in.nargs)) {
		in.json = true;
	} else if (in.kind == DF_RUN || in.kind == DF_CMD || in.kind == DF_ENTRYPOINT ||
		   in.kind == DF_ONBUILD || in.kind == DF_HEALTHCHECK || in.kind == DF_MAINTAINER) {
		/* Shell form: one argument, the text as written (the shell reads it). */
		in.args = calloc(2, sizeof(char *));
		if (!in.args || (*rest && !(in.args[0] = strdup(rest)))) {
			instr_release(&in);
			return error_errno(err, "parse");
		}
		in.nargs = *rest ? 1 : 0;
	} else if (df_split_words(rest, ps->df->escape, &in.args, &in.nargs, &e) < 0) {
		fail(ps, line, err, "%s", e->msg);
		error_free(e);
		instr_release(&in);
		return -1;
	}
	if (check_args(ps, &in, err) < 0) {
		instr_release(&in);
		return -1;
	}
	if (in.kind == DF_ONBUILD) {
		char *t = in.rest, *w = t;

		while (*w && !isspace((unsigned char)*w))
			w++;
		if ((w - t == 7 && !strncasecmp(t, "ONBUILD", 7)) ||
		    (w - t == 4 && !strncasecmp(t, "FROM", 4)) ||
		    (w - t == 10 && !strncasecmp(t, "MAINTAINER", 10))) {
			fail(ps, line, err, "%.*s is not allowed as an ONBUILD trigger",
			     (int)(w - t), t);
			instr_release(&in);
			return -1;
		}
	}
	if (ps->df->n == ps->cap) {
		size_t nc = ps->cap ? ps->cap * 2 : 16;
		struct df_instr *v = realloc(ps->df->v, nc * sizeof(*v));

		if (!v) {
			instr_release(&in);
			return error_errno(err, "parse");
		}
		ps->df->v = v;
		ps->cap = nc;
	}
	ps->df->v[ps->df->n++] = in;
	return 0;
}

static bool is_comment(const char *line)
{
	while (isblank((unsigned char)*line))
		line++;
	return *line == '#';
}

static bool is_blank(const char *line)
{
	while (isspace((unsigned char)*line))
		line++;
	return !*line;
}

/* Removes a trailing escape character (after blanks); true when the line continues. */
static bool continues(char *line, char esc)
{
	size_t n = strlen(line);

	while (n && isspace((unsigned char)line[n - 1]))
		n--;
	if (n && line[n - 1] == esc) {
		line[n - 1] = '\0';
		return true;
	}
	return false;
}

int dockerfile_parse(const char *text, size_t len, const char *name, struct dockerfile *out,
		     struct error **err)
{
	struct parser ps = {out, 0, name};
	cleanup_free char *copy = NULL;
	struct buf cur = BUF_INIT(DOCKERFILE_MAX_BYTES);
	bool in_directives = true, open = false, seen_escape = false;
	int lineno = 0, start = 0;

	memset(out, 0, sizeof(*out));
	out->name = name;
	out->escape = '\\';
	if (len > DOCKERFILE_MAX_BYTES)
		return error_usage(err, "%s: larger than %u bytes", name, DOCKERFILE_MAX_BYTES);
	if (memchr(text, '\0', len))
		return error_usage(err, "%s: contains a NUL byte", name);
	if (!(copy = strndup(text, len)))
		return error_errno(err, "parse '%s'", name);
	/* A UTF-8 byte order mark is allowed at the start. */
	for (char *line = copy + (strncmp(copy, "\xef\xbb\xbf", 3) ? 0 : 3), *next; line;
	     line = next) {
		size_t l;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else if (!*line)
			break;
		lineno++;
		l = strlen(line);
		if (l && line[l - 1] == '\r')
			line[l - 1] = '\0';
		if (in_directives) {
			char *dn, *dv;

			if (directive(line, &dn, &dv)) {
				if (!strcasecmp(dn, "escape")) {
					if (seen_escape)
						goto dup;
					if (strcmp(dv, "\\") && strcmp(dv, "`")) {
						fail(&ps, lineno, err,
						     "invalid escape token '%s' (\\ or ` only)",
						     dv);
						goto bad;
					}
					out->escape = dv[0];
					seen_escape = true;
				}
				continue; /* syntax, check and unknown ones: comments */
			}
			in_directives = false;
		}
		if (is_comment(line) || is_blank(line))
			continue;
		if (!open) {
			start = lineno;
			buf_reset(&cur);
		}
		open = continues(line, out->escape);
		if (buf_puts(&cur, line, err) < 0)
			goto bad;
		if (!open && add_instruction(&ps, cur.data, start, err) < 0)
			goto bad;
	}
	if (open && !is_blank(buf_str(&cur)) && add_instruction(&ps, cur.data, start, err) < 0)
		goto bad;
	buf_release(&cur);
	if (out->n == 0)
		return error_usage(err, "%s: no instructions", name);
	for (size_t i = 0; i < out->n && out->v[i].kind != DF_FROM; i++) {
		if (out->v[i].kind != DF_ARG) {
			fail(&ps, out->v[i].line, err, "only ARG may come before the first FROM");
			goto bad;
		}
	}
	return 0;
dup:
	fail(&ps, lineno, err, "the escape directive is given twice");
bad:
	buf_release(&cur);
	dockerfile_release(out);
	return -1;
}

/* pipelines/when.c — `when:` filters: branch, tag and path globs, the event list.
 *
 * Globs: `*` and `?` stay within one path segment, `**` crosses '/', and `**` followed by
 * '/' also matches no directory at all (src/, two stars, /x.c matches src/x.c); `[...]` classes
 * and '\' escapes as in fnmatch. Matching is a dynamic programme over (pattern, text)
 * positions: no pattern, however many stars it has, can make it slow.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "pipelines/pipeline.h"

#define GLOB_MAX_TEXT 4096
#define GLOB_MAX_PATTERN 1024

enum tok_kind { TOK_CHAR, TOK_ANY, TOK_STAR, TOK_DSTAR, TOK_DSTAR_SLASH, TOK_CLASS };

struct tok {
	enum tok_kind kind;
	char c;		   /* TOK_CHAR */
	const char *class; /* TOK_CLASS: from '[' */
	size_t class_len;  /* through ']' */
};

/* The length of the class at p ('[' ... ']'), or 0 when it is not a class. */
static size_t class_len(const char *p)
{
	size_t i = 1;

	if (p[i] == '!' || p[i] == '^')
		i++;
	if (p[i] == ']')
		i++;
	for (; p[i]; i++)
		if (p[i] == ']')
			return i + 1;
	return 0;
}

static size_t tokenize(const char *pat, struct tok *t)
{
	size_t n = 0;

	for (const char *p = pat; *p; n++) {
		size_t cl;

		if (p[0] == '*' && p[1] == '*') {
			while (*p == '*')
				p++;
			if (*p == '/') {
				t[n].kind = TOK_DSTAR_SLASH;
				p++;
			} else {
				t[n].kind = TOK_DSTAR;
			}
		} else if (*p == '*') {
			t[n].kind = TOK_STAR;
			p++;
		} else if (*p == '?') {
			t[n].kind = TOK_ANY;
			p++;
		} else if (*p == '[' && (cl = class_len(p))) {
			t[n].kind = TOK_CLASS;
			t[n].class = p;
			t[n].class_len = cl;
			p += cl;
		} else {
			if (*p == '\\' && p[1])
				p++;
			t[n].kind = TOK_CHAR;
			t[n].c = *p++;
		}
	}
	return n;
}

static bool class_matches(const struct tok *t, char c)
{
	char pat[GLOB_MAX_PATTERN + 1], s[2] = {c, 0};

	memcpy(pat, t->class, t->class_len);
	pat[t->class_len] = 0;
	return c != '/' && fnmatch(pat, s, 0) == 0;
}

bool pipeline_glob_match(const char *pattern, const char *text)
{
	size_t plen = strlen(pattern), tlen = strlen(text), nt;
	struct tok *t;
	bool *dp, r;

	if (plen > GLOB_MAX_PATTERN || tlen > GLOB_MAX_TEXT)
		return false;
	t = calloc(plen + 1, sizeof(*t));
	dp = calloc((plen + 2) * (tlen + 1), sizeof(*dp));
	if (!t || !dp) {
		free(t);
		free(dp);
		return false;
	}
	nt = tokenize(pattern, t);
	/* dp[i * (tlen + 1) + j]: tokens i.. match text j.. */
#define DP(i, j) dp[(i) * (tlen + 1) + (j)]
	DP(nt, tlen) = true;
	for (size_t i = nt; i-- > 0;) {
		bool slash_then =
		    false; /* some '/' at k >= j with tokens i+1.. matching after it */

		for (size_t j = tlen + 1; j-- > 0;) {
			bool m = false;
			char c = j < tlen ? text[j] : 0;

			switch (t[i].kind) {
			case TOK_CHAR:
				m = j < tlen && c == t[i].c && DP(i + 1, j + 1);
				break;
			case TOK_ANY:
				m = j < tlen && c != '/' && DP(i + 1, j + 1);
				break;
			case TOK_CLASS:
				m = j < tlen && class_matches(&t[i], c) && DP(i + 1, j + 1);
				break;
			case TOK_STAR: /* nothing, or one more non-'/' character */
				m = DP(i + 1, j) || (j < tlen && c != '/' && DP(i, j + 1));
				break;
			case TOK_DSTAR:
				m = DP(i + 1, j) || (j < tlen && DP(i, j + 1));
				break;
			case TOK_DSTAR_SLASH: /* nothing, or anything through a '/' */
				slash_then =
				    j < tlen && ((c == '/' && DP(i + 1, j + 1)) || slash_then);
				m = DP(i + 1, j) || slash_then;
				break;
			}
			DP(i, j) = m;
		}
	}
	r = DP(0, 0);
#undef DP
	free(t);
	free(dp);
	return r;
}

/* A value against a list of globs: any include (or none given) and no exclude ('!'). */
static bool list_matches(const struct pipeline_strv *l, const char *value)
{
	bool has_include = false, included = false;

	for (size_t i = 0; i < l->n; i++) {
		const char *g = l->v[i];

		if (*g == '!') {
			if (pipeline_glob_match(g + 1, value))
				return false;
		} else {
			has_include = true;
			included = included || pipeline_glob_match(g, value);
		}
	}
	return included || !has_include;
}

static bool paths_match(const struct pipeline_strv *l, const struct pipeline_event *ev)
{
	if (!ev->paths || !ev->n_paths)
		return true; /* unknown, or a commit that changed nothing: as Woodpecker */
	for (size_t i = 0; i < ev->n_paths; i++)
		if (list_matches(l, ev->paths[i]))
			return true;
	return false;
}

bool pipeline_when_matches(const struct pipeline_when *w, const struct pipeline_event *ev)
{
	if (!w || !w->set)
		return true;
	if (w->branch.n && !list_matches(&w->branch, ev->branch ? ev->branch : ""))
		return false;
	if (w->tag.n && !list_matches(&w->tag, ev->tag ? ev->tag : ""))
		return false;
	if (w->event.n && !list_matches(&w->event, ev->event ? ev->event : ""))
		return false;
	if (w->path.n && !paths_match(&w->path, ev))
		return false;
	return true;
}

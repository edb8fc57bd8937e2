/* scheduler/mask.c — secret masking in log lines. */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "scheduler/mask.h"

struct masker {
	char **pat; /* longest first */
	size_t *len;
	size_t n;
};

static int by_length_desc(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

static int add_pattern(struct masker *m, const char *s, size_t len)
{
	char **pat;
	size_t *lens;

	while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	if (len < MASK_MIN_LEN)
		return 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->len[i] == len && !memcmp(m->pat[i], s, len))
			return 0;
	pat = realloc(m->pat, (m->n + 1) * sizeof(*pat));
	if (!pat)
		return -1;
	m->pat = pat;
	lens = realloc(m->len, (m->n + 1) * sizeof(*lens));
	if (!lens)
		return -1;
	m->len = lens;
	m->pat[m->n] = strndup(s, len);
	if (!m->pat[m->n])
		return -1;
	m->len[m->n] = len;
	m->n++;
	return 0;
}

int masker_new(const char *const *values, size_t n, struct masker **out, struct error **err)
{
	struct masker *m = calloc(1, sizeof(*m));

	if (!m)
		return error_errno(err, "set up secret masking");
	for (size_t i = 0; i < n; i++) {
		const char *v = values[i];
		size_t total = strlen(v);

		if (add_pattern(m, v, total) < 0)
			goto oom;
		/* each line of a multi-line value (a key file) on its own */
		for (const char *p = v; memchr(v, '\n', total) && p < v + total;) {
			const char *nl = memchr(p, '\n', (size_t)(v + total - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(v + total - p);

			if (add_pattern(m, p, len) < 0)
				goto oom;
			p += len + 1;
		}
	}
	/* sort patterns and lengths together: sort the strings, then recompute lengths */
	if (m->n)
		qsort(m->pat, m->n, sizeof(*m->pat), by_length_desc);
	for (size_t i = 0; i < m->n; i++)
		m->len[i] = strlen(m->pat[i]);
	*out = m;
	return 0;
oom:
	masker_free(m);
	return error_errno(err, "set up secret masking");
}

void masker_free(struct masker *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->pat[i]);
	free(m->pat);
	free(m->len);
	free(m);
}

size_t masker_count(const struct masker *m)
{
	return m ? m->n : 0;
}

char *masker_apply(const struct masker *m, const char *line, size_t len, size_t *outlen)
{
	struct buf b = BUF_INIT(len * (sizeof(MASK_TEXT)) + 1);
	size_t i = 0, plain = 0;

	if (!m || m->n == 0) {
		char *s = malloc(len + 1);

		if (!s)
			return NULL;
		memcpy(s, line, len);
		s[len] = '\0';
		*outlen = len;
		return s;
	}
	while (i < len) {
		size_t k;

		for (k = 0; k < m->n; k++)
			if (m->len[k] <= len - i && line[i] == m->pat[k][0] &&
			    !memcmp(line + i, m->pat[k], m->len[k]))
				break;
		if (k == m->n) {
			i++;
			continue;
		}
		if (buf_append(&b, line + plain, i - plain, NULL) < 0 ||
		    buf_puts(&b, MASK_TEXT, NULL) < 0)
			goto oom;
		i += m->len[k];
		plain = i;
	}
	if (buf_append(&b, line + plain, len - plain, NULL) < 0)
		goto oom;
	*outlen = b.len;
	return buf_steal(&b);
oom:
	buf_release(&b);
	return NULL;
}

/* runner/image/ref.c — image references "NAME[:TAG][@DIGEST]", parsed as Docker does. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "runner/image/internal.h"

static bool alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component: [a-z0-9]+ joined by '.', '_', '__' or '-'+. */
static bool component_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !alnum_lower(s[0]) || !alnum_lower(s[n - 1]))
		return false;
	while (i < n) {
		if (alnum_lower(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.' && i + 1 < n && alnum_lower(s[i + 1])) {
			i++;
		} else if (s[i] == '_') {
			i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i >= n || !alnum_lower(s[i]))
			return false;
	}
	return true;
}

/* A registry host: labels of letters, digits and inner '-' joined by '.', optional :PORT. */
static bool host_valid(const char *s, size_t n)
{
	size_t i = 0, port = n;

	for (size_t k = 0; k < n; k++)
		if (s[k] == ':') {
			port = k;
			break;
		}
	while (i < port) {
		size_t start = i;

		while (i < port && (isalnum((unsigned char)s[i]) || s[i] == '-'))
			i++;
		if (i == start || s[start] == '-' || s[i - 1] == '-')
			return false;
		if (i < port && s[i] != '.')
			return false;
		if (i < port && ++i == port)
			return false;
	}
	if (port == 0)
		return false;
	if (port < n) {
		if (port + 1 == n)
			return false;
		for (i = port + 1; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return false;
	}
	return true;
}

static bool name_valid(const char *name)
{
	const char *p = name, *slash = strchr(name, '/');

	if (strlen(name) > 255)
		return false;
	/* The first component is a host when it has '.', ':' or is "localhost". */
	if (slash) {
		size_t n = (size_t)(slash - name);

		if ((memchr(name, '.', n) || memchr(name, ':', n) ||
		     (n == 9 && !memcmp(name, "localhost", 9)))) {
			if (!host_valid(name, n))
				return false;
			p = slash + 1;
		}
	}
	for (;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (!component_valid(p, n))
			return false;
		if (!e)
			return true;
		p = e + 1;
	}
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

bool digest_valid(const char *d)
{
	return d && !strncmp(d, "sha256:", 7) && sha256_hex_valid(d + 7);
}

int image_ref_parse(const char *s, struct image_ref *out, struct error **err)
{
	cleanup_free char *copy = strdup(s);
	char *at, *colon, *slash;

	memset(out, 0, sizeof(*out));
	if (!copy)
		return error_errno(err, "parse image reference");
	at = strchr(copy, '@');
	if (at) {
		*at = '\0';
		if (!digest_valid(at + 1))
			return error_usage(err, "invalid image reference '%s': bad digest", s);
		out->digest = strdup(at + 1);
	}
	slash = strrchr(copy, '/');
	colon = strrchr(copy, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = '\0';
		if (!tag_valid(colon + 1)) {
			image_ref_release(out);
			return error_usage(err, "invalid image reference '%s': bad tag", s);
		}
		out->tag = strdup(colon + 1);
	} else if (!out->digest) {
		out->tag = strdup("latest");
	}
	if (!name_valid(copy)) {
		image_ref_release(out);
		return error_usage(err,
				   "invalid image reference '%s': names are lowercase letters, "
				   "digits and separators",
				   s);
	}
	/* Docker's familiar form: docker.io/library/x is x, docker.io/u/x is u/x. */
	{
		static const char *const prefixes[] = {"docker.io/library/", "docker.io/",
						       "index.docker.io/library/",
						       "index.docker.io/"};
		const char *n = copy;

		for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
			if (!strncmp(n, prefixes[i], strlen(prefixes[i])) &&
			    n[strlen(prefixes[i])] != '\0') {
				n += strlen(prefixes[i]);
				break;
			}
		out->name = strdup(n);
	}
	return 0;
}

void image_ref_release(struct image_ref *r)
{
	free(r->name);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

char *image_ref_name_tag(const struct image_ref *r)
{
	char *s = NULL;

	if (asprintf(&s, "%s:%s", r->name, r->tag ? r->tag : "latest") < 0)
		return NULL;
	return s;
}

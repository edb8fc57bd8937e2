/* runner/registry-ref.c — registry references as Docker reads them, and which URL serves a
 * registry (HTTPS, or plain HTTP for loopback and the insecure list). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "runner/registry.h"

#define DOCKER_HUB "docker.io"

void registry_ref_release(struct registry_ref *r)
{
	free(r->host);
	free(r->repo);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

/* "[v6]" or "[v6]:port" at the start of s, up to the first '/'; returns its length or 0. */
static size_t ipv6_host_len(const char *s)
{
	const char *close = strchr(s, ']'), *p;

	if (s[0] != '[' || !close || close == s + 1)
		return 0;
	for (p = s + 1; p < close; p++)
		if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
			return 0;
	p = close + 1;
	if (*p == ':') {
		if (!isdigit((unsigned char)p[1]))
			return 0;
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	return *p == '/' ? (size_t)(p - s) : 0;
}

int registry_ref_parse(const char *s, struct registry_ref *out, struct error **err)
{
	struct image_ref ir;
	cleanup_free char *v6 = NULL, *checked = NULL;
	const char *name, *slash;
	size_t hl;

	memset(out, 0, sizeof(*out));
	/* image_ref_parse knows Docker's grammar but not bracketed IPv6 hosts: check the rest
	 * of such a reference with a stand-in host. */
	hl = ipv6_host_len(s);
	if (hl) {
		v6 = strndup(s, hl);
		if (!v6 || asprintf(&checked, "localhost%s", s + hl) < 0)
			return error_errno(err, "parse image reference");
	}
	if (image_ref_parse(checked ? checked : s, &ir, err) < 0) {
		if (v6)
			return error_wrap(err, "in '%s'", s);
		return -1;
	}
	name = ir.name;
	slash = strchr(name, '/');
	if (v6) {
		out->host = steal_pointer(&v6);
		out->repo = strdup(slash + 1);
	} else if (slash && (memchr(name, '.', (size_t)(slash - name)) ||
			     memchr(name, ':', (size_t)(slash - name)) ||
			     !strncmp(name, "localhost/", 10))) {
		out->host = strndup(name, (size_t)(slash - name));
		out->repo = strdup(slash + 1);
	} else {
		out->host = strdup(DOCKER_HUB);
		if (asprintf(&out->repo, "%s%s", slash ? "" : "library/", name) < 0)
			out->repo = NULL;
	}
	out->tag = steal_pointer(&ir.tag);
	out->digest = steal_pointer(&ir.digest);
	image_ref_release(&ir);
	if (!out->host || !out->repo) {
		registry_ref_release(out);
		return error_errno(err, "parse image reference");
	}
	return 0;
}

bool registry_host_is_loopback(const char *host)
{
	size_t n = strcspn(host, ":");

	if (host[0] == '[')
		return !strncmp(host, "[::1]", 5) && (host[5] == '\0' || host[5] == ':');
	if (n == 9 && !strncmp(host, "localhost", 9))
		return true;
	if (n >= 9 && !strncmp(host, "127.", 4)) {
		unsigned a, b, c;
		char rest = 0;
		cleanup_free char *ip = strndup(host, n);

		return ip && sscanf(ip, "127.%u.%u.%u%c", &a, &b, &c, &rest) == 3 && a < 256 &&
		       b < 256 && c < 256;
	}
	return false;
}

/* Is host in the "insecure" list of $DATA/registries.json? */
static int host_insecure(const char *data_dir, const char *host, bool *out, struct error **err)
{
	cleanup_free char *path = path_join(data_dir, "registries.json");
	json_auto_t *cfg = NULL;
	json_t *list, *v;
	size_t i;

	*out = false;
	if (!path)
		return error_errno(err, "registries config");
	if (access(path, F_OK) < 0)
		return 0;
	cfg = json_load_path(path, 1u << 20, err);
	if (!cfg)
		return -1;
	list = json_object_get(cfg, "insecure");
	if (list && !json_is_array(list))
		return error_usage(err, "'%s': \"insecure\" must be an array of host[:port]", path);
	json_array_foreach (list, i, v) {
		if (!json_is_string(v))
			return error_usage(err, "'%s': \"insecure\"[%zu] is not a string", path, i);
		if (!strcmp(json_string_value(v), host))
			*out = true;
	}
	return 0;
}

int registry_base_url(const char *data_dir, const char *host, char **out, struct error **err)
{
	bool insecure = registry_host_is_loopback(host);

	if (!strcmp(host, DOCKER_HUB)) {
		*out = strdup("https://registry-1.docker.io");
		return *out ? 0 : error_errno(err, "registry url");
	}
	if (!insecure && data_dir && host_insecure(data_dir, host, &insecure, err) < 0)
		return -1;
	if (asprintf(out, "%s://%s", insecure ? "http" : "https", host) < 0)
		return error_errno(err, "registry url");
	return 0;
}

int registry_host_normalize(const char *s, char **out, struct error **err)
{
	const char *p = s;
	size_t n;

	if (!strncmp(p, "https://", 8))
		p += 8;
	else if (!strncmp(p, "http://", 7))
		p += 7;
	n = strcspn(p, "/");
	if (n == 0 || n > 255)
		return error_usage(err, "invalid registry '%s'", s);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && !strchr(".-:[]_", p[i]))
			return error_usage(err, "invalid registry '%s'", s);
	static const char *const hub[] = {DOCKER_HUB, "index.docker.io", "registry-1.docker.io"};
	bool is_hub = false;

	for (size_t i = 0; i < sizeof(hub) / sizeof(hub[0]); i++)
		is_hub |= n == strlen(hub[i]) && !strncasecmp(p, hub[i], n);
	if (is_hub)
		*out = strdup(DOCKER_HUB);
	else
		*out = strndup(p, n);
	if (!*out)
		return error_errno(err, "registry name");
	for (char *c = *out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}

/* runner/registry-auth.c — credentials: $DATA/auth.json (written by login, mode 0600) and
 * the "auths" of Docker's config.json; WWW-Authenticate challenges; login and logout; and the
 * record of which repositories of a registry hold a blob (for cross-repository mounts). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "runner/registry-internal.h"

#define AUTH_FILE "auth.json"
#define SEEN_FILE "registry-blobs.json"
#define SEEN_MAX_DIGESTS 4096
#define SEEN_MAX_REPOS 8

/* --- base64 ------------------------------------------------------------------------------ */

char *reg_base64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *out;
	int r;

	if (n == 0 || n % 4)
		return NULL;
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return NULL;
	r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (r < 0) {
		free(out);
		return NULL;
	}
	pad = (s[n - 1] == '=') + (s[n - 2] == '=');
	*len = (size_t)r - pad;
	out[*len] = '\0';
	return (char *)out;
}

static char *base64_encode(const void *data, size_t n)
{
	char *out = malloc((n + 2) / 3 * 4 + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, data, (int)n);
	return out;
}

char *reg_basic_token(const struct reg_creds *c)
{
	cleanup_free char *up = NULL;
	char *b;
	int n = asprintf(&up, "%s:%s", c->user, c->pass);

	if (n < 0)
		return NULL;
	b = base64_encode(up, (size_t)n);
	explicit_bzero(up, (size_t)n);
	return b;
}

/* --- credentials ------------------------------------------------------------------------- */

void reg_creds_release(struct reg_creds *c)
{
	free(c->user);
	if (c->pass) {
		explicit_bzero(c->pass, strlen(c->pass));
		free(c->pass);
	}
	c->user = c->pass = NULL;
}

/* Reads the credentials of one "auths" entry: "auth" (base64 user:pass) or username and
 * password. Returns 1 found, 0 not usable. */
static int creds_from_entry(const json_t *e, struct reg_creds *out)
{
	const char *a = json_get_str(e, "auth", NULL);

	if (a && *a) {
		size_t n = 0;
		char *d = reg_base64_decode(a, &n), *colon;

		if (!d)
			return 0;
		colon = memchr(d, ':', n);
		if (!colon || colon == d) {
			explicit_bzero(d, n);
			free(d);
			return 0;
		}
		out->user = strndup(d, (size_t)(colon - d));
		out->pass = strdup(colon + 1);
		explicit_bzero(d, n);
		free(d);
		return out->user && out->pass ? 1 : 0;
	}
	if (json_get_str(e, "username", NULL) && json_get_str(e, "password", NULL)) {
		out->user = strdup(json_get_str(e, "username", ""));
		out->pass = strdup(json_get_str(e, "password", ""));
		return out->user && out->pass ? 1 : 0;
	}
	return 0;
}

/* Looks host up in an "auths" object whose keys may be URLs ("https://index.docker.io/v1/"). */
static int creds_from_auths(const json_t *auths, const char *host, struct reg_creds *out)
{
	const char *key;
	json_t *e;

	json_object_foreach ((json_t *)auths, key, e) {
		cleanup_free char *k = NULL;

		if (registry_host_normalize(key, &k, NULL) < 0 || strcmp(k, host))
			continue;
		if (creds_from_entry(e, out) > 0)
			return 1;
		reg_creds_release(out);
	}
	return 0;
}

static char *docker_config_path(void)
{
	const char *d = getenv("DOCKER_CONFIG"), *home = getenv("HOME");

	if (d && *d)
		return path_join(d, "config.json");
	if (home && *home) {
		char *p = NULL;

		if (asprintf(&p, "%s/.docker/config.json", home) < 0)
			return NULL;
		return p;
	}
	return NULL;
}

int reg_creds_find(const char *data_dir, const char *host, struct reg_creds *out,
		   struct error **err)
{
	cleanup_free char *path = data_dir ? path_join(data_dir, AUTH_FILE) : NULL;
	cleanup_free char *dpath = docker_config_path();

	memset(out, 0, sizeof(*out));
	if (path && access(path, F_OK) == 0) {
		json_auto_t *j = json_load_path(path, 4u << 20, err);

		if (!j)
			return error_wrap(err, "credentials");
		if (creds_from_auths(json_get_obj(j, "auths"), host, out))
			return 1;
	}
	if (dpath && access(dpath, R_OK) == 0) {
		struct error *e = NULL;
		json_auto_t *j = json_load_path(dpath, 4u << 20, &e);

		/* Docker's file is Docker's: a broken one is skipped, not fatal. */
		if (!j) {
			log_warn("ignoring '%s': %s", dpath, e->msg);
			error_free(e);
			return 0;
		}
		if (creds_from_auths(json_get_obj(j, "auths"), host, out))
			return 1;
		if (json_get_obj(json_get_obj(j, "credHelpers"), host) ||
		    json_get_str(j, "credsStore", NULL))
			log_debug("'%s' names a credential helper: slipway does not run them",
				  dpath);
	}
	return 0;
}

/* --- challenges -------------------------------------------------------------------------- */

void reg_challenge_release(struct reg_challenge *c)
{
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

/* `Bearer realm="https://a/token",service="reg",scope="repository:x:pull,push"`: key=value
 * pairs separated by commas; values quoted (with \-escapes) or bare tokens. */
int reg_challenge_parse(const char *h, struct reg_challenge *out)
{
	const char *p = h;
	size_t n;

	memset(out, 0, sizeof(*out));
	while (*p == ' ')
		p++;
	n = strcspn(p, " ");
	if (n == 0 || n > 32)
		return -1;
	out->scheme = strndup(p, n);
	if (!out->scheme)
		return -1;
	for (char *s = out->scheme; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	p += n;
	while (*p) {
		char key[32], val[2048];
		size_t k = 0, v = 0;

		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		while (*p && *p != '=' && *p != ',' && k + 1 < sizeof(key))
			key[k++] = (char)tolower((unsigned char)*p++);
		key[k] = '\0';
		if (*p != '=') {
			p += strcspn(p, ",");
			continue;
		}
		p++;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (v + 1 < sizeof(val))
					val[v++] = *p;
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ',' && *p != ' ' && v + 1 < sizeof(val))
				val[v++] = *p++;
		}
		val[v] = '\0';
		if (!strcmp(key, "realm"))
			free(out->realm), out->realm = strdup(val);
		else if (!strcmp(key, "service"))
			free(out->service), out->service = strdup(val);
		else if (!strcmp(key, "scope"))
			free(out->scope), out->scope = strdup(val);
		else if (!strcmp(key, "error"))
			free(out->error), out->error = strdup(val);
	}
	return 0;
}

/* --- login and logout -------------------------------------------------------------------- */

static int auth_file_update(const char *data_dir, const char *host, const struct reg_creds *c,
			    bool *was, struct error **err)
{
	cleanup_free char *path = path_join(data_dir, AUTH_FILE);
	cleanup_free char *lockp = path_join(data_dir, ".lock-auth");
	cleanup_close int lk = -1;
	json_auto_t *j = NULL;
	json_t *auths;
	int rc;

	if (!path || !lockp)
		return error_errno(err, "credentials");
	if (mkdir_p(data_dir, 0755, err) < 0)
		return -1;
	lk = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lk < 0 || flock(lk, LOCK_EX) < 0)
		return error_errno(err, "lock '%s'", lockp);
	if (access(path, F_OK) == 0) {
		j = json_load_path(path, 4u << 20, err);
		if (!j)
			return -1;
	} else {
		j = json_object();
	}
	auths = json_get_obj(j, "auths");
	if (!auths) {
		auths = json_object();
		json_object_set_new(j, "auths", auths);
	}
	if (was)
		*was = json_object_get(auths, host) != NULL;
	if (c) {
		char *b = reg_basic_token(c);

		if (!b)
			return error_errno(err, "credentials");
		json_object_set_new(auths, host, json_pack("{s:s}", "auth", b));
		explicit_bzero(b, strlen(b));
		free(b);
	} else {
		json_object_del(auths, host);
	}
	rc = json_save_path(path, j, true, 0600, err);
	/* json_save_path keeps the mode of a new file; an older file is forced back to 0600. */
	if (rc == 0 && chmod(path, 0600) < 0)
		rc = error_errno(err, "chmod '%s'", path);
	return rc;
}

int registry_login(const char *data_dir, const char *registry, const char *user,
		   const char *password, struct error **err)
{
	cleanup_free char *host = NULL;
	struct reg_client *c = NULL;
	CURL *h = NULL;
	int rc = -1;

	if (registry_host_normalize(registry, &host, err) < 0)
		return -1;
	if (!user || !*user || strchr(user, ':'))
		return error_usage(
		    err, "login to '%s': the username must be non-empty, without ':'", host);
	if (!password || !*password)
		return error_usage(err, "login to '%s': empty password", host);
	if (reg_client_new(data_dir, host, NULL, false, NULL, &c, err) < 0)
		return -1;
	/* These credentials, not whatever the files hold. */
	reg_creds_release(&c->creds);
	c->creds.user = strdup(user);
	c->creds.pass = strdup(password);
	c->has_creds = true;
	c->retry_ms = 10000;
	if (!c->creds.user || !c->creds.pass) {
		error_errno(err, "login");
		goto out;
	}
	h = reg_handle_new(err);
	if (!h || reg_ping(c, h, err) < 0)
		goto out;
	if (c->auth == REG_AUTH_NONE)
		log_warn("registry '%s' asked for no credentials; saving them anyway", host);
	rc = auth_file_update(data_dir, host, &c->creds, NULL, err);
out:
	if (h)
		curl_easy_cleanup(h);
	reg_client_free(c);
	return rc < 0 ? error_wrap(err, "login to '%s'", host) : 0;
}

int registry_logout(const char *data_dir, const char *registry, bool *was, struct error **err)
{
	cleanup_free char *host = NULL;

	if (registry_host_normalize(registry, &host, err) < 0)
		return -1;
	return auth_file_update(data_dir, host, NULL, was, err);
}

/* --- where blobs were seen --------------------------------------------------------------- */

void reg_seen_add(const char *data_dir, const char *host, const char *repo,
		  const char *const *digests, size_t n)
{
	cleanup_free char *path = data_dir ? path_join(data_dir, SEEN_FILE) : NULL;
	cleanup_free char *lockp = data_dir ? path_join(data_dir, ".lock-registry-blobs") : NULL;
	cleanup_close int lk = -1;
	json_auto_t *j = NULL;
	json_t *hostobj;

	if (!path || !lockp)
		return;
	lk = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lk < 0 || flock(lk, LOCK_EX) < 0)
		return;
	if (access(path, F_OK) == 0)
		j = json_load_path(path, 64u << 20, NULL);
	if (!j)
		j = json_object();
	hostobj = json_get_obj(j, host);
	if (!hostobj) {
		hostobj = json_object();
		json_object_set_new(j, host, hostobj);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *repos = json_get_array(hostobj, digests[i]), *v;
		size_t k;

		repos = repos ? json_incref(repos) : json_array();
		json_array_foreach (repos, k, v) {
			if (!strcmp(json_string_value(v) ? json_string_value(v) : "", repo)) {
				json_array_remove(repos, k);
				break;
			}
		}
		json_array_append_new(repos, json_string(repo));
		while (json_array_size(repos) > SEEN_MAX_REPOS)
			json_array_remove(repos, 0);
		/* Re-inserted last: the oldest digests are the first ones dropped. */
		json_object_del(hostobj, digests[i]);
		json_object_set_new(hostobj, digests[i], repos);
	}
	while (json_object_size(hostobj) > SEEN_MAX_DIGESTS) {
		void *it = json_object_iter(hostobj);

		json_object_del(hostobj, json_object_iter_key(it));
	}
	json_save_path(path, j, false, 0600, NULL);
}

char *reg_seen_find(const char *data_dir, const char *host, const char *repo, const char *digest)
{
	cleanup_free char *path = data_dir ? path_join(data_dir, SEEN_FILE) : NULL;
	json_auto_t *j = NULL;
	json_t *repos, *v;
	size_t k;

	if (!path || access(path, F_OK) < 0)
		return NULL;
	j = json_load_path(path, 64u << 20, NULL);
	repos = json_get_array(json_get_obj(j, host), digest);
	/* The most recent repository first. */
	for (k = json_array_size(repos); k-- > 0;) {
		v = json_array_get(repos, k);
		if (json_is_string(v) && strcmp(json_string_value(v), repo))
			return strdup(json_string_value(v));
	}
	return NULL;
}

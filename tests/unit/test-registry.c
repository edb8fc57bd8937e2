/* tests/unit/test-registry.c — the registry client's pure parts: references as Docker reads
 * them, which URL serves a registry (HTTPS unless loopback or listed insecure), registry names
 * as users type them, WWW-Authenticate challenges, base64, credentials from auth.json and
 * Docker's config.json, and the record of where blobs were seen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "runner/registry-internal.h"
#include "tests/unit/tap.h"

static char base[] = "/tmp/test-registry-XXXXXX";

static void ref_is(const char *s, const char *host, const char *repo, const char *tag,
		   const char *digest)
{
	struct registry_ref r;
	struct error *err = NULL;

	if (!ok(registry_ref_parse(s, &r, &err) == 0, "parse '%s'", s)) {
		printf("# %s\n", err ? err->msg : "?");
		error_free(err);
		return;
	}
	is_str(r.host, host, "'%s': host", s);
	is_str(r.repo, repo, "'%s': repository", s);
	ok(tag ? r.tag && !strcmp(r.tag, tag) : r.tag == NULL, "'%s': tag %s", s,
	   tag ? tag : "none");
	ok(digest ? r.digest && !strcmp(r.digest, digest) : r.digest == NULL, "'%s': digest", s);
	registry_ref_release(&r);
}

static void ref_bad(const char *s)
{
	struct registry_ref r;
	struct error *err = NULL;

	ok(registry_ref_parse(s, &r, &err) < 0 && err && err->exit_code == EXIT_USAGE,
	   "'%s' is refused", s);
	error_free(err);
}

static void url_is(const char *host, const char *want)
{
	char *u = NULL;

	ok(registry_base_url(base, host, &u, NULL) == 0 && u && !strcmp(u, want), "%s -> %s (%s)",
	   host, want, u ? u : "error");
	free(u);
}

static void norm_is(const char *s, const char *want)
{
	char *n = NULL;

	ok(registry_host_normalize(s, &n, NULL) == 0 && n && !strcmp(n, want), "'%s' -> '%s' (%s)",
	   s, want, n ? n : "error");
	free(n);
}

int main(void)
{
	const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char path[4200];

	plan_lazy();
	if (!mkdtemp(base))
		return 1;

	ref_is("busybox", "docker.io", "library/busybox", "latest", NULL);
	ref_is("busybox:1.36", "docker.io", "library/busybox", "1.36", NULL);
	ref_is("docker.io/library/busybox", "docker.io", "library/busybox", "latest", NULL);
	ref_is("index.docker.io/user/app:v1", "docker.io", "user/app", "v1", NULL);
	ref_is("user/app", "docker.io", "user/app", "latest", NULL);
	ref_is("localhost/app", "localhost", "app", "latest", NULL);
	ref_is("localhost:5000/team/app:v2", "localhost:5000", "team/app", "v2", NULL);
	ref_is("registry.example.com/a/b/c", "registry.example.com", "a/b/c", "latest", NULL);
	ref_is("127.0.0.1:5000/"
	       "x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	       "127.0.0.1:5000", "x", NULL, d);
	ref_is(
	    "reg:5000/x:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "reg:5000", "x", "v1", d);
	ref_is("[::1]:5000/team/app:v3", "[::1]:5000", "team/app", "v3", NULL);
	ref_bad("Upper/case");
	ref_bad("app:bad tag");
	ref_bad("app@sha256:123");
	ref_bad("[::1]:5000/Bad");
	ref_bad("");

	ok(registry_host_is_loopback("localhost"), "localhost is loopback");
	ok(registry_host_is_loopback("localhost:5000"), "localhost:5000 is loopback");
	ok(registry_host_is_loopback("127.0.0.1:5000"), "127.0.0.1:5000 is loopback");
	ok(registry_host_is_loopback("127.1.2.3"), "127.1.2.3 is loopback");
	ok(registry_host_is_loopback("[::1]:5000"), "[::1]:5000 is loopback");
	ok(!registry_host_is_loopback("localhost.example.com"), "localhost.example.com is not");
	ok(!registry_host_is_loopback("127.0.0.1.nip.io:5000"), "127.0.0.1.nip.io is not");
	ok(!registry_host_is_loopback("[::2]:5000"), "[::2] is not");
	ok(!registry_host_is_loopback("10.0.0.1"), "10.0.0.1 is not");

	url_is("docker.io", "https://registry-1.docker.io");
	url_is("localhost:5000", "http://localhost:5000");
	url_is("[::1]:5000", "http://[::1]:5000");
	url_is("reg.example.com:5000", "https://reg.example.com:5000");
	snprintf(path, sizeof(path), "%s/registries.json", base);
	write_file_atomic(path, "{\"insecure\": [\"reg.example.com:5000\"]}", 38, 0644, NULL);
	url_is("reg.example.com:5000", "http://reg.example.com:5000");
	url_is("reg.example.com", "https://reg.example.com");
	write_file_atomic(path, "{\"insecure\": \"reg\"}", 19, 0644, NULL);
	{
		char *u = NULL;
		struct error *err = NULL;

		ok(registry_base_url(base, "other:1", &u, &err) < 0 && err->exit_code == EXIT_USAGE,
		   "a malformed registries.json is an input error");
		error_free(err);
	}
	unlink(path);

	norm_is("https://index.docker.io/v1/", "docker.io");
	norm_is("registry-1.docker.io", "docker.io");
	norm_is("Docker.IO", "docker.io");
	norm_is("http://127.0.0.1:5000/v2/", "127.0.0.1:5000");
	norm_is("Reg.Example.com:443", "reg.example.com:443");
	{
		char *n = NULL;

		ok(registry_host_normalize("https://", &n, NULL) < 0,
		   "an empty registry is refused");
		ok(registry_host_normalize("a b", &n, NULL) < 0, "a space is refused");
	}

	{
		struct reg_challenge ch;

		ok(reg_challenge_parse(
		       "Bearer realm=\"https://auth.example.com/token\","
		       "service=\"registry.example.com\","
		       "scope=\"repository:team/app:pull,push\",error=\"insufficient_scope\"",
		       &ch) == 0,
		   "a Bearer challenge parses");
		is_str(ch.scheme, "bearer", "scheme");
		is_str(ch.realm, "https://auth.example.com/token", "realm");
		is_str(ch.service, "registry.example.com", "service");
		is_str(ch.scope, "repository:team/app:pull,push", "scope keeps its comma");
		is_str(ch.error, "insufficient_scope", "error");
		reg_challenge_release(&ch);
		ok(reg_challenge_parse("Basic realm=\"a \\\"quoted\\\" realm\"", &ch) == 0 &&
		       !strcmp(ch.scheme, "basic") && !strcmp(ch.realm, "a \"quoted\" realm"),
		   "a Basic challenge with escapes");
		reg_challenge_release(&ch);
		ok(reg_challenge_parse("", &ch) < 0, "an empty challenge is refused");
		reg_challenge_release(&ch);
	}

	{
		size_t n = 0;
		char *s = reg_base64_decode("YWxpY2U6czNjcmV0", &n);
		struct reg_creds c = {.user = "alice", .pass = "s3cret"};
		char *b = reg_basic_token(&c);

		ok(s && n == 12 && !strcmp(s, "alice:s3cret"), "base64 decodes");
		free(s);
		is_str(b, "YWxpY2U6czNjcmV0", "the Basic token of alice:s3cret");
		free(b);
		s = reg_base64_decode("YQ==", &n);
		ok(s && n == 1 && s[0] == 'a', "padding is not data");
		free(s);
		ok(reg_base64_decode("abc", &n) == NULL, "a bad length is refused");
	}

	/* credentials: auth.json first, then Docker's config.json (keys may be URLs) */
	{
		struct reg_creds c;
		char dc[2000];

		snprintf(dc, sizeof(dc), "%s/docker", base);
		mkdir(dc, 0700);
		setenv("DOCKER_CONFIG", dc, 1);
		ok(reg_creds_find(base, "reg:5000", &c, NULL) == 0, "no files: no credentials");
		snprintf(path, sizeof(path), "%s/config.json", dc);
		{
			const char *j = "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":"
					"\"aHViOmh1Yi1wdw==\"},\"http://reg:5000\":{\"username\":"
					"\"bob\",\"password\":\"pw2\"}}}";

			write_file_atomic(path, j, strlen(j), 0600, NULL);
		}
		ok(reg_creds_find(base, "docker.io", &c, NULL) == 1 && !strcmp(c.user, "hub") &&
		       !strcmp(c.pass, "hub-pw"),
		   "Docker Hub's URL key matches docker.io");
		reg_creds_release(&c);
		ok(reg_creds_find(base, "reg:5000", &c, NULL) == 1 && !strcmp(c.user, "bob") &&
		       !strcmp(c.pass, "pw2"),
		   "username/password entries are read");
		reg_creds_release(&c);
		snprintf(path, sizeof(path), "%s/auth.json", base);
		{
			const char *j =
			    "{\"auths\":{\"reg:5000\":{\"auth\":\"YWxpY2U6czNjcmV0\"}}}";

			write_file_atomic(path, j, strlen(j), 0600, NULL);
		}
		ok(reg_creds_find(base, "reg:5000", &c, NULL) == 1 && !strcmp(c.user, "alice"),
		   "slipway's auth.json comes first");
		reg_creds_release(&c);
		ok(registry_logout(base, "http://reg:5000/", NULL, NULL) == 0 &&
		       reg_creds_find(base, "reg:5000", &c, NULL) == 1 && !strcmp(c.user, "bob"),
		   "after logout, Docker's entry is used");
		reg_creds_release(&c);
		{
			struct stat sb;

			ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
			   "auth.json stays 0600");
		}
		unsetenv("DOCKER_CONFIG");
	}

	/* where blobs were seen: another repository of the same registry, newest first */
	{
		const char *ds[] = {d};
		char *from;

		ok(reg_seen_find(base, "reg:5000", "team/app", d) == NULL, "nothing seen yet");
		reg_seen_add(base, "reg:5000", "team/app", ds, 1);
		ok(reg_seen_find(base, "reg:5000", "team/app", d) == NULL,
		   "the repository itself is no source");
		from = reg_seen_find(base, "reg:5000", "other/app", d);
		is_str(from, "team/app", "another repository mounts from it");
		free(from);
		ok(reg_seen_find(base, "reg:6000", "other/app", d) == NULL,
		   "another registry does not");
		reg_seen_add(base, "reg:5000", "second/app", ds, 1);
		from = reg_seen_find(base, "reg:5000", "other/app", d);
		is_str(from, "second/app", "the newest repository first");
		free(from);
	}

	/* registry_ensure_image: no request for an image in the store */
	{
		struct image_store *st = NULL;
		struct registry_opts o;
		struct image_pack_opts po;
		struct error *err = NULL;
		char root[2100];

		image_pack_opts_default(&po);
		snprintf(root, sizeof(root), "%s/rootfs", base);
		mkdir(root, 0755);
		snprintf(path, sizeof(path), "%s/rootfs/hello", base);
		write_file_atomic(path, "hi\n", 3, 0644, NULL);
		registry_opts_init(&o, base);
		o.retry_ms = 300;
		ok(image_store_open(base, &st, NULL) == 0 &&
		       image_import(st, root, "127.0.0.1:1/team/app:v1", &po, NULL, NULL) == 0,
		   "an image named after an unreachable registry");
		ok(registry_ensure_image(st, "127.0.0.1:1/team/app:v1", &o, &err) == 0,
		   "ensure: present, nothing asked of the registry");
		ok(registry_ensure_image(st, "127.0.0.1:1/team/app:v2", &o, &err) < 0 && err &&
		       err->exit_code == EXIT_FAILED && strstr(err->msg, "registry '127.0.0.1:1'"),
		   "ensure: missing, pulled, and the registry is named (%s)", err ? err->msg : "");
		error_free(err);
		image_store_close(st);
	}

	rm_rf(base, NULL);
	return done_testing();
}

/* tests/unit/test-image-ref.c — image reference parsing (runner/image/ref.c). */
#include <stdlib.h>

#include "runner/image/image.h"
#include "tests/unit/tap.h"

static void good(const char *s, const char *name, const char *tag, const char *digest)
{
	struct image_ref r;
	struct error *err = NULL;
	int rc = image_ref_parse(s, &r, &err);

	ok(rc == 0, "'%s' parses", s);
	if (rc < 0) {
		diag("%s", err->msg);
		error_free(err);
		return;
	}
	is_str(r.name, name, "'%s' name", s);
	is_str(r.tag, tag, "'%s' tag", s);
	is_str(r.digest, digest, "'%s' digest", s);
	image_ref_release(&r);
}

static void bad(const char *s)
{
	struct image_ref r;
	struct error *err = NULL;

	ok(image_ref_parse(s, &r, &err) < 0 && err && err->exit_code == EXIT_USAGE,
	   "'%s' is refused (%s)", s, err ? err->msg : "accepted");
	error_free(err);
}

int main(void)
{
	const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char buf[256];
	struct image_ref r;
	char *nt;

	plan_lazy();
	good("busybox", "busybox", "latest", NULL);
	good("busybox:1.36", "busybox", "1.36", NULL);
	good("localhost:5000/team/app:v1", "localhost:5000/team/app", "v1", NULL);
	good("registry.example.com/a/b", "registry.example.com/a/b", "latest", NULL);
	good("docker.io/library/debian:12", "debian", "12", NULL);
	good("docker.io/user/app", "user/app", "latest", NULL);
	good("team/my_app__x-y.z", "team/my_app__x-y.z", "latest", NULL);
	snprintf(buf, sizeof(buf), "app@%s", d);
	good(buf, "app", NULL, d);
	snprintf(buf, sizeof(buf), "app:v2@%s", d);
	good(buf, "app", "v2", d);
	bad("");
	bad("Busybox");
	bad("app:");
	bad("app:-x");
	bad("app@sha256:1234");
	bad("app@md5:0123456789abcdef0123456789abcdef");
	bad("a//b");
	bad("-app");
	bad("app/");
	bad("host:port/app");
	bad("../etc");
	bad("a..b/x");
	bad("-h.com/x");
	bad("my_host.z/sub");

	image_ref_parse("localhost:5000/x", &r, NULL);
	nt = image_ref_name_tag(&r);
	is_str(nt, "localhost:5000/x:latest", "NAME:TAG annotation form");
	free(nt);
	image_ref_release(&r);
	return done_testing();
}

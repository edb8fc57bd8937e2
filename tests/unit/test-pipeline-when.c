/* Tests for pipelines/when.c: globs (`*` within a segment, `**` across), '!' excludes, the
 * event list, path filters, absent fields. */
#include <string.h>

#include "pipelines/pipeline.h"
#include "tests/unit/tap.h"

static void glob(const char *pat, const char *text, bool want)
{
	ok(pipeline_glob_match(pat, text) == want, "'%s' %s '%s'", pat,
	   want ? "matches" : "does not match", text);
}

static void test_globs(void)
{
	glob("main", "main", true);
	glob("main", "mainline", false);
	glob("release/*", "release/1.0", true);
	glob("release/*", "release/1.0/hotfix", false);
	glob("release/**", "release/1.0/hotfix", true);
	glob("release/**", "release/", true);
	glob("release/**", "releases/x", false);
	glob("*", "feature/x", false);
	glob("**", "feature/x", true);
	glob("**", "", true);
	glob("src/**/*.c", "src/a/b/x.c", true);
	glob("src/**/*.c", "src/x.c", true);
	glob("src/**/*.c", "src/x.h", false);
	glob("src/**/*.c", "srcx.c", false);
	glob("**/*.md", "README.md", true);
	glob("**/*.md", "docs/a/b.md", true);
	glob("**/*.md", "docs/a/b.mdx", false);
	glob("v?.*", "v1.2", true);
	glob("v?.*", "v10.2", false);
	glob("v[0-9]*", "v3-rc", true);
	glob("v[!0-9]*", "v3-rc", false);
	glob("v[!0-9]*", "vx", true);
	glob("a[/]b", "a/b", false);
	glob("\\*", "*", true);
	glob("\\*", "x", false);
	glob("[unclosed", "[unclosed", true);
	glob("", "", true);
	glob("", "x", false);
	glob("*a*a*a*a*a*a*a*a*a*a*a*b",
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false);
	glob("**a**a**a**a**a**a**a**b",
	     "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a", false);
}

static struct pipeline_when when_of(char **branch, size_t nb, char **event, size_t ne, char **path,
				    size_t np)
{
	struct pipeline_when w = {.set = true};

	w.branch = (struct pipeline_strv){branch, nb};
	w.event = (struct pipeline_strv){event, ne};
	w.path = (struct pipeline_strv){path, np};
	return w;
}

static void test_when(void)
{
	char *branches[] = {"main", "release/*", "!release/old"};
	char *events[] = {"push", "manual"};
	char *not_docs[] = {"!docs/**", "!**/*.md"};
	char *src[] = {"src/**"};
	char *changed_docs[] = {"docs/index.md", "README.md"};
	char *changed_mixed[] = {"README.md", "src/main.c"};
	char *tags_v[] = {"v*"};
	struct pipeline_when w = when_of(branches, 3, events, 2, NULL, 0), tw = {.set = true};
	struct pipeline_event ev = {.branch = "main", .event = "push"};

	ok(pipeline_when_matches(NULL, &ev), "no when matches");
	ok(pipeline_when_matches(&(struct pipeline_when){0}, &ev), "an unset when matches");
	ok(pipeline_when_matches(&(struct pipeline_when){.set = true}, &ev),
	   "an empty when matches");
	ok(pipeline_when_matches(&w, &ev), "main push");
	ev.branch = "release/2";
	ok(pipeline_when_matches(&w, &ev), "release/2 push");
	ev.branch = "release/old";
	ok(!pipeline_when_matches(&w, &ev), "'!release/old' excludes");
	ev.branch = "feature";
	ok(!pipeline_when_matches(&w, &ev), "another branch");
	ev.branch = "main";
	ev.event = "rerun";
	ok(!pipeline_when_matches(&w, &ev), "an event not listed");
	ev.event = "manual";
	ok(pipeline_when_matches(&w, &ev), "manual listed");
	ev.branch = NULL;
	ev.event = "push";
	ok(!pipeline_when_matches(&w, &ev), "no branch against a branch filter");

	/* tag filters: only tag events have a tag */
	tw.tag = (struct pipeline_strv){tags_v, 1};
	ok(!pipeline_when_matches(&tw, &(struct pipeline_event){.branch = "main", .event = "push"}),
	   "a tag filter skips branch pushes");
	ok(pipeline_when_matches(&tw, &(struct pipeline_event){.tag = "v1.0", .event = "tag"}),
	   "a tag filter matches its tag");
	ok(!pipeline_when_matches(&tw, &(struct pipeline_event){.tag = "1.0", .event = "tag"}),
	   "a tag filter, another tag");

	/* only excludes: everything else matches */
	w = when_of(NULL, 0, NULL, 0, not_docs, 2);
	ev = (struct pipeline_event){.branch = "main", .event = "push"};
	ok(pipeline_when_matches(&w, &ev), "paths unknown: path filters match");
	ev.paths = changed_docs;
	ev.n_paths = 2;
	ok(!pipeline_when_matches(&w, &ev), "a docs-only commit is excluded");
	ev.paths = changed_mixed;
	ok(pipeline_when_matches(&w, &ev), "one file outside the excludes is enough");
	ev.n_paths = 0;
	ok(pipeline_when_matches(&w, &ev), "a commit that changed nothing matches");
	w = when_of(NULL, 0, NULL, 0, src, 1);
	ev.paths = changed_docs;
	ev.n_paths = 2;
	ok(!pipeline_when_matches(&w, &ev), "include src/**: docs change skipped");
	ev.paths = changed_mixed;
	ok(pipeline_when_matches(&w, &ev), "include src/**: src/main.c runs");
}

/* A `when` straight from YAML, matched. */
static void test_parsed(void)
{
	static const char yml[] =
	    "steps:\n"
	    "  - name: a\n"
	    "    image: bb\n"
	    "    commands: [true]\n"
	    "    when: { branch: [\"!wip/*\"], event: [\"!rerun\"], path: \"**/*.c\" }\n";
	struct pipeline *p = NULL;
	struct error *err = NULL;
	char *paths[] = {"lib/x.c"};
	struct pipeline_event ev = {
	    .branch = "main", .event = "push", .paths = paths, .n_paths = 1};

	if (pipeline_parse(yml, strlen(yml), ".slipway.yml", &p, &err) < 0) {
		ok(0, "parse: %s", err->msg);
		error_free(err);
		return;
	}
	ok(pipeline_when_matches(&p->steps[0].when, &ev), "parsed when matches");
	ev.event = "rerun";
	ok(!pipeline_when_matches(&p->steps[0].when, &ev), "'!rerun' excludes reruns");
	ev.event = "push";
	ev.branch = "wip/x";
	ok(!pipeline_when_matches(&p->steps[0].when, &ev), "'!wip/*' excludes");
	pipeline_free(p);
}

int main(void)
{
	plan_lazy();
	test_globs();
	test_when();
	test_parsed();
	return done_testing();
}

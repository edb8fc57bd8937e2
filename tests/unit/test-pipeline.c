/* Tests for pipelines/parse.c, validate.c, yaml.c: the fixtures in tests/fixtures/pipelines
 * (each bad one names its expected `LINE:COL: message` on its last line), the model built from
 * a full file, the caps on hostile YAML, merging defaults. */
#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "pipelines/pipeline.h"
#include "tests/unit/tap.h"

static char fixtures[4096];

static struct pipeline *parse_str(const char *yml, struct error **err)
{
	struct pipeline *p = NULL;

	if (pipeline_parse(yml, strlen(yml), ".slipway.yml", &p, err) < 0)
		return NULL;
	return p;
}

/* The error for yml, or "" when it parsed. Caller frees. */
static char *error_of(const char *yml)
{
	struct error *err = NULL;
	struct pipeline *p = parse_str(yml, &err);
	char *msg;

	pipeline_free(p);
	if (!err)
		return strdup("");
	msg = strdup(err->msg);
	if (err->exit_code != EXIT_USAGE)
		diag("exit code %d for '%s'", err->exit_code, msg);
	error_free(err);
	return msg;
}

static void check_bad(const char *path, const char *name)
{
	cleanup_free char *data = NULL, *want = NULL;
	struct pipeline *p = NULL;
	struct error *err = NULL, *rerr = NULL;
	size_t len;
	char *mark;

	if (read_file(path, 4 << 20, &data, &len, &rerr) < 0) {
		ok(0, "read %s: %s", path, rerr->msg);
		error_free(rerr);
		return;
	}
	mark = strstr(data, "# error: ");
	if (!ok(mark != NULL, "%s names its error", name))
		return;
	if (asprintf(&want, ".slipway.yml:%.*s", (int)strcspn(mark + 9, "\n"), mark + 9) < 0)
		return;
	if (pipeline_parse(data, len, ".slipway.yml", &p, &err) == 0) {
		ok(0, "%s refused", name);
		pipeline_free(p);
		return;
	}
	ok(p == NULL && err->exit_code == EXIT_USAGE && !strncmp(err->msg, want, strlen(want)),
	   "%s: %s", name, want);
	if (strncmp(err->msg, want, strlen(want)))
		diag("got: %s", err->msg);
	error_free(err);
}

static void check_good(const char *path, const char *name)
{
	cleanup_free char *data = NULL;
	struct pipeline *p = NULL;
	struct error *err = NULL;
	size_t len;

	if (read_file(path, 4 << 20, &data, &len, &err) == 0 &&
	    pipeline_parse(data, len, ".slipway.yml", &p, &err) == 0)
		ok(p != NULL, "%s parses", name);
	else
		ok(0, "%s parses: %s", name, err->msg);
	error_free(err);
	pipeline_free(p);
}

/* A crasher the fuzzer found once: it must parse or be refused, nothing else. */
static void check_replay(const char *path, const char *name)
{
	cleanup_free char *data = NULL;
	struct pipeline *p = NULL;
	struct error *err = NULL;
	size_t len;

	if (read_file(path, 4 << 20, &data, &len, &err) == 0)
		pipeline_parse(data, len, ".slipway.yml", &p, &err);
	ok(p || (err && err->exit_code == EXIT_USAGE), "fuzz case %s: %s", name,
	   p ? "parsed" : err->msg);
	pipeline_free(p);
	error_free(err);
}

static void each_fixture(const char *sub, void (*fn)(const char *, const char *))
{
	char dir[4200], path[4600];
	struct dirent **names;
	int n;

	snprintf(dir, sizeof(dir), "%s/%s", fixtures, sub);
	n = scandir(dir, &names, NULL, alphasort);
	if (fn == check_replay && n < 0)
		return; /* no fuzz cases yet */
	if (!ok(n > 2, "fixtures in %s", dir))
		return;
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' &&
		    (fn == check_replay || strstr(names[i]->d_name, ".yml"))) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			fn(path, names[i]->d_name);
		}
		free(names[i]);
	}
	free(names);
}

static void test_full_model(void)
{
	char path[4200];
	cleanup_free char *data = NULL;
	struct pipeline *p = NULL;
	struct error *err = NULL;
	size_t len;
	const struct pipeline_step *s;

	snprintf(path, sizeof(path), "%s/good/full.yml", fixtures);
	if (read_file(path, 1 << 20, &data, &len, &err) < 0 ||
	    pipeline_parse(data, len, "x.yml", &p, &err) < 0) {
		ok(0, "full.yml: %s", err->msg);
		error_free(err);
		return;
	}
	ok(p->when.set && p->when.branch.n == 3 && !strcmp(p->when.branch.v[2], "!release/old/*"),
	   "top-level when");
	ok(p->has_image && !strcmp(p->image.dockerfile, "build/Dockerfile") &&
	       !strcmp(p->image.context, "build") && !strcmp(p->image.target, "runtime"),
	   "image dockerfile, context, target");
	is_int(p->image.n_args, 3, "three build args");
	is_str(p->image.args[1].value, "false", "a bool arg as written");
	is_int(p->image.tags.n, 1, "a single tag string is a list of one");
	is_str(p->image.push, "registry.example.com:5000/team/app", "push");
	ok(p->defaults.has_memory && p->defaults.memory == 1u << 30 &&
	       p->defaults.memory_soft == 512u << 20 && p->defaults.has_swap && !p->defaults.swap &&
	       p->defaults.cpus == 1.5 && p->defaults.cpu_weight == 100 &&
	       !strcmp(p->defaults.cpuset, "0-1") && p->defaults.pids == 512,
	   "defaults.resources");
	is_int(p->default_timeout_ms, 20 * 60 * 1000, "defaults.timeout");
	is_int(p->n_services, 2, "two services");
	is_str(p->services[1].commands.v[0], "redis-server --save \"\"", "service commands");
	is_int(p->services[0].line, 17, "service line");
	is_int(p->services[0].col, 5, "service column");
	is_int(p->n_steps, 4, "four steps");
	s = &p->steps[0];
	is_int(s->commands.n, 2, "block scalar command kept whole");
	ok(strstr(s->commands.v[1], "if [ -n \"$CI\" ]; then\n") != NULL, "block scalar text");
	is_int(s->n_env, 5, "five variables");
	ok(!s->env[0].value && !strcmp(s->env[0].secret, "api_token"), "from_secret");
	is_str(s->env[1].value, "3", "a number as written");
	is_str(s->env[2].value, "true", "a bool as written");
	is_str(s->env[3].value, "1.50", "1.50 stays 1.50");
	is_str(s->env[4].value, "", "an empty quoted value");
	ok(!s->depends_set && !s->image, "no depends_on, no image");
	s = &p->steps[1];
	is_str(s->image, "${SLIPWAY_IMAGE}", "image kept for expansion");
	ok(s->resources.has_memory && s->resources.has_cpuset && s->resources.cpus == 1.5,
	   "'<<: *res' merges the anchored mapping");
	is_str(s->user, "1000", "user as written");
	is_int(s->timeout_ms, 90 * 60 * 1000, "timeout 1h30m");
	ok(s->failure_ignore, "failure: ignore");
	ok(s->cache.n == 2 && !strcmp(s->cache.v[1], ".cache/pip"), "cache");
	ok(s->when.set && s->when.event.n == 1, "step when");
	is_int(s->network, PIPELINE_NET_NONE, "network none");
	ok(!s->privileged, "privileged false");
	s = &p->steps[2];
	ok(s->depends_set && s->depends_on.n == 0, "depends_on: [] is set and empty");
	ok(s->commands.n == 2 && !strcmp(s->commands.v[0], "make -j2"), "commands from an alias");
	is_int(s->network, PIPELINE_NET_HOST, "network host");
	is_int(p->n_deploys, 4, "four deploys");
	ok(!strcmp(p->deploys[0].webhook_url, "https://deploy.example.com/hook") &&
	       !strcmp(p->deploys[0].webhook_secret.secret, "deploy_key") && p->deploys[0].when.set,
	   "webhook deploy with a secret");
	is_str(p->deploys[1].webhook_secret.value, "literal-value", "a literal webhook secret");
	is_str(p->deploys[2].webhook_url, "https://example.com/short", "webhook: URL shorthand");
	ok(!p->deploys[3].webhook_url && !strcmp(p->deploys[3].image, "busybox") &&
	       p->deploys[3].n_env == 1,
	   "command deploy");
	pipeline_free(p);
}

static void test_defaults_merge(void)
{
	struct error *err = NULL;
	struct pipeline *p = parse_str("defaults:\n"
				       "  resources: { memory: 1G, cpus: 2, cpuset: \"0\" }\n"
				       "  timeout: 10m\n"
				       "steps:\n"
				       "  - name: a\n"
				       "    image: bb\n"
				       "    commands: [true]\n"
				       "    resources: { memory: 64M, pids: 10 }\n"
				       "    timeout: 30s\n"
				       "  - { name: b, image: bb, commands: [true] }\n",
				       &err);
	struct pipeline_resources r;

	if (!ok(p != NULL, "merge pipeline parses")) {
		diag("%s", err->msg);
		error_free(err);
		return;
	}
	r = pipeline_step_resources(p, &p->steps[0]);
	ok(r.has_memory && r.memory == 64u << 20, "the step's memory wins");
	ok(r.has_cpus && r.cpus == 2, "cpus from defaults");
	ok(r.has_pids && r.pids == 10, "pids from the step");
	ok(r.has_cpuset && !strcmp(r.cpuset, "0"), "cpuset from defaults");
	ok(!r.has_swap && !r.has_cpu_weight, "fields nobody gave stay unset");
	is_int(pipeline_step_timeout_ms(p, &p->steps[0]), 30000, "the step's timeout wins");
	r = pipeline_step_resources(p, &p->steps[1]);
	ok(r.memory == 1u << 30 && !r.has_pids, "a step without resources gets the defaults");
	is_int(pipeline_step_timeout_ms(p, &p->steps[1]), 600000, "default timeout");
	ok(!p->steps[0].resources.has_cpus, "the model keeps what the step wrote");
	pipeline_free(p);
}

static void test_limits(void)
{
	size_t big = (1u << 20) + 1;
	char *data = malloc(big);
	struct pipeline *p = NULL;
	struct error *err = NULL;
	cleanup_free char *msg = NULL;
	static const char nul[] = "steps:\n  - name: a\0b\n";

	memset(data, '#', big);
	ok(pipeline_parse(data, big, ".slipway.yml", &p, &err) < 0 && err &&
	       err->exit_code == EXIT_USAGE && strstr(err->msg, "more than the 1 MiB"),
	   "a file over 1 MiB is refused (%s)", err ? err->msg : "");
	error_free(err);
	err = NULL;
	memset(data, ' ', big);
	memcpy(data, "steps:", 6);
	ok(pipeline_parse(data, 1u << 20, ".slipway.yml", &p, &err) < 0 && err &&
	       strstr(err->msg, "steps") && !strstr(err->msg, "1 MiB"),
	   "exactly 1 MiB is read (%s)", err ? err->msg : "");
	error_free(err);
	err = NULL;
	free(data);
	ok(pipeline_parse(nul, sizeof(nul) - 1, ".slipway.yml", &p, &err) < 0 && err &&
	       err->exit_code == EXIT_USAGE,
	   "a NUL byte is refused (%s)", err ? err->msg : "");
	error_free(err);
	err = NULL;
	ok(pipeline_parse(NULL, 0, ".slipway.yml", &p, &err) < 0 && err &&
	       strstr(err->msg, ".slipway.yml:1:1: the pipeline is empty"),
	   "no data at all (%s)", err ? err->msg : "");
	error_free(err);
	err = NULL;
	msg = error_of("steps:\n  - name: a\n    image: b\n    comands: [x]\n");
	ok(!strncmp(msg, ".slipway.yml:4:5: ", 18), "positions are 1-based: %s", msg);
}

static void test_filename(void)
{
	struct error *err = NULL;
	struct pipeline *p = NULL;

	pipeline_parse("steps: 3\n", 9, "repo/.slipway.yml", &p, &err);
	ok(err && !strcmp(err->msg, "repo/.slipway.yml:1:8: 'steps' must be a list of '- name: "
				    "...' entries, not a string"),
	   "messages use the filename given (%s)", err ? err->msg : "");
	error_free(err);
}

static void test_suggestions(void)
{
	static const struct {
		const char *yml, *want;
	} cases[] = {
	    {"stesp: []\n", "(did you mean 'steps'?)"},
	    {"Steps: []\n", "(did you mean 'steps'?)"},
	    {"deploys: []\n", "(did you mean 'deploy'?)"},
	    {"steps:\n  - {name: a, image: b, script: [x]}\n", "(did you mean 'commands'?)"},
	    {"steps:\n  - {name: a, image: b, commands: [x], env: {}}\n",
	     "(did you mean 'environment'?)"},
	    {"steps:\n  - {name: a, image: b, commands: [x], needs: []}\n",
	     "(did you mean 'depends_on'?)"},
	    {"steps:\n  - {name: a, image: b, commands: [x], resources: {memroy: 1G}}\n",
	     "(did you mean 'memory'?)"},
	    {"steps:\n  - {name: a, image: b, commands: [x], timeuot: 1m}\n",
	     "(did you mean 'timeout'?)"},
	    {"image: {tag: [x]}\n", "(did you mean 'tags'?)"},
	    {"steps:\n  - {name: a, image: b, commands: [x], xyzzy: 1}\n",
	     "(known keys: name, image, commands, environment, depends_on, resources, user, "
	     "timeout, failure, cache, when, network, privileged)"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *msg = error_of(cases[i].yml);

		ok(strstr(msg, cases[i].want) != NULL, "suggestion %s", cases[i].want);
		if (!strstr(msg, cases[i].want))
			diag("got: %s", msg);
	}
}

static void test_names(void)
{
	static const char *const good[] = {
	    "a", "0", "build-1", "x.y_z",
	    "a123456789012345678901234567890123456789012345678901234567890ab"};
	static const char *const bad[] = {
	    "",	   "A",	 "-x",
	    "_x",  ".x", "a/b",
	    "a b", "é",	 "a123456789012345678901234567890123456789012345678901234567890abc"};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		ok(pipeline_name_valid(good[i]), "name '%s' is valid", good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ok(!pipeline_name_valid(bad[i]), "name '%s' is refused", bad[i]);
}

static void test_scalars(void)
{
	struct error *err = NULL;
	struct pipeline *p =
	    parse_str("steps:\n"
		      "  - name: a\n"
		      "    image: bb\n"
		      "    commands: [true, 0x10, '007', ~x]\n"
		      "    privileged: yes\n"
		      "    resources: { memory: 1073741824, cpus: \"0.5\", pids: \"64\" }\n",
		      &err);

	if (!ok(p != NULL, "scalars parse")) {
		diag("%s", err->msg);
		error_free(err);
		return;
	}
	ok(!strcmp(p->steps[0].commands.v[0], "true") &&
	       !strcmp(p->steps[0].commands.v[1], "0x10") &&
	       !strcmp(p->steps[0].commands.v[2], "007"),
	   "commands as written, not as YAML types");
	ok(p->steps[0].privileged, "privileged: yes");
	ok(p->steps[0].resources.memory == 1u << 30 && p->steps[0].resources.cpus == 0.5 &&
	       p->steps[0].resources.pids == 64,
	   "numbers plain or quoted");
	pipeline_free(p);
}

int main(int argc, char **argv)
{
	cleanup_free char *self = strdup(argv[0]);

	(void)argc;
	plan_lazy();
	snprintf(fixtures, sizeof(fixtures), "%s/../fixtures/pipelines", dirname(self));
	each_fixture("bad", check_bad);
	each_fixture("good", check_good);
	each_fixture("fuzz", check_replay);
	test_full_model();
	test_defaults_merge();
	test_limits();
	test_filename();
	test_suggestions();
	test_names();
	test_scalars();
	return done_testing();
}

/* runner/build/meta.c — the instructions that change only the image config: ENV, ARG, LABEL,
 * EXPOSE, VOLUME, USER, WORKDIR, CMD, ENTRYPOINT, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD,
 * MAINTAINER. Words are substituted where Docker substitutes them (not in CMD, ENTRYPOINT,
 * SHELL, HEALTHCHECK or ONBUILD). */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "lib/json.h"
#include "lib/parse.h"
#include "runner/build/internal.h"

json_t *stage_exec_config(struct stage *s)
{
	json_t *c = json_get_obj(s->config, "config");

	if (!c) {
		c = json_object();
		json_object_set_new(s->config, "config", c);
	}
	return c;
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The whole instruction as history shows it: keyword and the words after substitution. */
static char *describe(const char *keyword, char *const *words, size_t n)
{
	struct buf b = BUF_INIT(1 << 20);

	buf_puts(&b, keyword, NULL);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, NULL, " %s", words[i]);
	return buf_steal(&b);
}

/* Exec form as given, or the stage's shell with the text. */
static json_t *command_json(const struct stage *s, const struct df_instr *in)
{
	json_t *a;

	if (in->json)
		return strv_json(in->args);
	if (s->shell)
		a = strv_json(s->shell);
	else
		a = json_pack("[s, s]", "/bin/sh", "-c");
	json_array_append_new(a, json_string(in->rest));
	return a;
}

static int expand_all(struct builder *b, struct stage *s, const struct df_instr *in, char ***out,
		      struct error **err)
{
	char **v = calloc(in->nargs + 1, sizeof(*v));

	if (!v)
		return error_errno(err, "expand");
	for (size_t i = 0; i < in->nargs; i++) {
		if (build_expand(b, s, in, in->args[i], &v[i], err) < 0) {
			df_strv_free(v);
			return -1;
		}
	}
	*out = v;
	return 0;
}

static int sync_env(struct stage *s)
{
	json_object_set_new(stage_exec_config(s), "Env", strv_json(s->env.v));
	return 0;
}

/* ENV and LABEL: key=value pairs, or the old "KEY value" form. */
static int pairs(struct builder *b, struct stage *s, const struct df_instr *in, bool env,
		 char **created_by, struct error **err)
{
	struct buf d = BUF_INIT(1 << 20);
	json_t *labels = NULL;

	if (!env) {
		labels = json_get_obj(stage_exec_config(s), "Labels");
		if (!labels) {
			labels = json_object();
			json_object_set_new(stage_exec_config(s), "Labels", labels);
		}
	}
	buf_puts(&d, in->keyword, NULL);
	if (!strchr(in->args[0], '=')) {
		cleanup_free char *key = NULL, *val = NULL;
		const char *rest = in->rest + strlen(in->args[0]);

		if (in->nargs < 2)
			return build_fail(b, in, err, "%s needs a value for '%s'", in->keyword,
					  in->args[0]);
		while (isspace((unsigned char)*rest))
			rest++;
		if (build_expand(b, s, in, in->args[0], &key, err) < 0 ||
		    build_expand(b, s, in, rest, &val, err) < 0) {
			buf_release(&d);
			return -1;
		}
		if (env ? kv_set(&s->env, key, val, err) < 0
			: json_object_set_new(labels, key, json_string(val)) < 0) {
			buf_release(&d);
			return -1;
		}
		buf_printf(&d, NULL, " %s=%s", key, val);
	} else {
		for (size_t i = 0; i < in->nargs; i++) {
			cleanup_free char *pair = NULL;
			char *eq;

			if (!strchr(in->args[i], '=')) {
				buf_release(&d);
				return build_fail(b, in, err, "%s: '%s' is not KEY=VALUE",
						  in->keyword, in->args[i]);
			}
			if (build_expand(b, s, in, in->args[i], &pair, err) < 0) {
				buf_release(&d);
				return -1;
			}
			eq = strchr(pair, '=');
			if (!eq || eq == pair) {
				buf_release(&d);
				return build_fail(b, in, err, "%s: empty name in '%s'", in->keyword,
						  in->args[i]);
			}
			*eq = '\0';
			if (env ? kv_set(&s->env, pair, eq + 1, err) < 0
				: json_object_set_new(labels, pair, json_string(eq + 1)) < 0) {
				buf_release(&d);
				return error_errno(err, "%s", in->keyword);
			}
			buf_printf(&d, NULL, " %s=%s", pair, eq + 1);
		}
	}
	if (env)
		sync_env(s);
	*created_by = buf_steal(&d);
	return 0;
}

static int arg(struct builder *b, struct stage *s, const struct df_instr *in, char **created_by,
	       struct error **err)
{
	struct buf d = BUF_INIT(1 << 20);

	buf_puts(&d, "ARG", NULL);
	for (size_t i = 0; i < in->nargs; i++) {
		cleanup_free char *word = NULL;
		char *eq;
		const char *val = NULL;

		if (build_expand(b, s, in, in->args[i], &word, err) < 0) {
			buf_release(&d);
			return -1;
		}
		eq = strchr(word, '=');
		if (eq)
			*eq = '\0';
		if (!*word) {
			buf_release(&d);
			return build_fail(b, in, err, "ARG needs a name");
		}
		for (size_t k = 0; k < b->build_args.n; k++) {
			size_t l = strlen(word);

			if (!strncmp(b->build_args.v[k], word, l) && b->build_args.v[k][l] == '=') {
				val = b->build_args.v[k] + l + 1;
				b->build_arg_used[k] = true;
			}
		}
		if (!val && eq)
			val = eq + 1;
		if (!val && s)
			val = kv_get(&b->global_args, word); /* a global ARG declared again */
		if (val && kv_set(s ? &s->args : &b->global_args, word, val, err) < 0) {
			buf_release(&d);
			return -1;
		}
		buf_printf(&d, NULL, " %s%s%s", word, val ? "=" : "", val ? val : "");
	}
	*created_by = buf_steal(&d);
	return 0;
}

static int expose(struct builder *b, struct stage *s, const struct df_instr *in, char **words,
		  struct error **err)
{
	json_t *ports = json_get_obj(stage_exec_config(s), "ExposedPorts");

	if (!ports) {
		ports = json_object();
		json_object_set_new(stage_exec_config(s), "ExposedPorts", ports);
	}
	for (size_t i = 0; words[i]; i++) {
		char proto[16] = "tcp", key[64];
		unsigned long lo, hi;
		char *end, *slash = strchr(words[i], '/');

		if (slash) {
			if (strlen(slash + 1) >= sizeof(proto))
				goto bad;
			for (size_t k = 0; slash[1 + k]; k++)
				proto[k] = (char)tolower((unsigned char)slash[1 + k]);
			proto[strlen(slash + 1)] = '\0';
			*slash = '\0';
			if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))
				goto bad;
		}
		lo = strtoul(words[i], &end, 10);
		hi = lo;
		if (*end == '-')
			hi = strtoul(end + 1, &end, 10);
		if (*end || end == words[i] || lo < 1 || hi > 65535 || hi < lo || hi - lo > 1024)
			goto bad;
		for (unsigned long p = lo; p <= hi; p++) {
			snprintf(key, sizeof(key), "%lu/%s", p, proto);
			json_object_set_new(ports, key, json_object());
		}
		if (slash)
			*slash = '/';
		continue;
	bad:
		return build_fail(b, in, err, "EXPOSE: invalid port '%s'", words[i]);
	}
	return 0;
}

static int stopsignal(struct builder *b, const struct df_instr *in, const char *sig,
		      struct error **err)
{
	const char *n = strncasecmp(sig, "SIG", 3) ? sig : sig + 3;
	char *end;
	long v = strtol(sig, &end, 10);

	if (*sig && !*end && v > 0 && v < 65)
		return 0;
	if (!*n)
		return build_fail(b, in, err, "STOPSIGNAL: invalid signal '%s'", sig);
	for (int i = 1; i < NSIG; i++) {
		const char *a = sigabbrev_np(i);

		if (a && !strcasecmp(a, n))
			return 0;
	}
	if (!strncasecmp(n, "RTMIN", 5) || !strncasecmp(n, "RTMAX", 5))
		return 0;
	return build_fail(b, in, err, "STOPSIGNAL: invalid signal '%s'", sig);
}

static int healthcheck(struct builder *b, struct stage *s, const struct df_instr *in,
		       struct error **err)
{
	json_t *hc;
	const char *t = in->rest;
	static const char *const durs[] = {"interval", "timeout", "start-period", "start-interval"};
	static const char *const keys[] = {"Interval", "Timeout", "StartPeriod", "StartInterval"};

	if (!strncasecmp(t, "NONE", 4) && (!t[4] || isspace((unsigned char)t[4]))) {
		if (t[4] && *(t + 4 + strspn(t + 4, " \t")))
			return build_fail(b, in, err, "HEALTHCHECK NONE takes no arguments");
		json_object_set_new(stage_exec_config(s), "Healthcheck",
				    json_pack("{s:[s]}", "Test", "NONE"));
		return 0;
	}
	if (strncasecmp(t, "CMD", 3) || !(isspace((unsigned char)t[3])))
		return build_fail(b, in, err, "HEALTHCHECK must be NONE or CMD ...");
	t += 3;
	while (isspace((unsigned char)*t))
		t++;
	hc = json_object();
	if (*t == '[') {
		json_auto_t *j = json_loads(t, 0, NULL);
		size_t i;
		json_t *e;

		if (j && json_is_array(j)) {
			json_t *test = json_pack("[s]", "CMD");

			json_array_foreach (j, i, e)
				json_array_append(test, e);
			json_object_set_new(hc, "Test", test);
		}
	}
	if (!json_object_get(hc, "Test"))
		json_object_set_new(hc, "Test", json_pack("[s, s]", "CMD-SHELL", t));
	for (size_t i = 0; i < ARRAY_SIZE(durs); i++) {
		const char *f = df_flag(in, durs[i]);
		uint64_t ms;
		struct error *e = NULL;

		if (!f)
			continue;
		if (parse_duration(f, &ms, &e) < 0) {
			build_fail(b, in, err, "HEALTHCHECK --%s: %s", durs[i], e->msg);
			error_free(e);
			json_decref(hc);
			return -1;
		}
		json_object_set_new(hc, keys[i], json_integer((json_int_t)ms * 1000000));
	}
	if (df_flag(in, "retries")) {
		int64_t r;
		struct error *e = NULL;

		if (parse_int(df_flag(in, "retries"), 0, 1000000, &r, &e) < 0) {
			build_fail(b, in, err, "HEALTHCHECK --retries: %s", e->msg);
			error_free(e);
			json_decref(hc);
			return -1;
		}
		json_object_set_new(hc, "Retries", json_integer(r));
	}
	json_object_set_new(stage_exec_config(s), "Healthcheck", hc);
	return 0;
}

static char *clean_abs(const char *base, const char *path)
{
	cleanup_free char *joined = NULL;
	char *c, *out;

	if (path[0] == '/')
		joined = strdup(path);
	else if (asprintf(&joined, "%s/%s", base && *base ? base : "/", path) < 0)
		joined = NULL;
	if (!joined || !(c = path_clean_rel(joined)))
		return NULL;
	if (asprintf(&out, "/%s", c) < 0)
		out = NULL;
	free(c);
	return out;
}

int meta_apply(struct builder *b, struct stage *s, const struct df_instr *in, char **created_by,
	       struct error **err)
{
	json_t *c;
	cleanup_free char *cmdtext = NULL;
	char **w = NULL;
	int rc = 0;

	*created_by = NULL;
	if (!s) /* before the first FROM: only ARG */
		return in->kind == DF_ARG ? arg(b, s, in, created_by, err)
					  : build_fail(b, in, err, "only ARG may come before FROM");
	c = stage_exec_config(s);
	switch (in->kind) {
	case DF_ENV:
	case DF_LABEL:
		return pairs(b, s, in, in->kind == DF_ENV, created_by, err);
	case DF_ARG:
		return arg(b, s, in, created_by, err);
	case DF_CMD:
	case DF_ENTRYPOINT: {
		json_t *cmd = command_json(s, in);

		if (in->kind == DF_CMD) {
			json_object_set_new(c, "Cmd", cmd);
			s->cmd_set = true;
		} else {
			json_object_set_new(c, "Entrypoint", cmd);
			if (!s->cmd_set)
				json_object_del(c, "Cmd");
		}
		cmdtext = json_dumps(cmd, JSON_COMPACT);
		if (asprintf(created_by, "%s %s", in->keyword, cmdtext ? cmdtext : "") < 0)
			*created_by = NULL;
		return *created_by ? 0 : error_errno(err, "%s", in->keyword);
	}
	case DF_SHELL:
		df_strv_free(s->shell);
		s->shell = calloc(in->nargs + 1, sizeof(char *));
		if (!s->shell)
			return error_errno(err, "SHELL");
		for (size_t i = 0; i < in->nargs; i++)
			if (!(s->shell[i] = strdup(in->args[i])))
				return error_errno(err, "SHELL");
		json_object_set_new(c, "Shell", strv_json(s->shell));
		*created_by = strdup(in->text);
		return *created_by ? 0 : error_errno(err, "SHELL");
	case DF_HEALTHCHECK:
		if (healthcheck(b, s, in, err) < 0)
			return -1;
		*created_by = strdup(in->text);
		return *created_by ? 0 : error_errno(err, "HEALTHCHECK");
	case DF_ONBUILD: {
		json_t *ob = json_get_array(c, "OnBuild");

		if (!ob) {
			ob = json_array();
			json_object_set_new(c, "OnBuild", ob);
		}
		json_array_append_new(ob, json_string(in->rest));
		*created_by = strdup(in->text);
		return *created_by ? 0 : error_errno(err, "ONBUILD");
	}
	case DF_MAINTAINER:
		json_object_set_new(s->config, "author", json_string(in->rest));
		*created_by = strdup(in->text);
		return *created_by ? 0 : error_errno(err, "MAINTAINER");
	default:
		break;
	}
	if (expand_all(b, s, in, &w, err) < 0)
		return -1;
	switch (in->kind) {
	case DF_EXPOSE:
		rc = expose(b, s, in, w, err);
		break;
	case DF_VOLUME: {
		json_t *vols = json_get_obj(c, "Volumes");

		if (!vols) {
			vols = json_object();
			json_object_set_new(c, "Volumes", vols);
		}
		for (size_t i = 0; w[i]; i++) {
			if (!*w[i]) {
				rc = build_fail(b, in, err, "VOLUME: empty path");
				break;
			}
			json_object_set_new(vols, w[i], json_object());
		}
		break;
	}
	case DF_USER:
		if (!*w[0])
			rc = build_fail(b, in, err, "USER: empty user");
		else
			json_object_set_new(c, "User", json_string(w[0]));
		break;
	case DF_WORKDIR: {
		char *p = clean_abs(json_get_str(c, "WorkingDir", "/"), w[0]);

		if (!p)
			rc = error_errno(err, "WORKDIR");
		else
			json_object_set_new(c, "WorkingDir", json_string(p));
		free(p);
		break;
	}
	case DF_STOPSIGNAL:
		rc = stopsignal(b, in, w[0], err);
		if (rc == 0)
			json_object_set_new(c, "StopSignal", json_string(w[0]));
		break;
	default:
		rc = build_fail(b, in, err, "%s is not a metadata instruction", in->keyword);
		break;
	}
	if (rc == 0 && !(*created_by = describe(in->keyword, w, in->nargs)))
		rc = error_errno(err, "%s", in->keyword);
	df_strv_free(w);
	return rc;
}

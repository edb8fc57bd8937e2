/* cli/cmd-container.c — `slipway container run` (flags, image config, signals, report) and
 * `slipway prune` (what dead slipway processes left behind), over runner/container. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/parse.h"
#include "runner/caps.h"
#include "runner/container.h"
#include "runner/image/image.h"

struct run_opts {
	struct container_spec spec;
	struct limits lim;
	const char *rootfs;
	const char *report;
	const char *image;
	const char *user, *workdir;
	bool user_set, workdir_set;
	struct cli_list env, cap_add, cap_drop, volumes_raw;
	struct container_mount mounts[CLI_LIST_MAX];
	struct container_tmpfs tmpfs[CLI_LIST_MAX];
	char *tmpfs_targets[CLI_LIST_MAX];
	size_t n_mounts, n_tmpfs;
};

/* "0-3,5": every CPU must be online. */
static int check_cpuset(const char *list, struct error **err)
{
	cleanup_free char *online = NULL;
	const char *p = list;

	if (!*list || strlen(list) >= sizeof(((struct limits *)0)->cpuset))
		return error_usage(err, "invalid cpuset '%s'", list);
	read_file("/sys/devices/system/cpu/online", 4096, &online, NULL, NULL);
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b = a;

		if (end == p || a < 0)
			return error_usage(err, "invalid cpuset '%s'", list);
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a)
				return error_usage(err, "invalid cpuset '%s'", list);
			p = end;
		}
		if (*p == ',')
			p++;
		else if (*p)
			return error_usage(err, "invalid cpuset '%s'", list);
		for (long c = a; c <= b && online; c++) {
			bool in = false;

			for (const char *q = online; *q;) {
				char *e2;
				long x = strtol(q, &e2, 10), y = x;

				if (e2 == q)
					break;
				q = e2;
				if (*q == '-')
					y = strtol(q + 1, &e2, 10), q = e2;
				if (c >= x && c <= y)
					in = true;
				if (*q == ',')
					q++;
				else
					break;
			}
			if (!in)
				return error_usage(
				    err, "invalid cpuset '%s': cpu %ld is not online", list, c);
		}
	}
	return 0;
}

/* DEV:RATE where DEV is a block device path. */
static int parse_io(const char *arg, struct io_limit *l, struct error **err)
{
	cleanup_free char *dev = strdup(arg);
	char *colon = dev ? strrchr(dev, ':') : NULL;
	struct stat st;

	if (!colon)
		return error_usage(err, "invalid io limit '%s': expected DEVICE:RATE", arg);
	*colon = '\0';
	if (stat(dev, &st) < 0 || !S_ISBLK(st.st_mode))
		return error_usage(err, "invalid io limit '%s': '%s' is not a block device", arg,
				   dev);
	l->dev = st.st_rdev;
	if (parse_size(colon + 1, &l->bps, err) < 0 || l->bps == 0)
		return error_usage(err, "invalid io limit '%s'", arg);
	return 0;
}

/* SRC:DST[:ro|rw] */
static int parse_volume(char *arg, struct container_mount *m, struct error **err)
{
	char *c1 = strchr(arg, ':'), *c2;
	char *orig = strdup(arg);
	struct stat st;

	if (!orig)
		return error_errno(err, "allocate");
	if (!c1) {
		error_usage(err, "invalid volume '%s': expected SRC:DST[:ro]", orig);
		free(orig);
		return -1;
	}
	*c1 = '\0';
	c2 = strchr(c1 + 1, ':');
	if (c2) {
		*c2 = '\0';
		if (strcmp(c2 + 1, "ro") && strcmp(c2 + 1, "rw")) {
			error_usage(err, "invalid volume '%s': mode must be ro or rw", orig);
			free(orig);
			return -1;
		}
		m->read_only = !strcmp(c2 + 1, "ro");
	}
	m->source = arg;
	m->target = c1 + 1;
	if (arg[0] != '/' || m->target[0] != '/') {
		error_usage(err, "invalid volume '%s': paths must be absolute", orig);
		free(orig);
		return -1;
	}
	if (stat(arg, &st) < 0) {
		error_usage(err, "invalid volume '%s': '%s': %s", orig, arg, strerror(errno));
		free(orig);
		return -1;
	}
	free(orig);
	return 0;
}

static int parse_tmpfs(char *arg, struct container_tmpfs *t, struct error **err)
{
	char *colon = strchr(arg, ':');

	if (colon) {
		*colon = '\0';
		if (parse_size(colon + 1, &t->size, err) < 0)
			return error_wrap(err, "tmpfs '%s'", arg);
	}
	if (arg[0] != '/')
		return error_usage(err, "invalid tmpfs '%s': the path must be absolute", arg);
	t->target = arg;
	return 0;
}

static volatile sig_atomic_t got_signal;
static struct container *running;

static void on_signal(int sig)
{
	got_signal = sig;
	if (running)
		container_stop(running);
}

static int write_report(const char *path, const char *name, const char *id,
			const struct container_result *r, struct error **err)
{
	json_auto_t *j = json_pack(
	    "{s:s, s:s, s:i, s:i, s:b, s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name",
	    name, "id", id, "exit_code", r->exit_code, "signal", r->signal, "oom_killed",
	    r->oom_killed, "timed_out", r->timed_out, "stopped", r->stopped, "pids_limit_hit",
	    r->pids_limit_hit, "wall_ms", (json_int_t)r->wall_ms, "cpu_user_us",
	    (json_int_t)r->cpu_user_us, "cpu_system_us", (json_int_t)r->cpu_system_us,
	    "memory_peak_bytes", (json_int_t)r->memory_peak_bytes, "io_read_bytes",
	    (json_int_t)r->io_read_bytes, "io_write_bytes", (json_int_t)r->io_write_bytes,
	    "memory_limit_bytes", (json_int_t)r->memory_limit);

	if (!j)
		return error_set(err, EXIT_INTERNAL, "build the report");
	return json_save_path(path, j, true, 0644, err);
}

static int parse_run(struct cli *cli, int argc, char **argv, struct run_opts *o)
{
	enum {
		O_MEMORY = 1000,
		O_MEMSOFT,
		O_SWAP,
		O_CPUS,
		O_WEIGHT,
		O_CPUSET,
		O_PIDS,
		O_IOR,
		O_IOW,
		O_CAPADD,
		O_CAPDROP,
		O_TMPFS,
		O_NETWORK,
		O_READONLY,
		O_TIMEOUT,
		O_NAME,
		O_REPORT,
		O_ROOTFS,
		O_HOSTNAME,
	};
	static const struct option longopts[] = {
	    {"memory", required_argument, NULL, 'm'},
	    {"memory-soft", required_argument, NULL, O_MEMSOFT},
	    {"swap", required_argument, NULL, O_SWAP},
	    {"cpus", required_argument, NULL, O_CPUS},
	    {"cpu-weight", required_argument, NULL, O_WEIGHT},
	    {"cpuset", required_argument, NULL, O_CPUSET},
	    {"pids", required_argument, NULL, O_PIDS},
	    {"io-read-bps", required_argument, NULL, O_IOR},
	    {"io-write-bps", required_argument, NULL, O_IOW},
	    {"user", required_argument, NULL, 'u'},
	    {"cap-add", required_argument, NULL, O_CAPADD},
	    {"cap-drop", required_argument, NULL, O_CAPDROP},
	    {"env", required_argument, NULL, 'e'},
	    {"workdir", required_argument, NULL, 'w'},
	    {"volume", required_argument, NULL, 'v'},
	    {"tmpfs", required_argument, NULL, O_TMPFS},
	    {"hostname", required_argument, NULL, O_HOSTNAME},
	    {"network", required_argument, NULL, O_NETWORK},
	    {"read-only", no_argument, NULL, O_READONLY},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"name", required_argument, NULL, O_NAME},
	    {"report", required_argument, NULL, O_REPORT},
	    {"rootfs", required_argument, NULL, O_ROOTFS},
	    CLI_COMMON_LONGOPTS};
	struct container_spec *s = &o->spec;
	struct error *err = NULL;
	int opt, rc;
	int64_t v;
	uint64_t m;

	while ((opt = cli_getopt(cli, argc, argv, "+hm:u:e:w:v:", longopts)) != -1) {
		switch (opt) {
		case 'm':
		case O_MEMSOFT:
		case O_SWAP:
			if (parse_size(optarg, &m, &err) < 0)
				return cli_fail(err);
			if (m == 0)
				return cli_usage(cli, "invalid size '%s'", optarg);
			*(opt == 'm'	     ? &o->lim.memory
			  : opt == O_MEMSOFT ? &o->lim.memory_soft
					     : &o->lim.swap) = m;
			break;
		case O_CPUS:
			if ((rc = cli_parse_cpus(cli, optarg, &o->lim.cpus)) != EXIT_OK)
				return rc;
			break;
		case O_WEIGHT:
			if (parse_int(optarg, 1, 10000, &v, &err) < 0)
				return cli_fail(err);
			o->lim.cpu_weight = (unsigned)v;
			break;
		case O_CPUSET:
			if (check_cpuset(optarg, &err) < 0)
				return cli_fail(err);
			snprintf(o->lim.cpuset, sizeof(o->lim.cpuset), "%s", optarg);
			break;
		case O_PIDS:
			if (parse_int(optarg, 1, 4194304, &v, &err) < 0)
				return cli_fail(err);
			o->lim.pids = v;
			break;
		case O_IOR:
		case O_IOW: {
			int *n = opt == O_IOR ? &o->lim.n_read_bps : &o->lim.n_write_bps;
			struct io_limit *l = opt == O_IOR ? o->lim.read_bps : o->lim.write_bps;

			if (*n >= LIMITS_MAX_IO)
				return cli_usage(cli, "too many io limits");
			if (parse_io(optarg, &l[*n], &err) < 0)
				return cli_fail(err);
			(*n)++;
			break;
		}
		case 'u':
			if (!*optarg)
				return cli_usage(cli, "invalid --user ''");
			o->user = optarg;
			o->user_set = true;
			break;
		case O_CAPADD:
		case O_CAPDROP:
			if (caps_parse(optarg, &m) < 0)
				return cli_usage(cli, "unknown capability '%s'", optarg);
			if ((rc = cli_list_add(cli, opt == O_CAPADD ? &o->cap_add : &o->cap_drop,
					       optarg, "capabilities")) != EXIT_OK)
				return rc;
			break;
		case 'e':
			if (!strchr(optarg, '=')) {
				/* "K" alone takes the value from slipway's environment. */
				const char *val = getenv(optarg);
				char *kv;

				if (!val)
					break;
				if (asprintf(&kv, "%s=%s", optarg, val) < 0)
					return cli_fail(NULL);
				optarg = kv; /* lives until exit */
			}
			if (optarg[0] == '=')
				return cli_usage(cli, "invalid --env '%s'", optarg);
			if ((rc = cli_list_add(cli, &o->env, optarg, "variables")) != EXIT_OK)
				return rc;
			break;
		case 'w':
			if (optarg[0] != '/')
				return cli_usage(cli, "invalid --workdir '%s': must be absolute",
						 optarg);
			o->workdir = optarg;
			o->workdir_set = true;
			break;
		case 'v':
			if (o->n_mounts >= CLI_LIST_MAX)
				return cli_usage(cli, "too many volumes");
			if (parse_volume(optarg, &o->mounts[o->n_mounts], &err) < 0)
				return cli_fail(err);
			o->n_mounts++;
			break;
		case O_TMPFS:
			if (o->n_tmpfs >= CLI_LIST_MAX)
				return cli_usage(cli, "too many tmpfs");
			if (parse_tmpfs(optarg, &o->tmpfs[o->n_tmpfs], &err) < 0)
				return cli_fail(err);
			o->n_tmpfs++;
			break;
		case O_HOSTNAME:
			if (!*optarg || strlen(optarg) > 63 || strpbrk(optarg, " /\n\t"))
				return cli_usage(cli, "invalid hostname '%s'", optarg);
			s->hostname = optarg;
			break;
		case O_NETWORK:
			if (!strcmp(optarg, "none"))
				s->network = CONTAINER_NET_NONE;
			else if (!strcmp(optarg, "host"))
				s->network = CONTAINER_NET_HOST;
			else
				return cli_usage(cli, "invalid --network '%s': none or host",
						 optarg);
			break;
		case O_READONLY:
			s->read_only = true;
			break;
		case O_TIMEOUT:
			if (parse_duration(optarg, &s->timeout_ms, &err) < 0)
				return cli_fail(err);
			if (!s->timeout_ms)
				return cli_usage(cli, "invalid --timeout '%s'", optarg);
			break;
		case O_NAME:
			if (!*optarg || strlen(optarg) > 128)
				return cli_usage(cli, "invalid --name '%s'", optarg);
			s->name = optarg;
			break;
		case O_REPORT: {
			/* Checked now: a report that cannot be written is found out before the
			 * container runs, not after. */
			cleanup_free char *dir = strdup(optarg);
			char *slash = dir ? strrchr(dir, '/') : NULL;

			if (slash)
				*slash = '\0';
			if (!*optarg || access(slash ? (*dir ? dir : "/") : ".", W_OK) < 0)
				return cli_usage(cli, "cannot write the report '%s': %s", optarg,
						 *optarg ? strerror(errno) : "empty path");
			o->report = optarg;
			break;
		}
		case O_ROOTFS:
			o->rootfs = optarg;
			break;
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (!o->rootfs) {
		if (optind >= argc)
			return cli_usage(cli, "expected --rootfs DIR or IMAGE");
		o->image = argv[optind++];
	}
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	return -1;
}

/* Docker's rules: --entrypoint is not offered; CMD args replace the image's Cmd; the image's
 * Entrypoint stays in front. Env: image first, flags override by key. */
static char **merge_env(char **image_env, struct cli_list *flags)
{
	size_t n = 0, k = 0;
	char **out;

	for (size_t i = 0; image_env && image_env[i]; i++)
		n++;
	out = calloc(n + flags->n + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; image_env && image_env[i]; i++) {
		const char *eq = strchr(image_env[i], '=');
		size_t klen = eq ? (size_t)(eq - image_env[i]) : strlen(image_env[i]);
		bool overridden = false;

		for (size_t f = 0; f < flags->n; f++)
			if (!strncmp(flags->v[f], image_env[i], klen) && flags->v[f][klen] == '=')
				overridden = true;
		if (!overridden)
			out[k++] = image_env[i];
	}
	for (size_t f = 0; f < flags->n; f++)
		out[k++] = flags->v[f];
	out[k] = NULL;
	return out;
}

static bool has_key(char **env, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], key, kl) && env[i][kl] == '=')
			return true;
	return false;
}

struct image_ctx {
	struct image_store *st;
	struct image *img;
	struct image_exec x;
	char **lower;
	size_t n_lower;
	char **argv;
	int lease;
};

static void image_ctx_release(struct image_ctx *ic)
{
	image_strv_free(ic->lower, ic->n_lower);
	free(ic->argv);
	image_exec_release(&ic->x);
	image_free(ic->img);
	if (ic->lease >= 0)
		image_store_unlease(ic->lease);
	image_store_close(ic->st);
}

/* Under a lease: looks the image up and takes its command, user and working dir (Docker's
 * rules: arguments replace Cmd, the Entrypoint stays, flags win). */
static int image_prepare(struct cli *cli, struct run_opts *o, int argc, char **argv,
			 struct image_ctx *ic, struct error **err)
{
	size_t ne = 0, nc = 0, k = 0;
	char **cmd;

	ic->lease = -1;
	if (image_store_open(cli->data_dir, &ic->st, err) < 0)
		return -1;
	image_store_set_progress(ic->st, cli->stderr_tty);
	if ((ic->lease = image_store_lease(ic->st, err)) < 0)
		return -1;
	if (image_lookup(ic->st, o->image, &ic->img, err) < 0 ||
	    image_exec_config(ic->img, &ic->x, err) < 0)
		return -1;
	cmd = optind < argc ? argv + optind : ic->x.cmd;
	for (size_t i = 0; ic->x.entrypoint && ic->x.entrypoint[i]; i++)
		ne++;
	for (size_t i = 0; cmd && cmd[i]; i++)
		nc++;
	if (ne + nc == 0)
		return error_usage(err, "no command given and image '%s' has none", o->image);
	ic->argv = calloc(ne + nc + 1, sizeof(char *));
	if (!ic->argv)
		return error_errno(err, "allocate");
	for (size_t i = 0; i < ne; i++)
		ic->argv[k++] = ic->x.entrypoint[i];
	for (size_t i = 0; i < nc; i++)
		ic->argv[k++] = cmd[i];
	if (!o->user_set && ic->x.user && *ic->x.user)
		o->user = ic->x.user;
	if (!o->workdir_set && ic->x.workdir && *ic->x.workdir)
		o->workdir = ic->x.workdir;
	return 0;
}

/* The pin file lives in the container's dir, known once it starts: until it is written the
 * lease taken in image_prepare keeps image_prune away. */
static int image_pin_started(struct image_ctx *ic, struct container *c, struct error **err)
{
	cleanup_free char *pin = path_join(container_dir(c), "layers");

	if (!pin)
		return error_errno(err, "allocate");
	if (image_pin(ic->st, ic->img, pin, err) < 0)
		return -1;
	image_store_unlease(ic->lease);
	ic->lease = -1;
	return 0;
}

static void print_outcome(const struct container_spec *s, const char *id,
			  const struct container_result *r)
{
	const char *name = s->name ? s->name : id;

	if (r->exec_errno == ENOENT)
		fprintf(stderr, "slipway: '%s': command not found in container\n", s->argv[0]);
	else if (r->exec_errno)
		fprintf(stderr, "slipway: '%s': cannot run in container: %s\n", s->argv[0],
			strerror(r->exec_errno));
	if (r->oom_killed) {
		char lim[32] = "none";

		if (r->memory_limit)
			format_size(r->memory_limit, lim, sizeof(lim));
		fprintf(stderr, "slipway: container '%s' ran out of memory (limit %s)\n", name,
			lim);
	}
	if (r->timed_out) {
		char d[32];

		format_duration(s->timeout_ms, d, sizeof(d));
		fprintf(stderr, "slipway: container '%s' timed out after %s\n", name, d);
	}
	if (r->pids_limit_hit)
		fprintf(stderr, "slipway: container '%s' hit its process limit (%lld)\n", name,
			(long long)s->limits.pids);
}

static int cmd_container_run(struct cli *cli, int argc, char **argv)
{
	struct run_opts *o = calloc(1, sizeof(*o));
	struct container_host *h = NULL;
	struct container_result res;
	struct image_ctx ic;
	struct container *c = NULL;
	struct error *err = NULL;
	char *rootfs_lower[1];
	cleanup_free char **env = NULL;
	char rootfs_abs[PATH_MAX];
	struct sigaction sa;
	int rc;

	memset(&ic, 0, sizeof(ic));
	ic.lease = -1;
	if (!o)
		return cli_fail(NULL);
	o->spec.stdin_fd = -1;
	o->spec.network = CONTAINER_NET_NONE;
	if ((rc = parse_run(cli, argc, argv, o)) >= 0)
		goto out;
	o->spec.limits = o->lim;
	o->spec.mounts = o->mounts;
	o->spec.n_mounts = o->n_mounts;
	o->spec.tmpfs = o->tmpfs;
	o->spec.n_tmpfs = o->n_tmpfs;
	o->spec.cap_add = o->cap_add.v;
	o->spec.cap_drop = o->cap_drop.v;
	o->spec.stdin_fd = isatty(0) ? -1 : 0;
	o->spec.stdout_fd = 1;
	o->spec.stderr_fd = 2;

	if (o->rootfs) {
		struct stat st;

		if (optind >= argc) {
			rc = cli_usage(cli, "expected a command to run");
			goto out;
		}
		if (!realpath(o->rootfs, rootfs_abs) || stat(rootfs_abs, &st) < 0 ||
		    !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "slipway: root file system '%s': %s\n", o->rootfs,
				errno ? strerror(errno) : "not a directory");
			rc = EXIT_USAGE;
			goto out;
		}
		rootfs_lower[0] = rootfs_abs;
		o->spec.lower_dirs = rootfs_lower;
		o->spec.n_lower = 1;
		o->spec.argv = argv + optind;
		env = merge_env(NULL, &o->env);
	} else {
		if (image_prepare(cli, o, argc, argv, &ic, &err) < 0 ||
		    image_rootfs(ic.st, ic.img, &ic.lower, &ic.n_lower, &err) < 0) {
			rc = cli_fail(err);
			goto out;
		}
		o->spec.lower_dirs = ic.lower;
		o->spec.n_lower = ic.n_lower;
		o->spec.argv = ic.argv;
		env = merge_env(ic.x.env, &o->env);
	}
	if (!env) {
		rc = cli_fail(NULL);
		goto out;
	}
	if (!has_key(env, "PATH")) {
		/* Docker's default PATH when the image sets none. */
		static char path[] =
		    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
		size_t n = 0;
		char **e2;

		while (env[n])
			n++;
		e2 = realloc(env, (n + 2) * sizeof(*env));
		if (!e2) {
			rc = cli_fail(NULL);
			goto out;
		}
		env = e2;
		env[n] = path;
		env[n + 1] = NULL;
	}
	o->spec.env = env;
	o->spec.user = o->user;
	o->spec.workdir = o->workdir;

	if (container_host_open(cli->data_dir, &h, &err) < 0) {
		rc = cli_fail(err);
		goto out;
	}
	/* What a slipway killed with -9 left behind goes first. */
	if (container_cleanup_stale_quick(h, &err) < 0)
		error_clear(&err);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (container_start(h, &o->spec, &c, &err) < 0) {
		rc = cli_fail(err);
		goto out;
	}
	running = c;
	if (got_signal)
		container_stop(c);
	if (o->image && image_pin_started(&ic, c, &err) < 0) {
		container_stop(c);
		container_wait(c, &res, NULL);
		running = NULL;
		container_free(c);
		rc = cli_fail(err);
		goto out;
	}
	rc = container_wait(c, &res, &err);
	running = NULL;
	if (rc < 0) {
		container_free(c);
		rc = cli_fail(err);
		goto out;
	}
	if (o->report && write_report(o->report, o->spec.name ? o->spec.name : container_id(c),
				      container_id(c), &res, &err) < 0) {
		container_free(c);
		rc = cli_fail(err);
		goto out;
	}
	print_outcome(&o->spec, container_id(c), &res);
	container_free(c);
	if (got_signal)
		rc = 128 + got_signal;
	else if (res.timed_out)
		rc = 124;
	else
		rc = res.exit_code;
out:
	container_host_close(h);
	image_ctx_release(&ic);
	free(o);
	return rc;
}

/* --- slipway prune ---------------------------------------------------------------------- */

static void prune_report(const char *what, const char *id, void *arg)
{
	json_t *a = arg;

	if (a)
		json_array_append_new(a, json_pack("{s:s, s:s}", "kind", what, "id", id));
	else
		printf("removed %s %s\n", what, id);
}

static int cmd_prune(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS};
	struct container_host *h = NULL;
	struct error *err = NULL;
	json_auto_t *a = NULL;
	int opt, n;

	while ((opt = cli_getopt(cli, argc, argv, "+h", longopts)) != -1) {
		switch (opt) {
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	if (container_host_open(cli->data_dir, &h, &err) < 0)
		return cli_fail(err);
	if (cli->json)
		a = json_array();
	n = container_cleanup_stale_report(h, prune_report, a, &err);
	container_host_close(h);
	if (n < 0)
		return cli_fail(err);
	if (cli->json)
		return json_print(a, &err) < 0 ? cli_fail(err) : EXIT_OK;
	if (n == 0)
		printf("nothing to remove\n");
	return EXIT_OK;
}

const struct command commands_container[] = {
    {"container run", "run a command in an isolated container",
     "[OPTIONS] (--rootfs DIR | IMAGE) [--] [CMD [ARG...]]",
     "The container gets its own mount, pid, uts, ipc, net and cgroup namespaces, an overlay\n"
     "root over DIR or the image's layers (never modified), a tiny init as pid 1, Docker's\n"
     "default capabilities, no_new_privs and a seccomp filter. The exit status is the\n"
     "command's (128+N when killed by signal N), 124 on timeout, 130/143 when slipway is\n"
     "interrupted; 127 when the command is not found, 2 for bad input, 3 when slipway fails.\n"
     "Options:\n"
     "      --rootfs DIR          use DIR as the read-only root (instead of IMAGE)\n"
     "  -m, --memory SIZE         hard memory limit (512k, 64M, 2G)\n"
     "      --memory-soft SIZE    soft limit (v1 soft_limit_in_bytes, v2 memory.low)\n"
     "      --swap SIZE           memory+swap limit\n"
     "      --cpus N              CPU quota in CPUs (0.5 = half of one)\n"
     "      --cpu-weight N        relative CPU weight 1-10000 (v1: cpu.shares)\n"
     "      --cpuset LIST         CPUs allowed (0-1,3)\n"
     "      --pids N              the most processes at once\n"
     "      --io-read-bps DEV:RATE, --io-write-bps DEV:RATE   block device throttling\n"
     "  -u, --user UID[:GID]|NAME[:GROUP]   run as this user (from the root's /etc/passwd)\n"
     "      --cap-add CAP, --cap-drop CAP|ALL   adjust the default capabilities\n"
     "  -e, --env K=V             set a variable (K alone: take slipway's value)\n"
     "  -w, --workdir DIR         working directory (created when missing)\n"
     "  -v, --volume SRC:DST[:ro] bind-mount a host path\n"
     "      --tmpfs DST[:SIZE]    mount a tmpfs\n"
     "      --hostname NAME       the container's host name (default: its id)\n"
     "      --network none|host   own network namespace with loopback (default) or the host's\n"
     "      --read-only           read-only root file system\n"
     "      --timeout DURATION    kill everything after 30s, 5m, 1h (exit 124)\n"
     "      --name NAME           name used in messages and the report\n"
     "      --report FILE         write what happened and what it used as JSON\n",
     cmd_container_run},
    {NULL, NULL, NULL, NULL, NULL},
};

const struct command commands_maint[] = {
    {"prune", "remove what killed slipway processes left behind", "[--json]",
     "Removes container dirs, cgroups and processes of slipway processes that are gone\n"
     "(killed with -9, a crash) and prints each thing removed.\n"
     "Options:\n"
     "      --json            print a JSON array of {kind, id}\n",
     cmd_prune},
    {NULL, NULL, NULL, NULL, NULL},
};

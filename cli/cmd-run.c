/* cli/cmd-run.c — `slipway run`, `rerun`, `cancel` and `ps`: one run of a repository's
 * pipeline in this process, with its output live and a summary table at the end. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli-store.h"
#include "cli/cli.h"
#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/proc.h"
#include "runner/container.h"
#include "runner/exec.h"
#include "scheduler/executor.h"
#include "store/store.h"

#define MAX_SECRETS 256

/* What the live view needs. */
struct live {
	struct cli *cli;
	bool color;
	int width; /* of the step column */
	int64_t run_id;
};

static const char *const palette[] = {"\033[36m", "\033[33m", "\033[35m", "\033[32m",
				      "\033[34m", "\033[96m", "\033[93m", "\033[95m"};

static const char *step_color(const char *name)
{
	unsigned h = 5381;

	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return palette[h % (sizeof(palette) / sizeof(palette[0]))];
}

static void live_started(void *data, const struct run_info *run, char *const *names, size_t n)
{
	struct live *lv = data;

	lv->run_id = run->id;
	lv->width = 7; /* "slipway" */
	for (size_t i = 0; i < n; i++)
		if ((int)strlen(names[i]) > lv->width)
			lv->width = (int)strlen(names[i]);
	if (lv->cli->json)
		return;
	printf("%srun %s#%lld%s  commit %.8s%s%s  (%s)\n", lv->color ? "\033[1m" : "", run->repo,
	       (long long)run->number, lv->color ? "\033[0m" : "", run->commit,
	       run->branch ? " on " : "", run->branch ? run->branch : "", run->event);
	fflush(stdout);
}

static void live_line(void *data, const char *step, enum log_stream stream, const char *text,
		      size_t len)
{
	struct live *lv = data;
	const char *name = step ? step : "slipway";

	(void)stream;
	if (lv->cli->json)
		return;
	if (lv->color)
		printf("%s%-*s\033[0m | %.*s\n", step ? step_color(name) : "\033[2m", lv->width,
		       name, (int)len, text);
	else
		printf("%-*s | %.*s\n", lv->width, name, (int)len, text);
	fflush(stdout);
}

static void live_status(void *data, const char *step, enum step_kind kind, enum step_status status,
			const struct container_result *res)
{
	struct live *lv = data;
	const char *col = "";

	(void)kind;
	if (lv->cli->json || !step_status_is_final(status))
		return;
	if (lv->color)
		col = status == STEP_PASSED	 ? "\033[32m"
		      : status == STEP_SKIPPED	 ? "\033[2m"
		      : status == STEP_CANCELLED ? "\033[33m"
						 : "\033[31m";
	if (res) {
		char dur[32];

		format_duration(res->wall_ms, dur, sizeof(dur));
		printf("%-*s | %s%s%s in %s (exit %d)\n", lv->width, step, col,
		       step_status_name(status), lv->color ? "\033[0m" : "", dur, res->exit_code);
	} else {
		printf("%-*s | %s%s%s\n", lv->width, step, col, step_status_name(status),
		       lv->color ? "\033[0m" : "");
	}
	fflush(stdout);
}

/* The signal thread: SIGINT/SIGTERM cancel the run (its containers stop, it is recorded). */
struct sigctx {
	struct executor *ex;
	sigset_t set;
	int signo;
};

static void *signal_thread(void *arg)
{
	struct sigctx *sc = arg;
	int sig;

	if (sigwait(&sc->set, &sig) == 0 && sig != SIGUSR1) {
		sc->signo = sig;
		executor_cancel(sc->ex);
	}
	return NULL;
}

/* The steps and deploys of the run as `slipway show` prints them, then one line with its end. */
static void print_summary(struct cli *cli, int64_t run_id, const struct executor_result *res)
{
	struct store *st = NULL;
	struct run_info *run = NULL;
	struct error *err = NULL;
	char label[160], dur[32];

	if (cli_open_store(cli, &st) != EXIT_OK)
		return;
	if (cli_show_run(cli, st, run_id, false) == EXIT_OK && !cli->json &&
	    store_run_get(st, run_id, &run, &err) == 0 && run) {
		format_duration(run->finished_at > run->started_at
				    ? (uint64_t)(run->finished_at - run->started_at)
				    : 0,
				dur, sizeof(dur));
		printf("\nrun %s %s in %s\n", cli_run_name(run, label, sizeof(label)),
		       run_status_name(run->status), dur);
		if (res->error)
			fprintf(stderr, "slipway: run %s: %s\n", label, res->error);
	}
	if (err) {
		error_print(err);
		error_free(err);
	}
	run_info_free(run);
	store_close(st);
}

/* What an interrupted run left: its containers (their owner is gone) and its workspace. */
int cli_cleanup_run(const struct run_info *run, void *data)
{
	struct cli *cli = data;
	struct container_host *h = NULL;
	struct error *err = NULL;
	int r = 0;

	if (container_host_open(cli->data_dir, &h, &err) < 0 ||
	    container_cleanup_stale(h, &err) < 0)
		r = -1;
	container_host_close(h);
	if (executor_cleanup_run(cli->data_dir, run->id, r < 0 ? NULL : &err) < 0)
		r = -1;
	if (r < 0 && err) {
		log_warn("clean up run %s#%lld: %s", run->repo, (long long)run->number, err->msg);
		error_free(err);
	}
	return r;
}

/* Marks runs whose process died as interrupted and removes what they left. */
static void recover(struct cli *cli)
{
	struct store *st = NULL;

	if (cli_open_store(cli, &st) != EXIT_OK)
		return;
	cli_recover(cli, st);
	store_close(st);
}

/* Runs one pipeline with live output; returns the exit status. */
static int do_run(struct cli *cli, struct executor_opts *o)
{
	struct executor *ex = NULL;
	struct executor_result res = {0};
	struct error *err = NULL;
	struct live lv = {.cli = cli, .color = cli->stdout_tty && !getenv("NO_COLOR")};
	struct sigctx sc = {0};
	pthread_t sigthr;
	sigset_t old;
	int rc;

	o->data_dir = cli->data_dir;
	o->observer = (struct executor_observer){.run_started = live_started,
						 .step_status = live_status,
						 .log_line = live_line,
						 .data = &lv};
	recover(cli);
	if (executor_new(o, &ex, &err) < 0)
		return cli_fail(err);
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sc.set, &old);
	sc.ex = ex;
	if (pthread_create(&sigthr, NULL, signal_thread, &sc) != 0) {
		executor_free(ex);
		return cli_fail((error_errno(&err, "start the signal thread"), err));
	}
	rc = executor_run(ex, &res, &err);
	pthread_kill(sigthr, SIGUSR1);
	pthread_join(sigthr, NULL);
	executor_free(ex);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		return cli_fail(err);
	if (res.skipped) {
		if (cli->json)
			printf("{\"skipped\":true}\n");
		else
			printf("pipeline skipped: its 'when' does not match this %s\n",
			       o->event ? o->event : "run");
		return EXIT_OK;
	}
	print_summary(cli, res.run_id, &res);
	switch (res.status) {
	case RUN_PASSED:
		rc = EXIT_OK;
		break;
	case RUN_CANCELLED:
		rc = sc.signo ? 128 + sc.signo : EXIT_FAILED;
		break;
	case RUN_ERROR:
		rc = EXIT_INTERNAL;
		break;
	default:
		rc = EXIT_FAILED;
	}
	executor_result_release(&res);
	return rc;
}

static int add_secret(struct cli *cli, char **secrets, size_t *n, const char *kv)
{
	const char *eq = strchr(kv, '=');

	if (!eq || eq == kv)
		return cli_usage(cli, "--secret wants NAME=VALUE");
	if (*n + 1 >= MAX_SECRETS)
		return cli_usage(cli, "too many secrets (at most %d)", MAX_SECRETS - 1);
	secrets[(*n)++] = (char *)kv;
	secrets[*n] = NULL;
	return EXIT_OK;
}

/* Secrets from a file of NAME=VALUE lines ('#' comments), so values stay out of argv. */
static int read_secrets_file(struct cli *cli, const char *path, char **secrets, size_t *n,
			     char **keep)
{
	struct error *err = NULL;
	char *data = NULL, *save = NULL;
	size_t len;

	if (read_file(path, 1u << 20, &data, &len, &err) < 0)
		return cli_fail(err);
	*keep = data;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int rc;

		if (*line == '#' || !*line)
			continue;
		if ((rc = add_secret(cli, secrets, n, line)) != EXIT_OK)
			return rc;
	}
	return EXIT_OK;
}

enum { OPT_NO_PUSH = 1000, OPT_NO_DEPLOY, OPT_KEEP, OPT_SECRETS_FILE, OPT_TAG, OPT_EVENT };

/* The flags of `run` and `rerun` (rerun takes the source from the recorded run). */
struct run_flags {
	struct executor_opts o;
	char *secrets[MAX_SECRETS];
	size_t n_secrets;
	char *secrets_data; /* the --secret-file contents the secrets point into */
};

static int parse_run_flags(struct cli *cli, int argc, char **argv, bool source,
			   struct run_flags *rf)
{
	static const struct option longopts[] = {
	    {"repo", required_argument, NULL, 'r'},
	    {"commit", required_argument, NULL, 'c'},
	    {"branch", required_argument, NULL, 'b'},
	    {"tag", required_argument, NULL, OPT_TAG},
	    {"event", required_argument, NULL, OPT_EVENT},
	    {"secret", required_argument, NULL, 's'},
	    {"secret-file", required_argument, NULL, OPT_SECRETS_FILE},
	    {"parallel", required_argument, NULL, 'j'},
	    {"no-push", no_argument, NULL, OPT_NO_PUSH},
	    {"no-deploy", no_argument, NULL, OPT_NO_DEPLOY},
	    {"keep", no_argument, NULL, OPT_KEEP},
	    CLI_COMMON_LONGOPTS};
	struct error *err = NULL;
	int opt, rc;
	int64_t par;

	while ((opt = cli_getopt(cli, argc, argv, "+hr:c:b:s:j:", longopts)) != -1) {
		if (!source &&
		    (opt == 'r' || opt == 'c' || opt == 'b' || opt == OPT_TAG || opt == OPT_EVENT))
			return cli_usage(cli, "the commit of a rerun is the recorded run's");
		switch (opt) {
		case 'r':
			rf->o.repo_path = optarg;
			break;
		case 'c':
			rf->o.rev = optarg;
			break;
		case 'b':
			rf->o.branch = optarg;
			break;
		case OPT_TAG:
			rf->o.tag = optarg;
			break;
		case OPT_EVENT:
			if (strcmp(optarg, "push") && strcmp(optarg, "tag") &&
			    strcmp(optarg, "manual") && strcmp(optarg, "rerun"))
				return cli_usage(cli, "--event is push, tag, manual or rerun");
			rf->o.event = optarg;
			break;
		case 's':
			if ((rc = add_secret(cli, rf->secrets, &rf->n_secrets, optarg)) != EXIT_OK)
				return rc;
			break;
		case OPT_SECRETS_FILE:
			if (rf->secrets_data)
				return cli_usage(cli, "--secret-file given twice");
			if ((rc = read_secrets_file(cli, optarg, rf->secrets, &rf->n_secrets,
						    &rf->secrets_data)) != EXIT_OK)
				return rc;
			break;
		case 'j':
			if (parse_int(optarg, 1, 64, &par, &err) < 0) {
				error_wrap(&err, "--parallel");
				return cli_fail(err);
			}
			rf->o.max_parallel = (int)par;
			break;
		case OPT_NO_PUSH:
			rf->o.no_push = true;
			break;
		case OPT_NO_DEPLOY:
			rf->o.no_deploy = true;
			break;
		case OPT_KEEP:
			rf->o.keep_workspace = true;
			break;
			CLI_COMMON_CASES(cli, argv);
		}
	}
	rf->o.secrets = rf->secrets;
	return -1;
}

static int cmd_run(struct cli *cli, int argc, char **argv)
{
	struct run_flags rf = {.o = {.repo_path = "."}};
	int rc;

	if ((rc = parse_run_flags(cli, argc, argv, true, &rf)) >= 0)
		goto out;
	if (optind != argc)
		rc = cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	else
		rc = do_run(cli, &rf.o);
out:
	free(rf.secrets_data);
	return rc;
}

static int open_history(struct cli *cli, struct store **st)
{
	int rc = cli_open_store(cli, st);

	if (rc == EXIT_OK)
		cli_recover(cli, *st);
	return rc;
}

static int cmd_rerun(struct cli *cli, int argc, char **argv)
{
	struct run_flags rf = {0};
	struct store *st = NULL;
	struct run_info *run = NULL;
	struct repo_info *repo = NULL;
	struct error *err = NULL;
	int rc;

	if ((rc = parse_run_flags(cli, argc, argv, false, &rf)) >= 0)
		goto out;
	if (argc - optind != 1) {
		rc = cli_usage(cli, "expected one RUN (REPO#NUMBER or an id)");
		goto out;
	}
	if ((rc = open_history(cli, &st)) != EXIT_OK)
		goto out;
	if ((rc = cli_find_run(st, argv[optind], &run, NULL)) != EXIT_OK)
		goto out;
	if (store_repo_get(st, run->repo, &repo, &err) < 0) {
		rc = cli_fail(err);
		goto out;
	}
	if (!repo || !repo->url) {
		error_failed(&err, "repo '%s' of run '%s' is gone", run->repo, argv[optind]);
		rc = cli_fail(err);
		goto out;
	}
	store_close(st);
	st = NULL;
	rf.o.repo_path = repo->url;
	rf.o.repo_name = repo->name;
	rf.o.rev = run->commit;
	rf.o.branch = run->branch;
	rf.o.tag = run->tag;
	rf.o.event = "rerun";
	rf.o.trigger = "rerun";
	rf.o.parent = run->id;
	rc = do_run(cli, &rf.o);
out:
	store_close(st);
	repo_info_free(repo);
	run_info_free(run);
	free(rf.secrets_data);
	return rc;
}

static int cmd_cancel(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS};
	struct store *st = NULL;
	struct run_info *run = NULL;
	struct error *err = NULL;
	int opt, rc;
	char label[200];

	while ((opt = cli_getopt(cli, argc, argv, "+h", longopts)) != -1) {
		switch (opt) {
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cli, "expected one RUN (REPO#NUMBER or an id)");
	if ((rc = open_history(cli, &st)) != EXIT_OK)
		return rc;
	if ((rc = cli_find_run(st, argv[optind], &run, NULL)) != EXIT_OK) {
		store_close(st);
		return rc;
	}
	cli_run_name(run, label, sizeof(label));
	if (run_status_is_final(run->status)) {
		error_failed(&err, "run '%s' already ended (%s)", label,
			     run_status_name(run->status));
		goto fail;
	}
	if (!run->owner_pid || proc_start_time(run->owner_pid) != run->owner_start) {
		cli_recover(cli, st);
		error_failed(&err, "run '%s' has no live process; recorded as interrupted", label);
		goto fail;
	}
	if (kill(run->owner_pid, SIGTERM) < 0) {
		error_errno(&err, "signal the process of run '%s'", label);
		goto fail;
	}
	/* Wait (up to a minute) for the run to record its end. */
	for (int i = 0; i < 600; i++) {
		struct run_info *now = NULL;

		if (store_run_get(st, run->id, &now, &err) < 0)
			goto fail;
		if (now && run_status_is_final(now->status)) {
			json_t *j = cli->json ? run_to_json(now, false, NULL, 0) : NULL;

			if (!j)
				printf("run %s %s\n", label, run_status_name(now->status));
			rc = j && json_print(j, &err) < 0 ? -1 : EXIT_OK;
			json_decref(j);
			run_info_free(now);
			if (rc < 0)
				goto fail;
			run_info_free(run);
			store_close(st);
			return EXIT_OK;
		}
		run_info_free(now);
		usleep(100 * 1000);
	}
	error_failed(&err, "run '%s' did not stop within a minute", label);
fail:
	run_info_free(run);
	store_close(st);
	return cli_fail(err);
}

static int cmd_ps(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS};
	struct store *st = NULL;
	struct run_info *runs = NULL;
	struct error *err = NULL;
	size_t n = 0;
	int opt, rc;
	json_t *out = NULL;

	while ((opt = cli_getopt(cli, argc, argv, "+h", longopts)) != -1) {
		switch (opt) {
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (optind != argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	if ((rc = open_history(cli, &st)) != EXIT_OK)
		return rc;
	if (store_runs_list(st, NULL, 1000, 0, &runs, &n, &err) < 0) {
		store_close(st);
		return cli_fail(err);
	}
	if (cli->json)
		out = json_array();
	else
		printf("%-24s  %-8s  %-8s  %-7s  %s\n", "RUN", "STATUS", "COMMIT", "PID",
		       "RUNNING");
	for (size_t i = 0; i < n; i++) {
		struct step_info *steps = NULL;
		size_t ns = 0;
		char label[160], running[512] = "";
		size_t used = 0;

		if (run_status_is_final(runs[i].status))
			continue;
		if (store_steps_of_run(st, runs[i].id, &steps, &ns, &err) < 0)
			break;
		for (size_t k = 0; k < ns && used < sizeof(running) - 1; k++)
			if (steps[k].status == STEP_RUNNING)
				used += (size_t)snprintf(running + used, sizeof(running) - used,
							 "%s%s", used ? "," : "", steps[k].name);
		if (used >= sizeof(running))
			used = sizeof(running) - 1;
		if (out) {
			json_t *j = run_to_json(&runs[i], true, steps, ns);

			json_object_set_new(j, "pid", json_integer(runs[i].owner_pid));
			json_array_append_new(out, j);
		} else {
			snprintf(label, sizeof(label), "%s#%lld", runs[i].repo,
				 (long long)runs[i].number);
			printf("%-24s  %-8s  %.8s  %-7d  %s\n", label,
			       run_status_name(runs[i].status), runs[i].commit,
			       (int)runs[i].owner_pid, running);
		}
		step_infos_free(steps, ns);
	}
	run_infos_free(runs, n);
	store_close(st);
	if (err) {
		json_decref(out);
		return cli_fail(err);
	}
	if (out) {
		rc = json_print(out, &err) < 0 ? cli_fail(err) : EXIT_OK;
		json_decref(out);
		return rc;
	}
	return EXIT_OK;
}

/* The init pid of RUN/STEP's live container, from the executor's pid file. */
static int step_pid(struct cli *cli, const struct run_info *run, const char *step, pid_t *pid,
		    struct error **err)
{
	cleanup_free char *path = NULL, *data = NULL;
	long long p = 0, start = 0;
	size_t len;
	char label[160];

	cli_run_name(run, label, sizeof(label));
	if (run_status_is_final(run->status))
		return error_failed(err, "run '%s' has ended (%s): nothing to exec into", label,
				    run_status_name(run->status));
	if (asprintf(&path, "%s/work/%lld/pids/%s", cli->data_dir, (long long)run->id, step) < 0)
		return error_errnum(err, ENOMEM, "exec");
	if (read_file(path, 64, &data, &len, NULL) < 0 ||
	    sscanf(data, "%lld %lld", &p, &start) != 2 || proc_start_time((pid_t)p) != start)
		return error_failed(err, "step '%s' of run '%s' is not running", step, label);
	*pid = (pid_t)p;
	return 0;
}

static int cmd_exec(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"user", required_argument, NULL, 'u'},
						 {"workdir", required_argument, NULL, 'w'},
						 {"env", required_argument, NULL, 'e'},
						 CLI_COMMON_LONGOPTS};
	struct container_exec_opts o = {.data_dir = cli->data_dir};
	char *env[64] = {NULL};
	size_t n_env = 0;
	struct store *st = NULL;
	struct run_info *run = NULL;
	struct error *err = NULL;
	const char *step = NULL;
	pid_t pid = 0;
	int opt, rc, status = 0;

	while ((opt = cli_getopt(cli, argc, argv, "+hu:w:e:", longopts)) != -1) {
		switch (opt) {
		case 'u':
			o.user = optarg;
			break;
		case 'w':
			o.workdir = optarg;
			break;
		case 'e':
			if (!strchr(optarg, '=') || *optarg == '=')
				return cli_usage(cli, "--env wants K=V");
			if (n_env + 1 >= sizeof(env) / sizeof(env[0]))
				return cli_usage(cli, "too many --env");
			env[n_env++] = optarg;
			break;
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind < 2)
		return cli_usage(cli, "expected RUN/STEP and a command");
	if ((rc = open_history(cli, &st)) != EXIT_OK)
		return rc;
	rc = cli_find_run(st, argv[optind], &run, &step);
	store_close(st);
	if (rc != EXIT_OK)
		return rc;
	if (!step) {
		run_info_free(run);
		return cli_usage(cli, "name the step: RUN/STEP");
	}
	if (step_pid(cli, run, step, &pid, &err) < 0) {
		run_info_free(run);
		return cli_fail(err);
	}
	run_info_free(run);
	o.argv = argv + optind + 1;
	o.env = env;
	if (container_exec(pid, &o, &status, &err) < 0)
		return cli_fail(err);
	return status;
}

const struct command commands_run[] = {
    {"run", "run a repository's .slipway.yml once, here and now",
     "[--repo DIR] [--commit REV] [--branch B] [--tag T] [--event E] [--secret K=V]... "
     "[--no-push] [--no-deploy]",
     "Checks out the commit (default HEAD) of the repository (default .), builds its image,\n"
     "starts its services, runs its steps as a DAG in isolated containers, pushes the image\n"
     "and runs its deploys, recording everything in the history. Output is shown live, one\n"
     "line per output line prefixed with its step; a table of the steps ends it.\n"
     "Exit status: 0 passed, 1 failed, 2 bad input (.slipway.yml, a missing secret),\n"
     "3 slipway itself failed, 130/143 cancelled by SIGINT/SIGTERM.\n"
     "Options:\n"
     "  -r, --repo DIR        the repository (a work tree or a bare repository)\n"
     "  -c, --commit REV      the commit to run (branch, tag or sha; default HEAD)\n"
     "  -b, --branch B        the branch the run is for (default HEAD's branch)\n"
     "      --tag T           the tag the run is for (event defaults to 'tag')\n"
     "      --event E         push, tag, manual (default) or rerun\n"
     "  -s, --secret K=V      a secret for `from_secret: K` (repeatable)\n"
     "      --secret-file F   secrets as NAME=VALUE lines (keeps them out of argv)\n"
     "  -j, --parallel N      steps at once (default: the number of CPUs)\n"
     "      --no-push         do not push the image\n"
     "      --no-deploy       do not run the deploys\n"
     "      --keep            keep $DATA/work/<run> after the run\n"
     "      --json            print the run as JSON at the end instead of live output\n",
     cmd_run},
    {"rerun", "run a recorded run's commit again", "RUN [--secret K=V]...",
     "RUN is REPO#NUMBER or a run id. The new run has event 'rerun' and points at RUN as\n"
     "its parent. Secrets are not stored: give them again. Options as for 'run'.\n",
     cmd_rerun},
    {"cancel", "stop a live run", "RUN",
     "Sends SIGTERM to the process running RUN: its containers stop and it is recorded as\n"
     "cancelled. Waits until the run has ended.\n",
     cmd_cancel},
    {"ps", "list the live runs and their running steps", "[--json]", "", cmd_ps},
    {"exec", "run a command inside a running step or service",
     "RUN/STEP [-u USER] [-w DIR] [-e K=V]... [--] CMD [ARG...]",
     "Joins the step's container (its namespaces, cgroup, root and confinement: default\n"
     "capabilities, no_new_privs, seccomp) with the step command's environment and working\n"
     "directory, like 'docker exec'. Exits with the command's status.\n"
     "Options:\n"
     "  -u, --user USER       UID[:GID] or a name of the container's /etc/passwd (default root)\n"
     "  -w, --workdir DIR     the working directory\n"
     "  -e, --env K=V         an extra environment variable (repeatable)\n",
     cmd_exec},
    {NULL, NULL, NULL, NULL, NULL},
};

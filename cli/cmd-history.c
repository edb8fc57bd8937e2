/* cli/cmd-history.c — `slipway runs`, `slipway show RUN`, `slipway logs [-f] [-t] RUN[/STEP]`:
 * the history in the store as tables, JSON and log text, and following a live run. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include "cli/cli-store.h"
#include "cli/cli.h"
#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/parse.h"

/* The widest a free-text cell (branch, step name, error) is shown in a table. */
#define CELL_MAX_COLS 48
/* How often `logs -f` looks at the store, and how often it checks the run's owner lives. */
#define FOLLOW_POLL_MS 150
#define FOLLOW_RECOVER_MS 2000

/* ---- output helpers ---- */

static bool use_colour(const struct cli *cli)
{
	const char *no = getenv("NO_COLOR");

	return cli->stdout_tty && !(no && *no);
}

/* The SGR colour of a status name: green passed, red failed or error, yellow running, blue
 * queued or pending, grey for the rest (skipped, cancelled, interrupted). */
static const char *status_colour(const char *status)
{
	if (!strcmp(status, "passed"))
		return "32";
	if (!strcmp(status, "failed") || !strcmp(status, "error"))
		return "31";
	if (!strcmp(status, "running"))
		return "33";
	if (!strcmp(status, "queued") || !strcmp(status, "pending"))
		return "34";
	return "90";
}

/* The character at s (of len bytes): its byte length, and its columns (-1 when it does not
 * print, or is not valid UTF-8: shown as one '?'). */
static size_t next_char(const char *s, size_t len, mbstate_t *ps, int *cols)
{
	wchar_t wc;
	size_t n = mbrtowc(&wc, s, len, ps);

	if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
		memset(ps, 0, sizeof(*ps));
		*cols = -1;
		return 1;
	}
	*cols = iswprint((wint_t)wc) ? wcwidth(wc) : -1;
	return n;
}

/* Copies s for a terminal cell: characters that do not print become '?', and past max_cols
 * columns it is cut with an ellipsis. *cols gets the columns it takes. Caller frees. */
static char *cell_text(const char *s, size_t max_cols, size_t *cols)
{
	size_t len = strlen(s), o = 0, w = 0, total = 0, room;
	char *out = malloc(len + 4);
	mbstate_t ps = {0};
	int cw;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		i += next_char(s + i, len - i, &ps, &cw);
		total += cw < 0 ? 1 : (size_t)cw;
	}
	memset(&ps, 0, sizeof(ps));
	room = total > max_cols ? max_cols - 1 : max_cols; /* one column for the ellipsis */
	for (size_t i = 0, n; i < len; i += n) {
		n = next_char(s + i, len - i, &ps, &cw);
		if (w + (cw < 0 ? 1 : (size_t)cw) > room)
			break;
		if (cw < 0) {
			out[o++] = '?';
			w++;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
			w += (size_t)cw;
		}
	}
	if (total > max_cols) {
		memcpy(out + o, "\u2026", 3);
		o += 3;
		w++;
	}
	out[o] = '\0';
	*cols = w;
	return out;
}

/* A table printed with its columns as wide as their widest cell. */
#define TABLE_MAX_COLS 8

struct cell {
	char *text; /* owned, as cell_text made it */
	size_t cols;
	const char *colour; /* an SGR code, or NULL */
};

struct table {
	size_t ncols;
	const char *const *heads;
	const bool *right;  /* right-aligned columns, or NULL */
	struct cell *cells; /* rows * ncols */
	size_t rows, alloc;
	bool colour;
};

static void table_init(struct table *t, const char *const *heads, size_t ncols, const bool *right,
		       bool colour)
{
	assert(ncols <= TABLE_MAX_COLS);
	*t = (struct table){.ncols = ncols, .heads = heads, .right = right, .colour = colour};
}

static void table_release(struct table *t)
{
	for (size_t i = 0; i < t->rows * t->ncols; i++)
		free(t->cells[i].text);
	free(t->cells);
}

/* Adds a row of ncols texts (NULL shows as "-"); colours[i] is an SGR code or NULL. */
static int table_add(struct table *t, const char *const *texts, const char *const *colours,
		     struct error **err)
{
	struct cell *row;

	if (t->rows == t->alloc) {
		size_t na = t->alloc ? t->alloc * 2 : 16;
		struct cell *nv = reallocarray(t->cells, na * t->ncols, sizeof(*nv));

		if (!nv)
			return error_errno(err, "print table");
		t->cells = nv;
		t->alloc = na;
	}
	row = &t->cells[t->rows * t->ncols];
	for (size_t i = 0; i < t->ncols; i++) {
		row[i].text = cell_text(texts[i] ? texts[i] : "-", CELL_MAX_COLS, &row[i].cols);
		row[i].colour = colours ? colours[i] : NULL;
		if (!row[i].text) {
			while (i-- > 0)
				free(row[i].text);
			return error_errno(err, "print table");
		}
	}
	t->rows++;
	return 0;
}

static void print_cell(const struct table *t, const struct cell *c, size_t width, size_t col)
{
	bool right = t->right && t->right[col];
	bool last = col + 1 == t->ncols;
	size_t pad = width > c->cols ? width - c->cols : 0;

	if (right)
		printf("%*s", (int)pad, "");
	if (c->colour && t->colour)
		printf("\033[%sm%s\033[0m", c->colour, c->text);
	else
		fputs(c->text, stdout);
	if (!right && !last)
		printf("%*s", (int)pad, "");
	if (!last)
		fputs("  ", stdout);
}

static void table_print(const struct table *t)
{
	size_t width[TABLE_MAX_COLS] = {0};

	for (size_t c = 0; c < t->ncols; c++) {
		width[c] = strlen(t->heads[c]);
		for (size_t r = 0; r < t->rows; r++)
			if (t->cells[r * t->ncols + c].cols > width[c])
				width[c] = t->cells[r * t->ncols + c].cols;
	}
	for (size_t c = 0; c < t->ncols; c++)
		print_cell(t, &(struct cell){(char *)t->heads[c], strlen(t->heads[c]), NULL},
			   width[c], c);
	putchar('\n');
	for (size_t r = 0; r < t->rows; r++) {
		for (size_t c = 0; c < t->ncols; c++)
			print_cell(t, &t->cells[r * t->ncols + c], width[c], c);
		putchar('\n');
	}
}

/* "12s ago", "3m ago", "5h ago", "2d ago"; past 30 days the date. "-" when never. */
static void format_ago(int64_t then_ms, int64_t now_ms, char *out, size_t len)
{
	int64_t s = (now_ms - then_ms) / 1000;

	if (then_ms <= 0) {
		snprintf(out, len, "-");
	} else if (s < 1) {
		snprintf(out, len, "just now");
	} else if (s < 60) {
		snprintf(out, len, "%llds ago", (long long)s);
	} else if (s < 3600) {
		snprintf(out, len, "%lldm ago", (long long)(s / 60));
	} else if (s < 86400) {
		snprintf(out, len, "%lldh ago", (long long)(s / 3600));
	} else if (s < 30 * 86400) {
		snprintf(out, len, "%lldd ago", (long long)(s / 86400));
	} else {
		time_t t = (time_t)(then_ms / 1000);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(out, len, "%Y-%m-%d", &tm);
	}
}

/* From start to end (to now while it runs); "-" before the start. */
static void format_span(int64_t start, int64_t end, int64_t now_ms, char *out, size_t len)
{
	int64_t ms = (end > 0 ? end : now_ms) - start;

	if (start <= 0)
		snprintf(out, len, "-");
	else
		format_duration(ms > 0 ? (uint64_t)ms : 0, out, len);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ends stdout's output: a reader that went away (`| head`) is not an error. */
static int finish_output(int rc)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno == EPIPE)
			return rc;
		fprintf(stderr, "slipway: write to stdout: %s\n", strerror(errno));
		return EXIT_INTERNAL;
	}
	return rc;
}

static int print_json(json_t *j)
{
	struct error *err = NULL;

	if (!j) {
		fprintf(stderr, "slipway: build JSON: out of memory\n");
		return EXIT_INTERNAL;
	}
	if (json_print(j, &err) < 0) {
		json_decref(j);
		if (err->errnum == EPIPE) {
			error_free(err);
			return EXIT_OK;
		}
		return cli_fail(err);
	}
	json_decref(j);
	return EXIT_OK;
}

/* open_history's answer for a data dir without a database. */
#define HISTORY_EMPTY (-1)

/* Opens the store and recovers runs whose process died (a reader shows them interrupted).
 * A data dir without a database is an empty history, and a command that only reads does not
 * create one (a mistyped --data-dir must not leave a database behind): HISTORY_EMPTY, or for
 * a command given a run (ref) an input error naming the directory. */
static int open_history(struct cli *cli, struct store **st, const char *ref)
{
	cleanup_free char *path = path_join(cli->data_dir, "slipway.db");
	int rc;

	*st = NULL;
	if (path && access(path, F_OK) < 0 && errno == ENOENT) {
		if (!ref)
			return HISTORY_EMPTY;
		fprintf(stderr, "slipway: no run '%s': no history in '%s' (no slipway.db there)\n",
			ref, cli->data_dir);
		return EXIT_USAGE;
	}
	rc = cli_open_store(cli, st);

	if (rc == EXIT_OK)
		cli_recover(cli, *st);
	return rc;
}

/* ---- slipway runs ---- */

/* "failed,error" into a mask of run statuses. */
static int parse_statuses(struct cli *cli, const char *arg, unsigned *mask)
{
	cleanup_free char *copy = strdup(arg);
	char *save = NULL;

	if (!copy)
		return EXIT_INTERNAL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int s = run_status_parse(tok);

		if (s < 0)
			return cli_usage(cli,
					 "unknown run status '%s': use queued, running, passed, "
					 "failed, error, cancelled or interrupted",
					 tok);
		*mask |= 1u << s;
	}
	if (!*mask)
		return cli_usage(cli, "--status needs at least one status");
	return -1;
}

static int print_runs_table(struct cli *cli, const struct run_info *runs, size_t n)
{
	static const char *const heads[] = {"RUN",   "STATUS",	"BRANCH",  "COMMIT",
					    "EVENT", "STARTED", "DURATION"};
	struct table t;
	struct error *err = NULL;
	int64_t now = now_ms();

	table_init(&t, heads, ARRAY_SIZE(heads), NULL, use_colour(cli));
	for (size_t i = 0; i < n; i++) {
		const struct run_info *r = &runs[i];
		const char *status = run_status_name(r->status);
		char name[200], commit[9], ago[32], span[32];
		const char *texts[ARRAY_SIZE(heads)];
		const char *colours[ARRAY_SIZE(heads)] = {NULL, status_colour(status)};

		snprintf(commit, sizeof(commit), "%s", r->commit ? r->commit : "");
		format_ago(r->started_at, now, ago, sizeof(ago));
		format_span(r->started_at, r->finished_at, now, span, sizeof(span));
		texts[0] = cli_run_name(r, name, sizeof(name));
		texts[1] = status;
		texts[2] = r->branch ? r->branch : r->tag;
		texts[3] = commit;
		texts[4] = r->event;
		texts[5] = ago;
		texts[6] = span;
		if (table_add(&t, texts, colours, &err) < 0) {
			table_release(&t);
			return cli_fail(err);
		}
	}
	table_print(&t);
	table_release(&t);
	return finish_output(EXIT_OK);
}

static int cmd_runs(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"limit", required_argument, NULL, 'n'},
						 {"status", required_argument, NULL, 's'},
						 {"branch", required_argument, NULL, 'b'},
						 {"event", required_argument, NULL, 'e'},
						 CLI_COMMON_LONGOPTS};
	struct run_query q = {.limit = 25};
	struct store *st = NULL;
	struct run_info *runs = NULL;
	struct error *err = NULL;
	size_t n = 0;
	int64_t limit;
	int opt, rc;

	while ((opt = cli_getopt(cli, argc, argv, "hn:s:b:e:", longopts)) != -1) {
		switch (opt) {
		case 'b':
			q.branch = optarg;
			break;
		case 'e':
			q.event = optarg;
			break;
		case 'n':
			if (parse_int(optarg, 1, 100000, &limit, &err) < 0)
				return cli_fail(err);
			q.limit = (int)limit;
			break;
		case 's':
			if ((rc = parse_statuses(cli, optarg, &q.status_mask)) >= 0)
				return rc;
			break;
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind > 1)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind + 1]);
	q.repo = argc - optind == 1 ? argv[optind] : NULL;
	rc = open_history(cli, &st, NULL);
	if (rc == HISTORY_EMPTY && q.repo) {
		error_usage(&err, "no repo '%s' in the history", q.repo);
		return cli_fail(err);
	}
	if (rc == HISTORY_EMPTY)
		goto print;
	if (rc != EXIT_OK)
		return rc;
	if (q.repo) {
		struct repo_info *repo = NULL;

		if (store_repo_get(st, q.repo, &repo, &err) < 0)
			goto fail;
		if (!repo) {
			error_usage(&err, "no repo '%s' in the history", q.repo);
			goto fail;
		}
		repo_info_free(repo);
	}
	if (store_runs_query(st, &q, &runs, &n, &err) < 0)
		goto fail;
	store_close(st);
print:
	if (cli->json) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < n; i++)
			if (json_array_append_new(a, run_to_json(&runs[i], false, NULL, 0)) < 0) {
				json_decref(a);
				a = NULL;
			}
		run_infos_free(runs, n);
		return print_json(a);
	}
	rc = print_runs_table(cli, runs, n);
	run_infos_free(runs, n);
	return rc;
fail:
	store_close(st);
	return cli_fail(err);
}

/* ---- slipway show ---- */

struct run_details {
	struct run_info *run;
	struct run_info *parent; /* NULL when none or deleted */
	struct step_info *steps;
	size_t nsteps;
	struct deploy_record *deploys;
	size_t ndeploys;
};

static void run_details_release(struct run_details *d)
{
	run_info_free(d->run);
	run_info_free(d->parent);
	step_infos_free(d->steps, d->nsteps);
	deploy_records_free(d->deploys, d->ndeploys);
}

static json_t *details_json(const struct run_details *d)
{
	json_t *j = run_to_json(d->run, true, d->steps, d->nsteps);
	json_t *steps = j ? json_object_get(j, "steps") : NULL;
	json_t *deploys = json_array();

	for (size_t i = 0; steps && i < d->nsteps; i++)
		json_object_set_new(json_array_get(steps, i), "kind",
				    json_string(step_kind_name(d->steps[i].kind)));
	for (size_t i = 0; deploys && i < d->ndeploys; i++)
		json_array_append_new(deploys, deploy_to_json(&d->deploys[i]));
	if (!j || !deploys) {
		json_decref(j);
		json_decref(deploys);
		return NULL;
	}
	if (json_object_set_new(j, "deploys", deploys) < 0 ||
	    json_object_set_new(j, "error",
				d->run->error ? json_string(d->run->error) : json_null()) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void print_field(const char *label, const char *value)
{
	size_t cols;
	cleanup_free char *v = cell_text(value ? value : "-", 4096, &cols);

	printf("%-10s%s\n", label, v ? v : "?");
}

static void print_time_field(const char *label, int64_t ms, int64_t now)
{
	char when[40], ago[32], both[80];

	if (ms <= 0) {
		print_field(label, NULL);
		return;
	}
	store_format_time(ms, when, sizeof(when));
	format_ago(ms, now, ago, sizeof(ago));
	snprintf(both, sizeof(both), "%s (%s)", when, ago);
	print_field(label, both);
}

static void print_run_header(struct cli *cli, const struct run_details *d)
{
	const struct run_info *r = d->run;
	const char *status = run_status_name(r->status);
	char name[200], line[512], span[32];
	int64_t now = now_ms();

	snprintf(line, sizeof(line), "%s (id %lld)", cli_run_name(r, name, sizeof(name)),
		 (long long)r->id);
	print_field("Run:", line);
	if (use_colour(cli))
		printf("%-10s\033[%sm%s\033[0m\n", "Status:", status_colour(status), status);
	else
		print_field("Status:", status);
	print_field("Commit:", r->commit);
	if (r->branch)
		print_field("Branch:", r->branch);
	if (r->tag)
		print_field("Tag:", r->tag);
	snprintf(line, sizeof(line), "%s (trigger %s)", r->event, r->trigger);
	print_field("Event:", line);
	if (r->parent > 0) {
		if (d->parent)
			snprintf(line, sizeof(line), "%s (id %lld)",
				 cli_run_name(d->parent, name, sizeof(name)), (long long)r->parent);
		else
			snprintf(line, sizeof(line), "id %lld (deleted)", (long long)r->parent);
		print_field("Parent:", line);
	}
	if (r->image_digest)
		print_field("Image:", r->image_digest);
	print_time_field("Queued:", r->queued_at, now);
	print_time_field("Started:", r->started_at, now);
	print_time_field("Finished:", r->finished_at, now);
	format_span(r->started_at, r->finished_at, now, span, sizeof(span));
	print_field("Duration:", span);
	if (r->error)
		print_field("Error:", r->error);
}

static int add_step_row(struct table *t, const struct step_info *s, int64_t now, struct error **err)
{
	char name[300], status[64], exitc[16], span[32], cpu[32], mem[80], peak[32], lim[32];
	const char *sname = step_status_name(s->status);
	const char *colours[6] = {NULL, status_colour(sname)};
	const char *texts[6] = {name, status, exitc, span, cpu, mem};

	if (s->kind == STEP_KIND_STEP)
		snprintf(name, sizeof(name), "%s", s->name);
	else
		snprintf(name, sizeof(name), "%s (%s)", s->name, step_kind_name(s->kind));
	snprintf(status, sizeof(status), "%s%s%s", sname, s->oom_killed ? " (oom)" : "",
		 s->timed_out ? " (timeout)" : "");
	if (s->exit_code >= 0)
		snprintf(exitc, sizeof(exitc), "%d", s->exit_code);
	else
		texts[2] = NULL;
	format_span(s->started_at, s->finished_at, now, span, sizeof(span));
	if (s->cpu_us >= 0)
		format_duration((uint64_t)s->cpu_us / 1000, cpu, sizeof(cpu));
	else
		texts[4] = NULL;
	if (s->memory_peak_bytes >= 0) {
		format_size((uint64_t)s->memory_peak_bytes, peak, sizeof(peak));
		if (s->memory_limit_bytes >= 0) {
			format_size((uint64_t)s->memory_limit_bytes, lim, sizeof(lim));
			snprintf(mem, sizeof(mem), "%s / %s", peak, lim);
		} else {
			snprintf(mem, sizeof(mem), "%s", peak);
		}
	} else {
		texts[5] = NULL;
	}
	return table_add(t, texts, colours, err);
}

static int add_deploy_row(struct table *t, const struct deploy_record *d, int64_t now,
			  struct error **err)
{
	char response[16], attempts[16], span[32];
	const char *sname = step_status_name(d->status);
	const char *colours[7] = {NULL, NULL, status_colour(sname ? sname : "")};
	const char *texts[7] = {d->name, deploy_kind_name(d->kind), sname, response, attempts, span,
				d->error};

	if (d->http_status > 0)
		snprintf(response, sizeof(response), "%d", d->http_status);
	else
		texts[3] = NULL;
	snprintf(attempts, sizeof(attempts), "%d", d->attempts);
	format_span(d->started_at, d->finished_at, now, span, sizeof(span));
	return table_add(t, texts, colours, err);
}

static int print_details(struct cli *cli, const struct run_details *d, bool header)
{
	static const char *const step_heads[] = {"STEP",     "STATUS", "EXIT",
						 "DURATION", "CPU",    "MEM PEAK"};
	static const bool step_right[] = {false, false, true, true, true, true};
	static const char *const deploy_heads[] = {"DEPLOY",   "KIND",	   "STATUS", "RESPONSE",
						   "ATTEMPTS", "DURATION", "ERROR"};
	static const bool deploy_right[] = {false, false, false, true, true, true, false};
	struct table t;
	struct error *err = NULL;
	int64_t now = now_ms();

	if (header)
		print_run_header(cli, d);
	if (d->nsteps) {
		putchar('\n');
		table_init(&t, step_heads, ARRAY_SIZE(step_heads), step_right, use_colour(cli));
		for (size_t i = 0; i < d->nsteps; i++)
			if (add_step_row(&t, &d->steps[i], now, &err) < 0)
				goto fail;
		table_print(&t);
		table_release(&t);
	}
	if (d->ndeploys) {
		putchar('\n');
		table_init(&t, deploy_heads, ARRAY_SIZE(deploy_heads), deploy_right,
			   use_colour(cli));
		for (size_t i = 0; i < d->ndeploys; i++)
			if (add_deploy_row(&t, &d->deploys[i], now, &err) < 0)
				goto fail;
		table_print(&t);
		table_release(&t);
	}
	return finish_output(EXIT_OK);
fail:
	table_release(&t);
	return cli_fail(err);
}

static int load_details(struct store *st, struct run_details *d, struct error **err)
{
	if (d->run->parent > 0 && store_run_get(st, d->run->parent, &d->parent, err) < 0)
		return -1;
	if (store_steps_of_run(st, d->run->id, &d->steps, &d->nsteps, err) < 0 ||
	    store_deploys_of_run(st, d->run->id, &d->deploys, &d->ndeploys, err) < 0)
		return -1;
	return 0;
}

static int cmd_show(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS};
	struct run_details d = {0};
	struct store *st = NULL;
	struct error *err = NULL;
	int opt, rc;

	while ((opt = cli_getopt(cli, argc, argv, "h", longopts)) != -1) {
		switch (opt) {
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cli, argc - optind ? "expected one RUN" : "missing RUN");
	if ((rc = open_history(cli, &st, argv[optind])) != EXIT_OK)
		return rc;
	rc = cli_find_run(st, argv[optind], &d.run, NULL);
	if (rc == EXIT_OK && load_details(st, &d, &err) < 0)
		rc = cli_fail(err);
	store_close(st);
	if (rc == EXIT_OK)
		rc = cli->json ? print_json(details_json(&d)) : print_details(cli, &d, true);
	run_details_release(&d);
	return rc;
}

int cli_show_run(struct cli *cli, struct store *st, int64_t run_id, bool header)
{
	struct run_details d = {0};
	struct error *err = NULL;
	int rc = EXIT_OK;

	if (store_run_get(st, run_id, &d.run, &err) < 0 ||
	    (!d.run && error_failed(&err, "no run %lld", (long long)run_id) < 0) ||
	    load_details(st, &d, &err) < 0)
		rc = cli_fail(err);
	else
		rc = cli->json ? print_json(details_json(&d)) : print_details(cli, &d, header);
	run_details_release(&d);
	return rc;
}

/* ---- slipway logs ---- */

struct log_printer {
	struct cli *cli;
	struct store *st;
	int64_t run_id;
	int64_t last_id; /* the last line printed */
	bool timestamps; /* -t */
	bool prefix;	 /* all the run's lines: each prefixed with its step's name */
	bool colour;
	struct step_info *steps;
	size_t nsteps;
	char **prefixes;  /* nsteps + 1: each step's "name    | ", then the run's own */
	int64_t time_sec; /* the second time_text was formatted for (-t) */
	char time_text[40];
	bool failed; /* writing stdout failed */
};

static void free_prefixes(struct log_printer *p)
{
	for (size_t i = 0; p->prefixes && i <= p->nsteps; i++)
		free(p->prefixes[i]);
	free(p->prefixes);
	p->prefixes = NULL;
}

static void log_printer_release(struct log_printer *p)
{
	free_prefixes(p);
	step_infos_free(p->steps, p->nsteps);
}

static const char *step_name_of(struct log_printer *p, int64_t step_id, size_t *index)
{
	for (size_t i = 0; i < p->nsteps; i++)
		if (p->steps[i].id == step_id) {
			*index = i;
			return p->steps[i].name;
		}
	*index = p->nsteps;
	return NULL;
}

/* Formats the prefixes once: a name (coloured per step on a terminal), padded to the longest,
 * then " | ". */
static int make_prefixes(struct log_printer *p, struct error **err)
{
	static const char *const palette[] = {"36", "33", "32", "35", "34", "96", "93", "92"};
	size_t width = strlen("slipway"), *cols;
	char **shown;

	shown = calloc(p->nsteps + 1, sizeof(*shown));
	cols = calloc(p->nsteps + 1, sizeof(*cols));
	p->prefixes = calloc(p->nsteps + 1, sizeof(*p->prefixes));
	for (size_t i = 0; shown && cols && p->prefixes && i <= p->nsteps; i++) {
		shown[i] = cell_text(i < p->nsteps ? p->steps[i].name : "slipway", CELL_MAX_COLS,
				     &cols[i]);
		if (shown[i] && cols[i] > width)
			width = cols[i];
	}
	for (size_t i = 0; shown && cols && p->prefixes && i <= p->nsteps; i++) {
		const char *colour = i < p->nsteps ? palette[i % ARRAY_SIZE(palette)] : "90";

		if (!shown[i] ||
		    asprintf(&p->prefixes[i], "%s%s%s%s%*s | ", p->colour ? "\033[" : "",
			     p->colour ? colour : "", p->colour ? "m" : "", shown[i],
			     (int)(width - cols[i]) + (p->colour ? 4 : 0),
			     p->colour ? "\033[0m" : "") < 0)
			p->prefixes[i] = NULL;
	}
	for (size_t i = 0; shown && i <= p->nsteps; i++)
		free(shown[i]);
	free(shown);
	free(cols);
	for (size_t i = 0; p->prefixes && i <= p->nsteps; i++)
		if (!p->prefixes[i])
			return error_errnum(err, ENOMEM, "print log");
	return p->prefixes ? 0 : error_errnum(err, ENOMEM, "print log");
}

/* Reads the run's steps again (a live run may have created more). */
static int load_steps(struct log_printer *p, struct error **err)
{
	free_prefixes(p);
	step_infos_free(p->steps, p->nsteps);
	p->steps = NULL;
	p->nsteps = 0;
	if (store_steps_of_run(p->st, p->run_id, &p->steps, &p->nsteps, err) < 0)
		return -1;
	return make_prefixes(p, err);
}

/* The name of the line's step; a step created after the last look reloads the list. NULL
 * for the run's own lines. *index: the step's place, or nsteps for the run's own lines. */
static const char *step_label(struct log_printer *p, int64_t step_id, size_t *index)
{
	struct error *err = NULL;
	const char *name;

	*index = p->nsteps;
	if (!step_id)
		return NULL;
	name = step_name_of(p, step_id, index);
	if (!name && load_steps(p, &err) == 0)
		name = step_name_of(p, step_id, index);
	error_free(err);
	return name ? name : "?";
}

static void print_prefix(struct log_printer *p, const struct log_line *l)
{
	size_t index;

	step_label(p, l->step_id, &index);
	if (p->prefixes && index <= p->nsteps)
		fputs(p->prefixes[index], stdout);
	else
		fputs("? | ", stdout);
}

/* The line's time as store_format_time gives it; the date part is formatted once a second. */
static const char *line_time(struct log_printer *p, int64_t t_ms)
{
	if (t_ms / 1000 != p->time_sec || !p->time_text[0]) {
		store_format_time(t_ms, p->time_text, sizeof(p->time_text));
		p->time_sec = t_ms / 1000;
	} else if (strlen(p->time_text) == 24) { /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
		int ms = (int)(t_ms % 1000);

		p->time_text[20] = (char)('0' + ms / 100);
		p->time_text[21] = (char)('0' + ms / 10 % 10);
		p->time_text[22] = (char)('0' + ms % 10);
	} else {
		store_format_time(t_ms, p->time_text, sizeof(p->time_text));
	}
	return p->time_text;
}

static int print_line_json(struct log_printer *p, const struct log_line *l)
{
	char when[40];
	size_t index;
	json_t *j;

	store_format_time(l->t_ms, when, sizeof(when));
	j = json_pack("{s:I, s:s, s:s?, s:s, s:s%}", "id", (json_int_t)l->id, "time", when, "step",
		      step_label(p, l->step_id, &index), "stream", log_stream_name(l->stream),
		      "text", l->text, l->len);
	if (!j || json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0 ||
	    putchar('\n') == EOF) {
		json_decref(j);
		return -1;
	}
	json_decref(j);
	return 0;
}

/* The length of the escape sequence at s (s[0] is ESC) when it only sets colours or styles
 * (SGR: ESC [ digits ; : m), else 0. */
static size_t sgr_len(const char *s, size_t len)
{
	size_t i = 2;

	if (len < 3 || s[1] != '[')
		return 0;
	while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == ';' || s[i] == ':'))
		i++;
	return i < len && s[i] == 'm' ? i + 1 : 0;
}

/* Writes a log line's text. To a terminal, a step's output keeps its colours (SGR) but no
 * other control: a hostile build must not retitle the window, write the clipboard (OSC 52)
 * or move the cursor; such bytes show as '?'. Elsewhere the text goes out as stored. */
static void print_text(const char *s, size_t len, bool tty)
{
	size_t start = 0;

	if (!tty) {
		fwrite(s, 1, len, stdout);
		return;
	}
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t keep = 0, drop = 0;

		if (c == 0x1b)
			keep = sgr_len(s + i, len - i), drop = keep ? 0 : 1;
		else if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
			drop = 1;
		else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
			 (unsigned char)s[i + 1] <= 0x9f)
			drop = 2; /* a C1 control, U+0080-U+009F */
		if (!drop) {
			i += keep ? keep : 1;
			continue;
		}
		fwrite(s + start, 1, i - start, stdout);
		putchar('?');
		i += drop;
		start = i;
	}
	fwrite(s + start, 1, len - start, stdout);
}

static int print_line(const struct log_line *l, void *data)
{
	struct log_printer *p = data;

	p->last_id = l->id;
	if (p->cli->json) {
		if (print_line_json(p, l) < 0)
			p->failed = true;
		return p->failed;
	}
	if (p->timestamps) {
		fputs(line_time(p, l->t_ms), stdout);
		putchar(' ');
	}
	if (p->prefix)
		print_prefix(p, l);
	if (p->colour && l->stream == LOG_SYSTEM)
		fputs("\033[1m", stdout);
	print_text(l->text, l->len, p->cli->stdout_tty);
	if (p->colour && l->stream == LOG_SYSTEM)
		fputs("\033[0m", stdout);
	putchar('\n');
	p->failed = ferror(stdout);
	return p->failed;
}

/* Prints the lines after p->last_id of the run (or of step_id). */
static int print_new_lines(struct log_printer *p, int64_t step_id, struct error **err)
{
	if (store_logs_read(p->st, p->run_id, step_id, p->last_id, print_line, p, err) < 0)
		return -1;
	if (fflush(stdout) == EOF)
		p->failed = true;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The step called name, *out = NULL when the run has none (yet). */
static int find_step(struct log_printer *p, const char *name, struct step_info **out,
		     struct error **err)
{
	step_info_free(*out);
	*out = NULL;
	return store_step_find(p->st, p->run_id, name, out, err);
}

static int no_step_error(struct log_printer *p, const char *run, const char *name)
{
	struct error *err = NULL;
	char list[512] = "";
	size_t len = 0;

	if (load_steps(p, &err) < 0)
		return cli_fail(err);
	for (size_t i = 0; i < p->nsteps && len < sizeof(list) - 1; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
					p->steps[i].name);
	if (len >= sizeof(list))
		len = sizeof(list) - 1;
	error_usage(&err, "run '%s' has no step '%s'%s%s%s", run, name,
		    p->nsteps ? " (its steps: " : ": it has no steps", list, p->nsteps ? ")" : "");
	return cli_fail(err);
}

/* Follows a live run: prints its new lines until it (or the step) is final. Returns the exit
 * status: 0 when it passed, 1 when not. */
static int follow(struct log_printer *p, const char *ref, const char *step_name,
		  struct step_info **step)
{
	struct error *err = NULL;
	enum run_status status = RUN_RUNNING;
	int64_t seen = -1, version, last_recover = now_ms();
	bool final = false, live = false;

	for (;;) {
		if (store_data_version(p->st, &version, &err) < 0)
			return cli_fail(err);
		if (version != seen || final) {
			seen = version;
			if (store_run_status(p->st, p->run_id, &status, &err) < 0)
				return cli_fail(err);
			if (step_name && find_step(p, step_name, step, &err) < 0)
				return cli_fail(err);
			/* A queued run gets its steps when its pipeline is read: wait for
			 * them, but a name missing from a run that has steps is a mistake. */
			if (step_name && !*step && (load_steps(p, &err) < 0 || p->nsteps))
				return err ? cli_fail(err) : no_step_error(p, ref, step_name);
			/* Lines are read after the status: those committed before it turned
			 * final are all seen by this read. */
			if ((!step_name || *step) &&
			    print_new_lines(p, *step ? (*step)->id : -1, &err) < 0)
				return cli_fail(err);
			if (p->failed)
				return finish_output(EXIT_OK);
			if (final)
				break;
			final = run_status_is_final(status) ||
				(*step && step_status_is_final((*step)->status));
			/* Finished before we looked: everything is read. Finished while we
			 * watched: one more pass after a pause reads lines its writer flushed
			 * with or just after the final status. */
			if (final && !live)
				break;
			live = true;
		}
		if (now_ms() - last_recover >= FOLLOW_RECOVER_MS) {
			last_recover = now_ms();
			if (cli_recover(p->cli, p->st) > 0)
				seen = -1; /* our own commit does not move the counter */
		}
		sleep_ms(FOLLOW_POLL_MS);
	}
	if (step_name && !*step)
		return no_step_error(p, ref, step_name);
	if (step_name) {
		enum step_status s = (*step)->status;

		if (s == STEP_PASSED || s == STEP_SKIPPED)
			return finish_output(EXIT_OK);
		fflush(stdout);
		fprintf(stderr, "slipway: step '%s' of run '%s': %s\n", step_name, ref,
			step_status_name(s));
		return finish_output(EXIT_FAILED);
	}
	if (status == RUN_PASSED)
		return finish_output(EXIT_OK);
	fflush(stdout);
	fprintf(stderr, "slipway: run '%s': %s\n", ref, run_status_name(status));
	return finish_output(EXIT_FAILED);
}

static int logs(struct log_printer *p, const char *ref, const char *step_name, bool follow_run)
{
	struct step_info *step = NULL;
	struct error *err = NULL;
	int rc = EXIT_OK;

	p->prefix = !step_name;
	if (load_steps(p, &err) < 0)
		return cli_fail(err);
	if (follow_run) {
		rc = follow(p, ref, step_name, &step);
	} else if (step_name) {
		if (find_step(p, step_name, &step, &err) < 0)
			rc = cli_fail(err);
		else if (!step)
			rc = no_step_error(p, ref, step_name);
		else if (print_new_lines(p, step->id, &err) < 0)
			rc = cli_fail(err);
	} else if (print_new_lines(p, -1, &err) < 0) {
		rc = cli_fail(err);
	}
	step_info_free(step);
	return rc == EXIT_OK ? finish_output(rc) : rc;
}

static int cmd_logs(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"follow", no_argument, NULL, 'f'},
						 {"timestamps", no_argument, NULL, 't'},
						 CLI_COMMON_LONGOPTS};
	struct log_printer p = {.cli = cli};
	struct run_info *run = NULL;
	const char *step_name = NULL;
	char ref[300];
	bool follow_run = false;
	int opt, rc;

	while ((opt = cli_getopt(cli, argc, argv, "hft", longopts)) != -1) {
		switch (opt) {
		case 'f':
			follow_run = true;
			break;
		case 't':
			p.timestamps = true;
			break;
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cli, argc - optind ? "expected one RUN[/STEP]" : "missing RUN");
	if ((rc = open_history(cli, &p.st, argv[optind])) != EXIT_OK)
		return rc;
	rc = cli_find_run(p.st, argv[optind], &run, &step_name);
	if (rc == EXIT_OK) {
		p.run_id = run->id;
		p.colour = use_colour(cli);
		cli_run_name(run, ref, sizeof(ref));
		rc = logs(&p, ref, step_name, follow_run);
	}
	log_printer_release(&p);
	run_info_free(run);
	store_close(p.st);
	return rc;
}

const struct command commands_history[] = {
    {"runs", "list runs, newest first",
     "[--limit N] [--status S[,S...]] [--branch B] [--event E] [REPO]",
     "Columns: RUN (REPO#NUMBER), STATUS, BRANCH (or the tag), COMMIT (8 digits), EVENT,\n"
     "STARTED (relative), DURATION (so far, while it runs).\n"
     "Options:\n"
     "  -n, --limit N         show at most N runs (default 25)\n"
     "  -s, --status S,...    only runs in these states: queued, running, passed,\n"
     "                        failed, error, cancelled, interrupted\n"
     "  -b, --branch B        only runs of branch B\n"
     "  -e, --event E         only runs of event E (push, tag, manual, rerun, ...)\n"
     "      --json            print a JSON array of runs\n",
     cmd_runs},
    {"show", "show a run with its steps and deploys", "RUN",
     "RUN is REPO#NUMBER, or NUMBER: a run number when the history holds one repo,\n"
     "else the run id (the \"id\" of --json output).\n"
     "Steps: STEP, STATUS (oom and timeout marked), EXIT, DURATION, CPU, MEM PEAK (and\n"
     "the memory limit). Deploys: their status and the webhook's response status.\n"
     "Options:\n"
     "      --json            print the run as one JSON object with steps and deploys\n",
     cmd_show},
    {"logs", "print a run's or a step's stored output", "[-f] [-t] RUN[/STEP]",
     "Without /STEP, every line of the run in order, prefixed with its step's name\n"
     "('slipway' for the run's own lines). RUN is as for 'slipway show'.\n"
     "Options:\n"
     "  -f, --follow          follow a live run until it (or STEP) finishes; exit 0\n"
     "                        when it passed, 1 when it did not\n"
     "  -t, --timestamps      prefix each line with its time (UTC)\n"
     "      --json            print one JSON object per line:\n"
     "                        {id, time, step, stream, text}\n",
     cmd_logs},
    {NULL, NULL, NULL, NULL, NULL},
};

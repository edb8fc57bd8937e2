/* cli/cli-store.c — opening the history for a command, recovering runs whose process died,
 * and resolving the RUN[/STEP] arguments users type. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli-store.h"
#include "lib/cleanup.h"

int cli_open_store(struct cli *cli, struct store **out)
{
	struct error *err = NULL;

	if (store_open(cli->data_dir, out, &err) < 0)
		return cli_fail(err);
	return EXIT_OK;
}

static int cleanup_one(const struct run_info *run, void *data)
{
	return cli_cleanup_run ? cli_cleanup_run(run, data) : 0;
}

int cli_recover(struct cli *cli, struct store *st)
{
	struct error *err = NULL;
	int n = store_recover_interrupted(st, cleanup_one, cli, &err);

	if (n < 0) {
		fprintf(stderr, "slipway: warning: %s\n", err ? err->msg : "recovery failed");
		error_free(err);
		return -1;
	}
	return n;
}

const char *cli_run_name(const struct run_info *run, char *buf, size_t len)
{
	snprintf(buf, len, "%s#%lld", run->repo ? run->repo : "?", (long long)run->number);
	return buf;
}

/* The length of the run number at s (1-18 digits), 0 when there is none. */
static size_t number_len(const char *s)
{
	size_t n = 0;

	while (isdigit((unsigned char)s[n]))
		n++;
	return n <= 18 ? n : 0;
}

/* A bare number: run N of the only repo, else the run with id N. */
static int find_bare(struct store *st, const char *num, struct run_info **out, struct error **err)
{
	struct repo_info *repos = NULL;
	size_t nrepos = 0;
	int64_t n = strtoll(num, NULL, 10);
	int rc;

	if (store_repos_list(st, &repos, &nrepos, err) < 0)
		return -1;
	if (nrepos == 1) {
		cleanup_free char *ref = NULL;

		rc = asprintf(&ref, "%s#%lld", repos[0].name, (long long)n) < 0
			 ? error_errno(err, "find run '%s'", num)
			 : store_run_find(st, ref, out, err);
		repo_infos_free(repos, nrepos);
		return rc;
	}
	repo_infos_free(repos, nrepos);
	if (store_run_get(st, n, out, err) < 0)
		return -1;
	if (!*out)
		return error_usage(err, "no run with id %lld%s", (long long)n,
				   nrepos ? " (with several repos, name a run as REPO#NUMBER)"
					  : ": the history is empty");
	return 0;
}

int cli_find_run(struct store *st, const char *ref, struct run_info **out, const char **step)
{
	struct error *err = NULL;
	const char *hash = strchr(ref, '#');
	const char *num = hash ? hash + 1 : ref;
	size_t len = number_len(num);
	cleanup_free char *run_ref = NULL;
	int rc;

	*out = NULL;
	if (step)
		*step = NULL;
	/* Repo names hold no '#' and step names no '/', so the first '#' and the '/' after the
	 * number split REPO#N/STEP whatever the names contain. */
	if (len == 0 || hash == ref || (num[len] && num[len] != '/') ||
	    (num[len] == '/' && (!step || !num[len + 1]))) {
		error_usage(&err, "run '%s': expected REPO#NUMBER or NUMBER%s", ref,
			    step ? ", then optionally /STEP" : "");
		return cli_fail(err);
	}
	if (step && num[len] == '/')
		*step = num + len + 1;
	run_ref = strndup(ref, (size_t)(num - ref) + len);
	if (!run_ref) {
		error_errno(&err, "find run '%s'", ref);
		return cli_fail(err);
	}
	rc = hash ? store_run_find(st, run_ref, out, &err) : find_bare(st, run_ref, out, &err);
	return rc < 0 ? cli_fail(err) : EXIT_OK;
}

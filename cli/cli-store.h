/* cli/cli-store.h — the history database as commands reach it: opening $DATA/slipway.db with
 * errors printed, the recovery of runs whose process died, and RUN[/STEP] arguments.
 *
 * Every command that reads or writes runs (runs, show, logs, run, rerun, cancel) opens the
 * store with cli_open_store() and then calls cli_recover(), so a run whose process was killed
 * shows as interrupted at the next start of any of them.
 */
#ifndef SLIPWAY_CLI_CLI_STORE_H
#define SLIPWAY_CLI_CLI_STORE_H

#include <stdbool.h>

#include "cli/cli.h"
#include "store/store.h"

/* Opens $DATA/slipway.db (creating it). Returns EXIT_OK with *out set (caller closes with
 * store_close), or prints the error and returns its exit status. */
int cli_open_store(struct cli *cli, struct store **out);

/* Marks as interrupted every run whose owner process is gone and calls cli_cleanup_run (when
 * linked in) once for each. Returns how many runs it marked, or -1 after printing a warning:
 * a command that only reads goes on without it. */
int cli_recover(struct cli *cli, struct store *st);

/* Removes what an interrupted run left (containers, mounts, cgroups, workspace); data is the
 * struct cli. Defined by the executor's command file (cli/cmd-run.c), which every slipway
 * binary links; weak only so that the history commands build and test on their own. Returns
 * < 0 on failure (logged; the run stays interrupted). */
int cli_cleanup_run(const struct run_info *run, void *data) __attribute__((weak));

/* Finds the run named by ref, as users write it:
 *   REPO#N    run N of REPO ("team/app#12")
 *   N         run N of the only repo when the database holds one repo; else the run id
 *             (the "id" of --json output)
 * followed by "/STEP" when step is non-NULL (*step then gets a pointer into ref, or NULL when
 * there is none). Returns EXIT_OK with *out set (caller frees with run_info_free), or prints
 * the error (no such run: exit 2 naming it) and returns the exit status. */
int cli_find_run(struct store *st, const char *ref, struct run_info **out, const char **step);

/* Prints run run_id as `slipway show` does — its JSON with --json, else (the header when
 * header is true and) the tables of its steps and deploys. Returns an exit status. */
int cli_show_run(struct cli *cli, struct store *st, int64_t run_id, bool header);

/* "REPO#N" of a run into buf. */
const char *cli_run_name(const struct run_info *run, char *buf, size_t len);

#endif

/* ctl.h: the subcommands of isolatectl, one file each; main.c dispatches.
 * Each takes the arguments after the subcommand name (argv[0] is the subcommand) and
 * returns the process exit status. */
#pragma once

#include <stdbool.h>

#include "../conf/policy.h"

struct session_record; /* session-helper/registry.h */

int cmd_check(int argc, char **argv);   /* check.c */
int cmd_explain(int argc, char **argv); /* explain.c */
int cmd_run(int argc, char **argv);     /* run.c */
int cmd_list(int argc, char **argv);    /* list.c */
int cmd_gc(int argc, char **argv);      /* gc.c */
int cmd_kill(int argc, char **argv);    /* kill.c */
int cmd_status(int argc, char **argv);  /* status.c */
int cmd_apply(int argc, char **argv);   /* apply.c */
int cmd_why(int argc, char **argv);     /* why.c */
int cmd_suggest(int argc, char **argv); /* suggest.c */

/* list, gc, kill: parses [-c FILE], [--json] when json is not NULL, and one operand when
 * operand is not NULL, then loads the config into *ret. Returns -1 to go on, else the exit
 * status (usage or config errors printed). */
int ctl_load(int argc, char **argv, const char *usage, bool *json, const char **operand,
             struct config **ret);
/* "isolatectl CMD: cannot read RUNTIME_DIR/sessions: ..." for registry_foreach()'s r < 0 on
 * stderr; for a record of a format this isolatectl does not read, which record and what to
 * do (registry_format_error()). */
/* config_load(path, strict) printing each of the config's problems to stderr on failure. */
int ctl_config_load(const char *path, struct config **ret);
void ctl_registry_error(const char *cmd, const char *runtime_dir, int r);
/* The message for getopt's '?': a missing argument (for an option letter in with_arg) or an
 * unknown option. */
void ctl_bad_option(const char *cmd, const char *with_arg, char **argv);
/* kill.c: ends a live session as `isolatectl kill` does: SIGTERM to its init, which kills
 * the session's processes and, with no login left (a lingering sandbox), ends it. 0 when
 * signalled, -ESRCH when its init is not running, else -errno. Prints nothing. */
int ctl_session_end(const struct session_record *rec);

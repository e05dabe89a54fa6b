/* ctl.h: the subcommands of isolatectl, one file each; main.c dispatches.
 * Each takes the arguments after the subcommand name (argv[0] is the subcommand) and
 * returns the process exit status. */
#pragma once

int cmd_check(int argc, char **argv);   /* check.c */
int cmd_explain(int argc, char **argv); /* explain.c */
int cmd_run(int argc, char **argv);     /* run.c */
int cmd_list(int argc, char **argv);    /* list.c */
int cmd_gc(int argc, char **argv);      /* list.c */
int cmd_kill(int argc, char **argv);    /* run.c */

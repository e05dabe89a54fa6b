/* main.c: the admin CLI (isolatectl). Each subcommand lives in its own file here. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "../client/util.h"
#include "../client/sanitizer.h"

ISOLATE_SANITIZER_LOG("isolatectl")

static void usage(FILE *f)
{
        fprintf(
            f,
            "usage: isolatectl COMMAND [ARGS]\n"
            "  check   [-c FILE]                         validate the config (and PAM stacks)\n"
            "  explain [-c FILE] [--service S] [--rhost ADDR] [--json] USER\n"
            "                                            which policy a login gets, and why\n"
            "  run     [-c FILE] [--service S] [--rhost ADDR] [--helper PATH] USER -- CMD "
            "[ARG...]\n"
            "                                            run CMD as USER in a fresh session\n"
            "  list    [-c FILE] [--json]                live sessions and their usage\n"
            "  kill    [-c FILE] SESSION-ID|USER         end a session, or all of a user's\n"
            "  gc      [-c FILE]                         remove what dead sessions left and\n"
            "                                            end expired lingering sandboxes\n"
            "  apply   [-c FILE] [--dry-run]             the config's caps and egress lists onto\n"
            "                                            live sandboxes, without a new login\n"
            "  status  [-c FILE] [--json] [--log FILE]   backend, kernel features against the\n"
            "                                            config, live sandboxes, last denials\n"
            "  why     [-c FILE] [--since TIME] [--json] [--all] [USER|SESSION-ID]\n"
            "                                            recent seccomp refusals of sessions: the\n"
            "                                            config line that decided, the one to "
            "allow\n"
            "  --version\n");
}

int main(int argc, char **argv)
{
        static const struct {
                const char *name;
                int (*fn)(int, char **);
        } commands[] = {
            {"check", cmd_check},     {"explain", cmd_explain}, {"run", cmd_run},
            {"list", cmd_list},       {"kill", cmd_kill},       {"gc", cmd_gc},
            {"status", cmd_status},   {"apply", cmd_apply},     {"why", cmd_why},
            {"suggest", cmd_suggest},
        };
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (STREQ(argv[1], "--help") || STREQ(argv[1], "-h") || STREQ(argv[1], "help")) {
                usage(stdout);
                return 0;
        }
        if (STREQ(argv[1], "--version")) {
                printf("isolatectl %s\n", ISOLATE_VERSION);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (STREQ(argv[1], commands[i].name))
                        return commands[i].fn(argc - 1, argv + 1);
        fprintf(stderr, "isolatectl: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
}

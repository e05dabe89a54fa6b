/* kill.c: `isolatectl kill SESSION-ID`: ends every process of one session (SIGTERM to its
 * init, which kills the rest). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../conf/policy.h"
#include "../session-helper/registry.h"
#include "ctl.h"

int cmd_kill(int argc, char **argv)
{
        const char *id = NULL;
        struct config *cfg = NULL;
        int st =
            ctl_load(argc, argv, "usage: isolatectl kill [-c FILE] SESSION-ID\n", NULL, &id, &cfg);
        if (st >= 0)
                return st;
        struct session_record *rec = calloc(1, sizeof(*rec));
        int r = rec ? registry_read(cfg->runtime_dir, id, rec) : -ENOMEM;
        if (r < 0) {
                fprintf(stderr, "isolatectl kill: no session %s in %s/sessions: %s\n", id,
                        cfg->runtime_dir, strerror(-r));
                free(rec);
                config_free(cfg);
                return 1;
        }
        int status = 0;
        /* a pidfd pins the process: the check and the signal concern the same init */
        int pidfd = (int)syscall(SYS_pidfd_open, rec->init_pid, 0);
        if (pidfd < 0 || !registry_session_alive(rec)) {
                fprintf(stderr, "isolatectl kill: session %s is not running (run isolatectl gc)\n",
                        id);
                status = 1;
        } else if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0) {
                fprintf(stderr, "isolatectl kill: cannot signal the init of %s: %m\n", id);
                status = 1;
        } else
                printf("session %s (user %s): every process killed\n", id, rec->user);
        if (pidfd >= 0)
                close(pidfd);
        free(rec);
        config_free(cfg);
        return status;
}

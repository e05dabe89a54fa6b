/* kill.c: `isolatectl kill SESSION-ID|USER`: ends every process of one session (SIGTERM to
 * its init, which kills the rest and, with no login left, ends a lingering sandbox), or of
 * every live session of a user. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../conf/policy.h"
#include "../session-helper/log.h"
#include "../session-helper/registry.h"
#include "ctl.h"

int ctl_session_end(const struct session_record *rec)
{
        /* a pidfd pins the process: the check and the signal concern the same init */
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, rec->init_pid, 0);
        if (pidfd < 0 || !registry_session_alive(rec))
                return -ESRCH;
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0)
                return -errno;
        return 0;
}

/* 0 when signalled, 1 when not running or not signalled (said on stderr). */
static int kill_one(const struct session_record *rec)
{
        int r = ctl_session_end(rec);
        if (r == -ESRCH)
                fprintf(stderr, "isolatectl kill: session %s is not running (run isolatectl gc)\n",
                        rec->id);
        else if (r < 0)
                fprintf(stderr, "isolatectl kill: cannot signal the init of %s: %s\n", rec->id,
                        strerror(-r));
        else
                printf("session %s (user %s): every process killed\n", rec->id, rec->user);
        if (r < 0)
                return 1;
        char why[128];
        snprintf(why, sizeof(why), "isolatectl kill: SIGTERM to the session's init (pid %d)",
                 (int)rec->init_pid);
        struct log_decision d = {.message_id = EVENT_KILLED,
                                 .user = rec->user,
                                 .service = "isolatectl",
                                 .rhost = rec->rhost,
                                 .tty = rec->tty,
                                 .policy = rec->policy,
                                 .session_id = rec->id,
                                 .outcome = "killed",
                                 .reason = why};
        log_decision(LOG_NOTICE, &d);
        return 0;
}

struct by_user {
        uid_t uid;
        unsigned found, failed;
};

static int kill_of_user(const struct session_record *r, void *data)
{
        struct by_user *b = data;
        if (r->uid != b->uid || !registry_session_alive(r))
                return 0;
        b->found++;
        b->failed += (unsigned)kill_one(r);
        return 0;
}

int cmd_kill(int argc, char **argv)
{
        const char *arg = NULL;
        struct config *cfg = NULL;
        int st = ctl_load(argc, argv, "usage: isolatectl kill [-c FILE] SESSION-ID|USER\n", NULL,
                          &arg, &cfg);
        if (st >= 0)
                return st;
        struct session_record *rec = calloc(1, sizeof(*rec));
        int r = rec ? registry_read(cfg->runtime_dir, arg, rec) : -ENOMEM;
        int status;
        if (r == 0) {
                status = kill_one(rec);
        } else if (r == -EPROTONOSUPPORT) {
                ctl_registry_error("kill", cfg->runtime_dir, r);
                status = 1;
        } else {
                struct passwd *pw = getpwnam(arg);
                if (!pw) {
                        fprintf(stderr,
                                "isolatectl kill: %s is neither a session in %s/sessions (%s) "
                                "nor a user (isolatectl list shows both)\n",
                                arg, cfg->runtime_dir, strerror(-r));
                        status = 1;
                } else {
                        struct by_user b = {.uid = pw->pw_uid};
                        r = registry_foreach(cfg->runtime_dir, kill_of_user, &b);
                        if (r < 0) {
                                ctl_registry_error("kill", cfg->runtime_dir, r);
                                status = 1;
                        } else if (b.found == 0) {
                                fprintf(stderr, "isolatectl kill: user %s has no live session\n",
                                        arg);
                                status = 1;
                        } else
                                status = b.failed ? 1 : 0;
                }
        }
        free(rec);
        config_free(cfg);
        return status;
}

/* session-init.c: isolate-init, pid 1 of a session's pid namespace.
 *
 * The helper's session child builds the sandbox and then execs this small static program,
 * so that an idle session does not keep a copy of the helper's heap and libraries.
 *
 *   isolate-init SESSION-ID LEAF-NAME N-LEAVES UID
 *   fd 3: pidfd of the caller (the process that joins the session)
 *   fd 4: control socket to the caller: MSG_CLOSE -> kill every other process, MSG_CLOSED n
 *   fd 5: socket to the helper: we send MSG_READY, it sends MSG_READY back as "commit"
 *         once the caller has been told; EOF before that means the setup was abandoned.
 *   fd 6: the registry's sessions directory (O_PATH)
 *   fd 7...: the directory holding the session's leaf, one per cgroup hierarchy (O_PATH)
 *   fd 7 + N-LEAVES, cgroup v2 only: the supervisor cgroup's cgroup.procs, opened before the
 *         session's cgroup namespace was made. Until the commit the helper may not have
 *         moved us out of the leaf yet; an abandoned init moves itself out through it (the
 *         kernel judges the move by the namespace the file was opened in, Linux 5.16) so
 *         that it can remove the leaf.
 *   fds 24, 25, 26 (each where there is one): the session's login records directory, the
 *         host's /var/log and utmp (O_PATH): the init copies each record the sshd monitor
 *         writes into the session's own files to the host's (records.h), on inotify's word.
 *
 * The init lives in the session's mount namespace, where neither the host's cgroupfs nor
 * the registry is visible (/sys/fs/cgroup is the session's own tree, /tmp may be private):
 * it removes them through these directory fds, opened before the view was built. Users
 * cannot reach them: the init is root and pid 1, its /proc entry hidden and not traceable.
 *
 * It reaps every orphan; on close it kills and reaps every other process of the session but
 * stays (PAM modules after ours may still fork into the namespace: once pid 1 is gone every
 * fork into it fails); when the caller exits (or the setup was abandoned) it kills what is
 * left, removes the session's cgroup leaves and registry entry, and exits. SIGTERM from
 * outside the namespace (isolatectl kill) kills the session's processes. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>

#include "../client/protocol.h"
#include "records.h"
#include "../client/sanitizer.h"

ISOLATE_SANITIZER_LOG("isolate-init")

#define FD_CALLER   3
#define FD_CONTROL  4
#define FD_HELPER   5
#define FD_REGISTRY 6
#define FD_LEAVES   7
#define FD_RECORDS  24 /* 25: the host's /var/log, 26: the host's utmp */

static void reap_children(void)
{
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

/* Number of live (not zombie) processes in the namespace other than us. */
static unsigned count_others(void)
{
        DIR *d = opendir("/proc");
        if (!d)
                return 0;
        unsigned n = 0;
        for (struct dirent *de; (de = readdir(d));) {
                uint64_t pid;
                if (safe_atou64(de->d_name, &pid) < 0 || pid <= 1)
                        continue;
                char path[300], stat[256];
                snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
                if (read_file_at(AT_FDCWD, path, stat, sizeof(stat)) <= 0)
                        continue;
                const char *paren = strrchr(stat, ')');
                if (paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X')
                        n++;
        }
        closedir(d);
        return n;
}

/* Kills every other process of the namespace and waits (at most 5 s) until none is left
 * alive. Returns how many were alive at the start. */
static unsigned kill_others(void)
{
        unsigned before = count_others();
        if (before == 0)
                return 0; /* the usual logout: the shell has gone already */
        /* SIGKILL takes effect asynchronously: look again soon, then less often (a logout
         * waits for this), 5 s at most */
        long wait_us = 100;
        for (long waited = 0; waited < 5000000; waited += wait_us) {
                kill(-1, SIGKILL); /* as pid 1: everyone in the namespace but us */
                reap_children();
                if (count_others() == 0)
                        break;
                struct timespec ts = {0, wait_us * 1000};
                nanosleep(&ts, NULL);
                if (wait_us < 10000)
                        wait_us *= 2;
        }
        return before;
}

static const char *session_id, *leaf_name;
static int n_leaves;
static int fd_escape = -1; /* until the commit */
static struct records records;
static bool have_records;

/* glibc's utmp functions time their lock wait out with SIGALRM, which the init keeps
 * blocked otherwise: a lock held on the host's file (by a user outside any session) must
 * not stall the init for good. */
static void records_run(bool end)
{
        if (!have_records)
                return;
        sigset_t alrm;
        sigemptyset(&alrm);
        sigaddset(&alrm, SIGALRM);
        sigprocmask(SIG_UNBLOCK, &alrm, NULL);
        if (end) {
                records_end(&records);
        } else {
                int r = records_copy(&records);
                if (r < 0)
                        syslog(LOG_WARNING, "session %s: cannot copy a login record: %s",
                               session_id, strerror(-r));
        }
        sigprocmask(SIG_BLOCK, &alrm, NULL);
}

static _Noreturn void cleanup_and_exit(int status)
{
        kill_others();
        reap_children();
        records_run(true); /* the monitor's logout records, or ours for a monitor killed */
        if (fd_escape >= 0 && write(fd_escape, "0", 1) < 0)
                syslog(LOG_WARNING, "session %s: cannot leave cgroup %s: %m", session_id,
                       leaf_name);
        for (int i = 0; i < n_leaves; i++) {
                /* the kernel may still count just-exited tasks for a moment */
                for (int t = 0; t < 200; t++) {
                        if (unlinkat(FD_LEAVES + i, leaf_name, AT_REMOVEDIR) == 0 ||
                            errno == ENOENT)
                                break;
                        if (errno != EBUSY) {
                                syslog(LOG_WARNING, "session %s: cannot remove cgroup %s: %m",
                                       session_id, leaf_name);
                                break;
                        }
                        struct timespec ts = {0, 10 * 1000 * 1000};
                        nanosleep(&ts, NULL);
                        if (t == 199)
                                syslog(LOG_WARNING, "session %s: cgroup %s still busy, left for gc",
                                       session_id, leaf_name);
                }
        }
        if (unlinkat(FD_REGISTRY, session_id, 0) < 0 && errno != ENOENT)
                syslog(LOG_WARNING, "session %s: cannot remove its registry entry: %m", session_id);
        _exit(status);
}

int main(int argc, char **argv)
{
        uint64_t uid;
        if (argc != 5 || getpid() != 1 || safe_atoi(argv[3], &n_leaves) < 0 || n_leaves < 0 ||
            n_leaves > 16 || safe_atou64(argv[4], &uid) < 0 || uid > UINT32_MAX)
                return 2;
        session_id = argv[1];
        leaf_name = argv[2];
        openlog("isolate-init", LOG_PID, LOG_AUTHPRIV);
        if (fcntl(FD_LEAVES + n_leaves, F_GETFD) >= 0)
                fd_escape = FD_LEAVES + n_leaves;

        sigset_t mask;
        sigfillset(&mask);
        sigprocmask(SIG_SETMASK, &mask, NULL);
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                cleanup_and_exit(1);

        int ifd = -1;
        if (fcntl(FD_RECORDS, F_GETFD) >= 0) {
                have_records = true;
                records_init(&records, FD_RECORDS, fcntl(FD_RECORDS + 1, F_GETFD) >= 0 ? FD_RECORDS + 1 : -1,
                             fcntl(FD_RECORDS + 2, F_GETFD) >= 0 ? FD_RECORDS + 2 : -1, session_id,
                             (uid_t)uid);
                char dir[32];
                snprintf(dir, sizeof(dir), "/proc/self/fd/%d", FD_RECORDS);
                ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
                if (ifd < 0 || inotify_add_watch(ifd, dir, IN_MODIFY | IN_CLOSE_WRITE) < 0)
                        cleanup_and_exit(1);
        }

        if (proto_send_simple(FD_HELPER, MSG_READY, 0, NULL) < 0)
                cleanup_and_exit(1);

        struct pollfd p[5] = {
            {.fd = FD_CALLER, .events = POLLIN},
            {.fd = FD_CONTROL, .events = POLLIN},
            {.fd = sfd, .events = POLLIN},
            {.fd = FD_HELPER, .events = POLLIN},
            {.fd = ifd, .events = POLLIN},
        };
        for (;;) {
                if (poll(p, ELEMENTSOF(p), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        cleanup_and_exit(1);
                }
                if (p[0].revents) /* the caller is gone: the session is over */
                        cleanup_and_exit(0);
                if (p[4].revents) {
                        char buf[4096];
                        while (read(ifd, buf, sizeof(buf)) > 0)
                                ;
                        records_run(false);
                }
                if (p[3].revents) {
                        enum proto_type type;
                        int r = proto_recv_simple(FD_HELPER, 0, &type, NULL, NULL, 0);
                        if (r < 0 || type != MSG_READY) /* abandoned before the caller knew */
                                cleanup_and_exit(1);
                        close(FD_HELPER); /* committed */
                        p[3].fd = -1;
                        if (fd_escape >= 0)
                                close(fd_escape); /* the helper has moved us out */
                        fd_escape = -1;
                }
                if (p[1].revents) {
                        enum proto_type type;
                        int r = proto_recv_simple(FD_CONTROL, 0, &type, NULL, NULL, 0);
                        if (r == -ECONNRESET || (r < 0 && r != -EAGAIN && r != -EBADMSG)) {
                                p[1].fd = -1; /* no caller end left: only the pidfd matters */
                        } else if (r == 0 && type == MSG_CLOSE) {
                                unsigned n = kill_others();
                                proto_send_simple(FD_CONTROL, MSG_CLOSED, n, NULL);
                        }
                }
                if (p[2].revents) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                /* only from outside the namespace: ssi_pid is 0 there */
                                if (si.ssi_signo == SIGTERM && si.ssi_pid == 0)
                                        kill_others();
                        }
                        reap_children();
                }
        }
}

/* session-init.c: isolate-init, pid 1 of a session's pid namespace.
 *
 * The helper's session child builds the sandbox and then execs this small static program,
 * so that an idle session does not keep a copy of the helper's heap and libraries.
 *
 *   isolate-init SESSION-ID LEAF-NAME N-LEAVES UID SCOPE LINGER-MS CONFIG POLICY
 *   fd 3: pidfd of the caller (the process that joins the session): the first login
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
 *         writes into the session's own files to the host's (records.h), on inotify's word
 *         (or every second where root has no inotify instance left: records_watch).
 *   fd 27, SCOPE user only: the listening socket <runtime>/sessions/ID.sock, on which the
 *         helper of a later login of the same user and policy sends MSG_JOIN (that login's
 *         caller pidfd and control socket); the init answers with its own pidfd.
 *   fds 28, 29, 30 (each where there is one): isolate-helper (O_PATH), the helper's mount
 *         and cgroup namespaces: when the sandbox ends and the user has other live ones,
 *         a child of the init enters those namespaces and runs `isolate-helper caps`, which
 *         recomputes the user's caps without this sandbox (caps.h).
 *   fds 31, 32, egress_log only: the BPF ring buffer the egress programs write a refusal
 *         into, and their count of the refusals it had no room for (egress-log.h). The init
 *         syslogs one line per refusal, at most EGRESS_LOG_BURST a second, then how many it
 *         left out. Maps, not programs: holding them gives no way to detach the filter.
 *
 * Scopes. SCOPE login: one login, the one above. SCOPE user: any number of logins; a
 * logout kills nothing while another login is open (processes belong to the sandbox, not to
 * a login); when the last login ends, LINGER-MS decides: 0 ends the sandbox as a login
 * sandbox ends; otherwise it stays while processes remain, for at most LINGER-MS ms
 * (UINT64_MAX - 1: until none is left), and the next login rejoins it. <ID>.state in the
 * registry says how many logins are open and until when it lingers (isolatectl list).
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
 * outside the namespace (isolatectl kill) kills the session's processes (and ends a
 * lingering sandbox). */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>

#include "../client/protocol.h"
#include "../client/ticket.h"
#include "egress-log.h"
#include "records.h"
#include "../client/sanitizer.h"

ISOLATE_SANITIZER_LOG("isolate-init")

#define FD_CALLER   3
#define FD_CONTROL  4
#define FD_HELPER   5
#define FD_REGISTRY 6
#define FD_LEAVES   7
#define FD_RECORDS  24 /* 25: the host's /var/log, 26: the host's utmp */
#define FD_LISTEN   27
#define FD_CAPS_EXE 28 /* 29: the helper's mount namespace, 30: its cgroup namespace */
#define FD_HOST_MNT 29
#define FD_HOST_CG  30
#define FD_EGRESS   31 /* 32: the count of refusals the ring had no room for */

#define LINGER_FOREVER_MS (UINT64_MAX - 1) /* LINGER_FOREVER of conf/policy.h */
#define MAX_LOGINS        1024
#define JOIN_TIMEOUT_MS   2000
/* A peer's first message: every peer (a helper, a caller with a ticket) sends it right after
 * its connect. The init serves one peer at a time, so a peer that connects and stalls (a
 * caller under SIGSTOP: su runs with the user's real uid) holds up every login of the
 * sandbox behind it for this long, not more. */
#define JOIN_FIRST_MS 250
#define CAPS_TIMEOUT_MS   10000

/* Tickets (ticket.h): the reply the helper gave a login of this sandbox, and the keys of the
 * logins it was given for (the TICKET_KEYS most recently used). Every reply of a sandbox is the same
 * join (the policy's fingerprint is the sandbox's); the newest is kept. */
#define TICKET_KEYS 8
static struct open_reply *ticket;
static char *ticket_keys[TICKET_KEYS];

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

static const char *session_id, *leaf_name, *config_path, *uid_arg, *policy_name;
static int n_leaves;
static int fd_escape = -1; /* until the commit */
static struct records records;
static bool have_records;
static bool user_scope;
static uint64_t linger_ms;

/* The logins of the sandbox: each one's caller pidfd and control socket. A login scope has
 * one. closed: its MSG_CLOSE came (the caller may still run PAM modules after ours). */
struct login {
        int pidfd, control;
        bool closed;
};
static struct login *logins;
static size_t n_logins;
static bool lingering;
static uint64_t linger_until; /* unix seconds; 0 with linger = yes */

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

/* What tells the init that the monitor wrote a login record: inotify on the records
 * directory. Every init is root, and root's inotify instances (fs.inotify.max_user_instances,
 * 128 by default) are shared with every other root process: where none is left, a timer
 * every second instead, so that a login is never refused for it. Either fd is drained by
 * reading it. */
static int records_watch(void)
{
        char dir[32];
        snprintf(dir, sizeof(dir), "/proc/self/fd/%d", FD_RECORDS);
        int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (fd >= 0 && inotify_add_watch(fd, dir, IN_MODIFY | IN_CLOSE_WRITE) >= 0)
                return fd;
        int e = errno;
        if (fd >= 0)
                close(fd);
        syslog(LOG_NOTICE,
               "session %s: no inotify for the login records (%s: see fs.inotify.max_user_instances "
               "and max_user_watches); copying them every second instead",
               session_id, strerror(e));
        fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        const struct itimerspec every = {{1, 0}, {1, 0}};
        if (fd >= 0 && timerfd_settime(fd, 0, &every, NULL) < 0) {
                close(fd);
                fd = -1;
        }
        return fd;
}

/* <ID>.state in the registry, for isolatectl list: user scope only. Best effort. */
static void state_write(void)
{
        if (!user_scope)
                return;
        char name[64], tmp[80], text[160];
        snprintf(name, sizeof(name), "%s.state", session_id);
        snprintf(tmp, sizeof(tmp), ".%s.state.tmp", session_id);
        size_t open_logins = 0;
        for (size_t i = 0; i < n_logins; i++)
                open_logins += !logins[i].closed;
        int n = snprintf(text, sizeof(text), "logins=%zu\nlinger_until=%llu\nlinger_forever=%d\n",
                         open_logins, (unsigned long long)(lingering ? linger_until : 0),
                         lingering && linger_ms == LINGER_FOREVER_MS);
        int fd =
            openat(FD_REGISTRY, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return;
        bool ok = write_all(fd, text, (size_t)n) == 0;
        close(fd);
        if (!ok || renameat(FD_REGISTRY, tmp, FD_REGISTRY, name) < 0)
                unlinkat(FD_REGISTRY, tmp, 0);
}

/* Whether the registry lists another sandbox of our user (after ours was removed). */
static bool user_has_other_sandboxes(void)
{
        int dfd = openat(FD_REGISTRY, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                return true; /* when in doubt, recompute */
        }
        char want[32];
        snprintf(want, sizeof(want), "\nuid=%s\n", uid_arg);
        bool found = false;
        for (struct dirent *de; !found && (de = readdir(d));) {
                if (de->d_name[0] == '.' || strchr(de->d_name, '.'))
                        continue;
                char buf[1024];
                if (read_file_at(dirfd(d), de->d_name, buf, sizeof(buf)) > 0)
                        found = strstr(buf, want) != NULL;
        }
        closedir(d);
        return found;
}

/* The strictest-cap rule without this sandbox: `isolate-helper caps`, run in the helper's
 * mount and cgroup namespaces (ours show neither the host's cgroupfs nor its config), waited
 * for at most CAPS_TIMEOUT_MS. Only when the user has another live sandbox: otherwise the
 * next login sets the caps anyway. */
static void caps_recompute(void)
{
        if (fcntl(FD_CAPS_EXE, F_GETFD) < 0 || fcntl(FD_HOST_MNT, F_GETFD) < 0 ||
            !user_has_other_sandboxes())
                return;
        pid_t pid = fork();
        if (pid < 0) {
                syslog(LOG_WARNING, "session %s: cannot recompute the user's caps: fork: %m",
                       session_id);
                return;
        }
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                if (setns(FD_HOST_MNT, CLONE_NEWNS) < 0 ||
                    (fcntl(FD_HOST_CG, F_GETFD) >= 0 && setns(FD_HOST_CG, CLONE_NEWCGROUP) < 0))
                        _exit(126);
                /* nothing of the init's but the helper's file reaches it */
                if (close_range(3, FD_CAPS_EXE - 1, 0) < 0 ||
                    close_range(FD_CAPS_EXE + 1, ~0U, 0) < 0 ||
                    fcntl(FD_CAPS_EXE, F_SETFD, FD_CLOEXEC) < 0)
                        _exit(126);
                char *argv[] = {(char *)"isolate-helper",
                                (char *)"caps",
                                (char *)"--config",
                                (char *)config_path,
                                (char *)"--uid",
                                (char *)uid_arg,
                                NULL};
                char *envp[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
                syscall(SYS_execveat, FD_CAPS_EXE, "", argv, envp, AT_EMPTY_PATH);
                _exit(127);
        }
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        if (pfd < 0 || poll(&p, 1, CAPS_TIMEOUT_MS) <= 0) {
                syslog(LOG_WARNING, "session %s: isolate-helper caps did not end in time",
                       session_id);
                kill(pid, SIGKILL);
        }
        if (pfd >= 0)
                close(pfd);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                syslog(LOG_WARNING,
                       "session %s: isolate-helper caps failed (status %d): the "
                       "user's caps stay as strict as they were until the next login",
                       session_id, status);
}

/* egress_log: the ring's reader, and the timer for the line of a window that counted
 * refusals it did not log. */
static struct egress_log_reader egress;
static bool have_egress;
static int egress_timer = -1;
/* a window is full: the ring is not read until it ends, so that a flood wakes nobody */
static bool egress_paused;

static uint64_t monotonic_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void egress_line(const char *line, void *data)
{
        syslog(LOG_NOTICE, "%s", line);
}

static void egress_open(void)
{
        if (fcntl(FD_EGRESS, F_GETFD) < 0)
                return;
        int dropped = fcntl(FD_EGRESS + 1, F_GETFD) >= 0 ? FD_EGRESS + 1 : -1;
        int r = egress_log_reader_open(&egress, FD_EGRESS, dropped, session_id, policy_name);
        if (r == 0) {
                egress_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
                if (egress_timer >= 0) {
                        have_egress = true;
                        return;
                }
                r = -errno;
                egress_log_reader_close(&egress);
        }
        syslog(LOG_WARNING, "session %s: cannot read the egress log: %s; refusals are not logged",
               session_id, strerror(-r));
        close(FD_EGRESS);
        if (dropped >= 0)
                close(dropped);
}

/* Everything the ring holds, logged; when the window is full, the ring is left alone until
 * the timer ends the window. */
static void egress_drain(void)
{
        uint64_t deadline = egress_log_drain(&egress, monotonic_ns(), egress_line, NULL);
        struct itimerspec at = {
            {0, 0}, {(time_t)(deadline / 1000000000ull), (long)(deadline % 1000000000ull)}};
        if (deadline && timerfd_settime(egress_timer, TFD_TIMER_ABSTIME, &at, NULL) == 0)
                egress_paused = true;
}

static void egress_timer_expired(void)
{
        uint64_t expirations;
        while (read(egress_timer, &expirations, sizeof(expirations)) > 0)
                ;
        egress_log_flush(&egress, monotonic_ns(), false, egress_line, NULL);
        egress_paused = false;
        egress_drain();
}

/* The ticket links that lead to us ("UID-SERVICE.join" -> "ID:NEEDS", ticket.h). */
static void ticket_links_remove(void)
{
        int dfd = openat(FD_REGISTRY, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                return; /* the next registry_prepare() removes them */
        }
        size_t id_len = strlen(session_id);
        for (struct dirent *de; (de = readdir(d));) {
                size_t len = strlen(de->d_name);
                char target[64];
                ssize_t n;
                if (len <= 5 || !STREQ(de->d_name + len - 5, ".join") ||
                    (n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1)) <= 0)
                        continue;
                target[n] = '\0';
                if (strncmp(target, session_id, id_len) == 0 && target[id_len] == ':')
                        unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

static _Noreturn void cleanup_and_exit(int status)
{
        /* the last refusals, and the count of the window they end in */
        if (have_egress) {
                (void)egress_log_drain(&egress, monotonic_ns(), egress_line, NULL);
                egress_log_flush(&egress, monotonic_ns(), true, egress_line, NULL);
        }
        /* no more joins: a helper that connects now builds a new sandbox */
        if (user_scope) {
                close(FD_LISTEN);
                char sock[64];
                snprintf(sock, sizeof(sock), "%s.sock", session_id);
                unlinkat(FD_REGISTRY, sock, 0);
                if (ticket)
                        ticket_links_remove();
        }
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
        if (user_scope) {
                char state[64];
                snprintf(state, sizeof(state), "%s.state", session_id);
                unlinkat(FD_REGISTRY, state, 0);
        }
        /* only a committed sandbox counted for the caps (fd_escape: abandoned before) */
        if (status == 0)
                caps_recompute();
        _exit(status);
}

static size_t logins_open(void)
{
        size_t n = 0;
        for (size_t i = 0; i < n_logins; i++)
                n += !logins[i].closed;
        return n;
}

static int login_add(int pidfd, int control)
{
        if (n_logins >= MAX_LOGINS)
                return -EUSERS;
        struct login *nv = realloc(logins, (n_logins + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        logins = nv;
        logins[n_logins++] = (struct login){pidfd, control, false};
        return 0;
}

static void login_remove(size_t i)
{
        close(logins[i].pidfd);
        if (logins[i].control >= 0)
                close(logins[i].control);
        logins[i] = logins[--n_logins];
}

static void linger_stop(int tfd)
{
        struct itimerspec off = {{0, 0}, {0, 0}};
        timerfd_settime(tfd, 0, &off, NULL);
        lingering = false;
        linger_until = 0;
}

/* The last login is gone. Login scope, linger = no, or nothing left running: the end.
 * Otherwise the sandbox lingers. */
static void last_login_gone(int tfd)
{
        if (!user_scope || linger_ms == 0)
                cleanup_and_exit(0);
        reap_children();
        if (count_others() == 0)
                cleanup_and_exit(0);
        lingering = true;
        linger_until = 0;
        if (linger_ms != LINGER_FOREVER_MS) {
                struct itimerspec t = {
                    {0, 0}, {(time_t)(linger_ms / 1000), (long)(linger_ms % 1000) * 1000000}};
                if (timerfd_settime(tfd, 0, &t, NULL) < 0)
                        cleanup_and_exit(0); /* no bound on the linger: none at all */
                linger_until = (uint64_t)time(NULL) + (linger_ms + 999) / 1000;
        }
        syslog(LOG_INFO, "session %s: last login ended; lingering %s", session_id,
               linger_ms == LINGER_FOREVER_MS ? "until no process is left" : "for its linger");
        state_write();
}

/* Whether key is held; a held one moves to the front, so that the keys in use stay while
 * new ones (a login from each new address, where the rules read the rhost) push out the
 * least recently used. */
static bool ticket_key_known(const char *key)
{
        for (size_t i = 0; i < TICKET_KEYS; i++)
                if (ticket_keys[i] && STREQ(ticket_keys[i], key)) {
                        char *hit = ticket_keys[i];
                        memmove(ticket_keys + 1, ticket_keys, i * sizeof(*ticket_keys));
                        ticket_keys[0] = hit;
                        return true;
                }
        return false;
}

/* MSG_TICKET: the reply follows; answered MSG_READY once both are kept. */
static void ticket_take(int conn, const char *key)
{
        struct open_reply *rep = calloc(1, sizeof(*rep));
        char *copy = strdup(key);
        bool hello = false;
        if (rep)
                join_spec_init(&rep->join);
        int r = rep && copy ? proto_recv_reply(conn, JOIN_TIMEOUT_MS, rep, &hello) : -ENOMEM;
        if (r != MSG_OPEN_REPLY || rep->status != REPLY_OK) {
                if (rep)
                        join_spec_free(&rep->join);
                free(rep);
                free(copy);
                return;
        }
        /* placeholders: each join gets our pidfd and a control socket of its own */
        closep(&rep->join.init_pidfd);
        closep(&rep->join.control_fd);
        rep->join.init_pidfd = rep->join.control_fd = -1;
        if (ticket) {
                join_spec_free(&ticket->join);
                free(ticket);
        }
        ticket = rep;
        if (!ticket_key_known(copy)) {
                free(ticket_keys[TICKET_KEYS - 1]);
                memmove(ticket_keys + 1, ticket_keys, (TICKET_KEYS - 1) * sizeof(*ticket_keys));
                ticket_keys[0] = TAKE_PTR(copy);
        }
        free(copy);
        proto_send_simple(conn, MSG_READY, 0, NULL);
}

/* MSG_TICKET_JOIN: a login with a key we hold joins as one the helper brings; answered with
 * the ticket's reply, our pidfd and a new control socket, or MSG_FAILED. */
static void ticket_join(int conn, const char *key, int pidfd, int tfd)
{
        if (!ticket || !ticket_key_known(key)) {
                close(pidfd);
                proto_send_simple(conn, MSG_FAILED, ENOENT, "no ticket for this login");
                return;
        }
        int sv[2] = {-1, -1};
        int self = (int)syscall(SYS_pidfd_open, 1, 0); /* pid 1 here: ourselves */
        int r = self < 0 ? -errno
                : socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ? -errno
                                                                                 : login_add(pidfd, sv[0]);
        if (r < 0) {
                close(pidfd);
                closep(&sv[0]);
                proto_send_simple(conn, MSG_FAILED, (uint32_t)-r,
                                  r == -EUSERS ? "the sandbox has too many logins"
                                               : "the sandbox cannot take a login");
        } else {
                struct open_reply rep = *ticket; /* shares the arrays: not freed */
                rep.join.init_pidfd = self;
                rep.join.control_fd = sv[1];
                if (proto_send_reply(conn, &rep) < 0) {
                        login_remove(n_logins - 1); /* the caller is gone: nobody joins */
                } else {
                        syslog(LOG_INFO, "session %s: a login joined by ticket%s", session_id,
                               lingering ? " (the sandbox lingered)" : "");
                        linger_stop(tfd);
                        state_write();
                }
        }
        closep(&sv[1]);
        closep(&self);
}

/* A message of a protocol version we do not read: answered MSG_FAILED in ours, which a
 * newer peer reads (protocol.h), with both versions named; logged for the admin. */
static void version_refuse(int conn, const char *peer, uint32_t version)
{
        char why[512];
        proto_version_explain(why, sizeof(why), peer, "isolate-init", version);
        syslog(LOG_ERR, "session %s: %s", session_id, why);
        proto_send_simple(conn, MSG_FAILED, EPROTONOSUPPORT, why);
}

/* A helper brings a new login: its caller's pidfd and control socket. Answered with our
 * own pidfd (MSG_READY), which the caller joins with, or MSG_FAILED. A helper gives a
 * ticket (MSG_TICKET), a caller comes with one (MSG_TICKET_JOIN). */
static void join_accept(int tfd)
{
        int conn = accept4(FD_LISTEN, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (conn < 0)
                return;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
                close(conn);
                return;
        }
        enum proto_type type;
        int fds[2] = {-1, -1};
        size_t n = 0;
        char key[TICKET_KEY_MAX];
        uint32_t version = 0;
        int r = proto_recv_simple_fds(conn, JOIN_FIRST_MS, &type, &version, key, sizeof(key), fds,
                                      2, &n);
        if (r == -EPROTONOSUPPORT) {
                version_refuse(conn, "the helper or caller", version);
                close(conn);
                return;
        }
        if (r == 0 && type == MSG_TICKET && n == 0) {
                ticket_take(conn, key);
                close(conn);
                return;
        }
        if (r == 0 && type == MSG_TICKET_JOIN && n == 1) {
                ticket_join(conn, key, fds[0], tfd);
                close(conn);
                return;
        }
        if (r < 0 || type != MSG_JOIN || n != 2) {
                for (size_t i = 0; i < n; i++)
                        close(fds[i]);
                close(conn);
                return;
        }
        int self = (int)syscall(SYS_pidfd_open, 1, 0); /* pid 1 here: ourselves */
        r = self < 0 ? -errno : login_add(fds[0], fds[1]);
        if (r < 0) {
                close(fds[0]);
                close(fds[1]);
                proto_send_simple(conn, MSG_FAILED, (uint32_t)-r,
                                  r == -EUSERS ? "the sandbox has too many logins"
                                               : "the sandbox cannot take a login");
        } else if (proto_send_simple_fds(conn, MSG_READY, 0, NULL, &self, 1) < 0) {
                login_remove(n_logins - 1); /* the helper is gone: nobody joins */
        } else {
                if (lingering)
                        syslog(LOG_INFO, "session %s: a login rejoined the lingering sandbox",
                               session_id);
                linger_stop(tfd);
                state_write();
        }
        if (self >= 0)
                close(self);
        close(conn);
}

/* MSG_CLOSE from login i: kill the sandbox's processes only when it is the last open login
 * and nothing lingers after it. */
static void login_close(size_t i)
{
        enum proto_type type;
        uint32_t version = 0;
        int r = proto_recv_simple(logins[i].control, 0, &type, &version, NULL, 0);
        if (r == -EPROTONOSUPPORT) {
                version_refuse(logins[i].control, "the caller", version);
                return;
        }
        if (r == -ECONNRESET || (r < 0 && r != -EAGAIN && r != -EBADMSG)) {
                close(logins[i].control); /* no caller end left: only the pidfd matters */
                logins[i].control = -1;
                return;
        }
        if (r < 0 || type != MSG_CLOSE)
                return;
        bool last = !logins[i].closed && logins_open() == 1;
        logins[i].closed = true;
        unsigned killed = 0;
        if (last && (!user_scope || linger_ms == 0))
                killed = kill_others();
        proto_send_simple(logins[i].control, MSG_CLOSED, killed, NULL);
        state_write();
}

int main(int argc, char **argv)
{
        uint64_t uid;
        if (argc != 9 || getpid() != 1 || safe_atoi(argv[3], &n_leaves) < 0 || n_leaves < 0 ||
            n_leaves > 16 || safe_atou64(argv[4], &uid) < 0 || uid > UINT32_MAX ||
            (!STREQ(argv[5], "login") && !STREQ(argv[5], "user")) ||
            safe_atou64(argv[6], &linger_ms) < 0)
                return 2;
        session_id = argv[1];
        leaf_name = argv[2];
        uid_arg = argv[4];
        user_scope = STREQ(argv[5], "user");
        config_path = argv[7];
        policy_name = argv[8];
        /* Its fds (the egress log's, the registry's, the host's namespaces) are its own: a
         * user's process fails the kernel's ptrace check (pidfd_getfd, /proc/1/fd) on uid and
         * capabilities already; not dumpable (the exec made it so again) refuses also a root
         * process without CAP_SYS_PTRACE. */
        prctl(PR_SET_DUMPABLE, 0);
        openlog("isolate-init", LOG_PID, LOG_AUTHPRIV);
        if (fcntl(FD_LEAVES + n_leaves, F_GETFD) >= 0)
                fd_escape = FD_LEAVES + n_leaves;
        if (user_scope && fcntl(FD_LISTEN, F_GETFD) < 0)
                return 2;
        if (login_add(FD_CALLER, FD_CONTROL) < 0)
                return 2;

        sigset_t mask;
        sigfillset(&mask);
        sigprocmask(SIG_SETMASK, &mask, NULL);
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (sfd < 0 || tfd < 0)
                cleanup_and_exit(1);

        int ifd = -1;
        if (fcntl(FD_RECORDS, F_GETFD) >= 0) {
                have_records = true;
                records_init(&records, FD_RECORDS,
                             fcntl(FD_RECORDS + 1, F_GETFD) >= 0 ? FD_RECORDS + 1 : -1,
                             fcntl(FD_RECORDS + 2, F_GETFD) >= 0 ? FD_RECORDS + 2 : -1, session_id,
                             (uid_t)uid);
                ifd = records_watch();
                if (ifd < 0)
                        cleanup_and_exit(1);
        }

        egress_open();

        if (proto_send_simple(FD_HELPER, MSG_READY, 0, NULL) < 0)
                cleanup_and_exit(1);

        enum {
                P_SIGNAL,
                P_HELPER,
                P_RECORDS,
                P_LISTEN,
                P_TIMER,
                P_EGRESS,
                P_EGRESS_TIMER,
                P_FIXED
        };
        bool committed = false;
        struct pollfd *p = NULL;
        for (;;) {
                size_t np = P_FIXED + 2 * n_logins;
                struct pollfd *nv = realloc(p, np * sizeof(*p));
                if (!nv)
                        cleanup_and_exit(1);
                p = nv;
                p[P_SIGNAL] = (struct pollfd){.fd = sfd, .events = POLLIN};
                p[P_HELPER] = (struct pollfd){.fd = committed ? -1 : FD_HELPER, .events = POLLIN};
                p[P_RECORDS] = (struct pollfd){.fd = ifd, .events = POLLIN};
                /* joins only once committed: until then the helper may still give up */
                p[P_LISTEN] = (struct pollfd){.fd = user_scope && committed ? FD_LISTEN : -1,
                                              .events = POLLIN};
                p[P_TIMER] = (struct pollfd){.fd = tfd, .events = POLLIN};
                p[P_EGRESS] = (struct pollfd){.fd = have_egress && !egress_paused ? FD_EGRESS : -1,
                                              .events = POLLIN};
                p[P_EGRESS_TIMER] = (struct pollfd){.fd = egress_timer, .events = POLLIN};
                for (size_t i = 0; i < n_logins; i++) {
                        p[P_FIXED + 2 * i] =
                            (struct pollfd){.fd = logins[i].pidfd, .events = POLLIN};
                        p[P_FIXED + 2 * i + 1] =
                            (struct pollfd){.fd = logins[i].control, .events = POLLIN};
                }
                if (poll(p, np, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        cleanup_and_exit(1);
                }
                if (p[P_EGRESS].revents)
                        egress_drain();
                if (p[P_EGRESS_TIMER].revents)
                        egress_timer_expired();
                if (p[P_RECORDS].revents) {
                        char buf[4096];
                        while (read(ifd, buf, sizeof(buf)) > 0)
                                ;
                        records_run(false);
                }
                if (p[P_HELPER].revents) {
                        enum proto_type type;
                        int r = proto_recv_simple(FD_HELPER, 0, &type, NULL, NULL, 0);
                        if (r < 0 || type != MSG_READY) /* abandoned before the caller knew */
                                cleanup_and_exit(1);
                        close(FD_HELPER); /* committed */
                        committed = true;
                        if (fd_escape >= 0)
                                close(fd_escape); /* the helper has moved us out */
                        fd_escape = -1;
                        state_write();
                }
                if (p[P_TIMER].revents) {
                        syslog(LOG_INFO, "session %s: linger expired", session_id);
                        cleanup_and_exit(0);
                }
                /* logins, from the last: login_remove moves the last one into the gap */
                bool changed = false;
                for (size_t k = n_logins; k > 0; k--) {
                        size_t i = k - 1;
                        if (p[P_FIXED + 2 * i + 1].revents && logins[i].control >= 0)
                                login_close(i);
                        if (p[P_FIXED + 2 * i].revents) { /* that caller is gone */
                                if (!committed)
                                        cleanup_and_exit(1);
                                login_remove(i);
                                changed = true;
                        }
                }
                if (changed) {
                        if (n_logins == 0)
                                last_login_gone(tfd);
                        else
                                state_write();
                }
                if (p[P_SIGNAL].revents) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                /* only from outside the namespace: ssi_pid is 0 there */
                                if (si.ssi_signo == SIGTERM && si.ssi_pid == 0) {
                                        kill_others();
                                        if (n_logins == 0)
                                                cleanup_and_exit(0);
                                }
                        }
                        reap_children();
                        if (lingering && count_others() == 0)
                                cleanup_and_exit(0);
                }
                /* the last: it may change the logins the poll set was built from */
                if (p[P_LISTEN].revents)
                        join_accept(tfd);
        }
}

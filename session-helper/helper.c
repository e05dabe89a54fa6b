/* helper.c: isolate-helper, the root helper that builds one session and exits.
 *
 *   isolate-helper open --config PATH      (socket to the caller on fd 3)
 *
 * Order (DESIGN.md, "The flow of one login"): check the caller; load the config and tell
 * the caller its fail mode; resolve the policy; compile the seccomp program and plan the
 * LSM part (pure work first, nothing made yet); plan the cgroups (their paths, nothing
 * made); clone the session's first process into fresh namespaces, where it waits; the
 * user's cgroup and the session leaf; "go" to the child, which enters the leaf, builds the
 * view inside and execs isolate-init; registry entry; commit to the init; reply with the
 * init's pidfd, the files through which the caller moves itself into the leaf (a process
 * moving itself on cgroup v1 costs no RCU grace period; moving another does), and
 * everything else the caller applies to itself.
 *
 * From the clone to the commit the child (later the init) owns the cleanup: whenever its
 * socket to the helper closes first, because the helper gave up or died at any point, it
 * removes whatever exists of the planned leaves (and the registry entry) and exits; the
 * helper only kills one that does not end in time. Test hooks, compiled in only with
 * -DISOLATE_FAULT_INJECTION (the test-only build/tests/isolate-helper-faults, never the
 * shipped helper): ISOLATE_TEST_DIE_AT=config|cgroup|ready|init|registry|commit makes it
 * kill itself after that step, ISOLATE_TEST_HANG_AT=... hang there, and
 * ISOLATE_TEST_NO_MOUNT_SETATTR takes the mounts of a kernel without mount_setattr,
 * ISOLATE_TEST_LANDLOCK_ABI=N plans Landlock as for a kernel with that ABI.
 *
 * A policy with scope = user: the first login builds the sandbox as above, with a listening
 * socket for the init (<runtime>/sessions/ID.sock); a later login of the same user and
 * policy finds its registry entry, hands the init its caller's pidfd and a control socket
 * (MSG_JOIN) and gets the init's pidfd back: the caller then joins that sandbox as it would
 * a new one. A sandbox built from another definition of the policy (its fingerprint
 * differs) is not joined: the login gets a new one. Under systemd the init of such a sandbox
 * moves out of the first login's session-N.scope into isolate-ID.scope (cgroup.h), before
 * the go, so that its cgroup namespace is rooted there and logind's end of that login does
 * not end it.
 *
 * Caps: every login sets the user's caps to the strictest over its own policy and those of
 * the user's live sandboxes (caps.h), under the user's lock.
 *
 *   isolate-helper caps --config PATH --uid UID
 *
 * is that rule without a new login: the init of an ending sandbox runs it (in the helper's
 * namespaces) so that the caps of the sandboxes left apply again. */
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "../conf/policy.h"
#include "caps.h"
#include "cgroup.h"
#include "egress.h"
#include "limits.h"
#include "log.h"
#include "lsm.h"
#include "mounts.h"
#include "../client/protocol.h"
#include "../client/ticket.h"
#include "registry.h"
#include "seccomp.h"
#include "../client/util.h"
#include "../client/sanitizer.h"

ISOLATE_SANITIZER_LOG("isolate-helper")

#define INIT_FD_CALLER   3
#define INIT_FD_CONTROL  4
#define INIT_FD_HELPER   5
#define INIT_FD_REGISTRY 6  /* then the cgroup leaves and the escape fd (session-init.c) */
#define INIT_FD_RECORDS  24 /* 24, 25, 26: the records, the host's /var/log and utmp */
#define INIT_FD_LISTEN   27 /* user scope: joins come here */
#define INIT_FD_CAPS     28 /* 28, 29, 30: isolate-helper, the helper's mount and cgroup ns */
#define INIT_FD_EGRESS   31 /* 31, 32 with egress_log: the refusals' ring and its drop count */
#define INIT_FD_END      33 /* the session child moves fds above this before placing them */
_Static_assert(INIT_FD_REGISTRY + 1 + CGROUP_MAX_HIERARCHIES + 1 <= INIT_FD_RECORDS,
               "the init's record fds are above its registry, leaves and escape fds");

struct session_setup {
        struct config *cfg; /* owned */
        const struct policy *policy;
        struct open_request req;
        struct login_info who;
        char home[PATH_MAX];
        char id[32];
        struct cgroup_session cg;
        struct cgroup_session cg_plan; /* what cg will be, known before anything is made */
        bool cg_made;
        int caller_pidfd;
        int init_exe_fd;
        int child_sock; /* helper <-> session child / init */
        int child_sock_peer;
        int control_sock; /* init end; the caller gets the other */
        int control_peer;
        int init_pidfd;
        pid_t init_pid;
        int sessions_lock; /* the user's lock, held until the registry entry exists */
        int listen_fd;     /* user scope: the init's socket for later logins */
        int caps_fds[3];   /* isolate-helper, our mount and cgroup namespaces, for the init */
        /* egress_log: the programs write into it, the init reads it (egress.h) */
        struct egress_log elog;
        char config_path[PATH_MAX];
        struct policy eff; /* the policy with the user's strictest caps (caps.h) */
        char fingerprint[17];
        char stamp[PATH_MAX + 128]; /* the config file's, before it was read (ticket.h) */
        bool joined;                /* a later login of a live user-scope sandbox */
        bool listen_bound;
        bool registered;
        bool committed;
        struct open_reply reply;
        uint64_t t_start;
};

/* Frees what the setup holds; the fds handed to the caller were sent already. */
static void session_setup_done(struct session_setup *s)
{
        closep(&s->caller_pidfd);
        closep(&s->init_exe_fd);
        closep(&s->child_sock);
        closep(&s->child_sock_peer);
        closep(&s->control_sock);
        closep(&s->sessions_lock);
        closep(&s->listen_fd);
        for (size_t i = 0; i < ELEMENTSOF(s->caps_fds); i++)
                closep(&s->caps_fds[i]);
        egress_log_close(&s->elog);
        caps_effective_free(&s->eff);
        if (s->reply.join.init_pidfd != s->init_pidfd)
                closep(&s->init_pidfd);
        if (s->reply.join.control_fd != s->control_peer)
                closep(&s->control_peer);
        join_spec_free(&s->reply.join);
        login_info_free(&s->who);
        config_free(s->cfg);
        s->cfg = NULL;
}

#ifdef ISOLATE_FAULT_INJECTION
static void test_die_at(const char *stage)
{
        const char *at = getenv("ISOLATE_TEST_DIE_AT");
        if (at && STREQ(at, stage))
                raise(SIGKILL);
        at = getenv("ISOLATE_TEST_HANG_AT");
        while (at && STREQ(at, stage))
                pause(); /* until the alarm ends us */
}

static void test_hooks_read(void)
{
        if (getenv("ISOLATE_TEST_NO_MOUNT_SETATTR"))
                mounts_without_mount_setattr();
        int abi;
        const char *s = getenv("ISOLATE_TEST_LANDLOCK_ABI");
        if (s && safe_atoi(s, &abi) == 0)
                lsm_set_landlock_abi(abi); /* plan as on a kernel with this ABI (0: none) */
}
#else
/* The shipped helper has no fault injection: its environment cannot make it die or hang. */
static void test_die_at(const char *stage)
{
}

static void test_hooks_read(void)
{
}
#endif

static int kernel_check(struct isolate_error *err)
{
        struct utsname u;
        unsigned major = 0, minor = 0;
        if (uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
            (major > 5 || (major == 5 && minor >= 11)))
                return 0;
        /* 5.8: setns with a pidfd; 5.11: close_range(CLOSE_RANGE_CLOEXEC), which keeps every
         * fd of the helper out of the session */
        return error_set(err, ENOSYS,
                         "isolate needs Linux 5.11 or newer (setns with a pidfd, "
                         "close_range); this kernel is %s",
                         u.release);
}

/* The real uid of a process (the first field of Uid: in /proc/PID/status); -1 if unknown. */
static long caller_real_uid(pid_t pid)
{
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
                return -1;
        const char *line = strstr(buf, "\nUid:");
        unsigned long uid;
        if (!line || sscanf(line + 5, "%lu", &uid) != 1)
                return -1;
        return (long)uid;
}

/* The caller we were told about must be our parent and the socket's creator, and root. */
static int caller_check(int sock, const struct open_request *req, struct isolate_error *err)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return error_set_errno(err, errno, "SO_PEERCRED");
        if (req->caller_pid != getppid() || cred.pid != req->caller_pid)
                return error_set(err, EPERM,
                                 "caller pid %d is not the helper's parent (%d, socket peer %d)",
                                 (int)req->caller_pid, (int)getppid(), (int)cred.pid);
        if (cred.uid != 0)
                return error_set(err, EPERM, "the caller runs as uid %u, not root",
                                 (unsigned)cred.uid);
        return 0;
}

/* isolate-init sits next to the helper: found from /proc/self/exe, opened O_PATH so that
 * the session child can exec it whatever its mount namespace shows. */
static int init_exe_open(struct isolate_error *err)
{
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0)
                return error_set_errno(err, errno, "readlink /proc/self/exe");
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (!slash)
                return error_set(err, EINVAL, "odd helper path %s", self);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%.*s/isolate-init", (int)(slash - self), self);
        int fd = open(path, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return error_set_errno(err, errno, "cannot find the session init %s", path);
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0022)) {
                close(fd);
                return error_set(err, EPERM, "%s must be a root-owned file not writable by others",
                                 path);
        }
        return fd;
}

static uint32_t ns_flags_of(const struct policy *p)
{
        uint32_t f = 0;
        if (p->ns_mount)
                f |= CLONE_NEWNS;
        if (p->ns_pid)
                f |= CLONE_NEWPID;
        if (p->ns_uts)
                f |= CLONE_NEWUTS;
        if (p->ns_ipc)
                f |= CLONE_NEWIPC;
        if (p->network == NETWORK_NONE)
                f |= CLONE_NEWNET;
        return f;
}

/* Places fd at target without O_CLOEXEC; fds are first moved above the targets. */
static int fd_place(int fd, int target)
{
        return dup2(fd, target) < 0 ? -errno : 0;
}

/* Waits for the helper's go: the cgroups it made, as a copy of its struct cgroup_session (the
 * same binary on both ends). false when the helper gave up or died first (the socket closed)
 * or sent anything else. */
static bool go_wait(int sock, struct cgroup_session *ret)
{
        ssize_t n;
        do
                n = recv(sock, ret, sizeof(*ret), MSG_TRUNC);
        while (n < 0 && errno == EINTR);
        return n == (ssize_t)sizeof(*ret);
}

/* After a failure in the session child: out of the leaf, then the leaves removed, so that
 * none is left if the helper dies before its own cleanup (it removes them too). On v2 the way
 * out is the supervisor's cgroup.procs opened before the cgroup namespace was made (escape);
 * on v1 the child is in the leaf only before the view is built, when paths still resolve.
 * dirs: the leaves' parent directories, NULL while they are not open (the view is not built
 * then either). */
static void session_child_undo(const struct session_setup *s, bool in_leaf, int escape,
                               const int *dirs, size_t n_dirs, const char *leaf_name)
{
        struct isolate_error ignored;
        if (in_leaf) {
                int r = escape >= 0 ? (write(escape, "0", 1) == 1 ? 0 : -errno)
                                    : cgroup_session_enter_supervisor(&s->cg, 0, &ignored);
                if (r < 0)
                        return; /* still inside: the helper removes them once we are gone */
        }
        if (!dirs) {
                (void)cgroup_session_remove(&s->cg, &ignored);
                return;
        }
        for (size_t i = 0; i < n_dirs; i++)
                for (int t = 0; t < 100 && dirs[i] >= 0; t++) {
                        if (unlinkat(dirs[i], leaf_name, AT_REMOVEDIR) == 0 || errno != EBUSY)
                                break;
                        usleep(5000); /* the kernel may count a leaving task for a moment */
                }
}

/* The session's first process: pid 1 of the new pid namespace. It is cloned before any
 * cgroup is made and waits for the helper's go: if the helper dies or gives up before that,
 * it removes whatever part of the planned leaves exists and exits. Then it enters the leaf,
 * builds the view inside and execs isolate-init; on failure it removes the leaves, tells the
 * helper why and exits. */
static _Noreturn void session_child(struct session_setup *s)
{
        struct isolate_error err = {0};
        int r;
        const struct policy *p = s->policy;

        /* the helper's end: the socket must close when the helper dies */
        closep(&s->child_sock);
        s->child_sock = -1;
        if (!go_wait(s->child_sock_peer, &s->cg)) {
                (void)cgroup_session_remove(&s->cg_plan, &err);
                _exit(1);
        }

        /* the init removes the leaves and the registry entry at the end through these: it
         * will not see the host's cgroupfs or /run once the view is built. Detached clones
         * (open_tree), so that making /sys read-only inside does not reach them. */
        int keep[1 + CGROUP_MAX_HIERARCHIES];
        size_t n_keep = 0;
        bool keep_open = false, in_leaf = false;
        int escape = -1;
        struct mount_records records = {-1, -1, -1};
        char sessions[PATH_MAX], leaf_name[64] = "";
        snprintf(sessions, sizeof(sessions), "%s/sessions", s->cfg->runtime_dir);
        keep[n_keep++] = open_tree(AT_FDCWD, sessions, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        for (size_t i = 0; i < s->cg.n && s->cg.backend != CGROUP_BACKEND_SYSTEMD; i++) {
                char parent[PATH_MAX];
                snprintf(parent, sizeof(parent), "%s", s->cg.h[i].leaf_path);
                char *slash = strrchr(parent, '/');
                if (!slash || slash == parent)
                        continue;
                *slash = '\0';
                snprintf(leaf_name, sizeof(leaf_name), "%s", slash + 1);
                keep[n_keep++] = open_tree(AT_FDCWD, parent, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        }
        for (size_t i = 0; i < n_keep; i++)
                if (keep[i] < 0) {
                        r = error_set_errno(&err, errno,
                                            "cannot open the session's cgroup "
                                            "and registry directories");
                        goto fail;
                }
        keep_open = true;

        /* The cgroup namespace is rooted where its creator is: in the leaf. The child moves
         * itself in; on v1 also back out (cheap through `tasks`); on v2 the helper moves it
         * out (under systemd's nsdelegate a process may not move itself out of its own cgroup
         * namespace through a file it opens inside; one opened before, `escape`, is judged
         * by the namespace it was opened in (Linux 5.16), and serves a failure's way out). */
        bool v2 = s->cg.backend == CGROUP_BACKEND_V2;
        if (v2) {
                char procs[PATH_MAX];
                snprintf(procs, sizeof(procs), "%s/cgroup.procs", s->cg.h[0].supervisor_path);
                escape = open(procs, O_WRONLY | O_CLOEXEC | O_NOCTTY);
                if (escape < 0) {
                        r = error_set_errno(&err, errno, "cannot open %s", procs);
                        goto fail;
                }
        }
        r = cgroup_session_enter(&s->cg, 0, &err);
        in_leaf = r >= 0 && s->cg.backend != CGROUP_BACKEND_SYSTEMD;
        if (r >= 0 && p->ns_cgroup && unshare(CLONE_NEWCGROUP) < 0)
                r = error_set_errno(&err, errno, "unshare(CLONE_NEWCGROUP)");
        if (r >= 0 && !v2) {
                r = cgroup_session_enter_supervisor(&s->cg, 0, &err);
                in_leaf = r < 0;
        }
        if (r >= 0)
                r = mounts_setup(p, s->req.user, s->who.uid, s->who.gid, s->home, &s->cg, &records,
                                 &err);
        if (r < 0)
                goto fail;

        /* fds 3... for the init: move everything out of the way first (above every target) */
        for (size_t i = 0; i < n_keep; i++) {
                keep[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, INIT_FD_END);
                if (keep[i] < 0) {
                        r = error_set_errno(&err, errno, "fcntl(F_DUPFD_CLOEXEC)");
                        goto fail;
                }
        }
        int caller = fcntl(s->caller_pidfd, F_DUPFD_CLOEXEC, INIT_FD_END);
        int control = fcntl(s->control_sock, F_DUPFD_CLOEXEC, INIT_FD_END);
        int helper = fcntl(s->child_sock_peer, F_DUPFD_CLOEXEC, INIT_FD_END);
        int exe = fcntl(s->init_exe_fd, F_DUPFD_CLOEXEC, INIT_FD_END);
        int out = escape >= 0 ? fcntl(escape, F_DUPFD_CLOEXEC, INIT_FD_END) : -1;
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (caller < 0 || control < 0 || helper < 0 || exe < 0 || null < 0 ||
            (escape >= 0 && out < 0)) {
                r = error_set_errno(&err, errno, "fcntl(F_DUPFD_CLOEXEC)");
                goto fail;
        }
        escape = out;
        int rec_fds[3] = {records.records, records.host_log, records.host_utmp};
        for (size_t i = 0; i < ELEMENTSOF(rec_fds); i++)
                if (rec_fds[i] >= 0 &&
                    (rec_fds[i] = fcntl(rec_fds[i], F_DUPFD_CLOEXEC, INIT_FD_END)) < 0) {
                        r = error_set_errno(&err, errno, "fcntl(F_DUPFD_CLOEXEC)");
                        goto fail;
                }
        int extra[6] = {s->listen_fd,   s->caps_fds[0],  s->caps_fds[1],
                        s->caps_fds[2], s->elog.ring_fd, s->elog.dropped_fd};
        for (size_t i = 0; i < ELEMENTSOF(extra); i++)
                if (extra[i] >= 0 &&
                    (extra[i] = fcntl(extra[i], F_DUPFD_CLOEXEC, INIT_FD_END)) < 0) {
                        r = error_set_errno(&err, errno, "fcntl(F_DUPFD_CLOEXEC)");
                        goto fail;
                }
        s->child_sock_peer = helper; /* its old number may be a target below */
        if (fd_place(null, 0) < 0 || fd_place(null, 1) < 0 || fd_place(null, 2) < 0 ||
            fd_place(caller, INIT_FD_CALLER) < 0 || fd_place(control, INIT_FD_CONTROL) < 0 ||
            fd_place(helper, INIT_FD_HELPER) < 0) {
                r = error_set_errno(&err, errno, "dup2");
                goto fail;
        }
        for (size_t i = 0; i < n_keep; i++)
                if (fd_place(keep[i], INIT_FD_REGISTRY + (int)i) < 0) {
                        r = error_set_errno(&err, errno, "dup2");
                        goto fail;
                }
        /* v2: after the leaves, the way out of the leaf for an init abandoned before the
         * helper moved it (session-init.c) */
        int n_fds = INIT_FD_REGISTRY + (int)n_keep;
        if (escape >= 0 && fd_place(escape, n_fds++) < 0) {
                r = error_set_errno(&err, errno, "dup2");
                goto fail;
        }
        for (size_t i = 0; i < ELEMENTSOF(rec_fds); i++)
                if (rec_fds[i] >= 0 && fd_place(rec_fds[i], INIT_FD_RECORDS + (int)i) < 0) {
                        r = error_set_errno(&err, errno, "dup2");
                        goto fail;
                }
        _Static_assert(INIT_FD_LISTEN == INIT_FD_RECORDS + 3 &&
                           INIT_FD_CAPS == INIT_FD_LISTEN + 1 &&
                           INIT_FD_EGRESS == INIT_FD_CAPS + 3 && INIT_FD_END == INIT_FD_EGRESS + 2,
                       "the init's fds 24 to 32 follow each other");
        for (size_t i = 0; i < ELEMENTSOF(extra); i++)
                if (extra[i] >= 0 && fd_place(extra[i], INIT_FD_LISTEN + (int)i) < 0) {
                        r = error_set_errno(&err, errno, "dup2");
                        goto fail;
                }
        /* nothing else of the helper reaches the session (every fd of ours is O_CLOEXEC:
         * a number not placed above is closed by the exec) */
        if (close_range((unsigned)n_fds, INIT_FD_RECORDS - 1, CLOSE_RANGE_CLOEXEC) < 0 ||
            close_range(INIT_FD_END, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
                r = error_set_errno(&err, errno, "close_range");
                goto fail;
        }

        char n_leaves[16], uid[16], linger[32];
        snprintf(n_leaves, sizeof(n_leaves), "%zu", n_keep - 1);
        snprintf(uid, sizeof(uid), "%u", (unsigned)s->who.uid);
        snprintf(linger, sizeof(linger), "%llu",
                 (unsigned long long)(p->scope == SCOPE_USER ? p->linger_ms : 0));
        char *argv[] = {(char *)"isolate-init",
                        s->id,
                        leaf_name[0] ? leaf_name : (char *)"-",
                        n_leaves,
                        uid,
                        (char *)(p->scope == SCOPE_USER ? "user" : "login"),
                        linger,
                        s->config_path,
                        p->name,
                        NULL};
        char *envp[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        syscall(SYS_execveat, exe, "", argv, envp, AT_EMPTY_PATH);
        r = error_set_errno(&err, errno, "cannot exec the session init");
fail:
        session_child_undo(s, in_leaf, escape, keep_open ? keep + 1 : NULL, n_keep - 1, leaf_name);
        proto_send_simple(s->child_sock_peer, MSG_FAILED, (uint32_t)err.code, err.msg);
        _exit(1);
}

/* Clones the session child into fresh namespaces, before any cgroup is made: it waits for
 * session_go() and cleans up after a helper that dies before that. */
static int session_clone(struct session_setup *s, struct isolate_error *err)
{
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return error_set_errno(err, errno, "socketpair");
        s->child_sock = sv[0];
        s->child_sock_peer = sv[1];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return error_set_errno(err, errno, "socketpair");
        s->control_sock = sv[0];
        s->control_peer = sv[1];

        struct clone_args args = {
            .flags = CLONE_PIDFD | ns_flags_of(s->policy),
            .pidfd = (uint64_t)(uintptr_t)&s->init_pidfd,
            .exit_signal = SIGCHLD,
        };
        long pid = syscall(SYS_clone3, &args, sizeof(args));
        if (pid < 0)
                return error_set_errno(err, errno, "cannot create the session's namespaces");
        if (pid == 0)
                session_child(s);
        s->init_pid = (pid_t)pid;
        fcntl(s->init_pidfd, F_SETFD, FD_CLOEXEC);
        closep(&s->child_sock_peer);
        s->child_sock_peer = -1;
        closep(&s->control_sock);
        s->control_sock = -1;
        return 0;
}

/* Hands the session child the cgroups made and waits until it is the session's init. */
static int session_go(struct session_setup *s, struct isolate_error *err)
{
        ssize_t n;
        do
                n = send(s->child_sock, &s->cg, sizeof(s->cg), MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)sizeof(s->cg))
                return error_set_errno(err, n < 0 ? errno : EIO,
                                       "the session init died while starting");

        enum proto_type type;
        uint32_t code = 0;
        char text[1024];
        int r = proto_recv_simple(s->child_sock, (int)s->cfg->helper_timeout_ms, &type, &code, text,
                                  sizeof(text));
        if (r == -ETIMEDOUT)
                return error_set(err, ETIMEDOUT, "the session init did not get ready in time");
        if (r < 0)
                return error_set_errno(err, r, "the session init died while starting");
        if (type == MSG_FAILED)
                return error_set(err, code ? (int)code : EIO, "%s", text);
        if (type != MSG_READY)
                return error_set(err, EBADMSG, "unexpected message %d from the session init",
                                 (int)type);
        return 0;
}

static void listen_socket_remove(const struct session_setup *s)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/sessions/%s.sock", s->cfg->runtime_dir, s->id);
        unlink(path);
}

/* How long an abandoned session child or init gets to clean up after itself (it has removed
 * the leaves and registry entry within milliseconds) before it is killed and the helper does. */
#define ABANDON_WAIT_MS 200

/* Undoes everything made so far; used before the commit and if the caller cannot be moved.
 * Before the commit the child or init removes what was made itself once its socket closes,
 * so that a helper killed half-way through this leaves nothing either; one that does not
 * end in time (stuck, say, in a mount under a $HOME that hangs) is killed. */
static void session_abandon(struct session_setup *s)
{
        struct isolate_error ignored;
        if (s->init_pidfd >= 0) {
                closep(&s->child_sock);
                s->child_sock = -1;
                int n = 0; /* a committed init waits for the caller, not for us: killed */
                if (!s->committed) {
                        struct pollfd pfd = {.fd = s->init_pidfd, .events = POLLIN};
                        do
                                n = poll(&pfd, 1, ABANDON_WAIT_MS);
                        while (n < 0 && errno == EINTR);
                }
                if (n <= 0)
                        syscall(SYS_pidfd_send_signal, s->init_pidfd, SIGKILL, NULL, 0);
                while (waitpid(s->init_pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        if (s->registered)
                registry_remove(s->cfg->runtime_dir, s->id);
        if (s->listen_bound)
                listen_socket_remove(s);
        if (s->cg_made)
                cgroup_session_remove(&s->cg, &ignored);
}

static bool session_is_live(const char *id, void *data)
{
        const struct config *cfg = data;
        struct session_record *r = malloc(sizeof(*r));
        if (!r)
                return true; /* when in doubt, keep */
        bool live = registry_read(cfg->runtime_dir, id, r) == 0 && registry_session_alive(r);
        free(r);
        return live;
}

/* FNV-1a over what a sandbox is built from and what a joining caller applies: a login joins
 * a live sandbox only when its policy still reads the same (the joiner's own seccomp,
 * Landlock and namespaces must be the sandbox's). */
static void fp_add(uint64_t *h, const void *data, size_t len)
{
        const unsigned char *p = data;
        for (size_t i = 0; i < len; i++) {
                *h ^= p[i];
                *h *= 0x100000001b3ULL;
        }
        unsigned char sep = 0xff;
        *h ^= sep;
        *h *= 0x100000001b3ULL;
}

static void fp_str(uint64_t *h, const char *s)
{
        fp_add(h, s ? s : "", s ? strlen(s) : 0);
}

static void fp_strv(uint64_t *h, const struct strv *v)
{
        for (size_t i = 0; i < v->n; i++)
                fp_str(h, v->v[i]);
}

static void fingerprint(const struct policy *p, const struct join_spec *j, char ret[17])
{
        uint64_t h = 0xcbf29ce484222325ULL;
        const uint64_t nums[] = {
            p->ns_mount,     p->ns_pid,       p->ns_uts,  p->ns_ipc,          p->ns_cgroup,
            p->network,      p->proc,         p->hidepid, p->proc_subset_pid, p->private_tmp,
            p->tmp_size,     p->hide_homes,   p->pty_max, p->system_bus,      j->ns_flags,
            j->caps_keep,    j->no_new_privs, j->nofile,  j->seccomp_flags,   j->landlock_handled,
            j->landlock_abi, j->n_landlock,   j->bpf_len};
        fp_add(&h, nums, sizeof(nums));
        /* apart from nums: a fingerprint from before this field stays what it was for a
         * policy that scopes nothing (a helper upgrade does not orphan live sandboxes) */
        if (j->landlock_scoped)
                fp_add(&h, &j->landlock_scoped, sizeof(j->landlock_scoped));
        fp_str(&h, p->hostname);
        fp_strv(&h, &p->masked_paths);
        fp_strv(&h, &p->read_only_paths);
        fp_str(&h, j->lsm_attr_path);
        fp_str(&h, j->lsm_attr_value);
        if (j->bpf)
                fp_add(&h, j->bpf, j->bpf_len * sizeof(*j->bpf));
        for (uint32_t i = 0; i < j->n_landlock; i++) {
                fp_add(&h, &j->landlock[i].access, sizeof(j->landlock[i].access));
                fp_str(&h, j->landlock[i].path);
        }
        const uint64_t egress[] = {p->egress.filtered, p->egress.n};
        fp_add(&h, egress, sizeof(egress));
        if (p->egress.filtered) /* a sandbox whose refusals nobody reads is another sandbox */
                fp_add(&h, &p->egress_log, sizeof(p->egress_log));
        for (size_t i = 0; i < p->egress.n; i++) {
                const struct egress_rule *e = &p->egress.rules[i];
                const uint64_t rule[] = {e->net.prefix, e->port, e->proto};
                fp_add(&h, &e->net.addr, sizeof(e->net.addr));
                fp_add(&h, rule, sizeof(rule));
        }
        snprintf(ret, 17, "%016llx", (unsigned long long)h);
}

/* egress_allow: the four programs (egress.h) on one cgroup2 directory, writing their
 * refusals into elog (EGRESS_LOG_NONE: not logged). No fd of them is kept: on this kernel
 * whoever holds a program's fd may detach it. */
static int egress_attach_dir(struct session_setup *s, const char *dir,
                             const struct egress_log *elog, struct isolate_error *err)
{
        const struct policy *p = s->policy;
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return error_set_errno(err, errno, "egress_allow: cannot open %s", dir);
        struct egress_bpf e = EGRESS_BPF_NONE;
        int r = egress_load(&p->egress, elog, &e, err);
        if (r >= 0)
                r = egress_attach(&e, fd, err);
        bool logs_less = r >= 0 && elog->ring_fd >= 0 && e.log_level < EGRESS_LOG_TASK;
        enum egress_log_level level = e.log_level;
        egress_close(&e);
        close(fd);
        if (r < 0) {
                error_prefix(err, "policy %s: egress_allow", p->name);
                return error_host_fault(err);
        }
        if (logs_less)
                warnings_add(s->reply.warnings, sizeof(s->reply.warnings),
                             "policy %s: egress_log: this kernel's verifier refuses %s in cgroup "
                             "sock_addr programs: refusals are %s",
                             p->name,
                             level == EGRESS_LOG_OFF ? "bpf_ringbuf_output"
                                                     : "the process helpers (pid, uid, comm)",
                             level == EGRESS_LOG_OFF ? "not logged" : "logged without the process");
        return 0;
}

/* The egress_log maps of a live sandbox, for a later login's own programs: those of the
 * programs on dir, the sandbox's own unit. A sandbox whose programs log nothing (a kernel
 * without the ring) leaves *ret EGRESS_LOG_NONE. */
static int egress_log_of(const char *dir, struct egress_log *ret, struct isolate_error *err)
{
        *ret = EGRESS_LOG_NONE;
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return error_set_errno(err, errno, "egress_log: cannot open %s", dir);
        int r = egress_log_find(fd, ret, err);
        return r == -ENOENT ? 0 : r;
}

/* Where a session's sockets are judged: the cgroup2 cgroup they are made in. cgroupfs
 * backends: the session's leaf (a joining login moves into it). systemd: the caller's
 * session-N.scope, where each login's own processes stay, and for a new user-scope
 * sandbox also isolate-ID.scope, where the init and what it outlives run. Before anything
 * of the session runs there. With egress_log every program writes into the sandbox's one
 * ring, which its init reads: a new sandbox's (s->elog, made before the clone so that the
 * init has it), or for a later login under systemd, whose scope gets programs of its own,
 * the ring of the programs on the sandbox's unit. */
static int egress_setup(struct session_setup *s, const struct cgroup_session *cg, bool fresh,
                        struct isolate_error *err)
{
        const struct policy *p = s->policy;
        if (!p->egress.filtered)
                return 0;
        char caller[CGROUP_PATH_LEN] = "";
        const char *own = NULL;
        for (size_t i = 0; i < cg->n && !own; i++)
                if (STREQ(cg->h[i].mount_type, "cgroup2"))
                        own = cg->backend == CGROUP_BACKEND_SYSTEMD ? cg->h[i].scope_path
                                                                    : cg->h[i].leaf_path;
        int r = 0;
        if (cg->backend == CGROUP_BACKEND_SYSTEMD) {
                r = cgroup_pid_unified_dir(s->req.caller_pid, caller, sizeof(caller), err);
                if (r < 0) {
                        error_prefix(err, "policy %s: egress_allow", p->name);
                        return error_host_fault(err);
                }
                _cleanup_(egress_log_close) struct egress_log found = EGRESS_LOG_NONE;
                if (!fresh && p->egress_log && own && *own && !STREQ(own, caller)) {
                        r = egress_log_of(own, &found, err);
                        if (r < 0) {
                                error_prefix(err, "policy %s", p->name);
                                return error_host_fault(err);
                        }
                        if (found.ring_fd < 0)
                                warnings_add(s->reply.warnings, sizeof(s->reply.warnings),
                                             "policy %s: egress_log: the sandbox's programs "
                                             "log nothing: this login's refusals are not "
                                             "logged",
                                             p->name);
                }
                r = egress_attach_dir(s, caller, fresh ? &s->elog : &found, err);
                if (r < 0 || !fresh || !own || !*own || STREQ(own, caller))
                        return r;
        } else if (!fresh)
                return 0; /* the sandbox's leaf has them already */
        if (!own || !*own) {
                error_set(err, EOPNOTSUPP,
                          "policy %s: egress_allow: the session has no cgroup in the cgroup2 "
                          "hierarchy, where cgroup BPF attaches (a systemd host with the legacy "
                          "hierarchy only?): boot with the unified or hybrid hierarchy",
                          p->name);
                return error_host_fault(err);
        }
        return egress_attach_dir(s, own, &s->elog, err);
}

/* The socket of a user-scope sandbox: made here, before the clone, in the registry's
 * directory (root only); the init listens on it, and removes it when it ends. */
static int listen_socket_make(struct session_setup *s, struct isolate_error *err)
{
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/sessions", s->cfg->runtime_dir);
        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return error_set_errno(err, errno, "cannot open %s", dir);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        /* through the fd: a long runtime_dir does not have to fit in sun_path */
        snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s.sock", dfd, s->id);
        s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (s->listen_fd < 0)
                return error_set_errno(err, errno, "socket");
        if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
                return error_set_errno(err, errno, "cannot bind %s/%s.sock", dir, s->id);
        s->listen_bound = true;
        if (listen(s->listen_fd, 16) < 0)
                return error_set_errno(err, errno, "listen");
        return 0;
}

/* What the init of an ending sandbox needs to run `isolate-helper caps`: this program and
 * our mount and cgroup namespaces (O_CLOEXEC here; the session child places them). */
static int caps_fds_open(struct session_setup *s, struct isolate_error *err)
{
        static const char *const paths[] = {"/proc/self/exe", "/proc/self/ns/mnt",
                                            "/proc/self/ns/cgroup"};
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                s->caps_fds[i] = open(paths[i], (i == 0 ? O_PATH : O_RDONLY) | O_CLOEXEC);
                if (s->caps_fds[i] < 0 && !(i == 2 && errno == ENOENT))
                        return error_set_errno(err, errno, "cannot open %s", paths[i]);
        }
        return 0;
}

/* A later login of a user-scope sandbox: hands the init this caller and a control socket,
 * and takes the init's pidfd. 1 when joined; 0 when there is no sandbox to join (none live,
 * built from another definition of the policy, or ending): the caller gets a new one. */
static int sandbox_join(struct session_setup *s, struct isolate_error *err)
{
        _cleanup_free_ struct session_record *rec = calloc(1, sizeof(*rec));
        if (!rec)
                return error_set(err, ENOMEM, "out of memory");
        int r = registry_find_sandbox(s->cfg->runtime_dir, s->who.uid, s->policy->name, rec);
        if (r == -ENOENT)
                return 0;
        if (r == -EPROTONOSUPPORT)
                return registry_format_error(s->cfg->runtime_dir, err);
        if (r < 0)
                return error_set_errno(err, r, "cannot read %s/sessions", s->cfg->runtime_dir);
        if (!STREQ(rec->fingerprint, s->fingerprint)) {
                warnings_add(s->reply.warnings, sizeof(s->reply.warnings),
                             "policy %s changed since sandbox %s was built: a new sandbox",
                             s->policy->name, rec->id);
                return 0;
        }
        /* where the caller is first: under systemd each login's processes stay in its
         * caller's scope, and su from root's own session (or another user's) stays in that
         * session's scope, outside the user's slice and caps: refused, as for a new sandbox
         * (cgroup.h), before anything changes */
        char cg_warnings[sizeof(s->reply.warnings)] = "";
        r = cgroup_session_caller_check(s->cfg, &s->eff, s->who.uid, &rec->cgroup,
                                        s->req.caller_pid, rec->id, cg_warnings,
                                        sizeof(cg_warnings), err);
        if (r < 0)
                return error_prefix(err, "cgroup");
        if (cg_warnings[0])
                warnings_add(s->reply.warnings, sizeof(s->reply.warnings), "%s", cg_warnings);
        /* the caps next: a login they refuse (a memory cap under the user's usage) is never
         * counted by the init */
        r = cgroup_user_caps_set(s->cfg, &s->eff, s->who.uid, &rec->cgroup, cg_warnings,
                                 sizeof(cg_warnings), err);
        if (r < 0)
                return error_prefix(err, "cgroup");
        if (cg_warnings[0])
                warnings_add(s->reply.warnings, sizeof(s->reply.warnings), "%s", cg_warnings);
        r = egress_setup(s, &rec->cgroup, false, err); /* systemd: the caller's own scope */
        if (r < 0)
                return r;

        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/sessions", s->cfg->runtime_dir);
        _cleanup_close_ int dfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int conn = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (dfd < 0 || conn < 0)
                return error_set_errno(err, errno, "cannot reach sandbox %s", rec->id);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s.sock", dfd, rec->id);
        if (connect(conn, (struct sockaddr *)&a, sizeof(a)) < 0)
                return 0; /* ending: its init closed the socket */

        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return error_set_errno(err, errno, "socketpair");
        s->control_peer = sv[1];
        int fds[2] = {s->caller_pidfd, sv[0]};
        r = proto_send_simple_fds(conn, MSG_JOIN, 0, NULL, fds, 2);
        close(sv[0]);
        if (r < 0)
                return 0; /* ending */
        enum proto_type type;
        uint32_t code = 0;
        char text[256];
        int pidfd = -1;
        size_t n = 0;
        r = proto_recv_simple_fds(conn, (int)s->cfg->helper_timeout_ms, &type, &code, text,
                                  sizeof(text), &pidfd, 1, &n);
        if (r == -ETIMEDOUT)
                return error_set(err, ETIMEDOUT, "sandbox %s did not answer in time", rec->id);
        if (r == -EPROTONOSUPPORT) {
                char why[512];
                return error_set(err, EPROTONOSUPPORT, "sandbox %s: %s", rec->id,
                                 proto_version_explain(why, sizeof(why), "its isolate-init",
                                                       "isolate-helper", code));
        }
        if (r < 0)
                return 0; /* ended meanwhile */
        if (type == MSG_FAILED)
                return error_set(err, code ? (int)code : EIO, "sandbox %s: %s", rec->id, text);
        if (type != MSG_READY || n != 1) {
                if (n == 1)
                        close(pidfd);
                return error_set(err, EBADMSG, "sandbox %s: unexpected answer", rec->id);
        }
        s->reply.join.init_pidfd = pidfd;
        s->cg = rec->cgroup;
        snprintf(s->id, sizeof(s->id), "%s", rec->id);
        s->joined = true;
        return 1;
}

static int session_build(struct session_setup *s, struct isolate_error *err)
{
        const struct policy *p = s->policy;
        struct join_spec *j = &s->reply.join;
        int r;

        if (!p->ns_pid)
                return error_set(err, ENOTSUP,
                                 "policy %s: pid_namespace = false is not supported: the session "
                                 "init needs its own pid namespace to end the session",
                                 p->name);
        r = random_hex(s->id, 16);
        if (r < 0)
                return error_set_errno(err, r, "getrandom");
        r = registry_prepare(s->cfg->runtime_dir, err);
        if (r < 0)
                return r;
        r = registry_user_lock(s->cfg->runtime_dir, s->who.uid, &s->sessions_lock, err);
        if (r < 0)
                return r;

        /* pure work first: nothing to undo if it fails */
        r = seccomp_program_get(s->cfg, p, &j->bpf, &j->bpf_len, &j->seccomp_flags, err);
        if (r < 0) {
                error_prefix(err, "seccomp");
                return error_host_fault(err); /* the config and libseccomp alone decide it */
        }
        r = lsm_plan(p, s->home, j, s->reply.warnings, sizeof(s->reply.warnings), err);
        if (r >= 0)
                r = lsm_check_transition(p, s->req.caller_pid, j, s->reply.warnings,
                                         sizeof(s->reply.warnings), err);
        if (r == -EOPNOTSUPP)
                return error_host_fault(err); /* an LSM or profile the host lacks */
        if (r < 0)
                return r; /* paths under $HOME: the user's doing, maybe */
        j->ns_flags = ns_flags_of(p) | (p->ns_cgroup ? CLONE_NEWCGROUP : 0);
        j->caps_keep = p->caps_keep;
        j->no_new_privs = p->no_new_privs;
        j->nofile = limits_nofile(s->cfg, p, NULL, 0);
        fingerprint(p, j, s->fingerprint);

        s->caller_pidfd = (int)syscall(SYS_pidfd_open, s->req.caller_pid, 0);
        if (s->caller_pidfd < 0)
                return error_set_errno(err, errno, "pidfd_open of the caller");
        /* the user's caps: the strictest over this login's policy and the live sandboxes */
        r = caps_effective(s->cfg, p, s->who.uid, NULL, &s->eff, NULL, err);
        if (r < 0)
                return r;
        char cg_warnings[sizeof(s->reply.warnings)];
        if (p->scope == SCOPE_USER) {
                r = sandbox_join(s, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        return 0;
        }
        r = limits_sessions_check(s->cfg->runtime_dir, p, s->who.uid, s->req.user, err);
        if (r < 0)
                return r;

        r = init_exe_open(err);
        if (r < 0)
                return error_host_fault(err); /* a broken install */
        s->init_exe_fd = r;
        r = caps_fds_open(s, err);
        if (r < 0)
                return error_host_fault(err);
        if (p->scope == SCOPE_USER && (r = listen_socket_make(s, err)) < 0)
                return error_host_fault(err);
        /* before the clone: the session child inherits them and hands them to the init */
        if (p->egress.filtered && p->egress_log && (r = egress_log_new(&s->elog, err)) < 0) {
                error_prefix(err, "policy %s: egress_log", p->name);
                return error_host_fault(err);
        }

        /* The session child exists before any cgroup is made, knowing which leaves will be:
         * if this process dies while making them (a v1 cap write can block while the kernel
         * reclaims, and the caller kills us at its timeout), the child removes them. */
        r = cgroup_session_plan(s->cfg, s->who.uid, s->id, &s->cg_plan, err);
        if (r < 0)
                return error_prefix(err, "cgroup");
        r = session_clone(s, err);
        if (r < 0)
                return r;
        r = cgroup_session_create(s->cfg, &s->eff, s->who.uid, s->id, s->req.caller_pid,
                                  session_is_live, (void *)s->cfg, &s->cg, cg_warnings,
                                  sizeof(cg_warnings), err);
        if (r < 0)
                return error_prefix(err, "cgroup");
        s->cg_made = true;
        if (p->scope == SCOPE_USER) { /* systemd: out of this login's scope, before the go */
                r = cgroup_session_own_unit(s->cfg, &s->eff, s->who.uid, s->id, s->init_pid, &s->cg,
                                            cg_warnings, sizeof(cg_warnings), err);
                if (r < 0)
                        return error_prefix(err, "cgroup");
        }
        if (cg_warnings[0]) /* after the LSM's, one a line */
                warnings_add(s->reply.warnings, sizeof(s->reply.warnings), "%s", cg_warnings);
        r = egress_setup(s, &s->cg, true, err);
        if (r < 0)
                return r;
        test_die_at("cgroup");
        if (!cgroup_session_planned(&s->cg, &s->cg_plan))
                return error_set(err, EPROTO,
                                 "cgroup: the leaves made are not the ones planned (a bug)");

        r = session_go(s, err);
        if (r < 0)
                return r;
        test_die_at("ready"); /* v2: the init is still in the leaf */
        if (s->cg.backend == CGROUP_BACKEND_V2) {
                r = cgroup_session_enter_supervisor(&s->cg, s->init_pid, err);
                if (r < 0)
                        return r;
        }
        test_die_at("init");

        struct session_record *rec = calloc(1, sizeof(*rec));
        if (!rec)
                return error_set(err, ENOMEM, "out of memory");
        snprintf(rec->id, sizeof(rec->id), "%s", s->id);
        snprintf(rec->user, sizeof(rec->user), "%s", s->req.user);
        rec->uid = s->who.uid;
        snprintf(rec->service, sizeof(rec->service), "%s", s->req.service);
        snprintf(rec->rhost, sizeof(rec->rhost), "%s", s->req.rhost);
        snprintf(rec->tty, sizeof(rec->tty), "%s", s->req.tty);
        snprintf(rec->policy, sizeof(rec->policy), "%s", p->name);
        rec->caller_pid = s->req.caller_pid;
        rec->init_pid = s->init_pid;
        r = proc_start_time(s->init_pid, &rec->init_start);
        if (r < 0) {
                free(rec);
                return error_set_errno(err, r, "cannot read the start time of the session init");
        }
        rec->start_time = (uint64_t)time(NULL);
        rec->cgroup = s->cg;
        rec->scope = p->scope;
        rec->linger_ms = p->scope == SCOPE_USER ? p->linger_ms : 0;
        caps_record_fill(p, &rec->caps);
        snprintf(rec->fingerprint, sizeof(rec->fingerprint), "%s", s->fingerprint);
        rec->audit_session = registry_audit_session_of(s->req.caller_pid);
        r = registry_write(s->cfg->runtime_dir, rec, err);
        free(rec);
        if (r < 0)
                return r;
        s->registered = true;
        closep(&s->sessions_lock); /* counted from here on */
        s->sessions_lock = -1;
        test_die_at("registry");
        return 0;
}

/* The login in <runtime_dir>/logins, so that isolatectl why can tie the kernel's audit
 * records (ses=, set by pam_loginuid before us) to this session and policy after it ended.
 * Best effort: the login is already confined; a failure is logged. */
static void login_note(struct session_setup *s)
{
        struct login_entry e = {.time = (uint64_t)time(NULL),
                                .audit_session = registry_audit_session_of(s->req.caller_pid),
                                .uid = s->who.uid,
                                .scope = s->policy->scope};
        snprintf(e.id, sizeof(e.id), "%s", s->id);
        snprintf(e.policy, sizeof(e.policy), "%s", s->policy->name);
        snprintf(e.user, sizeof(e.user), "%s", s->req.user);
        struct isolate_error err = {0};
        if (registry_login_append(s->cfg->runtime_dir, &e, &err) < 0)
                syslog(LOG_WARNING, "isolate-helper: cannot note the login of session %s: %s",
                       s->id, err.msg);
}

/* The config file's stamp (ticket.h) now; "" when it cannot be read. */
static void config_stamp(const char *path, char *buf, size_t size)
{
        buf[0] = '\0';
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || ticket_config_stamp(fd, path, buf, size) < 0)
                buf[0] = '\0';
}

/* After a login of a user-scope sandbox: its init gets this login's reply and key, and
 * <runtime>/sessions/UID-SERVICE.join leads a later login with the same key there (ticket.h).
 * Not where a join does more than the init can: egress under systemd, where each login's
 * scope gets programs of its own. Best effort: without it the next login runs the helper.
 * Returns whether the link was made (for the test hooks' sake: nothing depends on it). */
static bool ticket_give(struct session_setup *s)
{
        const struct policy *p = s->policy;
        if (p->scope != SCOPE_USER || !s->stamp[0] ||
            (p->egress.filtered && s->cg.backend == CGROUP_BACKEND_SYSTEMD))
                return false;
        char now[sizeof(s->stamp)];
        config_stamp(s->config_path, now, sizeof(now));
        if (!STREQ(now, s->stamp))
                return false; /* changed while we read it: its next reader decides */
        char needs[4] = "", name[128];
        if (config_uses_groups(s->cfg))
                strcat(needs, (char[]){TICKET_NEEDS_GROUPS, 0});
        if (config_uses_rhosts(s->cfg))
                strcat(needs, (char[]){TICKET_NEEDS_RHOST, 0});
        if (s->cg.backend == CGROUP_BACKEND_SYSTEMD)
                strcat(needs, (char[]){TICKET_NEEDS_SLICE, 0});
        /* the key of what this decision read (s->who, looked up once before it), never a
         * lookup of now: a group changed since must not key the decision it did not make */
        const struct ticket_who who = {.name = s->who.user,
                                       .uid = s->who.uid,
                                       .gid = s->who.gid,
                                       .home = s->who.home,
                                       .groups = s->who.groups,
                                       .n_groups = s->who.n_groups};
        _cleanup_free_ char *key = malloc(TICKET_KEY_MAX);
        if (!key || ticket_key(s->stamp, &s->req, &who, needs, key, TICKET_KEY_MAX) < 0 ||
            ticket_link_name(s->who.uid, s->req.service, name, sizeof(name)) < 0)
                return false; /* also: a caller that did not stamp its helper */

        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/sessions", s->cfg->runtime_dir);
        _cleanup_close_ int dfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int conn = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (dfd < 0 || conn < 0)
                return false;
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s.sock", dfd, s->id);
        /* the init's pidfd and control fd are placeholders: the init closes them */
        struct open_reply t = s->reply;
        t.join.control_fd = t.join.init_pidfd;
        enum proto_type type = 0;
        if (connect(conn, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            proto_send_simple(conn, MSG_TICKET, 0, key) < 0 || proto_send_reply(conn, &t) < 0 ||
            proto_recv_simple(conn, 1000, &type, NULL, NULL, 0) < 0 || type != MSG_READY)
                return false; /* an init that ended, or one from before tickets */
        char target[64], tmp[160];
        snprintf(target, sizeof(target), "%s:%s", s->id, needs);
        snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
        unlinkat(dfd, tmp, 0);
        if (symlinkat(target, dfd, tmp) < 0)
                return false;
        if (renameat(dfd, tmp, dfd, name) < 0) {
                unlinkat(dfd, tmp, 0);
                return false;
        }
        return true;
}

static int reply_send(int sock, struct session_setup *s, enum reply_status status,
                      const char *message)
{
        s->reply.status = status;
        if (message)
                snprintf(s->reply.message, sizeof(s->reply.message), "%s", message);
        return proto_send_reply(sock, &s->reply);
}

static void decision_log(struct session_setup *s, int prio, const char *outcome, const char *reason)
{
        struct log_decision d = {
            .message_id = EVENT_HELPER_DECISION,
            .user = s->req.user,
            .service = s->req.service,
            .rhost = s->req.rhost,
            .tty = s->req.tty,
            .policy = s->policy ? s->policy->name : "",
            .session_id = s->reply.status == REPLY_OK ? s->id : "",
            .outcome = outcome,
            .reason = reason,
            .duration_us = (now_ns() - s->t_start) / 1000,
        };
        log_decision(prio, &d);
}

static int cmd_open(const char *config_path)
{
        _cleanup_(session_setup_done) struct session_setup s = {
            .caller_pidfd = -1,
            .init_exe_fd = -1,
            .child_sock = -1,
            .child_sock_peer = -1,
            .control_sock = -1,
            .control_peer = -1,
            .init_pidfd = -1,
            .sessions_lock = -1,
            .listen_fd = -1,
            .caps_fds = {-1, -1, -1},
            .elog = EGRESS_LOG_NONE,
            .t_start = now_ns(),
        };
        join_spec_init(&s.reply.join);
        struct isolate_error err = {0};
        const int sock = HELPER_SOCKET_FD;
        struct stat st;
        if (fstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                fprintf(stderr,
                        "isolate-helper: fd %d is not a socket: run by pam_isolate.so "
                        "or isolatectl only\n",
                        sock);
                return 2;
        }
        fcntl(sock, F_SETFD, FD_CLOEXEC);

        /* a caller that never writes must not hold us: the default timeout until the config
         * says otherwise (re-armed below) */
        alarm((DEFAULT_HELPER_TIMEOUT_MS + 999) / 1000 + 1);
        int r = proto_recv_request(sock, &s.req);
        if (r < 0) {
                char why[512];
                if (r == -EILSEQ)
                        error_set(&err, EILSEQ,
                                  "bad request from the caller: control "
                                  "characters in the user, service, rhost or tty");
                else if (r == -EPROTONOSUPPORT) /* our reply: a newer caller reads it */
                        error_set(&err, EPROTONOSUPPORT, "%s",
                                  proto_version_explain(why, sizeof(why),
                                                        "the caller (pam_isolate.so or "
                                                        "isolatectl)",
                                                        "isolate-helper", s.req.version));
                else
                        error_set_errno(&err, r, "bad request from the caller");
                reply_send(sock, &s, REPLY_DENY, err.msg);
                decision_log(&s, LOG_ERR, "denied", err.msg);
                return 1;
        }
        r = kernel_check(&err);
        if (r >= 0)
                r = caller_check(sock, &s.req, &err);
        if (r < 0) {
                reply_send(sock, &s, REPLY_DENY, err.msg);
                decision_log(&s, LOG_ERR, "denied", err.msg);
                return 1;
        }

        struct config *cfg = NULL;
        struct config_errors errs = {0};
        if (config_path[0] != '/') {
                /* we run in / (process_reset): a relative path would name another file */
                r = -EINVAL;
                config_errors_add(&errs, "%s: the config path must be absolute", config_path);
        } else {
                config_stamp(config_path, s.stamp, sizeof(s.stamp));
                r = config_load(config_path, true, &cfg, &errs);
        }
        if (r < 0) {
                /* an invalid config never fails open: s.reply.fail_open stays 0 */
                char msg[1024];
                snprintf(msg, sizeof(msg), "invalid config: %s%s",
                         errs.n ? errs.msgs[0] : config_path,
                         errs.n > 1 ? " (and more: run isolatectl check)" : "");
                config_errors_free(&errs);
                reply_send(sock, &s, REPLY_DENY, msg);
                decision_log(&s, LOG_ERR, "denied", msg);
                return 1;
        }
        s.cfg = cfg;
        /* su runs PAM with the invoking user's real uid: that user could make the setup
         * fail on purpose, so fail = open is for callers that are root through and through.
         * HELLO only says what the config asks for; whether a failure fails open is decided
         * per failure below, in the final reply (host faults only). */
        const bool config_open = cfg->fail == FAIL_OPEN && caller_real_uid(s.req.caller_pid) == 0;
        proto_send_hello(sock, config_open, cfg->helper_timeout_ms);
        test_die_at("config");
        /* a stuck step (NFS home, D-Bus) must not hold a login forever: the caller times out
         * too, this makes sure we do not linger */
        alarm((cfg->helper_timeout_ms + 999) / 1000 + 1);

        r = login_info_lookup_ext(s.req.user, s.req.service, s.req.rhost, config_uses_groups(cfg),
                                  &s.who);
        if (r < 0) {
                snprintf(s.reply.message, sizeof(s.reply.message), "%s: %s", s.req.user,
                         r == -ENOENT ? "no such user" : strerror(-r));
                reply_send(sock, &s, REPLY_DENY, NULL);
                decision_log(&s, LOG_ERR, "denied", s.reply.message);
                return 1;
        }
        struct resolution res;
        r = policy_resolve(cfg, &s.who, &res);
        if (r < 0 || res.outcome != RESOLVE_POLICY) {
                bool ignore = r >= 0 && res.outcome == RESOLVE_IGNORE;
                reply_send(sock, &s,
                           r < 0    ? REPLY_DENY
                           : ignore ? REPLY_IGNORE
                                    : REPLY_EXEMPT,
                           r < 0 ? "cannot resolve the policy" : res.reason);
                decision_log(&s, r < 0 ? LOG_ERR : LOG_INFO,
                             r < 0    ? "denied"
                             : ignore ? "ignored"
                                      : "exempt",
                             s.reply.message);
                return r < 0 ? 1 : 0;
        }
        s.policy = res.policy;
        snprintf(s.reply.policy, sizeof(s.reply.policy), "%s", res.policy->name);
        snprintf(s.home, sizeof(s.home), "%s", s.who.home ? s.who.home : "/");

        snprintf(s.config_path, sizeof(s.config_path), "%s", config_path);
        r = session_build(&s, &err);
        if (r >= 0 && !s.joined) {
                /* commit: from here the init owns the session's end */
                r = proto_send_simple(s.child_sock, MSG_READY, 0, NULL);
                if (r < 0)
                        error_set_errno(&err, r, "cannot commit the session init");
                s.committed = r >= 0;
        }
        if (r >= 0) {
                test_die_at("commit");
                /* the caller moves itself (join.c): see cgroup_session_enter_files() */
                size_t n = 0;
                r = cgroup_session_enter_files(&s.cg, s.reply.join.cgroup_fds, JOIN_MAX_CGROUP_FDS,
                                               &n, &err);
                s.reply.join.n_cgroup_fds = (uint32_t)n;
        }
        if (r < 0) {
                session_abandon(&s);
                /* fail = open is for faults of the host that the code named as such; a full
                 * memory cap, a cap that cannot be lowered under the user's usage, a task cap
                 * run out, a $HOME the user bent: the user can cause those, and an
                 * unconfined login must not be theirs to trigger. When unsure: closed. */
                s.reply.fail_open = config_open && err.host_fault;
                if (config_open && !err.host_fault) {
                        size_t n = strlen(err.msg);
                        snprintf(err.msg + n, sizeof(err.msg) - n, "%s",
                                 " (fail = open does not apply: not a fault of the host, the "
                                 "user's own state could have caused it)");
                }
                s.reply.status = REPLY_DENY;
                snprintf(s.reply.message, sizeof(s.reply.message), "%s", err.msg);
                join_spec_free(&s.reply.join);
                reply_send(sock, &s, REPLY_DENY, NULL);
                decision_log(&s, LOG_ERR, s.reply.fail_open ? "fail-open" : "denied", err.msg);
                return 1;
        }
        snprintf(s.reply.session_id, sizeof(s.reply.session_id), "%s", s.id);
        snprintf(s.reply.message, sizeof(s.reply.message), "%s", res.reason);
        if (!s.joined)
                s.reply.join.init_pidfd = s.init_pidfd;
        s.reply.join.control_fd = s.control_peer;
        s.reply.status = REPLY_OK;
        r = proto_send_reply(sock, &s.reply);
        if (r < 0) {
                /* the caller is gone or the reply cannot be sent: the init ends the session
                 * when the caller exits; nothing is joined */
                decision_log(&s, LOG_ERR, "denied", "cannot send the reply to the caller");
                return 1;
        }
        char reason[1024];
        snprintf(reason, sizeof(reason), "%s%s%s", res.reason, s.reply.warnings[0] ? "; " : "",
                 s.reply.warnings);
        decision_log(&s, s.reply.warnings[0] ? LOG_WARNING : LOG_INFO,
                     s.joined ? "joined" : "confined", reason);
        login_note(&s);
        ticket_give(&s);
        return 0;
}

/* `isolate-helper caps`: the strictest-cap rule after a sandbox of uid ended (its init runs
 * this): the caps of the user's live sandboxes, written onto the user's cgroups. Nothing
 * live: nothing to do (the next login sets them). A failure leaves the caps as they were,
 * never looser than the rule allows: they only stay stricter. */
static int cmd_caps(const char *config_path, const char *uid_text)
{
        uint64_t uid;
        if (safe_atou64(uid_text, &uid) < 0 || uid > UINT32_MAX) {
                fprintf(stderr, "isolate-helper caps: bad uid %s\n", uid_text);
                return 2;
        }
        alarm(10);
        struct config *cfg = NULL;
        struct config_errors errs = {0};
        int r = config_path[0] == '/' ? config_load(config_path, true, &cfg, &errs) : -EINVAL;
        if (r < 0) {
                syslog(LOG_WARNING,
                       "isolate-helper caps: uid %llu: invalid config %s (%s): the user's caps "
                       "stay as they are",
                       (unsigned long long)uid, config_path, errs.n ? errs.msgs[0] : "");
                config_errors_free(&errs);
                return 1;
        }
        struct isolate_error err = {0};
        _cleanup_close_ int lock = -1;
        struct policy eff = {0};
        struct session_record *any = calloc(1, sizeof(*any));
        r = any ? registry_user_lock(cfg->runtime_dir, (uid_t)uid, &lock, &err)
                : error_set(&err, ENOMEM, "out of memory");
        if (r >= 0)
                r = caps_effective(cfg, NULL, (uid_t)uid, NULL, &eff, any, &err);
        if (r > 0) {
                char warnings[1024];
                r = cgroup_user_caps_set(cfg, &eff, (uid_t)uid, &any->cgroup, warnings,
                                         sizeof(warnings), &err);
        }
        if (r < 0)
                syslog(LOG_WARNING,
                       "isolate-helper caps: uid %llu: %s: the user's caps stay as "
                       "they are",
                       (unsigned long long)uid, err.msg);
        caps_effective_free(&eff);
        free(any);
        config_free(cfg);
        return r < 0 ? 1 : 0;
}

/* Nothing of the invoker's process state reaches the helper or the session init: su runs
 * PAM with the invoking user's limits, cwd and niceness, and a user could set
 * RLIMIT_FSIZE to 0 so that a root write dies half-way (SIGXFSZ). */
static void process_reset(void)
{
        static const struct {
                int resource;
                rlim_t value;
        } limits[] = {
            {RLIMIT_FSIZE, RLIM_INFINITY}, {RLIMIT_CPU, RLIM_INFINITY},
            {RLIMIT_AS, RLIM_INFINITY},    {RLIMIT_DATA, RLIM_INFINITY},
            {RLIMIT_STACK, 8 << 20},       {RLIMIT_NOFILE, 1024},
            {RLIMIT_NPROC, RLIM_INFINITY}, {RLIMIT_CORE, 0},
            {RLIMIT_MEMLOCK, 8 << 20},     {RLIMIT_SIGPENDING, RLIM_INFINITY},
        };
        for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
                struct rlimit rl = {limits[i].value, limits[i].value};
                if (limits[i].resource == RLIMIT_NOFILE)
                        rl.rlim_max = 4096;
                if (setrlimit(limits[i].resource, &rl) == 0)
                        continue;
                /* without CAP_SYS_RESOURCE a hard limit cannot go up: take what it allows
                 * (a write past it then fails with EFBIG, refused cleanly, not killed) */
                struct rlimit cur;
                if (getrlimit(limits[i].resource, &cur) == 0) {
                        cur.rlim_cur = rl.rlim_cur < cur.rlim_max ? rl.rlim_cur : cur.rlim_max;
                        setrlimit(limits[i].resource, &cur);
                }
        }
        signal(SIGXFSZ, SIG_IGN);
        setpriority(PRIO_PROCESS, 0, 0);
        umask(022);
        if (chdir("/") < 0)
                _exit(2);
}

static void usage(FILE *f)
{
        fprintf(f, "usage: isolate-helper open --config PATH\n"
                   "       isolate-helper caps --config PATH --uid UID\n"
                   "Run by pam_isolate.so and isolatectl with a socket on fd 3, and by the "
                   "session init; not by hand.\n");
}

int main(int argc, char **argv)
{
        if (argc == 2 && (STREQ(argv[1], "--help") || STREQ(argv[1], "-h"))) {
                usage(stdout);
                return 0;
        }
        if (argc == 2 && STREQ(argv[1], "--version")) {
                printf("isolate-helper %s\n", ISOLATE_VERSION);
                return 0;
        }
        bool caps = argc == 6 && STREQ(argv[1], "caps") && STREQ(argv[2], "--config") &&
                    STREQ(argv[4], "--uid");
        if (!caps && (argc != 4 || !STREQ(argv[1], "open") || !STREQ(argv[2], "--config"))) {
                usage(stderr);
                return 2;
        }
        test_hooks_read();
        /* su runs PAM with the invoking user's real uid: become fully root so that user can
         * neither signal nor trace us */
        if (geteuid() != 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
                fprintf(stderr, "isolate-helper: must run as root\n");
                return 2;
        }
        prctl(PR_SET_DUMPABLE, 0);
        process_reset();
        if (caps) {
                openlog("isolate-helper", LOG_PID, LOG_AUTHPRIV);
                return cmd_caps(argv[3], argv[5]);
        }
        return cmd_open(argv[3]);
}

/* client.c: the caller's side of opening and closing a session (PAM module and isolatectl).
 * libc only. */
#include "join.h"
#include "ticket.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

static const char *const helper_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    NULL,
};

/* Starts the helper with the socket as HELPER_SOCKET_FD, a clean environment, default signal
 * dispositions and an empty mask, and nothing else open but stdio (/dev/null when quiet). */
static int helper_spawn(const char *helper, const char *config, int sock, bool quiet,
                        pid_t *ret_pid, struct isolate_error *err)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        int r = posix_spawn_file_actions_init(&fa);
        if (r)
                return error_set_errno(err, r, "posix_spawn_file_actions_init");
        r = posix_spawnattr_init(&attr);
        if (r) {
                posix_spawn_file_actions_destroy(&fa);
                return error_set_errno(err, r, "posix_spawnattr_init");
        }
        sigset_t empty, all;
        sigemptyset(&empty);
        sigfillset(&all);
        /* each call checked: an unchecked addclosefrom_np that failed would hand every fd of
         * the caller (sshd's) to the root helper */
        r = posix_spawnattr_setsigmask(&attr, &empty);
        if (!r)
                r = posix_spawnattr_setsigdefault(&attr, &all);
        if (!r)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (!r)
                r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        if (!r)
                r = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        if (!r && quiet)
                r = posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        if (!r)
                r = posix_spawn_file_actions_adddup2(&fa, sock, HELPER_SOCKET_FD);
        if (!r)
                r = posix_spawn_file_actions_addclosefrom_np(&fa, HELPER_SOCKET_FD + 1);
        if (r) {
                posix_spawn_file_actions_destroy(&fa);
                posix_spawnattr_destroy(&attr);
                return error_set_errno(err, r, "cannot prepare to run the helper %s", helper);
        }

        char *argv[] = {(char *)helper, (char *)"open", (char *)"--config", (char *)config, NULL};
        pid_t pid;
        r = posix_spawn(&pid, helper, &fa, &attr, argv, (char **)helper_env);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r)
                return error_set_errno(err, r, "cannot run the helper %s", helper);
        *ret_pid = pid;
        return 0;
}

/* Reaps the helper; a PAM caller with its own SIGCHLD handler may have reaped it already. */
static void helper_reap(pid_t pid, bool kill_first)
{
        if (kill_first)
                kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

/* The same with fork: su runs PAM with the invoking user's real uid, and a process whose
 * real uid is the user's can be signalled by that user. The child becomes root through and
 * through before it execs the helper, so the user never gets a window to stop or kill it.
 * Only async-signal-safe calls between fork and exec. */
static int helper_spawn_as_root(const char *helper, const char *config, int sock, bool quiet,
                                pid_t *ret_pid, struct isolate_error *err)
{
        char *argv[] = {(char *)helper, (char *)"open", (char *)"--config", (char *)config, NULL};
        pid_t pid = fork();
        if (pid < 0)
                return error_set_errno(err, errno, "fork for the helper");
        if (pid == 0) {
                if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                        _exit(127);
                struct sigaction dfl = {.sa_handler = SIG_DFL};
                for (int sig = 1; sig < NSIG; sig++)
                        sigaction(sig, &dfl, NULL); /* EINVAL for SIGKILL/SIGSTOP: fine */
                sigset_t empty;
                sigemptyset(&empty);
                sigprocmask(SIG_SETMASK, &empty, NULL);
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
                    (quiet && dup2(null, 2) < 0) || dup2(sock, HELPER_SOCKET_FD) < 0)
                        _exit(127);
                if (close_range(HELPER_SOCKET_FD + 1, ~0U, 0) < 0)
                        _exit(127);
                execve(helper, argv, (char **)helper_env);
                _exit(127);
        }
        *ret_pid = pid;
        return 0;
}

/* SELinux: an exec context set before us (pam_selinux open must come before the join on an
 * SELinux host) would make the helper's exec land in the user's domain (user_t) instead of
 * its own. The helper is started with the caller's exec context cleared, and the context is
 * put back right after (fork copies it into the child at once, posix_spawn returns after the
 * exec), for the shell. Nothing is done where SELinux is off: AppArmor shares the file. */
struct exec_context {
        char value[512];
        ssize_t len; /* 0: none was set, nothing to put back */
};

static const char *const selinux_enforce_file = "/sys/fs/selinux/enforce";
static const char *const exec_attr_file = "/proc/thread-self/attr/exec";

static int exec_context_clear(struct exec_context *saved, struct isolate_error *err)
{
        saved->len = 0;
        if (access(selinux_enforce_file, F_OK) < 0)
                return 0;
        _cleanup_close_ int fd = open(exec_attr_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return error_set_errno(err, errno, "cannot open %s", exec_attr_file);
        ssize_t n = read(fd, saved->value, sizeof(saved->value));
        if (n < 0)
                return error_set_errno(err, errno, "cannot read %s", exec_attr_file);
        if (n == 0)
                return 0;
        if ((size_t)n == sizeof(saved->value))
                return error_set(err, E2BIG, "the SELinux exec context in %s is too long",
                                 exec_attr_file);
        /* a write of its own: procfs refuses a write at an offset (after the read) */
        _cleanup_close_ int wfd = open(exec_attr_file, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (wfd < 0 || write(wfd, "", 0) < 0)
                return error_set_errno(err, errno, "cannot clear the SELinux exec context %.*s",
                                       (int)n, saved->value);
        saved->len = n;
        return 0;
}

static int exec_context_restore(const struct exec_context *saved, struct isolate_error *err)
{
        if (saved->len == 0)
                return 0;
        _cleanup_close_ int fd = open(exec_attr_file, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return error_set_errno(err, errno, "cannot open %s", exec_attr_file);
        int r = write_all(fd, saved->value, (size_t)saved->len);
        if (r < 0)
                return error_set_errno(err, -r, "cannot put back the SELinux exec context %.*s",
                                       (int)saved->len, saved->value);
        return 0;
}

int session_open(const char *helper, const char *config, const struct open_request *req,
                 int timeout_ms, bool quiet_helper, struct open_reply *ret, bool *ret_hello_seen,
                 struct isolate_error *err)
{
        memset(ret, 0, sizeof(*ret));
        join_spec_init(&ret->join);
        *ret_hello_seen = false;
        /* the helper we would run is part of a ticket's key: an upgrade voids the tickets */
        struct open_request stamped = *req;
        stamped.helper_stamp[0] = '\0';
        _cleanup_close_ int hfd = open(helper, O_PATH | O_CLOEXEC);
        if (hfd < 0 || ticket_stamp(hfd, "helper", helper, stamped.helper_stamp,
                                    sizeof(stamped.helper_stamp)) < 0)
                stamped.helper_stamp[0] = '\0';
        req = &stamped;
        /* a later login of a user-scope sandbox: its init may answer without the helper */
        if (session_open_ticket(config, req, timeout_ms, ret) > 0)
                return 0;

        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return error_set_errno(err, errno, "socketpair");
        _cleanup_close_ int ours = sv[0], theirs = sv[1];
        /* adddup2 onto the same number would keep O_CLOEXEC: move it out of the way first */
        if (theirs == HELPER_SOCKET_FD) {
                int moved = fcntl(theirs, F_DUPFD_CLOEXEC, HELPER_SOCKET_FD + 1);
                if (moved < 0)
                        return error_set_errno(err, errno, "fcntl(F_DUPFD_CLOEXEC)");
                close(theirs);
                theirs = moved;
        }

        if (faccessat(AT_FDCWD, helper, X_OK, AT_EACCESS) < 0)
                return error_set_errno(err, errno, "cannot run the helper %s", helper);
        pid_t pid = -1;
        struct exec_context saved;
        int r = exec_context_clear(&saved, err);
        if (r < 0)
                return r;
        r = getuid() == 0 ? helper_spawn(helper, config, theirs, quiet_helper, &pid, err)
                          : helper_spawn_as_root(helper, config, theirs, quiet_helper, &pid, err);
        struct isolate_error restore_err = {0};
        int rr = exec_context_restore(&saved, &restore_err);
        if (r < 0)
                return r;
        if (rr < 0) {
                helper_reap(pid, true);
                *err = restore_err;
                return rr;
        }
        closep(&theirs);
        theirs = -1;

        r = proto_send_request(ours, req);
        if (r < 0) {
                helper_reap(pid, true);
                if (r == -EPIPE || r == -ECONNRESET) /* it is gone already */
                        return error_set(err, ECONNRESET,
                                         "the helper %s exited without an answer (crashed, "
                                         "killed, or not an isolate helper)",
                                         helper);
                return error_set_errno(err, r, "cannot send the request to the helper %s", helper);
        }

        uint64_t start = now_ns();
        uint64_t deadline = start + (uint64_t)timeout_ms * 1000000ULL;
        for (;;) {
                uint64_t now = now_ns();
                int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000ULL);
                r = proto_recv_reply(ours, left, ret, ret_hello_seen);
                if (r == MSG_HELLO) {
                        /* the config's helper_timeout rules from here, with a second's slack
                         * for the helper to report its own timeout */
                        if (ret->helper_timeout_ms > 0) {
                                timeout_ms = (int)ret->helper_timeout_ms + 1000;
                                deadline = start + (uint64_t)timeout_ms * 1000000ULL;
                        }
                        continue;
                }
                break;
        }
        if (r < 0) {
                helper_reap(pid, true);
                if (r == -ETIMEDOUT)
                        return error_set(err, ETIMEDOUT,
                                         "the helper %s did not answer within %d ms", helper,
                                         timeout_ms);
                if (r == -ECONNRESET)
                        return error_set(err, ECONNRESET,
                                         "the helper %s exited without an answer (crashed, "
                                         "killed, or not an isolate helper)",
                                         helper);
                if (r == -EPROTONOSUPPORT) {
                        char peer[PATH_MAX + 16], why[PATH_MAX + 512];
                        snprintf(peer, sizeof(peer), "the helper %s", helper);
                        return error_set(
                            err, EPROTONOSUPPORT, "%s",
                            proto_version_explain(why, sizeof(why), peer, "caller", ret->version));
                }
                return error_set_errno(err, r, "bad answer from the helper %s", helper);
        }
        helper_reap(pid, false);
        return 0;
}

int session_close(int control_fd, int timeout_ms, struct isolate_error *err)
{
        int r = proto_send_simple(control_fd, MSG_CLOSE, 0, NULL);
        if (r < 0)
                return error_set_errno(err, r, "cannot ask the session init to close");
        enum proto_type type;
        uint32_t killed = 0;
        char text[512];
        r = proto_recv_simple(control_fd, timeout_ms, &type, &killed, text, sizeof(text));
        if (r == -EPROTONOSUPPORT)
                return error_set(err, EPROTONOSUPPORT, "%s",
                                 proto_version_explain(text, sizeof(text), "the session init",
                                                       "caller", killed));
        if (r < 0)
                return error_set_errno(err, r, "no answer from the session init");
        if (type == MSG_FAILED) /* an init that cannot read us says why */
                return error_set(err, killed ? (int)killed : EIO, "the session init: %s", text);
        if (type != MSG_CLOSED)
                return error_set(err, EBADMSG, "unexpected answer %d from the session init",
                                 (int)type);
        return (int)(killed > INT32_MAX ? INT32_MAX : killed);
}

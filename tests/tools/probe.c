/* probe: tries one thing inside a sandbox and says what happened. The integration tests run
 * it as the session's user.
 *
 *   probe NAME [ARG]
 *
 * Prints "probe NAME: ok (...)" and exits 0 when the call succeeded, or
 * "probe NAME: failed: errno=ENAME (text)" and exits 1 when it failed. A call the seccomp
 * filter kills never prints: the shell sees the signal (SIGSYS). 2: usage. */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <arpa/inet.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#define X32_SYSCALL_BIT 0x40000000

static const char *name;

/* In a SANITIZE=1 build: LeakSanitizer's exit-time scan needs ptrace-like access to
 * /proc/PID/task, which the policies under test take away (and a setuid copy never has);
 * a probe does one call and exits, its leaks do not matter. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
        return "detect_leaks=0";
}

static int report(long ret)
{
        if (ret < 0) {
                int e = errno;
                const char *en = strerrorname_np(e);
                printf("probe %s: failed: errno=%s (%s)\n", name, en ? en : "?", strerror(e));
                return 1;
        }
        printf("probe %s: ok (ret=%ld)\n", name, ret);
        return 0;
}

/* Raw clone(2) with flags; the child exits at once. Returns the child's pid or -1. */
static long clone_flags(unsigned long flags)
{
        long pid = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
        if (pid == 0)
                _exit(0);
        if (pid > 0) {
                int saved = errno;
                waitpid((pid_t)pid, NULL, 0);
                errno = saved;
        }
        return pid;
}

static long probe_clone3(void)
{
        struct clone_args args;
        memset(&args, 0, sizeof(args));
        args.exit_signal = SIGCHLD;
        long pid = syscall(SYS_clone3, &args, sizeof(args));
        if (pid == 0)
                _exit(0);
        if (pid > 0)
                waitpid((pid_t)pid, NULL, 0);
        return pid;
}

static long probe_bpf(void)
{
        union bpf_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.map_type = BPF_MAP_TYPE_ARRAY;
        attr.key_size = 4;
        attr.value_size = 4;
        attr.max_entries = 1;
        return syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
}

static long probe_perf(void)
{
        struct perf_event_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.type = PERF_TYPE_SOFTWARE;
        attr.size = sizeof(attr);
        attr.config = PERF_COUNT_SW_TASK_CLOCK;
        attr.disabled = 1;
        attr.exclude_kernel = 1;
        attr.exclude_hv = 1;
        return syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static long probe_io_uring(void)
{
        char params[120]; /* struct io_uring_params */
        memset(params, 0, sizeof(params));
        return syscall(SYS_io_uring_setup, 1, params);
}

static long probe_tiocsti(unsigned long high)
{
        int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                fd = 0;
        char c = '\n';
        return syscall(SYS_ioctl, fd, (unsigned long)TIOCSTI | high, &c);
}

static long probe_socket(long family, int type)
{
        long fd = syscall(SYS_socket, family, type | SOCK_CLOEXEC, 0);
        if (fd >= 0)
                close((int)fd);
        return fd;
}

static long probe_mount_tmpfs(const char *target)
{
        return mount("isolate-probe", target ? target : "/tmp", "tmpfs", 0, "size=1m");
}

static long probe_i386_getpid(void)
{
        long ret = 20; /* getpid on i386 */
        /* a kernel that refuses the ABI itself sends SIGSEGV: the test wants the probe to
         * die of it, not ASan's handler to turn it into exit status 1 (SANITIZE=1) */
        signal(SIGSEGV, SIG_DFL);
        __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
        if (ret < 0 && ret > -4096) {
                errno = (int)-ret;
                return -1;
        }
        return ret;
}

static long probe_status(void)
{
        FILE *f = fopen("/proc/self/status", "re");
        if (!f)
                return -1;
        char line[256];
        while (fgets(line, sizeof(line), f))
                if (!strncmp(line, "Seccomp:", 8) || !strncmp(line, "NoNewPrivs:", 11) ||
                    !strncmp(line, "CapBnd:", 7) || !strncmp(line, "CapEff:", 7) ||
                    !strncmp(line, "CapPrm:", 7))
                        fputs(line, stdout);
        fclose(f);
        return 0;
}

static long probe_getpid_loop(const char *arg)
{
        char *end;
        unsigned long n = arg ? strtoul(arg, &end, 10) : 1000000;
        if (arg && (*end || n == 0)) {
                errno = EINVAL;
                return -1;
        }
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (unsigned long i = 0; i < n; i++)
                syscall(SYS_getpid);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns =
            ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n;
        printf("probe %s: %lu getpid calls, %.1f ns each\n", name, n, ns);
        return 0;
}

static long probe_ptrace(void)
{
        /* a child asks to be traced, stops, and is continued: what gdb and strace do */
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                if (syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0) < 0)
                        _exit(1);
                raise(SIGSTOP);
                _exit(0);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid)
                return -1;
        if (WIFEXITED(st)) {
                errno = EPERM;
                return -1;
        }
        if (syscall(SYS_ptrace, 7 /* PTRACE_CONT */, pid, 0, 0) < 0)
                return -1;
        if (waitpid(pid, &st, 0) != pid)
                return -1;
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ---- exhaustion of what the host shares (issue 12): each holds what it got until stdin
 * ends, so that the test can look at the host meanwhile ---- */

static double now_s(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void hold_until_stdin_ends(void)
{
        char c[256];
        while (read(0, c, sizeof(c)) > 0)
                ;
}

/* The soft descriptor limit raised to the hard one: many sockets. */
static void nofile_to_hard(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static bool count_arg(const char *arg, unsigned long dflt, unsigned long *ret)
{
        char *end;
        *ret = arg ? strtoul(arg, &end, 10) : dflt;
        if (arg && (*end || *ret == 0)) {
                errno = EINVAL;
                return false;
        }
        return true;
}

/* io_setup(ARG) and hold the context */
static long probe_io_setup(const char *arg)
{
        unsigned long nr, ctx = 0;
        if (!count_arg(arg, 1, &nr))
                return -1;
        if (syscall(SYS_io_setup, nr, &ctx) < 0)
                return -1;
        printf("probe %s: holding an AIO context of %lu events until stdin ends\n", name, nr);
        hold_until_stdin_ends();
        return syscall(SYS_io_destroy, ctx);
}

/* Waits up to 2 s for fd to be ready for events. */
static bool ready(int fd, short events)
{
        struct pollfd p = {.fd = fd, .events = events};
        return poll(&p, 1, 2000) == 1 && (p.revents & events);
}

/* Out of descriptors (EMFILE): a child goes on with the counts so far and a fresh table
 * but descriptors 0..keep (stdio, a listener); the parent holds its sockets until the child
 * ends, and exits as it does. Returns in the child only. */
static void continue_in_child(int keep)
{
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
                return;
        if (pid == 0) {
                close_range((unsigned)keep + 1, ~0U, 0);
                return;
        }
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/* Loopback TCP connections to a listener of the probe's own, written to and never read:
 * each is filled until send says EAGAIN, then the next is opened (in a child process when
 * the descriptors run out). Stops when ARG MiB (default 512) are queued, at 1500
 * connections, after 60 s, or when 50 fresh connections in a row take nothing. Prints what
 * it queued, holds every socket until stdin ends. */
static long probe_tcp_fill(const char *arg)
{
        enum { MAX_CONNECTIONS = 1500, MAX_SECONDS = 60, REFUSED_IN_A_ROW = 50 };
        unsigned long budget_mib;
        if (!count_arg(arg, 512, &budget_mib))
                return -1;
        nofile_to_hard();
        struct rlimit rl;
        rlim_t nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof(sa);
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 64) < 0 ||
            getsockname(l, (struct sockaddr *)&sa, &sl) < 0)
                return -1;
        static char buf[65536];
        memset(buf, 'x', sizeof(buf));
        unsigned long long queued = 0, budget = (unsigned long long)budget_mib << 20;
        unsigned n = 0, refused = 0, forks = 0;
        char why[128] = "1500 connections";
        double deadline = now_s() + MAX_SECONDS;
        while (n < MAX_CONNECTIONS) {
                if (now_s() > deadline) {
                        snprintf(why, sizeof(why), "%d s", MAX_SECONDS);
                        break;
                }
                int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                /* the accepted end needs a descriptor too (the table is filled lowest first) */
                if (c >= 0 && (rlim_t)c + 1 >= nofile) {
                        close(c);
                        c = -1;
                        errno = EMFILE;
                }
                if (c < 0 && errno == EMFILE && forks < 16) {
                        forks++;
                        continue_in_child(l);
                        continue;
                }
                if (c < 0) {
                        snprintf(why, sizeof(why), "socket: %s", strerrorname_np(errno));
                        break;
                }
                if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
                    (errno != EINPROGRESS || !ready(c, POLLOUT))) {
                        snprintf(why, sizeof(why), "connect: %s",
                                 errno == EINPROGRESS ? "no answer in 2 s" : strerrorname_np(errno));
                        break;
                }
                int a = -1;
                errno = 0;
                if (ready(l, POLLIN))
                        a = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (a < 0) {
                        snprintf(why, sizeof(why), "accept: %s",
                                 errno ? strerrorname_np(errno) : "no connection in 2 s");
                        break;
                }
                n++;
                unsigned long long before = queued;
                ssize_t w;
                while (queued < budget &&
                       (w = send(c, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
                        queued += (unsigned long long)w;
                if (queued >= budget) {
                        snprintf(why, sizeof(why), "%lu MiB queued", budget_mib);
                        break;
                }
                if (errno != EAGAIN) {
                        snprintf(why, sizeof(why), "send: %s", strerrorname_np(errno));
                        break;
                }
                refused = queued == before ? refused + 1 : 0;
                if (refused == REFUSED_IN_A_ROW) {
                        snprintf(why, sizeof(why), "EAGAIN at once on %d fresh connections",
                                 REFUSED_IN_A_ROW);
                        break;
                }
        }
        printf("probe %s: %u connections, %llu bytes queued in %u processes, stopped: %s\n",
               name, n, queued, forks + 1, why);
        hold_until_stdin_ends();
        return 0;
}

/* ARG (default 2000) TCP sockets bound to 127.0.0.1 port 0 (an ephemeral port each) and
 * listening, so that the host's socket tables show them; within 30 s, in more processes
 * when the descriptors run out. */
static long probe_bind_many(const char *arg)
{
        unsigned long want, n = 0, forks = 0;
        if (!count_arg(arg, 2000, &want))
                return -1;
        nofile_to_hard();
        double deadline = now_s() + 30;
        int saved = 0;
        while (n < want && now_s() < deadline) {
                struct sockaddr_in sa = {.sin_family = AF_INET,
                                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (s < 0 && errno == EMFILE && forks < 64) {
                        forks++;
                        continue_in_child(2);
                        continue;
                }
                if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 1) < 0) {
                        saved = errno;
                        break;
                }
                n++;
        }
        printf("probe %s: %lu sockets bound to 127.0.0.1 and listening, in %lu processes\n", name,
               n, forks + 1);
        hold_until_stdin_ends();
        errno = saved ? saved : ETIMEDOUT;
        return n == want ? 0 : -1;
}

/* A TCP connect to ARG: "1.2.3.4:PORT" or "[::1]:PORT" (egress_allow); or a unix stream
 * connect to ARG, a path starting with / (system_bus = deny: the kernel's errno, whatever
 * words a D-Bus client puts on it). */
static long probe_connect(const char *arg)
{
        char host[64];
        unsigned port = 0;
        struct sockaddr_storage ss = {0};
        socklen_t len;
        if (arg && arg[0] == '/') {
                struct sockaddr_un *a = (struct sockaddr_un *)&ss;
                if (strlen(arg) >= sizeof(a->sun_path)) {
                        fprintf(stderr, "probe connect: path too long\n");
                        exit(2);
                }
                a->sun_family = AF_UNIX;
                strcpy(a->sun_path, arg);
                len = sizeof(*a);
                port = 1;
        } else if (arg && sscanf(arg, "[%63[^]]]:%u", host, &port) == 2) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
                a->sin6_family = AF_INET6;
                a->sin6_port = htons((uint16_t)port);
                if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
                        port = 0;
                len = sizeof(*a);
        } else if (arg && sscanf(arg, "%63[^:]:%u", host, &port) == 2) {
                struct sockaddr_in *a = (struct sockaddr_in *)&ss;
                a->sin_family = AF_INET;
                a->sin_port = htons((uint16_t)port);
                if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
                        port = 0;
                len = sizeof(*a);
        } else
                len = 0;
        if (port == 0 || port > 65535) {
                fprintf(stderr, "probe connect: ARG is ADDRESS:PORT, [ADDRESS]:PORT or /PATH\n");
                exit(2);
        }
        int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -1;
        long r = connect(s, (struct sockaddr *)&ss, len);
        int e = errno;
        close(s);
        errno = e;
        return r;
}

struct probe_cmd {
        const char *name;
        const char *doc;
};

static const struct probe_cmd cmds[] = {
    {"clone-newuser", "clone(CLONE_NEWUSER)"},
    {"clone-newns", "clone(CLONE_NEWNS)"},
    {"clone-plain", "clone() without namespace flags (fork)"},
    {"clone3", "clone3() like a fork"},
    {"unshare-user", "unshare(CLONE_NEWUSER)"},
    {"unshare-mount", "unshare(CLONE_NEWNS)"},
    {"setns", "setns(-1, 0) (EBADF when allowed)"},
    {"mount-tmpfs", "mount -t tmpfs on ARG (default /tmp)"},
    {"keyctl", "keyctl(KEYCTL_GET_KEYRING_ID, session keyring, create)"},
    {"add-key", "add_key(user, ...) to the session keyring"},
    {"bpf", "bpf(BPF_MAP_CREATE, array)"},
    {"perf", "perf_event_open(task clock, self)"},
    {"userfaultfd", "userfaultfd(UFFD_USER_MODE_ONLY)"},
    {"io_uring", "io_uring_setup(1)"},
    {"kexec", "kexec_load(nothing)"},
    {"init_module", "init_module(NULL)"},
    {"x32", "getpid through the x32 ABI"},
    {"i386", "getpid through int 0x80"},
    {"tiocsti", "ioctl(TIOCSTI) on the tty"},
    {"tiocsti-high", "ioctl(TIOCSTI | 1 << 32) on the tty"},
    {"socket-unix", "socket(AF_UNIX)"},
    {"socket-inet", "socket(AF_INET)"},
    {"socket-vsock", "socket(AF_VSOCK)"},
    {"socket-packet", "socket(AF_PACKET)"},
    {"personality", "personality(READ_IMPLIES_EXEC)"},
    {"personality-norandom", "personality(ADDR_NO_RANDOMIZE)"},
    {"syslog", "syslog(SIZE_BUFFER)"},
    {"ptrace", "a child PTRACE_TRACEMEs, stops, is continued"},
    {"get_mempolicy", "get_mempolicy()"},
    {"euid", "prints uid and euid"},
    {"status", "prints Seccomp, NoNewPrivs and capability lines of /proc/self/status"},
    {"getpid-loop", "ARG getpid calls, time per call"},
    {"io_setup", "io_setup(ARG events, default 1); holds the context until stdin ends"},
    {"tcp-fill", "loopback TCP connections written to and never read, up to ARG MiB; holds"},
    {"bind-many", "ARG (2000) TCP sockets bound to 127.0.0.1:0 and listening; holds"},
    {"connect", "a TCP connect to ARG, ADDRESS:PORT or [ADDRESS]:PORT; a unix one to /PATH"},
};

static long run(const char *cmd, const char *arg)
{
        if (!strcmp(cmd, "clone-newuser"))
                return clone_flags(CLONE_NEWUSER);
        if (!strcmp(cmd, "clone-newns"))
                return clone_flags(CLONE_NEWNS);
        if (!strcmp(cmd, "clone-plain"))
                return clone_flags(0);
        if (!strcmp(cmd, "clone3"))
                return probe_clone3();
        if (!strcmp(cmd, "unshare-user"))
                return syscall(SYS_unshare, CLONE_NEWUSER);
        if (!strcmp(cmd, "unshare-mount"))
                return syscall(SYS_unshare, CLONE_NEWNS);
        if (!strcmp(cmd, "setns"))
                return syscall(SYS_setns, -1, 0);
        if (!strcmp(cmd, "mount-tmpfs"))
                return probe_mount_tmpfs(arg);
        if (!strcmp(cmd, "keyctl"))
                return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1);
        if (!strcmp(cmd, "add-key"))
                return syscall(SYS_add_key, "user", "isolate-probe", "x", 1,
                               KEY_SPEC_SESSION_KEYRING);
        if (!strcmp(cmd, "bpf"))
                return probe_bpf();
        if (!strcmp(cmd, "perf"))
                return probe_perf();
        if (!strcmp(cmd, "userfaultfd"))
                return syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
        if (!strcmp(cmd, "io_uring"))
                return probe_io_uring();
        if (!strcmp(cmd, "kexec"))
                return syscall(SYS_kexec_load, 0, 0, NULL, 0);
        if (!strcmp(cmd, "init_module"))
                return syscall(SYS_init_module, NULL, 0, "");
        if (!strcmp(cmd, "x32"))
                return syscall(X32_SYSCALL_BIT | SYS_getpid);
        if (!strcmp(cmd, "i386"))
                return probe_i386_getpid();
        if (!strcmp(cmd, "tiocsti"))
                return probe_tiocsti(0);
        if (!strcmp(cmd, "tiocsti-high"))
                return probe_tiocsti(1UL << 32);
        if (!strcmp(cmd, "socket-unix"))
                return probe_socket(AF_UNIX, SOCK_STREAM);
        if (!strcmp(cmd, "socket-inet"))
                return probe_socket(AF_INET, SOCK_STREAM);
        if (!strcmp(cmd, "socket-vsock"))
                return probe_socket(AF_VSOCK, SOCK_STREAM);
        if (!strcmp(cmd, "socket-packet"))
                return probe_socket(AF_PACKET, SOCK_DGRAM);
        if (!strcmp(cmd, "personality"))
                return syscall(SYS_personality, READ_IMPLIES_EXEC);
        if (!strcmp(cmd, "personality-norandom"))
                return syscall(SYS_personality, ADDR_NO_RANDOMIZE);
        if (!strcmp(cmd, "syslog"))
                return syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
        if (!strcmp(cmd, "ptrace"))
                return probe_ptrace();
        if (!strcmp(cmd, "get_mempolicy")) {
                int mode;
                return syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 0);
        }
        if (!strcmp(cmd, "euid")) {
                printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
                return 0;
        }
        if (!strcmp(cmd, "status"))
                return probe_status();
        if (!strcmp(cmd, "getpid-loop"))
                return probe_getpid_loop(arg);
        if (!strcmp(cmd, "io_setup"))
                return probe_io_setup(arg);
        if (!strcmp(cmd, "tcp-fill"))
                return probe_tcp_fill(arg);
        if (!strcmp(cmd, "bind-many"))
                return probe_bind_many(arg);
        if (!strcmp(cmd, "connect"))
                return probe_connect(arg);
        abort(); /* main checked the name against cmds */
}

int main(int argc, char **argv)
{
        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: probe NAME [ARG]\n");
                for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
                        fprintf(stderr, "  %-22s %s\n", cmds[i].name, cmds[i].doc);
                return 2;
        }
        name = argv[1];
        bool known = false;
        for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
                known |= !strcmp(cmds[i].name, name);
        if (!known) {
                fprintf(stderr, "probe: unknown probe '%s' (run without arguments for the list)\n",
                        name);
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        return report(run(name, argc == 3 ? argv[2] : NULL));
}

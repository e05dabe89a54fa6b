/* helper_shim.so: preloaded into isolate-helper (by helper_wrap) for the benchmark's
 * breakdown of a login: where the helper's time goes. Never used for the headline figures.
 *
 * Appends one line per event to the file named by BENCH_SHIM_LOG (O_APPEND, one write per
 * line, so that the helper and its session child can share it):
 *   PID start T PPID               process start (constructors run: exec and linking done)
 *   PID exit T CPU RUNQ MINFLT     exit() of the helper: its CPU time and its time waiting
 *                                  for a CPU since its spawn (ns, /proc/self/schedstat),
 *                                  its minor page faults
 *   PID cgwrite T DUR PATH         a write(2) to a cgroupfs cgroup.procs or tasks (a move)
 *   PID cgmkdir T DUR PATH         mkdir(2) under /sys/fs/cgroup
 *   PID cgfile T DUR PATH          any other write(2) under /sys/fs/cgroup (a cap)
 *   PID clone T DUR CHILD          the helper's clone3 (the parent's side)
 *   PID childstart T               the session child, first thing after clone3
 *   PID send T BYTES               a sendmsg(2) (the protocol's messages; the helper's last
 *                                  one is its reply to the caller)
 *   PID exec T CPU RUNQ MINFLT     the session child's execveat of isolate-init (PID is 1:
 *                                  it runs in the session's pid namespace)
 * T: CLOCK_MONOTONIC ns; DUR: ns. Only calls that go through the PLT are seen (the helper's
 * own calls, which is all of its cgroup work). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 1024

/* fd -> 1: cgroup.procs, 2: another cgroupfs file */
static unsigned char fd_kind[MAX_FDS];
static char fd_path[MAX_FDS][160];
static int log_fd = -1;

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void log_line(const char *fmt, ...)
{
        if (log_fd < 0)
                return;
        char buf[512];
        int n = snprintf(buf, sizeof(buf), "%d ", (int)getpid());
        va_list ap;
        va_start(ap, fmt);
        n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
        va_end(ap);
        if (n >= (int)sizeof(buf) - 1)
                n = (int)sizeof(buf) - 2;
        buf[n++] = '\n';
        ssize_t w = syscall(SYS_write, log_fd, buf, (size_t)n);
        (void)w;
}

/* "CPU_NS RUNQ_NS MINFLT" of this process so far: /proc/self/schedstat ("0 0" if
 * unreadable) and its minor page faults. */
static void sched_times(char *buf, size_t len)
{
        char raw[128];
        unsigned long long run = 0, wait = 0;
        int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/schedstat", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                ssize_t n = syscall(SYS_read, fd, raw, sizeof(raw) - 1);
                if (n > 0) {
                        raw[n] = '\0';
                        if (sscanf(raw, "%llu %llu", &run, &wait) != 2)
                                run = wait = 0;
                }
                syscall(SYS_close, fd);
        }
        struct rusage ru;
        long minflt = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_minflt : -1;
        snprintf(buf, len, "%llu %llu %ld", run, wait, minflt);
}

static void at_exit(void)
{
        char st[96];
        sched_times(st, sizeof(st));
        log_line("exit %llu %s", (unsigned long long)now_ns(), st);
}

__attribute__((constructor)) static void shim_init(void)
{
        uint64_t t = now_ns();
        const char *path = getenv("BENCH_SHIM_LOG");
        if (path)
                log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        /* above the fds the helper places for the session init */
        if (log_fd >= 0 && log_fd < 64) {
                int high = fcntl(log_fd, F_DUPFD_CLOEXEC, 64);
                if (high >= 0) {
                        close(log_fd);
                        log_fd = high;
                }
        }
        unsetenv("LD_PRELOAD");
        unsetenv("BENCH_SHIM_LOG");
        log_line("start %llu %d", (unsigned long long)t, (int)getppid());
        atexit(at_exit);
}

static void fd_note(int fd, const char *path)
{
        if (fd < 0 || fd >= MAX_FDS)
                return;
        fd_kind[fd] = 0;
        if (strncmp(path, "/sys/fs/cgroup/", 15) != 0)
                return;
        size_t len = strlen(path);
        bool move = (len >= 12 && strcmp(path + len - 12, "cgroup.procs") == 0) ||
                    (len >= 6 && strcmp(path + len - 6, "/tasks") == 0);
        fd_kind[fd] = move ? 1 : 2;
        snprintf(fd_path[fd], sizeof(fd_path[fd]), "%s", path);
}

int openat(int dirfd, const char *path, int flags, ...)
{
        static int (*real)(int, const char *, int, ...);
        if (!real)
                real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
        mode_t mode = 0;
        if (flags & (O_CREAT | O_TMPFILE)) {
                va_list ap;
                va_start(ap, flags);
                mode = va_arg(ap, mode_t);
                va_end(ap);
        }
        int fd = real(dirfd, path, flags, mode);
        if (fd >= 0)
                fd_note(fd, path);
        return fd;
}

int open(const char *path, int flags, ...)
{
        mode_t mode = 0;
        if (flags & (O_CREAT | O_TMPFILE)) {
                va_list ap;
                va_start(ap, flags);
                mode = va_arg(ap, mode_t);
                va_end(ap);
        }
        return openat(AT_FDCWD, path, flags, mode);
}

int __open_2(const char *path, int flags)
{
        return openat(AT_FDCWD, path, flags, 0);
}

int __openat_2(int dirfd, const char *path, int flags)
{
        return openat(dirfd, path, flags, 0);
}

ssize_t write(int fd, const void *buf, size_t len)
{
        uint64_t t = now_ns();
        ssize_t n = syscall(SYS_write, fd, buf, len);
        int saved = errno;
        if (fd >= 0 && fd < MAX_FDS && fd_kind[fd])
                log_line("%s %llu %llu %s", fd_kind[fd] == 1 ? "cgwrite" : "cgfile",
                         (unsigned long long)t, (unsigned long long)(now_ns() - t), fd_path[fd]);
        errno = saved;
        return n;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
        ssize_t n = syscall(SYS_sendmsg, fd, msg, flags);
        int saved = errno;
        log_line("send %llu %zd", (unsigned long long)now_ns(), n);
        errno = saved;
        return n;
}

int mkdir(const char *path, mode_t mode)
{
        uint64_t t = now_ns();
        int r = (int)syscall(SYS_mkdirat, AT_FDCWD, path, mode);
        int saved = errno;
        if (strncmp(path, "/sys/fs/cgroup/", 15) == 0)
                log_line("cgmkdir %llu %llu %s", (unsigned long long)t,
                         (unsigned long long)(now_ns() - t), path);
        errno = saved;
        return r;
}

long syscall(long nr, ...)
{
        static long (*real)(long, ...);
        if (!real)
                real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
        va_list ap;
        va_start(ap, nr);
        long a[6];
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        if (nr == SYS_clone3) {
                uint64_t t = now_ns();
                long r = real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
                int saved = errno;
                if (r == 0)
                        log_line("childstart %llu", (unsigned long long)now_ns());
                else
                        log_line("clone %llu %llu %ld", (unsigned long long)t,
                                 (unsigned long long)(now_ns() - t), r);
                errno = saved;
                return r;
        }
        if (nr == SYS_execveat) {
                char st[96];
                sched_times(st, sizeof(st));
                log_line("exec %llu %s", (unsigned long long)now_ns(), st);
        }
        return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* pam_loop: a minimal PAM application for the benchmarks (tests/bench/run.sh builds it with
 * -lpam). Every login runs in a fresh child process: pam_isolate joins its caller to the
 * sandbox (namespaces, seccomp, bounding set), so a caller can log in only once, as sshd's
 * monitor does.
 *
 *   pam_loop cycle -u USER -n ITER [-g GAP_MS] [-r] SERVICE...
 *       ITER rounds; in each round one login per SERVICE, in the order given (the services
 *       alternate, so that load on the machine hits all of them alike), GAP_MS of idle time
 *       before each login. Per login, one line:
 *         login SERVICE ROUND PID RC T_START T_OPENED T_CLOSED T_ENDED CPU CPU_CHILD RUNQ
 *       (CLOCK_MONOTONIC ns: before pam_start, after pam_open_session, after
 *       pam_close_session, after pam_end; RC: the first PAM error, 0 when all succeeded;
 *       from pam_start to the end of pam_open_session, in ns: CPU time of the caller, CPU
 *       time of its reaped children (the helper), the caller's wait for a CPU).
 *
 *   pam_loop hold -u USER -n N [-p PROBES] [-g GAP_MS] SERVICE
 *       Opens N sessions back to back, each in a child that keeps it open
 *       ("open I PID RC T_START T_OPENED"), then logs in and out PROBES more times while the
 *       N are held, GAP_MS apart ("login ..." as above), prints "held N" and waits for a
 *       line (or EOF) on stdin. Then every holder closes its session and exits;
 *       "released NS" is the time from the release until the last holder has been reaped.
 *
 * Exit status 0 when every PAM call succeeded, 1 when one failed, 2 on bad usage or when the
 * machinery itself failed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

struct login_times {
        int32_t rc;
        int32_t pid;
        uint64_t t_start, t_opened, t_closed, t_ended;
        /* from pam_start to the end of pam_open_session: CPU time of the caller and of the
         * children it reaped (the helper), and the caller's time waiting for a CPU */
        uint64_t cpu_self, cpu_children, runq_wait;
};

static const char *user;
/* -r: each login's PAM_RHOST is an address of its own in 10.0.0.0/8 (from its pid), else
 * 127.0.0.1: a config that matches on networks then never has a ticket for a login (1f) */
static bool rhost_vary;

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(int who)
{
        struct rusage ru;
        if (getrusage(who, &ru) < 0)
                return 0;
        return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ULL +
               ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ULL;
}

/* Time spent waiting on a run queue (field 2 of schedstat); through an fd opened before the
 * join: after it /proc/self no longer resolves in the caller. */
static uint64_t runq_wait_ns(int fd)
{
        char buf[128];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        unsigned long long run, wait;
        return sscanf(buf, "%llu %llu", &run, &wait) == 2 ? wait : 0;
}

static void sleep_ms(unsigned ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* No module in a session stack asks anything; a question is an error. */
static int conv_none(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
        (void)n;
        (void)msg;
        (void)resp;
        (void)data;
        return PAM_CONV_ERR;
}

static int write_full(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
        char *p = buf;
        while (len > 0) {
                ssize_t n = read(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* In a fresh child: pam_start and pam_open_session; the times go to report_fd. Returns the
 * handle (NULL when pam_start failed) with t->rc set to the first error. */
static pam_handle_t *login_open(const char *service, struct login_times *t)
{
        static const struct pam_conv conv = {conv_none, NULL};
        pam_handle_t *pamh = NULL;
        memset(t, 0, sizeof(*t));
        t->pid = (int32_t)getpid();
        int sched_fd = open("/proc/self/schedstat", O_RDONLY | O_CLOEXEC);
        uint64_t cpu0 = cpu_ns(RUSAGE_SELF), cpuc0 = cpu_ns(RUSAGE_CHILDREN);
        uint64_t wait0 = runq_wait_ns(sched_fd);
        t->t_start = now_ns();
        int rc = pam_start(service, user, &conv, &pamh);
        char rhost[32] = "127.0.0.1";
        if (rhost_vary)
                snprintf(rhost, sizeof(rhost), "10.%u.%u.%u", (unsigned)(t->pid >> 16) & 255,
                         (unsigned)(t->pid >> 8) & 255, (unsigned)t->pid & 255);
        if (rc == PAM_SUCCESS)
                rc = pam_set_item(pamh, PAM_RHOST, rhost);
        if (rc == PAM_SUCCESS)
                rc = pam_set_item(pamh, PAM_TTY, "ssh");
        if (rc == PAM_SUCCESS)
                rc = pam_open_session(pamh, 0);
        t->t_opened = now_ns();
        t->cpu_self = cpu_ns(RUSAGE_SELF) - cpu0;
        t->cpu_children = cpu_ns(RUSAGE_CHILDREN) - cpuc0;
        t->runq_wait = runq_wait_ns(sched_fd) - wait0;
        close(sched_fd);
        t->rc = rc;
        return pamh;
}

static void login_close(pam_handle_t *pamh, struct login_times *t)
{
        int rc = PAM_SUCCESS;
        if (pamh && t->rc == PAM_SUCCESS)
                rc = pam_close_session(pamh, 0);
        t->t_closed = now_ns();
        if (pamh)
                pam_end(pamh, t->rc != PAM_SUCCESS ? t->rc : rc);
        t->t_ended = now_ns();
        if (t->rc == PAM_SUCCESS)
                t->rc = rc;
}

/* One whole login in a child; the parent prints its line. Returns 0, 1 (PAM failed) or -1. */
static int login_cycle(const char *service, unsigned round)
{
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                return -1;
        }
        if (pid == 0) {
                close(pipefd[0]);
                struct login_times t;
                pam_handle_t *pamh = login_open(service, &t);
                login_close(pamh, &t);
                _exit(write_full(pipefd[1], &t, sizeof(t)) < 0 ? 3 : 0);
        }
        close(pipefd[1]);
        struct login_times t;
        int got = read_full(pipefd[0], &t, sizeof(t));
        close(pipefd[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (got < 0) {
                printf("login %s %u %d -1 0 0 0 0 0 0 0\n", service, round, (int)pid);
                fflush(stdout);
                return 1;
        }
        printf("login %s %u %d %d %llu %llu %llu %llu %llu %llu %llu\n", service, round, (int)t.pid,
               (int)t.rc, (unsigned long long)t.t_start, (unsigned long long)t.t_opened,
               (unsigned long long)t.t_closed, (unsigned long long)t.t_ended,
               (unsigned long long)t.cpu_self, (unsigned long long)t.cpu_children,
               (unsigned long long)t.runq_wait);
        fflush(stdout);
        return t.rc != PAM_SUCCESS;
}

static int cmd_cycle(unsigned iter, unsigned gap_ms, char **services, int n_services)
{
        int status = 0;
        for (unsigned i = 0; i < iter; i++)
                for (int s = 0; s < n_services; s++) {
                        if (gap_ms)
                                sleep_ms(gap_ms);
                        int r = login_cycle(services[s], i);
                        if (r < 0) {
                                perror("pam_loop: fork");
                                return 2;
                        }
                        if (r > 0)
                                status = 1;
                }
        return status;
}

static int cmd_hold(unsigned n, unsigned probes, unsigned gap_ms, const char *service)
{
        int report[2], release[2];
        if (pipe2(report, O_CLOEXEC) < 0 || pipe2(release, O_CLOEXEC) < 0) {
                perror("pam_loop: pipe");
                return 2;
        }
        pid_t *pids = calloc(n ? n : 1, sizeof(pid_t));
        if (!pids)
                return 2;
        int status = 0;
        unsigned opened = 0;
        for (unsigned i = 0; i < n; i++) {
                pid_t pid = fork();
                if (pid < 0) {
                        perror("pam_loop: fork");
                        status = 2;
                        break;
                }
                if (pid == 0) {
                        close(report[0]);
                        close(release[1]);
                        struct login_times t;
                        pam_handle_t *pamh = login_open(service, &t);
                        if (write_full(report[1], &t, sizeof(t)) < 0)
                                _exit(3);
                        close(report[1]);
                        /* held open until the parent closes its end of release */
                        char c;
                        while (read(release[0], &c, 1) < 0 && errno == EINTR)
                                ;
                        login_close(pamh, &t);
                        _exit(t.rc == PAM_SUCCESS ? 0 : 1);
                }
                pids[opened++] = pid;
                struct login_times t;
                if (read_full(report[0], &t, sizeof(t)) < 0) {
                        printf("open %u %d -1 0 0\n", i, (int)pid);
                        status = 1;
                } else {
                        printf("open %u %d %d %llu %llu\n", i, (int)t.pid, (int)t.rc,
                               (unsigned long long)t.t_start, (unsigned long long)t.t_opened);
                        if (t.rc != PAM_SUCCESS)
                                status = 1;
                }
                fflush(stdout);
        }
        close(report[0]);
        close(report[1]);
        for (unsigned i = 0; i < probes && status != 2; i++) {
                if (gap_ms)
                        sleep_ms(gap_ms);
                int r = login_cycle(service, i);
                if (r < 0)
                        status = 2;
                else if (r > 0)
                        status = 1;
        }
        printf("held %u\n", opened);
        fflush(stdout);
        char line[64];
        if (!fgets(line, sizeof(line), stdin)) {
                /* EOF: release too */
        }
        uint64_t t0 = now_ns();
        close(release[1]);
        for (unsigned i = 0; i < opened; i++) {
                int st;
                while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
                        ;
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        status = status ? status : 1;
        }
        printf("released %llu\n", (unsigned long long)(now_ns() - t0));
        fflush(stdout);
        free(pids);
        return status;
}

static int usage(void)
{
        fprintf(stderr, "usage: pam_loop cycle -u USER -n ITER [-g GAP_MS] SERVICE...\n"
                        "       pam_loop hold -u USER -n N [-p PROBES] [-g GAP_MS] SERVICE\n");
        return 2;
}

static int parse_uint(const char *s, unsigned *ret)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v > 10000000UL)
                return -1;
        *ret = (unsigned)v;
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 2)
                return usage();
        const char *mode = argv[1];
        unsigned n = 0, gap = 0, probes = 0;
        int c;
        optind = 2;
        while ((c = getopt(argc, argv, "u:n:g:p:r")) != -1) {
                switch (c) {
                case 'r':
                        rhost_vary = true;
                        break;
                case 'u':
                        user = optarg;
                        break;
                case 'n':
                        if (parse_uint(optarg, &n) < 0)
                                return usage();
                        break;
                case 'g':
                        if (parse_uint(optarg, &gap) < 0)
                                return usage();
                        break;
                case 'p':
                        if (parse_uint(optarg, &probes) < 0)
                                return usage();
                        break;
                default:
                        return usage();
                }
        }
        if (!user || optind >= argc)
                return usage();
        /* a report to a parent that is gone is an error to return, not a signal */
        signal(SIGPIPE, SIG_IGN);
        if (strcmp(mode, "cycle") == 0)
                return cmd_cycle(n, gap, argv + optind, argc - optind);
        if (strcmp(mode, "hold") == 0 && argc - optind == 1)
                return cmd_hold(n, probes, gap, argv[optind]);
        return usage();
}

/* seccomp_log_cost: what seccomp_action = errno-log costs per refused call, next to errno.
 *
 *   seccomp_log_cost ROUNDS ITERS
 *
 * Each filter is loaded into a fresh child, which makes ITERS calls of getppid (the call
 * the filter refuses; a refused call never reaches the kernel's own code):
 *   none       no filter: getppid runs (for scale)
 *   errno      "getppid -> ERRNO(EPERM), else ALLOW", loaded without flags: the kernel logs
 *              nothing
 *   errno-log  the same program loaded with SECCOMP_FILTER_FLAG_LOG: each refusal is an
 *              audit record (kmsg without auditd, rate-limited by printk: most are counted
 *              as lost, but each is still built)
 *   log        "getppid -> LOG": allowed and logged (seccomp_action = log)
 * Output: "cost ROUND FILTER NS_PER_CALL ERRORS" (ERRORS: calls that did not answer as the
 * filter says). ROUNDS rounds, the start rotating per round. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct filter {
        const char *name;
        uint32_t verdict; /* for getppid; 0: no filter */
        unsigned flags;
        long expect; /* what getppid answers: > 0 or -errno */
};

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int load(const struct filter *f)
{
        if (!f->verdict)
                return 0;
        struct sock_filter insns[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, f->verdict),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = {.len = sizeof(insns) / sizeof(insns[0]), .filter = insns};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &prog) < 0)
                return -errno;
        return 0;
}

static int run_one(const struct filter *f, unsigned round, unsigned iters)
{
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                close(pipefd[0]);
                if (load(f) < 0)
                        _exit(3);
                unsigned warm = iters / 10, errors = 0;
                uint64_t t0 = 0;
                for (unsigned i = 0; i < warm + iters; i++) {
                        if (i == warm)
                                t0 = now_ns();
                        long r = syscall(SYS_getppid);
                        long got = r < 0 ? -errno : r;
                        if (f->expect < 0 ? got != f->expect : got <= 0)
                                errors++;
                }
                double ns = (double)(now_ns() - t0) / iters;
                char line[128];
                int n = snprintf(line, sizeof(line), "cost %u %s %.1f %u\n", round, f->name, ns,
                                 errors);
                _exit(write(pipefd[1], line, (size_t)n) == n ? 0 : 5);
        }
        close(pipefd[1]);
        char line[128];
        ssize_t n = read(pipefd[0], line, sizeof(line) - 1);
        close(pipefd[0]);
        int st;
        waitpid(pid, &st, 0);
        if (n <= 0) {
                fprintf(stderr, "seccomp_log_cost: filter %s: child failed (status %d)\n", f->name,
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
                return -1;
        }
        line[n] = '\0';
        fputs(line, stdout);
        fflush(stdout);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: seccomp_log_cost ROUNDS ITERS\n");
                return 2;
        }
        char *end;
        unsigned long rounds = strtoul(argv[1], &end, 10);
        if (*end || !rounds || rounds > 1000)
                return 2;
        unsigned long iters = strtoul(argv[2], &end, 10);
        if (*end || !iters || iters > 10000000)
                return 2;
        static const struct filter filters[] = {
            {"none", 0, 0, 1},
            {"errno", SECCOMP_RET_ERRNO | EPERM, 0, -EPERM},
            {"errno-log", SECCOMP_RET_ERRNO | EPERM, SECCOMP_FILTER_FLAG_LOG, -EPERM},
            {"log", SECCOMP_RET_LOG, 0, 1},
        };
        const unsigned n = sizeof(filters) / sizeof(filters[0]);
        int status = 0;
        for (unsigned r = 0; r < rounds; r++)
                for (unsigned i = 0; i < n; i++)
                        if (run_one(&filters[(i + r) % n], r, (unsigned)iters) < 0)
                                status = 1;
        return status;
}

/* seccomp_cost: what the session's seccomp filter costs per system call.
 *
 *   seccomp_cost CONFIG ROUNDS ITERS
 *
 * The filters compared, each loaded into a fresh child (a filter cannot be removed):
 *   none        no filter
 *   one-rule    "ret ALLOW": the price of having seccomp at all
 *   one-rule-nc "load args[0]; ret ALLOW": the same verdict, but the kernel cannot prove it
 *               constant, so the BPF program runs on every call (a cache miss, for scale)
 *   default     the default policy of CONFIG, compiled as the helper does
 *               (seccomp_program_build with libseccomp's binary tree)
 *   linear      the same allowlist without the binary tree (optimize = false)
 * The calls: getpid, a 1-byte read of /dev/zero, open+close of /etc/passwd (two calls; a
 * quarter of ITERS, they are slower), and
 * ioctl(FIONREAD) on a pipe (ioctl has an argument condition in the default filter, so it
 * always runs the program: this is where the tree matters).
 *
 * Output:
 *   filter NAME INSNS
 *   cache NAME CALL const-allow|runs-filter     (the kernel's constant-action cache, decided
 *                                                by emulating the kernel's own check)
 *   cachecount NAME ALLOWED_CONSTANT RUNS_FILTER  (over native syscall numbers 0..511)
 *   uncached NAME NR...                           (native numbers whose verdict runs the
 *                                                 filter; the first 64)
 *   cost ROUND FILTER CALL NS_PER_CALL ERRORS
 * ROUNDS rounds, each running every filter once in turn (the start rotates per round). */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../conf/policy.h"
#include "../../session-helper/seccomp.h"

#define NATIVE_NR_MAX 512

enum call { CALL_GETPID, CALL_READ, CALL_OPEN_CLOSE, CALL_IOCTL, N_CALLS };
static const char *const call_names[N_CALLS] = {"getpid", "read1", "open+close", "ioctl"};
static const int call_nrs[N_CALLS] = {SYS_getpid, SYS_read, SYS_openat, SYS_ioctl};

struct filter {
        const char *name;
        struct sock_filter *insns;
        unsigned short len; /* 0: no filter */
};

/* The kernel's seccomp_is_const_allow() (kernel/seccomp.c, the action cache): follows the
 * program for a given arch and syscall number with unknown arguments; true when it reaches
 * "ret ALLOW" without reading anything but arch and nr. Only then does the kernel skip the
 * program for that number. */
static bool const_allow(const struct sock_filter *f, unsigned len, uint32_t arch, uint32_t nr)
{
        uint32_t acc = 0;
        for (unsigned pc = 0; pc < len; pc++) {
                const struct sock_filter *in = &f[pc];
                switch (in->code) {
                case BPF_LD | BPF_W | BPF_ABS:
                        if (in->k == offsetof(struct seccomp_data, nr))
                                acc = nr;
                        else if (in->k == offsetof(struct seccomp_data, arch))
                                acc = arch;
                        else
                                return false;
                        break;
                case BPF_RET | BPF_K:
                        return in->k == SECCOMP_RET_ALLOW;
                case BPF_JMP | BPF_JA:
                        pc += in->k;
                        break;
                case BPF_JMP | BPF_JEQ | BPF_K:
                case BPF_JMP | BPF_JGE | BPF_K:
                case BPF_JMP | BPF_JGT | BPF_K:
                case BPF_JMP | BPF_JSET | BPF_K: {
                        bool res;
                        switch (BPF_OP(in->code)) {
                        case BPF_JEQ:
                                res = acc == in->k;
                                break;
                        case BPF_JGE:
                                res = acc >= in->k;
                                break;
                        case BPF_JGT:
                                res = acc > in->k;
                                break;
                        default:
                                res = (acc & in->k) != 0;
                                break;
                        }
                        pc += res ? in->jt : in->jf;
                        break;
                }
                case BPF_ALU | BPF_AND | BPF_K:
                        acc &= in->k;
                        break;
                default:
                        return false;
                }
        }
        return false;
}

/* Whether the verdict for nr is a constant (allow or not) or depends on the arguments: the
 * same walk, but any return ends it; used to list the numbers that always run the program. */
static bool verdict_constant(const struct sock_filter *f, unsigned len, uint32_t arch, uint32_t nr)
{
        struct sock_filter *copy = malloc(len * sizeof(*copy));
        if (!copy)
                return false;
        memcpy(copy, f, len * sizeof(*copy));
        /* every return becomes "allow": then const_allow says whether one is reached with
         * constants only */
        for (unsigned i = 0; i < len; i++)
                if (copy[i].code == (BPF_RET | BPF_K))
                        copy[i].k = SECCOMP_RET_ALLOW;
        bool r = const_allow(copy, len, arch, nr);
        free(copy);
        return r;
}

static void cache_report(const struct filter *f)
{
        if (!f->len)
                return;
        for (int c = 0; c < N_CALLS; c++) {
                bool hit = const_allow(f->insns, f->len, AUDIT_ARCH_X86_64, (uint32_t)call_nrs[c]);
                bool hit_close = c != CALL_OPEN_CLOSE ||
                                 const_allow(f->insns, f->len, AUDIT_ARCH_X86_64, SYS_close);
                printf("cache %s %s %s\n", f->name, call_names[c],
                       hit && hit_close ? "const-allow" : "runs-filter");
        }
        unsigned allowed = 0, runs = 0;
        char list[4096] = "";
        size_t used = 0;
        for (uint32_t nr = 0; nr < NATIVE_NR_MAX; nr++) {
                if (const_allow(f->insns, f->len, AUDIT_ARCH_X86_64, nr))
                        allowed++;
                else if (!verdict_constant(f->insns, f->len, AUDIT_ARCH_X86_64, nr)) {
                        runs++;
                        if (runs <= 64 && used < sizeof(list) - 16)
                                used +=
                                    (size_t)snprintf(list + used, sizeof(list) - used, " %u", nr);
                }
        }
        printf("cachecount %s %u %u\n", f->name, allowed, runs);
        printf("uncached %s%s%s\n", f->name, list, runs > 64 ? " ..." : "");
}

static int filter_load(const struct filter *f)
{
        if (!f->len)
                return 0;
        struct sock_fprog prog = {.len = f->len, .filter = f->insns};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
                return -errno;
        return 0;
}

struct result {
        double ns[N_CALLS];
        unsigned errors[N_CALLS];
};

/* In the child, after the filter is loaded. */
static void measure(unsigned iters, struct result *res)
{
        int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        int pipefd[2];
        if (zero < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
                _exit(4);
        char buf[8];
        for (int c = 0; c < N_CALLS; c++) {
                unsigned errors = 0;
                uint64_t t0 = 0;
                /* the first 1/10 warms caches and branch predictors, untimed */
                unsigned n = c == CALL_OPEN_CLOSE ? iters / 4 + 1 : iters;
                unsigned warm = n / 10;
                for (unsigned i = 0; i < warm + n; i++) {
                        if (i == warm)
                                t0 = now_ns();
                        switch (c) {
                        case CALL_GETPID:
                                if (syscall(SYS_getpid) <= 0)
                                        errors++;
                                break;
                        case CALL_READ:
                                if (read(zero, buf, 1) != 1)
                                        errors++;
                                break;
                        case CALL_OPEN_CLOSE: {
                                int fd = openat(AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC);
                                if (fd < 0 || close(fd) < 0)
                                        errors++;
                                break;
                        }
                        case CALL_IOCTL: {
                                int avail;
                                if (ioctl(pipefd[0], FIONREAD, &avail) < 0)
                                        errors++;
                                break;
                        }
                        }
                }
                res->ns[c] = (double)(now_ns() - t0) / n;
                res->errors[c] = errors;
        }
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
                struct result res;
                if (filter_load(f) < 0)
                        _exit(3);
                measure(iters, &res);
                _exit(write(pipefd[1], &res, sizeof(res)) == sizeof(res) ? 0 : 5);
        }
        close(pipefd[1]);
        struct result res;
        ssize_t n = read(pipefd[0], &res, sizeof(res));
        close(pipefd[0]);
        int st;
        waitpid(pid, &st, 0);
        if (n != sizeof(res)) {
                fprintf(stderr, "seccomp_cost: filter %s: child failed (status %d)\n", f->name,
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
                return -1;
        }
        for (int c = 0; c < N_CALLS; c++)
                printf("cost %u %s %s %.2f %u\n", round, f->name, call_names[c], res.ns[c],
                       res.errors[c]);
        fflush(stdout);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc != 4) {
                fprintf(stderr, "usage: seccomp_cost CONFIG ROUNDS ITERS\n");
                return 2;
        }
        uint64_t rounds, iters;
        if (safe_atou64(argv[2], &rounds) < 0 || safe_atou64(argv[3], &iters) < 0 || !rounds ||
            !iters || rounds > 1000 || iters > 100000000) {
                fprintf(stderr, "seccomp_cost: bad ROUNDS or ITERS\n");
                return 2;
        }
        struct config *cfg = NULL;
        struct config_errors errs = {0};
        if (config_load(argv[1], false, &cfg, &errs) < 0) {
                for (size_t i = 0; i < errs.n; i++)
                        fprintf(stderr, "%s\n", errs.msgs[i]);
                config_errors_free(&errs);
                return 2;
        }
        const struct policy *p = &cfg->policies[cfg->default_policy];
        struct isolate_error err = {0};
        struct sock_filter *tree = NULL, *linear = NULL;
        uint32_t tree_len = 0, linear_len = 0;
        if (seccomp_program_build(p, true, &tree, &tree_len, &err) < 0 ||
            seccomp_program_build(p, false, &linear, &linear_len, &err) < 0) {
                fprintf(stderr, "seccomp_cost: %s\n", err.msg);
                return 2;
        }
        if (!tree || !linear) {
                fprintf(stderr, "seccomp_cost: policy %s has no filter\n", p->name);
                return 2;
        }
        static struct sock_filter one_rule[] = {
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        static struct sock_filter one_rule_nc[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        const struct filter filters[] = {
            {"none", NULL, 0},
            {"one-rule", one_rule, 1},
            {"one-rule-nc", one_rule_nc, 2},
            {"default", tree, (unsigned short)tree_len},
            {"linear", linear, (unsigned short)linear_len},
        };
        const unsigned n_filters = sizeof(filters) / sizeof(filters[0]);
        for (unsigned i = 0; i < n_filters; i++) {
                printf("filter %s %u\n", filters[i].name, filters[i].len);
                cache_report(&filters[i]);
        }
        fflush(stdout);
        int status = 0;
        for (unsigned r = 0; r < rounds; r++)
                for (unsigned i = 0; i < n_filters; i++)
                        if (run_one(&filters[(i + r) % n_filters], r, (unsigned)iters) < 0)
                                status = 1;
        free(tree);
        free(linear);
        config_free(cfg);
        return status;
}

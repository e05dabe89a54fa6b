/* test_seccomp.c: the syscall groups, the compiled program loaded into a child (real
 * outcomes of real calls), the actions, allow/deny, and the cache. Runs as root. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../conf/syscalls.h"
#include "../../session-helper/seccomp.h"
#include "test_fork.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* ---- helpers ------------------------------------------------------------------------- */

static bool strv_has(const struct strv *s, const char *str);
static bool strv_has_sub(const struct strv *s, const char *sub);

static struct policy policy_new(void)
{
        struct policy p;
        memset(&p, 0, sizeof(p));
        p.name = (char *)"test";
        p.seccomp_base = SECCOMP_BASE_DEFAULT;
        p.seccomp_action = SECCOMP_ACTION_ERRNO;
        p.no_new_privs = true;
        return p;
}

static struct strv strv_of(char **v)
{
        size_t n = 0;
        while (v[n])
                n++;
        return (struct strv){v, n};
}

struct outcome {
        bool exited; /* else killed by sig */
        int sig;
        long ret;
        int err;
};

typedef long (*call_fn)(void);

/* Loads prog in a forked child (no_new_privs + seccomp(2), as the join does), runs fn there
 * and reports its return value and errno, or the signal that killed the child. A NULL prog
 * loads no filter at all: what the kernel alone does with the call. */
static struct outcome run_filtered(const struct sock_filter *prog, uint32_t len, call_fn fn)
{
        int pfd[2];
        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        pid_t pid = test_fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(pfd[0]);
                struct sock_fprog fp = {.len = (unsigned short)len,
                                        .filter = (struct sock_filter *)prog};
                if (prog && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                             syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0))
                        _exit(99);
                errno = 0;
                long res[2];
                res[0] = fn();
                res[1] = errno;
                if (write(pfd[1], res, sizeof(res)) != (ssize_t)sizeof(res))
                        _exit(98);
                _exit(0);
        }
        close(pfd[1]);
        long res[2] = {0, 0};
        ssize_t n = read(pfd[0], res, sizeof(res));
        close(pfd[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        struct outcome o = {0};
        if (WIFSIGNALED(status)) {
                o.sig = WTERMSIG(status);
                return o;
        }
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(n, (ssize_t)sizeof(res));
        o.exited = true;
        o.ret = res[0];
        o.err = (int)res[1];
        return o;
}

static void assert_fails(struct outcome o, int err)
{
        assert_true(o.exited);
        assert_int_equal(o.ret, -1);
        assert_int_equal(o.err, err);
}

static void assert_succeeds(struct outcome o)
{
        assert_true(o.exited);
        assert_true(o.ret >= 0);
}

static void assert_killed(struct outcome o)
{
        assert_false(o.exited);
        assert_int_equal(o.sig, SIGSYS);
}

struct program {
        struct sock_filter *bpf;
        uint32_t len;
};

static struct program build(const struct policy *p)
{
        struct program prog = {0};
        struct isolate_error err = {0};
        int r = seccomp_program_build(p, true, &prog.bpf, &prog.len, &err);
        if (r < 0)
                fail_msg("seccomp_program_build: %s", err.msg);
        assert_non_null(prog.bpf);
        return prog;
}

/* ---- the calls tried inside -------------------------------------------------------------- */

static long call_getpid(void)
{
        return syscall(SYS_getpid);
}
static long call_getppid(void)
{
        return syscall(SYS_getppid);
}
static long call_unshare_user(void)
{
        return syscall(SYS_unshare, CLONE_NEWUSER);
}
static long call_unshare_uts(void)
{
        return syscall(SYS_unshare, CLONE_NEWUTS);
}
/* raw clone, the child exits at once; returns the child's pid or -1 */
static long clone_with(unsigned long flags)
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
static long call_clone_plain(void)
{
        return clone_with(0);
}
static long call_clone_newns(void)
{
        return clone_with(CLONE_NEWNS);
}
static long call_clone_newuser(void)
{
        return clone_with(CLONE_NEWUSER);
}
static long call_clone_newnet_highbits(void)
{
        /* high bits set as well: the flag test is a mask, not an equality */
        return clone_with(CLONE_NEWNET | (1UL << 40));
}
static long call_clone3(void)
{
        uint64_t args[11] = {0};
        args[4] = SIGCHLD; /* exit_signal */
        long pid = syscall(SYS_clone3, args, 88);
        if (pid == 0)
                _exit(0);
        if (pid > 0)
                waitpid((pid_t)pid, NULL, 0);
        return pid;
}
static long call_unknown_high(void)
{
        return syscall(1000);
}
static long call_unknown_newer(void)
{
        /* 462 (mseal on 6.10+): newer than libseccomp 2.5.4's table */
        return syscall(462, 0, 0, 0);
}
static long call_fork(void)
{
        pid_t pid = fork();
        if (pid == 0)
                _exit(0);
        if (pid > 0)
                waitpid(pid, NULL, 0);
        return pid;
}

/* TIOCSTI on a pipe: the kernel would say ENOTTY, the filter says EPERM first. */
static long ioctl_on_pipe(unsigned long cmd)
{
        int p[2];
        if (pipe(p) < 0)
                return -2;
        char c = 'x';
        long r = syscall(SYS_ioctl, p[0], cmd, &c);
        int saved = errno;
        close(p[0]);
        close(p[1]);
        errno = saved;
        return r;
}
static long call_tiocsti(void)
{
        return ioctl_on_pipe(TIOCSTI);
}
static long call_tiocsti_highbits(void)
{
        return ioctl_on_pipe(TIOCSTI | (1UL << 32));
}
static long call_tioclinux(void)
{
        return ioctl_on_pipe(TIOCLINUX | (0xdeadUL << 40));
}
static long call_fionread(void)
{
        return ioctl_on_pipe(FIONREAD);
}
static long call_fionread_highbits(void)
{
        return ioctl_on_pipe(FIONREAD | (1UL << 33));
}
static long call_tiocgwinsz(void)
{
        /* allowed through: the kernel answers ENOTTY for a pipe */
        return ioctl_on_pipe(TIOCGWINSZ);
}

static long socket_of(long family)
{
        long fd = syscall(SYS_socket, family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0)
                close((int)fd);
        return fd;
}
static long call_socket_unix(void)
{
        return socket_of(AF_UNIX);
}
static long call_socket_inet(void)
{
        return socket_of(AF_INET);
}
static long call_socket_unix_highbits(void)
{
        return socket_of(AF_UNIX | (1L << 32));
}
static long call_socket_vsock(void)
{
        return socket_of(AF_VSOCK);
}
static long call_socket_vsock_highbits(void)
{
        return socket_of(AF_VSOCK | (1L << 35));
}
static long call_socket_packet(void)
{
        return socket_of(AF_PACKET);
}
static long call_socket_netlink(void)
{
        long fd = syscall(SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
        if (fd >= 0)
                close((int)fd);
        return fd;
}

static long call_personality_query(void)
{
        return syscall(SYS_personality, 0xffffffffUL);
}
static long call_personality_norandom(void)
{
        return syscall(SYS_personality, ADDR_NO_RANDOMIZE);
}
static long call_personality_linux32(void)
{
        return syscall(SYS_personality, PER_LINUX32);
}
static long call_personality_read_exec(void)
{
        return syscall(SYS_personality, READ_IMPLIES_EXEC);
}
static long call_personality_page_zero(void)
{
        return syscall(SYS_personality, MMAP_PAGE_ZERO | ADDR_NO_RANDOMIZE);
}

static long call_bpf(void)
{
        return syscall(SYS_bpf, 0, NULL, 0);
}
static long call_keyctl(void)
{
        return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
}
static long call_mount(void)
{
        return syscall(SYS_mount, "none", "/mnt", "tmpfs", 0, NULL);
}
static long call_perf(void)
{
        return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
}
static long call_userfaultfd(void)
{
        return syscall(SYS_userfaultfd, 0);
}
static long call_io_uring(void)
{
        return syscall(SYS_io_uring_setup, 1, NULL);
}
/* One AIO context; the child exits right after, which frees it. */
static long call_io_setup(void)
{
        unsigned long ctx = 0;
        return syscall(SYS_io_setup, 1, &ctx);
}
static long call_kexec(void)
{
        return syscall(SYS_kexec_load, 0, 0, NULL, 0);
}
static long call_init_module(void)
{
        return syscall(SYS_init_module, NULL, 0, "");
}
static long call_setns(void)
{
        return syscall(SYS_setns, -1, 0);
}
static long call_modify_ldt(void)
{
        char buf[16];
        return syscall(SYS_modify_ldt, 0, buf, sizeof(buf));
}
static long call_syslog_size(void)
{
        return syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
}
static long call_get_mempolicy(void)
{
        int mode;
        return syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 0);
}
/* 0, or -1 with the errno the child got, or -(100 + signal) if the child was killed */
static long call_ptrace_traceme(void)
{
        pid_t pid = fork();
        if (pid == 0)
                _exit(syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0) == 0 ? 0 : errno);
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid)
                return -2;
        if (WIFSIGNALED(st)) {
                errno = 0;
                return -(100 + WTERMSIG(st));
        }
        errno = WEXITSTATUS(st);
        return errno == 0 ? 0 : -1;
}
static long call_x32_getpid(void)
{
        return syscall(0x40000000 /* __X32_SYSCALL_BIT */ | SYS_getpid);
}
static long call_i386_getpid(void)
{
        long ret = 20; /* getpid on i386 */
        __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
        return ret;
}

/* ---- groups --------------------------------------------------------------------------- */

static void test_groups_known_and_complete(void **state)
{
        size_t n;
        const struct syscall_group *g = syscall_groups(&n);
        assert_true(n > 20);
        int seen[1024] = {0};
        bool any_default = false, any_other = false;
        for (size_t i = 0; i < n; i++) {
                assert_non_null(g[i].name);
                assert_int_equal(g[i].name[0], '@');
                assert_non_null(g[i].doc);
                assert_true(strlen(g[i].doc) > 10);
                assert_ptr_equal(syscall_group_find(g[i].name), &g[i]);
                any_default |= g[i].in_default;
                any_other |= !g[i].in_default;
                for (const char *const *m = g[i].members; *m; m++) {
                        if (!syscall_name_known(*m))
                                fail_msg("%s: '%s' is not known to libseccomp on this arch",
                                         g[i].name, *m);
                        int nr = seccomp_syscall_resolve_name(*m);
                        assert_true(nr >= 0 && nr < 1024);
                        if (seen[nr]++)
                                fail_msg("'%s' is in more than one group (again in %s)", *m,
                                         g[i].name);
                }
        }
        assert_true(any_default && any_other);
        /* every call libseccomp knows here has a group an admin can name */
        for (int nr = 0; nr < 1024; nr++) {
                char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
                if (name && !seen[nr])
                        fail_msg("'%s' is in no group", name);
                free(name);
        }
}

static void test_default_membership(void **state)
{
        /* what the design says must be in or out of the default */
        static const char *in[] = {"ptrace",
                                   "process_vm_readv",
                                   "process_vm_writev",
                                   "kcmp",
                                   "get_mempolicy",
                                   "set_mempolicy",
                                   "setresuid",
                                   "setgroups",
                                   "sendmsg",
                                   "recvmsg",
                                   "wait4",
                                   "kill",
                                   "fchown",
                                   "fchmod",
                                   "clone",
                                   "personality",
                                   "socket",
                                   "ioctl",
                                   NULL};
        static const char *out[] = {"unshare",
                                    "setns",
                                    "clone3",
                                    "mount",
                                    "umount2",
                                    "bpf",
                                    "perf_event_open",
                                    "keyctl",
                                    "add_key",
                                    "request_key",
                                    "userfaultfd",
                                    "kexec_load",
                                    "kexec_file_load",
                                    "init_module",
                                    "finit_module",
                                    "io_uring_setup",
                                    "io_uring_enter",
                                    "io_uring_register",
                                    /* fs.aio-max-nr is one count for the whole host */
                                    "io_setup",
                                    "io_submit",
                                    "io_getevents",
                                    "io_pgetevents",
                                    "io_cancel",
                                    "io_destroy",
                                    "reboot",
                                    "swapon",
                                    "iopl",
                                    "ioperm",
                                    "modify_ldt",
                                    "settimeofday",
                                    NULL};
        size_t n;
        const struct syscall_group *g = syscall_groups(&n);
        for (int pass = 0; pass < 2; pass++)
                for (const char **s = pass ? out : in; *s; s++) {
                        bool found_default = false;
                        for (size_t i = 0; i < n; i++)
                                for (const char *const *m = g[i].members; *m; m++)
                                        if (STREQ(*m, *s) && g[i].in_default)
                                                found_default = true;
                        if (found_default != (pass == 0))
                                fail_msg("'%s' should %sbe in the default", *s, pass ? "not " : "");
                }
}

static void test_spec_check(void **state)
{
        char msg[256];
        assert_int_equal(syscall_spec_check("getpid", msg, sizeof(msg)), 0);
        assert_int_equal(syscall_spec_check("@mount", msg, sizeof(msg)), 0);
        assert_int_equal(syscall_spec_check("@nonsense", msg, sizeof(msg)), -EINVAL);
        assert_non_null(strstr(msg, "@nonsense"));
        assert_int_equal(syscall_spec_check("getpidd", msg, sizeof(msg)), -EINVAL);
        assert_non_null(strstr(msg, "getpidd"));
        /* i386-only names have no number here */
        assert_int_equal(syscall_spec_check("socketcall", msg, sizeof(msg)), -EINVAL);
        assert_false(syscall_name_known("chown32"));
}

/* ---- the default program, loaded --------------------------------------------------------- */

static const char *outcome_text(struct outcome o, char *buf, size_t len);

/* An allowed call the kernel itself may refuse on some hosts: get_mempolicy without
 * CONFIG_NUMA (ENOSYS), PTRACE_TRACEME under Yama's ptrace_scope 3 (EPERM), where an EPERM
 * of the filter would look the same. Under the kill action a denial kills the child, so
 * allowed means: not killed, and the kernel's own answer, as without any filter. */
static void assert_allowed_as_unfiltered(const char *name, call_fn fn)
{
        struct policy p = policy_new();
        p.seccomp_action = SECCOMP_ACTION_KILL;
        struct program prog = build(&p);
        struct outcome bare = run_filtered(NULL, 0, fn);
        struct outcome got = run_filtered(prog.bpf, prog.len, fn);
        free(prog.bpf);
        char want[64], seen[64];
        outcome_text(bare, want, sizeof(want));
        outcome_text(got, seen, sizeof(seen));
        if (!bare.exited)
                fail_msg("%s: without a filter the call was %s", name, want);
        if (!got.exited || got.ret != bare.ret || got.err != bare.err)
                fail_msg("%s: without a filter the call %s, under the filter it was %s", name, want,
                         seen);
        if (bare.ret < 0)
                print_message("%s: refused by the kernel itself here (%s); the filter lets it "
                              "through to that answer\n",
                              name, want);
}

static void test_default_allows_work(void **state)
{
        struct policy p = policy_new();
        struct program prog = build(&p);
        struct outcome o = run_filtered(prog.bpf, prog.len, call_getpid);
        assert_succeeds(o);
        assert_true(o.ret > 1);
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_fork));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_clone_plain));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_socket_unix));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_socket_inet));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_socket_netlink));
        /* the kernel reads an int: high bits of the family do not matter to it */
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_socket_unix_highbits));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_fionread));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_fionread_highbits));
        assert_fails(run_filtered(prog.bpf, prog.len, call_tiocgwinsz), ENOTTY);
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_personality_query));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_personality_norandom));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_personality_linux32));
        free(prog.bpf);
        assert_allowed_as_unfiltered("get_mempolicy", call_get_mempolicy);
        assert_allowed_as_unfiltered("ptrace(PTRACE_TRACEME)", call_ptrace_traceme);
}

static void test_default_denies(void **state)
{
        struct policy p = policy_new();
        struct program prog = build(&p);
        assert_fails(run_filtered(prog.bpf, prog.len, call_unshare_user), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_unshare_uts), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_setns), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_clone_newns), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_clone_newuser), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_clone_newnet_highbits), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_clone3), ENOSYS);
        assert_fails(run_filtered(prog.bpf, prog.len, call_unknown_high), ENOSYS);
        assert_fails(run_filtered(prog.bpf, prog.len, call_unknown_newer), ENOSYS);
        assert_fails(run_filtered(prog.bpf, prog.len, call_tiocsti), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_tiocsti_highbits), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_tioclinux), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_socket_vsock), EAFNOSUPPORT);
        assert_fails(run_filtered(prog.bpf, prog.len, call_socket_vsock_highbits), EAFNOSUPPORT);
        assert_fails(run_filtered(prog.bpf, prog.len, call_socket_packet), EAFNOSUPPORT);
        assert_fails(run_filtered(prog.bpf, prog.len, call_personality_read_exec), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_personality_page_zero), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_bpf), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_keyctl), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_mount), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_perf), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_userfaultfd), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_io_uring), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_io_setup), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_kexec), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_init_module), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_modify_ldt), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_syslog_size), EPERM);
        free(prog.bpf);
}

/* A call through another ABI that comes back from the kernel went through the syscall entry,
 * so seccomp saw it: the filter must kill it (SIGSYS), whatever the action. Where the kernel
 * refuses the ABI before seccomp (int 0x80 without ia32 emulation faults: SIGSEGV), the filter
 * never sees it, and the filtered call must die of that same signal. */
struct foreign_abi {
        const char *name;
        call_fn call;
        int kernel_refusal; /* the signal the kernel alone refuses the ABI with; 0: never */
};

static const struct foreign_abi foreign_abis[] = {
    {"x32", call_x32_getpid, 0}, /* x32 off: ENOSYS, after seccomp */
    {"i386", call_i386_getpid, SIGSEGV},
};

static const char *outcome_text(struct outcome o, char *buf, size_t len)
{
        if (!o.exited)
                snprintf(buf, len, "killed by SIG%s", sigabbrev_np(o.sig) ?: "?");
        else if (o.ret == -1)
                snprintf(buf, len, "failed with %s", strerrorname_np(o.err) ?: "?");
        else
                snprintf(buf, len, "returned %ld", o.ret);
        return buf;
}

static void expect_signal(const struct foreign_abi *abi, const char *action, struct outcome o,
                          int sig)
{
        char got[64];
        if (o.exited || o.sig != sig)
                fail_msg("%s under action %s: expected death by SIG%s, the call %s", abi->name,
                         action, sigabbrev_np(sig), outcome_text(o, got, sizeof(got)));
}

static void test_non_native_abi_killed(void **state)
{
        /* the baseline must be the kernel's alone, not a filter this test inherited */
        assert_int_equal(prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 0);
        struct policy p = policy_new();
        struct program errno_prog = build(&p);
        p.seccomp_action = SECCOMP_ACTION_LOG; /* allows everything else */
        struct program log_prog = build(&p);
        for (size_t i = 0; i < ELEMENTSOF(foreign_abis); i++) {
                const struct foreign_abi *abi = &foreign_abis[i];
                struct outcome bare = run_filtered(NULL, 0, abi->call);
                char what[64];
                outcome_text(bare, what, sizeof(what));
                if (!bare.exited && (abi->kernel_refusal == 0 || bare.sig != abi->kernel_refusal))
                        fail_msg("%s: without a filter the call was %s: neither an answer nor "
                                 "the kernel's refusal; what the filter does cannot be judged",
                                 abi->name, what);
                int expected = bare.exited ? SIGSYS : bare.sig;
                expect_signal(abi, "errno", run_filtered(errno_prog.bpf, errno_prog.len, abi->call),
                              expected);
                expect_signal(abi, "log", run_filtered(log_prog.bpf, log_prog.len, abi->call),
                              expected);
                if (bare.exited)
                        print_message("%s: reaches seccomp on this host (without a filter the "
                                      "call %s); killed by the filter (SIGSYS)\n",
                                      abi->name, what);
                else
                        print_message("%s: refused by the kernel itself (SIG%s without a filter, "
                                      "the same with it)\n",
                                      abi->name, sigabbrev_np(bare.sig));
        }
        free(errno_prog.bpf);
        free(log_prog.bpf);
}

static void test_unfiltered_baseline(void **state)
{
        /* the denials above come from the filter: without it the same calls get past
         * seccomp (whatever the kernel then says) */
        struct sock_filter allow_all[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
        struct outcome o = run_filtered(allow_all, 1, call_tiocsti_highbits);
        assert_true(o.exited);
        assert_int_not_equal(o.err, EPERM);
        o = run_filtered(allow_all, 1, call_socket_vsock);
        assert_true(o.exited);
        assert_true(o.ret >= 0 || o.err != EPERM);
        assert_succeeds(run_filtered(allow_all, 1, call_syslog_size));
        assert_succeeds(run_filtered(allow_all, 1, call_unshare_uts));
        assert_succeeds(run_filtered(allow_all, 1, call_io_setup));
}

/* ---- actions ------------------------------------------------------------------------------ */

static void test_kill_action(void **state)
{
        struct policy p = policy_new();
        p.seccomp_action = SECCOMP_ACTION_KILL;
        struct program prog = build(&p);
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_getpid));
        assert_killed(run_filtered(prog.bpf, prog.len, call_unshare_user));
        assert_killed(run_filtered(prog.bpf, prog.len, call_clone_newns));
        assert_killed(run_filtered(prog.bpf, prog.len, call_tiocsti_highbits));
        assert_killed(run_filtered(prog.bpf, prog.len, call_socket_vsock));
        assert_killed(run_filtered(prog.bpf, prog.len, call_bpf));
        /* unknown (newer) calls still answer ENOSYS: libc probes them */
        assert_fails(run_filtered(prog.bpf, prog.len, call_unknown_newer), ENOSYS);
        assert_fails(run_filtered(prog.bpf, prog.len, call_clone3), ENOSYS);
        free(prog.bpf);
}

static void test_log_action(void **state)
{
        struct policy p = policy_new();
        p.seccomp_action = SECCOMP_ACTION_LOG;
        struct program prog = build(&p);
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_syslog_size));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_unshare_uts));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_clone_newns));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_getpid));
        /* clone3 stays ENOSYS: libc falls back to clone, which is then logged */
        assert_fails(run_filtered(prog.bpf, prog.len, call_clone3), ENOSYS);
        free(prog.bpf);
}

/* ---- allow and deny ------------------------------------------------------------------------- */

static void test_deny_group_and_name(void **state)
{
        struct policy p = policy_new();
        char *deny[] = {"@network-io", "getppid", NULL};
        p.syscalls_deny = strv_of(deny);
        struct program prog = build(&p);
        assert_fails(run_filtered(prog.bpf, prog.len, call_socket_unix), EPERM);
        assert_fails(run_filtered(prog.bpf, prog.len, call_getppid), EPERM);
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_getpid));
        free(prog.bpf);
}

static void test_allow_group_deny_wins(void **state)
{
        struct policy p = policy_new();
        char *allow[] = {"@keyring", "syslog", NULL};
        p.syscalls_allow = strv_of(allow);
        struct program prog = build(&p);
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_keyctl));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_syslog_size));
        free(prog.bpf);

        char *deny[] = {"keyctl", NULL};
        p.syscalls_deny = strv_of(deny);
        prog = build(&p);
        assert_fails(run_filtered(prog.bpf, prog.len, call_keyctl), EPERM);
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_syslog_size));
        free(prog.bpf);
}

static void test_allow_aio(void **state)
{
        /* a policy whose users need libaio names the group */
        struct policy p = policy_new();
        char *allow[] = {"@aio", NULL};
        p.syscalls_allow = strv_of(allow);
        struct program prog = build(&p);
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_io_setup));
        free(prog.bpf);
}

/* The shipped sample's policies keep native AIO out: none of them adds it back. */
static void test_sample_policies_deny_aio(void **state)
{
        char path[PATH_MAX] = "conf/isolate.conf";
        if (access(path, R_OK) != 0) {
                char src[PATH_MAX];
                snprintf(src, sizeof(src), "%s", __FILE__);
                snprintf(path, sizeof(path), "%s/../../conf/isolate.conf", dirname(src));
        }
        struct config *c = NULL;
        struct config_errors e = {0};
        assert_int_equal(config_load(path, false, &c, &e), 0);
        assert_true(c->n_policies >= 2);
        for (size_t i = 0; i < c->n_policies; i++) {
                struct strv allowed = {0}, rules = {0};
                struct isolate_error err = {0};
                assert_int_equal(seccomp_effective(&c->policies[i], &allowed, &rules, &err), 0);
                assert_true(strv_has(&allowed, "read"));
                if (strv_has(&allowed, "io_setup") || strv_has(&allowed, "io_submit"))
                        fail_msg("%s: policy %s allows native AIO", path, c->policies[i].name);
                seccomp_strv_free(&allowed);
                seccomp_strv_free(&rules);
        }
        config_free(c);
}

static void test_allow_namespaces(void **state)
{
        /* allowing @namespaces lifts the clone flag test and lets clone3 through */
        struct policy p = policy_new();
        char *allow[] = {"@namespaces", NULL};
        p.syscalls_allow = strv_of(allow);
        struct program prog = build(&p);
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_unshare_uts));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_clone_newns));
        assert_succeeds(run_filtered(prog.bpf, prog.len, call_clone3));
        free(prog.bpf);
}

static void test_base_none(void **state)
{
        /* seccomp = none: no program at all */
        struct policy p = policy_new();
        p.seccomp_base = SECCOMP_BASE_NONE;
        struct sock_filter *bpf = (struct sock_filter *)1;
        uint32_t len = 7;
        struct isolate_error err = {0};
        assert_int_equal(seccomp_program_build(&p, true, &bpf, &len, &err), 0);
        assert_null(bpf);
        assert_int_equal(len, 0);
        struct strv allowed = {0}, rules = {0};
        assert_int_equal(seccomp_effective(&p, &allowed, &rules, &err), 0);
        assert_int_equal(allowed.n, 0);
        assert_true(strv_has_sub(&rules, "no seccomp filter"));
        seccomp_strv_free(&allowed);
        seccomp_strv_free(&rules);
}

static void test_unknown_name_rejected(void **state)
{
        struct policy p = policy_new();
        char *allow[] = {"getpid", "no_such_call", NULL};
        p.syscalls_allow = strv_of(allow);
        struct sock_filter *bpf = NULL;
        uint32_t len;
        struct isolate_error err = {0};
        assert_int_equal(seccomp_program_build(&p, true, &bpf, &len, &err), -EINVAL);
        assert_null(bpf);
        assert_non_null(strstr(err.msg, "no_such_call"));
        assert_non_null(strstr(err.msg, "syscalls_allow"));
}

static void test_unoptimized_same_behaviour(void **state)
{
        struct policy p = policy_new();
        struct sock_filter *bpf = NULL;
        uint32_t len;
        struct isolate_error err = {0};
        assert_int_equal(seccomp_program_build(&p, false, &bpf, &len, &err), 0);
        assert_succeeds(run_filtered(bpf, len, call_getpid));
        assert_fails(run_filtered(bpf, len, call_unshare_user), EPERM);
        assert_fails(run_filtered(bpf, len, call_tiocsti_highbits), EPERM);
        free(bpf);
}

static void test_compile_time(void **state)
{
        struct policy p = policy_new();
        enum { RUNS = 20 };
        for (int opt = 1; opt >= 0; opt--) {
                uint64_t best = UINT64_MAX, total = 0;
                uint32_t len = 0;
                for (int i = 0; i < RUNS; i++) {
                        struct sock_filter *bpf = NULL;
                        struct isolate_error err = {0};
                        uint64_t t0 = now_ns();
                        assert_int_equal(seccomp_program_build(&p, opt, &bpf, &len, &err), 0);
                        uint64_t dt = now_ns() - t0;
                        total += dt;
                        if (dt < best)
                                best = dt;
                        free(bpf);
                }
                print_message("default program, %s: %u instructions, compile best %.2f ms, mean "
                              "%.2f ms\n",
                              opt ? "binary tree" : "linear", len, best / 1e6, total / 1e6 / RUNS);
                /* a login pays this on a cache miss only; keep it well under a frame */
                assert_true(best < 50 * 1000 * 1000ULL);
        }
}

/* ---- explain -------------------------------------------------------------------------------- */

static bool strv_has(const struct strv *s, const char *str)
{
        for (size_t i = 0; i < s->n; i++)
                if (STREQ(s->v[i], str))
                        return true;
        return false;
}

static bool strv_has_sub(const struct strv *s, const char *sub)
{
        for (size_t i = 0; i < s->n; i++)
                if (strstr(s->v[i], sub))
                        return true;
        return false;
}

static void test_effective(void **state)
{
        struct policy p = policy_new();
        char *deny[] = {"getppid", NULL};
        p.syscalls_deny = strv_of(deny);
        struct strv allowed = {0}, rules = {0};
        struct isolate_error err = {0};
        assert_int_equal(seccomp_effective(&p, &allowed, &rules, &err), 0);
        assert_true(strv_has(&allowed, "read"));
        assert_true(strv_has(&allowed, "ptrace"));
        assert_false(strv_has(&allowed, "getppid"));
        assert_false(strv_has(&allowed, "bpf"));
        assert_false(strv_has(&allowed, "clone")); /* conditional: listed in rules */
        for (size_t i = 1; i < allowed.n; i++)
                assert_true(strcmp(allowed.v[i - 1], allowed.v[i]) < 0);
        assert_true(strv_has_sub(&rules, "clone: allowed without CLONE_NEW*"));
        assert_true(strv_has_sub(&rules, "clone3: ENOSYS"));
        assert_true(strv_has_sub(&rules, "TIOCSTI"));
        assert_true(strv_has_sub(&rules, "EAFNOSUPPORT"));
        assert_true(strv_has_sub(&rules, " getppid"));
        assert_true(strv_has_sub(&rules, " bpf"));
        seccomp_strv_free(&allowed);
        seccomp_strv_free(&rules);
        assert_null(allowed.v);

        p.seccomp_action = SECCOMP_ACTION_KILL;
        assert_int_equal(seccomp_effective(&p, &allowed, &rules, &err), 0);
        assert_true(strv_has_sub(&rules, "denied (the process is killed)"));
        seccomp_strv_free(&allowed);
        seccomp_strv_free(&rules);
}

/* ---- the cache --------------------------------------------------------------------------- */

static char cache_root[64];

static int cache_setup(void **state)
{
        strcpy(cache_root, "/tmp/isolate-test-seccomp-XXXXXX");
        return mkdtemp(cache_root) ? 0 : -1;
}

static int cache_teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cache_root);
        return system(cmd) == 0 ? 0 : -1;
}

static struct config config_for_cache(void)
{
        struct config c;
        memset(&c, 0, sizeof(c));
        c.runtime_dir = cache_root;
        return c;
}

/* The single entry in the cache directory: its path and stat. */
static bool cache_entry(char *path, size_t len, struct stat *st)
{
        char dir[128], cmd[256];
        snprintf(dir, sizeof(dir), "%s/seccomp", cache_root);
        snprintf(cmd, sizeof(cmd), "ls '%s' | grep -c '\\.bpf$'", dir);
        FILE *f = popen(cmd, "r");
        int n = 0;
        if (fscanf(f, "%d", &n) != 1)
                n = -1;
        pclose(f);
        if (n != 1)
                return false;
        snprintf(cmd, sizeof(cmd), "ls '%s'/*.bpf", dir);
        f = popen(cmd, "r");
        bool ok = fgets(path, (int)len, f) != NULL;
        pclose(f);
        path[strcspn(path, "\n")] = '\0';
        return ok && lstat(path, st) == 0;
}

/* Hit or miss, seen from outside: an entry is marked with an old mtime; a hit leaves the
 * mark, a recompile replaces the file with a fresh one (inode numbers may be reused). */
#define OLD_MTIME 1000
static void mark_old(const char *path)
{
        struct timespec ts[2] = {{OLD_MTIME, 0}, {OLD_MTIME, 0}};
        assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static struct program get(const struct config *c, const struct policy *p)
{
        struct program prog = {0};
        uint32_t flags = 1;
        struct isolate_error err = {0};
        if (seccomp_program_get(c, p, &prog.bpf, &prog.len, &flags, &err) < 0)
                fail_msg("seccomp_program_get: %s", err.msg);
        assert_int_equal(flags, 0);
        assert_non_null(prog.bpf);
        return prog;
}

static void assert_same_program(struct program a, struct program b)
{
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.bpf, b.bpf, a.len * sizeof(*a.bpf));
}

static void test_cache_miss_then_hit(void **state)
{
        struct config c = config_for_cache();
        struct policy p = policy_new();
        struct program fresh = build(&p);

        struct program first = get(&c, &p);
        assert_same_program(first, fresh);
        char path[256];
        struct stat st1, st2, dst;
        assert_true(cache_entry(path, sizeof(path), &st1));
        assert_int_equal(st1.st_mode & 07777, 0600);
        assert_int_equal(st1.st_uid, geteuid());
        char dir[128];
        snprintf(dir, sizeof(dir), "%s/seccomp", cache_root);
        assert_int_equal(stat(dir, &dst), 0);
        assert_int_equal(dst.st_mode & 07777, 0700);

        mark_old(path);
        uint64_t t0 = now_ns();
        struct program second = get(&c, &p);
        print_message("default program from the cache: %.3f ms\n", (now_ns() - t0) / 1e6);
        assert_same_program(second, fresh);
        assert_true(cache_entry(path, sizeof(path), &st2));
        assert_int_equal(st2.st_mtime, OLD_MTIME); /* a hit: the file was not rewritten */

        /* the cached program behaves like the fresh one */
        assert_fails(run_filtered(second.bpf, second.len, call_unshare_user), EPERM);

        /* a different policy gets a different entry */
        p.seccomp_action = SECCOMP_ACTION_KILL;
        struct program other = get(&c, &p);
        assert_false(other.len == fresh.len &&
                     memcmp(other.bpf, fresh.bpf, fresh.len * sizeof(*fresh.bpf)) == 0);
        free(fresh.bpf);
        free(first.bpf);
        free(second.bpf);
        free(other.bpf);
}

/* Damages the cached entry with `damage`, then checks that the next get recompiles (a new
 * file replaces it) and returns the right program. */
static void check_recompiled_after(void (*damage)(const char *path))
{
        struct config c = config_for_cache();
        struct policy p = policy_new();
        char *deny[] = {"getppid", NULL};
        p.syscalls_deny = strv_of(deny);
        struct program fresh = build(&p);
        struct program first = get(&c, &p);
        char path[256];
        struct stat st1, st2;
        assert_true(cache_entry(path, sizeof(path), &st1));
        damage(path);
        mark_old(path);
        struct program again = get(&c, &p);
        assert_same_program(again, fresh);
        assert_true(cache_entry(path, sizeof(path), &st2));
        assert_true(S_ISREG(st2.st_mode));
        assert_true(st2.st_mtime > OLD_MTIME); /* replaced */
        assert_int_equal(st2.st_uid, geteuid());
        assert_int_equal(st2.st_mode & 07777, 0600);
        /* and the replacement is a valid entry: a hit next time */
        mark_old(path);
        struct program third = get(&c, &p);
        assert_same_program(third, fresh);
        struct stat st3;
        assert_true(cache_entry(path, sizeof(path), &st3));
        assert_int_equal(st3.st_mtime, OLD_MTIME);
        free(fresh.bpf);
        free(first.bpf);
        free(again.bpf);
        free(third.bpf);
        cache_teardown(NULL);
        cache_setup(NULL);
}

static void damage_program_byte(const char *path)
{
        /* flip a bit in the last instruction (the program, not the header) */
        int fd = open(path, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        struct stat st;
        fstat(fd, &st);
        unsigned char b;
        assert_int_equal(pread(fd, &b, 1, st.st_size - 5), 1);
        b ^= 0x01;
        assert_int_equal(pwrite(fd, &b, 1, st.st_size - 5), 1);
        close(fd);
}

static void damage_key_byte(const char *path)
{
        int fd = open(path, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        unsigned char b;
        assert_int_equal(pread(fd, &b, 1, 30), 1);
        b ^= 0x20;
        assert_int_equal(pwrite(fd, &b, 1, 30), 1);
        close(fd);
}

static void damage_truncate(const char *path)
{
        assert_int_equal(truncate(path, 100), 0);
}

static void damage_owner(const char *path)
{
        assert_int_equal(chown(path, 12345, 12345), 0);
}

static void damage_mode(const char *path)
{
        assert_int_equal(chmod(path, 0644), 0);
}

static void damage_symlink(const char *path)
{
        /* a symlink in place of the file, pointing at a valid copy elsewhere (inside the
         * test's root, outside the cache directory: removed with the root) */
        char copy[256], cmd[600];
        snprintf(copy, sizeof(copy), "%s/copy-elsewhere", cache_root);
        snprintf(cmd, sizeof(cmd), "cp -p '%s' '%s' && ln -sf '%s' '%s'", path, copy, copy, path);
        assert_int_equal(system(cmd), 0);
}

static void test_cache_corrupt_program(void **state)
{
        check_recompiled_after(damage_program_byte);
}

static void test_cache_corrupt_key(void **state)
{
        check_recompiled_after(damage_key_byte);
}

static void test_cache_truncated(void **state)
{
        check_recompiled_after(damage_truncate);
}

static void test_cache_wrong_owner(void **state)
{
        check_recompiled_after(damage_owner);
}

static void test_cache_wrong_mode(void **state)
{
        check_recompiled_after(damage_mode);
}

static void test_cache_symlink(void **state)
{
        check_recompiled_after(damage_symlink);
}

static void test_cache_dir_not_ours(void **state)
{
        /* a directory owned by someone else is not used, but the login still gets its
         * program */
        char dir[128];
        snprintf(dir, sizeof(dir), "%s/seccomp", cache_root);
        assert_int_equal(mkdir(dir, 0777), 0);
        assert_int_equal(chown(dir, 12345, 12345), 0);
        struct config c = config_for_cache();
        struct policy p = policy_new();
        struct program fresh = build(&p);
        struct program got = get(&c, &p);
        assert_same_program(got, fresh);
        char path[256];
        struct stat st;
        assert_false(cache_entry(path, sizeof(path), &st));
        free(fresh.bpf);
        free(got.bpf);
        cache_teardown(NULL);
        cache_setup(NULL);
}

static void test_cache_dir_mode_tightened(void **state)
{
        char dir[128];
        snprintf(dir, sizeof(dir), "%s/seccomp", cache_root);
        assert_int_equal(mkdir(dir, 0755), 0);
        assert_int_equal(chmod(dir, 0755), 0);
        struct config c = config_for_cache();
        struct policy p = policy_new();
        struct program got = get(&c, &p);
        struct stat st;
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        free(got.bpf);
        cache_teardown(NULL);
        cache_setup(NULL);
}

static void test_cache_base_none(void **state)
{
        struct config c = config_for_cache();
        struct policy p = policy_new();
        p.seccomp_base = SECCOMP_BASE_NONE;
        struct sock_filter *bpf = (struct sock_filter *)1;
        uint32_t len = 3, flags = 3;
        struct isolate_error err = {0};
        assert_int_equal(seccomp_program_get(&c, &p, &bpf, &len, &flags, &err), 0);
        assert_null(bpf);
        assert_int_equal(len, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_groups_known_and_complete),
            cmocka_unit_test(test_default_membership),
            cmocka_unit_test(test_spec_check),
            cmocka_unit_test(test_default_allows_work),
            cmocka_unit_test(test_default_denies),
            cmocka_unit_test(test_non_native_abi_killed),
            cmocka_unit_test(test_unfiltered_baseline),
            cmocka_unit_test(test_kill_action),
            cmocka_unit_test(test_log_action),
            cmocka_unit_test(test_deny_group_and_name),
            cmocka_unit_test(test_allow_group_deny_wins),
            cmocka_unit_test(test_allow_aio),
            cmocka_unit_test(test_sample_policies_deny_aio),
            cmocka_unit_test(test_allow_namespaces),
            cmocka_unit_test(test_base_none),
            cmocka_unit_test(test_unknown_name_rejected),
            cmocka_unit_test(test_unoptimized_same_behaviour),
            cmocka_unit_test(test_compile_time),
            cmocka_unit_test(test_effective),
            cmocka_unit_test_setup_teardown(test_cache_miss_then_hit, cache_setup, cache_teardown),
            cmocka_unit_test_setup_teardown(test_cache_corrupt_program, cache_setup,
                                            cache_teardown),
            cmocka_unit_test_setup_teardown(test_cache_corrupt_key, cache_setup, cache_teardown),
            cmocka_unit_test_setup_teardown(test_cache_truncated, cache_setup, cache_teardown),
            cmocka_unit_test_setup_teardown(test_cache_wrong_owner, cache_setup, cache_teardown),
            cmocka_unit_test_setup_teardown(test_cache_wrong_mode, cache_setup, cache_teardown),
            cmocka_unit_test_setup_teardown(test_cache_symlink, cache_setup, cache_teardown),
            cmocka_unit_test_setup_teardown(test_cache_dir_not_ours, cache_setup, cache_teardown),
            cmocka_unit_test_setup_teardown(test_cache_dir_mode_tightened, cache_setup,
                                            cache_teardown),
            cmocka_unit_test_setup_teardown(test_cache_base_none, cache_setup, cache_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

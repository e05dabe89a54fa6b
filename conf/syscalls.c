/* syscalls.c: syscall names and the named groups of the default allowlist.
 *
 * The default allowlist is Docker's unconditional list for x86_64 minus io_uring (DESIGN.md),
 * plus what a login session needs and Docker grants only with a capability: ptrace,
 * process_vm_*, kcmp, pidfd_getfd, process_madvise (debuggers; the pid namespace leaves
 * nothing outside the session to trace), get_mempolicy/set_mempolicy (ps, top), and the
 * newer calls libc starts to use (fchmodat2, map_shadow_stack, cachestat, futex_*).
 * Left out of Docker's list on purpose: modify_ldt (@cpu-emulation: nothing in shell work
 * uses an LDT on x86_64, and it has a history of kernel bugs), the never-implemented
 * epoll_ctl_old/epoll_wait_old (@obsolete), and native AIO (@aio: fs.aio-max-nr is one
 * count for the whole host, and io_setup(65536) by one user takes all of it).
 *
 * Every name libseccomp knows on x86_64 belongs to exactly one group (a unit test checks
 * it), so an admin can name any call by its group. Conditions that seccomp.c adds to some
 * allowed calls (clone, ioctl, socket, personality, clone3) are described there. */
#include "syscalls.h"

#include "../client/util.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>

#define GROUP(name, in_default, doc, ...)                                                          \
        {                                                                                          \
                name, doc, (const char *const[]){__VA_ARGS__, NULL}, in_default                    \
        }

static const struct syscall_group groups[] = {
    /* ---- in the default allowlist ---- */
    GROUP("@basic-io", true,
          "read, write, seek, close and duplicate descriptors, pipes, splice; ioctl "
          "(TIOCSTI and TIOCLINUX refused)",
          "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "preadv2", "pwritev",
          "pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3", "pipe", "pipe2",
          "fcntl", "ioctl", "sendfile", "splice", "tee", "vmsplice", "copy_file_range"),
    GROUP("@io-event", true, "waiting for descriptors: poll, select, epoll, eventfd", "poll",
          "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
          "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2"),
    GROUP("@file-system", true,
          "paths and files: open, stat, directories, links, rename, permissions, "
          "ownership, xattrs, locks, inotify, truncate, fallocate",
          "open", "openat", "openat2", "creat", "access", "faccessat", "faccessat2", "stat",
          "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "getdents", "getdents64",
          "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "rename", "renameat",
          "renameat2", "link", "linkat", "unlink", "unlinkat", "symlink", "symlinkat", "readlink",
          "readlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown",
          "fchownat", "umask", "truncate", "ftruncate", "fallocate", "fadvise64", "readahead",
          "cachestat", "utime", "utimes", "utimensat", "futimesat", "mknod", "mknodat", "flock",
          "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
          "name_to_handle_at", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr",
          "flistxattr", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
          "fremovexattr"),
    GROUP("@sync", true, "flushing file data to disk: fsync, fdatasync, sync, msync", "fsync",
          "fdatasync", "sync", "syncfs", "sync_file_range", "msync"),
    GROUP("@memory", true,
          "mapping and locking memory, memfd, protection keys, NUMA policy queries "
          "(ps, top)",
          "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mincore", "mlock", "mlock2",
          "munlock", "mlockall", "munlockall", "remap_file_pages", "memfd_create", "membarrier",
          "pkey_alloc", "pkey_free", "pkey_mprotect", "get_mempolicy", "set_mempolicy",
          "map_shadow_stack"),
    GROUP("@process", true,
          "fork, exec, exit, wait, process groups and sessions, scheduling, rlimits, "
          "prctl, threads and futexes; clone without CLONE_NEW* flags, personality for "
          "harmless values",
          "fork", "vfork", "clone", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
          "getpid", "getppid", "gettid", "getpgid", "getpgrp", "setpgid", "getsid", "setsid",
          "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "prctl", "arch_prctl",
          "set_thread_area", "get_thread_area", "getrlimit", "setrlimit", "prlimit64", "getrusage",
          "getpriority", "setpriority", "sched_yield", "sched_getaffinity", "sched_setaffinity",
          "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
          "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
          "sched_getattr", "sched_setattr", "ioprio_get", "ioprio_set", "capget", "capset",
          "personality", "pidfd_open", "process_mrelease", "futex", "futex_waitv", "futex_wake",
          "futex_wait", "futex_requeue"),
    GROUP("@signal", true, "sending, waiting for and handling signals", "rt_sigaction",
          "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo",
          "rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack", "signalfd", "signalfd4", "kill",
          "tkill", "tgkill", "pidfd_send_signal", "pause", "restart_syscall"),
    GROUP("@timer", true,
          "reading clocks, sleeping, alarms, interval timers, timerfd (setting the "
          "clock is @clock)",
          "alarm", "getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime",
          "timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime",
          "timerfd_gettime", "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres",
          "gettimeofday", "time", "times", "adjtimex", "clock_adjtime"),
    GROUP("@network-io", true,
          "sockets: socket for AF_UNIX, AF_INET, AF_INET6, AF_NETLINK only; connect, "
          "bind, send and receive (fd passing, D-Bus)",
          "socket", "socketpair", "connect", "accept", "accept4", "bind", "listen", "getsockname",
          "getpeername", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
          "shutdown", "setsockopt", "getsockopt"),
    GROUP("@ipc", true,
          "System V shared memory, semaphores, message queues; POSIX "
          "message queues",
          "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget",
          "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
          "mq_notify", "mq_getsetattr"),
    GROUP("@credentials", true,
          "reading and changing user and group ids (sshd, su, login drop privileges "
          "with these; no_new_privs and the empty bounding set keep users from gaining)",
          "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "setuid",
          "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
          "setgroups"),
    GROUP("@system-info", true, "uname, sysinfo, getrandom, getcpu", "uname", "sysinfo",
          "getrandom", "getcpu"),
    GROUP("@debug", true,
          "debuggers and tracers inside the session: ptrace, process_vm_readv/writev, "
          "kcmp, pidfd_getfd (the pid namespace hides everything outside)",
          "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
          "process_madvise"),
    GROUP("@sandbox", true,
          "a process restricting itself further: its own seccomp filters, Landlock", "seccomp",
          "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"),

    /* ---- not in the default: for syscalls_allow or syscalls_deny ---- */
    GROUP("@namespaces", false,
          "creating and entering namespaces: unshare, setns, clone3 (allowing this group "
          "also lets clone take CLONE_NEW* flags); clone3 is ENOSYS when not allowed",
          "unshare", "setns", "clone3"),
    GROUP("@mount", false, "mounting: mount, umount2, pivot_root, the new mount API", "mount",
          "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
          "open_tree", "mount_setattr"),
    GROUP("@keyring", false, "the kernel keyring: add_key, request_key, keyctl", "add_key",
          "request_key", "keyctl"),
    GROUP("@bpf", false, "loading eBPF programs and maps", "bpf"),
    GROUP("@perf", false, "performance counters and tracing (perf_event_open)", "perf_event_open"),
    GROUP("@aio", false,
          "Linux native asynchronous I/O as libaio uses it: io_setup, io_submit (not io_uring); "
          "not in the default, since its contexts come out of fs.aio-max-nr, one count for "
          "the whole host that no cgroup caps",
          "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents"),
    GROUP("@io-uring", false, "io_uring (a large kernel attack surface)", "io_uring_setup",
          "io_uring_enter", "io_uring_register"),
    GROUP("@userfaultfd", false,
          "page faults handled in user space (CRIU, some VMMs; also an exploit aid)",
          "userfaultfd"),
    GROUP("@module", false, "loading and unloading kernel modules", "init_module", "finit_module",
          "delete_module"),
    GROUP("@kexec", false, "loading a new kernel to boot into", "kexec_load", "kexec_file_load"),
    GROUP("@reboot", false, "rebooting and halting the machine", "reboot"),
    GROUP("@swap", false, "enabling and disabling swap", "swapon", "swapoff"),
    GROUP("@clock", false, "setting the system clock", "settimeofday", "clock_settime"),
    GROUP("@raw-io", false, "raw I/O port access", "iopl", "ioperm"),
    GROUP("@numa", false, "moving memory between NUMA nodes (numactl, HPC)", "mbind",
          "migrate_pages", "move_pages", "set_mempolicy_home_node"),
    GROUP("@cpu-emulation", false, "x86 segment descriptors (wine, dosemu)", "modify_ldt"),
    GROUP("@secretmem", false,
          "memfd_secret: memory taken out of the kernel's direct map, which fragments it "
          "host-wide; nothing interactive needs it",
          "memfd_secret"),
    GROUP("@privileged", false,
          "administration that needs a capability: accounting, quotas, host and domain "
          "names, the kernel log, vhangup, chroot (sshd ChrootDirectory needs it), "
          "open_by_handle_at, fanotify_init",
          "acct", "quotactl", "quotactl_fd", "sethostname", "setdomainname", "syslog", "vhangup",
          "chroot", "open_by_handle_at", "fanotify_init"),
    GROUP("@obsolete", false, "calls the kernel no longer implements or that nothing uses",
          "_sysctl", "uselib", "ustat", "sysfs", "nfsservctl", "getpmsg", "putpmsg", "afs_syscall",
          "tuxcall", "security", "vserver", "lookup_dcookie", "epoll_ctl_old", "epoll_wait_old",
          "create_module", "get_kernel_syms", "query_module"),
};

const struct syscall_group *syscall_groups(size_t *ret_n)
{
        *ret_n = ELEMENTSOF(groups);
        return groups;
}

const struct syscall_group *syscall_group_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(groups); i++)
                if (STREQ(groups[i].name, name))
                        return &groups[i];
        return NULL;
}

/* Only names with a real number on this architecture: libseccomp also resolves names of
 * other architectures (chown32, socketcall) to negative pseudo numbers, which a filter
 * for this machine would silently ignore. */
bool syscall_name_known(const char *name)
{
        return seccomp_syscall_resolve_name(name) >= 0;
}

int syscall_spec_check(const char *spec, char *msg, size_t msg_len)
{
        if (spec[0] == '@') {
                if (syscall_group_find(spec))
                        return 0;
                snprintf(msg, msg_len, "unknown syscall group '%s'", spec);
                return -EINVAL;
        }
        if (syscall_name_known(spec))
                return 0;
        snprintf(msg, msg_len,
                 "unknown syscall '%s' (not known to libseccomp on this architecture)", spec);
        return -EINVAL;
}

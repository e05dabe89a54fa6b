/* join.c: the caller joins a session the helper built. libc only (the PAM module links it).
 *
 * Order matters: the LSM exec label goes first, while /proc is still the host's (after the
 * setns /proc/self no longer resolves: the caller is outside the new pid namespace); then
 * the caller moves itself into the session's cgroups (through files the helper opened: a
 * process moving itself on cgroup v1 skips the kernel's RCU grace period); then
 * every namespace in one setns(2) with the init's pidfd (all or nothing); then Landlock
 * (paths opened in the session's mount namespace); then the bounding, inheritable and ambient
 * capability sets, no_new_privs and
 * last the seccomp filter, which may deny the calls before it. */
#include "join.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "landlock.h"

static int lsm_label_write(const struct join_spec *j, struct isolate_error *err)
{
        if (j->lsm_attr_path[0] == '\0')
                return 0;
        if (strncmp(j->lsm_attr_path, "/proc/self/attr/", 16) != 0)
                return error_set(err, EINVAL, "refusing LSM attribute path %s", j->lsm_attr_path);
        _cleanup_close_ int fd = open(j->lsm_attr_path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return error_set_errno(err, errno, "cannot open %s", j->lsm_attr_path);
        size_t len = strlen(j->lsm_attr_value);
        ssize_t n = write(fd, j->lsm_attr_value, len);
        if (n < 0)
                return error_set_errno(err, errno, "cannot write '%s' to %s", j->lsm_attr_value,
                                       j->lsm_attr_path);
        if ((size_t)n != len)
                return error_set(err, EIO, "short write of '%s' to %s", j->lsm_attr_value,
                                 j->lsm_attr_path);
        return 0;
}

static int bounding_set_drop(uint64_t keep, struct isolate_error *err)
{
        for (int cap = 0; cap < 64; cap++) {
                if (keep & (1ULL << cap))
                        continue;
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
                        if (errno == EINVAL)
                                break; /* past the kernel's last capability */
                        return error_set_errno(
                            err, errno, "cannot drop capability %d from the bounding set", cap);
                }
        }
        return 0;
}

/* The inheritable set keeps only what the policy keeps, the ambient set is emptied: a
 * caller started with either (setpriv --inh-caps, a service's AmbientCapabilities) must
 * not pass them on to the session's programs, through file capabilities or across exec. */
static int inheritable_ambient_drop(uint64_t keep, struct isolate_error *err)
{
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return error_set_errno(err, errno, "cannot clear the ambient capability set");
        struct __user_cap_header_struct head = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
        if (syscall(SYS_capget, &head, data) < 0)
                return error_set_errno(err, errno, "capget");
        data[0].inheritable &= (uint32_t)keep;
        data[1].inheritable &= (uint32_t)(keep >> 32);
        if (syscall(SYS_capset, &head, data) < 0)
                return error_set_errno(err, errno, "cannot clear the inheritable capability set");
        return 0;
}

/* Writes "0" (the writer itself) to each file; closes them: nothing of the host's cgroupfs
 * stays open in a process that forks into the session. */
static int cgroup_self_enter(struct join_spec *j, struct isolate_error *err)
{
        int r = 0;
        for (uint32_t i = 0; i < j->n_cgroup_fds; i++) {
                if (r == 0 && write(j->cgroup_fds[i], "0", 1) != 1)
                        r = error_set_errno(err, errno, "cannot enter the session's cgroup");
                closep(&j->cgroup_fds[i]);
                j->cgroup_fds[i] = -1;
        }
        j->n_cgroup_fds = 0;
        return r;
}

/* Lowers RLIMIT_NOFILE, soft and hard, to at most n: pids_max processes of n files each is
 * what the user can hold of the host's file table (fs.file-max), which no cgroup caps. */
static int nofile_lower(uint64_t n, struct isolate_error *err)
{
        if (n == 0)
                return 0;
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return error_set_errno(err, errno, "getrlimit(RLIMIT_NOFILE)");
        if (rl.rlim_max > n)
                rl.rlim_max = n;
        if (rl.rlim_cur > rl.rlim_max)
                rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                return error_set_errno(err, errno, "cannot lower RLIMIT_NOFILE to %llu",
                                       (unsigned long long)n);
        return 0;
}

int session_join(struct join_spec *j, struct isolate_error *err)
{
        /* first: it fails alone, before anything is half done */
        int r = nofile_lower(j->nofile, err);
        if (r < 0)
                return r;
        r = lsm_label_write(j, err);
        if (r < 0)
                return r;
        r = cgroup_self_enter(j, err);
        if (r < 0)
                return r;
        if (j->init_pidfd < 0)
                return error_set(err, EBADF, "no session init to join");
        if (setns(j->init_pidfd, (int)j->ns_flags) < 0)
                return error_set_errno(err, errno, "setns into the session's namespaces");
        r = landlock_apply(j, err);
        if (r < 0)
                return r;
        r = bounding_set_drop(j->caps_keep, err);
        if (r < 0)
                return r;
        r = inheritable_ambient_drop(j->caps_keep, err);
        if (r < 0)
                return r;
        if (j->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return error_set_errno(err, errno, "cannot set no_new_privs");
        if (j->bpf) {
                struct sock_fprog prog = {.len = (unsigned short)j->bpf_len, .filter = j->bpf};
                if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, j->seccomp_flags, &prog) < 0)
                        return error_set_errno(err, errno, "cannot load the seccomp filter");
        }
        return 0;
}

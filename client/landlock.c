/* landlock.c: applies the Landlock part of a join_spec to the calling process. libc only
 * (linked into the PAM module): raw syscalls, no library.
 *
 * It runs in the caller after the setns, so "/tmp" is the session's private /tmp. The
 * ruleset restricts the caller itself too (the sshd monitor, root), which is why lsm_plan()
 * always adds read-write rules for what the monitor writes after the join (/dev, utmp,
 * wtmp, btmp, lastlog). Scoping binds the caller too: it can no longer signal a process, or
 * connect to an abstract unix socket, outside the domain made here.
 *
 * Every login makes a domain of its own (a domain cannot be joined, only inherited), so two
 * logins joining one user-scope sandbox are in different domains: neither can ptrace, see
 * under hidepid, or (scoped) signal or reach the abstract sockets of the other's processes. */
#include "landlock.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "path.h"

/* Our own copies of the argument structs: the uapi one for the ruleset grows with new ABIs
 * (handled_access_net, scoped). The kernel takes the first member alone on every ABI, and
 * all three (net 0) from ABI 6 on; the longer form is passed only when scoping is asked for. */
struct ll_ruleset_attr {
        uint64_t handled_access_fs;
        uint64_t handled_access_net;
        uint64_t scoped;
};
#define LL_RULESET_ATTR_SIZE_V1 sizeof(uint64_t)

struct ll_path_beneath_attr {
        uint64_t allowed_access;
        int32_t parent_fd;
} __attribute__((packed));

#define LL_RULE_PATH_BENEATH             1
#define LL_RESTRICT_SELF_LOG_NEW_EXEC_ON (1U << 1) /* LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON */
#define LL_RESTRICT_SELF_LOG_ABI         7

uint64_t landlock_fs_access_for_abi(int abi)
{
        if (abi < 1)
                return 0;
        uint64_t a = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: EXECUTE .. MAKE_SYM */
        if (abi >= 2)
                a |= LANDLOCK_ACCESS_FS_REFER;
        if (abi >= 3)
                a |= LANDLOCK_ACCESS_FS_TRUNCATE;
        if (abi >= 5) /* ABI 4 added network rights only */
                a |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        return a;
}

uint64_t landlock_scoped_for_abi(int abi)
{
        return abi >= LANDLOCK_SCOPE_ABI
                   ? LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL
                   : 0;
}

int landlock_abi_version(void)
{
        long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        return abi < 0 ? 0 : (int)abi;
}

/* Opened as path_open() resolves it: below the user's home, and below any directory users
 * can write, no symlink is followed, so that a link there cannot widen the rule (the helper
 * planned it the same way, in lsm.c). -1 with errno set on failure. */
static int landlock_path_open(const struct landlock_path *lp)
{
        int fd = -1;
        int r = path_open(lp->path, lp->home_len, 0, &fd);
        if (r < 0) {
                errno = -r;
                return -1;
        }
        return fd;
}

int landlock_apply(const struct join_spec *j, struct isolate_error *err)
{
        if (j->landlock_handled == 0 && j->landlock_scoped == 0)
                return 0;
        int abi = landlock_abi_version();
        if (abi < 1)
                return error_set(err, EOPNOTSUPP,
                                 "the session has Landlock rules but Landlock is not available");
        /* the helper asked this kernel; a scope it lacks now would be a silent hole */
        uint64_t missing = j->landlock_scoped & ~landlock_scoped_for_abi(abi);
        if (missing)
                return error_set(err, EOPNOTSUPP,
                                 "the session asks for Landlock scoping (0x%llx) that this "
                                 "kernel's Landlock, ABI %d, lacks",
                                 (unsigned long long)missing, abi);
        struct ll_ruleset_attr attr = {
            .handled_access_fs = j->landlock_handled & landlock_fs_access_for_abi(abi),
            .scoped = j->landlock_scoped,
        };
        size_t size = attr.scoped ? sizeof(attr) : LL_RULESET_ATTR_SIZE_V1;
        _cleanup_close_ int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
        if (ruleset < 0)
                return error_set_errno(err, errno, "cannot create the Landlock ruleset");

        for (uint32_t i = 0; i < j->n_landlock; i++) {
                const struct landlock_path *lp = &j->landlock[i];
                _cleanup_close_ int fd = landlock_path_open(lp);
                if (fd < 0) {
                        if (errno == ENOENT || errno == ENOTDIR)
                                continue; /* lsm_plan warned when it was missing there too */
                        if (errno == ELOOP || errno == EXDEV)
                                return error_set(err, EPERM,
                                                 "Landlock path %s: refusing a symbolic link "
                                                 "the user could have made",
                                                 lp->path);
                        return error_set_errno(err, errno, "cannot open Landlock path %s",
                                               lp->path);
                }
                struct stat st;
                if (fstat(fd, &st) < 0)
                        return error_set_errno(err, errno, "cannot stat Landlock path %s",
                                               lp->path);
                /* a rule follows the inode: a hard link in the home to a file elsewhere
                 * would grant that file */
                if (lp->home_len > 0 && !S_ISDIR(st.st_mode) && st.st_nlink > 1)
                        return error_set(err, EPERM,
                                         "Landlock path %s has %lu hard links: refusing a "
                                         "rule the user could point elsewhere",
                                         lp->path, (unsigned long)st.st_nlink);
                struct ll_path_beneath_attr rule = {
                    .allowed_access = lp->access & attr.handled_access_fs,
                    .parent_fd = fd,
                };
                if (!S_ISDIR(st.st_mode))
                        rule.allowed_access &= LANDLOCK_FS_FILE_ACCESS;
                if (rule.allowed_access == 0)
                        continue; /* nothing this kernel can grant here */
                if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0) < 0)
                        return error_set_errno(err, errno, "cannot add the Landlock rule for %s",
                                               lp->path);
        }
        /* The user's commands run after an exec (sshd's of the shell): by default the kernel
         * logs only the refusals of the program that restricted itself (ABI 7, Linux 6.15),
         * so isolatectl why would see none of the user's. Logging costs nothing until a
         * refusal, and is printed only while audit is enabled. */
        uint32_t flags = abi >= LL_RESTRICT_SELF_LOG_ABI ? LL_RESTRICT_SELF_LOG_NEW_EXEC_ON : 0;
        if (syscall(SYS_landlock_restrict_self, ruleset, flags) < 0)
                return error_set_errno(err, errno, "cannot apply the Landlock ruleset");
        return 0;
}

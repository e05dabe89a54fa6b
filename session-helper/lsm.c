/* lsm.c: decides the LSM part of a session (see lsm.h): which exec label goes where, and
 * the Landlock ruleset. Runs in the helper; the caller applies the result (join.c,
 * landlock.c). */
#include "lsm.h"

#include <limits.h>

#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "../client/landlock.h"
#include "../client/path.h"

static char sys_root[256] = "/sys";
static char proc_root[256] = "/proc";
static int landlock_abi_override = -1;

void lsm_set_root(const char *sys, const char *proc)
{
        snprintf(sys_root, sizeof(sys_root), "%s", sys ? sys : "/sys");
        snprintf(proc_root, sizeof(proc_root), "%s", proc ? proc : "/proc");
}

void lsm_set_landlock_abi(int abi)
{
        landlock_abi_override = abi;
}

static bool path_exists(const char *root, const char *rel)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        return access(path, F_OK) == 0;
}

/* The active LSMs, "lockdown,capability,landlock,apparmor" (securityfs). */
static bool lsm_list_has(const char *name)
{
        char path[512], buf[512];
        snprintf(path, sizeof(path), "%s/kernel/security/lsm", sys_root);
        if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
                return false;
        size_t len = strlen(name);
        for (char *s = buf; *s;) {
                size_t n = strcspn(s, ",\n");
                if (n == len && strncmp(s, name, len) == 0)
                        return true;
                s += n;
                s += strspn(s, ",\n");
        }
        return false;
}

bool lsm_apparmor_enabled(void)
{
        if (lsm_list_has("apparmor"))
                return true;
        /* without securityfs' lsm list (older kernels): the module says it is on and its
         * securityfs directory is there */
        char path[512], buf[16];
        snprintf(path, sizeof(path), "%s/module/apparmor/parameters/enabled", sys_root);
        if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0 || buf[0] != 'Y')
                return false;
        return path_exists(sys_root, "kernel/security/apparmor");
}

bool lsm_selinux_enabled(void)
{
        return path_exists(sys_root, "fs/selinux/enforce") || lsm_list_has("selinux");
}

int lsm_landlock_abi(void)
{
        if (landlock_abi_override >= 0)
                return landlock_abi_override;
        return landlock_abi_version();
}

/* A named LSM the kernel lacks: refuse or warn, as lsm_required says. */
static int lsm_missing(const struct policy *p, char *warnings, size_t warnings_len,
                       struct isolate_error *err, const char *what)
{
        if (p->lsm_required)
                return error_set(err, EOPNOTSUPP,
                                 "policy %s names %s; load it or set lsm_required = false", p->name,
                                 what);
        warnings_add(warnings, warnings_len,
             "policy %s names %s; going on without it (lsm_required = false)", p->name, what);
        return 0;
}

/* 1 when the profile is loaded, 0 when not, -errno when the list cannot be read. Lines of
 * securityfs' apparmor/profiles read "NAME (MODE)". */
static int apparmor_profile_loaded(const char *name)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/kernel/security/apparmor/profiles", sys_root);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        char line[4096];
        size_t n = strlen(name);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, name, n) == 0 && line[n] == ' ' && line[n + 1] == '(')
                        return 1;
        return 0;
}

/* 1 when the loaded SELinux policy accepts context (selinuxfs's "context" file answers
 * EINVAL for one it does not: an unknown user, role or type, or a role the user may not
 * have), 0 when it does not, -errno when it cannot be asked. */
static int selinux_context_valid(const char *context)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/fs/selinux/context", sys_root);
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (write(fd, context, strlen(context) + 1) < 0)
                return errno == EINVAL ? 0 : -errno;
        return 1;
}

/* 1 when the loaded policy allows scon the permission perm of class cls on tcon, 0 when
 * not, -errno when it cannot be asked (selinuxfs's access file, as security_compute_av). */
static int selinux_allowed(const char *scon, const char *tcon, const char *cls, const char *perm)
{
        char path[PATH_MAX];
        uint64_t cls_index, bit;
        snprintf(path, sizeof(path), "%s/fs/selinux/class/%s/index", sys_root, cls);
        int r = read_u64_at(AT_FDCWD, path, &cls_index);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/fs/selinux/class/%s/perms/%s", sys_root, cls, perm);
        r = read_u64_at(AT_FDCWD, path, &bit);
        if (r < 0)
                return r;
        if (cls_index == 0 || cls_index > UINT16_MAX || bit == 0 || bit > 32)
                return -EINVAL;
        uint32_t want = 1U << (bit - 1);

        snprintf(path, sizeof(path), "%s/fs/selinux/access", sys_root);
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        char q[1200];
        int n = snprintf(q, sizeof(q), "%s %s %u %x", scon, tcon, (unsigned)cls_index, want);
        if (n < 0 || (size_t)n >= sizeof(q))
                return -ENAMETOOLONG;
        if (write(fd, q, (size_t)n + 1) < 0)
                return -errno;
        char a[256];
        ssize_t got = read(fd, a, sizeof(a) - 1);
        if (got <= 0)
                return got < 0 ? -errno : -EIO;
        a[got] = '\0';
        unsigned allowed = 0;
        if (sscanf(a, "%x", &allowed) != 1)
                return -EBADMSG;
        return (allowed & want) == want;
}

int lsm_check_transition(const struct policy *p, pid_t caller, struct join_spec *j,
                         char *warnings, size_t warnings_len, struct isolate_error *err)
{
        if (!STREQ(j->lsm_attr_path, "/proc/self/attr/exec") || !lsm_selinux_enabled())
                return 0;
        char path[PATH_MAX], scon[512];
        snprintf(path, sizeof(path), "%s/%d/attr/current", proc_root, (int)caller);
        if (read_file_at(AT_FDCWD, path, scon, sizeof(scon)) < 0)
                return 0; /* the kernel decides at the exec */
        scon[strcspn(scon, "\n")] = '\0'; /* the kernel ends it with a NUL, some with \n */
        if (!*scon)
                return 0;
        const char *tcon = j->lsm_attr_value;
        char what[1400];
        int r = selinux_allowed(scon, tcon, "process", "transition");
        if (r == 0) {
                snprintf(what, sizeof(what),
                         "SELinux context %s, which the loaded policy does not let the caller's "
                         "context %s enter (process transition: the stock policy lets login "
                         "programs such as sshd do that, not root's unconfined shell running "
                         "su); log in directly, or leave selinux_context unset for this service",
                         tcon, scon);
        } else {
                /* under no_new_privs the exec's transition also needs nnp_transition, where
                 * the policy has that capability (else only bounded types, which the kernel
                 * decides) */
                uint64_t cap = 0;
                snprintf(path, sizeof(path), "%s/fs/selinux/policy_capabilities/"
                         "nnp_nosuid_transition", sys_root);
                if (r < 0 || !p->no_new_privs || read_u64_at(AT_FDCWD, path, &cap) < 0 ||
                    cap != 1 ||
                    selinux_allowed(scon, tcon, "process2", "nnp_transition") != 0)
                        return 0; /* allowed, or the policy cannot be asked: the kernel decides */
                snprintf(what, sizeof(what),
                         "SELinux context %s, which the loaded policy does not let the caller's "
                         "context %s enter under no_new_privs (process2 nnp_transition: "
                         "isolate's policy module, /usr/share/isolate/selinux/isolate.cil, "
                         "grants it for the user domains; load it, or allow it for this type)",
                         tcon, scon);
        }
        j->lsm_attr_path[0] = j->lsm_attr_value[0] = '\0';
        return lsm_missing(p, warnings, warnings_len, err, what);
}

static int plan_label(const struct policy *p, struct join_spec *j, char *warnings,
                      size_t warnings_len, struct isolate_error *err)
{
        const char *profile =
            p->apparmor_profile && *p->apparmor_profile ? p->apparmor_profile : NULL;
        const char *context = p->selinux_context && *p->selinux_context ? p->selinux_context : NULL;
        if (!profile && !context)
                return 0;
        if ((profile && strpbrk(profile, "\n")) || (context && strpbrk(context, "\n")))
                return error_set(err, EINVAL, "policy %s: an LSM label must not contain a newline",
                                 p->name);

        bool aa = profile && lsm_apparmor_enabled();
        bool se = context && lsm_selinux_enabled();
        int n;
        if (aa && apparmor_profile_loaded(profile) == 0) {
                /* refused here, with the reason, rather than by the kernel at the join */
                char what[1024];
                snprintf(what, sizeof(what),
                         "AppArmor profile %s, which is not loaded (apparmor_parser -r "
                         "/etc/apparmor.d/...)",
                         profile);
                return lsm_missing(p, warnings, warnings_len, err, what);
        }
        if (aa) {
                /* the per-LSM file where the kernel has one (stacking), else the shared one */
                snprintf(j->lsm_attr_path, sizeof(j->lsm_attr_path), "%s",
                         path_exists(proc_root, "self/attr/apparmor/exec")
                             ? "/proc/self/attr/apparmor/exec"
                             : "/proc/self/attr/exec");
                n = snprintf(j->lsm_attr_value, sizeof(j->lsm_attr_value), "exec %s", profile);
                if (se)
                        warnings_add(
                            warnings, warnings_len,
                            "policy %s: both AppArmor and SELinux are enabled; AppArmor profile %s "
                            "is used, SELinux context %s is not",
                            p->name, profile, context);
        } else if (se) {
                /* refused here, with the reason, rather than by the kernel at the join (the
                 * write of the exec context fails with EINVAL, and nothing says why) */
                int valid = selinux_context_valid(context);
                if (valid == 0) {
                        char what[1024];
                        snprintf(what, sizeof(what),
                                 "SELinux context %s, which the loaded policy does not accept "
                                 "(an unknown user, role or type, or a role its user may not "
                                 "have: seinfo -u, semanage user -l)",
                                 context);
                        return lsm_missing(p, warnings, warnings_len, err, what);
                }
                snprintf(j->lsm_attr_path, sizeof(j->lsm_attr_path), "/proc/self/attr/exec");
                n = snprintf(j->lsm_attr_value, sizeof(j->lsm_attr_value), "%s", context);
        } else {
                char what[1024];
                if (profile && context)
                        snprintf(what, sizeof(what),
                                 "AppArmor profile %s and SELinux context %s but neither AppArmor "
                                 "nor SELinux is enabled in this kernel",
                                 profile, context);
                else if (profile)
                        snprintf(what, sizeof(what),
                                 "AppArmor profile %s but AppArmor is not enabled in this kernel",
                                 profile);
                else
                        snprintf(what, sizeof(what),
                                 "SELinux context %s but SELinux is not enabled in this kernel",
                                 context);
                return lsm_missing(p, warnings, warnings_len, err, what);
        }
        if (n < 0 || (size_t)n >= sizeof(j->lsm_attr_value)) {
                j->lsm_attr_path[0] = j->lsm_attr_value[0] = '\0';
                return error_set(err, ENAMETOOLONG, "policy %s: the LSM label is too long",
                                 p->name);
        }
        return 0;
}

/* What the caller writes after the join, whatever the policy says (see lsm.h): the devices
 * every program opens, the session's own ptys, its own utmp. Never all of /dev: that would
 * hand the user /dev/shm and every writable device node too. */
static const char *const caller_paths[] = {
    "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
    "/dev/tty",  "/dev/ptmx", "/dev/pts",  "/run/utmp",   "/var/run/utmp",
};

/* The login records the caller writes: the session's own, on the host's names (mounts.c,
 * records_view()). */
static const char *const records_paths[] = {"/var/log/wtmp", "/var/log/lastlog"};
#define CALLER_RULES_MAX (ELEMENTSOF(caller_paths) + ELEMENTSOF(records_paths))

/* "$HOME", "$HOME/x", "~", "~/x" -> home + rest; other paths as they are.
 * "$HOME/x" -> "/home/u/x"; *ret_home_len is the length of the home part (0 when the path
 * does not start at the home): what lies below the home is the user's, and path_open() opens
 * it beneath the home without following symlinks (a user could point ~/work at /). */
static int expand_home(const char *path, const char *home, char *out, size_t len,
                       uint32_t *ret_home_len)
{
        const char *rest = NULL;
        *ret_home_len = 0;
        if (strncmp(path, "$HOME", 5) == 0 && (path[5] == '\0' || path[5] == '/'))
                rest = path + 5;
        else if (path[0] == '~' && (path[1] == '\0' || path[1] == '/'))
                rest = path + 1;
        int n;
        if (rest) {
                if (!home || home[0] != '/')
                        return -ENOENT;
                if (home[strspn(home, "/")] == '\0')
                        return -EPERM; /* a home of "/" would grant the whole tree */
                n = snprintf(out, len, "%s%s", home, rest);
                *ret_home_len = (uint32_t)strlen(home);
        } else
                n = snprintf(out, len, "%s", path);
        if (n < 0 || (size_t)n >= len)
                return -ENAMETOOLONG;
        return 0;
}

static int add_landlock_path(const struct policy *p, struct join_spec *j, const char *spec,
                             const char *home, uint64_t access, bool quiet_if_missing,
                             char *warnings, size_t warnings_len, struct isolate_error *err)
{
        char path[JOIN_PATH_MAX];
        uint32_t home_len = 0;
        int r = expand_home(spec, home, path, sizeof(path), &home_len);
        if (r == -EPERM)
                return error_set(err, EPERM,
                                 "policy %s: Landlock path %s: the user's home is /, which would "
                                 "allow everything",
                                 p->name, spec);
        if (r == -ENOENT)
                return error_set(err, EINVAL,
                                 "policy %s: Landlock path %s needs a home directory, "
                                 "and the user has none",
                                 p->name, spec);
        if (r < 0)
                return error_set(err, -r, "policy %s: Landlock path %s is too long", p->name, spec);
        if (path[0] != '/')
                return error_set(err, EINVAL, "policy %s: Landlock path %s is not absolute",
                                 p->name, spec);
        /* resolved as the caller will (landlock.c): a symlink a user could have made is
         * refused here already, whether it leads anywhere or not, so that what the helper (root)
         * can see there never shows in what the user gets */
        _cleanup_close_ int fd = -1;
        r = path_open(path, home_len, 0, &fd);
        if (r == -ENOENT || r == -ENOTDIR) {
                if (!quiet_if_missing)
                        warnings_add(warnings, warnings_len,
                             "policy %s: Landlock path %s does not exist; skipped", p->name, path);
                return 0;
        }
        if (r == -ELOOP || r == -EXDEV)
                return error_set(err, EPERM,
                                 "policy %s: Landlock path %s: refusing a symbolic link the user "
                                 "could have made",
                                 p->name, path);
        if (r < 0)
                return error_set_errno(err, -r, "policy %s: cannot open Landlock path %s", p->name,
                                       path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set_errno(err, errno, "policy %s: cannot stat Landlock path %s",
                                       p->name, path);
        if (!S_ISDIR(st.st_mode))
                access &= LANDLOCK_FS_FILE_ACCESS;
        if (access == 0)
                return 0;
        if (j->n_landlock >= JOIN_MAX_LANDLOCK_PATHS)
                return error_set(err, E2BIG,
                                 "policy %s: more than %d Landlock paths (with the %zu "
                                 "the session always needs)",
                                 p->name, JOIN_MAX_LANDLOCK_PATHS, CALLER_RULES_MAX);
        struct landlock_path *lp = &j->landlock[j->n_landlock++];
        lp->access = access;
        lp->home_len = home_len;
        snprintf(lp->path, sizeof(lp->path), "%s", path);
        return 0;
}

static int plan_landlock(const struct policy *p, const char *home, struct join_spec *j,
                         char *warnings, size_t warnings_len, struct isolate_error *err)
{
        const struct strv *ro = &p->landlock_read_only, *rw = &p->landlock_read_write;
        if (ro->n == 0 && rw->n == 0)
                return 0;
        int abi = lsm_landlock_abi();
        if (abi < 1)
                return lsm_missing(p, warnings, warnings_len, err,
                                   "Landlock paths but Landlock is not available in this kernel "
                                   "(CONFIG_SECURITY_LANDLOCK, lsm= boot parameter)");
        uint64_t all = landlock_fs_access_for_abi(abi);
        uint64_t handled = ro->n > 0 ? all : all & ~LANDLOCK_FS_READ_EXEC;

        size_t max = ro->n + rw->n + CALLER_RULES_MAX;
        if (max > JOIN_MAX_LANDLOCK_PATHS)
                max = JOIN_MAX_LANDLOCK_PATHS;
        struct landlock_path *arr = calloc(max, sizeof(*arr));
        if (!arr)
                return error_set(err, ENOMEM, "out of memory");
        free(j->landlock);
        j->landlock = arr;
        j->n_landlock = 0;

        int r = 0;
        for (size_t i = 0; i < ro->n && r == 0; i++)
                r = add_landlock_path(p, j, ro->v[i], home, LANDLOCK_FS_READ_EXEC & handled, false,
                                      warnings, warnings_len, err);
        for (size_t i = 0; i < rw->n && r == 0; i++)
                r = add_landlock_path(p, j, rw->v[i], home, handled, false, warnings, warnings_len,
                                      err);
        for (size_t i = 0; i < ELEMENTSOF(caller_paths) && r == 0; i++)
                r = add_landlock_path(p, j, caller_paths[i], home, handled, true, warnings,
                                      warnings_len, err);
        for (size_t i = 0; i < ELEMENTSOF(records_paths) && r == 0; i++)
                r = add_landlock_path(p, j, records_paths[i], home, handled, true, warnings,
                                      warnings_len, err);
        if (r < 0) {
                free(j->landlock);
                j->landlock = NULL;
                j->n_landlock = 0;
                return r;
        }
        j->landlock_handled = handled;
        j->landlock_abi = (uint32_t)abi;
        return 0;
}

static bool scoping_on(enum scoping s, const struct policy *p)
{
        return s == SCOPING_ON || (s == SCOPING_AUTO && p->scope == SCOPE_LOGIN);
}

uint64_t lsm_scoping_wanted(const struct policy *p, uint64_t *ret_demanded)
{
        uint64_t want = 0, demanded = 0;
        if (scoping_on(p->scope_abstract_unix, p))
                want |= LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
        if (scoping_on(p->scope_signals, p))
                want |= LANDLOCK_SCOPE_SIGNAL;
        if (p->scope_abstract_unix == SCOPING_ON)
                demanded |= LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
        if (p->scope_signals == SCOPING_ON)
                demanded |= LANDLOCK_SCOPE_SIGNAL;
        if (ret_demanded)
                *ret_demanded = demanded;
        return want;
}

/* Scoping where the kernel has it. One that auto asks for and the kernel lacks is left out
 * quietly (explain says so); one written true is a missing LSM, as lsm_required says. */
static int plan_scoping(const struct policy *p, struct join_spec *j, char *warnings,
                        size_t warnings_len, struct isolate_error *err)
{
        uint64_t demanded;
        uint64_t want = lsm_scoping_wanted(p, &demanded);
        if (want == 0)
                return 0;
        int abi = lsm_landlock_abi();
        uint64_t have = landlock_scoped_for_abi(abi);
        j->landlock_scoped = want & have;
        if (j->landlock_scoped)
                j->landlock_abi = (uint32_t)abi;
        uint64_t lacking = demanded & ~have;
        if (lacking == 0)
                return 0;

        bool both = lacking == (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL);
        bool sockets = lacking & LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
        char kernel[64];
        if (abi < 1)
                snprintf(kernel, sizeof(kernel), "this kernel has no Landlock");
        else
                snprintf(kernel, sizeof(kernel), "this kernel's Landlock is ABI %d", abi);
        const char *keys = both      ? "scope_abstract_unix = true and scope_signals = true"
                           : sockets ? "scope_abstract_unix = true"
                                     : "scope_signals = true";
        const char *what = both      ? "abstract unix sockets and signals"
                           : sockets ? "abstract unix sockets"
                                     : "signals";
        if (p->lsm_required)
                return error_set(err, EOPNOTSUPP,
                                 "policy %s has %s, but %s: scoping %s needs Landlock ABI %d "
                                 "(Linux 6.12); boot such a kernel, write auto (scoped where "
                                 "the kernel can) or set lsm_required = false",
                                 p->name, keys, kernel, what, LANDLOCK_SCOPE_ABI);
        warnings_add(warnings, warnings_len,
                     "policy %s has %s, but %s (scoping needs ABI %d, Linux 6.12); %s not "
                     "scoped (lsm_required = false)",
                     p->name, keys, kernel, LANDLOCK_SCOPE_ABI, what);
        return 0;
}

int lsm_plan(const struct policy *p, const char *home, struct join_spec *j, char *warnings,
             size_t warnings_len, struct isolate_error *err)
{
        j->lsm_attr_path[0] = '\0';
        j->lsm_attr_value[0] = '\0';
        j->landlock_handled = 0;
        j->landlock_scoped = 0;
        j->landlock_abi = 0;
        int r = plan_label(p, j, warnings, warnings_len, err);
        if (r < 0)
                return r;
        r = plan_landlock(p, home, j, warnings, warnings_len, err);
        if (r < 0)
                return r;
        return plan_scoping(p, j, warnings, warnings_len, err);
}

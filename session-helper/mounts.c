/* mounts.c: the view inside a session, built by the session's first process (pid 1 of the
 * new pid namespace, in the new mount namespace) before it execs the init.
 * See DESIGN.md, "The view inside". */
#include "mounts.h"

#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* Files of /proc that show the host or the kernel: masked with /dev/null (files) or an empty
 * read-only tmpfs (directories). Docker's list, plus keys of other users. */
static const char *const proc_masked[] = {
    "/proc/kcore",
    "/proc/keys",
    "/proc/key-users",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/latency_stats",
    "/proc/kallsyms",
    "/proc/sysrq-trigger",
    "/proc/acpi",
    "/proc/scsi",
    "/proc/asound",
    "/proc/kpagecount",
    "/proc/kpageflags",
    "/proc/kpagecgroup",
    "/proc/vmallocinfo",
    NULL,
};

/* Read-only in Docker's model of a writable /proc. */
static const char *const proc_read_only_docker[] = {
    "/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs", NULL,
};

/* (debugfs, tracefs, securityfs are not mounted on the fresh sysfs at all) */
static const char *const sys_masked[] = {
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    NULL,
};

static int mount_errno(struct isolate_error *err, const char *what, const char *path)
{
        return error_set_errno(err, errno, "cannot mount %s on %s", what, path);
}

/* Makes the mount at path and every mount below it read-only. */
static int read_only_recursive(const char *path, struct isolate_error *err)
{
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
        if (mount_setattr(AT_FDCWD, path, AT_RECURSIVE | AT_SYMLINK_NOFOLLOW, &attr,
                          sizeof(attr)) == 0)
                return 0;
        if (errno != ENOSYS)
                return error_set_errno(err, errno, "cannot make %s read-only", path);
        /* Before Linux 5.12: remount each mount at or below path. */
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return error_set_errno(err, errno, "cannot read /proc/self/mountinfo");
        char line[4096], mnt[PATH_MAX];
        size_t plen = strlen(path);
        while (fgets(line, sizeof(line), f)) {
                if (sscanf(line, "%*d %*d %*s %*s %4095s", mnt) != 1)
                        continue;
                if (strncmp(mnt, path, plen) != 0 || (mnt[plen] != '\0' && mnt[plen] != '/'))
                        continue;
                if (mount(NULL, mnt, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0 &&
                    errno != EACCES)
                        return error_set_errno(err, errno, "cannot remount %s read-only", mnt);
        }
        return 0;
}

/* One tmpfs of the session's own holds every directory the session gets privately: /tmp,
 * /var/tmp, /dev/shm, /run/lock, /run/user, the directory under the cgroup mounts, and the
 * empty directory every mask is made of. One superblock instead of ten: each superblock
 * registers a shrinker, and the kernel sizes every memory cgroup's shrinker table by the
 * number of shrinkers ever made (measured: ~180 KiB of uncharged kernel memory per session
 * at 1000 sessions). It is mounted where the fresh sysfs will cover it (the old
 * /sys/fs/cgroup), so its root is never visible; what is needed after that is reached
 * through O_PATH fds and cloned into place (open_tree). Its size is the policy's tmp_size,
 * for all those directories together. */
#define HOLDER "/sys/fs/cgroup"
static int holder_empty_fd = -1;  /* HOLDER/empty: read-only masks */
static int holder_cgroup_fd = -1; /* HOLDER/cgroup: under the cgroup mounts */

/* A clone of the directory fd refers to, read-only if asked, attached at target. */
static int clone_onto(int fd, const char *target, bool read_only, struct isolate_error *err)
{
        _cleanup_close_ int tree =
            open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (tree < 0)
                return error_set_errno(err, errno, "cannot clone a mount for %s", target);
        if (move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return error_set_errno(err, errno, "cannot mount on %s", target);
        /* a remount rather than mount_setattr on the detached tree: Linux 5.8 has no
         * mount_setattr; nothing of the user runs yet while it is writable */
        if (read_only &&
            mount(NULL, target, NULL,
                  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return error_set_errno(err, errno, "cannot make the mount on %s read-only", target);
        return 0;
}

static int holder_mkdir(const char *name, mode_t mode, uid_t uid, gid_t gid,
                        struct isolate_error *err)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), HOLDER "/%s", name);
        if (mkdir(path, mode) < 0 || chmod(path, mode) < 0 || chown(path, uid, gid) < 0)
                return error_set_errno(err, errno, "cannot create %s in the session's tmpfs", name);
        return 0;
}

/* Binds HOLDER/name over target when target is a directory. */
static int holder_bind(const char *name, const char *target, struct isolate_error *err)
{
        struct stat st;
        if (stat(target, &st) < 0 || !S_ISDIR(st.st_mode))
                return 0;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), HOLDER "/%s", name);
        if (mount(path, target, NULL, MS_BIND, NULL) < 0)
                return mount_errno(err, "the session's own directory", target);
        return 0;
}

static int holder_setup(const struct policy *p, uid_t uid, gid_t gid, struct isolate_error *err)
{
        char opts[64] = "mode=0755";
        if (p->tmp_size != LIMIT_UNSET && p->tmp_size != LIMIT_MAX)
                snprintf(opts, sizeof(opts), "mode=0755,size=%llu",
                         (unsigned long long)p->tmp_size);
        if (mount("tmpfs", HOLDER, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                return mount_errno(err, "the session's tmpfs", HOLDER);
        char user_dir[64];
        snprintf(user_dir, sizeof(user_dir), "user/%u", (unsigned)uid);
        const struct {
                const char *name;
                mode_t mode;
                bool users;
        } dirs[] = {
            {"tmp", 01777, false},   {"var-tmp", 01777, false}, {"shm", 01777, false},
            {"lock", 01777, false},  {"user", 0755, false},     {user_dir, 0700, true},
            {"cgroup", 0755, false}, {"empty", 0555, false},
        };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                int r = holder_mkdir(dirs[i].name, dirs[i].mode, dirs[i].users ? uid : 0,
                                     dirs[i].users ? gid : 0, err);
                if (r < 0)
                        return r;
        }
        holder_empty_fd = open(HOLDER "/empty", O_PATH | O_DIRECTORY | O_CLOEXEC);
        holder_cgroup_fd = open(HOLDER "/cgroup", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (holder_empty_fd < 0 || holder_cgroup_fd < 0)
                return error_set_errno(err, errno, "cannot open the session's tmpfs");
        int r = 0;
        if (p->private_tmp) {
                if ((r = holder_bind("tmp", "/tmp", err)) < 0 ||
                    (r = holder_bind("var-tmp", "/var/tmp", err)) < 0 ||
                    (r = holder_bind("shm", "/dev/shm", err)) < 0)
                        return r;
        }
        /* always private: /run/lock is writable by all and sits on /run with the registry;
         * /run/user/UID holds the sockets of the user's systemd manager and session bus,
         * which would run commands for the user outside the sandbox (systemd-run --user):
         * the session gets an empty one of its own (XDG_RUNTIME_DIR still works), and other
         * users' are hidden with it */
        if ((r = holder_bind("lock", "/run/lock", err)) < 0 ||
            (r = holder_bind("user", "/run/user", err)) < 0)
                return r;
        return 0;
}

/* Hides path: /dev/null over a file, the session's empty read-only directory over a
 * directory. A path that does not exist needs no mask. */
static int mask_path(const char *path, struct isolate_error *err)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT || errno == ENOTDIR
                           ? 0
                           : error_set_errno(err, errno, "cannot stat %s", path);
        if (S_ISLNK(st.st_mode))
                return error_set(err, ELOOP, "refusing to mask %s: it is a symbolic link", path);
        if (S_ISDIR(st.st_mode))
                return clone_onto(holder_empty_fd, path, true, err);
        if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0)
                return mount_errno(err, "/dev/null", path);
        /* not MS_NODEV: the mask is /dev/null itself, a device */
        if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
                  NULL) < 0)
                return error_set_errno(err, errno, "cannot make the mask on %s read-only", path);
        return 0;
}

/* A read-only bind of path over itself, private: / is a slave of the host, and a mount the
 * host makes below path later would otherwise propagate in with its own, writable, flags. */
static int bind_read_only(const char *path, struct isolate_error *err)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : error_set_errno(err, errno, "cannot stat %s", path);
        if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
                return mount_errno(err, "a bind of itself", path);
        if (mount(NULL, path, NULL, MS_PRIVATE | MS_REC, NULL) < 0)
                return error_set_errno(err, errno, "cannot make %s private", path);
        return read_only_recursive(path, err);
}

static int proc_setup(const struct policy *p, struct isolate_error *err)
{
        char opts[64];
        const char *hp = p->hidepid == HIDEPID_INVISIBLE  ? "invisible"
                         : p->hidepid == HIDEPID_NOACCESS ? "noaccess"
                                                          : "off";
        snprintf(opts, sizeof(opts), "hidepid=%s%s", hp, p->proc_subset_pid ? ",subset=pid" : "");
        unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
        if (p->proc == PROC_READ_ONLY)
                flags |= MS_RDONLY;
        if (mount("proc", "/proc", "proc", flags, opts) < 0)
                return mount_errno(err, "a fresh procfs", "/proc");
        if (p->proc_subset_pid)
                return 0; /* nothing but the pid directories is there */
        for (const char *const *m = proc_masked; *m; m++) {
                int r = mask_path(*m, err);
                if (r < 0)
                        return r;
        }
        if (p->proc == PROC_DOCKER)
                for (const char *const *m = proc_read_only_docker; *m; m++) {
                        int r = bind_read_only(*m, err);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* A fresh read-only cgroup tree rooted at the session: the cgroup namespace was made inside
 * the leaf, so a mount made now shows the leaf as its root. A bind of the host's tree would
 * still show the whole host. */
static int cgroup_mounts(const struct cgroup_session *cg, struct isolate_error *err)
{
        const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
        if (cg->n == 1 && STREQ(cg->h[0].mount_type, "cgroup2")) {
                if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", ro, NULL) < 0)
                        return mount_errno(err, "cgroup2", "/sys/fs/cgroup");
                return 0;
        }
        int r = clone_onto(holder_cgroup_fd, "/sys/fs/cgroup", false, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < cg->n; i++) {
                const struct cgroup_hierarchy *h = &cg->h[i];
                char path[PATH_MAX];
                bool v2 = STREQ(h->mount_type, "cgroup2");
                snprintf(path, sizeof(path), "/sys/fs/cgroup/%s", v2 ? "unified" : h->mount_name);
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return error_set_errno(err, errno, "cannot create %s", path);
                if (mount("cgroup", path, h->mount_type, ro, v2 ? NULL : h->mount_options) < 0)
                        return mount_errno(err, h->mount_type, path);
        }
        if (mount(NULL, "/sys/fs/cgroup", NULL, MS_REMOUNT | MS_BIND | ro, NULL) < 0)
                return error_set_errno(err, errno, "cannot make /sys/fs/cgroup read-only");
        return 0;
}

/* A fresh sysfs, read-only from the start: it shows the session's net namespace (only lo
 * with network = none), none of the host's submounts (debugfs, tracefs, securityfs, bpf...),
 * and it covers the host's /sys, so a filesystem the host mounts under /sys later propagates
 * underneath, out of sight, instead of appearing writable inside. */
static int sys_setup(const struct policy *p, const struct cgroup_session *cg,
                     struct isolate_error *err)
{
        int r;
        const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
        /* With the host's net namespace the kernel hands back the host's sysfs superblock,
         * and refuses to stack a superblock on itself (EBUSY): an empty tmpfs goes between.
         * Read-only goes on this mount, not on the shared superblock. */
        if (p->network == NETWORK_HOST && (r = clone_onto(holder_empty_fd, "/sys", true, err)) < 0)
                return r;
        if (mount("sysfs", "/sys", "sysfs", flags, NULL) < 0)
                return mount_errno(err, "a fresh sysfs", "/sys");
        if (mount(NULL, "/sys", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | flags, NULL) < 0)
                return error_set_errno(err, errno, "cannot make /sys read-only");
        for (const char *const *m = sys_masked; *m; m++) {
                r = mask_path(*m, err);
                if (r < 0)
                        return r;
        }
        if (p->ns_cgroup && cg && cg->n > 0)
                return cgroup_mounts(cg, err);
        return 0;
}

/* Other users' homes disappear under an empty tmpfs on /home; the user's own home (when it
 * is under /home) is put back at its place. */
static int homes_hide(const char *home, struct isolate_error *err)
{
        struct stat st;
        if (stat("/home", &st) < 0 || !S_ISDIR(st.st_mode))
                return 0;
        _cleanup_close_ int tree = -1;
        const char *rel = NULL;
        if (home && strncmp(home, "/home/", 6) == 0 && home[6] != '\0') {
                rel = home + 6;
                tree =
                    open_tree(AT_FDCWD, home, OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC);
                if (tree < 0 && errno != ENOENT)
                        return error_set_errno(err, errno, "cannot take hold of %s", home);
        }
        if (mount("tmpfs", "/home", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") < 0)
                return mount_errno(err, "a tmpfs", "/home");
        if (tree >= 0) {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "/home/%s", rel);
                /* mkdir -p for homes nested deeper than /home/NAME */
                for (char *s = path + 6; (s = strchr(s, '/')); s++) {
                        *s = '\0';
                        mkdir(path, 0755);
                        *s = '/';
                }
                if (mkdir(path, 0700) < 0 && errno != EEXIST)
                        return error_set_errno(err, errno, "cannot create %s", path);
                if (move_mount(tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        return error_set_errno(err, errno, "cannot put %s back in place", home);
        }
        if (mount(NULL, "/home", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                  "size=1m,mode=0755") < 0)
                return error_set_errno(err, errno, "cannot make /home read-only");
        return 0;
}

static int loopback_up(struct isolate_error *err)
{
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_set_errno(err, errno, "socket for bringing up lo");
        struct ifreq ifr = {0};
        strcpy(ifr.ifr_name, "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return error_set_errno(err, errno, "SIOCGIFFLAGS lo");
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return error_set_errno(err, errno, "cannot bring up lo");
        return 0;
}

static int hostname_set(const char *pattern, const char *user, struct isolate_error *err)
{
        char name[HOST_NAME_MAX + 1];
        size_t n = hostname_expand(pattern, user, name, sizeof(name));
        if (sethostname(name, n) < 0)
                return error_set_errno(err, errno, "cannot set the hostname to '%s'", name);
        return 0;
}

int mounts_setup(const struct policy *p, const char *user, uid_t uid, gid_t gid, const char *home,
                 const struct cgroup_session *cg, struct isolate_error *err)
{
        int r;
        if (p->ns_uts && p->hostname) {
                r = hostname_set(p->hostname, user, err);
                if (r < 0)
                        return r;
        }
        if (p->network == NETWORK_NONE) {
                r = loopback_up(err);
                if (r < 0)
                        return r;
        }
        if (!p->ns_mount)
                return 0;
        /* host mounts still propagate in; nothing propagates out */
        if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                return error_set_errno(err, errno, "cannot make / a slave mount");
        r = holder_setup(p, uid, gid, err);
        if (r < 0)
                return r;
        r = proc_setup(p, err);
        if (r < 0)
                return error_prefix(err, "/proc");
        r = sys_setup(p, cg, err);
        if (r < 0)
                return error_prefix(err, "/sys");
        struct stat st;
        if (p->ns_ipc && stat("/dev/mqueue", &st) == 0 && S_ISDIR(st.st_mode) &&
            mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return mount_errno(err, "a fresh mqueue", "/dev/mqueue");
        if (p->hide_homes) {
                r = homes_hide(home, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < p->read_only_paths.n; i++) {
                r = bind_read_only(p->read_only_paths.v[i], err);
                if (r < 0)
                        return error_prefix(err, "read_only_paths");
        }
        for (size_t i = 0; i < p->masked_paths.n; i++) {
                r = mask_path(p->masked_paths.v[i], err);
                if (r < 0)
                        return error_prefix(err, "masked_paths");
        }
        return 0;
}

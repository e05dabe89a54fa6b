/* mounts.c: the view inside a session, built by the session's first process (pid 1 of the
 * new pid namespace, in the new mount namespace) before it execs the init.
 * See DESIGN.md, "The view inside". */
#include "mounts.h"

#include <linux/openat2.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "../client/path.h"

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

/* path_open()'s failure, said for an admin. */
static int path_error(struct isolate_error *err, int r, const char *path)
{
        if (r == -ELOOP)
                return error_set(err, ELOOP,
                                 "refusing %s: a symbolic link on the way lies in a directory "
                                 "users other than root can write (or more than 40 links)",
                                 path);
        return error_set_errno(err, -r, "cannot open %s", path);
}

/* Linux 5.11's path on any kernel (mounts_without_mount_setattr, the test build only). */
static bool no_mount_setattr;

void mounts_without_mount_setattr(void)
{
        no_mount_setattr = true;
}

static uint64_t mount_attr_of(unsigned long ms)
{
        return ((ms & MS_RDONLY) ? MOUNT_ATTR_RDONLY : 0) |
               ((ms & MS_NOSUID) ? MOUNT_ATTR_NOSUID : 0) |
               ((ms & MS_NODEV) ? MOUNT_ATTR_NODEV : 0) |
               ((ms & MS_NOEXEC) ? MOUNT_ATTR_NOEXEC : 0);
}

/* /proc/self/fd/N: the name by which mount(2) reaches the very mount fd refers to. Only for
 * kernels without mount_setattr; /proc is the session's own by then (proc_setup comes
 * first), where this process is visible. */
static void fd_name(int fd, char *buf, size_t len)
{
        snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* The mount id of what fd refers to (/proc/self/fdinfo: asks nothing of the filesystem,
 * unlike statx, which a FUSE mount of another user answers with EACCES). */
static int fd_mount_id(int fd)
{
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
        if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
                return -errno;
        const char *s = strstr(buf, "mnt_id:");
        int id;
        if (!s || sscanf(s + 7, "%d", &id) != 1)
                return -EIO;
        return id;
}

struct mountinfo_entry {
        int id, parent;
        unsigned long flags; /* MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC of this mount */
        bool in_tree, covered;
        char *point; /* unescaped */
};

static void mountinfo_free(struct mountinfo_entry *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i].point);
        free(v);
}

/* Every mount of this namespace: id, parent, mount point, per-mount flags. */
static int mountinfo_read(struct mountinfo_entry **ret, size_t *ret_n)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0, n = 0, alloc = 0;
        struct mountinfo_entry *v = NULL;
        while (getline(&line, &cap, f) > 0) {
                int id, parent, point_end = 0, opts_start = 0, opts_end = 0;
                if (sscanf(line, "%d %d %*s %*s %*s%n %n%*s%n", &id, &parent, &point_end,
                           &opts_start, &opts_end) < 2 ||
                    opts_end == 0)
                        continue;
                char *point_start = line + point_end;
                while (point_start > line && point_start[-1] != ' ')
                        point_start--;
                line[point_end] = '\0';
                line[opts_end] = '\0';
                if (n == alloc) {
                        alloc = alloc ? 2 * alloc : 64;
                        struct mountinfo_entry *nv = realloc(v, alloc * sizeof(*v));
                        if (!nv) {
                                mountinfo_free(v, n);
                                return -ENOMEM;
                        }
                        v = nv;
                }
                struct mountinfo_entry *e = &v[n];
                *e = (struct mountinfo_entry){.id = id, .parent = parent};
                for (char *o = line + opts_start, *save = NULL, *t; (t = strtok_r(o, ",", &save));
                     o = NULL)
                        e->flags |= STREQ(t, "ro")       ? MS_RDONLY
                                    : STREQ(t, "nosuid") ? MS_NOSUID
                                    : STREQ(t, "nodev")  ? MS_NODEV
                                    : STREQ(t, "noexec") ? MS_NOEXEC
                                                         : 0;
                e->point = strdup(point_start);
                if (!e->point) {
                        mountinfo_free(v, n);
                        return -ENOMEM;
                }
                mountinfo_unescape(e->point);
                n++;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* Marks the mounts of the tree whose top is mount `top` (by parent ids: names can change), and
 * those covered by a mount on the same point, which nothing can reach. Returns how many mounts
 * of the tree are reachable and still writable. */
static size_t mountinfo_mark_tree(struct mountinfo_entry *v, size_t n, int top)
{
        for (bool more = true; more;) {
                more = false;
                for (size_t i = 0; i < n; i++) {
                        if (v[i].in_tree)
                                continue;
                        bool in = v[i].id == top;
                        for (size_t j = 0; j < n && !in; j++)
                                in = v[j].in_tree && v[j].id == v[i].parent;
                        if (in)
                                v[i].in_tree = more = true;
                }
        }
        size_t writable = 0;
        for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; j < n && v[i].in_tree; j++)
                        if (v[j].parent == v[i].id && v[j].id != v[i].id &&
                            STREQ(v[j].point, v[i].point))
                                v[i].covered = true;
                if (v[i].in_tree && !v[i].covered && !(v[i].flags & MS_RDONLY))
                        writable++;
        }
        return writable;
}

/* Linux 5.11 (no mount_setattr): each mount of the tree at fd remounted read-only, keeping
 * its nosuid, nodev and noexec. The names in mountinfo only reach the mounts: each is opened
 * from / without following any symlink (those names have none) and must be the mount listed.
 * A mount gone since (ENOENT and the like, or another mount there now) is looked for again in
 * a fresh mountinfo, up to three times; any other failure fails the session, and so does a
 * mount still writable at the end. */
static int read_only_recursive(int tree, const char *path, struct isolate_error *err)
{
        int top = fd_mount_id(tree);
        if (top < 0)
                return error_set_errno(err, -top, "cannot find the mount on %s", path);
        for (int pass = 0;; pass++) {
                struct mountinfo_entry *v = NULL;
                size_t n = 0;
                int r = mountinfo_read(&v, &n);
                if (r < 0)
                        return error_set_errno(err, -r, "cannot read /proc/self/mountinfo");
                size_t writable = mountinfo_mark_tree(v, n, top);
                if (writable == 0) {
                        mountinfo_free(v, n);
                        return 0;
                }
                if (pass == 3) {
                        for (size_t i = 0; i < n; i++)
                                if (v[i].in_tree && !v[i].covered && !(v[i].flags & MS_RDONLY))
                                        r = error_set(err, EBUSY,
                                                      "cannot make %s read-only: the mount on "
                                                      "%s changed while it was remounted",
                                                      path, v[i].point);
                        mountinfo_free(v, n);
                        return r;
                }
                for (size_t i = 0; i < n && r == 0; i++) {
                        struct mountinfo_entry *e = &v[i];
                        if (!e->in_tree || e->covered || (e->flags & MS_RDONLY))
                                continue;
                        _cleanup_close_ int fd = -1;
                        struct open_how how = {
                            .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
                            .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
                        };
                        fd = (int)syscall(SYS_openat2, AT_FDCWD, e->point, &how, sizeof(how));
                        if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
                                continue; /* gone or moved: the next pass sees */
                        if (fd < 0) {
                                r = error_set_errno(err, errno, "cannot open the mount on %s",
                                                    e->point);
                                break;
                        }
                        if (fd_mount_id(fd) != e->id)
                                continue;
                        char name[64];
                        fd_name(fd, name, sizeof(name));
                        if (mount(NULL, name, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | e->flags,
                                  NULL) < 0)
                                r = error_set_errno(err, errno, "cannot remount %s read-only",
                                                    e->point);
                }
                mountinfo_free(v, n);
                if (r < 0)
                        return r;
        }
}

/* Attaches the detached tree (open_tree) onto what target refers to, read-only with the
 * flags ro_flags (MS_RDONLY | MS_NOSUID...; 0: as it is), through every mount of the tree
 * when recursive, and private when asked. With mount_setattr (Linux 5.12) the tree is made
 * read-only before it is attached, so nothing is ever writable at the target; without it,
 * after (nothing of the user runs in this namespace yet). */
static int tree_attach(int tree, int target, const char *path, unsigned long ro_flags,
                       bool recursive, bool private, struct isolate_error *err)
{
        bool later = false;
        if (ro_flags || private) {
                struct mount_attr attr = {
                    .attr_set = mount_attr_of(ro_flags),
                    .propagation = private ? MS_PRIVATE : 0,
                };
                if (no_mount_setattr)
                        later = true;
                else if (mount_setattr(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0),
                                       &attr, sizeof(attr)) < 0) {
                        if (errno != ENOSYS)
                                return error_set_errno(err, errno, "cannot make %s read-only",
                                                       path);
                        later = true;
                }
        }
        if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return error_set_errno(err, errno, "cannot mount on %s", path);
        if (!later)
                return 0;
        char name[64];
        fd_name(tree, name, sizeof(name));
        if (private && mount(NULL, name, NULL, MS_PRIVATE | (recursive ? MS_REC : 0), NULL) < 0)
                return error_set_errno(err, errno, "cannot make %s private", path);
        if (!ro_flags)
                return 0;
        if (recursive)
                return read_only_recursive(tree, path, err);
        if (mount(NULL, name, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | ro_flags, NULL) < 0)
                return error_set_errno(err, errno, "cannot make the mount on %s read-only", path);
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

/* A clone of the mount at fd (not what is mounted below it), read-only with ro_flags
 * if not 0, attached on what target refers to (path: its name, for messages). */
static int clone_onto_fd(int fd, int target, const char *path, unsigned long ro_flags,
                         struct isolate_error *err)
{
        _cleanup_close_ int tree =
            open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (tree < 0)
                return error_set_errno(err, errno, "cannot clone a mount for %s", path);
        return tree_attach(tree, target, path, ro_flags, false, false, err);
}

/* The same onto a directory named by path (resolved by path_open()). */
static int clone_onto(int fd, const char *path, unsigned long ro_flags, struct isolate_error *err)
{
        _cleanup_close_ int target = -1;
        int r = path_open(path, 0, 0, &target);
        if (r < 0)
                return path_error(err, r, path);
        return clone_onto_fd(fd, target, path, ro_flags, err);
}

#define MASK_DIR_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)

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
        _cleanup_close_ int target_fd = -1;
        int r = path_open(target, 0, 0, &target_fd);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return path_error(err, r, target);
        struct stat st;
        if (fstat(target_fd, &st) < 0)
                return error_set_errno(err, errno, "cannot stat %s", target);
        if (!S_ISDIR(st.st_mode))
                return 0;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), HOLDER "/%s", name);
        _cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return error_set_errno(err, errno, "cannot open %s in the session's tmpfs", name);
        return clone_onto_fd(fd, target_fd, target, 0, err);
}

#define SYSTEM_BUS_SOCKET "/run/dbus/system_bus_socket"

/* system_bus = deny: /run/dbus becomes a directory of the session's tmpfs that only root
 * may enter (0700), holding the host's system bus socket. Root's processes in the session,
 * which keep CAP_DAC_OVERRIDE (the sshd monitor, and pam_systemd when it closes the login
 * over the bus), still connect; the user's, with every capability dropped, get EACCES. A
 * host without the socket has nothing to hide. */
static int system_bus_deny(struct isolate_error *err)
{
        _cleanup_close_ int sock = -1;
        int r = path_open(SYSTEM_BUS_SOCKET, 0, PATH_OPEN_NOFOLLOW, &sock);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return path_error(err, r, SYSTEM_BUS_SOCKET);
        /* the directory over /run/dbus, with a file in it to mount the socket on (a clone
         * of the directory would not carry a mount made on it before) */
        int fd = open(HOLDER "/dbus/system_bus_socket", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                      0600);
        if (fd < 0)
                return error_set_errno(err, errno, "cannot make the system bus's mount point");
        close(fd);
        r = holder_bind("dbus", "/run/dbus", err);
        if (r < 0)
                return r;
        _cleanup_close_ int point = -1;
        r = path_open(SYSTEM_BUS_SOCKET, 0, PATH_OPEN_NOFOLLOW, &point);
        if (r < 0)
                return path_error(err, r, SYSTEM_BUS_SOCKET);
        return clone_onto_fd(sock, point, SYSTEM_BUS_SOCKET, 0, err);
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
            {"cgroup", 0755, false}, {"empty", 0555, false}, {"dbus", 0700, false},
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
        return p->system_bus == SYSTEM_BUS_DENY ? system_bus_deny(err) : 0;
}

/* Hides path: /dev/null over a file, the session's empty read-only directory over a
 * directory. A path that does not exist needs no mask; a symlink is refused (the admin named
 * the link, not where it leads). */
static int mask_path(const char *path, struct isolate_error *err)
{
        _cleanup_close_ int fd = -1;
        int r = path_open(path, 0, PATH_OPEN_NOFOLLOW, &fd);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return path_error(err, r, path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set_errno(err, errno, "cannot stat %s", path);
        if (S_ISLNK(st.st_mode))
                return error_set(err, ELOOP, "refusing to mask %s: it is a symbolic link", path);
        if (S_ISDIR(st.st_mode))
                return clone_onto_fd(holder_empty_fd, fd, path, MASK_DIR_FLAGS, err);
        _cleanup_close_ int null = open("/dev/null", O_PATH | O_CLOEXEC);
        if (null < 0)
                return error_set_errno(err, errno, "cannot open /dev/null");
        /* not MS_NODEV: the mask is /dev/null itself, a device */
        return clone_onto_fd(null, fd, path, MS_RDONLY | MS_NOSUID | MS_NOEXEC, err);
}

/* A read-only bind of path over itself, private: / is a slave of the host, and a mount the
 * host makes below path later would otherwise propagate in with its own, writable, flags.
 * The bind goes on the very directory the name led to (a name in a directory users can
 * write may be changed later, the mount stays where it was put): so a symlink a user could
 * have made on the way is refused, not followed. */
static int bind_read_only(const char *path, struct isolate_error *err)
{
        _cleanup_close_ int fd = -1;
        int r = path_open(path, 0, 0, &fd);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return path_error(err, r, path);
        _cleanup_close_ int tree =
            open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
        if (tree < 0)
                return error_set_errno(err, errno, "cannot clone the mounts at %s", path);
        return tree_attach(tree, fd, path, MS_RDONLY, true, true, err);
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
        int r = clone_onto(holder_cgroup_fd, "/sys/fs/cgroup", 0, err);
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
        /* SELinux: the host's selinuxfs, asked before the fresh sysfs covers it */
        bool selinux = access("/sys/fs/selinux/enforce", F_OK) == 0;
        /* With the host's net namespace the kernel hands back the host's sysfs superblock,
         * and refuses to stack a superblock on itself (EBUSY): an empty tmpfs goes between.
         * Read-only goes on this mount, not on the shared superblock. */
        if (p->network == NETWORK_HOST &&
            (r = clone_onto(holder_empty_fd, "/sys", MASK_DIR_FLAGS, err)) < 0)
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
        /* Where SELinux is on, SELinux-aware programs of the session need its filesystem:
         * sshd's post-auth child computes the user's default context through it
         * (security_compute_user writes the "user" file) and dies in enforcing mode without
         * it, as do newrole, sudo and getenforce. Read-write as on every SELinux host: the
         * policy, not the mount, decides who may do what there (setenforce, load_policy). */
        if (selinux && mount("selinuxfs", "/sys/fs/selinux", "selinuxfs", flags, NULL) < 0)
                return mount_errno(err, "selinuxfs", "/sys/fs/selinux");
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
                _cleanup_close_ int fd = -1;
                int r = path_open(home, 0, 0, &fd);
                if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                        return path_error(err, r, home);
                if (r == 0) {
                        tree = open_tree(fd, "",
                                         OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC |
                                             AT_EMPTY_PATH);
                        if (tree < 0)
                                return error_set_errno(err, errno, "cannot take hold of %s", home);
                }
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

/* The group of the session's ptys: the host's tty group, read off /dev/tty (root:tty on every
 * distribution; no NSS lookup in this process). */
static gid_t tty_gid(void)
{
        struct stat st;
        return stat("/dev/tty", &st) == 0 && st.st_gid != 0 ? st.st_gid : 5;
}

/* The session's own ptys: a devpts instance of its own (newinstance) on /dev/pts, holding at
 * most pty_max, and /dev/ptmx bound to its ptmx. The host's ptys are out of sight, and a user
 * who opens ptys until it fails fills this instance, not the host's: kernel.pty.max counts
 * every instance, but kernel.pty.reserve keeps that many for the host's own (root's logins,
 * unconfined users). The sshd monitor allocates the login's pty here too, after the join,
 * so inside the session the names are pts/0, pts/1, ... of this instance (see
 * records_view() for what that means for utmp). */
static int devpts_setup(const struct policy *p, struct isolate_error *err)
{
        _cleanup_close_ int pts = -1;
        int r = path_open("/dev/pts", 0, 0, &pts);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0; /* no ptys on this host at all */
        if (r < 0)
                return path_error(err, r, "/dev/pts");
        char opts[128], name[64];
        int n = snprintf(opts, sizeof(opts), "newinstance,ptmxmode=0666,mode=0620,gid=%u",
                         (unsigned)tty_gid());
        if (p->pty_max != LIMIT_MAX && p->pty_max != LIMIT_UNSET)
                snprintf(opts + n, sizeof(opts) - n, ",max=%llu", (unsigned long long)p->pty_max);
        fd_name(pts, name, sizeof(name));
        /* not MS_NODEV: the ptys are device nodes */
        if (mount("devpts", name, "devpts", MS_NOSUID | MS_NOEXEC, opts) < 0)
                return mount_errno(err, "a devpts of the session's own", "/dev/pts");

        _cleanup_close_ int ptmx = -1;
        r = path_open("/dev/ptmx", 0, PATH_OPEN_NOFOLLOW, &ptmx);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return path_error(err, r, "/dev/ptmx");
        struct stat st;
        if (fstat(ptmx, &st) < 0)
                return error_set_errno(err, errno, "cannot stat /dev/ptmx");
        if (S_ISLNK(st.st_mode))
                return 0; /* -> pts/ptmx: the new instance's already */
        _cleanup_close_ int tree =
            open_tree(AT_FDCWD, "/dev/pts/ptmx", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return error_set_errno(err, errno, "cannot take hold of /dev/pts/ptmx");
        return tree_attach(tree, ptmx, "/dev/ptmx", 0, false, false, err);
}

/* The login records the sshd monitor (root, in this view) writes after the join are the
 * session's own: files in a 0700 directory of the session's tmpfs, which users cannot open,
 * so no user lock stalls the monitor (a read lock on the host's wtmp, 0664, made every other
 * login wait 10 s in glibc and lost its logout record). The init copies each record to the
 * host's files (session-init.c, records.c), renaming the session's pts/N to a line no other
 * session has: every session has a pts/0 of its own devpts, and the host's utmp is keyed by
 * the line. Inside, the session's /var/log is a view: the host's entries bound back, minus
 * wtmp, btmp and lastlog, which are the session's own files or absent. A view of the
 * directory, not a mount on the host's file: logrotate renames wtmp, and a mount on the file
 * would move with it and leave the new wtmp open to users. */
static int records_view(uid_t uid, struct mount_records *ret, struct isolate_error *err)
{
        int r = holder_mkdir("records", 0700, 0, 0, err);
        if (r < 0)
                return r;
        static const char *const names[] = {"utmp", "wtmp", "lastlog"};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), HOLDER "/records/%s", names[i]);
                _cleanup_close_ int fd =
                    open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return error_set_errno(err, errno, "cannot create the session's %s",
                                               names[i]);
        }
        ret->records = open(HOLDER "/records", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (ret->records < 0)
                return error_set_errno(err, errno, "cannot open the session's records");

        /* utmp: the session's own file on the host's name (/run/utmp, where the host has one) */
        _cleanup_close_ int utmp = -1;
        r = path_open("/run/utmp", 0, PATH_OPEN_NOFOLLOW, &utmp);
        if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                return path_error(err, r, "/run/utmp");
        struct stat st;
        if (r == 0 && fstat(utmp, &st) == 0 && S_ISREG(st.st_mode)) {
                _cleanup_close_ int own = openat(ret->records, "utmp", O_PATH | O_CLOEXEC);
                if (own < 0)
                        return error_set_errno(err, errno, "cannot open the session's utmp");
                r = clone_onto_fd(own, utmp, "/run/utmp", 0, err);
                if (r < 0)
                        return r;
                /* the host's file itself: any name now leads to the session's */
                ret->host_utmp = TAKE_FD(utmp);
        }

        _cleanup_close_ int log = -1;
        r = path_open("/var/log", 0, 0, &log);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return path_error(err, r, "/var/log");
        ret->host_log = fcntl(log, F_DUPFD_CLOEXEC, 3);
        if (ret->host_log < 0)
                return error_set_errno(err, errno, "cannot keep /var/log");
        /* the user's lastlog record as the host has it: sshd prints "Last login" from it */
        {
                char path[64];
                snprintf(path, sizeof(path), "/proc/self/fd/%d/lastlog", log);
                _cleanup_close_ int host = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
                _cleanup_close_ int own = openat(ret->records, "lastlog", O_WRONLY | O_CLOEXEC);
                char rec[RECORDS_LASTLOG_SIZE];
                off_t off = (off_t)uid * RECORDS_LASTLOG_SIZE;
                if (host >= 0 && own >= 0 && fstat(host, &st) == 0 && S_ISREG(st.st_mode) &&
                    pread(host, rec, sizeof(rec), off) == (ssize_t)sizeof(rec) &&
                    pwrite(own, rec, sizeof(rec), off) != (ssize_t)sizeof(rec))
                        return error_set_errno(err, errno, "cannot copy the user's lastlog record");
        }

        r = holder_mkdir("log", 0755, 0, 0, err);
        if (r < 0)
                return r;
        _cleanup_close_ int view = open(HOLDER "/log", O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int list = openat(log, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (view < 0 || list < 0)
                return error_set_errno(err, errno, "cannot open /var/log");
        DIR *d = fdopendir(list);
        if (!d)
                return error_set_errno(err, errno, "cannot read /var/log");
        list = -1;
        r = 0;
        for (struct dirent *de; r == 0 && (de = readdir(d));) {
                const char *n = de->d_name;
                if (STREQ(n, ".") || STREQ(n, ".."))
                        continue;
                bool record = strncmp(n, "wtmp", 4) == 0 || strncmp(n, "btmp", 4) == 0 ||
                              STREQ(n, "lastlog");
                if (record && !STREQ(n, "wtmp") && !STREQ(n, "lastlog"))
                        continue; /* rotated records and btmp: nobody's business inside */
                if (fstatat(log, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                char dst[PATH_MAX];
                snprintf(dst, sizeof(dst), HOLDER "/log/%s", n);
                if (S_ISLNK(st.st_mode) && !record) {
                        char target[PATH_MAX];
                        ssize_t len = readlinkat(log, n, target, sizeof(target) - 1);
                        if (len < 0)
                                continue;
                        target[len] = '\0';
                        if (symlink(target, dst) < 0)
                                r = error_set_errno(err, errno, "cannot copy /var/log/%s", n);
                        continue;
                }
                if (!record && !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                        continue; /* sockets, fifos: not ours to serve */
                bool dir = S_ISDIR(st.st_mode) && !record;
                if (dir ? mkdir(dst, 0755) < 0 : mknod(dst, S_IFREG | 0600, 0) < 0) {
                        r = error_set_errno(err, errno, "cannot make /var/log/%s", n);
                        break;
                }
                _cleanup_close_ int slot = open(dst, O_PATH | O_CLOEXEC | O_NOFOLLOW);
                _cleanup_close_ int src =
                    record ? openat(ret->records, n, O_PATH | O_CLOEXEC)
                           : open_tree(log, n,
                                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
                                           AT_SYMLINK_NOFOLLOW);
                if (slot < 0 || src < 0) {
                        r = error_set_errno(err, errno, "cannot take hold of /var/log/%s", n);
                        break;
                }
                if (record)
                        r = clone_onto_fd(src, slot, dst, 0, err);
                else if (move_mount(src, "", slot, "",
                                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                        r = error_set_errno(err, errno, "cannot bind /var/log/%s", n);
        }
        closedir(d);
        if (r < 0)
                return r;
        _cleanup_close_ int tree =
            open_tree(view, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (tree < 0)
                return error_set_errno(err, errno, "cannot take hold of the view of /var/log");
        return tree_attach(tree, log, "/var/log", 0, true, false, err);
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
                 const struct cgroup_session *cg, struct mount_records *records,
                 struct isolate_error *err)
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
        /* always the session's own mount namespace: the config refuses mount_namespace =
         * false. Host mounts still propagate in; nothing propagates out. */
        if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                return error_set_errno(err, errno, "cannot make / a slave mount");
        r = holder_setup(p, uid, gid, err);
        if (r < 0)
                return r;
        r = devpts_setup(p, err);
        if (r < 0)
                return r;
        r = records_view(uid, records, err);
        if (r < 0)
                return error_prefix(err, "login records");
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

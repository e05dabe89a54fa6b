/* cgroupfs-mounts.c: where the host's cgroup hierarchies are, as every backend reads them:
 * the cgroup mounts mountinfo lists (v1 and v2, hidden ones dropped), a process's cgroup in
 * each (/proc/PID/cgroup), a hierarchy's path under its mount point, and where the
 * configured <root> is in each. Nothing here writes to cgroupfs. */
#include "cgroup-internal.h"

#include <string.h>

#define SYSFS_CGROUP "/sys/fs/cgroup"

static char *g_cgroupfs_root; /* NULL: /sys/fs/cgroup */
static char *g_mountinfo;     /* NULL: /proc/self/mountinfo */
static char *g_proc_root;     /* NULL: /proc */

static void set_copy(char **slot, const char *v)
{
        free(*slot);
        *slot = v ? strdup(v) : NULL;
}

void cgroup_set_fs_root(const char *cgroupfs_root, const char *mountinfo_path)
{
        set_copy(&g_cgroupfs_root, cgroupfs_root);
        set_copy(&g_mountinfo, mountinfo_path);
}

void cgroup_set_proc_root(const char *proc_root)
{
        set_copy(&g_proc_root, proc_root);
}

const char *cg_proc_root(void)
{
        return g_proc_root ? g_proc_root : "/proc";
}

const char *cg_fs_root(void)
{
        return g_cgroupfs_root ? g_cgroupfs_root : SYSFS_CGROUP;
}

/* ---- mountinfo ------------------------------------------------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
        char *w = s;
        for (const char *r = s; *r;) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 4;
                } else
                        *w++ = *r++;
        }
        *w = '\0';
}

static bool path_under(const char *path, const char *dir)
{
        size_t n = strlen(dir);
        if (n == 1 && dir[0] == '/')
                return true;
        return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool option_is_flag(const char *o)
{
        static const char *const flags[] = {
            "rw",           "ro",  "noprefix", "clone_children", "xattr", "cpuset_v2_mode",
            "favordynmods", "none"};
        for (size_t i = 0; i < ELEMENTSOF(flags); i++)
                if (STREQ(o, flags[i]))
                        return true;
        return strchr(o, '=') && strncmp(o, "name=", 5) != 0;
}

static void list_append(char *buf, size_t len, const char *item)
{
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", used ? "," : "", item);
}

/* Parses one mountinfo line; 1 with *ret filled for a cgroup mount, 0 for another mount
 * (its point is still returned for the hiding rule), -EINVAL for a broken line. */
static int mountinfo_parse_line(char *line, struct cg_mount *ret, char *point, size_t point_len)
{
        char *f[64];
        size_t n = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, " \n", &save); t && n < ELEMENTSOF(f);
             t = strtok_r(NULL, " \n", &save))
                f[n++] = t;
        size_t dash = 6;
        while (dash < n && !STREQ(f[dash], "-"))
                dash++;
        if (n < 7 || dash + 1 >= n)
                return -EINVAL;
        const char *fstype = f[dash + 1], *super = dash + 3 < n ? f[dash + 3] : "";
        unescape_octal(f[4]);
        snprintf(point, point_len, "%s", f[4]);
        bool v1 = STREQ(fstype, "cgroup"), v2 = STREQ(fstype, "cgroup2");
        if (!v1 && !v2)
                return 0;
        memset(ret, 0, sizeof(*ret));
        ret->unified = v2;
        unescape_octal(f[3]);
        snprintf(ret->root, sizeof(ret->root), "%s", f[3]);
        ret->at_top = STREQ(f[4], SYSFS_CGROUP);
        if (path_under(f[4], SYSFS_CGROUP))
                snprintf(ret->point, sizeof(ret->point), "%s%s", cg_fs_root(),
                         f[4] + strlen(SYSFS_CGROUP));
        else
                snprintf(ret->point, sizeof(ret->point), "%s", f[4]);
        char opts[512];
        snprintf(opts, sizeof(opts), "%s", super);
        char *s2 = NULL;
        for (char *o = strtok_r(opts, ",", &s2); o; o = strtok_r(NULL, ",", &s2)) {
                if (STREQ(o, "rw") || STREQ(o, "ro") || strncmp(o, "release_agent=", 14) == 0)
                        continue;
                list_append(ret->options, sizeof(ret->options), o);
                if (v1 && !option_is_flag(o))
                        list_append(ret->controllers, sizeof(ret->controllers), o);
        }
        return 1;
}

int cg_mounts_read(struct cg_mount **ret, size_t *ret_n, struct isolate_error *err)
{
        const char *path = g_mountinfo ? g_mountinfo : "/proc/self/mountinfo";
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return error_set_errno(err, errno, "cannot read %s", path);
        struct cg_mount *m = NULL;
        char **orig = NULL; /* the unre-rooted mount point of each entry, for hiding */
        size_t n = 0, cap = 0;
        _cleanup_free_ char *line = NULL;
        size_t line_len = 0;
        int r = 0;
        char point[PATH_MAX];
        struct cg_mount *cur = malloc(sizeof(*cur));
        if (!cur)
                return error_set(err, ENOMEM, "out of memory");
        while (getline(&line, &line_len, f) > 0) {
                int k = mountinfo_parse_line(line, cur, point, sizeof(point));
                if (k < 0)
                        continue;
                /* A later mount on the same point or above hides what was there ("/" aside:
                 * a root listed late, after a pivot_root, hides nothing that is listed). */
                for (size_t i = 0; i < n;) {
                        if (!STREQ(point, "/") && path_under(orig[i], point)) {
                                free(orig[i]);
                                memmove(&m[i], &m[i + 1], (n - i - 1) * sizeof(*m));
                                memmove(&orig[i], &orig[i + 1], (n - i - 1) * sizeof(*orig));
                                n--;
                        } else
                                i++;
                }
                if (k == 0)
                        continue;
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 16;
                        struct cg_mount *nm = realloc(m, nc * sizeof(*m));
                        if (nm)
                                m = nm;
                        char **no = nm ? realloc(orig, nc * sizeof(*orig)) : NULL;
                        if (no)
                                orig = no;
                        if (!nm || !no) {
                                r = error_set(err, ENOMEM, "out of memory");
                                break;
                        }
                        cap = nc;
                }
                orig[n] = strdup(point);
                if (!orig[n]) {
                        r = error_set(err, ENOMEM, "out of memory");
                        break;
                }
                m[n++] = *cur;
        }
        free(cur);
        for (size_t i = 0; i < n; i++)
                free(orig[i]);
        free(orig);
        if (r < 0) {
                free(m);
                return r;
        }
        *ret = m;
        *ret_n = n;
        return 0;
}

static bool list_contains(const char *list, const char *item)
{
        size_t n = strlen(item);
        for (const char *p = list; *p;) {
                const char *e = strchrnul(p, ',');
                if ((size_t)(e - p) == n && strncmp(p, item, n) == 0)
                        return true;
                p = *e ? e + 1 : e;
        }
        return false;
}

bool cg_controllers_equal(const char *a, const char *b)
{
        size_t na = 0, nb = 0;
        char item[64];
        for (const char *p = a; *p;) {
                const char *e = strchrnul(p, ',');
                snprintf(item, sizeof(item), "%.*s", (int)(e - p), p);
                if (!list_contains(b, item))
                        return false;
                na++;
                p = *e ? e + 1 : e;
        }
        for (const char *p = b; *p; p++)
                if (*p == ',')
                        nb++;
        nb += *b ? 1 : 0;
        return na == nb;
}

const struct cg_mount *cg_mount_v1(const struct cg_mount *m, size_t n, const char *controller)
{
        for (size_t i = 0; i < n; i++)
                if (!m[i].unified && list_contains(m[i].controllers, controller))
                        return &m[i];
        return NULL;
}

const struct cg_mount *cg_mount_v2(const struct cg_mount *m, size_t n)
{
        const struct cg_mount *first = NULL;
        for (size_t i = 0; i < n; i++) {
                if (!m[i].unified)
                        continue;
                if (m[i].at_top)
                        return &m[i];
                if (!first)
                        first = &m[i];
        }
        return first;
}

int cg_pid_cgroup(pid_t pid, const struct cg_mount *m, char *ret, size_t len)
{
        char path[PATH_MAX];
        if (pid > 0)
                snprintf(path, sizeof(path), "%s/%d/cgroup", cg_proc_root(), (int)pid);
        else
                snprintf(path, sizeof(path), "%s/self/cgroup", cg_proc_root());
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        _cleanup_free_ char *line = NULL;
        size_t line_len = 0;
        ssize_t k;
        while ((k = getline(&line, &line_len, f)) > 0) {
                if (line[k - 1] == '\n')
                        line[k - 1] = '\0';
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c1 = *c2 = '\0';
                bool match = m->unified ? STREQ(line, "0") && c1[1] == '\0'
                                        : cg_controllers_equal(c1 + 1, m->controllers);
                if (!match)
                        continue;
                if (c2[1] != '/')
                        return -EBADMSG;
                if ((size_t)snprintf(ret, len, "%s", c2 + 1) >= len)
                        return -ENAMETOOLONG;
                return 0;
        }
        return -ENOENT;
}

int cg_fs_path(const struct cg_mount *m, const char *rel, char *ret, size_t len)
{
        const char *rest = rel;
        if (!STREQ(m->root, "/")) {
                if (!path_under(rel, m->root))
                        return -ENOENT; /* outside what this mount shows */
                rest = rel + strlen(m->root);
        }
        if (STREQ(rest, "/"))
                rest = "";
        if ((size_t)snprintf(ret, len, "%s%s", m->point, rest) >= len)
                return -ENAMETOOLONG;
        return 0;
}

/* A root from the config: components of [A-Za-z0-9_.-], none "." or "..". */
static bool root_valid(const char *s)
{
        if (!*s)
                return false;
        for (const char *p = s; *p;) {
                const char *e = strchrnul(p, '/');
                size_t n = (size_t)(e - p);
                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                for (const char *q = p; q < e; q++)
                        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789_.-",
                                    *q))
                                return false;
                p = *e ? e + 1 : e;
        }
        return true;
}

int cg_root_path(const char *cfg_root, const struct cg_mount *m, char *ret, size_t len,
                 size_t *ret_base_len, struct isolate_error *err)
{
        const char *root = cfg_root ? cfg_root : DEFAULT_CGROUP_ROOT;
        bool own = strncmp(root, "./", 2) == 0;
        const char *rest = own ? root + 2 : root;
        while (*rest == '/')
                rest++;
        if (!root_valid(rest))
                return error_set(err, EINVAL,
                                 "cgroup_root '%s' is not a relative path of plain names", root);
        char base[PATH_MAX] = "/";
        if (own) {
                int r = cg_pid_cgroup(0, m, base, sizeof(base));
                if (r < 0)
                        return error_set_errno(err, r,
                                               "cannot find this process's cgroup in "
                                               "the %s hierarchy",
                                               m->unified ? "cgroup2" : m->controllers);
        }
        char fs_base[PATH_MAX];
        int r = cg_fs_path(m, base, fs_base, sizeof(fs_base));
        if (r < 0)
                return error_set_errno(err, r, "cgroup %s is not visible under %s", base, m->point);
        if ((size_t)snprintf(ret, len, "%s/%s", fs_base, rest) >= len)
                return error_set(err, ENAMETOOLONG, "cgroup path too long under %s", fs_base);
        if (ret_base_len)
                *ret_base_len = strlen(fs_base);
        return 0;
}

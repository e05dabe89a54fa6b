/* cgroupfs.c: what the cgroupfs backends (cgroup-v1.c, cgroup-v2.c) and the systemd
 * backend share below the backend choice: the traced operations on cgroupfs, the rule for a
 * cap the host cannot apply, the layout of a user's and a session's cgroups, how a policy
 * value is written, and the sweep of a user's dead session leaves. */
#include "cgroup-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static cgroup_trace_fn g_trace;
static void *g_trace_data;
static const struct cgroup_fs_emulation *g_emulation; /* NULL: the real cgroupfs */

void cgroup_set_trace(cgroup_trace_fn fn, void *data)
{
        g_trace = fn;
        g_trace_data = data;
}

void cgroup_set_fs_emulation(const struct cgroup_fs_emulation *e)
{
        g_emulation = e;
}

const struct cgroup_fs_emulation *cg_fs_emulation(void)
{
        return g_emulation;
}

/* ---- policy values ------------------------------------------------------------------------ */

void cg_limit_str(uint64_t v, const char *max_word, char *buf, size_t len)
{
        if (v == LIMIT_MAX)
                snprintf(buf, len, "%s", max_word);
        else
                snprintf(buf, len, "%llu", (unsigned long long)v);
}

uint64_t cg_cap_effective(uint64_t v, bool existed)
{
        return v == LIMIT_UNSET && existed ? LIMIT_MAX : v;
}

#define LOWER_CHECK_WAIT_MS 1000
#define LOWER_CHECK_STEP_MS 50

int cg_memory_lower_check(const struct cg_ctx *ctx, const char *dir, const char *usage_file,
                          const char *stat_prefix, uint64_t limit, struct isolate_error *err)
{
        if (limit == LIMIT_UNSET || limit == LIMIT_MAX)
                return 0;
        /* Clean page cache counts in the usage but the kernel reclaims it when the cap goes
         * down: only what it cannot drop (anon, tmpfs, kernel) would be OOM-killed. A sandbox
         * that just ended frees its private tmpfs after its last process (the mount namespace
         * goes in deferred work): a login right after it waits that long before refusing. */
        uint64_t used = 0;
        for (int waited = 0;; waited += LOWER_CHECK_STEP_MS) {
                used = cg_read_u64(dir, usage_file);
                uint64_t file = cg_stat_u64(dir, stat_prefix, "active_file") +
                                cg_stat_u64(dir, stat_prefix, "inactive_file");
                used = used > file ? used - file : 0;
                if (used <= limit)
                        return 0;
                if (waited >= LOWER_CHECK_WAIT_MS)
                        break;
                (void)nanosleep(&(struct timespec){0, LOWER_CHECK_STEP_MS * 1000000L}, NULL);
        }
        return error_set(err, EBUSY,
                         "user %u uses %llu MiB of memory now, more than the memory_max of %llu "
                         "MiB that this login would set (the strictest over the user's live "
                         "sandboxes, policy '%s' among them); the cap is left as it is and the "
                         "login refused: end one of the user's sessions (isolatectl list, "
                         "isolatectl kill) or give this login a policy with a larger memory_max",
                         (unsigned)ctx->uid, (unsigned long long)(used >> 20),
                         (unsigned long long)(limit >> 20), ctx->p->name ? ctx->p->name : "?");
}

bool cg_policy_needs(const struct cg_ctx *ctx, const char *controller)
{
        const struct policy *p = ctx->p;
        if (STREQ(controller, "memory"))
                return p->memory_max != LIMIT_UNSET || p->memory_high != LIMIT_UNSET ||
                       p->swap_max != LIMIT_UNSET;
        if (STREQ(controller, "blkio") || STREQ(controller, "io"))
                return ctx->n_io > 0;
        if (STREQ(controller, "pids"))
                return p->pids_max != LIMIT_UNSET;
        return p->cpu_max_percent != LIMIT_UNSET || p->cpu_weight != LIMIT_UNSET;
}

const char *cg_needed_for(const char *controller)
{
        if (STREQ(controller, "memory"))
                return "memory_max, memory_high, swap_max";
        if (STREQ(controller, "blkio") || STREQ(controller, "io"))
                return "io limits";
        if (STREQ(controller, "pids"))
                return "pids_max";
        return "cpu_max_percent, cpu_weight";
}

/* ---- cgroupfs operations ----------------------------------------------------------------- */

static void trace(enum cgroup_op op, const char *path, const char *value)
{
        if (g_trace)
                g_trace(op, path, value, g_trace_data);
}

int cg_mkdir(struct cg_ctx *ctx, const char *path, struct isolate_error *err)
{
        if (mkdir(path, 0755) < 0) {
                if (errno == EEXIST)
                        return 1;
                return error_set_errno(err, errno, "cannot create cgroup %s", path);
        }
        trace(CGROUP_OP_MKDIR, path, NULL);
        if (!ctx)
                return 0;
        char **nm = realloc(ctx->made, (ctx->n_made + 1) * sizeof(*nm));
        char *copy = strdup(path);
        if (nm)
                ctx->made = nm;
        if (!nm || !copy) {
                free(copy);
                rmdir(path);
                return error_set(err, ENOMEM, "out of memory");
        }
        ctx->made[ctx->n_made++] = copy;
        return 0;
}

int cg_leaf_mkdir(struct cg_ctx *ctx, const char *path, struct isolate_error *err)
{
        int r = cg_mkdir(ctx, path, err);
        if (r == 1)
                return error_set(err, EEXIST, "cgroup %s exists already", path);
        return r;
}

int cg_write(const char *dir, const char *file, const char *value, struct isolate_error *err)
{
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
                return error_set(err, ENAMETOOLONG, "path too long: %s/%s", dir, file);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return error_set_errno(err, errno, "cannot open %s", path);
        size_t len = strlen(value);
        ssize_t n;
        do
                n = write(fd, value, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return error_set_errno(err, errno, "cannot write '%s' to %s", value, path);
        if ((size_t)n != len)
                return error_set(err, EIO, "short write of '%s' to %s", value, path);
        trace(CGROUP_OP_WRITE, path, value);
        return 0;
}

int cg_rmdir(const char *path)
{
        if (g_emulation && g_emulation->rmdir_prepare) {
                int r = g_emulation->rmdir_prepare(path);
                if (r < 0)
                        return r;
        }
        if (rmdir(path) < 0)
                return -errno;
        trace(CGROUP_OP_RMDIR, path, NULL);
        return 0;
}

int cg_read(const char *dir, const char *file, char *buf, size_t len)
{
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
                return -ENAMETOOLONG;
        ssize_t n = read_file_at(AT_FDCWD, path, buf, len);
        if (n < 0)
                return (int)n;
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = '\0';
        return (int)n;
}

bool cg_exists(const char *dir, const char *file)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        return access(path, F_OK) == 0;
}

uint64_t cg_read_u64(const char *dir, const char *file)
{
        char buf[64];
        uint64_t v = 0;
        if (cg_read(dir, file, buf, sizeof(buf)) > 0)
                (void)safe_atou64(buf, &v);
        return v;
}

uint64_t cg_stat_u64(const char *dir, const char *prefix, const char *key)
{
        char buf[8192], want[64];
        int w = snprintf(want, sizeof(want), "\n%s%s ", prefix, key);
        if (w < 0 || (size_t)w >= sizeof(want))
                return 0;
        buf[0] = '\n';
        if (cg_read(dir, "memory.stat", buf + 1, sizeof(buf) - 1) <= 0)
                return 0;
        const char *at = strstr(buf, want);
        if (!at)
                return 0;
        char num[32];
        size_t n = strcspn(at + w, "\n");
        uint64_t v = 0;
        if (n == 0 || n >= sizeof(num))
                return 0;
        memcpy(num, at + w, n);
        num[n] = '\0';
        return safe_atou64(num, &v) < 0 ? 0 : v;
}

/* ---- layout ------------------------------------------------------------------------------ */

int cg_session_paths(const char *root, uid_t uid, const char *session_id,
                     struct cgroup_hierarchy *h, struct isolate_error *err)
{
        int w = snprintf(h->user_path, sizeof(h->user_path), "%s/" CG_USER_PREFIX "%u", root,
                         (unsigned)uid);
        int w2 = snprintf(h->leaf_path, sizeof(h->leaf_path),
                          "%s/" CG_USER_PREFIX "%u/" CG_LEAF_PREFIX "%s", root, (unsigned)uid,
                          session_id);
        int w3 =
            snprintf(h->supervisor_path, sizeof(h->supervisor_path), "%s/" CG_SUPERVISOR, root);
        if (w < 0 || (size_t)w >= sizeof(h->user_path) || w2 < 0 ||
            (size_t)w2 >= sizeof(h->leaf_path) || w3 < 0 ||
            (size_t)w3 >= sizeof(h->supervisor_path))
                return error_set(err, ENAMETOOLONG, "cgroup path too long under %s", root);
        return 0;
}

int cg_root_make(struct cg_ctx *ctx, const struct cg_mount *m, char *ret, size_t len,
                 struct isolate_error *err)
{
        size_t base_len;
        int r = cg_root_path(ctx->c ? ctx->c->cgroup_root : NULL, m, ret, len, &base_len, err);
        if (r < 0)
                return r;
        for (char *p = ret + base_len + 1;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char saved = *p;
                *p = '\0';
                r = cg_mkdir(ctx, ret, err);
                *p = saved;
                if (r < 0)
                        return r;
                if (saved == '\0')
                        return 0;
        }
}

/* ---- a cap the host cannot apply --------------------------------------------------------- */

void cg_warn(struct cg_ctx *ctx, const char *fmt, ...)
{
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        warnings_add(ctx->warnings, ctx->warnings_len, "%s", line);
}

int cg_missing(struct cg_ctx *ctx, struct isolate_error *err, int code, const char *fix,
               const char *fmt, ...)
{
        char what[768];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        /* the host lacks a controller or a backend: no user can cause that (fail = open) */
        if (ctx->p->caps_required) {
                error_set(err, code,
                          "%s; policy '%s' requires its caps (caps_required): %s, or set "
                          "caps_required = false to log this and go on",
                          what, ctx->p->name ? ctx->p->name : "?", fix);
                return error_host_fault(err);
        }
        cg_warn(ctx, "%s; not applied (%s)", what, fix);
        return 0;
}

/* ---- garbage collection ------------------------------------------------------------------ */

static int ids_add(char ***ids, size_t *n, const char *id)
{
        for (size_t i = 0; i < *n; i++)
                if (STREQ((*ids)[i], id))
                        return 0;
        char **nv = realloc(*ids, (*n + 1) * sizeof(**ids));
        if (!nv)
                return -ENOMEM;
        *ids = nv;
        if (!(nv[*n] = strdup(id)))
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* Whether any process is in the cgroup dir/name (its cgroup.procs is not empty); when
 * unsure, true: the leaf is kept. */
static bool cg_populated(int dir, const char *name)
{
        char path[PATH_MAX], c;
        snprintf(path, sizeof(path), "%s/cgroup.procs", name);
        _cleanup_close_ int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
        return fd < 0 || read(fd, &c, 1) != 0;
}

int cg_gc_user_dir(const char *user_dir, bool (*is_live)(const char *session_id, void *data),
                   void *data, char ***ids, size_t *n_ids)
{
        DIR *d = opendir(user_dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        int removed = 0;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        for (struct dirent *de; (de = readdir(d));) {
                if (strncmp(de->d_name, CG_LEAF_PREFIX, strlen(CG_LEAF_PREFIX)) != 0)
                        continue;
                const char *id = de->d_name + strlen(CG_LEAF_PREFIX);
                if (!*id)
                        continue;
                /* every login runs this over all of the user's leaves: the cheap checks
                 * first, the registry (is_live) only for an old leaf nobody is in */
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISDIR(st.st_mode))
                        continue;
                if (now.tv_sec - st.st_mtim.tv_sec < CGROUP_GC_MIN_AGE_S)
                        continue;
                if (cg_populated(dirfd(d), de->d_name) || (is_live && is_live(id, data)))
                        continue;
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/%s", user_dir, de->d_name);
                /* rmdir fails with EBUSY while any process is in it: the check and the
                 * removal are one atomic step. */
                if (cg_rmdir(path) < 0)
                        continue;
                removed++;
                if (ids)
                        (void)ids_add(ids, n_ids, id);
        }
        closedir(d);
        return removed;
}

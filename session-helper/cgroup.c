/* cgroup.c: the interface of cgroup.h over the three backends: which backend (systemd,
 * cgroupfs v2, cgroupfs v1), making a session's cgroups through it, and what is alike in
 * every backend once they exist: moving processes in, removing the leaves, usage, and
 * `isolatectl gc`'s sweep. Below it: cgroup-systemd.c, cgroup-v2.c, cgroup-v1.c, then
 * cgroupfs.c and cgroupfs-mounts.c, which they share. */
#include "cgroup-internal.h"
#include "devices.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

static char *g_systemd_marker; /* NULL: /run/systemd/system */

void cgroup_set_systemd_marker(const char *path)
{
        free(g_systemd_marker);
        g_systemd_marker = path ? strdup(path) : NULL;
}

/* ---- backend choice ---------------------------------------------------------------------- */

int cgroup_backend_resolve(enum cgroup_backend_kind configured, enum cgroup_backend_kind *ret,
                           struct isolate_error *err)
{
        if (configured != CGROUP_BACKEND_AUTO) {
                *ret = configured;
                return 0;
        }
        struct stat st;
        const char *marker = g_systemd_marker ? g_systemd_marker : "/run/systemd/system";
        /* sd_booted()'s test: systemd as PID 1 creates this directory early at boot. */
        if (lstat(marker, &st) == 0 && S_ISDIR(st.st_mode)) {
                *ret = CGROUP_BACKEND_SYSTEMD;
                return 0;
        }
        struct statfs sfs;
        if (statfs(cg_fs_root(), &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
                *ret = CGROUP_BACKEND_V2;
                return 0;
        }
        /* A fake tree (unit tests) is no cgroup2 file system: its emulation says what it is. */
        const struct cgroup_fs_emulation *fake = cg_fs_emulation();
        if (fake && fake->is_cgroup2) {
                int r = fake->is_cgroup2(err);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = CGROUP_BACKEND_V2;
                        return 0;
                }
        }
        *ret = CGROUP_BACKEND_V1;
        return 0;
}

/* ---- sessions ---------------------------------------------------------------------------- */

static bool session_id_valid(const char *id)
{
        size_t n = strlen(id);
        if (n == 0 || n > 63 || id[0] == '.' || id[0] == '-')
                return false;
        return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* Merges the limits of one io entry into the per-disk list: per key the smaller value holds
 * (two entries naming one disk, or the policies of several live sandboxes: caps.h). */
static int io_merge(struct cg_ctx *ctx, const struct io_limit *l, const struct device_number *d)
{
        struct cg_io_dev *dev = NULL;
        for (size_t i = 0; i < ctx->n_io; i++)
                if (ctx->io[i].major == d->major && ctx->io[i].minor == d->minor)
                        dev = &ctx->io[i];
        if (!dev) {
                struct cg_io_dev *nv = realloc(ctx->io, (ctx->n_io + 1) * sizeof(*nv));
                if (!nv)
                        return -ENOMEM;
                ctx->io = nv;
                dev = &ctx->io[ctx->n_io++];
                *dev = (struct cg_io_dev){d->major,    d->minor,    LIMIT_UNSET,
                                          LIMIT_UNSET, LIMIT_UNSET, LIMIT_UNSET};
        }
        /* LIMIT_UNSET is the largest number, LIMIT_MAX the next: a plain minimum */
        if (l->read_bps < dev->rbps)
                dev->rbps = l->read_bps;
        if (l->write_bps < dev->wbps)
                dev->wbps = l->write_bps;
        if (l->read_iops < dev->riops)
                dev->riops = l->read_iops;
        if (l->write_iops < dev->wiops)
                dev->wiops = l->write_iops;
        return 0;
}

static int io_resolve(struct cg_ctx *ctx, struct isolate_error *err)
{
        const struct policy *p = ctx->p;
        for (size_t i = 0; i < p->n_io; i++) {
                const struct io_limit *l = &p->io[i];
                struct device_number d[DEVICE_MAX_DISKS];
                struct isolate_error e = {0};
                int n = device_resolve_all(l->target, d, ELEMENTSOF(d), &e);
                if (n < 0) {
                        char fix[600];
                        snprintf(fix, sizeof(fix), "fix the io entry at %s:%d",
                                 ctx->c && ctx->c->file ? ctx->c->file : "the config", l->line);
                        int r = cg_missing(ctx, err, n, fix, "io limits: %s", e.msg);
                        if (r < 0)
                                return r;
                        continue;
                }
                for (int k = 0; k < n; k++)
                        if (io_merge(ctx, l, &d[k]) < 0)
                                return error_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

static void ctx_rollback(struct cg_ctx *ctx)
{
        for (size_t i = ctx->n_made; i > 0; i--)
                (void)cg_rmdir(ctx->made[i - 1]);
}

static void ctx_free(struct cg_ctx *ctx)
{
        for (size_t i = 0; i < ctx->n_made; i++)
                free(ctx->made[i]);
        free(ctx->made);
        free(ctx->mounts);
        free(ctx->io);
}

/* The sweep of a user's dead leaves reads every leaf of that user: with many sessions that
 * is the largest cost of a login (measured: 7 ms at 1000 sessions). It only removes leaves
 * older than CGROUP_GC_MIN_AGE_S, so running it more than once in that time finds nothing
 * new: a marker file per user in <runtime_dir>/gc says when it last ran. No marker (no
 * runtime dir, tests with fake trees): always due. */
static bool gc_due(const struct config *c, uid_t uid)
{
        if (!c || !c->runtime_dir)
                return true;
        char dir[PATH_MAX], path[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/gc", c->runtime_dir);
        snprintf(path, sizeof(path), "%s/user-%u", dir, (unsigned)uid);
        struct stat st;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
            st.st_mtim.tv_sec <= now.tv_sec && now.tv_sec - st.st_mtim.tv_sec < CGROUP_GC_MIN_AGE_S)
                return false;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return true;
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
                futimens(fd, NULL);
                close(fd);
        }
        return true;
}

int cgroup_session_create(const struct config *c, const struct policy *p, uid_t uid,
                          const char *session_id, pid_t caller_pid,
                          bool (*is_live)(const char *session_id, void *data), void *data,
                          struct cgroup_session *ret, char *warnings, size_t warnings_len,
                          struct isolate_error *err)
{
        memset(ret, 0, sizeof(*ret));
        if (warnings && warnings_len)
                warnings[0] = '\0';
        if (!session_id_valid(session_id))
                return error_set(err, EINVAL, "invalid session id '%s'", session_id);
        /* The config parser refuses such a weight; a policy built in code (the unit tests,
         * test_cgroup_systemd --drive) reaches here unchecked, and every backend after it. */
        if (p->cpu_weight != LIMIT_UNSET &&
            (p->cpu_weight < CPU_WEIGHT_MIN || p->cpu_weight > CPU_WEIGHT_MAX))
                return error_set(err, EINVAL, "policy '%s': cpu_weight must be %d..%d",
                                 p->name ? p->name : "?", CPU_WEIGHT_MIN, CPU_WEIGHT_MAX);
        enum cgroup_backend_kind backend;
        int r = cgroup_backend_resolve(c->cgroup_backend, &backend, err);
        if (r < 0)
                return r;
        struct cg_ctx ctx = {
            .c = c,
            .p = p,
            .uid = uid,
            .session_id = session_id,
            .caller_pid = caller_pid,
            .is_live = is_live,
            .data = data,
            .warnings = warnings,
            .warnings_len = warnings_len,
            .gc_due = gc_due(c, uid),
        };
        r = cg_mounts_read(&ctx.mounts, &ctx.n_mounts, err);
        if (r >= 0)
                r = io_resolve(&ctx, err);
        if (r >= 0) {
                switch (backend) {
                case CGROUP_BACKEND_SYSTEMD:
                        r = cg_systemd_create(&ctx, ret, err);
                        break;
                case CGROUP_BACKEND_V2:
                        r = cg_v2_create(&ctx, ret, err);
                        break;
                default:
                        r = cg_v1_create(&ctx, ret, err);
                        break;
                }
        }
        if (r < 0) {
                ctx_rollback(&ctx);
                memset(ret, 0, sizeof(*ret));
        }
        ctx_free(&ctx);
        return r;
}

int cgroup_user_caps_set(const struct config *c, const struct policy *p, uid_t uid,
                         const struct cgroup_session *s, char *warnings, size_t warnings_len,
                         struct isolate_error *err)
{
        if (warnings && warnings_len)
                warnings[0] = '\0';
        struct cg_ctx ctx = {
            .c = c,
            .p = p,
            .uid = uid,
            .warnings = warnings,
            .warnings_len = warnings_len,
        };
        int r = io_resolve(&ctx, err);
        if (r >= 0 && s->backend == CGROUP_BACKEND_SYSTEMD)
                r = cg_systemd_caps_set(&ctx, err);
        for (size_t i = 0; r >= 0 && s->backend != CGROUP_BACKEND_SYSTEMD && i < s->n; i++) {
                if (!*s->h[i].user_path)
                        continue;
                r = s->backend == CGROUP_BACKEND_V2 ? cg_v2_caps_set(&ctx, &s->h[i], err)
                                                    : cg_v1_caps_set(&ctx, &s->h[i], err);
        }
        ctx_free(&ctx);
        return r;
}

int cgroup_session_own_unit(const struct config *c, const struct policy *p, uid_t uid,
                            const char *session_id, pid_t pid, struct cgroup_session *s,
                            char *warnings, size_t warnings_len, struct isolate_error *err)
{
        if (s->backend != CGROUP_BACKEND_SYSTEMD)
                return 0;
        struct cg_ctx ctx = {
            .c = c,
            .p = p,
            .uid = uid,
            .session_id = session_id,
            .warnings = warnings, /* appended to */
            .warnings_len = warnings_len,
        };
        int r = cg_mounts_read(&ctx.mounts, &ctx.n_mounts, err);
        if (r >= 0)
                r = cg_systemd_unit_start(&ctx, pid, s, err);
        ctx_free(&ctx);
        return r;
}

int cgroup_session_caller_check(const struct config *c, const struct policy *p, uid_t uid,
                                const struct cgroup_session *s, pid_t caller_pid,
                                const char *sandbox_id, char *warnings, size_t warnings_len,
                                struct isolate_error *err)
{
        if (s->backend != CGROUP_BACKEND_SYSTEMD)
                return 0;
        struct cg_ctx ctx = {
            .c = c,
            .p = p,
            .uid = uid,
            .caller_pid = caller_pid,
            .warnings = warnings, /* appended to */
            .warnings_len = warnings_len,
        };
        char what[96];
        snprintf(what, sizeof(what), "joining sandbox %s", sandbox_id);
        int r = cg_mounts_read(&ctx.mounts, &ctx.n_mounts, err);
        if (r >= 0)
                r = cg_systemd_caller_check(&ctx, caller_pid, what, err);
        ctx_free(&ctx);
        return r;
}

int cgroup_pid_unified_dir(pid_t pid, char *ret, size_t len, struct isolate_error *err)
{
        struct cg_mount *m = NULL;
        size_t n = 0;
        int r = cg_mounts_read(&m, &n, err);
        if (r < 0)
                return r;
        const struct cg_mount *u = cg_mount_v2(m, n);
        char rel[PATH_MAX];
        if (!u)
                r = error_set(err, EOPNOTSUPP, "no cgroup2 hierarchy is mounted");
        else if ((r = cg_pid_cgroup(pid, u, rel, sizeof(rel))) < 0)
                error_set_errno(err, r, "cannot read the cgroup2 cgroup of pid %d", (int)pid);
        else if ((r = cg_fs_path(u, rel, ret, len)) < 0)
                error_set_errno(err, r, "cgroup path too long: %s", rel);
        free(m);
        return r;
}

int cgroup_session_plan(const struct config *c, uid_t uid, const char *session_id,
                        struct cgroup_session *ret, struct isolate_error *err)
{
        memset(ret, 0, sizeof(*ret));
        if (!session_id_valid(session_id))
                return error_set(err, EINVAL, "invalid session id '%s'", session_id);
        enum cgroup_backend_kind backend;
        int r = cgroup_backend_resolve(c->cgroup_backend, &backend, err);
        if (r < 0)
                return r;
        ret->backend = backend;
        if (backend == CGROUP_BACKEND_SYSTEMD)
                return 0;
        struct cg_mount *m = NULL;
        size_t n = 0;
        r = cg_mounts_read(&m, &n, err);
        if (r >= 0)
                r = backend == CGROUP_BACKEND_V2
                        ? cg_v2_plan(m, n, c->cgroup_root, uid, session_id, ret, err)
                        : cg_v1_plan(m, n, c->cgroup_root, uid, session_id, ret, err);
        free(m);
        if (r < 0)
                memset(ret, 0, sizeof(*ret));
        return r;
}

bool cgroup_session_planned(const struct cgroup_session *made, const struct cgroup_session *plan)
{
        for (size_t i = 0; i < made->n; i++) {
                const char *leaf = made->h[i].leaf_path;
                bool found = !*leaf;
                for (size_t k = 0; k < plan->n && !found; k++)
                        found = STREQ(plan->h[k].leaf_path, leaf);
                if (!found)
                        return false;
        }
        return true;
}

/* The line of /proc/PID/cgroup for h, as a path from the hierarchy's root. */
static int prev_cgroup(const char *text, const struct cgroup_hierarchy *h, char *ret, size_t len)
{
        bool unified = STREQ(h->mount_type, "cgroup2");
        for (const char *p = text; *p;) {
                const char *e = strchrnul(p, '\n');
                const char *c1 = memchr(p, ':', (size_t)(e - p));
                const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(e - c1 - 1)) : NULL;
                if (c2) {
                        char ctl[128];
                        snprintf(ctl, sizeof(ctl), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
                        bool match = unified ? (c1 - p == 1 && p[0] == '0' && !ctl[0])
                                             : cg_controllers_equal(ctl, h->controllers);
                        if (match) {
                                snprintf(ret, len, "%.*s", (int)(e - c2 - 1), c2 + 1);
                                return 0;
                        }
                }
                p = *e ? e + 1 : e;
        }
        return -ENOENT;
}

/* Which file moves pidstr: a process moving itself ("0") on a v1 hierarchy writes to
 * `tasks`, which moves only the calling thread and so skips the kernel's global threadgroup
 * lock, whose writer side waits for an RCU grace period (measured here: 4 to 70 ms against
 * 0.1 ms). Everyone who moves itself is single-threaded (the session child, PAM callers). */
static const char *move_file(const struct cgroup_hierarchy *h, const char *pidstr)
{
        return STREQ(pidstr, "0") && !STREQ(h->mount_type, "cgroup2") ? "tasks" : "cgroup.procs";
}

/* Puts pid back where it was in hierarchies [0, upto): best effort, for a failed move. */
static void move_back(const struct cgroup_session *s, size_t upto, const char *pidstr,
                      const char *before)
{
        struct cg_mount *m = NULL;
        size_t n = 0;
        if (cg_mounts_read(&m, &n, NULL) < 0)
                return;
        for (size_t i = 0; i < upto; i++) {
                const struct cgroup_hierarchy *h = &s->h[i];
                char rel[PATH_MAX], dir[PATH_MAX];
                if (prev_cgroup(before, h, rel, sizeof(rel)) < 0)
                        continue;
                const struct cg_mount *mm =
                    STREQ(h->mount_type, "cgroup2") ? cg_mount_v2(m, n) : NULL;
                for (size_t k = 0; !mm && k < n; k++)
                        if (!m[k].unified && cg_controllers_equal(m[k].controllers, h->controllers))
                                mm = &m[k];
                if (mm && cg_fs_path(mm, rel, dir, sizeof(dir)) == 0)
                        (void)cg_write(dir, move_file(h, pidstr), pidstr, NULL);
        }
        free(m);
}

static int session_move(const struct cgroup_session *s, pid_t pid, bool supervisor,
                        struct isolate_error *err)
{
        if (s->backend == CGROUP_BACKEND_SYSTEMD)
                return 0; /* systemd's cgroups are never written to */
        char pidstr[16];
        snprintf(pidstr, sizeof(pidstr), "%d", pid > 0 ? (int)pid : 0);
        char procpath[PATH_MAX];
        if (pid > 0)
                snprintf(procpath, sizeof(procpath), "%s/%d/cgroup", cg_proc_root(), (int)pid);
        else
                snprintf(procpath, sizeof(procpath), "%s/self/cgroup", cg_proc_root());
        char before[4096];
        ssize_t k = read_file_at(AT_FDCWD, procpath, before, sizeof(before));
        if (k < 0)
                return error_set_errno(err, (int)k, "cannot read %s", procpath);
        for (size_t i = 0; i < s->n; i++) {
                const struct cgroup_hierarchy *h = &s->h[i];
                /* no leaf (v1 blkio): the session's processes are in the user's cgroup */
                const char *dir = supervisor      ? h->supervisor_path
                                  : *h->leaf_path ? h->leaf_path
                                                  : h->user_path;
                if (!*dir)
                        continue;
                int r = cg_write(dir, move_file(h, pidstr), pidstr, err);
                if (r < 0) {
                        move_back(s, i, pidstr, before);
                        return error_prefix(
                            err, "cannot move process %s into %s", pid > 0 ? pidstr : "(self)",
                            supervisor ? "the supervisor cgroup" : "the session's cgroup");
                }
        }
        return 0;
}

int cgroup_session_enter(const struct cgroup_session *s, pid_t pid, struct isolate_error *err)
{
        return session_move(s, pid, false, err);
}

int cgroup_session_enter_files(const struct cgroup_session *s, int *ret_fds, size_t max,
                               size_t *ret_n, struct isolate_error *err)
{
        *ret_n = 0;
        if (s->backend == CGROUP_BACKEND_SYSTEMD)
                return 0;
        for (size_t i = 0; i < s->n; i++) {
                const struct cgroup_hierarchy *h = &s->h[i];
                const char *dir = *h->leaf_path ? h->leaf_path : h->user_path;
                if (!*dir)
                        continue;
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/%s", dir, move_file(h, "0"));
                int fd = *ret_n < max ? open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY) : -1;
                if (fd < 0) {
                        int e = *ret_n < max ? errno : E2BIG;
                        while (*ret_n > 0)
                                close(ret_fds[--*ret_n]);
                        return error_set_errno(err, e, "cannot open %s", path);
                }
                ret_fds[(*ret_n)++] = fd;
        }
        return 0;
}

int cgroup_session_enter_supervisor(const struct cgroup_session *s, pid_t pid,
                                    struct isolate_error *err)
{
        return session_move(s, pid, true, err);
}

int cgroup_session_remove(const struct cgroup_session *s, struct isolate_error *err)
{
        int ret = 0;
        for (size_t i = 0; i < s->n; i++) {
                const char *dir = s->h[i].leaf_path;
                if (!*dir)
                        continue;
                int r;
                /* The kernel may still count exiting tasks for a few milliseconds. */
                for (int tries = 0; (r = cg_rmdir(dir)) == -EBUSY && tries < 200; tries++)
                        usleep(5000);
                if (r < 0 && r != -ENOENT && ret == 0)
                        ret = error_set_errno(err, r, "cannot remove cgroup %s", dir);
        }
        return ret;
}

int cgroup_session_usage(const struct cgroup_session *s, struct cgroup_usage *ret)
{
        memset(ret, 0, sizeof(*ret));
        int found = 0;
        for (size_t i = 0; i < s->n; i++) {
                const struct cgroup_hierarchy *h = &s->h[i];
                const char *dir = *h->leaf_path    ? h->leaf_path
                                  : *h->scope_path ? h->scope_path
                                                   : h->user_path;
                struct stat st;
                if (!*dir || stat(dir, &st) < 0)
                        continue;
                found++;
                if (STREQ(h->mount_type, "cgroup2") && s->backend == CGROUP_BACKEND_V1)
                        continue; /* v1's unified leaf (egress_allow) has no controller */
                if (STREQ(h->mount_type, "cgroup2"))
                        cg_v2_usage(dir, ret);
                else
                        cg_v1_usage(h, dir, ret);
        }
        return found ? 0 : -ENOENT;
}

/* ---- isolatectl gc ----------------------------------------------------------------------- */

int cgroup_gc(const struct config *c, bool (*is_live)(const char *session_id, void *data),
              void *data, struct isolate_error *err)
{
        enum cgroup_backend_kind backend;
        int r = cgroup_backend_resolve(c->cgroup_backend, &backend, err);
        if (r < 0)
                return r;
        if (backend == CGROUP_BACKEND_SYSTEMD)
                return 0; /* systemd removes its scopes itself */
        struct cg_mount *m = NULL;
        size_t n = 0;
        r = cg_mounts_read(&m, &n, err);
        if (r < 0)
                return r;
        const struct cg_mount *hs[CG_V1_HIERARCHIES_MAX + 1];
        size_t nh = 0;
        if (backend == CGROUP_BACKEND_V1)
                nh = cg_v1_hierarchies(m, n, hs);
        /* v2's tree; v1's leaves in the unified hierarchy (egress_allow) */
        if ((hs[nh] = cg_mount_v2(m, n)))
                nh++;
        char **ids = NULL;
        size_t n_ids = 0;
        for (size_t i = 0; i < nh && r >= 0; i++) {
                char root[PATH_MAX];
                r = cg_root_path(c->cgroup_root, hs[i], root, sizeof(root), NULL, err);
                if (r < 0)
                        break;
                DIR *d = opendir(root);
                if (!d) {
                        if (errno != ENOENT)
                                r = error_set_errno(err, errno, "cannot read %s", root);
                        continue;
                }
                for (struct dirent *de; (de = readdir(d));) {
                        if (strncmp(de->d_name, CG_USER_PREFIX, strlen(CG_USER_PREFIX)) != 0)
                                continue;
                        char user[PATH_MAX];
                        snprintf(user, sizeof(user), "%s/%s", root, de->d_name);
                        (void)cg_gc_user_dir(user, is_live, data, &ids, &n_ids);
                }
                closedir(d);
        }
        for (size_t i = 0; i < n_ids; i++)
                free(ids[i]);
        free(ids);
        free(m);
        return r < 0 ? r : (int)n_ids;
}

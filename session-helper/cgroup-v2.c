/* cgroup-v2.c: the unified hierarchy without systemd. <root> and user-UID only hold
 * cgroups (the no-internal-process rule: controllers enabled in a cgroup's
 * subtree_control need it to hold no process), processes live in the leaves
 * (user-UID/session-ID) and in <root>/supervisor.
 *
 * Controllers: memory, io, pids, cpu, those the parent of <root> offers (its
 * cgroup.subtree_control decides what <root>/cgroup.controllers lists; we never write into
 * a cgroup we did not make). They are enabled in <root> (for the caps on user-UID) and in
 * user-UID (so that each session's usage can be read from its leaf).
 *
 * A cap the policy leaves unset is reset to the kernel's default in a user cgroup that an
 * earlier login made: p is the strictest over the user's live sandboxes (caps.h). */
#include "cgroup-internal.h"

#include <string.h>

#define V2_CPU_PERIOD_US 100000ULL

static const char *const v2_controllers[] = {"memory", "io", "pids", "cpu"};

static bool word_in(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
                        return true;
        return false;
}

static int set_limit(const char *dir, const char *file, uint64_t v, struct isolate_error *err)
{
        if (v == LIMIT_UNSET)
                return 0;
        char s[32];
        cg_limit_str(v, "max", s, sizeof(s));
        return cg_write(dir, file, s, err);
}

/* io.max lines for the disks of the policy; in an existing cgroup every key is written
 * (unset ones as max), and disks an earlier login limited but this policy does not are
 * set back to max. */
static int io_caps(struct cg_ctx *ctx, const char *dir, bool existed, struct isolate_error *err)
{
        static const char *const keys[] = {"rbps", "wbps", "riops", "wiops"};
        int r;
        if (existed) {
                char buf[4096];
                if (cg_read(dir, "io.max", buf, sizeof(buf)) > 0)
                        for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
                             line = strtok_r(NULL, "\n", &save)) {
                                unsigned ma, mi;
                                if (sscanf(line, "%u:%u", &ma, &mi) != 2)
                                        continue;
                                bool kept = false;
                                for (size_t i = 0; i < ctx->n_io; i++)
                                        kept |= ctx->io[i].major == ma && ctx->io[i].minor == mi;
                                if (kept)
                                        continue;
                                char reset[96];
                                snprintf(reset, sizeof(reset),
                                         "%u:%u rbps=max wbps=max riops=max wiops=max", ma, mi);
                                if ((r = cg_write(dir, "io.max", reset, err)) < 0)
                                        return r;
                        }
        }
        for (size_t i = 0; i < ctx->n_io; i++) {
                const struct cg_io_dev *d = &ctx->io[i];
                const uint64_t v[] = {d->rbps, d->wbps, d->riops, d->wiops};
                char line[256];
                int n = snprintf(line, sizeof(line), "%u:%u", d->major, d->minor);
                for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                        uint64_t e = cg_cap_effective(v[k], existed);
                        if (e == LIMIT_UNSET)
                                continue;
                        char val[32];
                        cg_limit_str(e, "max", val, sizeof(val));
                        n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%s", keys[k], val);
                }
                if (!strchr(line, '='))
                        continue; /* an entry that sets nothing */
                if ((r = cg_write(dir, "io.max", line, err)) < 0)
                        return r;
        }
        return 0;
}

static int caps(struct cg_ctx *ctx, const char *dir, const bool *enabled, bool existed,
                struct isolate_error *err)
{
        const struct policy *p = ctx->p;
        int r;
        if (enabled[0]) {
                if (existed &&
                    (r = cg_memory_lower_check(ctx, dir, "memory.current", "",
                                                     p->memory_max, err)) < 0)
                        return r;
                if ((r = set_limit(dir, "memory.max", cg_cap_effective(p->memory_max, existed),
                                   err)) < 0 ||
                    (r = set_limit(dir, "memory.high", cg_cap_effective(p->memory_high, existed),
                                   err)) < 0)
                        return r;
                if (!cg_exists(dir, "memory.swap.max")) {
                        if (p->swap_max != LIMIT_UNSET) {
                                r = cg_missing(ctx, err, EOPNOTSUPP,
                                               "use a kernel with CONFIG_SWAP and "
                                               "CONFIG_MEMCG_SWAP (and swapaccount=1 on old "
                                               "kernels)",
                                               "cgroup v2: %s/memory.swap.max does not exist "
                                               "(needed for swap_max)",
                                               dir);
                                if (r < 0)
                                        return r;
                        }
                } else if ((r = set_limit(dir, "memory.swap.max",
                                          cg_cap_effective(p->swap_max, existed), err)) < 0)
                        return r;
        }
        if (enabled[1] && (r = io_caps(ctx, dir, existed, err)) < 0)
                return r;
        if (enabled[2] &&
            (r = set_limit(dir, "pids.max", cg_cap_effective(p->pids_max, existed), err)) < 0)
                return r;
        if (enabled[3]) {
                uint64_t percent = cg_cap_effective(p->cpu_max_percent, existed);
                if (percent != LIMIT_UNSET) {
                        char v[64];
                        if (percent == LIMIT_MAX ||
                            percent > (uint64_t)INT64_MAX / (V2_CPU_PERIOD_US / 100))
                                snprintf(v, sizeof(v), "max %llu", V2_CPU_PERIOD_US);
                        else
                                snprintf(v, sizeof(v), "%llu %llu",
                                         (unsigned long long)(percent * (V2_CPU_PERIOD_US / 100)),
                                         V2_CPU_PERIOD_US);
                        if ((r = cg_write(dir, "cpu.max", v, err)) < 0)
                                return r;
                }
                /* 100 is the kernel's default weight */
                uint64_t weight = p->cpu_weight == LIMIT_UNSET && existed ? 100 : p->cpu_weight;
                if ((r = set_limit(dir, "cpu.weight", weight, err)) < 0)
                        return r;
        }
        return 0;
}

/* The session's paths under root, and how the init mounts the hierarchy. */
static int v2_paths(const struct cg_mount *m, const char *root, uid_t uid, const char *session_id,
                    struct cgroup_hierarchy *h, struct isolate_error *err)
{
        int r = cg_session_paths(root, uid, session_id, h, err);
        if (r < 0)
                return r;
        snprintf(h->mount_type, sizeof(h->mount_type), "cgroup2");
        snprintf(h->mount_options, sizeof(h->mount_options), "%s", m->options);
        return 0;
}

int cg_v2_plan(const struct cg_mount *mounts, size_t n_mounts, const char *cfg_root, uid_t uid,
               const char *session_id, struct cgroup_session *ret, struct isolate_error *err)
{
        ret->backend = CGROUP_BACKEND_V2;
        const struct cg_mount *m = cg_mount_v2(mounts, n_mounts);
        if (!m)
                return 0; /* cg_v2_create refuses, having made nothing */
        char root[PATH_MAX];
        int r = cg_root_path(cfg_root, m, root, sizeof(root), NULL, err);
        if (r >= 0)
                r = v2_paths(m, root, uid, session_id, &ret->h[0], err);
        if (r < 0)
                return r;
        ret->n = 1;
        return 0;
}

int cg_v2_create(struct cg_ctx *ctx, struct cgroup_session *ret, struct isolate_error *err)
{
        ret->backend = CGROUP_BACKEND_V2;
        const struct cg_mount *m = cg_mount_v2(ctx->mounts, ctx->n_mounts);
        if (!m) {
                error_set(err, EOPNOTSUPP,
                          "cgroup v2: no cgroup2 file system is mounted (set "
                          "cgroup_backend = v1, or mount one at /sys/fs/cgroup)");
                return error_host_fault(err);
        }
        struct cgroup_hierarchy *h = &ret->h[0];
        char root[PATH_MAX];
        int r = cg_root_make(ctx, m, root, sizeof(root), err);
        if (r < 0)
                return r;

        char avail[512] = "";
        r = cg_read(root, "cgroup.controllers", avail, sizeof(avail));
        if (r < 0)
                return error_set_errno(err, r, "cannot read %s/cgroup.controllers", root);
        bool enabled[ELEMENTSOF(v2_controllers)] = {false};
        char enable[128] = "";
        for (size_t i = 0; i < ELEMENTSOF(v2_controllers); i++) {
                const char *ctl = v2_controllers[i];
                if (word_in(avail, ctl)) {
                        enabled[i] = true;
                        size_t used = strlen(enable);
                        snprintf(enable + used, sizeof(enable) - used, "%s+%s", used ? " " : "",
                                 ctl);
                        continue;
                }
                if (!cg_policy_needs(ctx, ctl))
                        continue;
                char parent[PATH_MAX], fix[PATH_MAX + 128];
                snprintf(parent, sizeof(parent), "%s", root);
                char *slash = strrchr(parent, '/');
                if (slash)
                        *slash = '\0';
                snprintf(fix, sizeof(fix), "enable it: echo +%s > %s/cgroup.subtree_control", ctl,
                         parent);
                r = cg_missing(ctx, err, EOPNOTSUPP, fix,
                               "cgroup v2: the %s controller is not available in %s (needed "
                               "for %s)",
                               ctl, root, cg_needed_for(ctl));
                if (r < 0)
                        return r;
        }
        if ((r = v2_paths(m, root, ctx->uid, ctx->session_id, h, err)) < 0)
                return r;

        if (*enable && (r = cg_write(root, "cgroup.subtree_control", enable, err)) < 0)
                return error_prefix(err,
                                    "cannot enable the controllers in %s (does it hold a "
                                    "process?)",
                                    root);
        if ((r = cg_mkdir(ctx, h->user_path, err)) < 0)
                return r;
        bool existed = r == 1;
        if (*enable && (r = cg_write(h->user_path, "cgroup.subtree_control", enable, err)) < 0)
                return r;
        if ((r = caps(ctx, h->user_path, enabled, existed, err)) < 0)
                return r;
        if (ctx->gc_due)
                (void)cg_gc_user_dir(h->user_path, ctx->is_live, ctx->data, NULL, NULL);
        if ((r = cg_leaf_mkdir(ctx, h->leaf_path, err)) < 0)
                return r;
        if ((r = cg_mkdir(ctx, h->supervisor_path, err)) < 0)
                return r;
        ret->n = 1;
        return 0;
}

int cg_v2_caps_set(struct cg_ctx *ctx, const struct cgroup_hierarchy *h, struct isolate_error *err)
{
        char avail[512] = "";
        int r = cg_read(h->user_path, "cgroup.controllers", avail, sizeof(avail));
        if (r < 0)
                return error_set_errno(err, r, "cannot read %s/cgroup.controllers", h->user_path);
        bool enabled[ELEMENTSOF(v2_controllers)];
        for (size_t i = 0; i < ELEMENTSOF(v2_controllers); i++)
                enabled[i] = word_in(avail, v2_controllers[i]);
        return caps(ctx, h->user_path, enabled, true, err);
}

void cg_v2_usage(const char *dir, struct cgroup_usage *ret)
{
        ret->memory_current = cg_read_u64(dir, "memory.current");
        ret->memory_peak = cg_read_u64(dir, "memory.peak");
        ret->tasks = cg_read_u64(dir, "pids.current");
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/io.stat", dir);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return;
        char line[512];
        while (fgets(line, sizeof(line), f)) {
                char *save = NULL;
                for (char *t = strtok_r(line, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
                        uint64_t v;
                        if (strncmp(t, "rbytes=", 7) == 0 && safe_atou64(t + 7, &v) == 0)
                                ret->io_read_bytes += v;
                        else if (strncmp(t, "wbytes=", 7) == 0 && safe_atou64(t + 7, &v) == 0)
                                ret->io_write_bytes += v;
                }
        }
}

/* cgroup-v1.c: the legacy (and hybrid) hierarchies: memory, blkio, pids, cpu, each with
 * <root>/user-UID (caps), <root>/user-UID/session-ID (leaf), <root>/supervisor.
 *
 * How the policy maps onto v1, where v1 differs from v2:
 * - swap_max: v1 has no swap-only limit, only memory.memsw.limit_in_bytes (memory + swap),
 *   so it gets memory_max + swap_max. Without memory_max that cannot be expressed: treated
 *   as a cap the host cannot apply. Without swap accounting (no memsw files): the same.
 * - memory_high: memory.soft_limit_in_bytes, the nearest v1 has. It is weaker than v2's
 *   memory.high: no throttling, only reclaim pushes the group back towards it when the
 *   host runs short of memory.
 * - TCP buffers: v2 charges them to memory.max; v1 charges them to nothing unless
 *   memory.kmem.tcp.limit_in_bytes was written on the cgroup the socket is made in, and
 *   then to a counter of their own beside memory.limit_in_bytes (without it, 1500 unread
 *   loopback connections queued 2249 MiB under a 128M memory_max). So memory_max is also
 *   the user's TCP limit, and each session leaf gets an unlimited one, which turns the
 *   accounting on there: the charges go up the tree to the user's limit. The kernel still
 *   grants each connection its first buffer over the limit (about 75 KiB per connection
 *   on 6.18), so the count of connections bounds what is left over.
 * - io limits: blkio.throttle.*_device, one "MAJ:MIN value" line each; "max" is written as
 *   0, which removes the rule. v1's blkio throttling is flat, not hierarchical (a limit only
 *   holds the processes of the very cgroup it is set on; measured on this host's 6.18), so
 *   in the blkio hierarchy a session has no leaf: its processes go into user-UID itself,
 *   where the limits are, and all sessions of a user share them as on v2. leaf_path is ""
 *   there (nothing for the init to remove); `isolatectl list` shows the user's I/O bytes.
 * - cpu_weight: cpu.shares, mapped as systemd maps CPUWeight on v1 (100 -> 1024).
 * - cpu_max_percent: cpu.cfs_period_us = 100000, cpu.cfs_quota_us = percent * 1000.
 * - A cap the policy leaves unset is reset to the kernel's default in a user cgroup that an
 *   earlier login made: p is the strictest over the user's live sandboxes (caps.h). */
#include "cgroup-internal.h"

#include <string.h>

#define V1_CPU_PERIOD_US 100000ULL

#define V1_TCP_LIMIT "memory.kmem.tcp.limit_in_bytes"

/* The controllers a session is placed in, in the order their hierarchies are made. */
static const char *const v1_controllers[] = {"memory", "blkio", "pids", "cpu"};
_Static_assert(ELEMENTSOF(v1_controllers) == CG_V1_HIERARCHIES_MAX, "one hierarchy at most each");

/* Writes a cap file; a file the kernel does not offer is a cap the host cannot apply. A
 * reset (a cap the policy leaves unset, back to the kernel's default) is skipped there. */
static int set(struct cg_ctx *ctx, const char *dir, const char *file, const char *value,
               const char *what, bool reset, struct isolate_error *err)
{
        if (!cg_exists(dir, file)) {
                if (reset)
                        return 0;
                return cg_missing(ctx, err, EOPNOTSUPP, "use a kernel built with it",
                                  "cgroup v1: %s/%s does not exist (needed for %s)", dir, file,
                                  what);
        }
        return cg_write(dir, file, value, err);
}

/* memory.limit_in_bytes and memory.memsw.limit_in_bytes must stay memory <= memsw at every
 * step, so the one that is raised goes first. */
static int memory_caps(struct cg_ctx *ctx, const char *dir, bool existed, struct isolate_error *err)
{
        const struct policy *p = ctx->p;
        int r;
        const char *memsw_file = "memory.memsw.limit_in_bytes";
        uint64_t mem = cg_cap_effective(p->memory_max, existed);
        uint64_t swap = cg_cap_effective(p->swap_max, existed);
        uint64_t high = cg_cap_effective(p->memory_high, existed);
        bool have_memsw = cg_exists(dir, memsw_file);
        char mem_s[32] = "", memsw_s[32] = "";
        uint64_t memsw = LIMIT_UNSET;

        if (mem != LIMIT_UNSET)
                cg_limit_str(mem, "-1", mem_s, sizeof(mem_s));
        if (p->swap_max != LIMIT_UNSET && !have_memsw) {
                r = cg_missing(ctx, err, EOPNOTSUPP, "boot the kernel with swapaccount=1",
                               "cgroup v1: swap accounting is off (%s/%s does not exist; "
                               "needed for swap_max)",
                               dir, memsw_file);
                if (r < 0)
                        return r;
        } else if (swap == LIMIT_MAX && have_memsw)
                memsw = LIMIT_MAX;
        else if (swap != LIMIT_UNSET && have_memsw) {
                if (mem == LIMIT_UNSET || mem == LIMIT_MAX) {
                        r = cg_missing(ctx, err, EOPNOTSUPP, "set memory_max too",
                                       "cgroup v1 limits memory + swap together "
                                       "(memory.memsw.limit_in_bytes): swap_max needs "
                                       "memory_max");
                        if (r < 0)
                                return r;
                } else
                        memsw = mem > LIMIT_MAX - 1 - swap ? LIMIT_MAX : mem + swap;
        }
        char cur_s[32];
        uint64_t cur = UINT64_MAX;
        if (cg_read(dir, memsw_file, cur_s, sizeof(cur_s)) > 0)
                (void)safe_atou64(cur_s, &cur);
        uint64_t mem_v = mem == LIMIT_MAX ? UINT64_MAX : mem;
        /* memory above the current memsw limit and nothing to say about swap: lift memsw
         * first or the kernel refuses the new memory limit. */
        if (memsw == LIMIT_UNSET && mem != LIMIT_UNSET && mem_v > cur && have_memsw)
                memsw = LIMIT_MAX;
        if (memsw != LIMIT_UNSET)
                cg_limit_str(memsw, "-1", memsw_s, sizeof(memsw_s));

        if (existed && *mem_s &&
            (r = cg_memory_lower_check(ctx, dir, "memory.usage_in_bytes", "total_", mem,
                                               err)) < 0)
                return r;
        bool memsw_first = *memsw_s && *mem_s && mem_v > cur;
        if (memsw_first && (r = cg_write(dir, memsw_file, memsw_s, err)) < 0)
                return r;
        if (*mem_s && (r = set(ctx, dir, "memory.limit_in_bytes", mem_s, "memory_max",
                               p->memory_max == LIMIT_UNSET, err)) < 0)
                return r;
        if (*memsw_s && !memsw_first && (r = cg_write(dir, memsw_file, memsw_s, err)) < 0)
                return r;
        if (high != LIMIT_UNSET) {
                char v[32];
                cg_limit_str(high, "-1", v, sizeof(v));
                r = set(ctx, dir, "memory.soft_limit_in_bytes", v, "memory_high",
                        p->memory_high == LIMIT_UNSET, err);
                if (r < 0)
                        return r;
        }
        /* socket buffers: see the top of this file */
        if (*mem_s && (r = set(ctx, dir, V1_TCP_LIMIT, mem_s, "memory_max on TCP buffers",
                               p->memory_max == LIMIT_UNSET, err)) < 0)
                return r;
        return 0;
}

/* A session leaf in the memory hierarchy, made before the caller enters it: v1 charges
 * the buffers of a socket only where the tcp limit was written (any value), so the leaf
 * gets "-1", and its charges count against the user's limit above it. */
static int leaf_tcp_accounting(struct cg_ctx *ctx, const char *leaf, struct isolate_error *err)
{
        uint64_t mem = ctx->p->memory_max;
        if (mem == LIMIT_UNSET || mem == LIMIT_MAX || !cg_exists(leaf, V1_TCP_LIMIT))
                return 0; /* a missing file was reported for the user's cgroup */
        return cg_write(leaf, V1_TCP_LIMIT, "-1", err);
}

static const char *const blkio_files[] = {
    "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
    "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};

/* Rules an earlier login left for devices (or keys) this policy does not limit: removed
 * (a rule of 0). */
static int blkio_reset(struct cg_ctx *ctx, const char *dir, size_t k, struct isolate_error *err)
{
        char buf[4096];
        if (cg_read(dir, blkio_files[k], buf, sizeof(buf)) <= 0)
                return 0;
        for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                unsigned ma, mi;
                unsigned long long v;
                if (sscanf(line, "%u:%u %llu", &ma, &mi, &v) != 3 || v == 0)
                        continue;
                bool kept = false;
                for (size_t i = 0; i < ctx->n_io; i++) {
                        const struct cg_io_dev *d = &ctx->io[i];
                        const uint64_t want[] = {d->rbps, d->wbps, d->riops, d->wiops};
                        kept |= d->major == ma && d->minor == mi && want[k] != LIMIT_UNSET;
                }
                if (kept)
                        continue;
                char rule[64];
                snprintf(rule, sizeof(rule), "%u:%u 0", ma, mi);
                int r = cg_write(dir, blkio_files[k], rule, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int blkio_caps(struct cg_ctx *ctx, const char *dir, bool existed, struct isolate_error *err)
{
        int r;
        for (size_t k = 0; existed && k < ELEMENTSOF(blkio_files); k++)
                if ((r = blkio_reset(ctx, dir, k, err)) < 0)
                        return r;
        for (size_t i = 0; i < ctx->n_io; i++) {
                const struct cg_io_dev *d = &ctx->io[i];
                const uint64_t v[] = {d->rbps, d->wbps, d->riops, d->wiops};
                for (size_t k = 0; k < ELEMENTSOF(blkio_files); k++) {
                        if (v[k] == LIMIT_UNSET)
                                continue;
                        char line[64];
                        /* v1: a rule of 0 removes the limit */
                        snprintf(line, sizeof(line), "%u:%u %llu", d->major, d->minor,
                                 v[k] == LIMIT_MAX ? 0ULL : (unsigned long long)v[k]);
                        r = set(ctx, dir, blkio_files[k], line, "io limits", false, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int pids_caps(struct cg_ctx *ctx, const char *dir, bool existed, struct isolate_error *err)
{
        uint64_t v = cg_cap_effective(ctx->p->pids_max, existed);
        if (v == LIMIT_UNSET)
                return 0;
        char s[32];
        cg_limit_str(v, "max", s, sizeof(s));
        return set(ctx, dir, "pids.max", s, "pids_max", ctx->p->pids_max == LIMIT_UNSET, err);
}

uint64_t cgroup_cpu_weight_to_shares(uint64_t weight)
{
        uint64_t s = weight > UINT64_MAX / 1024 ? 262144 : weight * 1024 / 100;
        return s < 2 ? 2 : s > 262144 ? 262144 : s;
}

static int cpu_caps(struct cg_ctx *ctx, const char *dir, bool existed, struct isolate_error *err)
{
        const struct policy *p = ctx->p;
        int r;
        uint64_t percent = cg_cap_effective(p->cpu_max_percent, existed);
        bool reset = p->cpu_max_percent == LIMIT_UNSET;
        if (percent != LIMIT_UNSET) {
                char period[32], quota[32];
                snprintf(period, sizeof(period), "%llu", V1_CPU_PERIOD_US);
                if (percent == LIMIT_MAX ||
                    percent > (uint64_t)INT64_MAX / (V1_CPU_PERIOD_US / 100))
                        snprintf(quota, sizeof(quota), "-1");
                else
                        snprintf(quota, sizeof(quota), "%llu",
                                 (unsigned long long)(percent * (V1_CPU_PERIOD_US / 100)));
                r = set(ctx, dir, "cpu.cfs_period_us", period, "cpu_max_percent", reset, err);
                if (r < 0)
                        return r;
                if (cg_exists(dir, "cpu.cfs_period_us") &&
                    (r = set(ctx, dir, "cpu.cfs_quota_us", quota, "cpu_max_percent", reset, err)) <
                        0)
                        return r;
        }
        /* the default weight, 100, is the default 1024 shares */
        uint64_t weight = p->cpu_weight == LIMIT_UNSET && existed ? 100 : p->cpu_weight;
        if (weight != LIMIT_UNSET) {
                char v[32];
                snprintf(v, sizeof(v), "%llu",
                         (unsigned long long)cgroup_cpu_weight_to_shares(weight));
                r = set(ctx, dir, "cpu.shares", v, "cpu_weight", p->cpu_weight == LIMIT_UNSET, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The blkio hierarchy: sessions share user-UID there (see the top of this file). */
static bool flat_throttle(const struct cg_mount *m)
{
        char ctl[sizeof(m->controllers) + 2];
        snprintf(ctl, sizeof(ctl), ",%s,", m->controllers);
        return strstr(ctl, ",blkio,") != NULL;
}

static const char *basename_of(const char *path)
{
        const char *b = strrchr(path, '/');
        return b ? b + 1 : path;
}

static int caps_of(struct cg_ctx *ctx, const char *ctl, const char *dir, bool existed,
                   struct isolate_error *err)
{
        if (STREQ(ctl, "memory"))
                return memory_caps(ctx, dir, existed, err);
        if (STREQ(ctl, "blkio"))
                return blkio_caps(ctx, dir, existed, err);
        if (STREQ(ctl, "pids"))
                return pids_caps(ctx, dir, existed, err);
        return cpu_caps(ctx, dir, existed, err);
}

int cg_v1_caps_set(struct cg_ctx *ctx, const struct cgroup_hierarchy *h, struct isolate_error *err)
{
        char list[sizeof(h->controllers) + 2];
        snprintf(list, sizeof(list), ",%s,", h->controllers);
        for (size_t k = 0; k < ELEMENTSOF(v1_controllers); k++) {
                char word[32];
                snprintf(word, sizeof(word), ",%s,", v1_controllers[k]);
                if (!strstr(list, word))
                        continue;
                int r = caps_of(ctx, v1_controllers[k], h->user_path, true, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

size_t cg_v1_hierarchies(const struct cg_mount *mounts, size_t n_mounts,
                         const struct cg_mount **ret)
{
        size_t nh = 0;
        for (size_t i = 0; i < ELEMENTSOF(v1_controllers); i++) {
                const struct cg_mount *m = cg_mount_v1(mounts, n_mounts, v1_controllers[i]);
                bool dup = !m;
                for (size_t k = 0; k < nh; k++)
                        dup |= ret[k] == m;
                if (!dup)
                        ret[nh++] = m;
        }
        return nh;
}

/* The session's paths in hierarchy m, whose <root> is root, and how the init mounts it. */
static int v1_paths(const struct cg_mount *m, const char *root, uid_t uid, const char *session_id,
                    struct cgroup_hierarchy *h, struct isolate_error *err)
{
        int r = cg_session_paths(root, uid, session_id, h, err);
        if (r < 0)
                return r;
        if (flat_throttle(m))
                memset(h->leaf_path, 0, sizeof(h->leaf_path));
        snprintf(h->controllers, sizeof(h->controllers), "%s", m->controllers);
        snprintf(h->mount_type, sizeof(h->mount_type), "cgroup");
        snprintf(h->mount_options, sizeof(h->mount_options), "%s", m->options);
        snprintf(h->mount_name, sizeof(h->mount_name), "%s", basename_of(m->point));
        return 0;
}

/* The unified hierarchy of a hybrid host holds no controller of ours, but cgroup BPF
 * (egress_allow) attaches there only: a session with it gets a leaf there too, mounted at
 * /sys/fs/cgroup/unified inside. */
static int unified_paths(const struct cg_mount *m, const char *root, uid_t uid,
                         const char *session_id, struct cgroup_hierarchy *h,
                         struct isolate_error *err)
{
        int r = cg_session_paths(root, uid, session_id, h, err);
        if (r < 0)
                return r;
        h->controllers[0] = '\0';
        snprintf(h->mount_type, sizeof(h->mount_type), "cgroup2");
        snprintf(h->mount_options, sizeof(h->mount_options), "%s", m->options);
        snprintf(h->mount_name, sizeof(h->mount_name), "unified");
        return 0;
}

int cg_v1_plan(const struct cg_mount *mounts, size_t n_mounts, const char *cfg_root, uid_t uid,
               const char *session_id, struct cgroup_session *ret, struct isolate_error *err)
{
        ret->backend = CGROUP_BACKEND_V1;
        const struct cg_mount *hs[CG_V1_HIERARCHIES_MAX + 1];
        size_t nh = cg_v1_hierarchies(mounts, n_mounts, hs);
        /* the unified leaf is made only for egress_allow; planned always (removing a leaf
         * that was never made is no error) */
        const struct cg_mount *u = cg_mount_v2(mounts, n_mounts);
        if (u)
                hs[nh++] = u;
        for (size_t i = 0; i < nh && i < CGROUP_MAX_HIERARCHIES; i++) {
                char root[PATH_MAX];
                int r = cg_root_path(cfg_root, hs[i], root, sizeof(root), NULL, err);
                if (r >= 0)
                        r = hs[i]->unified
                                ? unified_paths(hs[i], root, uid, session_id, &ret->h[ret->n], err)
                                : v1_paths(hs[i], root, uid, session_id, &ret->h[ret->n], err);
                if (r < 0)
                        return r;
                ret->n++;
        }
        return 0;
}

static int unified_leaf_make(struct cg_ctx *ctx, struct cgroup_session *ret,
                             struct isolate_error *err)
{
        const struct cg_mount *u = cg_mount_v2(ctx->mounts, ctx->n_mounts);
        if (!u) {
                error_set(err, EOPNOTSUPP,
                          "policy '%s': egress_allow needs the cgroup2 hierarchy (cgroup BPF "
                          "attaches there only) and none is mounted: mkdir -p "
                          "/sys/fs/cgroup/unified && mount -t cgroup2 cgroup2 "
                          "/sys/fs/cgroup/unified",
                          ctx->p->name ? ctx->p->name : "?");
                return error_host_fault(err);
        }
        if (ret->n >= CGROUP_MAX_HIERARCHIES)
                return error_set(err, E2BIG, "too many cgroup hierarchies");
        struct cgroup_hierarchy *h = &ret->h[ret->n];
        char root[PATH_MAX];
        int r = cg_root_make(ctx, u, root, sizeof(root), err);
        if (r >= 0)
                r = unified_paths(u, root, ctx->uid, ctx->session_id, h, err);
        if (r >= 0)
                r = cg_mkdir(ctx, h->user_path, err);
        if (r >= 0)
                r = cg_leaf_mkdir(ctx, h->leaf_path, err);
        if (r >= 0)
                r = cg_mkdir(ctx, h->supervisor_path, err);
        if (r < 0)
                return r;
        ret->n++;
        return 0;
}

int cg_v1_create(struct cg_ctx *ctx, struct cgroup_session *ret, struct isolate_error *err)
{
        ret->backend = CGROUP_BACKEND_V1;
        int r;
        for (size_t i = 0; i < ELEMENTSOF(v1_controllers); i++) {
                const char *ctl = v1_controllers[i];
                if (cg_mount_v1(ctx->mounts, ctx->n_mounts, ctl) || !cg_policy_needs(ctx, ctl))
                        continue;
                char fix[256];
                snprintf(fix, sizeof(fix),
                         "mount it: mkdir -p /sys/fs/cgroup/%s && mount -t cgroup -o %s "
                         "cgroup /sys/fs/cgroup/%s",
                         ctl, ctl, ctl);
                r = cg_missing(ctx, err, EOPNOTSUPP, fix,
                               "cgroup v1: no %s hierarchy is mounted (needed for %s)", ctl,
                               cg_needed_for(ctl));
                if (r < 0)
                        return r;
        }
        const struct cg_mount *hs[CG_V1_HIERARCHIES_MAX];
        size_t nh = cg_v1_hierarchies(ctx->mounts, ctx->n_mounts, hs);
        if (nh > CGROUP_MAX_HIERARCHIES)
                return error_set(err, E2BIG, "too many cgroup hierarchies");

        for (size_t i = 0; i < nh; i++) {
                const struct cg_mount *m = hs[i];
                struct cgroup_hierarchy *h = &ret->h[ret->n];
                char root[PATH_MAX];
                r = cg_root_make(ctx, m, root, sizeof(root), err);
                if (r < 0)
                        return r;
                r = v1_paths(m, root, ctx->uid, ctx->session_id, h, err);
                if (r < 0)
                        return r;
                r = cg_mkdir(ctx, h->user_path, err);
                if (r < 0)
                        return r;
                bool existed = r == 1;
                for (size_t k = 0; k < ELEMENTSOF(v1_controllers); k++) {
                        const char *ctl = v1_controllers[k];
                        if (cg_mount_v1(ctx->mounts, ctx->n_mounts, ctl) != m ||
                            (!cg_policy_needs(ctx, ctl) && !existed))
                                continue;
                        r = caps_of(ctx, ctl, h->user_path, existed, err);
                        if (r < 0)
                                return r;
                }
                if (*h->leaf_path) {
                        if (ctx->gc_due)
                                (void)cg_gc_user_dir(h->user_path, ctx->is_live, ctx->data, NULL,
                                                     NULL);
                        r = cg_leaf_mkdir(ctx, h->leaf_path, err);
                        if (r < 0)
                                return r;
                        if (cg_mount_v1(ctx->mounts, ctx->n_mounts, "memory") == m &&
                            (r = leaf_tcp_accounting(ctx, h->leaf_path, err)) < 0)
                                return r;
                }
                r = cg_mkdir(ctx, h->supervisor_path, err);
                if (r < 0)
                        return r;
                ret->n++;
        }
        return ctx->p->egress.filtered ? unified_leaf_make(ctx, ret, err) : 0;
}

/* Sums "MAJ:MIN Read N" and "MAJ:MIN Write N" lines of a blkio stat file. */
static void blkio_bytes(const char *dir, struct cgroup_usage *ret)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/blkio.throttle.io_service_bytes_recursive", dir);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f) {
                snprintf(path, sizeof(path), "%s/blkio.throttle.io_service_bytes", dir);
                f = fopen(path, "re");
        }
        if (!f)
                return;
        char dev[64], op[32];
        unsigned long long v;
        char line[256];
        while (fgets(line, sizeof(line), f)) {
                if (sscanf(line, "%63s %31s %llu", dev, op, &v) != 3)
                        continue;
                if (STREQ(op, "Read"))
                        ret->io_read_bytes += v;
                else if (STREQ(op, "Write"))
                        ret->io_write_bytes += v;
        }
}

void cg_v1_usage(const struct cgroup_hierarchy *h, const char *dir, struct cgroup_usage *ret)
{
        char ctl[sizeof(h->controllers)];
        snprintf(ctl, sizeof(ctl), ",%s,", h->controllers);
        if (strstr(ctl, ",memory,")) {
                ret->memory_current = cg_read_u64(dir, "memory.usage_in_bytes");
                ret->memory_peak = cg_read_u64(dir, "memory.max_usage_in_bytes");
        }
        if (strstr(ctl, ",blkio,"))
                blkio_bytes(dir, ret);
        if (strstr(ctl, ",pids,"))
                ret->tasks = cg_read_u64(dir, "pids.current");
}

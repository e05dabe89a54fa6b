/* cgroup-systemd.c: systemd as PID 1 owns the cgroup tree. The user's caps go on
 * user-UID.slice with SetUnitProperties(runtime=true) over the system bus; the session is
 * the caller's scope that pam_systemd made (session-N.scope). Nothing is ever created in,
 * written to, moved into or out of, or removed from systemd's cgroups: no
 * StartTransientUnit, no leaf, no supervisor cgroup (the init stays in the scope).
 *
 * D-Bus types, as org.freedesktop.systemd1(5) documents them: MemoryMax, MemoryHigh,
 * MemorySwapMax, TasksMax, CPUQuotaPerSecUSec, CPUWeight are "t" (UINT64_MAX = infinity;
 * CPUQuotaPerSecUSec is CPU time per second of wall time: 100% = 1000000);
 * IO{Read,Write}{Bandwidth,IOPS}Max are "a(st)" (device path, value; UINT64_MAX = no
 * limit). SetUnitProperties appends to an array property, so each one we set is first
 * reset with an empty array, then given the policy's entries. */
#include "cgroup-internal.h"

#include <string.h>
#include "sd-bus-dl.h"

static char *g_bus_address; /* NULL: the system bus */

void cgroup_set_system_bus_address(const char *address)
{
        free(g_bus_address);
        g_bus_address = address ? strdup(address) : NULL;
}

static void bus_unref(sd_bus **b)
{
        if (*b)
                sd_bus_flush_close_unref(*b);
}
static void msg_unref(sd_bus_message **m)
{
        if (*m)
                sd_bus_message_unref(*m);
}

static int bus_open(sd_bus **ret)
{
        const char *address = g_bus_address;
        if (!address)
                return sd_bus_open_system(ret); /* honours DBUS_SYSTEM_BUS_ADDRESS */
        sd_bus *b = NULL;
        int r = sd_bus_new(&b);
        if (r < 0)
                return r;
        if ((r = sd_bus_set_address(b, address)) < 0 || (r = sd_bus_set_bus_client(b, 1)) < 0 ||
            (r = sd_bus_start(b)) < 0) {
                sd_bus_unref(b);
                return r;
        }
        *ret = b;
        return 0;
}

static uint64_t bus_limit(uint64_t v)
{
        return v == LIMIT_MAX ? UINT64_MAX : v;
}

static int append_scalar(sd_bus_message *m, const char *name, uint64_t v, int *count)
{
        if (v == LIMIT_UNSET)
                return 0;
        (*count)++;
        return sd_bus_message_append(m, "(sv)", name, "t", bus_limit(v));
}

/* One IO*Max property: an empty array (reset), then the entries for every disk. */
static int append_io(sd_bus_message *m, const char *name, const struct cg_ctx *ctx, size_t field,
                     int *count)
{
        bool any = false;
        for (size_t i = 0; i < ctx->n_io; i++) {
                const uint64_t v[] = {ctx->io[i].rbps, ctx->io[i].wbps, ctx->io[i].riops,
                                      ctx->io[i].wiops};
                any |= v[field] != LIMIT_UNSET;
        }
        if (!any)
                return 0;
        (*count)++;
        int r = sd_bus_message_append(m, "(sv)", name, "a(st)", 0);
        if (r < 0)
                return r;
        if ((r = sd_bus_message_open_container(m, 'r', "sv")) < 0 ||
            (r = sd_bus_message_append(m, "s", name)) < 0 ||
            (r = sd_bus_message_open_container(m, 'v', "a(st)")) < 0 ||
            (r = sd_bus_message_open_container(m, 'a', "(st)")) < 0)
                return r;
        for (size_t i = 0; i < ctx->n_io; i++) {
                const struct cg_io_dev *d = &ctx->io[i];
                const uint64_t v[] = {d->rbps, d->wbps, d->riops, d->wiops};
                if (v[field] == LIMIT_UNSET)
                        continue;
                char path[64];
                /* the whole disk we resolved; systemd maps the node back to MAJ:MIN */
                snprintf(path, sizeof(path), "/dev/block/%u:%u", d->major, d->minor);
                if ((r = sd_bus_message_append(m, "(st)", path, bus_limit(v[field]))) < 0)
                        return r;
        }
        if ((r = sd_bus_message_close_container(m)) < 0 ||
            (r = sd_bus_message_close_container(m)) < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int build_properties(sd_bus_message *m, const struct cg_ctx *ctx, int *count)
{
        const struct policy *p = ctx->p;
        int r;
        uint64_t quota = LIMIT_UNSET;
        if (p->cpu_max_percent == LIMIT_MAX ||
            (p->cpu_max_percent != LIMIT_UNSET && p->cpu_max_percent > UINT64_MAX / 20000))
                quota = LIMIT_MAX;
        else if (p->cpu_max_percent != LIMIT_UNSET)
                quota = p->cpu_max_percent * 10000; /* usec of CPU per second */
        if ((r = sd_bus_message_open_container(m, 'a', "(sv)")) < 0 ||
            (r = append_scalar(m, "MemoryMax", p->memory_max, count)) < 0 ||
            (r = append_scalar(m, "MemoryHigh", p->memory_high, count)) < 0 ||
            (r = append_scalar(m, "MemorySwapMax", p->swap_max, count)) < 0 ||
            (r = append_scalar(m, "TasksMax", p->pids_max, count)) < 0 ||
            (r = append_scalar(m, "CPUQuotaPerSecUSec", quota, count)) < 0 ||
            (r = append_scalar(m, "CPUWeight", p->cpu_weight, count)) < 0 ||
            (r = append_io(m, "IOReadBandwidthMax", ctx, 0, count)) < 0 ||
            (r = append_io(m, "IOWriteBandwidthMax", ctx, 1, count)) < 0 ||
            (r = append_io(m, "IOReadIOPSMax", ctx, 2, count)) < 0 ||
            (r = append_io(m, "IOWriteIOPSMax", ctx, 3, count)) < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* Sends the caps; 0 when applied or nothing to send, else the missing-cap rule. */
static int set_unit_properties(struct cg_ctx *ctx, const char *unit, struct isolate_error *err)
{
        _cleanup_(bus_unref) sd_bus *bus = NULL;
        _cleanup_(msg_unref) sd_bus_message *m = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *fix = "check that systemd runs and that the user's slice exists";
        int count = 0;
        const struct policy *p = ctx->p;
        if (p->memory_max == LIMIT_UNSET && p->memory_high == LIMIT_UNSET &&
            p->swap_max == LIMIT_UNSET && p->pids_max == LIMIT_UNSET &&
            p->cpu_max_percent == LIMIT_UNSET && p->cpu_weight == LIMIT_UNSET && ctx->n_io == 0)
                return 0; /* nothing to set: no need for systemd at all */
        struct isolate_error dl_err = {0};
        if (!sd_bus_dl_get(&dl_err))
                return cg_missing(ctx, err, -ENOENT, fix, "systemd: %s", dl_err.msg);
        int r = bus_open(&bus);
        if (r < 0)
                return cg_missing(ctx, err, r, fix, "systemd: cannot connect to the system bus: %s",
                                  strerror(-r));
        r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1",
                                           "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "SetUnitProperties");
        if (r >= 0)
                r = sd_bus_message_append(m, "sb", unit, 1);
        if (r >= 0)
                r = build_properties(m, ctx, &count);
        if (r < 0)
                return error_set_errno(err, r, "systemd: cannot build SetUnitProperties(%s)", unit);
        if (count == 0)
                return 0;
        uint64_t timeout_us = ctx->c && ctx->c->helper_timeout_ms
                                  ? (uint64_t)ctx->c->helper_timeout_ms * 1000 / 2
                                  : 5000000;
        r = sd_bus_call(bus, m, timeout_us, &e, NULL);
        if (r < 0) {
                r = cg_missing(ctx, err, r, fix, "systemd: SetUnitProperties(%s) failed: %s", unit,
                               e.message ? e.message : strerror(-r));
                sd_bus_error_free(&e);
                return r;
        }
        sd_bus_error_free(&e);
        return 0;
}

int cg_systemd_caps_set(struct cg_ctx *ctx, struct isolate_error *err)
{
        char unit[64];
        snprintf(unit, sizeof(unit), "user-%u.slice", (unsigned)ctx->uid);
        return set_unit_properties(ctx, unit, err);
}

/* Whether the path (from the hierarchy's root) has a component named unit. */
static bool path_has_component(const char *path, const char *unit)
{
        size_t n = strlen(unit);
        for (const char *p = path; (p = strstr(p, unit)); p += n)
                if (p > path && p[-1] == '/' && (p[n] == '\0' || p[n] == '/'))
                        return true;
        return false;
}

static int fill_hierarchy(const struct cg_mount *m, pid_t caller, struct cgroup_hierarchy *h)
{
        char rel[PATH_MAX];
        if (cg_pid_cgroup(caller, m, rel, sizeof(rel)) < 0 ||
            cg_fs_path(m, rel, h->scope_path, sizeof(h->scope_path)) < 0)
                h->scope_path[0] = '\0';
        snprintf(h->controllers, sizeof(h->controllers), "%s", m->controllers);
        snprintf(h->mount_type, sizeof(h->mount_type), "%s", m->unified ? "cgroup2" : "cgroup");
        snprintf(h->mount_options, sizeof(h->mount_options), "%s", m->options);
        const char *b = strrchr(m->point, '/');
        snprintf(h->mount_name, sizeof(h->mount_name), "%s",
                 m->unified ? ""
                 : b        ? b + 1
                            : m->point);
        return 0;
}

int cg_systemd_create(struct cg_ctx *ctx, struct cgroup_session *ret, struct isolate_error *err)
{
        ret->backend = CGROUP_BACKEND_SYSTEMD;
        /* Where systemd tracks units: the unified tree, or name=systemd on legacy hosts. */
        const struct cg_mount *u = cg_mount_v2(ctx->mounts, ctx->n_mounts);
        const struct cg_mount *track = u && u->at_top ? u : NULL;
        for (size_t i = 0; !track && i < ctx->n_mounts; i++)
                if (!ctx->mounts[i].unified &&
                    cg_controllers_equal(ctx->mounts[i].controllers, "name=systemd"))
                        track = &ctx->mounts[i];
        if (!track)
                track = u;
        if (!track)
                return error_set(err, EOPNOTSUPP, "systemd: no cgroup hierarchy is mounted");

        char unit[64], rel[PATH_MAX];
        snprintf(unit, sizeof(unit), "user-%u.slice", (unsigned)ctx->uid);
        pid_t caller = ctx->caller_pid > 0 ? ctx->caller_pid : getpid();
        int r = cg_pid_cgroup(caller, track, rel, sizeof(rel));
        if (r < 0)
                return error_set_errno(err, r, "systemd: cannot read the cgroup of pid %d",
                                       (int)caller);
        if (!path_has_component(rel, unit)) {
                r = cg_missing(ctx, err, EOPNOTSUPP,
                               "put pam_systemd.so in the session stack before pam_isolate.so",
                               "systemd: the caller (pid %d) is in %s, not under %s, so the "
                               "user's caps cannot be applied",
                               (int)caller, rel, unit);
                if (r < 0)
                        return r;
        } else if ((r = set_unit_properties(ctx, unit, err)) < 0)
                return r;

        /* What the init mounts inside: the hierarchies the session is in. */
        if (track->unified)
                fill_hierarchy(track, caller, &ret->h[ret->n++]);
        else {
                static const char *const ctl[] = {"memory", "blkio", "pids", "cpu"};
                for (size_t i = 0; i < ELEMENTSOF(ctl); i++) {
                        const struct cg_mount *m = cg_mount_v1(ctx->mounts, ctx->n_mounts, ctl[i]);
                        bool dup = false;
                        for (size_t k = 0; k < ret->n; k++)
                                dup |= cg_controllers_equal(ret->h[k].controllers,
                                                            m ? m->controllers : "");
                        if (m && !dup && ret->n < CGROUP_MAX_HIERARCHIES)
                                fill_hierarchy(m, caller, &ret->h[ret->n++]);
                }
        }
        return 0;
}

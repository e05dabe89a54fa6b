/* cgroup-systemd.c: systemd as PID 1 owns the cgroup tree. The user's caps go on
 * user-UID.slice with SetUnitProperties(runtime=true) over the system bus; a login's session
 * is the caller's scope that pam_systemd made (session-N.scope). Nothing is ever created in,
 * written to, moved into or out of, or removed from systemd's cgroups by us: no leaf, no
 * supervisor cgroup. A login-scope sandbox's init stays in the login's scope.
 *
 * A user-scope sandbox outlives the login that built it, so its init must not be in that
 * login's scope, which logind stops when the login ends (KillUserProcesses=yes, `loginctl
 * terminate-session`): StartTransientUnit puts it in a scope unit of ours,
 * isolate-ID.scope in user-UID.slice (under the user's caps), which systemd removes once
 * the init and everything it forked are gone (CollectMode=inactive-or-failed). Each login's
 * own processes stay in its session-N.scope, where logind tracks them.
 *
 * D-Bus types, as org.freedesktop.systemd1(5) documents them: MemoryMax, MemoryHigh,
 * MemorySwapMax, TasksMax, CPUQuotaPerSecUSec, CPUWeight are "t" (UINT64_MAX = infinity;
 * CPUQuotaPerSecUSec is CPU time per second of wall time: 100% = 1000000);
 * IO{Read,Write}{Bandwidth,IOPS}Max are "a(st)" (device path, value; UINT64_MAX = no
 * limit). SetUnitProperties appends to an array property, so each one we set is first
 * reset with an empty array, then given the policy's entries. StartTransientUnit(name,
 * mode, a(sv) properties, a(sa(sv)) aux): Slice "s", Description "s", PIDs "au",
 * CollectMode "s". */
#include "cgroup-internal.h"

#include <string.h>
#include <time.h>
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

#define BUS_FIX "check that systemd runs and that the user's slice exists"

/* The system bus and a new call of the manager's method: 1, or the missing-cap rule (0
 * warned, -errno) naming fix. */
static int bus_method(struct cg_ctx *ctx, const char *member, const char *fix, sd_bus **ret_bus,
                      sd_bus_message **ret_m, struct isolate_error *err)
{
        struct isolate_error dl_err = {0};
        if (!sd_bus_dl_get(&dl_err))
                return cg_missing(ctx, err, -ENOENT, fix, "systemd: %s", dl_err.msg);
        int r = bus_open(ret_bus);
        if (r < 0)
                return cg_missing(ctx, err, r, fix,
                                  "systemd: cannot connect to the system bus: %s", strerror(-r));
        r = sd_bus_message_new_method_call(*ret_bus, ret_m, "org.freedesktop.systemd1",
                                           "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", member);
        if (r < 0)
                return error_set_errno(err, r, "systemd: cannot build %s", member);
        return 1;
}

/* Sends m: 1 done, or the missing-cap rule (0 warned, -errno) naming what (e.g.
 * "SetUnitProperties(unit)") and fix. */
static int bus_send(struct cg_ctx *ctx, sd_bus *bus, sd_bus_message *m, const char *what,
                    const char *fix, struct isolate_error *err)
{
        sd_bus_error e = SD_BUS_ERROR_NULL;
        uint64_t timeout_us = ctx->c && ctx->c->helper_timeout_ms
                                  ? (uint64_t)ctx->c->helper_timeout_ms * 1000 / 2
                                  : 5000000;
        int r = sd_bus_call(bus, m, timeout_us, &e, NULL);
        if (r < 0)
                r = cg_missing(ctx, err, r, fix, "systemd: %s failed: %s", what,
                               e.message ? e.message : strerror(-r));
        else
                r = 1;
        sd_bus_error_free(&e);
        return r;
}

/* Sends the caps; 0 when applied or nothing to send, else the missing-cap rule. */
static int set_unit_properties(struct cg_ctx *ctx, const char *unit, struct isolate_error *err)
{
        _cleanup_(bus_unref) sd_bus *bus = NULL;
        _cleanup_(msg_unref) sd_bus_message *m = NULL;
        int count = 0;
        const struct policy *p = ctx->p;
        if (p->memory_max == LIMIT_UNSET && p->memory_high == LIMIT_UNSET &&
            p->swap_max == LIMIT_UNSET && p->pids_max == LIMIT_UNSET &&
            p->cpu_max_percent == LIMIT_UNSET && p->cpu_weight == LIMIT_UNSET && ctx->n_io == 0)
                return 0; /* nothing to set: no need for systemd at all */
        int r = bus_method(ctx, "SetUnitProperties", BUS_FIX, &bus, &m, err);
        if (r <= 0)
                return r;
        r = sd_bus_message_append(m, "sb", unit, 1);
        if (r >= 0)
                r = build_properties(m, ctx, &count);
        if (r < 0)
                return error_set_errno(err, r, "systemd: cannot build SetUnitProperties(%s)", unit);
        if (count == 0)
                return 0;
        char what[96];
        snprintf(what, sizeof(what), "SetUnitProperties(%s)", unit);
        r = bus_send(ctx, bus, m, what, BUS_FIX, err);
        return r < 0 ? r : 0;
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

/* Where systemd tracks units: the unified tree, or name=systemd on legacy hosts. */
static const struct cg_mount *track_mount(const struct cg_ctx *ctx)
{
        const struct cg_mount *u = cg_mount_v2(ctx->mounts, ctx->n_mounts);
        if (u && u->at_top)
                return u;
        for (size_t i = 0; i < ctx->n_mounts; i++)
                if (!ctx->mounts[i].unified &&
                    cg_controllers_equal(ctx->mounts[i].controllers, "name=systemd"))
                        return &ctx->mounts[i];
        return u;
}

/* What the init mounts inside: the hierarchies pid is in (scope_path: its cgroup there). */
static void fill_hierarchies(const struct cg_ctx *ctx, const struct cg_mount *track, pid_t pid,
                             struct cgroup_session *ret)
{
        ret->n = 0;
        if (track->unified) {
                fill_hierarchy(track, pid, &ret->h[ret->n++]);
                return;
        }
        static const char *const ctl[] = {"memory", "blkio", "pids", "cpu"};
        for (size_t i = 0; i < ELEMENTSOF(ctl); i++) {
                const struct cg_mount *m = cg_mount_v1(ctx->mounts, ctx->n_mounts, ctl[i]);
                bool dup = false;
                for (size_t k = 0; k < ret->n; k++)
                        dup |= cg_controllers_equal(ret->h[k].controllers, m ? m->controllers : "");
                if (m && !dup && ret->n < CGROUP_MAX_HIERARCHIES)
                        fill_hierarchy(m, pid, &ret->h[ret->n++]);
        }
}

/* The uid of the first user-UID.slice component of path; -1 when it has none. */
static long slice_uid(const char *path)
{
        for (const char *c = path; (c = strstr(c, "/user-")); c++) {
                const char *d = c + strlen("/user-");
                uint64_t v = 0;
                size_t n = 0;
                for (; d[n] >= '0' && d[n] <= '9' && v <= UINT32_MAX; n++)
                        v = v * 10 + (uint64_t)(d[n] - '0');
                if (n > 0 && v <= UINT32_MAX && strncmp(d + n, ".slice", 6) == 0 &&
                    (d[n + 6] == '/' || d[n + 6] == '\0'))
                        return (long)v;
        }
        return -1;
}

/* Whether a login's caller (and so everything the login forks) is where the user's caps
 * apply: under user-UID.slice. 1 when it is; else the caller is outside them, and:
 * - in another user's slice (user-N.slice), it is a login started inside that user's
 *   session: su, above all from root's own ssh login, for which pam_systemd makes no session
 *   (the caller already is in one), so su stays in that session's scope. Refused whatever
 *   caps_required says, as the user's doing, not the host's (no fail = open): the caps would
 *   not hold, egress_allow's programs would attach to that other user's session scope, and
 *   in a user-scope sandbox the user's code (same uid, same pid namespace) could ptrace the
 *   login's processes and run outside the caps through them;
 * - anywhere else (system.slice: pam_systemd missing from the stack), the host's setup is
 *   at fault: the missing-cap rule (0 warned, or -errno with caps_required).
 * what names the login for the message ("the login", "joining sandbox ID"). */
static int caller_placed(struct cg_ctx *ctx, const struct cg_mount *track, pid_t caller,
                         const char *what, struct isolate_error *err)
{
        char unit[64], rel[PATH_MAX];
        snprintf(unit, sizeof(unit), "user-%u.slice", (unsigned)ctx->uid);
        int r = cg_pid_cgroup(caller, track, rel, sizeof(rel));
        if (r < 0)
                return error_set_errno(err, r, "systemd: cannot read the cgroup of pid %d",
                                       (int)caller);
        if (path_has_component(rel, unit))
                return 1;
        long other = slice_uid(rel);
        if (other >= 0)
                return error_set(err, EPERM,
                                 "systemd: the caller (pid %d) is in %s, not under %s: a login "
                                 "started inside the session of uid %ld (su from that "
                                 "session) stays in that session's scope, where the caps of "
                                 "uid %u would not apply, so %s is refused; log in as that "
                                 "user directly (ssh, login, machinectl shell USER@), which "
                                 "gives the login a session of its own under %s",
                                 (int)caller, rel, unit, other, (unsigned)ctx->uid, what, unit);
        r = cg_missing(ctx, err, EOPNOTSUPP,
                       "put pam_systemd.so in the session stack before pam_isolate.so",
                       "systemd: the caller (pid %d) is in %s, not under %s, so the "
                       "user's caps cannot be applied",
                       (int)caller, rel, unit);
        return r < 0 ? r : 0;
}

int cg_systemd_create(struct cg_ctx *ctx, struct cgroup_session *ret, struct isolate_error *err)
{
        ret->backend = CGROUP_BACKEND_SYSTEMD;
        const struct cg_mount *track = track_mount(ctx);
        if (!track)
                return error_set(err, EOPNOTSUPP, "systemd: no cgroup hierarchy is mounted");

        char unit[64];
        snprintf(unit, sizeof(unit), "user-%u.slice", (unsigned)ctx->uid);
        pid_t caller = ctx->caller_pid > 0 ? ctx->caller_pid : getpid();
        int r = caller_placed(ctx, track, caller, "the login", err);
        if (r < 0)
                return r;
        if (r > 0 && (r = set_unit_properties(ctx, unit, err)) < 0)
                return r;
        fill_hierarchies(ctx, track, caller, ret);
        return 0;
}

int cg_systemd_caller_check(struct cg_ctx *ctx, pid_t caller, const char *what,
                            struct isolate_error *err)
{
        const struct cg_mount *track = track_mount(ctx);
        if (!track)
                return error_set(err, EOPNOTSUPP, "systemd: no cgroup hierarchy is mounted");
        int r = caller_placed(ctx, track, caller, what, err);
        return r < 0 ? r : 0;
}

#define UNIT_FIX                                                                          \
        "check that systemd runs; until then the sandbox stays in this login's session scope, " \
        "which logind may stop when this login ends"

/* Starts unit with pid in it, in the user's slice. 1 started, 0 warned, or -errno. */
static int unit_start(struct cg_ctx *ctx, const char *unit, pid_t pid, struct isolate_error *err)
{
        _cleanup_(bus_unref) sd_bus *bus = NULL;
        _cleanup_(msg_unref) sd_bus_message *m = NULL;
        char slice[64], description[128];
        snprintf(slice, sizeof(slice), "user-%u.slice", (unsigned)ctx->uid);
        snprintf(description, sizeof(description), "isolate sandbox %s of uid %u (policy %s)",
                 ctx->session_id, (unsigned)ctx->uid, ctx->p->name ? ctx->p->name : "?");
        int r = bus_method(ctx, "StartTransientUnit", UNIT_FIX, &bus, &m, err);
        if (r <= 0)
                return r;
        if ((r = sd_bus_message_append(m, "ss", unit, "fail")) < 0 ||
            (r = sd_bus_message_open_container(m, 'a', "(sv)")) < 0 ||
            (r = sd_bus_message_append(m, "(sv)", "Description", "s", description)) < 0 ||
            (r = sd_bus_message_append(m, "(sv)", "Slice", "s", slice)) < 0 ||
            (r = sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t)pid)) < 0 ||
            (r = sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed")) < 0 ||
            (r = sd_bus_message_close_container(m)) < 0 ||
            (r = sd_bus_message_append(m, "a(sa(sv))", 0)) < 0)
                return error_set_errno(err, r, "systemd: cannot build StartTransientUnit(%s)",
                                       unit);
        char what[96];
        snprintf(what, sizeof(what), "StartTransientUnit(%s)", unit);
        return bus_send(ctx, bus, m, what, UNIT_FIX, err);
}

int cg_systemd_unit_start(struct cg_ctx *ctx, pid_t pid, struct cgroup_session *s,
                          struct isolate_error *err)
{
        const struct cg_mount *track = track_mount(ctx);
        if (!track)
                return error_set(err, EOPNOTSUPP, "systemd: no cgroup hierarchy is mounted");
        char unit[96], rel[PATH_MAX];
        snprintf(unit, sizeof(unit), "isolate-%s.scope", ctx->session_id);
        int r = unit_start(ctx, unit, pid, err);
        if (r <= 0)
                return r;
        /* systemd moves pid when the job runs, just after it answered: wait for that, so
         * that the cgroup namespace the init makes next is rooted in the unit */
        uint64_t timeout_ms = ctx->c && ctx->c->helper_timeout_ms ? ctx->c->helper_timeout_ms / 2
                                                                  : 5000;
        for (uint64_t waited_us = 0;; waited_us += 1000) {
                r = cg_pid_cgroup(pid, track, rel, sizeof(rel));
                if (r < 0)
                        return error_set_errno(err, r, "systemd: cannot read the cgroup of pid %d",
                                               (int)pid);
                if (path_has_component(rel, unit))
                        break;
                if (waited_us / 1000 >= timeout_ms)
                        return cg_missing(ctx, err, ETIMEDOUT, UNIT_FIX,
                                          "systemd: pid %d is still in %s %llu ms after %s "
                                          "was started",
                                          (int)pid, rel, (unsigned long long)timeout_ms, unit);
                nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
        }
        fill_hierarchies(ctx, track, pid, s);
        return 0;
}

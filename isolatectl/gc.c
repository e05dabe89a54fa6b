/* gc.c: `isolatectl gc`: what dead sessions left: registry entries whose init is gone,
 * empty session cgroups; and lingering sandboxes whose init missed the end of its linger. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../conf/policy.h"
#include "../session-helper/cgroup.h"
#include "../session-helper/registry.h"
#include "ctl.h"

/* The init ends a lingering sandbox at linger_until on its own timer; one this much later
 * has missed it. */
#define LINGER_GRACE_S 5

struct gc_state {
        const struct config *cfg;
        char (*live)[32];
        size_t n_live;
        unsigned removed_entries;
        unsigned removed_leaves; /* sessions whose leaves went with their entry */
        int error;
};

/* A lingering sandbox (no login open, a bounded linger) past its linger_until by more than
 * the grace: 0 with *ret_until set, else -ESRCH. */
static int linger_expired(const struct config *cfg, const struct session_record *r,
                          uint64_t *ret_until)
{
        struct sandbox_state st;
        if (r->scope != SCOPE_USER || registry_state_read(cfg->runtime_dir, r->id, &st) < 0)
                return -ESRCH;
        if (st.logins > 0 || st.linger_forever || st.linger_until == 0 ||
            st.linger_until >= (uint64_t)time(NULL) - LINGER_GRACE_S)
                return -ESRCH;
        *ret_until = st.linger_until;
        return 0;
}

/* A live sandbox whose init missed the end of its linger (its timer counts no time the host
 * spent suspended): ended as `isolatectl kill` ends it. The check is made again under the
 * user's lock, which a joining helper holds until it exits: a login that joined meanwhile
 * is in the state by then (the init rewrites it as it answers the join, while that helper
 * still has its reply to send), and none joins before the signal. */
static void linger_end_missed(struct gc_state *g, const struct session_record *r)
{
        uint64_t until;
        if (linger_expired(g->cfg, r, &until) < 0)
                return;
        struct isolate_error e = {0};
        _cleanup_close_ int lock = -1;
        if (registry_user_lock(g->cfg->runtime_dir, r->uid, &lock, &e) < 0) {
                fprintf(stderr, "isolatectl gc: lingering sandbox %s: %s\n", r->id, e.msg);
                g->error = e.code ? -e.code : -EIO;
                return;
        }
        if (linger_expired(g->cfg, r, &until) < 0) /* joined or ended meanwhile */
                return;
        int q = ctl_session_end(r);
        if (q == -ESRCH)
                return;
        if (q < 0) {
                fprintf(stderr, "isolatectl gc: cannot signal the init of %s: %s\n", r->id,
                        strerror(-q));
                g->error = q;
                return;
        }
        char at[16];
        time_t t = (time_t)until;
        struct tm tm;
        strftime(at, sizeof(at), "%H:%M:%S", localtime_r(&t, &tm));
        printf("ended lingering sandbox %s of %s: linger expired at %s\n", r->id, r->user, at);
}

static int gc_entry(const struct session_record *r, void *data)
{
        struct gc_state *g = data;
        if (registry_session_alive(r)) {
                char(*nv)[32] = realloc(g->live, (g->n_live + 1) * sizeof(*nv));
                if (!nv)
                        return -ENOMEM;
                g->live = nv;
                snprintf(g->live[g->n_live++], sizeof(*nv), "%s", r->id);
                /* still live for the cgroup sweep below: its init removes its own leaves */
                linger_end_missed(g, r);
                return 0;
        }
        /* Its init is gone: its leaf should be empty (the init killed everything); if the
         * caller still sits in it, removing fails and the next gc tries again. */
        struct isolate_error e = {0};
        bool had_leaf = false;
        for (size_t i = 0; i < r->cgroup.n; i++)
                had_leaf |=
                    r->cgroup.h[i].leaf_path[0] && access(r->cgroup.h[i].leaf_path, F_OK) == 0;
        if (cgroup_session_remove(&r->cgroup, &e) < 0)
                fprintf(stderr, "isolatectl gc: session %s: %s\n", r->id, e.msg);
        else if (had_leaf)
                g->removed_leaves++;
        int q = registry_remove(g->cfg->runtime_dir, r->id);
        if (q < 0) {
                fprintf(stderr, "isolatectl gc: cannot remove the registry entry of %s: %s\n",
                        r->id, strerror(-q));
                g->error = q;
        } else
                g->removed_entries++;
        return 0;
}

static bool gc_is_live(const char *session_id, void *data)
{
        const struct gc_state *g = data;
        for (size_t i = 0; i < g->n_live; i++)
                if (STREQ(g->live[i], session_id))
                        return true;
        return false;
}

int cmd_gc(int argc, char **argv)
{
        struct config *cfg = NULL;
        int st = ctl_load(argc, argv, "usage: isolatectl gc [-c FILE]\n", NULL, NULL, &cfg);
        if (st >= 0)
                return st;
        struct gc_state g = {.cfg = cfg};
        int r = registry_foreach(cfg->runtime_dir, gc_entry, &g);
        if (r < 0) {
                ctl_registry_error("gc", cfg->runtime_dir, r);
                free(g.live);
                config_free(cfg);
                return 1;
        }
        struct isolate_error err = {0};
        int removed = cgroup_gc(cfg, gc_is_live, &g, &err);
        if (removed < 0)
                fprintf(stderr, "isolatectl gc: %s\n", err.msg);
        unsigned leaves = g.removed_leaves + (removed < 0 ? 0 : (unsigned)removed);
        printf("removed %u registry entr%s of dead sessions and the cgroups of %u session%s\n",
               g.removed_entries, g.removed_entries == 1 ? "y" : "ies", leaves,
               leaves == 1 ? "" : "s");
        free(g.live);
        config_free(cfg);
        return removed < 0 || g.error < 0 ? 1 : 0;
}

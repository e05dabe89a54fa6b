/* caps.c: the strictest-cap rule (caps.h). */
#include "caps.h"

#include <stdlib.h>
#include <string.h>

/* A policy's scalar caps and back (struct policy keeps them as fields of its own). */
static struct cap_scalars scalars_of(const struct policy *p)
{
        return (struct cap_scalars){p->memory_max, p->memory_high,     p->swap_max,
                                    p->pids_max,   p->cpu_max_percent, p->cpu_weight};
}

static void scalars_set(struct policy *p, const struct cap_scalars *s)
{
        p->memory_max = s->memory_max;
        p->memory_high = s->memory_high;
        p->swap_max = s->swap_max;
        p->pids_max = s->pids_max;
        p->cpu_max_percent = s->cpu_max_percent;
        p->cpu_weight = s->cpu_weight;
}

void caps_record_fill(const struct policy *p, struct record_caps *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->scalars = scalars_of(p);
        for (size_t i = 0; i < p->n_io && ret->n_io < RECORD_MAX_IO; i++) {
                struct record_io *io = &ret->io[ret->n_io++];
                snprintf(io->target, sizeof(io->target), "%s", p->io[i].target);
                io->read_bps = p->io[i].read_bps;
                io->write_bps = p->io[i].write_bps;
                io->read_iops = p->io[i].read_iops;
                io->write_iops = p->io[i].write_iops;
        }
}

static void cap_min(uint64_t *cap, uint64_t v)
{
        if (v < *cap) /* LIMIT_UNSET is the largest number, LIMIT_MAX the next */
                *cap = v;
}

/* The strictest of each: the one place the rule is applied, to a policy's caps and to a
 * record's alike. */
static void scalars_min(struct cap_scalars *acc, const struct cap_scalars *s)
{
        cap_min(&acc->memory_max, s->memory_max);
        cap_min(&acc->memory_high, s->memory_high);
        cap_min(&acc->swap_max, s->swap_max);
        cap_min(&acc->pids_max, s->pids_max);
        cap_min(&acc->cpu_max_percent, s->cpu_max_percent);
        cap_min(&acc->cpu_weight, s->cpu_weight);
}

struct gather {
        const struct config *c;
        uid_t uid;
        const char *exclude_id;
        struct policy *eff;     /* its scalar caps are set from min at the end */
        struct cap_scalars min; /* the strictest so far */
        bool have_base;
        size_t n;
        struct session_record *any;
        int error;
};

static int io_add(struct policy *eff, const char *target, uint64_t rbps, uint64_t wbps,
                  uint64_t riops, uint64_t wiops, int line)
{
        struct io_limit *nv = realloc(eff->io, (eff->n_io + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        eff->io = nv;
        char *t = strdup(target);
        if (!t)
                return -ENOMEM;
        eff->io[eff->n_io++] = (struct io_limit){t, rbps, wbps, riops, wiops, line};
        return 0;
}

static int add_policy_caps(struct gather *g, const struct policy *p)
{
        const struct cap_scalars s = scalars_of(p);
        scalars_min(&g->min, &s);
        for (size_t i = 0; i < p->n_io; i++) {
                const struct io_limit *l = &p->io[i];
                int r = io_add(g->eff, l->target, l->read_bps, l->write_bps, l->read_iops,
                               l->write_iops, l->line);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_record_caps(struct gather *g, const struct record_caps *rc)
{
        scalars_min(&g->min, &rc->scalars);
        for (size_t i = 0; i < rc->n_io; i++) {
                const struct record_io *io = &rc->io[i];
                int r = io_add(g->eff, io->target, io->read_bps, io->write_bps, io->read_iops,
                               io->write_iops, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const struct policy *policy_named(const struct config *c, const char *name)
{
        for (size_t i = 0; i < c->n_policies; i++)
                if (STREQ(c->policies[i].name, name))
                        return &c->policies[i];
        return NULL;
}

static int gather_one(const struct session_record *r, void *data)
{
        struct gather *g = data;
        if (r->uid != g->uid || (g->exclude_id && STREQ(r->id, g->exclude_id)) ||
            !registry_session_alive(r))
                return 0;
        const struct policy *p = policy_named(g->c, r->policy);
        if (!g->have_base) {
                /* `caps` after a sandbox ended: the first live one gives the rest of the
                 * policy (caps_required); its caps are added below like every other's */
                const struct policy *b = p ? p : &g->c->policies[g->c->default_policy];
                *g->eff = *b;
                g->eff->io = NULL;
                g->eff->n_io = 0;
                g->have_base = true;
        }
        int e = p ? add_policy_caps(g, p) : add_record_caps(g, &r->caps);
        if (e < 0) {
                g->error = e;
                return e;
        }
        if (g->any && g->n == 0)
                *g->any = *r;
        g->n++;
        return 0;
}

int caps_effective(const struct config *c, const struct policy *base, uid_t uid,
                   const char *exclude_id, struct policy *ret, struct session_record *ret_any,
                   struct isolate_error *err)
{
        memset(ret, 0, sizeof(*ret));
        struct gather g = {.c = c,
                           .uid = uid,
                           .exclude_id = exclude_id,
                           .eff = ret,
                           .min = CAP_SCALARS_UNSET,
                           .have_base = base != NULL,
                           .any = ret_any};
        int r = 0;
        if (base) {
                *ret = *base;
                ret->io = NULL;
                ret->n_io = 0;
                r = add_policy_caps(&g, base);
        }
        if (r >= 0)
                r = registry_foreach(c->runtime_dir, gather_one, &g);
        if (r >= 0 && g.error < 0)
                r = g.error;
        if (r < 0) {
                caps_effective_free(ret);
                if (r == -EPROTONOSUPPORT)
                        return registry_format_error(c->runtime_dir, err);
                return error_set_errno(err, r, "cannot compute the user's caps from %s/sessions",
                                       c->runtime_dir);
        }
        if (g.have_base)
                scalars_set(ret, &g.min);
        return (int)g.n;
}

void caps_effective_free(struct policy *eff)
{
        for (size_t i = 0; i < eff->n_io; i++)
                free(eff->io[i].target);
        free(eff->io);
        eff->io = NULL;
        eff->n_io = 0;
}

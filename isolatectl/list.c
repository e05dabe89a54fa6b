/* list.c: `isolatectl list` (live sessions and what they use, from the registry and
 * each session's cgroup) and `isolatectl gc` (what dead sessions left: registry entries
 * whose init is gone, empty session cgroups). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../conf/policy.h"
#include "../session-helper/cgroup.h"
#include "ctl.h"
#include "../session-helper/registry.h"

struct row {
        struct session_record rec;
        struct cgroup_usage use;
        bool have_usage;
};

struct rows {
        struct row *v;
        size_t n;
};

/* Parses [-c FILE] [--json] (json may be NULL: not accepted) and loads the config. */
static int load(int argc, char **argv, const char *usage, bool *json, struct config **ret)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *config = DEFAULT_CONFIG_PATH;
        int c;
        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 'j':
                        if (!json) {
                                fprintf(stderr, "%s", usage);
                                return 2;
                        }
                        *json = true;
                        break;
                case 'h':
                        printf("%s", usage);
                        return 0;
                default:
                        fprintf(stderr, "%s", usage);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "%s", usage);
                return 2;
        }
        struct config_errors errs = {0};
        if (config_load(config, true, ret, &errs) < 0) {
                for (size_t i = 0; i < errs.n; i++)
                        fprintf(stderr, "%s\n", errs.msgs[i]);
                config_errors_free(&errs);
                return 1;
        }
        return -1; /* go on */
}

static int collect(const struct session_record *r, void *data)
{
        struct rows *rows = data;
        if (!registry_session_alive(r))
                return 0;
        struct row *nv = realloc(rows->v, (rows->n + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        rows->v = nv;
        struct row *w = &nv[rows->n++];
        w->rec = *r;
        w->have_usage = cgroup_session_usage(&r->cgroup, &w->use) == 0;
        return 0;
}

static int row_cmp(const void *a, const void *b)
{
        const struct row *x = a, *y = b;
        if (x->rec.start_time != y->rec.start_time)
                return x->rec.start_time < y->rec.start_time ? -1 : 1;
        return strcmp(x->rec.id, y->rec.id);
}

/* For people: 1023 -> "1023B", 1536 -> "1.5K", 5 MiB -> "5.0M". */
static void human(uint64_t v, char *buf, size_t len)
{
        static const char units[] = "KMGTPE";
        if (v < 1024) {
                snprintf(buf, len, "%lluB", (unsigned long long)v);
                return;
        }
        double d = (double)v;
        int u = -1;
        while (d >= 1024 && u < 5) {
                d /= 1024;
                u++;
        }
        snprintf(buf, len, "%.1f%c", d, units[u]);
}

static void json_string(FILE *f, const char *s)
{
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

static void print_json(const struct rows *rows, const struct config *cfg)
{
        printf("[");
        for (size_t i = 0; i < rows->n; i++) {
                const struct row *w = &rows->v[i];
                const struct session_record *r = &w->rec;
                printf("%s\n  {\"id\": ", i ? "," : "");
                json_string(stdout, r->id);
                printf(", \"user\": ");
                json_string(stdout, r->user);
                printf(", \"uid\": %u, \"service\": ", (unsigned)r->uid);
                json_string(stdout, r->service);
                printf(", \"rhost\": ");
                json_string(stdout, r->rhost);
                printf(", \"tty\": ");
                json_string(stdout, r->tty);
                printf(", \"policy\": ");
                json_string(stdout, r->policy);
                printf(", \"init_pid\": %d, \"caller_pid\": %d, \"start_time\": %llu, "
                       "\"cgroup_backend\": \"%s\"",
                       (int)r->init_pid, (int)r->caller_pid, (unsigned long long)r->start_time,
                       cgroup_backend_name(r->cgroup.backend));
                if (w->have_usage)
                        printf(", \"memory_current\": %llu, \"memory_peak\": %llu, "
                               "\"io_read_bytes\": %llu, \"io_write_bytes\": %llu, "
                               "\"tasks\": %llu}",
                               (unsigned long long)w->use.memory_current,
                               (unsigned long long)w->use.memory_peak,
                               (unsigned long long)w->use.io_read_bytes,
                               (unsigned long long)w->use.io_write_bytes,
                               (unsigned long long)w->use.tasks);
                else
                        printf(", \"memory_current\": null, \"memory_peak\": null, "
                               "\"io_read_bytes\": null, \"io_write_bytes\": null, "
                               "\"tasks\": null}");
        }
        printf("%s]\n", rows->n ? "\n" : "");
        (void)cfg;
}

static void print_table(const struct rows *rows)
{
        printf("%-16s %-20s %-16s %9s %9s %9s %9s %6s\n", "USER", "SESSION", "POLICY", "MEMORY",
               "PEAK", "IO-READ", "IO-WRITE", "TASKS");
        for (size_t i = 0; i < rows->n; i++) {
                const struct row *w = &rows->v[i];
                char mem[16] = "-", peak[16] = "-", rd[16] = "-", wr[16] = "-", tasks[24] = "-";
                if (w->have_usage) {
                        human(w->use.memory_current, mem, sizeof(mem));
                        human(w->use.memory_peak, peak, sizeof(peak));
                        human(w->use.io_read_bytes, rd, sizeof(rd));
                        human(w->use.io_write_bytes, wr, sizeof(wr));
                        snprintf(tasks, sizeof(tasks), "%llu", (unsigned long long)w->use.tasks);
                }
                printf("%-16s %-20s %-16s %9s %9s %9s %9s %6s\n", w->rec.user, w->rec.id,
                       w->rec.policy, mem, peak, rd, wr, tasks);
        }
}

int cmd_list(int argc, char **argv)
{
        bool json = false;
        struct config *cfg = NULL;
        int st = load(argc, argv, "usage: isolatectl list [-c FILE] [--json]\n", &json, &cfg);
        if (st >= 0)
                return st;
        struct rows rows = {0};
        int r = registry_foreach(cfg->runtime_dir, collect, &rows);
        if (r < 0) {
                fprintf(stderr, "isolatectl list: cannot read %s/sessions: %s\n", cfg->runtime_dir,
                        strerror(-r));
                free(rows.v);
                config_free(cfg);
                return 1;
        }
        if (rows.n > 1)
                qsort(rows.v, rows.n, sizeof(*rows.v), row_cmp);
        if (json)
                print_json(&rows, cfg);
        else
                print_table(&rows);
        free(rows.v);
        config_free(cfg);
        return 0;
}

/* ---- gc ---------------------------------------------------------------------------------- */

struct gc_state {
        const struct config *cfg;
        char (*live)[32];
        size_t n_live;
        unsigned removed_entries;
        unsigned removed_leaves; /* sessions whose leaves went with their entry */
        int error;
};

static int gc_entry(const struct session_record *r, void *data)
{
        struct gc_state *g = data;
        if (registry_session_alive(r)) {
                char(*nv)[32] = realloc(g->live, (g->n_live + 1) * sizeof(*nv));
                if (!nv)
                        return -ENOMEM;
                g->live = nv;
                snprintf(g->live[g->n_live++], sizeof(*nv), "%s", r->id);
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
        int st = load(argc, argv, "usage: isolatectl gc [-c FILE]\n", NULL, &cfg);
        if (st >= 0)
                return st;
        struct gc_state g = {.cfg = cfg};
        int r = registry_foreach(cfg->runtime_dir, gc_entry, &g);
        if (r < 0) {
                fprintf(stderr, "isolatectl gc: cannot read %s/sessions: %s\n", cfg->runtime_dir,
                        strerror(-r));
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

/* list.c: `isolatectl list`: live sessions and what they use, from the registry and each
 * session's cgroup. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../conf/policy.h"
#include "../session-helper/cgroup.h"
#include "ctl.h"
#include "json.h"
#include "../session-helper/registry.h"

struct row {
        struct session_record rec;
        struct cgroup_usage use;
        bool have_usage;
        struct sandbox_state state; /* user scope: from the init's ID.state */
        bool have_state;
};

/* SCOPE LOGINS LINGER for people: "login 1 -", "user 2 -", "user 0 until 14:05", "user 0
 * no-process-left". */
static void lifetime_text(const struct row *w, char *logins, size_t llen, char *linger, size_t glen)
{
        snprintf(logins, llen, "%s", w->rec.scope == SCOPE_USER ? "?" : "1");
        snprintf(linger, glen, "-");
        if (w->rec.scope != SCOPE_USER || !w->have_state)
                return;
        snprintf(logins, llen, "%u", w->state.logins);
        if (w->state.linger_forever)
                snprintf(linger, glen, "until-idle");
        else if (w->state.linger_until) {
                time_t t = (time_t)w->state.linger_until;
                struct tm tm;
                localtime_r(&t, &tm);
                strftime(linger, glen, "until-%H:%M:%S", &tm);
        }
}

struct rows {
        struct row *v;
        size_t n;
        const char *runtime_dir;
};

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
        w->have_state =
            r->scope == SCOPE_USER && registry_state_read(rows->runtime_dir, r->id, &w->state) == 0;
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

static void print_json(const struct rows *rows, const struct config *cfg)
{
        printf("[");
        for (size_t i = 0; i < rows->n; i++) {
                const struct row *w = &rows->v[i];
                const struct session_record *r = &w->rec;
                printf("%s\n  {\"id\": ", i ? "," : "");
                json_str(stdout, r->id);
                printf(", \"user\": ");
                json_str(stdout, r->user);
                printf(", \"uid\": %u, \"service\": ", (unsigned)r->uid);
                json_str(stdout, r->service);
                printf(", \"rhost\": ");
                json_str(stdout, r->rhost);
                printf(", \"tty\": ");
                json_str(stdout, r->tty);
                printf(", \"policy\": ");
                json_str(stdout, r->policy);
                printf(", \"init_pid\": %d, \"caller_pid\": %d, \"start_time\": %llu, "
                       "\"cgroup_backend\": \"%s\"",
                       (int)r->init_pid, (int)r->caller_pid, (unsigned long long)r->start_time,
                       cgroup_backend_name(r->cgroup.backend));
                printf(", \"scope\": \"%s\"", r->scope == SCOPE_USER ? "user" : "login");
                if (r->scope != SCOPE_USER)
                        printf(", \"logins\": 1, \"lingering\": false");
                else if (!w->have_state)
                        printf(", \"logins\": null, \"lingering\": null");
                else
                        printf(", \"logins\": %u, \"lingering\": %s, \"linger_until\": %llu",
                               w->state.logins,
                               w->state.linger_forever || w->state.linger_until ? "true" : "false",
                               (unsigned long long)w->state.linger_until);
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
        printf("%-16s %-20s %-16s %9s %9s %9s %9s %6s %-5s %6s %s\n", "USER", "SESSION", "POLICY",
               "MEMORY", "PEAK", "IO-READ", "IO-WRITE", "TASKS", "SCOPE", "LOGINS", "LINGER");
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
                char logins[16], linger[32];
                lifetime_text(w, logins, sizeof(logins), linger, sizeof(linger));
                printf("%-16s %-20s %-16s %9s %9s %9s %9s %6s %-5s %6s %s\n", w->rec.user,
                       w->rec.id, w->rec.policy, mem, peak, rd, wr, tasks,
                       w->rec.scope == SCOPE_USER ? "user" : "login", logins, linger);
        }
}

int cmd_list(int argc, char **argv)
{
        bool json = false;
        struct config *cfg = NULL;
        int st =
            ctl_load(argc, argv, "usage: isolatectl list [-c FILE] [--json]\n", &json, NULL, &cfg);
        if (st >= 0)
                return st;
        struct rows rows = {.runtime_dir = cfg->runtime_dir};
        int r = registry_foreach(cfg->runtime_dir, collect, &rows);
        if (r < 0) {
                ctl_registry_error("list", cfg->runtime_dir, r);
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

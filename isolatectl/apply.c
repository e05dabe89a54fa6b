/* apply.c: `isolatectl apply [--dry-run]`: the config's caps and egress lists onto live
 * sandboxes, without a new login.
 *
 * Per user with live sandboxes: the caps the strictest-cap rule gives with the config as it
 * is now (caps.h: each live sandbox counts with its policy as the config defines it, or
 * with the caps its record kept when the policy is gone), against the caps the sandboxes'
 * records say their logins set; then, under the user's lock, written as a login writes
 * them (cgroup_user_caps_set: a memory cap below the user's usage is refused for that user,
 * nothing of theirs changed). Per sandbox with egress_allow: its programs' list replaced
 * at once (egress_map_replace), so a connect sees the old list or the new one. Everything
 * is printed before anything is done; --dry-run stops there. Namespaces, seccomp, Landlock,
 * mounts and the view inside are what a sandbox was built with: they change only for
 * sandboxes built after the edit. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "../conf/policy.h"
#include "../session-helper/caps.h"
#include "../session-helper/cgroup.h"
#include "../session-helper/egress.h"
#include "../session-helper/log.h"
#include "../session-helper/registry.h"
#include "ctl.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

static const char usage_text[] =
    "usage: isolatectl apply [-c FILE] [--dry-run]\n"
    "Applies the config's caps (memory, swap, pids, cpu, io) to the users of live sandboxes\n"
    "and its egress_allow lists to live sandboxes. Namespaces, seccomp, Landlock and the\n"
    "view inside change only for sandboxes built after the edit.\n";

struct live {
        struct session_record *v;
        size_t n;
};

static int collect(const struct session_record *r, void *data)
{
        struct live *l = data;
        if (!registry_session_alive(r))
                return 0;
        struct session_record *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        l->v = nv;
        l->v[l->n++] = *r;
        return 0;
}

static const struct policy *policy_named(const struct config *c, const char *name)
{
        for (size_t i = 0; i < c->n_policies; i++)
                if (STREQ(c->policies[i].name, name))
                        return &c->policies[i];
        return NULL;
}

static void cap_text(const char *key, uint64_t v, bool size, char *buf, size_t len)
{
        if (v == LIMIT_UNSET)
                snprintf(buf, len, "unset");
        else if (v == LIMIT_MAX)
                snprintf(buf, len, "max");
        else if (size)
                format_size(v, buf, len);
        else if (STREQ(key, "cpu_max"))
                snprintf(buf, len, "%llu%%", (unsigned long long)v);
        else
                snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* "memory_max 256M -> 64M, pids_max 128" into buf; whether anything differs. */
static bool caps_change(const struct cap_scalars *old, const struct policy *now, char *buf,
                        size_t len)
{
        const struct {
                const char *key;
                uint64_t a, b;
                bool size;
        } c[] = {
            {"memory_max", old->memory_max, now->memory_max, true},
            {"memory_high", old->memory_high, now->memory_high, true},
            {"swap_max", old->swap_max, now->swap_max, true},
            {"pids_max", old->pids_max, now->pids_max, false},
            {"cpu_max", old->cpu_max_percent, now->cpu_max_percent, false},
            {"cpu_weight", old->cpu_weight, now->cpu_weight, false},
        };
        size_t off = 0;
        bool changed = false;
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(c); i++) {
                if (c[i].a == LIMIT_UNSET && c[i].b == LIMIT_UNSET)
                        continue;
                char a[32], b[32];
                cap_text(c[i].key, c[i].a, c[i].size, a, sizeof(a));
                cap_text(c[i].key, c[i].b, c[i].size, b, sizeof(b));
                int n = c[i].a == c[i].b
                            ? snprintf(buf + off, len - off, "%s%s %s", off ? ", " : "", c[i].key, a)
                            : snprintf(buf + off, len - off, "%s%s %s -> %s", off ? ", " : "",
                                       c[i].key, a, b);
                changed |= c[i].a != c[i].b;
                if (n > 0 && (size_t)n < len - off)
                        off += (size_t)n;
        }
        if (now->n_io)
                snprintf(buf + off, len - off, "%s%zu io entr%s (the smaller per disk)",
                         off ? ", " : "", now->n_io, now->n_io == 1 ? "y" : "ies");
        return changed || now->n_io;
}

/* The cgroup2 directory the sandbox's egress programs sit on (helper.c egress_setup). */
static const char *egress_dir(const struct session_record *r)
{
        for (size_t i = 0; i < r->cgroup.n; i++)
                if (STREQ(r->cgroup.h[i].mount_type, "cgroup2")) {
                        const char *d = r->cgroup.backend == CGROUP_BACKEND_SYSTEMD
                                            ? r->cgroup.h[i].scope_path
                                            : r->cgroup.h[i].leaf_path;
                        return *d ? d : NULL;
                }
        return NULL;
}

/* One entry for what apply did (pam_isolate(8)): a user's caps (session "") or a sandbox's
 * egress list. */
static void apply_log(const struct session_record *r, const char *session_id, bool ok,
                      const char *what)
{
        struct log_decision d = {.message_id = ok ? EVENT_APPLIED : EVENT_APPLY_FAILED,
                                 .user = r->user,
                                 .service = "isolatectl",
                                 .policy = r->policy,
                                 .session_id = session_id,
                                 .outcome = ok ? "applied" : "apply-failed",
                                 .reason = what};
        log_decision(ok ? LOG_INFO : LOG_ERR, &d);
}

/* The sandbox's egress: what apply does to it, printed; done unless dry. -1 on a failure. */
static int egress_apply(const struct config *cfg, const struct session_record *r, bool dry)
{
        const struct policy *p = policy_named(cfg, r->policy);
        const char *dir = egress_dir(r);
        int map = -1;
        _cleanup_close_ int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        struct isolate_error err = {0};
        int found = fd >= 0 ? egress_map_find(fd, &map, &err) : -ENOENT;
        _cleanup_close_ int mapfd = map;
        if (found == -ENOENT) {
                if (p && p->egress.filtered)
                        printf("  sandbox %s: egress_allow: built without a filter; the list "
                               "applies to sandboxes built from now on\n",
                               r->id);
                return 0;
        }
        if (found < 0) {
                printf("  sandbox %s: egress_allow: cannot reach its filter: %s\n", r->id,
                       err.msg);
                return -1;
        }
        /* no such policy any more, or no list: everything (its programs stay until it ends) */
        struct egress_rule all[] = {{.net = {.prefix = 0}}};
        struct egress_allow open_all = {.rules = all, .n = 1, .filtered = true};
        const struct egress_allow *to = p && p->egress.filtered ? &p->egress : &open_all;
        if (to == &open_all)
                printf("  sandbox %s: egress_allow: %s: it reaches every destination from now\n",
                       r->id, p ? "no longer in the policy" : "its policy is gone");
        else
                printf("  sandbox %s: egress_allow: %zu entr%s\n", r->id, to->n,
                       to->n == 1 ? "y" : "ies");
        if (dry)
                return 0;
        char what[1200];
        if (egress_map_replace(mapfd, to, &err) < 0) {
                printf("  sandbox %s: egress_allow: not applied: %s\n", r->id, err.msg);
                snprintf(what, sizeof(what), "egress_allow: %s", err.msg);
                apply_log(r, r->id, false, what);
                return -1;
        }
        snprintf(what, sizeof(what), "egress_allow: %zu entr%s%s", to->n, to->n == 1 ? "y" : "ies",
                 to == &open_all ? " (every destination)" : "");
        apply_log(r, r->id, true, what);
        return 0;
}

/* One user's caps: printed, then (unless dry) written under the user's lock. */
static int user_apply(const struct config *cfg, const struct live *l, size_t first, bool dry)
{
        const struct session_record *r0 = &l->v[first];
        uid_t uid = r0->uid;
        struct cap_scalars old = CAP_SCALARS_UNSET;
        size_t n = 0;
        for (size_t i = first; i < l->n; i++) {
                if (l->v[i].uid != uid)
                        continue;
                const struct cap_scalars *s = &l->v[i].caps.scalars;
                old.memory_max = MIN(old.memory_max, s->memory_max);
                old.memory_high = MIN(old.memory_high, s->memory_high);
                old.swap_max = MIN(old.swap_max, s->swap_max);
                old.pids_max = MIN(old.pids_max, s->pids_max);
                old.cpu_max_percent = MIN(old.cpu_max_percent, s->cpu_max_percent);
                old.cpu_weight = MIN(old.cpu_weight, s->cpu_weight);
                n++;
        }
        struct isolate_error err = {0};
        struct policy eff = {0};
        struct session_record *any = calloc(1, sizeof(*any));
        int r = any ? caps_effective(cfg, NULL, uid, NULL, &eff, any, &err)
                    : error_set(&err, ENOMEM, "out of memory");
        char change[1024] = "";
        if (r > 0)
                caps_change(&old, &eff, change, sizeof(change));
        printf("user %s (uid %u), %zu sandbox%s: %s\n", r0->user, (unsigned)uid, n,
               n == 1 ? "" : "es", r < 0 ? err.msg : *change ? change : "no caps");
        int ret = r < 0 ? -1 : 0;
        if (r > 0 && !dry) {
                _cleanup_close_ int lock = -1;
                caps_effective_free(&eff);
                /* again under the lock: a login meanwhile counts too */
                r = registry_user_lock(cfg->runtime_dir, uid, &lock, &err);
                if (r >= 0)
                        r = caps_effective(cfg, NULL, uid, NULL, &eff, any, &err);
                char warnings[1024] = "";
                if (r > 0)
                        r = cgroup_user_caps_set(cfg, &eff, uid, &any->cgroup, warnings,
                                                 sizeof(warnings), &err);
                if (r < 0) {
                        printf("  not applied: %s\n", err.msg);
                        ret = -1;
                } else if (*warnings) {
                        printf("  applied, with warnings: %s\n", warnings);
                }
                apply_log(r0, "", r >= 0, r < 0 ? err.msg : change);
        }
        caps_effective_free(&eff);
        free(any);
        for (size_t i = first; i < l->n; i++)
                if (l->v[i].uid == uid && egress_apply(cfg, &l->v[i], dry) < 0)
                        ret = -1;
        return ret;
}

int cmd_apply(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"dry-run", no_argument, NULL, 'n'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *config = DEFAULT_CONFIG_PATH;
        bool dry = false;
        int c;
        while ((c = getopt_long(argc, argv, "c:nh", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 'n':
                        dry = true;
                        break;
                case 'h':
                        printf("%s", usage_text);
                        return 0;
                default:
                        fprintf(stderr, "%s", usage_text);
                        return 2;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "%s", usage_text);
                return 2;
        }
        struct config *cfg = NULL;
        if (ctl_config_load(config, &cfg) < 0) {
                fprintf(stderr, "isolatectl apply: %s is invalid: nothing applied\n", config);
                return 1;
        }
        struct live l = {0};
        int r = registry_foreach(cfg->runtime_dir, collect, &l);
        if (r < 0 && r != -ENOENT) {
                ctl_registry_error("apply", cfg->runtime_dir, r);
                free(l.v);
                config_free(cfg);
                return 1;
        }
        printf("%s %s to %zu live sandbox%s%s\n", dry ? "would apply" : "applying", config, l.n,
               l.n == 1 ? "" : "es", l.n ? ":" : "");
        int ret = 0;
        for (size_t i = 0; i < l.n; i++) {
                bool seen = false;
                for (size_t k = 0; k < i && !seen; k++)
                        seen = l.v[k].uid == l.v[i].uid;
                if (!seen && user_apply(cfg, &l, i, dry) < 0)
                        ret = 1;
        }
        printf("namespaces, seccomp, Landlock, mounts and the view inside stay as each sandbox "
               "was built; they change for sandboxes built from now on\n");
        free(l.v);
        config_free(cfg);
        return ret;
}

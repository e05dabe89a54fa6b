/* explain.c: isolatectl explain [-c FILE] [--service S] [--rhost ADDR] [--json] USER:
 * the policy a login would get, why, and every setting of it, as the helper resolves it;
 * for a user-scope policy, whether the login would join a live sandbox (the registry). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <time.h>

#include "../client/landlock.h"
#include "../conf/keys.h"
#include "../conf/policy.h"
#include "ctl.h"
#include "json.h"
#include "../session-helper/limits.h"
#include "../session-helper/lsm.h"
#include "../session-helper/registry.h"
#include "../session-helper/seccomp.h"

static void explain_usage(FILE *f)
{
        fprintf(f,
                "usage: isolatectl explain [-c FILE] [--service S] [--rhost ADDR] [--json] USER\n"
                "Shows which policy a login of USER through PAM service S (default sshd) from\n"
                "ADDR (default: a local login) gets with FILE (default %s), which\n"
                "rule decided and why, every setting of that policy, and whether the login\n"
                "would join a live sandbox (scope = user).\n",
                DEFAULT_CONFIG_PATH);
}

static const char *bool_name(bool b)
{
        return b ? "true" : "false";
}

/* "CAP_NET_BIND_SERVICE", or the number libcap does not know a name for */
static void cap_name(unsigned bit, char *buf, size_t len)
{
        char *name = cap_to_name((cap_value_t)bit);
        if (!name) {
                snprintf(buf, len, "%u", bit);
                return;
        }
        snprintf(buf, len, "%s", name);
        cap_free(name);
        for (char *p = buf; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                        *p = (char)(*p - 'a' + 'A');
}

static const char *outcome_name(enum resolve_outcome o)
{
        switch (o) {
        case RESOLVE_IGNORE:
                return "ignore";
        case RESOLVE_EXEMPT:
                return "exempt";
        case RESOLVE_POLICY:
                return "policy";
        }
        return "?";
}

struct effective {
        int r;
        struct strv allowed, rules;
        struct isolate_error err;
};

/* Whether a login now would join a live sandbox: only looked up for a user-scope policy. */
struct live {
        bool looked;                /* the policy has scope = user */
        int r;                      /* registry_find_sandbox(): 0, -ENOENT, or what failed */
        struct session_record *rec; /* when r == 0 */
        int state_r;                /* registry_state_read(): 0 or -errno */
        struct sandbox_state state;
};

/* ---- text helpers ------------------------------------------------------------------------------
 */

static void text_strv(const struct strv *v)
{
        putchar('{');
        for (size_t i = 0; i < v->n; i++)
                printf("%s\"%s\"", i ? ", " : "", v->v[i]);
        putchar('}');
}

static const char *limit_text(uint64_t v, bool size, char *buf, size_t len)
{
        if (v == LIMIT_UNSET)
                return "unset";
        if (v == LIMIT_MAX)
                return "max";
        if (size)
                format_size(v, buf, len);
        else
                snprintf(buf, len, "%" PRIu64, v);
        return buf;
}

#define KEY(name) printf("  %-20s = ", name)

/* "$HOME" and "~" as the helper expands them for this user */
static void landlock_text(const struct strv *v, const char *home)
{
        text_strv(v);
        bool any = false;
        for (size_t i = 0; i < v->n; i++)
                any |= strncmp(v->v[i], "$HOME", 5) == 0 || v->v[i][0] == '~';
        if (any) {
                printf("   (for this user:");
                for (size_t i = 0; i < v->n; i++) {
                        const char *s = v->v[i];
                        if (strncmp(s, "$HOME", 5) == 0)
                                printf(" %s%s", home, s + 5);
                        else if (s[0] == '~')
                                printf(" %s%s", home, s + 1);
                        else
                                printf(" %s", s);
                }
                putchar(')');
        }
}

static void print_wrapped(const struct strv *v, const char *indent)
{
        size_t col = 0;
        for (size_t i = 0; i < v->n; i++) {
                size_t len = strlen(v->v[i]);
                if (col == 0) {
                        col = (size_t)printf("%s", indent);
                } else if (col + 1 + len > 96) {
                        col = (size_t)printf("\n%s", indent);
                } else {
                        putchar(' ');
                        col++;
                }
                col += (size_t)printf("%s", v->v[i]);
        }
        if (col)
                putchar('\n');
}

/* ---- one key of a policy: its value by its type (conf/keys.c), or a hook ---------------- */

struct shown {
        const struct config *c;
        const struct policy *p;
        const struct login_info *who;
        const struct effective *eff;
        const struct live *live;
};

static const void *field_of(const struct key *k, const struct policy *p)
{
        return (const char *)p + k->offset;
}

/* "CAP_A", "CAP_B" for each bit of mask, through put */
static bool caps_each(uint64_t mask, void (*put)(const char *name, bool first, void *data),
                      void *data)
{
        bool first = true;
        for (unsigned bit = 0; bit < 64; bit++) {
                char name[64];
                if (!(mask & (UINT64_C(1) << bit)))
                        continue;
                cap_name(bit, name, sizeof(name));
                put(name, first, data);
                first = false;
        }
        return !first;
}

static void cap_json(const char *name, bool first, void *data)
{
        if (!first)
                fputs(", ", data);
        json_str(data, name);
}

static void cap_text(const char *name, bool first, void *data)
{
        printf("%s\"%s\"", first ? "" : ", ", name);
}

/* egress_allow as the config writes it: null (no filter) or the entries, in JSON */
static void egress_json(FILE *f, const struct egress_allow *e)
{
        char rule[EGRESS_RULE_TEXT_MAX];
        if (!e->filtered) {
                fputs("null", f);
                return;
        }
        fputc('[', f);
        for (size_t i = 0; i < e->n; i++) {
                format_egress_rule(&e->rules[i], rule, sizeof(rule));
                fputs(i ? ", " : "", f);
                json_str(f, rule);
        }
        fputc(']', f);
}

static void egress_text(const struct egress_allow *e)
{
        char rule[EGRESS_RULE_TEXT_MAX];
        if (!e->filtered) {
                fputs("unset (no filter)", stdout);
                return;
        }
        putchar('{');
        for (size_t i = 0; i < e->n; i++) {
                format_egress_rule(&e->rules[i], rule, sizeof(rule));
                printf("%s\"%s\"", i ? ", " : "", rule);
        }
        printf("}%s", e->n ? " (nothing else)" : " (no destination, loopback included)");
}

static void json_value(FILE *f, const struct key *k, const struct policy *p)
{
        const void *v = field_of(k, p);
        switch (k->kind) {
        case K_BOOL:
                fputs(bool_name(*(const bool *)v), f);
                return;
        case K_ENUM:
                json_str(f, key_enum_word(k, *(const int *)v));
                return;
        case K_STR:
                json_str(f, *(char *const *)v);
                return;
        case K_SIZE:
        case K_RATE:
        case K_COUNT:
        case K_PERCENT:
                json_limit(f, *(const uint64_t *)v);
                return;
        case K_DURATION:
                fprintf(f, "%" PRIu32, *(const uint32_t *)v);
                return;
        case K_LINGER: { /* no: false, yes: true, else the milliseconds */
                uint64_t ms = *(const uint64_t *)v;
                if (ms == LINGER_NO || ms == LINGER_FOREVER)
                        fputs(bool_name(ms == LINGER_FOREVER), f);
                else
                        fprintf(f, "%" PRIu64, ms);
                return;
        }
        case K_NAMES:
        case K_PATHS:
        case K_LANDLOCK:
        case K_SYSCALLS:
                json_strv(f, v);
                return;
        case K_CAPS:
                fputc('[', f);
                caps_each(*(const uint64_t *)v, cap_json, f);
                fputc(']', f);
                return;
        case K_EGRESS:
                egress_json(f, v);
                return;
        case K_CIDRS:
        case K_NAME:
                break;
        }
        fputs("null", f);
}

/* A duration as a config writes it: the largest unit that divides it ("8h", "90m", "2d"). */
static void duration_text(uint64_t ms, char *buf, size_t len)
{
        static const struct {
                const char *unit;
                uint64_t ms;
        } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (ms % units[i].ms == 0 || units[i].ms == 1) {
                        snprintf(buf, len, "%" PRIu64 "%s", ms / units[i].ms, units[i].unit);
                        return;
                }
}

static void linger_text(uint64_t ms)
{
        char buf[32];
        if (ms == LINGER_NO) {
                fputs("no", stdout);
        } else if (ms == LINGER_FOREVER) {
                fputs("yes (after the last login, until no process is left)", stdout);
        } else {
                duration_text(ms, buf, sizeof(buf));
                printf("%s (after the last login, at most, while processes remain)", buf);
        }
}

static void text_value(const struct key *k, const struct policy *p, const struct login_info *who)
{
        const void *v = field_of(k, p);
        char buf[64];
        switch (k->kind) {
        case K_BOOL:
                fputs(bool_name(*(const bool *)v), stdout);
                break;
        case K_ENUM:
                fputs(key_enum_word(k, *(const int *)v), stdout);
                break;
        case K_STR: {
                const char *str = *(char *const *)v;
                printf(str ? "\"%s\"" : "unset", str);
                break;
        }
        case K_PERCENT: {
                uint64_t n = *(const uint64_t *)v;
                if (n == LIMIT_UNSET || n == LIMIT_MAX)
                        fputs(limit_text(n, false, buf, sizeof(buf)), stdout);
                else
                        printf("%" PRIu64 "%%", n);
                break;
        }
        case K_SIZE:
        case K_RATE:
        case K_COUNT:
                fputs(limit_text(*(const uint64_t *)v, k->kind != K_COUNT, buf, sizeof(buf)),
                      stdout);
                break;
        case K_DURATION:
                printf("%" PRIu32 "ms", *(const uint32_t *)v);
                break;
        case K_LINGER:
                linger_text(*(const uint64_t *)v);
                break;
        case K_NAMES:
        case K_PATHS:
        case K_SYSCALLS:
                text_strv(v);
                break;
        case K_LANDLOCK:
                landlock_text(v, who->home ? who->home : "~");
                break;
        case K_CAPS:
                putchar('{');
                bool any = caps_each(*(const uint64_t *)v, cap_text, NULL);
                printf("}%s", any ? "" : " (the bounding set is emptied)");
                break;
        case K_EGRESS:
                egress_text(v);
                break;
        case K_CIDRS:
        case K_NAME:
                break;
        }
        if (k->unit)
                printf(" %s", k->unit);
        putchar('\n');
}

/* hostname: what %u makes of it for this user */
static void hostname_text(const struct shown *sh)
{
        if (!sh->p->hostname) {
                printf("unset (the host's name)\n");
                return;
        }
        char name[HOST_NAME_MAX + 1];
        hostname_expand(sh->p->hostname, sh->who->user, name, sizeof(name));
        printf("\"%s\" (%s)\n", sh->p->hostname, name);
}

/* nofile: the number the join sets, and where it comes from */
static void nofile_text(const struct shown *sh)
{
        char why[256];
        uint64_t nofile = limits_nofile(sh->c, sh->p, why, sizeof(why));
        if (nofile == 0)
                printf("max (%s)\n", why);
        else
                printf("%" PRIu64 " per process, %s\n", nofile, why);
}

static void nofile_json_after(FILE *f, const struct shown *sh)
{
        char why[256];
        uint64_t nofile = limits_nofile(sh->c, sh->p, why, sizeof(why));
        fprintf(f, ", \"nofile_effective\": %" PRIu64 ", \"nofile_why\": ", nofile);
        json_str(f, why);
}

/* The io blocks, after the last per-user number. */
static void io_text_after(const struct shown *sh)
{
        const struct policy *p = sh->p;
        if (p->n_io == 0)
                printf("  io                   none\n");
        for (size_t i = 0; i < p->n_io; i++) {
                const struct io_limit *io = &p->io[i];
                char b1[32], b2[32], b3[32], b4[32];
                printf("  io \"%s\" { read_bps = %s%s  write_bps = %s%s  read_iops = %s  "
                       "write_iops = %s }\n",
                       io->target, limit_text(io->read_bps, true, b1, sizeof(b1)),
                       io->read_bps < LIMIT_MAX ? "/s" : "",
                       limit_text(io->write_bps, true, b2, sizeof(b2)),
                       io->write_bps < LIMIT_MAX ? "/s" : "",
                       limit_text(io->read_iops, false, b3, sizeof(b3)),
                       limit_text(io->write_iops, false, b4, sizeof(b4)));
        }
}

static void io_json_after(FILE *f, const struct shown *sh)
{
        const struct policy *p = sh->p;
        fputs(", \"io\": [", f);
        for (size_t i = 0; i < p->n_io; i++) {
                const struct io_limit *io = &p->io[i];
                fputs(i ? ", {\"target\": " : "{\"target\": ", f);
                json_str(f, io->target);
                fprintf(f, ", \"line\": %d", io->line);
                for (size_t j = 0; j < keys_io->n_keys; j++) {
                        const struct key *k = &keys_io->keys[j];
                        fputs(", ", f);
                        json_str(f, k->name);
                        fputs(": ", f);
                        json_limit(f, *(const uint64_t *)((const char *)io + k->offset));
                }
                fputc('}', f);
        }
        fputc(']', f);
}

/* The resulting syscall list, after allow and deny. */
static void syscalls_text_after(const struct shown *sh)
{
        const struct effective *eff = sh->eff;
        if (eff->r < 0) {
                printf("  syscall list: not available (%s)\n",
                       eff->err.msg[0] ? eff->err.msg : strerror(-eff->r));
                return;
        }
        printf("  syscall list: %zu allowed\n", eff->allowed.n);
        print_wrapped(&eff->allowed, "    ");
        if (eff->rules.n)
                printf("  conditions\n");
        for (size_t i = 0; i < eff->rules.n; i++)
                printf("    %s\n", eff->rules.v[i]);
}

static void syscalls_json_after(FILE *f, const struct shown *sh)
{
        const struct effective *eff = sh->eff;
        fputs(", \"syscalls_effective\": ", f);
        if (eff->r < 0) {
                fputs("null, \"syscalls_effective_error\": ", f);
                json_str(f, eff->err.msg[0] ? eff->err.msg : strerror(-eff->r));
                return;
        }
        fputs("{\"allowed\": ", f);
        json_strv(f, &eff->allowed);
        fputs(", \"rules\": ", f);
        json_strv(f, &eff->rules);
        fputc('}', f);
}

/* ---- the live sandbox a login would join --------------------------------------------- */

/* "14:05" today, else "2025-03-01 14:05" (local time) */
static const char *clock_text(uint64_t unix_seconds, char *buf, size_t len)
{
        time_t t = (time_t)unix_seconds, now = time(NULL);
        struct tm tm, today;
        if (!localtime_r(&t, &tm) || !localtime_r(&now, &today)) {
                snprintf(buf, len, "@%" PRIu64, unix_seconds);
                return buf;
        }
        bool same_day = tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday;
        if (strftime(buf, len, same_day ? "%H:%M" : "%Y-%m-%d %H:%M", &tm) == 0)
                snprintf(buf, len, "@%" PRIu64, unix_seconds);
        return buf;
}

static void live_lookup(const struct config *c, const struct policy *p,
                        const struct login_info *who, struct live *live)
{
        *live = (struct live){.r = -ENOENT, .state_r = -ENOENT};
        if (p->scope != SCOPE_USER)
                return;
        live->looked = true;
        live->rec = calloc(1, sizeof(*live->rec));
        if (!live->rec) {
                live->r = -ENOMEM;
                return;
        }
        live->r = registry_find_sandbox(c->runtime_dir, who->uid, p->name, live->rec);
        if (live->r == 0)
                live->state_r = registry_state_read(c->runtime_dir, live->rec->id, &live->state);
}

static void sandbox_text_after(const struct shown *sh)
{
        const struct live *live = sh->live;
        char t1[32], t2[32];
        if (!live->looked) {
                printf("  sandbox: a new one per login (scope = login)\n");
                return;
        }
        if (live->r == -ENOENT) {
                printf("  sandbox: a new one (scope = user; none live)\n");
                return;
        }
        if (live->r == -EPROTONOSUPPORT) {
                struct isolate_error err = {0};
                registry_format_error(sh->c->runtime_dir, &err);
                printf("  sandbox: not known: %s\n", err.msg);
                return;
        }
        if (live->r < 0) {
                printf("  sandbox: not known: cannot read the registry in %s: %s%s\n",
                       sh->c->runtime_dir, strerror(-live->r),
                       live->r == -EACCES || live->r == -EPERM ? " (run as root)" : "");
                return;
        }
        const struct session_record *rec = live->rec;
        printf("  sandbox: would join live sandbox %s (started %s", rec->id,
               clock_text(rec->start_time, t1, sizeof(t1)));
        const struct sandbox_state *st = &live->state;
        if (live->state_r < 0)
                printf(")\n");
        else if (st->logins > 0)
                printf(", %u login%s)\n", st->logins, st->logins == 1 ? "" : "s");
        else if (st->linger_forever)
                printf(", no login, lingering until its last process exits)\n");
        else if (st->linger_until)
                printf(", no login, lingering until %s)\n",
                       clock_text(st->linger_until, t2, sizeof(t2)));
        else
                printf(", no login)\n");
}

/* "sandbox": null when the login is not confined; else {"scope", "join", "id", ...}, with
 * "join": null and "error" when the registry cannot be read. */
static void sandbox_json(FILE *f, const struct config *c, const struct policy *p,
                         const struct live *live)
{
        fputs(", \"sandbox\": ", f);
        if (!p) {
                fputs("null", f);
                return;
        }
        fputs("{\"scope\": ", f);
        json_str(f, key_enum_word(key_named(keys_policy, "scope"), (int)p->scope));
        if (live->looked && live->r < 0 && live->r != -ENOENT) {
                fputs(", \"join\": null, \"id\": null, \"error\": ", f);
                struct isolate_error err = {0};
                if (live->r == -EPROTONOSUPPORT) /* name the record, its format and ours */
                        registry_format_error(c->runtime_dir, &err);
                json_str(f, err.msg[0] ? err.msg : strerror(-live->r));
                fputc('}', f);
                return;
        }
        if (!live->looked || live->r < 0) {
                fputs(", \"join\": false, \"id\": null}", f);
                return;
        }
        const struct session_record *rec = live->rec;
        fputs(", \"join\": true, \"id\": ", f);
        json_str(f, rec->id);
        fprintf(f, ", \"init_pid\": %d, \"start_time\": %" PRIu64, (int)rec->init_pid,
                rec->start_time);
        if (live->state_r == 0)
                fprintf(f,
                        ", \"logins\": %u, \"linger_until\": %" PRIu64 ", \"linger_forever\": %s}",
                        live->state.logins, live->state.linger_until,
                        bool_name(live->state.linger_forever));
        else
                fputs(", \"logins\": null, \"linger_until\": null, \"linger_forever\": null}", f);
}

/* ---- Landlock scoping: what the policy's value comes to on this kernel ---------------------- */

enum scoping_outcome {
        SCOPED,
        NOT_SCOPED,     /* false, or auto with scope = user */
        NOT_SUPPORTED,  /* auto, or true with lsm_required = false, on a kernel without it */
        LOGINS_REFUSED, /* true with lsm_required, on a kernel without it */
};

static const char *const scoping_outcome_json[] = {
    [SCOPED] = "scoped",
    [NOT_SCOPED] = "off",
    [NOT_SUPPORTED] = "unsupported",
    [LOGINS_REFUSED] = "refused",
};

static enum scoping_outcome scoping_outcome(const struct policy *p, uint64_t bit)
{
        uint64_t demanded;
        if (!(lsm_scoping_wanted(p, &demanded) & bit))
                return NOT_SCOPED;
        if (landlock_scoped_for_abi(lsm_landlock_abi()) & bit)
                return SCOPED;
        return (demanded & bit) && p->lsm_required ? LOGINS_REFUSED : NOT_SUPPORTED;
}

static void scoping_text(const struct shown *sh, const char *key, uint64_t bit, const char *what)
{
        const struct policy *p = sh->p;
        enum scoping v = *(const enum scoping *)field_of(key_named(keys_policy, key), p);
        int abi = lsm_landlock_abi();
        char kernel[64];
        snprintf(kernel, sizeof(kernel), abi > 0 ? "Landlock ABI %d" : "no Landlock", abi);
        printf("%s: ", key_enum_word(key_named(keys_policy, key), (int)v));
        switch (scoping_outcome(p, bit)) {
        case SCOPED:
                printf("scoped (%s)\n", what);
                break;
        case NOT_SCOPED:
                if (v == SCOPING_AUTO)
                        printf("not scoped (scope = user: each login would be a Landlock "
                               "domain of its own, and logins could not see or signal each "
                               "other's processes)\n");
                else
                        printf("not scoped\n");
                break;
        case NOT_SUPPORTED:
                printf("not scoped: this kernel has %s, scoping needs ABI %d (Linux 6.12)%s\n",
                       kernel, LANDLOCK_SCOPE_ABI,
                       v == SCOPING_ON ? "; logged (lsm_required = false)" : "");
                break;
        case LOGINS_REFUSED:
                printf("this kernel has %s, scoping needs ABI %d (Linux 6.12): logins with "
                       "this policy are refused here (lsm_required)\n",
                       kernel, LANDLOCK_SCOPE_ABI);
                break;
        }
}

static void scope_abstract_unix_text(const struct shown *sh)
{
        scoping_text(sh, "scope_abstract_unix", LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET,
                     "no connect or send to an abstract unix socket made outside the login");
}

static void scope_signals_text(const struct shown *sh)
{
        scoping_text(sh, "scope_signals", LANDLOCK_SCOPE_SIGNAL,
                     "no signal to a process outside the login");
}

static void scope_abstract_unix_json_after(FILE *f, const struct shown *sh)
{
        fprintf(f, ", \"scope_abstract_unix_effective\": \"%s\"",
                scoping_outcome_json[scoping_outcome(sh->p, LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET)]);
}

static void scope_signals_json_after(FILE *f, const struct shown *sh)
{
        fprintf(f, ", \"scope_signals_effective\": \"%s\"",
                scoping_outcome_json[scoping_outcome(sh->p, LANDLOCK_SCOPE_SIGNAL)]);
}

/* What explain says of a key beyond its value; every other key is shown by its type. */
struct hook {
        const char *key;
        void (*text)(const struct shown *sh); /* in place of the value */
        void (*text_after)(const struct shown *sh);
        void (*json_after)(FILE *f, const struct shown *sh);
};

static const struct hook hooks[] = {
    {"hostname", hostname_text, NULL, NULL},
    {"linger", NULL, sandbox_text_after, NULL},
    {"nofile", nofile_text, NULL, nofile_json_after},
    {"cpu_weight", NULL, io_text_after, io_json_after},
    {"syscalls_deny", NULL, syscalls_text_after, syscalls_json_after},
    {"scope_abstract_unix", scope_abstract_unix_text, NULL, scope_abstract_unix_json_after},
    {"scope_signals", scope_signals_text, NULL, scope_signals_json_after},
};

static const struct hook *hook_of(const struct key *k)
{
        for (size_t i = 0; i < ELEMENTSOF(hooks); i++)
                if (STREQ(hooks[i].key, k->name))
                        return &hooks[i];
        return NULL;
}

static void print_json(const struct config *c, const struct login_info *who,
                       const struct resolution *res, const struct effective *eff,
                       const struct live *live)
{
        FILE *f = stdout;
        fputs("{\"config\": ", f);
        json_str(f, c->file);
        fputs(", \"user\": ", f);
        json_str(f, who->user);
        fprintf(f, ", \"uid\": %u, \"groups\": [", (unsigned)who->uid);
        for (size_t i = 0; i < who->n_groups; i++) {
                if (i)
                        fputs(", ", f);
                json_str(f, who->groups[i]);
        }
        fputs("], \"service\": ", f);
        json_str(f, who->service);
        fputs(", \"rhost\": ", f);
        json_str(f, who->rhost);
        fprintf(f, ", \"outcome\": \"%s\", \"reason\": ", outcome_name(res->outcome));
        json_str(f, res->reason);
        fputs(", \"rule\": ", f);
        if (res->rule) {
                fputs("{\"file\": ", f);
                json_str(f, c->file);
                fprintf(f, ", \"line\": %d}", res->rule->line);
        } else {
                fputs("null", f);
        }

        const struct policy *p = res->outcome == RESOLVE_POLICY ? res->policy : NULL;
        fputs(", \"policy\": ", f);
        if (!p) {
                fputs("null", f);
        } else {
                fputs("{\"name\": ", f);
                json_str(f, p->name);
                fprintf(f, ", \"line\": %d", p->line);
                const struct shown sh = {c, p, who, eff, live};
                for (size_t i = 0; i < keys_policy->n_keys; i++) {
                        const struct key *k = &keys_policy->keys[i];
                        const struct hook *h = hook_of(k);
                        fputs(", ", f);
                        json_str(f, k->name);
                        fputs(": ", f);
                        json_value(f, k, p);
                        if (h && h->json_after)
                                h->json_after(f, &sh);
                }
                fputc('}', f);
        }
        sandbox_json(f, c, p, live);
        fprintf(f, ", \"kernel\": {\"apparmor\": %s, \"selinux\": %s, \"landlock_abi\": %d}}\n",
                bool_name(lsm_apparmor_enabled()), bool_name(lsm_selinux_enabled()),
                lsm_landlock_abi());
}

/* ---- text output ---------------------------------------------------------------------------- */

static void group_title(enum key_group g)
{
        static const char *const titles[] = {
            [KG_NAMESPACES] = "namespaces",
            [KG_LIFETIME] = "lifetime (who shares the sandbox, and how long it lives)",
            [KG_VIEW] = "the view inside",
            [KG_RESOURCES] = "resources (per user, across all of the user's sandboxes: the "
                             "strictest of their policies holds)",
            [KG_TABLES] = "kernel tables no cgroup caps",
            [KG_SYSCALLS] = "syscalls",
            [KG_PRIVILEGE] = "privilege",
        };
        if (g == KG_LSM) {
                int ll = lsm_landlock_abi();
                printf(" LSM (this kernel: AppArmor %s, SELinux %s, Landlock %s",
                       lsm_apparmor_enabled() ? "yes" : "no", lsm_selinux_enabled() ? "yes" : "no",
                       ll > 0 ? "yes" : "no");
                if (ll > 0)
                        printf(" (ABI %d)", ll);
                printf(")\n");
        } else if (g < ELEMENTSOF(titles) && titles[g]) {
                printf(" %s\n", titles[g]);
        }
}

/* An LSM the policy names but this kernel lacks. */
static void lsm_note(const struct shown *sh)
{
        const struct policy *p = sh->p;
        const char *missing =
            (p->apparmor_profile && !lsm_apparmor_enabled()) ? "AppArmor"
            : (p->selinux_context && !lsm_selinux_enabled()) ? "SELinux"
            : ((p->landlock_read_only.n || p->landlock_read_write.n) && lsm_landlock_abi() <= 0)
                ? "Landlock"
                : NULL;
        if (missing)
                printf("  note: this kernel has no %s: %s\n", missing,
                       p->lsm_required ? "logins with this policy are refused here (lsm_required)"
                                       : "logged and ignored (lsm_required = false)");
}

static void print_policy(const struct config *c, const struct policy *p,
                         const struct login_info *who, const struct effective *eff,
                         const struct live *live)
{
        const struct shown sh = {c, p, who, eff, live};
        enum key_group group = KG_NONE;

        printf("\npolicy %s (%s:%d)\n", p->name, c->file, p->line);
        for (size_t i = 0; i < keys_policy->n_keys; i++) {
                const struct key *k = &keys_policy->keys[i];
                const struct hook *h = hook_of(k);
                if (k->group != group) {
                        if (group == KG_LSM)
                                lsm_note(&sh);
                        group = k->group;
                        group_title(group);
                }
                KEY(k->name);
                if (h && h->text)
                        h->text(&sh);
                else
                        text_value(k, p, who);
                if (h && h->text_after)
                        h->text_after(&sh);
        }
        if (group == KG_LSM)
                lsm_note(&sh);
}

static void print_text(const struct config *c, const struct login_info *who,
                       const struct resolution *res, const struct effective *eff,
                       const struct live *live)
{
        printf("login    %s (uid %u), groups", who->user, (unsigned)who->uid);
        for (size_t i = 0; i < who->n_groups; i++)
                printf("%s %s", i ? "," : "", who->groups[i]);
        printf("\n         service %s, %s%s\n", who->service,
               who->rhost && who->rhost[0] ? "from " : "local (no rhost)",
               who->rhost && who->rhost[0] ? who->rhost : "");
        struct in6_addr addr;
        if (who->rhost && who->rhost[0] && parse_ip_address(who->rhost, &addr) < 0)
                printf("         (rhost %s is not an IP address: rules with rhosts never match "
                       "it)\n",
                       who->rhost);
        switch (res->outcome) {
        case RESOLVE_IGNORE:
                printf("outcome  not confined (the PAM module ignores this service)\n");
                break;
        case RESOLVE_EXEMPT:
                printf("outcome  exempt: the login is not confined\n");
                break;
        case RESOLVE_POLICY:
                printf("outcome  confined by policy %s\n", res->policy->name);
                break;
        }
        printf("why      %s\n", res->reason);
        if (res->outcome == RESOLVE_POLICY)
                print_policy(c, res->policy, who, eff, live);
}

int cmd_explain(int argc, char **argv)
{
        static const struct option options[] = {
            {"config", required_argument, NULL, 'c'}, {"service", required_argument, NULL, 's'},
            {"rhost", required_argument, NULL, 'r'},  {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
        };
        const char *path = DEFAULT_CONFIG_PATH, *service = "sshd", *rhost = NULL;
        bool json = false;
        int opt;

        optind = 0;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "+c:h", options, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        path = optarg;
                        break;
                case 's':
                        service = optarg;
                        break;
                case 'r':
                        rhost = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        explain_usage(stdout);
                        return 0;
                default:
                        ctl_bad_option("explain", "csr", argv);
                        explain_usage(stderr);
                        return 2;
                }
        }
        if (argc - optind != 1) {
                fprintf(stderr, "isolatectl explain: %s\n",
                        optind >= argc ? "which user? (USER is missing)" : "one USER only");
                explain_usage(stderr);
                return 2;
        }
        const char *user = argv[optind];
        if (!*service) {
                fprintf(stderr, "isolatectl explain: --service needs a PAM service name\n");
                return 2;
        }

        struct config *c = NULL;
        struct config_errors errs = {0};
        int r = config_load(path, true, &c, &errs);
        if (r == -EPERM) {
                /* Explain what the config says, but say first that the helper will not. */
                for (size_t i = 0; i < errs.n; i++)
                        fprintf(stderr, "warning: the helper refuses this file: %s\n",
                                errs.msgs[i]);
                config_errors_free(&errs);
                r = config_load(path, false, &c, &errs);
        }
        for (size_t i = 0; i < errs.n; i++)
                fprintf(stderr, "%s\n", errs.msgs[i]);
        config_errors_free(&errs);
        if (r < 0) {
                fprintf(stderr,
                        "isolatectl explain: %s is not valid: every login but root's "
                        "would be refused\n",
                        path);
                return 1;
        }

        struct login_info who;
        r = login_info_lookup(user, service, rhost, &who);
        if (r < 0) {
                if (r == -ENOENT)
                        fprintf(stderr, "isolatectl explain: no such user '%s'\n", user);
                else
                        fprintf(stderr, "isolatectl explain: cannot look up user '%s': %s\n", user,
                                strerror(-r));
                config_free(c);
                return 1;
        }

        struct resolution res;
        r = policy_resolve(c, &who, &res);
        if (r < 0) {
                fprintf(stderr, "isolatectl explain: cannot resolve: %s\n", strerror(-r));
                login_info_free(&who);
                config_free(c);
                return 1;
        }

        struct effective eff = {.r = -ENOSYS};
        struct live live = {.r = -ENOENT};
        if (res.outcome == RESOLVE_POLICY) {
                eff.r = seccomp_effective(res.policy, &eff.allowed, &eff.rules, &eff.err);
                live_lookup(c, res.policy, &who, &live);
        }

        if (json)
                print_json(c, &who, &res, &eff, &live);
        else
                print_text(c, &who, &res, &eff, &live);
        free(live.rec);

        if (eff.r >= 0) {
                seccomp_strv_free(&eff.allowed);
                seccomp_strv_free(&eff.rules);
        }
        login_info_free(&who);
        config_free(c);
        return fflush(stdout) == 0 ? 0 : 1;
}

/* suggest.c: `isolatectl suggest POLICY`: the calls the policy's sessions were logged making
 * outside its list, as a diff of the config that allows them (denials.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <seccomp.h>

#include "ctl.h"
#include "denials.h"
#include "../conf/syscalls.h"

static const char usage_text[] =
    "usage: isolatectl suggest [-c FILE] [--since TIME] [--audit-log FILE] POLICY\n"
    "The calls outside POLICY's list that its sessions made (logged under seccomp_action =\n"
    "log, errno-log or kill), as a diff of the config that allows them: named groups where\n"
    "every member was used, names otherwise. Lifting one of the default's deliberate denials\n"
    "comes with a warning naming the risk. Review, apply (patch FILE < the output),\n"
    "then isolatectl check.\n";

static int push(struct strv *v, const char *s)
{
        char *copy = strdup(s);
        char **nv = copy ? realloc(v->v, (v->n + 2) * sizeof(*nv)) : NULL;
        if (!nv) {
                free(copy);
                return -ENOMEM;
        }
        nv[v->n++] = copy;
        nv[v->n] = NULL;
        v->v = nv;
        return 0;
}

static bool has(const struct strv *v, const char *s)
{
        for (size_t i = 0; i < v->n; i++)
                if (STREQ(v->v[i], s))
                        return true;
        return false;
}

static void strv_clear(struct strv *v)
{
        for (size_t i = 0; i < v->n; i++)
                free(v->v[i]);
        free(v->v);
        *v = (struct strv){0};
}

/* "key = { a, b }" with the indentation of indent (a prefix of spaces and tabs). */
static char *list_line(const char *indent, size_t indent_len, const char *key,
                       const struct strv *items)
{
        size_t len = indent_len + strlen(key) + 16;
        for (size_t i = 0; i < items->n; i++)
                len += strlen(items->v[i]) + 2;
        char *s = malloc(len);
        if (!s)
                return NULL;
        int o = snprintf(s, len, "%.*s%s = {%s", (int)indent_len, indent, key, items->n ? " " : "");
        for (size_t i = 0; i < items->n; i++)
                o += snprintf(s + o, len - (size_t)o, "%s%s", i ? ", " : "", items->v[i]);
        snprintf(s + o, len - (size_t)o, "%s}", items->n ? " " : "");
        return s;
}

struct lines {
        char **v; /* each without its newline */
        size_t n;
};

static int lines_split(const char *text, struct lines *ret)
{
        *ret = (struct lines){0};
        for (const char *p = text; *p;) {
                size_t l = strcspn(p, "\n");
                char **nv = realloc(ret->v, (ret->n + 1) * sizeof(*nv));
                if (!nv)
                        return -ENOMEM;
                ret->v = nv;
                ret->v[ret->n] = strndup(p, l);
                if (!ret->v[ret->n])
                        return -ENOMEM;
                ret->n++;
                p += l + (p[l] == '\n');
        }
        return 0;
}

static void lines_free(struct lines *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        *l = (struct lines){0};
}

/* The braces of a line outside comments and quoted strings: opened minus closed. */
static int brace_balance(const char *line)
{
        int d = 0;
        bool quoted = false;
        for (const char *c = line; *c; c++) {
                if (*c == '"' && (c == line || c[-1] != '\\'))
                        quoted = !quoted;
                else if (!quoted && *c == '#')
                        break;
                else if (!quoted && *c == '{')
                        d++;
                else if (!quoted && *c == '}')
                        d--;
        }
        return d;
}

struct key_range {
        size_t first, last; /* lines (0-based) of the key's value; first > last: not set */
};

/* Where the policy's block opens (the line after which a key goes) and where each key is. */
static int policy_ranges(const struct lines *l, const struct policy *p, size_t *ret_open,
                         struct key_range *allow, struct key_range *deny)
{
        *allow = *deny = (struct key_range){1, 0};
        if (p->line < 1 || (size_t)p->line > l->n)
                return -ENOENT;
        int depth = 0;
        bool opened = false;
        for (size_t i = (size_t)p->line - 1; i < l->n; i++) {
                const char *s = l->v[i] + strspn(l->v[i], " \t");
                if (opened && depth == 1) {
                        struct key_range *k = NULL;
                        if (strncmp(s, "syscalls_allow", 14) == 0 && strchr(" \t=", s[14]))
                                k = allow;
                        else if (strncmp(s, "syscalls_deny", 13) == 0 && strchr(" \t=", s[13]))
                                k = deny;
                        if (k) {
                                /* the value may run over lines: to where its braces close */
                                size_t j = i;
                                int d = brace_balance(l->v[j]);
                                while (d > 0 && j + 1 < l->n)
                                        d += brace_balance(l->v[++j]);
                                if (d != 0)
                                        return -EBADMSG;
                                *k = (struct key_range){i, j};
                                i = j;
                                continue;
                        }
                }
                int b = brace_balance(l->v[i]);
                if (!opened && b == 0 && strchr(l->v[i], '{'))
                        return -ENOTSUP; /* the whole block on one line */
                if (!opened && b > 0) {
                        if (b != 1)
                                return -ENOTSUP; /* the whole block on one line */
                        opened = true;
                        *ret_open = i;
                }
                depth += b;
                if (opened && depth <= 0)
                        return 0;
        }
        return opened ? -EBADMSG : -ENOENT;
}

/* The new syscalls_deny and syscalls_allow of p, with every name of needed allowed. */
static int lists_new(const struct policy *p, const struct strv *needed, struct strv *deny,
                     struct strv *allow, struct strv *warnings)
{
        int r = 0;
        for (size_t i = 0; i < p->syscalls_deny.n && r == 0; i++) {
                const char *spec = p->syscalls_deny.v[i];
                bool used = false, all_used = true;
                const struct syscall_group *g = spec[0] == '@' ? syscall_group_find(spec) : NULL;
                if (!g)
                        used = has(needed, spec), all_used = used;
                else
                        for (const char *const *m = g->members; *m; m++)
                                if (syscall_name_known(*m)) {
                                        if (has(needed, *m))
                                                used = true;
                                        else
                                                all_used = false;
                                }
                if (!used)
                        r = push(deny, spec);
                else if (g && !all_used)
                        for (const char *const *m = g->members; *m && r == 0; m++)
                                if (syscall_name_known(*m) && !has(needed, *m))
                                        r = push(deny, *m);
        }
        for (size_t i = 0; i < p->syscalls_allow.n && r == 0; i++)
                r = push(allow, p->syscalls_allow.v[i]);
        /* what the list lacks, by group where a whole group was used */
        struct strv add = {0};
        for (size_t i = 0; i < needed->n && r == 0; i++)
                if (!policy_allows_name(p, needed->v[i]))
                        r = push(&add, needed->v[i]);
        size_t n_groups;
        const struct syscall_group *groups = syscall_groups(&n_groups);
        for (size_t gi = 0; gi < n_groups && r == 0; gi++) {
                const struct syscall_group *g = &groups[gi];
                if (g->in_default)
                        continue;
                size_t known = 0, used = 0;
                for (const char *const *m = g->members; *m; m++)
                        if (syscall_name_known(*m)) {
                                known++;
                                used += has(&add, *m);
                        }
                if (known < 2 || used != known)
                        continue;
                r = push(allow, g->name);
                for (size_t k = 0; k < add.n; k++)
                        if (syscall_spec_covers(g->name, add.v[k]))
                                add.v[k][0] = '\0'; /* taken by the group */
        }
        for (size_t k = 0; k < add.n && r == 0; k++)
                if (add.v[k][0])
                        r = push(allow, add.v[k]);
        strv_clear(&add);
        /* the risks of what is new in the list */
        for (size_t i = p->syscalls_allow.n; i < allow->n && r == 0; i++) {
                const char *item = allow->v[i];
                const struct syscall_group *g =
                    item[0] == '@' ? syscall_group_find(item) : syscall_group_of(item);
                const char *risk = g && !g->in_default ? syscall_deliberate_risk(g->name) : NULL;
                if (!risk)
                        continue;
                char w[768];
                snprintf(w, sizeof(w), "%s: the default denies %s on purpose: %s", item, g->name,
                         risk);
                r = push(warnings, w);
        }
        return r;
}

int suggest_config_text(const char *text, const struct policy *p, const struct strv *needed,
                        char **ret_text, struct strv *ret_warnings)
{
        _cleanup_(lines_free) struct lines l = {0};
        int r = lines_split(text, &l);
        if (r < 0)
                return r;
        size_t open = 0;
        struct key_range allow_at, deny_at;
        r = policy_ranges(&l, p, &open, &allow_at, &deny_at);
        if (r < 0)
                return r;
        struct strv deny = {0}, allow = {0};
        r = lists_new(p, needed, &deny, &allow, ret_warnings);
        char *deny_line = NULL, *allow_line = NULL;
        if (r == 0) {
                /* indentation: the key's own line, else the line after the opening one */
                const struct key_range *ref = allow_at.first <= allow_at.last ? &allow_at
                                              : deny_at.first <= deny_at.last ? &deny_at
                                                                              : NULL;
                const char *iline = ref ? l.v[ref->first] : (open + 1 < l.n ? l.v[open + 1] : "  ");
                size_t ilen = strspn(iline, " \t");
                if (ilen == 0)
                        iline = "  ", ilen = 2;
                deny_line = list_line(iline, ilen, "syscalls_deny", &deny);
                allow_line = list_line(iline, ilen, "syscalls_allow", &allow);
                if (!deny_line || !allow_line)
                        r = -ENOMEM;
        }
        bool deny_changed = p->syscalls_deny.n != deny.n;
        for (size_t i = 0; i < deny.n && !deny_changed; i++)
                deny_changed = !STREQ(deny.v[i], p->syscalls_deny.v[i]);
        bool allow_changed = allow.n != p->syscalls_allow.n;
        strv_clear(&deny);
        strv_clear(&allow);

        char *buf = NULL;
        size_t len = 0;
        FILE *f = r == 0 ? open_memstream(&buf, &len) : NULL;
        if (r == 0 && !f)
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < l.n; i++) {
                bool in_allow = allow_at.first <= i && i <= allow_at.last;
                bool in_deny = deny_at.first <= i && i <= deny_at.last;
                if (in_allow && allow_changed) {
                        if (i == allow_at.first)
                                fprintf(f, "%s\n", allow_line);
                } else if (in_deny && deny_changed) {
                        if (i == deny_at.first)
                                fprintf(f, "%s\n", deny_line);
                } else
                        fprintf(f, "%s\n", l.v[i]);
                if (i == open) {
                        if (allow_changed && allow_at.first > allow_at.last)
                                fprintf(f, "%s\n", allow_line);
                        if (deny_changed && deny_at.first > deny_at.last)
                                fprintf(f, "%s\n", deny_line);
                }
        }
        free(deny_line);
        free(allow_line);
        if (f && fclose(f) != 0 && r == 0)
                r = -ENOMEM;
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret_text = buf;
        return 0;
}

void text_diff(FILE *out, const char *old_name, const char *old_text, const char *new_name,
               const char *new_text)
{
        _cleanup_(lines_free) struct lines a = {0};
        _cleanup_(lines_free) struct lines b = {0};
        if (lines_split(old_text, &a) < 0 || lines_split(new_text, &b) < 0)
                return;
        size_t pre = 0;
        while (pre < a.n && pre < b.n && STREQ(a.v[pre], b.v[pre]))
                pre++;
        if (pre == a.n && pre == b.n)
                return;
        size_t suf = 0;
        while (suf < a.n - pre && suf < b.n - pre && STREQ(a.v[a.n - 1 - suf], b.v[b.n - 1 - suf]))
                suf++;
        size_t ctx_before = pre < 3 ? pre : 3, ctx_after = suf < 3 ? suf : 3;
        size_t start = pre - ctx_before;
        size_t a_count = (a.n - suf) - pre + ctx_before + ctx_after;
        size_t b_count = (b.n - suf) - pre + ctx_before + ctx_after;
        fprintf(out, "--- %s\n+++ %s\n", old_name, new_name);
        fprintf(out, "@@ -%zu,%zu +%zu,%zu @@\n", a_count ? start + 1 : start, a_count,
                b_count ? start + 1 : start, b_count);
        for (size_t i = start; i < pre; i++)
                fprintf(out, " %s\n", a.v[i]);
        for (size_t i = pre; i < a.n - suf; i++)
                fprintf(out, "-%s\n", a.v[i]);
        for (size_t i = pre; i < b.n - suf; i++)
                fprintf(out, "+%s\n", b.v[i]);
        for (size_t i = a.n - suf; i < a.n - suf + ctx_after; i++)
                fprintf(out, " %s\n", a.v[i]);
}

/* ---- the command --------------------------------------------------------------------------- */

struct use {
        char name[64];
        unsigned count;
};

struct suggest_ctx {
        struct login_entry *logins;
        size_t n_logins;
        const struct policy *policy;
        uint64_t since_ms;
        struct use *uses;
        size_t n_uses;
        unsigned events, conditional, foreign;
        struct strv sessions;
        uint64_t last_serial, last_time;
};

static int record_use(const struct seccomp_record *r, void *data)
{
        struct suggest_ctx *s = data;
        if (r->kind != AUDIT_KIND_SECCOMP || r->time_ms < s->since_ms)
                return 0; /* suggest proposes syscall lists; why shows the LSMs' refusals */
        bool by_session;
        const struct login_entry *l = denial_login(r, s->logins, s->n_logins, &by_session);
        if (!l || !STREQ(l->policy, s->policy->name))
                return 0;
        s->events++;
        if (!has(&s->sessions, l->id) && push(&s->sessions, l->id) < 0)
                return -ENOMEM;
        struct denial_explanation e;
        denial_explain(r, s->policy, NULL, &e);
        if (e.expected)
                return 0;
        if (r->arch != seccomp_arch_native() || r->compat || e.syscall[0] == '#') {
                s->foreign++;
                return 0;
        }
        bool denied = false;
        for (size_t i = 0; i < s->policy->syscalls_deny.n; i++)
                denied |= syscall_spec_covers(s->policy->syscalls_deny.v[i], e.syscall);
        if (!denied && policy_allows_name(s->policy, e.syscall)) {
                s->conditional++; /* an argument condition: no list change lifts it alone */
                return 0;
        }
        for (size_t i = 0; i < s->n_uses; i++)
                if (STREQ(s->uses[i].name, e.syscall)) {
                        s->uses[i].count++;
                        return 0;
                }
        struct use *nv = realloc(s->uses, (s->n_uses + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        s->uses = nv;
        snprintf(s->uses[s->n_uses].name, sizeof(s->uses[0].name), "%s", e.syscall);
        s->uses[s->n_uses++].count = 1;
        return 0;
}

static char *file_read(const char *path)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = NULL;
        size_t cap = 0, len = 0;
        for (;;) {
                if (len + 4096 + 1 > cap) {
                        cap = cap ? cap * 2 : 8192;
                        if (cap > 16 * 1024 * 1024) {
                                free(buf);
                                fclose(f);
                                errno = EFBIG;
                                return NULL;
                        }
                        char *nb = realloc(buf, cap);
                        if (!nb) {
                                free(buf);
                                fclose(f);
                                return NULL;
                        }
                        buf = nb;
                }
                size_t n = fread(buf + len, 1, 4096, f);
                len += n;
                if (n < 4096)
                        break;
        }
        fclose(f);
        buf[len] = '\0';
        return buf;
}

int cmd_suggest(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"since", required_argument, NULL, 's'},
            {"audit-log", required_argument, NULL, 'l'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *config = DEFAULT_CONFIG_PATH, *audit_log = NULL;
        struct suggest_ctx s = {0};
        int c;
        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 's':
                        if (why_since_parse(optarg, &s.since_ms) < 0) {
                                fprintf(stderr,
                                        "isolatectl suggest: bad --since '%s' (unix seconds, "
                                        "'YYYY-MM-DD HH:MM[:SS]', or 30s, 10m, 2h, 1d)\n",
                                        optarg);
                                return 2;
                        }
                        break;
                case 'l':
                        audit_log = optarg;
                        break;
                case 'h':
                        printf("%s", usage_text);
                        return 0;
                default:
                        ctl_bad_option("suggest", "csl", argv);
                        fprintf(stderr, "%s", usage_text);
                        return 2;
                }
        }
        if (argc - optind != 1) {
                fprintf(stderr, "%s", usage_text);
                return 2;
        }
        const char *name = argv[optind];
        struct config *cfg = NULL;
        if (ctl_config_load(config, &cfg) < 0)
                return 1;
        int status = 1;
        char *old = NULL, *new_text = NULL;
        struct strv needed = {0}, warnings = {0};
        for (size_t i = 0; i < cfg->n_policies; i++)
                if (STREQ(cfg->policies[i].name, name))
                        s.policy = &cfg->policies[i];
        if (!s.policy) {
                fprintf(stderr, "isolatectl suggest: no policy %s in %s\n", name, cfg->file);
                goto out;
        }
        if (s.policy->seccomp_base == SECCOMP_BASE_NONE) {
                fprintf(stderr, "isolatectl suggest: policy %s has no seccomp filter\n", name);
                goto out;
        }
        int r = denials_logins_read(cfg->runtime_dir, &s.logins, &s.n_logins);
        if (r < 0) {
                fprintf(stderr, "isolatectl suggest: cannot read %s/logins: %s\n", cfg->runtime_dir,
                        strerror(-r));
                goto out;
        }
        char sources[512], missing[512];
        r = denials_read(audit_log, record_use, &s, sources, sizeof(sources), missing,
                         sizeof(missing));
        if (r < 0 || !sources[0]) {
                fprintf(stderr, "isolatectl suggest: cannot read the audit records: %s\n",
                        r < 0 ? strerror(-r) : missing);
                goto out;
        }
        printf("# policy %s: %u logged events from %zu session(s), read from %s%s%s\n", name,
               s.events, s.sessions.n, sources, missing[0] ? "; not read: " : "", missing);
        for (size_t i = 0; i < s.n_uses; i++) {
                const struct syscall_group *g = syscall_group_of(s.uses[i].name);
                printf("# used: %s (%u times%s%s)\n", s.uses[i].name, s.uses[i].count,
                       g ? ", group " : "", g ? g->name : "");
                if (push(&needed, s.uses[i].name) < 0)
                        goto oom;
        }
        if (s.conditional)
                printf("# not suggested: %u refusals of an argument condition (clone with "
                       "CLONE_NEW*, ioctl TIOCSTI/TIOCLINUX, other socket families, personality "
                       "flags): isolatectl why shows each\n",
                       s.conditional);
        if (s.foreign)
                printf("# not suggested: %u calls of another ABI or unknown to libseccomp\n",
                       s.foreign);
        if (!needed.n) {
                printf("# nothing to suggest%s\n",
                       s.policy->seccomp_action == SECCOMP_ACTION_ERRNO
                           ? " (seccomp_action = errno logs nothing: set log or errno-log on a "
                             "trial policy first)"
                           : "");
                status = 0;
                goto out;
        }
        old = file_read(cfg->file);
        if (!old) {
                fprintf(stderr, "isolatectl suggest: cannot read %s: %s\n", cfg->file,
                        strerror(errno));
                goto out;
        }
        r = suggest_config_text(old, s.policy, &needed, &new_text, &warnings);
        if (r == -ENOTSUP || r == -EBADMSG || r == -ENOENT) {
                fprintf(
                    stderr,
                    "isolatectl suggest: cannot find the lists of policy %s in %s (line %d)%s\n",
                    name, cfg->file, s.policy->line,
                    r == -ENOTSUP ? ": its block is on one line; edit it by hand" : "");
                goto out;
        }
        if (r < 0)
                goto oom;
        for (size_t i = 0; i < warnings.n; i++)
                printf("# warning: %s\n", warnings.v[i]);
        char new_name[4200];
        snprintf(new_name, sizeof(new_name), "%s", cfg->file);
        text_diff(stdout, cfg->file, old, new_name, new_text);
        status = 0;
        goto out;
oom:
        fprintf(stderr, "isolatectl suggest: out of memory\n");
out:
        free(old);
        free(new_text);
        strv_clear(&needed);
        strv_clear(&warnings);
        strv_clear(&s.sessions);
        free(s.uses);
        free(s.logins);
        config_free(cfg);
        return status;
}

/* why.c: `isolatectl why [USER|SESSION]`: the recent seccomp and LSM refusals of isolate's
 * sessions, each tied to its login and policy, with the config line that decided it and the
 * line that would allow it (denials.h). */
#include <getopt.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "denials.h"
#include "json.h"

static const char usage_text[] =
    "usage: isolatectl why [-c FILE] [--since TIME] [--json] [--all] [--audit-log FILE]\n"
    "                      [USER|SESSION-ID]\n"
    "The recent seccomp, Landlock, AppArmor and SELinux refusals of isolate's sessions\n"
    "(all users, or one user's, or one session's), read from /dev/kmsg, the journal and\n"
    "/var/log/audit/audit.log: time, user, session, policy, process, syscall and group (or\n"
    "what the LSM denied), action, the config line that decided it, and the line that\n"
    "would allow it (for SELinux, the audit2why and audit2allow commands). TIME: unix\n"
    "seconds, 'YYYY-MM-DD HH:MM[:SS]' (local), or an age: 30s, 10m, 2h, 1d. --all: also\n"
    "what is refused by design (clone3 -> ENOSYS).\n";

struct found {
        struct seccomp_record rec;
        const struct login_entry *login;
        bool by_session;
};

struct why_ctx {
        struct login_entry *logins;
        size_t n_logins;
        uid_t uid;           /* (uid_t)-1: any */
        const char *session; /* NULL: any */
        uint64_t since_ms;
        struct found *v;
        size_t n;
        struct seccomp_record *lsm; /* the LSMs' refusals, tied once all is read */
        size_t n_lsm;
};

static int record_push(struct seccomp_record **v, size_t *n, const struct seccomp_record *r)
{
        struct seccomp_record *nv = realloc(*v, (*n + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        (*v)[(*n)++] = *r;
        return 0;
}

/* An LSM record lacks the audit session; the syscall record of its event (same time and
 * serial, written after it when audit is enabled) has it, and the process. */
static void lsm_join_syscall(struct why_ctx *w, const struct seccomp_record *sys)
{
        for (size_t i = w->n_lsm; i > 0; i--) {
                struct seccomp_record *l = &w->lsm[i - 1];
                if (l->time_ms != sys->time_ms || l->serial != sys->serial)
                        continue;
                l->auid = sys->auid;
                l->uid = sys->uid;
                l->gid = sys->gid;
                l->ses = sys->ses;
                l->pid = sys->pid;
                l->exit_errno = sys->exit_errno;
                snprintf(l->comm, sizeof(l->comm), "%s", sys->comm);
                snprintf(l->exe, sizeof(l->exe), "%s", sys->exe);
        }
}

static int found_add(struct why_ctx *w, const struct seccomp_record *r)
{
        bool by_session = false;
        const struct login_entry *l = denial_login(r, w->logins, w->n_logins, &by_session);
        if (!l)
                return 0; /* not from one of isolate's logins */
        if (w->uid != (uid_t)-1 && l->uid != w->uid)
                return 0;
        if (w->session && !STREQ(l->id, w->session))
                return 0;
        struct found *nv = realloc(w->v, (w->n + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        w->v = nv;
        w->v[w->n++] = (struct found){*r, l, by_session};
        return 0;
}

static int record_collect(const struct seccomp_record *r, void *data)
{
        struct why_ctx *w = data;
        switch (r->kind) {
        case AUDIT_KIND_SECCOMP:
                return r->time_ms < w->since_ms ? 0 : found_add(w, r);
        case AUDIT_KIND_LANDLOCK_ACCESS:
        case AUDIT_KIND_APPARMOR:
        case AUDIT_KIND_SELINUX:
                return r->time_ms < w->since_ms ? 0 : record_push(&w->lsm, &w->n_lsm, r);
        case AUDIT_KIND_LANDLOCK_DOMAIN:
                return 0; /* its process is the one that made the domain (lsm_resolve) */
        case AUDIT_KIND_SYSCALL:
                lsm_join_syscall(w, r);
                return 0;
        }
        return 0;
}

/* Ties the LSM records to logins. A Landlock record is tied by its event's syscall record
 * alone: the domain's 1424 record names the process that made the domain, which for isolate
 * is the root sshd (or su) that joined, not the user; without a syscall record (audit was
 * enabled after the process started) the record names no user and is left out. AppArmor's
 * names the task's fsuid: tied by that and the time when it has no syscall record. SELinux's
 * names no uid at all: tied by its syscall record alone, as Landlock's. */
static int lsm_resolve(struct why_ctx *w)
{
        for (size_t i = 0; i < w->n_lsm; i++) {
                struct seccomp_record *l = &w->lsm[i];
                if (l->ses == AUDIT_SESSION_UNSET && l->uid == AUDIT_SESSION_UNSET)
                        continue; /* nothing ties it to a user */
                int r = found_add(w, l);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int found_by_time(const void *a, const void *b)
{
        const struct found *x = a, *y = b;
        return x->rec.time_ms < y->rec.time_ms   ? -1
               : x->rec.time_ms > y->rec.time_ms ? 1
               : x->rec.serial < y->rec.serial   ? -1
                                                 : x->rec.serial > y->rec.serial;
}

/* Logins are collected once, before the records: pointers into w->logins stay valid. */

int why_since_parse(const char *s, uint64_t *ret_ms)
{
        uint64_t u;
        if (safe_atou64(s, &u) == 0) {
                *ret_ms = u * 1000;
                return 0;
        }
        size_t len = strlen(s);
        if (len >= 2 && len < 20) {
                char num[24];
                memcpy(num, s, len - 1);
                num[len - 1] = '\0';
                uint64_t mult = s[len - 1] == 's'   ? 1
                                : s[len - 1] == 'm' ? 60
                                : s[len - 1] == 'h' ? 3600
                                : s[len - 1] == 'd' ? 86400
                                                    : 0;
                if (mult && safe_atou64(num, &u) == 0 && u < UINT32_MAX) {
                        uint64_t now = (uint64_t)time(NULL);
                        *ret_ms = (now > u * mult ? now - u * mult : 0) * 1000;
                        return 0;
                }
        }
        struct tm tm = {0};
        const char *end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
        if (!end || *end) {
                memset(&tm, 0, sizeof(tm));
                end = strptime(s, "%Y-%m-%d %H:%M", &tm);
        }
        if (!end || *end)
                return -EINVAL;
        tm.tm_isdst = -1;
        time_t t = mktime(&tm);
        if (t < 0)
                return -EINVAL;
        *ret_ms = (uint64_t)t * 1000;
        return 0;
}

static bool session_id_like(const char *s)
{
        if (strlen(s) != 16) /* random_hex(id, 16) in the helper */
                return false;
        for (const char *c = s; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                        return false;
        return true;
}

static const struct policy *policy_named(const struct config *cfg, const char *name)
{
        for (size_t i = 0; i < cfg->n_policies; i++)
                if (STREQ(cfg->policies[i].name, name))
                        return &cfg->policies[i];
        return NULL;
}

static void time_text(uint64_t ms, char *buf, size_t len)
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static void explain_found(const struct config *cfg, const struct found *f,
                          struct denial_explanation *e)
{
        const struct policy *p = policy_named(cfg, f->login->policy);
        bool lsm = f->rec.kind != AUDIT_KIND_SECCOMP;
        if (p) {
                if (lsm)
                        lsm_denial_explain(&f->rec, p, cfg->file, e);
                else
                        denial_explain(&f->rec, p, cfg->file, e);
                return;
        }
        /* the policy left the config since: the name is still worth knowing */
        struct policy none = {.name = (char *)f->login->policy};
        if (lsm)
                lsm_denial_explain(&f->rec, &none, NULL, e);
        else
                denial_explain(&f->rec, &none, NULL, e);
        if (f->rec.kind == AUDIT_KIND_SELINUX) {
                /* the SELinux policy decided, not isolate's: its commands still hold */
                size_t used = strlen(e->decided_by);
                snprintf(e->decided_by + used, sizeof(e->decided_by) - used,
                         " (policy %s is no longer in %s)", f->login->policy, cfg->file);
                return;
        }
        snprintf(e->decided_by, sizeof(e->decided_by), "policy %s, which is no longer in %s",
                 f->login->policy, cfg->file);
        e->fix[0] = '\0';
        e->warning[0] = '\0';
}

/* The record's action; for errno with the errno the filter returns: the kernel logs the
 * action alone, not its data. */
static void action_text(const struct found *f, const struct denial_explanation *e, char *buf,
                        size_t len)
{
        if (f->rec.kind == AUDIT_KIND_SELINUX) {
                const char *name = f->rec.exit_errno ? strerrorname_np(f->rec.exit_errno) : NULL;
                if (f->rec.allowed)
                        snprintf(buf, len, "permissive (logged, not enforced)");
                else
                        snprintf(buf, len, "refused %s", name ? name : e->errno_name);
                return;
        }
        if (f->rec.kind != AUDIT_KIND_SECCOMP) {
                snprintf(buf, len, "%s",
                         f->rec.allowed ? "logged, allowed (complain mode)" : "refused EACCES");
                return;
        }
        seccomp_code_name(f->rec.code, buf, len);
        if ((f->rec.code & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO &&
            !(f->rec.code & SECCOMP_RET_DATA) && e->errno_name[0])
                snprintf(buf, len, "errno %s", e->errno_name);
}

static void print_text(const struct config *cfg, const struct found *f,
                       const struct denial_explanation *e)
{
        char when[32], action[64];
        time_text(f->rec.time_ms, when, sizeof(when));
        action_text(f, e, action, sizeof(action));
        printf("%s  user %s  session %s  policy %s\n", when, f->login->user, f->login->id,
               f->login->policy);
        printf("  process   %s (%s) pid %d uid %u%s\n", f->rec.comm[0] ? f->rec.comm : "?",
               f->rec.exe[0] ? f->rec.exe : "?", (int)f->rec.pid, (unsigned)f->rec.uid,
               f->by_session ? "" : "  [tied by uid and time: no audit session]");
        char where[96] = "";
        if (f->rec.dev[0] && f->rec.ino)
                snprintf(where, sizeof(where), " (dev %s, ino %llu)", f->rec.dev,
                         (unsigned long long)f->rec.ino);
        if (f->rec.kind == AUDIT_KIND_SECCOMP)
                printf("  syscall   %s%s%s%s\n", e->syscall, e->group[0] ? " (" : "", e->group,
                       e->group[0] ? ")" : "");
        else if (f->rec.kind == AUDIT_KIND_SELINUX) {
                printf("  denied    selinux: %s { %s }%s%s%s\n", f->rec.tclass, f->rec.denied,
                       f->rec.object[0] ? " on " : "", f->rec.object, where);
                printf("  target    %s\n", f->rec.tcontext);
                printf("  source    %s\n", f->rec.scontext);
        } else
                printf("  denied    %s: %s%s%s\n", e->group, e->syscall,
                       f->rec.object[0] ? " on " : "", f->rec.object);
        printf("  action    %s\n", action);
        printf("  decided   %s\n", e->decided_by);
        if (e->fix[0]) {
                if (e->fix_where[0])
                        printf("  to allow  %s:\n", e->fix_where);
                else
                        printf("  to allow  in policy %s:\n", f->login->policy);
                const char *s = e->fix;
                while (*s) {
                        size_t l = strcspn(s, "\n");
                        printf("              %.*s\n", (int)l, s);
                        s += l + (s[l] == '\n');
                }
        } else if (e->fix_where[0])
                printf("  to allow  %s\n", e->fix_where);
        else if (!e->expected)
                printf("  to allow  no config change allows it\n");
        if (e->warning[0])
                printf("  warning   %s\n", e->warning);
        (void)cfg;
}

static void print_json(const struct found *f, const struct denial_explanation *e, bool first)
{
        char when[32], action[64];
        time_text(f->rec.time_ms, when, sizeof(when));
        action_text(f, e, action, sizeof(action));
        printf("%s\n  {\"time\": %llu.%03u, \"time_text\": ", first ? "" : ",",
               (unsigned long long)(f->rec.time_ms / 1000), (unsigned)(f->rec.time_ms % 1000));
        json_str(stdout, when);
        printf(", \"user\": ");
        json_str(stdout, f->login->user);
        printf(", \"uid\": %u, \"session\": ", (unsigned)f->login->uid);
        json_str(stdout, f->login->id);
        printf(", \"policy\": ");
        json_str(stdout, f->login->policy);
        printf(", \"tied_by\": \"%s\", \"audit_session\": %u, \"pid\": %d, \"process_uid\": %u, "
               "\"comm\": ",
               f->by_session ? "audit-session" : "uid-and-time", (unsigned)f->rec.ses,
               (int)f->rec.pid, (unsigned)f->rec.uid);
        json_str(stdout, f->rec.comm);
        printf(", \"exe\": ");
        json_str(stdout, f->rec.exe);
        printf(", \"source\": \"%s\"", f->rec.kind == AUDIT_KIND_LANDLOCK_ACCESS ? "landlock"
                                       : f->rec.kind == AUDIT_KIND_APPARMOR      ? "apparmor"
                                       : f->rec.kind == AUDIT_KIND_SELINUX       ? "selinux"
                                                                                 : "seccomp");
        if (f->rec.kind != AUDIT_KIND_SECCOMP) {
                printf(", \"denied\": ");
                json_str(stdout, f->rec.denied);
                printf(", \"object\": ");
                json_str(stdout, f->rec.object[0] ? f->rec.object : NULL);
                printf(", \"landlock_domain\": \"%llx\", \"apparmor_profile\": ",
                       (unsigned long long)f->rec.domain);
                json_str(stdout, f->rec.profile[0] ? f->rec.profile : NULL);
                printf(", \"object_dev\": ");
                json_str(stdout, f->rec.dev[0] ? f->rec.dev : NULL);
                if (f->rec.ino)
                        printf(", \"object_ino\": %llu", (unsigned long long)f->rec.ino);
                else
                        printf(", \"object_ino\": null");
                bool se = f->rec.kind == AUDIT_KIND_SELINUX;
                printf(", \"selinux_scontext\": ");
                json_str(stdout, se ? f->rec.scontext : NULL);
                printf(", \"selinux_tcontext\": ");
                json_str(stdout, se ? f->rec.tcontext : NULL);
                printf(", \"selinux_tclass\": ");
                json_str(stdout, se ? f->rec.tclass : NULL);
                printf(", \"selinux_permissive\": %s", !se              ? "null"
                                                       : f->rec.allowed ? "true"
                                                                        : "false");
                printf(", \"fix_where\": ");
                json_str(stdout, e->fix_where[0] ? e->fix_where : NULL);
        }
        printf(", \"syscall\": ");
        json_str(stdout, e->syscall);
        printf(", \"syscall_nr\": %ld, \"arch\": \"%08x\", \"group\": ", f->rec.syscall,
               (unsigned)f->rec.arch);
        json_str(stdout, e->group[0] ? e->group : NULL);
        printf(", \"action\": ");
        json_str(stdout, action);
        printf(", \"code\": \"0x%08x\", \"decided_by\": ", (unsigned)f->rec.code);
        json_str(stdout, e->decided_by);
        printf(", \"fix\": ");
        json_str(stdout, e->fix[0] ? e->fix : NULL);
        printf(", \"warning\": ");
        json_str(stdout, e->warning[0] ? e->warning : NULL);
        printf(", \"by_design\": %s}", e->expected ? "true" : "false");
}

int cmd_why(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"since", required_argument, NULL, 's'},
            {"json", no_argument, NULL, 'j'},
            {"all", no_argument, NULL, 'a'},
            {"audit-log", required_argument, NULL, 'l'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *config = DEFAULT_CONFIG_PATH, *audit_log = NULL;
        bool json = false, all = false;
        struct why_ctx w = {.uid = (uid_t)-1};
        int c;
        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 's':
                        if (why_since_parse(optarg, &w.since_ms) < 0) {
                                fprintf(stderr,
                                        "isolatectl why: bad --since '%s' (unix seconds, "
                                        "'YYYY-MM-DD HH:MM[:SS]', or 30s, 10m, 2h, 1d)\n",
                                        optarg);
                                return 2;
                        }
                        break;
                case 'j':
                        json = true;
                        break;
                case 'a':
                        all = true;
                        break;
                case 'l':
                        audit_log = optarg;
                        break;
                case 'h':
                        printf("%s", usage_text);
                        return 0;
                default:
                        ctl_bad_option("why", "cl", argv);
                        fprintf(stderr, "%s", usage_text);
                        return 2;
                }
        }
        if (argc - optind > 1) {
                fprintf(stderr, "%s", usage_text);
                return 2;
        }
        const char *operand = argc - optind == 1 ? argv[optind] : NULL;
        if (operand && session_id_like(operand))
                w.session = operand;
        else if (operand) {
                struct passwd *pw = getpwnam(operand);
                uint64_t u;
                if (pw)
                        w.uid = pw->pw_uid;
                else if (safe_atou64(operand, &u) == 0 && u < UINT32_MAX)
                        w.uid = (uid_t)u;
                else {
                        fprintf(stderr, "isolatectl why: no such user or session: %s\n", operand);
                        return 1;
                }
        }

        struct config *cfg = NULL;
        if (ctl_config_load(config, &cfg) < 0)
                return 1;
        int status = 0;
        int r = denials_logins_read(cfg->runtime_dir, &w.logins, &w.n_logins);
        if (r < 0) {
                fprintf(stderr, "isolatectl why: cannot read %s/logins: %s\n", cfg->runtime_dir,
                        strerror(-r));
                status = 1;
                goto out;
        }
        char sources[512], missing[512];
        r = denials_read(audit_log, record_collect, &w, sources, sizeof(sources), missing,
                         sizeof(missing));
        if (r < 0) {
                fprintf(stderr, "isolatectl why: %s\n", strerror(-r));
                status = 1;
                goto out;
        }
        r = lsm_resolve(&w);
        if (r < 0) {
                fprintf(stderr, "isolatectl why: %s\n", strerror(-r));
                status = 1;
                goto out;
        }
        if (w.n > 1)
                qsort(w.v, w.n, sizeof(*w.v), found_by_time);
        if (!sources[0]) {
                fprintf(stderr, "isolatectl why: no source of audit records could be read (%s)\n",
                        missing);
                status = 1;
                goto out;
        }

        size_t shown = 0, hidden = 0;
        if (json) {
                printf("{\"sources\": ");
                json_str(stdout, sources);
                printf(", \"denials\": [");
        }
        for (size_t i = 0; i < w.n; i++) {
                struct denial_explanation e;
                explain_found(cfg, &w.v[i], &e);
                if (e.expected && !all) {
                        hidden++;
                        continue;
                }
                if (json)
                        print_json(&w.v[i], &e, shown == 0);
                else {
                        if (shown)
                                printf("\n");
                        print_text(cfg, &w.v[i], &e);
                }
                shown++;
        }
        if (json) {
                printf("%s], \"hidden_by_design\": %zu, \"not_read\": ", shown ? "\n" : "", hidden);
                json_str(stdout, missing);
                printf("}\n");
        } else {
                if (!shown)
                        printf("no refusals found%s\n",
                               hidden ? ""
                                      : " (seccomp_action = errno logs nothing: "
                                        "errno-log, log or kill do)");
                printf("%s%zu shown from %s%s%s", shown ? "\n" : "", shown, sources,
                       missing[0] ? "; not read: " : "", missing);
                if (hidden)
                        printf("; %zu refused by design hidden (clone3 -> ENOSYS; --all shows "
                               "them)",
                               hidden);
                printf("\n");
        }
out:
        free(w.v);
        free(w.lsm);
        free(w.logins);
        config_free(cfg);
        return status;
}

/* denials.c: seccomp audit records read back, tied to their login, explained (denials.h). */
#include "denials.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../client/util.h"
#include "../conf/syscalls.h"

#define AUDIT_SECCOMP_TYPE "1326"

/* ---- parsing ------------------------------------------------------------------------------ */

/* The value of key in the record's fields (" key=value" tokens up to the end or 0x1d, where
 * auditd's enriched part starts), copied into buf. false when absent or too long. */
static bool field_get(const char *fields, const char *key, char *buf, size_t len)
{
        size_t kl = strlen(key);
        const char *end = fields + strcspn(fields, "\x1d\n");
        for (const char *p = fields; p < end;) {
                p += strspn(p, " ");
                size_t tl = strcspn(p, " \x1d\n");
                if (p + tl > end)
                        tl = (size_t)(end - p);
                if (tl > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
                        size_t vl = tl - kl - 1;
                        if (vl >= len)
                                return false;
                        memcpy(buf, p + kl + 1, vl);
                        buf[vl] = '\0';
                        return true;
                }
                if (tl == 0)
                        break;
                p += tl;
        }
        return false;
}

static bool field_u64(const char *fields, const char *key, int base, uint64_t *ret)
{
        char v[32];
        if (!field_get(fields, key, v, sizeof(v)) || !v[0])
                return false;
        char *end;
        errno = 0;
        unsigned long long u = strtoull(v, &end, base);
        if (errno || *end || v[0] == '-')
                return false;
        *ret = u;
        return true;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* comm= and exe=: "text" as is; bare hex (the kernel's form for a value with a space, quote
 * or control character) decoded, control characters as '?'; anything else as written. */
static void untrusted_decode(const char *v, char *buf, size_t len)
{
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
                snprintf(buf, len, "%.*s", (int)(vl - 2), v + 1);
                return;
        }
        bool hex = vl > 0 && vl % 2 == 0;
        for (size_t i = 0; hex && i < vl; i++)
                hex = hexval(v[i]) >= 0;
        if (!hex) {
                snprintf(buf, len, "%s", v);
                return;
        }
        size_t o = 0;
        for (size_t i = 0; i + 1 < vl && o + 1 < len; i += 2) {
                char c = (char)(hexval(v[i]) << 4 | hexval(v[i + 1]));
                buf[o++] = (unsigned char)c < 0x20 || c == 0x7f ? '?' : c;
        }
        buf[o] = '\0';
}

static const struct {
        enum audit_kind kind;
        const char *number, *name, *unknown; /* the kernel's; auditd's; auditd's for a type it
                                                does not know */
} audit_types[] = {
    {AUDIT_KIND_SECCOMP, "type=1326 ", "type=SECCOMP ", "type=UNKNOWN[1326] "},
    {AUDIT_KIND_LANDLOCK_ACCESS, "type=1423 ", "type=LANDLOCK_ACCESS ", "type=UNKNOWN[1423] "},
    {AUDIT_KIND_LANDLOCK_DOMAIN, "type=1424 ", "type=LANDLOCK_DOMAIN ", "type=UNKNOWN[1424] "},
    {AUDIT_KIND_APPARMOR, "type=1400 ", "type=AVC ", "type=UNKNOWN[1400] "},
    {AUDIT_KIND_SYSCALL, "type=1300 ", "type=SYSCALL ", "type=UNKNOWN[1300] "},
};

static bool field_id(const char *fields, const char *key, uint32_t *ret)
{
        uint64_t v;
        if (!field_u64(fields, key, 10, &v) || v > UINT32_MAX)
                return false;
        *ret = (uint32_t)v;
        return true;
}

static bool field_text(const char *fields, const char *key, char *buf, size_t len)
{
        char v[1024];
        if (!field_get(fields, key, v, sizeof(v)))
                return false;
        untrusted_decode(v, buf, len);
        return true;
}

/* The object of an LSM record: its path or name, else the first of others (pairs KEY, LABEL,
 * NULL-ended) the record has, as "LABEL VALUE"; and the device and inode where it names
 * them. */
static void record_object(const char *fields, const char *const *others,
                          struct seccomp_record *ret)
{
        if (!field_text(fields, "path", ret->object, sizeof(ret->object)) &&
            !field_text(fields, "name", ret->object, sizeof(ret->object))) {
                char v[64];
                for (const char *const *o = others; o[0]; o += 2)
                        if (field_get(fields, o[0], v, sizeof(v))) {
                                snprintf(ret->object, sizeof(ret->object), "%s %s", o[1], v);
                                break;
                        }
        }
        field_text(fields, "dev", ret->dev, sizeof(ret->dev));
        if (!field_u64(fields, "ino", 10, &ret->ino))
                ret->ino = 0;
}

/* The permissions of an SELinux AVC record, "{ read write }" ("read write"), and the fields
 * after them; NULL when the braces are not there (a truncated record). */
static const char *selinux_permissions(const char *s, const char *end, char *buf, size_t len)
{
        s += strspn(s, " ");
        if (s >= end || *s != '{')
                return NULL;
        s++;
        const char *close = memchr(s, '}', (size_t)(end - s));
        if (!close)
                return NULL;
        size_t used = 0;
        buf[0] = '\0';
        while (s < close) {
                s += strspn(s, " ");
                size_t l = strcspn(s, " }");
                if (l == 0)
                        break;
                if (used + l + 2 > len)
                        return NULL;
                used +=
                    (size_t)snprintf(buf + used, len - used, "%s%.*s", used ? " " : "", (int)l, s);
                s += l;
        }
        return buf[0] ? close + 1 : NULL;
}

/* "avc:  denied  { read } for  pid=1234 comm="cat" name="dpkg.log" dev="vda" ino=123
 * scontext=user_u:user_r:user_t:s0 tcontext=system_u:object_r:var_log_t:s0 tclass=file
 * permissive=0": the process comes from the event's syscall record, as for AppArmor; the
 * record itself names no uid. */
static int selinux_fields_parse(const char *fields, struct seccomp_record *ret)
{
        const char *end = fields + strcspn(fields, "\x1d\n");
        const char *s = fields + strspn(fields, " ");
        if (strncmp(s, "avc:", 4) != 0)
                return -EBADMSG;
        s += 4;
        s += strspn(s, " ");
        size_t vl = strcspn(s, " \x1d\n");
        if (vl == 7 && strncmp(s, "granted", 7) == 0)
                return -ENOMSG; /* auditallow: a permission used, not refused */
        if (vl != 6 || strncmp(s, "denied", 6) != 0)
                return -EBADMSG;
        const char *rest = selinux_permissions(s + vl, end, ret->denied, sizeof(ret->denied));
        if (!rest)
                return -EBADMSG;
        if (!field_get(rest, "scontext", ret->scontext, sizeof(ret->scontext)) ||
            !field_get(rest, "tcontext", ret->tcontext, sizeof(ret->tcontext)) ||
            !field_get(rest, "tclass", ret->tclass, sizeof(ret->tclass)) || !ret->scontext[0] ||
            !ret->tcontext[0] || !ret->tclass[0])
                return -EBADMSG;
        /* no pid= when the check ran outside a process (a packet received) */
        uint64_t pid = 0;
        char v[64];
        if (field_get(rest, "pid", v, sizeof(v)) &&
            (!field_u64(rest, "pid", 10, &pid) || pid > INT32_MAX))
                return -EBADMSG;
        ret->pid = (pid_t)pid;
        /* permissive= since Linux 4.17; before it the record does not say */
        ret->allowed = field_get(rest, "permissive", v, sizeof(v)) && STREQ(v, "1");
        field_text(rest, "comm", ret->comm, sizeof(ret->comm));
        static const char *const others[] = {"capability", "capability", "dest", "port", "lport",
                                             "port", "src", "port", "key", "key", NULL};
        record_object(rest, others, ret);
        return 0;
}

/* The fields of a Landlock, AppArmor, SELinux or syscall record; the identity fields start
 * unset. */
static int lsm_fields_parse(const char *fields, struct seccomp_record *ret)
{
        ret->auid = ret->uid = ret->gid = ret->ses = AUDIT_SESSION_UNSET;
        uint64_t pid = 0;
        switch (ret->kind) {
        case AUDIT_KIND_LANDLOCK_ACCESS:
        case AUDIT_KIND_LANDLOCK_DOMAIN: {
                if (!field_u64(fields, "domain", 16, &ret->domain) || ret->domain == 0)
                        return -EBADMSG;
                if (ret->kind == AUDIT_KIND_LANDLOCK_ACCESS) {
                        if (!field_get(fields, "blockers", ret->denied, sizeof(ret->denied)) ||
                            !ret->denied[0])
                                return -EBADMSG;
                        /* the object: a path for fs, the other task for ptrace and scopes, the
                         * port for net */
                        static const char *const others[] = {"opid", "pid", "dest", "port",
                                                             "lport", "port", NULL};
                        record_object(fields, others, ret);
                        return 0;
                }
                char status[32];
                if (!field_get(fields, "status", status, sizeof(status)))
                        return -EBADMSG;
                if (STREQ(status, "deallocated")) {
                        ret->deallocated = true;
                        return 0;
                }
                if (!field_u64(fields, "pid", 10, &pid) || pid == 0 || pid > INT32_MAX ||
                    !field_id(fields, "uid", &ret->uid))
                        return -EBADMSG;
                ret->pid = (pid_t)pid;
                field_text(fields, "exe", ret->exe, sizeof(ret->exe));
                field_text(fields, "comm", ret->comm, sizeof(ret->comm));
                return 0;
        }
        case AUDIT_KIND_APPARMOR: {
                char verdict[32];
                if (!field_text(fields, "apparmor", verdict, sizeof(verdict)))
                        return -EBADMSG;
                if (STREQ(verdict, "ALLOWED"))
                        ret->allowed = true;
                else if (!STREQ(verdict, "DENIED"))
                        return -ENOMSG; /* STATUS (a profile loaded), AUDIT: not a refusal */
                if (!field_text(fields, "operation", ret->denied, sizeof(ret->denied)) ||
                    !field_text(fields, "profile", ret->profile, sizeof(ret->profile)) ||
                    !ret->denied[0] || !ret->profile[0])
                        return -EBADMSG;
                if (!field_u64(fields, "pid", 10, &pid) || pid > INT32_MAX)
                        return -EBADMSG;
                ret->pid = (pid_t)pid;
                field_text(fields, "comm", ret->comm, sizeof(ret->comm));
                field_text(fields, "class", ret->aa_class, sizeof(ret->aa_class));
                if (!field_text(fields, "name", ret->object, sizeof(ret->object)))
                        field_text(fields, "capname", ret->object, sizeof(ret->object));
                field_text(fields, "denied_mask", ret->mask, sizeof(ret->mask));
                /* the task's fsuid: the user, no login uid nor session in this record */
                if (!field_id(fields, "fsuid", &ret->uid))
                        ret->uid = AUDIT_SESSION_UNSET;
                return 0;
        }
        case AUDIT_KIND_SELINUX:
                return selinux_fields_parse(fields, ret);
        case AUDIT_KIND_SYSCALL: {
                if (!field_id(fields, "auid", &ret->auid) || !field_id(fields, "uid", &ret->uid) ||
                    !field_id(fields, "ses", &ret->ses) || !field_u64(fields, "pid", 10, &pid) ||
                    pid > INT32_MAX)
                        return -EBADMSG;
                field_id(fields, "gid", &ret->gid);
                ret->pid = (pid_t)pid;
                field_text(fields, "comm", ret->comm, sizeof(ret->comm));
                field_text(fields, "exe", ret->exe, sizeof(ret->exe));
                char v[32];
                int x;
                if (field_get(fields, "exit", v, sizeof(v)) && safe_atoi(v, &x) == 0 && x < 0 &&
                    x >= -4095)
                        ret->exit_errno = -x;
                return 0;
        }
        case AUDIT_KIND_SECCOMP:
                break;
        }
        return -EINVAL;
}

int audit_record_parse(const char *text, struct seccomp_record *ret)
{
        memset(ret, 0, sizeof(*ret));
        const char *type = NULL;
        for (size_t i = 0; !type && i < ELEMENTSOF(audit_types); i++) {
                type = strstr(text, audit_types[i].number);
                if (!type)
                        type = strstr(text, audit_types[i].name);
                if (!type)
                        type = strstr(text, audit_types[i].unknown);
                if (type)
                        ret->kind = audit_types[i].kind;
        }
        if (!type)
                return -ENOMSG;
        const char *a = strstr(type, "audit(");
        if (!a)
                return -EBADMSG;
        unsigned long long sec, serial;
        unsigned ms;
        int used = 0;
        if (sscanf(a, "audit(%llu.%3u:%llu):%n", &sec, &ms, &serial, &used) != 3 || used == 0)
                return -EBADMSG;
        const char *fields = a + used;
        ret->time_ms = sec * 1000 + ms;
        ret->serial = serial;
        ret->auditd_form = a - type >= 4 && strncmp(a - 4, "msg=", 4) == 0;
        /* type 1400 is AppArmor's and SELinux's: SELinux's text starts "avc:" */
        if (ret->kind == AUDIT_KIND_APPARMOR &&
            strncmp(fields + strspn(fields, " "), "avc:", 4) == 0)
                ret->kind = AUDIT_KIND_SELINUX;
        if (ret->kind != AUDIT_KIND_SECCOMP) {
                int r = lsm_fields_parse(fields, ret);
                if (r < 0) {
                        enum audit_kind kind = ret->kind;
                        memset(ret, 0, sizeof(*ret));
                        ret->kind = kind;
                }
                return r;
        }

        uint64_t auid, uid, gid, ses, pid, sig, arch, nr, compat, code;
        if (!field_u64(fields, "auid", 10, &auid) || !field_u64(fields, "uid", 10, &uid) ||
            !field_u64(fields, "gid", 10, &gid) || !field_u64(fields, "ses", 10, &ses) ||
            !field_u64(fields, "pid", 10, &pid) || !field_u64(fields, "sig", 10, &sig) ||
            !field_u64(fields, "arch", 16, &arch) || !field_u64(fields, "syscall", 10, &nr) ||
            !field_u64(fields, "code", 16, &code))
                return -EBADMSG;
        if (auid > UINT32_MAX || uid > UINT32_MAX || gid > UINT32_MAX || ses > UINT32_MAX ||
            pid > INT32_MAX || arch > UINT32_MAX || nr > INT32_MAX || code > UINT32_MAX || sig > 64)
                return -EBADMSG;
        if (!field_u64(fields, "compat", 10, &compat))
                compat = 0; /* kernels before 4.14 did not say */
        ret->auid = (uint32_t)auid;
        ret->uid = (uint32_t)uid;
        ret->gid = (uint32_t)gid;
        ret->ses = (uint32_t)ses;
        ret->pid = (pid_t)pid;
        ret->sig = (long)sig;
        ret->arch = (uint32_t)arch;
        ret->syscall = (long)nr;
        ret->compat = compat != 0;
        ret->code = (uint32_t)code;
        char v[1024];
        if (field_get(fields, "comm", v, sizeof(v)))
                untrusted_decode(v, ret->comm, sizeof(ret->comm));
        if (field_get(fields, "exe", v, sizeof(v)))
                untrusted_decode(v, ret->exe, sizeof(ret->exe));
        return 0;
}

int seccomp_record_parse(const char *text, struct seccomp_record *ret)
{
        int r = audit_record_parse(text, ret);
        if (r < 0 && ret->kind != AUDIT_KIND_SECCOMP)
                r = -ENOMSG;
        if (r == 0 && ret->kind != AUDIT_KIND_SECCOMP)
                r = -ENOMSG;
        if (r == -ENOMSG)
                memset(ret, 0, sizeof(*ret));
        return r;
}

static int kmsg_parse(const char *rec, size_t len, struct seccomp_record *ret, bool any)
{
        char buf[8192];
        if (len >= sizeof(buf))
                len = sizeof(buf) - 1;
        memcpy(buf, rec, len);
        buf[len] = '\0';
        buf[strcspn(buf, "\n")] = '\0'; /* the continuation lines: " SUBSYSTEM=..." */
        char *semi = strchr(buf, ';');
        if (!semi)
                return -ENOMSG;
        *semi = '\0';
        char *comma = strchr(buf, ',');
        if (comma)
                *comma = '\0';
        uint64_t prio;
        if (safe_atou64(buf, &prio) < 0)
                return -ENOMSG;
        if (prio >> 3 != 0) /* not the kernel's own */
                return -ENOMSG;
        return any ? audit_record_parse(semi + 1, ret) : seccomp_record_parse(semi + 1, ret);
}

int kmsg_record_parse(const char *rec, size_t len, struct seccomp_record *ret)
{
        return kmsg_parse(rec, len, ret, false);
}

int kmsg_audit_parse(const char *rec, size_t len, struct seccomp_record *ret)
{
        return kmsg_parse(rec, len, ret, true);
}

void seccomp_code_name(uint32_t code, char *buf, size_t len)
{
        uint32_t data = code & SECCOMP_RET_DATA;
        switch (code & SECCOMP_RET_ACTION_FULL) {
        case SECCOMP_RET_KILL_PROCESS:
                snprintf(buf, len, "kill-process");
                break;
        case SECCOMP_RET_KILL_THREAD:
                snprintf(buf, len, "kill-thread");
                break;
        case SECCOMP_RET_TRAP:
                snprintf(buf, len, "trap");
                break;
        case SECCOMP_RET_ERRNO: {
                const char *name = data ? strerrorname_np((int)data) : NULL;
                if (!data)
                        snprintf(buf, len, "errno");
                else if (name)
                        snprintf(buf, len, "errno %s", name);
                else
                        snprintf(buf, len, "errno %u", (unsigned)data);
                break;
        }
        case SECCOMP_RET_USER_NOTIF:
                snprintf(buf, len, "user-notif");
                break;
        case SECCOMP_RET_TRACE:
                snprintf(buf, len, "trace");
                break;
        case SECCOMP_RET_LOG:
                snprintf(buf, len, "log (allowed)");
                break;
        case SECCOMP_RET_ALLOW:
                snprintf(buf, len, "allow");
                break;
        default:
                snprintf(buf, len, "0x%08x", (unsigned)code);
                break;
        }
}

/* ---- which login ------------------------------------------------------------------------- */

const struct login_entry *denial_login(const struct seccomp_record *r,
                                       const struct login_entry *logins, size_t n,
                                       bool *ret_by_session)
{
        uint64_t t = r->time_ms / 1000 + 1; /* the helper's second may round down */
        const struct login_entry *best = NULL;
        if (r->ses != AUDIT_SESSION_UNSET) {
                /* session ids are never reused before a reboot, nor is /run kept across one */
                for (size_t i = 0; i < n; i++)
                        if (logins[i].audit_session == r->ses && logins[i].time <= t)
                                best = &logins[i];
                if (best) {
                        *ret_by_session = true;
                        return best;
                }
                /* a later login that joined a user-scope sandbox by ticket never met the
                 * helper: its login uid (auid) and time lead to the user's sandbox */
                if (r->auid == AUDIT_SESSION_UNSET)
                        return NULL;
                for (size_t i = 0; i < n; i++)
                        if (logins[i].scope == SCOPE_USER && logins[i].uid == r->auid &&
                            logins[i].time <= t)
                                best = &logins[i];
                if (best)
                        *ret_by_session = false;
                return best;
        }
        /* a seccomp record without ses= comes from a login without pam_loginuid; an LSM
         * record never has one (no syscall record: audit off): any login of its uid */
        bool any = r->kind != AUDIT_KIND_SECCOMP;
        for (size_t i = 0; i < n; i++)
                if ((any || logins[i].audit_session == AUDIT_SESSION_UNSET) &&
                    logins[i].uid == r->uid && logins[i].time <= t)
                        best = &logins[i];
        if (best)
                *ret_by_session = false;
        return best;
}

/* ---- explaining --------------------------------------------------------------------------- */

/* What the shipped default denies on purpose, and the risk of allowing it. */
static const struct {
        const char *group;
        const char *risk;
} deliberate[] = {
    {"@namespaces", "creating namespaces (user namespaces above all) exposes kernel code written "
                    "for root and lets a process leave the sandbox's view"},
    {"@mount", "mounting changes what the session sees; with privilege it escapes the view"},
    {"@keyring", "the kernel keyring is shared across the host's sessions of a user and a "
                 "frequent source of kernel bugs"},
    {"@bpf", "eBPF is a large kernel attack surface and can observe the host"},
    {"@perf", "perf events observe other processes and the kernel; a frequent source of leaks"},
    {"@io-uring", "io_uring bypasses seccomp for the calls it performs and is a large attack "
                  "surface"},
    {"@userfaultfd", "userfaultfd makes kernel races easy to win (exploit primitive)"},
    {"@module", "loading kernel modules"},
    {"@kexec", "booting another kernel"},
    {"@privileged", "calls that need a capability the session should not hold"},
};

const char *syscall_deliberate_risk(const char *group)
{
        for (size_t i = 0; i < ELEMENTSOF(deliberate); i++)
                if (STREQ(deliberate[i].group, group))
                        return deliberate[i].risk;
        return NULL;
}

static bool group_has(const struct syscall_group *g, const char *name)
{
        for (const char *const *m = g->members; *m; m++)
                if (STREQ(*m, name))
                        return true;
        return false;
}

/* Whether a config entry (a name or an @group) covers name. */
bool syscall_spec_covers(const char *spec, const char *name)
{
        if (spec[0] != '@')
                return STREQ(spec, name);
        const struct syscall_group *g = syscall_group_find(spec);
        return g && group_has(g, name);
}

/* The first group of the config that has name, preferring one of the default's. */
const struct syscall_group *syscall_group_of(const char *name)
{
        size_t n;
        const struct syscall_group *g = syscall_groups(&n);
        const struct syscall_group *found = NULL;
        for (size_t i = 0; i < n; i++)
                if (group_has(&g[i], name) && (!found || (g[i].in_default && !found->in_default)))
                        found = &g[i];
        return found;
}

static bool in_default(const char *name)
{
        size_t n;
        const struct syscall_group *g = syscall_groups(&n);
        for (size_t i = 0; i < n; i++)
                if (g[i].in_default && group_has(&g[i], name))
                        return true;
        return false;
}

/* "FILE:LINE: TEXT" of the policy's first line setting key, found by reading the file from
 * the policy's own line to the end of its block; "" when not found. */
static void key_line(const char *config_file, const struct policy *p, const char *key, char *buf,
                     size_t len)
{
        buf[0] = '\0';
        FILE *f = config_file ? fopen(config_file, "re") : NULL;
        if (!f)
                return;
        char line[1024];
        int no = 0, depth = 0;
        bool inside = false;
        while (fgets(line, sizeof(line), f)) {
                no++;
                if (no < p->line)
                        continue;
                line[strcspn(line, "\n")] = '\0';
                char *hash = strchr(line, '#');
                if (hash)
                        *hash = '\0';
                const char *s = line + strspn(line, " \t");
                size_t kl = strlen(key);
                if (inside && depth == 1 && strncmp(s, key, kl) == 0 &&
                    strchr(" \t=", s[kl] ? s[kl] : '=')) {
                        size_t tl = strlen(s);
                        while (tl && (s[tl - 1] == ' ' || s[tl - 1] == '\t'))
                                tl--;
                        snprintf(buf, len, "%s:%d: %.*s", config_file, no, (int)tl, s);
                        break;
                }
                for (const char *c = s; *c; c++) {
                        if (*c == '{') {
                                depth++;
                                inside = true;
                        } else if (*c == '}')
                                depth--;
                }
                if (inside && depth <= 0)
                        break;
        }
        fclose(f);
}

/* Appends ", item" (or "item") to buf. */
static void list_add(char *buf, size_t len, const char *item)
{
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", used ? ", " : "", item);
}

/* "syscalls_deny = { ... }" without name: entries naming it dropped, groups having it
 * replaced by their other members. */
static void deny_without(const struct policy *p, const char *name, char *buf, size_t len)
{
        char items[768] = "";
        for (size_t i = 0; i < p->syscalls_deny.n; i++) {
                const char *spec = p->syscalls_deny.v[i];
                if (!syscall_spec_covers(spec, name)) {
                        list_add(items, sizeof(items), spec);
                        continue;
                }
                if (spec[0] != '@')
                        continue;
                const struct syscall_group *g = syscall_group_find(spec);
                for (const char *const *m = g->members; *m; m++)
                        if (!STREQ(*m, name) && syscall_name_known(*m))
                                list_add(items, sizeof(items), *m);
        }
        if (items[0])
                snprintf(buf, len, "syscalls_deny = { %s }", items);
        else
                snprintf(buf, len, "syscalls_deny = {}");
}

static void allow_with(const struct policy *p, const char *name, char *buf, size_t len)
{
        char items[768] = "";
        for (size_t i = 0; i < p->syscalls_allow.n; i++)
                list_add(items, sizeof(items), p->syscalls_allow.v[i]);
        list_add(items, sizeof(items), name);
        snprintf(buf, len, "syscalls_allow = { %s }", items);
}

bool policy_allows_name(const struct policy *p, const char *name)
{
        if (in_default(name))
                return true;
        for (size_t i = 0; i < p->syscalls_allow.n; i++)
                if (syscall_spec_covers(p->syscalls_allow.v[i], name))
                        return true;
        return false;
}

void denial_explain(const struct seccomp_record *r, const struct policy *p, const char *config_file,
                    struct denial_explanation *ret)
{
        memset(ret, 0, sizeof(*ret));
        snprintf(ret->errno_name, sizeof(ret->errno_name), "EPERM");
        uint32_t native = seccomp_arch_native();
        char *name = NULL;
        if (r->arch == native && !r->compat)
                name = seccomp_syscall_resolve_num_arch(native, (int)r->syscall);
        else if (r->arch != 0)
                name = seccomp_syscall_resolve_num_arch(r->arch, (int)r->syscall);
        if (name)
                snprintf(ret->syscall, sizeof(ret->syscall), "%s", name);
        else
                snprintf(ret->syscall, sizeof(ret->syscall), "#%ld", r->syscall);
        const struct syscall_group *g = name ? syscall_group_of(name) : NULL;
        if (g)
                snprintf(ret->group, sizeof(ret->group), "%s", g->name);

        /* x86_64's x32 ABI: the native arch with bit 30 set in the number */
        bool x32 = native == SCMP_ARCH_X86_64 && r->arch == native && (r->syscall & 0x40000000);
        if (r->arch != native || r->compat || x32) {
                snprintf(ret->decided_by, sizeof(ret->decided_by),
                         "the filter's architecture check: every non-native ABI (arch=%08x%s) "
                         "is killed, whatever the policy says",
                         (unsigned)r->arch, x32 ? ", x32" : "");
                free(name);
                return;
        }
        if (!name) {
                snprintf(ret->errno_name, sizeof(ret->errno_name), "ENOSYS");
                snprintf(ret->decided_by, sizeof(ret->decided_by),
                         "the filter's default: a call newer than libseccomp %u.%u.%u knows gets "
                         "ENOSYS, so that libc falls back to an older one",
                         seccomp_version()->major, seccomp_version()->minor,
                         seccomp_version()->micro);
                return;
        }
        char line[600];
        for (size_t i = 0; i < p->syscalls_deny.n; i++) {
                const char *spec = p->syscalls_deny.v[i];
                if (!syscall_spec_covers(spec, name))
                        continue;
                key_line(config_file, p, "syscalls_deny", line, sizeof(line));
                snprintf(ret->decided_by, sizeof(ret->decided_by), "%s (policy %s denies %s%s%s)",
                         line[0] ? line : "syscalls_deny", p->name, spec,
                         spec[0] == '@' ? ", which has " : "", spec[0] == '@' ? name : "");
                char deny[512], allow[512] = "";
                deny_without(p, name, deny, sizeof(deny));
                if (!policy_allows_name(p, name))
                        allow_with(p, name, allow, sizeof(allow));
                snprintf(ret->fix, sizeof(ret->fix), "%s%s%s", deny, allow[0] ? "\n" : "", allow);
                break;
        }
        if (!ret->decided_by[0] && STREQ(name, "clone3") && !policy_allows_name(p, name)) {
                snprintf(ret->decided_by, sizeof(ret->decided_by),
                         "the filter: clone3 gets ENOSYS unless @namespaces is allowed (its flags "
                         "are in memory seccomp cannot read); libc falls back to clone");
                ret->expected = true;
                snprintf(ret->errno_name, sizeof(ret->errno_name), "ENOSYS");
        } else if (!ret->decided_by[0] && policy_allows_name(p, name) && !STREQ(name, "clone") &&
                   !STREQ(name, "ioctl") && !STREQ(name, "socket") && !STREQ(name, "personality")) {
                snprintf(ret->decided_by, sizeof(ret->decided_by),
                         "not the config as it is now: policy %s allows %s (the record is from "
                         "before a change, or from a sandbox built from an older definition)",
                         p->name, name);
                ret->expected = false;
        } else if (!ret->decided_by[0] && policy_allows_name(p, name)) {
                /* allowed by name, refused by an argument condition (seccomp.c) */
                if (STREQ(name, "socket"))
                        snprintf(ret->errno_name, sizeof(ret->errno_name), "EAFNOSUPPORT");
                snprintf(ret->decided_by, sizeof(ret->decided_by),
                         "an argument condition of the filter on %s (isolatectl explain lists "
                         "them): %s",
                         name,
                         STREQ(name, "clone")    ? "clone with a CLONE_NEW* flag creates a "
                                                   "namespace"
                         : STREQ(name, "ioctl")  ? "TIOCSTI and TIOCLINUX inject terminal input"
                         : STREQ(name, "socket") ? "address families other than unix, inet, "
                                                   "inet6, netlink"
                                                 : "personality flags that weaken memory "
                                                   "protections");
                if (STREQ(name, "clone")) {
                        allow_with(p, "@namespaces", ret->fix, sizeof(ret->fix));
                        snprintf(ret->warning, sizeof(ret->warning), "risk: %s",
                                 syscall_deliberate_risk("@namespaces"));
                }
        } else if (!ret->decided_by[0]) {
                key_line(config_file, p, "syscalls_allow", line, sizeof(line));
                snprintf(ret->decided_by, sizeof(ret->decided_by),
                         "the default allowlist does not have %s%s%s%s%s", name,
                         g ? " (group " : "", g ? g->name : "", g ? ", not in the default)" : "",
                         line[0] ? "; the policy's " : "");
                if (line[0]) {
                        size_t used = strlen(ret->decided_by);
                        snprintf(ret->decided_by + used, sizeof(ret->decided_by) - used, "%s",
                                 line);
                }
                allow_with(p, name, ret->fix, sizeof(ret->fix));
        }
        const char *risk = g && !g->in_default ? syscall_deliberate_risk(g->name) : NULL;
        if (risk && ret->fix[0] && !ret->warning[0])
                snprintf(ret->warning, sizeof(ret->warning),
                         "risk: the default denies %s on purpose: %s", g->name, risk);
        free(name);
}

/* ---- Landlock and AppArmor ---------------------------------------------------------------- */

/* Whether every right in blockers ("fs.read_file,fs.execute") is one landlock_read_only
 * grants. */
static bool landlock_read_rights_only(const char *blockers)
{
        static const char *const read_rights[] = {"fs.execute", "fs.read_file", "fs.read_dir"};
        for (const char *b = blockers; *b;) {
                size_t l = strcspn(b, ",");
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(read_rights); i++)
                        found = found ||
                                (strlen(read_rights[i]) == l && strncmp(read_rights[i], b, l) == 0);
                if (!found)
                        return false;
                b += l + (b[l] == ',');
        }
        return true;
}

/* Whether a config path (as written: "$HOME" and "~" not expanded here) covers path. */
static bool landlock_list_covers(const struct strv *list, const char *path)
{
        for (size_t i = 0; i < list->n; i++) {
                const char *e = list->v[i];
                size_t l = strlen(e);
                while (l > 1 && e[l - 1] == '/')
                        l--;
                if (e[0] == '/' && strncmp(e, path, l) == 0 &&
                    (path[l] == '\0' || path[l] == '/' || l == 1))
                        return true;
        }
        return false;
}

static void landlock_explain(const struct seccomp_record *r, const struct policy *p,
                             const char *config_file, struct denial_explanation *ret)
{
        snprintf(ret->group, sizeof(ret->group), "landlock");
        snprintf(ret->errno_name, sizeof(ret->errno_name), "EACCES");
        snprintf(ret->syscall, sizeof(ret->syscall), "%.63s", r->denied);
        bool fs = strncmp(r->denied, "fs.", 3) == 0 && !strstr(r->denied, "fs.change_topology") &&
                  r->object[0] == '/';
        if (!fs) {
                snprintf(ret->decided_by, sizeof(ret->decided_by),
                         "policy %s's Landlock domain (domain %llx): %s is refused to every "
                         "login of the policy whatever its paths (scopes, ptrace, mounts; "
                         "isolatectl explain shows them)",
                         p->name, (unsigned long long)r->domain, r->denied);
                return;
        }
        bool read_only = landlock_read_rights_only(r->denied);
        const struct strv *list = read_only ? &p->landlock_read_only : &p->landlock_read_write;
        const char *key = read_only ? "landlock_read_only" : "landlock_read_write";
        char ro[600] = "", rw[600] = "";
        key_line(config_file, p, "landlock_read_only", ro, sizeof(ro));
        key_line(config_file, p, "landlock_read_write", rw, sizeof(rw));
        if (landlock_list_covers(&p->landlock_read_write, r->object) ||
            (read_only && landlock_list_covers(&p->landlock_read_only, r->object))) {
                snprintf(ret->decided_by, sizeof(ret->decided_by),
                         "not the config as it is now: policy %s's %s covers %s (the record is "
                         "from before a change, or from a login under an older definition)",
                         p->name, key, r->object);
                return;
        }
        snprintf(ret->decided_by, sizeof(ret->decided_by),
                 "policy %s's Landlock ruleset (domain %llx) has no rule granting %s on %s: %s%s%s",
                 p->name, (unsigned long long)r->domain, r->denied, r->object,
                 rw[0]   ? rw
                 : ro[0] ? ro
                         : "landlock_read_only / landlock_read_write",
                 rw[0] && ro[0] ? "; " : "", rw[0] && ro[0] ? ro : "");
        /* quoted: "$HOME" and paths with spaces are strings the config reads only so */
        char items[900] = "", q[560];
        for (size_t i = 0; i < list->n; i++) {
                snprintf(q, sizeof(q), "\"%s\"", list->v[i]);
                list_add(items, sizeof(items), q);
        }
        snprintf(q, sizeof(q), "\"%s\"", r->object);
        list_add(items, sizeof(items), q);
        snprintf(ret->fix, sizeof(ret->fix), "%s = { %s }", key, items);
}

/* The AppArmor rule that grants what was denied, for a file access: "/etc/shadow r,". */
static void apparmor_explain(const struct seccomp_record *r, const struct policy *p,
                             const char *config_file, struct denial_explanation *ret)
{
        snprintf(ret->group, sizeof(ret->group), "apparmor");
        snprintf(ret->errno_name, sizeof(ret->errno_name), "EACCES");
        snprintf(ret->syscall, sizeof(ret->syscall), "%.40s%s%.20s", r->denied,
                 r->mask[0] ? " " : "", r->mask);
        char line[600] = "";
        key_line(config_file, p, "apparmor_profile", line, sizeof(line));
        bool ours = p->apparmor_profile && STREQ(p->apparmor_profile, r->profile);
        snprintf(ret->decided_by, sizeof(ret->decided_by),
                 "AppArmor profile %s%s%s%s%s, which has no rule for %s%s%s", r->profile,
                 ours ? " (" : " (not the policy's own profile",
                 ours ? (line[0] ? line : "apparmor_profile") : "", ours ? ")" : ")",
                 r->allowed ? " in complain mode: logged, allowed" : "", r->denied,
                 r->object[0] ? " of " : "", r->object);
        if (r->allowed)
                ret->expected = false;
        bool file =
            r->object[0] == '/' && r->mask[0] && (!r->aa_class[0] || STREQ(r->aa_class, "file"));
        if (file) {
                snprintf(ret->fix, sizeof(ret->fix), "%s %s,", r->object, r->mask);
                snprintf(ret->fix_where, sizeof(ret->fix_where),
                         "in AppArmor profile %s (/etc/apparmor.d/), then apparmor_parser -r",
                         r->profile);
        } else if (!STREQ(r->aa_class, "cap") || !r->object[0]) {
                snprintf(ret->fix_where, sizeof(ret->fix_where),
                         "a rule in AppArmor profile %s (aa-logprof proposes one)", r->profile);
        } else {
                snprintf(ret->fix, sizeof(ret->fix), "capability %s,", r->object);
                snprintf(ret->fix_where, sizeof(ret->fix_where),
                         "in AppArmor profile %s (/etc/apparmor.d/), then apparmor_parser -r",
                         r->profile);
        }
        (void)config_file;
}

/* The type of an SELinux context, USER:ROLE:TYPE[:LEVEL] (the level may have colons). */
static void selinux_type(const char *context, char *buf, size_t len)
{
        const char *t = strchr(context, ':');
        t = t ? strchr(t + 1, ':') : NULL;
        if (!t) {
                snprintf(buf, len, "%s", context);
                return;
        }
        t++;
        snprintf(buf, len, "%.*s", (int)strcspn(t, ":"), t);
}

/* SELinux refusals are the loaded SELinux policy's, which isolate.conf does not write: the
 * context the session runs in is the config's part (selinux_context), what that context may
 * do is the SELinux policy's. So no config line is offered, but the commands that say why
 * (a missing allow rule, a boolean, a file's label) and build a local module. */
static void selinux_explain(const struct seccomp_record *r, const struct policy *p,
                            const char *config_file, struct denial_explanation *ret)
{
        snprintf(ret->group, sizeof(ret->group), "selinux");
        snprintf(ret->errno_name, sizeof(ret->errno_name), "EACCES");
        snprintf(ret->syscall, sizeof(ret->syscall), "%.20s { %.38s }", r->tclass, r->denied);
        char stype[128], ttype[128], line[600] = "";
        selinux_type(r->scontext, stype, sizeof(stype));
        selinux_type(r->tcontext, ttype, sizeof(ttype));
        key_line(config_file, p, "selinux_context", line, sizeof(line));
        char context[900];
        if (!p->selinux_context)
                snprintf(context, sizeof(context),
                         "policy %s sets no selinux_context: the session keeps the context its "
                         "login gave it",
                         p->name);
        else if (STREQ(p->selinux_context, r->scontext))
                snprintf(context, sizeof(context), "the session's context is policy %s's %s",
                         p->name, line[0] ? line : "selinux_context");
        else
                snprintf(context, sizeof(context),
                         "policy %s's %s; the process had %s (a transition on exec, or a "
                         "record from before a change)",
                         p->name, line[0] ? line : "selinux_context", r->scontext);
        snprintf(ret->decided_by, sizeof(ret->decided_by),
                 "the loaded SELinux policy, not isolate's config: no rule allows %s %s { %s } "
                 "on %s%s; %s",
                 stype, r->tclass, r->denied, ttype,
                 r->allowed ? " (permissive: logged, not enforced; enforcing would refuse it)" : "",
                 context);
        /* the event by its id: auditd's log through ausearch, the kernel's log through dmesg */
        char event[80], find[160];
        snprintf(event, sizeof(event), "audit(%llu.%03u:%llu)",
                 (unsigned long long)(r->time_ms / 1000), (unsigned)(r->time_ms % 1000),
                 (unsigned long long)r->serial);
        if (r->auditd_form)
                snprintf(find, sizeof(find), "ausearch -m AVC -a %llu",
                         (unsigned long long)r->serial);
        else
                snprintf(find, sizeof(find), "dmesg | grep -F '%s'", event);
        snprintf(ret->fix, sizeof(ret->fix),
                 "%s | audit2why\n%s | audit2allow -M local && semodule -i local.pp", find, find);
        snprintf(ret->fix_where, sizeof(ret->fix_where),
                 "not in isolate.conf: as root, audit2why says why (a missing rule, a boolean, a "
                 "file's label: restorecon); if a rule is right, audit2allow -M local builds a "
                 "module of it (policycoreutils-python-utils)");
}

void lsm_denial_explain(const struct seccomp_record *r, const struct policy *p,
                        const char *config_file, struct denial_explanation *ret)
{
        memset(ret, 0, sizeof(*ret));
        if (r->kind == AUDIT_KIND_LANDLOCK_ACCESS)
                landlock_explain(r, p, config_file, ret);
        else if (r->kind == AUDIT_KIND_APPARMOR)
                apparmor_explain(r, p, config_file, ret);
        else if (r->kind == AUDIT_KIND_SELINUX)
                selinux_explain(r, p, config_file, ret);
}

/* ---- the host's sources ------------------------------------------------------------------ */

/* Appends "what: why" (or "what" when why is NULL) to a "; "-separated list. */
static void note(char *buf, size_t len, const char *what, const char *why)
{
        size_t used = strlen(buf);
        if (used + 1 < len)
                snprintf(buf + used, len - used, "%s%s%s%s", used ? "; " : "", what,
                         why ? ": " : "", why ? why : "");
}

static int kmsg_read(int (*fn)(const struct seccomp_record *r, void *data), void *data,
                     char *missing, size_t missing_len)
{
        _cleanup_close_ int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                note(missing, missing_len, "/dev/kmsg", strerror(errno));
                return -1;
        }
        if (lseek(fd, 0, SEEK_DATA) < 0) {
                note(missing, missing_len, "/dev/kmsg", strerror(errno));
                return -1;
        }
        char buf[8192];
        int count = 0;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EPIPE)
                        continue; /* overwritten while we read: go on with the next */
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                struct seccomp_record rec;
                if (kmsg_audit_parse(buf, (size_t)n, &rec) < 0)
                        continue;
                count++;
                int r = fn(&rec, data);
                if (r < 0)
                        return r;
        }
        return count;
}

static int audit_log_read(const char *path, int (*fn)(const struct seccomp_record *r, void *data),
                          void *data, char *missing, size_t missing_len)
{
        FILE *f = fopen(path, "re");
        if (!f) {
                note(missing, missing_len, path, strerror(errno));
                return -1;
        }
        char *line = NULL;
        size_t cap = 0;
        int count = 0, r = 0;
        while (r >= 0 && getline(&line, &cap, f) > 0) {
                struct seccomp_record rec;
                if (audit_record_parse(line, &rec) < 0)
                        continue;
                count++;
                r = fn(&rec, data);
        }
        free(line);
        fclose(f);
        return r < 0 ? r : count;
}

/* journald copies the kernel's log: its kernel messages of this boot (-k), as kmsg had them,
 * including what kmsg's ring has lost since. Read through journalctl, as status does. */
static int journal_read(int (*fn)(const struct seccomp_record *r, void *data), void *data,
                        char *missing, size_t missing_len)
{
        if (access("/run/systemd/journal/socket", F_OK) < 0) {
                note(missing, missing_len, "the journal", "journald is not running");
                return -1;
        }
        char *argv[] = {(char *)"journalctl",
                        (char *)"-q",
                        (char *)"--no-pager",
                        (char *)"-k",
                        (char *)"-o",
                        (char *)"cat",
                        (char *)"--grep=type=(1326|1423|1424|1400|1300) ",
                        NULL};
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                note(missing, missing_len, "the journal", strerror(errno));
                return -1;
        }
        pid_t pid = fork();
        if (pid == 0) {
                if (dup2(pipefd[1], 1) < 0)
                        _exit(127);
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0) {
                        dup2(null, 0);
                        dup2(null, 2);
                }
                execvp("journalctl", argv);
                _exit(127);
        }
        close(pipefd[1]);
        if (pid < 0) {
                close(pipefd[0]);
                note(missing, missing_len, "the journal", strerror(errno));
                return -1;
        }
        FILE *f = fdopen(pipefd[0], "re");
        int count = 0, r = 0;
        if (f) {
                char *line = NULL;
                size_t cap = 0;
                while (r >= 0 && getline(&line, &cap, f) > 0) {
                        struct seccomp_record rec;
                        if (audit_record_parse(line, &rec) < 0)
                                continue;
                        count++;
                        r = fn(&rec, data);
                }
                free(line);
                fclose(f); /* a stop on fn's error: journalctl gets EPIPE and ends */
        } else
                close(pipefd[0]);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        if (r < 0)
                return r;
        /* journalctl --grep exits 1 when nothing matched */
        if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 1)) {
                note(missing, missing_len, "the journal", "journalctl failed");
                return -1;
        }
        return count;
}

/* The same record from two sources (kmsg and the journal's copy of it) is given once: the
 * audit timestamp and serial name it. */
struct dedupe {
        int (*fn)(const struct seccomp_record *r, void *data);
        void *data;
        uint64_t *keys; /* open addressing; 0: empty */
        size_t cap, n;
};

static int dedupe_add(struct dedupe *d, uint64_t key)
{
        if (key == 0)
                key = 1;
        if ((d->n + 1) * 2 > d->cap) {
                size_t cap = d->cap ? d->cap * 2 : 1024;
                uint64_t *keys = calloc(cap, sizeof(*keys));
                if (!keys)
                        return -ENOMEM;
                for (size_t i = 0; i < d->cap; i++)
                        if (d->keys[i]) {
                                size_t j = d->keys[i] % cap;
                                while (keys[j])
                                        j = (j + 1) % cap;
                                keys[j] = d->keys[i];
                        }
                free(d->keys);
                d->keys = keys;
                d->cap = cap;
        }
        size_t j = key % d->cap;
        while (d->keys[j]) {
                if (d->keys[j] == key)
                        return 0; /* seen */
                j = (j + 1) % d->cap;
        }
        d->keys[j] = key;
        d->n++;
        return 1;
}

static int dedupe_fn(const struct seccomp_record *r, void *data)
{
        struct dedupe *d = data;
        /* the records of one event share time and serial: the type tells them apart */
        uint64_t key = (r->time_ms * 0x9E3779B97F4A7C15ULL) ^ (r->serial * 0xC2B2AE3D27D4EB4FULL) ^
                       ((uint64_t)r->kind * 0x165667B19E3779F9ULL);
        int q = dedupe_add(d, key);
        if (q <= 0)
                return q;
        return d->fn(r, d->data);
}

int denials_read(const char *audit_log, int (*fn)(const struct seccomp_record *r, void *data),
                 void *data, char *sources, size_t sources_len, char *missing, size_t missing_len)
{
        sources[0] = '\0';
        missing[0] = '\0';
        struct dedupe d = {.fn = fn, .data = data};
        int total = 0;
        int n = kmsg_read(dedupe_fn, &d, missing, missing_len);
        if (n >= 0) {
                note(sources, sources_len, "/dev/kmsg", NULL);
                total += n;
        }
        if (n >= -1) {
                n = journal_read(dedupe_fn, &d, missing, missing_len);
                if (n >= 0) {
                        note(sources, sources_len, "the journal", NULL);
                        total += n;
                }
        }
        const char *path = audit_log ? audit_log : "/var/log/audit/audit.log";
        if (n >= -1) {
                n = audit_log_read(path, dedupe_fn, &d, missing, missing_len);
                if (n >= 0) {
                        note(sources, sources_len, path, NULL);
                        total += n;
                }
        }
        free(d.keys);
        return n < -1 ? n : total;
}

struct login_list {
        struct login_entry *v;
        size_t n;
};

static int login_append(const struct login_entry *e, void *data)
{
        struct login_list *l = data;
        struct login_entry *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        l->v = nv;
        l->v[l->n++] = *e;
        return 0;
}

int denials_logins_read(const char *runtime_dir, struct login_entry **ret, size_t *n)
{
        struct login_list l = {0};
        int r = registry_logins_foreach(runtime_dir, login_append, &l);
        if (r < 0) {
                free(l.v);
                return r;
        }
        *ret = l.v;
        *n = l.n;
        return 0;
}

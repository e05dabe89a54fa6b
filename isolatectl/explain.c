/* explain.c: isolatectl explain [-c FILE] [--service S] [--rhost ADDR] [--json] USER:
 * the policy a login would get, why, and every setting of it, as the helper resolves it. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include "../conf/policy.h"
#include "ctl.h"
#include "../session-helper/limits.h"
#include "../session-helper/lsm.h"
#include "../session-helper/seccomp.h"

static void explain_usage(FILE *f)
{
        fprintf(f,
                "usage: isolatectl explain [-c FILE] [--service S] [--rhost ADDR] [--json] USER\n"
                "Shows which policy a login of USER through PAM service S (default sshd) from\n"
                "ADDR (default: a local login) gets with FILE (default %s), which\n"
                "rule decided and why, and every setting of that policy.\n",
                DEFAULT_CONFIG_PATH);
}

/* ---- JSON output ---------------------------------------------------------------------------- */

/* A JSON string: escapes, control characters as \u00XX, invalid UTF-8 as U+FFFD. */
static void json_str(FILE *f, const char *s)
{
        if (!s) {
                fputs("null", f);
                return;
        }
        fputc('"', f);
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
                unsigned c = *p;
                if (c == '"' || c == '\\') {
                        fprintf(f, "\\%c", c);
                        p++;
                } else if (c < 0x20 || c == 0x7f) {
                        fprintf(f, "\\u%04x", c);
                        p++;
                } else if (c < 0x80) {
                        fputc((int)c, f);
                        p++;
                } else {
                        size_t n = (c & 0xe0) == 0xc0   ? 2
                                   : (c & 0xf0) == 0xe0 ? 3
                                   : (c & 0xf8) == 0xf0 ? 4
                                                        : 0;
                        bool ok = n > 0 && c >= 0xc2 && c <= 0xf4;
                        for (size_t i = 1; ok && i < n; i++)
                                ok = (p[i] & 0xc0) == 0x80;
                        if (!ok) {
                                fputs("\\ufffd", f);
                                p++;
                                continue;
                        }
                        fwrite(p, 1, n, f);
                        p += n;
                }
        }
        fputc('"', f);
}

static void json_strv(FILE *f, const struct strv *v)
{
        fputc('[', f);
        for (size_t i = 0; i < v->n; i++) {
                if (i)
                        fputs(", ", f);
                json_str(f, v->v[i]);
        }
        fputc(']', f);
}

/* null: not set; "max": no limit; else the number */
static void json_limit(FILE *f, uint64_t v)
{
        if (v == LIMIT_UNSET)
                fputs("null", f);
        else if (v == LIMIT_MAX)
                fputs("\"max\"", f);
        else
                fprintf(f, "%" PRIu64, v);
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

static void print_json(const struct config *c, const struct login_info *who,
                       const struct resolution *res, const struct effective *eff)
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
                fprintf(f,
                        ", \"mount_namespace\": %s, \"pid_namespace\": %s, "
                        "\"uts_namespace\": %s, \"ipc_namespace\": %s, "
                        "\"cgroup_namespace\": %s, \"network\": \"%s\", \"hostname\": ",
                        bool_name(p->ns_mount), bool_name(p->ns_pid), bool_name(p->ns_uts),
                        bool_name(p->ns_ipc), bool_name(p->ns_cgroup),
                        network_mode_name(p->network));
                json_str(f, p->hostname);
                fprintf(f,
                        ", \"proc\": \"%s\", \"hidepid\": \"%s\", \"proc_subset_pid\": %s, "
                        "\"private_tmp\": %s, \"tmp_size\": ",
                        proc_mode_name(p->proc), hidepid_name(p->hidepid),
                        bool_name(p->proc_subset_pid), bool_name(p->private_tmp));
                json_limit(f, p->tmp_size);
                fputs(", \"masked_paths\": ", f);
                json_strv(f, &p->masked_paths);
                fputs(", \"read_only_paths\": ", f);
                json_strv(f, &p->read_only_paths);
                fprintf(f, ", \"hide_homes\": %s, \"memory_max\": ", bool_name(p->hide_homes));
                json_limit(f, p->memory_max);
                fputs(", \"memory_high\": ", f);
                json_limit(f, p->memory_high);
                fputs(", \"swap_max\": ", f);
                json_limit(f, p->swap_max);
                fputs(", \"pids_max\": ", f);
                json_limit(f, p->pids_max);
                fputs(", \"pty_max\": ", f);
                json_limit(f, p->pty_max);
                fputs(", \"max_sessions\": ", f);
                json_limit(f, p->max_sessions);
                fputs(", \"nofile\": ", f);
                json_limit(f, p->nofile);
                char why[256];
                uint64_t nofile = limits_nofile(c, p, why, sizeof(why));
                fprintf(f, ", \"nofile_effective\": %" PRIu64 ", \"nofile_why\": ", nofile);
                json_str(f, why);
                fputs(", \"cpu_max\": ", f);
                json_limit(f, p->cpu_max_percent);
                fputs(", \"cpu_weight\": ", f);
                json_limit(f, p->cpu_weight);
                fputs(", \"io\": [", f);
                for (size_t i = 0; i < p->n_io; i++) {
                        const struct io_limit *io = &p->io[i];
                        fputs(i ? ", {\"target\": " : "{\"target\": ", f);
                        json_str(f, io->target);
                        fprintf(f, ", \"line\": %d, \"read_bps\": ", io->line);
                        json_limit(f, io->read_bps);
                        fputs(", \"write_bps\": ", f);
                        json_limit(f, io->write_bps);
                        fputs(", \"read_iops\": ", f);
                        json_limit(f, io->read_iops);
                        fputs(", \"write_iops\": ", f);
                        json_limit(f, io->write_iops);
                        fputc('}', f);
                }
                fprintf(f,
                        "], \"caps_required\": %s, \"seccomp\": \"%s\", "
                        "\"seccomp_action\": \"%s\", \"syscalls_allow\": ",
                        bool_name(p->caps_required), seccomp_base_name(p->seccomp_base),
                        seccomp_action_name(p->seccomp_action));
                json_strv(f, &p->syscalls_allow);
                fputs(", \"syscalls_deny\": ", f);
                json_strv(f, &p->syscalls_deny);
                fputs(", \"syscalls_effective\": ", f);
                if (eff->r < 0) {
                        fputs("null, \"syscalls_effective_error\": ", f);
                        json_str(f, eff->err.msg[0] ? eff->err.msg : strerror(-eff->r));
                } else {
                        fputs("{\"allowed\": ", f);
                        json_strv(f, &eff->allowed);
                        fputs(", \"rules\": ", f);
                        json_strv(f, &eff->rules);
                        fputc('}', f);
                }
                fputs(", \"capabilities\": [", f);
                bool first = true;
                for (unsigned bit = 0; bit < 64; bit++) {
                        char name[64];
                        if (!(p->caps_keep & (UINT64_C(1) << bit)))
                                continue;
                        cap_name(bit, name, sizeof(name));
                        if (!first)
                                fputs(", ", f);
                        json_str(f, name);
                        first = false;
                }
                fprintf(f, "], \"no_new_privs\": %s, \"apparmor_profile\": ",
                        bool_name(p->no_new_privs));
                json_str(f, p->apparmor_profile);
                fputs(", \"selinux_context\": ", f);
                json_str(f, p->selinux_context);
                fputs(", \"landlock_read_only\": ", f);
                json_strv(f, &p->landlock_read_only);
                fputs(", \"landlock_read_write\": ", f);
                json_strv(f, &p->landlock_read_write);
                fprintf(f, ", \"lsm_required\": %s}", bool_name(p->lsm_required));
        }
        fprintf(f, ", \"kernel\": {\"apparmor\": %s, \"selinux\": %s, \"landlock_abi\": %d}}\n",
                bool_name(lsm_apparmor_enabled()), bool_name(lsm_selinux_enabled()),
                lsm_landlock_abi());
}

/* ---- text output ---------------------------------------------------------------------------- */

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
static void landlock_line(const char *key, const struct strv *v, const char *home)
{
        KEY(key);
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
        putchar('\n');
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

static void print_policy(const struct config *c, const struct policy *p,
                         const struct login_info *who, const struct effective *eff)
{
        char buf[64];

        printf("\npolicy %s (%s:%d)\n", p->name, c->file, p->line);
        printf(" namespaces\n");
        KEY("mount_namespace");
        printf("%s\n", bool_name(p->ns_mount));
        KEY("pid_namespace");
        printf("%s\n", bool_name(p->ns_pid));
        KEY("uts_namespace");
        printf("%s\n", bool_name(p->ns_uts));
        KEY("ipc_namespace");
        printf("%s\n", bool_name(p->ns_ipc));
        KEY("cgroup_namespace");
        printf("%s\n", bool_name(p->ns_cgroup));
        KEY("network");
        printf("%s\n", network_mode_name(p->network));
        KEY("hostname");
        if (!p->hostname) {
                printf("unset (the host's name)\n");
        } else {
                char name[HOST_NAME_MAX + 1];
                hostname_expand(p->hostname, who->user, name, sizeof(name));
                printf("\"%s\" (%s)\n", p->hostname, name);
        }

        printf(" the view inside\n");
        KEY("proc");
        printf("%s\n", proc_mode_name(p->proc));
        KEY("hidepid");
        printf("%s\n", hidepid_name(p->hidepid));
        KEY("proc_subset_pid");
        printf("%s\n", bool_name(p->proc_subset_pid));
        KEY("private_tmp");
        printf("%s\n", bool_name(p->private_tmp));
        KEY("tmp_size");
        printf("%s\n", limit_text(p->tmp_size, true, buf, sizeof(buf)));
        KEY("masked_paths");
        text_strv(&p->masked_paths);
        putchar('\n');
        KEY("read_only_paths");
        text_strv(&p->read_only_paths);
        putchar('\n');
        KEY("hide_homes");
        printf("%s\n", bool_name(p->hide_homes));
        KEY("pty_max");
        printf("%s per session (its own devpts)\n", limit_text(p->pty_max, false, buf, sizeof(buf)));

        printf(" resources (per user, across all of the user's sessions)\n");
        KEY("memory_max");
        printf("%s\n", limit_text(p->memory_max, true, buf, sizeof(buf)));
        KEY("memory_high");
        printf("%s\n", limit_text(p->memory_high, true, buf, sizeof(buf)));
        KEY("swap_max");
        printf("%s\n", limit_text(p->swap_max, true, buf, sizeof(buf)));
        KEY("pids_max");
        printf("%s\n", limit_text(p->pids_max, false, buf, sizeof(buf)));
        KEY("cpu_max");
        if (p->cpu_max_percent == LIMIT_UNSET || p->cpu_max_percent == LIMIT_MAX)
                printf("%s\n", limit_text(p->cpu_max_percent, false, buf, sizeof(buf)));
        else
                printf("%" PRIu64 "%%\n", p->cpu_max_percent);
        KEY("cpu_weight");
        printf("%s\n", limit_text(p->cpu_weight, false, buf, sizeof(buf)));
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
        KEY("caps_required");
        printf("%s\n", bool_name(p->caps_required));

        printf(" kernel tables no cgroup caps\n");
        KEY("max_sessions");
        printf("%s live sessions per user\n", limit_text(p->max_sessions, false, buf, sizeof(buf)));
        KEY("nofile");
        char why[256];
        uint64_t nofile = limits_nofile(c, p, why, sizeof(why));
        if (nofile == 0)
                printf("max (%s)\n", why);
        else
                printf("%" PRIu64 " per process, %s\n", nofile, why);

        printf(" syscalls\n");
        KEY("seccomp");
        printf("%s\n", seccomp_base_name(p->seccomp_base));
        KEY("seccomp_action");
        printf("%s\n", seccomp_action_name(p->seccomp_action));
        KEY("syscalls_allow");
        text_strv(&p->syscalls_allow);
        putchar('\n');
        KEY("syscalls_deny");
        text_strv(&p->syscalls_deny);
        putchar('\n');
        if (eff->r < 0) {
                printf("  syscall list: not available (%s)\n",
                       eff->err.msg[0] ? eff->err.msg : strerror(-eff->r));
        } else {
                printf("  syscall list: %zu allowed\n", eff->allowed.n);
                print_wrapped(&eff->allowed, "    ");
                if (eff->rules.n)
                        printf("  conditions\n");
                for (size_t i = 0; i < eff->rules.n; i++)
                        printf("    %s\n", eff->rules.v[i]);
        }

        printf(" privilege\n");
        KEY("no_new_privs");
        printf("%s\n", bool_name(p->no_new_privs));
        KEY("capabilities");
        putchar('{');
        bool first = true;
        for (unsigned bit = 0; bit < 64; bit++) {
                char name[64];
                if (!(p->caps_keep & (UINT64_C(1) << bit)))
                        continue;
                cap_name(bit, name, sizeof(name));
                printf("%s\"%s\"", first ? "" : ", ", name);
                first = false;
        }
        printf("}%s\n", first ? " (the bounding set is emptied)" : "");

        bool aa = lsm_apparmor_enabled(), se = lsm_selinux_enabled();
        int ll = lsm_landlock_abi();
        printf(" LSM (this kernel: AppArmor %s, SELinux %s, Landlock %s", aa ? "yes" : "no",
               se ? "yes" : "no", ll > 0 ? "yes" : "no");
        if (ll > 0)
                printf(" (ABI %d)", ll);
        printf(")\n");
        KEY("apparmor_profile");
        printf("%s%s%s\n", p->apparmor_profile ? "\"" : "",
               p->apparmor_profile ? p->apparmor_profile : "unset",
               p->apparmor_profile ? "\"" : "");
        KEY("selinux_context");
        printf("%s%s%s\n", p->selinux_context ? "\"" : "",
               p->selinux_context ? p->selinux_context : "unset", p->selinux_context ? "\"" : "");
        landlock_line("landlock_read_only", &p->landlock_read_only, who->home ? who->home : "~");
        landlock_line("landlock_read_write", &p->landlock_read_write, who->home ? who->home : "~");
        KEY("lsm_required");
        printf("%s\n", bool_name(p->lsm_required));

        const char *missing = (p->apparmor_profile && !aa)  ? "AppArmor"
                              : (p->selinux_context && !se) ? "SELinux"
                              : ((p->landlock_read_only.n || p->landlock_read_write.n) && ll <= 0)
                                  ? "Landlock"
                                  : NULL;
        if (missing)
                printf("  note: this kernel has no %s: %s\n", missing,
                       p->lsm_required ? "logins with this policy are refused here (lsm_required)"
                                       : "logged and ignored (lsm_required = false)");
}

static void print_text(const struct config *c, const struct login_info *who,
                       const struct resolution *res, const struct effective *eff)
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
                print_policy(c, res->policy, who, eff);
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
                        fprintf(stderr, "isolatectl explain: %s '%s'\n",
                                optopt && strchr("csr", optopt) ? "missing argument for"
                                                                : "unknown option",
                                argv[optind - 1]);
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
        if (res.outcome == RESOLVE_POLICY)
                eff.r = seccomp_effective(res.policy, &eff.allowed, &eff.rules, &eff.err);

        if (json)
                print_json(c, &who, &res, &eff);
        else
                print_text(c, &who, &res, &eff);

        if (eff.r >= 0) {
                seccomp_strv_free(&eff.allowed);
                seccomp_strv_free(&eff.rules);
        }
        login_info_free(&who);
        config_free(c);
        return fflush(stdout) == 0 ? 0 : 1;
}

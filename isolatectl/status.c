/* status.c: `isolatectl status`: one screen of what an admin looks at first: the cgroup
 * backend in use, the kernel features found against what the config asks for, whether the
 * config loads, the live sandboxes and their users, and the last few denials.
 *
 * Denials come from the journal (journalctl, when journald runs), else from the first
 * readable of /var/log/auth.log and /var/log/secure, else from --log FILE: the helper's
 * decision lines with outcome=denied or fail-open. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../conf/policy.h"
#include "../session-helper/cgroup.h"
#include "../session-helper/egress.h"
#include "../session-helper/lsm.h"
#include "../session-helper/registry.h"
#include "ctl.h"
#include "json.h"

#define STATUS_DENIALS   5
#define STATUS_SANDBOXES 10

static const char usage_text[] =
    "usage: isolatectl status [-c FILE] [--json] [--log FILE]\n"
    "The cgroup backend, the kernel features against what the config asks for, the config's\n"
    "state, live sandboxes and users, and the last denials (from the journal, else\n"
    "/var/log/auth.log or /var/log/secure, else --log FILE).\n";

struct features {
        char kernel[128];
        char backend[16];     /* what auto resolves to here, "" when none works */
        char backend_err[256];
        char v1[256];         /* controllers of the mounted v1 hierarchies */
        char v2_mount[256];   /* where cgroup2 is mounted, "" when it is not */
        char v2[256];         /* the controllers its root offers */
        char lsms[256];       /* /sys/kernel/security/lsm, "" without securityfs */
        bool apparmor, selinux;
        int landlock_abi;
        bool seccomp;
        bool cgroup_bpf; /* egress_allow's programs load */
};

/* Appends word to a space-separated list, once. */
static void word_add(char *list, size_t len, const char *word, size_t wlen)
{
        char w[64];
        snprintf(w, sizeof(w), "%.*s", (int)wlen, word);
        const char *p = list;
        size_t n = strlen(w);
        while ((p = strstr(p, w))) {
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
                        return;
                p += n;
        }
        size_t used = strlen(list);
        snprintf(list + used, len - used, "%s%s", used ? " " : "", w);
}

static bool word_in(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ' || p[-1] == ',') &&
                    (p[n] == ' ' || p[n] == ',' || p[n] == '\0' || p[n] == '\n'))
                        return true;
        return false;
}

/* The cgroup hierarchies from /proc/self/mountinfo: v1 controllers by their super options. */
static void cgroups_read(struct features *f)
{
        static const char *const known[] = {"cpu",     "cpuacct",  "cpuset",  "memory",
                                            "devices", "freezer",  "net_cls", "blkio",
                                            "perf_event", "net_prio", "hugetlb", "pids",
                                            "rdma",    "misc"};
        FILE *m = fopen("/proc/self/mountinfo", "re");
        if (!m)
                return;
        char line[4096];
        while (fgets(line, sizeof(line), m)) {
                char *sep = strstr(line, " - ");
                char mnt[1024], type[64], src[256], opts[1024] = "";
                if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1 ||
                    sscanf(sep + 3, "%63s %255s %1023s", type, src, opts) < 2)
                        continue;
                if (STREQ(type, "cgroup2") && !f->v2_mount[0]) {
                        snprintf(f->v2_mount, sizeof(f->v2_mount), "%s", mnt);
                        char path[1100];
                        snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
                        if (read_file_at(AT_FDCWD, path, f->v2, sizeof(f->v2)) > 0)
                                f->v2[strcspn(f->v2, "\n")] = '\0';
                } else if (STREQ(type, "cgroup")) {
                        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                                if (word_in(opts, known[i]))
                                        word_add(f->v1, sizeof(f->v1), known[i],
                                                 strlen(known[i]));
                }
        }
        fclose(m);
}

static void features_read(const struct config *cfg, struct features *f)
{
        struct utsname u;
        if (uname(&u) == 0)
                snprintf(f->kernel, sizeof(f->kernel), "%s %s %s", u.sysname, u.release,
                         u.machine);
        enum cgroup_backend_kind kind;
        struct isolate_error err = {0};
        if (cgroup_backend_resolve(cfg ? cfg->cgroup_backend : CGROUP_BACKEND_AUTO, &kind, &err) ==
            0)
                snprintf(f->backend, sizeof(f->backend), "%s", cgroup_backend_name(kind));
        else
                snprintf(f->backend_err, sizeof(f->backend_err), "%s", err.msg);
        cgroups_read(f);
        if (read_file_at(AT_FDCWD, "/sys/kernel/security/lsm", f->lsms, sizeof(f->lsms)) > 0)
                f->lsms[strcspn(f->lsms, "\n")] = '\0';
        f->landlock_abi = lsm_landlock_abi();
        f->apparmor = lsm_apparmor_enabled();
        f->selinux = lsm_selinux_enabled();
        f->seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
        /* the programs egress_allow attaches, with an empty list */
        struct egress_allow none = {.filtered = true};
        struct egress_log nolog = EGRESS_LOG_NONE;
        struct egress_bpf e = EGRESS_BPF_NONE;
        struct isolate_error berr = {0};
        f->cgroup_bpf = f->v2_mount[0] && egress_load(&none, &nolog, &e, &berr) == 0;
        egress_close(&e);
}

/* The controllers the backend's caps are written to. */
static bool has_controller(const struct features *f, const char *v1_name, const char *v2_name)
{
        if (STREQ(f->backend, "v1"))
                return word_in(f->v1, v1_name);
        return word_in(f->v2, v2_name);
}

/* What one policy asks of the kernel, each with whether the host has it. */
struct need {
        const char *what; /* "memory caps" */
        const char *has;  /* "memory controller" */
        bool ok;
};

static size_t policy_needs(const struct policy *p, const struct features *f, struct need *n,
                           size_t max)
{
        size_t k = 0;
#define NEED(cond, w, h, o)                                                                        \
        do {                                                                                       \
                if ((cond) && k < max)                                                             \
                        n[k++] = (struct need){w, h, o};                                           \
        } while (0)
        bool mem = p->memory_max != LIMIT_UNSET || p->memory_high != LIMIT_UNSET ||
                   p->swap_max != LIMIT_UNSET;
        NEED(mem, "memory_max/memory_high/swap_max", "memory controller",
             has_controller(f, "memory", "memory"));
        NEED(p->pids_max != LIMIT_UNSET, "pids_max", "pids controller",
             has_controller(f, "pids", "pids"));
        NEED(p->cpu_max_percent != LIMIT_UNSET || p->cpu_weight != LIMIT_UNSET,
             "cpu_max/cpu_weight", "cpu controller", has_controller(f, "cpu", "cpu"));
        NEED(p->n_io > 0, "io_*", STREQ(f->backend, "v1") ? "blkio controller" : "io controller",
             has_controller(f, "blkio", "io"));
        NEED(p->seccomp_base != SECCOMP_BASE_NONE, "seccomp", "seccomp", f->seccomp);
        NEED(p->apparmor_profile != NULL, "apparmor_profile", "AppArmor",
             f->apparmor);
        NEED(p->selinux_context != NULL, "selinux_context", "SELinux", f->selinux);
        NEED(p->landlock_read_only.n || p->landlock_read_write.n, "landlock_*", "Landlock",
             f->landlock_abi > 0);
        NEED(p->scope_abstract_unix == SCOPING_ON || p->scope_signals == SCOPING_ON,
             "scope_abstract_unix/scope_signals = true", "Landlock ABI >= 6",
             f->landlock_abi >= 6);
        NEED(p->egress.filtered, "egress_allow", "cgroup2 and cgroup BPF", f->cgroup_bpf);
#undef NEED
        return k;
}

struct sandboxes {
        size_t n, lingering, users;
        uid_t uids[4096];
        struct session_record shown[STATUS_SANDBOXES];
        struct sandbox_state state[STATUS_SANDBOXES];
        bool have_state[STATUS_SANDBOXES];
        size_t n_shown;
        const char *runtime_dir;
};

static int sandbox_count(const struct session_record *r, void *data)
{
        struct sandboxes *s = data;
        if (!registry_session_alive(r))
                return 0;
        s->n++;
        bool seen = false;
        for (size_t i = 0; i < s->users && i < ELEMENTSOF(s->uids) && !seen; i++)
                seen = s->uids[i] == r->uid;
        if (!seen && s->users < ELEMENTSOF(s->uids))
                s->uids[s->users++] = r->uid;
        struct sandbox_state st = {0};
        bool have = r->scope == SCOPE_USER && registry_state_read(s->runtime_dir, r->id, &st) == 0;
        if (have && (st.linger_until || st.linger_forever))
                s->lingering++;
        if (s->n_shown < STATUS_SANDBOXES) {
                s->shown[s->n_shown] = *r;
                s->state[s->n_shown] = st;
                s->have_state[s->n_shown] = have;
                s->n_shown++;
        }
        return 0;
}

/* The last few denial lines: from journalctl when journald runs, else from a log file. */
struct denials {
        char lines[STATUS_DENIALS][1024];
        size_t n;
        char source[256];
};

static bool denial_line(const char *l)
{
        return strstr(l, "isolate") && (strstr(l, "outcome=denied") || strstr(l, "outcome=fail-open"));
}

static void denial_add(struct denials *d, const char *line)
{
        if (d->n == STATUS_DENIALS) {
                memmove(d->lines, d->lines + 1, sizeof(d->lines[0]) * (STATUS_DENIALS - 1));
                d->n--;
        }
        snprintf(d->lines[d->n], sizeof(d->lines[0]), "%.*s", (int)strcspn(line, "\n"), line);
        d->n++;
}

static void denials_from_file(struct denials *d, const char *path)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return;
        snprintf(d->source, sizeof(d->source), "%s", path);
        char line[4096];
        while (fgets(line, sizeof(line), f))
                if (denial_line(line))
                        denial_add(d, line);
        fclose(f);
}

static void denials_from_journal(struct denials *d)
{
        char n[16];
        snprintf(n, sizeof(n), "%d", 200);
        /* every isolate line, the denials among them picked here: journal matches on two
         * values of one field are ORed, and fail-open counts too */
        char *argv[] = {(char *)"journalctl", (char *)"-q",  (char *)"--no-pager",
                        (char *)"-o",         (char *)"short-iso", (char *)"-n",
                        n,                    (char *)"SYSLOG_IDENTIFIER=isolate", NULL};
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return;
        pid_t pid = fork();
        if (pid == 0) {
                if (dup2(pipefd[1], 1) < 0)
                        _exit(127);
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, 2);
                execvp("journalctl", argv);
                _exit(127);
        }
        close(pipefd[1]);
        if (pid < 0) {
                close(pipefd[0]);
                return;
        }
        FILE *f = fdopen(pipefd[0], "re");
        if (f) {
                snprintf(d->source, sizeof(d->source), "the journal");
                char line[4096];
                while (fgets(line, sizeof(line), f))
                        if (denial_line(line))
                                denial_add(d, line);
                fclose(f);
        } else {
                close(pipefd[0]);
        }
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                d->source[0] = '\0';
}

static void denials_read(struct denials *d, const char *log)
{
        if (log) {
                denials_from_file(d, log);
                return;
        }
        if (access("/run/systemd/journal/socket", F_OK) == 0)
                denials_from_journal(d);
        if (!d->source[0])
                denials_from_file(d, "/var/log/auth.log");
        if (!d->source[0])
                denials_from_file(d, "/var/log/secure");
}

static void print_text(const char *config, const struct config *cfg,
                       const struct config_errors *errs, const struct features *f,
                       const struct sandboxes *s, const struct denials *d)
{
        printf("kernel:   %s\n", f->kernel);
        if (f->backend[0])
                printf("backend:  %s (cgroup_backend = %s)\n", f->backend,
                       cfg ? cgroup_backend_name(cfg->cgroup_backend) : "auto");
        else
                printf("backend:  none works here: %s\n", f->backend_err);
        printf("cgroups:  v1 [%s]; cgroup2 %s [%s]\n", f->v1[0] ? f->v1 : "none",
               f->v2_mount[0] ? f->v2_mount : "not mounted", f->v2);
        printf("LSMs:     %s; AppArmor %s; SELinux %s; Landlock ABI %d; seccomp %s; "
               "cgroup BPF %s\n",
               f->lsms[0] ? f->lsms : "(securityfs not mounted)", f->apparmor ? "yes" : "no",
               f->selinux ? "yes" : "no", f->landlock_abi, f->seccomp ? "yes" : "no",
               f->cgroup_bpf ? "yes" : "no");
        if (!cfg) {
                printf("config:   %s: INVALID (%zu error%s): %s\n", config, errs->n,
                       errs->n == 1 ? "" : "s", errs->n ? errs->msgs[0] : "");
                printf("          every non-root login is denied until it is fixed; "
                       "isolatectl check -c %s lists all\n",
                       config);
        } else {
                printf("config:   %s: OK, %zu polic%s, %zu match rule%s\n", config,
                       cfg->n_policies, cfg->n_policies == 1 ? "y" : "ies", cfg->n_rules,
                       cfg->n_rules == 1 ? "" : "s");
                for (size_t i = 0; i < cfg->n_policies; i++) {
                        struct need n[16];
                        size_t k = policy_needs(&cfg->policies[i], f, n, ELEMENTSOF(n));
                        printf("  policy %s:", cfg->policies[i].name);
                        if (k == 0)
                                printf(" asks for nothing of the kernel beyond namespaces");
                        for (size_t j = 0; j < k; j++)
                                printf("%s %s: %s %s", j ? ";" : "", n[j].what, n[j].has,
                                       n[j].ok ? "ok" : "MISSING");
                        printf("\n");
                }
        }
        printf("sandboxes: %zu live, %zu user%s, %zu lingering\n", s->n, s->users,
               s->users == 1 ? "" : "s", s->lingering);
        for (size_t i = 0; i < s->n_shown; i++) {
                const struct session_record *r = &s->shown[i];
                printf("  %s %s policy %s scope %s", r->id, r->user, r->policy,
                       r->scope == SCOPE_USER ? "user" : "login");
                if (s->have_state[i])
                        printf(" logins %u", s->state[i].logins);
                printf("\n");
        }
        if (s->n > s->n_shown)
                printf("  ... and %zu more (isolatectl list)\n", s->n - s->n_shown);
        if (!d->source[0])
                printf("denials:  not known (no journal, no /var/log/auth.log or "
                       "/var/log/secure; give --log FILE)\n");
        else
                printf("denials:  %zu recent in %s%s\n", d->n, d->source, d->n ? ":" : "");
        for (size_t i = 0; i < d->n; i++)
                printf("  %s\n", d->lines[i]);
}

static void print_json(const char *config, const struct config *cfg,
                       const struct config_errors *errs, const struct features *f,
                       const struct sandboxes *s, const struct denials *d)
{
        printf("{\"kernel\": ");
        json_str(stdout, f->kernel);
        printf(", \"backend\": ");
        json_str(stdout, f->backend[0] ? f->backend : NULL);
        printf(", \"backend_error\": ");
        json_str(stdout, f->backend[0] ? NULL : f->backend_err);
        printf(", \"cgroup_v1_controllers\": ");
        json_str(stdout, f->v1);
        printf(", \"cgroup2_mount\": ");
        json_str(stdout, f->v2_mount[0] ? f->v2_mount : NULL);
        printf(", \"cgroup2_controllers\": ");
        json_str(stdout, f->v2);
        printf(", \"lsms\": ");
        json_str(stdout, f->lsms);
        printf(", \"apparmor\": %s, \"selinux\": %s, \"landlock_abi\": %d, \"seccomp\": %s, "
               "\"cgroup_bpf\": %s",
               f->apparmor ? "true" : "false", f->selinux ? "true" : "false", f->landlock_abi,
               f->seccomp ? "true" : "false", f->cgroup_bpf ? "true" : "false");
        printf(",\n \"config\": {\"path\": ");
        json_str(stdout, config);
        printf(", \"valid\": %s, \"errors\": [", cfg ? "true" : "false");
        for (size_t i = 0; i < errs->n; i++) {
                printf("%s", i ? ", " : "");
                json_str(stdout, errs->msgs[i]);
        }
        printf("], \"policies\": [");
        for (size_t i = 0; cfg && i < cfg->n_policies; i++) {
                struct need n[16];
                size_t k = policy_needs(&cfg->policies[i], f, n, ELEMENTSOF(n));
                printf("%s{\"name\": ", i ? ", " : "");
                json_str(stdout, cfg->policies[i].name);
                printf(", \"needs\": [");
                for (size_t j = 0; j < k; j++) {
                        printf("%s{\"what\": ", j ? ", " : "");
                        json_str(stdout, n[j].what);
                        printf(", \"has\": ");
                        json_str(stdout, n[j].has);
                        printf(", \"ok\": %s}", n[j].ok ? "true" : "false");
                }
                printf("]}");
        }
        printf("]},\n \"sandboxes\": {\"live\": %zu, \"users\": %zu, \"lingering\": %zu, "
               "\"shown\": [",
               s->n, s->users, s->lingering);
        for (size_t i = 0; i < s->n_shown; i++) {
                printf("%s{\"id\": ", i ? ", " : "");
                json_str(stdout, s->shown[i].id);
                printf(", \"user\": ");
                json_str(stdout, s->shown[i].user);
                printf(", \"policy\": ");
                json_str(stdout, s->shown[i].policy);
                printf(", \"scope\": \"%s\"}", s->shown[i].scope == SCOPE_USER ? "user" : "login");
        }
        printf("]},\n \"denials\": {\"source\": ");
        json_str(stdout, d->source[0] ? d->source : NULL);
        printf(", \"lines\": [");
        for (size_t i = 0; i < d->n; i++) {
                printf("%s", i ? ", " : "");
                json_str(stdout, d->lines[i]);
        }
        printf("]}}\n");
}

int cmd_status(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"json", no_argument, NULL, 'j'},
            {"log", required_argument, NULL, 'l'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *config = DEFAULT_CONFIG_PATH, *log = NULL;
        bool json = false;
        int c;
        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'l':
                        log = optarg;
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
        struct config_errors errs = {0};
        if (config_load(config, true, &cfg, &errs) < 0)
                cfg = NULL;
        struct features f = {0};
        features_read(cfg, &f);
        struct sandboxes *s = calloc(1, sizeof(*s));
        struct denials *d = calloc(1, sizeof(*d));
        if (!s || !d) {
                free(s);
                free(d);
                config_free(cfg);
                config_errors_free(&errs);
                fprintf(stderr, "isolatectl status: out of memory\n");
                return 1;
        }
        s->runtime_dir = cfg ? cfg->runtime_dir : DEFAULT_RUNTIME_DIR;
        int r = registry_foreach(s->runtime_dir, sandbox_count, s);
        if (r < 0 && r != -ENOENT)
                ctl_registry_error("status", s->runtime_dir, r);
        denials_read(d, log);
        if (json)
                print_json(config, cfg, &errs, &f, s, d);
        else
                print_text(config, cfg, &errs, &f, s, d);
        int st = cfg ? 0 : 1;
        free(s);
        free(d);
        config_free(cfg);
        config_errors_free(&errs);
        return st;
}

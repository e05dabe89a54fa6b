/* check.c: isolatectl check [-c FILE]: every problem of a config, as FILE:LINE: message.
 *
 * Besides what config_load() finds, it resolves each io target to its disk (as the helper
 * will at login) and lints the PAM stack of each configured service: a module placed after
 * pam_isolate.so in the session stack runs crippled. Stack problems are warnings: the
 * config is fine, the fix is in /etc/pam.d, and exit status 1 stays reserved for "the
 * helper would refuse this config". So is logind's KillUserProcesses=yes next to a
 * user-scope policy: logind then ends what each login started, tmux included. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <stdlib.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>

#include "../conf/pamstack.h"
#include "../conf/policy.h"
#include "../session-helper/cgroup.h"
#include "../session-helper/devices.h"
#include "ctl.h"

static void check_usage(FILE *f)
{
        fprintf(f,
                "usage: isolatectl check [-c FILE] [--pam-dir DIR] [--logind-conf FILE]\n"
                "Checks FILE (default %s) as the helper would read it, the disks\n"
                "named by io blocks, and the PAM session stack of each service in DIR\n"
                "(default /etc/pam.d), and logind's KillUserProcesses= in FILE and FILE.d/\n"
                "(default /etc/systemd/logind.conf) where a policy has scope = user.\n"
                "Prints FILE: OK and exits 0 when the config is valid;\n"
                "else prints every problem as FILE:LINE: message and exits 1.\n",
                DEFAULT_CONFIG_PATH);
}

static void print_errors(const struct config_errors *errs)
{
        for (size_t i = 0; i < errs->n; i++)
                fprintf(stderr, "%s\n", errs->msgs[i]);
}

/* The disks of the io blocks. Returns the number of problems. */
static size_t check_io(const struct config *c)
{
        size_t problems = 0;
        bool told = false;
        for (size_t i = 0; i < c->n_policies; i++) {
                const struct policy *p = &c->policies[i];
                for (size_t j = 0; j < p->n_io; j++) {
                        struct isolate_error err = {0};
                        unsigned major, minor;
                        int r = device_resolve(p->io[j].target, &major, &minor, &err);
                        if (r == -ENOSYS) {
                                if (!told)
                                        fprintf(stderr, "note: io targets not checked: %s\n",
                                                err.msg);
                                told = true;
                        } else if (r < 0) {
                                fprintf(stderr, "%s:%d: io \"%s\": %s\n", c->file, p->io[j].line,
                                        p->io[j].target, err.msg[0] ? err.msg : strerror(-r));
                                problems++;
                        }
                }
        }
        return problems;
}

static void check_pam(const struct config *c, const char *pam_dir)
{
        for (size_t i = 0; i < c->services.n; i++) {
                struct config_errors problems = {0};
                int r = pamstack_check(pam_dir, c->services.v[i], &problems);
                if (r < 0)
                        fprintf(stderr,
                                "warning: cannot check the PAM stack of service %s in %s: %s\n",
                                c->services.v[i], pam_dir, strerror(-r));
                for (size_t j = 0; j < problems.n; j++)
                        fprintf(stderr, "warning: %s\n", problems.msgs[j]);
                config_errors_free(&problems);
        }
}

/* Whether I/O caps would be blkio's on this host: the v1 backend, or systemd on a host
 * whose /sys/fs/cgroup is not cgroup2 (legacy or hybrid: systemd sets them in blkio). */
static bool io_caps_on_v1(const struct config *c)
{
        enum cgroup_backend_kind backend;
        struct isolate_error err = {0};
        if (cgroup_backend_resolve(c->cgroup_backend, &backend, &err) < 0)
                return false;
        if (backend == CGROUP_BACKEND_SYSTEMD) {
                struct statfs sfs;
                return statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type != CGROUP2_SUPER_MAGIC;
        }
        return backend == CGROUP_BACKEND_V1;
}

static bool rate_set(uint64_t v)
{
        return v != LIMIT_UNSET && v != LIMIT_MAX;
}

/* v1's blkio throttles a write where it is issued: O_DIRECT and synchronous writes are
 * throttled in the writer, but buffered writes go to the page cache at memory speed and
 * reach the disk later from the kernel's writeback threads, which v1 cannot charge to the
 * cgroup that dirtied the pages (v2 with io and memory does). */
static void check_write_caps_on_v1(const struct config *c)
{
        if (!io_caps_on_v1(c))
                return;
        for (size_t i = 0; i < c->n_policies; i++) {
                const struct policy *p = &c->policies[i];
                for (size_t j = 0; j < p->n_io; j++) {
                        const struct io_limit *io = &p->io[j];
                        bool bps = rate_set(io->write_bps), iops = rate_set(io->write_iops);
                        if (!bps && !iops)
                                continue;
                        fprintf(stderr,
                                "warning: %s:%d: policy %s: io \"%s\": %s on cgroup v1 throttles "
                                "only direct and synchronous writes; buffered writes reach the "
                                "disk later through the kernel's writeback, which v1 cannot "
                                "charge to the user, and go at the disk's full speed (cgroup v2 "
                                "with the io and memory controllers throttles them)\n",
                                c->file, io->line, p->name, io->target,
                                bps && iops ? "write_bps and write_iops"
                                : bps       ? "write_bps"
                                            : "write_iops");
                }
        }
}

/* A sysctl's value, 0 when it cannot be read (then the note it serves is not made). */
static uint64_t sysctl_u64(const char *path)
{
        uint64_t v = 0;
        return read_u64_at(AT_FDCWD, path, &v) < 0 ? 0 : v;
}

/* Host tables that each user's caps leave room to fill (issue 12): said as notes, the fix is
 * the host's sysctl, not the config. */
static void check_kernel_tables(const struct config *c)
{
        uint64_t file_max = sysctl_u64("/proc/sys/fs/file-max");
        uint64_t pty_max = sysctl_u64("/proc/sys/kernel/pty/max");
        uint64_t pty_reserve = sysctl_u64("/proc/sys/kernel/pty/reserve");
        uint64_t pty_pool = pty_max > pty_reserve ? pty_max - pty_reserve : 0;
        for (size_t i = 0; i < c->n_policies; i++) {
                const struct policy *p = &c->policies[i];
                /* a file mapped and closed stays open without an fd: about 400 bytes of the
                 * user's memory each, and no rlimit counts it */
                if (file_max && p->memory_max != LIMIT_UNSET && p->memory_max != LIMIT_MAX &&
                    p->memory_max / 400 > file_max / 4)
                        fprintf(stderr,
                                "note: %s:%d: policy %s: memory_max lets one user keep about %llu "
                                "files open through mappings (no fd, so nofile does not count "
                                "them), more than a quarter of fs.file-max (%llu); raise "
                                "fs.file-max (sysctl fs.file-max=9223372036854775807, as systemd "
                                "does) so that memory is the bound\n",
                                c->file, p->line, p->name,
                                (unsigned long long)(p->memory_max / 400),
                                (unsigned long long)file_max);
                uint64_t sessions = p->max_sessions, ptys = p->pty_max;
                if (pty_pool && sessions != LIMIT_MAX && ptys != LIMIT_MAX &&
                    sessions * ptys > pty_pool / 4)
                        fprintf(stderr,
                                "note: %s:%d: policy %s: max_sessions x pty_max = %llu ptys for "
                                "one user, more than a quarter of the %llu all sessions share "
                                "(kernel.pty.max - kernel.pty.reserve); lower them, or raise "
                                "kernel.pty.max\n",
                                c->file, p->line, p->name, (unsigned long long)(sessions * ptys),
                                (unsigned long long)pty_pool);
        }
}

/* Choices that are valid but weaken the sandbox in ways an admin may not expect. */
static void check_policies(const struct config *c)
{
        for (size_t i = 0; i < c->n_policies; i++) {
                const struct policy *p = &c->policies[i];
                if (!p->no_new_privs)
                        fprintf(stderr,
                                "warning: %s:%d: policy %s: no_new_privs = false: setuid-root "
                                "programs (sudo, su, passwd) run with euid 0 inside; an empty "
                                "bounding set takes their capabilities, not root's ownership of "
                                "files such as /etc/crontab\n",
                                c->file, p->line, p->name);
                if (p->seccomp_base == SECCOMP_BASE_NONE)
                        fprintf(stderr,
                                "warning: %s:%d: policy %s: seccomp = none: users can create "
                                "user namespaces and reach io_uring, bpf and the keyring\n",
                                c->file, p->line, p->name);
                /* no kernel handle caps bound ports per cgroup short of a BPF program */
                if (p->network == NETWORK_HOST)
                        fprintf(stderr,
                                "note: %s:%d: policy %s: network = host: its sessions share the "
                                "host's ephemeral ports, and a user who binds them all makes "
                                "every outbound connect on the host fail (EADDRNOTAVAIL) until "
                                "the session ends; network = none gives a session ports of its "
                                "own\n",
                                c->file, p->line, p->name);
        }
        check_kernel_tables(c);
        if (c->fail == FAIL_OPEN)
                fprintf(stderr,
                        "warning: %s: fail = open: a broken host (helper or isolate-init "
                        "missing, a cgroup controller or LSM the kernel lacks) lets logins "
                        "through unconfined; failures a user could cause still refuse\n",
                        c->file);
}

/* The last KillUserProcesses= of [Login] in path: its value (ret, ret_len) and where (file,
 * line), or nothing when path does not set it. */
static void logind_kill_read(const char *path, char *ret, size_t ret_len, char *where,
                             size_t where_len)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return;
        char line[512];
        bool login = false;
        for (int n = 1; fgets(line, sizeof(line), f); n++) {
                char *p = line + strspn(line, " \t");
                p[strcspn(p, "\r\n")] = '\0';
                if (*p == '[')
                        login = strcmp(p, "[Login]") == 0;
                else if (login && strncmp(p, "KillUserProcesses", 17) == 0) {
                        char *v = p + 17 + strspn(p + 17, " \t");
                        if (*v++ != '=')
                                continue;
                        v += strspn(v, " \t");
                        v[strcspn(v, " \t")] = '\0';
                        snprintf(ret, ret_len, "%s", v);
                        snprintf(where, where_len, "%s:%d", path, n);
                }
        }
        fclose(f);
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* logind's KillUserProcesses= as the admin sets it: conf, then the *.conf drop-ins of conf.d
 * in file name order, the last one winning (drop-ins under /run and /usr/lib, which
 * packages own, are not read). With yes, logind kills what a login started when it ends. */
static void check_logind(const struct config *c, const char *conf)
{
        const struct policy *user_scope = NULL;
        for (size_t i = 0; i < c->n_policies && !user_scope; i++)
                if (c->policies[i].scope == SCOPE_USER)
                        user_scope = &c->policies[i];
        if (!user_scope)
                return;
        char value[32] = "", where[PATH_MAX + 16] = "", dir[PATH_MAX];
        logind_kill_read(conf, value, sizeof(value), where, sizeof(where));
        snprintf(dir, sizeof(dir), "%s.d", conf);
        struct dirent **names = NULL;
        int n = scandir(dir, &names, NULL, NULL);
        char **files = n > 0 ? calloc((size_t)n, sizeof(*files)) : NULL;
        size_t n_files = 0;
        for (int i = 0; i < n; i++) {
                size_t len = strlen(names[i]->d_name);
                if (files && len > 5 && strcmp(names[i]->d_name + len - 5, ".conf") == 0)
                        files[n_files++] = names[i]->d_name;
        }
        if (n_files)
                qsort(files, n_files, sizeof(*files), name_cmp);
        for (size_t i = 0; i < n_files; i++) {
                char path[PATH_MAX * 2];
                snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
                logind_kill_read(path, value, sizeof(value), where, sizeof(where));
        }
        free(files);
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);
        if (strcmp(value, "yes") != 0 && strcmp(value, "true") != 0 && strcmp(value, "1") != 0 &&
            strcmp(value, "on") != 0)
                return;
        fprintf(stderr,
                "warning: %s: KillUserProcesses=%s: logind ends every process a login started "
                "when that login ends, tmux and nohup jobs included, so policy %s (%s:%d, "
                "scope = user) keeps only the sandbox itself; set KillUserProcesses=no, or "
                "list the users of policy %s in KillExcludeUsers=\n",
                where, value, user_scope->name, c->file, user_scope->line, user_scope->name);
}

int cmd_check(int argc, char **argv)
{
        static const struct option options[] = {
            {"config", required_argument, NULL, 'c'},
            {"pam-dir", required_argument, NULL, 'P'},
            {"logind-conf", required_argument, NULL, 'L'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *path = DEFAULT_CONFIG_PATH;
        const char *pam_dir = "/etc/pam.d";
        const char *logind_conf = "/etc/systemd/logind.conf";
        int opt;

        optind = 0; /* a fresh scan, also when called twice in one process (tests) */
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "+c:h", options, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        path = optarg;
                        break;
                case 'P':
                        pam_dir = optarg;
                        break;
                case 'L':
                        logind_conf = optarg;
                        break;
                case 'h':
                        check_usage(stdout);
                        return 0;
                default:
                        ctl_bad_option("check", "cPL", argv);
                        check_usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "isolatectl check: unexpected argument '%s'\n", argv[optind]);
                check_usage(stderr);
                return 2;
        }

        struct config *c = NULL;
        struct config_errors errs = {0};
        int r = config_load(path, true, &c, &errs);
        print_errors(&errs);
        config_errors_free(&errs);
        if (r == -EPERM) {
                /* The helper refuses such a file unread; still show what else is wrong. */
                r = config_load(path, false, &c, &errs);
                print_errors(&errs);
                config_errors_free(&errs);
                config_free(c);
                return 1;
        }
        if (r < 0)
                return 1;

        size_t problems = check_io(c);
        check_policies(c);
        check_write_caps_on_v1(c);
        check_pam(c, pam_dir);
        check_logind(c, logind_conf);
        if (problems == 0)
                printf("%s: OK, %zu %s, %zu match %s\n", path, c->n_policies,
                       c->n_policies == 1 ? "policy" : "policies", c->n_rules,
                       c->n_rules == 1 ? "rule" : "rules");
        config_free(c);
        return problems ? 1 : 0;
}

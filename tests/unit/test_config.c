/* test_config.c: the config language: every valid form, every error with its line number,
 * the file checks of config_load(), and isolatectl check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../conf/policy.h"
#include "../../conf/syscalls.h"
#include "../../session-helper/cgroup.h"
#include "../../session-helper/devices.h"
#include "../../isolatectl/ctl.h"

#define NAME "test.conf"

/* ---- helpers -------------------------------------------------------------------------------- */

static void print_errors(const struct config_errors *e)
{
        for (size_t i = 0; i < e->n; i++)
                print_message("    %s\n", e->msgs[i]);
}

static struct config *parse_ok(const char *text)
{
        struct config *c = NULL;
        struct config_errors e = {0};
        int r = config_parse_buffer(NAME, text, &c, &e);
        if (r != 0 || !c || e.n) {
                print_errors(&e);
                fail_msg("config_parse_buffer = %d for:\n%s", r, text);
        }
        config_errors_free(&e);
        return c;
}

static struct config_errors parse_bad(const char *text)
{
        struct config *c = (struct config *)1;
        struct config_errors e = {0};
        int r = config_parse_buffer(NAME, text, &c, &e);
        if (r != -EINVAL || c != NULL || e.n == 0)
                fail_msg("config_parse_buffer = %d (%zu messages), expected -EINVAL, for:\n%s", r,
                         e.n, text);
        return e;
}

/* An error "test.conf:LINE: ...NEEDLE..." (line 0: "test.conf: ...") is among e. */
static void expect_error(const struct config_errors *e, int line, const char *needle)
{
        char prefix[64];
        if (line > 0)
                snprintf(prefix, sizeof(prefix), NAME ":%d: ", line);
        else
                snprintf(prefix, sizeof(prefix), NAME ": ");
        for (size_t i = 0; i < e->n; i++)
                if (strncmp(e->msgs[i], prefix, strlen(prefix)) == 0 && strstr(e->msgs[i], needle))
                        return;
        print_errors(e);
        fail_msg("no error \"%s...%s\" among the %zu above", prefix, needle, e->n);
}

/* text has exactly one problem: at line, saying needle. */
static void expect_only_error(const char *text, int line, const char *needle)
{
        struct config_errors e = parse_bad(text);
        expect_error(&e, line, needle);
        if (e.n != 1) {
                print_errors(&e);
                fail_msg("expected one error, got %zu", e.n);
        }
        config_errors_free(&e);
}

static const struct policy *policy_named(const struct config *c, const char *name)
{
        for (size_t i = 0; i < c->n_policies; i++)
                if (STREQ(c->policies[i].name, name))
                        return &c->policies[i];
        fail_msg("no policy %s", name);
        return NULL;
}

static void assert_strv(const struct strv *v, size_t n, ...)
{
        va_list ap;
        va_start(ap, n);
        if (v->n != n)
                fail_msg("list has %zu entries, expected %zu", v->n, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(v->v[i], va_arg(ap, const char *));
        va_end(ap);
        assert_null(v->v ? v->v[v->n] : NULL);
}

static char tmpdir[PATH_MAX];

static int make_tmpdir(void **state)
{
        strcpy(tmpdir, "/tmp/isolate-test-config.XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const char *text, uid_t uid, mode_t mode)
{
        static char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        unlink(path);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(fchown(fd, uid, 0), 0);
        assert_int_equal(fchmod(fd, mode), 0);
        close(fd);
        return path;
}

/* ---- defaults and valid forms -----------------------------------------------------------------
 */

static void test_defaults(void **state)
{
        struct config *c = parse_ok("policy p { }\n");
        assert_string_equal(c->file, NAME);
        assert_int_equal(c->fail, FAIL_CLOSED);
        assert_strv(&c->services, 4, "sshd", "login", "su", "su-l");
        assert_int_equal(c->exempt_users.n, 0);
        assert_int_equal(c->exempt_groups.n, 0);
        assert_int_equal(c->cgroup_backend, CGROUP_BACKEND_AUTO);
        assert_string_equal(c->cgroup_root, DEFAULT_CGROUP_ROOT);
        assert_string_equal(c->runtime_dir, DEFAULT_RUNTIME_DIR);
        assert_int_equal(c->helper_timeout_ms, DEFAULT_HELPER_TIMEOUT_MS);
        assert_int_equal(c->n_policies, 1);
        assert_int_equal(c->n_rules, 0);
        assert_int_equal(c->default_policy, 0);

        const struct policy *p = &c->policies[0];
        assert_string_equal(p->name, "p");
        assert_int_equal(p->line, 1);
        assert_true(p->ns_mount && p->ns_pid && p->ns_uts && p->ns_ipc && p->ns_cgroup);
        assert_int_equal(p->network, NETWORK_HOST);
        assert_null(p->hostname);
        /* a sandbox per login, ended at its logout (issue 14) */
        assert_int_equal(p->scope, SCOPE_LOGIN);
        assert_int_equal(p->linger_ms, LINGER_NO);
        assert_int_equal(p->proc, PROC_READ_ONLY);
        assert_int_equal(p->hidepid, HIDEPID_INVISIBLE);
        assert_false(p->proc_subset_pid);
        assert_true(p->private_tmp);
        assert_int_equal(p->tmp_size, LIMIT_UNSET);
        assert_int_equal(p->masked_paths.n, 0);
        assert_int_equal(p->read_only_paths.n, 0);
        assert_false(p->hide_homes);
        assert_int_equal(p->memory_max, LIMIT_UNSET);
        assert_int_equal(p->memory_high, LIMIT_UNSET);
        assert_int_equal(p->swap_max, LIMIT_UNSET);
        assert_int_equal(p->pids_max, LIMIT_UNSET);
        /* the kernel tables no cgroup caps are bounded by default (issue 12) */
        assert_int_equal(p->pty_max, DEFAULT_PTY_MAX);
        assert_int_equal(p->max_sessions, DEFAULT_MAX_SESSIONS);
        assert_int_equal(p->nofile, LIMIT_UNSET);
        assert_int_equal(p->cpu_max_percent, LIMIT_UNSET);
        assert_int_equal(p->cpu_weight, LIMIT_UNSET);
        assert_int_equal(p->n_io, 0);
        assert_false(p->caps_required);
        assert_int_equal(p->seccomp_base, SECCOMP_BASE_DEFAULT);
        assert_int_equal(p->syscalls_allow.n, 0);
        assert_int_equal(p->syscalls_deny.n, 0);
        assert_int_equal(p->seccomp_action, SECCOMP_ACTION_ERRNO);
        assert_int_equal(p->caps_keep, 0);
        assert_true(p->no_new_privs);
        assert_null(p->apparmor_profile);
        assert_null(p->selinux_context);
        assert_int_equal(p->landlock_read_only.n, 0);
        assert_int_equal(p->landlock_read_write.n, 0);
        /* Landlock scoping where the kernel has it, as the policy's scope says (issue 15) */
        assert_int_equal(p->scope_abstract_unix, SCOPING_AUTO);
        assert_int_equal(p->scope_signals, SCOPING_AUTO);
        assert_true(p->lsm_required);
        config_free(c);
}

static const char full_config[] =
    "fail = open\n"                                    /* 1 */
    "services = {\"sshd\", \"login\"}\n"               /* 2 */
    "exempt_users = {\"root\", \"backup\"}\n"          /* 3 */
    "exempt_groups = {\"admins\"}\n"                   /* 4 */
    "cgroup_backend = v1\n"                            /* 5 */
    "cgroup_root = \"./isolate-test\"\n"               /* 6 */
    "runtime_dir = \"/run/isolate-test\"\n"            /* 7 */
    "helper_timeout = 2500ms\n"                        /* 8 */
    "default_policy = strict\n"                        /* 9 */
    "policy bastion {\n"                               /* 10 */
    "  mount_namespace = true  pid_namespace = true\n" /* 11 */
    "  uts_namespace = yes  ipc_namespace = off  cgroup_namespace = no\n"
    "  network = none\n"            /* 13 */
    "  hostname = \"%u-session\"\n" /* 14 */
    "  proc = docker  hidepid = noaccess  proc_subset_pid = true\n"
    "  private_tmp = true  tmp_size = 256M\n"                /* 16 */
    "  masked_paths = {\"/etc/shadow\", \"/srv/secret\"}\n"  /* 17 */
    "  read_only_paths = {\"/opt\"}\n"                       /* 18 */
    "  hide_homes = true\n"                                  /* 19 */
    "  memory_max = 2G  memory_high = 1536M  swap_max = 0\n" /* 20 */
    "  pids_max = 512  cpu_max = 250%  cpu_weight = 100\n"   /* 21 */
    "  io \"/\" { read_bps = 50M  write_bps = 20M/s  read_iops = 2000  write_iops = max }\n"
    "  io \"/dev/sda\" {\n"                              /* 23 */
    "    write_iops = 100/s\n"                           /* 24 */
    "  }\n"                                              /* 25 */
    "  caps_required = true\n"                           /* 26 */
    "  seccomp = default  seccomp_action = log\n"        /* 27 */
    "  syscalls_allow = {\"@debug\", \"personality\"}\n" /* 28 */
    "  syscalls_deny = {\"ptrace\"}\n"                   /* 29 */
    "  capabilities = {\"CAP_NET_BIND_SERVICE\", \"kill\", \"Cap_Chown\"}\n"
    "  no_new_privs = false\n"                          /* 31 */
    "  apparmor_profile = \"isolate-user\"\n"           /* 32 */
    "  selinux_context = \"user_u:user_r:user_t:s0\"\n" /* 33 */
    "  landlock_read_only = {\"/usr\", \"~/ro\"}\n"     /* 34 */
    "  landlock_read_write = {\"$HOME\", \"/tmp\"}\n"   /* 35 */
    "  lsm_required = false\n"                          /* 36 */
    "}\n"                                               /* 37 */
    "policy strict { network = none }\n"                /* 38 */
    "match {\n"                                         /* 39 */
    "  users = {\"alice\"}  groups = {\"ops\"}  services = {\"sshd\"}\n"
    "  rhosts = {\"10.0.0.0/8\", \"::1\"}\n"             /* 41 */
    "  policy = bastion\n"                               /* 42 */
    "}\n"                                                /* 43 */
    "match { groups = {\"auditors\"} exempt = true }\n"; /* 44 */

static void test_every_key(void **state)
{
        struct config *c = parse_ok(full_config);
        assert_int_equal(c->fail, FAIL_OPEN);
        assert_strv(&c->services, 2, "sshd", "login");
        assert_strv(&c->exempt_users, 2, "root", "backup");
        assert_strv(&c->exempt_groups, 1, "admins");
        assert_int_equal(c->cgroup_backend, CGROUP_BACKEND_V1);
        assert_string_equal(c->cgroup_root, "./isolate-test");
        assert_string_equal(c->runtime_dir, "/run/isolate-test");
        assert_int_equal(c->helper_timeout_ms, 2500);
        assert_int_equal(c->n_policies, 2);
        assert_string_equal(c->policies[c->default_policy].name, "strict");

        const struct policy *p = policy_named(c, "bastion");
        assert_int_equal(p->line, 10);
        assert_true(p->ns_mount);
        assert_true(p->ns_pid);
        assert_true(p->ns_uts);
        assert_false(p->ns_ipc);
        assert_false(p->ns_cgroup);
        assert_int_equal(p->network, NETWORK_NONE);
        assert_string_equal(p->hostname, "%u-session");
        assert_int_equal(p->proc, PROC_DOCKER);
        assert_int_equal(p->hidepid, HIDEPID_NOACCESS);
        assert_true(p->proc_subset_pid);
        assert_true(p->private_tmp);
        assert_int_equal(p->tmp_size, 256ULL << 20);
        assert_strv(&p->masked_paths, 2, "/etc/shadow", "/srv/secret");
        assert_strv(&p->read_only_paths, 1, "/opt");
        assert_true(p->hide_homes);
        assert_int_equal(p->memory_max, 2ULL << 30);
        assert_int_equal(p->memory_high, 1536ULL << 20);
        assert_int_equal(p->swap_max, 0);
        assert_int_equal(p->pids_max, 512);
        assert_int_equal(p->cpu_max_percent, 250);
        assert_int_equal(p->cpu_weight, 100);

        assert_int_equal(p->n_io, 2);
        assert_string_equal(p->io[0].target, "/");
        assert_int_equal(p->io[0].line, 22);
        assert_int_equal(p->io[0].read_bps, 50ULL << 20);
        assert_int_equal(p->io[0].write_bps, 20ULL << 20);
        assert_int_equal(p->io[0].read_iops, 2000);
        assert_int_equal(p->io[0].write_iops, LIMIT_MAX);
        assert_string_equal(p->io[1].target, "/dev/sda");
        assert_int_equal(p->io[1].line, 23);
        assert_int_equal(p->io[1].read_bps, LIMIT_UNSET);
        assert_int_equal(p->io[1].write_bps, LIMIT_UNSET);
        assert_int_equal(p->io[1].read_iops, LIMIT_UNSET);
        assert_int_equal(p->io[1].write_iops, 100);

        assert_true(p->caps_required);
        assert_int_equal(p->seccomp_base, SECCOMP_BASE_DEFAULT);
        assert_int_equal(p->seccomp_action, SECCOMP_ACTION_LOG);
        assert_strv(&p->syscalls_allow, 2, "@debug", "personality");
        assert_strv(&p->syscalls_deny, 1, "ptrace");
        /* CAP_CHOWN 0, CAP_KILL 5, CAP_NET_BIND_SERVICE 10 */
        assert_int_equal(p->caps_keep, (1ULL << 0) | (1ULL << 5) | (1ULL << 10));
        assert_false(p->no_new_privs);
        assert_string_equal(p->apparmor_profile, "isolate-user");
        assert_string_equal(p->selinux_context, "user_u:user_r:user_t:s0");
        assert_strv(&p->landlock_read_only, 2, "/usr", "~/ro");
        assert_strv(&p->landlock_read_write, 2, "$HOME", "/tmp");
        assert_false(p->lsm_required);

        const struct policy *s = policy_named(c, "strict");
        assert_int_equal(s->line, 38);
        assert_int_equal(s->network, NETWORK_NONE);

        assert_int_equal(c->n_rules, 2);
        const struct match_rule *m = &c->rules[0];
        assert_int_equal(m->line, 39);
        assert_strv(&m->users, 1, "alice");
        assert_strv(&m->groups, 1, "ops");
        assert_strv(&m->services, 1, "sshd");
        assert_int_equal(m->n_rhosts, 2);
        assert_int_equal(m->rhosts[0].prefix, 104);
        assert_int_equal(m->rhosts[1].prefix, 128);
        assert_false(m->exempt);
        assert_string_equal(c->policies[m->policy_index].name, "bastion");
        assert_int_equal(c->rules[1].line, 44);
        assert_true(c->rules[1].exempt);
        assert_strv(&c->rules[1].groups, 1, "auditors");
        config_free(c);
}

static void test_sample_config(void **state)
{
        char path[PATH_MAX] = "conf/isolate.conf";
        if (access(path, R_OK) != 0) {
                char src[PATH_MAX];
                snprintf(src, sizeof(src), "%s", __FILE__);
                snprintf(path, sizeof(path), "%s/../../conf/isolate.conf", dirname(src));
        }
        struct config *c = NULL;
        struct config_errors e = {0};
        int r = config_load(path, false, &c, &e);
        print_errors(&e);
        assert_int_equal(r, 0);
        const struct policy *b = policy_named(c, "bastion");
        const struct policy *s = policy_named(c, "strict");
        const struct policy *sh = policy_named(c, "shell");
        /* the bastion and strict keep a sandbox per login; shell is shared and lingers */
        assert_int_equal(b->scope, SCOPE_LOGIN);
        assert_int_equal(s->scope, SCOPE_LOGIN);
        assert_int_equal(b->linger_ms, LINGER_NO);
        assert_int_equal(sh->scope, SCOPE_USER);
        assert_true(sh->linger_ms > LINGER_NO && sh->linger_ms != LINGER_FOREVER);
        assert_true(sh->memory_max != LIMIT_UNSET && sh->pids_max != LIMIT_UNSET);
        assert_int_equal(b->network, NETWORK_HOST); /* ssh forwarding works */
        assert_int_equal(s->network, NETWORK_NONE);
        assert_true(s->hide_homes);
        assert_true(s->memory_max < b->memory_max);
        assert_true(s->pids_max < b->pids_max);
        assert_true(s->cpu_max_percent < b->cpu_max_percent);
        assert_string_equal(c->policies[c->default_policy].name, "bastion");
        assert_true(c->n_rules >= 1);
        assert_true(config_strv_contains(&c->exempt_users, "root"));
        /* scoped where the kernel can; the shared sandbox's logins are not parted */
        assert_int_equal(b->scope_abstract_unix, SCOPING_AUTO);
        assert_int_equal(b->scope_signals, SCOPING_AUTO);
        assert_int_equal(sh->scope_abstract_unix, SCOPING_AUTO);
        assert_int_equal(sh->scope_signals, SCOPING_AUTO);
        config_free(c);
        config_errors_free(&e);
}

static void test_default_policy_is_first(void **state)
{
        struct config *c = parse_ok("policy one { }\npolicy two { }\n");
        assert_int_equal(c->default_policy, 0);
        config_free(c);
        c = parse_ok("default_policy = two\npolicy one { }\npolicy two { }\n");
        assert_int_equal(c->default_policy, 1);
        config_free(c);
        /* default_policy may come after the policy it names */
        c = parse_ok("policy one { }\npolicy two { }\ndefault_policy = two\n");
        assert_int_equal(c->default_policy, 1);
        config_free(c);
}

/* scope and linger (issue 14): every form linger takes, and what it refuses. */
static void test_scope_and_linger(void **state)
{
        static const struct {
                const char *text;
                uint64_t ms;
        } ok[] = {
            {"no", LINGER_NO},
            {"yes", LINGER_FOREVER},
            {"1s", 1000},
            {"30s", 30000},
            {"90m", 90ull * 60 * 1000},
            {"8h", 8ull * 3600 * 1000},
            {"2d", 2ull * 86400 * 1000},
            {"365d", 365ull * 86400 * 1000},
            {"1000ms", 1000},
            {"600", 600000}, /* a plain number is seconds, as for every duration */
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                char text[128];
                snprintf(text, sizeof(text), "policy p {\n scope = user\n linger = %s\n}\n",
                         ok[i].text);
                print_message("    linger = %s\n", ok[i].text);
                struct config *c = parse_ok(text);
                assert_int_equal(c->policies[0].scope, SCOPE_USER);
                assert_int_equal(c->policies[0].linger_ms, ok[i].ms);
                config_free(c);
        }
        struct config *c = parse_ok("policy a { scope = login  linger = no }\n"
                                    "policy b { scope = user }\n"
                                    "policy c { linger = \"no\" }\n");
        assert_int_equal(c->policies[0].scope, SCOPE_LOGIN);
        assert_int_equal(c->policies[0].linger_ms, LINGER_NO);
        assert_int_equal(c->policies[1].scope, SCOPE_USER);
        assert_int_equal(c->policies[1].linger_ms, LINGER_NO); /* ends with its last login */
        assert_int_equal(c->policies[2].scope, SCOPE_LOGIN);
        config_free(c);

        expect_only_error("policy p {\n scope = shared\n}\n", 2,
                          "scope must be one of login | user, not 'shared'");
        expect_only_error("policy p {\n scope = user\n linger = maybe\n}\n", 3,
                          "linger: 'maybe' is not no, yes or a duration; write e.g. 30s, 90m, 8h "
                          "or 2d");
        expect_only_error("policy p {\n scope = user\n linger = true\n}\n", 3,
                          "linger: 'true' is not no, yes or a duration");
        expect_only_error("policy p {\n scope = user\n linger = max\n}\n", 3,
                          "linger: 'max' is not no, yes or a duration");
        expect_only_error("policy p {\n scope = user\n linger = 8 h\n}\n", 3, "");
        expect_only_error("policy p {\n scope = user\n linger = 2w\n}\n", 3,
                          "linger: '2w' is not no, yes or a duration");
        expect_only_error("policy p {\n scope = user\n linger = 500ms\n}\n", 3,
                          "linger: 500ms is too short (at least 1s); write no for a sandbox "
                          "that ends with its last login");
        expect_only_error("policy p {\n scope = user\n linger = 0\n}\n", 3,
                          "linger: 0 is too short (at least 1s)");
        expect_only_error("policy p {\n scope = user\n linger = 0d\n}\n", 3,
                          "linger: 0d is too short");
        expect_only_error("policy p {\n scope = user\n linger = 366d\n}\n", 3,
                          "linger: 366d is too long (at most 365d); write yes to keep the "
                          "sandbox until its last process exits");
        expect_only_error("policy p {\n scope = user\n linger = 9000h\n}\n", 3,
                          "linger: 9000h is too long (at most 365d)");
        expect_only_error("policy p {\n scope = user\n linger = 99999999999999999999d\n}\n", 3,
                          "linger: 99999999999999999999d is too long");
        expect_only_error("policy p {\n scope = user\n linger = 999999999999999999s\n}\n", 3,
                          "linger: 999999999999999999s is too long");
        expect_only_error("policy p {\n scope = user\n linger = {8h, 9h}\n}\n", 3,
                          "linger takes one value, not a list");

        /* linger needs scope = user: named at linger's line, with the fix */
        expect_only_error("policy shell {\n memory_max = 1G\n linger = 8h\n}\n", 3,
                          "linger needs scope = user (a login-scope sandbox ends at its "
                          "logout); add scope = user to policy shell, or remove linger");
        expect_only_error("policy p {\n linger = yes\n scope = login\n}\n", 2,
                          "linger needs scope = user");
        /* a bad scope is reported once, not again through linger */
        expect_only_error("policy p {\n scope = users\n linger = 8h\n}\n", 2,
                          "scope must be one of login | user, not 'users'");
        /* set twice */
        expect_only_error("policy p {\n scope = user\n scope = login\n}\n", 3,
                          "scope is set twice (also at line 2)");
        /* a policy key, not a global one */
        expect_only_error("scope = user\npolicy p { }\n", 1,
                          "unknown key 'scope' at the top level: it belongs inside a policy "
                          "block");
}

/* scope_abstract_unix, scope_signals: auto | true | false (issue 15) */
static void test_scoping_keys(void **state)
{
        struct config *c = parse_ok("policy a {\n scope_abstract_unix = true\n"
                                    " scope_signals = false\n}\n"
                                    "policy b {\n scope = user\n scope_abstract_unix = \"false\"\n"
                                    " scope_signals = true\n}\n"
                                    "policy c {\n scope_abstract_unix = auto\n"
                                    " scope_signals = auto\n network = none\n}\n");
        assert_int_equal(policy_named(c, "a")->scope_abstract_unix, SCOPING_ON);
        assert_int_equal(policy_named(c, "a")->scope_signals, SCOPING_OFF);
        assert_int_equal(policy_named(c, "b")->scope_abstract_unix, SCOPING_OFF);
        assert_int_equal(policy_named(c, "b")->scope_signals, SCOPING_ON);
        assert_int_equal(policy_named(c, "c")->scope_abstract_unix, SCOPING_AUTO);
        assert_int_equal(policy_named(c, "c")->scope_signals, SCOPING_AUTO);
        config_free(c);

        expect_only_error("policy p {\n scope_signals = yes\n}\n", 2,
                          "scope_signals must be one of auto | true | false, not 'yes'");
        expect_only_error("policy p {\n scope_abstract_unix = on\n}\n", 2,
                          "scope_abstract_unix must be one of auto | true | false, not 'on'");
        expect_only_error("policy p {\n scope_abstract_unix = {true, false}\n}\n", 2,
                          "scope_abstract_unix takes one value, not a list");
        expect_only_error("policy p {\n scope_signals = true\n scope_signals = false\n}\n", 3,
                          "scope_signals is set twice (also at line 2)");
        expect_only_error("scope_signals = true\npolicy p { }\n", 1,
                          "unknown key 'scope_signals' at the top level: it belongs inside a "
                          "policy block");
        /* a near miss of the key is named */
        expect_only_error("policy p {\n scope_signal = true\n}\n", 2,
                          "did you mean 'scope_signals'?");
}

static void test_booleans(void **state)
{
        static const char *const yes[] = {"true", "yes", "on", "True", "\"true\""};
        static const char *const no[] = {"false", "no", "off", "FALSE"};
        char text[128];
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                snprintf(text, sizeof(text), "policy p { hide_homes = %s }", yes[i]);
                struct config *c = parse_ok(text);
                assert_true(c->policies[0].hide_homes);
                config_free(c);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                snprintf(text, sizeof(text), "policy p { no_new_privs = %s }", no[i]);
                struct config *c = parse_ok(text);
                assert_false(c->policies[0].no_new_privs);
                config_free(c);
        }
}

static void test_list_forms(void **state)
{
        struct config *c = parse_ok("services = sshd\n"                   /* a single value */
                                    "exempt_users = {root, \"backup\"}\n" /* unquoted */
                                    "exempt_users += {\"ops\"}\n"         /* appended */
                                    "exempt_groups = {}\n"
                                    "policy p { syscalls_allow = {} }\n");
        assert_strv(&c->services, 1, "sshd");
        assert_strv(&c->exempt_users, 3, "root", "backup", "ops");
        assert_int_equal(c->exempt_groups.n, 0);
        config_free(c);

        /* services = {} is an explicit empty list: nothing is confined */
        c = parse_ok("services = {}\npolicy p { }\n");
        assert_int_equal(c->services.n, 0);
        config_free(c);
}

static void test_home_stays_literal(void **state)
{
        /* libconfuse would put its own process's $HOME in place of "${HOME}"; "$HOME" must
         * reach the policy as written, whatever the environment. */
        setenv("HOME", "/root", 1);
        struct config *c =
            parse_ok("policy p {\n"
                     "  landlock_read_write = {\"$HOME\", $HOME/bin, '$HOME/x', \"~\"}\n"
                     "  apparmor_profile = '${HOME}'\n"
                     "}\n");
        assert_strv(&c->policies[0].landlock_read_write, 4, "$HOME", "$HOME/bin", "$HOME/x", "~");
        assert_string_equal(c->policies[0].apparmor_profile, "${HOME}");
        config_free(c);

        struct config_errors e = parse_bad("policy p {\n"
                                           "  landlock_read_write = {\"${HOME}\"}\n"
                                           "  landlock_read_only = {${HOME}}\n"
                                           "}\n");
        expect_error(&e, 2, "'${' in a double-quoted string would be replaced");
        expect_error(&e, 3, "'${' would be replaced by an environment variable");
        config_errors_free(&e);
        /* an escaped dollar is not expanded, and not an error */
        c = parse_ok("policy p { apparmor_profile = \"\\${HOME}\" }\n");
        assert_string_equal(c->policies[0].apparmor_profile, "${HOME}");
        config_free(c);
}

static void test_names_and_quoting(void **state)
{
        struct config *c = parse_ok("policy \"quoted-name\" { hostname = 'box.%u' }\n"
                                    "policy plain_1.x { }\n"
                                    "default_policy = \"plain_1.x\"\n");
        assert_string_equal(c->policies[0].name, "quoted-name");
        assert_string_equal(c->policies[0].hostname, "box.%u");
        assert_string_equal(c->policies[c->default_policy].name, "plain_1.x");
        config_free(c);
}

/* issue 17: the opt-in that makes the kernel log each refusal */
static void test_seccomp_action_errno_log(void **state)
{
        struct config *c = parse_ok("policy p { seccomp_action = errno-log }");
        assert_int_equal(c->policies[0].seccomp_action, SECCOMP_ACTION_ERRNO_LOG);
        config_free(c);
        expect_only_error("policy p { seccomp_action = errno_log }", 1,
                          "seccomp_action must be one of errno | kill | log | errno-log");
}

static void test_syscall_groups_accepted(void **state)
{
        size_t n;
        const struct syscall_group *g = syscall_groups(&n);
        assert_true(n > 0);
        char text[256];
        for (size_t i = 0; i < n; i++) {
                snprintf(text, sizeof(text), "policy p { syscalls_deny = {\"%s\", \"read\"} }",
                         g[i].name);
                struct config *c = parse_ok(text);
                assert_strv(&c->policies[0].syscalls_deny, 2, g[i].name, "read");
                config_free(c);
        }
}

static void test_limits_max_and_zero(void **state)
{
        struct config *c = parse_ok("policy p {\n memory_max = max\n memory_high = infinity\n"
                                    " swap_max = 0\n pids_max = max\n cpu_max = max\n}\n");
        const struct policy *p = &c->policies[0];
        assert_int_equal(p->memory_max, LIMIT_MAX);
        assert_int_equal(p->memory_high, LIMIT_MAX);
        assert_int_equal(p->swap_max, 0);
        assert_int_equal(p->pids_max, LIMIT_MAX);
        assert_int_equal(p->cpu_max_percent, LIMIT_MAX);
        config_free(c);
}

static void test_mount_namespace_off(void **state)
{
        /* The session needs its own /proc: without a mount namespace it would see the host's. */
        expect_only_error("policy p {\n mount_namespace = false\n}\n", 2,
                          "mount_namespace = false is not supported");
}

/* ---- errors, each with its line -----------------------------------------------------------------
 */

static void test_error_unknown_key(void **state)
{
        expect_only_error("policy p {\n\n  memry_max = 1G\n}\n", 3,
                          "unknown key 'memry_max' in a policy block; did you mean 'memory_max'?");
        expect_only_error(
            "fail = closed\nmemory_max = 1G\npolicy p { }\n", 2,
            "unknown key 'memory_max' at the top level: it belongs inside a policy block");
        expect_only_error("policy p { }\nmatch {\n  user = {\"a\"}\n  policy = p\n}\n", 3,
                          "unknown key 'user' in a match block; did you mean 'users'?");
        expect_only_error("policy p {\n io \"/\" {\n   read_bytes = 1M\n }\n}\n", 3,
                          "unknown key 'read_bytes' in an io block");
        expect_only_error("policy p {\n  flux_capacitor = on\n}\n", 2,
                          "unknown key 'flux_capacitor' in a policy block; see isolate.conf(5)");
        expect_only_error(
            "policy p {\n  policy q { }\n}\n", 2,
            "'policy' cannot appear in a policy block: policy blocks go at the top level");
        expect_only_error("policy p {\n  match { policy = p }\n}\n", 2,
                          "a match block cannot appear in a policy block");
        expect_only_error("io \"/\" { read_bps = 1M }\npolicy p { }\n", 1,
                          "an io block cannot appear at the top level");
}

/* pty_max, nofile, max_sessions: numbers, and "max" for no bound of isolate's (issue 12) */
static void test_kernel_table_keys(void **state)
{
        struct config *c =
            parse_ok("policy p {\n  pty_max = 8\n  nofile = 4096\n  max_sessions = 3\n}\n"
                     "policy q {\n  pty_max = max\n  nofile = max\n  max_sessions = max\n}\n");
        assert_int_equal(c->policies[0].pty_max, 8);
        assert_int_equal(c->policies[0].nofile, 4096);
        assert_int_equal(c->policies[0].max_sessions, 3);
        assert_int_equal(c->policies[1].pty_max, LIMIT_MAX);
        assert_int_equal(c->policies[1].nofile, LIMIT_MAX);
        assert_int_equal(c->policies[1].max_sessions, LIMIT_MAX);
        config_free(c);
}

static void test_error_wrong_type(void **state)
{
        expect_only_error("policy p {\n  hide_homes = maybe\n}\n", 2,
                          "hide_homes must be true or false, not 'maybe'");
        expect_only_error("policy p {\n  network = bridge\n}\n", 2,
                          "network must be one of host | none, not 'bridge'");
        expect_only_error("fail = sometimes\npolicy p { }\n", 1,
                          "fail must be one of closed | open, not 'sometimes'");
        expect_only_error("cgroup_backend = v3\npolicy p { }\n", 1,
                          "cgroup_backend must be one of auto | systemd | v2 | v1");
        expect_only_error("policy p {\n proc = rw\n}\n", 2,
                          "proc must be one of read-only | docker");
        expect_only_error("policy p {\n hidepid = 2\n}\n", 2,
                          "hidepid must be one of invisible | noaccess | off");
        expect_only_error("policy p {\n seccomp = strict\n}\n", 2,
                          "seccomp must be one of default | none");
        expect_only_error("policy p {\n seccomp_action = trap\n}\n", 2,
                          "seccomp_action must be one of errno | kill | log");
        /* a list where one value belongs */
        expect_only_error("policy p {\n  memory_max = {1G, 2G}\n}\n", 2,
                          "memory_max takes one value, not a list");
        expect_only_error("policy p {\n  pids_max = abc\n}\n", 2,
                          "pids_max: 'abc' is not a whole number or max");
}

static void test_error_bad_units(void **state)
{
        expect_only_error("policy p {\n  memory_max = 2 G\n}\n", 2, "");
        expect_only_error(
            "policy p {\n  memory_max = 2Q\n}\n", 2,
            "memory_max: '2Q' is not a size; write a number of bytes with an optional unit");
        expect_only_error("policy p {\n  memory_max = 99999999999999999999\n}\n", 2,
                          "memory_max: '99999999999999999999' is too large");
        expect_only_error("policy p {\n io \"/\" {\n  read_bps = fast\n }\n}\n", 3,
                          "read_bps: 'fast' is not a rate");
        expect_only_error("policy p {\n  cpu_max = 150\n}\n", 2,
                          "cpu_max: '150' needs a unit: write 150%");
        expect_only_error("policy p {\n  cpu_max = lots%\n}\n", 2,
                          "cpu_max: 'lots%' is not a percentage");
        expect_only_error("helper_timeout = 5 minutes\npolicy p { }\n", 1, "");
        expect_only_error("helper_timeout = 5min\npolicy p { }\n", 1,
                          "helper_timeout: '5min' is not a duration");
        expect_only_error("helper_timeout = 50ms\npolicy p { }\n", 1,
                          "helper_timeout: 50ms is too short (at least 100ms)");
        expect_only_error("helper_timeout = 11m\npolicy p { }\n", 1,
                          "helper_timeout: 11m is too long (at most 600s)");
        expect_only_error("policy p {\n  tmp_size = 0\n}\n", 2, "tmp_size: 0 would mean no limit");
        expect_only_error("policy p {\n  tmp_size = max\n}\n", 2,
                          "tmp_size: 'max' is not allowed here");
        expect_only_error("policy p {\n  memory_max = 0\n}\n", 2,
                          "memory_max: 0 would stop every session");
        expect_only_error("policy p {\n  pids_max = 0\n}\n", 2,
                          "pids_max: 0 is below the minimum 1");
        expect_only_error("policy p {\n  cpu_weight = 0\n}\n", 2,
                          "cpu_weight: 0 is below the minimum 1");
        expect_only_error("policy p {\n  pty_max = 0\n}\n", 2, "pty_max: 0 is below the minimum 1");
        expect_only_error("policy p {\n  pty_max = 2000000\n}\n", 2,
                          "pty_max: 2000000 is above the maximum 1048576");
        expect_only_error("policy p {\n  nofile = 10\n}\n", 2,
                          "nofile: 10 is below the minimum 64");
        expect_only_error("policy p {\n  max_sessions = 0\n}\n", 2,
                          "max_sessions: 0 is below the minimum 1");

        expect_only_error("policy p {\n  cpu_weight = 10001\n}\n", 2,
                          "cpu_weight: 10001 is above the maximum 10000");
        expect_only_error("policy p {\n  cpu_weight = max\n}\n", 2,
                          "cpu_weight: 'max' is not allowed");
        expect_only_error("policy p {\n  cpu_max = 0%\n}\n", 2,
                          "cpu_max: 0% is below the minimum 1%");
        expect_only_error("policy p {\n  cpu_max = 100001%\n}\n", 2, "above the maximum 100000%");
        expect_only_error("policy p {\n io \"/\" {\n  write_bps = 0\n }\n}\n", 3,
                          "write_bps: 0 would stop every session");
}

static void test_error_strings(void **state)
{
        expect_only_error("cgroup_root = \"../escape\"\npolicy p { }\n", 1,
                          "cgroup_root '../escape' must be a relative path of plain names");
        expect_only_error("cgroup_root = \"a b\"\npolicy p { }\n", 1, "cgroup_root 'a b'");
        expect_only_error("runtime_dir = \"run/isolate\"\npolicy p { }\n", 1,
                          "runtime_dir 'run/isolate' must be an absolute directory");

        expect_only_error("policy p {\n hostname = \"a/b\"\n}\n", 2, "hostname 'a/b': use letters");
        expect_only_error("policy p {\n hostname = \"%s\"\n}\n", 2, "only %u (the user name)");
        expect_only_error("policy p {\n hostname = \"\"\n}\n", 2, "hostname is empty");
        expect_only_error("policy p {\n selinux_context = \"user_u\"\n}\n", 2,
                          "selinux_context 'user_u' is not USER:ROLE:TYPE[:LEVEL]");
        expect_only_error("policy p {\n apparmor_profile = \"\"\n}\n", 2,
                          "apparmor_profile is empty");
        expect_only_error("policy p {\n masked_paths = {\"/ok\", \"relative\"}\n}\n", 2,
                          "masked_paths: 'relative' must be an absolute path");
        expect_only_error("policy p {\n read_only_paths = {\"/a/../etc\"}\n}\n", 2,
                          "read_only_paths: '/a/../etc' must be an absolute path without '..'");
        expect_only_error("policy p {\n masked_paths = {\"/\"}\n}\n", 2, "masking / would hide");
        expect_only_error(
            "policy p {\n landlock_read_write = {\"$HOMEDIR\"}\n}\n", 2,
            "landlock_read_write: '$HOMEDIR' must be an absolute path, or start with $HOME");
        expect_only_error("policy p {\n landlock_read_only = {\"~user\"}\n}\n", 2,
                          "landlock_read_only: '~user'");
        expect_only_error("exempt_users = {\"ali ce\"}\npolicy p { }\n", 1,
                          "exempt_users: 'ali ce' is not a name");
        expect_only_error("services = {\"sshd\", \"\"}\npolicy p { }\n", 1, "services: empty name");
}

static void test_error_syscalls_and_caps(void **state)
{
        expect_only_error("policy p {\n syscalls_allow = {\"read\", \"frobnicate\"}\n}\n", 2,
                          "syscalls_allow: unknown syscall 'frobnicate'");
        struct config_errors e = parse_bad("policy p {\n\n syscalls_deny = {\"@nope\"}\n}\n");
        expect_error(&e, 3, "syscalls_deny: unknown syscall group '@nope'; the groups are: @");
        config_errors_free(&e);
        expect_only_error("policy p {\n capabilities = {\"CAP_FLY\"}\n}\n", 2,
                          "capabilities: unknown capability 'CAP_FLY'");
        /* numbers are not names: "12" might be a typo of anything */
        expect_only_error("policy p {\n capabilities = {\"12\"}\n}\n", 2,
                          "capabilities: unknown capability '12'");
        expect_only_error("policy p {\n capabilities = {\"\"}\n}\n", 2,
                          "capabilities: unknown capability ''");
}

static void test_error_references(void **state)
{
        expect_only_error("policy a { }\n\ndefault_policy = b\n", 3,
                          "default_policy: policy 'b' is not defined (defined: a)");
        expect_only_error("policy a { }\nmatch {\n users = {\"x\"}\n policy = nope\n}\n", 4,
                          "match: policy 'nope' is not defined (defined: a)");
        expect_only_error("fail = closed\n", 0, "no policy is defined");
        expect_only_error("", 0, "no policy is defined");
        expect_only_error("# only a comment\n", 0, "no policy is defined");
}

static void test_error_duplicates(void **state)
{
        struct config_errors e =
            parse_bad("policy a {\n memory_max = 1G\n hide_homes = perhaps\n}\n"
                      "policy b { }\n"
                      "policy a { }\n");
        expect_error(&e, 6, "policy 'a' is defined twice (first at line 1)");
        /* libconfuse keeps only the later block; the earlier one was still checked */
        expect_error(&e, 3, "hide_homes must be true or false");
        assert_int_equal(e.n, 2);
        config_errors_free(&e);

        expect_only_error(
            "policy a {\n io \"/\" { read_bps = 1M }\n io \"/\" { write_bps = 1M }\n}\n", 3,
            "io \"/\" appears twice in this policy (first at line 2)");
        expect_only_error("policy a {\n memory_max = 1G\n\n memory_max = 2G\n}\n", 4,
                          "memory_max is set twice (also at line 2)");
        expect_only_error("services = {\"sshd\"}\nservices = {\"login\"}\npolicy a { }\n", 2,
                          "services is set twice (also at line 1)");
        /* += adds to a list: not a duplicate */
        struct config *c =
            parse_ok("services = {\"sshd\"}\nservices += {\"login\"}\npolicy a { }\n");
        assert_strv(&c->services, 2, "sshd", "login");
        config_free(c);
        /* the same key in two blocks is fine */
        c = parse_ok("policy a { memory_max = 1G }\npolicy b { memory_max = 1G }\n");
        config_free(c);
}

static void test_error_match_rules(void **state)
{
        expect_only_error("policy a { }\nmatch {\n users = {\"x\"}\n}\n", 2,
                          "this match has neither policy = NAME nor exempt = true");
        expect_only_error("policy a { }\nmatch {\n users = {\"x\"}\n exempt = false\n}\n", 4,
                          "this match has neither policy = NAME nor exempt = true");
        expect_only_error(
            "policy a { }\nmatch {\n users = {\"x\"}\n policy = a\n exempt = true\n}\n", 2,
            "this match has both policy = a and exempt = true");
        expect_only_error("policy a { }\nmatch foo { policy = a }\n", 2,
                          "expected '{' after 'match' (a match block has no name)");
}

static void test_error_cidr(void **state)
{
        expect_only_error("policy a { }\nmatch {\n rhosts = {\"10.1.0.0/8\"}\n policy = a\n}\n", 3,
                          "rhosts: '10.1.0.0/8' has bits set behind its prefix; write the network, "
                          "e.g. \"10.0.0.0/8\"");
        expect_only_error("policy a { }\nmatch {\n rhosts = {\"10.0.0.0/33\"}\n policy = a\n}\n", 3,
                          "the prefix is longer than the address");
        expect_only_error("policy a { }\nmatch {\n rhosts = {\"gw.example.org\"}\n policy = a\n}\n",
                          3, "rhosts: 'gw.example.org' is not an IP address or network");
        expect_only_error("policy a { }\nmatch {\n rhosts = {\"\"}\n policy = a\n}\n", 3,
                          "rhosts: '' is not an IP address");
}

/* egress_allow: every form of a destination, as stored and as written back; absent is no
 * filter, {} a filter that lets nothing through. */
static void test_egress_allow(void **state)
{
        struct config *c =
            parse_ok("policy none { }\n"
                     "policy nothing { egress_allow = {} }\n"
                     "policy some {\n"
                     " egress_allow = {\"10.0.0.0/8:22\", \"192.0.2.10:443/tcp\",\n"
                     "   \"[2001:db8::]/32:22\", \"127.0.0.53:53/udp\", \"10.1.2.3\",\n"
                     "   \"10.1.2.4:*\", \"10.1.2.5:*/udp\", \"[2001:db8::/48]:80\",\n"
                     "   \"[::1]\", \"[::ffff:10.9.0.0]/112:8080/tcp\", \"0.0.0.0/0:443\",\n"
                     "   \"10.1.2.6/udp\"}\n"
                     " egress_allow += {\"[::]/0:53/udp\"}\n"
                     "}\n");
        const struct policy *p = policy_named(c, "none");
        assert_false(p->egress.filtered);
        assert_int_equal(p->egress.n, 0);
        p = policy_named(c, "nothing");
        assert_true(p->egress.filtered);
        assert_int_equal(p->egress.n, 0);

        p = policy_named(c, "some");
        static const char *const written_back[] = {
            "10.0.0.0/8:22",        "192.0.2.10:443/tcp", "[2001:db8::]/32:22",
            "127.0.0.53:53/udp",    "10.1.2.3",           "10.1.2.4",
            "10.1.2.5:*/udp",       "[2001:db8::]/48:80", "[::1]",
            "10.9.0.0/16:8080/tcp", "0.0.0.0/0:443",      "10.1.2.6:*/udp",
            "[::]/0:53/udp"};
        assert_true(p->egress.filtered);
        assert_int_equal(p->egress.n, ELEMENTSOF(written_back));
        for (size_t i = 0; i < p->egress.n; i++) {
                char text[EGRESS_RULE_TEXT_MAX];
                format_egress_rule(&p->egress.rules[i], text, sizeof(text));
                assert_string_equal(text, written_back[i]);
                /* and what it writes reads back the same */
                struct egress_rule again;
                char msg[256];
                assert_int_equal(parse_egress_rule(text, &again, msg, sizeof(msg)), 0);
                assert_memory_equal(&again, &p->egress.rules[i], sizeof(again));
        }
        /* stored: IPv4 v4-mapped on the IPv6 scale, host byte order port, protocol */
        const struct egress_rule *r = &p->egress.rules[0];
        assert_int_equal(r->net.prefix, 96 + 8);
        assert_int_equal(r->net.addr.s6_addr[10], 0xff);
        assert_int_equal(r->net.addr.s6_addr[11], 0xff);
        assert_int_equal(r->net.addr.s6_addr[12], 10);
        assert_int_equal(r->port, 22);
        assert_int_equal(r->proto, EGRESS_PROTO_ANY);
        assert_int_equal(p->egress.rules[1].proto, EGRESS_PROTO_TCP);
        assert_int_equal(p->egress.rules[1].net.prefix, 128);
        assert_int_equal(p->egress.rules[2].net.prefix, 32);
        assert_int_equal(p->egress.rules[3].proto, EGRESS_PROTO_UDP);
        assert_int_equal(p->egress.rules[4].port, 0);
        config_free(c);
}

static void test_error_egress_allow(void **state)
{
        static const struct {
                const char *entry, *says;
        } bad[] = {
            {"10.1.0.0/8:22", "egress_allow: '10.1.0.0/8:22' has bits set behind its prefix /8; "
                              "write the network, \"10.0.0.0/8:22\""},
            {"[2001:db8::1]/32:22/tcp", "write the network, \"[2001:db8::]/32:22/tcp\""},
            {"2001:db8::1", "'2001:db8::1' looks like an IPv6 address: write IPv6 in brackets"},
            {"::1:22", "write IPv6 in brackets"},
            {"10.0.0.1:0", "port 0 is no port; write * for every port"},
            {"10.0.0.1:70000", "the port 70000 is above 65535"},
            {"10.0.0.1:99999999999999999999999", "is above 65535"},
            {"10.0.0.1:ssh", "the port 'ssh' is not a number; write 1 to 65535, or *"},
            {"10.0.0.1:-1", "the port '-1' is not a number"},
            {"10.0.0.1:22/icmp", "unknown protocol 'icmp'; write /tcp or /udp at the end"},
            {"10.0.0.1:22/TCP", "unknown protocol 'TCP'"},
            {"gw.example.org:22", "'gw.example.org' is not an IPv4 address (host names are not "
                                  "looked up"},
            {"[10.0.0.1]:22", "brackets are for IPv6 addresses; write 10.0.0.1 without them"},
            {"[2001:db8::1:22", "the '[' of an IPv6 address has no ']'"},
            {"[2001:db8::1]22", "'22' after the ']' is neither a prefix"},
            {"[2001:db8::/32]/48", "has two prefixes"},
            {"[fe80::1%eth0]:22", "'fe80::1%eth0' is not an IPv6 address"},
            {"10.0.0.0/33", "the prefix /33 is longer than the address"},
            {"[::]/129", "the prefix /129 is longer than the address"},
            {"10.0.0.0/x8", "the prefix '/x8' is not a number of bits"},
            {"10.0.0.0/08", "the prefix '/08' is not a number of bits"},
            {"10.0.0.0/", "ends in '/'"},
            {"10.0.0.1:", "has a ':' but no port after it"},
            {":22", "has no address"},
            {"", "egress_allow: an empty entry; write a destination"},
            {"10.0.0.1 :22", "contains white space"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char text[512];
                snprintf(text, sizeof(text), "policy a {\n egress_allow = {\n  \"%s\"\n }\n}\n",
                         bad[i].entry);
                print_message("    %s\n", bad[i].entry);
                expect_only_error(text, 3, bad[i].says);
        }

        /* each bad entry at its own line, the good ones around them taken */
        struct config_errors e = parse_bad("policy a {\n egress_allow = {\"10.0.0.0/8:22\",\n"
                                           "  \"10.0.0.1:0\",\n  \"[::1]:22\",\n  \"x\"}\n}\n");
        expect_error(&e, 3, "port 0");
        expect_error(&e, 5, "'x' is not an IPv4 address");
        assert_int_equal(e.n, 2);
        config_errors_free(&e);

        /* nothing to filter in a network namespace of its own */
        expect_only_error("policy a {\n network = none\n egress_allow = {\"10.0.0.0/8:22\"}\n}\n",
                          3, "egress_allow has no effect with network = none");
        /* set twice: the later list would replace the earlier */
        expect_only_error("policy a {\n egress_allow = {\"10.0.0.0/8:22\"}\n"
                          " egress_allow = {\"[::1]\"}\n}\n",
                          3, "egress_allow is set twice (also at line 2)");

        /* more than the map holds */
        size_t len = 64 + (EGRESS_MAX_RULES + 1) * 24;
        char *big = malloc(len);
        assert_non_null(big);
        size_t off = (size_t)snprintf(big, len, "policy a {\n egress_allow = {\n");
        for (size_t i = 0; i <= EGRESS_MAX_RULES; i++)
                off += (size_t)snprintf(big + off, len - off, "\"10.%zu.%zu.0/24:22\",\n", i / 256,
                                        i % 256);
        snprintf(big + off - 2, len - off + 2, "}\n}\n");
        expect_only_error(big, 3 + EGRESS_MAX_RULES,
                          "egress_allow: more than 1024 entries; join neighbouring addresses");
        free(big);
}

static void test_error_unreachable(void **state)
{
        /* an earlier rule with no condition takes everything */
        expect_only_error(
            "policy a { }\nmatch { policy = a }\nmatch {\n users = {\"x\"}\n policy = a\n}\n", 3,
            "this match can never apply: the match at line 2 already takes every login");
        /* superset per condition */
        expect_only_error(
            "policy a { }\n"
            "match { groups = {\"ops\", \"dev\"} policy = a }\n"
            "match { users = {\"x\"} groups = {\"ops\"} services = {\"sshd\"} policy = a }\n",
            3, "the match at line 2");
        /* networks inside an earlier rule's networks */
        expect_only_error("policy a { }\n"
                          "match { rhosts = {\"10.0.0.0/8\", \"2001:db8::/32\"} policy = a }\n"
                          "match { rhosts = {\"10.1.0.0/16\", \"2001:db8:1::/48\", \"10.2.3.4\"} "
                          "exempt = true }\n",
                          3, "the match at line 2");
        /* a rule without services covers exactly the configured services */
        expect_only_error("services = {\"sshd\"}\npolicy a { }\n"
                          "match { users = {\"x\"} services = {\"sshd\"} policy = a }\n"
                          "match { users = {\"x\"} policy = a }\n",
                          4, "the match at line 3");
        /* the first of several covering rules is named */
        expect_only_error("policy a { }\n"
                          "match { users = {\"x\"} policy = a }\n"
                          "match { policy = a }\n"
                          "match { users = {\"x\"} groups = {\"g\"} policy = a }\n",
                          4, "the match at line 2");
        /* services that are not confined */
        expect_only_error("services = {\"sshd\"}\npolicy a { }\nmatch {\n services = {\"cron\"}\n "
                          "policy = a\n}\n",
                          3, "this match can never apply: none of its services is in services");
        expect_only_error(
            "exempt_users = {\"root\"}\npolicy a { }\nmatch { users = {\"root\"} policy = a }\n", 3,
            "every user it names is in exempt_users");
        expect_only_error("exempt_groups = {\"wheel\"}\npolicy a { }\nmatch { groups = {\"wheel\"} "
                          "policy = a }\n",
                          3, "every group it names is in exempt_groups");
}

static void test_reachable_rules(void **state)
{
        /* none of these is shadowed */
        struct config *c =
            parse_ok("services = {\"sshd\", \"login\"}\n"
                     "policy a { }\n"
                     "match { users = {\"x\"} services = {\"sshd\"} policy = a }\n"
                     "match { users = {\"x\"} policy = a }\n" /* login too */
                     "match { users = {\"x\", \"y\"} services = {\"sshd\"} policy = a }\n" /* y */
                     "match { rhosts = {\"10.1.0.0/16\"} policy = a }\n"
                     "match { rhosts = {\"10.0.0.0/8\"} policy = a }\n" /* wider: reachable */
                     "match { groups = {\"g\"} policy = a }\n"
                     "match { groups = {\"g\", \"h\"} rhosts = {\"::1\"} policy = a }\n" /* h */
                     "match { users = {\"z\"} services = {\"sshd\", \"cron\"} policy = a }\n");
        /* the last one only matches sshd of its services; fine */
        assert_int_equal(c->n_rules, 8);
        config_free(c);
}

static void test_error_pid_namespace_off(void **state)
{
        struct config *c = NULL;
        struct config_errors errs = {0};
        assert_int_equal(
            config_parse_buffer("t.conf", "policy p {\n  pid_namespace = false\n}\n", &c, &errs),
            -EINVAL);
        assert_int_equal(errs.n, 1);
        assert_non_null(strstr(errs.msgs[0], "t.conf:2: pid_namespace = false is not supported"));
        config_errors_free(&errs);
}

static void test_error_semantics(void **state)
{
        expect_only_error("policy p {\n memory_max = 1G\n memory_high = 2G\n}\n", 3,
                          "memory_high is above memory_max, so it would never apply");
        expect_only_error("policy p {\n uts_namespace = false\n hostname = \"x\"\n}\n", 3,
                          "hostname needs uts_namespace = true");
        struct config_errors m =
            parse_bad("policy p {\n mount_namespace = false\n hide_homes = true\n"
                      " masked_paths = {\"/x\"}\n}\n");
        expect_error(&m, 2, "mount_namespace = false is not supported");
        expect_error(
            &m, 2, "mount_namespace = false, but masked_paths, hide_homes need a mount namespace");
        config_errors_free(&m);
        expect_only_error("policy p {\n private_tmp = false\n tmp_size = 1G\n}\n", 3,
                          "tmp_size has no effect with private_tmp = false");
        struct config_errors e =
            parse_bad("policy p {\n seccomp = none\n syscalls_allow = {\"read\"}\n"
                      " seccomp_action = kill\n}\n");
        expect_error(&e, 3, "syscalls_allow has no effect with seccomp = none");
        expect_error(&e, 4, "seccomp_action has no effect with seccomp = none");
        config_errors_free(&e);
        expect_only_error("policy p {\n io \"/\" {\n }\n}\n", 2, "io \"/\" sets no limit");
        expect_only_error("policy p {\n io \"sda\" { read_bps = 1M }\n}\n", 2,
                          "io \"sda\": name a device node (\"/dev/sda\") or an absolute path");
        expect_only_error("policy \"two words\" { }\n", 1, "policy name 'two words': use letters");
}

static void test_error_syntax(void **state)
{
        expect_only_error("policy p {\n memory_max = \"1G\n}\n", 2,
                          "unterminated string: the '\"' here has no closing '\"'");
        expect_only_error("policy p {\n apparmor_profile = 'x\n}\n", 2, "unterminated string");
        expect_only_error("policy p {\n/* a comment\n that never ends\n}\n", 2,
                          "unterminated comment: the '/*' here has no '*/'");
        expect_only_error("policy p {\n memory_max = 1G\n", 3,
                          "unexpected end of file: a '}' is missing (the block opened at line 1");
        expect_only_error("policy p {\n io \"/\" {\n read_bps = 1M\n}\n", 5,
                          "a '}' is missing (the block opened at line 1, or one inside it");
        expect_only_error("policy p {\n masked_paths = {\"/a\"\n", 3, "a '}' is missing");
        expect_only_error("policy p { }\n}\n", 2, "'}' without a block to close");
        expect_only_error("policy p {\n memory_max 1G\n}\n", 2, "expected '=' after 'memory_max'");
        expect_only_error("policy {\n}\n", 1, "a policy block needs a name: policy NAME { ... }");
        expect_only_error("policy p {\n io {\n read_bps = 1M\n }\n}\n", 2,
                          "an io block needs a device or path");
        expect_only_error("policy p {\n memory_max = ,\n}\n", 2, "syntax error at ','");
        expect_only_error("services = {\"a\",,}\npolicy p { }\n", 1, "syntax error at ','");
        expect_only_error("policy p {\n memory_max = \"\\9\"\n}\n", 2, "bad escape sequence");
}

static void test_comments_keep_lines(void **state)
{
        /* libconfuse 3.3 miscounts lines after comments; the lines here must be exact */
        expect_only_error("# one\n"
                          "## two\n"
                          "// three\n"
                          "/* four\n"
                          "   five */ fail = closed # six\n"
                          "policy p { // seven\n"
                          "  memory_max = 1G /* eight */ hide_homes = perhaps\n"
                          "}\n",
                          7, "hide_homes must be true or false");
        /* '#' and '//' inside strings and paths are not comments */
        struct config *c = parse_ok("policy p {\n"
                                    " apparmor_profile = \"a#b//c\"\n"
                                    " masked_paths = {/srv//data, \"/x#y\"}\n"
                                    "}\n");
        assert_string_equal(c->policies[0].apparmor_profile, "a#b//c");
        assert_strv(&c->policies[0].masked_paths, 2, "/srv//data", "/x#y");
        config_free(c);
        /* a multi-line string counts its lines */
        expect_only_error("policy p {\n apparmor_profile = \"a\\\nb\"\n hide_homes = x\n}\n", 4,
                          "hide_homes must be true or false");
}

static void test_section_lines(void **state)
{
        struct config *c = parse_ok(
            "\n\n# comment\npolicy a\n{\n}\n\npolicy b {\n io \"/\"\n {\n read_bps = 1M }\n}\n"
            "match\n{ policy = b }\n");
        assert_int_equal(policy_named(c, "a")->line, 5); /* the line of its '{' */
        assert_int_equal(policy_named(c, "b")->line, 8);
        assert_int_equal(policy_named(c, "b")->io[0].line, 10);
        assert_int_equal(c->rules[0].line, 14);
        config_free(c);
}

static void test_all_errors_reported(void **state)
{
        struct config_errors e = parse_bad("fail = sometimes\n"                /* 1 */
                                           "policy a {\n"                      /* 2 */
                                           "  memory_max = lots\n"             /* 3 */
                                           "  syscalls_allow = {\"nope\"}\n"   /* 4 */
                                           "  capabilities = {\"CAP_NOPE\"}\n" /* 5 */
                                           "}\n"                               /* 6 */
                                           "match {\n"                         /* 7 */
                                           "  rhosts = {\"10.0.0.1/8\"}\n"     /* 8 */
                                           "  policy = missing\n"              /* 9 */
                                           "}\n"                               /* 10 */
                                           "default_policy = gone\n");         /* 11 */
        assert_int_equal(e.n, 7);
        expect_error(&e, 1, "fail must be");
        expect_error(&e, 3, "memory_max: 'lots'");
        expect_error(&e, 4, "unknown syscall 'nope'");
        expect_error(&e, 5, "unknown capability 'CAP_NOPE'");
        expect_error(&e, 8, "rhosts: '10.0.0.1/8'");
        expect_error(&e, 9, "policy 'missing' is not defined");
        expect_error(&e, 11, "policy 'gone' is not defined");
        /* in line order */
        for (size_t i = 1; i < e.n; i++) {
                int a = atoi(strchr(e.msgs[i - 1], ':') + 1), b = atoi(strchr(e.msgs[i], ':') + 1);
                assert_true(a <= b);
        }
        config_errors_free(&e);

        /* values before a syntax error are still checked; cross-references are not */
        e = parse_bad(
            "policy a {\n memory_max = lots\n}\nmatch { policy = nope }\nbogus_key = 1\n");
        expect_error(&e, 2, "memory_max: 'lots'");
        expect_error(&e, 5, "unknown key 'bogus_key'");
        assert_int_equal(e.n, 2);
        config_errors_free(&e);
}

static void test_messages_are_sanitized(void **state)
{
        struct config_errors e = parse_bad("policy p {\n network = \"\\033[31mred\\x01\"\n}\n");
        expect_error(&e, 2, "network must be one of host | none, not '?[31mred?'");
        config_errors_free(&e);
}

static void test_nothing_leaks_between_parses(void **state)
{
        /* libconfuse's lexer is global state: a parse that fails in the middle of a string
         * must not change how the next one reads. */
        struct config_errors e = parse_bad("policy p { apparmor_profile = \"\\9 }\n");
        config_errors_free(&e);
        e = parse_bad("policy p { hostname = \"unterminated\n");
        config_errors_free(&e);
        struct config *c = parse_ok("policy p { hostname = \"h\" }\n");
        assert_string_equal(c->policies[0].hostname, "h");
        config_free(c);
}

static void test_parser_writes_nothing(void **state)
{
        /* flex's default rule echoes what no rule matches (a '\' at the end of a string) to
         * stdout, which in the helper is not a terminal */
        static const char *const texts[] = {
            "policy p { hostname = \"abc\\",
            "policy p { hostname = 'abc\\",
            "policy p { hostname = \"abc\\\n",
            "policy p { /* \\",
            "policy p { # \\",
        };
        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                fflush(stdout);
                FILE *f = tmpfile();
                int saved = dup(1);
                dup2(fileno(f), 1);
                struct config_errors e = parse_bad(texts[i]);
                fflush(stdout);
                dup2(saved, 1);
                close(saved);
                assert_int_equal(ftell(f), 0);
                assert_int_equal(lseek(fileno(f), 0, SEEK_END), 0);
                fclose(f);
                config_errors_free(&e);
        }
}

/* ---- config_load: the file itself
 * ----------------------------------------------------------------- */

static int load(const char *path, bool check_owner, struct config_errors *e)
{
        struct config *c = (struct config *)1;
        int r = config_load(path, check_owner, &c, e);
        if (r < 0)
                assert_null(c);
        config_free(r < 0 ? NULL : c);
        return r;
}

static void test_load_ownership(void **state)
{
        const char *text = "policy p { }\n";
        struct config_errors e = {0};
        char expected[PATH_MAX * 3 + 200];

        const char *path = write_file("isolate.conf", text, 0, 0644);
        assert_int_equal(load(path, true, &e), 0);
        assert_int_equal(e.n, 0);

        path = write_file("isolate.conf", text, 1000, 0644);
        assert_int_equal(load(path, true, &e), -EPERM);
        assert_int_equal(e.n, 1);
        snprintf(expected, sizeof(expected),
                 "%s: owned by uid 1000, must be root:root and not group/world-writable; fix: "
                 "chown root:root %s && chmod 644 %s",
                 path, path, path);
        assert_string_equal(e.msgs[0], expected);
        config_errors_free(&e);
        /* the unit tests and isolatectl's second look may read it anyway */
        assert_int_equal(load(path, false, &e), 0);

        path = write_file("isolate.conf", text, 0, 0664);
        assert_int_equal(load(path, true, &e), -EPERM);
        assert_non_null(strstr(e.msgs[0], "writable by its group (mode 0664)"));
        config_errors_free(&e);

        path = write_file("isolate.conf", text, 0, 0602);
        assert_int_equal(load(path, true, &e), -EPERM);
        assert_non_null(strstr(e.msgs[0], "writable by others (mode 0602)"));
        config_errors_free(&e);

        /* an ownership problem is found before the content is read: nothing else reported */
        path = write_file("isolate.conf", "garbage {{{", 1000, 0644);
        assert_int_equal(load(path, true, &e), -EPERM);
        assert_int_equal(e.n, 1);
        config_errors_free(&e);
}

static void test_load_symlinks(void **state)
{
        char link[PATH_MAX], target[PATH_MAX];
        struct config_errors e = {0};
        snprintf(link, sizeof(link), "%s/link.conf", tmpdir);
        snprintf(target, sizeof(target), "%s/target.conf", tmpdir);

        /* a root-owned link to a root-owned file: followed, and fine */
        write_file("target.conf", "policy p { }\n", 0, 0644);
        unlink(link);
        assert_int_equal(symlink(target, link), 0);
        assert_int_equal(load(link, true, &e), 0);

        /* what counts is the file the link leads to */
        write_file("target.conf", "policy p { }\n", 1000, 0644);
        assert_int_equal(load(link, true, &e), -EPERM);
        assert_non_null(strstr(e.msgs[0], "owned by uid 1000"));
        config_errors_free(&e);
        unlink(link);
}

static void test_load_file_problems(void **state)
{
        struct config_errors e = {0};
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
        assert_int_equal(load(path, true, &e), -ENOENT);
        assert_int_equal(e.n, 1);
        assert_non_null(strstr(e.msgs[0], "cannot open: No such file or directory"));
        config_errors_free(&e);

        assert_int_equal(load(tmpdir, false, &e), -EINVAL);
        assert_non_null(strstr(e.msgs[0], "not a regular file"));
        config_errors_free(&e);

        /* a FIFO is refused at once, not waited on */
        snprintf(path, sizeof(path), "%s/fifo.conf", tmpdir);
        assert_int_equal(mkfifo(path, 0644), 0);
        assert_int_equal(load(path, true, &e), -EINVAL);
        assert_non_null(strstr(e.msgs[0], "not a regular file"));
        config_errors_free(&e);

        snprintf(path, sizeof(path), "%s/nul.conf", tmpdir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_int_equal(write(fd, "policy p { }\n\0x", 15), 15);
        close(fd);
        assert_int_equal(load(path, true, &e), -EINVAL);
        assert_non_null(strstr(e.msgs[0], "contains a NUL byte"));
        config_errors_free(&e);

        /* errors in a loaded file name the path given */
        const char *bad = write_file("bad.conf", "policy p {\n hide_homes = 3\n}\n", 0, 0644);
        assert_int_equal(load(bad, true, &e), -EINVAL);
        char expected[PATH_MAX + 64];
        snprintf(expected, sizeof(expected), "%s:2: hide_homes must be true or false, not '3'",
                 bad);
        assert_string_equal(e.msgs[0], expected);
        config_errors_free(&e);
}

/* ---- isolatectl check
 * ----------------------------------------------------------------------------- */

#include "ctl_capture.h"

static void test_check_valid(void **state)
{
        char pamdir[PATH_MAX];
        snprintf(pamdir, sizeof(pamdir), "%s/pam.d", tmpdir);
        mkdir(pamdir, 0755);
        const char *path = write_file("ok.conf",
                                      "policy a { }\npolicy b { }\n"
                                      "match { users = {\"x\"} policy = b }\n",
                                      0, 0644);
        struct output *o = run_cmd(cmd_check, "check", "-c", path, "--pam-dir", pamdir, NULL);
        assert_int_equal(o->rc, 0);
        char expected[PATH_MAX + 64];
        snprintf(expected, sizeof(expected), "%s: OK, 2 policies, 1 match rule\n", path);
        assert_string_equal(o->out, expected);
        /* the PAM stacks could not be read: warnings, not errors */
        assert_non_null(strstr(o->err, "warning: cannot check the PAM stack of service sshd"));

        path = write_file("ok.conf", "policy a { }\n", 0, 0644);
        o = run_cmd(cmd_check, "check", "--config", path, "--pam-dir", pamdir, NULL);
        assert_int_equal(o->rc, 0);
        snprintf(expected, sizeof(expected), "%s: OK, 1 policy, 0 match rules\n", path);
        assert_string_equal(o->out, expected);
}

/* KillUserProcesses=yes next to a user-scope policy: a warning naming the logind file and
 * line, the policy, and the fix; the last setting wins (drop-ins after the main file, in
 * name order); a config without a user-scope policy, or no, says nothing. */
static void test_check_logind_kill(void **state)
{
        char logind[PATH_MAX], dropins[PATH_MAX + 4], line[PATH_MAX * 2];
        snprintf(logind, sizeof(logind), "%s/logind.conf", tmpdir);
        snprintf(dropins, sizeof(dropins), "%s.d", logind);
        mkdir(dropins, 0755);
        write_file("logind.conf", "[Login]\nKillUserProcesses=yes\n", 0, 0644);
        char shell[PATH_MAX]; /* write_file's buffer is reused */
        snprintf(shell, sizeof(shell), "%s",
                 write_file("shell.conf", "policy shell {\n scope = user\n linger = 1h\n}\n", 0,
                            0644));
        struct output *o = run_cmd(cmd_check, "check", "-c", shell, "--logind-conf", logind, NULL);
        assert_int_equal(o->rc, 0);
        snprintf(line, sizeof(line),
                 "warning: %s:2: KillUserProcesses=yes: logind ends every process a login "
                 "started when that login ends",
                 logind);
        assert_non_null(strstr(o->err, line));
        snprintf(line, sizeof(line), "so policy shell (%s:1, scope = user)", shell);
        assert_non_null(strstr(o->err, line));
        assert_non_null(strstr(o->err, "KillExcludeUsers="));

        /* a drop-in turns it off (the later 20- wins over 10-) */
        write_file("logind.conf.d/20-keep.conf", "[Login]\nKillUserProcesses = no\n", 0, 0644);
        write_file("logind.conf.d/10-kill.conf", "[Login]\nKillUserProcesses=yes\n", 0, 0644);
        o = run_cmd(cmd_check, "check", "-c", shell, "--logind-conf", logind, NULL);
        assert_null(strstr(o->err, "KillUserProcesses"));
        /* ... and on again; another section's key is not logind's */
        write_file("logind.conf.d/30-kill.conf", "[Login]\nKillUserProcesses=yes\n[Other]\n"
                   "KillUserProcesses=no\n", 0, 0644);
        o = run_cmd(cmd_check, "check", "-c", shell, "--logind-conf", logind, NULL);
        snprintf(line, sizeof(line), "warning: %s/30-kill.conf:2: KillUserProcesses=yes", dropins);
        assert_non_null(strstr(o->err, line));

        /* login scope only: nothing to say */
        const char *bastion = write_file("bastion.conf", "policy bastion { }\n", 0, 0644);
        o = run_cmd(cmd_check, "check", "-c", bastion, "--logind-conf", logind, NULL);
        assert_int_equal(o->rc, 0);
        assert_null(strstr(o->err, "KillUserProcesses"));
        char path[PATH_MAX + 32];
        for (const char *const *n = (const char *const[]){"10-kill.conf", "20-keep.conf",
                                                           "30-kill.conf", NULL};
             *n; n++) {
                snprintf(path, sizeof(path), "%s/%s", dropins, *n);
                unlink(path);
        }
        rmdir(dropins);
        unlink(logind);
}

static void test_check_errors(void **state)
{
        const char *path = write_file("bad.conf",
                                      "policy a {\n memory_max = 1X\n}\n"
                                      "match { users = {\"x\"} }\n",
                                      0, 0644);
        struct output *o = run_cmd(cmd_check, "check", "-c", path, NULL);
        assert_int_equal(o->rc, 1);
        assert_string_equal(o->out, "");
        char line[PATH_MAX + 64];
        snprintf(line, sizeof(line), "%s:2: memory_max: '1X' is not a size", path);
        assert_non_null(strstr(o->err, line));
        snprintf(line, sizeof(line), "%s:4: this match has neither", path);
        assert_non_null(strstr(o->err, line));

        /* not root's: refused, and the rest is still shown */
        path = write_file("bad.conf", "policy a {\n memory_max = 1X\n}\n", 1000, 0644);
        o = run_cmd(cmd_check, "check", "-c", path, NULL);
        assert_int_equal(o->rc, 1);
        assert_non_null(strstr(o->err, "owned by uid 1000, must be root:root"));
        snprintf(line, sizeof(line), "%s:2: memory_max", path);
        assert_non_null(strstr(o->err, line));

        o = run_cmd(cmd_check, "check", "-c", "/nonexistent/isolate.conf", NULL);
        assert_int_equal(o->rc, 1);
        assert_non_null(strstr(o->err, "/nonexistent/isolate.conf: cannot open"));
}

static void test_check_io_targets(void **state)
{
        const char *path = write_file("io.conf",
                                      "policy a {\n\n io \"/nonexistent-device\" {\n"
                                      "  read_bps = 1M\n }\n}\n",
                                      0, 0644);
        struct isolate_error err = {0};
        unsigned major, minor;
        int r = device_resolve("/nonexistent-device", &major, &minor, &err);
        struct output *o = run_cmd(cmd_check, "check", "-c", path, NULL);
        if (r == -ENOSYS) {
                /* device resolution not there: cannot check, not a failure */
                assert_int_equal(o->rc, 0);
                assert_non_null(strstr(o->err, "note: io targets not checked"));
        } else {
                assert_true(r < 0);
                assert_int_equal(o->rc, 1);
                char line[PATH_MAX + 64];
                snprintf(line, sizeof(line), "%s:3: io \"/nonexistent-device\": ", path);
                assert_non_null(strstr(o->err, line));
                assert_string_equal(o->out, "");
        }
}

static void test_check_usage(void **state)
{
        struct output *o = run_cmd(cmd_check, "check", "--help", NULL);
        assert_int_equal(o->rc, 0);
        assert_non_null(strstr(o->out, "usage: isolatectl check"));
        o = run_cmd(cmd_check, "check", "--frobnicate", NULL);
        assert_int_equal(o->rc, 2);
        assert_non_null(strstr(o->err, "unknown option '--frobnicate'"));
        assert_non_null(strstr(o->err, "usage: isolatectl check"));
        o = run_cmd(cmd_check, "check", "-c", NULL);
        assert_int_equal(o->rc, 2);
        assert_non_null(strstr(o->err, "missing argument for '-c'"));
        o = run_cmd(cmd_check, "check", "extra", NULL);
        assert_int_equal(o->rc, 2);
        assert_non_null(strstr(o->err, "unexpected argument 'extra'"));
}

/* isolatectl check reports a bad destination with FILE:LINE; explain shows the list. */
static void test_check_egress_allow(void **state)
{
        const char *path = write_file("egress.conf",
                                      "policy a {\n egress_allow = {\"10.0.0.0/8:22\",\n"
                                      "  \"10.0.0.1:ssh\"}\n}\n",
                                      0, 0644);
        struct output *o = run_cmd(cmd_check, "check", "-c", path, NULL);
        assert_int_equal(o->rc, 1);
        char line[PATH_MAX + 128];
        snprintf(line, sizeof(line),
                 "%s:3: egress_allow: '10.0.0.1:ssh': the port 'ssh' is not a number", path);
        assert_non_null(strstr(o->err, line));

        path = write_file(
            "egress.conf",
            "policy a {\n egress_allow = {\"10.0.0.0/8:22\", \"[2001:db8::1]:443/tcp\"}\n}\n"
            "policy b {\n egress_allow = {}\n}\n"
            "match { users = {\"root\"} policy = b }\n",
            0, 0644);
        o = run_cmd(cmd_explain, "explain", "-c", path, "nobody", NULL);
        assert_int_equal(o->rc, 0);
        assert_non_null(strstr(o->out, "egress_allow         = {\"10.0.0.0/8:22\", "
                                       "\"[2001:db8::1]:443/tcp\"} (nothing else)\n"));
        o = run_cmd(cmd_explain, "explain", "-c", path, "--json", "nobody", NULL);
        assert_int_equal(o->rc, 0);
        assert_non_null(
            strstr(o->out, "\"egress_allow\": [\"10.0.0.0/8:22\", \"[2001:db8::1]:443/tcp\"]"));
        o = run_cmd(cmd_explain, "explain", "-c", path, "root", NULL);
        assert_int_equal(o->rc, 0);
        assert_non_null(
            strstr(o->out, "egress_allow         = {} (no destination, loopback included)\n"));

        path = write_file("egress.conf", "policy a { }\n", 0, 0644);
        o = run_cmd(cmd_explain, "explain", "-c", path, "--json", "nobody", NULL);
        assert_int_equal(o->rc, 0);
        assert_non_null(strstr(o->out, "\"egress_allow\": null"));
        o = run_cmd(cmd_explain, "explain", "-c", path, "nobody", NULL);
        assert_non_null(strstr(o->out, "egress_allow         = unset (no filter)\n"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_defaults),
            cmocka_unit_test(test_every_key),
            cmocka_unit_test(test_sample_config),
            cmocka_unit_test(test_default_policy_is_first),
            cmocka_unit_test(test_scope_and_linger),
            cmocka_unit_test(test_scoping_keys),
            cmocka_unit_test(test_booleans),
            cmocka_unit_test(test_list_forms),
            cmocka_unit_test(test_home_stays_literal),
            cmocka_unit_test(test_names_and_quoting),
            cmocka_unit_test(test_syscall_groups_accepted),
            cmocka_unit_test(test_seccomp_action_errno_log),
            cmocka_unit_test(test_limits_max_and_zero),
            cmocka_unit_test(test_mount_namespace_off),
            cmocka_unit_test(test_error_unknown_key),
            cmocka_unit_test(test_kernel_table_keys),
            cmocka_unit_test(test_error_wrong_type),
            cmocka_unit_test(test_error_bad_units),
            cmocka_unit_test(test_error_strings),
            cmocka_unit_test(test_error_syscalls_and_caps),
            cmocka_unit_test(test_error_references),
            cmocka_unit_test(test_error_duplicates),
            cmocka_unit_test(test_error_match_rules),
            cmocka_unit_test(test_error_cidr),
            cmocka_unit_test(test_egress_allow),
            cmocka_unit_test(test_error_egress_allow),
            cmocka_unit_test(test_error_unreachable),
            cmocka_unit_test(test_reachable_rules),
            cmocka_unit_test(test_error_semantics),
            cmocka_unit_test(test_error_pid_namespace_off),
            cmocka_unit_test(test_error_syntax),
            cmocka_unit_test(test_comments_keep_lines),
            cmocka_unit_test(test_section_lines),
            cmocka_unit_test(test_all_errors_reported),
            cmocka_unit_test(test_messages_are_sanitized),
            cmocka_unit_test(test_nothing_leaks_between_parses),
            cmocka_unit_test(test_parser_writes_nothing),
            cmocka_unit_test(test_load_ownership),
            cmocka_unit_test(test_load_symlinks),
            cmocka_unit_test(test_load_file_problems),
            cmocka_unit_test(test_check_valid),
            cmocka_unit_test(test_check_errors),
            cmocka_unit_test(test_check_logind_kill),
            cmocka_unit_test(test_check_io_targets),
            cmocka_unit_test(test_check_egress_allow),
            cmocka_unit_test(test_check_usage),
        };
        return cmocka_run_group_tests_name("config", tests, make_tmpdir, remove_tmpdir);
}

/* test_match.c: which policy a login gets and why, who is logging in (passwd and group
 * databases, with a real temporary user), and isolatectl explain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../conf/policy.h"
#include "../../isolatectl/ctl.h"

#define NAME "/etc/test-isolate.conf"

static struct config *parse_ok(const char *text)
{
        struct config *c = NULL;
        struct config_errors e = {0};
        int r = config_parse_buffer(NAME, text, &c, &e);
        for (size_t i = 0; i < e.n; i++)
                print_message("    %s\n", e.msgs[i]);
        assert_int_equal(r, 0);
        config_errors_free(&e);
        return c;
}

static char *groups_ops[] = {"staff", "ops"};
static char *groups_none[] = {"staff"};
static char *groups_admin[] = {"staff", "admins"};

static struct resolution resolve(const struct config *c, const char *user, char **groups,
                                 size_t n_groups, const char *service, const char *rhost)
{
        struct login_info who = {.user = user,
                                 .uid = 1000,
                                 .groups = groups,
                                 .n_groups = n_groups,
                                 .service = service,
                                 .rhost = rhost};
        struct resolution res;
        assert_int_equal(policy_resolve(c, &who, &res), 0);
        return res;
}

static const char rules_config[] =
    "services = {\"sshd\", \"login\", \"su\"}\n"                            /* 1 */
    "exempt_users = {\"root\"}\n"                                           /* 2 */
    "exempt_groups = {\"admins\"}\n"                                        /* 3 */
    "default_policy = bastion\n"                                            /* 4 */
    "policy bastion { }\n"                                                  /* 5 */
    "policy strict { network = none }\n"                                    /* 6 */
    "policy lab { }\n"                                                      /* 7 */
    "match {\n"                                                             /* 8 */
    "  users = {\"alice\"}\n"                                               /* 9 */
    "  services = {\"sshd\"}\n"                                             /* 10 */
    "  rhosts = {\"10.0.0.0/8\", \"2001:db8::/32\"}\n"                      /* 11 */
    "  policy = lab\n"                                                      /* 12 */
    "}\n"                                                                   /* 13 */
    "match {\n"                                                             /* 14 */
    "  groups = {\"ops\"}\n"                                                /* 15 */
    "  services = {\"sshd\", \"su\"}\n"                                     /* 16 */
    "  policy = strict\n"                                                   /* 17 */
    "}\n"                                                                   /* 18 */
    "match { users = {\"backup\"} services = {\"login\"} exempt = true }\n" /* 19 */
    "match { rhosts = {\"192.0.2.0/24\"} policy = strict }\n";              /* 20 */

static void test_resolve_ignore_and_exempt(void **state)
{
        struct config *c = parse_ok(rules_config);
        struct resolution r = resolve(c, "alice", groups_ops, 2, "cron", NULL);
        assert_int_equal(r.outcome, RESOLVE_IGNORE);
        assert_null(r.policy);
        assert_string_equal(r.reason, "service cron is not in services: the login is not confined");

        /* exempt users and groups come before any rule */
        r = resolve(c, "root", groups_ops, 2, "sshd", "10.1.1.1");
        assert_int_equal(r.outcome, RESOLVE_EXEMPT);
        assert_null(r.rule);
        assert_string_equal(r.reason, "user root is in exempt_users");
        r = resolve(c, "carol", groups_admin, 2, "sshd", NULL);
        assert_int_equal(r.outcome, RESOLVE_EXEMPT);
        assert_string_equal(r.reason, "user carol is in group admins, which is in exempt_groups");

        /* an exempt rule */
        r = resolve(c, "backup", groups_none, 1, "login", NULL);
        assert_int_equal(r.outcome, RESOLVE_EXEMPT);
        assert_ptr_equal(r.rule, &c->rules[2]);
        assert_string_equal(r.reason, "rule at " NAME
                                      ":19 matched (exempt = true): user backup, service login");
        /* the same user over ssh is not exempt */
        r = resolve(c, "backup", groups_none, 1, "sshd", NULL);
        assert_int_equal(r.outcome, RESOLVE_POLICY);
        assert_string_equal(r.policy->name, "bastion");
        config_free(c);
}

static void test_resolve_first_match_wins(void **state)
{
        struct config *c = parse_ok(rules_config);
        /* alice from 10/8 over ssh: rule 1, even though she is in ops too */
        struct resolution r = resolve(c, "alice", groups_ops, 2, "sshd", "10.20.30.40");
        assert_int_equal(r.outcome, RESOLVE_POLICY);
        assert_string_equal(r.policy->name, "lab");
        assert_ptr_equal(r.rule, &c->rules[0]);
        assert_string_equal(r.reason, "rule at " NAME ":8 matched: user alice, service sshd, "
                                      "rhost 10.20.30.40 in 10.0.0.0/8");
        /* from elsewhere: rule 1 fails on rhosts, rule 2 takes her by group */
        r = resolve(c, "alice", groups_ops, 2, "sshd", "172.16.0.1");
        assert_string_equal(r.policy->name, "strict");
        assert_string_equal(r.reason, "rule at " NAME ":14 matched: group ops, service sshd");
        /* su: not in rule 1's services */
        r = resolve(c, "alice", groups_ops, 2, "su", "10.1.1.1");
        assert_string_equal(r.policy->name, "strict");
        assert_ptr_equal(r.rule, &c->rules[1]);
        /* login: neither rule 1 nor 2; rule 4 needs an rhost in 192.0.2.0/24 */
        r = resolve(c, "alice", groups_ops, 2, "login", NULL);
        assert_string_equal(r.policy->name, "bastion");
        assert_null(r.rule);
        assert_string_equal(r.reason, "no rule matched: default policy bastion");
        r = resolve(c, "dave", groups_none, 1, "login", "192.0.2.200");
        assert_string_equal(r.policy->name, "strict");
        assert_string_equal(r.reason,
                            "rule at " NAME ":20 matched: rhost 192.0.2.200 in 192.0.2.0/24");
        config_free(c);
}

static void test_resolve_rhosts(void **state)
{
        struct config *c = parse_ok(rules_config);
        /* IPv6, and IPv4 written as v4-mapped IPv6 */
        struct resolution r = resolve(c, "alice", groups_none, 1, "sshd", "2001:db8:5::1");
        assert_string_equal(r.policy->name, "lab");
        assert_string_equal(r.reason, "rule at " NAME ":8 matched: user alice, service sshd, "
                                      "rhost 2001:db8:5::1 in 2001:db8::/32");
        r = resolve(c, "alice", groups_none, 1, "sshd", "::ffff:10.9.9.9");
        assert_string_equal(r.policy->name, "lab");
        /* a host name never matches an address rule */
        r = resolve(c, "alice", groups_none, 1, "sshd", "ten.example.org");
        assert_string_equal(r.policy->name, "bastion");
        /* neither does a local login (no rhost, or an empty one) */
        r = resolve(c, "alice", groups_none, 1, "sshd", "");
        assert_string_equal(r.policy->name, "bastion");
        r = resolve(c, "alice", groups_none, 1, "sshd", NULL);
        assert_string_equal(r.policy->name, "bastion");
        /* but a rule without rhosts does match local logins */
        r = resolve(c, "bob", groups_ops, 2, "sshd", NULL);
        assert_string_equal(r.policy->name, "strict");
        config_free(c);
}

static void test_resolve_catch_all_and_default(void **state)
{
        /* a rule with no condition takes every confined login */
        struct config *c = parse_ok("policy a { }\npolicy b { }\nmatch { policy = b }\n");
        struct resolution r = resolve(c, "x", groups_none, 1, "sshd", NULL);
        assert_string_equal(r.policy->name, "b");
        assert_string_equal(r.reason, "rule at " NAME ":3 matched: it has no conditions");
        config_free(c);

        /* no default_policy: the first policy */
        c = parse_ok("policy first { }\npolicy second { }\n");
        r = resolve(c, "x", groups_none, 1, "login", NULL);
        assert_string_equal(r.policy->name, "first");
        assert_string_equal(r.reason, "no rule matched: default policy first");
        config_free(c);
}

static void test_resolve_bad_input(void **state)
{
        struct config *c = parse_ok("policy a { }\n");
        struct login_info who = {.user = NULL, .service = "sshd"};
        struct resolution res;
        assert_int_equal(policy_resolve(c, &who, &res), -EINVAL);
        who.user = "x";
        who.service = NULL;
        assert_int_equal(policy_resolve(c, &who, &res), -EINVAL);
        assert_int_equal(policy_resolve(NULL, &who, &res), -EINVAL);
        config_free(c);
}

/* ---- rule shadowing ------------------------------------------------------------------------ */

static struct match_rule rule(char **users, size_t nu, char **groups, size_t ng, char **services,
                              size_t ns, struct cidr *nets, size_t nn)
{
        return (struct match_rule){.users = {users, nu},
                                   .groups = {groups, ng},
                                   .services = {services, ns},
                                   .rhosts = nets,
                                   .n_rhosts = nn};
}

static void test_covers(void **state)
{
        static char *ssh_login[] = {"sshd", "login"};
        struct strv services = {ssh_login, 2};
        static char *alice[] = {"alice"}, *alice_bob[] = {"alice", "bob"};
        static char *ops[] = {"ops"};
        static char *sshd[] = {"sshd"}, *cron[] = {"cron"}, *sshd_cron[] = {"sshd", "cron"};
        struct cidr n8, n16, v6;
        assert_int_equal(parse_cidr("10.0.0.0/8", &n8), 0);
        assert_int_equal(parse_cidr("10.1.0.0/16", &n16), 0);
        assert_int_equal(parse_cidr("2001:db8::/32", &v6), 0);

        struct match_rule any = rule(NULL, 0, NULL, 0, NULL, 0, NULL, 0);
        struct match_rule a = rule(alice, 1, NULL, 0, NULL, 0, NULL, 0);
        struct match_rule ab = rule(alice_bob, 2, NULL, 0, NULL, 0, NULL, 0);
        struct match_rule a_ops = rule(alice, 1, ops, 1, NULL, 0, NULL, 0);
        struct match_rule a_ssh = rule(alice, 1, NULL, 0, sshd, 1, NULL, 0);
        struct match_rule a_cron_ssh = rule(alice, 1, NULL, 0, sshd_cron, 2, NULL, 0);
        struct match_rule a_cron = rule(alice, 1, NULL, 0, cron, 1, NULL, 0);
        struct match_rule r8 = rule(NULL, 0, NULL, 0, NULL, 0, &n8, 1);
        struct match_rule r16 = rule(NULL, 0, NULL, 0, NULL, 0, &n16, 1);
        struct match_rule r6 = rule(NULL, 0, NULL, 0, NULL, 0, &v6, 1);

        assert_true(match_rule_covers(&any, &a, &services));
        assert_false(match_rule_covers(&a, &any, &services));
        assert_true(match_rule_covers(&ab, &a, &services));
        assert_false(match_rule_covers(&a, &ab, &services));
        assert_true(match_rule_covers(&a, &a_ops, &services)); /* no group condition: any */
        assert_false(match_rule_covers(&a_ops, &a, &services));
        assert_true(match_rule_covers(&a, &a_ssh, &services));
        assert_false(match_rule_covers(&a_ssh, &a, &services)); /* a also takes login */
        /* cron is never confined, so {sshd, cron} can only match sshd */
        assert_true(match_rule_covers(&a_ssh, &a_cron_ssh, &services));
        assert_true(match_rule_covers(&a_ssh, &a_cron, &services)); /* matches nothing at all */
        assert_true(match_rule_covers(&r8, &r16, &services));
        assert_false(match_rule_covers(&r16, &r8, &services));
        assert_false(match_rule_covers(&r8, &r6, &services));
        assert_false(match_rule_covers(&r8, &any, &services)); /* any rhost, also none */
        assert_true(match_rule_covers(&any, &r8, &services));
}

/* ---- login_info_lookup, with a real user ------------------------------------------------------
 */

static char user_name[32], group_name[32], group2_name[32];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
        char cmd[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        return system(cmd);
}

static int make_user(void **state)
{
        snprintf(user_name, sizeof(user_name), "isout%d", (int)getpid() % 100000);
        snprintf(group_name, sizeof(group_name), "isoug%d", (int)getpid() % 100000);
        snprintf(group2_name, sizeof(group2_name), "isouh%d", (int)getpid() % 100000);
        if (sh("groupadd %s && groupadd %s", group_name, group2_name) != 0)
                return -1;
        if (sh("useradd -M -N -d /nonexistent/%s -s /usr/sbin/nologin -g nogroup -G %s,%s %s",
               user_name, group_name, group2_name, user_name) != 0) {
                sh("groupdel %s; groupdel %s", group_name, group2_name);
                return -1;
        }
        return 0;
}

static int remove_user(void **state)
{
        int r = sh("userdel %s", user_name);
        r |= sh("groupdel %s", group_name);
        r |= sh("groupdel %s", group2_name);
        return r == 0 ? 0 : -1;
}

static void test_lookup_user(void **state)
{
        struct login_info who;
        assert_int_equal(login_info_lookup(user_name, "sshd", "10.1.2.3", &who), 0);
        assert_string_equal(who.user, user_name);
        assert_true(who.uid > 0);
        assert_string_equal(who.service, "sshd");
        assert_string_equal(who.rhost, "10.1.2.3");
        char home[64];
        snprintf(home, sizeof(home), "/nonexistent/%s", user_name);
        assert_string_equal(who.home, home);
        /* primary group first, then the supplementary ones */
        assert_int_equal(who.n_groups, 3);
        assert_string_equal(who.groups[0], "nogroup");
        bool g1 = false, g2 = false;
        for (size_t i = 1; i < who.n_groups; i++) {
                g1 |= STREQ(who.groups[i], group_name);
                g2 |= STREQ(who.groups[i], group2_name);
        }
        assert_true(g1 && g2);

        /* the groups decide: a rule on the supplementary group takes the user */
        char text[512];
        snprintf(text, sizeof(text),
                 "policy a { }\npolicy b { }\nmatch { groups = {\"%s\"} policy = b }\n",
                 group2_name);
        struct config *c = parse_ok(text);
        struct resolution res;
        assert_int_equal(policy_resolve(c, &who, &res), 0);
        assert_string_equal(res.policy->name, "b");
        config_free(c);
        login_info_free(&who);
        assert_null(who.user);
}

static void test_lookup_root_and_missing(void **state)
{
        struct login_info who;
        assert_int_equal(login_info_lookup("root", "login", NULL, &who), 0);
        assert_int_equal(who.uid, 0);
        assert_int_equal(who.gid, 0);
        assert_string_equal(who.groups[0], "root");
        assert_null(who.rhost);
        login_info_free(&who);
        assert_int_equal(login_info_lookup("no-such-user-here", "sshd", NULL, &who), -ENOENT);
        assert_int_equal(login_info_lookup(NULL, "sshd", NULL, &who), -EINVAL);
}

/* ---- isolatectl explain --------------------------------------------------------------------- */

#include "ctl_capture.h"

static char conf_path[PATH_MAX];

static void write_conf(const char *text, uid_t uid)
{
        snprintf(conf_path, sizeof(conf_path), "/tmp/isolate-test-match-%d.conf", (int)getpid());
        unlink(conf_path);
        int fd = open(conf_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(fchown(fd, uid, 0), 0);
        close(fd);
}

/* What limits_nofile() derives for pids_max, computed here from fs.file-max. */
static uint64_t expected_nofile(uint64_t pids_max)
{
        FILE *f = fopen("/proc/sys/fs/file-max", "re");
        assert_non_null(f);
        unsigned long long file_max = 0;
        assert_int_equal(fscanf(f, "%llu", &file_max), 1);
        fclose(f);
        uint64_t n = file_max / 4 / pids_max;
        if (n > (1u << 30))
                n = 1u << 30;
        return n < 1024 ? 1024 : n;
}

static void explain_config(void)
{
        char text[2048];
        snprintf(text, sizeof(text),
                 "exempt_users = {\"root\"}\n"
                 "policy bastion {\n"
                 "  memory_max = 2G\n  memory_high = 1536M\n  cpu_max = 150%%  pids_max = 50\n"
                 "  hostname = \"%%u-box\"\n"
                 "  io \"/\" { read_bps = 50M write_iops = 300 }\n"
                 "  capabilities = {\"net_bind_service\"}\n"
                 "  apparmor_profile = 'quote\"d'\n"
                 "  landlock_read_write = {\"$HOME\", \"/tmp\"}\n"
                 "}\n"
                 "policy strict { network = none  pids_max = 100  pty_max = 8  max_sessions = 4 }\n"
                 "match {\n  groups = {\"%s\"}\n  services = {\"sshd\"}\n  policy = strict\n}\n",
                 group_name);
        write_conf(text, 0);
}

static void test_explain_text(void **state)
{
        explain_config();
        struct output *o = run_cmd(cmd_explain, "explain", "-c", conf_path, user_name, NULL);
        assert_int_equal(o->rc, 0);
        assert_non_null(strstr(o->out, "outcome  confined by policy strict"));
        char why[256];
        snprintf(why, sizeof(why), "why      rule at %s:13 matched: group %s, service sshd",
                 conf_path, group_name);
        assert_non_null(strstr(o->out, why));
        assert_non_null(strstr(o->out, "network              = none"));
        assert_non_null(strstr(o->out, "memory_max           = unset"));
        /* the kernel tables no cgroup caps (issue 12) */
        assert_non_null(strstr(o->out, "pty_max              = 8 per session (its own devpts)"));
        assert_non_null(strstr(o->out, "max_sessions         = 4 live sessions per user"));
        char nofile[200];
        snprintf(nofile, sizeof(nofile), "nofile               = %llu per process, ",
                 (unsigned long long)expected_nofile(100));
        assert_non_null(strstr(o->out, nofile));
        /* the largest pids_max of the config: the user's task cap is the latest login's */
        assert_non_null(strstr(o->out, "over the largest pids_max (100, policy strict)"));

        o = run_cmd(cmd_explain, "explain", "-c", conf_path, "--service", "login", "--rhost",
                    "192.0.2.1", user_name, NULL);
        assert_int_equal(o->rc, 0);
        assert_non_null(strstr(o->out, "outcome  confined by policy bastion"));
        assert_non_null(strstr(o->out, "why      no rule matched: default policy bastion"));
        assert_non_null(strstr(o->out, "service login, from 192.0.2.1"));
        assert_non_null(strstr(o->out, "memory_max           = 2G"));
        assert_non_null(strstr(o->out, "memory_high          = 1536M"));
        assert_non_null(strstr(o->out, "cpu_max              = 150%"));
        assert_non_null(strstr(o->out, "pids_max             = 50"));
        char host[96];
        snprintf(host, sizeof(host), "hostname             = \"%%u-box\" (%s-box)", user_name);
        assert_non_null(strstr(o->out, host));
        assert_non_null(strstr(o->out, "io \"/\" { read_bps = 50M/s  write_bps = unset  "
                                       "read_iops = unset  write_iops = 300 }"));
        assert_non_null(strstr(o->out, "capabilities         = {\"CAP_NET_BIND_SERVICE\"}"));
        char ll[160];
        snprintf(ll, sizeof(ll), "(for this user: /nonexistent/%s /tmp)", user_name);
        assert_non_null(strstr(o->out, ll));
        /* the syscall list, or why there is none */
        assert_true(strstr(o->out, "syscall list: not available (") ||
                    strstr(o->out, " allowed\n    "));
        assert_non_null(strstr(o->out, "lsm_required         = true"));

        /* a host name as rhost: said plainly */
        o = run_cmd(cmd_explain, "explain", "-c", conf_path, "--rhost", "gw.example", user_name,
                    NULL);
        assert_non_null(strstr(o->out, "rhost gw.example is not an IP address"));

        o = run_cmd(cmd_explain, "explain", "-c", conf_path, "root", NULL);
        assert_int_equal(o->rc, 0);
        assert_non_null(strstr(o->out, "outcome  exempt"));
        assert_non_null(strstr(o->out, "why      user root is in exempt_users"));
        assert_null(strstr(o->out, "policy "));

        o = run_cmd(cmd_explain, "explain", "-c", conf_path, "--service", "cron", user_name, NULL);
        assert_non_null(strstr(o->out, "service cron is not in services"));
        unlink(conf_path);
}

static void test_explain_json(void **state)
{
        explain_config();
        struct output *o = run_cmd(cmd_explain, "explain", "-c", conf_path, "--json", "--service",
                                   "su", user_name, NULL);
        assert_int_equal(o->rc, 0);
        /* one object, on one line */
        assert_int_equal(o->out[0], '{');
        assert_non_null(strstr(o->out, "}\n"));
        assert_ptr_equal(strchr(o->out, '\n'), o->out + strlen(o->out) - 1);
        assert_non_null(strstr(o->out, "\"outcome\": \"policy\""));
        assert_non_null(strstr(o->out, "\"reason\": \"no rule matched: default policy bastion\""));
        assert_non_null(strstr(o->out, "\"rule\": null"));
        assert_non_null(strstr(o->out, "\"rhost\": null"));
        assert_non_null(strstr(o->out, "\"memory_max\": 2147483648"));
        assert_non_null(strstr(o->out, "\"pids_max\": 50"));
        assert_non_null(strstr(o->out, "\"cpu_max\": 150"));
        assert_non_null(strstr(o->out,
                               "\"io\": [{\"target\": \"/\", \"line\": 7, \"read_bps\": 52428800, "
                               "\"write_bps\": null, \"read_iops\": null, \"write_iops\": 300}]"));
        assert_non_null(strstr(o->out, "\"capabilities\": [\"CAP_NET_BIND_SERVICE\"]"));
        /* escaped */
        assert_non_null(strstr(o->out, "\"apparmor_profile\": \"quote\\\"d\""));
        assert_non_null(strstr(o->out, "\"landlock_read_write\": [\"$HOME\", \"/tmp\"]"));
        assert_non_null(strstr(o->out, "\"kernel\": {\"apparmor\": "));

        o = run_cmd(cmd_explain, "explain", "-c", conf_path, "--json", user_name, NULL);
        char rule[256];
        snprintf(rule, sizeof(rule), "\"rule\": {\"file\": \"%s\", \"line\": 13}", conf_path);
        assert_non_null(strstr(o->out, rule));
        assert_non_null(strstr(o->out, "\"network\": \"none\""));
        assert_non_null(strstr(o->out, "\"pty_max\": 8, "));
        assert_non_null(strstr(o->out, "\"max_sessions\": 4, "));
        assert_non_null(strstr(o->out, "\"nofile\": null, "));
        char nofile[100];
        snprintf(nofile, sizeof(nofile), "\"nofile_effective\": %llu,",
                 (unsigned long long)expected_nofile(100));
        assert_non_null(strstr(o->out, nofile));

        o = run_cmd(cmd_explain, "explain", "-c", conf_path, "--json", "root", NULL);
        assert_non_null(strstr(o->out, "\"outcome\": \"exempt\""));
        assert_non_null(strstr(o->out, "\"policy\": null"));
        unlink(conf_path);
}

static void test_explain_errors(void **state)
{
        explain_config();
        struct output *o = run_cmd(cmd_explain, "explain", "-c", conf_path, "nobody-such", NULL);
        assert_int_equal(o->rc, 1);
        assert_non_null(strstr(o->err, "isolatectl explain: no such user 'nobody-such'"));

        o = run_cmd(cmd_explain, "explain", "-c", conf_path, NULL);
        assert_int_equal(o->rc, 2);
        assert_non_null(strstr(o->err, "USER is missing"));
        assert_non_null(strstr(o->err, "usage: isolatectl explain"));
        o = run_cmd(cmd_explain, "explain", "-c", conf_path, "a", "b", NULL);
        assert_int_equal(o->rc, 2);
        o = run_cmd(cmd_explain, "explain", "--bogus", "root", NULL);
        assert_int_equal(o->rc, 2);
        assert_non_null(strstr(o->err, "unknown option '--bogus'"));
        o = run_cmd(cmd_explain, "explain", "root", "--service", NULL);
        assert_int_equal(o->rc, 2);
        o = run_cmd(cmd_explain, "explain", "--help", NULL);
        assert_int_equal(o->rc, 0);
        assert_non_null(strstr(o->out, "usage: isolatectl explain"));

        /* an invalid config: its errors, and exit 1 */
        write_conf("policy a {\n memory_max = lots\n}\n", 0);
        o = run_cmd(cmd_explain, "explain", "-c", conf_path, "root", NULL);
        assert_int_equal(o->rc, 1);
        char line[PATH_MAX + 32];
        snprintf(line, sizeof(line), "%s:2: memory_max: 'lots'", conf_path);
        assert_non_null(strstr(o->err, line));

        /* not root's: explained, with a warning that the helper refuses it */
        write_conf("policy a { }\n", 1000);
        o = run_cmd(cmd_explain, "explain", "-c", conf_path, "nobody", NULL);
        assert_int_equal(o->rc, 0);
        assert_non_null(strstr(o->err, "warning: the helper refuses this file"));
        assert_non_null(strstr(o->out, "outcome  confined by policy a"));
        unlink(conf_path);
}

static void test_hostname_expand(void **state)
{
        char buf[16];
        assert_int_equal(hostname_expand("%u-session", "alice", buf, sizeof(buf)), 13);
        assert_string_equal(buf, "alice-session");
        assert_int_equal(hostname_expand("a%ub%u", "xy", buf, sizeof(buf)), 6);
        assert_string_equal(buf, "axybxy");
        /* cut to fit, NUL-terminated; a lone % stays */
        assert_int_equal(hostname_expand("%u%u%u", "abcdefg", buf, sizeof(buf)), 15);
        assert_string_equal(buf, "abcdefgabcdefga");
        assert_int_equal(hostname_expand("50%", "u", buf, sizeof(buf)), 3);
        assert_string_equal(buf, "50%");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_resolve_ignore_and_exempt),
            cmocka_unit_test(test_resolve_first_match_wins),
            cmocka_unit_test(test_resolve_rhosts),
            cmocka_unit_test(test_resolve_catch_all_and_default),
            cmocka_unit_test(test_resolve_bad_input),
            cmocka_unit_test(test_covers),
            cmocka_unit_test(test_lookup_user),
            cmocka_unit_test(test_lookup_root_and_missing),
            cmocka_unit_test(test_explain_text),
            cmocka_unit_test(test_explain_json),
            cmocka_unit_test(test_explain_errors),
            cmocka_unit_test(test_hostname_expand),
        };
        return cmocka_run_group_tests_name("match", tests, make_user, remove_user);
}

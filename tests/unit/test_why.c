/* test_why: what isolatectl why reads and says (isolatectl/denials.c): the kernel's seccomp
 * audit records as kmsg and auditd write them, junk and truncated lines, other record types;
 * the login a record is tied to; the config line that decided and the line to paste; the
 * log of logins the helper keeps (session-helper/registry.c); errno-log's filter flag. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include "../../isolatectl/ctl.h"
#include "../../isolatectl/denials.h"
#include "../../session-helper/registry.h"
#include "../../session-helper/seccomp.h"
#include "ctl_capture.h"
#include "skip_because.h"

#define KMSG_NUMA                                                                                  \
        "5,4211,38060075143,-;audit: type=1326 audit(1796587111.578:92): auid=1001 uid=1001 "      \
        "gid=1001 ses=7 subj=unconfined pid=8395 comm=\"migratepages\" "                           \
        "exe=\"/usr/bin/migratepages\" sig=0 arch=c000003e syscall=256 compat=0 "                  \
        "ip=0x7f63fd7c0829 code=0x50000\n SUBSYSTEM=audit\n"

static void test_kmsg_record(void **state)
{
        struct seccomp_record r;
        assert_int_equal(kmsg_record_parse(KMSG_NUMA, strlen(KMSG_NUMA), &r), 0);
        assert_int_equal(r.time_ms, 1796587111578ULL);
        assert_int_equal(r.serial, 92);
        assert_int_equal(r.auid, 1001);
        assert_int_equal(r.uid, 1001);
        assert_int_equal(r.ses, 7);
        assert_int_equal(r.pid, 8395);
        assert_string_equal(r.comm, "migratepages");
        assert_string_equal(r.exe, "/usr/bin/migratepages");
        assert_int_equal(r.arch, 0xc000003e);
        assert_int_equal(r.syscall, 256);
        assert_false(r.compat);
        assert_int_equal(r.code, SECCOMP_RET_ERRNO);
        char name[64];
        seccomp_code_name(r.code, name, sizeof(name));
        assert_string_equal(name, "errno");
        seccomp_code_name(SECCOMP_RET_KILL_PROCESS, name, sizeof(name));
        assert_string_equal(name, "kill-process");
        seccomp_code_name(SECCOMP_RET_LOG, name, sizeof(name));
        assert_string_equal(name, "log (allowed)");
        seccomp_code_name(SECCOMP_RET_ERRNO | 1, name, sizeof(name));
        assert_string_equal(name, "errno EPERM");
}

static void test_auditd_record(void **state)
{
        /* auditd's form, with its enriched part after 0x1d; comm in the kernel's hex form (it
         * has a space) */
        const char *line =
            "type=SECCOMP msg=audit(1796587200.004:1201): auid=1002 uid=0 gid=0 ses=12 "
            "subj=unconfined pid=77 comm=6D7920746F6F6C exe=\"/opt/x\" sig=31 arch=c000003e "
            "syscall=321 compat=0 ip=0x7f code=0x80000000\x1d"
            "AUID=\"w2\" UID=\"root\" ARCH=x86_64 SYSCALL=bpf\n";
        struct seccomp_record r;
        assert_int_equal(seccomp_record_parse(line, &r), 0);
        assert_int_equal(r.time_ms, 1796587200004ULL);
        assert_int_equal(r.ses, 12);
        assert_int_equal(r.uid, 0);
        assert_string_equal(r.comm, "my tool");
        assert_int_equal(r.sig, 31);
        assert_int_equal(r.syscall, 321);
        assert_int_equal(r.code, SECCOMP_RET_KILL_PROCESS);
}

static void test_junk_and_other_types(void **state)
{
        struct seccomp_record r;
        static const char *const not_ours[] = {
            "",
            "garbage",
            ";;;",
            "6,1,2,-;audit: type=1400 audit(1.2:3): apparmor=\"DENIED\" operation=\"open\"",
            "6,1,2,-;audit: type=1300 audit(1.2:3): arch=c000003e syscall=2 success=no",
            "6,1,2,-;eth0: link up",
            /* user space writing to /dev/kmsg (facility 1: user) is never a kernel record */
            "13,5,6,-;audit: type=1326 audit(1.002:3): auid=0 uid=0 gid=0 ses=1 pid=1 comm=\"x\" "
            "exe=\"/x\" sig=0 arch=c000003e syscall=1 compat=0 ip=0x1 code=0x50000",
            "x,5,6,-;audit: type=1326 audit(1.002:3): auid=0",
        };
        for (size_t i = 0; i < sizeof(not_ours) / sizeof(*not_ours); i++)
                assert_int_equal(kmsg_record_parse(not_ours[i], strlen(not_ours[i]), &r), -ENOMSG);
        static const char *const broken[] = {
            /* truncated where kmsg's line limit or a copy cut it */
            "5,1,2,-;audit: type=1326 audit(1796587111.578:92): auid=1001 uid=1001 gid=1001 ses=7 "
            "pid=8395 comm=\"migratepa",
            "5,1,2,-;audit: type=1326 audit(1796587111.578:92",
            "5,1,2,-;audit: type=1326 audit(",
            "5,1,2,-;audit: type=1326 ",
            /* values out of range or not numbers */
            "5,1,2,-;audit: type=1326 audit(1.002:3): auid=0 uid=0 gid=0 ses=1 pid=-1 comm=\"x\" "
            "exe=\"/x\" sig=0 arch=c000003e syscall=1 compat=0 ip=0x1 code=0x50000",
            "5,1,2,-;audit: type=1326 audit(1.002:3): auid=0 uid=0 gid=0 ses=1 pid=1 comm=\"x\" "
            "exe=\"/x\" sig=0 arch=zz syscall=1 compat=0 ip=0x1 code=0x50000",
            "5,1,2,-;audit: type=1326 audit(1.002:3): auid=0 uid=99999999999 gid=0 ses=1 pid=1 "
            "sig=0 arch=c000003e syscall=1 compat=0 ip=0x1 code=0x50000",
        };
        for (size_t i = 0; i < sizeof(broken) / sizeof(*broken); i++)
                assert_int_equal(kmsg_record_parse(broken[i], strlen(broken[i]), &r), -EBADMSG);
        /* a record longer than any buffer is cut, not overrun */
        size_t big = 100000;
        char *huge = malloc(big + 1);
        assert_non_null(huge);
        memset(huge, 'a', big);
        const char *head = "5,1,2,-;audit: type=1326 audit(1.002:3): comm=";
        memcpy(huge, head, strlen(head));
        huge[big] = '\0';
        assert_int_equal(kmsg_record_parse(huge, big, &r), -EBADMSG);
        free(huge);
}

static void test_login_of_record(void **state)
{
        struct login_entry logins[] = {
            {.time = 100, .audit_session = 7, .uid = 1001, .id = "aaaa", .policy = "p1"},
            {.time = 110, .audit_session = 8, .uid = 1002, .id = "bbbb", .policy = "p2"},
            {.time = 120, .audit_session = AUDIT_SESSION_UNSET, .uid = 1003, .id = "cccc"},
            {.time = 130, .audit_session = AUDIT_SESSION_UNSET, .uid = 1003, .id = "dddd"},
        };
        struct seccomp_record r = {.time_ms = 150000, .ses = 8, .uid = 0};
        bool by_session = false;
        const struct login_entry *l = denial_login(&r, logins, 4, &by_session);
        assert_non_null(l);
        assert_string_equal(l->id, "bbbb"); /* by ses, whatever the uid (here: the monitor) */
        assert_true(by_session);
        /* a session not of isolate's (exempt, or never through the helper): nobody's */
        r.ses = 9;
        assert_null(denial_login(&r, logins, 4, &by_session));
        /* ... unless its login uid has a user-scope sandbox: a login that joined it by
         * ticket, after the sandbox's first login */
        logins[0].scope = SCOPE_USER;
        r.auid = 1001;
        l = denial_login(&r, logins, 4, &by_session);
        assert_non_null(l);
        assert_string_equal(l->id, "aaaa");
        assert_false(by_session);
        r.auid = 1002; /* 1002's login is login-scope: nothing joins it */
        assert_null(denial_login(&r, logins, 4, &by_session));
        logins[0].scope = SCOPE_LOGIN;
        /* uid 1001's session, but from before it started: not its */
        r = (struct seccomp_record){.time_ms = 50000, .ses = 7, .uid = 1001};
        assert_null(denial_login(&r, logins, 4, &by_session));
        /* no audit session: the uid's latest login before the record */
        r = (struct seccomp_record){.time_ms = 135000, .ses = AUDIT_SESSION_UNSET, .uid = 1003};
        l = denial_login(&r, logins, 4, &by_session);
        assert_non_null(l);
        assert_string_equal(l->id, "dddd");
        assert_false(by_session);
        r.time_ms = 125000;
        assert_string_equal(denial_login(&r, logins, 4, &by_session)->id, "cccc");
        /* another user's uid never matches a login of 1003 */
        r.uid = 1001;
        assert_null(denial_login(&r, logins, 4, &by_session));
}

static char conf_path[64];

static int conf_setup(void **state)
{
        snprintf(conf_path, sizeof(conf_path), "/tmp/test_why-XXXXXX");
        int fd = mkstemp(conf_path);
        if (fd < 0)
                return -1;
        const char *text = "default_policy = a\n" /* 1 */
                           "policy a {\n"         /* 2 */
                           "  network = host\n"   /* 3 */
                           "}\n"                  /* 4 */
                           "policy numa_off {\n"  /* 5 */
                           "  # syscalls_deny = { nothing }\n"
                           "  syscalls_allow = { @keyring }\n"                 /* 7 */
                           "  syscalls_deny = { ptrace, @numa }   # HPC off\n" /* 8 */
                           "}\n";
        ssize_t n = write(fd, text, strlen(text));
        close(fd);
        return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int conf_teardown(void **state)
{
        unlink(conf_path);
        return 0;
}

static void test_explain_deny_line_and_fix(void **state)
{
        char *deny_v[] = {(char *)"ptrace", (char *)"@numa", NULL};
        char *allow_v[] = {(char *)"@keyring", NULL};
        struct policy p = {.name = (char *)"numa_off",
                           .line = 5,
                           .syscalls_deny = {deny_v, 2},
                           .syscalls_allow = {allow_v, 1}};
        struct seccomp_record r = {.arch = seccomp_arch_native(),
                                   .syscall = seccomp_syscall_resolve_name("migrate_pages"),
                                   .code = SECCOMP_RET_ERRNO};
        struct denial_explanation e;
        denial_explain(&r, &p, conf_path, &e);
        assert_string_equal(e.syscall, "migrate_pages");
        assert_string_equal(e.group, "@numa");
        assert_string_equal(e.errno_name, "EPERM");
        char want[512];
        snprintf(want, sizeof(want),
                 "%s:8: syscalls_deny = { ptrace, @numa } (policy numa_off denies @numa, which "
                 "has migrate_pages)",
                 conf_path);
        assert_string_equal(e.decided_by, want);
        assert_string_equal(e.fix, "syscalls_deny = { ptrace, mbind, move_pages, "
                                   "set_mempolicy_home_node }\n"
                                   "syscalls_allow = { @keyring, migrate_pages }");
        assert_string_equal(e.warning, "");

        /* denied by name, and in the default: the deny line without it is the whole fix */
        r.syscall = seccomp_syscall_resolve_name("ptrace");
        denial_explain(&r, &p, conf_path, &e);
        assert_string_equal(e.group, "@debug");
        assert_string_equal(e.fix, "syscalls_deny = { @numa }");
}

static void test_explain_default_list_and_risk(void **state)
{
        struct policy p = {.name = (char *)"a", .line = 2};
        struct seccomp_record r = {.arch = seccomp_arch_native(),
                                   .syscall = seccomp_syscall_resolve_name("bpf")};
        struct denial_explanation e;
        denial_explain(&r, &p, conf_path, &e);
        assert_string_equal(e.group, "@bpf");
        assert_string_equal(e.decided_by,
                            "the default allowlist does not have bpf (group @bpf, not in the "
                            "default)");
        assert_string_equal(e.fix, "syscalls_allow = { bpf }");
        assert_non_null(strstr(e.warning, "risk: the default denies @bpf on purpose"));

        /* clone3: ENOSYS by design, nothing to fix */
        r.syscall = seccomp_syscall_resolve_name("clone3");
        denial_explain(&r, &p, conf_path, &e);
        assert_true(e.expected);
        assert_string_equal(e.errno_name, "ENOSYS");
        assert_string_equal(e.fix, "");

        /* allowed by name, refused by its argument condition */
        r.syscall = seccomp_syscall_resolve_name("clone");
        denial_explain(&r, &p, conf_path, &e);
        assert_non_null(strstr(e.decided_by, "argument condition"));
        assert_string_equal(e.fix, "syscalls_allow = { @namespaces }");
        assert_non_null(strstr(e.warning, "risk:"));

        /* allowed by the config as it is now: a record from before a change */
        r.syscall = seccomp_syscall_resolve_name("read");
        denial_explain(&r, &p, conf_path, &e);
        assert_non_null(strstr(e.decided_by, "not the config as it is now: policy a allows read"));
        assert_string_equal(e.fix, "");

        /* a number libseccomp does not know, and a foreign ABI: no config change helps */
        r.syscall = 1000;
        denial_explain(&r, &p, conf_path, &e);
        assert_string_equal(e.syscall, "#1000");
        assert_string_equal(e.fix, "");
        r.arch = SCMP_ARCH_X86;
        r.syscall = 11;
        denial_explain(&r, &p, conf_path, &e);
        assert_non_null(strstr(e.decided_by, "non-native ABI"));
        assert_string_equal(e.fix, "");
}

static void test_login_entries(void **state)
{
        char dir[] = "/tmp/test_why-run-XXXXXX";
        assert_non_null(mkdtemp(dir));
        struct login_entry e = {.time = 1796587111,
                                .audit_session = 7,
                                .uid = 1001,
                                .id = "0123456789abcdef",
                                .policy = "numa_off",
                                .user = "w 1"};
        struct isolate_error err = {0};
        assert_int_equal(registry_login_append(dir, &e, &err), 0);
        struct login_entry back;
        assert_int_equal(registry_login_parse("time=1796587111 ses=7 uid=1001 "
                                              "id=0123456789abcdef policy=numa_off user=w 1\n",
                                              &back),
                         0);
        assert_int_equal(back.scope, SCOPE_LOGIN);
        assert_int_equal(registry_login_parse("time=1 ses=7 uid=1 id=ab policy=p scope=user "
                                              "user=u\n",
                                              &back),
                         0);
        assert_int_equal(back.scope, SCOPE_USER);
        assert_string_equal(back.user, "u");
        assert_int_equal(registry_login_parse("time=1796587111 ses=7 uid=1001 "
                                              "id=0123456789abcdef policy=numa_off user=w 1\n",
                                              &back),
                         0);
        assert_int_equal(back.time, e.time);
        assert_int_equal(back.audit_session, 7);
        assert_int_equal(back.uid, 1001);
        assert_string_equal(back.id, e.id);
        assert_string_equal(back.policy, "numa_off");
        assert_string_equal(back.user, "w 1");
        /* and what the helper wrote reads back the same */
        char path0[128], line[512];
        snprintf(path0, sizeof(path0), "%s/logins", dir);
        FILE *f = fopen(path0, "re");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof(line), f));
        fclose(f);
        assert_string_equal(line, "time=1796587111 ses=7 uid=1001 id=0123456789abcdef "
                                  "policy=numa_off scope=login user=w 1\n");
        /* a bad id or a line break is never written */
        struct login_entry bad = e;
        snprintf(bad.id, sizeof(bad.id), "../x");
        assert_true(registry_login_append(dir, &bad, &err) < 0);
        bad = e;
        snprintf(bad.user, sizeof(bad.user), "a\nb");
        assert_true(registry_login_append(dir, &bad, &err) < 0);
        static const char *const junk[] = {"",
                                           "time=1",
                                           "time=x ses=7 uid=1 id=ab policy=p user=u",
                                           "time=1 ses=99999999999 uid=1 id=ab policy=p user=u",
                                           "time=1 ses=7 uid=1 id=../ab policy=p user=u",
                                           "time=1 ses=7 uid=1 id=ab policy=p user=",
                                           "time=1 ses=7 uid=1 id=ab policy=p"};
        for (size_t i = 0; i < sizeof(junk) / sizeof(*junk); i++)
                assert_int_equal(registry_login_parse(junk[i], &back), -EBADMSG);
        char path[128];
        snprintf(path, sizeof(path), "%s/logins", dir);
        unlink(path);
        rmdir(dir);
}

/* The registry keeps the caller's audit session; a record written before it has none. */
static void test_registry_audit_session(void **state)
{
        char rt[] = "/tmp/test_why-rt-XXXXXX";
        assert_non_null(mkdtemp(rt));
        struct isolate_error err = {0};
        assert_int_equal(registry_prepare(rt, &err), 0);
        struct session_record *rec = calloc(1, sizeof(*rec));
        struct session_record *back = calloc(1, sizeof(*back));
        assert_non_null(rec);
        assert_non_null(back);
        snprintf(rec->id, sizeof(rec->id), "0123456789abcdef");
        snprintf(rec->user, sizeof(rec->user), "w1");
        snprintf(rec->policy, sizeof(rec->policy), "numa_off");
        rec->caller_pid = rec->init_pid = getpid();
        rec->cgroup.backend = CGROUP_BACKEND_V2;
        rec->caps.scalars = CAP_SCALARS_UNSET;
        rec->audit_session = 315;
        assert_int_equal(registry_write(rt, rec, &err), 0);
        assert_int_equal(registry_read(rt, rec->id, back), 0);
        assert_int_equal(back->audit_session, 315);
        /* the same file without the line, as an older helper wrote it */
        char path[PATH_MAX], cmd[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/sessions/%s", rt, rec->id);
        snprintf(cmd, sizeof(cmd), "sed -i '/^audit_session=/d' '%s'", path);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(registry_read(rt, rec->id, back), 0);
        assert_int_equal(back->audit_session, AUDIT_SESSION_UNSET);
        /* this process's own, as the helper reads its caller's */
        uint32_t ses = registry_audit_session_of(getpid());
        FILE *f = fopen("/proc/self/sessionid", "re");
        unsigned long long want = AUDIT_SESSION_UNSET;
        if (f) {
                assert_int_equal(fscanf(f, "%llu", &want), 1);
                fclose(f);
        }
        assert_int_equal(ses, want);
        assert_int_equal(registry_audit_session_of(0), AUDIT_SESSION_UNSET);
        free(rec);
        free(back);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rt);
        assert_int_equal(system(cmd), 0);
}

static void test_errno_log_sets_the_log_flag(void **state)
{
        char dir[] = "/tmp/test_why-cache-XXXXXX";
        assert_non_null(mkdtemp(dir));
        struct config c = {.runtime_dir = dir};
        struct policy p = {.name = (char *)"x", .seccomp_action = SECCOMP_ACTION_ERRNO_LOG};
        struct sock_filter *prog = NULL;
        uint32_t len = 0, flags = 0;
        struct isolate_error err = {0};
        assert_int_equal(seccomp_program_get(&c, &p, &prog, &len, &flags, &err), 0);
        assert_int_equal(flags, SECCOMP_FILTER_FLAG_LOG);
        free(prog);
        p.seccomp_action = SECCOMP_ACTION_ERRNO;
        assert_int_equal(seccomp_program_get(&c, &p, &prog, &len, &flags, &err), 0);
        assert_int_equal(flags, 0);
        free(prog);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static int count_marked(const struct seccomp_record *r, void *data)
{
        if (STREQ(r->comm, "test-why-marker"))
                (*(int *)data)++;
        return 0;
}

/* denials_read: a record that reaches it twice (kmsg and the journal's copy, or a log read
 * twice) is given once; a source that is missing is named with its reason. */
static void test_sources_and_duplicates(void **state)
{
        char path[] = "/tmp/test_why-audit-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        const char *rec =
            "type=SECCOMP msg=audit(1000000000.578:4242424242): auid=1 uid=1 gid=1 ses=7 "
            "pid=5 comm=\"test-why-marker\" exe=\"/x\" sig=0 arch=c000003e "
            "syscall=256 compat=0 ip=0x1 code=0x50000\n";
        const char *other =
            "type=SECCOMP msg=audit(1000000000.579:4242424243): auid=1 uid=1 gid=1 ses=7 "
            "pid=5 comm=\"test-why-marker\" exe=\"/x\" sig=0 arch=c000003e "
            "syscall=256 compat=0 ip=0x1 code=0x50000\n";
        const char *junk = "type=SECCOMP msg=audit(1796587111.580:94): auid=1 uid=1 gid=1\n"
                           "\x01\x02 not a record\n";
        assert_true(write(fd, rec, strlen(rec)) > 0);
        assert_true(write(fd, junk, strlen(junk)) > 0);
        assert_true(write(fd, rec, strlen(rec)) > 0);
        assert_true(write(fd, other, strlen(other)) > 0);
        close(fd);
        char sources[512], missing[512];
        int n = 0;
        assert_true(denials_read(path, count_marked, &n, sources, sizeof(sources), missing,
                                 sizeof(missing)) >= 0);
        assert_int_equal(n, 2);
        assert_non_null(strstr(sources, path));
        unlink(path);
        n = 0;
        assert_true(denials_read(path, count_marked, &n, sources, sizeof(sources), missing,
                                 sizeof(missing)) >= 0);
        assert_int_equal(n, 0);
        char want[128];
        snprintf(want, sizeof(want), "%s: No such file or directory", path);
        assert_non_null(strstr(missing, want));
}

/* Records as this host's 6.18 kernel printed them for a refused creat() under Landlock with
 * audit enabled: the access record, the domain's first-log record, the event's syscall record
 * (one serial for the three). */
#define KMSG_LL_ACCESS                                                                             \
        "5,9001,42144800837,-;audit: type=1423 audit(1796591196.306:537051): domain=17fef1a4b "    \
        "blockers=fs.make_reg path=\"/tmp/why2\" dev=\"vda\" ino=10955887\n"
#define KMSG_LL_DOMAIN                                                                             \
        "5,9002,42144800843,-;audit: type=1424 audit(1796591196.306:537051): domain=17fef1a4b "    \
        "status=allocated mode=enforcing pid=17285 uid=0 exe=\"/tmp/why2/ll\" comm=\"ll\"\n"
#define KMSG_LL_SYSCALL                                                                            \
        "5,9003,42144800845,-;audit: type=1300 audit(1796591196.306:537051): arch=c000003e "       \
        "syscall=257 success=no exit=-13 a0=ffffff9c a1=55dce474c019 a2=41 a3=180 items=0 "        \
        "ppid=17284 pid=17285 auid=1001 uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 "         \
        "egid=1001 sgid=1001 fsgid=1001 tty=(none) ses=458 comm=\"sh\" exe=\"/usr/bin/dash\" "     \
        "key=(null)\n"
/* AppArmor as Debian 12's kernel prints a file refusal (kmsg) and auditd writes a capability
 * one (type=AVC) */
#define KMSG_AA_FILE                                                                               \
        "5,77,1234,-;audit: type=1400 audit(1796591300.120:88): apparmor=\"DENIED\" "              \
        "operation=\"open\" class=\"file\" profile=\"isolate-test\" name=\"/etc/shadow\" "         \
        "pid=2345 comm=\"cat\" requested_mask=\"r\" denied_mask=\"r\" fsuid=1001 ouid=0\n"
#define AUDITD_AA_CAP                                                                              \
        "type=AVC msg=audit(1796591301.004:90): apparmor=\"DENIED\" operation=\"capable\" "        \
        "class=\"cap\" profile=\"isolate-test\" pid=2346 comm=\"ping\" capability=13  "            \
        "capname=\"net_raw\"\n"

static void test_lsm_records(void **state)
{
        struct seccomp_record r;
        assert_int_equal(kmsg_audit_parse(KMSG_LL_ACCESS, strlen(KMSG_LL_ACCESS), &r), 0);
        assert_int_equal(r.kind, AUDIT_KIND_LANDLOCK_ACCESS);
        assert_int_equal(r.time_ms, 1796591196306ULL);
        assert_int_equal(r.serial, 537051);
        assert_int_equal(r.domain, 0x17fef1a4bULL);
        assert_string_equal(r.denied, "fs.make_reg");
        assert_string_equal(r.object, "/tmp/why2");
        assert_int_equal(r.ses, AUDIT_SESSION_UNSET); /* only the syscall record has it */
        assert_int_equal(r.uid, AUDIT_SESSION_UNSET);

        assert_int_equal(kmsg_audit_parse(KMSG_LL_DOMAIN, strlen(KMSG_LL_DOMAIN), &r), 0);
        assert_int_equal(r.kind, AUDIT_KIND_LANDLOCK_DOMAIN);
        assert_int_equal(r.domain, 0x17fef1a4bULL);
        assert_int_equal(r.pid, 17285);
        assert_int_equal(r.uid, 0);
        assert_string_equal(r.exe, "/tmp/why2/ll");

        assert_int_equal(kmsg_audit_parse(KMSG_LL_SYSCALL, strlen(KMSG_LL_SYSCALL), &r), 0);
        assert_int_equal(r.kind, AUDIT_KIND_SYSCALL);
        assert_int_equal(r.serial, 537051);
        assert_int_equal(r.ses, 458);
        assert_int_equal(r.auid, 1001);
        assert_int_equal(r.uid, 1001);
        assert_int_equal(r.pid, 17285);
        assert_string_equal(r.comm, "sh");
        assert_string_equal(r.exe, "/usr/bin/dash");

        assert_int_equal(kmsg_audit_parse(KMSG_AA_FILE, strlen(KMSG_AA_FILE), &r), 0);
        assert_int_equal(r.kind, AUDIT_KIND_APPARMOR);
        assert_false(r.allowed);
        assert_string_equal(r.denied, "open");
        assert_string_equal(r.profile, "isolate-test");
        assert_string_equal(r.object, "/etc/shadow");
        assert_string_equal(r.mask, "r");
        assert_string_equal(r.aa_class, "file");
        assert_string_equal(r.comm, "cat");
        assert_int_equal(r.pid, 2345);
        assert_int_equal(r.uid, 1001); /* fsuid */
        assert_int_equal(r.ses, AUDIT_SESSION_UNSET);

        assert_int_equal(audit_record_parse(AUDITD_AA_CAP, &r), 0);
        assert_int_equal(r.kind, AUDIT_KIND_APPARMOR);
        assert_string_equal(r.denied, "capable");
        assert_string_equal(r.object, "net_raw");
        assert_int_equal(r.uid, AUDIT_SESSION_UNSET); /* no fsuid: tied by nothing alone */

        /* an AppArmor record without its syscall record (audit off) is tied by fsuid and
         * time to the user's latest login, which had an audit session */
        struct login_entry logins[2] = {
            {.time = 1796591000, .audit_session = 40, .uid = 1001, .id = "aaaaaaaaaaaaaaaa"},
            {.time = 1796591200, .audit_session = 41, .uid = 1002, .id = "bbbbbbbbbbbbbbbb"},
        };
        assert_int_equal(kmsg_audit_parse(KMSG_AA_FILE, strlen(KMSG_AA_FILE), &r), 0);
        bool by_session = true;
        assert_ptr_equal(denial_login(&r, logins, 2, &by_session), &logins[0]);
        assert_false(by_session);
        r.uid = 1003;
        assert_null(denial_login(&r, logins, 2, &by_session));
        /* a seccomp record without ses= is not tied to a login that had one */
        assert_int_equal(kmsg_record_parse(KMSG_NUMA, strlen(KMSG_NUMA), &r), 0);
        r.ses = AUDIT_SESSION_UNSET;
        assert_null(denial_login(&r, logins, 2, &by_session));

        /* seccomp's parsers still take seccomp records alone */
        assert_int_equal(kmsg_record_parse(KMSG_LL_ACCESS, strlen(KMSG_LL_ACCESS), &r), -ENOMSG);
        assert_int_equal(seccomp_record_parse(AUDITD_AA_CAP, &r), -ENOMSG);
        assert_int_equal(kmsg_audit_parse(KMSG_NUMA, strlen(KMSG_NUMA), &r), 0);
        assert_int_equal(r.kind, AUDIT_KIND_SECCOMP);
        assert_int_equal(r.syscall, 256);

        /* complain mode is a record too; a profile load is not a refusal */
        assert_int_equal(audit_record_parse("audit: type=1400 audit(1.2:3): apparmor=\"ALLOWED\" "
                                            "operation=\"open\" profile=\"p\" name=\"/x\" pid=4 "
                                            "comm=\"c\" denied_mask=\"w\" fsuid=5",
                                            &r),
                         0);
        assert_true(r.allowed);
        assert_int_equal(audit_record_parse("audit: type=1400 audit(1.2:3): apparmor=\"STATUS\" "
                                            "operation=\"profile_load\" profile=\"unconfined\" "
                                            "name=\"isolate-test\" pid=1 comm=\"apparmor_parser\"",
                                            &r),
                         -ENOMSG);
        /* another LSM's 1400 (SELinux avc:) is SELinux's, here cut before its contexts */
        assert_int_equal(audit_record_parse("audit: type=1400 audit(1.2:3): avc:  denied  { read }"
                                            " for  pid=1 comm=\"x\"",
                                            &r),
                         -EBADMSG);
        assert_int_equal(r.kind, AUDIT_KIND_SELINUX);

        /* truncated or malformed: -EBADMSG, never a crash */
        static const char *const bad[] = {
            "5,1,2,-;audit: type=1423 audit(1796591196.306:537051): domain=17fef1a4b",
            "5,1,2,-;audit: type=1423 audit(1796591196.306:537051): blockers=fs.read_file",
            "5,1,2,-;audit: type=1423 audit(1796591196.306:537051): domain=zz blockers=fs.x",
            "5,1,2,-;audit: type=1423 audit(1796591196.306:537051): domain=0 blockers=fs.x",
            "5,1,2,-;audit: type=1423 audit(1796591196.306:5370",
            "5,1,2,-;audit: type=1424 audit(1.2:3): domain=1 status=allocated mode=enforcing",
            "5,1,2,-;audit: type=1424 audit(1.2:3): domain=1",
            "5,1,2,-;audit: type=1400 audit(1.2:3): apparmor=\"DENIED\" operation=\"open\"",
            "5,1,2,-;audit: type=1400 audit(1.2:3): apparmor=\"DENIED\" profile=\"p\" pid=1",
            "5,1,2,-;audit: type=1400 audit(1.2:3): apparmor=\"DENIED\" operation=\"o\" "
            "profile=\"p\" pid=-1",
            "5,1,2,-;audit: type=1300 audit(1.2:3): arch=c000003e syscall=2 auid=1 uid=1 pid=1",
            "5,1,2,-;audit: type=1300 audit(1.2:3): auid=1 uid=1 ses=99999999999 pid=1",
            "5,1,2,-;audit: type=1300 audit(",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&r, 0x5a, sizeof(r));
                assert_int_equal(kmsg_audit_parse(bad[i], strlen(bad[i]), &r), -EBADMSG);
                assert_int_equal(r.ses, 0);
        }
        /* user space writing a look-alike into kmsg: not the kernel's */
        const char *forged = "13,1,2,-;audit: type=1423 audit(1.2:3): domain=1 blockers=fs.x";
        assert_int_equal(kmsg_audit_parse(forged, strlen(forged), &r), -ENOMSG);
        /* a record longer than any buffer: cut, not overrun */
        size_t big = 20000;
        char *huge = malloc(big + 1);
        assert_non_null(huge);
        int used = snprintf(huge, big,
                            "5,1,2,-;audit: type=1423 audit(1.2:3): domain=1 "
                            "blockers=fs.write_file path=\"");
        memset(huge + used, 'a', big - (size_t)used);
        huge[big] = '\0';
        assert_int_equal(kmsg_audit_parse(huge, big, &r), 0);
        assert_string_equal(r.object, ""); /* a value too long for the buffer is left out */
        free(huge);
}

static char lsm_conf_path[64];

static int lsm_conf_setup(void **state)
{
        snprintf(lsm_conf_path, sizeof(lsm_conf_path), "/tmp/test_why-lsm-XXXXXX");
        int fd = mkstemp(lsm_conf_path);
        if (fd < 0)
                return -1;
        const char *text = "policy boxed {\n"                                 /* 1 */
                           "  landlock_read_only = { /usr, /etc }\n"          /* 2 */
                           "  landlock_read_write = { /tmp/ok, /dev/null }\n" /* 3 */
                           "  apparmor_profile = isolate-test\n"              /* 4 */
                           "  selinux_context = user_u:user_r:user_t:s0\n"    /* 5 */
                           "}\n";
        ssize_t n = write(fd, text, strlen(text));
        close(fd);
        return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int lsm_conf_teardown(void **state)
{
        unlink(lsm_conf_path);
        return 0;
}

static void test_explain_x32(void **state)
{
        if (seccomp_arch_native() != SCMP_ARCH_X86_64)
                skip();
        struct policy p = {.name = (char *)"a"};
        struct seccomp_record r = {
            .arch = SCMP_ARCH_X86_64, .syscall = 0x40000027, .code = SECCOMP_RET_KILL_PROCESS};
        struct denial_explanation e;
        denial_explain(&r, &p, NULL, &e);
        assert_non_null(strstr(e.decided_by, "architecture check"));
        assert_non_null(strstr(e.decided_by, ", x32)"));
        assert_string_equal(e.fix, "");
}

static void test_explain_landlock(void **state)
{
        char *ro_v[] = {(char *)"/usr", (char *)"/etc", NULL};
        char *rw_v[] = {(char *)"/tmp/ok", (char *)"/dev/null", NULL};
        struct policy p = {.name = (char *)"boxed",
                           .line = 1,
                           .landlock_read_only = {ro_v, 2},
                           .landlock_read_write = {rw_v, 2},
                           .apparmor_profile = (char *)"isolate-test"};
        struct seccomp_record r = {.kind = AUDIT_KIND_LANDLOCK_ACCESS, .domain = 0x17fef1a4b};
        snprintf(r.denied, sizeof(r.denied), "fs.write_file");
        snprintf(r.object, sizeof(r.object), "/srv/data/out");
        struct denial_explanation e;
        lsm_denial_explain(&r, &p, lsm_conf_path, &e);
        assert_string_equal(e.group, "landlock");
        assert_string_equal(e.syscall, "fs.write_file");
        char want[1024];
        snprintf(want, sizeof(want),
                 "policy boxed's Landlock ruleset (domain 17fef1a4b) has no rule granting "
                 "fs.write_file on /srv/data/out: %s:3: landlock_read_write = { /tmp/ok, "
                 "/dev/null }; %s:2: landlock_read_only = { /usr, /etc }",
                 lsm_conf_path, lsm_conf_path);
        assert_string_equal(e.decided_by, want);
        assert_string_equal(e.fix, "landlock_read_write = { \"/tmp/ok\", \"/dev/null\", "
                                   "\"/srv/data/out\" }");
        assert_string_equal(e.fix_where, "");

        /* reading alone: the read-only list is the one to extend */
        snprintf(r.denied, sizeof(r.denied), "fs.read_file,fs.execute");
        snprintf(r.object, sizeof(r.object), "/opt/tool");
        lsm_denial_explain(&r, &p, lsm_conf_path, &e);
        assert_string_equal(e.fix, "landlock_read_only = { \"/usr\", \"/etc\", \"/opt/tool\" }");

        /* a path the config covers now: the record predates the change */
        snprintf(r.denied, sizeof(r.denied), "fs.make_reg");
        snprintf(r.object, sizeof(r.object), "/tmp/ok/sub");
        lsm_denial_explain(&r, &p, lsm_conf_path, &e);
        assert_non_null(strstr(e.decided_by, "not the config as it is now"));
        assert_string_equal(e.fix, "");
        /* /tmp/okay is not under /tmp/ok */
        snprintf(r.object, sizeof(r.object), "/tmp/okay");
        lsm_denial_explain(&r, &p, lsm_conf_path, &e);
        assert_string_equal(e.fix, "landlock_read_write = { \"/tmp/ok\", \"/dev/null\", "
                                   "\"/tmp/okay\" }");

        /* scopes: no path fixes them */
        snprintf(r.denied, sizeof(r.denied), "scope.signal");
        snprintf(r.object, sizeof(r.object), "pid 1");
        lsm_denial_explain(&r, &p, lsm_conf_path, &e);
        assert_non_null(strstr(e.decided_by, "scope.signal is refused to every login"));
        assert_string_equal(e.fix, "");
}

static void test_explain_apparmor(void **state)
{
        struct policy p = {
            .name = (char *)"boxed", .line = 1, .apparmor_profile = (char *)"isolate-test"};
        struct seccomp_record r;
        assert_int_equal(kmsg_audit_parse(KMSG_AA_FILE, strlen(KMSG_AA_FILE), &r), 0);
        struct denial_explanation e;
        lsm_denial_explain(&r, &p, lsm_conf_path, &e);
        assert_string_equal(e.group, "apparmor");
        assert_string_equal(e.syscall, "open r");
        char want[1024];
        snprintf(want, sizeof(want),
                 "AppArmor profile isolate-test (%s:4: apparmor_profile = isolate-test), which "
                 "has no rule for open of /etc/shadow",
                 lsm_conf_path);
        assert_string_equal(e.decided_by, want);
        assert_string_equal(e.fix, "/etc/shadow r,");
        assert_string_equal(e.fix_where, "in AppArmor profile isolate-test (/etc/apparmor.d/), "
                                         "then apparmor_parser -r");

        assert_int_equal(audit_record_parse(AUDITD_AA_CAP, &r), 0);
        lsm_denial_explain(&r, &p, lsm_conf_path, &e);
        assert_string_equal(e.fix, "capability net_raw,");

        /* a profile the policy does not name (a child profile, or one set outside isolate) */
        snprintf(r.profile, sizeof(r.profile), "other");
        lsm_denial_explain(&r, &p, lsm_conf_path, &e);
        assert_non_null(strstr(e.decided_by, "AppArmor profile other (not the policy's own"));
}

/* SELinux (refpolicy) as auditd writes a refused open: the AVC record and the event's syscall
 * record, one serial; the session is one no host has (4000000007) */
#define AUDITD_SE_AVC                                                                              \
        "type=AVC msg=audit(4000000100.123:456): avc:  denied  { read } for  pid=1234 "            \
        "comm=\"cat\" name=\"dpkg.log\" dev=\"vda\" ino=123 scontext=user_u:user_r:user_t:s0 "     \
        "tcontext=system_u:object_r:var_log_t:s0 tclass=file permissive=0\n"
#define AUDITD_SE_SYSCALL                                                                          \
        "type=SYSCALL msg=audit(4000000100.123:456): arch=c000003e syscall=257 success=no "        \
        "exit=-13 a0=ffffff9c a1=7ffd1c2e a2=0 a3=0 items=1 ppid=1200 pid=1234 auid=1001 "         \
        "uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 "         \
        "tty=pts0 ses=4000000007 comm=\"cat\" exe=\"/usr/bin/cat\" subj=user_u:user_r:user_t:s0 "  \
        "key=(null)\x1d"                                                                           \
        "ARCH=x86_64 SYSCALL=openat AUID=\"alice\" UID=\"alice\"\n"
/* the same refusal as the kernel prints it to kmsg (audit off: no syscall record) */
#define KMSG_SE_AVC                                                                                \
        "5,901,4000000,-;audit: type=1400 audit(4000000100.123:456): avc:  denied  { read } for  " \
        "pid=1234 comm=\"cat\" name=\"dpkg.log\" dev=\"vda\" ino=123 "                             \
        "scontext=user_u:user_r:user_t:s0 tcontext=system_u:object_r:var_log_t:s0 tclass=file "    \
        "permissive=0\n SUBSYSTEM=audit\n"

static void test_selinux_records(void **state)
{
        struct seccomp_record r;
        assert_int_equal(audit_record_parse(AUDITD_SE_AVC, &r), 0);
        assert_int_equal(r.kind, AUDIT_KIND_SELINUX);
        assert_int_equal(r.time_ms, 4000000100123ULL);
        assert_int_equal(r.serial, 456);
        assert_string_equal(r.denied, "read");
        assert_string_equal(r.object, "dpkg.log");
        assert_string_equal(r.dev, "vda");
        assert_int_equal(r.ino, 123);
        assert_string_equal(r.scontext, "user_u:user_r:user_t:s0");
        assert_string_equal(r.tcontext, "system_u:object_r:var_log_t:s0");
        assert_string_equal(r.tclass, "file");
        assert_false(r.allowed);
        assert_true(r.auditd_form);
        assert_string_equal(r.comm, "cat");
        assert_int_equal(r.pid, 1234);
        /* the record names no user: the syscall record does */
        assert_int_equal(r.ses, AUDIT_SESSION_UNSET);
        assert_int_equal(r.uid, AUDIT_SESSION_UNSET);
        assert_int_equal(audit_record_parse(AUDITD_SE_SYSCALL, &r), 0);
        assert_int_equal(r.kind, AUDIT_KIND_SYSCALL);
        assert_int_equal(r.serial, 456);
        assert_int_equal(r.ses, 4000000007U);
        assert_int_equal(r.uid, 1001);
        assert_int_equal(r.exit_errno, EACCES);
        assert_string_equal(r.exe, "/usr/bin/cat");

        /* kmsg's form of the same */
        assert_int_equal(kmsg_audit_parse(KMSG_SE_AVC, strlen(KMSG_SE_AVC), &r), 0);
        assert_int_equal(r.kind, AUDIT_KIND_SELINUX);
        assert_false(r.auditd_form);
        assert_int_equal(r.serial, 456);
        assert_string_equal(r.denied, "read");
        assert_string_equal(r.tclass, "file");
        assert_string_equal(r.object, "dpkg.log");
        /* seccomp's parser does not take it */
        assert_int_equal(kmsg_record_parse(KMSG_SE_AVC, strlen(KMSG_SE_AVC), &r), -ENOMSG);

        /* permissive: logged, not enforced; several permissions; a path; a capability */
        assert_int_equal(
            audit_record_parse("type=AVC msg=audit(4000000101.5:457): avc:  denied  "
                               "{ write open } for  pid=9 comm=\"sh\" "
                               "path=\"/var/log/x\" dev=\"vda\" ino=7 "
                               "scontext=u:r:t:s0 tcontext=u:object_r:o:s0-s0:c0.c1023 "
                               "tclass=file permissive=1",
                               &r),
            0);
        assert_true(r.allowed);
        assert_string_equal(r.denied, "write open");
        assert_string_equal(r.object, "/var/log/x");
        assert_string_equal(r.tcontext, "u:object_r:o:s0-s0:c0.c1023");
        assert_int_equal(audit_record_parse("audit: type=1400 audit(4000000102.000:458): avc:  "
                                            "denied  { net_raw } for  pid=9 comm=\"ping\" "
                                            "capability=13  scontext=u:r:t:s0 "
                                            "tcontext=u:r:t:s0 tclass=capability permissive=0",
                                            &r),
                         0);
        assert_string_equal(r.object, "capability 13");
        assert_string_equal(r.tclass, "capability");

        /* auditallow's "granted" is no refusal */
        assert_int_equal(audit_record_parse("type=AVC msg=audit(4000000103.0:459): avc:  granted  "
                                            "{ setenforce } for  pid=1 comm=\"setenforce\" "
                                            "scontext=u:r:t:s0 tcontext=u:r:t:s0 "
                                            "tclass=security",
                                            &r),
                         -ENOMSG);
        assert_int_equal(r.kind, AUDIT_KIND_SELINUX);

        /* AppArmor's 1400 stays AppArmor's, in both forms */
        assert_int_equal(kmsg_audit_parse(KMSG_AA_FILE, strlen(KMSG_AA_FILE), &r), 0);
        assert_int_equal(r.kind, AUDIT_KIND_APPARMOR);
        assert_string_equal(r.profile, "isolate-test");
        assert_int_equal(audit_record_parse(AUDITD_AA_CAP, &r), 0);
        assert_int_equal(r.kind, AUDIT_KIND_APPARMOR);
        assert_string_equal(r.scontext, "");

        /* malformed or cut: -EBADMSG, nothing kept, never a crash */
        static const char *const bad[] = {
            "type=AVC msg=audit(1.2:3): avc:",
            "type=AVC msg=audit(1.2:3): avc:  denied",
            "type=AVC msg=audit(1.2:3): avc:  denied  { read",
            "type=AVC msg=audit(1.2:3): avc:  denied  {",
            "type=AVC msg=audit(1.2:3): avc:  denied  { } for  pid=1 scontext=a:b:c tcontext=a:b:c "
            "tclass=file",
            "type=AVC msg=audit(1.2:3): avc:  denied  read for  pid=1 scontext=a:b:c "
            "tcontext=a:b:c tclass=file",
            "type=AVC msg=audit(1.2:3): avc:  refused  { read } for  scontext=a:b:c "
            "tcontext=a:b:c tclass=file",
            "type=AVC msg=audit(1.2:3): avc:  denied  { read } for  pid=1 tcontext=a:b:c "
            "tclass=file",
            "type=AVC msg=audit(1.2:3): avc:  denied  { read } for  pid=1 scontext=a:b:c "
            "tcontext=a:b:c",
            "type=AVC msg=audit(1.2:3): avc:  denied  { read } for  pid=-4 scontext=a:b:c "
            "tcontext=a:b:c tclass=file",
            "type=AVC msg=audit(1.2:3): avc:  denied  { read } for  pid=1 scontext= "
            "tcontext=a:b:c tclass=file",
            /* the brace only in auditd's enriched part */
            "type=AVC msg=audit(1.2:3): avc:  denied  { read\x1d } scontext=a:b:c tcontext=a:b:c "
            "tclass=file",
            "5,1,2,-;audit: type=1400 audit(1.2:3): avc:  denied  { read } for  pid=1 "
            "comm=\"cat",
            "5,1,2,-;audit: type=1400 audit(1.2:3",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&r, 0x5a, sizeof(r));
                int q = bad[i][0] == '5' ? kmsg_audit_parse(bad[i], strlen(bad[i]), &r)
                                         : audit_record_parse(bad[i], &r);
                if (q != -EBADMSG)
                        fail_msg("%s: %d", bad[i], q);
                assert_string_equal(r.denied, "");
                assert_string_equal(r.scontext, "");
        }
        /* a permission list longer than any buffer: cut, not overrun */
        size_t big = 6000;
        char *huge = malloc(big + 1);
        assert_non_null(huge);
        int used = snprintf(huge, big, "type=AVC msg=audit(1.2:3): avc:  denied  { ");
        for (size_t i = (size_t)used; i < big; i++)
                huge[i] = i % 5 == 4 ? ' ' : 'p';
        huge[big - 1] = '}';
        huge[big] = '\0';
        assert_int_equal(audit_record_parse(huge, &r), -EBADMSG);
        free(huge);
}

static void test_explain_selinux(void **state)
{
        struct policy p = {.name = (char *)"boxed",
                           .line = 1,
                           .selinux_context = (char *)"user_u:user_r:user_t:s0"};
        struct seccomp_record r;
        assert_int_equal(audit_record_parse(AUDITD_SE_AVC, &r), 0);
        struct denial_explanation e;
        lsm_denial_explain(&r, &p, lsm_conf_path, &e);
        assert_string_equal(e.group, "selinux");
        assert_string_equal(e.syscall, "file { read }");
        char want[1024];
        snprintf(want, sizeof(want),
                 "the loaded SELinux policy, not isolate's config: no rule allows user_t file "
                 "{ read } on var_log_t; the session's context is policy boxed's %s:5: "
                 "selinux_context = user_u:user_r:user_t:s0",
                 lsm_conf_path);
        assert_string_equal(e.decided_by, want);
        /* the SELinux tools, not a config line */
        assert_string_equal(e.fix, "ausearch -m AVC -a 456 | audit2why\n"
                                   "ausearch -m AVC -a 456 | audit2allow -M local && semodule -i "
                                   "local.pp");
        assert_non_null(strstr(e.fix_where, "not in isolate.conf"));
        assert_non_null(strstr(e.fix_where, "policycoreutils-python-utils"));
        assert_false(e.expected);

        /* from the kernel's log: found there by its event id */
        assert_int_equal(kmsg_audit_parse(KMSG_SE_AVC, strlen(KMSG_SE_AVC), &r), 0);
        lsm_denial_explain(&r, &p, lsm_conf_path, &e);
        assert_string_equal(e.fix, "dmesg | grep -F 'audit(4000000100.123:456)' | audit2why\n"
                                   "dmesg | grep -F 'audit(4000000100.123:456)' | audit2allow -M "
                                   "local && semodule -i local.pp");

        /* permissive; a process in another context than the policy's */
        r.allowed = true;
        snprintf(r.scontext, sizeof(r.scontext), "user_u:user_r:other_t:s0");
        lsm_denial_explain(&r, &p, lsm_conf_path, &e);
        assert_non_null(strstr(e.decided_by, "no rule allows other_t file { read } on var_log_t "
                                             "(permissive: logged, not enforced"));
        assert_non_null(strstr(e.decided_by, "; the process had user_u:user_r:other_t:s0"));

        /* a policy without selinux_context */
        p.selinux_context = NULL;
        lsm_denial_explain(&r, &p, lsm_conf_path, &e);
        assert_non_null(strstr(e.decided_by, "policy boxed sets no selinux_context"));
}

/* isolatectl why on an audit log: the AVC tied to its session by its syscall record, a
 * permissive one marked, auditallow's and an AVC without a syscall record left out, AppArmor's
 * next to it still AppArmor's. */
static void test_why_selinux_audit_log(void **state)
{
        if (geteuid() != 0)
                skip_because("isolatectl reads a config only when root owns it");
        char rt[] = "/tmp/test_why-se-rt-XXXXXX";
        assert_non_null(mkdtemp(rt));
        struct login_entry login = {.time = 4000000000,
                                    .audit_session = 4000000007U,
                                    .uid = 1001,
                                    .id = "0123456789abcdef",
                                    .policy = "seboxed",
                                    .user = "alice"};
        struct isolate_error err = {0};
        assert_int_equal(registry_login_append(rt, &login, &err), 0);

        char conf[] = "/tmp/test_why-se-conf-XXXXXX";
        int fd = mkstemp(conf);
        assert_true(fd >= 0);
        char text[512];
        snprintf(text, sizeof(text),
                 "runtime_dir = \"%s\"\n"
                 "policy seboxed {\n"
                 "  selinux_context = \"user_u:user_r:user_t:s0\"\n"
                 "}\n",
                 rt);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);

        char log[] = "/tmp/test_why-se-audit-XXXXXX";
        fd = mkstemp(log);
        assert_true(fd >= 0);
        const char *records = AUDITD_SE_AVC AUDITD_SE_SYSCALL
            /* permissive, with its syscall record (the call succeeded) */
            "type=AVC msg=audit(4000000101.500:457): avc:  denied  { write } for  pid=1235 "
            "comm=\"tee\" path=\"/var/log/permissive-marker\" dev=\"vda\" ino=124 "
            "scontext=user_u:user_r:user_t:s0 tcontext=system_u:object_r:var_log_t:s0 "
            "tclass=file permissive=1\n"
            "type=SYSCALL msg=audit(4000000101.500:457): arch=c000003e syscall=257 success=yes "
            "exit=3 items=1 ppid=1200 pid=1235 auid=1001 uid=1001 gid=1001 ses=4000000007 "
            "comm=\"tee\" exe=\"/usr/bin/tee\" key=(null)\n"
            /* auditallow */
            "type=AVC msg=audit(4000000102.000:458): avc:  granted  { granted-marker } for  "
            "pid=1236 comm=\"x\" scontext=user_u:user_r:user_t:s0 "
            "tcontext=user_u:user_r:user_t:s0 tclass=process\n"
            "type=SYSCALL msg=audit(4000000102.000:458): arch=c000003e syscall=1 success=yes "
            "exit=0 pid=1236 auid=1001 uid=1001 gid=1001 ses=4000000007 comm=\"x\" "
            "exe=\"/x\"\n"
            /* no syscall record: nothing names its user */
            "type=AVC msg=audit(4000000103.000:459): avc:  denied  { read } for  pid=1237 "
            "comm=\"orphan\" name=\"orphan-marker\" scontext=user_u:user_r:user_t:s0 "
            "tcontext=system_u:object_r:etc_t:s0 tclass=file permissive=0\n"
            /* malformed */
            "type=AVC msg=audit(4000000104.000:460): avc:  denied  { read\n"
            /* AppArmor's, tied by fsuid and time */
            "type=AVC msg=audit(4000000105.000:461): apparmor=\"DENIED\" operation=\"open\" "
            "class=\"file\" profile=\"isolate-test\" name=\"/etc/shadow\" pid=2345 "
            "comm=\"cat\" requested_mask=\"r\" denied_mask=\"r\" fsuid=1001 ouid=0\n";
        assert_int_equal(write(fd, records, strlen(records)), (ssize_t)strlen(records));
        close(fd);

        optind = 0;
        struct output *o = run_cmd(cmd_why, "why", "-c", conf, "--audit-log", log, NULL);
        assert_int_equal(o->rc, 0);
        const char *out = o->out;
        const char *se = strstr(out, "policy seboxed\n  process   cat (/usr/bin/cat) pid 1234 "
                                     "uid 1001\n"
                                     "  denied    selinux: file { read } on dpkg.log (dev vda, "
                                     "ino 123)\n"
                                     "  target    system_u:object_r:var_log_t:s0\n"
                                     "  source    user_u:user_r:user_t:s0\n"
                                     "  action    refused EACCES\n"
                                     "  decided   the loaded SELinux policy, not isolate's "
                                     "config: no rule allows user_t file { read } on var_log_t; "
                                     "the session's context is policy seboxed's ");
        if (!se)
                fail_msg("no SELinux refusal in:\n%s", out);
        assert_non_null(strstr(se, ":3: selinux_context = \"user_u:user_r:user_t:s0\"\n"
                                   "  to allow  not in isolate.conf: "));
        assert_non_null(strstr(se, "\n              ausearch -m AVC -a 456 | audit2why\n"
                                   "              ausearch -m AVC -a 456 | audit2allow -M local "
                                   "&& semodule -i local.pp\n"));
        assert_non_null(strstr(out, "user alice  session 0123456789abcdef  policy seboxed"));
        assert_non_null(strstr(out, "/var/log/permissive-marker (dev vda, ino 124)\n"));
        assert_non_null(strstr(out, "  action    permissive (logged, not enforced)\n"));
        assert_null(strstr(out, "granted-marker"));
        assert_null(strstr(out, "orphan-marker"));
        assert_non_null(strstr(out, "  denied    apparmor: open r on /etc/shadow\n"));
        assert_non_null(strstr(out, "[tied by uid and time: no audit session]"));

        optind = 0;
        o = run_cmd(cmd_why, "why", "-c", conf, "--audit-log", log, "--json", NULL);
        assert_int_equal(o->rc, 0);
        assert_non_null(strstr(out, "\"tied_by\": \"audit-session\", \"audit_session\": "
                                    "4000000007, \"pid\": 1234, \"process_uid\": 1001, "
                                    "\"comm\": \"cat\", \"exe\": \"/usr/bin/cat\", "
                                    "\"source\": \"selinux\", \"denied\": \"read\", "
                                    "\"object\": \"dpkg.log\", \"landlock_domain\": \"0\", "
                                    "\"apparmor_profile\": null, \"object_dev\": \"vda\", "
                                    "\"object_ino\": 123, "
                                    "\"selinux_scontext\": \"user_u:user_r:user_t:s0\", "
                                    "\"selinux_tcontext\": \"system_u:object_r:var_log_t:s0\", "
                                    "\"selinux_tclass\": \"file\", \"selinux_permissive\": false, "
                                    "\"fix_where\": \"not in isolate.conf: "));
        assert_non_null(strstr(out, "\"syscall\": \"file { read }\""));
        assert_non_null(strstr(out, "\"action\": \"refused EACCES\""));
        assert_non_null(strstr(out, "\"fix\": \"ausearch -m AVC -a 456 | audit2why\\u000a"));
        assert_non_null(strstr(out, "\"selinux_permissive\": true"));
        assert_non_null(strstr(out, "\"action\": \"permissive (logged, not enforced)\""));
        assert_non_null(strstr(out, "\"source\": \"apparmor\""));
        assert_non_null(strstr(out, "\"selinux_scontext\": null"));
        assert_null(strstr(out, "granted-marker"));
        assert_null(strstr(out, "orphan-marker"));

        unlink(log);
        unlink(conf);
        char path[128];
        snprintf(path, sizeof(path), "%s/logins", rt);
        unlink(path);
        rmdir(rt);
}

static struct strv strv_of(const char **v)
{
        size_t n = 0;
        while (v[n])
                n++;
        return (struct strv){(char **)v, n};
}

/* The text suggest builds: the lists changed in place, the rest as written, and a config
 * that loads (isolatectl check) with the names allowed. */
static void test_suggest_text(void **state)
{
        const char *text = "default_policy = a\n"
                           "policy a {\n"
                           "  network = host\n"
                           "}\n"
                           "policy t {   # the trial\n"
                           "    seccomp_action = log\n"
                           "    syscalls_deny = { ptrace, @numa }\n"
                           "}\n";
        char *deny_v[] = {(char *)"ptrace", (char *)"@numa", NULL};
        struct policy p = {.name = (char *)"t", .line = 5, .syscalls_deny = {deny_v, 2}};
        const char *one[] = {"migrate_pages", NULL};
        struct strv needed = strv_of(one), warnings = {0};
        char *out = NULL;
        assert_int_equal(suggest_config_text(text, &p, &needed, &out, &warnings), 0);
        assert_string_equal(out, "default_policy = a\n"
                                 "policy a {\n"
                                 "  network = host\n"
                                 "}\n"
                                 "policy t {   # the trial\n"
                                 "    syscalls_allow = { migrate_pages }\n"
                                 "    seccomp_action = log\n"
                                 "    syscalls_deny = { ptrace, mbind, move_pages, "
                                 "set_mempolicy_home_node }\n"
                                 "}\n");
        assert_int_equal(warnings.n, 0);

        /* the diff of it */
        char *diff = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&diff, &len);
        assert_non_null(f);
        text_diff(f, "a.conf", text, "a.conf", out);
        fclose(f);
        assert_string_equal(diff, "--- a.conf\n+++ a.conf\n@@ -3,6 +3,7 @@\n"
                                  "   network = host\n"
                                  " }\n"
                                  " policy t {   # the trial\n"
                                  "-    seccomp_action = log\n"
                                  "-    syscalls_deny = { ptrace, @numa }\n"
                                  "+    syscalls_allow = { migrate_pages }\n"
                                  "+    seccomp_action = log\n"
                                  "+    syscalls_deny = { ptrace, mbind, move_pages, "
                                  "set_mempolicy_home_node }\n"
                                  " }\n");
        free(diff);

        /* loads, and the trial's list now has it */
        char path[] = "/tmp/test_why-suggest-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, out, strlen(out)), (ssize_t)strlen(out));
        close(fd);
        struct config *cfg = NULL;
        struct config_errors errs = {0};
        int r = config_load(path, false, &cfg, &errs);
        for (size_t i = 0; i < errs.n; i++)
                fprintf(stderr, "%s\n", errs.msgs[i]);
        assert_int_equal(r, 0);
        const struct policy *t = &cfg->policies[1];
        assert_string_equal(t->name, "t");
        assert_true(policy_allows_name(t, "migrate_pages"));
        assert_int_equal(t->syscalls_deny.n, 4);
        config_free(cfg);
        config_errors_free(&errs);
        unlink(path);
        free(out);

        /* every member of @numa used, and bpf: the group whole, and bpf's risk named */
        const char *all[] = {
            "mbind", "migrate_pages", "move_pages", "set_mempolicy_home_node", "bpf", NULL};
        needed = strv_of(all);
        assert_int_equal(suggest_config_text(text, &p, &needed, &out, &warnings), 0);
        assert_non_null(strstr(out, "    syscalls_allow = { @numa, bpf }\n"));
        assert_non_null(strstr(out, "    syscalls_deny = { ptrace }\n"));
        assert_int_equal(warnings.n, 1);
        assert_non_null(strstr(warnings.v[0], "bpf: the default denies @bpf on purpose"));
        free(out);
        free(warnings.v[0]);
        free(warnings.v);
}

static void test_suggest_text_layouts(void **state)
{
        /* a list over several lines is replaced whole */
        const char *text = "policy t {\n"
                           "  syscalls_allow = {\n"
                           "    @keyring,   # for the agent\n"
                           "    personality\n"
                           "  }\n"
                           "}\n";
        char *allow_v[] = {(char *)"@keyring", (char *)"personality", NULL};
        struct policy p = {.name = (char *)"t", .line = 1, .syscalls_allow = {allow_v, 2}};
        const char *one[] = {"perf_event_open", NULL};
        struct strv needed = strv_of(one), warnings = {0};
        char *out = NULL;
        assert_int_equal(suggest_config_text(text, &p, &needed, &out, &warnings), 0);
        assert_string_equal(out, "policy t {\n"
                                 "  syscalls_allow = { @keyring, personality, perf_event_open }\n"
                                 "}\n");
        assert_int_equal(warnings.n, 1);
        free(out);
        free(warnings.v[0]);
        free(warnings.v);
        warnings = (struct strv){0};
        /* a block on one line, a policy line that is not there, braces that never close */
        struct policy q = {.name = (char *)"t", .line = 1};
        assert_int_equal(suggest_config_text("policy t { seccomp_action = log }\n", &q, &needed,
                                             &out, &warnings),
                         -ENOTSUP);
        q.line = 9;
        assert_int_equal(suggest_config_text(text, &q, &needed, &out, &warnings), -ENOENT);
        q.line = 1;
        assert_int_equal(suggest_config_text("policy t {\n  syscalls_deny = { a,\n", &q, &needed,
                                             &out, &warnings),
                         -EBADMSG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_kmsg_record),
            cmocka_unit_test(test_auditd_record),
            cmocka_unit_test(test_junk_and_other_types),
            cmocka_unit_test(test_login_of_record),
            cmocka_unit_test_setup_teardown(test_explain_deny_line_and_fix, conf_setup,
                                            conf_teardown),
            cmocka_unit_test_setup_teardown(test_explain_default_list_and_risk, conf_setup,
                                            conf_teardown),
            cmocka_unit_test(test_login_entries),
            cmocka_unit_test(test_errno_log_sets_the_log_flag),
            cmocka_unit_test(test_registry_audit_session),
            cmocka_unit_test(test_sources_and_duplicates),
            cmocka_unit_test(test_suggest_text),
            cmocka_unit_test(test_suggest_text_layouts),
            cmocka_unit_test(test_lsm_records),
            cmocka_unit_test(test_explain_x32),
            cmocka_unit_test_setup_teardown(test_explain_landlock, lsm_conf_setup,
                                            lsm_conf_teardown),
            cmocka_unit_test_setup_teardown(test_explain_apparmor, lsm_conf_setup,
                                            lsm_conf_teardown),
            cmocka_unit_test(test_selinux_records),
            cmocka_unit_test_setup_teardown(test_explain_selinux, lsm_conf_setup,
                                            lsm_conf_teardown),
            cmocka_unit_test(test_why_selinux_audit_log),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

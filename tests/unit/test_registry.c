/* test_registry: the registry's text for a session's cgroups (session-helper/registry.c),
 * where no cgroup needs to exist: escapes both ways, and what the parser refuses. Round trips
 * of sessions each backend made are in test_cgroup_v1.c, test_cgroup_v2.c and
 * test_cgroup_systemd.c. The record's format (issue 16): a record as the release before the
 * format line wrote it is read, one of a newer format is refused whole, with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../session-helper/registry.h"
#include "skip_because.h"

static void test_registry_escapes(void **state)
{
        struct cgroup_session s = {.backend = CGROUP_BACKEND_V1, .n = 1};
        snprintf(s.h[0].controllers, sizeof(s.h[0].controllers), "cpu,cpuacct");
        snprintf(s.h[0].mount_type, sizeof(s.h[0].mount_type), "cgroup");
        snprintf(s.h[0].mount_options, sizeof(s.h[0].mount_options), "-");
        snprintf(s.h[0].mount_name, sizeof(s.h[0].mount_name), "cpu,cpuacct");
        snprintf(s.h[0].user_path, sizeof(s.h[0].user_path), "/a b/100%%/x\ny");
        char buf[4096];
        assert_true(registry_cgroup_format(&s, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "cgroup_backend=v1\n"
                                 "cgroup=cpu,cpuacct cgroup %2D cpu,cpuacct /a%20b/100%25/x%0Ay "
                                 "- - -\n");
        struct cgroup_session back;
        assert_int_equal(registry_cgroup_parse(buf, &back), 0);
        assert_memory_equal(&back, &s, sizeof(s));
}

static void test_registry_parse_rejects_junk(void **state)
{
        struct cgroup_session s;
        assert_int_equal(registry_cgroup_parse("", &s), -EBADMSG);
        assert_int_equal(registry_cgroup_parse("cgroup_backend=v9\n", &s), -EBADMSG);
        /* a session's backend is resolved: "auto", the config's word, is no session's */
        assert_int_equal(registry_cgroup_parse("cgroup_backend=auto\n", &s), -EBADMSG);
        assert_int_equal(registry_cgroup_parse("cgroup_backend=v2\ncgroup=- cgroup2 - -\n", &s),
                         -EBADMSG);
        assert_int_equal(
            registry_cgroup_parse("cgroup_backend=v2\ncgroup=- ext4 - - - - - -\n", &s), -EBADMSG);
        assert_int_equal(
            registry_cgroup_parse("cgroup_backend=v2\ncgroup=- cgroup2 - - /a%2 - - -\n", &s),
            -EBADMSG);
        assert_int_equal(
            registry_cgroup_parse("cgroup_backend=v2\ncgroup=- cgroup2 - - - - - - extra\n", &s),
            -EBADMSG);
        assert_int_equal(registry_cgroup_parse("cgroup_backend=systemd\n", &s), 0);
        assert_int_equal(s.backend, CGROUP_BACKEND_SYSTEMD);
        assert_int_equal(s.n, 0);
}

/* A runtime dir with one record file ID holding text, root's and 0600 as the helper writes. */
static void record_put(const char *rt, const char *id, const char *text)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/sessions/%s", rt, id);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, 0600), 0);
}

static char *runtime_dir_new(void)
{
        if (geteuid() != 0)
                skip_because("the registry is root's: registry_read refuses files of others");
        static char rt[64];
        snprintf(rt, sizeof(rt), "/tmp/test_registry_rt.XXXXXX");
        assert_non_null(mkdtemp(rt));
        struct isolate_error err = {0};
        assert_int_equal(registry_prepare(rt, &err), 0);
        return rt;
}

static void runtime_dir_remove(const char *rt)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rt);
        assert_int_equal(system(cmd), 0);
}

/* A record as the release before the format line wrote it (commit ce91fd5): no "format=". */
static const char old_record[] = "id=0011223344556677\n"
                                 "user=alice\nuid=1001\nservice=sshd\nrhost=10.0.0.7\ntty=ssh\n"
                                 "policy=default\ncaller_pid=4242\ninit_pid=4243\n"
                                 "init_start=987654\nstart_time=1700000000\nscope=user\n"
                                 "linger_ms=60000\nfingerprint=0123456789abcdef\n"
                                 "caps=536870912 18446744073709551615 18446744073709551615 "
                                 "128 18446744073709551615 18446744073709551615\n"
                                 "cgroup_backend=v2\n"
                                 "cgroup=- cgroup2 - - /isolate/user-1001 "
                                 "/isolate/user-1001/session-0011 /isolate/supervisor -\n";

static void test_registry_old_format_read(void **state)
{
        char *rt = runtime_dir_new();
        record_put(rt, "0011223344556677", old_record);
        struct session_record r;
        assert_int_equal(registry_read(rt, "0011223344556677", &r), 0);
        assert_int_equal(r.format, 1);
        assert_string_equal(r.user, "alice");
        assert_int_equal(r.uid, 1001);
        assert_int_equal(r.init_pid, 4243);
        assert_int_equal(r.init_start, 987654);
        assert_int_equal(r.scope, SCOPE_USER);
        assert_int_equal(r.linger_ms, 60000);
        assert_string_equal(r.fingerprint, "0123456789abcdef");
        assert_int_equal(r.caps.scalars.memory_max, 536870912);
        assert_int_equal(r.caps.scalars.pids_max, 128);
        assert_int_equal(r.cgroup.backend, CGROUP_BACKEND_V2);
        assert_int_equal(r.cgroup.n, 1);
        assert_string_equal(r.cgroup.h[0].leaf_path, "/isolate/user-1001/session-0011");
        runtime_dir_remove(rt);
}

/* What this build writes starts with its format, and reads back as it was. */
static void test_registry_writes_its_format(void **state)
{
        char *rt = runtime_dir_new();
        struct session_record *w = calloc(1, sizeof(*w)), *r = calloc(1, sizeof(*r));
        assert_non_null(w);
        assert_non_null(r);
        snprintf(w->id, sizeof(w->id), "abcdef");
        snprintf(w->user, sizeof(w->user), "bob");
        snprintf(w->policy, sizeof(w->policy), "p");
        w->init_pid = 77;
        w->cgroup.backend = CGROUP_BACKEND_V2;
        w->caps.scalars = CAP_SCALARS_UNSET;
        struct isolate_error err = {0};
        assert_int_equal(registry_write(rt, w, &err), 0);
        char path[PATH_MAX], text[64] = "";
        snprintf(path, sizeof(path), "%s/sessions/abcdef", rt);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        assert_non_null(fgets(text, sizeof(text), f));
        fclose(f);
        char want[32];
        snprintf(want, sizeof(want), "format=%d\n", REGISTRY_FORMAT);
        assert_string_equal(text, want);
        assert_int_equal(registry_read(rt, "abcdef", r), 0);
        assert_int_equal(r->format, REGISTRY_FORMAT);
        assert_string_equal(r->user, "bob");
        assert_int_equal(r->init_pid, 77);
        free(w);
        free(r);
        runtime_dir_remove(rt);
}

static int count_one(const struct session_record *r, void *data)
{
        (*(int *)data)++;
        return 0;
}

/* A record of a newer format is refused whole, whatever its other lines say; a walk gives
 * the others to its callback and then says so; the message names the record, both formats
 * and what to do. A format line that is no number is a malformed record. */
static void test_registry_newer_format_refused(void **state)
{
        char *rt = runtime_dir_new();
        record_put(rt, "0011223344556677", old_record);
        char newer[sizeof(old_record) + 64];
        snprintf(newer, sizeof(newer), "format=%d\n%s", REGISTRY_FORMAT + 1,
                 old_record + strlen("id=0011223344556677\n"));
        char id_line[] = "id=ffeeddccbbaa9988\n";
        char text[sizeof(newer) + sizeof(id_line)];
        snprintf(text, sizeof(text), "%s%s", id_line, newer);
        record_put(rt, "ffeeddccbbaa9988", text);

        struct session_record r;
        assert_int_equal(registry_read(rt, "ffeeddccbbaa9988", &r), -EPROTONOSUPPORT);
        assert_int_equal(r.format, REGISTRY_FORMAT + 1);
        assert_string_equal(r.id, "ffeeddccbbaa9988");
        assert_int_equal(r.init_pid, 0); /* nothing else read */

        int n = 0;
        assert_int_equal(registry_foreach(rt, count_one, &n), -EPROTONOSUPPORT);
        assert_int_equal(n, 1);

        struct isolate_error err = {0};
        assert_int_equal(registry_format_error(rt, &err), -EPROTONOSUPPORT);
        char want[256];
        snprintf(want, sizeof(want),
                 "session record %s/sessions/ffeeddccbbaa9988 has format %d, and "
                 "this isolate reads formats %d to %d: a newer isolate release wrote it",
                 rt, REGISTRY_FORMAT + 1, REGISTRY_FORMAT_MIN, REGISTRY_FORMAT);
        if (strncmp(err.msg, want, strlen(want)) != 0)
                fail_msg("registry_format_error says:\n%s\nnot:\n%s", err.msg, want);
        assert_non_null(strstr(err.msg, "reinstall that release, or end the session"));

        record_put(rt, "ffeeddccbbaa9988", "format=two\nid=x\n");
        assert_int_equal(registry_read(rt, "ffeeddccbbaa9988", &r), -EBADMSG);
        record_put(rt, "ffeeddccbbaa9988", "format=0\n");
        assert_int_equal(registry_read(rt, "ffeeddccbbaa9988", &r), -EBADMSG);
        n = 0;
        assert_int_equal(registry_foreach(rt, count_one, &n), 0); /* malformed: skipped */
        assert_int_equal(n, 1);
        runtime_dir_remove(rt);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_registry_old_format_read),
            cmocka_unit_test(test_registry_writes_its_format),
            cmocka_unit_test(test_registry_newer_format_refused),
            cmocka_unit_test(test_registry_escapes),
            cmocka_unit_test(test_registry_parse_rejects_junk),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_registry: the registry's text for a session's cgroups (session-helper/registry.c),
 * where no cgroup needs to exist: escapes both ways, and what the parser refuses. Round trips
 * of sessions each backend made are in test_cgroup_v1.c, test_cgroup_v2.c and
 * test_cgroup_systemd.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../session-helper/registry.h"

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

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_registry_escapes),
            cmocka_unit_test(test_registry_parse_rejects_junk),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

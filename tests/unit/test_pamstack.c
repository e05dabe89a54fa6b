/* test_pamstack: the stack-order lint behind `isolatectl check` (conf/pamstack.c). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../conf/pamstack.h"

struct fixture {
        char dir[64];
        struct config_errors problems;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        strcpy(f->dir, "/tmp/test_pamstack.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        *state = f;
        return 0;
}

static void problems_clear(struct config_errors *p)
{
        for (size_t i = 0; i < p->n; i++)
                free(p->msgs[i]);
        free(p->msgs);
        p->msgs = NULL;
        p->n = 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        problems_clear(&f->problems);
        free(f);
        return 0;
}

static void put(struct fixture *f, const char *name, const char *text)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", f->dir, name);
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        assert_int_equal(fputs(text, fp) >= 0, 1);
        assert_int_equal(fclose(fp), 0);
}

static int check(struct fixture *f, const char *service)
{
        problems_clear(&f->problems);
        return pamstack_check(f->dir, service, &f->problems);
}

/* The one problem message that mentions needle, failing when there is not exactly one. */
static const char *find_one(struct fixture *f, const char *needle)
{
        const char *found = NULL;
        for (size_t i = 0; i < f->problems.n; i++)
                if (strstr(f->problems.msgs[i], needle)) {
                        if (found)
                                fail_msg("two problems mention %s", needle);
                        found = f->problems.msgs[i];
                }
        if (!found)
                fail_msg("no problem mentions %s", needle);
        return found;
}

static void expect_at(struct fixture *f, const char *module, const char *file, int line)
{
        char where[300];
        snprintf(where, sizeof(where), "%s/%s:%d: %s comes after pam_isolate.so", f->dir, file,
                 line, module);
        const char *msg = find_one(f, module);
        if (strncmp(msg, where, strlen(where)) != 0)
                fail_msg("expected \"%s...\", got \"%s\"", where, msg);
}

static void last_is_fine(void **state)
{
        struct fixture *f = *state;
        put(f, "sshd",
            "account required pam_unix.so\n"
            "session required pam_loginuid.so\n"
            "session optional pam_keyinit.so force revoke\n"
            "session required pam_unix.so\n"
            "session required pam_isolate.so config=/etc/isolate.conf debug\n"
            "password required pam_unix.so\n");
        assert_int_equal(check(f, "sshd"), 0);
        assert_int_equal(f->problems.n, 0);
}

/* Debian's layout: the profile puts pam_isolate last in common-session, but sshd has more
 * session lines after its @include. */
static void debian_layout_names_every_module_after(void **state)
{
        struct fixture *f = *state;
        put(f, "common-session",
            "session [default=1] pam_permit.so\n"
            "session requisite pam_deny.so\n"
            "session required pam_permit.so\n"
            "session required pam_unix.so\n"
            "session optional pam_systemd.so\n"
            "session required pam_isolate.so\n");
        put(f, "common-auth", "auth required pam_unix.so\n");
        put(f, "sshd",
            "@include common-auth\n" /* 1 */
            "session [success=ok ignore=ignore module_unknown=ignore "
            "default=bad] pam_selinux.so close\n"                   /* 2 */
            "session required pam_loginuid.so\n"                    /* 3 */
            "@include common-session\n"                             /* 4 */
            "session optional pam_motd.so motd=/run/motd.dynamic\n" /* 5 */
            "session optional pam_mail.so standard noenv # [1]\n"   /* 6 */
            "session required pam_limits.so\n"                      /* 7 */
            "session [success=ok ignore=ignore module_unknown=ignore "
            "default=bad] pam_selinux.so open\n"); /* 8 */
        /* SELinux off: pam_selinux does nothing, and nothing else after ours matters */
        pamstack_set_selinux_path("/nonexistent/enforce");
        assert_int_equal(check(f, "sshd"), 0);
        config_errors_free(&f->problems);
        f->problems = (struct config_errors){0};
        /* SELinux on: pam_motd, pam_mail, pam_limits work inside; only pam_selinux counts */
        char enforce[300];
        snprintf(enforce, sizeof(enforce), "%s/common-auth", f->dir); /* any existing file */
        pamstack_set_selinux_path(enforce);
        assert_int_equal(check(f, "sshd"), 1);
        expect_at(f, "pam_selinux.so", "sshd", 8);
        pamstack_set_selinux_path("/sys/fs/selinux/enforce");
        /* Says where ours is and why the order matters. */
        assert_non_null(strstr(find_one(f, "pam_selinux.so"), "common-session:6)"));
        assert_non_null(strstr(find_one(f, "pam_selinux.so"), "/proc/self/attr"));
        /* Modules before ours are not mentioned. */
        for (size_t i = 0; i < f->problems.n; i++) {
                assert_null(strstr(f->problems.msgs[i], "pam_loginuid"));
                assert_null(strstr(f->problems.msgs[i], "pam_systemd"));
                assert_null(strstr(f->problems.msgs[i], "pam_motd"));
                assert_null(strstr(f->problems.msgs[i], "pam_limits"));
        }
}

static void loginuid_after_says_why(void **state)
{
        struct fixture *f = *state;
        put(f, "sshd",
            "session required pam_isolate.so\n"
            "session required pam_loginuid.so\n");
        assert_int_equal(check(f, "sshd"), 1);
        expect_at(f, "pam_loginuid.so", "sshd", 2);
        assert_non_null(strstr(f->problems.msgs[0], "/proc/self/loginuid"));
        assert_non_null(strstr(f->problems.msgs[0], "fails silently"));
}

/* "session include X" takes only X's session lines; "auth include" takes none of them. */
static void include_follows_only_session_lines(void **state)
{
        struct fixture *f = *state;
        put(f, "common-x",
            "session required pam_isolate.so\n"
            "auth required pam_faildelay.so\n"
            "session optional pam_xauth.so\n");
        put(f, "common-y",
            "auth required pam_unix.so\n"
            "session required pam_tty_audit.so\n");
        put(f, "login",
            "auth include common-y\n"
            "session include common-x\n"
            "account include common-y\n");
        assert_int_equal(check(f, "login"), 1);
        expect_at(f, "pam_xauth.so", "common-x", 3);
}

static void substack_is_followed(void **state)
{
        struct fixture *f = *state;
        put(f, "isolate-sub", "session required pam_isolate.so\n");
        put(f, "su",
            "session substack isolate-sub\n"
            "session optional pam_keyinit.so revoke\n");
        assert_int_equal(check(f, "su"), 1);
        expect_at(f, "pam_keyinit.so", "su", 2);
        assert_non_null(strstr(f->problems.msgs[0], "keyctl"));
}

static void continuation_and_comments(void **state)
{
        struct fixture *f = *state;
        put(f, "sshd",
            "# session required pam_loginuid.so (a comment before)\n" /* 1 */
            "session required \\\n"                                   /* 2 */
            "    pam_isolate.so debug # ours\n"                       /* 3 */
            "#session required pam_loginuid.so\n"                     /* 4 */
            "  # session optional pam_motd.so\n"                      /* 5 */
            "session \\\n"                                            /* 6 */
            "  optional \\\n"                                         /* 7 */
            "  pam_tty_audit.so\n"                                    /* 8 */
            "session optional pam_xauth.so\n");                       /* 9 */
        assert_int_equal(check(f, "sshd"), 2);
        expect_at(f, "pam_tty_audit.so", "sshd", 6);
        expect_at(f, "pam_xauth.so", "sshd", 9);
        assert_non_null(strstr(find_one(f, "pam_tty_audit.so"), "("));
        char ours[300];
        snprintf(ours, sizeof(ours), "(%s/sshd:2)", f->dir);
        assert_non_null(strstr(find_one(f, "pam_tty_audit.so"), ours));
}

static void dash_type_absolute_path_and_case(void **state)
{
        struct fixture *f = *state;
        put(f, "sshd",
            "Session Required /usr/lib/x86_64-linux-gnu/security/pam_isolate.so\n"
            "-session optional pam_systemd.so\n"
            "SESSION optional /lib/security/pam_xauth.so\n");
        assert_int_equal(check(f, "sshd"), 2);
        expect_at(f, "pam_systemd.so", "sshd", 2);
        expect_at(f, "pam_xauth.so", "sshd", 3);
}

static void permit_and_deny_after_are_fine(void **state)
{
        struct fixture *f = *state;
        put(f, "sshd",
            "session required pam_isolate.so\n"
            "session [default=1] pam_permit.so\n"
            "session requisite pam_deny.so\n");
        assert_int_equal(check(f, "sshd"), 0);
}

static void missing_module_is_a_problem(void **state)
{
        struct fixture *f = *state;
        put(f, "sshd",
            "session required pam_unix.so\n"
            "auth required pam_isolate.so\n");
        assert_int_equal(check(f, "sshd"), 1);
        assert_non_null(strstr(f->problems.msgs[0], "not in the session stack"));
        assert_non_null(strstr(f->problems.msgs[0], "not confined"));
}

static void twice_is_a_problem(void **state)
{
        struct fixture *f = *state;
        put(f, "common-session", "session required pam_isolate.so\n");
        put(f, "sshd",
            "@include common-session\n"
            "session required pam_isolate.so\n");
        assert_int_equal(check(f, "sshd"), 1);
        assert_non_null(strstr(f->problems.msgs[0], "again"));
        assert_non_null(strstr(f->problems.msgs[0], "sshd:2"));
}

static void missing_service_file(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(check(f, "nosuchservice"), -ENOENT);
        assert_int_equal(f->problems.n, 0);
}

static void include_loop_ends(void **state)
{
        struct fixture *f = *state;
        put(f, "a", "@include b\nsession required pam_isolate.so\n");
        put(f, "b", "session include a\n");
        int n = check(f, "a");
        assert_true(n >= 1);
        find_one(f, "more than 16 deep");
}

static void missing_include_is_a_problem(void **state)
{
        struct fixture *f = *state;
        put(f, "sshd",
            "@include common-gone\n"
            "session required pam_isolate.so\n");
        assert_int_equal(check(f, "sshd"), 1);
        assert_non_null(strstr(f->problems.msgs[0], "cannot read the included"));
        assert_non_null(strstr(f->problems.msgs[0], "common-gone"));
}

static void absolute_include(void **state)
{
        struct fixture *f = *state;
        char text[300];
        put(f, "elsewhere", "session optional pam_xauth.so\n");
        snprintf(text, sizeof(text), "session required pam_isolate.so\n@include %s/elsewhere\n",
                 f->dir);
        put(f, "sshd", text);
        assert_int_equal(check(f, "sshd"), 1);
        expect_at(f, "pam_xauth.so", "elsewhere", 1);
}

/* Without a place to put messages it still counts them. */
static void counts_without_a_list(void **state)
{
        struct fixture *f = *state;
        put(f, "sshd",
            "session required pam_isolate.so\nsession required pam_loginuid.so\n"
            "session required pam_keyinit.so\n");
        assert_int_equal(pamstack_check(f->dir, "sshd", NULL), 2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(last_is_fine, setup, teardown),
            cmocka_unit_test_setup_teardown(debian_layout_names_every_module_after, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(loginuid_after_says_why, setup, teardown),
            cmocka_unit_test_setup_teardown(include_follows_only_session_lines, setup, teardown),
            cmocka_unit_test_setup_teardown(substack_is_followed, setup, teardown),
            cmocka_unit_test_setup_teardown(continuation_and_comments, setup, teardown),
            cmocka_unit_test_setup_teardown(dash_type_absolute_path_and_case, setup, teardown),
            cmocka_unit_test_setup_teardown(permit_and_deny_after_are_fine, setup, teardown),
            cmocka_unit_test_setup_teardown(missing_module_is_a_problem, setup, teardown),
            cmocka_unit_test_setup_teardown(twice_is_a_problem, setup, teardown),
            cmocka_unit_test_setup_teardown(missing_service_file, setup, teardown),
            cmocka_unit_test_setup_teardown(include_loop_ends, setup, teardown),
            cmocka_unit_test_setup_teardown(missing_include_is_a_problem, setup, teardown),
            cmocka_unit_test_setup_teardown(absolute_include, setup, teardown),
            cmocka_unit_test_setup_teardown(counts_without_a_list, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_ticket.c: the pieces of a join by ticket (client/ticket.h) that need no sandbox: the
 * key says exactly the inputs the config's rules read, the link's name refuses what cannot be
 * a file name, the stamp changes with any edit, and the caller's side declines (0, never an
 * error) whenever the config or the runtime dir is not what the helper would trust. The
 * joins themselves: tests/integration/test_ticket.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../client/ticket.h"

static struct open_request root_login(const char *service, const char *rhost)
{
        struct open_request req = {.caller_pid = 1};
        snprintf(req.user, sizeof(req.user), "root");
        snprintf(req.service, sizeof(req.service), "%s", service);
        snprintf(req.rhost, sizeof(req.rhost), "%s", rhost);
        snprintf(req.helper_stamp, sizeof(req.helper_stamp), "helper /h 1 2 3 4.5 6.7");
        return req;
}

static char *root_groups[] = {"root", "wheel"};
static const struct ticket_who root_who = {
    .name = "root", .uid = 0, .gid = 0, .home = "/root", .groups = root_groups, .n_groups = 2};

static void test_key_holds_what_the_needs_say(void **state)
{
        char key[TICKET_KEY_MAX];
        struct open_request req = root_login("sshd", "192.0.2.7");
        int n = ticket_key("config /x 1 2 3 4.5 6.7", &req, &root_who, "", key, sizeof(key));
        assert_int_equal(n, (int)strlen(key));
        assert_string_equal(key, "isolate-ticket 2\nconfig /x 1 2 3 4.5 6.7\n"
                                 "helper /h 1 2 3 4.5 6.7\nuser root root 0 0 /root\n"
                                 "service sshd\n");

        n = ticket_key("config /x", &req, &root_who, "grs", key, sizeof(key));
        assert_true(n > 0);
        assert_non_null(strstr(key, "\nrhost 192.0.2.7\n"));
        assert_non_null(strstr(key, "\nslice user-0.slice\n"));
        /* the names the rules match, primary first */
        assert_non_null(strstr(key, "\ngroup root\ngroup wheel\n"));

        /* another rhost is another key only where the rhost is read */
        char other[TICKET_KEY_MAX];
        struct open_request req2 = root_login("sshd", "192.0.2.8");
        assert_true(ticket_key("config /x", &req2, &root_who, "g", other, sizeof(other)) > 0);
        assert_true(ticket_key("config /x", &req, &root_who, "g", key, sizeof(key)) > 0);
        assert_string_equal(key, other);
        assert_true(ticket_key("config /x", &req2, &root_who, "r", other, sizeof(other)) > 0);
        assert_true(ticket_key("config /x", &req, &root_who, "r", key, sizeof(key)) > 0);
        assert_string_not_equal(key, other);

        /* a renamed group is another key (rules match names, not ids) */
        char *renamed[] = {"root", "wheel-old"};
        struct ticket_who w = root_who;
        w.groups = renamed;
        assert_true(ticket_key("config /x", &req, &w, "g", other, sizeof(other)) > 0);
        assert_true(ticket_key("config /x", &req, &root_who, "g", key, sizeof(key)) > 0);
        assert_string_not_equal(key, other);

        /* another helper binary (an upgrade) is another key */
        snprintf(req2.helper_stamp, sizeof(req2.helper_stamp), "helper /h 1 9 3 4.5 6.7");
        snprintf(req2.rhost, sizeof(req2.rhost), "192.0.2.7");
        assert_true(ticket_key("config /x", &req2, &root_who, "", other, sizeof(other)) > 0);
        assert_true(ticket_key("config /x", &req, &root_who, "", key, sizeof(key)) > 0);
        assert_string_not_equal(key, other);
}

static void test_key_errors(void **state)
{
        char key[TICKET_KEY_MAX];
        struct open_request req = root_login("sshd", "");
        assert_int_equal(ticket_key("config /x", &req, &root_who, "", key, 16), -E2BIG);
        /* a caller that did not stamp its helper gets no key */
        req.helper_stamp[0] = '\0';
        assert_int_equal(ticket_key("config /x", &req, &root_who, "", key, sizeof(key)), -EINVAL);
        /* a value with a newline could pass for two lines */
        req = root_login("sshd", "");
        char *forged[] = {"root\ngroup wheel"};
        struct ticket_who w = root_who;
        w.groups = forged;
        w.n_groups = 1;
        assert_int_equal(ticket_key("config /x", &req, &w, "g", key, sizeof(key)), -EINVAL);
        w = root_who;
        w.home = "/root\nservice x";
        assert_int_equal(ticket_key("config /x", &req, &w, "", key, sizeof(key)), -EINVAL);
        /* needs 'g' without groups read */
        w = root_who;
        w.groups = NULL;
        assert_int_equal(ticket_key("config /x", &req, &w, "g", key, sizeof(key)), -EINVAL);
}

/* The caller's lookup and the helper's (login_info_lookup_ext) give the same names */
static void test_groups_lookup(void **state)
{
        char **v = NULL;
        size_t n = 0;
        assert_int_equal(user_groups_lookup("root", 0, true, &v, &n), 0);
        assert_true(n >= 1);
        assert_string_equal(v[0], "root");
        strv_free(v, n);
        assert_int_equal(user_groups_lookup("root", 0, false, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0], "root");
        strv_free(v, n);
        /* a gid without a name counts as its number */
        assert_int_equal(user_groups_lookup("root", 4000000001u, false, &v, &n), 0);
        assert_string_equal(v[0], "4000000001");
        strv_free(v, n);
}

static void test_link_name(void **state)
{
        char name[128];
        assert_int_equal(ticket_link_name(1001, "sshd", name, sizeof(name)), 0);
        assert_string_equal(name, "1001-sshd.join");
        assert_int_equal(ticket_link_name(1001, "su-l", name, sizeof(name)), 0);
        assert_int_equal(ticket_link_name(1001, "", name, sizeof(name)), -EINVAL);
        assert_int_equal(ticket_link_name(1001, "..", name, sizeof(name)), -EINVAL);
        assert_int_equal(ticket_link_name(1001, ".hidden", name, sizeof(name)), -EINVAL);
        assert_int_equal(ticket_link_name(1001, "a/b", name, sizeof(name)), -EINVAL);
        assert_int_equal(ticket_link_name(1001, "a\nb", name, sizeof(name)), -EINVAL);
        assert_int_equal(ticket_link_name(1001, "sshd", name, 8), -E2BIG);
}

static void test_stamp_changes_with_an_edit(void **state)
{
        char path[] = "/tmp/isolate-ticket-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        char a[512], b[512];
        assert_int_equal(ticket_config_stamp(fd, path, a, sizeof(a)), 0);
        assert_int_equal(ticket_config_stamp(fd, path, b, sizeof(b)), 0);
        assert_string_equal(a, b);
        assert_int_equal(write(fd, "x", 1), 1);
        assert_int_equal(ticket_config_stamp(fd, path, b, sizeof(b)), 0);
        assert_string_not_equal(a, b);
        assert_int_equal(ticket_config_stamp(fd, "/other/path", a, sizeof(a)), 0);
        assert_string_not_equal(a, b);
        assert_int_equal(ticket_config_stamp(fd, path, a, 10), -E2BIG);
        close(fd);
        unlink(path);
}

/* Declines, whatever is wrong, before it connects anywhere. */
static void test_open_declines_untrusted_configs(void **state)
{
        struct open_request req = root_login("sshd", "");
        struct open_reply rep;
        memset(&rep, 0, sizeof(rep));
        join_spec_init(&rep.join);
        assert_int_equal(session_open_ticket("/nonexistent/isolate.conf", &req, 100, &rep), 0);

        char dir[] = "/tmp/isolate-ticket-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char conf[300], sessions[300], link[400];
        snprintf(conf, sizeof(conf), "%s/isolate.conf", dir);
        snprintf(sessions, sizeof(sessions), "%s/sessions", dir);
        FILE *f = fopen(conf, "w");
        assert_non_null(f);
        fprintf(f, "runtime_dir = \"%s\"\n", dir);
        fclose(f);
        assert_int_equal(mkdir(sessions, 0700), 0);
        snprintf(link, sizeof(link), "%s/0-sshd.join", sessions);
        assert_int_equal(symlink("0123456789abcdef:", link), 0);

        /* writable by others: the config, then the runtime dir */
        assert_int_equal(chmod(conf, 0666), 0);
        assert_int_equal(session_open_ticket(conf, &req, 100, &rep), 0);
        assert_int_equal(chmod(conf, 0644), 0);
        assert_int_equal(chmod(dir, 0777), 0);
        assert_int_equal(session_open_ticket(conf, &req, 100, &rep), 0);
        assert_int_equal(chmod(dir, 0700), 0);
        /* a link to no socket, one that is no ticket, one in doubt */
        assert_int_equal(session_open_ticket(conf, &req, 100, &rep), 0);
        unlink(link);
        assert_int_equal(symlink("../../etc:", link), 0);
        assert_int_equal(session_open_ticket(conf, &req, 100, &rep), 0);
        unlink(link);
        assert_int_equal(symlink("0123456789abcdef:x", link), 0);
        assert_int_equal(session_open_ticket(conf, &req, 100, &rep), 0);
        assert_false(rep.from_ticket);
        assert_int_equal(rep.join.init_pidfd, -1);

        unlink(link);
        rmdir(sessions);
        unlink(conf);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_key_holds_what_the_needs_say),
            cmocka_unit_test(test_key_errors),
            cmocka_unit_test(test_groups_lookup),
            cmocka_unit_test(test_link_name),
            cmocka_unit_test(test_stamp_changes_with_an_edit),
            cmocka_unit_test(test_open_declines_untrusted_configs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

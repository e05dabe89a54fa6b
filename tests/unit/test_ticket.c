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
        return req;
}

static void test_key_holds_what_the_needs_say(void **state)
{
        char key[TICKET_KEY_MAX];
        uid_t uid = 1234;
        struct open_request req = root_login("sshd", "192.0.2.7");
        int n = ticket_key("config /x 1 2 3 4.5 6.7", &req, "", &uid, key, sizeof(key));
        assert_true(n > 0);
        assert_int_equal(uid, 0);
        assert_non_null(strstr(key, "config /x 1 2 3 4.5 6.7\n"));
        assert_non_null(strstr(key, "\nuser root root 0 0 /root\n"));
        assert_non_null(strstr(key, "\nservice sshd\n"));
        assert_null(strstr(key, "rhost"));
        assert_null(strstr(key, "groups"));

        n = ticket_key("config /x", &req, "gr", &uid, key, sizeof(key));
        assert_true(n > 0);
        assert_non_null(strstr(key, "\nrhost 192.0.2.7\n"));
        assert_non_null(strstr(key, "\ngroups 0"));

        /* another rhost is another key only where the rhost is read */
        char other[TICKET_KEY_MAX];
        struct open_request req2 = root_login("sshd", "192.0.2.8");
        assert_true(ticket_key("config /x", &req2, "g", &uid, other, sizeof(other)) > 0);
        assert_true(ticket_key("config /x", &req, "g", &uid, key, sizeof(key)) > 0);
        assert_string_equal(key, other);
        assert_true(ticket_key("config /x", &req2, "r", &uid, other, sizeof(other)) > 0);
        assert_true(ticket_key("config /x", &req, "r", &uid, key, sizeof(key)) > 0);
        assert_string_not_equal(key, other);
}

static void test_key_errors(void **state)
{
        char key[TICKET_KEY_MAX];
        uid_t uid;
        struct open_request req = root_login("sshd", "");
        snprintf(req.user, sizeof(req.user), "isolate-no-such-user");
        assert_int_equal(ticket_key("config /x", &req, "", &uid, key, sizeof(key)), -ENOENT);
        req = root_login("sshd", "");
        assert_int_equal(ticket_key("config /x", &req, "", &uid, key, 16), -E2BIG);
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
            cmocka_unit_test(test_link_name),
            cmocka_unit_test(test_stamp_changes_with_an_edit),
            cmocka_unit_test(test_open_declines_untrusted_configs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

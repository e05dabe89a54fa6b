/* test_log.c: a decision reaches the journal as one datagram with its MESSAGE_ID and the
 * ISOLATE_* fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../../client/journal.h"
#include "../../session-helper/log.h"
#include "../../client/util.h"

static void test_journal_fields(void **state)
{
        char dir[] = "/tmp/isolate-log-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[128];
        snprintf(path, sizeof(path), "%s/socket", dir);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        journal_set_socket(path);

        struct log_decision d = {.message_id = EVENT_HELPER_DECISION,
                                 .user = "alice",
                                 .service = "sshd",
                                 .rhost = "10.0.0.1",
                                 .policy = "strict",
                                 .session_id = "00ff",
                                 .outcome = "confined",
                                 .reason = "two\nlines",
                                 .duration_us = 1234};
        log_decision(LOG_INFO, &d);
        char buf[8192];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_non_null(
            memmem(buf, (size_t)n, "ISOLATE_USER=alice\n", strlen("ISOLATE_USER=alice\n")));
        assert_non_null(
            memmem(buf, (size_t)n, "ISOLATE_SERVICE=sshd\n", strlen("ISOLATE_SERVICE=sshd\n")));
        assert_non_null(
            memmem(buf, (size_t)n, "ISOLATE_RHOST=10.0.0.1\n", strlen("ISOLATE_RHOST=10.0.0.1\n")));
        assert_non_null(
            memmem(buf, (size_t)n, "ISOLATE_POLICY=strict\n", strlen("ISOLATE_POLICY=strict\n")));
        assert_non_null(
            memmem(buf, (size_t)n, "ISOLATE_SESSION=00ff\n", strlen("ISOLATE_SESSION=00ff\n")));
        assert_non_null(memmem(buf, (size_t)n, "ISOLATE_OUTCOME=confined\n",
                               strlen("ISOLATE_OUTCOME=confined\n")));
        assert_non_null(memmem(buf, (size_t)n, "ISOLATE_DURATION_US=1234\n",
                               strlen("ISOLATE_DURATION_US=1234\n")));
        assert_non_null(memmem(buf, (size_t)n, "PRIORITY=6\n", strlen("PRIORITY=6\n")));
        assert_non_null(memmem(buf, (size_t)n, "SYSLOG_IDENTIFIER=isolate\n",
                               strlen("SYSLOG_IDENTIFIER=isolate\n")));
        /* a value with a newline uses the binary form: NAME\n, 64-bit length, value */
        const char *bin = memmem(buf, (size_t)n, "ISOLATE_REASON\n", 15);
        assert_non_null(bin);
        uint64_t len;
        memcpy(&len, bin + 15, 8);
        assert_int_equal(len, 9);
        assert_memory_equal(bin + 23, "two\nlines\n", 10);
        assert_non_null(memmem(buf, (size_t)n, "MESSAGE_ID=" EVENT_HELPER_DECISION "\n",
                               strlen("MESSAGE_ID=" EVENT_HELPER_DECISION "\n")));
        close(fd);
        unlink(path);
        journal_set_socket("/run/systemd/journal/socket");
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_journal_fields),
        };
        return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}

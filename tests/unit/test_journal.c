/* test_journal.c: the native journal writer (client/journal.c) and the event table
 * (client/events.h) against the catalog (conf/isolate.catalog). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "../../client/events.h"
#include "../../client/journal.h"
#include "../../client/util.h"
#include "../../session-helper/log.h"

#define CATALOG  SRCDIR "/conf/isolate.catalog"
#define MAN_PAGE SRCDIR "/pam_module/pam_isolate.8"

struct listener {
        char dir[32];
        char path[64];
        int fd;
};

static void listener_open(struct listener *l)
{
        snprintf(l->dir, sizeof(l->dir), "/tmp/isolate-journal-XXXXXX");
        assert_non_null(mkdtemp(l->dir));
        snprintf(l->path, sizeof(l->path), "%s/socket", l->dir);
        l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(l->fd >= 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);
        assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        journal_set_socket(l->path);
}

static void listener_close(struct listener *l)
{
        close(l->fd);
        unlink(l->path);
        rmdir(l->dir);
        journal_set_socket("/run/systemd/journal/socket");
}

/* One datagram, parsed as journald does: NAME=value, or NAME\n + 64-bit LE length + value +
 * \n. Fields as "NAME=value" strings (a binary value as it is); their count. */
static size_t datagram_fields(const char *buf, size_t n, char fields[][2048], size_t max)
{
        size_t k = 0, i = 0;
        while (i < n) {
                const char *nl = memchr(buf + i, '\n', n - i);
                assert_non_null(nl);
                size_t linelen = (size_t)(nl - (buf + i));
                const char *eq = memchr(buf + i, '=', linelen);
                assert_true(k < max);
                if (eq) {
                        assert_true(linelen < 2048);
                        memcpy(fields[k], buf + i, linelen);
                        fields[k][linelen] = '\0';
                        i += linelen + 1;
                } else {
                        uint64_t len = 0;
                        assert_true(i + linelen + 9 <= n);
                        for (int b = 7; b >= 0; b--)
                                len = (len << 8) | (unsigned char)nl[1 + b];
                        assert_true(linelen + 1 + len < 2048);
                        assert_true(i + linelen + 9 + len + 1 <= n);
                        assert_int_equal(nl[9 + len], '\n');
                        snprintf(fields[k], 2048, "%.*s=%.*s", (int)linelen, buf + i, (int)len,
                                 nl + 9);
                        i += linelen + 9 + len + 1;
                }
                k++;
        }
        return k;
}

static size_t receive(int fd, char fields[][2048], size_t max)
{
        char buf[16384];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        assert_true(n > 0);
        return datagram_fields(buf, (size_t)n, fields, max);
}

static const char *field(char fields[][2048], size_t n, const char *name)
{
        size_t nl = strlen(name);
        const char *found = NULL;
        for (size_t i = 0; i < n; i++)
                if (strncmp(fields[i], name, nl) == 0 && fields[i][nl] == '=') {
                        assert_null(found); /* each field once */
                        found = fields[i] + nl + 1;
                }
        return found;
}

static int fds_open(void)
{
        int n = 0;
        DIR *d = opendir("/proc/self/fd");
        assert_non_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static void test_event_fields(void **state)
{
        struct listener l;
        listener_open(&l);
        int before = fds_open();
        struct journal_event e = {.message_id = EVENT_DENIED,
                                  .message = "pam_isolate(sshd:session): user=alice ...",
                                  .identifier = "sshd",
                                  .priority = LOG_ERR,
                                  .user = "alice",
                                  .service = "sshd",
                                  .rhost = "10.0.0.1",
                                  .tty = "",
                                  .policy = "strict",
                                  .session_id = NULL,
                                  .outcome = "denied",
                                  .reason = "two\nlines",
                                  .duration_us = 1234};
        assert_int_equal(journal_send_event(&e), 0);
        assert_int_equal(fds_open(), before); /* no fd left behind in the PAM caller */

        char f[32][2048];
        size_t n = receive(l.fd, f, 32);
        assert_string_equal(field(f, n, "MESSAGE_ID"), EVENT_DENIED);
        assert_string_equal(field(f, n, "MESSAGE"), "pam_isolate(sshd:session): user=alice ...");
        assert_string_equal(field(f, n, "PRIORITY"), "3");
        assert_string_equal(field(f, n, "SYSLOG_FACILITY"), "10");
        assert_string_equal(field(f, n, "SYSLOG_IDENTIFIER"), "sshd");
        char pid[16];
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        assert_string_equal(field(f, n, "SYSLOG_PID"), pid);
        assert_string_equal(field(f, n, "ISOLATE_USER"), "alice");
        assert_string_equal(field(f, n, "ISOLATE_SERVICE"), "sshd");
        assert_string_equal(field(f, n, "ISOLATE_RHOST"), "10.0.0.1");
        assert_string_equal(field(f, n, "ISOLATE_TTY"), "-");
        assert_string_equal(field(f, n, "ISOLATE_POLICY"), "strict");
        assert_string_equal(field(f, n, "ISOLATE_SESSION"), "-");
        assert_string_equal(field(f, n, "ISOLATE_OUTCOME"), "denied");
        assert_string_equal(field(f, n, "ISOLATE_REASON"), "two\nlines"); /* binary form */
        assert_string_equal(field(f, n, "ISOLATE_DURATION_US"), "1234");
        assert_int_equal(n, 15);
        assert_true(recv(l.fd, f[0], 1, MSG_DONTWAIT) < 0); /* one datagram, not two */
        listener_close(&l);
}

static void test_no_journal_is_an_error_and_leaves_no_fd(void **state)
{
        journal_set_socket("/nonexistent/isolate-test/socket");
        int before = fds_open();
        struct journal_event e = {.message_id = EVENT_CONFINED, .outcome = "confined"};
        assert_int_equal(journal_send_event(&e), -ENOENT);
        assert_int_equal(fds_open(), before);
        journal_set_socket("/run/systemd/journal/socket");
}

static void test_entry_without_message_id_is_refused(void **state)
{
        struct listener l;
        listener_open(&l);
        struct journal_event e = {.outcome = "confined"};
        assert_int_equal(journal_send_event(&e), -EINVAL);
        char c;
        assert_true(recv(l.fd, &c, 1, MSG_DONTWAIT) < 0);
        listener_close(&l);
}

/* A journald that does not read: the send fails at once instead of blocking the login. */
static void test_full_journal_does_not_block(void **state)
{
        struct listener l;
        listener_open(&l);
        int small = 1;
        setsockopt(l.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        struct journal_event e = {.message_id = EVENT_CONFINED, .outcome = "confined"};
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int r = 0;
        for (int i = 0; i < 100000 && r == 0; i++)
                r = journal_send_event(&e);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_int_equal(r, -EAGAIN);
        assert_true(t1.tv_sec - t0.tv_sec < 5);
        listener_close(&l);
}

static void test_log_decision_carries_its_message_id(void **state)
{
        struct listener l;
        listener_open(&l);
        struct log_decision d = {.message_id = EVENT_KILLED,
                                 .user = "bob",
                                 .service = "isolatectl",
                                 .policy = "test",
                                 .session_id = "00ff",
                                 .outcome = "killed",
                                 .reason = "isolatectl kill"};
        log_decision(LOG_NOTICE, &d);
        char f[32][2048];
        size_t n = receive(l.fd, f, 32);
        assert_string_equal(field(f, n, "MESSAGE_ID"), EVENT_KILLED);
        assert_string_equal(field(f, n, "SYSLOG_IDENTIFIER"), "isolate");
        assert_string_equal(field(f, n, "PRIORITY"), "5");
        assert_string_equal(field(f, n, "ISOLATE_SESSION"), "00ff");
        assert_non_null(strstr(field(f, n, "MESSAGE"), "outcome=killed"));
        listener_close(&l);
}

static void test_outcomes_map_to_their_events(void **state)
{
        assert_string_equal(event_message_id("confined"), EVENT_CONFINED);
        assert_string_equal(event_message_id("fail-open-root"), EVENT_FAIL_OPEN);
        assert_string_equal(event_message_id("apply-failed"), EVENT_APPLY_FAILED);
        assert_null(event_message_id("no-such-outcome"));
        assert_null(event_message_id(NULL));
        /* ids: 32 lowercase hex digits, a v4 UUID as systemd-id128 new makes them, and
         * distinct except where two outcomes are one event */
        for (size_t i = 0; i < isolate_events_n; i++) {
                const char *id = isolate_events[i].message_id;
                assert_int_equal(strlen(id), 32);
                assert_int_equal(strspn(id, "0123456789abcdef"), 32);
                assert_int_equal(id[12], '4');
                for (size_t k = 0; k < i; k++)
                        if (STREQ(isolate_events[k].message_id, id))
                                assert_true(STREQ(isolate_events[i].outcome, "fail-open-root"));
                assert_string_not_equal(id, EVENT_HELPER_DECISION);
        }
}

/* The catalog: "-- ID" starts a section; headers up to the first empty line; then the
 * body. Each id of events.h has exactly one section and each section an id of events.h,
 * with the headers journalctl -x shows, and every @FIELD@ it names is one the entries carry. */
static bool known_id(const char *id)
{
        if (STREQ(id, EVENT_HELPER_DECISION))
                return true;
        for (size_t i = 0; i < isolate_events_n; i++)
                if (STREQ(isolate_events[i].message_id, id))
                        return true;
        return false;
}

static const char *const entry_fields[] = {
    "ISOLATE_USER",    "ISOLATE_SERVICE", "ISOLATE_RHOST",  "ISOLATE_TTY",        "ISOLATE_POLICY",
    "ISOLATE_SESSION", "ISOLATE_OUTCOME", "ISOLATE_REASON", "ISOLATE_DURATION_US"};

static void check_placeholders(const char *line)
{
        for (const char *p = strchr(line, '@'); p; p = strchr(p, '@')) {
                const char *end = strchr(p + 1, '@');
                assert_non_null(end);
                bool ok = false;
                for (size_t i = 0; i < ELEMENTSOF(entry_fields); i++)
                        ok |= (size_t)(end - p - 1) == strlen(entry_fields[i]) &&
                              strncmp(p + 1, entry_fields[i], (size_t)(end - p - 1)) == 0;
                if (!ok)
                        fail_msg("catalog: unknown field in %s", line);
                p = end + 1;
        }
}

static void test_catalog_has_each_event_once(void **state)
{
        FILE *f = fopen(CATALOG, "re");
        assert_non_null(f);
        char ids[64][33];
        size_t n = 0;
        char line[1024];
        enum { OUTSIDE, HEADERS, BODY } where = OUTSIDE;
        unsigned headers = 0, body_lines = 0;
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                if (strncmp(line, "-- ", 3) == 0) {
                        if (where != OUTSIDE) {
                                assert_int_equal(headers, 0xf);
                                assert_true(body_lines > 0);
                        }
                        assert_int_equal(strlen(line + 3), 32);
                        if (!known_id(line + 3))
                                fail_msg("catalog section %s: no such event in events.h", line + 3);
                        for (size_t i = 0; i < n; i++)
                                assert_string_not_equal(ids[i], line + 3);
                        assert_true(n < ELEMENTSOF(ids));
                        snprintf(ids[n++], sizeof(ids[0]), "%s", line + 3);
                        where = HEADERS;
                        headers = body_lines = 0;
                        continue;
                }
                if (where == OUTSIDE) {
                        assert_true(line[0] == '#' || line[0] == '\0');
                        continue;
                }
                if (where == HEADERS) {
                        if (!line[0]) {
                                where = BODY;
                                continue;
                        }
                        if (strncmp(line, "Subject: ", 9) == 0)
                                headers |= 1;
                        else if (STREQ(line, "Defined-By: isolate"))
                                headers |= 2;
                        else if (strncmp(line, "Support: ", 9) == 0)
                                headers |= 4;
                        else if (strncmp(line, "Documentation: ", 15) == 0)
                                headers |= 8;
                        else
                                fail_msg("catalog: unexpected header line: %s", line);
                        check_placeholders(line);
                        continue;
                }
                /* a body line starting with '#' would be read as a comment */
                assert_true(line[0] != '#');
                if (line[0])
                        body_lines++;
                check_placeholders(line);
        }
        fclose(f);
        assert_int_equal(where, BODY);
        assert_int_equal(headers, 0xf);
        /* and the other way round: every event's id has its section */
        for (size_t i = 0; i < isolate_events_n; i++) {
                bool found = false;
                for (size_t k = 0; k < n; k++)
                        found |= STREQ(ids[k], isolate_events[i].message_id);
                if (!found)
                        fail_msg("event %s (%s) has no section in the catalog",
                                 isolate_events[i].outcome, isolate_events[i].message_id);
        }
        bool helper = false;
        for (size_t k = 0; k < n; k++)
                helper |= STREQ(ids[k], EVENT_HELPER_DECISION);
        assert_true(helper);
}

/* pam_isolate(8) lists every id, so that an admin can search for it. */
static void test_man_page_lists_each_event(void **state)
{
        _cleanup_fclose_ FILE *f = fopen(MAN_PAGE, "re");
        assert_non_null(f);
        static char text[262144];
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        text[n] = '\0';
        for (size_t i = 0; i < isolate_events_n; i++)
                if (!strstr(text, isolate_events[i].message_id))
                        fail_msg("pam_isolate.8 does not list %s (%s)", isolate_events[i].outcome,
                                 isolate_events[i].message_id);
        assert_non_null(strstr(text, EVENT_HELPER_DECISION));
        assert_non_null(strstr(text, "ISOLATE_DURATION_US"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_event_fields),
            cmocka_unit_test(test_no_journal_is_an_error_and_leaves_no_fd),
            cmocka_unit_test(test_entry_without_message_id_is_refused),
            cmocka_unit_test(test_full_journal_does_not_block),
            cmocka_unit_test(test_log_decision_carries_its_message_id),
            cmocka_unit_test(test_outcomes_map_to_their_events),
            cmocka_unit_test(test_catalog_has_each_event_once),
            cmocka_unit_test(test_man_page_lists_each_event),
        };
        return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}

/* test_records.c: the session's login records copied to the host's (records.c), between
 * temporary directories standing for the session's records and the host's /var/log. */
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

#include "../../session-helper/records.h"

static char base[64], own_dir[128], host_dir[128];

static void touch(const char *dir, const char *name)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
}

static int setup(void **state)
{
        strcpy(base, "/tmp/isolate-test-records-XXXXXX");
        if (!mkdtemp(base))
                return -1;
        snprintf(own_dir, sizeof(own_dir), "%s/own", base);
        snprintf(host_dir, sizeof(host_dir), "%s/host", base);
        mkdir(own_dir, 0700);
        mkdir(host_dir, 0755);
        const char *names[] = {"utmp", "wtmp", "lastlog"};
        for (size_t i = 0; i < 3; i++) {
                touch(own_dir, names[i]);
                touch(host_dir, names[i]);
        }
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
        return system(cmd) == 0 ? 0 : -1;
}

static void append(const char *dir, const char *name, const void *rec, size_t len, off_t off)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, rec, len, off < 0 ? lseek(fd, 0, SEEK_END) : off), (ssize_t)len);
        close(fd);
}

static size_t read_all(const char *dir, const char *name, void *buf, size_t len)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        ssize_t n = pread(fd, buf, len, 0);
        close(fd);
        assert_true(n >= 0);
        return (size_t)n;
}

static struct utmp login_record(short type, const char *line, const char *user, pid_t pid)
{
        struct utmp ut;
        memset(&ut, 0, sizeof(ut));
        ut.ut_type = type;
        ut.ut_pid = pid;
        strncpy(ut.ut_line, line, sizeof(ut.ut_line));
        memcpy(ut.ut_id, "ts/0", 4);
        strncpy(ut.ut_user, user, sizeof(ut.ut_user));
        ut.ut_tv.tv_sec = 1700000000;
        return ut;
}

static void test_line_and_id(void **state)
{
        char out[32], id1[4], id2[4];
        records_line("pts/0", 32, "1f2e3d4c5b6a", out);
        assert_string_equal(out, "pts/0:1f2e3d");
        /* another session's pts/0 gets another line and another id */
        char other[32];
        records_line("pts/0", 32, "99aa88bb77cc", other);
        assert_string_equal(other, "pts/0:99aa88");
        records_id(out, 32, id1);
        records_id(other, 32, id2);
        assert_memory_not_equal(id1, id2, 4);
        for (int i = 0; i < 4; i++)
                assert_true((id1[i] >= 'A' && id1[i] <= 'Z') || (id1[i] >= 'a' && id1[i] <= 'z') ||
                            (id1[i] >= '0' && id1[i] <= '9'));
        /* what is not one of the session's ptys stays as it is */
        records_line("tty1", 32, "1f2e3d4c5b6a", out);
        assert_string_equal(out, "tty1");
        records_line("", 32, "1f2e3d4c5b6a", out);
        assert_string_equal(out, "");
        /* renamed once only */
        records_line("pts/0:1f2e3d", 32, "99aa88bb77cc", out);
        assert_string_equal(out, "pts/0:1f2e3d");
}

static void test_copy_login_and_logout(void **state)
{
        int own = open(own_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int host = open(host_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        char utmp_path[200];
        snprintf(utmp_path, sizeof(utmp_path), "%s/utmp", host_dir);
        int host_utmp = open(utmp_path, O_PATH | O_CLOEXEC);
        assert_true(own >= 0 && host >= 0 && host_utmp >= 0);
        struct records *r = calloc(1, sizeof(*r));
        assert_non_null(r);
        records_init(r, own, host, host_utmp, "abcdef012345", 1000);

        /* nothing yet */
        assert_int_equal(records_copy(r), 0);

        /* a record the session started with (the host's, copied at login) is not new */
        struct records *seeded = calloc(1, sizeof(*seeded));
        assert_non_null(seeded);
        struct lastlog first = {.ll_time = 1600000000};
        strcpy(first.ll_line, "pts/7:aaaaaa");
        append(own_dir, "lastlog", &first, sizeof(first), (off_t)1001 * sizeof(first));
        records_init(seeded, own, host, host_utmp, "abcdef012345", 1001);
        records_end(seeded);
        struct lastlog none;
        snprintf(utmp_path, sizeof(utmp_path), "%s/lastlog", host_dir);
        int lfd = open(utmp_path, O_RDONLY | O_CLOEXEC);
        assert_int_not_equal(pread(lfd, &none, sizeof(none), (off_t)1001 * sizeof(none)),
                             (ssize_t)sizeof(none));
        close(lfd);
        free(seeded);


        struct utmp in = login_record(USER_PROCESS, "pts/0", "alice", 4242);
        append(own_dir, "utmp", &in, sizeof(in), 0);
        append(own_dir, "wtmp", &in, sizeof(in), -1);
        assert_int_equal(records_copy(r), 2);
        struct utmp got[4];
        assert_int_equal(read_all(host_dir, "wtmp", got, sizeof(got)), sizeof(struct utmp));
        assert_string_equal(got[0].ut_line, "pts/0:abcdef");
        assert_string_equal(got[0].ut_user, "alice");
        assert_int_equal(got[0].ut_pid, 4242);
        assert_int_equal(read_all(host_dir, "utmp", got, sizeof(got)), sizeof(struct utmp));
        assert_int_equal(got[0].ut_type, USER_PROCESS);
        assert_string_equal(got[0].ut_line, "pts/0:abcdef");
        /* copied once: nothing new, nothing copied again */
        assert_int_equal(records_copy(r), 0);

        /* the lastlog record at the user's offset */
        struct lastlog ll = {.ll_time = 1700000001};
        strcpy(ll.ll_line, "pts/0");
        append(own_dir, "lastlog", &ll, sizeof(ll), (off_t)1000 * sizeof(ll));
        assert_int_equal(records_copy(r), 1);
        struct lastlog back;
        char path[256];
        snprintf(path, sizeof(path), "%s/lastlog", host_dir);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_int_equal(pread(fd, &back, sizeof(back), (off_t)1000 * sizeof(back)),
                         (ssize_t)sizeof(back));
        close(fd);
        assert_int_equal(back.ll_time, 1700000001);
        assert_string_equal(back.ll_line, "pts/0:abcdef");

        /* a monitor killed before its logout: the end marks the login dead on the host */
        records_end(r);
        assert_int_equal(read_all(host_dir, "utmp", got, sizeof(got)), sizeof(struct utmp));
        assert_int_equal(got[0].ut_type, DEAD_PROCESS);
        assert_int_equal(read_all(host_dir, "wtmp", got, sizeof(got)), 2 * sizeof(struct utmp));
        assert_int_equal(got[1].ut_type, DEAD_PROCESS);
        assert_string_equal(got[1].ut_line, "pts/0:abcdef");
        /* ended once */
        records_end(r);
        assert_int_equal(read_all(host_dir, "wtmp", got, sizeof(got)), 2 * sizeof(struct utmp));

        /* a logrotate on the host: the next record goes to the new wtmp, by name */
        char old[256], cur[256];
        snprintf(old, sizeof(old), "%s/wtmp.1", host_dir);
        snprintf(cur, sizeof(cur), "%s/wtmp", host_dir);
        assert_int_equal(rename(cur, old), 0);
        touch(host_dir, "wtmp");
        struct utmp again = login_record(USER_PROCESS, "pts/1", "alice", 4243);
        append(own_dir, "wtmp", &again, sizeof(again), -1);
        assert_int_equal(records_copy(r), 1);
        assert_int_equal(read_all(host_dir, "wtmp", got, sizeof(got)), sizeof(struct utmp));
        assert_string_equal(got[0].ut_line, "pts/1:abcdef");
        free(r);
        close(own);
        close(host);
        close(host_utmp);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_line_and_id),
            cmocka_unit_test_setup_teardown(test_copy_login_and_logout, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

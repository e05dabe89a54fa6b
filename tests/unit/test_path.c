/* test_path.c: path_open() follows only root's own symlinks, and mountinfo_unescape() turns
 * mountinfo's octal escapes back into bytes. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "skip_because.h"

#include "../../client/path.h"
#include "test_fork.h"

/* ---- mountinfo_unescape ----------------------------------------------------------------- */

static void expect_unescaped(const char *in, const char *want)
{
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", in);
        mountinfo_unescape(buf);
        assert_string_equal(buf, want);
}

static void test_unescape(void **state)
{
        expect_unescaped("/srv/plain", "/srv/plain");
        expect_unescaped("", "");
        expect_unescaped("/srv/sub\\040dir", "/srv/sub dir");
        expect_unescaped("\\040lead and trail\\040", " lead and trail ");
        expect_unescaped("/a\\011b\\012c\\134d", "/a\tb\nc\\d");
        expect_unescaped("/x\\134040", "/x\\040"); /* an escaped backslash, then "040" */
        expect_unescaped("/\\303\\251t\\303\\251", "/\xc3\xa9t\xc3\xa9"); /* UTF-8 */
}

static void test_unescape_leaves_what_is_not_an_escape(void **state)
{
        expect_unescaped("/a\\04", "/a\\04");     /* too short */
        expect_unescaped("/a\\", "/a\\");         /* at the end */
        expect_unescaped("/a\\400b", "/a\\400b"); /* more than a byte */
        expect_unescaped("/a\\08x", "/a\\08x");   /* not octal */
        expect_unescaped("/a\\x20", "/a\\x20");
}

/* ---- path_open, as any user: below /tmp, which users can write ---------------------------- */

static char tmp[64];

static void at(char *buf, size_t len, const char *rel)
{
        snprintf(buf, len, "%s/%s", tmp, rel);
}

static int tmp_setup(void **state)
{
        strcpy(tmp, "/tmp/isolate-test-path-XXXXXX");
        if (!mkdtemp(tmp))
                return -1;
        char p[256], q[256];
        at(p, sizeof(p), "home");
        if (mkdir(p, 0755) < 0)
                return -1;
        at(p, sizeof(p), "home/sub");
        if (mkdir(p, 0755) < 0)
                return -1;
        at(p, sizeof(p), "home/file");
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return -1;
        close(fd);
        at(p, sizeof(p), "home/link");
        if (symlink("/etc", p) < 0)
                return -1;
        at(p, sizeof(p), "home/sub/up");
        if (symlink("..", p) < 0)
                return -1;
        at(q, sizeof(q), "home");
        at(p, sizeof(p), "homelink");
        return symlink(q, p) < 0 ? -1 : 0;
}

static int tmp_teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        return system(cmd) == 0 ? 0 : -1;
}

/* path_open's result; on success the fd is checked to be `want` (NULL: not checked). */
static int open_as(const char *path, size_t home_len, unsigned flags, const char *want)
{
        int fd = -1;
        int r = path_open(path, home_len, flags, &fd);
        if (r < 0) {
                assert_int_equal(fd, -1);
                return r;
        }
        assert_true(fd >= 0);
        int fl = fcntl(fd, F_GETFL);
        assert_true(fl & O_PATH);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        if (want) {
                struct stat a, b;
                assert_int_equal(fstat(fd, &a), 0);
                assert_int_equal(lstat(want, &b), 0);
                assert_int_equal(a.st_dev, b.st_dev);
                assert_int_equal(a.st_ino, b.st_ino);
        }
        close(fd);
        return 0;
}

static void test_plain_paths(void **state)
{
        char p[256];
        assert_int_equal(open_as("/", 0, 0, "/"), 0);
        at(p, sizeof(p), "home/file");
        assert_int_equal(open_as(p, 0, 0, p), 0);
        at(p, sizeof(p), "home//sub/./");
        char want[256];
        at(want, sizeof(want), "home/sub");
        assert_int_equal(open_as(p, 0, 0, want), 0);
        at(p, sizeof(p), "home/missing");
        assert_int_equal(open_as(p, 0, 0, NULL), -ENOENT);
        at(p, sizeof(p), "home/file/below");
        assert_int_equal(open_as(p, 0, 0, NULL), -ENOTDIR);
        assert_int_equal(open_as("relative/path", 0, 0, NULL), -EINVAL);
}

static void test_symlink_below_a_directory_users_can_write_refused(void **state)
{
        char p[256];
        /* /tmp is writable by all: whoever made these links, a user could have */
        at(p, sizeof(p), "home/link");
        assert_int_equal(open_as(p, 0, 0, NULL), -ELOOP);
        at(p, sizeof(p), "home/link/passwd");
        assert_int_equal(open_as(p, 0, 0, NULL), -ELOOP);
        at(p, sizeof(p), "homelink/file");
        assert_int_equal(open_as(p, 0, 0, NULL), -ELOOP);
        at(p, sizeof(p), "home/sub/up/file");
        assert_int_equal(open_as(p, 0, 0, NULL), -ELOOP);
        /* ".." below such a directory leads where the user moved things */
        at(p, sizeof(p), "home/sub/../file");
        assert_int_equal(open_as(p, 0, 0, NULL), -EXDEV);
}

static void test_nofollow_gives_the_link_itself(void **state)
{
        char p[256];
        at(p, sizeof(p), "home/link");
        assert_int_equal(open_as(p, 0, PATH_OPEN_NOFOLLOW, p), 0);
        int fd = -1;
        assert_int_equal(path_open(p, 0, PATH_OPEN_NOFOLLOW, &fd), 0);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        close(fd);
        /* only the last component */
        at(p, sizeof(p), "home/link/passwd");
        assert_int_equal(open_as(p, 0, PATH_OPEN_NOFOLLOW, NULL), -ELOOP);
}

static void test_beneath_the_home(void **state)
{
        char home[256], p[256];
        at(home, sizeof(home), "home");
        size_t len = strlen(home);
        assert_int_equal(open_as(home, len, 0, home), 0);
        at(p, sizeof(p), "home/sub");
        assert_int_equal(open_as(p, len, 0, p), 0);
        at(p, sizeof(p), "home/link");
        assert_int_equal(open_as(p, len, 0, NULL), -ELOOP);
        assert_int_equal(open_as(p, len, PATH_OPEN_NOFOLLOW, p), 0);
        at(p, sizeof(p), "home/sub/up/file");
        assert_int_equal(open_as(p, len, 0, NULL), -ELOOP);
        at(p, sizeof(p), "home/missing");
        assert_int_equal(open_as(p, len, 0, NULL), -ENOENT);
        /* the home itself through a link that is not root's alone */
        at(p, sizeof(p), "homelink/sub");
        assert_int_equal(open_as(p, strlen(tmp) + strlen("/homelink"), 0, NULL), -ELOOP);
}

/* ---- path_open as root: root's own symlinks, in a mount namespace of the test's own -------
 *
 * A fresh tmpfs on /mnt (root's, mode 0755, in root's /) holds a tree of directories of
 * every kind. Runs in a child: the checks report the number of the first one that failed. */

#define CHECK(n, cond)                                                                             \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "check %d failed: %s\n", (n), #cond);                      \
                        return (n);                                                                \
                }                                                                                  \
        } while (0)

static int open_r(const char *path, unsigned flags, ino_t *ret_ino)
{
        int fd = -1;
        int r = path_open(path, 0, flags, &fd);
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(fd, &st) < 0)
                r = -errno;
        else if (ret_ino)
                *ret_ino = st.st_ino;
        close(fd);
        return r;
}

static ino_t ino_of(const char *path)
{
        struct stat st;
        return lstat(path, &st) == 0 ? st.st_ino : 0;
}

static int mk(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
        if (mkdir(path, mode) < 0 || chmod(path, mode) < 0 || chown(path, uid, gid) < 0)
                return -1;
        return 0;
}

static int root_checks(void)
{
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", "/mnt", "tmpfs", 0, "mode=0755,size=1m") < 0)
                return 100;
        if (mk("/mnt/real", 0755, 0, 0) < 0 || mk("/mnt/real/deep", 0755, 0, 0) < 0 ||
            mk("/mnt/shared", 01777, 0, 0) < 0 || mk("/mnt/shared/rootdir", 0755, 0, 0) < 0 ||
            mk("/mnt/users", 0755, 1000, 1000) < 0 || mk("/mnt/grp-root", 0775, 0, 0) < 0 ||
            mk("/mnt/grp-other", 0775, 0, 100) < 0 || symlink("real", "/mnt/alias") < 0 ||
            symlink("/mnt/real", "/mnt/abs") < 0 || symlink("../mnt/real/deep", "/mnt/rel") < 0 ||
            symlink("alias", "/mnt/alias2") < 0 || symlink("shared", "/mnt/to-shared") < 0 ||
            symlink("/mnt/real", "/mnt/shared/link") < 0 ||
            symlink("/mnt/real", "/mnt/shared/rootdir/link") < 0 ||
            symlink("/mnt/real", "/mnt/users/link") < 0 ||
            symlink("/mnt/real", "/mnt/grp-root/link") < 0 ||
            symlink("/mnt/real", "/mnt/grp-other/link") < 0 ||
            symlink("loop-b", "/mnt/loop-a") < 0 || symlink("loop-a", "/mnt/loop-b") < 0 ||
            symlink("/mnt/real", "/mnt/real/deep/back") < 0)
                return 101;
        ino_t real = ino_of("/mnt/real"), deep = ino_of("/mnt/real/deep"), ino = 0;

        /* root's links in root's directories: followed, relative, absolute, chained, ".." */
        CHECK(1, open_r("/mnt/alias", 0, &ino) == 0 && ino == real);
        CHECK(2, open_r("/mnt/abs/deep", 0, &ino) == 0 && ino == deep);
        CHECK(3, open_r("/mnt/rel", 0, &ino) == 0 && ino == deep);
        CHECK(4, open_r("/mnt/alias2/deep/back/deep", 0, &ino) == 0 && ino == deep);
        CHECK(5, open_r("/mnt/real/deep/../deep", 0, &ino) == 0 && ino == deep);
        CHECK(6,
              open_r("/mnt/alias", PATH_OPEN_NOFOLLOW, &ino) == 0 && ino == ino_of("/mnt/alias"));
        /* group root may write and still be root's */
        CHECK(7, open_r("/mnt/grp-root/link", 0, &ino) == 0 && ino == real);
        /* anyone else who can write the directory could have made the link */
        CHECK(8, open_r("/mnt/grp-other/link", 0, NULL) == -ELOOP);
        CHECK(9, open_r("/mnt/users/link", 0, NULL) == -ELOOP);
        CHECK(10, open_r("/mnt/shared/link", 0, NULL) == -ELOOP);
        /* below a directory users can write nothing is root's alone, whoever owns it now */
        CHECK(11, open_r("/mnt/shared/rootdir/link", 0, NULL) == -ELOOP);
        CHECK(12, open_r("/mnt/to-shared/link", 0, NULL) == -ELOOP);
        CHECK(13, open_r("/mnt/to-shared/rootdir", 0, NULL) == 0);
        /* the kernel's limits */
        CHECK(14, open_r("/mnt/loop-a", 0, NULL) == -ELOOP);
        /* what the Landlock plan always asks for, on this host */
        struct stat st;
        if (lstat("/var/run", &st) == 0 && S_ISLNK(st.st_mode))
                CHECK(15, open_r("/var/run", 0, &ino) == 0 && ino == ino_of("/run"));
        if (access("/var/run/utmp", F_OK) == 0)
                CHECK(16, open_r("/var/run/utmp", 0, &ino) == 0 && ino == ino_of("/run/utmp"));
        return 0;
}

static void test_roots_own_symlinks_followed(void **state)
{
        if (geteuid() != 0) {
                skip_because("runs as root only (make check runs as root)");
                return;
        }
        struct stat st;
        if (stat("/mnt", &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
                skip_because("this host has no /mnt that is a root-owned directory, not "
                             "writable by group or others");
                return;
        }
        pid_t pid = test_fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(root_checks());
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_unescape),
            cmocka_unit_test(test_unescape_leaves_what_is_not_an_escape),
            cmocka_unit_test_setup_teardown(test_plain_paths, tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_symlink_below_a_directory_users_can_write_refused,
                                            tmp_setup, tmp_teardown),
            cmocka_unit_test_setup_teardown(test_nofollow_gives_the_link_itself, tmp_setup,
                                            tmp_teardown),
            cmocka_unit_test_setup_teardown(test_beneath_the_home, tmp_setup, tmp_teardown),
            cmocka_unit_test(test_roots_own_symlinks_followed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

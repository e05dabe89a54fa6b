/* test_landlock.c: a plan from lsm_plan() applied by landlock_apply() in a forked child on
 * this kernel; what the child can then write, create and read, and with scoping (ABI 6)
 * which abstract unix sockets and processes it still reaches. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "skip_because.h"

#include "../../client/landlock.h"
#include "../../session-helper/lsm.h"
#include "test_fork.h"

static char root[64];

static void path_of(char *buf, size_t len, const char *rel)
{
        snprintf(buf, len, "%s/%s", root, rel);
}

static void make_file(const char *rel)
{
        char p[256];
        path_of(p, sizeof(p), rel);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "data\n", 5), 5);
        close(fd);
}

static int setup(void **state)
{
        if (landlock_abi_version() < 1)
                return 0; /* the tests skip */
        strcpy(root, "/tmp/isolate-test-landlock-XXXXXX");
        if (!mkdtemp(root))
                return -1;
        const char *dirs[] = {"home", "home/sub", "other", "ro", NULL};
        for (const char **d = dirs; *d; d++) {
                char p[256];
                path_of(p, sizeof(p), *d);
                if (mkdir(p, 0755) < 0)
                        return -1;
        }
        make_file("other/existing");
        make_file("ro/file");
        make_file("home/a");
        return 0;
}

static int teardown(void **state)
{
        if (!root[0])
                return 0;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

/* What the child tries after landlock_apply, in this order; each reports 0 or errno. */
enum probe {
        CREATE_IN_HOME,
        CREATE_IN_OTHER,
        WRITE_OTHER_EXISTING,
        READ_OTHER_EXISTING,
        READ_RO_FILE,
        WRITE_RO_FILE,
        WRITE_DEV_NULL,
        RENAME_IN_HOME,
        MKDIR_IN_OTHER,
        TRUNCATE_OTHER_EXISTING,
        N_PROBES,
};

static int try_open(const char *rel, int flags)
{
        char p[256];
        path_of(p, sizeof(p), rel);
        int fd = open(p, flags | O_CLOEXEC, 0644);
        if (fd < 0)
                return errno;
        close(fd);
        return 0;
}

static void run_probes(int *res)
{
        char a[256], b[256];
        res[CREATE_IN_HOME] = try_open("home/new", O_WRONLY | O_CREAT);
        res[CREATE_IN_OTHER] = try_open("other/new", O_WRONLY | O_CREAT);
        res[WRITE_OTHER_EXISTING] = try_open("other/existing", O_WRONLY);
        res[READ_OTHER_EXISTING] = try_open("other/existing", O_RDONLY);
        res[READ_RO_FILE] = try_open("ro/file", O_RDONLY);
        res[WRITE_RO_FILE] = try_open("ro/file", O_WRONLY);
        res[WRITE_DEV_NULL] = open("/dev/null", O_WRONLY | O_CLOEXEC) >= 0 ? 0 : errno;
        path_of(a, sizeof(a), "home/a");
        path_of(b, sizeof(b), "home/sub/a"); /* another directory: needs REFER */
        res[RENAME_IN_HOME] = rename(a, b) == 0 ? 0 : errno;
        path_of(a, sizeof(a), "other/dir");
        res[MKDIR_IN_OTHER] = mkdir(a, 0755) == 0 ? 0 : errno;
        path_of(a, sizeof(a), "other/existing");
        res[TRUNCATE_OTHER_EXISTING] = truncate(a, 0) == 0 ? 0 : errno;
}

/* Plans p, applies it in a child, runs the probes there. Returns landlock_apply's result. */
static int apply_in_child(const struct policy *p, int *res)
{
        char home[128];
        path_of(home, sizeof(home), "home");
        struct join_spec j;
        join_spec_init(&j);
        char warnings[1024] = "";
        struct isolate_error err = {0};
        int r = lsm_plan(p, home, &j, warnings, sizeof(warnings), &err);
        if (r < 0)
                fail_msg("lsm_plan: %s", err.msg);
        assert_true(j.landlock_handled != 0);

        int pfd[2];
        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        pid_t pid = test_fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(pfd[0]);
                struct isolate_error cerr = {0};
                int out[N_PROBES + 1];
                memset(out, 0, sizeof(out));
                out[0] = landlock_apply(&j, &cerr);
                if (out[0] == 0)
                        run_probes(out + 1);
                if (write(pfd[1], out, sizeof(out)) != (ssize_t)sizeof(out))
                        _exit(1);
                _exit(0);
        }
        close(pfd[1]);
        int out[N_PROBES + 1];
        assert_int_equal(read(pfd[0], out, sizeof(out)), (ssize_t)sizeof(out));
        close(pfd[0]);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        memcpy(res, out + 1, sizeof(int) * N_PROBES);
        join_spec_free(&j);
        return out[0];
}

static struct policy policy_new(void)
{
        struct policy p;
        memset(&p, 0, sizeof(p));
        p.name = (char *)"strict";
        return p;
}

static void test_read_write_home_only(void **state)
{
        if (landlock_abi_version() < 1)
                skip_because("this kernel has no Landlock (landlock_create_ruleset: %m)");
        struct policy p = policy_new();
        char *rw[] = {"$HOME", NULL};
        p.landlock_read_write = (struct strv){rw, 1};
        int res[N_PROBES];
        assert_int_equal(apply_in_child(&p, res), 0);
        assert_int_equal(res[CREATE_IN_HOME], 0);
        assert_int_equal(res[CREATE_IN_OTHER], EACCES);
        assert_int_equal(res[WRITE_OTHER_EXISTING], EACCES);
        assert_int_equal(res[MKDIR_IN_OTHER], EACCES);
        if (landlock_abi_version() >= 3)
                assert_int_equal(res[TRUNCATE_OTHER_EXISTING], EACCES);
        /* nothing read-only listed: reading is not restricted */
        assert_int_equal(res[READ_OTHER_EXISTING], 0);
        assert_int_equal(res[READ_RO_FILE], 0);
        /* /dev is always writable (the monitor's ptys); rename across home's dirs works
         * where the kernel can allow reparenting (REFER, ABI 2): at ABI 1 it never can */
        assert_int_equal(res[WRITE_DEV_NULL], 0);
        assert_int_equal(res[RENAME_IN_HOME], landlock_abi_version() >= 2 ? 0 : EXDEV);
}

static void test_read_only_paths(void **state)
{
        if (landlock_abi_version() < 1)
                skip_because("this kernel has no Landlock (landlock_create_ruleset: %m)");
        char ro[128];
        path_of(ro, sizeof(ro), "ro");
        struct policy p = policy_new();
        char *rw[] = {"~", NULL};
        char *rov[] = {ro, NULL};
        p.landlock_read_write = (struct strv){rw, 1};
        p.landlock_read_only = (struct strv){rov, 1};
        int res[N_PROBES];
        assert_int_equal(apply_in_child(&p, res), 0);
        assert_int_equal(res[READ_RO_FILE], 0);
        assert_int_equal(res[WRITE_RO_FILE], EACCES);
        /* reads are handled now: outside the listed paths they are denied too */
        assert_int_equal(res[READ_OTHER_EXISTING], EACCES);
        assert_int_equal(res[CREATE_IN_HOME], 0);
        assert_int_equal(res[WRITE_DEV_NULL], 0);
}

static void test_file_rule(void **state)
{
        if (landlock_abi_version() < 1)
                skip_because("this kernel has no Landlock (landlock_create_ruleset: %m)");
        char file[128];
        path_of(file, sizeof(file), "other/existing");
        struct policy p = policy_new();
        char *rw[] = {file, NULL};
        p.landlock_read_write = (struct strv){rw, 1};
        int res[N_PROBES];
        assert_int_equal(apply_in_child(&p, res), 0);
        assert_int_equal(res[WRITE_OTHER_EXISTING], 0);
        assert_int_equal(res[CREATE_IN_OTHER], EACCES);
        assert_int_equal(res[CREATE_IN_HOME], EACCES);
}

static void test_older_abi_plan(void **state)
{
        /* a plan made for ABI 1 still applies on this kernel and still confines */
        if (landlock_abi_version() < 1)
                skip_because("this kernel has no Landlock (landlock_create_ruleset: %m)");
        lsm_set_landlock_abi(1);
        struct policy p = policy_new();
        char *rw[] = {"$HOME", NULL};
        p.landlock_read_write = (struct strv){rw, 1};
        int res[N_PROBES];
        int r = apply_in_child(&p, res);
        lsm_set_landlock_abi(-1);
        assert_int_equal(r, 0);
        assert_int_equal(res[CREATE_IN_HOME], 0);
        assert_int_equal(res[CREATE_IN_OTHER], EACCES);
        /* REFER is not handled at ABI 1, so the kernel forbids any reparenting */
        assert_int_equal(res[RENAME_IN_HOME], EXDEV);
}

static void test_path_gone_at_apply(void **state)
{
        /* a path that is missing in the session's view is skipped, not fatal */
        if (landlock_abi_version() < 1)
                skip_because("this kernel has no Landlock (landlock_create_ruleset: %m)");
        struct join_spec j;
        join_spec_init(&j);
        j.landlock_handled = LANDLOCK_ACCESS_FS_WRITE_FILE;
        j.landlock = calloc(2, sizeof(*j.landlock));
        j.n_landlock = 2;
        j.landlock[0].access = LANDLOCK_ACCESS_FS_WRITE_FILE;
        snprintf(j.landlock[0].path, sizeof(j.landlock[0].path), "%s/vanished", root);
        j.landlock[1].access = LANDLOCK_ACCESS_FS_WRITE_FILE;
        snprintf(j.landlock[1].path, sizeof(j.landlock[1].path), "/dev");
        pid_t pid = test_fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct isolate_error err = {0};
                if (landlock_apply(&j, &err) < 0)
                        _exit(2);
                int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                char p[256];
                path_of(p, sizeof(p), "other/existing");
                int fd2 = open(p, O_WRONLY | O_CLOEXEC);
                _exit(fd >= 0 && fd2 < 0 && errno == EACCES ? 0 : 3);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        join_spec_free(&j);
}

static void test_noop_without_rules(void **state)
{
        struct join_spec j;
        join_spec_init(&j);
        struct isolate_error err = {0};
        assert_int_equal(landlock_apply(&j, &err), 0);
        /* and this process is not restricted: it can still create files anywhere */
        char p[256];
        snprintf(p, sizeof(p), "/tmp/isolate-test-landlock-noop-%d", (int)getpid());
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
        unlink(p);
}

/* ---- scoping (ABI 6) ---------------------------------------------------------------------- */

/* An abstract stream socket "@name" bound and listening: its fd, or -1 with errno. */
static int abstract_listen(const char *name)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        size_t len = strlen(name);
        memcpy(a.sun_path + 1, name, len);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        if (bind(fd, (struct sockaddr *)&a,
                 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) < 0 ||
            listen(fd, 4) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* 0 when a connect to "@name" succeeds, else its errno. */
static int abstract_connect(const char *name)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        size_t len = strlen(name);
        memcpy(a.sun_path + 1, name, len);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return errno;
        int r = connect(fd, (struct sockaddr *)&a,
                        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) < 0
                    ? errno
                    : 0;
        close(fd);
        return r;
}

enum scope_probe {
        APPLY,           /* landlock_apply: 0 or the error's code */
        CONNECT_OUTSIDE, /* to a socket the parent bound before the child's domain */
        SIGNAL_OUTSIDE,  /* kill(0) of a process outside the domain, of the same uid */
        CONNECT_INSIDE,  /* to a socket a process of the domain bound */
        SIGNAL_INSIDE,   /* kill(0) of a process of the domain */
        CREATE_FILE,     /* filesystem rights are not handled: still allowed */
        N_SCOPE_PROBES,
};

/* Applies j in a child and probes what it reaches: a socket and a process made outside its
 * domain, a socket and a process made inside (by a grandchild). */
static void scope_probe_in_child(struct join_spec *j, int *res)
{
        char outside[64], inside[64];
        snprintf(outside, sizeof(outside), "isolate-test-landlock-out-%d", (int)getpid());
        snprintf(inside, sizeof(inside), "isolate-test-landlock-in-%d", (int)getpid());
        int lfd = abstract_listen(outside);
        assert_true(lfd >= 0);
        pid_t sibling = test_fork();
        assert_true(sibling >= 0);
        if (sibling == 0) {
                pause();
                _exit(0);
        }
        int pfd[2];
        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        pid_t pid = test_fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(pfd[0]);
                int out[N_SCOPE_PROBES] = {0};
                struct isolate_error err = {0};
                out[APPLY] = landlock_apply(j, &err) < 0 ? err.code : 0;
                if (out[APPLY] == 0) {
                        out[CONNECT_OUTSIDE] = abstract_connect(outside);
                        out[SIGNAL_OUTSIDE] = kill(sibling, 0) < 0 ? errno : 0;
                        int ifd = abstract_listen(inside);
                        pid_t g = fork();
                        if (g == 0) {
                                pause();
                                _exit(0);
                        }
                        out[CONNECT_INSIDE] = ifd < 0 ? errno : abstract_connect(inside);
                        out[SIGNAL_INSIDE] = g < 0 ? errno : kill(g, 0) < 0 ? errno : 0;
                        if (g > 0) {
                                kill(g, SIGKILL);
                                waitpid(g, NULL, 0);
                        }
                        char p[128];
                        snprintf(p, sizeof(p), "/tmp/isolate-test-landlock-scoped-%d",
                                 (int)getpid());
                        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                        out[CREATE_FILE] = fd < 0 ? errno : 0;
                        if (fd >= 0) {
                                close(fd);
                                unlink(p);
                        }
                }
                _exit(write(pfd[1], out, sizeof(out)) == (ssize_t)sizeof(out) ? 0 : 1);
        }
        close(pfd[1]);
        assert_int_equal(read(pfd[0], res, sizeof(int) * N_SCOPE_PROBES),
                         (ssize_t)(sizeof(int) * N_SCOPE_PROBES));
        close(pfd[0]);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        kill(sibling, SIGKILL);
        assert_int_equal(waitpid(sibling, &st, 0), sibling);
        close(lfd);
}

static void test_scoped_both(void **state)
{
        if (landlock_abi_version() < LANDLOCK_SCOPE_ABI)
                skip_because("this kernel's Landlock ABI is %d: scoping needs ABI %d (Linux 6.12)",
                             landlock_abi_version(), LANDLOCK_SCOPE_ABI);
        struct join_spec j;
        join_spec_init(&j);
        j.landlock_scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
        int res[N_SCOPE_PROBES];
        scope_probe_in_child(&j, res);
        assert_int_equal(res[APPLY], 0);
        assert_int_equal(res[CONNECT_OUTSIDE], EPERM);
        assert_int_equal(res[SIGNAL_OUTSIDE], EPERM);
        /* what the domain made itself, it reaches */
        assert_int_equal(res[CONNECT_INSIDE], 0);
        assert_int_equal(res[SIGNAL_INSIDE], 0);
        assert_int_equal(res[CREATE_FILE], 0);
        join_spec_free(&j);
}

static void test_scoped_one_of_them(void **state)
{
        if (landlock_abi_version() < LANDLOCK_SCOPE_ABI)
                skip_because("this kernel's Landlock ABI is %d: scoping needs ABI %d (Linux 6.12)",
                             landlock_abi_version(), LANDLOCK_SCOPE_ABI);
        struct join_spec j;
        join_spec_init(&j);
        int res[N_SCOPE_PROBES];
        j.landlock_scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
        scope_probe_in_child(&j, res);
        assert_int_equal(res[APPLY], 0);
        assert_int_equal(res[CONNECT_OUTSIDE], EPERM);
        assert_int_equal(res[SIGNAL_OUTSIDE], 0);

        j.landlock_scoped = LANDLOCK_SCOPE_SIGNAL;
        scope_probe_in_child(&j, res);
        assert_int_equal(res[APPLY], 0);
        assert_int_equal(res[CONNECT_OUTSIDE], 0);
        assert_int_equal(res[SIGNAL_OUTSIDE], EPERM);
        join_spec_free(&j);
}

/* With fs rules as well: one ruleset, one domain, both confine. */
static void test_scoped_with_paths(void **state)
{
        if (landlock_abi_version() < LANDLOCK_SCOPE_ABI)
                skip_because("this kernel's Landlock ABI is %d: scoping needs ABI %d (Linux 6.12)",
                             landlock_abi_version(), LANDLOCK_SCOPE_ABI);
        struct policy p = policy_new();
        char *rw[] = {"$HOME", NULL};
        p.landlock_read_write = (struct strv){rw, 1};
        int res[N_PROBES];
        /* auto, scope = login: scoped too; the probes of the filesystem are unchanged */
        assert_int_equal(apply_in_child(&p, res), 0);
        assert_int_equal(res[CREATE_IN_HOME], 0);
        assert_int_equal(res[CREATE_IN_OTHER], EACCES);

        char home[128];
        path_of(home, sizeof(home), "home");
        struct join_spec j;
        join_spec_init(&j);
        char warnings[1024] = "";
        struct isolate_error err = {0};
        assert_int_equal(lsm_plan(&p, home, &j, warnings, sizeof(warnings), &err), 0);
        assert_int_equal(j.landlock_scoped,
                         LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL);
        int sres[N_SCOPE_PROBES];
        scope_probe_in_child(&j, sres);
        assert_int_equal(sres[APPLY], 0);
        assert_int_equal(sres[CONNECT_OUTSIDE], EPERM);
        assert_int_equal(sres[SIGNAL_OUTSIDE], EPERM);
        assert_int_equal(sres[CREATE_FILE], EACCES); /* /tmp is not in the rules */
        join_spec_free(&j);
}

/* A scope the running kernel lacks (here one no ABI has) is refused, never dropped. */
static void test_scope_the_kernel_lacks(void **state)
{
        if (landlock_abi_version() < 1)
                skip_because("this kernel has no Landlock (landlock_create_ruleset: %m)");
        struct join_spec j;
        join_spec_init(&j);
        j.landlock_scoped = landlock_scoped_for_abi(landlock_abi_version()) | (1ULL << 40);
        int res[N_SCOPE_PROBES];
        scope_probe_in_child(&j, res);
        assert_int_equal(res[APPLY], EOPNOTSUPP);
        struct isolate_error err = {0};
        pid_t pid = test_fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(landlock_apply(&j, &err) == -EOPNOTSUPP &&
                              strstr(err.msg, "Landlock scoping") && strstr(err.msg, "lacks")
                          ? 0
                          : 1);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        join_spec_free(&j);
}

static void test_scoped_for_abi(void **state)
{
        assert_int_equal(landlock_scoped_for_abi(0), 0);
        assert_int_equal(landlock_scoped_for_abi(5), 0);
        assert_int_equal(landlock_scoped_for_abi(6), 3);
        assert_int_equal(landlock_scoped_for_abi(7), 3);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_read_write_home_only, setup, teardown),
            cmocka_unit_test_setup_teardown(test_read_only_paths, setup, teardown),
            cmocka_unit_test_setup_teardown(test_file_rule, setup, teardown),
            cmocka_unit_test_setup_teardown(test_older_abi_plan, setup, teardown),
            cmocka_unit_test_setup_teardown(test_path_gone_at_apply, setup, teardown),
            cmocka_unit_test(test_noop_without_rules),
            cmocka_unit_test(test_scoped_both),
            cmocka_unit_test(test_scoped_one_of_them),
            cmocka_unit_test_setup_teardown(test_scoped_with_paths, setup, teardown),
            cmocka_unit_test(test_scope_the_kernel_lacks),
            cmocka_unit_test(test_scoped_for_abi),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_cgroup_systemd: the systemd backend (session-helper/cgroup-systemd.c).
 *
 * Run without arguments: cmocka tests of everything that needs no bus: the caller's scope
 * found from /proc/PID/cgroup, a caller outside user-UID.slice (su from another user's
 * session, for a new sandbox and a join), a policy without caps (no
 * call at all), an unreachable bus, nothing written to cgroupfs, nothing for the init to
 * remove, the registry text.
 *
 * Run as `test_cgroup_systemd --drive DIR UID [key=value...]`: a driver for
 * tests/integration/test_cgroup_systemd.py, which puts python3-dbusmock on a private bus
 * (DBUS_SYSTEM_BUS_ADDRESS) in systemd's place and checks the D-Bus calls. DIR holds the
 * fake host (mountinfo, sys/fs/cgroup, proc/4242/cgroup for the caller, sys/ for block
 * devices); keys: memory_max memory_high swap_max pids_max cpu_max_percent cpu_weight
 * (a number or "max"), caps_required=1, io=TARGET,RBPS,WBPS,RIOPS,WIOPS ("-" unset),
 * own_unit=PID (then cgroup_session_own_unit for PID, as for a user-scope sandbox),
 * join=1 (instead of a new session: the helper's join of a live sandbox, the caller's place
 * checked, then the caps set),
 * timeout_ms=N (helper_timeout). Prints "ok", the warnings and the registry text, or
 * "error: MESSAGE" and exits 1. (A driver
 * here because tests/tools/ programs link no library.) */
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

#include "cgroup_fixture.h"
#include "fake_cgroupfs.h"

#include "../../session-helper/cgroup.h"
#include "../../session-helper/devices.h"
#include "../../session-helper/registry.h"

/* ---- driver ------------------------------------------------------------------------------ */

static int limit_arg(const char *v, uint64_t *ret)
{
        if (strcmp(v, "max") == 0) {
                *ret = LIMIT_MAX;
                return 0;
        }
        if (strcmp(v, "-") == 0) {
                *ret = LIMIT_UNSET;
                return 0;
        }
        return safe_atou64(v, ret);
}

static int drive(int argc, char **argv)
{
        if (argc < 4) {
                fprintf(stderr, "usage: %s --drive DIR UID [key=value...]\n", argv[0]);
                return 2;
        }
        const char *dir = argv[2];
        uint64_t uid;
        if (safe_atou64(argv[3], &uid) < 0)
                return 2;
        char a[PATH_MAX], b[PATH_MAX];
        snprintf(a, sizeof(a), "%s/sys/fs/cgroup", dir);
        snprintf(b, sizeof(b), "%s/mountinfo", dir);
        fake_cgroupfs_set(a, b);
        snprintf(a, sizeof(a), "%s/proc", dir);
        cgroup_set_proc_root(a);
        snprintf(a, sizeof(a), "%s/sys", dir);
        device_set_sysfs_root(a);

        struct policy p;
        policy_unset(&p);
        struct io_limit io[8];
        char *copies[8];
        size_t n_io = 0;
        uint64_t own_unit = 0, timeout_ms = 10000, join = 0;
        for (int i = 4; i < argc; i++) {
                char *eq = strchr(argv[i], '=');
                if (!eq)
                        return 2;
                *eq = '\0';
                const char *k = argv[i], *v = eq + 1;
                struct {
                        const char *name;
                        uint64_t *slot;
                } keys[] = {{"memory_max", &p.memory_max},
                            {"memory_high", &p.memory_high},
                            {"swap_max", &p.swap_max},
                            {"pids_max", &p.pids_max},
                            {"cpu_max_percent", &p.cpu_max_percent},
                            {"cpu_weight", &p.cpu_weight},
                            {"own_unit", &own_unit},
                            {"join", &join},
                            {"timeout_ms", &timeout_ms}};
                bool done = false;
                for (size_t j = 0; j < ELEMENTSOF(keys); j++)
                        if (strcmp(k, keys[j].name) == 0) {
                                if (limit_arg(v, keys[j].slot) < 0)
                                        return 2;
                                done = true;
                        }
                if (strcmp(k, "caps_required") == 0) {
                        p.caps_required = strcmp(v, "1") == 0;
                        done = true;
                }
                if (strcmp(k, "io") == 0 && n_io < ELEMENTSOF(io)) {
                        char *f[5], *save = NULL, *copy = strdup(v);
                        if (!copy)
                                return 3;
                        copies[n_io] = copy;
                        size_t n = 0;
                        for (char *t = strtok_r(copy, ",", &save); t && n < 5;
                             t = strtok_r(NULL, ",", &save))
                                f[n++] = t;
                        if (n != 5)
                                return 2;
                        struct io_limit *l = &io[n_io++];
                        memset(l, 0, sizeof(*l));
                        l->target = f[0];
                        l->line = (int)(20 + n_io);
                        if (limit_arg(f[1], &l->read_bps) < 0 ||
                            limit_arg(f[2], &l->write_bps) < 0 ||
                            limit_arg(f[3], &l->read_iops) < 0 ||
                            limit_arg(f[4], &l->write_iops) < 0)
                                return 2;
                        done = true;
                }
                if (!done) {
                        fprintf(stderr, "unknown key %s\n", k);
                        return 2;
                }
        }
        p.io = io;
        p.n_io = n_io;
        struct config c = {.file = "/etc/isolate.conf",
                           .cgroup_backend = CGROUP_BACKEND_SYSTEMD,
                           .cgroup_root = "isolate",
                           .helper_timeout_ms = (unsigned)timeout_ms};
        static struct cgroup_session s;
        char warnings[4096];
        struct isolate_error err = {0};
        int r;
        if (join) { /* a login joining live sandbox drive0: where its caller is, then the caps */
                warnings[0] = '\0';
                s.backend = CGROUP_BACKEND_SYSTEMD;
                r = cgroup_session_caller_check(&c, &p, (uid_t)uid, &s, 4242, "drive0", warnings,
                                                sizeof(warnings), &err);
                char more[2048];
                if (r >= 0)
                        r = cgroup_user_caps_set(&c, &p, (uid_t)uid, &s, more, sizeof(more), &err);
                if (r >= 0 && more[0])
                        warnings_add(warnings, sizeof(warnings), "%s", more);
        } else
                r = cgroup_session_create(&c, &p, (uid_t)uid, "drive1", 4242, NULL, NULL, &s,
                                          warnings, sizeof(warnings), &err);
        if (r >= 0 && own_unit)
                r = cgroup_session_own_unit(&c, &p, (uid_t)uid, "drive1", (pid_t)own_unit, &s,
                                            warnings, sizeof(warnings), &err);
        for (size_t i = 0; i < n_io; i++)
                free(copies[i]);
        fake_cgroupfs_set(NULL, NULL);
        cgroup_set_proc_root(NULL);
        device_set_sysfs_root(NULL);
        if (r < 0) {
                printf("error: %s\n", err.msg);
                return 1;
        }
        static char text[65536];
        if (registry_cgroup_format(&s, text, sizeof(text)) < 0)
                return 3;
        printf("ok\n%s%s%s", warnings, warnings[0] ? "\n" : "", text);
        return 0;
}

/* ---- unit tests -------------------------------------------------------------------------- */

struct fixture {
        char dir[64];
        char cg[128];
        size_t n_ops;
        struct config c;
        struct policy p;
        char warnings[2048];
        struct isolate_error err;
        struct cgroup_session s;
};

static void on_trace(enum cgroup_op op, const char *path, const char *value, void *data)
{
        struct fixture *f = data;
        f->n_ops++;
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        strcpy(f->dir, "/tmp/test_cgroup_systemd.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->cg, sizeof(f->cg), "%s/sys/fs/cgroup", f->dir);
        char cmd[512];
        snprintf(cmd, sizeof(cmd),
                 "mkdir -p %s/user.slice/user-1000.slice/session-3.scope %s/proc/4242 "
                 "%s/proc/4343 %s/run-systemd-system",
                 f->cg, f->dir, f->dir, f->dir);
        assert_int_equal(system(cmd), 0);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/mountinfo", f->dir);
        put(path, "31 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 "
                  "cgroup2 rw,nsdelegate,memory_recursiveprot\n");
        fake_cgroupfs_set(f->cg, path);
        snprintf(path, sizeof(path), "%s/proc/4242/cgroup", f->dir);
        put(path, "0::/user.slice/user-1000.slice/session-3.scope\n");
        snprintf(path, sizeof(path), "%s/proc/4343/cgroup", f->dir);
        put(path, "0::/system.slice/cron.service\n");
        snprintf(path, sizeof(path), "%s/proc", f->dir);
        cgroup_set_proc_root(path);
        /* no bus listens there: any attempt to call systemd fails */
        snprintf(path, sizeof(path), "unix:path=%s/no-bus", f->dir);
        cgroup_set_system_bus_address(path);
        f->c.cgroup_backend = CGROUP_BACKEND_SYSTEMD;
        f->c.cgroup_root = "isolate";
        f->c.helper_timeout_ms = 2000;
        policy_unset(&f->p);
        cgroup_set_trace(on_trace, f);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        cgroup_set_trace(NULL, NULL);
        fake_cgroupfs_set(NULL, NULL);
        cgroup_set_proc_root(NULL);
        cgroup_set_system_bus_address(NULL);
        cgroup_set_systemd_marker(NULL);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static int create(struct fixture *f, pid_t caller)
{
        memset(&f->err, 0, sizeof(f->err));
        return cgroup_session_create(&f->c, &f->p, 1000, "s1", caller, NULL, NULL, &f->s,
                                     f->warnings, sizeof(f->warnings), &f->err);
}

static void test_auto_picks_systemd_when_it_runs(void **state)
{
        struct fixture *f = *state;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/run-systemd-system", f->dir);
        cgroup_set_systemd_marker(path);
        enum cgroup_backend_kind k;
        assert_int_equal(cgroup_backend_resolve(CGROUP_BACKEND_AUTO, &k, &f->err), 0);
        assert_int_equal(k, CGROUP_BACKEND_SYSTEMD);
}

static void test_no_caps_no_call_and_the_scope_is_the_session(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, 4242), 0); /* the bus is unreachable: no call was made */
        assert_string_equal(f->warnings, "");
        assert_int_equal(f->s.backend, CGROUP_BACKEND_SYSTEMD);
        assert_int_equal(f->s.n, 1);
        const struct cgroup_hierarchy *h = &f->s.h[0];
        assert_string_equal(h->mount_type, "cgroup2");
        assert_string_equal(h->mount_options, "nsdelegate,memory_recursiveprot");
        char want[PATH_MAX];
        snprintf(want, sizeof(want), "%s/user.slice/user-1000.slice/session-3.scope", f->cg);
        assert_string_equal(h->scope_path, want);
        /* nothing for the init to remove, nothing made or written in systemd's tree */
        assert_string_equal(h->leaf_path, "");
        assert_string_equal(h->user_path, "");
        assert_string_equal(h->supervisor_path, "");
        assert_int_equal(cgroup_session_enter(&f->s, 4242, &f->err), 0);
        assert_int_equal(cgroup_session_enter_supervisor(&f->s, 0, &f->err), 0);
        assert_int_equal(cgroup_session_remove(&f->s, &f->err), 0);
        assert_int_equal(f->n_ops, 0);
        /* usage is read from the scope */
        snprintf(want, sizeof(want), "%s/user.slice/user-1000.slice/session-3.scope", f->cg);
        put(strcat(want, "/memory.current"), "4096\n");
        struct cgroup_usage u;
        assert_int_equal(cgroup_session_usage(&f->s, &u), 0);
        assert_int_equal(u.memory_current, 4096);
        /* and the registry says so */
        char text[8192];
        assert_true(registry_cgroup_format(&f->s, text, sizeof(text)) > 0);
        snprintf(want, sizeof(want),
                 "cgroup_backend=systemd\ncgroup=- cgroup2 nsdelegate,memory_recursiveprot - - - "
                 "- %s/user.slice/user-1000.slice/session-3.scope\n",
                 f->cg);
        assert_string_equal(text, want);
}

static void test_caller_outside_user_slice(void **state)
{
        struct fixture *f = *state;
        f->p.memory_max = 1 << 30;
        f->p.caps_required = true;
        assert_int_equal(create(f, 4343), -EOPNOTSUPP);
        assert_non_null(strstr(f->err.msg, "/system.slice/cron.service, not under "
                                           "user-1000.slice"));
        assert_non_null(strstr(f->err.msg, "pam_systemd"));
        f->p.caps_required = false;
        assert_int_equal(create(f, 4343), 0);
        assert_non_null(strstr(f->warnings, "not under user-1000.slice"));
        assert_int_equal(f->s.n, 1);
        assert_int_equal(f->n_ops, 0);
}

static int join_check(struct fixture *f, pid_t caller)
{
        memset(&f->err, 0, sizeof(f->err));
        f->warnings[0] = '\0';
        struct cgroup_session live = {.backend = CGROUP_BACKEND_SYSTEMD};
        return cgroup_session_caller_check(&f->c, &f->p, 1000, &live, caller, "0123abcd",
                                           f->warnings, sizeof(f->warnings), &f->err);
}

/* su from root's own ssh login: pam_systemd makes no session for it, so the caller is in
 * root's session-N.scope. A new sandbox and a join are refused alike, whatever
 * caps_required says, and not as a fault of the host (fail = open never lets it through);
 * the message says where the caller is and what to do. */
static void test_caller_in_another_users_session(void **state)
{
        struct fixture *f = *state;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/proc/4444", f->dir);
        assert_int_equal(mkdir(path, 0755), 0);
        strcat(path, "/cgroup");
        put(path, "0::/user.slice/user-0.slice/session-5.scope\n");
        f->p.memory_max = 1 << 30;
        for (int required = 0; required < 2; required++) {
                f->p.caps_required = required;
                assert_int_equal(create(f, 4444), -EPERM);
                assert_false(f->err.host_fault);
                assert_non_null(strstr(f->err.msg, "the caller (pid 4444) is in "
                                                   "/user.slice/user-0.slice/session-5.scope, "
                                                   "not under user-1000.slice"));
                assert_non_null(strstr(f->err.msg, "session of uid 0 (su from that session)"));
                assert_non_null(strstr(f->err.msg, "so the login is refused"));
                assert_int_equal(join_check(f, 4444), -EPERM);
                assert_false(f->err.host_fault);
                assert_non_null(strstr(f->err.msg, "session-5.scope, not under user-1000.slice"));
                assert_non_null(strstr(f->err.msg, "so joining sandbox 0123abcd is refused"));
                assert_non_null(strstr(f->err.msg, "machinectl shell"));
        }
        /* a slice named like a user's deeper down counts too; user-1000.slice anywhere is
         * the user's own */
        put(path, "0::/user.slice/user-1000x.slice/user-12.slice/session-1.scope\n");
        assert_int_equal(join_check(f, 4444), -EPERM);
        assert_non_null(strstr(f->err.msg, "session of uid 12 "));
        assert_int_equal(join_check(f, 4242), 0);
        assert_string_equal(f->warnings, "");
        assert_int_equal(f->n_ops, 0);
}

/* A join whose caller is outside any user's slice (pam_systemd missing from the stack):
 * the missing-cap rule, as for a new sandbox. Other backends: nothing to check. */
static void test_join_caller_outside_user_slice(void **state)
{
        struct fixture *f = *state;
        f->p.memory_max = 1 << 30;
        f->p.caps_required = true;
        assert_int_equal(join_check(f, 4343), -EOPNOTSUPP);
        assert_true(f->err.host_fault);
        assert_non_null(strstr(f->err.msg, "/system.slice/cron.service, not under "
                                           "user-1000.slice"));
        f->p.caps_required = false;
        assert_int_equal(join_check(f, 4343), 0);
        assert_non_null(strstr(f->warnings, "not under user-1000.slice"));
        struct cgroup_session v2 = {.backend = CGROUP_BACKEND_V2};
        f->p.caps_required = true;
        assert_int_equal(cgroup_session_caller_check(&f->c, &f->p, 1000, &v2, 4343, "x", NULL, 0,
                                                     &f->err),
                         0);
}

static void test_unreachable_bus(void **state)
{
        struct fixture *f = *state;
        f->p.pids_max = 10;
        f->p.caps_required = true;
        assert_true(create(f, 4242) < 0);
        assert_non_null(strstr(f->err.msg, "cannot connect to the system bus"));
        f->p.caps_required = false;
        assert_int_equal(create(f, 4242), 0);
        assert_non_null(strstr(f->warnings, "cannot connect to the system bus"));
}

/* A weight outside 1..10000 (a policy the config parser did not build) is refused before
 * the backend runs: nothing is sent, nothing is written. */
static void test_bad_weight_refused(void **state)
{
        struct fixture *f = *state;
        f->p.cpu_weight = 20000;
        assert_int_equal(create(f, 4242), -EINVAL);
        assert_non_null(strstr(f->err.msg, "cpu_weight must be 1..10000"));
        f->p.cpu_weight = 0;
        assert_int_equal(create(f, 4242), -EINVAL);
        assert_int_equal(f->n_ops, 0);
}

static void test_registry_parse_systemd(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, 4242), 0);
        char text[8192];
        assert_true(registry_cgroup_format(&f->s, text, sizeof(text)) > 0);
        struct cgroup_session back;
        assert_int_equal(registry_cgroup_parse(text, &back), 0);
        assert_memory_equal(&back, &f->s, sizeof(back));
}

int main(int argc, char **argv)
{
        if (argc > 1 && strcmp(argv[1], "--drive") == 0)
                return drive(argc, argv);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_auto_picks_systemd_when_it_runs, setup, teardown),
            cmocka_unit_test_setup_teardown(test_no_caps_no_call_and_the_scope_is_the_session,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_caller_outside_user_slice, setup, teardown),
            cmocka_unit_test_setup_teardown(test_caller_in_another_users_session, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_join_caller_outside_user_slice, setup, teardown),
            cmocka_unit_test_setup_teardown(test_unreachable_bus, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bad_weight_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_registry_parse_systemd, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

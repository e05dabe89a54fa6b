/* test_cgroup_v2: the cgroup v2 backend against a fake cgroupfs tree (session-helper/
 * cgroup-v2.c, cgroup.c, cgroupfs.c, cgroupfs-mounts.c): which directories are made, which
 * files are written with what, in which order, what is refused or warned about, what a
 * session looks like to the init (mount type, paths), moving processes, removal, garbage
 * collection, the registry text of a session.
 *
 * The fake tree: <tmp>/sys/fs/cgroup is the unified hierarchy (per <tmp>/mountinfo), and
 * the trace hook plays the kernel: every directory made gets the files the kernel would
 * create, with the controllers its parent's cgroup.subtree_control enables. I/O targets are
 * a block node made with mknod in <tmp> and a fake sysfs (<tmp>/sys) behind it. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup_fixture.h"
#include "fake_cgroupfs.h"

#include "../../session-helper/cgroup.h"
#include "../../session-helper/devices.h"
#include "../../session-helper/registry.h"

struct fixture {
        char dir[64];
        char cg[128]; /* <dir>/sys/fs/cgroup */
        char trace[64][512];
        size_t n_trace;
        char io_node[128];
        struct config c;
        struct policy p;
        struct io_limit io;
        char warnings[2048];
        struct isolate_error err;
        struct cgroup_session s;
};

static struct fixture *F;

/* What the kernel puts in a new cgroup directory of the unified hierarchy. */
static void fake_kernel_populate(const char *dir)
{
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", dir);
        *strrchr(parent, '/') = '\0';
        const char *sub = get(parent, "cgroup.subtree_control");
        char enabled[256] = "";
        if (sub) {
                char tmp[256];
                snprintf(tmp, sizeof(tmp), "%s", sub);
                for (char *save = NULL, *t = strtok_r(tmp, " \n", &save); t;
                     t = strtok_r(NULL, " \n", &save)) {
                        if (*t == '+')
                                t++;
                        size_t used = strlen(enabled);
                        snprintf(enabled + used, sizeof(enabled) - used, "%s%s", used ? " " : "",
                                 t);
                }
        }
        char line[300];
        snprintf(line, sizeof(line), "%s\n", enabled);
        putf(dir, "cgroup.controllers", line);
        putf(dir, "cgroup.subtree_control", "");
        putf(dir, "cgroup.procs", "");
        char words[300];
        snprintf(words, sizeof(words), " %s ", enabled);
        if (strstr(words, " memory ")) {
                putf(dir, "memory.max", "max\n");
                putf(dir, "memory.high", "max\n");
                putf(dir, "memory.swap.max", "max\n");
                putf(dir, "memory.current", "0\n");
                putf(dir, "memory.peak", "0\n");
        }
        if (strstr(words, " io ")) {
                putf(dir, "io.max", "");
                putf(dir, "io.stat", "");
        }
        if (strstr(words, " pids ")) {
                putf(dir, "pids.max", "max\n");
                putf(dir, "pids.current", "0\n");
        }
        if (strstr(words, " cpu ")) {
                putf(dir, "cpu.max", "max 100000\n");
                putf(dir, "cpu.weight", "100\n");
        }
}

static void on_trace(enum cgroup_op op, const char *path, const char *value, void *data)
{
        struct fixture *f = data;
        const char *rel = path;
        if (strncmp(path, f->cg, strlen(f->cg)) == 0)
                rel = path + strlen(f->cg) + (path[strlen(f->cg)] == '/');
        assert_true(f->n_trace < ELEMENTSOF(f->trace));
        char *t = f->trace[f->n_trace++];
        if (op == CGROUP_OP_MKDIR) {
                snprintf(t, sizeof(f->trace[0]), "mkdir %s", rel);
                fake_kernel_populate(path);
        } else if (op == CGROUP_OP_WRITE)
                snprintf(t, sizeof(f->trace[0]), "write %s %s", rel, value);
        else
                snprintf(t, sizeof(f->trace[0]), "rmdir %s", rel);
}

static void assert_trace(struct fixture *f, const char *const *want, size_t n)
{
        for (size_t i = 0; i < n && i < f->n_trace; i++)
                assert_string_equal(f->trace[i], want[i]);
        if (f->n_trace != n) {
                for (size_t i = 0; i < f->n_trace; i++)
                        print_message("trace[%zu] = %s\n", i, f->trace[i]);
                assert_int_equal(f->n_trace, n);
        }
}

static void trace_reset(struct fixture *f)
{
        f->n_trace = 0;
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        F = f;
        strcpy(f->dir, "/tmp/test_cgroup_v2.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->cg, sizeof(f->cg), "%s/sys/fs/cgroup", f->dir);
        mkdirs(f->cg);
        /* the host: the unified hierarchy at /sys/fs/cgroup, controllers enabled at its root */
        putf(f->cg, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
        putf(f->cg, "cgroup.subtree_control", "cpu io memory pids\n");
        putf(f->cg, "cgroup.procs", "1\n");
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/mountinfo", f->dir);
        put(path, "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
                  "31 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 "
                  "cgroup2 rw,nsdelegate,memory_recursiveprot\n");
        fake_cgroupfs_set(f->cg, path);
        snprintf(path, sizeof(path), "%s/proc/self", f->dir);
        mkdirs(path);
        putf(path, "cgroup", "0::/\n");
        snprintf(path, sizeof(path), "%s/proc/4242", f->dir);
        mkdirs(path);
        putf(path, "cgroup", "0::/sshd.service\n");
        snprintf(path, sizeof(path), "%s/proc", f->dir);
        cgroup_set_proc_root(path);
        snprintf(path, sizeof(path), "%s/no-systemd", f->dir);
        cgroup_set_systemd_marker(path);

        /* an io target: a block node 8:1 (sda1), a partition of 8:0 (sda) in a fake sysfs */
        snprintf(f->io_node, sizeof(f->io_node), "%s/sda1", f->dir);
        assert_int_equal(mknod(f->io_node, S_IFBLK | 0600, makedev(8, 1)), 0);
        snprintf(path, sizeof(path), "%s/sys/devices/pci0/block/sda/sda1", f->dir);
        mkdirs(path);
        putf(path, "partition", "1\n");
        putf(path, "dev", "8:1\n");
        *strrchr(path, '/') = '\0';
        putf(path, "dev", "8:0\n");
        snprintf(path, sizeof(path), "%s/sys/dev/block", f->dir);
        mkdirs(path);
        char link[PATH_MAX];
        snprintf(link, sizeof(link), "%s/8:1", path);
        assert_int_equal(symlink("../../devices/pci0/block/sda/sda1", link), 0);
        snprintf(link, sizeof(link), "%s/8:0", path);
        assert_int_equal(symlink("../../devices/pci0/block/sda", link), 0);
        snprintf(path, sizeof(path), "%s/sys", f->dir);
        device_set_sysfs_root(path);

        f->c.file = "/etc/isolate.conf";
        f->c.cgroup_backend = CGROUP_BACKEND_V2;
        f->c.cgroup_root = "isolate";
        f->c.helper_timeout_ms = 10000;
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
        cgroup_set_systemd_marker(NULL);
        device_set_sysfs_root(NULL);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static void full_policy(struct fixture *f)
{
        struct policy *p = &f->p;
        p->memory_max = 1ULL << 30;
        p->memory_high = 768ULL << 20;
        p->swap_max = 0;
        p->pids_max = 100;
        p->cpu_max_percent = 150;
        p->cpu_weight = 200;
        f->io = (struct io_limit){.target = f->io_node,
                                  .read_bps = LIMIT_UNSET,
                                  .write_bps = 5ULL << 20,
                                  .read_iops = 1000,
                                  .write_iops = LIMIT_MAX,
                                  .line = 12};
        p->io = &f->io;
        p->n_io = 1;
}

static int create(struct fixture *f, const char *id, bool (*is_live)(const char *, void *))
{
        memset(&f->err, 0, sizeof(f->err));
        int r = cgroup_session_create(&f->c, &f->p, 1000, id, 4242, is_live, f, &f->s, f->warnings,
                                      sizeof(f->warnings), &f->err);
        if (r < 0)
                print_message("create: %s\n", f->err.msg);
        return r;
}

static char *cgpath(struct fixture *f, const char *rel)
{
        static char buf[PATH_MAX];
        snprintf(buf, sizeof(buf), "%s/%s", f->cg, rel);
        return buf;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_first_login_makes_tree_and_writes_caps_in_order(void **state)
{
        struct fixture *f = *state;
        full_policy(f);
        assert_int_equal(create(f, "abc123", NULL), 0);
        static const char *const want[] = {
            "mkdir isolate",
            "write isolate/cgroup.subtree_control +memory +io +pids +cpu",
            "mkdir isolate/user-1000",
            "write isolate/user-1000/cgroup.subtree_control +memory +io +pids +cpu",
            "write isolate/user-1000/memory.max 1073741824",
            "write isolate/user-1000/memory.high 805306368",
            "write isolate/user-1000/memory.swap.max 0",
            "write isolate/user-1000/io.max 8:0 wbps=5242880 riops=1000 wiops=max",
            "write isolate/user-1000/pids.max 100",
            "write isolate/user-1000/cpu.max 150000 100000",
            "write isolate/user-1000/cpu.weight 200",
            "mkdir isolate/user-1000/session-abc123",
            "mkdir isolate/supervisor",
        };
        assert_trace(f, want, ELEMENTSOF(want));
        assert_string_equal(f->warnings, "");

        /* the files hold exactly what was written */
        assert_string_equal(get(cgpath(f, "isolate/user-1000"), "memory.max"), "1073741824");
        assert_string_equal(get(cgpath(f, "isolate/user-1000"), "io.max"),
                            "8:0 wbps=5242880 riops=1000 wiops=max");
        assert_string_equal(get(cgpath(f, "isolate/user-1000"), "cpu.max"), "150000 100000");

        /* what the helper and the init get */
        assert_int_equal(f->s.backend, CGROUP_BACKEND_V2);
        assert_int_equal(f->s.n, 1);
        const struct cgroup_hierarchy *h = &f->s.h[0];
        assert_string_equal(h->mount_type, "cgroup2");
        assert_string_equal(h->mount_options, "nsdelegate,memory_recursiveprot");
        assert_string_equal(h->mount_name, "");
        assert_string_equal(h->controllers, "");
        assert_string_equal(h->user_path, cgpath(f, "isolate/user-1000"));
        assert_string_equal(h->leaf_path, cgpath(f, "isolate/user-1000/session-abc123"));
        assert_string_equal(h->supervisor_path, cgpath(f, "isolate/supervisor"));
        assert_string_equal(h->scope_path, "");
}

static void test_no_process_in_inner_cgroups(void **state)
{
        struct fixture *f = *state;
        full_policy(f);
        assert_int_equal(create(f, "abc123", NULL), 0);
        trace_reset(f);
        /* the caller goes to the leaf, the init (itself, pid 0) to the supervisor cgroup */
        assert_int_equal(cgroup_session_enter(&f->s, 4242, &f->err), 0);
        assert_int_equal(cgroup_session_enter_supervisor(&f->s, 0, &f->err), 0);
        static const char *const want[] = {
            "write isolate/user-1000/session-abc123/cgroup.procs 4242",
            "write isolate/supervisor/cgroup.procs 0",
        };
        assert_trace(f, want, ELEMENTSOF(want));
        assert_string_equal(get(cgpath(f, "isolate"), "cgroup.procs"), "");
        assert_string_equal(get(cgpath(f, "isolate/user-1000"), "cgroup.procs"), "");
}

static void test_second_login_updates_caps_and_keeps_tree(void **state)
{
        struct fixture *f = *state;
        full_policy(f);
        assert_int_equal(create(f, "first", NULL), 0);
        trace_reset(f);
        f->p.memory_max = 2ULL << 30;
        f->p.n_io = 0;
        f->p.cpu_max_percent = LIMIT_MAX;
        f->p.pids_max = LIMIT_MAX;
        assert_int_equal(create(f, "second", NULL), 0);
        static const char *const want[] = {
            "write isolate/cgroup.subtree_control +memory +io +pids +cpu",
            "write isolate/user-1000/cgroup.subtree_control +memory +io +pids +cpu",
            "write isolate/user-1000/memory.max 2147483648",
            "write isolate/user-1000/memory.high 805306368",
            "write isolate/user-1000/memory.swap.max 0",
            /* the io entry is gone from the policy: its limit goes too */
            "write isolate/user-1000/io.max 8:0 rbps=max wbps=max riops=max wiops=max",
            "write isolate/user-1000/pids.max max",
            "write isolate/user-1000/cpu.max max 100000",
            "write isolate/user-1000/cpu.weight 200",
            "mkdir isolate/user-1000/session-second",
        };
        assert_trace(f, want, ELEMENTSOF(want));
        assert_true(exists(cgpath(f, "isolate/user-1000/session-first")));
}

static void test_policy_edit_applies_at_next_login(void **state)
{
        struct fixture *f = *state;
        full_policy(f);
        assert_int_equal(create(f, "s1", NULL), 0);
        trace_reset(f);
        /* the admin drops every cap but pids_max and one io key */
        policy_unset(&f->p);
        f->p.pids_max = 20;
        f->io = (struct io_limit){.target = f->io_node,
                                  .read_bps = 1000000,
                                  .write_bps = LIMIT_UNSET,
                                  .read_iops = LIMIT_UNSET,
                                  .write_iops = LIMIT_UNSET,
                                  .line = 3};
        f->p.io = &f->io;
        f->p.n_io = 1;
        assert_int_equal(create(f, "s2", NULL), 0);
        static const char *const want[] = {
            "write isolate/cgroup.subtree_control +memory +io +pids +cpu",
            "write isolate/user-1000/cgroup.subtree_control +memory +io +pids +cpu",
            "write isolate/user-1000/memory.max max",
            "write isolate/user-1000/memory.high max",
            "write isolate/user-1000/memory.swap.max max",
            "write isolate/user-1000/io.max 8:0 rbps=1000000 wbps=max riops=max wiops=max",
            "write isolate/user-1000/pids.max 20",
            "write isolate/user-1000/cpu.max max 100000",
            "write isolate/user-1000/cpu.weight 100",
            "mkdir isolate/user-1000/session-s2",
        };
        assert_trace(f, want, ELEMENTSOF(want));
}

static void test_unset_caps_write_nothing(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "s1", NULL), 0);
        static const char *const want[] = {
            "mkdir isolate",
            "write isolate/cgroup.subtree_control +memory +io +pids +cpu",
            "mkdir isolate/user-1000",
            "write isolate/user-1000/cgroup.subtree_control +memory +io +pids +cpu",
            "mkdir isolate/user-1000/session-s1",
            "mkdir isolate/supervisor",
        };
        assert_trace(f, want, ELEMENTSOF(want));
}

static bool live_only_keep(const char *id, void *data)
{
        return strcmp(id, "keep") == 0;
}

static void age(const char *path)
{
        struct timespec ts[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_next_login_removes_empty_dead_leaves(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "dead", NULL), 0);
        assert_int_equal(create(f, "keep", NULL), 0);
        assert_int_equal(create(f, "busy", NULL), 0);
        assert_int_equal(create(f, "young", NULL), 0);
        age(cgpath(f, "isolate/user-1000/session-dead"));
        age(cgpath(f, "isolate/user-1000/session-keep"));
        age(cgpath(f, "isolate/user-1000/session-busy"));
        putf(cgpath(f, "isolate/user-1000/session-busy"), "cgroup.procs", "777\n");
        trace_reset(f);
        assert_int_equal(create(f, "new", live_only_keep), 0);
        /* dead: empty, old, not live -> removed; keep: live; busy: holds a process; young:
         * a concurrent login may be setting it up */
        assert_false(exists(cgpath(f, "isolate/user-1000/session-dead")));
        assert_true(exists(cgpath(f, "isolate/user-1000/session-keep")));
        assert_true(exists(cgpath(f, "isolate/user-1000/session-busy")));
        assert_true(exists(cgpath(f, "isolate/user-1000/session-young")));
        assert_true(exists(cgpath(f, "isolate/user-1000/session-new")));
        static const char *const want[] = {
            "write isolate/cgroup.subtree_control +memory +io +pids +cpu",
            "write isolate/user-1000/cgroup.subtree_control +memory +io +pids +cpu",
            /* an existing user cgroup: what the policy leaves unset is reset */
            "write isolate/user-1000/memory.max max",
            "write isolate/user-1000/memory.high max",
            "write isolate/user-1000/memory.swap.max max",
            "write isolate/user-1000/pids.max max",
            "write isolate/user-1000/cpu.max max 100000",
            "write isolate/user-1000/cpu.weight 100",
            "rmdir isolate/user-1000/session-dead",
            "mkdir isolate/user-1000/session-new",
        };
        assert_trace(f, want, ELEMENTSOF(want));
}

static void test_gc_counts_dead_sessions(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "a1", NULL), 0);
        assert_int_equal(create(f, "a2", NULL), 0);
        assert_int_equal(cgroup_session_create(&f->c, &f->p, 2000, "b1", 4242, NULL, NULL, &f->s,
                                               NULL, 0, &f->err),
                         0);
        age(cgpath(f, "isolate/user-1000/session-a1"));
        age(cgpath(f, "isolate/user-1000/session-a2"));
        age(cgpath(f, "isolate/user-2000/session-b1"));
        assert_int_equal(cgroup_gc(&f->c, live_only_keep, NULL, &f->err), 3);
        assert_false(exists(cgpath(f, "isolate/user-1000/session-a1")));
        assert_false(exists(cgpath(f, "isolate/user-2000/session-b1")));
        /* the user cgroups stay: their caps persist */
        assert_true(exists(cgpath(f, "isolate/user-1000")));
        assert_int_equal(cgroup_gc(&f->c, live_only_keep, NULL, &f->err), 0);
}

static void test_missing_controller_refused_when_required(void **state)
{
        struct fixture *f = *state;
        full_policy(f);
        f->p.caps_required = true;
        putf(f->cg, "cgroup.subtree_control", "cpu memory pids\n"); /* no io */
        assert_int_equal(create(f, "s1", NULL), -EOPNOTSUPP);
        assert_non_null(strstr(f->err.msg, "the io controller is not available"));
        assert_non_null(strstr(f->err.msg, "io limits"));
        char fix[PATH_MAX + 64];
        snprintf(fix, sizeof(fix), "echo +io > %s/cgroup.subtree_control", f->cg);
        assert_non_null(strstr(f->err.msg, fix));
        assert_non_null(strstr(f->err.msg, "caps_required"));
        /* nothing made here remains */
        assert_false(exists(cgpath(f, "isolate")));
        assert_int_equal(f->s.n, 0);
}

static void test_missing_controller_warned_when_not_required(void **state)
{
        struct fixture *f = *state;
        full_policy(f);
        putf(f->cg, "cgroup.subtree_control", "cpu memory pids\n");
        assert_int_equal(create(f, "s1", NULL), 0);
        assert_non_null(strstr(f->warnings, "the io controller is not available"));
        assert_non_null(strstr(f->warnings, "not applied"));
        assert_null(strchr(f->warnings, '\n')); /* one warning: one line, no newline */
        static const char *const want[] = {
            "mkdir isolate",
            "write isolate/cgroup.subtree_control +memory +pids +cpu",
            "mkdir isolate/user-1000",
            "write isolate/user-1000/cgroup.subtree_control +memory +pids +cpu",
            "write isolate/user-1000/memory.max 1073741824",
            "write isolate/user-1000/memory.high 805306368",
            "write isolate/user-1000/memory.swap.max 0",
            "write isolate/user-1000/pids.max 100",
            "write isolate/user-1000/cpu.max 150000 100000",
            "write isolate/user-1000/cpu.weight 200",
            "mkdir isolate/user-1000/session-s1",
            "mkdir isolate/supervisor",
        };
        assert_trace(f, want, ELEMENTSOF(want));
}

static void test_unused_missing_controller_is_silent(void **state)
{
        struct fixture *f = *state;
        f->p.caps_required = true;
        f->p.pids_max = 10;
        putf(f->cg, "cgroup.subtree_control", "memory pids\n");
        assert_int_equal(create(f, "s1", NULL), 0);
        assert_string_equal(f->warnings, "");
        assert_string_equal(get(cgpath(f, "isolate"), "cgroup.subtree_control"), "+memory +pids");
}

static void test_no_swap_accounting(void **state)
{
        struct fixture *f = *state;
        f->p.swap_max = 0;
        f->p.caps_required = true;
        /* a kernel without swap accounting has no memory.swap.max: pre-make the user's cgroup
         * as such a kernel would */
        mkdirs(cgpath(f, "isolate/user-1000"));
        putf(f->cg, "isolate/cgroup.controllers", "cpu io memory pids\n");
        putf(cgpath(f, "isolate"), "cgroup.subtree_control", "");
        putf(cgpath(f, "isolate"), "cgroup.procs", "");
        putf(cgpath(f, "isolate/user-1000"), "cgroup.procs", "");
        putf(cgpath(f, "isolate/user-1000"), "cgroup.controllers", "cpu io memory pids\n");
        putf(cgpath(f, "isolate/user-1000"), "cgroup.subtree_control", "");
        putf(cgpath(f, "isolate/user-1000"), "memory.max", "max\n");
        putf(cgpath(f, "isolate/user-1000"), "memory.high", "max\n");
        putf(cgpath(f, "isolate/user-1000"), "io.max", "");
        putf(cgpath(f, "isolate/user-1000"), "pids.max", "max\n");
        putf(cgpath(f, "isolate/user-1000"), "cpu.max", "max 100000\n");
        putf(cgpath(f, "isolate/user-1000"), "cpu.weight", "100\n");
        assert_int_equal(create(f, "s1", NULL), -EOPNOTSUPP);
        assert_non_null(strstr(f->err.msg, "memory.swap.max does not exist"));
        assert_non_null(strstr(f->err.msg, "swap_max"));
        /* the directories that existed before stay */
        assert_true(exists(cgpath(f, "isolate/user-1000")));
        assert_false(exists(cgpath(f, "isolate/user-1000/session-s1")));
        f->p.caps_required = false;
        assert_int_equal(create(f, "s1", NULL), 0);
        assert_non_null(strstr(f->warnings, "swap_max"));
}

static void test_nested_root_under_own_cgroup(void **state)
{
        struct fixture *f = *state;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/proc/self", f->dir);
        putf(path, "cgroup", "0::/test.slice/runner\n");
        mkdirs(cgpath(f, "test.slice/runner"));
        putf(cgpath(f, "test.slice"), "cgroup.subtree_control", "memory pids\n");
        putf(cgpath(f, "test.slice/runner"), "cgroup.subtree_control", "memory pids\n");
        putf(cgpath(f, "test.slice/runner"), "cgroup.procs", "99\n");
        f->c.cgroup_root = "./isolate-test-1f2e";
        f->p.pids_max = 5;
        assert_int_equal(create(f, "s1", NULL), 0);
        static const char *const want[] = {
            "mkdir test.slice/runner/isolate-test-1f2e",
            "write test.slice/runner/isolate-test-1f2e/cgroup.subtree_control +memory +pids",
            "mkdir test.slice/runner/isolate-test-1f2e/user-1000",
            "write test.slice/runner/isolate-test-1f2e/user-1000/cgroup.subtree_control "
            "+memory +pids",
            "write test.slice/runner/isolate-test-1f2e/user-1000/pids.max 5",
            "mkdir test.slice/runner/isolate-test-1f2e/user-1000/session-s1",
            "mkdir test.slice/runner/isolate-test-1f2e/supervisor",
        };
        assert_trace(f, want, ELEMENTSOF(want));
}

static void test_bad_root_and_session_id_refused(void **state)
{
        struct fixture *f = *state;
        f->c.cgroup_root = "../escape";
        assert_int_equal(create(f, "s1", NULL), -EINVAL);
        assert_non_null(strstr(f->err.msg, "cgroup_root"));
        f->c.cgroup_root = "isolate";
        assert_int_equal(create(f, "../x", NULL), -EINVAL);
        assert_int_equal(f->n_trace, 0);
}

static void test_existing_leaf_refused(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "s1", NULL), 0);
        assert_int_equal(create(f, "s1", NULL), -EEXIST);
        assert_true(exists(cgpath(f, "isolate/user-1000/session-s1")));
}

static void test_enter_missing_leaf_fails(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "s1", NULL), 0);
        assert_int_equal(cgroup_session_remove(&f->s, &f->err), 0);
        assert_true(cgroup_session_enter(&f->s, 4242, &f->err) < 0);
        assert_non_null(strstr(f->err.msg, "cannot move process 4242"));
}

static void test_remove_leaf(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "s1", NULL), 0);
        trace_reset(f);
        assert_int_equal(cgroup_session_remove(&f->s, &f->err), 0);
        static const char *const want[] = {"rmdir isolate/user-1000/session-s1"};
        assert_trace(f, want, ELEMENTSOF(want));
        assert_true(exists(cgpath(f, "isolate/user-1000")));
        assert_true(exists(cgpath(f, "isolate/supervisor")));
        /* again: already gone is fine */
        assert_int_equal(cgroup_session_remove(&f->s, &f->err), 0);
}

static void test_usage(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "s1", NULL), 0);
        const char *leaf = f->s.h[0].leaf_path;
        putf(leaf, "memory.current", "1048576\n");
        putf(leaf, "memory.peak", "4194304\n");
        putf(leaf, "pids.current", "7\n");
        putf(leaf, "io.stat",
             "8:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n"
             "254:0 rbytes=30 wbytes=40 rios=1 wios=1 dbytes=0 dios=0\n");
        struct cgroup_usage u;
        assert_int_equal(cgroup_session_usage(&f->s, &u), 0);
        assert_int_equal(u.memory_current, 1048576);
        assert_int_equal(u.memory_peak, 4194304);
        assert_int_equal(u.tasks, 7);
        assert_int_equal(u.io_read_bytes, 1030);
        assert_int_equal(u.io_write_bytes, 2040);
        assert_int_equal(cgroup_session_remove(&f->s, &f->err), 0);
        assert_int_equal(cgroup_session_usage(&f->s, &u), -ENOENT);
}

static void test_registry_round_trip(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "s1", NULL), 0);
        char buf[8192];
        int n = registry_cgroup_format(&f->s, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(n, strlen(buf));
        char want[4096];
        snprintf(want, sizeof(want),
                 "cgroup_backend=v2\n"
                 "cgroup=- cgroup2 nsdelegate,memory_recursiveprot - %s/isolate/user-1000 "
                 "%s/isolate/user-1000/session-s1 %s/isolate/supervisor -\n",
                 f->cg, f->cg, f->cg);
        assert_string_equal(buf, want);
        struct cgroup_session back;
        assert_int_equal(registry_cgroup_parse(buf, &back), 0);
        assert_memory_equal(&back, &f->s, sizeof(back));

        /* the lead's registry hands over its other lines too: ignored */
        char mixed[9000];
        snprintf(mixed, sizeof(mixed), "id=s1\nuser=alice\n%spolicy=x\n", buf);
        assert_int_equal(registry_cgroup_parse(mixed, &back), 0);
        assert_memory_equal(&back, &f->s, sizeof(back));

        /* too small a buffer */
        assert_int_equal(registry_cgroup_format(&f->s, buf, 40), -ENOBUFS);
}

static void test_backend_auto(void **state)
{
        struct fixture *f = *state;
        enum cgroup_backend_kind k;
        assert_int_equal(cgroup_backend_resolve(CGROUP_BACKEND_AUTO, &k, &f->err), 0);
        assert_int_equal(k, CGROUP_BACKEND_V2);
        assert_int_equal(cgroup_backend_resolve(CGROUP_BACKEND_V1, &k, &f->err), 0);
        assert_int_equal(k, CGROUP_BACKEND_V1);
        /* systemd as PID 1 */
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/run-systemd-system", f->dir);
        mkdirs(path);
        cgroup_set_systemd_marker(path);
        assert_int_equal(cgroup_backend_resolve(CGROUP_BACKEND_AUTO, &k, &f->err), 0);
        assert_int_equal(k, CGROUP_BACKEND_SYSTEMD);
        /* a hybrid host: tmpfs at /sys/fs/cgroup, cgroup2 only at .../unified */
        snprintf(path, sizeof(path), "%s/nothing", f->dir);
        cgroup_set_systemd_marker(path);
        snprintf(path, sizeof(path), "%s/mountinfo-hybrid", f->dir);
        put(path, "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
                  "32 31 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                  "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
        fake_cgroupfs_set(f->cg, path);
        assert_int_equal(cgroup_backend_resolve(CGROUP_BACKEND_AUTO, &k, &f->err), 0);
        assert_int_equal(k, CGROUP_BACKEND_V1);
        /* forcing v2 there: the cgroup2 mount is at .../unified */
        f->c.cgroup_backend = CGROUP_BACKEND_V2;
        mkdirs(cgpath(f, "unified"));
        putf(cgpath(f, "unified"), "cgroup.controllers", "hugetlb\n");
        f->p.caps_required = true;
        f->p.pids_max = 3;
        assert_int_equal(create(f, "s1", NULL), -EOPNOTSUPP);
        assert_non_null(strstr(f->err.msg, "pids controller is not available"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_first_login_makes_tree_and_writes_caps_in_order,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_no_process_in_inner_cgroups, setup, teardown),
            cmocka_unit_test_setup_teardown(test_second_login_updates_caps_and_keeps_tree, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_policy_edit_applies_at_next_login, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_unset_caps_write_nothing, setup, teardown),
            cmocka_unit_test_setup_teardown(test_next_login_removes_empty_dead_leaves, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_gc_counts_dead_sessions, setup, teardown),
            cmocka_unit_test_setup_teardown(test_missing_controller_refused_when_required, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_missing_controller_warned_when_not_required, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_unused_missing_controller_is_silent, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_no_swap_accounting, setup, teardown),
            cmocka_unit_test_setup_teardown(test_nested_root_under_own_cgroup, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bad_root_and_session_id_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_existing_leaf_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_enter_missing_leaf_fails, setup, teardown),
            cmocka_unit_test_setup_teardown(test_remove_leaf, setup, teardown),
            cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
            cmocka_unit_test_setup_teardown(test_registry_round_trip, setup, teardown),
            cmocka_unit_test_setup_teardown(test_backend_auto, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

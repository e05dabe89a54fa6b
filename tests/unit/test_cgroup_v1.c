/* test_cgroup_v1: the cgroup v1 backend against a fake tree laid out like this host's
 * hybrid hierarchy (session-helper/cgroup-v1.c, cgroup.c, cgroupfs.c, cgroupfs-mounts.c):
 * per hierarchy the directories made, the files written with what and in which order,
 * memory+swap ordering, missing controllers, the session as the init sees it (which
 * hierarchies, their mount options), moving processes all-or-nothing, removal, usage and
 * garbage collection.
 *
 * The fake tree: <tmp>/sys/fs/cgroup/{memory,blkio,pids,cpu,cpuacct,...} per
 * <tmp>/mountinfo; this process's memory cgroup is /process_api/abc (like the test runner
 * here), the others "/". The trace hook plays the kernel and fills each new directory with
 * its hierarchy's control files. */
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
        char cg[128];
        char trace[128][512];
        size_t n_trace;
        bool no_memsw;   /* the kernel runs without swap accounting */
        bool no_kmem_tcp; /* a kernel without memory.kmem.tcp.* */
        char io_node[128];
        struct config c;
        struct policy p;
        struct io_limit io;
        char warnings[2048];
        struct isolate_error err;
        struct cgroup_session s;
};

static void fake_kernel_populate(struct fixture *f, const char *dir, const char *rel)
{
        putf(dir, "cgroup.procs", "");
        putf(dir, "tasks", "");
        putf(dir, "notify_on_release", "0\n");
        if (strncmp(rel, "memory/", 7) == 0) {
                putf(dir, "memory.limit_in_bytes", "9223372036854771712\n");
                if (!f->no_memsw)
                        putf(dir, "memory.memsw.limit_in_bytes", "9223372036854771712\n");
                putf(dir, "memory.soft_limit_in_bytes", "9223372036854771712\n");
                if (!f->no_kmem_tcp)
                        putf(dir, "memory.kmem.tcp.limit_in_bytes", "9223372036854771712\n");
                putf(dir, "memory.usage_in_bytes", "0\n");
                putf(dir, "memory.max_usage_in_bytes", "0\n");
        } else if (strncmp(rel, "blkio/", 6) == 0) {
                putf(dir, "blkio.throttle.read_bps_device", "");
                putf(dir, "blkio.throttle.write_bps_device", "");
                putf(dir, "blkio.throttle.read_iops_device", "");
                putf(dir, "blkio.throttle.write_iops_device", "");
                putf(dir, "blkio.throttle.io_service_bytes_recursive", "Total 0\n");
        } else if (strncmp(rel, "pids/", 5) == 0) {
                putf(dir, "pids.max", "max\n");
                putf(dir, "pids.current", "0\n");
        } else if (strncmp(rel, "cpu,cpuacct/", 12) == 0) {
                putf(dir, "cpu.cfs_period_us", "100000\n");
                putf(dir, "cpu.cfs_quota_us", "-1\n");
                putf(dir, "cpu.shares", "1024\n");
        }
}

static void on_trace(enum cgroup_op op, const char *path, const char *value, void *data)
{
        struct fixture *f = data;
        const char *rel = path;
        if (strncmp(path, f->cg, strlen(f->cg)) == 0)
                rel = path + strlen(f->cg) + 1;
        assert_true(f->n_trace < ELEMENTSOF(f->trace));
        char *t = f->trace[f->n_trace++];
        if (op == CGROUP_OP_MKDIR) {
                snprintf(t, sizeof(f->trace[0]), "mkdir %s", rel);
                fake_kernel_populate(f, path, rel);
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

static const char mountinfo_host[] =
    "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "
    "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static void write_mountinfo(struct fixture *f, const char *text)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/mountinfo", f->dir);
        put(path, text);
        fake_cgroupfs_set(f->cg, path);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        strcpy(f->dir, "/tmp/test_cgroup_v1.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->cg, sizeof(f->cg), "%s/sys/fs/cgroup", f->dir);
        static const char *const hier[] = {"cpu,cpuacct", "cpuset",  "memory", "blkio",
                                           "pids",        "systemd", "unified"};
        char path[PATH_MAX];
        for (size_t i = 0; i < ELEMENTSOF(hier); i++) {
                snprintf(path, sizeof(path), "%s/%s", f->cg, hier[i]);
                mkdirs(path);
                putf(path, "cgroup.procs", "1\n");
        }
        snprintf(path, sizeof(path), "%s/memory/process_api/abc", f->cg);
        mkdirs(path);
        putf(path, "cgroup.procs", "4242\n");
        snprintf(path, sizeof(path), "%s/memory/sshd", f->cg);
        mkdirs(path);
        putf(path, "cgroup.procs", "");
        write_mountinfo(f, mountinfo_host);

        snprintf(path, sizeof(path), "%s/proc/self", f->dir);
        mkdirs(path);
        putf(path, "cgroup",
             "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:cpuset:/\n4:memory:/process_api/abc\n"
             "2:cpu,cpuacct:/\n0::/\n");
        snprintf(path, sizeof(path), "%s/proc/4242", f->dir);
        mkdirs(path);
        putf(path, "cgroup",
             "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:cpuset:/\n4:memory:/sshd\n"
             "2:cpuacct,cpu:/\n0::/\n");
        snprintf(path, sizeof(path), "%s/proc", f->dir);
        cgroup_set_proc_root(path);
        snprintf(path, sizeof(path), "%s/no-systemd", f->dir);
        cgroup_set_systemd_marker(path);

        /* an io target: block node 8:1, a partition of 8:0, in a fake sysfs */
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
        f->c.cgroup_backend = CGROUP_BACKEND_AUTO; /* the fake host is hybrid: v1 */
        f->c.cgroup_root = "./isolate-t";
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
        p->swap_max = 256ULL << 20;
        p->pids_max = 100;
        p->cpu_max_percent = 150;
        p->cpu_weight = 200;
        f->io = (struct io_limit){.target = f->io_node,
                                  .read_bps = LIMIT_UNSET,
                                  .write_bps = 5ULL << 20,
                                  .read_iops = 1000,
                                  .write_iops = LIMIT_MAX,
                                  .line = 7};
        p->io = &f->io;
        p->n_io = 1;
}

static int create(struct fixture *f, const char *id)
{
        memset(&f->err, 0, sizeof(f->err));
        int r = cgroup_session_create(&f->c, &f->p, 1000, id, 4242, NULL, NULL, &f->s, f->warnings,
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

#define MEM  "memory/process_api/abc/isolate-t"
#define MEMU MEM "/user-1000"

/* ---- tests ------------------------------------------------------------------------------ */

static void test_first_login_each_hierarchy_in_order(void **state)
{
        struct fixture *f = *state;
        full_policy(f);
        assert_int_equal(create(f, "abc"), 0);
        static const char *const want[] = {
            "mkdir " MEM,
            "mkdir " MEMU,
            "write " MEMU "/memory.limit_in_bytes 1073741824",
            "write " MEMU "/memory.memsw.limit_in_bytes 1342177280",
            "write " MEMU "/memory.soft_limit_in_bytes 805306368",
            /* TCP buffers, which v1 charges to a counter of their own */
            "write " MEMU "/memory.kmem.tcp.limit_in_bytes 1073741824",
            "mkdir " MEMU "/session-abc",
            /* accounting on in the leaf, so that its sockets are charged up to the user */
            "write " MEMU "/session-abc/memory.kmem.tcp.limit_in_bytes -1",
            "mkdir " MEM "/supervisor",
            "mkdir blkio/isolate-t",
            "mkdir blkio/isolate-t/user-1000",
            "write blkio/isolate-t/user-1000/blkio.throttle.write_bps_device 8:0 5242880",
            "write blkio/isolate-t/user-1000/blkio.throttle.read_iops_device 8:0 1000",
            "write blkio/isolate-t/user-1000/blkio.throttle.write_iops_device 8:0 0",
            /* no blkio leaf: v1 throttling is flat, the user's sessions share user-1000 */
            "mkdir blkio/isolate-t/supervisor",
            "mkdir pids/isolate-t",
            "mkdir pids/isolate-t/user-1000",
            "write pids/isolate-t/user-1000/pids.max 100",
            "mkdir pids/isolate-t/user-1000/session-abc",
            "mkdir pids/isolate-t/supervisor",
            "mkdir cpu,cpuacct/isolate-t",
            "mkdir cpu,cpuacct/isolate-t/user-1000",
            "write cpu,cpuacct/isolate-t/user-1000/cpu.cfs_period_us 100000",
            "write cpu,cpuacct/isolate-t/user-1000/cpu.cfs_quota_us 150000",
            "write cpu,cpuacct/isolate-t/user-1000/cpu.shares 2048",
            "mkdir cpu,cpuacct/isolate-t/user-1000/session-abc",
            "mkdir cpu,cpuacct/isolate-t/supervisor",
        };
        assert_trace(f, want, ELEMENTSOF(want));
        assert_string_equal(f->warnings, "");
        assert_string_equal(get(cgpath(f, MEMU), "memory.memsw.limit_in_bytes"), "1342177280");
        assert_string_equal(get(cgpath(f, "pids/isolate-t/user-1000"), "pids.max"), "100");

        /* the session as the init mounts it: only the hierarchies it is in */
        assert_int_equal(f->s.backend, CGROUP_BACKEND_V1);
        assert_int_equal(f->s.n, 4);
        static const char *const ctl[] = {"memory", "blkio", "pids", "cpu,cpuacct"};
        static const char *const base[] = {MEM, "blkio/isolate-t", "pids/isolate-t",
                                           "cpu,cpuacct/isolate-t"};
        for (size_t i = 0; i < 4; i++) {
                const struct cgroup_hierarchy *h = &f->s.h[i];
                char p[PATH_MAX];
                assert_string_equal(h->controllers, ctl[i]);
                assert_string_equal(h->mount_type, "cgroup");
                assert_string_equal(h->mount_options, ctl[i]);
                assert_string_equal(h->mount_name, ctl[i]);
                snprintf(p, sizeof(p), "%s/%s/user-1000", f->cg, base[i]);
                assert_string_equal(h->user_path, p);
                snprintf(p, sizeof(p), "%s/%s/user-1000/session-abc", f->cg, base[i]);
                assert_string_equal(h->leaf_path, i == 1 ? "" : p);
                snprintf(p, sizeof(p), "%s/%s/supervisor", f->cg, base[i]);
                assert_string_equal(h->supervisor_path, p);
                assert_string_equal(h->scope_path, "");
        }
}

static void test_memsw_raised_before_memory(void **state)
{
        struct fixture *f = *state;
        f->p.memory_max = 1ULL << 30;
        f->p.swap_max = 0;
        assert_int_equal(create(f, "s1"), 0);
        f->n_trace = 0;
        /* raising: memory must never exceed memsw, so memsw goes first */
        f->p.memory_max = 2ULL << 30;
        assert_int_equal(create(f, "s2"), 0);
        assert_string_equal(f->trace[0], "write " MEMU "/memory.memsw.limit_in_bytes 2147483648");
        assert_string_equal(f->trace[1], "write " MEMU "/memory.limit_in_bytes 2147483648");
        f->n_trace = 0;
        /* lowering: memory first */
        f->p.memory_max = 512ULL << 20;
        assert_int_equal(create(f, "s3"), 0);
        assert_string_equal(f->trace[0], "write " MEMU "/memory.limit_in_bytes 536870912");
        assert_string_equal(f->trace[1], "write " MEMU "/memory.memsw.limit_in_bytes 536870912");
        f->n_trace = 0;
        /* the policy no longer caps swap but raises memory above the old memsw: memsw is
         * lifted first, or the kernel would refuse */
        f->p.swap_max = LIMIT_UNSET;
        f->p.memory_max = 4ULL << 30;
        assert_int_equal(create(f, "s4"), 0);
        assert_string_equal(f->trace[0], "write " MEMU "/memory.memsw.limit_in_bytes -1");
        assert_string_equal(f->trace[1], "write " MEMU "/memory.limit_in_bytes 4294967296");
        f->n_trace = 0;
        f->p.memory_max = LIMIT_MAX;
        f->p.swap_max = LIMIT_MAX;
        assert_int_equal(create(f, "s5"), 0);
        assert_string_equal(f->trace[0], "write " MEMU "/memory.limit_in_bytes -1");
        assert_string_equal(f->trace[1], "write " MEMU "/memory.memsw.limit_in_bytes -1");
}

static void test_lower_cap_counts_what_the_kernel_cannot_drop(void **state)
{
        struct fixture *f = *state;
        f->p.memory_max = 1ULL << 30;
        assert_int_equal(create(f, "s1"), 0);
        /* 700 MiB charged, 300 MiB of it clean page cache: a 512 MiB cap reclaims the cache */
        putf(cgpath(f, MEMU), "memory.usage_in_bytes", "734003200\n");
        putf(cgpath(f, MEMU), "memory.stat",
             "cache 0\ntotal_cache 314572800\ntotal_active_file 104857600\n"
             "total_inactive_file 209715200\n");
        f->p.memory_max = 512ULL << 20;
        assert_int_equal(create(f, "s2"), 0);
        /* 900 MiB with 100 MiB of cache: 800 MiB of anon would be OOM-killed: refused */
        putf(cgpath(f, MEMU), "memory.usage_in_bytes", "943718400\n");
        putf(cgpath(f, MEMU), "memory.stat",
             "total_active_file 0\ntotal_inactive_file 104857600\n");
        assert_int_equal(create(f, "s3"), -EBUSY);
        assert_non_null(strstr(f->err.msg, "uses 800 MiB of memory now"));
        assert_non_null(strstr(f->err.msg, "memory_max of 512 MiB"));
}

static void test_policy_edit_applies_at_next_login(void **state)
{
        struct fixture *f = *state;
        full_policy(f);
        assert_int_equal(create(f, "s1"), 0);
        f->n_trace = 0;
        /* the admin keeps only a pids cap and a read limit on the disk */
        policy_unset(&f->p);
        f->p.pids_max = 20;
        f->io.read_bps = 1000000;
        f->io.write_bps = f->io.read_iops = f->io.write_iops = LIMIT_UNSET;
        f->p.io = &f->io;
        f->p.n_io = 1;
        /* the kernel lists the rules that are in force */
        putf(cgpath(f, "blkio/isolate-t/user-1000"), "blkio.throttle.write_bps_device",
             "8:0 5242880\n");
        putf(cgpath(f, "blkio/isolate-t/user-1000"), "blkio.throttle.read_iops_device",
             "8:0 1000\n");
        assert_int_equal(create(f, "s2"), 0);
        static const char *const want[] = {
            "write " MEMU "/memory.memsw.limit_in_bytes -1",
            "write " MEMU "/memory.limit_in_bytes -1",
            "write " MEMU "/memory.soft_limit_in_bytes -1",
            "write " MEMU "/memory.kmem.tcp.limit_in_bytes -1",
            "mkdir " MEMU "/session-s2",
            "write blkio/isolate-t/user-1000/blkio.throttle.write_bps_device 8:0 0",
            "write blkio/isolate-t/user-1000/blkio.throttle.read_iops_device 8:0 0",
            "write blkio/isolate-t/user-1000/blkio.throttle.read_bps_device 8:0 1000000",
            "write pids/isolate-t/user-1000/pids.max 20",
            "mkdir pids/isolate-t/user-1000/session-s2",
            "write cpu,cpuacct/isolate-t/user-1000/cpu.cfs_period_us 100000",
            "write cpu,cpuacct/isolate-t/user-1000/cpu.cfs_quota_us -1",
            "write cpu,cpuacct/isolate-t/user-1000/cpu.shares 1024",
            "mkdir cpu,cpuacct/isolate-t/user-1000/session-s2",
        };
        assert_trace(f, want, ELEMENTSOF(want));
}

static void test_no_swap_accounting(void **state)
{
        struct fixture *f = *state;
        f->no_memsw = true;
        f->p.memory_max = 1ULL << 30;
        f->p.swap_max = 0;
        f->p.caps_required = true;
        assert_int_equal(create(f, "s1"), -EOPNOTSUPP);
        assert_non_null(strstr(f->err.msg, "swap accounting is off"));
        assert_non_null(strstr(f->err.msg, "swapaccount=1"));
        assert_false(exists(cgpath(f, MEM)));
        assert_false(exists(cgpath(f, "pids/isolate-t")));
        f->p.caps_required = false;
        f->n_trace = 0;
        assert_int_equal(create(f, "s1"), 0);
        assert_non_null(strstr(f->warnings, "swapaccount=1"));
        assert_string_equal(f->trace[1], "mkdir " MEMU);
        assert_string_equal(f->trace[2], "write " MEMU "/memory.limit_in_bytes 1073741824");
        assert_string_equal(f->trace[3], "write " MEMU "/memory.kmem.tcp.limit_in_bytes 1073741824");
        assert_string_equal(f->trace[4], "mkdir " MEMU "/session-s1");
}

/* A kernel without memory.kmem.tcp.*: TCP buffers cannot be capped, like a missing
 * controller (caps_required decides); the rest of memory_max still applies. */
static void test_no_tcp_accounting(void **state)
{
        struct fixture *f = *state;
        f->no_kmem_tcp = true;
        f->p.memory_max = 128ULL << 20;
        f->p.caps_required = true;
        assert_int_equal(create(f, "s1"), -EOPNOTSUPP);
        assert_non_null(strstr(f->err.msg, "memory.kmem.tcp.limit_in_bytes does not exist"));
        assert_non_null(strstr(f->err.msg, "memory_max on TCP buffers"));
        assert_false(exists(cgpath(f, MEM)));
        f->p.caps_required = false;
        f->n_trace = 0;
        assert_int_equal(create(f, "s1"), 0);
        assert_non_null(strstr(f->warnings, "memory.kmem.tcp.limit_in_bytes does not exist"));
        assert_true(f->n_trace > 4);
        assert_string_equal(f->trace[2], "write " MEMU "/memory.limit_in_bytes 134217728");
        assert_string_equal(f->trace[3], "mkdir " MEMU "/session-s1");
        assert_string_equal(f->trace[4], "mkdir " MEM "/supervisor");
}

/* Without memory_max nothing turns TCP accounting on; a policy that lifts the cap lifts the
 * TCP limit of a user cgroup an earlier login made. */
static void test_tcp_limit_follows_memory_max(void **state)
{
        struct fixture *f = *state;
        f->p.pids_max = 10;
        assert_int_equal(create(f, "s1"), 0);
        for (size_t i = 0; i < f->n_trace; i++)
                assert_null(strstr(f->trace[i], "kmem.tcp"));
        f->p.memory_max = 256ULL << 20;
        f->n_trace = 0;
        assert_int_equal(create(f, "s2"), 0);
        assert_string_equal(get(cgpath(f, MEMU), "memory.kmem.tcp.limit_in_bytes"), "268435456");
        assert_string_equal(get(cgpath(f, MEMU "/session-s2"), "memory.kmem.tcp.limit_in_bytes"),
                            "-1");
        f->p.memory_max = LIMIT_MAX;
        assert_int_equal(create(f, "s3"), 0);
        assert_string_equal(get(cgpath(f, MEMU), "memory.kmem.tcp.limit_in_bytes"), "-1");
        /* no limit: the new leaf is left as the kernel made it */
        assert_string_equal(get(cgpath(f, MEMU "/session-s3"), "memory.kmem.tcp.limit_in_bytes"),
                            "9223372036854771712\n");
}

static void test_swap_without_memory_max(void **state)
{
        struct fixture *f = *state;
        f->p.swap_max = 1ULL << 30;
        f->p.caps_required = true;
        assert_int_equal(create(f, "s1"), -EOPNOTSUPP);
        assert_non_null(strstr(f->err.msg, "swap_max needs memory_max"));
        f->p.caps_required = false;
        assert_int_equal(create(f, "s1"), 0);
        assert_non_null(strstr(f->warnings, "swap_max needs memory_max"));
}

static const char mountinfo_no_pids[] =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n";

static void test_missing_hierarchy(void **state)
{
        struct fixture *f = *state;
        write_mountinfo(f, mountinfo_no_pids);
        f->p.pids_max = 50;
        f->p.caps_required = true;
        assert_int_equal(create(f, "s1"), -EOPNOTSUPP);
        assert_non_null(strstr(f->err.msg, "no pids hierarchy is mounted (needed for pids_max)"));
        assert_non_null(strstr(f->err.msg, "mount -t cgroup -o pids cgroup /sys/fs/cgroup/pids"));
        assert_int_equal(f->n_trace, 0);
        f->p.caps_required = false;
        assert_int_equal(create(f, "s1"), 0);
        assert_non_null(strstr(f->warnings, "no pids hierarchy"));
        assert_int_equal(f->s.n, 3);
        assert_string_equal(f->s.h[0].controllers, "memory");
        assert_string_equal(f->s.h[1].controllers, "blkio");
        assert_string_equal(f->s.h[2].controllers, "cpu,cpuacct");
}

/* What mountinfo says, read as the kernel writes it: a mount hidden by a later one on the
 * same point, escaped names, super options beyond the controllers, controllers listed in
 * another order than /proc/self/cgroup lists them. */
static void test_mountinfo_details(void **state)
{
        struct fixture *f = *state;
        write_mountinfo(f, "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
                           "31 22 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
                           "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                           "38 31 0:35 / /sys/fs/cgroup/blk\\040io rw - cgroup cgroup rw,blkio\n"
                           "40 31 0:37 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup "
                           "rw,noprefix,release_agent=/sbin/agent,cpuacct,cpu\n");
        mkdirs(cgpath(f, "blk io"));
        enum cgroup_backend_kind k;
        assert_int_equal(cgroup_backend_resolve(CGROUP_BACKEND_AUTO, &k, &f->err), 0);
        assert_int_equal(k, CGROUP_BACKEND_V1); /* the cgroup2 mount is hidden */
        assert_int_equal(create(f, "s1"), 0);
        assert_int_equal(f->s.n, 3);
        assert_string_equal(f->s.h[1].controllers, "blkio");
        assert_string_equal(f->s.h[1].mount_name, "blk io");
        char want[PATH_MAX];
        snprintf(want, sizeof(want), "%s/blk io/isolate-t/user-1000", f->cg);
        assert_string_equal(f->s.h[1].user_path, want);
        assert_string_equal(f->s.h[2].controllers, "cpuacct,cpu");
        assert_string_equal(f->s.h[2].mount_options, "noprefix,cpuacct,cpu");
        assert_string_equal(f->s.h[2].mount_name, "cpu,cpuacct");
        /* /proc/self/cgroup says "cpu,cpuacct": the same hierarchy */
        assert_int_equal(cgroup_session_enter(&f->s, 0, &f->err), 0);
}

static void test_failure_removes_what_it_made(void **state)
{
        struct fixture *f = *state;
        full_policy(f);
        /* the cpu hierarchy refuses: its root holds a file where our directory would go */
        putf(cgpath(f, "cpu,cpuacct"), "isolate-t", "");
        assert_true(create(f, "s1") < 0);
        assert_non_null(strstr(f->err.msg, "cpu,cpuacct/isolate-t"));
        assert_false(exists(cgpath(f, MEM)));
        assert_false(exists(cgpath(f, "blkio/isolate-t")));
        assert_false(exists(cgpath(f, "pids/isolate-t")));
        assert_true(exists(cgpath(f, "memory/process_api/abc")));
        assert_int_equal(f->s.n, 0);
}

static void test_enter_all_or_nothing(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "s1"), 0);
        /* the pids leaf cannot take the process */
        char procs[PATH_MAX];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", f->s.h[2].leaf_path);
        assert_int_equal(unlink(procs), 0);
        assert_int_equal(mkdir(procs, 0755), 0);
        f->n_trace = 0;
        assert_true(cgroup_session_enter(&f->s, 4242, &f->err) < 0);
        assert_non_null(strstr(f->err.msg, "cannot move process 4242"));
        static const char *const want[] = {
            "write " MEMU "/session-s1/cgroup.procs 4242",
            "write blkio/isolate-t/user-1000/cgroup.procs 4242",
            /* back where it was, per /proc/4242/cgroup */
            "write memory/sshd/cgroup.procs 4242",
            "write blkio/cgroup.procs 4242",
        };
        assert_trace(f, want, ELEMENTSOF(want));
}

static void test_enter_self_and_supervisor(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "s1"), 0);
        f->n_trace = 0;
        assert_int_equal(cgroup_session_enter(&f->s, 0, &f->err), 0);
        assert_int_equal(cgroup_session_enter_supervisor(&f->s, 0, &f->err), 0);
        static const char *const want[] = {
            "write " MEMU "/session-s1/tasks 0",
            "write blkio/isolate-t/user-1000/tasks 0",
            "write pids/isolate-t/user-1000/session-s1/tasks 0",
            "write cpu,cpuacct/isolate-t/user-1000/session-s1/tasks 0",
            "write " MEM "/supervisor/tasks 0",
            "write blkio/isolate-t/supervisor/tasks 0",
            "write pids/isolate-t/supervisor/tasks 0",
            "write cpu,cpuacct/isolate-t/supervisor/tasks 0",
        };
        assert_trace(f, want, ELEMENTSOF(want));
}

/* The caller moves itself: it gets the leaf's `tasks` in each hierarchy (the user's cgroup
 * for blkio, which has no leaf), opened for writing. */
static void test_enter_files(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "s1"), 0);
        int fds[8];
        size_t n = 0;
        assert_int_equal(cgroup_session_enter_files(&f->s, fds, ELEMENTSOF(fds), &n, &f->err), 0);
        assert_int_equal(n, 4);
        static const char *const want[] = {
            MEMU "/session-s1/tasks",
            "blkio/isolate-t/user-1000/tasks",
            "pids/isolate-t/user-1000/session-s1/tasks",
            "cpu,cpuacct/isolate-t/user-1000/session-s1/tasks",
        };
        for (size_t i = 0; i < n; i++) {
                char link[64], target[PATH_MAX];
                snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[i]);
                ssize_t k = readlink(link, target, sizeof(target) - 1);
                assert_true(k > 0);
                target[k] = '\0';
                assert_string_equal(target + strlen(f->cg) + 1, want[i]);
                assert_int_equal(fcntl(fds[i], F_GETFL) & O_ACCMODE, O_WRONLY);
                assert_int_equal(fcntl(fds[i], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
                close(fds[i]);
        }
        /* too small an array: nothing is left open, an error says so */
        assert_true(cgroup_session_enter_files(&f->s, fds, 2, &n, &f->err) < 0);
        assert_int_equal(n, 0);
}

static void test_remove_and_busy(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "s1"), 0);
        f->n_trace = 0;
        assert_int_equal(cgroup_session_remove(&f->s, &f->err), 0);
        static const char *const want[] = {
            "rmdir " MEMU "/session-s1",
            "rmdir pids/isolate-t/user-1000/session-s1",
            "rmdir cpu,cpuacct/isolate-t/user-1000/session-s1",
        };
        assert_trace(f, want, ELEMENTSOF(want));
        assert_true(exists(cgpath(f, MEMU)));

        /* a leaf that keeps a process: reported, after retrying */
        assert_int_equal(create(f, "s2"), 0);
        putf(f->s.h[0].leaf_path, "cgroup.procs", "99\n");
        assert_int_equal(cgroup_session_remove(&f->s, &f->err), -EBUSY);
        assert_non_null(strstr(f->err.msg, "session-s2"));
        assert_true(exists(f->s.h[0].leaf_path));
        assert_false(exists(f->s.h[2].leaf_path));
}

static void test_usage(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "s1"), 0);
        putf(f->s.h[0].leaf_path, "memory.usage_in_bytes", "2097152\n");
        putf(f->s.h[0].leaf_path, "memory.max_usage_in_bytes", "8388608\n");
        /* v1 blkio: the user's cgroup */
        putf(f->s.h[1].user_path, "blkio.throttle.io_service_bytes_recursive",
             "8:0 Read 4096\n8:0 Write 20971520\n8:0 Sync 0\n8:0 Async 0\n8:0 Total 20975616\n"
             "254:0 Read 100\n254:0 Write 0\nTotal 20975716\n");
        putf(f->s.h[2].leaf_path, "pids.current", "12\n");
        struct cgroup_usage u;
        assert_int_equal(cgroup_session_usage(&f->s, &u), 0);
        assert_int_equal(u.memory_current, 2097152);
        assert_int_equal(u.memory_peak, 8388608);
        assert_int_equal(u.io_read_bytes, 4196);
        assert_int_equal(u.io_write_bytes, 20971520);
        assert_int_equal(u.tasks, 12);
}

static void test_gc_counts_sessions_not_directories(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "dead"), 0);
        for (size_t i = 0; i < f->s.n; i++) {
                struct timespec ts[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
                if (f->s.h[i].leaf_path[0])
                        assert_int_equal(utimensat(AT_FDCWD, f->s.h[i].leaf_path, ts, 0), 0);
        }
        assert_int_equal(cgroup_gc(&f->c, NULL, NULL, &f->err), 1);
        for (size_t i = 0; i < f->s.n; i++)
                if (f->s.h[i].leaf_path[0])
                        assert_false(exists(f->s.h[i].leaf_path));
}

static void test_weight_to_shares(void **state)
{
        assert_int_equal(cgroup_cpu_weight_to_shares(100), 1024);
        assert_int_equal(cgroup_cpu_weight_to_shares(1), 10);
        assert_int_equal(cgroup_cpu_weight_to_shares(10000), 102400);
        assert_int_equal(cgroup_cpu_weight_to_shares(0), 2);
        assert_int_equal(cgroup_cpu_weight_to_shares(1000000), 262144);
}

static void test_cpu_unlimited_and_bad_weight(void **state)
{
        struct fixture *f = *state;
        f->p.cpu_max_percent = LIMIT_MAX;
        assert_int_equal(create(f, "s1"), 0);
        assert_string_equal(get(cgpath(f, "cpu,cpuacct/isolate-t/user-1000"), "cpu.cfs_quota_us"),
                            "-1");
        f->p.cpu_weight = 20000;
        assert_int_equal(create(f, "s2"), -EINVAL);
        assert_non_null(strstr(f->err.msg, "cpu_weight"));
        assert_false(exists(cgpath(f, "cpu,cpuacct/isolate-t/user-1000/session-s2")));
        assert_false(exists(cgpath(f, MEMU "/session-s2")));
}

static void test_registry_round_trip_v1(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(create(f, "s1"), 0);
        char buf[16384];
        assert_true(registry_cgroup_format(&f->s, buf, sizeof(buf)) > 0);
        struct cgroup_session back;
        assert_int_equal(registry_cgroup_parse(buf, &back), 0);
        assert_memory_equal(&back, &f->s, sizeof(back));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_first_login_each_hierarchy_in_order, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_memsw_raised_before_memory, setup, teardown),
            cmocka_unit_test_setup_teardown(test_policy_edit_applies_at_next_login, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_lower_cap_counts_what_the_kernel_cannot_drop,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_no_swap_accounting, setup, teardown),
            cmocka_unit_test_setup_teardown(test_swap_without_memory_max, setup, teardown),
            cmocka_unit_test_setup_teardown(test_missing_hierarchy, setup, teardown),
            cmocka_unit_test_setup_teardown(test_no_tcp_accounting, setup, teardown),
            cmocka_unit_test_setup_teardown(test_tcp_limit_follows_memory_max, setup, teardown),
            cmocka_unit_test_setup_teardown(test_mountinfo_details, setup, teardown),
            cmocka_unit_test_setup_teardown(test_failure_removes_what_it_made, setup, teardown),
            cmocka_unit_test_setup_teardown(test_enter_all_or_nothing, setup, teardown),
            cmocka_unit_test_setup_teardown(test_enter_self_and_supervisor, setup, teardown),
            cmocka_unit_test_setup_teardown(test_enter_files, setup, teardown),
            cmocka_unit_test_setup_teardown(test_remove_and_busy, setup, teardown),
            cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
            cmocka_unit_test_setup_teardown(test_gc_counts_sessions_not_directories, setup,
                                            teardown),
            cmocka_unit_test(test_weight_to_shares),
            cmocka_unit_test_setup_teardown(test_cpu_unlimited_and_bad_weight, setup, teardown),
            cmocka_unit_test_setup_teardown(test_registry_round_trip_v1, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

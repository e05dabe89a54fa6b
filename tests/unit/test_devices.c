/* test_devices: an io entry's target -> the whole disks behind it (session-helper/devices.c).
 * On this machine's real sysfs: "/", its device node, a file on it, a path that does not
 * exist, /proc, a tmpfs, a character device. On a fake sysfs laid out as the kernel lays
 * it out (this VM has no partitions and no device-mapper): partitions, device-mapper over a
 * partition, over two disks, stacked, md over partitions, duplicates, unknown numbers. */
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

#include "../../session-helper/cgroup.h"
#include "../../session-helper/devices.h"

/* ---- the real machine -------------------------------------------------------------------- */

/* The source of the "/" mount (e.g. /dev/vda) and the whole disk the kernel says it is on,
 * found the way an admin would: the mount's source, then its sysfs entry's parent when it
 * is a partition. */
static void root_disk(char *source, size_t len, unsigned *ma, unsigned *mi)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        assert_non_null(f);
        char line[1024];
        bool found = false;
        while (fgets(line, sizeof(line), f)) {
                char point[512], rest[512];
                if (sscanf(line, "%*s %*s %*s %*s %511s %*s", point) != 1 || strcmp(point, "/"))
                        continue;
                char *dash = strstr(line, " - ");
                assert_non_null(dash);
                assert_int_equal(sscanf(dash + 3, "%*s %511s", rest), 1);
                snprintf(source, len, "%s", rest);
                found = true;
        }
        fclose(f);
        assert_true(found);
        struct stat st;
        assert_int_equal(stat(source, &st), 0);
        assert_true(S_ISBLK(st.st_mode));
        *ma = major(st.st_rdev);
        *mi = minor(st.st_rdev);
        char p[256];
        snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/partition", *ma, *mi);
        if (access(p, F_OK) == 0) {
                snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/../dev", *ma, *mi);
                FILE *d = fopen(p, "re");
                assert_non_null(d);
                assert_int_equal(fscanf(d, "%u:%u", ma, mi), 2);
                fclose(d);
        }
}

static void test_root_and_its_node_and_a_file_on_it(void **state)
{
        char source[512];
        unsigned ma, mi, a, b;
        root_disk(source, sizeof(source), &ma, &mi);
        print_message("/ is on %s, disk %u:%u\n", source, ma, mi);
        struct isolate_error err = {0};
        assert_int_equal(device_resolve("/", &a, &b, &err), 1);
        assert_int_equal(a, ma);
        assert_int_equal(b, mi);
        assert_int_equal(device_resolve(source, &a, &b, &err), 1);
        assert_int_equal(a, ma);
        assert_int_equal(b, mi);
        assert_int_equal(device_resolve("/etc/passwd", &a, &b, &err), 1);
        assert_int_equal(a, ma);
        assert_int_equal(b, mi);
        /* a whole disk: the io controller accepts it */
        char p[128];
        snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/partition", a, b);
        assert_int_equal(access(p, F_OK), -1);
}

/* The whole disk behind "/", named by its own node in /dev (on a VM /dev/vda): the disk
 * itself is what is limited. sysfs's uevent names the node (DEVNAME), as udev does. */
static void test_whole_disk_node(void **state)
{
        char source[512];
        unsigned ma, mi;
        root_disk(source, sizeof(source), &ma, &mi);
        char p[128], line[256], node[256] = "";
        snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/uevent", ma, mi);
        FILE *f = fopen(p, "re");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "DEVNAME=%200s", node + 5) == 1)
                        memcpy(node, "/dev/", 5);
        fclose(f);
        assert_true(node[0]);
        print_message("the disk behind / is %s, %u:%u\n", node, ma, mi);
        struct stat st;
        assert_int_equal(stat(node, &st), 0);
        assert_true(S_ISBLK(st.st_mode));
        assert_int_equal(major(st.st_rdev), ma);
        assert_int_equal(minor(st.st_rdev), mi);
        unsigned a, b;
        struct isolate_error err = {0};
        assert_int_equal(device_resolve(node, &a, &b, &err), 1);
        assert_int_equal(a, ma);
        assert_int_equal(b, mi);
}

static void test_nonexistent_path(void **state)
{
        unsigned a, b;
        struct isolate_error err = {0};
        assert_int_equal(device_resolve("/nonexistent/isolate-test", &a, &b, &err), -ENOENT);
        assert_string_equal(err.msg, "/nonexistent/isolate-test: No such file or directory");
}

static void test_proc_has_no_block_device(void **state)
{
        unsigned a, b;
        struct isolate_error err = {0};
        assert_int_equal(device_resolve("/proc", &a, &b, &err), -ENODEV);
        assert_string_equal(err.msg, "/proc: no block device behind it (proc)");
        assert_int_equal(device_resolve("/proc/self/status", &a, &b, &err), -ENODEV);
        assert_string_equal(err.msg, "/proc/self/status: no block device behind it (proc)");
}

static void test_tmpfs_has_no_block_device(void **state)
{
        char dir[] = "/dev/shm/test_devices.XXXXXX";
        assert_non_null(mkdtemp(dir));
        unsigned a, b;
        struct isolate_error err = {0};
        int r = device_resolve(dir, &a, &b, &err);
        rmdir(dir);
        assert_int_equal(r, -ENODEV);
        char want[128];
        snprintf(want, sizeof(want), "%s: no block device behind it (tmpfs)", dir);
        assert_string_equal(err.msg, want);
}

static void test_character_device(void **state)
{
        unsigned a, b;
        struct isolate_error err = {0};
        assert_int_equal(device_resolve("/dev/null", &a, &b, &err), -ENODEV);
        assert_string_equal(err.msg, "/dev/null: a character device, not a block device");
        assert_int_equal(device_resolve("", &a, &b, &err), -EINVAL);
}

/* ---- a fake sysfs ------------------------------------------------------------------------ */

struct fake {
        char dir[64];
        char sys[128];
};

static void sh(const char *fmt, ...)
{
        char cmd[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        assert_int_equal(system(cmd), 0);
}

/* A block device as sysfs shows it: its directory under devices/ with a dev file, a
 * partition file for partitions, and its dev/block/MAJ:MIN link. */
static void blockdev(struct fake *f, const char *devpath, unsigned ma, unsigned mi, bool partition)
{
        sh("mkdir -p '%s/devices/%s' && echo %u:%u > '%s/devices/%s/dev'", f->sys, devpath, ma, mi,
           f->sys, devpath);
        if (partition)
                sh("echo 1 > '%s/devices/%s/partition'", f->sys, devpath);
        sh("mkdir -p '%s/dev/block' && ln -s '../../devices/%s' '%s/dev/block/%u:%u'", f->sys,
           devpath, f->sys, ma, mi);
}

/* holder's slaves/NAME -> the device it sits on (relative, as the kernel makes it) */
static void slave(struct fake *f, const char *holder, const char *name, const char *target)
{
        sh("mkdir -p '%s/devices/%s/slaves' && ln -s '../../../../%s' "
           "'%s/devices/%s/slaves/%s'",
           f->sys, holder, target, f->sys, holder, name);
}

static int fake_setup(void **state)
{
        struct fake *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        strcpy(f->dir, "/tmp/test_devices.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->sys, sizeof(f->sys), "%s/sys", f->dir);
        /* three SCSI disks, sda with two partitions, sdb and sdc with one */
        blockdev(f, "pci0/host0/block/sda", 8, 0, false);
        blockdev(f, "pci0/host0/block/sda/sda1", 8, 1, true);
        blockdev(f, "pci0/host0/block/sda/sda2", 8, 2, true);
        blockdev(f, "pci0/host0/block/sdb", 8, 16, false);
        blockdev(f, "pci0/host0/block/sdb/sdb1", 8, 17, true);
        blockdev(f, "pci0/host0/block/sdc", 8, 32, false);
        blockdev(f, "pci0/host0/block/sdc/sdc1", 8, 33, true);
        /* dm-0: LUKS on sda2; dm-1: LVM over sdb and sdc; dm-2: a volume on dm-0;
         * dm-3: over both partitions of sda; md0: RAID1 over sdb1 and sdc1 */
        blockdev(f, "virtual/block/dm-0", 253, 0, false);
        slave(f, "virtual/block/dm-0", "sda2", "pci0/host0/block/sda/sda2");
        blockdev(f, "virtual/block/dm-1", 253, 1, false);
        slave(f, "virtual/block/dm-1", "sdb", "pci0/host0/block/sdb");
        slave(f, "virtual/block/dm-1", "sdc", "pci0/host0/block/sdc");
        blockdev(f, "virtual/block/dm-2", 253, 2, false);
        slave(f, "virtual/block/dm-2", "dm-0", "virtual/block/dm-0");
        blockdev(f, "virtual/block/dm-3", 253, 3, false);
        slave(f, "virtual/block/dm-3", "sda1", "pci0/host0/block/sda/sda1");
        slave(f, "virtual/block/dm-3", "sda2", "pci0/host0/block/sda/sda2");
        blockdev(f, "virtual/block/md0", 9, 0, false);
        slave(f, "virtual/block/md0", "sdb1", "pci0/host0/block/sdb/sdb1");
        slave(f, "virtual/block/md0", "sdc1", "pci0/host0/block/sdc/sdc1");
        /* an empty slaves/ directory, as every disk has */
        sh("mkdir -p '%s/devices/pci0/host0/block/sdb/slaves'", f->sys);
        device_set_sysfs_root(f->sys);
        *state = f;
        return 0;
}

static int fake_teardown(void **state)
{
        struct fake *f = *state;
        device_set_sysfs_root(NULL);
        sh("rm -rf '%s'", f->dir);
        free(f);
        return 0;
}

static void expect(unsigned ma, unsigned mi, const char *want)
{
        struct device_number d[DEVICE_MAX_DISKS];
        struct isolate_error err = {0};
        int n = device_whole_disks(ma, mi, d, ELEMENTSOF(d), &err);
        if (n < 0)
                print_message("%u:%u: %s\n", ma, mi, err.msg);
        assert_true(n > 0);
        char got[256] = "";
        for (int i = 0; i < n; i++) {
                size_t used = strlen(got);
                snprintf(got + used, sizeof(got) - used, "%s%u:%u", i ? " " : "", d[i].major,
                         d[i].minor);
        }
        assert_string_equal(got, want);
}

/* Order of readdir is not fixed: compare as sets for several disks. */
static void expect_set(unsigned ma, unsigned mi, const char *a, const char *b)
{
        struct device_number d[DEVICE_MAX_DISKS];
        struct isolate_error err = {0};
        assert_int_equal(device_whole_disks(ma, mi, d, ELEMENTSOF(d), &err), 2);
        char x[32], y[32];
        snprintf(x, sizeof(x), "%u:%u", d[0].major, d[0].minor);
        snprintf(y, sizeof(y), "%u:%u", d[1].major, d[1].minor);
        assert_true((!strcmp(x, a) && !strcmp(y, b)) || (!strcmp(x, b) && !strcmp(y, a)));
}

static void test_disk_is_itself(void **state)
{
        expect(8, 0, "8:0");
        expect(8, 16, "8:16"); /* with an empty slaves/ */
}

static void test_partition_to_disk(void **state)
{
        expect(8, 1, "8:0");
        expect(8, 2, "8:0");
        expect(8, 33, "8:32");
}

static void test_device_mapper_to_disks(void **state)
{
        expect(253, 0, "8:0");              /* LUKS on a partition */
        expect_set(253, 1, "8:16", "8:32"); /* LVM over two disks: each limited */
        expect(253, 2, "8:0");              /* stacked */
        expect(253, 3, "8:0");              /* two partitions of one disk: once */
        expect_set(9, 0, "8:16", "8:32");   /* md RAID1 over partitions */
}

static void test_unknown_number(void **state)
{
        struct device_number d[4];
        struct isolate_error err = {0};
        assert_int_equal(device_whole_disks(7, 9, d, ELEMENTSOF(d), &err), -ENODEV);
        assert_non_null(strstr(err.msg, "7:9"));
}

static void test_too_many_disks(void **state)
{
        struct device_number d[1];
        struct isolate_error err = {0};
        assert_int_equal(device_whole_disks(253, 1, d, 1, &err), -E2BIG);
}

static void test_node_of_a_stacked_device(void **state)
{
        struct fake *f = *state;
        char node[128];
        snprintf(node, sizeof(node), "%s/dm-1", f->dir);
        assert_int_equal(mknod(node, S_IFBLK | 0600, makedev(253, 1)), 0);
        struct device_number d[DEVICE_MAX_DISKS];
        struct isolate_error err = {0};
        assert_int_equal(device_resolve_all(node, d, ELEMENTSOF(d), &err), 2);
        unsigned a, b;
        assert_int_equal(device_resolve(node, &a, &b, &err), 2);
        assert_int_equal(a, 8);
        assert_true(b == 16 || b == 32);
        /* a node whose number sysfs does not know */
        snprintf(node, sizeof(node), "%s/loop9", f->dir);
        assert_int_equal(mknod(node, S_IFBLK | 0600, makedev(7, 9)), 0);
        assert_int_equal(device_resolve(node, &a, &b, &err), -ENODEV);
        assert_non_null(strstr(err.msg, node));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_root_and_its_node_and_a_file_on_it),
            cmocka_unit_test(test_whole_disk_node),
            cmocka_unit_test(test_nonexistent_path),
            cmocka_unit_test(test_proc_has_no_block_device),
            cmocka_unit_test(test_tmpfs_has_no_block_device),
            cmocka_unit_test(test_character_device),
            cmocka_unit_test_setup_teardown(test_disk_is_itself, fake_setup, fake_teardown),
            cmocka_unit_test_setup_teardown(test_partition_to_disk, fake_setup, fake_teardown),
            cmocka_unit_test_setup_teardown(test_device_mapper_to_disks, fake_setup, fake_teardown),
            cmocka_unit_test_setup_teardown(test_unknown_number, fake_setup, fake_teardown),
            cmocka_unit_test_setup_teardown(test_too_many_disks, fake_setup, fake_teardown),
            cmocka_unit_test_setup_teardown(test_node_of_a_stacked_device, fake_setup,
                                            fake_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* devices.c: an io entry's target (a device node or any path) -> the whole disks behind it,
 * through sysfs: /sys/dev/block/MAJ:MIN is a link into /sys/devices/.../block/DISK[/PART];
 * a partition has a "partition" file and its disk is the parent directory; a device-mapper
 * or md device lists what it sits on in slaves/. The io controllers throttle whole disks
 * (the kernel refuses a partition's MAJ:MIN), so that is what the caps name. */
#include "devices.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define MAX_DEPTH 8 /* dm on md on dm ...: deeper than any real stack */

static char *g_sysfs_root; /* NULL: /sys */

void device_set_sysfs_root(const char *sysfs_root)
{
        free(g_sysfs_root);
        g_sysfs_root = sysfs_root ? strdup(sysfs_root) : NULL;
}

static const char *sysfs(void)
{
        return g_sysfs_root ? g_sysfs_root : "/sys";
}

static int parse_devnum(const char *s, unsigned *ret_major, unsigned *ret_minor)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%s", s);
        buf[strcspn(buf, "\n")] = '\0';
        char *colon = strchr(buf, ':');
        if (!colon)
                return -EINVAL;
        *colon = '\0';
        uint64_t a, b;
        if (safe_atou64(buf, &a) < 0 || safe_atou64(colon + 1, &b) < 0 || a > UINT32_MAX ||
            b > UINT32_MAX)
                return -EINVAL;
        *ret_major = (unsigned)a;
        *ret_minor = (unsigned)b;
        return 0;
}

static int add_disk(struct device_number *ret, size_t max, size_t *n, unsigned ma, unsigned mi)
{
        for (size_t i = 0; i < *n; i++)
                if (ret[i].major == ma && ret[i].minor == mi)
                        return 0;
        if (*n >= max)
                return -E2BIG;
        ret[(*n)++] = (struct device_number){ma, mi};
        return 0;
}

static int whole_disks(unsigned ma, unsigned mi, struct device_number *ret, size_t max, size_t *n,
                       int depth, struct isolate_error *err)
{
        if (depth > MAX_DEPTH)
                return error_set(err, ELOOP, "block device %u:%u: device stack too deep", ma, mi);
        char link[PATH_MAX], dir[PATH_MAX], buf[64];
        snprintf(link, sizeof(link), "%s/dev/block/%u:%u", sysfs(), ma, mi);
        if (!realpath(link, dir))
                return error_set(err, ENODEV, "block device %u:%u is not in %s/dev/block", ma, mi,
                                 sysfs());
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return error_set_errno(err, errno, "cannot open %s", dir);

        if (faccessat(dfd, "partition", F_OK, 0) == 0) {
                /* .../block/vda/vda1 -> .../block/vda */
                char *slash = strrchr(dir, '/');
                if (!slash || slash == dir)
                        return error_set(err, ENODEV, "%s: a partition without a disk", dir);
                *slash = '\0';
                char devfile[PATH_MAX + 8];
                snprintf(devfile, sizeof(devfile), "%s/dev", dir);
                if (read_file_at(AT_FDCWD, devfile, buf, sizeof(buf)) <= 0 ||
                    parse_devnum(buf, &ma, &mi) < 0)
                        return error_set(err, ENODEV, "cannot read %s", devfile);
                return whole_disks(ma, mi, ret, max, n, depth + 1, err);
        }

        DIR *d = NULL;
        int sfd = openat(dfd, "slaves", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sfd >= 0 && !(d = fdopendir(sfd)))
                close(sfd);
        size_t before = *n;
        int r = 0;
        if (d) {
                for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                        if (de->d_name[0] == '.')
                                continue;
                        char p[NAME_MAX + 8];
                        unsigned sma, smi;
                        snprintf(p, sizeof(p), "%s/dev", de->d_name);
                        if (read_file_at(dirfd(d), p, buf, sizeof(buf)) <= 0 ||
                            parse_devnum(buf, &sma, &smi) < 0)
                                continue;
                        r = whole_disks(sma, smi, ret, max, n, depth + 1, err);
                }
                closedir(d);
        }
        if (r < 0)
                return r;
        if (*n > before)
                return 0; /* a stacked device: its disks were added */
        r = add_disk(ret, max, n, ma, mi);
        if (r < 0)
                return error_set(err, r, "more than %zu disks", max);
        return 0;
}

int device_whole_disks(unsigned major, unsigned minor, struct device_number *ret, size_t max,
                       struct isolate_error *err)
{
        size_t n = 0;
        int r = whole_disks(major, minor, ret, max, &n, 0, err);
        if (r < 0)
                return r;
        return (int)n;
}

/* For a file system with no block device of its own (btrfs and its anonymous st_dev, or
 * tmpfs, proc): the mount's source, and its type for the message. */
static int mount_of(dev_t dev, char *source, size_t slen, char *fstype, size_t flen)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        char want[32];
        snprintf(want, sizeof(want), "%u:%u", major(dev), minor(dev));
        _cleanup_free_ char *line = NULL;
        size_t len = 0;
        while (getline(&line, &len, f) > 0) {
                char *save = NULL, *fields[64];
                size_t n = 0;
                for (char *t = strtok_r(line, " \n", &save); t && n < ELEMENTSOF(fields);
                     t = strtok_r(NULL, " \n", &save))
                        fields[n++] = t;
                if (n < 7 || !STREQ(fields[2], want))
                        continue;
                size_t dash = 6;
                while (dash < n && !STREQ(fields[dash], "-"))
                        dash++;
                if (dash + 2 >= n)
                        continue;
                snprintf(fstype, flen, "%s", fields[dash + 1]);
                snprintf(source, slen, "%s", fields[dash + 2]);
                return 0;
        }
        return -ENOENT;
}

int device_resolve_all(const char *target, struct device_number *ret, size_t max,
                       struct isolate_error *err)
{
        struct stat st;
        if (!target || !*target)
                return error_set(err, EINVAL, "empty io target");
        if (stat(target, &st) < 0)
                return error_set_errno(err, errno, "%s", target);
        dev_t dev;
        if (S_ISBLK(st.st_mode))
                dev = st.st_rdev;
        else if (S_ISCHR(st.st_mode))
                return error_set(err, ENODEV, "%s: a character device, not a block device", target);
        else
                dev = st.st_dev;
        if (!S_ISBLK(st.st_mode)) {
                char source[PATH_MAX] = "", fstype[64] = "";
                struct stat sst;
                /* btrfs, overlay and friends report an anonymous device; the mount's source
                 * may still be a real one */
                if (major(dev) == 0) {
                        if (mount_of(dev, source, sizeof(source), fstype, sizeof(fstype)) == 0 &&
                            source[0] == '/' && stat(source, &sst) == 0 && S_ISBLK(sst.st_mode))
                                dev = sst.st_rdev;
                        else
                                return error_set(err, ENODEV, "%s: no block device behind it (%s)",
                                                 target, fstype[0] ? fstype : "no device");
                }
        }
        int n = device_whole_disks(major(dev), minor(dev), ret, max, err);
        if (n < 0)
                return error_prefix(err, "%s", target);
        return n;
}

int device_resolve(const char *target, unsigned *ret_major, unsigned *ret_minor,
                   struct isolate_error *err)
{
        struct device_number d[DEVICE_MAX_DISKS];
        int n = device_resolve_all(target, d, ELEMENTSOF(d), err);
        if (n < 0)
                return n;
        *ret_major = d[0].major;
        *ret_minor = d[0].minor;
        return n;
}

/* devices.h: an io block's target -> the whole disks behind it (devices.c), for the I/O
 * caps of the cgroup backends and isolatectl check. */
#pragma once

#include "../client/util.h"

/* A device node or any path (the file system it lives on) -> the whole disk's MAJ:MIN;
 * partitions and device-mapper resolved through sysfs. -ENODEV with a message otherwise.
 * Returns the number of whole disks behind target (>= 1; a device-mapper or md device can
 * span several, see device_resolve_all); ret_major/ret_minor get the first. */
int device_resolve(const char *target, unsigned *ret_major, unsigned *ret_minor,
                   struct isolate_error *err);

struct device_number {
        unsigned major, minor;
};

#define DEVICE_MAX_DISKS 16

/* Every whole disk behind target, in sysfs order, without duplicates: a partition -> its
 * disk; a device-mapper or md device -> the disks under its slaves/, recursively (LUKS on
 * a partition -> that disk; LVM or RAID over three disks -> all three). The cgroup backends
 * put the full limit on each of them: a volume striped over n disks can then reach up to
 * n times the limit in total, never more than the limit on any one disk. Returns the count
 * (>= 1) or -errno with err set (-ENODEV: no block device behind target). */
int device_resolve_all(const char *target, struct device_number *ret, size_t max,
                       struct isolate_error *err);
/* The same from a device number (what stat gave), for callers and tests that have one. */
int device_whole_disks(unsigned major, unsigned minor, struct device_number *ret, size_t max,
                       struct isolate_error *err);
/* Where sysfs is ("/sys" by default); unit tests point this at a fake tree. Copied. */
void device_set_sysfs_root(const char *sysfs_root);

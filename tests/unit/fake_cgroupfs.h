/* fake_cgroupfs.h: a tree of plain files standing for cgroupfs in the unit tests. Linked
 * into the unit test binaries only (the Makefile's unit test rule), never into the helper. */
#pragma once

/* Points the cgroup code at a fake tree: cgroupfs_root stands for /sys/fs/cgroup and
 * mountinfo_path for /proc/self/mountinfo (mount points under /sys/fs/cgroup in it are
 * taken as under cgroupfs_root). There, removing a cgroup directory removes its control
 * files first and fails with -EBUSY while its cgroup.procs is not empty, as the kernel
 * does; and the tree counts as a cgroup2 file system when its mountinfo has a cgroup2
 * mount at /sys/fs/cgroup itself. Both strings are copied; NULL, NULL: back to the host's
 * cgroupfs. */
void fake_cgroupfs_set(const char *cgroupfs_root, const char *mountinfo_path);

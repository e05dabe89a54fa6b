/* fake_cgroupfs.c: what a tree of plain files cannot do by itself that the kernel's cgroupfs
 * does, played for the cgroup code through cgroup_set_fs_emulation(). */
#include "fake_cgroupfs.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../session-helper/cgroup-internal.h"

static char *g_root; /* the fake tree's root; NULL: none in use */

static bool in_fake_tree(const char *path)
{
        size_t n = g_root ? strlen(g_root) : 0;
        return g_root && strncmp(path, g_root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A fake tree's control files are plain files: emulate the kernel, which removes a cgroup
 * with its files and refuses one that still holds a process. */
static int fake_rmdir_prepare(const char *path)
{
        if (!in_fake_tree(path))
                return 0;
        char buf[64];
        if (cg_read(path, "cgroup.procs", buf, sizeof(buf)) > 0)
                return -EBUSY;
        DIR *d = opendir(path);
        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_type == DT_REG)
                        (void)unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        return 0;
}

/* A fake tree is no cgroup2 file system: its mountinfo says what it stands for. */
static int fake_is_cgroup2(struct isolate_error *err)
{
        struct cg_mount *m = NULL;
        size_t n = 0;
        int r = cg_mounts_read(&m, &n, err);
        if (r < 0)
                return r;
        const struct cg_mount *u = cg_mount_v2(m, n);
        bool top = u && u->at_top;
        free(m);
        return top;
}

static const struct cgroup_fs_emulation fake_kernel = {
    .rmdir_prepare = fake_rmdir_prepare,
    .is_cgroup2 = fake_is_cgroup2,
};

void fake_cgroupfs_set(const char *cgroupfs_root, const char *mountinfo_path)
{
        free(g_root);
        g_root = cgroupfs_root ? strdup(cgroupfs_root) : NULL;
        if (cgroupfs_root && !g_root)
                abort();
        cgroup_set_fs_root(cgroupfs_root, mountinfo_path);
        cgroup_set_fs_emulation(cgroupfs_root ? &fake_kernel : NULL);
}

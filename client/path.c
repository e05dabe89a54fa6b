/* path.c: opening a path as root without following names that users control (see path.h).
 *
 * Root touches paths that pass through directories users can write: the policy's masked and
 * read-only paths (mounts.c), Landlock paths under $HOME and elsewhere (lsm.c in the helper,
 * landlock.c in the caller). A name checked and then used by name again (lstat, then mount)
 * can be swapped in between, and a symlink there leads root wherever the user likes; so each
 * path is resolved once, here, into an O_PATH fd that the caller works on. */
#include "path.h"

#include <linux/openat2.h>

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "util.h"

#define PATH_MAX_SYMLINKS 40 /* the kernel's limit */

static int openat2_path(int dirfd, const char *name, int flags, uint64_t resolve)
{
        struct open_how how = {
            .flags = (uint64_t)(flags | O_PATH | O_CLOEXEC),
            .resolve = resolve,
        };
        int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
        return fd < 0 ? -errno : fd;
}

/* Nobody but root can add, remove or rename a name in it. Group root is root's. */
static bool dir_root_only(const struct stat *st)
{
        return S_ISDIR(st->st_mode) && st->st_uid == 0 && !(st->st_mode & S_IWOTH) &&
               (!(st->st_mode & S_IWGRP) || st->st_gid == 0);
}

static int open_root(int *ret_fd, bool *ret_trusted)
{
        int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        closep(ret_fd);
        *ret_fd = fd;
        *ret_trusted = dir_root_only(&st);
        return 0;
}

/* The walk of path_open() without a home part. `trusted`: every directory from / to cur is
 * root's alone (so is every symlink in cur). */
static int path_walk(const char *path, unsigned flags, int *ret_fd)
{
        if (path[0] != '/')
                return -EINVAL;
        /* what is left to resolve; a symlink's target goes in front of it */
        char rest_buf[2 * PATH_MAX];
        if ((size_t)snprintf(rest_buf, sizeof(rest_buf), "%s", path) >= sizeof(rest_buf))
                return -ENAMETOOLONG;
        _cleanup_close_ int cur = -1;
        bool trusted;
        int r = open_root(&cur, &trusted);
        if (r < 0)
                return r;
        const char *rest = rest_buf;
        unsigned links = 0;
        for (;;) {
                rest += strspn(rest, "/");
                if (*rest == '\0')
                        break;
                size_t n = strcspn(rest, "/");
                if (n > NAME_MAX)
                        return -ENAMETOOLONG;
                char name[NAME_MAX + 1];
                memcpy(name, rest, n);
                name[n] = '\0';
                rest += n;
                bool last = rest[strspn(rest, "/")] == '\0';
                struct stat st;
                if (STREQ(name, "."))
                        continue;
                if (STREQ(name, "..")) {
                        /* below a directory users can write, the user decides where ".."
                         * leads (rename) */
                        if (!trusted)
                                return -EXDEV;
                        int fd = openat2_path(cur, "..", O_DIRECTORY,
                                              RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
                        if (fd < 0)
                                return fd;
                        closep(&cur);
                        cur = fd;
                        if (fstat(cur, &st) < 0)
                                return -errno;
                        trusted = dir_root_only(&st);
                        continue;
                }
                _cleanup_close_ int fd =
                    openat2_path(cur, name, O_NOFOLLOW,
                                 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
                if (fd < 0)
                        return fd;
                if (fstat(fd, &st) < 0)
                        return -errno;
                if (S_ISLNK(st.st_mode) && !(last && (flags & PATH_OPEN_NOFOLLOW))) {
                        if (!trusted)
                                return -ELOOP;
                        if (++links > PATH_MAX_SYMLINKS)
                                return -ELOOP;
                        char target[PATH_MAX];
                        ssize_t len = readlinkat(fd, "", target, sizeof(target));
                        if (len < 0)
                                return -errno;
                        if ((size_t)len >= sizeof(target))
                                return -ENAMETOOLONG;
                        if (len == 0)
                                return -ENOENT;
                        target[len] = '\0';
                        char next[sizeof(rest_buf)];
                        if ((size_t)snprintf(next, sizeof(next), "%s/%s", target, rest) >=
                            sizeof(next))
                                return -ENAMETOOLONG;
                        memcpy(rest_buf, next, strlen(next) + 1);
                        rest = rest_buf;
                        /* a target of root's own choosing: from / again, or on from cur */
                        if (target[0] == '/' && (r = open_root(&cur, &trusted)) < 0)
                                return r;
                        continue;
                }
                if (!last && !S_ISDIR(st.st_mode))
                        return -ENOTDIR;
                closep(&cur);
                cur = TAKE_FD(fd);
                trusted = trusted && dir_root_only(&st);
        }
        *ret_fd = TAKE_FD(cur);
        return 0;
}

int path_open(const char *path, size_t home_len, unsigned flags, int *ret_fd)
{
        if (home_len == 0)
                return path_walk(path, flags, ret_fd);
        char home[PATH_MAX];
        if (home_len >= sizeof(home) || home_len > strlen(path))
                return -ENAMETOOLONG;
        memcpy(home, path, home_len);
        home[home_len] = '\0';
        _cleanup_close_ int home_fd = -1;
        int r = path_walk(home, 0, &home_fd);
        if (r < 0)
                return r;
        const char *rest = path + home_len;
        rest += strspn(rest, "/");
        if (*rest == '\0') {
                *ret_fd = TAKE_FD(home_fd);
                return 0;
        }
        int fd = openat2_path(home_fd, rest, (flags & PATH_OPEN_NOFOLLOW) ? O_NOFOLLOW : 0,
                              RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

void mountinfo_unescape(char *s)
{
        char *out = s;
        for (const char *in = s; *in;) {
                if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
                    in[3] >= '0' && in[3] <= '7') {
                        *out++ =
                            (char)(((in[1] - '0') << 6) | ((in[2] - '0') << 3) | (in[3] - '0'));
                        in += 4;
                } else
                        *out++ = *in++;
        }
        *out = '\0';
}

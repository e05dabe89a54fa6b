/* path.h: opening a path as root without following names that users control. libc only
 * (linked into the PAM module: landlock.c uses it after the join). */
#pragma once

#include <stddef.h>

/* The last component is not followed when it is a symlink: the fd is the link itself. */
#define PATH_OPEN_NOFOLLOW 1u

/* Opens the absolute path as an O_PATH | O_CLOEXEC fd into *ret_fd, resolving it once, one
 * component at a time, so that what is done next (fstat, a mount, a Landlock rule) works on
 * that fd and never looks the name up again.
 *
 * A symlink is followed only where nobody but root could have made it: in a directory owned
 * by root and writable by nobody else (group root aside), reached from / through such
 * directories only. Once the walk has passed a directory a user can write (a home, /tmp, a
 * team's shared directory), every name below it is the user's to choose, and a symlink there
 * is refused: -ELOOP (also after 40 links, as the kernel does). So /var/run/utmp and
 * /lib -> usr/lib still resolve, $HOME/work -> / does not.
 *
 * home_len > 0: the first home_len bytes of path are the user's home; the home is resolved as
 * above, and the rest beneath it with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS) (the user's names, whoever owns what lies there).
 *
 * Returns 0 or -errno: -ENOENT and -ENOTDIR when the path does not exist, -ELOOP for a
 * refused symlink, -EXDEV for ".." below a directory users can write, -EINVAL for a
 * relative path. */
int path_open(const char *path, size_t home_len, unsigned flags, int *ret_fd);

/* In place: the octal escapes of /proc/self/mountinfo ("\040" for a space, "\011", "\012",
 * "\134" for tab, newline, backslash) back to the bytes they stand for. Anything else stays
 * as it is. */
void mountinfo_unescape(char *s);

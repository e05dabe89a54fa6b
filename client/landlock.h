/* landlock.h: applies the Landlock part of a join_spec to the calling process. libc only. */
#pragma once

#include <linux/landlock.h>
#include <stdint.h>

#include "protocol.h"

/* Access rights newer than the uapi headers this may be built with. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
/* Scoping (ABI 6, Linux 6.12): what a domain's processes may not reach outside it. */
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif
#define LANDLOCK_SCOPE_ABI 6 /* the first ABI with both */

/* What a read-only path gets: read files, list directories, execute. */
#define LANDLOCK_FS_READ_EXEC                                                                      \
        (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
/* The rights that apply to a file (the others only make sense beneath a directory; the
 * kernel refuses them in a rule for a file). */
#define LANDLOCK_FS_FILE_ACCESS                                                                    \
        (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                              \
         LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |                              \
         LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* Every filesystem right Landlock ABI version abi handles (0 when abi < 1). Rights added
 * after ABI 5 are not known to this build and never asked for. */
uint64_t landlock_fs_access_for_abi(int abi);

/* Every scope ABI version abi handles: both from ABI 6 on, none before. */
uint64_t landlock_scoped_for_abi(int abi);

/* The kernel's Landlock ABI version, 0 when Landlock is not available. */
int landlock_abi_version(void);

/* Opens each path (in the caller's current mount namespace, i.e. after the setns), builds
 * the ruleset with j->landlock_scoped and restricts the calling process: a Landlock domain of
 * its own, which everything it forks inherits. No-op when j->landlock_handled and
 * j->landlock_scoped are both 0. Scoping the kernel lacks is an error (the helper planned it
 * on this kernel: it refused or left it out where the ABI is older).
 * A path that does not exist in the session's view is skipped; rights a path cannot have
 * (directory rights on a file) or the running kernel lacks are masked off. */
int landlock_apply(const struct join_spec *j, struct isolate_error *err);

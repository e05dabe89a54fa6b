/* limits.h: what no cgroup caps, bounded per user: the file table (RLIMIT_NOFILE at the join)
 * and the number of live sessions. The pty bound is the session's own devpts (mounts.c). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "../conf/policy.h"
#include "../client/util.h"

/* The RLIMIT_NOFILE a session of p gets (0: leave the caller's as it is), and in why (may be
 * NULL) how it was chosen, for explain. Unset in the policy: fs.file-max / (4 * pids_max),
 * at least NOFILE_FLOOR, so that one user's processes hold at most a quarter of the host's
 * file table by their fds (the kernel counts per process). pids_max is the largest of c's
 * policies: the user's task cap is whichever policy the latest login got. Files kept by
 * mmap after close are not counted by any rlimit: memory_max bounds those. */
uint64_t limits_nofile(const struct config *c, const struct policy *p, char *why,
                       size_t why_len);

/* Takes the user's session lock (<runtime_dir>/locks/UID, held until *ret_lock_fd is closed: registry_write() runs
 * under it, so two logins cannot both see room for one) and counts the user's live
 * sessions in the registry. With max_sessions reached, fails with EUSERS and a message that
 * says how to get a session back. */
int limits_sessions_reserve(const char *runtime_dir, const struct policy *p, uid_t uid,
                            const char *user, int *ret_lock_fd, struct isolate_error *err);

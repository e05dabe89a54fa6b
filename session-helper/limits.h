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
 * policies: the user's task cap follows the user's live sandboxes (caps.h). Files kept by
 * mmap after close are not counted by any rlimit: memory_max bounds those. */
uint64_t limits_nofile(const struct config *c, const struct policy *p, char *why,
                       size_t why_len);

/* Counts the user's live sandboxes in the registry (a login that joins a user-scope sandbox
 * makes none). With max_sessions reached, fails with EUSERS and a message that says how to
 * get a session back. Call it holding the user's lock (registry_user_lock), so that two
 * logins cannot both see room for one. */
int limits_sessions_check(const char *runtime_dir, const struct policy *p, uid_t uid,
                          const char *user, struct isolate_error *err);

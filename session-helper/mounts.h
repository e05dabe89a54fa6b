/* mounts.h: the view inside a session (DESIGN.md, "The view inside"). */
#pragma once

#include "../conf/policy.h"
#include "cgroup.h"
#include "util.h"

/* Runs in the session's first process: pid 1 of the new pid namespace, inside the new mount,
 * uts, net and cgroup namespaces. Sets the hostname, brings lo up with network = none,
 * makes / a recursive slave, mounts a fresh read-only /proc with the sensitive files masked,
 * a fresh read-only /sys with a fresh cgroup tree rooted at the session, private /tmp,
 * /var/tmp, /dev/shm and /run/lock, a private /run/user/UID, a fresh /dev/mqueue, a devpts
 * of the session's own (at most pty_max ptys), its own utmp, the login records (wtmp, btmp,
 * lastlog) reachable by root only, through runtime_dir; hides other users' homes, and
 * applies the policy's extra read-only and masked paths. */
int mounts_setup(const struct policy *p, const char *user, uid_t uid, gid_t gid, const char *home,
                 const char *runtime_dir, const struct cgroup_session *cg,
                 struct isolate_error *err);

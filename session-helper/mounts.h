/* mounts.h: the view inside a session (DESIGN.md, "The view inside"). */
#pragma once

#include "../conf/policy.h"
#include "cgroup.h"
#include "records.h"
#include "../client/util.h"

/* What the init needs to copy the session's login records to the host's (records.h). */
struct mount_records {
        int records;  /* the session's records directory (O_PATH) */
        int host_log; /* the host's /var/log (O_PATH) */
        int host_utmp; /* the host's utmp file (O_PATH) */
};

/* Runs in the session's first process: pid 1 of the new pid namespace, inside the new mount,
 * uts, net and cgroup namespaces. Sets the hostname, brings lo up with network = none,
 * makes / a recursive slave, mounts a fresh read-only /proc with the sensitive files masked,
 * a fresh read-only /sys with a fresh cgroup tree rooted at the session, private /tmp,
 * /var/tmp, /dev/shm and /run/lock, a private /run/user/UID, a fresh /dev/mqueue, a devpts
 * of the session's own (at most pty_max ptys), login records of its own (utmp, wtmp,
 * lastlog: root's only, copied to the host's by the init, records.h) in a view of /var/log;
 * hides other users' homes, and applies the policy's extra read-only and masked paths.
 * records gets the fds the init copies the records through (-1 where the host has none). */
int mounts_setup(const struct policy *p, const char *user, uid_t uid, gid_t gid, const char *home,
                 const struct cgroup_session *cg, struct mount_records *records,
                 struct isolate_error *err);

/* Makes mounts_setup take the path of Linux 5.11, which has no mount_setattr (5.12), on any
 * kernel: for the test build of the helper (ISOLATE_TEST_NO_MOUNT_SETATTR). */
void mounts_without_mount_setattr(void);

/* cgroup.h: per-user resource caps and the per-session leaf, one interface over three
 * backends (cgroup-v1.c, cgroup-v2.c, cgroup-systemd.c); cgroup.c picks one at run time.
 *
 * Layout for the cgroupfs backends, in each hierarchy:
 *   <root>/user-UID/                caps of the user (across all that user's sessions)
 *   <root>/user-UID/session-ID/     the session leaf: the caller and everything it forks
 *   <root>/supervisor/              the session inits (so that they can remove the leaf)
 * systemd: caps on user-UID.slice over D-Bus; the leaf is pam_systemd's session-N.scope. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../conf/policy.h"
#include "util.h"

#define CGROUP_MAX_HIERARCHIES 8

struct cgroup_hierarchy {
        char controllers[64];   /* "memory", "blkio", "pids", "cpu"; "" for the unified tree */
        char mount_type[16];    /* "cgroup" or "cgroup2": how the init mounts it inside */
        char mount_options[128];/* the hierarchy's super options, e.g. "memory" or "cpu,cpuacct" */
        char mount_name[64];    /* directory under /sys/fs/cgroup inside; "" for cgroup2 */
        char user_path[PATH_MAX];       /* absolute cgroupfs path of user-UID ("" systemd) */
        char leaf_path[PATH_MAX];       /* absolute cgroupfs path of the session's leaf */
        char supervisor_path[PATH_MAX]; /* "" with systemd: init stays in the scope */
};

struct cgroup_session {
        enum cgroup_backend_kind backend; /* never AUTO once created */
        size_t n;
        struct cgroup_hierarchy h[CGROUP_MAX_HIERARCHIES];
};

struct cgroup_usage {
        uint64_t memory_current, memory_peak; /* bytes */
        uint64_t io_read_bytes, io_write_bytes;
        uint64_t tasks;
};

/* Where cgroupfs and mountinfo are: the real ones by default; unit tests point these at a
 * fake tree. Both strings are copied. */
void cgroup_set_fs_root(const char *cgroupfs_root, const char *mountinfo_path);

/* AUTO -> systemd when systemd is PID 1, v2 on a unified-only host, else v1. */
int cgroup_backend_resolve(enum cgroup_backend_kind configured, enum cgroup_backend_kind *ret,
                           struct isolate_error *err);

/* Makes (or updates) the user's cgroup with the policy's caps, the session leaf and the
 * supervisor cgroup, and removes empty leaves of dead sessions of that user (is_live says
 * which session ids still have a registry entry). A controller the host lacks: refused
 * when p->caps_required, else a line appended to warnings. caller_pid is used by the
 * systemd backend to find the caller's scope. On failure nothing made here remains. */
int cgroup_session_create(const struct config *c, const struct policy *p, uid_t uid,
                          const char *session_id, pid_t caller_pid,
                          bool (*is_live)(const char *session_id, void *data), void *data,
                          struct cgroup_session *ret, char *warnings, size_t warnings_len,
                          struct isolate_error *err);

/* Moves pid into the leaf (pid 0: the calling process), in every hierarchy. All or nothing:
 * on failure the hierarchies already done are moved back where the process was. */
int cgroup_session_enter(const struct cgroup_session *s, pid_t pid, struct isolate_error *err);
/* Moves pid (0: self) into the supervisor cgroup; no-op with systemd. */
int cgroup_session_enter_supervisor(const struct cgroup_session *s, pid_t pid,
                                    struct isolate_error *err);
/* Removes the leaf in every hierarchy, retrying briefly while the kernel still counts exited
 * tasks. No-op with systemd. */
int cgroup_session_remove(const struct cgroup_session *s, struct isolate_error *err);

int cgroup_session_usage(const struct cgroup_session *s, struct cgroup_usage *ret);

/* Registry round trip: one "cgroup=" value per hierarchy, and back. */
int cgroup_session_format(const struct cgroup_session *s, char *buf, size_t len);
int cgroup_session_parse(const char *text, struct cgroup_session *ret);

/* isolatectl gc: removes empty session leaves under every user-UID whose session is not
 * live. Returns the number removed or -errno. */
int cgroup_gc(const struct config *c, bool (*is_live)(const char *session_id, void *data),
              void *data, struct isolate_error *err);

/* A device node or any path (the file system it lives on) -> the whole disk's MAJ:MIN;
 * partitions and device-mapper resolved through sysfs. -ENODEV with a message otherwise. */
int device_resolve(const char *target, unsigned *ret_major, unsigned *ret_minor,
                   struct isolate_error *err);

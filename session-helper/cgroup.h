/* cgroup.h: per-user resource caps and the per-session leaf, one interface over three
 * backends (cgroup-v1.c, cgroup-v2.c, cgroup-systemd.c); cgroup.c picks one at run time.
 * Device resolution for I/O caps is devices.h.
 *
 * Layout for the cgroupfs backends, in each hierarchy:
 *   <root>/user-UID/                caps of the user (across all that user's sessions)
 *   <root>/user-UID/session-ID/     the session leaf: the caller and everything it forks
 *   <root>/supervisor/              the session inits (so that they can remove the leaf)
 * systemd: caps on user-UID.slice over D-Bus; the leaf is pam_systemd's session-N.scope,
 * and a user-scope sandbox's init lives in isolate-ID.scope (cgroup_session_own_unit). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../conf/policy.h"
#include "../client/util.h"

#define CGROUP_MAX_HIERARCHIES 8
/* Long enough for any layout here (a root nested a few levels deep is ~120 bytes); a
 * longer path is refused when made. Kept small: the struct travels on the helper's stack
 * and into every registry record (4 x PATH_MAX x 8 hierarchies was 128 KiB). */
#define CGROUP_PATH_LEN 512

struct cgroup_hierarchy {
        char controllers[64];    /* "memory", "blkio", "pids", "cpu"; "" for the unified tree */
        char mount_type[16];     /* "cgroup" or "cgroup2": how the init mounts it inside */
        char mount_options[128]; /* the hierarchy's super options, e.g. "memory" or "cpu,cpuacct" */
        char mount_name[64];     /* directory under /sys/fs/cgroup inside; "" for cgroup2 */
        char user_path[CGROUP_PATH_LEN];       /* absolute cgroupfs path of user-UID ("" systemd) */
        char leaf_path[CGROUP_PATH_LEN];       /* absolute cgroupfs path of the session's leaf;
                                           "" in v1's blkio hierarchy, where sessions share
                                           user_path (v1 throttling is flat), and with
                                           systemd: nothing for the init to remove */
        char supervisor_path[CGROUP_PATH_LEN]; /* "" with systemd: init stays in the scope */
        /* systemd only: the caller's scope (pam_systemd's session-N.scope) in this
         * hierarchy, read for usage, never written to or removed; "" otherwise. With systemd
         * user_path, leaf_path and supervisor_path are all "": nothing for the init to
         * remove. */
        char scope_path[CGROUP_PATH_LEN];
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
 * fake tree (NULL restores the default). Both strings are copied. Mount points under
 * /sys/fs/cgroup in that mountinfo are taken as under cgroupfs_root. */
void cgroup_set_fs_root(const char *cgroupfs_root, const char *mountinfo_path);

/* What a fake tree of plain files (tests/unit/fake_cgroupfs.c, the unit tests only) plays
 * of the kernel; NULL, the default, for the real cgroupfs. */
struct cgroup_fs_emulation {
        /* Before every rmdir: 0 to go on, or -errno to fail with. The kernel removes a
         * cgroup's control files with it and refuses (-EBUSY) one that holds a process. */
        int (*rmdir_prepare)(const char *path);
        /* Asked when statfs says the cgroupfs root is no cgroup2 file system (a fake tree
         * never is): 1 when it stands for one, 0 when not, or -errno with err set. */
        int (*is_cgroup2)(struct isolate_error *err);
};
void cgroup_set_fs_emulation(const struct cgroup_fs_emulation *e);

/* AUTO -> systemd when systemd is PID 1, v2 on a unified-only host, else v1. */
int cgroup_backend_resolve(enum cgroup_backend_kind configured, enum cgroup_backend_kind *ret,
                           struct isolate_error *err);

/* Makes (or updates) the user's cgroup with the policy's caps, the session leaf and the
 * supervisor cgroup, and removes empty leaves of dead sessions of that user (is_live says
 * which session ids still have a registry entry). The helper passes p with the strictest
 * caps over the user's live sandboxes (caps.h). cgroupfs backends: in a user cgroup an
 * earlier login made, a cap p leaves unset (LIMIT_UNSET) is reset to the kernel's default. systemd: only the caps the policy sets are sent (the
 * others stay whatever systemd's own configuration says). A controller the host lacks: refused
 * when p->caps_required, else a line appended to warnings. caller_pid is used by the
 * systemd backend to find the caller's scope, which must be under user-UID.slice
 * (cgroup_session_caller_check says what happens when it is not). On failure nothing made here remains. */
int cgroup_session_create(const struct config *c, const struct policy *p, uid_t uid,
                          const char *session_id, pid_t caller_pid,
                          bool (*is_live)(const char *session_id, void *data), void *data,
                          struct cgroup_session *ret, char *warnings, size_t warnings_len,
                          struct isolate_error *err);

/* Writes p's caps onto the user's cgroups of an existing session s (the user_path of each
 * hierarchy; systemd: user-UID.slice), as cgroup_session_create() does for a new one: a cap p
 * leaves unset goes back to the kernel's default. Used for the strictest-cap rule when a
 * login joins a live sandbox and when a sandbox ends. A memory cap below what the user uses
 * now is refused (EBUSY), and nothing is changed then. */
int cgroup_user_caps_set(const struct config *c, const struct policy *p, uid_t uid,
                         const struct cgroup_session *s, char *warnings, size_t warnings_len,
                         struct isolate_error *err);

/* A login that joins a live sandbox s: whether its caller is where the user's caps hold, as
 * cgroup_session_create() checks it for a new sandbox. systemd: under user-UID.slice (each
 * login's processes stay in its caller's scope). A caller in another user's slice (su from
 * inside that user's session, root's above all) is refused whatever caps_required says, not
 * as a fault of the host; one elsewhere (pam_systemd missing) follows the missing-cap rule
 * of p (a line appended to warnings). The cgroupfs backends: 0 (the caller moves itself
 * into the sandbox's leaf). Changes nothing. */
int cgroup_session_caller_check(const struct config *c, const struct policy *p, uid_t uid,
                                const struct cgroup_session *s, pid_t caller_pid,
                                const char *sandbox_id, char *warnings, size_t warnings_len,
                                struct isolate_error *err);

/* A user-scope sandbox outlives the login that built it. With systemd its init (pid, not
 * yet in a cgroup namespace of its own) moves out of that login's session-N.scope, which
 * logind stops with the login, into a scope unit of ours, isolate-ID.scope in
 * user-UID.slice (the user's caps still apply there); s's scope paths then name it. Waits
 * until pid is there. The cgroupfs backends need nothing: their leaf belongs to no login.
 * Failing: the missing-cap rule of p (caps_required: an error; else a line appended to
 * warnings, and the init stays where it is). */
int cgroup_session_own_unit(const struct config *c, const struct policy *p, uid_t uid,
                            const char *session_id, pid_t pid, struct cgroup_session *s,
                            char *warnings, size_t warnings_len, struct isolate_error *err);

/* The absolute cgroupfs path of pid's cgroup in the cgroup2 hierarchy (under systemd: its
 * session-N.scope), for cgroup BPF, which attaches there only. */
int cgroup_pid_unified_dir(pid_t pid, char *ret, size_t len, struct isolate_error *err);

/* The cgroups cgroup_session_create() with the same config, uid and session id would make,
 * made nothing of: ret gets the same paths (cgroupfs backends; with systemd n is 0, there is
 * nothing of ours to remove). A process that exists before the cgroups are made keeps it,
 * so that cgroup_session_remove() on it removes whatever leaves exist if their maker dies
 * half-way. Reads mountinfo (and /proc/self/cgroup for a "./" root): call it from the
 * process that will make them. */
int cgroup_session_plan(const struct config *c, uid_t uid, const char *session_id,
                        struct cgroup_session *ret, struct isolate_error *err);
/* Whether every leaf of made is one of plan's. */
bool cgroup_session_planned(const struct cgroup_session *made, const struct cgroup_session *plan);

/* Moves pid into the leaf (pid 0: the calling process), in every hierarchy (where a
 * hierarchy has no leaf, into user_path). All or nothing: on failure the hierarchies
 * already done are moved back where the process was. No-op with systemd. */
int cgroup_session_enter(const struct cgroup_session *s, pid_t pid, struct isolate_error *err);
/* Opens, for the caller to move itself into the session (session_join writes "0" to each):
 * the leaf's `tasks` in each v1 hierarchy, its cgroup.procs on v2; none with systemd. The
 * caller moving itself on v1 avoids the kernel's RCU grace period that moving another
 * process costs. O_CLOEXEC fds, at most max. */
int cgroup_session_enter_files(const struct cgroup_session *s, int *ret_fds, size_t max,
                               size_t *ret_n, struct isolate_error *err);
/* Moves pid (0: self) into the supervisor cgroup; no-op with systemd. */
int cgroup_session_enter_supervisor(const struct cgroup_session *s, pid_t pid,
                                    struct isolate_error *err);
/* Removes the leaf in every hierarchy, retrying briefly while the kernel still counts exited
 * tasks. No-op with systemd. */
int cgroup_session_remove(const struct cgroup_session *s, struct isolate_error *err);

/* What the session uses now, read from its leaf (systemd: its scope). v1: I/O bytes are
 * the user's (sessions share the blkio cgroup); memory_peak is memory.max_usage_in_bytes
 * (v2: memory.peak). -ENOENT when none of its cgroups exists any more. */
int cgroup_session_usage(const struct cgroup_session *s, struct cgroup_usage *ret);

/* isolatectl gc: removes empty session leaves under every user-UID whose session is not
 * live (and which are older than CGROUP_GC_MIN_AGE_S). Returns the number of sessions
 * whose leaves were removed, or -errno. No-op with systemd. */
int cgroup_gc(const struct config *c, bool (*is_live)(const char *session_id, void *data),
              void *data, struct isolate_error *err);

/* More test hooks. proc_root: where /proc is, for self/cgroup and PID/cgroup ("/proc").
 * systemd_marker: the directory whose presence means systemd is PID 1
 * ("/run/systemd/system"). NULL restores the default. Both copied. */
void cgroup_set_proc_root(const char *proc_root);
void cgroup_set_systemd_marker(const char *path);
/* The D-Bus address the systemd backend connects to ("unix:path=..."). NULL (default): the
 * system bus, honouring DBUS_SYSTEM_BUS_ADDRESS. Copied. */
void cgroup_set_system_bus_address(const char *address);

/* Every change this code makes to cgroupfs, reported after it succeeded, in order:
 * CGROUP_OP_MKDIR (value NULL), CGROUP_OP_WRITE (the value written), CGROUP_OP_RMDIR.
 * For debug logging; unit tests use it to check the order and to fill a fake directory
 * with the files the kernel would create. NULL turns it off. */
enum cgroup_op { CGROUP_OP_MKDIR, CGROUP_OP_WRITE, CGROUP_OP_RMDIR };
typedef void (*cgroup_trace_fn)(enum cgroup_op op, const char *path, const char *value, void *data);
void cgroup_set_trace(cgroup_trace_fn fn, void *data);

/* Empty leaves younger than this are never removed by the garbage collection (next login,
 * isolatectl gc): a concurrent login of the same user may have made one and not yet put
 * its caller in it or written its registry entry. */
#define CGROUP_GC_MIN_AGE_S 60

/* v1 cpu.shares for a cgroup v2 / systemd CPU weight (1..10000), the way systemd maps it:
 * weight * 1024 / 100, clamped to 2..262144. */
uint64_t cgroup_cpu_weight_to_shares(uint64_t weight);

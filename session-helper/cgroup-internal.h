/* cgroup-internal.h: what the cgroup files share behind cgroup.h. Not part of the interface:
 * use cgroup.h. The calls go one way, down:
 *   cgroup.c                                  the interface: backend choice, dispatch
 *   cgroup-systemd.c cgroup-v2.c cgroup-v1.c  the backends
 *   cgroupfs.c                                traced operations, the missing-cap rule, ...
 *   cgroupfs-mounts.c                         the host's hierarchies (mountinfo) */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"

/* One cgroup hierarchy as the host mounts it (from mountinfo). */
struct cg_mount {
        bool unified;         /* cgroup2 */
        bool at_top;          /* mounted at /sys/fs/cgroup itself */
        char controllers[64]; /* v1: "cpu,cpuacct", "name=systemd"; v2: "" */
        char options[128];    /* super options without rw/ro/release_agent */
        char root[PATH_MAX];  /* the mount's root inside the hierarchy */
        char point[PATH_MAX]; /* where it is mounted (re-rooted for tests) */
};

/* One whole disk with the policy's limits merged from every io entry that resolved to it. */
struct cg_io_dev {
        unsigned major, minor;
        uint64_t rbps, wbps, riops, wiops; /* LIMIT_UNSET / LIMIT_MAX / a value */
};

/* Everything a backend needs to make a session's cgroups. */
struct cg_ctx {
        const struct config *c;
        const struct policy *p;
        uid_t uid;
        const char *session_id;
        pid_t caller_pid;
        bool (*is_live)(const char *session_id, void *data);
        void *data;
        struct cg_mount *mounts;
        size_t n_mounts;
        struct cg_io_dev *io;
        size_t n_io;
        char *warnings;
        size_t warnings_len;
        /* directories made by this call, removed again (newest first) when it fails */
        char **made;
        size_t n_made;
        bool gc_due; /* sweep the user's dead leaves this time (at most once a minute) */
};

#define CG_LEAF_PREFIX "session-"
#define CG_USER_PREFIX "user-"
#define CG_SUPERVISOR  "supervisor"

/* ---- cgroupfs-mounts.c ------------------------------------------------------------------- */

/* Where /proc and cgroupfs are (cgroup_set_proc_root, cgroup_set_fs_root). */
const char *cg_proc_root(void);
const char *cg_fs_root(void);

/* mountinfo -> the cgroup hierarchies (v1 and v2) visible, hidden mounts dropped. */
int cg_mounts_read(struct cg_mount **ret, size_t *ret_n, struct isolate_error *err);
/* The v1 hierarchy holding controller (e.g. "memory"), or NULL. */
const struct cg_mount *cg_mount_v1(const struct cg_mount *m, size_t n, const char *controller);
/* The unified hierarchy, preferring the one at /sys/fs/cgroup, or NULL. */
const struct cg_mount *cg_mount_v2(const struct cg_mount *m, size_t n);
/* true when the comma-separated lists name the same controllers in any order. */
bool cg_controllers_equal(const char *a, const char *b);
/* The cgroup of pid (0: self) in hierarchy m, as a path from the hierarchy's root. */
int cg_pid_cgroup(pid_t pid, const struct cg_mount *m, char *ret, size_t len);
/* A path from the hierarchy's root -> the absolute path under the mount point. */
int cg_fs_path(const struct cg_mount *m, const char *rel, char *ret, size_t len);
/* The configured root (NULL: DEFAULT_CGROUP_ROOT) in hierarchy m as an absolute cgroupfs
 * path: "isolate" -> the hierarchy's root + /isolate; "./x" -> this process's own cgroup +
 * /x. ret_base_len (may be NULL): how much of ret is the part that exists already (the
 * hierarchy root or our own cgroup); the rest is ours to make. */
int cg_root_path(const char *cfg_root, const struct cg_mount *m, char *ret, size_t len,
                 size_t *ret_base_len, struct isolate_error *err);

/* ---- cgroupfs.c -------------------------------------------------------------------------- */

/* The emulation a fake tree set (cgroup_set_fs_emulation), or NULL. */
const struct cgroup_fs_emulation *cg_fs_emulation(void);

/* cgroupfs operations, each traced. cg_mkdir: 0 made, 1 existed; made dirs are recorded in
 * ctx for the rollback. cg_write truncates (fake trees are plain files). */
int cg_mkdir(struct cg_ctx *ctx, const char *path, struct isolate_error *err);
/* A session's leaf: made by this call or an error (EEXIST: the id is in use). */
int cg_leaf_mkdir(struct cg_ctx *ctx, const char *path, struct isolate_error *err);
int cg_write(const char *dir, const char *file, const char *value, struct isolate_error *err);
int cg_rmdir(const char *path);
/* Reads dir/file into buf (trailing newline removed); -errno. */
int cg_read(const char *dir, const char *file, char *buf, size_t len);
/* dir/file as a number; 0 when it is missing or no number (usage files). */
uint64_t cg_read_u64(const char *dir, const char *file);
/* The value of "PREFIXkey N" in dir's memory.stat; 0 when absent or unreadable. */
uint64_t cg_stat_u64(const char *dir, const char *prefix, const char *key);
bool cg_exists(const char *dir, const char *file);
/* cg_root_path, then makes each missing directory below the base. */
int cg_root_make(struct cg_ctx *ctx, const struct cg_mount *m, char *ret, size_t len,
                 struct isolate_error *err);

/* The user's, the leaf's and the supervisor's paths under a hierarchy's <root>, alike in
 * every cgroupfs backend. */
int cg_session_paths(const char *root, uid_t uid, const char *session_id,
                     struct cgroup_hierarchy *h, struct isolate_error *err);

/* A cap this host cannot apply: with caps_required an error (-code) naming what and the
 * fix; else one line in the warnings and 0 (go on without it). fmt says what is missing,
 * fix how to get it. */
int cg_missing(struct cg_ctx *ctx, struct isolate_error *err, int code, const char *fix,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void cg_warn(struct cg_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether the policy sets any cap of the controller ("blkio" on v1 is "io" on v2). */
bool cg_policy_needs(const struct cg_ctx *ctx, const char *controller);
/* The policy keys a controller serves, for messages. */
const char *cg_needed_for(const char *controller);

/* "5M"-style formatting of a limit for files: LIMIT_MAX -> max_word, else the number. */
void cg_limit_str(uint64_t v, const char *max_word, char *buf, size_t len);
/* The value to write for a cap in a user cgroup: in one an earlier login made (existed), a
 * cap this policy leaves unset goes back to unlimited, so that the cgroup follows the
 * policy given, the strictest over the user's live sandboxes (caps.h); a new cgroup has
 * the kernel's defaults already. */
uint64_t cg_cap_effective(uint64_t v, bool existed);

/* Removes empty leaves of dead sessions (not live, older than CGROUP_GC_MIN_AGE_S) in one
 * user-UID directory. Each id removed is added to *ids (for counting distinct sessions);
 * ids may be NULL. Returns the number of directories removed. */
int cg_gc_user_dir(const char *user_dir, bool (*is_live)(const char *session_id, void *data),
                   void *data, char ***ids, size_t *n_ids);

/* ---- the backends ------------------------------------------------------------------------ */

/* Each fills ret (backend, n, h[]) or fails having removed what it made (the caller removes
 * ctx->made). */
int cg_v1_create(struct cg_ctx *ctx, struct cgroup_session *ret, struct isolate_error *err);
int cg_v2_create(struct cg_ctx *ctx, struct cgroup_session *ret, struct isolate_error *err);
int cg_systemd_create(struct cg_ctx *ctx, struct cgroup_session *ret, struct isolate_error *err);
/* The caps of ctx->p onto one existing hierarchy's user_path (cgroup_user_caps_set). */
int cg_v1_caps_set(struct cg_ctx *ctx, const struct cgroup_hierarchy *h, struct isolate_error *err);
int cg_v2_caps_set(struct cg_ctx *ctx, const struct cgroup_hierarchy *h, struct isolate_error *err);
int cg_systemd_caps_set(struct cg_ctx *ctx, struct isolate_error *err);
/* systemd: whether caller is under the user's slice, where the caps hold; the rule of
 * cg_systemd_create() for a login that joins a live sandbox (cgroup_session_caller_check). */
int cg_systemd_caller_check(struct cg_ctx *ctx, pid_t caller, const char *what,
                            struct isolate_error *err);
/* systemd: starts isolate-ID.scope in the user's slice holding pid and waits until pid is
 * there; s's hierarchies then name that unit (cgroup_session_own_unit). */
int cg_systemd_unit_start(struct cg_ctx *ctx, pid_t pid, struct cgroup_session *s,
                          struct isolate_error *err);
/* Refuses (-EBUSY) to lower a memory cap below what dir uses now (usage_file less the file
 * cache memory.stat's stat_prefix+"active_file"/"inactive_file" say the kernel can drop),
 * naming the usage, the cap and how to get the login through; 0 when limit is not lower. */
int cg_memory_lower_check(const struct cg_ctx *ctx, const char *dir, const char *usage_file,
                          const char *stat_prefix, uint64_t limit, struct isolate_error *err);

/* What cg_v1_create / cg_v2_create would fill ret with (the same paths), making nothing. */
int cg_v1_plan(const struct cg_mount *mounts, size_t n_mounts, const char *cfg_root, uid_t uid,
               const char *session_id, struct cgroup_session *ret, struct isolate_error *err);
int cg_v2_plan(const struct cg_mount *mounts, size_t n_mounts, const char *cfg_root, uid_t uid,
               const char *session_id, struct cgroup_session *ret, struct isolate_error *err);
/* Usage of one hierarchy's directory, added into ret. */
void cg_v1_usage(const struct cgroup_hierarchy *h, const char *dir, struct cgroup_usage *ret);
void cg_v2_usage(const char *dir, struct cgroup_usage *ret);

/* v1: the hierarchies a session is placed in, each one holding memory, blkio, pids or cpu,
 * once, in that order; ret holds CG_V1_HIERARCHIES_MAX. Returns how many. */
#define CG_V1_HIERARCHIES_MAX 4
size_t cg_v1_hierarchies(const struct cg_mount *mounts, size_t n_mounts,
                         const struct cg_mount **ret);

/* registry.h: live sessions under <runtime_dir>/sessions/, one root-only file each, written
 * by the helper, removed by the session's init when it ends. isolatectl reads them. */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cgroup.h"
#include "../client/util.h"

/* The caps of a sandbox's policy when it was made (LIMIT_UNSET: not set), so that a policy
 * removed from the config since still counts for the strictest-cap rule (caps.h). io:
 * the policy's first RECORD_MAX_IO entries, targets as the config wrote them. */
#define RECORD_MAX_IO 16
struct record_io {
        char target[256];
        uint64_t read_bps, write_bps, read_iops, write_iops;
};
/* The scalar caps of a policy (its fields of the same names), as a record keeps them and as
 * caps.c takes the strictest of them: LIMIT_UNSET when not set. */
struct cap_scalars {
        uint64_t memory_max, memory_high, swap_max, pids_max, cpu_max_percent, cpu_weight;
};
#define CAP_SCALARS_UNSET                                                                          \
        ((struct cap_scalars){LIMIT_UNSET, LIMIT_UNSET, LIMIT_UNSET, LIMIT_UNSET, LIMIT_UNSET,     \
                              LIMIT_UNSET})
struct record_caps {
        struct cap_scalars scalars;
        size_t n_io;
        struct record_io io[RECORD_MAX_IO];
};

/* The versions of a record's format (doc/design.md, "Upgrades under live sessions"): the
 * first line, "format=N", says which it was written in; a record without it is format 1
 * (written before the line existed). A build writes REGISTRY_FORMAT and reads every format
 * from REGISTRY_FORMAT_MIN to it. A key added to a record keeps the format: an older
 * reader ignores keys it does not know, and a newer one gives a key an older record lacks
 * the value that means "as before" (init_start 0, scope login, caps unset, ...). A change an
 * older reader would misread (a key's meaning or syntax) takes the next format. A record
 * of a format outside the range is refused whole (-EPROTONOSUPPORT), never half read. */
#define REGISTRY_FORMAT     1
#define REGISTRY_FORMAT_MIN 1

struct session_record {
        unsigned format; /* the format it was written in; on -EPROTONOSUPPORT the refused one */
        char id[32];
        char user[256];
        uid_t uid;
        char service[64];
        char rhost[256];
        char tty[64];
        char policy[64];
        pid_t caller_pid;
        pid_t init_pid;      /* in the host's pid namespace */
        uint64_t start_time; /* unix seconds */
        uint64_t init_start; /* the init's start time in clock ticks after boot: with
                                init_pid it names the init (a pid can be reused); 0 in
                                records written before it existed */
        struct cgroup_session cgroup;
        enum session_scope scope; /* "scope=login|user"; login in records written before it */
        uint64_t linger_ms;       /* the policy's linger when the sandbox was made */
        struct record_caps caps;
        char fingerprint[17];   /* of the policy it was built from (helper.c); "" before it */
        uint32_t audit_session; /* the caller's audit session id (ses= in the kernel's audit
                                   records), AUDIT_SESSION_UNSET without pam_loginuid */
};

/* What /proc/PID/sessionid says when nothing (pam_loginuid) set the login uid. */
#define AUDIT_SESSION_UNSET 4294967295u

/* The audit session id of pid (the helper's caller, its parent: no pid reuse race):
 * AUDIT_SESSION_UNSET when not set or not readable. */
uint32_t registry_audit_session_of(pid_t pid);

/* <runtime_dir>/logins: one line per login the helper confined or joined, kept after the
 * session ends (the registry entry does not), so that a past denial in the kernel's log can
 * be tied to its session and policy (isolatectl why). /run is emptied at boot, like the
 * kernel's log and its audit session counter. Past 1 MiB it moves to logins.old (one
 * generation kept). Line: "time=UNIX ses=N uid=U id=ID policy=NAME scope=login|user user=NAME"
 * (scope= may be absent: login). */
struct login_entry {
        uint64_t time;
        uint32_t audit_session;
        uid_t uid;
        char id[33];
        char policy[64];
        enum session_scope scope; /* user: later logins may join its sandbox by ticket, without
                                     the helper, and are not in the log */
        char user[256];
};
int registry_login_append(const char *runtime_dir, const struct login_entry *e,
                          struct isolate_error *err);
/* 0, or -EBADMSG for a line that is not one of ours. */
int registry_login_parse(const char *line, struct login_entry *ret);
/* Calls fn for each entry, oldest first (logins.old, then logins); stops when fn returns < 0.
 * Skips files not owned by root or writable by others, and lines that do not parse. */
int registry_logins_foreach(const char *runtime_dir,
                            int (*fn)(const struct login_entry *e, void *data), void *data);

/* What the init of a user-scope sandbox says of it now, in <runtime_dir>/sessions/ID.state
 * ("logins=N", "linger_until=UNIX-SECONDS" (0: not lingering), "linger_forever=0|1"),
 * rewritten on every login and logout. Login-scope sandboxes have none: one login each. */
struct sandbox_state {
        unsigned logins;
        uint64_t linger_until;
        bool linger_forever; /* lingering until no process is left */
};
/* -ENOENT when there is no state file. */
int registry_state_read(const char *runtime_dir, const char *id, struct sandbox_state *ret);

/* Takes the user's lock, <runtime_dir>/locks/UID (flock, held until *ret_fd is closed):
 * whoever makes, joins or counts the user's sandboxes, or sets the user's caps from them,
 * holds it (the helper until its registry entry exists, `isolate-helper caps`). A wait
 * behind a helper that hangs ends with the waiter's own timeout (SIGALRM). */
int registry_user_lock(const char *runtime_dir, uid_t uid, int *ret_fd, struct isolate_error *err);

/* The live user-scope sandbox of (uid, policy), if any: 0 with *ret filled, else -ENOENT. */
int registry_find_sandbox(const char *runtime_dir, uid_t uid, const char *policy,
                          struct session_record *ret);

/* Creates <runtime_dir> and <runtime_dir>/sessions (0700 root) if missing, refusing a
 * directory that is not root-owned or is writable by others. */
int registry_prepare(const char *runtime_dir, struct isolate_error *err);
int registry_write(const char *runtime_dir, const struct session_record *r,
                   struct isolate_error *err);
int registry_remove(const char *runtime_dir, const char *id);
/* 0; -EPROTONOSUPPORT for a format this build does not read (ret->id and ret->format set,
 * nothing else); -EBADMSG, -EPERM (not root's), -errno. */
int registry_read(const char *runtime_dir, const char *id, struct session_record *ret);
/* Calls fn for each record; stops when fn returns < 0. A record of a format this build does
 * not read is not given to fn, and the walk then ends in -EPROTONOSUPPORT (after every other
 * record): what counts or caps the user's sandboxes must not go on as if it were not there.
 * Other unreadable files are skipped. */
int registry_foreach(const char *runtime_dir, int (*fn)(const struct session_record *r, void *data),
                     void *data);
/* After -EPROTONOSUPPORT: an admin's message naming the first such record, its format and
 * ours, and what to do, in err. Returns -EPROTONOSUPPORT. */
int registry_format_error(const char *runtime_dir, struct isolate_error *err);
/* true when the record's init still runs: the process at init_pid started when the init did
 * (records without init_start: its cmdline is isolate-init ID). */
bool registry_session_alive(const struct session_record *r);

/* The cgroup part of a record, both ways: newline-terminated lines,
 * "cgroup_backend=systemd|v2|v1" (cgroup_backend_name()) and one "cgroup=" line per
 * hierarchy with 8 space-separated fields (controllers mount_type mount_options mount_name
 * user_path leaf_path supervisor_path scope_path; "" as "-", bytes <= 0x20, 0x7f, '%' and a
 * lone "-" as %XX). format returns the length or -ENOBUFS. parse ignores lines with other
 * keys (a whole registry file may be given) and returns -EBADMSG for a missing backend line
 * or a malformed cgroup line. */
int registry_cgroup_format(const struct cgroup_session *s, char *buf, size_t len);
int registry_cgroup_parse(const char *text, struct cgroup_session *ret);

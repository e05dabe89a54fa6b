/* policy.h: the parsed /etc/isolate.conf as plain structs. No libconfuse type leaves conf/.
 *
 * Ownership: everything hangs off one struct config, freed by config_free(). Strings are
 * heap copies. A value of LIMIT_UNSET means "the policy does not set this cap" (nothing is
 * written); LIMIT_MAX means "explicitly unlimited" ("max" / "infinity"). */
#pragma once

#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../client/util.h"

#define LIMIT_UNSET UINT64_MAX
#define LIMIT_MAX   (UINT64_MAX - 1)

#define DEFAULT_CONFIG_PATH       "/etc/isolate.conf"
#define DEFAULT_RUNTIME_DIR       "/run/isolate"
#define DEFAULT_CGROUP_ROOT       "isolate"
#define DEFAULT_HELPER_TIMEOUT_MS 10000
#define DEFAULT_PTY_MAX           16   /* per session: a pty for ssh -t, tmux panes, script */
#define DEFAULT_MAX_SESSIONS      16   /* per user, over all the user's policies */
#define NOFILE_FLOOR              1024 /* a derived nofile never goes below this */
#define CPU_WEIGHT_MIN            1    /* cgroup v2's cpu.weight range; the key takes the same */
#define CPU_WEIGHT_MAX            10000

enum fail_mode { FAIL_CLOSED, FAIL_OPEN };

enum cgroup_backend_kind {
        CGROUP_BACKEND_AUTO,
        CGROUP_BACKEND_SYSTEMD,
        CGROUP_BACKEND_V2,
        CGROUP_BACKEND_V1,
};

enum network_mode { NETWORK_HOST, NETWORK_NONE };
/* system_bus: whether the session's users reach the host's D-Bus system bus (mounts.c) */
enum system_bus { SYSTEM_BUS_ALLOW, SYSTEM_BUS_DENY };

/* SCOPE_LOGIN: a sandbox per login, ended at its logout. SCOPE_USER: one sandbox per (user,
 * policy): the first login builds it, later logins of that user resolving to the same
 * policy join it; it ends when its last login ends, or lingers (linger_ms). */
enum session_scope { SCOPE_LOGIN, SCOPE_USER };

/* linger_ms: LINGER_NO, a duration in ms, or LINGER_FOREVER (until no process is left). */
#define LINGER_NO      0
#define LINGER_FOREVER LIMIT_MAX

/* PROC_READ_ONLY: the whole fresh procfs read-only (default).
 * PROC_DOCKER: writable, with /proc/sys, sysrq-trigger, irq, bus, fs read-only. */
enum proc_mode { PROC_READ_ONLY, PROC_DOCKER };

enum hidepid_mode { HIDEPID_OFF, HIDEPID_NOACCESS, HIDEPID_INVISIBLE };

/* What happens to a syscall the allowlist does not allow. */
enum seccomp_action {
        SECCOMP_ACTION_ERRNO,     /* EPERM for known calls, ENOSYS for calls newer than the list */
        SECCOMP_ACTION_KILL,      /* kill the process */
        SECCOMP_ACTION_LOG,       /* allow, and log it (to build a policy from real use) */
        SECCOMP_ACTION_ERRNO_LOG, /* as errno, and each refusal logged (SECCOMP_FILTER_FLAG_LOG):
                                     what isolatectl why reads back */
};

enum seccomp_base {
        SECCOMP_BASE_DEFAULT, /* the interactive allowlist (conf/syscalls.c) */
        SECCOMP_BASE_NONE,    /* no filter at all */
};

/* scope_abstract_unix, scope_signals: Landlock scoping (ABI 6, Linux 6.12).
 * SCOPING_AUTO: on for scope = login where the kernel has it, off for scope = user (each login
 * would be a Landlock domain of its own, apart from the others); SCOPING_ON: always, and a
 * kernel without it is a missing LSM (lsm_required decides); SCOPING_OFF: never. */
enum scoping { SCOPING_AUTO, SCOPING_ON, SCOPING_OFF };

struct strv {
        char **v;
        size_t n;
};

struct io_limit {
        char *target; /* device node or any path; resolved to the whole disk by the helper */
        uint64_t read_bps, write_bps, read_iops, write_iops; /* LIMIT_UNSET when not set */
        int line;
};

/* An IPv4 or IPv6 network; IPv4 is kept as v4-mapped IPv6 so one compare serves both. */
struct cidr {
        struct in6_addr addr;
        unsigned prefix; /* 0..128, on the v6 scale */
};

/* egress_allow: one destination a session may reach, "10.0.0.0/8:22/tcp" (conf/egress.c). */
enum egress_proto { EGRESS_PROTO_ANY, EGRESS_PROTO_TCP, EGRESS_PROTO_UDP };

#define EGRESS_MAX_RULES 1024 /* entries of one egress_allow; the BPF map holds twice that */

struct egress_rule {
        struct cidr net; /* IPv4 as v4-mapped IPv6: one table for both families */
        uint16_t port;   /* host byte order; 0: every port */
        enum egress_proto proto;
};

/* filtered false: the policy has no egress_allow, nothing is filtered. filtered true: TCP
 * connect and UDP send reach only the n rules ({} = none at all, loopback included). */
struct egress_allow {
        struct egress_rule *rules;
        size_t n;
        bool filtered;
};

struct policy {
        char *name;
        int line; /* where "policy NAME {" is */

        /* namespaces (each can be turned off); net is governed by network */
        bool ns_mount, ns_pid, ns_uts, ns_ipc, ns_cgroup;
        enum network_mode network;
        char *hostname;             /* NULL: keep the host's name; "%u" expands to the user name */
        struct egress_allow egress; /* network = host only; enforced by session-helper/egress.c */
        bool egress_log; /* each refusal of egress_allow logged by the init (egress-log.h) */

        /* lifetime: who shares the sandbox, and whether it outlives the last login */
        enum session_scope scope;
        uint64_t linger_ms; /* LINGER_NO, ms, or LINGER_FOREVER; only with SCOPE_USER */

        /* the view inside */
        enum system_bus system_bus; /* deny: /run/dbus root-only inside (mounts.c) */
        enum proc_mode proc;
        enum hidepid_mode hidepid;
        bool proc_subset_pid;
        bool private_tmp;  /* /tmp, /var/tmp, /dev/shm */
        uint64_t tmp_size; /* bytes, per tmpfs; LIMIT_UNSET: the kernel's default */
        struct strv masked_paths;
        struct strv read_only_paths;
        bool hide_homes;  /* other users' homes under /home invisible */
        uint64_t pty_max; /* ptys of the session's own devpts; LIMIT_MAX: the kernel's bound */

        /* resource caps, per user (across that user's sessions) */
        uint64_t memory_max, memory_high, swap_max; /* bytes */
        uint64_t pids_max;
        uint64_t cpu_max_percent; /* 100 = one CPU; LIMIT_UNSET when not set */
        uint64_t cpu_weight;      /* 1..10000; LIMIT_UNSET when not set */
        struct io_limit *io;
        size_t n_io;
        bool caps_required; /* true: refuse a login when a controller is missing */

        /* kernel tables no cgroup caps */
        uint64_t nofile;       /* RLIMIT_NOFILE, soft and hard, set at the join; LIMIT_UNSET:
                                  derived from fs.file-max and pids_max (policy_nofile()) */
        uint64_t max_sessions; /* live sessions per user; LIMIT_MAX: no bound */

        /* syscalls and privilege */
        enum seccomp_base seccomp_base;
        struct strv syscalls_allow; /* names and @groups, added to the base */
        struct strv syscalls_deny;  /* names and @groups, removed (deny wins over allow) */
        enum seccomp_action seccomp_action;
        uint64_t caps_keep; /* bit n = capability n kept in the bounding set */
        bool no_new_privs;
        char *apparmor_profile;         /* NULL: none */
        char *selinux_context;          /* NULL: none */
        struct strv landlock_read_only; /* "$HOME" / "~" expand to the user's home */
        struct strv landlock_read_write;
        enum scoping scope_abstract_unix; /* connect/send to abstract unix sockets outside */
        enum scoping scope_signals;       /* signals to processes outside */
        bool lsm_required; /* true: refuse a login when a named LSM is not available */
};

struct match_rule {
        int line;
        struct strv users, groups, services; /* empty: any */
        struct cidr *rhosts;                 /* empty: any */
        size_t n_rhosts;
        bool exempt;         /* the login is let through unconfined */
        size_t policy_index; /* into config.policies, when !exempt */
};

struct config {
        char *file;
        enum fail_mode fail;
        struct strv services; /* PAM services acted on; others pass through */
        struct strv exempt_users, exempt_groups;
        enum cgroup_backend_kind cgroup_backend;
        char *cgroup_root; /* relative to each hierarchy's root; "./x": relative to the
                              cgroup the helper starts in (nesting, tests) */
        char *runtime_dir; /* registry and seccomp cache; default /run/isolate */
        uint32_t helper_timeout_ms;
        struct policy *policies;
        size_t n_policies;
        struct match_rule *rules;
        size_t n_rules;
        size_t default_policy; /* index into policies */
};

/* Every problem found in a config, each "FILE:LINE: message" (or "FILE: message"). */
struct config_errors {
        char **msgs;
        size_t n;
};

/* Loads and validates path. check_owner: refuse a file not owned by root or writable by
 * group/others (the helper always checks; unit tests may not); symlinks are followed and the
 * file they lead to is checked (fstat on the opened fd). On any error returns -EINVAL
 * (-EPERM for the ownership check, which is made before anything is parsed; -errno for an
 * unreadable file) and appends every problem found to errs (zero-initialised by the
 * caller; on success nothing is appended). *ret is NULL on error. */
int config_load(const char *path, bool check_owner, struct config **ret,
                struct config_errors *errs);
/* Parses a config held in memory; name is used in messages. For tests and the fuzzer. */
int config_parse_buffer(const char *name, const char *buf, struct config **ret,
                        struct config_errors *errs);
void config_free(struct config *c);
void config_errors_free(struct config_errors *errs);
/* Appends one formatted message (no-op when errs is NULL); 0 or -ENOMEM. */
int config_errors_add(struct config_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int config_errors_vadd(struct config_errors *errs, const char *fmt, va_list ap);

/* Who is logging in, as the resolver sees it. */
struct login_info {
        const char *user;
        uid_t uid;
        char **groups; /* names of all the user's groups, primary first */
        size_t n_groups;
        const char *service; /* PAM service */
        const char *rhost;   /* NULL or "" for local logins */
        gid_t gid;           /* primary group (login_info_lookup only) */
        const char *home;    /* home directory (login_info_lookup only) */
};

enum resolve_outcome {
        RESOLVE_IGNORE, /* service not in `services`: PAM_IGNORE */
        RESOLVE_EXEMPT, /* exempt user/group or an exempt match rule */
        RESOLVE_POLICY, /* confined by policy */
};

struct resolution {
        enum resolve_outcome outcome;
        const struct policy *policy;   /* RESOLVE_POLICY */
        const struct match_rule *rule; /* NULL: the default policy or a global exemption */
        char reason[512];              /* why, in words: "rule at FILE:12 matched: group ops" */
};

int policy_resolve(const struct config *c, const struct login_info *who, struct resolution *ret);

/* Whether rule a matches every login rule b matches (then b, placed after a, never applies).
 * services: the config's `services` (a rule without services means those). Per condition:
 * a's is empty or holds all of b's; b's networks each inside one of a's. */
bool match_rule_covers(const struct match_rule *a, const struct match_rule *b,
                       const struct strv *services);

/* Fills login_info for a user from the password and group databases. -ENOENT if the user
 * does not exist. Every string in *ret (user, service, rhost, home, groups) is a heap copy;
 * free with login_info_free(), which is only for what this function filled. */
int login_info_lookup(const char *user, const char *service, const char *rhost,
                      struct login_info *ret);
void login_info_free(struct login_info *who);
/* The same; with_groups false looks up only the primary group (getgrouplist can be slow on
 * LDAP/sssd hosts, and most configs never match on groups: see config_uses_groups). */
int login_info_lookup_ext(const char *user, const char *service, const char *rhost,
                          bool with_groups, struct login_info *ret);
/* The policy's hostname with "%u" replaced by the user name, cut to fit len (the kernel
 * takes at most HOST_NAME_MAX bytes). Returns the length written. */
size_t hostname_expand(const char *pattern, const char *user, char *buf, size_t len);
/* Whether any exemption or rule looks at the user's groups. */
bool config_uses_groups(const struct config *c);
/* Whether any match rule names networks (`rhosts`): only then does a login's rhost matter. */
bool config_uses_rhosts(const struct config *c);

/* Units (conf/units.c). 0 or -EINVAL (junk) / -ERANGE (overflow). Sizes and rates are
 * binary (1K = 1024), take a fraction ("1.5G") and an optional "B" ("64MB"); "max" and
 * "infinity" give LIMIT_MAX (parse_size, parse_rate, parse_percent). */
int parse_size(const char *s, uint64_t *ret);        /* "512K", "64M", "2G", "1T", "123", "max" */
int parse_rate(const char *s, uint64_t *ret);        /* the same, optional "/s" suffix */
int parse_percent(const char *s, uint64_t *ret);     /* "150%" */
int parse_duration_ms(const char *s, uint64_t *ret); /* "500ms", "5s", "2m", "10" (seconds) */
/* "10.0.0.0/8", "::1", "192.168.1.7". -EINVAL for junk, -ERANGE for a prefix too long,
 * -EADDRNOTAVAIL when bits are set behind the prefix ("10.1.0.0/8"; *ret then holds the
 * network "10.0.0.0/8"). */
int parse_cidr(const char *s, struct cidr *ret);
bool cidr_contains(const struct cidr *net, const struct in6_addr *addr);
/* Formats a size for humans and for explain: "2G", "512M", "123"; "max", "unset" */
void format_size(uint64_t v, char *buf, size_t len);
/* An IPv4 or IPv6 address (no prefix; an IPv6 zone "%eth0" is ignored) as v4-mapped IPv6.
 * -EINVAL for anything else, e.g. a host name. */
int parse_ip_address(const char *s, struct in6_addr *ret);
/* "10.0.0.0/8", "2001:db8::/32" */
void format_cidr(const struct cidr *net, char *buf, size_t len);
/* One egress_allow entry (conf/egress.c): ADDRESS[/PREFIX][:PORT|:*][/tcp|/udp], IPv6 in
 * brackets ("[2001:db8::]/32:22"). 0, or -EINVAL with msg saying what is wrong and how to
 * write it (msg starts with the entry in quotes). */
int parse_egress_rule(const char *s, struct egress_rule *ret, char *msg, size_t len);
/* The entry as a config writes it, shortest form: "10.0.0.0/8:22", "[::1]:53/udp",
 * "192.0.2.10" (every port, both protocols); a protocol without a port gets ":*".
 * EGRESS_RULE_TEXT_MAX bytes hold any rule. */
#define EGRESS_RULE_TEXT_MAX (INET6_ADDRSTRLEN + 20)
void format_egress_rule(const struct egress_rule *r, char *buf, size_t len);

/* Frees the strings of v and empties it. */
void config_strv_free(struct strv *v);
bool config_strv_contains(const struct strv *v, const char *s);
/* v is not empty and every name of v is in set. */
bool config_strv_all_in(const struct strv *v, const struct strv *set);

/* The config's words for these (conf/keys.c). */
const char *fail_mode_name(enum fail_mode m);
const char *cgroup_backend_name(enum cgroup_backend_kind k);

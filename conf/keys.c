/* keys.c: the table of every config key (see keys.h), and the checks of string values. */
#include "keys.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define STR_(x) #x
#define STR(x)  STR_(x)

/* ---- the words of each enum ------------------------------------------------------------- */

static const struct enum_name fail_names[] = {
    {"closed", FAIL_CLOSED}, {"open", FAIL_OPEN}, {NULL, 0}};
static const struct enum_name backend_names[] = {{"auto", CGROUP_BACKEND_AUTO},
                                                 {"systemd", CGROUP_BACKEND_SYSTEMD},
                                                 {"v2", CGROUP_BACKEND_V2},
                                                 {"v1", CGROUP_BACKEND_V1},
                                                 {NULL, 0}};
static const struct enum_name network_names[] = {
    {"host", NETWORK_HOST}, {"none", NETWORK_NONE}, {NULL, 0}};
static const struct enum_name system_bus_names[] = {
    {"allow", SYSTEM_BUS_ALLOW}, {"deny", SYSTEM_BUS_DENY}, {NULL, 0}};
static const struct enum_name scope_names[] = {
    {"login", SCOPE_LOGIN}, {"user", SCOPE_USER}, {NULL, 0}};
static const struct enum_name proc_names[] = {
    {"read-only", PROC_READ_ONLY}, {"docker", PROC_DOCKER}, {NULL, 0}};
static const struct enum_name hidepid_names[] = {{"invisible", HIDEPID_INVISIBLE},
                                                 {"noaccess", HIDEPID_NOACCESS},
                                                 {"off", HIDEPID_OFF},
                                                 {NULL, 0}};
static const struct enum_name seccomp_base_names[] = {
    {"default", SECCOMP_BASE_DEFAULT}, {"none", SECCOMP_BASE_NONE}, {NULL, 0}};
static const struct enum_name scoping_names[] = {
    {"auto", SCOPING_AUTO}, {"true", SCOPING_ON}, {"false", SCOPING_OFF}, {NULL, 0}};
static const struct enum_name seccomp_action_names[] = {{"errno", SECCOMP_ACTION_ERRNO},
                                                        {"kill", SECCOMP_ACTION_KILL},
                                                        {"log", SECCOMP_ACTION_LOG},
                                                        {"errno-log", SECCOMP_ACTION_ERRNO_LOG},
                                                        {NULL, 0}};

/* Enum fields are written through an int: make sure that is what they are. */
_Static_assert(sizeof(enum fail_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum network_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum session_scope) == sizeof(int), "enum size");
_Static_assert(sizeof(enum system_bus) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cgroup_backend_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(enum proc_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum hidepid_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum seccomp_base) == sizeof(int), "enum size");
_Static_assert(sizeof(enum seccomp_action) == sizeof(int), "enum size");
_Static_assert(sizeof(enum scoping) == sizeof(int), "enum size");

/* ---- checks of string values ------------------------------------------------------------- */

bool text_has_control_char(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static int check_hostname(const char *s, char *msg, size_t len)
{
        size_t n = 0;
        for (const char *p = s; *p; p++) {
                if (p[0] == '%') {
                        if (p[1] != 'u') {
                                snprintf(msg, len,
                                         "hostname: only %%u (the user name) may follow '%%'");
                                return -EINVAL;
                        }
                        p++;
                        continue;
                }
                if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_') {
                        snprintf(msg, len,
                                 "hostname '%s': use letters, digits, '-', '.', '_' and %%u only",
                                 s);
                        return -EINVAL;
                }
                n++;
        }
        if (n == 0 && !strstr(s, "%u")) {
                snprintf(msg, len, "hostname is empty; remove the key to keep the host's name");
                return -EINVAL;
        }
        if (n > 64) {
                snprintf(msg, len, "hostname '%s' is longer than 64 characters", s);
                return -EINVAL;
        }
        return 0;
}

static int check_label(const char *what, const char *s, char *msg, size_t len)
{
        if (!*s) {
                snprintf(msg, len, "%s is empty; remove the key to set none", what);
                return -EINVAL;
        }
        for (const char *p = s; *p; p++)
                if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20 || *p == 0x7f) {
                        snprintf(msg, len, "%s '%s' contains white space or a control character",
                                 what, s);
                        return -EINVAL;
                }
        return 0;
}

static int check_apparmor(const char *s, char *msg, size_t len)
{
        return check_label("apparmor_profile", s, msg, len);
}

static int check_selinux(const char *s, char *msg, size_t len)
{
        int r = check_label("selinux_context", s, msg, len);
        if (r < 0)
                return r;
        const char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c1 == s || c2 == c1 + 1 || c2[1] == '\0' || c2[1] == ':') {
                snprintf(msg, len,
                         "selinux_context '%s' is not USER:ROLE:TYPE[:LEVEL], e.g. "
                         "\"user_u:user_r:user_t:s0\"",
                         s);
                return -EINVAL;
        }
        return 0;
}

/* Path components: no "..", no empty "//" doubling is harmless, but ".." could escape. */
bool path_has_dotdot(const char *s)
{
        for (const char *p = s; (p = strstr(p, "..")); p += 2) {
                bool start = p == s || p[-1] == '/';
                bool end = p[2] == '\0' || p[2] == '/';
                if (start && end)
                        return true;
        }
        return false;
}

/* The same rule as the cgroup backends': after an optional "./" (below the helper's own cgroup) and
 * leading '/', components of [A-Za-z0-9_.-], none empty, "." or "..". */
static int check_cgroup_root(const char *s, char *msg, size_t len)
{
        const char *rest = strncmp(s, "./", 2) == 0 ? s + 2 : s;
        rest += strspn(rest, "/");
        bool ok = *rest != '\0';
        for (const char *p = rest; ok && *p;) {
                size_t n = strcspn(p, "/");
                ok = n > 0 && !(n == 1 && p[0] == '.') && !(n == 2 && p[0] == '.' && p[1] == '.');
                for (size_t i = 0; ok && i < n; i++)
                        ok = isalnum((unsigned char)p[i]) || strchr("_.-", p[i]);
                p += n;
                if (*p == '/')
                        p++;
        }
        if (!ok) {
                snprintf(msg, len,
                         "cgroup_root '%s' must be a relative path of plain names "
                         "([A-Za-z0-9_.-], no '..'), e.g. \"isolate\", or \"./isolate\" for "
                         "below the helper's own cgroup",
                         s);
                return -EINVAL;
        }
        return 0;
}

static int check_runtime_dir(const char *s, char *msg, size_t len)
{
        if (s[0] != '/' || STREQ(s, "/") || path_has_dotdot(s) || text_has_control_char(s)) {
                snprintf(msg, len,
                         "runtime_dir '%s' must be an absolute directory other than / and "
                         "without '..' (e.g. \"/run/isolate\")",
                         s);
                return -EINVAL;
        }
        return 0;
}

/* ---- the keys ----------------------------------------------------------------------------- */

#define ROOT(f) .offset = offsetof(struct config, f)
#define POL(f)  .offset = offsetof(struct policy, f)
#define IO(f)   .offset = offsetof(struct io_limit, f)
#define RULE(f) .offset = offsetof(struct match_rule, f)

static const struct key root_keys[] = {
    {"fail", K_ENUM, ROOT(fail), .enums = fail_names, .def = "closed",
     .doc = "a fault of the host lets logins through unconfined (open) or refuses them"},
    {"services", K_NAMES, ROOT(services), .def = "{\"sshd\", \"login\", \"su\", \"su-l\"}",
     .doc = "the PAM services whose logins are confined"},
    {"exempt_users", K_NAMES, ROOT(exempt_users), .def = "{}", .doc = "users never confined"},
    {"exempt_groups", K_NAMES, ROOT(exempt_groups), .def = "{}",
     .doc = "members of these groups are never confined"},
    {"cgroup_backend", K_ENUM, ROOT(cgroup_backend), .enums = backend_names, .def = "auto",
     .doc = "where the per-user caps go"},
    {"cgroup_root", K_STR, ROOT(cgroup_root), .check = check_cgroup_root,
     .def = DEFAULT_CGROUP_ROOT, .doc = "the directory of isolate's cgroups in each hierarchy"},
    {"runtime_dir", K_STR, ROOT(runtime_dir), .check = check_runtime_dir,
     .def = DEFAULT_RUNTIME_DIR, .doc = "the registry of live sessions, the seccomp cache"},
    /* 100 ms .. 10 min: shorter would fail logins on a busy host, longer hangs them */
    {"helper_timeout", K_DURATION, ROOT(helper_timeout_ms), .min = 100, .max = 600000, .def = "10s",
     .doc = "how long the PAM module waits for the helper"},
    {"default_policy", K_NAME, .doc = "the policy of a login that no match rule takes"},
};

/* In the order `isolatectl explain` shows them. */
static const struct key policy_keys[] = {
    {"mount_namespace", K_BOOL, POL(ns_mount), .def = "true", .group = KG_NAMESPACES,
     .doc = "a mount namespace of its own (false is refused)"},
    {"pid_namespace", K_BOOL, POL(ns_pid), .def = "true", .group = KG_NAMESPACES,
     .doc = "a pid namespace of its own (false is refused)"},
    {"uts_namespace", K_BOOL, POL(ns_uts), .def = "true", .group = KG_NAMESPACES,
     .doc = "a host name of its own"},
    {"ipc_namespace", K_BOOL, POL(ns_ipc), .def = "true", .group = KG_NAMESPACES,
     .doc = "System V IPC and POSIX queues of its own"},
    {"cgroup_namespace", K_BOOL, POL(ns_cgroup), .def = "true", .group = KG_NAMESPACES,
     .doc = "/proc/self/cgroup shows the session's cgroup as the root"},
    {"network", K_ENUM, POL(network), .enums = network_names, .def = "host", .group = KG_NAMESPACES,
     .doc = "the host's network, or only a loopback of its own"},
    /* unset: no filter; {}: no destination at all (see conf/egress.c for the syntax) */
    {"egress_allow", K_EGRESS, POL(egress), .def = "unset", .group = KG_NAMESPACES,
     .doc = "the only destinations TCP connect and UDP send may reach (network = host)"},
    {"egress_log", K_BOOL, POL(egress_log), .def = "true", .group = KG_NAMESPACES,
     .doc = "each destination egress_allow refuses is logged, with the session id (at most 10 "
            "lines a second)"},
    {"hostname", K_STR, POL(hostname), .check = check_hostname, .def = "unset",
     .group = KG_NAMESPACES, .doc = "the host name inside; %u is the user name"},
    {"scope", K_ENUM, POL(scope), .enums = scope_names, .def = "login", .group = KG_LIFETIME,
     .doc = "a sandbox per login (login), or one per user and policy that logins join (user)"},
    /* 1 s .. 365 days: a sandbox that outlives its last login for longer than a year is one
     * nobody remembers; yes keeps it until its last process exits */
    {"linger", K_LINGER, POL(linger_ms), .min = 1000, .max = 365ull * 24 * 3600 * 1000, .def = "no",
     .group = KG_LIFETIME,
     .doc = "how long a user-scope sandbox outlives its last login (needs scope = user)"},
    /* deny: the session's users cannot ask system services (logind, systemd, udisks) to act
     * for them; root's processes in the session (the sshd monitor, pam_systemd's close) can */
    {"system_bus", K_ENUM, POL(system_bus), .flags = KF_NEEDS_MOUNT, .enums = system_bus_names,
     .def = "allow", .group = KG_VIEW,
     .doc = "whether the session's users reach the D-Bus system bus (/run/dbus)"},
    {"proc", K_ENUM, POL(proc), .flags = KF_NEEDS_MOUNT, .enums = proc_names, .def = "read-only",
     .group = KG_VIEW, .doc = "how /proc is mounted inside"},
    {"hidepid", K_ENUM, POL(hidepid), .flags = KF_NEEDS_MOUNT, .enums = hidepid_names,
     .def = "invisible", .group = KG_VIEW, .doc = "the hidepid option of that /proc"},
    {"proc_subset_pid", K_BOOL, POL(proc_subset_pid), .flags = KF_NEEDS_MOUNT, .def = "false",
     .group = KG_VIEW, .doc = "/proc shows the process directories only"},
    {"private_tmp", K_BOOL, POL(private_tmp), .flags = KF_NEEDS_MOUNT, .def = "true",
     .group = KG_VIEW, .doc = "/tmp and /var/tmp of the session's own"},
    /* tmpfs reads size=0 as "no limit": not what anyone writing 0 means */
    {"tmp_size", K_SIZE, POL(tmp_size), .flags = KF_NO_MAX | KF_NOT_ZERO | KF_NEEDS_MOUNT,
     .def = "unset", .group = KG_VIEW, .doc = "the size of each private tmpfs"},
    {"masked_paths", K_PATHS, POL(masked_paths), .flags = KF_NEEDS_MOUNT, .def = "{}",
     .group = KG_VIEW, .doc = "paths made empty and unreadable inside"},
    {"read_only_paths", K_PATHS, POL(read_only_paths), .flags = KF_NEEDS_MOUNT, .def = "{}",
     .group = KG_VIEW, .doc = "paths made read-only inside"},
    {"hide_homes", K_BOOL, POL(hide_homes), .flags = KF_NEEDS_MOUNT, .def = "false",
     .group = KG_VIEW, .doc = "other users' homes under /home are invisible"},
    /* devpts takes at most 1 << 20 */
    {"pty_max", K_COUNT, POL(pty_max), .flags = KF_NEEDS_MOUNT, .min = 1, .max = 1u << 20,
     .def = STR(DEFAULT_PTY_MAX), .group = KG_VIEW, .unit = "per session (its own devpts)",
     .doc = "ptys one session may open"},
    {"memory_max", K_SIZE, POL(memory_max), .flags = KF_NOT_ZERO, .def = "unset",
     .group = KG_RESOURCES, .doc = "hard memory limit of all the user's sandboxes"},
    {"memory_high", K_SIZE, POL(memory_high), .flags = KF_NOT_ZERO, .def = "unset",
     .group = KG_RESOURCES, .doc = "memory above which the user's tasks are throttled"},
    {"swap_max", K_SIZE, POL(swap_max), .def = "unset", .group = KG_RESOURCES,
     .doc = "swap limit; 0 means no swap"},
    {"pids_max", K_COUNT, POL(pids_max), .min = 1, .def = "unset", .group = KG_RESOURCES,
     .doc = "tasks (processes and threads) of all the user's sandboxes"},
    /* 1000 CPUs is more than any host; the bound keeps quota arithmetic far from overflow */
    {"cpu_max", K_PERCENT, POL(cpu_max_percent), .min = 1, .max = 100000, .def = "unset",
     .group = KG_RESOURCES, .doc = "CPU bandwidth; 100% is one CPU"},
    {"cpu_weight", K_COUNT, POL(cpu_weight), .flags = KF_NO_MAX, .min = CPU_WEIGHT_MIN,
     .max = CPU_WEIGHT_MAX, .def = "unset", .group = KG_RESOURCES,
     .doc = "CPU share against other users (100 is the kernel's default)"},
    {"caps_required", K_BOOL, POL(caps_required), .def = "false", .group = KG_RESOURCES,
     .doc = "refuse the login when a cap cannot be applied"},
    {"max_sessions", K_COUNT, POL(max_sessions), .min = 1, .def = STR(DEFAULT_MAX_SESSIONS),
     .group = KG_TABLES, .unit = "live sessions per user",
     .doc = "live sandboxes one user may have (joining a live one does not count)"},
    /* fewer than 64 files break the shell itself */
    {"nofile", K_COUNT, POL(nofile), .min = 64, .max = 1u << 30, .def = "unset", .group = KG_TABLES,
     .doc = "open files per process (RLIMIT_NOFILE)"},
    {"seccomp", K_ENUM, POL(seccomp_base), .enums = seccomp_base_names, .def = "default",
     .group = KG_SYSCALLS, .doc = "the syscall allowlist to start from"},
    {"seccomp_action", K_ENUM, POL(seccomp_action), .enums = seccomp_action_names, .def = "errno",
     .group = KG_SYSCALLS, .doc = "what a syscall outside the list gets"},
    {"syscalls_allow", K_SYSCALLS, POL(syscalls_allow), .def = "{}", .group = KG_SYSCALLS,
     .doc = "syscalls and @groups added to the allowlist"},
    {"syscalls_deny", K_SYSCALLS, POL(syscalls_deny), .def = "{}", .group = KG_SYSCALLS,
     .doc = "syscalls and @groups removed from it"},
    {"no_new_privs", K_BOOL, POL(no_new_privs), .def = "true", .group = KG_PRIVILEGE,
     .doc = "setuid and file capabilities gain nothing"},
    {"capabilities", K_CAPS, POL(caps_keep), .def = "{}", .group = KG_PRIVILEGE,
     .doc = "the capabilities left in the bounding set"},
    {"apparmor_profile", K_STR, POL(apparmor_profile), .check = check_apparmor, .def = "unset",
     .group = KG_LSM, .doc = "the AppArmor profile of the user's shell"},
    {"selinux_context", K_STR, POL(selinux_context), .check = check_selinux, .def = "unset",
     .group = KG_LSM, .doc = "the SELinux context of the user's shell"},
    {"landlock_read_only", K_LANDLOCK, POL(landlock_read_only), .def = "{}", .group = KG_LSM,
     .doc = "with landlock_read_write: the only paths the session may reach"},
    {"landlock_read_write", K_LANDLOCK, POL(landlock_read_write), .def = "{}", .group = KG_LSM,
     .doc = "the paths the session may also write"},
    /* auto: off for scope = user, whose logins would each be a Landlock domain of their own
     * (apart from each other: no signal, no ptrace, invisible under hidepid) */
    {"scope_abstract_unix", K_ENUM, POL(scope_abstract_unix), .enums = scoping_names, .def = "auto",
     .group = KG_LSM,
     .doc = "no connect to an abstract unix socket made outside the login (Landlock ABI 6)"},
    {"scope_signals", K_ENUM, POL(scope_signals), .enums = scoping_names, .def = "auto",
     .group = KG_LSM, .doc = "no signal to a process outside the login (Landlock ABI 6)"},
    {"lsm_required", K_BOOL, POL(lsm_required), .def = "true", .group = KG_LSM,
     .doc = "refuse the login when a configured LSM is missing"},
};

static const struct key io_keys[] = {
    {"read_bps", K_RATE, IO(read_bps), .flags = KF_NOT_ZERO, .def = "unset",
     .doc = "read bytes per second from the device"},
    {"write_bps", K_RATE, IO(write_bps), .flags = KF_NOT_ZERO, .def = "unset",
     .doc = "written bytes per second to the device"},
    {"read_iops", K_COUNT, IO(read_iops), .flags = KF_PER_SECOND, .min = 1, .def = "unset",
     .doc = "read operations per second"},
    {"write_iops", K_COUNT, IO(write_iops), .flags = KF_PER_SECOND, .min = 1, .def = "unset",
     .doc = "write operations per second"},
};

static const struct key match_keys[] = {
    {"users", K_NAMES, RULE(users), .doc = "the rule takes these users"},
    {"groups", K_NAMES, RULE(groups), .doc = "and members of these groups"},
    {"services", K_NAMES, RULE(services), .doc = "through these PAM services only"},
    {"rhosts", K_CIDRS, .doc = "from these addresses only"},
    {"policy", K_NAME, .doc = "the policy the rule gives"},
    {"exempt", K_BOOL, RULE(exempt), .doc = "the rule exempts instead of confining"},
};

const struct key_section key_sections[] = {
    {"root", "at the top level", root_keys, ELEMENTSOF(root_keys)},
    {"policy", "in a policy block", policy_keys, ELEMENTSOF(policy_keys)},
    {"io", "in an io block", io_keys, ELEMENTSOF(io_keys)},
    {"match", "in a match block", match_keys, ELEMENTSOF(match_keys)},
};
const size_t n_key_sections = ELEMENTSOF(key_sections);
const struct key_section *const keys_root = &key_sections[0], *const keys_policy = &key_sections[1],
                                *const keys_io = &key_sections[2],
                                *const keys_match = &key_sections[3];

const struct key_section *key_section_named(const char *name)
{
        for (size_t i = 0; name && i < n_key_sections; i++)
                if (STREQ(key_sections[i].name, name))
                        return &key_sections[i];
        return NULL;
}

const struct key *key_named(const struct key_section *sk, const char *name)
{
        for (size_t i = 0; sk && i < sk->n_keys; i++)
                if (STREQ(sk->keys[i].name, name))
                        return &sk->keys[i];
        return NULL;
}

const char *key_enum_word(const struct key *k, int value)
{
        for (const struct enum_name *e = k && k->enums ? k->enums : NULL; e && e->name; e++)
                if (e->value == value)
                        return e->name;
        return "?";
}

const char *key_enum_choices(const struct key *k, char *buf, size_t len)
{
        size_t off = 0;
        buf[0] = '\0';
        for (const struct enum_name *e = k->enums; e && e->name && off < len; e++)
                off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? " | " : "", e->name);
        return buf;
}

/* The words of two enums that more than the config uses: the registry and `isolatectl list`
 * write a session's backend with the config's words. */
const char *fail_mode_name(enum fail_mode m)
{
        return key_enum_word(key_named(keys_root, "fail"), (int)m);
}

const char *cgroup_backend_name(enum cgroup_backend_kind k)
{
        return key_enum_word(key_named(keys_root, "cgroup_backend"), (int)k);
}

/* protocol.h: the wire format between a caller (pam_isolate.so, isolatectl) and
 * isolate-helper, and between a caller and the session init. libc only.
 *
 * Transport: an AF_UNIX SOCK_SEQPACKET socketpair, so each message arrives whole or not at
 * all. A message is a header followed by fields (tag, length, value, padded to 4 bytes).
 * Every length is checked against what was received; an unknown tag is skipped; a field
 * given twice, a truncated field or a wrong magic/version is an error (-EBADMSG). */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define PROTO_MAGIC   0x4c4f5349u /* "ISOL" little-endian */
#define PROTO_MAX_MSG (256 * 1024)

/* The versions of the wire format (doc/design.md, "Upgrades under live sessions"). A build
 * writes PROTO_VERSION and reads every version from PROTO_VERSION_MIN to PROTO_VERSION. A
 * field added to a message is a new tag, which an older peer skips: the version stays. A
 * change an older peer would misread (a tag's meaning, the header, the framing) takes the
 * next version; the build that makes it keeps PROTO_VERSION_MIN at the version before and
 * answers a peer in the version the peer spoke, so that a module loaded before an upgrade
 * and an init started before it still talk to the new helper, module and isolatectl. A
 * message of a version outside the range is refused whole (-EPROTONOSUPPORT), never read. */
#define PROTO_VERSION     1
#define PROTO_VERSION_MIN 1

/* The helper always gets its socket as this fd. */
#define HELPER_SOCKET_FD 3

enum proto_type {
        MSG_OPEN_REQUEST = 1, /* caller -> helper */
        MSG_HELLO = 2,        /* helper -> caller: config loaded, this is the fail mode */
        MSG_OPEN_REPLY = 3,   /* helper -> caller: final answer (+ fds when OK) */
        MSG_CLOSE = 4,        /* caller -> init: kill every other process of the session */
        MSG_CLOSED = 5,       /* init -> caller: done, n processes killed */
        MSG_READY = 6,        /* init -> helper: the sandbox is built */
        MSG_FAILED = 7,       /* session setup child -> helper: what failed */
        MSG_JOIN = 8,         /* helper -> init of a user-scope sandbox: a new login joins;
                                 fds: the caller's pidfd, the login's control socket. The
                                 init answers MSG_READY with its own pidfd, or MSG_FAILED */
        MSG_TICKET = 9,       /* helper -> init of a user-scope sandbox, after a login it
                                 confined or joined: text the login's ticket key (ticket.h),
                                 followed by that login's OPEN_REPLY (REPLY_OK; its init and
                                 control fds are placeholders). The init answers MSG_READY */
        MSG_TICKET_JOIN = 10, /* caller -> init: text a ticket key, fd the caller's pidfd.
                                 The init answers with an OPEN_REPLY as the helper gave it
                                 (with its own pidfd and a new control socket), or MSG_FAILED */
};

enum reply_status {
        REPLY_OK = 0,     /* join the sandbox described */
        REPLY_IGNORE = 1, /* service not configured: PAM_IGNORE */
        REPLY_EXEMPT = 2, /* let the login through unconfined, by policy */
        REPLY_DENY = 3,   /* something failed; fail_mode says what the caller does */
};

struct open_request {
        char user[256];
        char service[64];
        char rhost[256];
        char tty[64];
        int32_t caller_pid;
        /* the helper binary the caller runs, as ticket_stamp() says it ("helper PATH DEV
         * INO SIZE MTIME CTIME"): part of a ticket's key (ticket.h); "" from a caller older
         * than tickets, or one whose helper path is too long for it, which then gets none */
        char helper_stamp[1024];
        uint16_t version; /* not a field: the header's; on -EPROTONOSUPPORT the refused one */
};

#define JOIN_MAX_LANDLOCK_PATHS 64
#define JOIN_MAX_CGROUP_FDS     8
#define JOIN_PATH_MAX           4096

struct landlock_path {
        uint64_t access;   /* LANDLOCK_ACCESS_FS_* allowed beneath path */
        uint32_t home_len; /* > 0: path is the user's home (its first home_len bytes) and a
                              part below it, which the user controls: opened beneath the home
                              without following symlinks */
        char path[JOIN_PATH_MAX];
};

/* Everything the caller applies to itself to join a session, in this order: LSM exec
 * label (host /proc), its own move into the session's cgroups, setns, Landlock, bounding
 * set, no_new_privs, seccomp. */
struct join_spec {
        int init_pidfd;                      /* -1 when absent */
        int control_fd;                      /* SEQPACKET to the init: MSG_CLOSE */
        int cgroup_fds[JOIN_MAX_CGROUP_FDS]; /* write "0" to each: the caller moves itself */
        uint32_t n_cgroup_fds;
        uint32_t ns_flags; /* CLONE_NEW* to setns into, all in one call */
        uint64_t caps_keep;
        bool no_new_privs;
        uint64_t nofile;           /* RLIMIT_NOFILE, soft and hard, never raised; 0: left alone */
        char lsm_attr_path[64];    /* "" or /proc/self/attr/apparmor/exec, /proc/self/attr/exec */
        char lsm_attr_value[512];  /* what to write there */
        struct sock_filter *bpf;   /* NULL: no seccomp filter; malloc'ed */
        uint32_t bpf_len;          /* instructions */
        uint32_t seccomp_flags;    /* SECCOMP_FILTER_FLAG_* (e.g. LOG) */
        uint64_t landlock_handled; /* 0: no Landlock filesystem rules */
        uint64_t landlock_scoped;  /* LANDLOCK_SCOPE_*: 0 none; with handled 0 and this 0, no
                                      Landlock domain at all */
        uint32_t landlock_abi;
        struct landlock_path *landlock; /* malloc'ed array */
        uint32_t n_landlock;
};

struct open_reply {
        uint32_t status;    /* enum reply_status */
        uint32_t fail_open; /* REPLY_DENY: the config says fail = open (never for a bad config) */
        char message[1024]; /* DENY: why; EXEMPT/OK: the reason the policy was chosen */
        char session_id[32];
        char policy[64];
        char warnings[1024];        /* things logged and gone on with (caps_required = no, ...) */
        uint32_t helper_timeout_ms; /* from HELLO: the config's helper_timeout */
        bool from_ticket;           /* not on the wire: the init answered, no helper ran */
        uint16_t version;           /* not a field: the header's; on -EPROTONOSUPPORT the
                                       refused one */
        struct join_spec join;
};

void join_spec_init(struct join_spec *j);
void join_spec_free(struct join_spec *j); /* closes fds, frees arrays */

/* Encoding and decoding. send_* return 0 or -errno; recv_* return 0, -EBADMSG for a
 * malformed message, -EPROTONOSUPPORT for a version outside PROTO_VERSION_MIN..PROTO_VERSION
 * (its fds closed; the version is in the struct's version, or *ret_value of a control
 * message), -ECONNRESET for EOF, or -errno. Received fds are O_CLOEXEC. A request with a
 * control character in a PAM item is -EILSEQ. */
int proto_send_request(int fd, const struct open_request *req);
int proto_recv_request(int fd, struct open_request *ret);
int proto_send_hello(int fd, bool fail_open, uint32_t helper_timeout_ms);
int proto_send_reply(int fd, const struct open_reply *rep);
/* Receives HELLO (sets *ret_hello_seen and fail_open) or the final reply. Returns the type. */
int proto_recv_reply(int fd, int timeout_ms, struct open_reply *ret, bool *ret_hello_seen);

/* Small control messages: a type and one 32-bit value, optional text. */
int proto_send_simple(int fd, enum proto_type type, uint32_t value, const char *text);
int proto_recv_simple(int fd, int timeout_ms, enum proto_type *ret_type, uint32_t *ret_value,
                      char *text, size_t text_len);

/* The same with fds (at most 4) riding along; received ones are O_CLOEXEC. Those beyond
 * max_fds are closed (*ret_n_fds says how many were kept), all of them when the message is
 * malformed. */
int proto_send_simple_fds(int fd, enum proto_type type, uint32_t value, const char *text,
                          const int *fds, size_t n_fds);
int proto_recv_simple_fds(int fd, int timeout_ms, enum proto_type *ret_type, uint32_t *ret_value,
                          char *text, size_t text_len, int *fds, size_t max_fds,
                          size_t *ret_n_fds);

/* What an admin reads when a peer speaks a version this build does not: "PEER speaks
 * protocol version V, and this SELF reads versions MIN to MAX: " and what to do. Returns buf. */
const char *proto_version_explain(char *buf, size_t len, const char *peer, const char *self,
                                  unsigned version);

/* Exposed for the unit tests and the fuzzer: decode a reply from a buffer (no fds). */
int proto_decode_reply(const void *buf, size_t len, struct open_reply *ret, bool *ret_hello);
int proto_decode_request(const void *buf, size_t len, struct open_request *ret);

/* The fields of a message, declared once in a table (protocol.c) that both the encoder and
 * the decoder walk. Exposed for the unit tests, which check every field of it. */
enum proto_field_type {
        PROTO_UINT,     /* a 32- or 64-bit number member, as wide on the wire */
        PROTO_BOOL,     /* a bool member; on the wire a u32, anything but 0 is true */
        PROTO_STR,      /* a char[size] member; on the wire without its NUL: < size bytes */
        PROTO_FD_COUNT, /* join.n_cgroup_fds; on the wire a u32, how many fds ride along:
                           the init's two, then the cgroup fds */
        PROTO_BPF,      /* join.bpf, bpf_len (offset: of the join_spec): the instructions */
        PROTO_LANDLOCK, /* join.landlock, n_landlock (offset: of the join_spec): a field per
                           path, given again for each: u64 access, u32 home_len, the path */
        PROTO_TEXT,     /* a control message's text: cut to fit the receiver's buffer */
};

/* The messages that send a field (proto_field.sent_in). */
enum {
        PROTO_IN_REQUEST = 1 << 0,
        PROTO_IN_HELLO = 1 << 1,
        PROTO_IN_REPLY = 1 << 2,   /* every OPEN_REPLY */
        PROTO_IN_JOIN = 1 << 3,    /* an OPEN_REPLY with status REPLY_OK */
        PROTO_IN_CONTROL = 1 << 4, /* the small control messages */
};

enum {
        PROTO_REQUIRED = 1 << 0,  /* a message that sends it and lacks it is refused */
        PROTO_PRINTABLE = 1 << 1, /* a string without control characters, else -EILSEQ */
};

struct proto_field {
        uint16_t tag;
        uint8_t type;      /* enum proto_field_type */
        uint8_t sent_in;   /* PROTO_IN_* */
        size_t offset;     /* of its member in the message's struct */
        size_t size;       /* of that member */
        uint8_t flags;     /* PROTO_REQUIRED, PROTO_PRINTABLE */
        uint32_t min, max; /* a number's range (max 0: none); a string's least length */
};

struct proto_table {
        const struct proto_field *fields; /* in the order they are sent */
        size_t n;
};

extern const struct proto_table proto_request_table; /* struct open_request */
extern const struct proto_table proto_reply_table;   /* struct open_reply: HELLO, OPEN_REPLY */

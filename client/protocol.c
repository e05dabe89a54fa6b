/* protocol.c: encoding and decoding of the messages in protocol.h. libc only.
 *
 * Message: struct msg_header, then fields. Field: struct field_header, value, padding to 4.
 * Strings travel without their NUL and must fit the destination with room for it; fixed
 * width numbers must have exactly their width. Which fields a message carries, in which
 * order, where each goes and what it may hold is in the tables below; one encoder and one
 * decoder walk them. */
#include "protocol.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

struct msg_header {
        uint32_t magic;
        uint16_t version;
        uint16_t type;
        uint32_t length; /* the whole message, header included */
};

struct field_header {
        uint16_t tag;
        uint16_t reserved;
        uint32_t length; /* value only */
};

enum field_tag {
        F_USER = 1,
        F_SERVICE,
        F_RHOST,
        F_TTY,
        F_CALLER_PID,
        F_STATUS,
        F_FAIL_OPEN,
        F_MESSAGE,
        F_SESSION_ID,
        F_POLICY,
        F_WARNINGS,
        F_NS_FLAGS,
        F_CAPS_KEEP,
        F_NO_NEW_PRIVS,
        F_LSM_PATH,
        F_LSM_VALUE,
        F_BPF,
        F_SECCOMP_FLAGS,
        F_LANDLOCK_HANDLED,
        F_LANDLOCK_ABI,
        F_LANDLOCK_PATH, /* repeated: the one tag that may be given more than once */
        F_VALUE,
        F_TEXT,
        F_HAS_FDS, /* u32: how many fds ride along: 2 to MAX_FDS (the init's, the cgroups') */
        F_NOFILE,  /* new tags go last: the numbers of the others stay */
        F_LANDLOCK_SCOPED, /* a module older than it skips it (and does not scope) */
        F_HELPER_STAMP,    /* a helper older than it skips it (and gives no ticket) */
        F_TAG_MAX,
};
/* the decoder keeps a bit per tag to refuse a field given twice */
_Static_assert(F_TAG_MAX <= 64, "a tag's bit must fit struct decoder's seen");

#define INIT_FDS 2 /* an OK reply's first fds: the init's pidfd and control socket */
#define MAX_FDS  (INIT_FDS + JOIN_MAX_CGROUP_FDS)
/* a Landlock path field: u64 access, u32 home_len, then the path */
#define LL_HEAD (sizeof(uint64_t) + sizeof(uint32_t))

/* ---- the fields of each message ---------------------------------------------------------- */

/* A control message's text: sent from str (NULL: none); received into buf[size], cut to fit
 * (size 0: skipped). */
struct text {
        const char *str;
        char *buf;
        size_t size;
};

struct control_message {
        uint32_t value;
        struct text text;
};

#define AT(type, member) .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)
#define REQUEST(member)  AT(struct open_request, member)
#define REPLY(member)    AT(struct open_reply, member)
#define JOIN(member)     AT(struct open_reply, join.member)

static const struct proto_field request_fields[] = {
    {F_USER, PROTO_STR, PROTO_IN_REQUEST, REQUEST(user), .flags = PROTO_REQUIRED | PROTO_PRINTABLE,
     .min = 1},
    {F_SERVICE, PROTO_STR, PROTO_IN_REQUEST, REQUEST(service),
     .flags = PROTO_REQUIRED | PROTO_PRINTABLE},
    {F_RHOST, PROTO_STR, PROTO_IN_REQUEST, REQUEST(rhost), .flags = PROTO_PRINTABLE},
    {F_TTY, PROTO_STR, PROTO_IN_REQUEST, REQUEST(tty), .flags = PROTO_PRINTABLE},
    {F_CALLER_PID, PROTO_UINT, PROTO_IN_REQUEST, REQUEST(caller_pid), .flags = PROTO_REQUIRED,
     .min = 1, .max = INT32_MAX},
    {F_HELPER_STAMP, PROTO_STR, PROTO_IN_REQUEST, REQUEST(helper_stamp),
     .flags = PROTO_PRINTABLE},
};

/* A HELLO and a reply decode into the same struct, with every field of this table. */
static const struct proto_field reply_fields[] = {
    {F_STATUS, PROTO_UINT, PROTO_IN_REPLY, REPLY(status), .flags = PROTO_REQUIRED,
     .max = REPLY_DENY},
    {F_FAIL_OPEN, PROTO_UINT, PROTO_IN_REPLY | PROTO_IN_HELLO, REPLY(fail_open)},
    {F_MESSAGE, PROTO_STR, PROTO_IN_REPLY, REPLY(message)},
    {F_SESSION_ID, PROTO_STR, PROTO_IN_REPLY, REPLY(session_id)},
    {F_POLICY, PROTO_STR, PROTO_IN_REPLY, REPLY(policy)},
    {F_WARNINGS, PROTO_STR, PROTO_IN_REPLY, REPLY(warnings)},
    {F_HAS_FDS, PROTO_FD_COUNT, PROTO_IN_JOIN, JOIN(n_cgroup_fds), .flags = PROTO_REQUIRED,
     .min = INIT_FDS, .max = MAX_FDS},
    {F_NS_FLAGS, PROTO_UINT, PROTO_IN_JOIN, JOIN(ns_flags), .flags = PROTO_REQUIRED},
    {F_CAPS_KEEP, PROTO_UINT, PROTO_IN_JOIN, JOIN(caps_keep)},
    {F_NO_NEW_PRIVS, PROTO_BOOL, PROTO_IN_JOIN, JOIN(no_new_privs)},
    {F_NOFILE, PROTO_UINT, PROTO_IN_JOIN, JOIN(nofile)},
    {F_LSM_PATH, PROTO_STR, PROTO_IN_JOIN, JOIN(lsm_attr_path)},
    {F_LSM_VALUE, PROTO_STR, PROTO_IN_JOIN, JOIN(lsm_attr_value)},
    {F_BPF, PROTO_BPF, PROTO_IN_JOIN, REPLY(join)},
    {F_SECCOMP_FLAGS, PROTO_UINT, PROTO_IN_JOIN, JOIN(seccomp_flags)},
    {F_LANDLOCK_HANDLED, PROTO_UINT, PROTO_IN_JOIN, JOIN(landlock_handled)},
    {F_LANDLOCK_ABI, PROTO_UINT, PROTO_IN_JOIN, JOIN(landlock_abi)},
    {F_LANDLOCK_SCOPED, PROTO_UINT, PROTO_IN_JOIN, JOIN(landlock_scoped)},
    {F_LANDLOCK_PATH, PROTO_LANDLOCK, PROTO_IN_JOIN, REPLY(join)},
    {F_VALUE, PROTO_UINT, PROTO_IN_HELLO, REPLY(helper_timeout_ms)},
};

static const struct proto_field control_fields[] = {
    {F_VALUE, PROTO_UINT, PROTO_IN_CONTROL, AT(struct control_message, value)},
    {F_TEXT, PROTO_TEXT, PROTO_IN_CONTROL, AT(struct control_message, text)},
};

const struct proto_table proto_request_table = {request_fields, ELEMENTSOF(request_fields)};
const struct proto_table proto_reply_table = {reply_fields, ELEMENTSOF(reply_fields)};
static const struct proto_table control_table = {control_fields, ELEMENTSOF(control_fields)};

/* The fields a HELLO or reply sends: those of the join only when it is OK. */
static unsigned reply_sends(int type, uint32_t status)
{
        if (type == MSG_HELLO)
                return PROTO_IN_HELLO;
        return PROTO_IN_REPLY | (status == REPLY_OK ? PROTO_IN_JOIN : 0);
}

void join_spec_init(struct join_spec *j)
{
        memset(j, 0, sizeof(*j));
        j->init_pidfd = -1;
        j->control_fd = -1;
        for (size_t i = 0; i < JOIN_MAX_CGROUP_FDS; i++)
                j->cgroup_fds[i] = -1;
}

void join_spec_free(struct join_spec *j)
{
        if (j->init_pidfd >= 0)
                close(j->init_pidfd);
        if (j->control_fd >= 0)
                close(j->control_fd);
        for (size_t i = 0; i < JOIN_MAX_CGROUP_FDS; i++)
                if (j->cgroup_fds[i] >= 0)
                        close(j->cgroup_fds[i]);
        free(j->bpf);
        free(j->landlock);
        join_spec_init(j);
}

/* ---- encoding ---------------------------------------------------------------------------- */

struct encoder {
        char *buf;
        size_t len, cap;
        int error;
};

static void enc_init(struct encoder *e, enum proto_type type)
{
        memset(e, 0, sizeof(*e));
        e->cap = 4096;
        e->buf = calloc(1, e->cap);
        if (!e->buf) {
                e->error = -ENOMEM;
                return;
        }
        struct msg_header h = {.magic = PROTO_MAGIC, .version = PROTO_VERSION, .type = type};
        memcpy(e->buf, &h, sizeof(h));
        e->len = sizeof(h);
}

static void enc_field(struct encoder *e, uint16_t tag, const void *value, size_t len)
{
        if (e->error)
                return;
        size_t padded = (len + 3) & ~(size_t)3;
        size_t need = e->len + sizeof(struct field_header) + padded;
        if (need > PROTO_MAX_MSG || len > UINT32_MAX) {
                e->error = -EMSGSIZE;
                return;
        }
        if (need > e->cap) {
                size_t cap = e->cap;
                while (cap < need)
                        cap *= 2;
                char *n = realloc(e->buf, cap);
                if (!n) {
                        e->error = -ENOMEM;
                        return;
                }
                memset(n + e->cap, 0, cap - e->cap);
                e->buf = n;
                e->cap = cap;
        }
        struct field_header f = {.tag = tag, .length = (uint32_t)len};
        memcpy(e->buf + e->len, &f, sizeof(f));
        if (len)
                memcpy(e->buf + e->len + sizeof(f), value, len);
        e->len = need;
}

static void enc_landlock_path(struct encoder *e, uint16_t tag, const struct landlock_path *p)
{
        size_t len = strnlen(p->path, sizeof(p->path));
        char value[LL_HEAD + sizeof(p->path)];
        memcpy(value, &p->access, sizeof(p->access));
        memcpy(value + sizeof(p->access), &p->home_len, sizeof(p->home_len));
        memcpy(value + LL_HEAD, p->path, len);
        enc_field(e, tag, value, LL_HEAD + len);
}

/* Appends the field (or, for a Landlock path, the fields) of the member f describes. */
static void enc_member(struct encoder *e, const struct proto_field *f, const void *msg)
{
        const char *member = (const char *)msg + f->offset;
        const struct join_spec *j = (const struct join_spec *)member;
        const struct text *text = (const struct text *)member;
        uint32_t n;
        switch (f->type) {
        case PROTO_UINT:
                enc_field(e, f->tag, member, f->size);
                break;
        case PROTO_BOOL:
                n = *(const bool *)member;
                enc_field(e, f->tag, &n, sizeof(n));
                break;
        case PROTO_FD_COUNT:
                memcpy(&n, member, sizeof(n));
                n += INIT_FDS;
                enc_field(e, f->tag, &n, sizeof(n));
                break;
        case PROTO_STR:
                enc_field(e, f->tag, member, strnlen(member, f->size));
                break;
        case PROTO_TEXT:
                if (text->str)
                        enc_field(e, f->tag, text->str, strlen(text->str));
                break;
        case PROTO_BPF:
                if (j->bpf)
                        enc_field(e, f->tag, j->bpf, (size_t)j->bpf_len * sizeof(*j->bpf));
                break;
        case PROTO_LANDLOCK:
                for (uint32_t i = 0; i < j->n_landlock; i++)
                        enc_landlock_path(e, f->tag, &j->landlock[i]);
                break;
        }
}

/* Encodes the members of msg that a message of this type sends (sent_in & sends), in the
 * table's order, and sends it with up to MAX_FDS fds. */
static int send_message(int fd, enum proto_type type, const struct proto_table *t, const void *msg,
                        unsigned sends, const int *fds, size_t n_fds)
{
        struct encoder e;
        enc_init(&e, type);
        for (size_t i = 0; i < t->n; i++)
                if (t->fields[i].sent_in & sends)
                        enc_member(&e, &t->fields[i], msg);
        _cleanup_free_ char *buf = TAKE_PTR(e.buf);
        if (e.error)
                return e.error;
        uint32_t len = (uint32_t)e.len;
        memcpy(buf + offsetof(struct msg_header, length), &len, sizeof(len));

        struct iovec iov = {.iov_base = buf, .iov_len = e.len};
        union {
                char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
                struct cmsghdr align;
        } control;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (n_fds > 0) {
                if (n_fds > MAX_FDS)
                        return -EINVAL;
                memset(&control, 0, sizeof(control));
                mh.msg_control = control.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        ssize_t n;
        do
                n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t)n != e.len)
                return -EMSGSIZE;
        return 0;
}

/* ---- decoding ---------------------------------------------------------------------------- */

struct decoder {
        const char *buf;
        size_t len, pos;
        uint16_t version; /* the header's */
        uint64_t seen; /* bit per tag, to refuse duplicates of single-valued fields */
};

/* Next field: 1 with tag/value/length, 0 at the end, -EBADMSG when truncated or given twice
 * (any tag below 64 but F_LANDLOCK_PATH, known to this message or not). */
static int dec_next(struct decoder *d, uint16_t *ret_tag, const char **ret_value, size_t *ret_len)
{
        if (d->pos == d->len)
                return 0;
        struct field_header f;
        if (d->len - d->pos < sizeof(f))
                return -EBADMSG;
        memcpy(&f, d->buf + d->pos, sizeof(f));
        size_t len = f.length;
        size_t padded = (len + 3) & ~(size_t)3;
        if (padded > d->len - d->pos - sizeof(f))
                return -EBADMSG;
        *ret_tag = f.tag;
        *ret_value = d->buf + d->pos + sizeof(f);
        *ret_len = len;
        d->pos += sizeof(f) + padded;
        if (f.tag < 64 && f.tag != F_LANDLOCK_PATH) {
                if (d->seen & (1ULL << f.tag))
                        return -EBADMSG;
                d->seen |= 1ULL << f.tag;
        }
        return 1;
}

static int dec_str(const char *value, size_t len, char *dst, size_t size)
{
        if (len >= size || memchr(value, '\0', len))
                return -EBADMSG;
        memcpy(dst, value, len);
        dst[len] = '\0';
        return 0;
}

/* A number: exactly as wide as on the wire (a bool and a count of fds are u32s), within the
 * field's range. */
static int dec_number(const struct proto_field *f, const char *value, size_t len, char *member)
{
        size_t width = f->type == PROTO_UINT ? f->size : sizeof(uint32_t);
        uint32_t u32;
        uint64_t v;
        if (len != width)
                return -EBADMSG;
        if (width == sizeof(u32)) {
                memcpy(&u32, value, sizeof(u32));
                v = u32;
        } else {
                memcpy(&v, value, sizeof(v));
        }
        if (v < f->min || (f->max && v > f->max))
                return -EBADMSG;
        if (f->type == PROTO_BOOL) {
                *(bool *)member = v != 0;
        } else if (f->type == PROTO_FD_COUNT) {
                u32 = (uint32_t)v - INIT_FDS; /* the fds themselves come with recvmsg */
                memcpy(member, &u32, sizeof(u32));
        } else {
                memcpy(member, value, width);
        }
        return 0;
}

static int dec_bpf(struct join_spec *j, const char *value, size_t len)
{
        /* BPF_MAXINSNS: the kernel takes no longer program anyway */
        if (len == 0 || len % sizeof(struct sock_filter) ||
            len / sizeof(struct sock_filter) > BPF_MAXINSNS)
                return -EBADMSG;
        j->bpf = malloc(len);
        if (!j->bpf)
                return -ENOMEM;
        memcpy(j->bpf, value, len);
        j->bpf_len = (uint32_t)(len / sizeof(struct sock_filter));
        return 0;
}

static int dec_landlock_path(struct join_spec *j, const char *value, size_t len)
{
        if (len <= LL_HEAD || j->n_landlock >= JOIN_MAX_LANDLOCK_PATHS)
                return -EBADMSG;
        struct landlock_path *n = realloc(j->landlock, (j->n_landlock + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        j->landlock = n;
        struct landlock_path *p = &n[j->n_landlock];
        memcpy(&p->access, value, sizeof(p->access));
        memcpy(&p->home_len, value + sizeof(p->access), sizeof(p->home_len));
        int r = dec_str(value + LL_HEAD, len - LL_HEAD, p->path, sizeof(p->path));
        if (r < 0)
                return r;
        if (p->path[0] != '/' || p->home_len > strlen(p->path))
                return -EBADMSG;
        j->n_landlock++;
        return 0;
}

/* Decodes one field's value into the member f describes: 0, -EBADMSG or -ENOMEM. */
static int dec_member(const struct proto_field *f, const char *value, size_t len, void *msg)
{
        char *member = (char *)msg + f->offset;
        struct text *text = (struct text *)member;
        switch (f->type) {
        case PROTO_UINT:
        case PROTO_BOOL:
        case PROTO_FD_COUNT:
                return dec_number(f, value, len, member);
        case PROTO_STR:
                if (len < f->min)
                        return -EBADMSG;
                return dec_str(value, len, member, f->size);
        case PROTO_TEXT:
                if (text->size == 0)
                        return 0;
                return dec_str(value, len < text->size ? len : text->size - 1, text->buf,
                               text->size);
        case PROTO_BPF:
                return dec_bpf((struct join_spec *)member, value, len);
        case PROTO_LANDLOCK:
                return dec_landlock_path((struct join_spec *)member, value, len);
        }
        return -EBADMSG;
}

/* Checks the header and decodes every field into msg by the table: the message's type, or
 * -EBADMSG (also for a type not in types, a mask of 1 << type), -ENOMEM. */
static int dec_message(struct decoder *d, const void *buf, size_t len, unsigned types,
                       const struct proto_table *t, void *msg)
{
        struct msg_header h;
        *d = (struct decoder){.buf = buf, .len = len};
        if (len < sizeof(h))
                return -EBADMSG;
        memcpy(&h, buf, sizeof(h));
        if (h.magic != PROTO_MAGIC)
                return -EBADMSG;
        /* the magic and the version are the header every version keeps: past them, a
         * version this build does not know may have changed anything */
        d->version = h.version;
        if (h.version < PROTO_VERSION_MIN || h.version > PROTO_VERSION)
                return -EPROTONOSUPPORT;
        if (h.length != len || h.type < MSG_OPEN_REQUEST || h.type > MSG_TICKET_JOIN ||
            !(types & (1u << h.type)))
                return -EBADMSG;
        d->pos = sizeof(h);
        uint16_t tag;
        const char *value;
        size_t n;
        int r;
        while ((r = dec_next(d, &tag, &value, &n)) > 0) {
                const struct proto_field *f = NULL;
                for (size_t i = 0; i < t->n && !f; i++)
                        if (t->fields[i].tag == tag)
                                f = &t->fields[i];
                if (!f)
                        continue; /* unknown fields are skipped: newer peers may add some */
                r = dec_member(f, value, n, msg);
                if (r < 0)
                        return r;
        }
        return r < 0 ? r : h.type;
}

static bool printable(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/* After the last field: -EBADMSG when a required field of those the message sends is missing,
 * else -EILSEQ when a string that must be printable holds a control character. */
static int dec_check(const struct decoder *d, const struct proto_table *t, unsigned sends,
                     const void *msg)
{
        int r = 0;
        for (size_t i = 0; i < t->n; i++) {
                const struct proto_field *f = &t->fields[i];
                if ((f->flags & PROTO_REQUIRED) && (f->sent_in & sends) &&
                    !(d->seen & (1ULL << f->tag)))
                        return -EBADMSG;
                if ((f->flags & PROTO_PRINTABLE) && !printable((const char *)msg + f->offset))
                        r = -EILSEQ;
        }
        return r;
}

/* Receives one message into a malloc'ed buffer, and its fds into fds (NULL: a message that
 * carries none; any that come are closed). */
static int recv_message(int fd, int timeout_ms, char **ret_buf, size_t *ret_len, int *fds,
                        size_t *n_fds)
{
        *n_fds = 0;
        if (timeout_ms >= 0) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
                for (;;) {
                        uint64_t now = now_ns();
                        int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000ULL);
                        int r = poll(&p, 1, left);
                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r < 0)
                                return -errno;
                        if (r == 0)
                                return -ETIMEDOUT;
                        break;
                }
        }
        _cleanup_free_ char *buf = malloc(PROTO_MAX_MSG);
        if (!buf)
                return -ENOMEM;
        union {
                char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
                struct cmsghdr align;
        } control;
        struct iovec iov = {.iov_base = buf, .iov_len = PROTO_MAX_MSG};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = control.buf,
                            .msg_controllen = sizeof(control.buf)};
        ssize_t n;
        do
                n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        /* Collect fds first so that they are closed on every error below. */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int got[MAX_FDS * 2];
                if (k > ELEMENTSOF(got))
                        k = ELEMENTSOF(got);
                memcpy(got, CMSG_DATA(c), k * sizeof(int));
                for (size_t i = 0; i < k; i++) {
                        if (fds && *n_fds < MAX_FDS)
                                fds[(*n_fds)++] = got[i];
                        else
                                close(got[i]);
                }
        }
        int r = 0;
        if (n == 0)
                r = -ECONNRESET;
        else if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
                r = -EBADMSG;
        if (r < 0) {
                for (size_t i = 0; i < *n_fds; i++)
                        close(fds[i]);
                *n_fds = 0;
                return r;
        }
        *ret_buf = TAKE_PTR(buf);
        *ret_len = (size_t)n;
        return 0;
}

const char *proto_version_explain(char *buf, size_t len, const char *peer, const char *self,
                                  unsigned version)
{
        const char *what =
            version > PROTO_VERSION
                ? "it is from a newer isolate release than this one: finish the upgrade (every "
                  "part from one release, as the package installs them), then log in again"
                : "it is from an isolate release older than this one reads: end the sessions "
                  "opened before the upgrade (isolatectl list, isolatectl kill) and log in again";
        snprintf(buf, len, "%s speaks protocol version %u, and this %s reads versions %u to %u: %s",
                 peer, version, self, PROTO_VERSION_MIN, PROTO_VERSION, what);
        return buf;
}

/* ---- open request ------------------------------------------------------------------------ */

int proto_send_request(int fd, const struct open_request *req)
{
        return send_message(fd, MSG_OPEN_REQUEST, &proto_request_table, req, PROTO_IN_REQUEST, NULL,
                            0);
}

int proto_decode_request(const void *buf, size_t len, struct open_request *ret)
{
        struct decoder d;
        memset(ret, 0, sizeof(*ret));
        int r = dec_message(&d, buf, len, 1u << MSG_OPEN_REQUEST, &proto_request_table, ret);
        ret->version = d.version;
        if (r < 0)
                return r;
        /* PAM items come from remote peers and users; they end up in the registry (one
         * "key=value" per line) and in logs: no control characters anywhere */
        return dec_check(&d, &proto_request_table, PROTO_IN_REQUEST, ret);
}

int proto_recv_request(int fd, struct open_request *ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t len, n_fds;
        int r = recv_message(fd, -1, &buf, &len, NULL, &n_fds); /* a request carries no fds */
        if (r < 0)
                return r;
        return proto_decode_request(buf, len, ret);
}

/* ---- hello and reply --------------------------------------------------------------------- */

int proto_send_hello(int fd, bool fail_open, uint32_t helper_timeout_ms)
{
        struct open_reply hello = {.fail_open = fail_open, .helper_timeout_ms = helper_timeout_ms};
        return send_message(fd, MSG_HELLO, &proto_reply_table, &hello, reply_sends(MSG_HELLO, 0),
                            NULL, 0);
}

int proto_send_reply(int fd, const struct open_reply *rep)
{
        const struct join_spec *j = &rep->join;
        int fds[MAX_FDS];
        size_t n_fds = 0;
        if (rep->status == REPLY_OK) {
                if (j->init_pidfd < 0 || j->control_fd < 0 || j->n_cgroup_fds > JOIN_MAX_CGROUP_FDS)
                        return -EINVAL;
                fds[n_fds++] = j->init_pidfd;
                fds[n_fds++] = j->control_fd;
                for (uint32_t i = 0; i < j->n_cgroup_fds; i++)
                        fds[n_fds++] = j->cgroup_fds[i];
        }
        return send_message(fd, MSG_OPEN_REPLY, &proto_reply_table, rep,
                            reply_sends(MSG_OPEN_REPLY, rep->status), fds, n_fds);
}

int proto_decode_reply(const void *buf, size_t len, struct open_reply *ret, bool *ret_hello)
{
        struct decoder d;
        /* a HELLO is decoded, and refused, as a reply is: with the same table */
        int type = dec_message(&d, buf, len, 1u << MSG_HELLO | 1u << MSG_OPEN_REPLY,
                               &proto_reply_table, ret);
        ret->version = d.version;
        if (type < 0)
                return type;
        *ret_hello = type == MSG_HELLO;
        return dec_check(&d, &proto_reply_table, reply_sends(type, ret->status), ret);
}

int proto_recv_reply(int fd, int timeout_ms, struct open_reply *ret, bool *ret_hello_seen)
{
        _cleanup_free_ char *buf = NULL;
        size_t len, n_fds;
        int fds[MAX_FDS];
        int r = recv_message(fd, timeout_ms, &buf, &len, fds, &n_fds);
        if (r < 0)
                return r;
        bool hello = false;
        struct open_reply tmp;
        memset(&tmp, 0, sizeof(tmp));
        join_spec_init(&tmp.join);
        r = proto_decode_reply(buf, len, &tmp, &hello);
        bool join = !hello && tmp.status == REPLY_OK; /* only an OK reply carries fds */
        if (r == 0 && n_fds != (join ? INIT_FDS + tmp.join.n_cgroup_fds : 0))
                r = -EBADMSG;
        if (r < 0) {
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
                join_spec_free(&tmp.join);
                ret->version = tmp.version;
                return r;
        }
        if (hello) {
                *ret_hello_seen = true;
                ret->fail_open = tmp.fail_open;
                ret->helper_timeout_ms = tmp.helper_timeout_ms;
                join_spec_free(&tmp.join); /* a HELLO may carry join fields too: unused */
                return MSG_HELLO;
        }
        if (join) {
                tmp.join.init_pidfd = fds[0];
                tmp.join.control_fd = fds[1];
                for (uint32_t i = 0; i < tmp.join.n_cgroup_fds; i++)
                        tmp.join.cgroup_fds[i] = fds[INIT_FDS + i];
        }
        join_spec_free(&ret->join);
        *ret = tmp;
        return MSG_OPEN_REPLY;
}

/* ---- small control messages -------------------------------------------------------------- */

int proto_send_simple_fds(int fd, enum proto_type type, uint32_t value, const char *text,
                          const int *fds, size_t n_fds)
{
        if (n_fds > 4)
                return -EINVAL;
        struct control_message m = {.value = value, .text.str = text};
        return send_message(fd, type, &control_table, &m, PROTO_IN_CONTROL, fds, n_fds);
}

int proto_send_simple(int fd, enum proto_type type, uint32_t value, const char *text)
{
        return proto_send_simple_fds(fd, type, value, text, NULL, 0);
}

int proto_recv_simple_fds(int fd, int timeout_ms, enum proto_type *ret_type, uint32_t *ret_value,
                          char *text, size_t text_len, int *fds, size_t max_fds, size_t *ret_n_fds)
{
        _cleanup_free_ char *buf = NULL;
        size_t len, n_fds;
        int got[MAX_FDS];
        if (ret_n_fds)
                *ret_n_fds = 0;
        int r = recv_message(fd, timeout_ms, &buf, &len, got, &n_fds);
        if (r < 0)
                return r;
        struct control_message m = {.text = {.buf = text, .size = text ? text_len : 0}};
        if (m.text.size)
                text[0] = '\0';
        struct decoder d;
        int type = dec_message(&d, buf, len, ~0u, &control_table, &m);
        size_t keep = type < 0 || !fds ? 0 : n_fds < max_fds ? n_fds : max_fds;
        for (size_t i = keep; i < n_fds; i++) /* not wanted: closed, as are all on an error */
                close(got[i]);
        if (type == -EPROTONOSUPPORT && ret_value)
                *ret_value = d.version;
        if (type < 0)
                return type;
        for (size_t i = 0; i < keep; i++)
                fds[i] = got[i];
        if (ret_n_fds)
                *ret_n_fds = keep;
        *ret_type = (enum proto_type)type;
        if (ret_value)
                *ret_value = m.value;
        return 0;
}

int proto_recv_simple(int fd, int timeout_ms, enum proto_type *ret_type, uint32_t *ret_value,
                      char *text, size_t text_len)
{
        return proto_recv_simple_fds(fd, timeout_ms, ret_type, ret_value, text, text_len, NULL, 0,
                                     NULL);
}

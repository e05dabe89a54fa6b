/* protocol.c: encoding and decoding of the messages in protocol.h. libc only.
 *
 * Message: struct msg_header, then fields. Field: struct field_header, value, padding to 4.
 * Strings travel without their NUL and must fit the destination with room for it; fixed
 * width numbers must have exactly their width. */
#include "protocol.h"

#include <poll.h>
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
        F_LANDLOCK_PATH, /* repeated: u64 access, then the path */
        F_VALUE,
        F_TEXT,
        F_HAS_FDS, /* u32: how many fds ride along (0 or 2) */
        F_NOFILE,  /* new tags go last: the numbers of the others stay */
        F_TAG_MAX,
};

#define MAX_FDS (2 + JOIN_MAX_CGROUP_FDS)
/* a Landlock path field: u64 access, u32 home_len, then the path */
#define LL_HEAD (sizeof(uint64_t) + sizeof(uint32_t))

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

static void enc_str(struct encoder *e, uint16_t tag, const char *s)
{
        enc_field(e, tag, s, strlen(s));
}

static void enc_u32(struct encoder *e, uint16_t tag, uint32_t v)
{
        enc_field(e, tag, &v, sizeof(v));
}

static void enc_u64(struct encoder *e, uint16_t tag, uint64_t v)
{
        enc_field(e, tag, &v, sizeof(v));
}

/* Sends the message with up to MAX_FDS fds; frees the buffer. */
static int enc_send(struct encoder *e, int fd, const int *fds, size_t n_fds)
{
        _cleanup_free_ char *buf = TAKE_PTR(e->buf);
        if (e->error)
                return e->error;
        uint32_t len = (uint32_t)e->len;
        memcpy(buf + offsetof(struct msg_header, length), &len, sizeof(len));

        struct iovec iov = {.iov_base = buf, .iov_len = e->len};
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
        if ((size_t)n != e->len)
                return -EMSGSIZE;
        return 0;
}

/* ---- decoding ---------------------------------------------------------------------------- */

struct decoder {
        const char *buf;
        size_t len, pos;
        uint64_t seen; /* bit per tag, to refuse duplicates of single-valued fields */
};

/* Checks the header; returns the type or -EBADMSG. */
static int dec_init(struct decoder *d, const void *buf, size_t len)
{
        struct msg_header h;
        if (len < sizeof(h))
                return -EBADMSG;
        memcpy(&h, buf, sizeof(h));
        if (h.magic != PROTO_MAGIC || h.version != PROTO_VERSION || h.length != len)
                return -EBADMSG;
        if (h.type < MSG_OPEN_REQUEST || h.type > MSG_FAILED)
                return -EBADMSG;
        d->buf = buf;
        d->len = len;
        d->pos = sizeof(h);
        d->seen = 0;
        return h.type;
}

/* Next field: 1 with tag/value/length, 0 at the end, -EBADMSG when truncated. */
static int dec_next(struct decoder *d, uint16_t *tag, const char **value, uint32_t *length)
{
        if (d->pos == d->len)
                return 0;
        struct field_header f;
        if (d->len - d->pos < sizeof(f))
                return -EBADMSG;
        memcpy(&f, d->buf + d->pos, sizeof(f));
        size_t padded = ((size_t)f.length + 3) & ~(size_t)3;
        if (padded > d->len - d->pos - sizeof(f))
                return -EBADMSG;
        *tag = f.tag;
        *value = d->buf + d->pos + sizeof(f);
        *length = f.length;
        d->pos += sizeof(f) + padded;
        if (f.tag < 64 && f.tag != F_LANDLOCK_PATH) {
                if (d->seen & (1ULL << f.tag))
                        return -EBADMSG;
                d->seen |= 1ULL << f.tag;
        }
        return 1;
}

static int dec_str(const char *value, uint32_t length, char *dst, size_t dst_len)
{
        if (length >= dst_len || memchr(value, '\0', length))
                return -EBADMSG;
        memcpy(dst, value, length);
        dst[length] = '\0';
        return 0;
}

static int dec_u32(const char *value, uint32_t length, uint32_t *dst)
{
        if (length != sizeof(*dst))
                return -EBADMSG;
        memcpy(dst, value, sizeof(*dst));
        return 0;
}

static int dec_u64(const char *value, uint32_t length, uint64_t *dst)
{
        if (length != sizeof(*dst))
                return -EBADMSG;
        memcpy(dst, value, sizeof(*dst));
        return 0;
}

/* Receives one message (and fds) into a malloc'ed buffer. */
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
                        if (*n_fds < MAX_FDS)
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

/* ---- open request ------------------------------------------------------------------------ */

static bool printable(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

int proto_send_request(int fd, const struct open_request *req)
{
        struct encoder e;
        enc_init(&e, MSG_OPEN_REQUEST);
        enc_str(&e, F_USER, req->user);
        enc_str(&e, F_SERVICE, req->service);
        enc_str(&e, F_RHOST, req->rhost);
        enc_str(&e, F_TTY, req->tty);
        enc_u32(&e, F_CALLER_PID, (uint32_t)req->caller_pid);
        return enc_send(&e, fd, NULL, 0);
}

int proto_decode_request(const void *buf, size_t len, struct open_request *ret)
{
        struct decoder d;
        memset(ret, 0, sizeof(*ret));
        int type = dec_init(&d, buf, len);
        if (type < 0)
                return type;
        if (type != MSG_OPEN_REQUEST)
                return -EBADMSG;
        uint16_t tag;
        const char *v;
        uint32_t l, pid = 0;
        int r;
        while ((r = dec_next(&d, &tag, &v, &l)) > 0) {
                switch (tag) {
                case F_USER:
                        r = dec_str(v, l, ret->user, sizeof(ret->user));
                        break;
                case F_SERVICE:
                        r = dec_str(v, l, ret->service, sizeof(ret->service));
                        break;
                case F_RHOST:
                        r = dec_str(v, l, ret->rhost, sizeof(ret->rhost));
                        break;
                case F_TTY:
                        r = dec_str(v, l, ret->tty, sizeof(ret->tty));
                        break;
                case F_CALLER_PID:
                        r = dec_u32(v, l, &pid);
                        break;
                default:
                        break; /* unknown fields are skipped: newer callers may add some */
                }
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (!(d.seen & (1ULL << F_USER)) || !(d.seen & (1ULL << F_SERVICE)) ||
            !(d.seen & (1ULL << F_CALLER_PID)) || ret->user[0] == '\0' || pid == 0 ||
            pid > INT32_MAX)
                return -EBADMSG;
        /* PAM items come from remote peers and users; they end up in the registry (one
         * "key=value" per line) and in logs: no control characters anywhere */
        if (!printable(ret->user) || !printable(ret->service) || !printable(ret->rhost) ||
            !printable(ret->tty))
                return -EILSEQ;
        ret->caller_pid = (int32_t)pid;
        return 0;
}

int proto_recv_request(int fd, struct open_request *ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t len, n_fds;
        int fds[MAX_FDS];
        int r = recv_message(fd, -1, &buf, &len, fds, &n_fds);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_fds; i++)
                close(fds[i]); /* a request never carries fds */
        return proto_decode_request(buf, len, ret);
}

/* ---- hello and reply --------------------------------------------------------------------- */

int proto_send_hello(int fd, bool fail_open, uint32_t helper_timeout_ms)
{
        struct encoder e;
        enc_init(&e, MSG_HELLO);
        enc_u32(&e, F_FAIL_OPEN, fail_open);
        enc_u32(&e, F_VALUE, helper_timeout_ms);
        return enc_send(&e, fd, NULL, 0);
}

int proto_send_reply(int fd, const struct open_reply *rep)
{
        struct encoder e;
        const struct join_spec *j = &rep->join;
        /* checked before the encoder allocates: an early return leaks nothing */
        if (rep->status == REPLY_OK &&
            (j->init_pidfd < 0 || j->control_fd < 0 || j->n_cgroup_fds > JOIN_MAX_CGROUP_FDS))
                return -EINVAL;
        enc_init(&e, MSG_OPEN_REPLY);
        enc_u32(&e, F_STATUS, rep->status);
        enc_u32(&e, F_FAIL_OPEN, rep->fail_open);
        enc_str(&e, F_MESSAGE, rep->message);
        enc_str(&e, F_SESSION_ID, rep->session_id);
        enc_str(&e, F_POLICY, rep->policy);
        enc_str(&e, F_WARNINGS, rep->warnings);
        int fds[MAX_FDS];
        size_t n_fds = 0;
        if (rep->status == REPLY_OK) {
                fds[n_fds++] = j->init_pidfd;
                fds[n_fds++] = j->control_fd;
                for (uint32_t i = 0; i < j->n_cgroup_fds; i++)
                        fds[n_fds++] = j->cgroup_fds[i];
                enc_u32(&e, F_HAS_FDS, (uint32_t)n_fds);
                enc_u32(&e, F_NS_FLAGS, j->ns_flags);
                enc_u64(&e, F_CAPS_KEEP, j->caps_keep);
                enc_u32(&e, F_NO_NEW_PRIVS, j->no_new_privs);
                enc_u64(&e, F_NOFILE, j->nofile);
                enc_str(&e, F_LSM_PATH, j->lsm_attr_path);
                enc_str(&e, F_LSM_VALUE, j->lsm_attr_value);
                if (j->bpf)
                        enc_field(&e, F_BPF, j->bpf, (size_t)j->bpf_len * sizeof(*j->bpf));
                enc_u32(&e, F_SECCOMP_FLAGS, j->seccomp_flags);
                enc_u64(&e, F_LANDLOCK_HANDLED, j->landlock_handled);
                enc_u32(&e, F_LANDLOCK_ABI, j->landlock_abi);
                for (uint32_t i = 0; i < j->n_landlock; i++) {
                        size_t pl = strlen(j->landlock[i].path);
                        char tmp[LL_HEAD + JOIN_PATH_MAX];
                        memcpy(tmp, &j->landlock[i].access, sizeof(uint64_t));
                        memcpy(tmp + sizeof(uint64_t), &j->landlock[i].home_len, sizeof(uint32_t));
                        memcpy(tmp + LL_HEAD, j->landlock[i].path, pl);
                        enc_field(&e, F_LANDLOCK_PATH, tmp, LL_HEAD + pl);
                }
        }
        return enc_send(&e, fd, fds, n_fds);
}

int proto_decode_reply(const void *buf, size_t len, struct open_reply *ret, bool *ret_hello)
{
        struct decoder d;
        struct join_spec *j = &ret->join;
        int type = dec_init(&d, buf, len);
        if (type < 0)
                return type;
        if (type != MSG_HELLO && type != MSG_OPEN_REPLY)
                return -EBADMSG;
        *ret_hello = type == MSG_HELLO;
        uint16_t tag;
        const char *v;
        uint32_t l, u32 = 0;
        int r;
        while ((r = dec_next(&d, &tag, &v, &l)) > 0) {
                switch (tag) {
                case F_STATUS:
                        r = dec_u32(v, l, &ret->status);
                        if (r == 0 && ret->status > REPLY_DENY)
                                r = -EBADMSG;
                        break;
                case F_FAIL_OPEN:
                        r = dec_u32(v, l, &ret->fail_open);
                        break;
                case F_MESSAGE:
                        r = dec_str(v, l, ret->message, sizeof(ret->message));
                        break;
                case F_SESSION_ID:
                        r = dec_str(v, l, ret->session_id, sizeof(ret->session_id));
                        break;
                case F_POLICY:
                        r = dec_str(v, l, ret->policy, sizeof(ret->policy));
                        break;
                case F_WARNINGS:
                        r = dec_str(v, l, ret->warnings, sizeof(ret->warnings));
                        break;
                case F_NS_FLAGS:
                        r = dec_u32(v, l, &j->ns_flags);
                        break;
                case F_CAPS_KEEP:
                        r = dec_u64(v, l, &j->caps_keep);
                        break;
                case F_NO_NEW_PRIVS:
                        r = dec_u32(v, l, &u32);
                        j->no_new_privs = u32 != 0;
                        break;
                case F_NOFILE:
                        r = dec_u64(v, l, &j->nofile);
                        break;
                case F_LSM_PATH:
                        r = dec_str(v, l, j->lsm_attr_path, sizeof(j->lsm_attr_path));
                        break;
                case F_LSM_VALUE:
                        r = dec_str(v, l, j->lsm_attr_value, sizeof(j->lsm_attr_value));
                        break;
                case F_BPF:
                        /* BPF_MAXINSNS: the kernel takes no longer program anyway */
                        if (l == 0 || l % sizeof(struct sock_filter) ||
                            l / sizeof(struct sock_filter) > BPF_MAXINSNS) {
                                r = -EBADMSG;
                                break;
                        }
                        j->bpf = malloc(l);
                        if (!j->bpf) {
                                r = -ENOMEM;
                                break;
                        }
                        memcpy(j->bpf, v, l);
                        j->bpf_len = l / sizeof(struct sock_filter);
                        break;
                case F_SECCOMP_FLAGS:
                        r = dec_u32(v, l, &j->seccomp_flags);
                        break;
                case F_LANDLOCK_HANDLED:
                        r = dec_u64(v, l, &j->landlock_handled);
                        break;
                case F_LANDLOCK_ABI:
                        r = dec_u32(v, l, &j->landlock_abi);
                        break;
                case F_LANDLOCK_PATH: {
                        if (l <= LL_HEAD || j->n_landlock >= JOIN_MAX_LANDLOCK_PATHS) {
                                r = -EBADMSG;
                                break;
                        }
                        struct landlock_path *n =
                            realloc(j->landlock, (j->n_landlock + 1) * sizeof(*n));
                        if (!n) {
                                r = -ENOMEM;
                                break;
                        }
                        j->landlock = n;
                        struct landlock_path *p = &n[j->n_landlock];
                        memcpy(&p->access, v, sizeof(uint64_t));
                        memcpy(&p->home_len, v + sizeof(uint64_t), sizeof(uint32_t));
                        r = dec_str(v + LL_HEAD, l - LL_HEAD, p->path, sizeof(p->path));
                        if (r == 0 && (p->path[0] != '/' || p->home_len > strlen(p->path)))
                                r = -EBADMSG;
                        if (r == 0)
                                j->n_landlock++;
                        break;
                }
                case F_VALUE:
                        r = dec_u32(v, l, &ret->helper_timeout_ms);
                        break;
                case F_HAS_FDS:
                        r = dec_u32(v, l, &u32);
                        if (r == 0 && (u32 < 2 || u32 > MAX_FDS))
                                r = -EBADMSG;
                        if (r == 0)
                                j->n_cgroup_fds = u32 - 2; /* fds themselves come with recvmsg */
                        break;
                default:
                        break;
                }
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (type == MSG_OPEN_REPLY && !(d.seen & (1ULL << F_STATUS)))
                return -EBADMSG;
        if (type == MSG_OPEN_REPLY && ret->status == REPLY_OK &&
            (!(d.seen & (1ULL << F_HAS_FDS)) || !(d.seen & (1ULL << F_NS_FLAGS))))
                return -EBADMSG;
        return 0;
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
        if (r == 0 && !hello && tmp.status == REPLY_OK && n_fds != 2 + tmp.join.n_cgroup_fds)
                r = -EBADMSG;
        if (r == 0 && (hello || tmp.status != REPLY_OK) && n_fds != 0)
                r = -EBADMSG;
        if (r < 0) {
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
                join_spec_free(&tmp.join);
                return r;
        }
        if (hello) {
                *ret_hello_seen = true;
                ret->fail_open = tmp.fail_open;
                ret->helper_timeout_ms = tmp.helper_timeout_ms;
                join_spec_free(&tmp.join); /* a HELLO may carry join fields too: unused */
                return MSG_HELLO;
        }
        if (!hello && tmp.status == REPLY_OK) {
                tmp.join.init_pidfd = fds[0];
                tmp.join.control_fd = fds[1];
                for (uint32_t i = 0; i < tmp.join.n_cgroup_fds; i++)
                        tmp.join.cgroup_fds[i] = fds[2 + i];
        }
        join_spec_free(&ret->join);
        *ret = tmp;
        return MSG_OPEN_REPLY;
}

/* ---- small control messages -------------------------------------------------------------- */

int proto_send_simple(int fd, enum proto_type type, uint32_t value, const char *text)
{
        struct encoder e;
        enc_init(&e, type);
        enc_u32(&e, F_VALUE, value);
        if (text)
                enc_str(&e, F_TEXT, text);
        return enc_send(&e, fd, NULL, 0);
}

int proto_recv_simple(int fd, int timeout_ms, enum proto_type *ret_type, uint32_t *ret_value,
                      char *text, size_t text_len)
{
        _cleanup_free_ char *buf = NULL;
        size_t len, n_fds;
        int fds[MAX_FDS];
        int r = recv_message(fd, timeout_ms, &buf, &len, fds, &n_fds);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_fds; i++)
                close(fds[i]);
        struct decoder d;
        int type = dec_init(&d, buf, len);
        if (type < 0)
                return type;
        if (text && text_len)
                text[0] = '\0';
        uint16_t tag;
        const char *v;
        uint32_t l, value = 0;
        while ((r = dec_next(&d, &tag, &v, &l)) > 0) {
                if (tag == F_VALUE)
                        r = dec_u32(v, l, &value);
                else if (tag == F_TEXT && text && text_len)
                        r = dec_str(v, l < text_len ? l : (uint32_t)text_len - 1, text, text_len);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        *ret_type = (enum proto_type)type;
        if (ret_value)
                *ret_value = value;
        return 0;
}

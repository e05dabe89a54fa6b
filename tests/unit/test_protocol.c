/* test_protocol.c: the wire format between caller, helper and init. A malformed, truncated
 * or oversized message is an error, never a crash; fds arrive O_CLOEXEC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>

#include "../../client/protocol.h"

static void pair(int sv[2])
{
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

/* Captures one message as raw bytes. */
static size_t capture(int fd, char *buf, size_t len)
{
        ssize_t n = recv(fd, buf, len, 0);
        assert_true(n > 0);
        return (size_t)n;
}

static void test_request_round_trip(void **state)
{
        int sv[2];
        pair(sv);
        struct open_request req = {.caller_pid = 4242};
        strcpy(req.user, "alice");
        strcpy(req.service, "sshd");
        strcpy(req.rhost, "10.1.2.3");
        strcpy(req.tty, "ssh");
        assert_int_equal(proto_send_request(sv[0], &req), 0);
        struct open_request got;
        assert_int_equal(proto_recv_request(sv[1], &got), 0);
        assert_string_equal(got.user, "alice");
        assert_string_equal(got.service, "sshd");
        assert_string_equal(got.rhost, "10.1.2.3");
        assert_string_equal(got.tty, "ssh");
        assert_int_equal(got.caller_pid, 4242);
        close(sv[0]);
        close(sv[1]);
}

static void test_request_truncated_everywhere(void **state)
{
        int sv[2];
        pair(sv);
        struct open_request req = {.caller_pid = 7};
        strcpy(req.user, "bob");
        strcpy(req.service, "su");
        assert_int_equal(proto_send_request(sv[0], &req), 0);
        char buf[4096];
        size_t len = capture(sv[1], buf, sizeof(buf));
        struct open_request got;
        assert_int_equal(proto_decode_request(buf, len, &got), 0);
        for (size_t cut = 0; cut < len; cut++)
                assert_int_equal(proto_decode_request(buf, cut, &got), -EBADMSG);
        /* flipping any byte never crashes; a flipped header byte is always refused */
        for (size_t i = 0; i < len; i++) {
                char copy[4096];
                memcpy(copy, buf, len);
                copy[i] ^= 0x5a;
                int r = proto_decode_request(copy, len, &got);
                if (i == 4 || i == 5) /* the version: one this build does not read */
                        assert_int_equal(r, -EPROTONOSUPPORT);
                else if (i < 12)
                        assert_int_equal(r, -EBADMSG);
        }
        close(sv[0]);
        close(sv[1]);
}

static void test_request_missing_fields(void **state)
{
        int sv[2];
        pair(sv);
        struct open_request req = {0}; /* no user, pid 0 */
        strcpy(req.service, "sshd");
        assert_int_equal(proto_send_request(sv[0], &req), 0);
        struct open_request got;
        assert_int_equal(proto_recv_request(sv[1], &got), -EBADMSG);
        close(sv[0]);
        close(sv[1]);
}

static void test_request_control_characters_refused(void **state)
{
        /* a newline in rhost would forge registry lines */
        const char *bad[] = {"10.0.0.1\ncgroup=x", "a\rb", "tab\there", "del\x7f"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int sv[2];
                pair(sv);
                struct open_request req = {.caller_pid = 5};
                strcpy(req.user, "u");
                strcpy(req.service, "sshd");
                strcpy(req.rhost, bad[i]);
                assert_int_equal(proto_send_request(sv[0], &req), 0);
                struct open_request got;
                assert_int_equal(proto_recv_request(sv[1], &got), -EILSEQ);
                close(sv[0]);
                close(sv[1]);
        }
}

static void test_wrong_version_refused(void **state)
{
        int sv[2];
        pair(sv);
        struct open_request req = {.caller_pid = 1};
        strcpy(req.user, "u");
        strcpy(req.service, "s");
        assert_int_equal(proto_send_request(sv[0], &req), 0);
        char buf[4096];
        size_t len = capture(sv[1], buf, sizeof(buf));
        struct open_request got;
        uint16_t version = PROTO_VERSION + 1;
        memcpy(buf + 4, &version, sizeof(version));
        assert_int_equal(proto_decode_request(buf, len, &got), -EPROTONOSUPPORT);
        assert_int_equal(got.version, PROTO_VERSION + 1);
        assert_string_equal(got.user, ""); /* refused whole: nothing read */
        version = 0xffff;
        memcpy(buf + 4, &version, sizeof(version));
        assert_int_equal(proto_decode_request(buf, len, &got), -EPROTONOSUPPORT);
        assert_int_equal(got.version, 0xffff);
        version = PROTO_VERSION_MIN - 1; /* older than this build reads */
        memcpy(buf + 4, &version, sizeof(version));
        assert_int_equal(proto_decode_request(buf, len, &got), -EPROTONOSUPPORT);
        assert_int_equal(got.version, PROTO_VERSION_MIN - 1);
        /* a wrong magic is no isolate message at all, whatever its version */
        version = PROTO_VERSION + 1;
        memcpy(buf + 4, &version, sizeof(version));
        buf[0] ^= 1;
        assert_int_equal(proto_decode_request(buf, len, &got), -EBADMSG);
        close(sv[0]);
        close(sv[1]);
}

static void test_reply_with_fds(void **state)
{
        int sv[2];
        pair(sv);
        struct open_reply rep;
        memset(&rep, 0, sizeof(rep));
        join_spec_init(&rep.join);
        rep.status = REPLY_OK;
        strcpy(rep.session_id, "0123456789abcdef");
        strcpy(rep.policy, "bastion");
        rep.join.init_pidfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        rep.join.control_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        rep.join.ns_flags = 0x1234;
        rep.join.caps_keep = 1ULL << 10;
        rep.join.no_new_privs = true;
        struct sock_filter prog[2] = {{0x06, 0, 0, 0x7fff0000}, {0x06, 0, 0, 0}};
        rep.join.bpf = prog;
        rep.join.bpf_len = 2;
        struct landlock_path lp = {.access = 3};
        strcpy(lp.path, "/home/alice");
        rep.join.landlock = &lp;
        rep.join.n_landlock = 1;
        rep.join.landlock_handled = 7;
        rep.join.landlock_scoped = 3;
        assert_int_equal(proto_send_reply(sv[0], &rep), 0);
        close(rep.join.init_pidfd);
        close(rep.join.control_fd);

        struct open_reply got;
        memset(&got, 0, sizeof(got));
        join_spec_init(&got.join);
        bool hello = false;
        assert_int_equal(proto_recv_reply(sv[1], 1000, &got, &hello), MSG_OPEN_REPLY);
        assert_false(hello);
        assert_int_equal(got.status, REPLY_OK);
        assert_string_equal(got.policy, "bastion");
        assert_int_equal(got.join.ns_flags, 0x1234);
        assert_true(got.join.no_new_privs);
        assert_int_equal(got.join.bpf_len, 2);
        assert_memory_equal(got.join.bpf, prog, sizeof(prog));
        assert_int_equal(got.join.n_landlock, 1);
        assert_string_equal(got.join.landlock[0].path, "/home/alice");
        assert_int_equal(got.join.landlock_handled, 7);
        assert_int_equal(got.join.landlock_scoped, 3);
        assert_true(got.join.init_pidfd >= 0 && got.join.control_fd >= 0);
        assert_int_equal(fcntl(got.join.init_pidfd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        assert_int_equal(fcntl(got.join.control_fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        join_spec_free(&got.join);
        close(sv[0]);
        close(sv[1]);
}

static void reply_init(struct open_reply *rep)
{
        memset(rep, 0, sizeof(*rep));
        join_spec_init(&rep->join);
}

/* The bytes of a real OK reply announcing 2 + n_cgroup_fds fds (those sent with it are
 * dropped when it is captured). */
static size_t ok_reply_bytes(char *buf, size_t len, uint32_t n_cgroup_fds)
{
        int sv[2];
        pair(sv);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(null >= 0);
        struct open_reply rep;
        reply_init(&rep);
        rep.status = REPLY_OK;
        strcpy(rep.session_id, "0123456789abcdef");
        strcpy(rep.policy, "bastion");
        rep.join.init_pidfd = null;
        rep.join.control_fd = null;
        rep.join.n_cgroup_fds = n_cgroup_fds;
        for (uint32_t i = 0; i < n_cgroup_fds; i++)
                rep.join.cgroup_fds[i] = null;
        rep.join.ns_flags = 0x1234;
        assert_int_equal(proto_send_reply(sv[0], &rep), 0);
        size_t n = capture(sv[1], buf, len);
        close(null);
        close(sv[0]);
        close(sv[1]);
        return n;
}

/* Sends raw bytes as one message with n copies of /dev/null attached. */
static void send_with_fds(int fd, const char *buf, size_t len, size_t n)
{
        int fds[12];
        assert_true(n <= ELEMENTSOF(fds));
        for (size_t i = 0; i < n; i++)
                assert_true((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
        union {
                char buf[CMSG_SPACE(sizeof(fds))];
                struct cmsghdr align;
        } control;
        memset(&control, 0, sizeof(control));
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (n > 0) {
                mh.msg_control = control.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
        }
        assert_int_equal(sendmsg(fd, &mh, 0), (ssize_t)len);
        for (size_t i = 0; i < n; i++)
                close(fds[i]); /* the copies in flight stay open until received */
}

static size_t open_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        assert_non_null(d);
        size_t n = 0;
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static void test_reply_ok_without_fds_refused(void **state)
{
        /* an OK reply is only valid with the init's fds attached: the bytes of a real one,
         * received without them, are refused rather than joined with fds never received */
        char buf[8192];
        size_t len = ok_reply_bytes(buf, sizeof(buf), 0);
        struct open_reply got;
        reply_init(&got);
        bool hello = true;
        /* the message itself is well-formed: only the missing fds make it wrong */
        assert_int_equal(proto_decode_reply(buf, len, &got, &hello), 0);
        assert_false(hello);
        assert_int_equal(got.status, REPLY_OK);
        join_spec_free(&got.join);

        int sv[2];
        pair(sv);
        assert_int_equal(send(sv[0], buf, len, 0), (ssize_t)len);
        reply_init(&got);
        assert_int_equal(proto_recv_reply(sv[1], 1000, &got, &hello), -EBADMSG);
        assert_int_equal(got.join.init_pidfd, -1);
        assert_int_equal(got.join.control_fd, -1);

        /* fewer fds than announced (the init's two, not the one cgroup fd): refused too, and
         * the two that came are closed, not leaked */
        len = ok_reply_bytes(buf, sizeof(buf), 1);
        size_t before = open_fds();
        send_with_fds(sv[0], buf, len, 2);
        assert_int_equal(proto_recv_reply(sv[1], 1000, &got, &hello), -EBADMSG);
        assert_int_equal(got.join.init_pidfd, -1);
        assert_int_equal(open_fds(), before);

        /* and with every fd it announced, the same bytes are a reply to join */
        send_with_fds(sv[0], buf, len, 3);
        assert_int_equal(proto_recv_reply(sv[1], 1000, &got, &hello), MSG_OPEN_REPLY);
        assert_int_equal(got.status, REPLY_OK);
        assert_int_equal(got.join.n_cgroup_fds, 1);
        assert_true(got.join.init_pidfd >= 0 && got.join.control_fd >= 0 &&
                    got.join.cgroup_fds[0] >= 0);
        join_spec_free(&got.join);
        assert_int_equal(open_fds(), before);
        close(sv[0]);
        close(sv[1]);
}

static void test_reply_deny_truncated_everywhere(void **state)
{
        /* a DENY reply needs no fds; cut anywhere, it is refused */
        int sv[2];
        pair(sv);
        struct open_reply rep;
        reply_init(&rep);
        rep.status = REPLY_DENY;
        strcpy(rep.message, "nope");
        assert_int_equal(proto_send_reply(sv[0], &rep), 0);
        char buf[8192];
        size_t len = capture(sv[1], buf, sizeof(buf));
        struct open_reply got;
        reply_init(&got);
        bool hello;
        assert_int_equal(proto_decode_reply(buf, len, &got, &hello), 0);
        assert_int_equal(got.status, REPLY_DENY);
        assert_string_equal(got.message, "nope");
        for (size_t cut = 0; cut < len; cut++) {
                struct open_reply t;
                reply_init(&t);
                assert_int_equal(proto_decode_reply(buf, cut, &t, &hello), -EBADMSG);
                join_spec_free(&t.join);
        }
        close(sv[0]);
        close(sv[1]);
}

static void test_hello_and_eof(void **state)
{
        int sv[2];
        pair(sv);
        assert_int_equal(proto_send_hello(sv[0], true, 2500), 0);
        struct open_reply got;
        memset(&got, 0, sizeof(got));
        join_spec_init(&got.join);
        bool hello = false;
        assert_int_equal(proto_recv_reply(sv[1], 1000, &got, &hello), MSG_HELLO);
        assert_true(hello);
        assert_int_equal(got.fail_open, 1);
        assert_int_equal(got.helper_timeout_ms, 2500);
        close(sv[0]);
        assert_int_equal(proto_recv_reply(sv[1], 1000, &got, &hello), -ECONNRESET);
        close(sv[1]);
}

static void test_timeout(void **state)
{
        int sv[2];
        pair(sv);
        struct open_reply got;
        memset(&got, 0, sizeof(got));
        join_spec_init(&got.join);
        bool hello = false;
        uint64_t t0 = now_ns();
        assert_int_equal(proto_recv_reply(sv[1], 50, &got, &hello), -ETIMEDOUT);
        assert_true(now_ns() - t0 >= 45 * 1000000ULL);
        close(sv[0]);
        close(sv[1]);
}

static void test_simple_messages(void **state)
{
        int sv[2];
        pair(sv);
        assert_int_equal(proto_send_simple(sv[0], MSG_FAILED, 13, "mount failed"), 0);
        enum proto_type t;
        uint32_t v;
        char text[8];
        assert_int_equal(proto_recv_simple(sv[1], 1000, &t, &v, text, sizeof(text)), 0);
        assert_int_equal(t, MSG_FAILED);
        assert_int_equal(v, 13);
        assert_string_equal(text, "mount f"); /* truncated to the buffer, NUL-terminated */
        close(sv[0]);
        close(sv[1]);
}

/* ---- the field table -------------------------------------------------------------------- */

/* The wire format as the tests see it: a 12-byte header (u32 magic, u16 version, u16 type,
 * u32 length of the whole message), then fields: u16 tag, u16 reserved, u32 length, the value
 * padded to 4 bytes. */
#define HEADER_LEN       12
#define FIELD_HEADER_LEN 8
#define MAX_WIRE_FIELDS  256

struct wire_field {
        uint16_t tag;
        size_t start; /* of the field header */
        size_t len;   /* of the value */
};

static size_t padded(size_t len)
{
        return (len + 3) & ~(size_t)3;
}

static size_t wire_fields(const char *buf, size_t len, struct wire_field *f)
{
        size_t n = 0;
        for (size_t pos = HEADER_LEN; pos < len; n++) {
                assert_true(n < MAX_WIRE_FIELDS && pos + FIELD_HEADER_LEN <= len);
                uint32_t l;
                memcpy(&f[n].tag, buf + pos, sizeof(f[n].tag));
                memcpy(&l, buf + pos + 4, sizeof(l));
                f[n].start = pos;
                f[n].len = l;
                pos += FIELD_HEADER_LEN + padded(l);
        }
        return n;
}

static void set_length(char *buf, size_t len)
{
        uint32_t l = (uint32_t)len;
        memcpy(buf + 8, &l, sizeof(l));
}

static size_t put_field(char *buf, size_t len, uint16_t tag, const void *value, size_t vlen)
{
        uint32_t l = (uint32_t)vlen;
        memset(buf + len, 0, FIELD_HEADER_LEN + padded(vlen));
        memcpy(buf + len, &tag, sizeof(tag));
        memcpy(buf + len + 4, &l, sizeof(l));
        memcpy(buf + len + FIELD_HEADER_LEN, value, vlen);
        len += FIELD_HEADER_LEN + padded(vlen);
        set_length(buf, len);
        return len;
}

/* Copies the message without its field skip (SIZE_MAX: with all of them). */
static size_t copy_without(char *dst, const char *src, size_t len, size_t skip)
{
        struct wire_field f[MAX_WIRE_FIELDS];
        size_t n = wire_fields(src, len, f), out = HEADER_LEN;
        memcpy(dst, src, HEADER_LEN);
        for (size_t i = 0; i < n; i++) {
                if (i == skip)
                        continue;
                size_t size = FIELD_HEADER_LEN + padded(f[i].len);
                memcpy(dst + out, src + f[i].start, size);
                out += size;
        }
        set_length(dst, out);
        return out;
}

/* Index of the first field with this tag. */
static size_t find_field(const char *buf, size_t len, uint16_t tag)
{
        struct wire_field f[MAX_WIRE_FIELDS];
        size_t n = wire_fields(buf, len, f);
        for (size_t i = 0; i < n; i++)
                if (f[i].tag == tag)
                        return i;
        fail_msg("tag %u not in the message", tag);
        return 0;
}

static bool is_request(const struct proto_table *t)
{
        return t == &proto_request_table;
}

static int decode(const struct proto_table *t, const char *buf, size_t len)
{
        if (is_request(t)) {
                struct open_request req;
                return proto_decode_request(buf, len, &req);
        }
        struct open_reply rep;
        reply_init(&rep);
        bool hello;
        int r = proto_decode_reply(buf, len, &rep, &hello);
        join_spec_free(&rep.join);
        return r;
}

static struct sock_filter largest_prog[] = {{0x06, 0, 0, 0x7fff0000}, {0x06, 0, 0, 0}};
static struct landlock_path largest_paths[3] = {
    {.access = 0xffff, .home_len = 11, .path = "/home/alice"},
    {.access = 1, .path = "/tmp"},
    {.access = UINT64_MAX, .path = "/usr"},
};

/* Gives the member f describes the most it may hold. */
static void set_largest(const struct proto_field *f, void *msg)
{
        char *member = (char *)msg + f->offset;
        struct join_spec *j = (struct join_spec *)member;
        uint64_t u64 = f->max ? f->max : UINT64_MAX;
        uint32_t u32 = (uint32_t)u64;
        switch (f->type) {
        case PROTO_UINT:
                assert_true(f->size == sizeof(u32) || f->size == sizeof(u64));
                if (f->size == sizeof(u32))
                        memcpy(member, &u32, sizeof(u32));
                else
                        memcpy(member, &u64, sizeof(u64));
                break;
        case PROTO_BOOL:
                *(bool *)member = true;
                break;
        case PROTO_FD_COUNT:
                u32 = JOIN_MAX_CGROUP_FDS;
                memcpy(member, &u32, sizeof(u32));
                break;
        case PROTO_STR:
                memset(member, 'a' + f->tag % 26, f->size - 1);
                member[f->size - 1] = '\0';
                break;
        case PROTO_BPF:
                j->bpf = largest_prog;
                j->bpf_len = ELEMENTSOF(largest_prog);
                break;
        case PROTO_LANDLOCK:
                j->landlock = largest_paths;
                j->n_landlock = ELEMENTSOF(largest_paths);
                break;
        default:
                fail_msg("type %u not in the tables the tests see", f->type);
        }
}

static int devnull = -1;

static void request_base(struct open_request *req)
{
        memset(req, 0, sizeof(*req));
        strcpy(req->user, "u");
        strcpy(req->service, "sshd");
        req->caller_pid = 1;
        req->version = PROTO_VERSION; /* the header's, as a decoder says it */
}

/* An OK reply, that sends every field of the table but the optional arrays. */
static void reply_base(struct open_reply *rep)
{
        reply_init(rep);
        rep->status = REPLY_OK;
        strcpy(rep->session_id, "0123456789abcdef");
        rep->join.init_pidfd = devnull;
        rep->join.control_fd = devnull;
        for (size_t i = 0; i < JOIN_MAX_CGROUP_FDS; i++)
                rep->join.cgroup_fds[i] = devnull;
        rep->join.ns_flags = 0x1234;
        rep->version = PROTO_VERSION; /* the header's, as a decoder says it */
}

/* Encodes msg, a struct of the table's, and captures the bytes (fds dropped). */
static size_t encode(const struct proto_table *t, const void *msg, char *buf)
{
        int sv[2];
        pair(sv);
        int size = PROTO_MAX_MSG;
        (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        (void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        if (is_request(t))
                assert_int_equal(proto_send_request(sv[0], msg), 0);
        else
                assert_int_equal(proto_send_reply(sv[0], msg), 0);
        size_t n = capture(sv[1], buf, PROTO_MAX_MSG);
        close(sv[0]);
        close(sv[1]);
        return n;
}

/* The bytes of a message of the table's that carries f at its largest. */
static size_t message_with(const struct proto_table *t, const struct proto_field *f, char *buf)
{
        struct open_request req;
        struct open_reply rep;
        request_base(&req);
        reply_base(&rep);
        set_largest(f, is_request(t) ? (void *)&req : (void *)&rep);
        return encode(t, is_request(t) ? (void *)&req : (void *)&rep, buf);
}

static const struct proto_table *tables[] = {&proto_request_table, &proto_reply_table};

static void test_table_well_formed(void **state)
{
        for (size_t k = 0; k < ELEMENTSOF(tables); k++) {
                const struct proto_table *t = tables[k];
                size_t struct_size =
                    is_request(t) ? sizeof(struct open_request) : sizeof(struct open_reply);
                for (size_t i = 0; i < t->n; i++) {
                        const struct proto_field *f = &t->fields[i];
                        /* a tag below 64: the decoder refuses a second one by its bit */
                        assert_true(f->tag > 0 && f->tag < 64);
                        assert_true(f->sent_in != 0);
                        assert_true(f->offset + f->size <= struct_size);
                        if (f->type == PROTO_STR)
                                assert_true(f->size >= 2 && f->min < f->size);
                        if (f->type == PROTO_BPF || f->type == PROTO_LANDLOCK)
                                assert_true(f->offset == offsetof(struct open_reply, join) &&
                                            f->size == sizeof(struct join_spec));
                        for (size_t j = 0; j < i; j++) {
                                const struct proto_field *g = &t->fields[j];
                                assert_int_not_equal(f->tag, g->tag);
                                /* two fields never share a member (the arrays name the join) */
                                bool array = f->type == PROTO_BPF || f->type == PROTO_LANDLOCK ||
                                             g->type == PROTO_BPF || g->type == PROTO_LANDLOCK;
                                if (!array)
                                        assert_true(f->offset + f->size <= g->offset ||
                                                    g->offset + g->size <= f->offset);
                        }
                }
        }
}

/* What the table says, member by member, pinned: the tags are the wire format (a peer of
 * another version reads them) and the flags and limits are the checks callers rely on. */
struct pinned {
        size_t offset; /* in the table's struct */
        uint16_t tag;
        uint8_t sent_in, flags;
        uint32_t min, max;
};

#define REQ(m) offsetof(struct open_request, m)
#define REP(m) offsetof(struct open_reply, m)

static const struct pinned pinned_request[] = {
    {REQ(user), 1, PROTO_IN_REQUEST, PROTO_REQUIRED | PROTO_PRINTABLE, 1, 0},
    {REQ(service), 2, PROTO_IN_REQUEST, PROTO_REQUIRED | PROTO_PRINTABLE, 0, 0},
    {REQ(rhost), 3, PROTO_IN_REQUEST, PROTO_PRINTABLE, 0, 0},
    {REQ(tty), 4, PROTO_IN_REQUEST, PROTO_PRINTABLE, 0, 0},
    {REQ(caller_pid), 5, PROTO_IN_REQUEST, PROTO_REQUIRED, 1, INT32_MAX},
    {REQ(helper_stamp), 27, PROTO_IN_REQUEST, PROTO_PRINTABLE, 0, 0},
};

static const struct pinned pinned_reply[] = {
    {REP(status), 6, PROTO_IN_REPLY, PROTO_REQUIRED, 0, REPLY_DENY},
    {REP(fail_open), 7, PROTO_IN_REPLY | PROTO_IN_HELLO, 0, 0, 0},
    {REP(message), 8, PROTO_IN_REPLY, 0, 0, 0},
    {REP(session_id), 9, PROTO_IN_REPLY, 0, 0, 0},
    {REP(policy), 10, PROTO_IN_REPLY, 0, 0, 0},
    {REP(warnings), 11, PROTO_IN_REPLY, 0, 0, 0},
    {REP(join.ns_flags), 12, PROTO_IN_JOIN, PROTO_REQUIRED, 0, 0},
    {REP(join.caps_keep), 13, PROTO_IN_JOIN, 0, 0, 0},
    {REP(join.no_new_privs), 14, PROTO_IN_JOIN, 0, 0, 0},
    {REP(join.lsm_attr_path), 15, PROTO_IN_JOIN, 0, 0, 0},
    {REP(join.lsm_attr_value), 16, PROTO_IN_JOIN, 0, 0, 0},
    {REP(join), 17, PROTO_IN_JOIN, 0, 0, 0}, /* the seccomp program */
    {REP(join.seccomp_flags), 18, PROTO_IN_JOIN, 0, 0, 0},
    {REP(join.landlock_handled), 19, PROTO_IN_JOIN, 0, 0, 0},
    {REP(join.landlock_abi), 20, PROTO_IN_JOIN, 0, 0, 0},
    {REP(join), 21, PROTO_IN_JOIN, 0, 0, 0}, /* a Landlock path, repeated */
    {REP(helper_timeout_ms), 22, PROTO_IN_HELLO, 0, 0, 0},
    /* the init's two fds and the cgroups' */
    {REP(join.n_cgroup_fds), 24, PROTO_IN_JOIN, PROTO_REQUIRED, 2, 2 + JOIN_MAX_CGROUP_FDS},
    {REP(join.nofile), 25, PROTO_IN_JOIN, 0, 0, 0},
    {REP(join.landlock_scoped), 26, PROTO_IN_JOIN, 0, 0, 0},
};

static void assert_pinned(const struct proto_table *t, const struct pinned *p, size_t n)
{
        assert_int_equal(t->n, n);
        for (size_t i = 0; i < n; i++) {
                const struct proto_field *f = NULL;
                for (size_t k = 0; k < t->n; k++)
                        if (t->fields[k].tag == p[i].tag)
                                f = &t->fields[k];
                assert_non_null(f);
                assert_int_equal(f->offset, p[i].offset);
                assert_int_equal(f->sent_in, p[i].sent_in);
                assert_int_equal(f->flags, p[i].flags);
                assert_int_equal(f->min, p[i].min);
                assert_int_equal(f->max, p[i].max);
        }
}

static void test_table_pinned(void **state)
{
        assert_pinned(&proto_request_table, pinned_request, ELEMENTSOF(pinned_request));
        assert_pinned(&proto_reply_table, pinned_reply, ELEMENTSOF(pinned_reply));
}

/* What an OK reply, any other reply and a request send. */
static unsigned sends_of(const struct proto_table *t, const void *msg)
{
        if (is_request(t))
                return PROTO_IN_REQUEST;
        const struct open_reply *rep = msg;
        return PROTO_IN_REPLY | (rep->status == REPLY_OK ? PROTO_IN_JOIN : 0);
}

/* The tags on the wire are the table's, in its order: those the message sends, an array's only
 * when it has elements, a Landlock path's once per path. */
static void assert_wire_order(const struct proto_table *t, const void *msg, const char *buf,
                              size_t len)
{
        struct wire_field w[MAX_WIRE_FIELDS];
        size_t n = wire_fields(buf, len, w), k = 0;
        const struct open_reply *rep = msg;
        for (size_t i = 0; i < t->n; i++) {
                const struct proto_field *f = &t->fields[i];
                if (!(f->sent_in & sends_of(t, msg)))
                        continue;
                size_t times = f->type == PROTO_BPF        ? rep->join.bpf != NULL
                               : f->type == PROTO_LANDLOCK ? rep->join.n_landlock
                                                           : 1;
                for (size_t m = 0; m < times; m++, k++) {
                        assert_true(k < n);
                        assert_int_equal(w[k].tag, f->tag);
                }
        }
        assert_int_equal(k, n);
}

static void test_table_fields_round_trip(void **state)
{
        static char buf[PROTO_MAX_MSG];
        for (size_t i = 0; i < proto_request_table.n; i++) {
                const struct proto_field *f = &proto_request_table.fields[i];
                struct open_request req, got;
                request_base(&req);
                set_largest(f, &req);
                size_t len = encode(&proto_request_table, &req, buf);
                assert_wire_order(&proto_request_table, &req, buf, len);
                assert_int_equal(proto_decode_request(buf, len, &got), 0);
                assert_memory_equal(&got, &req, sizeof(req));
        }
        for (size_t i = 0; i < proto_reply_table.n; i++) {
                const struct proto_field *f = &proto_reply_table.fields[i];
                if (!(f->sent_in & (PROTO_IN_REPLY | PROTO_IN_JOIN)))
                        continue; /* the HELLO's own: below */
                struct open_reply rep, got;
                reply_base(&rep);
                set_largest(f, &rep);
                size_t len = encode(&proto_reply_table, &rep, buf);
                assert_wire_order(&proto_reply_table, &rep, buf, len);
                reply_init(&got);
                bool hello = true;
                assert_int_equal(proto_decode_reply(buf, len, &got, &hello), 0);
                assert_false(hello);
                const struct join_spec *a = &rep.join, *b = &got.join;
                if (f->type == PROTO_BPF) {
                        assert_int_equal(b->bpf_len, a->bpf_len);
                        assert_memory_equal(b->bpf, a->bpf, a->bpf_len * sizeof(*a->bpf));
                } else if (f->type == PROTO_LANDLOCK) {
                        assert_int_equal(b->n_landlock, a->n_landlock);
                        for (uint32_t p = 0; p < a->n_landlock; p++) {
                                assert_true(b->landlock[p].access == a->landlock[p].access);
                                assert_int_equal(b->landlock[p].home_len, a->landlock[p].home_len);
                                assert_string_equal(b->landlock[p].path, a->landlock[p].path);
                        }
                } else {
                        assert_memory_equal((char *)&got + f->offset, (char *)&rep + f->offset,
                                            f->size);
                }
                join_spec_free(&got.join);
        }

        /* a HELLO: its fields, in the table's order, through proto_send_hello's arguments */
        int sv[2];
        pair(sv);
        assert_int_equal(proto_send_hello(sv[0], true, UINT32_MAX), 0);
        size_t len = capture(sv[1], buf, PROTO_MAX_MSG);
        struct wire_field w[MAX_WIRE_FIELDS];
        size_t n = wire_fields(buf, len, w), k = 0;
        for (size_t i = 0; i < proto_reply_table.n; i++)
                if (proto_reply_table.fields[i].sent_in & PROTO_IN_HELLO)
                        assert_int_equal(w[k++].tag, proto_reply_table.fields[i].tag);
        assert_int_equal(k, n);
        struct open_reply got;
        reply_init(&got);
        bool hello = false;
        assert_int_equal(proto_decode_reply(buf, len, &got, &hello), 0);
        assert_true(hello);
        assert_int_equal(got.fail_open, 1);
        assert_int_equal(got.helper_timeout_ms, UINT32_MAX);
        close(sv[0]);
        close(sv[1]);
}

/* The message with field i's value replaced by value (the field moved to the end). */
static size_t with_value(char *dst, const char *src, size_t len, size_t i, const void *value,
                         size_t vlen)
{
        struct wire_field w[MAX_WIRE_FIELDS];
        wire_fields(src, len, w);
        return put_field(dst, copy_without(dst, src, len, i), w[i].tag, value, vlen);
}

static void assert_number_refused(const struct proto_table *t, const struct proto_field *f,
                                  const char *buf, size_t len, size_t i)
{
        static char bad[PROTO_MAX_MSG];
        size_t width = f->type == PROTO_UINT ? f->size : sizeof(uint32_t);
        uint64_t zero[2] = {0, 0};
        /* one byte short, one byte long */
        assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, zero, width - 1)), -EBADMSG);
        assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, zero, width + 1)), -EBADMSG);
        assert_true(width == sizeof(uint32_t) || (f->min == 0 && f->max == 0));
        uint32_t v = f->max + 1;
        if (f->max)
                assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, &v, sizeof(v))),
                                 -EBADMSG);
        v = f->min - 1;
        if (f->min)
                assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, &v, sizeof(v))),
                                 -EBADMSG);
}

static void assert_string_refused(const struct proto_table *t, const struct proto_field *f,
                                  const char *buf, size_t len, size_t i)
{
        static char bad[PROTO_MAX_MSG], value[JOIN_PATH_MAX + 1];
        memset(value, 'x', f->size);
        /* no room for the NUL */
        assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, value, f->size)), -EBADMSG);
        /* a NUL inside */
        assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, "a\0b", 3)), -EBADMSG);
        if (f->min)
                assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, "", 0)), -EBADMSG);
        int expect = f->flags & PROTO_PRINTABLE ? -EILSEQ : 0;
        assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, "a\nb", 3)), expect);
}

static void assert_array_refused(const struct proto_table *t, const struct proto_field *f,
                                 const char *buf, size_t len, size_t i)
{
        static char bad[PROTO_MAX_MSG];
        if (f->type == PROTO_BPF) {
                static struct sock_filter prog[BPF_MAXINSNS + 1];
                assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, prog, 0)), -EBADMSG);
                assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, prog, 7)), -EBADMSG);
                assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, prog, sizeof(prog))),
                                 -EBADMSG);
                return;
        }
        struct {
                uint64_t access;
                uint32_t home_len;
                char path[16];
        } __attribute__((packed)) path = {1, 0, "tmp"};
        size_t head = sizeof(path.access) + sizeof(path.home_len);
        /* relative; then no path at all; then a home longer than the path */
        assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, &path, head + 3)), -EBADMSG);
        assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, &path, head)), -EBADMSG);
        strcpy(path.path, "/tmp");
        path.home_len = 5;
        assert_int_equal(decode(t, bad, with_value(bad, buf, len, i, &path, head + 4)), -EBADMSG);
        /* one path more than JOIN_MAX_LANDLOCK_PATHS */
        path.home_len = 0;
        size_t n = len;
        memcpy(bad, buf, len);
        for (size_t k = ELEMENTSOF(largest_paths); k < JOIN_MAX_LANDLOCK_PATHS; k++)
                n = put_field(bad, n, f->tag, &path, head + 4);
        assert_int_equal(decode(t, bad, n), 0);
        n = put_field(bad, n, f->tag, &path, head + 4);
        assert_int_equal(decode(t, bad, n), -EBADMSG);
}

static void test_table_fields_refused(void **state)
{
        static char buf[PROTO_MAX_MSG], bad[PROTO_MAX_MSG];
        for (size_t k = 0; k < ELEMENTSOF(tables); k++) {
                const struct proto_table *t = tables[k];
                for (size_t fi = 0; fi < t->n; fi++) {
                        const struct proto_field *f = &t->fields[fi];
                        if (!(f->sent_in & (PROTO_IN_REQUEST | PROTO_IN_REPLY | PROTO_IN_JOIN)))
                                continue;
                        size_t len = message_with(t, f, buf);
                        assert_int_equal(decode(t, buf, len), 0);
                        size_t i = find_field(buf, len, f->tag);
                        struct wire_field w[MAX_WIRE_FIELDS];
                        wire_fields(buf, len, w);

                        /* given twice: refused, but for the one field that repeats */
                        size_t n = copy_without(bad, buf, len, SIZE_MAX);
                        n = put_field(bad, n, f->tag, buf + w[i].start + FIELD_HEADER_LEN,
                                      w[i].len);
                        assert_int_equal(decode(t, bad, n),
                                         f->type == PROTO_LANDLOCK ? 0 : -EBADMSG);

                        /* truncated anywhere inside it (the header's length saying so) */
                        size_t end = w[i].start + FIELD_HEADER_LEN + padded(w[i].len);
                        for (size_t cut = w[i].start + 1; cut < end; cut++) {
                                memcpy(bad, buf, cut);
                                set_length(bad, cut);
                                assert_int_equal(decode(t, bad, cut), -EBADMSG);
                        }

                        /* left out: refused when required */
                        n = copy_without(bad, buf, len, i);
                        assert_int_equal(decode(t, bad, n),
                                         f->flags & PROTO_REQUIRED ? -EBADMSG : 0);

                        if (f->type == PROTO_STR)
                                assert_string_refused(t, f, buf, len, i);
                        else if (f->type == PROTO_BPF || f->type == PROTO_LANDLOCK)
                                assert_array_refused(t, f, buf, len, i);
                        else
                                assert_number_refused(t, f, buf, len, i);
                }
        }
}

static void test_unknown_field_skipped(void **state)
{
        static char buf[PROTO_MAX_MSG], more[PROTO_MAX_MSG];
        for (size_t k = 0; k < ELEMENTSOF(tables); k++) {
                size_t len = message_with(tables[k], &tables[k]->fields[0], buf);
                memcpy(more, buf, len);
                size_t n = put_field(more, len, 63, "from a newer peer", 17);
                assert_int_equal(decode(tables[k], more, n), 0);
        }
}

/* An OK reply with every fd it may carry, made bad in every field of the table, is refused
 * and leaves no fd open; a request or control message with fds attached closes them. */
static void test_fds_closed_on_every_error(void **state)
{
        static char buf[PROTO_MAX_MSG], bad[PROTO_MAX_MSG];
        int sv[2];
        pair(sv);
        size_t before = open_fds();
        for (size_t fi = 0; fi < proto_reply_table.n; fi++) {
                const struct proto_field *f = &proto_reply_table.fields[fi];
                if (!(f->sent_in & (PROTO_IN_REPLY | PROTO_IN_JOIN)))
                        continue;
                struct open_reply rep;
                reply_base(&rep);
                set_largest(f, &rep);
                rep.join.n_cgroup_fds = JOIN_MAX_CGROUP_FDS;
                size_t len = encode(&proto_reply_table, &rep, buf), n;
                size_t i = find_field(buf, len, f->tag);
                if (f->type == PROTO_LANDLOCK) {
                        n = with_value(bad, buf, len, i, "relative", 8);
                } else {
                        struct wire_field w[MAX_WIRE_FIELDS];
                        wire_fields(buf, len, w);
                        n = put_field(bad, copy_without(bad, buf, len, SIZE_MAX), f->tag,
                                      buf + w[i].start + FIELD_HEADER_LEN, w[i].len);
                }
                send_with_fds(sv[0], bad, n, 2 + JOIN_MAX_CGROUP_FDS);
                struct open_reply got;
                reply_init(&got);
                bool hello;
                assert_int_equal(proto_recv_reply(sv[1], 1000, &got, &hello), -EBADMSG);
                assert_int_equal(got.join.init_pidfd, -1);
                assert_int_equal(open_fds(), before);

                /* the same reply intact: every fd arrives, O_CLOEXEC */
                if (f->type == PROTO_LANDLOCK) {
                        send_with_fds(sv[0], buf, len, 2 + JOIN_MAX_CGROUP_FDS);
                        assert_int_equal(proto_recv_reply(sv[1], 1000, &got, &hello),
                                         MSG_OPEN_REPLY);
                        int fds[2 + JOIN_MAX_CGROUP_FDS] = {got.join.init_pidfd,
                                                            got.join.control_fd};
                        memcpy(fds + 2, got.join.cgroup_fds, sizeof(got.join.cgroup_fds));
                        for (size_t k = 0; k < ELEMENTSOF(fds); k++)
                                assert_int_equal(fcntl(fds[k], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
                        join_spec_free(&got.join);
                        assert_int_equal(open_fds(), before);
                }
        }
        /* more fds than it announces */
        size_t len = ok_reply_bytes(buf, sizeof(buf), 0);
        send_with_fds(sv[0], buf, len, 3);
        struct open_reply got;
        reply_init(&got);
        bool hello;
        assert_int_equal(proto_recv_reply(sv[1], 1000, &got, &hello), -EBADMSG);
        assert_int_equal(open_fds(), before);

        /* a request and a control message never carry fds: those that come are closed */
        struct open_request req;
        request_base(&req);
        len = encode(&proto_request_table, &req, buf);
        send_with_fds(sv[0], buf, len, 3);
        assert_int_equal(proto_recv_request(sv[1], &req), 0);
        assert_int_equal(open_fds(), before);
        assert_int_equal(proto_send_simple(sv[0], MSG_CLOSED, 2, NULL), 0);
        len = capture(sv[1], buf, sizeof(buf));
        send_with_fds(sv[0], buf, len, 3);
        enum proto_type type;
        assert_int_equal(proto_recv_simple(sv[1], 1000, &type, NULL, NULL, 0), 0);
        assert_int_equal(type, MSG_CLOSED);
        assert_int_equal(open_fds(), before);
        close(sv[0]);
        close(sv[1]);
}

static void test_simple_duplicate_refused(void **state)
{
        static char buf[PROTO_MAX_MSG], bad[PROTO_MAX_MSG];
        int sv[2];
        pair(sv);
        assert_int_equal(proto_send_simple(sv[0], MSG_FAILED, 5, "why"), 0);
        size_t len = capture(sv[1], buf, sizeof(buf));
        struct wire_field w[MAX_WIRE_FIELDS];
        size_t n = wire_fields(buf, len, w);
        enum proto_type type;
        uint32_t value;
        char text[16];
        for (size_t i = 0; i < n; i++) {
                size_t m = put_field(bad, copy_without(bad, buf, len, SIZE_MAX), w[i].tag,
                                     buf + w[i].start + FIELD_HEADER_LEN, w[i].len);
                assert_int_equal(send(sv[0], bad, m, 0), (ssize_t)m);
                assert_int_equal(proto_recv_simple(sv[1], 1000, &type, &value, text, sizeof(text)),
                                 -EBADMSG);
        }
        close(sv[0]);
        close(sv[1]);
}

static void test_reply_over_max_refused(void **state)
{
        /* JOIN_MAX_LANDLOCK_PATHS of the longest paths outgrow PROTO_MAX_MSG */
        static struct landlock_path paths[JOIN_MAX_LANDLOCK_PATHS];
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                memset(paths[i].path, 'p', sizeof(paths[i].path) - 1);
                paths[i].path[0] = '/';
        }
        struct open_reply rep;
        reply_base(&rep);
        rep.join.landlock = paths;
        rep.join.n_landlock = ELEMENTSOF(paths);
        int sv[2];
        pair(sv);
        assert_int_equal(proto_send_reply(sv[0], &rep), -EMSGSIZE);
        close(sv[0]);
        close(sv[1]);
}

/* ---- versions (issue 16: upgrades under live sessions) ------------------------------------ */

static void set_version(char *buf, uint16_t version)
{
        memcpy(buf + 4, &version, sizeof(version));
}

/* A request as every release since version 1 sends it, byte for byte: the fields of a module
 * older than tickets (no helper stamp), each version this build reads in the header. */
static void test_old_version_accepted(void **state)
{
        static const unsigned char v1_request[] = {
            0x49, 0x53, 0x4f, 0x4c, 0x01, 0x00, 0x01, 0x00, 0x34, 0x00, 0x00, 0x00, /* header */
            0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 'a',  'l',  'i',  'c',  'e', 0,
            0,    0,    0x02, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 's',  's',  'h', 'd',
            0x05, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x92, 0x10, 0x00, 0x00,
        };
        char buf[sizeof(v1_request)];
        memcpy(buf, v1_request, sizeof(buf));
        struct open_request got;
        for (unsigned v = PROTO_VERSION_MIN; v <= PROTO_VERSION; v++) {
                set_version(buf, (uint16_t)v);
                assert_int_equal(proto_decode_request(buf, sizeof(buf), &got), 0);
                assert_int_equal(got.version, v);
                assert_string_equal(got.user, "alice");
                assert_string_equal(got.service, "sshd");
                assert_int_equal(got.caller_pid, 4242);
                assert_string_equal(got.helper_stamp, ""); /* older than tickets: none */
        }
        /* what this build writes says its own version */
        int sv[2];
        pair(sv);
        struct open_request req = {.caller_pid = 4242};
        strcpy(req.user, "alice");
        strcpy(req.service, "sshd");
        assert_int_equal(proto_send_request(sv[0], &req), 0);
        char sent[4096];
        assert_true(capture(sv[1], sent, sizeof(sent)) > 12);
        uint16_t version;
        memcpy(&version, sent + 4, sizeof(version));
        assert_int_equal(version, PROTO_VERSION);
        close(sv[0]);
        close(sv[1]);
}

/* A reply of a newer version: refused whole, its fds closed, its version told; a control
 * message too (the version in its value); the message names both versions and what to do. */
static void test_future_version_refused_with_message(void **state)
{
        static char buf[4096];
        size_t len = ok_reply_bytes(buf, sizeof(buf), 1);
        set_version(buf, PROTO_VERSION + 1);
        int sv[2];
        pair(sv);
        size_t before = open_fds();
        send_with_fds(sv[0], buf, len, 3);
        struct open_reply got;
        reply_init(&got);
        bool hello = false;
        assert_int_equal(proto_recv_reply(sv[1], 1000, &got, &hello), -EPROTONOSUPPORT);
        assert_int_equal(got.version, PROTO_VERSION + 1);
        assert_int_equal(got.join.init_pidfd, -1);
        assert_int_equal(open_fds(), before);

        assert_int_equal(proto_send_simple(sv[0], MSG_CLOSED, 3, "x"), 0);
        len = capture(sv[1], buf, sizeof(buf));
        set_version(buf, PROTO_VERSION + 1);
        assert_int_equal(send(sv[0], buf, len, 0), (ssize_t)len);
        enum proto_type type = 0;
        uint32_t value = 0;
        char text[16];
        assert_int_equal(proto_recv_simple(sv[1], 1000, &type, &value, text, sizeof(text)),
                         -EPROTONOSUPPORT);
        assert_int_equal(value, PROTO_VERSION + 1);
        close(sv[0]);
        close(sv[1]);

        char msg[512], want[256];
        proto_version_explain(msg, sizeof(msg), "the helper /x/isolate-helper", "caller",
                              PROTO_VERSION + 1);
        snprintf(want, sizeof(want),
                 "the helper /x/isolate-helper speaks protocol version %d, and this caller "
                 "reads versions %d to %d: it is from a newer isolate release than this one: "
                 "finish the upgrade",
                 PROTO_VERSION + 1, PROTO_VERSION_MIN, PROTO_VERSION);
        if (strncmp(msg, want, strlen(want)) != 0)
                fail_msg("proto_version_explain says:\n%s\nnot:\n%s", msg, want);
        proto_version_explain(msg, sizeof(msg), "the session init", "caller",
                              PROTO_VERSION_MIN - 1);
        assert_non_null(strstr(msg, "older than this one reads: end the sessions"));
}

static int group_setup(void **state)
{
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return devnull >= 0 ? 0 : -1;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_request_round_trip),
            cmocka_unit_test(test_request_truncated_everywhere),
            cmocka_unit_test(test_request_missing_fields),
            cmocka_unit_test(test_wrong_version_refused),
            cmocka_unit_test(test_request_control_characters_refused),
            cmocka_unit_test(test_reply_with_fds),
            cmocka_unit_test(test_reply_ok_without_fds_refused),
            cmocka_unit_test(test_reply_deny_truncated_everywhere),
            cmocka_unit_test(test_hello_and_eof),
            cmocka_unit_test(test_timeout),
            cmocka_unit_test(test_simple_messages),
            cmocka_unit_test(test_table_well_formed),
            cmocka_unit_test(test_table_pinned),
            cmocka_unit_test(test_table_fields_round_trip),
            cmocka_unit_test(test_table_fields_refused),
            cmocka_unit_test(test_unknown_field_skipped),
            cmocka_unit_test(test_fds_closed_on_every_error),
            cmocka_unit_test(test_simple_duplicate_refused),
            cmocka_unit_test(test_reply_over_max_refused),
            cmocka_unit_test(test_old_version_accepted),
            cmocka_unit_test(test_future_version_refused_with_message),
        };
        return cmocka_run_group_tests_name("protocol", tests, group_setup, NULL);
}

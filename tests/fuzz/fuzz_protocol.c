/* fuzz_protocol.c: libFuzzer target for the wire format's decoders (protocol.c): what the
 * helper decodes from a caller (proto_decode_request, proto_recv_request), what a caller
 * decodes from the helper (proto_decode_reply, proto_recv_reply) and the small control
 * messages between caller, helper and init (proto_recv_simple). Built by `make fuzz`;
 * `make fuzz-replay` runs the committed corpus through it once (tests/fuzz/replay.c).
 *
 * Beyond "no crash, no leak, no undefined behaviour" it checks what callers rely on:
 * - what a decoder accepts stays within the limits the join relies on: strings end inside
 *   their buffers, PAM items are printable, a pid is > 0, at most JOIN_MAX_LANDLOCK_PATHS
 *   absolute Landlock paths, at most BPF_MAXINSNS instructions, no fd out of bytes alone;
 * - the same bytes through a socket (proto_recv_*) give the same answer as the buffer
 *   decoders, except that an OK reply without the init's fds is always refused;
 * - what is accepted survives encode -> decode unchanged (proto_send_* then proto_recv_*).
 * - an input leaves no heap in use behind, also in a replay without LeakSanitizer
 *   (heap_countable()).
 *
 * Each input is decoded as it is and, when its header's length field is not the input's
 * size, once more with that field fixed: otherwise almost every mutation would stop at the
 * header check and the fields behind it would go unexplored. */
#include "../../client/protocol.h"

#include <fcntl.h>
#include <malloc.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The header: u32 magic, u16 version, u16 type, u32 length. */
#define HEADER_LEN    12
#define TYPE_OFFSET   6
#define LENGTH_OFFSET 8
/* Larger inputs are decoded from the buffer only (a socket's send buffer is smaller than
 * PROTO_MAX_MSG). */
#define SOCKET_MAX 65536

static int sv[2] = {-1, -1};
static int devnull = -1;

static void check(bool ok)
{
        if (!ok)
                abort();
}

/* One SEQPACKET pair for every input: each message sent is received before the next. */
static bool sockets_ready(void)
{
        if (sv[0] >= 0)
                return true;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return false;
        int size = 4 * SOCKET_MAX;
        (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        (void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return devnull >= 0;
}

/* Which receiver also gets the bytes through a socket, if any: the one for the header's type
 * (each receive costs a PROTO_MAX_MSG buffer, which is most of the time spent per input).
 * None when the header's length is wrong: such a message stops at the header check. */
enum via { VIA_NONE, VIA_REQUEST, VIA_REPLY, VIA_SIMPLE };
static enum via via_socket;

/* Sends raw bytes as one message, without fds; false when the socket will not take it. */
static bool send_raw(enum via via, const uint8_t *buf, size_t len)
{
        if (via_socket != via || len == 0 || len > SOCKET_MAX || !sockets_ready())
                return false;
        return send(sv[0], buf, len, MSG_NOSIGNAL) == (ssize_t)len;
}

static bool terminated(const char *s, size_t size)
{
        return memchr(s, '\0', size) != NULL;
}

static bool printable(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

static void reply_init(struct open_reply *rep)
{
        memset(rep, 0, sizeof(*rep));
        join_spec_init(&rep->join);
}

/* ---- requests ---------------------------------------------------------------------------- */

static void check_request(const struct open_request *req)
{
        check(terminated(req->user, sizeof(req->user)) &&
              terminated(req->service, sizeof(req->service)) &&
              terminated(req->rhost, sizeof(req->rhost)) && terminated(req->tty, sizeof(req->tty)));
        check(req->user[0] != '\0' && req->caller_pid > 0);
        check(printable(req->user) && printable(req->service) && printable(req->rhost) &&
              printable(req->tty));
}

static void fuzz_request(const uint8_t *buf, size_t len)
{
        struct open_request req, again;
        int r = proto_decode_request(buf, len, &req);
        check(r == 0 || r == -EBADMSG || r == -EILSEQ || r == -EPROTONOSUPPORT);
        if (r == 0)
                check_request(&req);

        if (send_raw(VIA_REQUEST, buf, len)) {
                check(proto_recv_request(sv[1], &again) == r);
                if (r == 0)
                        check(memcmp(&req, &again, sizeof(req)) == 0);
        }
        if (r == 0 && sockets_ready()) {
                check(proto_send_request(sv[0], &req) == 0);
                check(proto_recv_request(sv[1], &again) == 0);
                check(memcmp(&req, &again, sizeof(req)) == 0);
        }
}

/* ---- replies ----------------------------------------------------------------------------- */

static void check_reply(const struct open_reply *rep)
{
        const struct join_spec *j = &rep->join;
        check(rep->status <= REPLY_DENY);
        check(terminated(rep->message, sizeof(rep->message)) &&
              terminated(rep->session_id, sizeof(rep->session_id)) &&
              terminated(rep->policy, sizeof(rep->policy)) &&
              terminated(rep->warnings, sizeof(rep->warnings)) &&
              terminated(j->lsm_attr_path, sizeof(j->lsm_attr_path)) &&
              terminated(j->lsm_attr_value, sizeof(j->lsm_attr_value)));
        /* fds only ever come with recvmsg */
        check(j->init_pidfd == -1 && j->control_fd == -1);
        for (size_t i = 0; i < JOIN_MAX_CGROUP_FDS; i++)
                check(j->cgroup_fds[i] == -1);
        check(j->n_cgroup_fds <= JOIN_MAX_CGROUP_FDS);
        check((j->bpf == NULL) == (j->bpf_len == 0) && j->bpf_len <= BPF_MAXINSNS);
        check(j->n_landlock <= JOIN_MAX_LANDLOCK_PATHS && (j->n_landlock == 0 || j->landlock));
        for (uint32_t i = 0; i < j->n_landlock; i++) {
                const struct landlock_path *p = &j->landlock[i];
                check(terminated(p->path, sizeof(p->path)) && p->path[0] == '/' &&
                      p->home_len <= strlen(p->path));
        }
}

static void check_same_reply_head(const struct open_reply *a, const struct open_reply *b)
{
        check(a->status == b->status && a->fail_open == b->fail_open);
        check(strcmp(a->message, b->message) == 0 && strcmp(a->session_id, b->session_id) == 0 &&
              strcmp(a->policy, b->policy) == 0 && strcmp(a->warnings, b->warnings) == 0);
}

static void check_same_join(const struct join_spec *a, const struct join_spec *b)
{
        check(a->n_cgroup_fds == b->n_cgroup_fds && a->ns_flags == b->ns_flags &&
              a->caps_keep == b->caps_keep && a->no_new_privs == b->no_new_privs);
        check(strcmp(a->lsm_attr_path, b->lsm_attr_path) == 0 &&
              strcmp(a->lsm_attr_value, b->lsm_attr_value) == 0);
        check(a->bpf_len == b->bpf_len &&
              (a->bpf_len == 0 || memcmp(a->bpf, b->bpf, a->bpf_len * sizeof(*a->bpf)) == 0));
        check(a->seccomp_flags == b->seccomp_flags && a->landlock_handled == b->landlock_handled &&
              a->landlock_abi == b->landlock_abi && a->n_landlock == b->n_landlock);
        for (uint32_t i = 0; i < a->n_landlock; i++)
                check(a->landlock[i].access == b->landlock[i].access &&
                      a->landlock[i].home_len == b->landlock[i].home_len &&
                      strcmp(a->landlock[i].path, b->landlock[i].path) == 0);
}

static bool cloexec(int fd)
{
        int flags = fcntl(fd, F_GETFD);
        return flags >= 0 && (flags & FD_CLOEXEC);
}

/* Encodes what was decoded (with /dev/null standing in for the fds) and decodes it again. */
static void reply_round_trip(const struct open_reply *rep, bool hello)
{
        if (!sockets_ready())
                return;
        struct open_reply again;
        reply_init(&again);
        bool hello_again = false;
        if (hello) {
                check(proto_send_hello(sv[0], rep->fail_open != 0, rep->helper_timeout_ms) == 0);
                check(proto_recv_reply(sv[1], 0, &again, &hello_again) == MSG_HELLO);
                check(hello_again && again.fail_open == (rep->fail_open != 0) &&
                      again.helper_timeout_ms == rep->helper_timeout_ms);
                return;
        }
        struct open_reply out = *rep;
        if (rep->status == REPLY_OK) {
                out.join.init_pidfd = devnull;
                out.join.control_fd = devnull;
                for (uint32_t i = 0; i < out.join.n_cgroup_fds; i++)
                        out.join.cgroup_fds[i] = devnull;
        }
        int r = proto_send_reply(sv[0], &out);
        /* every field of a decoded reply fits; only the whole may outgrow the socket */
        if (r == -EMSGSIZE || r == -ENOBUFS)
                return;
        check(r == 0);
        check(proto_recv_reply(sv[1], 0, &again, &hello_again) == MSG_OPEN_REPLY && !hello_again);
        check_same_reply_head(rep, &again);
        if (rep->status == REPLY_OK) {
                check_same_join(&rep->join, &again.join);
                check(cloexec(again.join.init_pidfd) && cloexec(again.join.control_fd));
                for (uint32_t i = 0; i < again.join.n_cgroup_fds; i++)
                        check(cloexec(again.join.cgroup_fds[i]));
        } else {
                /* a reply that is not OK carries nothing to join */
                check(again.join.init_pidfd == -1 && again.join.n_landlock == 0 &&
                      again.join.bpf == NULL);
        }
        join_spec_free(&again.join);
}

static void fuzz_reply(const uint8_t *buf, size_t len)
{
        struct open_reply rep;
        reply_init(&rep);
        bool hello = false;
        int r = proto_decode_reply(buf, len, &rep, &hello);
        check(r == 0 || r == -EBADMSG || r == -ENOMEM || r == -EPROTONOSUPPORT);
        if (r == 0)
                check_reply(&rep);

        if (send_raw(VIA_REPLY, buf, len)) {
                struct open_reply got;
                reply_init(&got);
                bool hello_seen = false;
                int expect = r < 0                    ? r
                             : hello                  ? MSG_HELLO
                             : rep.status == REPLY_OK ? -EBADMSG /* no fds came with it */
                                                      : MSG_OPEN_REPLY;
                int got_r = proto_recv_reply(sv[1], 0, &got, &hello_seen);
                check(got_r == expect && hello_seen == (got_r == MSG_HELLO));
                if (got_r == MSG_OPEN_REPLY)
                        check_same_reply_head(&rep, &got);
                join_spec_free(&got.join);
        }
        if (r == 0)
                reply_round_trip(&rep, hello);
        join_spec_free(&rep.join);
}

/* ---- control messages -------------------------------------------------------------------- */

static void fuzz_simple(const uint8_t *buf, size_t len)
{
        /* the text buffer's size varies with the input, 0 meaning no buffer; it is exactly
         * that size, so that the sanitizers see a write past it */
        size_t text_len = len % 33;
        _cleanup_free_ char *text = text_len ? malloc(text_len) : NULL;
        if ((text_len && !text) || !send_raw(VIA_SIMPLE, buf, len))
                return;
        enum proto_type type;
        uint32_t value;
        int r = proto_recv_simple(sv[1], 0, &type, &value, text, text_len);
        check(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT);
        if (r == 0) {
                check(type >= MSG_OPEN_REQUEST && type <= MSG_FAILED);
                if (text_len)
                        check(terminated(text, text_len));
        }
}

static void fuzz_message(const uint8_t *buf, size_t len)
{
        via_socket = VIA_NONE;
        if (len >= HEADER_LEN) {
                uint16_t type;
                uint32_t length;
                memcpy(&type, buf + TYPE_OFFSET, sizeof(type));
                memcpy(&length, buf + LENGTH_OFFSET, sizeof(length));
                if (length == len)
                        via_socket = type == MSG_OPEN_REQUEST                      ? VIA_REQUEST
                                     : type == MSG_HELLO || type == MSG_OPEN_REPLY ? VIA_REPLY
                                                                                   : VIA_SIMPLE;
        }
        fuzz_request(buf, len);
        fuzz_reply(buf, len);
        fuzz_simple(buf, len);
}

/* glibc's count of the bytes in use, so that a replay built without LeakSanitizer still sees
 * a leak. Exact only without the per-thread cache (its blocks count as in use), which the
 * replay turns off (tests/fuzz/replay.c); under the sanitizers it does not move, and
 * LeakSanitizer does the job. */
static bool heap_countable(void)
{
        static int countable = -1;
        if (countable < 0) {
                const char *t = getenv("GLIBC_TUNABLES");
                countable = t && strstr(t, "glibc.malloc.tcache_count=0") != NULL;
        }
        return countable;
}

static size_t heap_in_use(void)
{
        struct mallinfo2 m = mallinfo2();
        return m.uordblks + m.hblkhd;
}

static void fuzz_input(const uint8_t *data, size_t size)
{
        fuzz_message(data, size);
        if (size < HEADER_LEN || size > UINT32_MAX)
                return;
        uint32_t length = (uint32_t)size, in_header;
        memcpy(&in_header, data + LENGTH_OFFSET, sizeof(in_header));
        if (in_header == length)
                return;
        uint8_t *fixed = malloc(size);
        if (!fixed)
                return;
        memcpy(fixed, data, size);
        memcpy(fixed + LENGTH_OFFSET, &length, sizeof(length));
        fuzz_message(fixed, size);
        free(fixed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t in_use = heap_in_use();
        fuzz_input(data, size);
        check(!heap_countable() || heap_in_use() == in_use);
        return 0;
}

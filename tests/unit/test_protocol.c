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
                if (i < 12)
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
        buf[4] = PROTO_VERSION + 1; /* version field */
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
        int fds[8];
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
        };
        return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}

/* gen_protocol_seeds.c: writes the seed corpus of the protocol fuzzer: one file per message,
 * each encoded by protocol.c itself (proto_send_*) and captured as the bytes on the wire, so
 * the fuzzer starts from every kind of message the helper, callers and init exchange.
 * `make fuzz-seeds` rewrites tests/fuzz/corpus-protocol/ with it; regression seeds (names
 * starting with "crash-") are kept as they are. */
#include "../../client/protocol.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

static const char *dir;
static int sv[2];

static _Noreturn void die(const char *what, int r)
{
        fprintf(stderr, "gen_protocol_seeds: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}

/* Receives the message just sent (fds dropped) and writes it to DIR/name. */
static void save(const char *name, int send_result)
{
        if (send_result < 0)
                die(name, send_result);
        static char buf[PROTO_MAX_MSG];
        ssize_t n = recv(sv[1], buf, sizeof(buf), 0);
        if (n <= 0)
                die(name, n < 0 ? errno : EIO);
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                die(path, errno);
        int r = write_all(fd, buf, (size_t)n);
        if (r < 0)
                die(path, r);
        close(fd);
}

static void requests(void)
{
        struct open_request ssh = {.caller_pid = 4242};
        strcpy(ssh.user, "alice");
        strcpy(ssh.service, "sshd");
        strcpy(ssh.rhost, "192.0.2.7");
        strcpy(ssh.tty, "ssh");
        save("request-sshd", proto_send_request(sv[0], &ssh));

        struct open_request su = {.caller_pid = 1};
        strcpy(su.user, "bob");
        strcpy(su.service, "su-l");
        strcpy(su.tty, "/dev/pts/3");
        save("request-su-no-rhost", proto_send_request(sv[0], &su));

        struct open_request longest = {.caller_pid = INT32_MAX};
        memset(longest.user, 'u', sizeof(longest.user) - 1);
        memset(longest.service, 's', sizeof(longest.service) - 1);
        memset(longest.rhost, 'h', sizeof(longest.rhost) - 1);
        memset(longest.tty, 't', sizeof(longest.tty) - 1);
        save("request-longest-items", proto_send_request(sv[0], &longest));
}

static void hellos(void)
{
        save("hello-fail-closed", proto_send_hello(sv[0], false, 10000));
        save("hello-fail-open", proto_send_hello(sv[0], true, 2500));
}

static struct open_reply reply_new(enum reply_status status)
{
        struct open_reply rep;
        memset(&rep, 0, sizeof(rep));
        join_spec_init(&rep.join);
        rep.status = status;
        return rep;
}

static void replies(int fd)
{
        struct open_reply deny = reply_new(REPLY_DENY);
        strcpy(deny.message, "cannot create the cgroup of user alice: No space left on device");
        save("reply-deny", proto_send_reply(sv[0], &deny));
        deny.fail_open = 1;
        save("reply-deny-fail-open", proto_send_reply(sv[0], &deny));

        struct open_reply exempt = reply_new(REPLY_EXEMPT);
        strcpy(exempt.message, "user root is in exempt_users");
        save("reply-exempt", proto_send_reply(sv[0], &exempt));
        struct open_reply ignore = reply_new(REPLY_IGNORE);
        save("reply-ignore", proto_send_reply(sv[0], &ignore));

        struct open_reply ok = reply_new(REPLY_OK);
        strcpy(ok.session_id, "2ac8cf8de5ad9bc5");
        strcpy(ok.policy, "bastion");
        strcpy(ok.message, "no rule matched: default policy bastion");
        ok.join.init_pidfd = fd;
        ok.join.control_fd = fd;
        ok.join.ns_flags = 0x7e020000; /* mnt, uts, ipc, pid, net, cgroup */
        ok.join.caps_keep = (1ULL << 0) | (1ULL << 6) | (1ULL << 7);
        ok.join.no_new_privs = true;
        save("reply-ok-minimal", proto_send_reply(sv[0], &ok));

        /* everything a join can carry: cgroup fds, an AppArmor label, seccomp, Landlock */
        ok.join.n_cgroup_fds = 3;
        for (uint32_t i = 0; i < ok.join.n_cgroup_fds; i++)
                ok.join.cgroup_fds[i] = fd;
        strcpy(ok.warnings, "caps_required = no: cap_sys_admin kept");
        strcpy(ok.join.lsm_attr_path, "/proc/self/attr/apparmor/exec");
        strcpy(ok.join.lsm_attr_value, "exec isolate-user");
        struct sock_filter prog[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 272 /* unshare */, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        ok.join.bpf = prog;
        ok.join.bpf_len = ELEMENTSOF(prog);
        ok.join.seccomp_flags = SECCOMP_FILTER_FLAG_LOG;
        ok.join.landlock_handled = 0xffff;
        ok.join.landlock_abi = 5;
        struct landlock_path paths[] = {
            {.access = 0xffff, .home_len = 11, .path = "/home/alice"},
            {.access = 0xffff, .home_len = 11, .path = "/home/alice/project"},
            {.access = 0x1fff, .path = "/tmp"},
            {.access = 0x0007, .path = "/usr"},
            {.access = 0x0003, .path = "/dev/null"},
        };
        ok.join.landlock = paths;
        ok.join.n_landlock = ELEMENTSOF(paths);
        save("reply-ok-full", proto_send_reply(sv[0], &ok));

        /* the limits: JOIN_MAX_CGROUP_FDS fds, JOIN_MAX_LANDLOCK_PATHS paths */
        ok.join.n_cgroup_fds = JOIN_MAX_CGROUP_FDS;
        for (uint32_t i = 0; i < ok.join.n_cgroup_fds; i++)
                ok.join.cgroup_fds[i] = fd;
        static struct landlock_path many[JOIN_MAX_LANDLOCK_PATHS];
        for (size_t i = 0; i < ELEMENTSOF(many); i++) {
                many[i].access = 1ULL << (i % 16);
                snprintf(many[i].path, sizeof(many[i].path), "/srv/%zu", i);
        }
        ok.join.landlock = many;
        ok.join.n_landlock = ELEMENTSOF(many);
        save("reply-ok-limits", proto_send_reply(sv[0], &ok));
}

static void control_messages(void)
{
        save("close", proto_send_simple(sv[0], MSG_CLOSE, 0, NULL));
        save("closed", proto_send_simple(sv[0], MSG_CLOSED, 3, NULL));
        save("ready", proto_send_simple(sv[0], MSG_READY, 0, NULL));
        save("failed",
             proto_send_simple(sv[0], MSG_FAILED, EPERM, "mount /proc: Operation not permitted"));
}

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: gen_protocol_seeds DIR\n");
                return 2;
        }
        dir = argv[1];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                die("socketpair", errno);
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                die("/dev/null", errno);
        requests();
        hellos();
        replies(fd);
        control_messages();
        return 0;
}

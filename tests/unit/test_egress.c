/* test_egress.c: egress_allow enforced by the kernel (session-helper/egress.c), as a process in
 * the sandbox's cgroup sees it. Each test makes a cgroup of its own in the cgroup2 hierarchy
 * (isolate-test-egress-RANDOM below the cgroup this test runs in; on a hybrid host under
 * /sys/fs/cgroup/unified), attaches the programs there, and forks a child that joins it and
 * connects to listeners on loopback addresses; the teardown kills what is left in the
 * cgroup and removes it, also after a failure. Root only. Also prints what the filter adds
 * to a connect() (tests/bench may pick the numbers up: lines "bench: ...").
 *
 * Only loopback: 127.0.0.2, 127.0.0.3, 127.0.1.0/24 and ::1. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "skip_because.h"
#include "test_fork.h"

#include "../../conf/policy.h"
#include "../../session-helper/egress.h"
#include "../../session-helper/seccomp.h"

/* ---- the fixture: a cgroup of our own, listeners, the programs ----------------------------- */

#define MAX_CGROUPS   2
#define MAX_LISTENERS 12

static struct fixture {
        char cgroups[MAX_CGROUPS][PATH_MAX]; /* made by us, innermost last; "" when not */
        size_t n_cgroups;
        int cgroup_fd;
        pid_t child, last_child;
        struct egress_bpf bpf;
        struct egress_log log;
        struct egress_log_reader reader; /* mapped when reader.consumer */
        int listeners[MAX_LISTENERS];
        size_t n_listeners;
        uint16_t port;   /* P: TCP on 127.0.0.2, 127.0.0.3, [::1]; UDP on 127.0.0.2, [::1] */
        uint16_t denied; /* TCP on 127.0.0.2 too, never listed: 80 when it can be bound */
        int udp_allowed; /* UDP 127.0.0.2:P+2, listed */
        int udp_v6;      /* UDP [::1]:P, listed for both protocols */
        int pipes[4];    /* parent <-> child of the first test */
} fx;

static int setup(void **state)
{
        memset(&fx, 0, sizeof(fx));
        fx.cgroup_fd = -1;
        fx.bpf = EGRESS_BPF_NONE;
        fx.log = EGRESS_LOG_NONE;
        for (size_t i = 0; i < MAX_LISTENERS; i++)
                fx.listeners[i] = -1;
        fx.udp_allowed = fx.udp_v6 = -1;
        for (size_t i = 0; i < ELEMENTSOF(fx.pipes); i++)
                fx.pipes[i] = -1;
        return 0;
}

/* Kills what is in dir (cgroup.kill, Linux >= 5.14; else each pid of cgroup.procs) and
 * waits until it is empty: only our own forks can be there. */
static void cgroup_empty(const char *dir)
{
        char path[PATH_MAX + 32], buf[4096];
        snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void)!write(fd, "1", 1);
                close(fd);
        }
        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        for (int tries = 0; tries < 200; tries++) {
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return;
                ssize_t n = read(fd, buf, sizeof(buf) - 1);
                close(fd);
                if (n <= 0)
                        return;
                buf[n] = '\0';
                for (char *p = buf, *end; *p; p = end) {
                        long pid = strtol(p, &end, 10);
                        if (end == p)
                                break;
                        if (pid > 0)
                                kill((pid_t)pid, SIGKILL);
                        while (*end == '\n')
                                end++;
                }
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

static int teardown(void **state)
{
        if (fx.child > 0) {
                kill(fx.child, SIGKILL);
                waitpid(fx.child, NULL, 0);
                fx.child = 0;
        }
        for (size_t i = fx.n_cgroups; i-- > 0;) {
                cgroup_empty(fx.cgroups[i]);
                int r = -1;
                for (int tries = 0; tries < 100 && r < 0; tries++) {
                        r = rmdir(fx.cgroups[i]);
                        if (r < 0 && errno != EBUSY)
                                break;
                        if (r < 0) {
                                struct timespec ts = {0, 10 * 1000 * 1000};
                                nanosleep(&ts, NULL);
                        }
                }
                if (r < 0 && errno != ENOENT)
                        fprintf(stderr, "test_egress: cannot remove %s: %m\n", fx.cgroups[i]);
        }
        fx.n_cgroups = 0;
        if (fx.cgroup_fd >= 0)
                close(fx.cgroup_fd);
        egress_close(&fx.bpf);
        egress_log_close(&fx.log);
        if (fx.reader.consumer)
                egress_log_reader_close(&fx.reader);
        for (size_t i = 0; i < fx.n_listeners; i++)
                close(fx.listeners[i]);
        if (fx.udp_allowed >= 0)
                close(fx.udp_allowed);
        if (fx.udp_v6 >= 0)
                close(fx.udp_v6);
        for (size_t i = 0; i < ELEMENTSOF(fx.pipes); i++)
                if (fx.pipes[i] >= 0)
                        close(fx.pipes[i]);
        return 0;
}

/* The cgroup2 directory this process is in: the cgroup2 mount + the "0::" line of
 * /proc/self/cgroup. false when the host has no cgroup2 mount. */
static bool own_cgroup2_dir(char *buf, size_t len)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096], mnt[PATH_MAX] = "";
        while (f && fgets(line, sizeof(line), f)) {
                char root[PATH_MAX], point[PATH_MAX];
                const char *sep = strstr(line, " - ");
                if (!sep || strncmp(sep, " - cgroup2 ", 11) != 0)
                        continue;
                if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) == 2 &&
                    STREQ(root, "/")) {
                        snprintf(mnt, sizeof(mnt), "%s", point);
                        break;
                }
        }
        if (f)
                fclose(f);
        if (!mnt[0])
                return false;
        f = fopen("/proc/self/cgroup", "re");
        char own[PATH_MAX] = "/";
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        snprintf(own, sizeof(own), "%s", line + 3);
                }
        if (f)
                fclose(f);
        snprintf(buf, len, "%s%s", mnt, STREQ(own, "/") ? "" : own);
        return true;
}

static const char *cgroup_add(const char *parent_dir, const char *name)
{
        assert_true(fx.n_cgroups < MAX_CGROUPS);
        char *dir = fx.cgroups[fx.n_cgroups];
        snprintf(dir, PATH_MAX, "%s/%s", parent_dir, name);
        if (mkdir(dir, 0755) < 0)
                fail_msg("mkdir %s: %s", dir, strerror(errno));
        fx.n_cgroups++;
        return dir;
}

/* Our test cgroup, its fd in fx.cgroup_fd; skips when the host has no cgroup2. */
static const char *make_cgroup(void)
{
        if (geteuid() != 0)
                skip_because("needs root: a cgroup of its own and bpf(2)");
        char base[PATH_MAX], name[64], rnd[17];
        if (!own_cgroup2_dir(base, sizeof(base)))
                skip_because("the host has no cgroup2 mount (cgroup BPF programs attach only "
                             "there)");
        assert_int_equal(random_hex(rnd, 16), 0);
        snprintf(name, sizeof(name), "isolate-test-egress-%s", rnd);
        const char *dir = cgroup_add(base, name);
        fx.cgroup_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fx.cgroup_fd >= 0);
        return dir;
}

/* A set of rules as a config would write them; P is replaced by the port, Q by P+1, U by
 * P+2. Parsed with the config's own parser. */
static struct egress_allow rules_of(struct egress_rule *buf, size_t max, const char *const *text)
{
        struct egress_allow a = {.rules = buf, .filtered = true};
        for (size_t i = 0; text[i]; i++) {
                char entry[128], msg[512];
                size_t o = 0;
                for (const char *p = text[i]; *p && o + 8 < sizeof(entry); p++) {
                        if (*p == 'P' || *p == 'Q' || *p == 'U')
                                o += (size_t)snprintf(entry + o, sizeof(entry) - o, "%u",
                                                      fx.port + (*p == 'Q'   ? 1
                                                                 : *p == 'U' ? 2
                                                                             : 0));
                        else
                                entry[o++] = *p;
                }
                entry[o] = '\0';
                assert_true(a.n < max);
                if (parse_egress_rule(entry, &a.rules[a.n], msg, sizeof(msg)) < 0)
                        fail_msg("%s", msg);
                a.n++;
        }
        return a;
}

static void load_and_attach(const struct egress_allow *a, int cgroup_fd)
{
        struct isolate_error err = {0};
        int r = egress_load(a, &fx.log, &fx.bpf, &err);
        if (r < 0 && err.host_fault && (r == -ENOSYS || r == -EINVAL))
                skip_because("this kernel cannot run the egress programs: %s", err.msg);
        if (r < 0)
                fail_msg("egress_load: %s", err.msg);
        /* every fd close-on-exec */
        assert_true(fcntl(fx.bpf.map_fd, F_GETFD) & FD_CLOEXEC);
        for (int h = 0; h < EGRESS_N_HOOKS; h++)
                assert_true(fcntl(fx.bpf.prog_fd[h], F_GETFD) & FD_CLOEXEC);
        if (egress_attach(&fx.bpf, cgroup_fd, &err) < 0)
                fail_msg("egress_attach: %s", err.msg);
}

/* ---- sockets ------------------------------------------------------------------------------ */

static socklen_t sockaddr_of(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
        memset(ss, 0, sizeof(*ss));
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons(port);
                return sizeof(*in);
        }
        if (inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1)
                abort();
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        return sizeof(*in6);
}

/* A bound socket; -errno when the address cannot be bound. */
static int bound(int type, const char *addr, uint16_t port)
{
        struct sockaddr_storage ss;
        socklen_t len = sockaddr_of(addr, port, &ss);
        int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ss.ss_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
            (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* 0, or the errno of a TCP connect() to addr:port. */
static int tcp_connect(const char *addr, uint16_t port)
{
        struct sockaddr_storage ss;
        socklen_t len = sockaddr_of(addr, port, &ss);
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return errno;
        int r = connect(fd, (struct sockaddr *)&ss, len) < 0 ? errno : 0;
        close(fd);
        return r;
}

/* 0, or the errno of a TCP Fast Open sendto() (a connect without connect()). */
static int tcp_fastopen(const char *addr, uint16_t port)
{
        struct sockaddr_storage ss;
        socklen_t len = sockaddr_of(addr, port, &ss);
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return errno;
        int r = sendto(fd, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&ss, len) < 0 ? errno : 0;
        close(fd);
        return r;
}

/* 0, or the errno of a UDP sendto() (family: of the socket; AF_INET6 with a v4-mapped addr). */
static int udp_send(int family, const char *addr, uint16_t port, const char *payload)
{
        struct sockaddr_storage ss;
        socklen_t len = sockaddr_of(addr, port, &ss);
        int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return errno;
        int r =
            sendto(fd, payload, strlen(payload), 0, (struct sockaddr *)&ss, len) < 0 ? errno : 0;
        close(fd);
        return r;
}

static int udp_connect(const char *addr, uint16_t port)
{
        struct sockaddr_storage ss;
        socklen_t len = sockaddr_of(addr, port, &ss);
        int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return errno;
        int r = connect(fd, (struct sockaddr *)&ss, len) < 0 ? errno : 0;
        close(fd);
        return r;
}

/* Whether payload arrives on fd within a second. */
static bool udp_received(int fd, const char *payload)
{
        char buf[64];
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (poll(&p, 1, 1000) == 1) {
                ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
                if (n < 0)
                        return false;
                buf[n] = '\0';
                if (STREQ(buf, payload))
                        return true;
        }
        return false;
}

static const char *err_name(int e)
{
        static char buf[4][32];
        static int i;
        i = (i + 1) % 4;
        if (e == 0)
                return "success";
        snprintf(buf[i], sizeof(buf[i]), "%s", strerrorname_np(e) ? strerrorname_np(e) : "?");
        return buf[i];
}

/* ---- the child: checks without cmocka (it must not jump back into the runner) ------------ */

static int child_failures;

#define EXPECT(got, want, ...)                                                                     \
        do {                                                                                       \
                int got_ = (got), want_ = (want);                                                  \
                if (got_ != want_) {                                                               \
                        child_failures++;                                                          \
                        printf("    FAIL (line %d): ", __LINE__);                                  \
                        printf(__VA_ARGS__);                                                       \
                        printf(": %s, expected %s\n", err_name(got_), err_name(want_));            \
                } else {                                                                           \
                        printf("    ok: ");                                                        \
                        printf(__VA_ARGS__);                                                       \
                        printf(": %s\n", err_name(got_));                                          \
                }                                                                                  \
                fflush(stdout);                                                                    \
        } while (0)

#define EXPECT_TRUE(cond, ...)                                                                     \
        do {                                                                                       \
                bool ok_ = (cond);                                                                 \
                child_failures += !ok_;                                                            \
                printf(ok_ ? "    ok: " : "    FAIL (line %d): ", __LINE__);                       \
                printf(__VA_ARGS__);                                                               \
                printf("\n");                                                                      \
                fflush(stdout);                                                                    \
        } while (0)

/* any error will do (the kernel's word for it varies), as long as the call fails */
#define EXPECT_FAILS(got, ...)                                                                     \
        do {                                                                                       \
                int got_ = (got);                                                                  \
                child_failures += got_ == 0;                                                       \
                printf(got_ ? "    ok: " : "    FAIL (line %d): ", __LINE__);                      \
                printf(__VA_ARGS__);                                                               \
                printf(": %s\n", err_name(got_));                                                  \
                fflush(stdout);                                                                    \
        } while (0)

static int cgroup_join(const char *dir)
{
        char path[PATH_MAX + 16], pid[32];
        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
        int r = write(fd, pid, (size_t)n) == n ? 0 : -errno;
        close(fd);
        return r;
}

static long bpf_cmd(int cmd, union bpf_attr *a)
{
        return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* 0 or the errno of bpf(BPF_PROG_DETACH) of prog_fd from cgroup_fd */
static int try_detach(int cgroup_fd, int prog_fd, enum bpf_attach_type type)
{
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.target_fd = (uint32_t)cgroup_fd;
        a.attach_bpf_fd = (uint32_t)prog_fd;
        a.attach_type = type;
        return bpf_cmd(BPF_PROG_DETACH, &a) < 0 ? errno : 0;
}

/* 0 or the errno of bpf(BPF_MAP_CREATE) of a small array */
static int try_map_create(void)
{
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.map_type = BPF_MAP_TYPE_ARRAY;
        a.key_size = 4;
        a.value_size = 4;
        a.max_entries = 1;
        long fd = bpf_cmd(BPF_MAP_CREATE, &a);
        if (fd >= 0)
                close((int)fd);
        return fd < 0 ? errno : 0;
}

static int try_prog_get_fd_by_id(uint32_t id)
{
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.prog_id = id;
        long fd = bpf_cmd(BPF_PROG_GET_FD_BY_ID, &a);
        if (fd >= 0)
                close((int)fd);
        return fd < 0 ? errno : 0;
}

static uint32_t prog_id(int prog_fd)
{
        struct bpf_prog_info info;
        memset(&info, 0, sizeof(info));
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.info.bpf_fd = (uint32_t)prog_fd;
        a.info.info_len = sizeof(info);
        a.info.info = (uint64_t)(uintptr_t)&info;
        return bpf_cmd(BPF_OBJ_GET_INFO_BY_FD, &a) == 0 ? info.id : 0;
}

static void sync_write(int fd, char c)
{
        if (write(fd, &c, 1) != 1)
                _exit(90);
}

static char sync_read(int fd)
{
        char c = 0;
        if (read(fd, &c, 1) != 1)
                _exit(91);
        return c;
}

/* Whether kernel.unprivileged_bpf_disabled is set (bpf(2) then refuses users outright). */
static bool unprivileged_bpf_disabled(void)
{
        uint64_t v = 0;
        return read_u64_at(AT_FDCWD, "/proc/sys/kernel/unprivileged_bpf_disabled", &v) == 0 &&
               v != 0;
}

/* ---- the tests ------------------------------------------------------------------------------ */

/* Listeners on P (TCP 127.0.0.2, 127.0.0.3, [::1]; UDP 127.0.0.2:P+2, [::1]:P), on
 * [::1]:P+1, and on 127.0.0.2:80 (another port if 80 is taken); P is 2222 when free. */
static void listen_all(void)
{
        for (uint16_t port = 2222; port < 2222 + 60; port += 3) {
                const struct {
                        int type;
                        const char *addr;
                        int off;
                } want[] = {{SOCK_STREAM, "127.0.0.2", 0}, {SOCK_STREAM, "127.0.0.3", 0},
                            {SOCK_STREAM, "::1", 0},       {SOCK_STREAM, "::1", 1},
                            {SOCK_STREAM, "127.0.1.9", 0}, {SOCK_DGRAM, "127.0.0.2", 2},
                            {SOCK_DGRAM, "::1", 0}};
                int fds[ELEMENTSOF(want)];
                size_t ok = 0;
                for (; ok < ELEMENTSOF(want); ok++) {
                        fds[ok] = bound(want[ok].type, want[ok].addr, port + want[ok].off);
                        if (fds[ok] < 0)
                                break;
                }
                if (ok < ELEMENTSOF(want)) {
                        while (ok-- > 0)
                                close(fds[ok]);
                        continue;
                }
                fx.port = port;
                for (size_t i = 0; i < ELEMENTSOF(want) - 2; i++)
                        fx.listeners[fx.n_listeners++] = fds[i];
                fx.udp_allowed = fds[ELEMENTSOF(want) - 2];
                fx.udp_v6 = fds[ELEMENTSOF(want) - 1];
                break;
        }
        if (!fx.port)
                fail_msg("no free port near 2222 on 127.0.0.2, 127.0.0.3 and ::1");
        int fd = bound(SOCK_STREAM, "127.0.0.2", 80);
        for (uint16_t p = 8080; fd < 0 && p < 8180; p++) {
                fd = bound(SOCK_STREAM, "127.0.0.2", p);
                if (fd >= 0)
                        fx.denied = p;
        }
        if (fd < 0)
                fail_msg("cannot listen on 127.0.0.2:80 or 8080-8179");
        if (!fx.denied)
                fx.denied = 80;
        fx.listeners[fx.n_listeners++] = fd;

        /* without the filter every listener takes a connect: a refusal later is the filter's */
        assert_int_equal(tcp_connect("127.0.0.2", fx.port), 0);
        assert_int_equal(tcp_connect("127.0.0.3", fx.port), 0);
        assert_int_equal(tcp_connect("127.0.0.2", fx.denied), 0);
        assert_int_equal(tcp_connect("::1", fx.port), 0);
        assert_int_equal(tcp_connect("::1", fx.port + 1), 0);
        assert_int_equal(tcp_connect("::ffff:127.0.0.3", fx.port), 0);
}

/* What the rule sets below let through, as the child in the cgroup sees it. */
static void child_checks_first_set(void)
{
        uint16_t P = fx.port, Q = fx.port + 1, U = fx.port + 2;
        printf("  rules: 127.0.0.2:%u/tcp, [::1]:%u, 127.0.0.2:%u/udp, 127.0.1.0/24\n", P, P, U);
        EXPECT(tcp_connect("127.0.0.2", P), 0, "TCP 127.0.0.2:%u (listed)", P);
        EXPECT(tcp_connect("127.0.0.3", P), EPERM, "TCP 127.0.0.3:%u (other address)", P);
        EXPECT(tcp_connect("127.0.0.2", fx.denied), EPERM, "TCP 127.0.0.2:%u (other port)",
               fx.denied);
        EXPECT(tcp_connect("::1", P), 0, "TCP [::1]:%u (listed)", P);
        EXPECT(tcp_connect("::1", Q), EPERM, "TCP [::1]:%u (other port)", Q);
        EXPECT(tcp_connect("::ffff:127.0.0.2", P), 0, "TCP [::ffff:127.0.0.2]:%u (v4-mapped)", P);
        EXPECT(tcp_connect("::ffff:127.0.0.3", P), EPERM, "TCP [::ffff:127.0.0.3]:%u (v4-mapped)",
               P);
        /* a network with every port: let through, and the kernel refuses where none listens */
        EXPECT(tcp_connect("127.0.1.9", P), 0, "TCP 127.0.1.9:%u (in 127.0.1.0/24)", P);
        EXPECT(tcp_connect("127.0.1.200", 9), ECONNREFUSED, "TCP 127.0.1.200:9 (in the /24)");
        EXPECT(tcp_connect("127.0.2.1", P), EPERM, "TCP 127.0.2.1:%u (outside the /24)", P);
        EXPECT(tcp_fastopen("127.0.0.3", P), EPERM, "TCP Fast Open sendto 127.0.0.3:%u", P);

        EXPECT(udp_send(AF_INET, "127.0.0.2", U, "one"), 0, "UDP sendto 127.0.0.2:%u (listed)", U);
        EXPECT_TRUE(udp_received(fx.udp_allowed, "one"), "  ... and it arrives");
        EXPECT(udp_send(AF_INET, "127.0.0.3", U, "two"), EPERM, "UDP sendto 127.0.0.3:%u", U);
        EXPECT(udp_send(AF_INET, "127.0.0.2", P, "x"), EPERM,
               "UDP sendto 127.0.0.2:%u (listed for TCP only)", P);
        EXPECT(udp_connect("127.0.0.3", U), EPERM, "UDP connect 127.0.0.3:%u", U);
        EXPECT(udp_connect("127.0.0.2", U), 0, "UDP connect 127.0.0.2:%u", U);
        EXPECT(udp_send(AF_INET6, "::1", P, "three"), 0, "UDP sendto [::1]:%u (listed)", P);
        EXPECT_TRUE(udp_received(fx.udp_v6, "three"), "  ... and it arrives");
        EXPECT(udp_send(AF_INET6, "::1", Q, "x"), EPERM, "UDP sendto [::1]:%u", Q);
        EXPECT(udp_send(AF_INET6, "::ffff:127.0.0.2", U, "four"), 0,
               "UDP sendto [::ffff:127.0.0.2]:%u from an IPv6 socket", U);
        EXPECT_TRUE(udp_received(fx.udp_allowed, "four"), "  ... and it arrives");
        EXPECT(udp_send(AF_INET6, "::ffff:127.0.0.3", U, "x"), EPERM,
               "UDP sendto [::ffff:127.0.0.3]:%u from an IPv6 socket", U);
}

static void child_checks_second_set(void)
{
        uint16_t P = fx.port;
        printf("  rules replaced by: 127.0.0.3:%u/tcp\n", P);
        EXPECT(tcp_connect("127.0.0.3", P), 0, "TCP 127.0.0.3:%u (now listed)", P);
        EXPECT(tcp_connect("127.0.0.2", P), EPERM, "TCP 127.0.0.2:%u (no longer)", P);
        EXPECT(tcp_connect("::1", P), EPERM, "TCP [::1]:%u (no longer)", P);
        EXPECT(udp_send(AF_INET, "127.0.0.2", P + 2, "x"), EPERM, "UDP sendto 127.0.0.2:%u", P + 2);
}

/* 0 or the errno of bpf(BPF_PROG_QUERY) on cgroup_fd */
static int try_query(int cgroup_fd)
{
        uint32_t ids[8];
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.query.target_fd = (uint32_t)cgroup_fd;
        a.query.attach_type = BPF_CGROUP_INET4_CONNECT;
        a.query.prog_ids = (uint64_t)(uintptr_t)ids;
        a.query.prog_cnt = ELEMENTSOF(ids);
        return bpf_cmd(BPF_PROG_QUERY, &a) < 0 ? errno : 0;
}

static const enum bpf_attach_type hook_types[EGRESS_N_HOOKS] = {
    BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_UDP4_SENDMSG,
    BPF_CGROUP_UDP6_SENDMSG};

/* In the session nobody can take the programs away: not root under the session's seccomp
 * filter (the sshd monitor), not a user without capabilities. A session holds none of the
 * helper's fds (O_CLOEXEC, and the helper exits), so the user has no program fd either and
 * cannot get one. Last, a note of what a program fd alone allows on this kernel. */
static void child_checks_privilege(void)
{
        uint16_t P = fx.port;
        uint32_t id = prog_id(fx.bpf.prog_fd[EGRESS_CONNECT4]);

        /* root under the default seccomp filter, holding the fds even: a child of its own */
        struct policy p;
        memset(&p, 0, sizeof(p));
        p.name = (char *)"test";
        p.seccomp_base = SECCOMP_BASE_DEFAULT;
        p.seccomp_action = SECCOMP_ACTION_ERRNO;
        p.no_new_privs = true;
        struct sock_filter *bpf = NULL;
        uint32_t len = 0;
        struct isolate_error err = {0};
        if (seccomp_program_build(&p, true, &bpf, &len, &err) < 0) {
                printf("    FAIL: seccomp_program_build: %s\n", err.msg);
                child_failures++;
                return;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                struct sock_fprog fp = {.len = (unsigned short)len, .filter = bpf};
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0)
                        _exit(99);
                child_failures = 0;
                for (int h = 0; h < EGRESS_N_HOOKS; h++)
                        EXPECT(try_detach(fx.cgroup_fd, fx.bpf.prog_fd[h], hook_types[h]), EPERM,
                               "root under the session's seccomp filter, holding the program's "
                               "fd: BPF_PROG_DETACH (hook %d)",
                               h);
                EXPECT(try_map_create(), EPERM, "root under the seccomp filter: BPF_MAP_CREATE");
                EXPECT(tcp_connect("127.0.0.2", P), EPERM, "root: TCP 127.0.0.2:%u", P);
                fflush(stdout);
                _exit(child_failures);
        }
        free(bpf);
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
                printf("    FAIL: the seccomp child did not exit\n");
                child_failures++;
        } else {
                child_failures += WEXITSTATUS(status);
        }

        /* a user: uid and gid 65534, no supplementary groups, no capabilities, no BPF fd
         * (the last program fd is kept for the note below) */
        close(fx.bpf.map_fd);
        for (int h = 0; h < EGRESS_N_HOOKS - 1; h++)
                close(fx.bpf.prog_fd[h]);
        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
            setresuid(65534, 65534, 65534) < 0) {
                printf("    FAIL: cannot become uid 65534: %m\n");
                child_failures++;
                return;
        }
        for (int h = 0; h < EGRESS_N_HOOKS; h++)
                EXPECT_FAILS(try_detach(fx.cgroup_fd, -1, hook_types[h]),
                             "uid 65534: BPF_PROG_DETACH without the program's fd (hook %d)", h);
        EXPECT(try_prog_get_fd_by_id(id), EPERM,
               "uid 65534: BPF_PROG_GET_FD_BY_ID (to get the program's fd)");
        EXPECT(try_query(fx.cgroup_fd), EPERM, "uid 65534: BPF_PROG_QUERY");
        if (unprivileged_bpf_disabled())
                EXPECT(try_map_create(), EPERM,
                       "uid 65534: BPF_MAP_CREATE (kernel.unprivileged_bpf_disabled)");
        else
                printf("    note: kernel.unprivileged_bpf_disabled is 0: users may load socket "
                       "filters here; the session's seccomp filter still denies bpf(2)\n");
        EXPECT(tcp_connect("127.0.0.2", P), EPERM, "uid 65534: TCP 127.0.0.2:%u still refused", P);
        EXPECT(tcp_connect("127.0.0.3", P), 0, "uid 65534: TCP 127.0.0.3:%u still allowed", P);

        /* why no fd may reach a session: with a program's fd, a user can detach it */
        int r =
            try_detach(fx.cgroup_fd, fx.bpf.prog_fd[EGRESS_SENDMSG6], hook_types[EGRESS_SENDMSG6]);
        printf("    note: uid 65534 holding a program's fd: BPF_PROG_DETACH: %s%s\n", err_name(r),
               r == 0 ? " (this kernel asks no capability of whoever holds the program's fd: "
                        "none may reach a session)"
                      : "");
        fflush(stdout);
}

static void wait_child_ok(void)
{
        int status = 0;
        assert_int_equal(waitpid(fx.child, &status, 0), fx.child);
        fx.child = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("the child in the cgroup saw something else (status 0x%x; FAIL lines "
                         "above)",
                         status);
}

/* Runs fn in a child, which first joins dir unless it is NULL; fails the test when fn's
 * checks failed. */
static void in_child(const char *dir, void (*fn)(void))
{
        fflush(stdout);
        fx.child = test_fork();
        assert_true(fx.child >= 0);
        fx.last_child = fx.child;
        if (fx.child == 0) {
                if (dir && cgroup_join(dir) < 0) {
                        printf("    FAIL: cannot join %s: %m\n", dir);
                        _exit(80);
                }
                fn();
                fflush(stdout);
                _exit(child_failures ? 1 : 0);
        }
        wait_child_ok();
}

/* The whole story: a first rule set as the session sees it, a second one swapped into the
 * live map (found again from the cgroup, as isolatectl would), and nobody in the session
 * able to take the programs away. */
static void test_allowlist_as_the_session_sees_it(void **state)
{
        const char *dir = make_cgroup();
        listen_all();
        struct egress_rule first_buf[8], second_buf[8];
        static const char *const first[] = {"127.0.0.2:P/tcp", "[::1]:P", "127.0.0.2:U/udp",
                                            "127.0.1.0/24", NULL};
        static const char *const second[] = {"127.0.0.3:P/tcp", NULL};
        struct egress_allow a = rules_of(first_buf, ELEMENTSOF(first_buf), first);
        load_and_attach(&a, fx.cgroup_fd);

        /* pipes[0] <- pipes[1]: the child is done with the first set; pipes[2] <- pipes[3]:
         * the second set is in */
        assert_int_equal(pipe2(&fx.pipes[0], O_CLOEXEC), 0);
        assert_int_equal(pipe2(&fx.pipes[2], O_CLOEXEC), 0);
        fflush(stdout);
        fx.child = test_fork();
        assert_true(fx.child >= 0);
        if (fx.child == 0) {
                if (cgroup_join(dir) < 0) {
                        printf("    FAIL: cannot join %s: %m\n", dir);
                        _exit(80);
                }
                child_checks_first_set();
                sync_write(fx.pipes[1], 'A');
                (void)sync_read(fx.pipes[2]);
                child_checks_second_set();
                child_checks_privilege();
                fflush(stdout);
                _exit(child_failures ? 1 : 0);
        }
        close(fx.pipes[1]);
        fx.pipes[1] = -1;
        char c = 0;
        if (read(fx.pipes[0], &c, 1) != 1) {
                wait_child_ok();
                fail_msg("the child ended before the rules were replaced");
        }

        struct isolate_error err = {0};
        int map_fd = -1;
        if (egress_map_find(fx.cgroup_fd, &map_fd, &err) < 0)
                fail_msg("egress_map_find: %s", err.msg);
        assert_true(fcntl(map_fd, F_GETFD) & FD_CLOEXEC);
        struct egress_allow b = rules_of(second_buf, ELEMENTSOF(second_buf), second);
        int r = egress_map_replace(map_fd, &b, &err);
        close(map_fd);
        if (r < 0)
                fail_msg("egress_map_replace: %s", err.msg);
        assert_int_equal(write(fx.pipes[3], "B", 1), 1);
        wait_child_ok();

        /* what the child tried left them in place */
        assert_int_equal(egress_map_find(fx.cgroup_fd, &map_fd, &err), 0);
        close(map_fd);
}

static void child_checks_nothing_reached(void)
{
        uint16_t P = fx.port;
        printf("  rules: {} (nothing)\n");
        EXPECT(tcp_connect("127.0.0.2", P), EPERM, "TCP 127.0.0.2:%u", P);
        EXPECT(tcp_connect("::1", P), EPERM, "TCP [::1]:%u", P);
        EXPECT(tcp_connect("127.0.0.1", 9), EPERM, "TCP 127.0.0.1:9 (loopback too)");
        EXPECT(udp_send(AF_INET, "127.0.0.2", P + 2, "x"), EPERM, "UDP sendto 127.0.0.2:%u", P + 2);
        EXPECT(udp_send(AF_INET6, "::1", P, "x"), EPERM, "UDP sendto [::1]:%u", P);
}

/* egress_allow = {}: no destination at all, loopback included. */
static void test_empty_list_reaches_nothing(void **state)
{
        const char *dir = make_cgroup();
        listen_all();
        struct egress_allow none = {.filtered = true};
        load_and_attach(&none, fx.cgroup_fd);
        in_child(dir, child_checks_nothing_reached);
}

/* A program that allows everything, for a descendant that tries to undo ours. */
static int allow_all_program(void)
{
        struct bpf_insn insns[] = {
            {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1},
            {.code = BPF_JMP | BPF_EXIT},
        };
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
        a.expected_attach_type = BPF_CGROUP_INET4_CONNECT;
        a.insns = (uint64_t)(uintptr_t)insns;
        a.insn_cnt = ELEMENTSOF(insns);
        a.license = (uint64_t)(uintptr_t) "GPL";
        return (int)bpf_cmd(BPF_PROG_LOAD, &a);
}

static int attach_with(int cgroup_fd, int prog_fd, unsigned flags)
{
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.target_fd = (uint32_t)cgroup_fd;
        a.attach_bpf_fd = (uint32_t)prog_fd;
        a.attach_type = BPF_CGROUP_INET4_CONNECT;
        a.attach_flags = flags;
        return bpf_cmd(BPF_PROG_ATTACH, &a) < 0 ? errno : 0;
}

static void child_checks_inner(void)
{
        uint16_t P = fx.port;
        printf("  in a child cgroup whose own connect4 program allows everything "
               "(BPF_F_ALLOW_OVERRIDE)\n");
        EXPECT(tcp_connect("127.0.0.3", P), EPERM, "TCP 127.0.0.3:%u", P);
        EXPECT(tcp_connect("127.0.0.2", P), 0, "TCP 127.0.0.2:%u (listed)", P);
}

/* Nothing below the cgroup, nor a second program at it, undoes the filter. */
static void test_descendants_cannot_override(void **state)
{
        const char *dir = make_cgroup();
        listen_all();
        struct egress_rule buf[2];
        static const char *const rules[] = {"127.0.0.2:P/tcp", NULL};
        struct egress_allow a = rules_of(buf, ELEMENTSOF(buf), rules);
        load_and_attach(&a, fx.cgroup_fd);

        const char *inner = cgroup_add(dir, "inner");
        int inner_fd = open(inner, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(inner_fd >= 0);
        int allow = allow_all_program();
        assert_true(allow >= 0);
        /* below: may add (MULTI lets it), but ours still runs after it */
        assert_int_equal(attach_with(inner_fd, allow, BPF_F_ALLOW_OVERRIDE), 0);
        /* at our cgroup: no replacing ours with a program attached with other flags */
        assert_int_equal(attach_with(fx.cgroup_fd, allow, 0), EPERM);
        assert_int_equal(attach_with(fx.cgroup_fd, allow, BPF_F_ALLOW_OVERRIDE), EPERM);
        close(allow);
        close(inner_fd);
        in_child(inner, child_checks_inner);
}

static void child_checks_detached(void)
{
        uint16_t P = fx.port;
        EXPECT(tcp_connect("127.0.0.3", P), 0, "after egress_detach: TCP 127.0.0.3:%u", P);
}

/* The errors say what is wrong; egress_detach lifts the filter. */
static void test_errors_and_detach(void **state)
{
        const char *dir = make_cgroup();
        listen_all();
        struct isolate_error err = {0};
        struct egress_bpf e = EGRESS_BPF_NONE;
        struct egress_allow unset = {0};
        assert_int_equal(egress_load(&unset, NULL, &e, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "no egress_allow"));

        int map_fd = -1;
        assert_int_equal(egress_map_find(fx.cgroup_fd, &map_fd, &err), -ENOENT);
        assert_int_equal(map_fd, -1);

        struct egress_rule buf[2];
        static const char *const rules[] = {"127.0.0.2:P/tcp", NULL};
        struct egress_allow a = rules_of(buf, ELEMENTSOF(buf), rules);
        load_and_attach(&a, fx.cgroup_fd);

        /* a directory that is no cgroup2 cgroup */
        int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(tmp >= 0);
        int r = egress_attach(&fx.bpf, tmp, &err);
        close(tmp);
        assert_true(r < 0);
        print_message("    %s\n", err.msg);
        assert_non_null(strstr(err.msg, "cgroup2"));

        /* too many entries for the map */
        struct egress_allow big = {.rules = calloc(EGRESS_MAX_RULES + 1, sizeof(*big.rules)),
                                   .n = EGRESS_MAX_RULES + 1,
                                   .filtered = true};
        assert_non_null(big.rules);
        assert_int_equal(egress_map_replace(fx.bpf.map_fd, &big, &err), -E2BIG);
        free(big.rules);

        assert_int_equal(egress_detach(&fx.bpf, fx.cgroup_fd, &err), 0);
        assert_int_equal(egress_map_find(fx.cgroup_fd, &map_fd, &err), -ENOENT);
        in_child(dir, child_checks_detached);
}

/* ---- egress_log: the refusals, as the session's init reads them ---------------------------- */

#define LOG_SESSION "0123456789abcdef"
#define LOG_POLICY  "bastion"

static struct {
        char lines[32][512];
        size_t n; /* every line emitted, also past the 32 kept */
} seen;

static void seen_line(const char *line, void *data)
{
        if (seen.n < ELEMENTSOF(seen.lines))
                snprintf(seen.lines[seen.n], sizeof(seen.lines[0]), "%s", line);
        seen.n++;
}

static void seen_reset(void)
{
        memset(&seen, 0, sizeof(seen));
}

/* The programs with a log, attached; the parent's reader of it. */
static void load_logged(const struct egress_allow *a)
{
        struct isolate_error err = {0};
        if (egress_log_new(&fx.log, &err) < 0)
                fail_msg("egress_log_new: %s", err.msg);
        assert_true(fcntl(fx.log.ring_fd, F_GETFD) & FD_CLOEXEC);
        assert_true(fcntl(fx.log.dropped_fd, F_GETFD) & FD_CLOEXEC);
        load_and_attach(a, fx.cgroup_fd);
        print_message("    log level on this kernel: %s\n",
                      fx.bpf.log_level == EGRESS_LOG_TASK      ? "address and process"
                      : fx.bpf.log_level == EGRESS_LOG_ADDRESS ? "address only"
                                                               : "none");
        assert_int_not_equal(fx.bpf.log_level, EGRESS_LOG_OFF);
        assert_int_equal(egress_log_reader_open(&fx.reader, fx.log.ring_fd, fx.log.dropped_fd,
                                                LOG_SESSION, LOG_POLICY),
                         0);
}

static uint64_t mono_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void child_refusals(void)
{
        uint16_t P = fx.port;
        /* the name is the user's to choose: a quote and a control character in it */
        prctl(PR_SET_NAME, "eg\"probe\001x", 0, 0, 0);
        EXPECT(tcp_connect("127.0.0.2", P), 0, "TCP 127.0.0.2:%u (listed: no line)", P);
        EXPECT(tcp_connect("127.0.0.3", P), EPERM, "TCP 127.0.0.3:%u", P);
        EXPECT(udp_send(AF_INET, "127.0.0.3", P + 2, "x"), EPERM, "UDP sendto 127.0.0.3:%u", P + 2);
        EXPECT(tcp_connect("::1", P + 1), EPERM, "TCP [::1]:%u", P + 1);
        EXPECT(tcp_connect("::ffff:127.0.0.3", P), EPERM, "TCP [::ffff:127.0.0.3]:%u", P);
        EXPECT(udp_send(AF_INET6, "::ffff:127.0.0.3", P + 2, "x"), EPERM,
               "UDP sendto [::ffff:127.0.0.3]:%u", P + 2);
}

/* One line per refusal: the destination as written in a config, the process, the policy;
 * nothing for an allowed connect. */
static void test_refusals_are_logged(void **state)
{
        const char *dir = make_cgroup();
        listen_all();
        struct egress_rule buf[2];
        static const char *const rules[] = {"127.0.0.2:P/tcp", "[::1]:P", NULL};
        struct egress_allow a = rules_of(buf, ELEMENTSOF(buf), rules);
        load_logged(&a);
        in_child(dir, child_refusals);

        seen_reset();
        uint64_t deadline = egress_log_drain(&fx.reader, mono_ns(), seen_line, NULL);
        assert_int_equal(deadline, 0); /* nothing suppressed: no window line pending */
        char who[96] = "";
        if (fx.bpf.log_level == EGRESS_LOG_TASK)
                snprintf(who, sizeof(who), " (pid %d uid 0 comm \"eg?probe?x\")",
                         (int)fx.last_child);
        char want[5][512];
        uint16_t P = fx.port;
        snprintf(want[0], sizeof(want[0]),
                 "session " LOG_SESSION ": egress refused: 127.0.0.3:%u/tcp%s: not in policy "
                 "bastion's egress_allow",
                 P, who);
        snprintf(want[1], sizeof(want[1]),
                 "session " LOG_SESSION ": egress refused: 127.0.0.3:%u/udp%s: not in policy "
                 "bastion's egress_allow",
                 P + 2, who);
        snprintf(want[2], sizeof(want[2]),
                 "session " LOG_SESSION ": egress refused: [::1]:%u/tcp%s: not in policy "
                 "bastion's egress_allow",
                 P + 1, who);
        /* a TCP connect to a v4-mapped address is judged by connect6, as written; a UDP send
         * to one by sendmsg4 (the kernel hands it to IPv4 first) */
        snprintf(want[3], sizeof(want[3]),
                 "session " LOG_SESSION ": egress refused: [::ffff:127.0.0.3]:%u/tcp%s: not in "
                 "policy bastion's egress_allow",
                 P, who);
        snprintf(want[4], sizeof(want[4]), "%s", want[1]);
        for (size_t i = 0; i < seen.n && i < ELEMENTSOF(seen.lines); i++)
                print_message("    %s\n", seen.lines[i]);
        assert_int_equal(seen.n, ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                assert_string_equal(seen.lines[i], want[i]);
        /* read: the ring is empty now */
        seen_reset();
        egress_log_drain(&fx.reader, mono_ns(), seen_line, NULL);
        assert_int_equal(seen.n, 0);
}

static void child_flood(void)
{
        int refused = 0;
        for (int i = 0; i < 1000; i++)
                refused += tcp_connect("127.0.0.3", fx.port) == EPERM;
        EXPECT(refused, 1000, "1000 TCP connects to 127.0.0.3:%u refused", fx.port);
}

static void child_one_more(void)
{
        EXPECT(tcp_connect("127.0.0.3", fx.port), EPERM, "TCP 127.0.0.3:%u", fx.port);
}

/* A flood while nobody reads: the ring keeps what it can, the programs count the rest;
 * the reader logs EGRESS_LOG_BURST lines and one that says how many more there were, all
 * 1000 accounted for (and one more that came while the window was full). The next window
 * logs again. */
static void test_flood_is_rate_limited_and_counted(void **state)
{
        const char *dir = make_cgroup();
        listen_all();
        struct egress_rule buf[1];
        static const char *const rules[] = {"127.0.0.2:P/tcp", NULL};
        struct egress_allow a = rules_of(buf, ELEMENTSOF(buf), rules);
        load_logged(&a);
        in_child(dir, child_flood);

        seen_reset();
        uint64_t t = mono_ns();
        uint64_t deadline = egress_log_drain(&fx.reader, t, seen_line, NULL);
        assert_int_equal(seen.n, EGRESS_LOG_BURST);
        assert_int_equal(deadline, t + EGRESS_LOG_WINDOW_NS);
        uint64_t dropped = *fx.reader.dropped;
        print_message("    the ring kept %llu of 1000, the programs counted %llu it had no room "
                      "for\n",
                      (unsigned long long)(1000 - dropped), (unsigned long long)dropped);
        assert_true(dropped > 0 && dropped < 1000);
        /* before the window is over: nothing; what comes meanwhile (the init does not read
         * then) is counted in it; then the count */
        egress_log_flush(&fx.reader, t + EGRESS_LOG_WINDOW_NS / 2, false, seen_line, NULL);
        assert_int_equal(seen.n, EGRESS_LOG_BURST);
        in_child(dir, child_one_more);
        egress_log_flush(&fx.reader, t + EGRESS_LOG_WINDOW_NS + 5, false, seen_line, NULL);
        assert_int_equal(seen.n, EGRESS_LOG_BURST + 1);
        assert_string_equal(seen.lines[EGRESS_LOG_BURST],
                            "session " LOG_SESSION ": egress refused: suppressed 991 more (at "
                            "most 10 lines a second per session)");

        /* a new window */
        in_child(dir, child_one_more);
        seen_reset();
        deadline = egress_log_drain(&fx.reader, t + 2 * EGRESS_LOG_WINDOW_NS, seen_line, NULL);
        assert_int_equal(seen.n, 1);
        assert_int_equal(deadline, 0);
        assert_non_null(strstr(seen.lines[0], "egress refused: 127.0.0.3:"));
        /* the end of the sandbox: nothing left to say */
        egress_log_flush(&fx.reader, t + 2 * EGRESS_LOG_WINDOW_NS + 1, true, seen_line, NULL);
        assert_int_equal(seen.n, 1);
}

static void child_holds_the_log_maps(void)
{
        uint16_t P = fx.port;
        /* no program fd: only the maps and the cgroup, as a session would have them if it
         * reached the init's fds */
        egress_close(&fx.bpf);
        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
            setresuid(65534, 65534, 65534) < 0) {
                printf("    FAIL: cannot become uid 65534: %m\n");
                child_failures++;
                return;
        }
        for (int h = 0; h < EGRESS_N_HOOKS; h++) {
                EXPECT(try_detach(fx.cgroup_fd, fx.log.ring_fd, hook_types[h]), EINVAL,
                       "uid 65534 holding the ring's fd: BPF_PROG_DETACH with it (hook %d)", h);
                EXPECT(try_detach(fx.cgroup_fd, fx.log.dropped_fd, hook_types[h]), EINVAL,
                       "uid 65534 holding the counter's fd: BPF_PROG_DETACH with it (hook %d)", h);
        }
        EXPECT(tcp_connect("127.0.0.3", P), EPERM, "uid 65534: TCP 127.0.0.3:%u still refused", P);
        EXPECT(tcp_connect("127.0.0.2", P), 0, "uid 65534: TCP 127.0.0.2:%u still allowed", P);
}

static uint32_t map_id(int fd)
{
        struct bpf_map_info info;
        memset(&info, 0, sizeof(info));
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.info.bpf_fd = (uint32_t)fd;
        a.info.info_len = sizeof(info);
        a.info.info = (uint64_t)(uintptr_t)&info;
        return bpf_cmd(BPF_OBJ_GET_INFO_BY_FD, &a) == 0 ? info.id : 0;
}

/* The log's maps are found again from the cgroup (a later login under systemd writes into
 * the sandbox's ring), the rule map too; and holding them does not let anyone detach the
 * programs: BPF_PROG_DETACH of a BPF_F_ALLOW_MULTI program wants the program's fd. */
static void test_log_maps_found_and_powerless(void **state)
{
        const char *dir = make_cgroup();
        listen_all();
        struct egress_rule buf[1];
        static const char *const rules[] = {"127.0.0.2:P/tcp", NULL};
        struct egress_allow a = rules_of(buf, ELEMENTSOF(buf), rules);
        load_logged(&a);

        struct isolate_error err = {0};
        struct egress_log found = EGRESS_LOG_NONE;
        if (egress_log_find(fx.cgroup_fd, &found, &err) < 0)
                fail_msg("egress_log_find: %s", err.msg);
        assert_true(fcntl(found.ring_fd, F_GETFD) & FD_CLOEXEC);
        assert_true(fcntl(found.dropped_fd, F_GETFD) & FD_CLOEXEC);
        assert_int_equal(map_id(found.ring_fd), map_id(fx.log.ring_fd));
        assert_int_equal(map_id(found.dropped_fd), map_id(fx.log.dropped_fd));
        egress_log_close(&found);
        int map_fd = -1;
        assert_int_equal(egress_map_find(fx.cgroup_fd, &map_fd, &err), 0);
        assert_int_equal(map_id(map_fd), map_id(fx.bpf.map_fd));
        close(map_fd);

        in_child(dir, child_holds_the_log_maps);

        /* programs without a log have no log maps to find */
        egress_close(&fx.bpf);
        egress_log_close(&fx.log);
        const char *inner = cgroup_add(dir, "unlogged");
        int inner_fd = open(inner, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(inner_fd >= 0);
        load_and_attach(&a, inner_fd);
        assert_int_equal(fx.bpf.log_level, EGRESS_LOG_OFF);
        assert_int_equal(egress_log_find(inner_fd, &found, &err), -ENOENT);
        assert_int_equal(found.ring_fd, -1);
        close(inner_fd);
}

/* The rate limit alone, on a clock of our own. */
static void test_ratelimit_windows(void **state)
{
        const uint64_t S = EGRESS_LOG_WINDOW_NS, t0 = 5 * S;
        struct egress_ratelimit rl = {0};
        assert_int_equal(egress_ratelimit_deadline(&rl), 0);
        int logged = 0;
        for (int i = 0; i < 25; i++)
                logged += egress_ratelimit_take(&rl, t0 + (uint64_t)i * 1000);
        assert_int_equal(logged, EGRESS_LOG_BURST);
        assert_int_equal(egress_ratelimit_deadline(&rl), t0 + S);
        egress_ratelimit_suppress(&rl, 7, t0 + 2000); /* the ring's drops */
        assert_int_equal(egress_ratelimit_end(&rl, t0 + S - 1, false), 0);
        assert_int_equal(egress_ratelimit_end(&rl, t0 + S, false), 15 + 7);
        assert_int_equal(egress_ratelimit_deadline(&rl), 0);
        /* a new window, and one that ends with nothing counted: no line owed */
        assert_true(egress_ratelimit_take(&rl, t0 + S + 10));
        assert_int_equal(egress_ratelimit_deadline(&rl), 0);
        assert_true(egress_ratelimit_take(&rl, t0 + 3 * S));
        /* the end of a sandbox reports what its window counted so far */
        for (int i = 0; i < EGRESS_LOG_BURST; i++)
                egress_ratelimit_take(&rl, t0 + 3 * S + 1);
        assert_int_equal(egress_ratelimit_end(&rl, t0 + 3 * S + 2, true), 1);
        /* drops with no window open open one */
        egress_ratelimit_suppress(&rl, 3, t0 + 9 * S);
        assert_int_equal(egress_ratelimit_deadline(&rl), t0 + 10 * S);
}

/* The lines, for every kind of refusal. */
static void test_event_lines(void **state)
{
        char line[512];
        struct egress_event e = {
            .pid_tgid = (4242ull << 32) | 4243,
            .uid_gid = (1000ull << 32) | 1001,
            .port = htons(443),
            .proto = IPPROTO_TCP,
            .reason = EGRESS_REFUSED_NOT_LISTED,
            .task = 1,
            .comm = "curl",
        };
        inet_pton(AF_INET6, "::ffff:10.0.0.5", e.addr);
        egress_event_format(&e, "abc", "bastion", line, sizeof(line));
        assert_string_equal(line, "session abc: egress refused: 10.0.0.5:443/tcp (pid 4242 uid "
                                  "1001 comm \"curl\"): not in policy bastion's egress_allow");

        e.v6 = 1;
        e.proto = IPPROTO_UDP;
        e.port = htons(53);
        inet_pton(AF_INET6, "2001:db8::1", e.addr);
        e.task = 0;
        egress_event_format(&e, "abc", "bastion", line, sizeof(line));
        assert_string_equal(line, "session abc: egress refused: [2001:db8::1]:53/udp: not in "
                                  "policy bastion's egress_allow");

        e.proto = IPPROTO_SCTP;
        e.reason = EGRESS_REFUSED_PROTOCOL;
        e.task = 1;
        memcpy(e.comm,
               "a\nb\"c\\d\xff\x7f"
               "0123456",
               16); /* no terminator in 16 bytes */
        egress_event_format(&e, "abc", "bastion", line, sizeof(line));
        assert_string_equal(line, "session abc: egress refused: [2001:db8::1] (sctp) (pid 4242 "
                                  "uid 1001 comm \"a?b?c?d??0123456\"): policy bastion's "
                                  "egress_allow admits TCP and UDP only");

        e.proto = 99;
        e.v6 = 0;
        inet_pton(AF_INET6, "::ffff:192.0.2.1", e.addr);
        e.task = 0;
        egress_event_format(&e, "abc", "bastion", line, sizeof(line));
        assert_string_equal(line, "session abc: egress refused: 192.0.2.1 (protocol 99): policy "
                                  "bastion's egress_allow admits TCP and UDP only");

        egress_suppressed_format(990, "abc", line, sizeof(line));
        assert_string_equal(line, "session abc: egress refused: suppressed 990 more (at most 10 "
                                  "lines a second per session)");
}

/* ---- what the filter costs (printed, not asserted) -------------------------------------- */

static uint64_t udp_connects_ns(int fd, const struct sockaddr_storage *ss, socklen_t len, int n)
{
        uint64_t t0 = now_ns();
        for (int i = 0; i < n; i++)
                if (connect(fd, (const struct sockaddr *)ss, len) < 0)
                        return 0;
        return (now_ns() - t0) / (uint64_t)n;
}

static uint64_t udp_sends_ns(int fd, const struct sockaddr_storage *ss, socklen_t len, int n)
{
        uint64_t t0 = now_ns();
        for (int i = 0; i < n; i++)
                if (sendto(fd, "", 0, 0, (const struct sockaddr *)ss, len) < 0)
                        return 0;
        return (now_ns() - t0) / (uint64_t)n;
}

/* TCP: socket, connect, accept, close both (RST: no TIME_WAIT), n times */
static uint64_t tcp_rounds_ns(int listener, const struct sockaddr_storage *ss, socklen_t len, int n)
{
        struct linger lg = {1, 0};
        uint64_t t0 = now_ns();
        for (int i = 0; i < n; i++) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || connect(fd, (const struct sockaddr *)ss, len) < 0)
                        return 0;
                int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                close(fd);
                if (c >= 0)
                        close(c);
        }
        return (now_ns() - t0) / (uint64_t)n;
}

static void min_of(uint64_t *best, uint64_t t)
{
        if (t && t < *best)
                *best = t;
}

static const char *bench_dir;

/* Two sockets made before joining (no filter) and two after (filtered), the same calls on
 * each, interleaved; the best of ROUNDS. */
struct udp_pair {
        int out_conn, out_send, in_conn, in_send;
};

static void bench_udp(const struct udp_pair *u, const char *what)
{
        enum { UDP_N = 20000, ROUNDS = 7 };
        struct sockaddr_storage ss;
        socklen_t len = sockaddr_of("127.0.0.2", fx.port + 2, &ss);
        uint64_t c_out = UINT64_MAX, c_in = UINT64_MAX, s_out = UINT64_MAX, s_in = UINT64_MAX;
        for (int r = 0; r < ROUNDS; r++) {
                min_of(&c_out, udp_connects_ns(u->out_conn, &ss, len, UDP_N));
                min_of(&c_in, udp_connects_ns(u->in_conn, &ss, len, UDP_N));
                min_of(&s_out, udp_sends_ns(u->out_send, &ss, len, UDP_N));
                min_of(&s_in, udp_sends_ns(u->in_send, &ss, len, UDP_N));
        }
        if (c_out == UINT64_MAX || c_in == UINT64_MAX || s_out == UINT64_MAX ||
            s_in == UINT64_MAX) {
                printf("    FAIL: a UDP call failed while measuring: %m\n");
                child_failures++;
                return;
        }
        printf("bench: egress udp connect ns (%s): %" PRIu64 " without, %" PRIu64
               " with the filter (x%.2f)\n",
               what, c_out, c_in, (double)c_in / (double)c_out);
        printf("bench: egress udp sendto ns (%s): %" PRIu64 " without, %" PRIu64
               " with the filter (x%.2f)\n",
               what, s_out, s_in, (double)s_in / (double)s_out);
}

static void child_bench(void)
{
        enum { TCP_N = 2000, ROUNDS = 5 };
        struct sockaddr_storage ts;
        socklen_t tlen = sockaddr_of("127.0.0.2", fx.port, &ts);
        int listener = fx.listeners[0]; /* TCP 127.0.0.2:P */

        /* a socket belongs to the cgroup it was made in: two before joining, two after */
        struct udp_pair u;
        u.out_conn = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        u.out_send = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        uint64_t tcp_out = UINT64_MAX, tcp_in = UINT64_MAX;
        for (int r = 0; r < ROUNDS; r++)
                min_of(&tcp_out, tcp_rounds_ns(listener, &ts, tlen, TCP_N));
        if (cgroup_join(bench_dir) < 0)
                _exit(80);
        u.in_conn = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        u.in_send = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        for (int r = 0; r < ROUNDS; r++)
                min_of(&tcp_in, tcp_rounds_ns(listener, &ts, tlen, TCP_N));
        if (tcp_out == UINT64_MAX || tcp_in == UINT64_MAX) {
                printf("    FAIL: a TCP connect failed while measuring: %m\n");
                child_failures++;
                return;
        }
        printf("bench: egress tcp connect+accept+close ns: %" PRIu64 " without, %" PRIu64
               " with the filter (x%.2f)\n",
               tcp_out, tcp_in, (double)tcp_in / (double)tcp_out);

        /* what is compared: the sockets made inside are filtered, the others not */
        struct sockaddr_storage denied;
        socklen_t dlen = sockaddr_of("127.0.0.3", fx.port + 2, &denied);
        EXPECT(connect(u.out_conn, (struct sockaddr *)&denied, dlen) < 0 ? errno : 0, 0,
               "socket made outside: UDP connect 127.0.0.3");
        EXPECT(connect(u.in_conn, (struct sockaddr *)&denied, dlen) < 0 ? errno : 0, EPERM,
               "socket made inside: UDP connect 127.0.0.3");
        bench_udp(&u, "4 rules");

        /* a full table: EGRESS_MAX_RULES entries, the allowed one among them */
        struct egress_allow big = {.rules = calloc(EGRESS_MAX_RULES, sizeof(*big.rules)),
                                   .filtered = true};
        char msg[256], entry[64];
        for (size_t i = 0; big.rules && i < EGRESS_MAX_RULES; i++) {
                if (i == EGRESS_MAX_RULES / 2)
                        snprintf(entry, sizeof(entry), "127.0.0.2:%u/udp", fx.port + 2);
                else
                        snprintf(entry, sizeof(entry), "10.%zu.%zu.0/24:%zu", i / 256, i % 256,
                                 1 + i % 1000);
                if (parse_egress_rule(entry, &big.rules[big.n], msg, sizeof(msg)) == 0)
                        big.n++;
        }
        struct isolate_error err = {0};
        if (big.n != EGRESS_MAX_RULES || egress_map_replace(fx.bpf.map_fd, &big, &err) < 0) {
                printf("    FAIL: a full table: %s\n", err.msg);
                child_failures++;
        } else {
                bench_udp(&u, "1024 rules");
        }
        free(big.rules);
        close(u.out_conn);
        close(u.out_send);
        close(u.in_conn);
        close(u.in_send);
}

/* What the filter adds to a connect(), and what loading and attaching it adds to a login.
 * Printed for the bench (lines "bench: ..."), never asserted: hosts differ. */
static void test_connect_cost(void **state)
{
        bench_dir = make_cgroup();
        listen_all();
        struct egress_rule buf[4];
        static const char *const rules[] = {"127.0.0.2:P/tcp", "127.0.0.2:U/udp", "[::1]:P",
                                            "10.0.0.0/8:22", NULL};
        struct egress_allow a = rules_of(buf, ELEMENTSOF(buf), rules);

        struct isolate_error err = {0};
        uint64_t t0 = now_ns();
        int r = egress_load(&a, NULL, &fx.bpf, &err);
        uint64_t t1 = now_ns();
        if (r < 0 && err.host_fault && (r == -ENOSYS || r == -EINVAL))
                skip_because("this kernel cannot run the egress programs: %s", err.msg);
        if (r < 0)
                fail_msg("egress_load: %s", err.msg);
        if (egress_attach(&fx.bpf, fx.cgroup_fd, &err) < 0)
                fail_msg("egress_attach: %s", err.msg);
        uint64_t t2 = now_ns();
        printf("bench: egress setup us: load %.0f (map and 4 programs), attach %.0f\n",
               (double)(t1 - t0) / 1000.0, (double)(t2 - t1) / 1000.0);
        in_child(NULL, child_bench); /* it joins after making its sockets for outside */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_allowlist_as_the_session_sees_it, setup, teardown),
            cmocka_unit_test_setup_teardown(test_empty_list_reaches_nothing, setup, teardown),
            cmocka_unit_test_setup_teardown(test_descendants_cannot_override, setup, teardown),
            cmocka_unit_test_setup_teardown(test_errors_and_detach, setup, teardown),
            cmocka_unit_test_setup_teardown(test_refusals_are_logged, setup, teardown),
            cmocka_unit_test_setup_teardown(test_flood_is_rate_limited_and_counted, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_log_maps_found_and_powerless, setup, teardown),
            cmocka_unit_test(test_ratelimit_windows),
            cmocka_unit_test(test_event_lines),
            cmocka_unit_test_setup_teardown(test_connect_cost, setup, teardown),
        };
        return cmocka_run_group_tests_name("egress", tests, NULL, NULL);
}

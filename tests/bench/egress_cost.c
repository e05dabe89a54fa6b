/* egress_cost: where the setup time of egress_allow goes (the egress section of
 * tests/bench/bench.py), with the helper's own functions (session-helper/egress.c), linked
 * against the build's objects as seccomp_cost is.
 *
 *   egress_cost ROUNDS [GAP_MS]
 *
 * In a cgroup of its own below its cgroup in the cgroup2 hierarchy (removed at the end),
 * each round, in this order, each step timed:
 *   log_new     egress_log_new: the ring buffer and its counter
 *   load_log    egress_load with the log: the rule trie (the bench's 4 entries), the array of
 *               maps, the 4 programs loaded (verified, JIT-compiled)
 *   load_nolog  egress_load without the log (the programs without their logging part)
 *   mkdir       a cgroup2 child, as the session's leaf
 *   attach      egress_attach of the logged programs to it
 *   close       every fd closed (the attached programs stay)
 *   rmdir       the child removed (its programs and maps freed)
 * then GAP_MS of idle time (default 0), not timed. The kernel runs a cgroup's sock_addr
 * programs behind static keys, one per attach type, on while any such program is attached
 * anywhere on the host: the first attach of each type flips its key (code patching on every
 * CPU), and the last detach, deferred until the cgroup is released, flips it back. With no
 * gap the keys stay on from round to round (as on a host where another session has
 * egress_allow); with a gap of a few hundred ms every attach is the host's first.
 * Output: "cost ROUND STEP NS", one line per step. Exit 1 with a message when a step fails. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../conf/policy.h"
#include "../../session-helper/egress.h"

static uint64_t mono_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The cgroup2 directory this process is in (the mount + the "0::" line). */
static int own_cgroup2_dir(char *buf, size_t len)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096], mnt[PATH_MAX] = "", own[PATH_MAX] = "/";
        while (f && fgets(line, sizeof(line), f)) {
                char root[PATH_MAX], point[PATH_MAX];
                const char *sep = strstr(line, " - ");
                if (sep && strncmp(sep, " - cgroup2 ", 11) == 0 &&
                    sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) == 2 &&
                    strcmp(root, "/") == 0) {
                        snprintf(mnt, sizeof(mnt), "%s", point);
                        break;
                }
        }
        if (f)
                fclose(f);
        f = fopen("/proc/self/cgroup", "re");
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        snprintf(own, sizeof(own), "%s", line + 3);
                }
        if (f)
                fclose(f);
        if (!mnt[0])
                return -1;
        snprintf(buf, len, "%s%s", mnt, strcmp(own, "/") == 0 ? "" : own);
        return 0;
}

static int fail(const char *what, const char *msg)
{
        fprintf(stderr, "egress_cost: %s: %s\n", what, msg);
        return 1;
}

int main(int argc, char **argv)
{
        long rounds = argc == 2 || argc == 3 ? strtol(argv[1], NULL, 10) : 0;
        long gap_ms = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
        if (rounds <= 0 || gap_ms < 0) {
                fprintf(stderr, "usage: egress_cost ROUNDS [GAP_MS]\n");
                return 2;
        }
        static const char *const text[] = {"10.0.0.0/8:22", "192.0.2.10:443/tcp",
                                           "[2001:db8::]/32:22", "127.0.0.2:8080/tcp"};
        struct egress_rule rules[4];
        struct egress_allow allow = {.rules = rules, .n = 4, .filtered = true};
        char msg[256];
        for (int i = 0; i < 4; i++)
                if (parse_egress_rule(text[i], &rules[i], msg, sizeof(msg)) < 0)
                        return fail(text[i], msg);

        char base[PATH_MAX], dir[PATH_MAX + 64], leaf[PATH_MAX + 80];
        if (own_cgroup2_dir(base, sizeof(base)) < 0)
                return fail("cgroup2", "no cgroup2 mount");
        snprintf(dir, sizeof(dir), "%s/isolate-egress-cost-%d", base, (int)getpid());
        snprintf(leaf, sizeof(leaf), "%s/leaf", dir);
        if (mkdir(dir, 0755) < 0)
                return fail(dir, strerror(errno));

        int status = 0;
        for (long r = 0; r < rounds && status == 0; r++) {
                struct isolate_error err = {0};
                struct egress_log log = EGRESS_LOG_NONE;
                struct egress_bpf with = EGRESS_BPF_NONE, without = EGRESS_BPF_NONE;
                uint64_t t[8];
                int fd = -1;
                t[0] = mono_ns();
                if (egress_log_new(&log, &err) < 0) {
                        status = fail("egress_log_new", err.msg);
                        break;
                }
                t[1] = mono_ns();
                if (egress_load(&allow, &log, &with, &err) < 0) {
                        status = fail("egress_load (log)", err.msg);
                        break;
                }
                t[2] = mono_ns();
                if (egress_load(&allow, NULL, &without, &err) < 0) {
                        status = fail("egress_load", err.msg);
                        break;
                }
                t[3] = mono_ns();
                if (mkdir(leaf, 0755) < 0 ||
                    (fd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
                        status = fail(leaf, strerror(errno));
                        break;
                }
                t[4] = mono_ns();
                if (egress_attach(&with, fd, &err) < 0)
                        status = fail("egress_attach", err.msg);
                t[5] = mono_ns();
                close(fd);
                egress_close(&with);
                egress_close(&without);
                egress_log_close(&log);
                t[6] = mono_ns();
                if (rmdir(leaf) < 0 && status == 0)
                        status = fail(leaf, strerror(errno));
                t[7] = mono_ns();
                static const char *const steps[] = {"log_new", "load_log", "load_nolog", "mkdir",
                                                    "attach",  "close",    "rmdir"};
                for (int s = 0; s < 7 && status == 0; s++)
                        printf("cost %ld %s %llu\n", r, steps[s],
                               (unsigned long long)(t[s + 1] - t[s]));
                struct timespec gap = {gap_ms / 1000, (gap_ms % 1000) * 1000000};
                nanosleep(&gap, NULL);
        }
        rmdir(leaf);
        if (rmdir(dir) < 0 && status == 0)
                status = fail(dir, strerror(errno));
        return status;
}

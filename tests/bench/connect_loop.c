/* connect_loop: what connect() costs inside a session (the egress section of tests/bench/bench.py,
 * run there through `isolatectl run` with and without egress_allow). Every socket is made
 * here, inside the session's cgroup, so each is judged by the session's programs, if any.
 *
 *   connect_loop allowed N ADDR PORT
 *       listens on ADDR:PORT (TCP), then N times: socket(); connect() to it, timed; accept()
 *       (not timed); close() of the client's end, timed; close() of the server's. The
 *       client's close sends a RST (SO_LINGER 0) so that N connects leave no TIME_WAIT
 *       behind. The listed destination: with egress_allow the programs look it up and let it
 *       through.
 *   connect_loop refused N ADDR PORT
 *       N times: socket(); connect() to ADDR:PORT and close(), timed; every connect must fail
 *       with EPERM (not listed: the programs refuse it, and with egress_log write an event).
 *
 * Prints "samples MODE NS NS ..." (connect + close of each round, CLOCK_MONOTONIC) and exits
 * 0, or says what went wrong and exits 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
        if (argc != 5 || (strcmp(argv[1], "allowed") != 0 && strcmp(argv[1], "refused") != 0)) {
                fprintf(stderr, "usage: connect_loop allowed|refused N ADDR PORT\n");
                return 2;
        }
        bool allowed = strcmp(argv[1], "allowed") == 0;
        long n = strtol(argv[2], NULL, 10);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)strtol(argv[4], NULL, 10))};
        if (n <= 0 || inet_pton(AF_INET, argv[3], &sa.sin_addr) != 1) {
                fprintf(stderr, "connect_loop: bad N or address\n");
                return 2;
        }
        uint64_t *t = calloc((size_t)n, sizeof(*t));
        if (!t)
                return 1;

        int listener = -1;
        if (allowed) {
                listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                int one = 1;
                setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
                    listen(listener, 64) < 0) {
                        fprintf(stderr, "connect_loop: cannot listen on %s:%s: %s\n", argv[3],
                                argv[4], strerror(errno));
                        return 1;
                }
        }
        const struct linger rst = {1, 0};
        for (long i = 0; i < n; i++) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst)) < 0) {
                        fprintf(stderr, "connect_loop: socket: %s\n", strerror(errno));
                        return 1;
                }
                uint64_t t0 = now_ns();
                int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
                int e = errno;
                uint64_t t1 = now_ns();
                if (allowed ? r < 0 : (r == 0 || e != EPERM)) {
                        fprintf(stderr, "connect_loop: connect %ld to %s:%s: %s (expected %s)\n", i,
                                argv[3], argv[4], r == 0 ? "success" : strerror(e),
                                allowed ? "success" : "EPERM");
                        return 1;
                }
                int c = allowed ? accept4(listener, NULL, NULL, SOCK_CLOEXEC) : -1;
                if (allowed && c < 0) {
                        fprintf(stderr, "connect_loop: accept: %s\n", strerror(errno));
                        return 1;
                }
                uint64_t t2 = now_ns();
                close(fd);
                t[i] = (t1 - t0) + (now_ns() - t2);
                if (c >= 0)
                        close(c);
        }
        printf("samples %s", argv[1]);
        for (long i = 0; i < n; i++)
                printf(" %llu", (unsigned long long)t[i]);
        printf("\n");
        free(t);
        if (listener >= 0)
                close(listener);
        return 0;
}

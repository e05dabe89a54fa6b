/* alternate: runs several commands in alternation (A B C A B C ...) and prints the wall time
 * of each run, so that load from others on a shared machine hits every command alike.
 *
 *   alternate ROUNDS GAP_MS CMD1 [ARG...] ::: CMD2 [ARG...] ::: ...
 *
 * GAP_MS of idle time before each run (0: none), so that every run starts from the same
 * state: on cgroup v1 the first cgroup migration after an idle spell waits for an RCU grace
 * period, and a run right after another one that migrated would not.
 *
 * One line per run: "run CMD_INDEX ROUND STATUS NS" (STATUS: the exit status, 128+N when
 * killed by signal N, -1 when it could not be started). stdin, stdout and stderr of the
 * commands are /dev/null. Started with posix_spawn (vfork), timed with CLOCK_MONOTONIC from
 * just before the spawn to the end of waitpid. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_CMDS 16

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
        if (argc < 4) {
                fprintf(stderr,
                        "usage: alternate ROUNDS GAP_MS CMD [ARG...] ::: CMD [ARG...] ...\n");
                return 2;
        }
        char *end;
        unsigned long rounds = strtoul(argv[1], &end, 10);
        if (*end || rounds == 0 || rounds > 100000) {
                fprintf(stderr, "alternate: bad ROUNDS %s\n", argv[1]);
                return 2;
        }
        unsigned long gap_ms = strtoul(argv[2], &end, 10);
        if (*end || gap_ms > 60000) {
                fprintf(stderr, "alternate: bad GAP_MS %s\n", argv[2]);
                return 2;
        }
        char **cmds[MAX_CMDS];
        int n = 0;
        cmds[n++] = argv + 3;
        for (int i = 3; i < argc; i++)
                if (strcmp(argv[i], ":::") == 0) {
                        argv[i] = NULL;
                        if (n == MAX_CMDS || i + 1 >= argc) {
                                fprintf(stderr, "alternate: bad command list\n");
                                return 2;
                        }
                        cmds[n++] = argv + i + 1;
                }

        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        for (unsigned long r = 0; r < rounds; r++)
                for (int c = 0; c < n; c++) {
                        pid_t pid;
                        int status = -1;
                        if (gap_ms) {
                                struct timespec ts = {(time_t)(gap_ms / 1000),
                                                      (long)(gap_ms % 1000) * 1000000L};
                                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                                        ;
                        }
                        uint64_t t0 = now_ns();
                        int e = posix_spawn(&pid, cmds[c][0], &fa, NULL, cmds[c], environ);
                        if (e == 0) {
                                int st;
                                while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                                        ;
                                status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                        }
                        uint64_t dt = now_ns() - t0;
                        printf("run %d %lu %d %llu\n", c, r, status, (unsigned long long)dt);
                        fflush(stdout);
                }
        posix_spawn_file_actions_destroy(&fa);
        return 0;
}

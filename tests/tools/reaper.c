/* reaper: runs a command as a child subreaper and reaps every orphan under it.
 *
 * The session inits outlive the helper that cloned them and are reparented to the nearest
 * subreaper or PID 1. This machine's PID 1 does not reap, so the test suite runs under this
 * reaper; on a real host init (systemd, sysvinit) does the same job. Exit status: the
 * command's; when processes are still left under the reaper 3 s after the command ended,
 * they are named, killed, and the status is 1: a test run must leave nothing behind. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t forward_sig;
static void on_signal(int sig)
{
        forward_sig = sig;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: reaper COMMAND [ARG...]\n");
                return 2;
        }
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                perror("reaper: PR_SET_CHILD_SUBREAPER");
                return 2;
        }
        pid_t child = fork();
        if (child < 0) {
                perror("reaper: fork");
                return 2;
        }
        if (child == 0) {
                execvp(argv[1], argv + 1);
                fprintf(stderr, "reaper: %s: %s\n", argv[1], strerror(errno));
                _exit(127);
        }
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        int status = 0, result = -1;
        for (;;) {
                pid_t p = waitpid(-1, &status, 0);
                if (p < 0 && errno == EINTR) {
                        if (forward_sig && result < 0)
                                kill(child, forward_sig);
                        forward_sig = 0;
                        continue;
                }
                if (p < 0)
                        return result < 0 ? 2 : result; /* ECHILD: all gone */
                if (p == child) {
                        result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                        break;
                }
        }
        /* The command is done: give orphans (session inits tearing down) 3 s to end. */
        for (int i = 0; i < 300; i++) {
                pid_t p = waitpid(-1, &status, WNOHANG);
                if (p < 0)
                        return result;
                if (p == 0) {
                        struct timespec ts = {0, 10 * 1000 * 1000};
                        nanosleep(&ts, NULL);
                }
        }
        fprintf(stderr, "reaper: processes left behind after the tests:");
        char path[300], comm[64];
        DIR *proc = opendir("/proc");
        for (struct dirent *de; proc && (de = readdir(proc));) {
                pid_t p = (pid_t)atoi(de->d_name);
                if (p <= 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/stat", (int)p);
                FILE *f = fopen(path, "re");
                if (!f)
                        continue;
                int ppid = 0;
                if (fscanf(f, "%*d (%63[^)]) %*c %d", comm, &ppid) == 2 && ppid == getpid()) {
                        fprintf(stderr, " %d (%s)", (int)p, comm);
                        kill(p, SIGKILL);
                }
                fclose(f);
        }
        if (proc)
                closedir(proc);
        fprintf(stderr, "\n");
        while (waitpid(-1, &status, 0) > 0 || errno == EINTR)
                ;
        return 1;
}

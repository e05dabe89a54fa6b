/* test_fork.h: fork() for the unit tests. A plain fork's child inherits cmocka's signal
 * handlers and its jump buffers: a crash (or a failed assertion) in the child went on running
 * the rest of the suite inside the child, so the output appeared twice. The child of
 * test_fork() has every handler at SIG_DFL, no signal blocked and no core limit, so a signal
 * ends it and its parent sees the signal. Its code must end in _exit() and make no cmocka
 * assertion (those jump back into the runner); forks made inside it inherit the defaults. */
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

static inline pid_t test_fork(void)
{
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigemptyset(&dfl.sa_mask);
        for (int sig = 1; sig < NSIG; sig++)
                (void)sigaction(sig, &dfl, NULL); /* SIGKILL, SIGSTOP, libc's own: EINVAL */
        sigset_t none;
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        /* a child killed on purpose (SIGSYS, SIGSEGV) leaves no core file behind */
        struct rlimit no_core = {0, 0};
        (void)setrlimit(RLIMIT_CORE, &no_core);
        return 0;
}

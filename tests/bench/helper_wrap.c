/* helper_wrap: stands in for isolate-helper in the benchmark's breakdown runs (the module's
 * helper= argument). The module starts the helper with a clean environment, so everything is
 * compiled in by run.sh (REAL_HELPER and one of):
 *   SHIM_SO, SHIM_LOG  exec the real helper with helper_shim.so preloaded (helper_wrap)
 *   CALLGRIND_OUT      exec it under valgrind --tool=callgrind (helper_vg); valgrind does not
 *                      know pidfd_open, so such a login is refused at that step: it profiles
 *                      the helper's work up to there
 * exec keeps the pid, so the helper still sees its caller as its parent. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        static char path_env[] =
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
#ifdef CALLGRIND_OUT
        char *args[16] = {(char *)"valgrind", (char *)"--tool=callgrind",
                          (char *)"--callgrind-out-file=" CALLGRIND_OUT, (char *)REAL_HELPER};
        int n = 4;
        for (int i = 1; i < argc && n < 15; i++)
                args[n++] = argv[i];
        args[n] = NULL;
        char *envp[] = {path_env, NULL};
        execve("/usr/bin/valgrind", args, envp);
        perror("helper_wrap: /usr/bin/valgrind");
#else
        (void)argc;
        char *envp[] = {path_env, (char *)"LD_PRELOAD=" SHIM_SO, (char *)"BENCH_SHIM_LOG=" SHIM_LOG,
                        NULL};
        argv[0] = (char *)REAL_HELPER;
        execve(REAL_HELPER, argv, envp);
        perror("helper_wrap: " REAL_HELPER);
#endif
        return 127;
}

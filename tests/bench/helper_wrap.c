/* helper_wrap: stands in for isolate-helper in the benchmark's breakdown run (the module's
 * helper= argument): execs the real helper with helper_shim.so preloaded. The module starts
 * the helper with a clean environment, so the paths are compiled in by run.sh:
 * REAL_HELPER, SHIM_SO, SHIM_LOG. exec keeps the pid, so the helper still sees its caller as
 * its parent. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        (void)argc;
        char *envp[] = {(char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        (char *)"LD_PRELOAD=" SHIM_SO, (char *)"BENCH_SHIM_LOG=" SHIM_LOG, NULL};
        argv[0] = (char *)REAL_HELPER;
        execve(REAL_HELPER, argv, envp);
        perror("helper_wrap: " REAL_HELPER);
        return 127;
}

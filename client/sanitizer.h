/* sanitizer.h: in SANITIZE=1 builds, where reports go. The helper runs with its stderr on
 * /dev/null when the PAM module calls it, and the session init always does: their reports
 * would be lost. They go to files in /run/isolate-sanitizer/ (outside any private /tmp of
 * a session), which tests/run-integration.sh turns into a failed run. Include once, in a
 * program's main file. */
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define ISOLATE_SANITIZER_LOG(prog)                                                                \
        const char *__asan_default_options(void);                                                  \
        const char *__asan_default_options(void)                                                   \
        {                                                                                          \
                return "log_path=/run/isolate-sanitizer/" prog;                                    \
        }                                                                                          \
        const char *__ubsan_default_options(void);                                                 \
        const char *__ubsan_default_options(void)                                                  \
        {                                                                                          \
                return "print_stacktrace=1:log_path=/run/isolate-sanitizer/" prog;                 \
        }
#else
#define ISOLATE_SANITIZER_LOG(prog)
#endif

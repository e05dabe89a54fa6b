/* skip_because(FORMAT, ...): cmocka's skip() with a reason. cmocka's skip() takes none, so the
 * reason is printed first as "skip-reason: TEST: REASON", where tests/results.py collects it
 * for the summary of make check (a skip without a reason counts there as a failure). TEST is
 * the test function's name, which is the name cmocka_unit_test() gives the test. A skip is
 * only for what the host truly cannot run (e.g. a kernel without Landlock). errno is kept
 * for a %m in FORMAT. */
#ifndef ISOLATE_TESTS_SKIP_BECAUSE_H
#define ISOLATE_TESTS_SKIP_BECAUSE_H

#include <errno.h>
#include <stdio.h>

#define skip_because(...)                                                                     \
        do {                                                                                  \
                int skip_errno_ = errno;                                                      \
                printf("skip-reason: %s: ", __func__);                                        \
                errno = skip_errno_;                                                          \
                printf(__VA_ARGS__);                                                          \
                printf("\n");                                                                 \
                fflush(stdout);                                                               \
                skip();                                                                       \
        } while (0)

#endif

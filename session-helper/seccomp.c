/* seccomp.c: placeholder until the syscall policy lands (issue 5). */
#include "seccomp.h"

int seccomp_program_get(const struct config *c, const struct policy *p, struct sock_filter **ret,
                        uint32_t *ret_len, uint32_t *ret_flags, struct isolate_error *err)
{
        *ret = NULL;
        *ret_len = 0;
        *ret_flags = 0;
        return 0;
}

int seccomp_program_build(const struct policy *p, bool optimize, struct sock_filter **ret,
                          uint32_t *ret_len, struct isolate_error *err)
{
        return error_set(err, ENOSYS, "seccomp is not implemented yet");
}

int seccomp_effective(const struct policy *p, struct strv *ret_allowed, struct strv *ret_rules,
                      struct isolate_error *err)
{
        return error_set(err, ENOSYS, "seccomp is not implemented yet");
}

/* lsm.c: placeholder until the LSM support lands (issue 5). */
#include "lsm.h"

bool lsm_apparmor_enabled(void)
{
        return false;
}

bool lsm_selinux_enabled(void)
{
        return false;
}

int lsm_landlock_abi(void)
{
        return 0;
}

int lsm_plan(const struct policy *p, const char *home, struct join_spec *j, char *warnings,
             size_t warnings_len, struct isolate_error *err)
{
        return 0;
}

/* pamstack.c: placeholder until the stack-order lint lands (issue 6). */
#include "pamstack.h"

int pamstack_check(const char *pamd_dir, const char *service, struct config_errors *problems)
{
        return 0;
}

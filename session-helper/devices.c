/* devices.c: placeholder until device resolution lands (issue 4). */
#include "cgroup.h"

int device_resolve(const char *target, unsigned *ret_major, unsigned *ret_minor,
                   struct isolate_error *err)
{
        return error_set(err, ENOSYS, "%s: device resolution is not implemented yet", target);
}

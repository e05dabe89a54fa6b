/* syscalls.h: syscall names and the named groups of the default allowlist. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct syscall_group {
        const char *name;           /* "@file-system" */
        const char *doc;            /* one line: what it is for */
        const char *const *members; /* NULL-terminated syscall names */
        bool in_default;            /* part of the default interactive allowlist */
};

const struct syscall_group *syscall_groups(size_t *ret_n);
const struct syscall_group *syscall_group_find(const char *name);
/* true when libseccomp knows the name on the native architecture */
bool syscall_name_known(const char *name);
/* A name or an @group, as written in the config. 0, or -EINVAL with a message. */
int syscall_spec_check(const char *spec, char *msg, size_t msg_len);

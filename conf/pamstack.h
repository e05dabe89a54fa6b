/* pamstack.h: lints /etc/pam.d/<service> for pam_isolate's place in the session stack. */
#pragma once

#include "policy.h"

/* Reads pamd_dir/service (following include, substack and @include) and appends one
 * message per problem to problems (e.g. "pam_loginuid.so comes after pam_isolate.so in
 * /etc/pam.d/sshd:31 ..."). Returns the number of problems, or -errno when the file cannot
 * be read. */
int pamstack_check(const char *pamd_dir, const char *service, struct config_errors *problems);

/* For tests: the file whose presence says SELinux is enabled (default
 * /sys/fs/selinux/enforce); pam_selinux after pam_isolate only matters then. */
void pamstack_set_selinux_path(const char *enforce_file);

/* lsm.h: AppArmor / SELinux exec labels and the Landlock ruleset for a session. */
#pragma once

#include <stdbool.h>

#include "../conf/policy.h"
#include "protocol.h"
#include "util.h"

bool lsm_apparmor_enabled(void);
bool lsm_selinux_enabled(void);
int lsm_landlock_abi(void); /* 0 when Landlock is not available */

/* Fills the LSM part of j: exec label path and value, Landlock handled accesses and paths
 * ("$HOME" and "~" expanded to home). Where the policy names an LSM the kernel lacks:
 * p->lsm_required -> -EOPNOTSUPP with a message; else a line appended to warnings. */
int lsm_plan(const struct policy *p, const char *home, struct join_spec *j, char *warnings,
             size_t warnings_len, struct isolate_error *err);

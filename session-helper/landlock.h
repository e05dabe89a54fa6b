/* landlock.h: applies the Landlock part of a join_spec to the calling process. libc only. */
#pragma once

#include "protocol.h"

/* Opens each path (in the caller's current mount namespace, i.e. after the setns), builds
 * the ruleset and restricts the calling process. No-op when j->landlock_handled is 0. */
int landlock_apply(const struct join_spec *j, struct isolate_error *err);

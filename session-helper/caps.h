/* caps.h: the strictest-cap rule. Caps are per user whatever the scope: each one is the
 * strictest over the policies of the user's live (and lingering) sandboxes, recomputed
 * whenever a sandbox opens (helper.c) or ends (the init runs `isolate-helper caps`). */
#pragma once

#include "../conf/policy.h"
#include "registry.h"

/* What the record keeps of p's caps (its first RECORD_MAX_IO io entries). */
void caps_record_fill(const struct policy *p, struct record_caps *ret);

/* *ret becomes a copy of base (NULL: the first live sandbox's policy, for `caps`) whose caps
 * are the strictest over base and every live sandbox of uid in the registry but exclude_id
 * (may be NULL). Each live sandbox counts with its policy as the config defines it now, or,
 * when the config has no policy of that name any more, with the caps its record kept. A
 * smaller number is stricter (cpu_weight too); unset is the loosest. io: every entry of
 * every policy counted, merged per disk by the cgroup code, which keeps the smaller value.
 * Returns the number of live sandboxes counted besides base, or -errno with err set; free
 * *ret with caps_effective_free(). */
int caps_effective(const struct config *c, const struct policy *base, uid_t uid,
                   const char *exclude_id, struct policy *ret, struct session_record *ret_any,
                   struct isolate_error *err);
void caps_effective_free(struct policy *eff);

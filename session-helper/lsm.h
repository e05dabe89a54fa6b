/* lsm.h: AppArmor / SELinux exec labels and the Landlock ruleset for a session. */
#pragma once

#include <stdbool.h>

#include "../conf/policy.h"
#include "../client/protocol.h"
#include "../client/util.h"

bool lsm_apparmor_enabled(void);
bool lsm_selinux_enabled(void);
int lsm_landlock_abi(void); /* 0 when Landlock is not available */

/* Fills the LSM part of j: exec label path and value, Landlock handled accesses and paths
 * ("$HOME" and "~" expand to home). Where the policy names an LSM the kernel lacks:
 * p->lsm_required -> -EOPNOTSUPP with a message; else a line appended to warnings
 * (lines separated by '\n').
 *
 * AppArmor: "exec PROFILE" to /proc/self/attr/apparmor/exec (kernels with LSM stacking),
 * else /proc/self/attr/exec. SELinux: the context to /proc/self/attr/exec. A policy may name
 * both (one config for hosts of either kind): the one this kernel has is used; if it had
 * both, AppArmor is used and a warning says the SELinux context was not.
 *
 * Landlock: handled are the rights of the best ABI the kernel offers; when
 * landlock_read_only is empty only the write-type rights are handled (reading stays
 * allowed everywhere). Read-only paths get read and execute, read-write paths every
 * handled right; once landlock_read_only is set, nothing else can be read or executed, so
 * it must name what the shell and the caller read (/usr, /etc, /lib*, ...).
 * The ruleset also binds the caller (the sshd monitor, root, which still writes
 * utmp/wtmp/lastlog and opens /dev/ptmx and /dev/pts/N after the join), so any Landlock
 * rule brings read-write rules for /dev/{null,zero,full,random,urandom,tty,ptmx,pts},
 * /run/utmp, /var/run/utmp, /var/log/wtmp and /var/log/lastlog (the session's own records,
 * mounts.c; DAC keeps users out of them; those missing on this host are left out quietly).
 * Not the rest of /dev: /dev/shm (POSIX shared memory) is the user's to list. A configured
 * path that does not exist is skipped with a warning; on a file, rights that only apply to
 * directories are dropped.
 *
 * Landlock scoping (j->landlock_scoped): what lsm_scoping_wanted() says, masked by what the
 * kernel has (ABI 6). A scope written true that the kernel lacks: lsm_required refuses, else
 * a warning; one that auto asks for is left out quietly. The caller applies it with a
 * Landlock domain of its own (client/landlock.c), which also confines ptrace and, under
 * hidepid, what /proc shows, to the domain. */
int lsm_plan(const struct policy *p, const char *home, struct join_spec *j, char *warnings,
             size_t warnings_len, struct isolate_error *err);

/* SELinux, after lsm_plan: whether the loaded policy lets the caller (its current context,
 * /proc/PID/attr/current) enter the exec context lsm_plan planned, and under no_new_privs
 * whether it grants nnp_transition there (where the policy has that capability). A transition
 * it denies would fail the shell's exec after the join (a login with a half-applied label):
 * refused here under lsm_required, else the label is dropped with a warning. Nothing is done
 * when no SELinux context is planned or the policy cannot be asked. */
int lsm_check_transition(const struct policy *p, pid_t caller, struct join_spec *j,
                         char *warnings, size_t warnings_len, struct isolate_error *err);

/* The LANDLOCK_SCOPE_* bits the policy asks for, auto resolved by its scope (on for
 * scope = login, off for scope = user); *ret_demanded (may be NULL): those written true. */
uint64_t lsm_scoping_wanted(const struct policy *p, uint64_t *ret_demanded);

/* For unit tests: read sysfs and procfs under other roots (NULL: /sys, /proc), and pretend
 * the kernel's Landlock ABI is abi (-1: ask the kernel). The paths put into a join_spec stay
 * /proc/self/...: only the decision which file exists looks under the proc root. */
void lsm_set_root(const char *sys, const char *proc);
void lsm_set_landlock_abi(int abi);

/* seccomp.h: the policy's syscall filter, compiled with libseccomp in the helper and
 * handed to the caller as raw BPF (the PAM module never links libseccomp). */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>

#include "../conf/policy.h"
#include "../client/util.h"

/* The policy's program, from the cache under <runtime_dir>/seccomp/ (root-only, checked)
 * or compiled and stored there. *ret is NULL when the policy has no filter. ret_flags:
 * SECCOMP_FILTER_FLAG_* for seccomp(2). */
int seccomp_program_get(const struct config *c, const struct policy *p, struct sock_filter **ret,
                        uint32_t *ret_len, uint32_t *ret_flags, struct isolate_error *err);

/* Compiles without the cache; optimize selects libseccomp's binary tree (bench compares). */
int seccomp_program_build(const struct policy *p, bool optimize, struct sock_filter **ret,
                          uint32_t *ret_len, struct isolate_error *err);

/* The effective allowlist for explain: sorted names allowed unconditionally, and the
 * conditional rules as one line each ("clone: without CLONE_NEW* flags"). */
int seccomp_effective(const struct policy *p, struct strv *ret_allowed, struct strv *ret_rules,
                      struct isolate_error *err);
/* Frees what seccomp_effective() returned (each string, the array) and zeroes s. */
void seccomp_strv_free(struct strv *s);

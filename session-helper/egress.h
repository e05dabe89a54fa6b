/* egress.h: a policy's egress_allow enforced in the kernel: cgroup BPF sock_addr programs on
 * connect4, connect6, sendmsg4 and sendmsg6 that look the destination up in a BPF map
 * (egress.c explains the programs, the map and the choices). For the helper, which loads
 * and attaches them before the caller joins, and for isolatectl, which can change the map
 * of a live sandbox. All of it needs root (CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN). */
#pragma once

#include <stdbool.h>

#include "../client/util.h"
#include "../conf/policy.h"

/* The hooks, in the order of egress_bpf.prog_fd. */
enum egress_hook {
        EGRESS_CONNECT4,
        EGRESS_CONNECT6,
        EGRESS_SENDMSG4,
        EGRESS_SENDMSG6,
        EGRESS_N_HOOKS,
};

/* What egress_load() made. Every fd is O_CLOEXEC (the kernel makes BPF fds so). Closing
 * them does not detach: attached programs live as long as the cgroup, and keep the map. */
struct egress_bpf {
        int map_fd; /* the live rule set (a one-slot array of maps; see egress.c) */
        int prog_fd[EGRESS_N_HOOKS];
};

#define EGRESS_BPF_NONE                                                                            \
        (struct egress_bpf)                                                                        \
        {                                                                                          \
                .map_fd = -1, .prog_fd = { -1, -1, -1, -1 }                                        \
        }

/* Makes the map, filled from allow->rules, and loads the four programs (the verifier's
 * complaint, if any, is in err). allow must be filtered (a policy with egress_allow); an
 * empty list makes programs that refuse every destination. On failure nothing is left
 * open and *ret is EGRESS_BPF_NONE. */
int egress_load(const struct egress_allow *allow, struct egress_bpf *ret,
                struct isolate_error *err);

/* Attaches the four programs to cgroup_fd, a directory of the cgroup2 hierarchy (on a v1 or
 * hybrid host: below /sys/fs/cgroup/unified). With BPF_F_ALLOW_MULTI: a descendant cgroup
 * can add programs but neither replace nor bypass these, which run after any of theirs
 * and so judge the final address. All or nothing: on failure what was attached is detached.
 * A socket is judged by the cgroup it was created in: attach before anything joins. */
int egress_attach(const struct egress_bpf *e, int cgroup_fd, struct isolate_error *err);

/* Detaches the four programs of e from cgroup_fd (for a setup that fails after attaching;
 * removing the cgroup detaches them too). Missing ones are not an error. */
int egress_detach(const struct egress_bpf *e, int cgroup_fd, struct isolate_error *err);

/* Replaces the rule set of a live map (egress_bpf.map_fd, or egress_map_find()'s) with
 * allow's, at once: a connect sees the old set or the new one, never a mix, and the
 * programs are not reloaded. */
int egress_map_replace(int map_fd, const struct egress_allow *allow, struct isolate_error *err);

/* The map of the programs attached to cgroup_fd by egress_attach(), opened again (for
 * `isolatectl apply` on a live sandbox): 0 with *ret_map_fd (O_CLOEXEC), -ENOENT when
 * this cgroup has none of ours attached, or -errno. */
int egress_map_find(int cgroup_fd, int *ret_map_fd, struct isolate_error *err);

/* Closes e's fds (attached programs stay attached) and sets it to EGRESS_BPF_NONE. */
void egress_close(struct egress_bpf *e);

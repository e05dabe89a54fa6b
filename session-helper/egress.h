/* egress.h: a policy's egress_allow enforced in the kernel: cgroup BPF sock_addr programs on
 * connect4, connect6, sendmsg4 and sendmsg6 that look the destination up in a BPF map
 * (egress.c explains the programs, the map and the choices). For the helper, which loads
 * and attaches them before the caller joins, and for isolatectl, which can change the map
 * of a live sandbox. All of it needs root (CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN). */
#pragma once

#include <stdbool.h>

#include "../client/util.h"
#include "../conf/policy.h"
#include "egress-log.h"

/* The hooks, in the order of egress_bpf.prog_fd. */
enum egress_hook {
        EGRESS_CONNECT4,
        EGRESS_CONNECT6,
        EGRESS_SENDMSG4,
        EGRESS_SENDMSG6,
        EGRESS_N_HOOKS,
};

/* egress_log: the ring the programs write a struct egress_event into for every refusal
 * (BPF_MAP_TYPE_RINGBUF, EGRESS_LOG_RING_BYTES) and the count of the events it had no room
 * for (a one-slot BPF_F_MMAPABLE array of a u64): what the session's init reads
 * (egress-log.h). Both O_CLOEXEC. Neither is a program: whoever holds them can read the
 * refusals (or keep them from the log), never detach or change the filter. */
struct egress_log {
        int ring_fd;
        int dropped_fd;
};

#define EGRESS_LOG_NONE ((struct egress_log){.ring_fd = -1, .dropped_fd = -1})

/* How much of a refusal the programs write (egress.c: what the kernel's helpers allow). */
enum egress_log_level {
        EGRESS_LOG_OFF,     /* nothing: no egress_log, or the kernel takes no ring buffer */
        EGRESS_LOG_ADDRESS, /* destination, protocol, reason */
        EGRESS_LOG_TASK,    /* and the process: pid, uid, comm */
};

/* What egress_load() made. Every fd is O_CLOEXEC (the kernel makes BPF fds so). Closing
 * them does not detach: attached programs live as long as the cgroup, and keep the maps. */
struct egress_bpf {
        int map_fd; /* the live rule set (a one-slot array of maps; see egress.c) */
        int prog_fd[EGRESS_N_HOOKS];
        enum egress_log_level log_level; /* what the loaded programs log */
};

#define EGRESS_BPF_NONE                                                                            \
        (struct egress_bpf)                                                                        \
        {                                                                                          \
                .map_fd = -1, .prog_fd = {-1, -1, -1, -1}, .log_level = EGRESS_LOG_OFF             \
        }

/* The two maps of egress_log, new and empty. */
int egress_log_new(struct egress_log *ret, struct isolate_error *err);

/* The egress_log maps of the programs attached to cgroup_fd by egress_attach(), opened again
 * (a later login of the sandbox under systemd gets programs of its own on its own scope,
 * which must write where the sandbox's init reads): 0, -ENOENT when they have none, or
 * -errno. */
int egress_log_find(int cgroup_fd, struct egress_log *ret, struct isolate_error *err);

/* Closes l's fds and sets it to EGRESS_LOG_NONE. */
void egress_log_close(struct egress_log *l);

/* Makes the map, filled from allow->rules, and loads the four programs (the verifier's
 * complaint, if any, is in err). allow must be filtered (a policy with egress_allow); an
 * empty list makes programs that refuse every destination. elog (NULL or EGRESS_LOG_NONE: no
 * logging): the programs write every refusal into it, with as much as this kernel lets
 * them (ret->log_level says what: a kernel that gives these programs no task helpers or no
 * ring buffer gets programs that log less or nothing, rather than no filter). On failure
 * nothing is left open and *ret is EGRESS_BPF_NONE. */
int egress_load(const struct egress_allow *allow, const struct egress_log *elog,
                struct egress_bpf *ret, struct isolate_error *err);

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

/* join.h: the client side of a session, used by pam_isolate.so and isolatectl alike.
 * libc only. */
#pragma once

#include "protocol.h"
#include "util.h"

/* Asks the init of the user's sandbox first when a ticket leads there (ticket.h: then
 * ret->from_ticket is set and no helper runs). Otherwise runs `helper open --config config`
 * with a clean environment and a socketpair, sends req, and waits up to timeout_ms for the
 * reply. On a transport failure (no helper, it died, it
 * timed out) returns -errno with a message; *ret_hello_seen then tells whether the helper
 * got as far as loading the config (and ret->fail_open holds its fail mode). The helper
 * is always reaped (or killed and reaped) before this returns. */
int session_open(const char *helper, const char *config, const struct open_request *req,
                 int timeout_ms, bool quiet_helper, struct open_reply *ret, bool *ret_hello_seen,
                 struct isolate_error *err);

/* Applies j to the calling process: LSM exec label, its move into the session's cgroups
 * (the cgroup fds are used and closed), setns (all namespaces at once), Landlock, bounding
 * set, no_new_privs, seccomp. Must run single-threaded. Once the cgroup move has started
 * any failure leaves the process half-joined: the caller must deny. */
int session_join(struct join_spec *j, struct isolate_error *err);

/* Asks the session init to kill every other process of the session and waits for it. */
int session_close(int control_fd, int timeout_ms, struct isolate_error *err);

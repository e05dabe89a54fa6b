/* ticket.h: a later login of a user-scope sandbox joins it without running the helper.
 * libc only (the PAM module links it).
 *
 * The helper decides a login's policy from the config file, the user's passwd entry (and
 * groups, where the config matches on groups), the PAM service (and rhost, where the config
 * matches on networks). While none of those changes, the same login gets the same decision.
 * So after a login of a user-scope sandbox that it confined or joined, the helper hands the
 * sandbox's init that login's reply and its ticket key, the text of exactly those inputs
 * (MSG_TICKET), and links
 *
 *   <runtime_dir>/sessions/<UID>-<SERVICE>.join  ->  "<ID>:<NEEDS>"
 *
 * (NEEDS: TICKET_NEEDS_* letters, which inputs the config's rules read). A later login of
 * that user and service reads the link, builds its own key the same way and asks the init
 * (MSG_TICKET_JOIN); the init answers only a key it holds, byte for byte, with the reply the
 * helper gave, and counts the login as it counts one the helper brings. Anything else (no
 * link, another key because the config or the user changed, an init that ended or does not
 * know tickets) and the login goes to the helper as before.
 *
 * What the helper does for a joining login and a ticket skips: the caps (the user's live
 * sandboxes and the config are unchanged, so the strictest-cap rule gives what is written
 * already) and the registry lookup. No ticket is given where a join does more: egress under
 * systemd (each login's scope gets its own programs). */
#pragma once

#include <sys/types.h>

#include "protocol.h"

#define TICKET_KEY_MAX      4096
#define TICKET_NEEDS_GROUPS 'g' /* the config matches on groups: the key lists the user's */
#define TICKET_NEEDS_RHOST  'r' /* the config matches on networks: the key holds the rhost */

/* The config file's identity, from an open fd of it: path, device, inode, size, mtime and
 * ctime to the nanosecond. Any edit, replacement or chmod changes it. */
int ticket_config_stamp(int fd, const char *path, char *buf, size_t size);

/* The key of a login: stamp, the user's name, uid, gid and home from the passwd database,
 * the service, and per needs the rhost and the user's group ids. Returns its length, or
 * -errno (-ENOENT: no such user, -E2BIG: it does not fit). *ret_uid: the user's uid. */
int ticket_key(const char *stamp, const struct open_request *req, const char *needs,
               uid_t *ret_uid, char *buf, size_t size);

/* "<UID>-<SERVICE>.join"; -EINVAL for a service that cannot be a file name. */
int ticket_link_name(uid_t uid, const char *service, char *buf, size_t size);

/* The caller's side; ret as session_open() sets it up (zeroed, join_spec_init). 1 when the init of the user's sandbox answered with a reply to join
 * (ret filled, ret->from_ticket set), 0 when there is no ticket for this login, whatever the
 * reason (the caller then runs the helper). Never an error: nothing has happened to the
 * caller, and the helper decides. */
int session_open_ticket(const char *config, const struct open_request *req, int timeout_ms,
                        struct open_reply *ret);

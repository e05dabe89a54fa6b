/* ticket.h: a later login of a user-scope sandbox joins it without running the helper.
 * libc only (the PAM module links it).
 *
 * The helper decides a login's policy from the config file, the user's passwd entry (and
 * group names, where the config matches on groups), the PAM service (and rhost, where the
 * config matches on networks), by its own code. While none of those changes, the same login
 * gets the same decision. So after a login of a user-scope sandbox that it confined or
 * joined, the helper hands the sandbox's init that login's reply and its ticket key, the text
 * of exactly those inputs as its decision read them (MSG_TICKET), and links
 *
 *   <runtime_dir>/sessions/<UID>-<SERVICE>.join  ->  "<ID>:<NEEDS>"
 *
 * (NEEDS: TICKET_NEEDS_* letters, which inputs the config's rules read). A later login of
 * that user and service reads the link, builds its own key the same way from what it reads
 * now and asks the init
 * (MSG_TICKET_JOIN); the init answers only a key it holds, byte for byte, with the reply the
 * helper gave, and counts the login as it counts one the helper brings. Anything else (no
 * link, another key because the config or the user changed, an init that ended or does not
 * know tickets) and the login goes to the helper as before.
 *
 * The helper's own code is an input too: the caller stamps the helper binary it would run
 * (the request's helper_stamp; an upgrade replaces the file), and a helper gives no ticket
 * to a caller that did not stamp it. Under systemd (NEEDS 's') a caller joins by ticket only
 * from under the user's own user-UID.slice, where logind put the login and the user's caps
 * apply; anything else (su from root's session) goes to the helper, which decides.
 * The caller's wait is bounded: a non-blocking connect and TICKET_ANSWER_MS for the answer,
 * so an init held up by stalled peers sends the login to the helper, not past its timeout.
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
#define TICKET_NEEDS_SLICE  's' /* systemd: the caller must be under user-UID.slice */
#define TICKET_ANSWER_MS    1000 /* the caller's wait for the init's answer */

/* Who logs in, as the helper's decision read it: the passwd entry and (needs 'g') the
 * names of the user's groups, primary first (user_groups_lookup(), which the helper's
 * login_info_lookup_ext() uses too). */
struct ticket_who {
        const char *name; /* the passwd entry's: rules match it */
        uid_t uid;
        gid_t gid;
        const char *home;
        char *const *groups;
        size_t n_groups;
};

/* A file's identity, from an open fd of it: "WORD path device inode size mtime ctime", the
 * times to the nanosecond. Any edit, replacement or chmod changes it. WORD: "config" for the
 * config file, "helper" for the helper binary. */
int ticket_stamp(int fd, const char *word, const char *path, char *buf, size_t size);
static inline int ticket_config_stamp(int fd, const char *path, char *buf, size_t size)
{
        return ticket_stamp(fd, "config", path, buf, size);
}

/* The key of a login: the config's stamp, the request's helper stamp, the name as given and
 * who's name, uid, gid and home, the service, and per needs the rhost and who's group names.
 * Returns its length, or -errno (-EINVAL: a value that holds a newline, or no helper stamp;
 * -E2BIG: it does not fit). */
int ticket_key(const char *config_stamp, const struct open_request *req,
               const struct ticket_who *who, const char *needs, char *buf, size_t size);

/* "<UID>-<SERVICE>.join"; -EINVAL for a service that cannot be a file name. */
int ticket_link_name(uid_t uid, const char *service, char *buf, size_t size);

/* The caller's side; ret as session_open() sets it up (zeroed, join_spec_init). 1 when the init of the user's sandbox answered with a reply to join
 * (ret filled, ret->from_ticket set), 0 when there is no ticket for this login, whatever the
 * reason (the caller then runs the helper). Never an error: nothing has happened to the
 * caller, and the helper decides. */
int session_open_ticket(const char *config, const struct open_request *req, int timeout_ms,
                        struct open_reply *ret);

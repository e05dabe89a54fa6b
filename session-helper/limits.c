/* limits.c: the file table and the session count, bounded per user (see limits.h). */
#include "limits.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "registry.h"

uint64_t limits_nofile(const struct config *c, const struct policy *p, char *why, size_t why_len)
{
        char dummy[8];
        if (!why) {
                why = dummy;
                why_len = sizeof(dummy);
        }
        if (p->nofile == LIMIT_MAX) {
                snprintf(why, why_len, "nofile = max: what the caller has (pam_limits)");
                return 0;
        }
        if (p->nofile != LIMIT_UNSET) {
                snprintf(why, why_len, "set by the policy");
                return p->nofile;
        }
        /* The user's task cap is the strictest over the user's live sandboxes (caps.h) and
         * changes as they come and go, while this limit is set once at the join: a session of
         * this policy may run under any policy's pids_max, so the share takes the largest. */
        uint64_t pids = 0;
        const char *from = p->name;
        for (size_t i = 0; i < c->n_policies; i++) {
                uint64_t v = c->policies[i].pids_max;
                if (v == LIMIT_UNSET || v == LIMIT_MAX) {
                        snprintf(
                            why, why_len,
                            "derived: %llu, the floor (policy %s sets no pids_max, so no share "
                            "of fs.file-max can be computed)",
                            (unsigned long long)NOFILE_FLOOR, c->policies[i].name);
                        return NOFILE_FLOOR;
                }
                if (v > pids) {
                        pids = v;
                        from = c->policies[i].name;
                }
        }
        if (pids == 0)
                return NOFILE_FLOOR; /* no policy: nothing is confined anyway */
        uint64_t file_max = 0;
        if (read_u64_at(AT_FDCWD, "/proc/sys/fs/file-max", &file_max) < 0 || file_max == 0) {
                snprintf(why, why_len, "derived: %llu, the floor (fs.file-max is unreadable)",
                         (unsigned long long)NOFILE_FLOOR);
                return NOFILE_FLOOR;
        }
        uint64_t n = file_max / 4 / pids;
        if (n > (1u << 30))
                n = 1u << 30; /* the kernel's own ceiling (fs.nr_open) is 1 << 30 */
        if (n < NOFILE_FLOOR) {
                snprintf(why, why_len,
                         "derived: %llu, the floor; a quarter of fs.file-max (%llu) over the "
                         "largest pids_max (%llu, policy %s) is only %llu",
                         (unsigned long long)NOFILE_FLOOR, (unsigned long long)file_max,
                         (unsigned long long)pids, from, (unsigned long long)n);
                return NOFILE_FLOOR;
        }
        snprintf(why, why_len,
                 "derived: a quarter of fs.file-max (%llu) over the largest pids_max (%llu, "
                 "policy %s)",
                 (unsigned long long)file_max, (unsigned long long)pids, from);
        return n;
}

struct session_count {
        uid_t uid;
        uint64_t n;
};

static int count_user_session(const struct session_record *r, void *data)
{
        struct session_count *c = data;
        if (r->uid == c->uid && registry_session_alive(r))
                c->n++;
        return 0;
}

int limits_sessions_check(const char *runtime_dir, const struct policy *p, uid_t uid,
                          const char *user, struct isolate_error *err)
{
        if (p->max_sessions == LIMIT_MAX || p->max_sessions == LIMIT_UNSET)
                return 0;
        struct session_count c = {.uid = uid};
        int r = registry_foreach(runtime_dir, count_user_session, &c);
        if (r == -EPROTONOSUPPORT)
                return registry_format_error(runtime_dir, err);
        if (r < 0)
                return error_set_errno(err, r, "cannot read %s/sessions", runtime_dir);
        if (c.n >= p->max_sessions)
                return error_set(err, EUSERS,
                                 "user %s already has %llu live sessions, and policy %s allows "
                                 "%llu (max_sessions); end one (isolatectl list, isolatectl "
                                 "kill) or raise max_sessions",
                                 user, (unsigned long long)c.n, p->name,
                                 (unsigned long long)p->max_sessions);
        return 0;
}

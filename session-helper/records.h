/* records.h: the session's login records copied to the host's (utmp, wtmp, lastlog).
 *
 * The sshd monitor writes its records after the join, into the session's own files, which
 * users cannot open (mounts.c, records_view()). The session's init copies each new or
 * changed record to the host's files, by name in the host's /run and /var/log (so a
 * logrotate in between is followed), with the line renamed: the session's ptys are pts/N
 * of its own devpts, as in every other session, and the host's utmp is keyed by the line
 * (its last four characters, ut_id). libc only: linked into the static init. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <utmp.h>

#define RECORDS_LASTLOG_SIZE sizeof(struct lastlog)
#define RECORDS_MAX_UTMP     64 /* the session's own utmp entries followed */

struct records {
        int dir;      /* the session's records (utmp, wtmp, lastlog), O_PATH */
        int host_log; /* the host's /var/log, O_PATH; -1: none */
        int host_utmp; /* the host's utmp file, O_PATH; -1: none */
        char session_id[33];
        uid_t uid;
        off_t wtmp_done; /* bytes of the session's wtmp copied */
        struct utmp seen[RECORDS_MAX_UTMP]; /* the session's utmp as last copied */
        size_t n_seen;
        struct lastlog last; /* the user's lastlog record as last copied */
        bool live[RECORDS_MAX_UTMP]; /* a USER_PROCESS copied for seen[i], not ended yet */
};

/* "pts/3" of session 1f2e... -> "pts/3:1f2e3d" (in 32 bytes), other lines as they are. */
void records_line(const char *line, size_t line_len, const char *session_id, char out[32]);
/* The utmp id of a renamed line: four printable characters from a hash of it (the host's
 * utmp replaces the entry with the same id). */
void records_id(const char *line, size_t line_len, char out[4]);

void records_init(struct records *r, int dir, int host_log, int host_utmp, const char *session_id,
                  uid_t uid);
/* Copies what is new since the last call. Returns the number of records copied, or -errno
 * for the first failure (it goes on with the others). */
int records_copy(struct records *r);
/* At the end of the session: copies what is left, then ends on the host every login of the
 * session still shown live (the monitor was killed before its logout record). */
void records_end(struct records *r);

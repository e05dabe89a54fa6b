/* log.h: one structured entry per decision of the helper, and per act of isolatectl kill and
 * apply: to the journal with MESSAGE_ID and the ISOLATE_* fields (client/journal.h) when
 * journald takes it, else to syslog (LOG_AUTHPRIV), identifier "isolate" either way. */
#pragma once

#include <stdint.h>
#include <syslog.h>

#include "../client/events.h"

struct log_decision {
        const char *message_id; /* client/events.h: EVENT_HELPER_DECISION, EVENT_KILLED, ... */
        const char *user, *service, *rhost, *tty;
        const char *policy;     /* "" when none */
        const char *session_id; /* "" when none */
        const char *outcome;    /* "confined", "exempt", "ignored", "denied", "fail-open",
                                   "killed", "applied", "apply-failed" */
        const char *reason;     /* why: the rule that matched, or what failed */
        uint64_t duration_us;
};

void log_decision(int priority, const struct log_decision *d);

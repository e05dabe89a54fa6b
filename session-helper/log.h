/* log.h: one structured entry per decision of the helper: to the journal with ISOLATE_*
 * fields when journald runs, else to syslog (LOG_AUTHPRIV). */
#pragma once

#include <stdint.h>
#include <syslog.h>

struct log_decision {
        const char *user, *service, *rhost, *tty;
        const char *policy;     /* "" when none */
        const char *session_id; /* "" when none */
        const char *outcome;    /* "confined", "exempt", "ignored", "denied", "fail-open" */
        const char *reason;     /* why: the rule that matched, or what failed */
        uint64_t duration_us;
};

void log_decision(int priority, const struct log_decision *d);

/* For tests: where the journal's native socket is (default /run/systemd/journal/socket). */
void log_set_journal_socket(const char *path);

/* log.c: see log.h. The journal gets the entry through its native protocol
 * (client/journal.c), so that the helper does not load libsystemd on every login just to
 * log; syslog when there is no journal or it did not take the entry. */
#include "log.h"

#include <stdio.h>

#include "../client/journal.h"

static const char *or_dash(const char *s)
{
        return s && *s ? s : "-";
}

void log_decision(int priority, const struct log_decision *d)
{
        char msg[2048];
        snprintf(msg, sizeof(msg),
                 "user=%s service=%s rhost=%s tty=%s policy=%s session=%s outcome=%s "
                 "duration=%.2fms: %s",
                 or_dash(d->user), or_dash(d->service), or_dash(d->rhost), or_dash(d->tty),
                 or_dash(d->policy), or_dash(d->session_id), d->outcome,
                 (double)d->duration_us / 1000.0, or_dash(d->reason));
        struct journal_event e = {
            .message_id = d->message_id,
            .message = msg,
            .identifier = "isolate",
            .priority = priority,
            .user = d->user,
            .service = d->service,
            .rhost = d->rhost,
            .tty = d->tty,
            .policy = d->policy,
            .session_id = d->session_id,
            .outcome = d->outcome,
            .reason = d->reason,
            .duration_us = d->duration_us,
        };
        if (journal_send_event(&e) == 0)
                return;
        openlog("isolate", LOG_PID, LOG_AUTHPRIV);
        syslog(priority, "%s", msg);
        closelog();
}

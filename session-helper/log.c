/* log.c: see log.h. */
#include "log.h"

#include <stdio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

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
        if (access("/run/systemd/journal/socket", W_OK) == 0) {
                int r = sd_journal_send("MESSAGE=isolate: %s", msg, "PRIORITY=%d", priority,
                                        "SYSLOG_IDENTIFIER=isolate", "SYSLOG_FACILITY=%d",
                                        LOG_AUTHPRIV >> 3, "ISOLATE_USER=%s", or_dash(d->user),
                                        "ISOLATE_SERVICE=%s", or_dash(d->service),
                                        "ISOLATE_RHOST=%s", or_dash(d->rhost),
                                        "ISOLATE_TTY=%s", or_dash(d->tty), "ISOLATE_POLICY=%s",
                                        or_dash(d->policy), "ISOLATE_SESSION=%s",
                                        or_dash(d->session_id), "ISOLATE_OUTCOME=%s",
                                        d->outcome, "ISOLATE_REASON=%s", or_dash(d->reason),
                                        "ISOLATE_DURATION_US=%llu",
                                        (unsigned long long)d->duration_us, NULL);
                if (r >= 0)
                        return;
        }
        openlog("isolate", LOG_PID, LOG_AUTHPRIV);
        syslog(priority, "%s", msg);
        closelog();
}

/* journal.c: see journal.h and events.h. */
#include "journal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "events.h"
#include "util.h"

const struct isolate_event isolate_events[] = {
    {"confined", EVENT_CONFINED},
    {"joined", EVENT_JOINED},
    {"exempt", EVENT_EXEMPT},
    {"ignored", EVENT_IGNORED},
    {"denied", EVENT_DENIED},
    {"fail-open", EVENT_FAIL_OPEN},
    {"fail-open-root", EVENT_FAIL_OPEN},
    {"closed", EVENT_CLOSED},
    {"close-failed", EVENT_CLOSE_FAILED},
    {"killed", EVENT_KILLED},
    {"applied", EVENT_APPLIED},
    {"apply-failed", EVENT_APPLY_FAILED},
};
const size_t isolate_events_n = ELEMENTSOF(isolate_events);

const char *event_message_id(const char *outcome)
{
        for (size_t i = 0; outcome && i < isolate_events_n; i++)
                if (STREQ(isolate_events[i].outcome, outcome))
                        return isolate_events[i].message_id;
        return NULL;
}

static const char *journal_socket = "/run/systemd/journal/socket";

void journal_set_socket(const char *path)
{
        journal_socket = path;
}

static const char *or_dash(const char *s)
{
        return s && *s ? s : "-";
}

/* Appends FIELD=value, or the binary form when value holds a newline: FIELD\n, the value's
 * length as 64-bit little endian, the value, \n. 0, or -ENOBUFS when it does not fit. */
static int field_add(char *buf, size_t len, size_t *pos, const char *name, const char *value)
{
        size_t nl = strlen(name), vl = strlen(value);
        bool binary = memchr(value, '\n', vl) != NULL;
        size_t need = nl + 1 + (binary ? 8 : 0) + vl + 1;
        if (need > len - *pos)
                return -ENOBUFS;
        memcpy(buf + *pos, name, nl);
        *pos += nl;
        if (binary) {
                buf[(*pos)++] = '\n';
                /* byte by byte by shifts: the same bytes whatever the host's byte order */
                uint64_t n = vl;
                for (int i = 0; i < 8; i++)
                        buf[(*pos)++] = (char)((n >> (8 * i)) & 0xff);
        } else
                buf[(*pos)++] = '=';
        memcpy(buf + *pos, value, vl);
        *pos += vl;
        buf[(*pos)++] = '\n';
        return 0;
}

int journal_send_event(const struct journal_event *e)
{
        char buf[12288];
        size_t pos = 0;
        char prio[16], facility[16], pid[24], duration[32];
        snprintf(prio, sizeof(prio), "%d", LOG_PRI(e->priority));
        snprintf(facility, sizeof(facility), "%d", LOG_AUTHPRIV >> 3);
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        snprintf(duration, sizeof(duration), "%llu", (unsigned long long)e->duration_us);
        const char *fields[][2] = {
            {"MESSAGE_ID", e->message_id},
            {"MESSAGE", or_dash(e->message)},
            {"PRIORITY", prio},
            {"SYSLOG_FACILITY", facility},
            {"SYSLOG_IDENTIFIER", or_dash(e->identifier)},
            {"SYSLOG_PID", pid},
            {"ISOLATE_USER", or_dash(e->user)},
            {"ISOLATE_SERVICE", or_dash(e->service)},
            {"ISOLATE_RHOST", or_dash(e->rhost)},
            {"ISOLATE_TTY", or_dash(e->tty)},
            {"ISOLATE_POLICY", or_dash(e->policy)},
            {"ISOLATE_SESSION", or_dash(e->session_id)},
            {"ISOLATE_OUTCOME", or_dash(e->outcome)},
            {"ISOLATE_REASON", or_dash(e->reason)},
            {"ISOLATE_DURATION_US", duration},
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                if (!fields[i][1]) /* an entry without MESSAGE_ID is a bug of the caller */
                        return -EINVAL;
                if (field_add(buf, sizeof(buf), &pos, fields[i][0], fields[i][1]) < 0)
                        return -ENOBUFS;
        }
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(journal_socket) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, journal_socket, strlen(journal_socket) + 1);
        /* never block a login on a journald that is slow or stuck: a full queue is a failed
         * send, and the caller writes the syslog line instead */
        if (sendto(fd, buf, pos, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa)) <
            0)
                return -errno;
        return 0;
}

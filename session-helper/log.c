/* log.c: see log.h.
 *
 * The journal gets the entry through its native protocol (one datagram of FIELD=value lines
 * to /run/systemd/journal/socket, sd-journal's own transport), so that the helper does not
 * load libsystemd on every login just to log; syslog when there is no journal. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../client/util.h"

static const char *journal_socket = "/run/systemd/journal/socket";

void log_set_journal_socket(const char *path)
{
        journal_socket = path;
}

static const char *or_dash(const char *s)
{
        return s && *s ? s : "-";
}

/* Appends FIELD=value (the binary form when value holds a newline); 0 or -ENOBUFS. */
static int field_add(char *buf, size_t len, size_t *pos, const char *name, const char *value)
{
        size_t nl = strlen(name), vl = strlen(value);
        bool binary = memchr(value, '\n', vl) != NULL;
        size_t need = nl + 1 + (binary ? 8 : 0) + vl + 1;
        if (*pos + need > len)
                return -ENOBUFS;
        memcpy(buf + *pos, name, nl);
        *pos += nl;
        if (binary) {
                buf[(*pos)++] = '\n';
                /* the protocol's 64-bit little-endian length, taken byte by byte from the
                 * value by shifts: the same bytes whatever the host's byte order */
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

static int journal_send(int priority, const char *message, const struct log_decision *d)
{
        char buf[8192];
        size_t pos = 0;
        char prio[16], facility[16], duration[32];
        snprintf(prio, sizeof(prio), "%d", priority);
        snprintf(facility, sizeof(facility), "%d", LOG_AUTHPRIV >> 3);
        snprintf(duration, sizeof(duration), "%llu", (unsigned long long)d->duration_us);
        const char *fields[][2] = {
            {"MESSAGE", message},
            {"PRIORITY", prio},
            {"SYSLOG_FACILITY", facility},
            {"SYSLOG_IDENTIFIER", "isolate"},
            {"ISOLATE_USER", or_dash(d->user)},
            {"ISOLATE_SERVICE", or_dash(d->service)},
            {"ISOLATE_RHOST", or_dash(d->rhost)},
            {"ISOLATE_TTY", or_dash(d->tty)},
            {"ISOLATE_POLICY", or_dash(d->policy)},
            {"ISOLATE_SESSION", or_dash(d->session_id)},
            {"ISOLATE_OUTCOME", d->outcome},
            {"ISOLATE_REASON", or_dash(d->reason)},
            {"ISOLATE_DURATION_US", duration},
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (field_add(buf, sizeof(buf), &pos, fields[i][0], fields[i][1]) < 0)
                        return -ENOBUFS;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", journal_socket);
        if (sendto(fd, buf, pos, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        return 0;
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
        if (access(journal_socket, W_OK) == 0 && journal_send(priority, msg, d) == 0)
                return;
        openlog("isolate", LOG_PID, LOG_AUTHPRIV);
        syslog(priority, "%s", msg);
        closelog();
}

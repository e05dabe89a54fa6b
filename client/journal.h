/* journal.h: one entry to journald through its native protocol, libc only.
 *
 * A datagram of FIELD=value lines to /run/systemd/journal/socket, the transport sd-journal
 * uses, written here so that neither the PAM module (inside sshd, su, login) nor the helper
 * links or loads libsystemd to log. Never blocks (MSG_DONTWAIT) and leaves no fd open: the
 * socket lives for the one send. The caller falls back to syslog when it fails. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* An isolate event with the fields pam_isolate(8) documents. NULL or "" values are sent
 * as "-". Values are sent as they are (a value holding a newline in the protocol's binary
 * form); no secret belongs in any of them. */
struct journal_event {
        const char *message_id; /* client/events.h */
        const char *message;    /* MESSAGE: the text the syslog line would carry */
        const char *identifier; /* SYSLOG_IDENTIFIER */
        int priority;           /* LOG_ERR, LOG_INFO, ... (facility authpriv is added) */
        const char *user, *service, *rhost, *tty;
        const char *policy, *session_id;
        const char *outcome; /* ISOLATE_OUTCOME */
        const char *reason;  /* ISOLATE_REASON */
        uint64_t duration_us;
};

/* 0 when journald's socket took the entry; -ENOENT (or -ECONNREFUSED) when no journald
 * listens, -EAGAIN when its queue is full, -EMSGSIZE/-ENOBUFS when the entry is too big,
 * else -errno. */
int journal_send_event(const struct journal_event *e);

/* For the unit tests only: the socket to send to instead of /run/systemd/journal/socket.
 * Deliberately no environment variable: the module and the helper run as root in processes
 * a user starts (su), and a user must not be able to move their log elsewhere. */
void journal_set_socket(const char *path);

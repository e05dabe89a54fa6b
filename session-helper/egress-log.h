/* egress-log.h: egress_log, the refusals of egress_allow in the host's log. The programs of
 * egress.c write one struct egress_event per refused connect or send into a BPF ring buffer,
 * and count the ones it had no room for; the session's init (pid 1 of the sandbox, root)
 * reads the ring and syslogs one line per refusal, rate-limited: at most EGRESS_LOG_BURST
 * lines in a window of a second, then one line with how many it left out. No daemon: the
 * ring lives as long as the programs and the init hold it.
 *
 * This half is libc only: the static init links it. Making the maps is egress.c's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 256 events of 64 bytes (the record's header included); a power of 2 and a multiple of the
 * page size. Per sandbox: a flood beyond it while the init is not reading is counted, not
 * kept (past the first EGRESS_LOG_BURST it would not be logged anyway). */
#define EGRESS_LOG_RING_BYTES (16 * 1024)

#define EGRESS_LOG_BURST     10 /* lines per window, per sandbox */
#define EGRESS_LOG_WINDOW_NS 1000000000ull

/* Why a program said no. */
enum egress_refusal {
        EGRESS_REFUSED_NOT_LISTED = 1, /* no entry of egress_allow takes the destination */
        EGRESS_REFUSED_PROTOCOL = 2,   /* neither TCP nor UDP (SCTP, a ping socket's connect) */
        EGRESS_REFUSED_NO_RULES = 3,   /* the map held no rule set (never, once loaded) */
};

/* One refusal, as a program writes it (egress.c stores each field at its offset). */
struct egress_event {
        uint64_t pid_tgid; /* the host's tgid << 32 | tid (task set) */
        uint64_t uid_gid;  /* gid << 32 | uid (task set) */
        uint8_t addr[16];  /* IPv6; IPv4 as v4-mapped */
        uint16_t port;     /* network byte order */
        uint8_t proto;     /* the socket's IPPROTO_* */
        uint8_t reason;    /* enum egress_refusal */
        uint8_t v6;        /* 1: connect6 or sendmsg6; 0: the IPv4 hooks */
        uint8_t task;      /* 1: pid_tgid, uid_gid and comm are filled (see egress.c) */
        uint8_t zero[2];
        char comm[16]; /* the thread's name, as the user set it: not to be trusted */
};
_Static_assert(sizeof(struct egress_event) == 56, "the programs' layout");

/* The rate limit: a window of EGRESS_LOG_WINDOW_NS opens at the first refusal and takes
 * EGRESS_LOG_BURST lines; what comes after in the same window is counted, and reported in
 * one line when it closes. Times are CLOCK_MONOTONIC ns. */
struct egress_ratelimit {
        uint64_t window_start;
        unsigned in_window;
        uint64_t suppressed;
        bool open;
};

/* Whether the refusal seen at now gets its line (else it is counted). */
bool egress_ratelimit_take(struct egress_ratelimit *rl, uint64_t now);
/* n refusals that never got to the reader (the ring was full): counted. */
void egress_ratelimit_suppress(struct egress_ratelimit *rl, uint64_t n, uint64_t now);
/* When the window closes with something counted (for a timer), 0 when nothing waits. */
uint64_t egress_ratelimit_deadline(const struct egress_ratelimit *rl);
/* Closes the window if it is over at now (or force): what it counted, to report. */
uint64_t egress_ratelimit_end(struct egress_ratelimit *rl, uint64_t now, bool force);

/* The reader of one sandbox's ring, in the init. */
struct egress_log_reader {
        uint8_t *consumer; /* one page, read-write: the position we have read up to */
        uint8_t *producer; /* the producer's page and the data, mapped twice over */
        size_t page, size; /* the page size; the data's (a power of 2) */
        const volatile uint64_t *dropped; /* the programs' count of events with no room */
        uint64_t dropped_seen;
        struct egress_ratelimit rl;
        const char *session, *policy; /* for the lines */
};

/* Maps the ring (ring_fd, BPF_MAP_TYPE_RINGBUF) and the counter (dropped_fd, a one-slot
 * BPF_F_MMAPABLE array; -1: none). -errno when they cannot be mapped. */
int egress_log_reader_open(struct egress_log_reader *r, int ring_fd, int dropped_fd,
                           const char *session, const char *policy);
void egress_log_reader_close(struct egress_log_reader *r);

typedef void (*egress_log_emit)(const char *line, void *data);

/* Takes every event the ring holds: a line each through emit while the window has room,
 * counted otherwise; a window that is over is reported first. Returns
 * egress_ratelimit_deadline() afterwards: when to call egress_log_flush, 0 when nothing is
 * counted. Until then the caller need not read the ring at all: a flood then costs the
 * programs no wakeup of the reader (the ring fills, then the programs count), and the flush
 * takes what came meanwhile into the window it came in. */
uint64_t egress_log_drain(struct egress_log_reader *r, uint64_t now, egress_log_emit emit,
                          void *data);
/* Ends the window that is over by now (force: whatever its state, at the end of the
 * sandbox): the ring read as of its last instant, then its count line if it counted any. */
void egress_log_flush(struct egress_log_reader *r, uint64_t now, bool force, egress_log_emit emit,
                      void *data);

/* One refusal as a line (without syslog's prefix):
 *   session ID: egress refused: 10.0.0.5:443/tcp (pid 1234 uid 1000 comm "curl"): not in
 *   policy bastion's egress_allow */
void egress_event_format(const struct egress_event *e, const char *session, const char *policy,
                         char *buf, size_t len);
/* The line of a window that counted n refusals it did not log. */
void egress_suppressed_format(uint64_t n, const char *session, char *buf, size_t len);

/* egress-log.c: the init's side of egress_log (egress-log.h): the ring read through mmap, as
 * the kernel lays it out (Documentation/bpf/ringbuf.rst: a consumer page the reader writes its
 * position to, a producer page, then the data mapped twice so that a record that wraps reads
 * as one), the rate limit, and the lines. */
#include "egress-log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* the record header: its length, with these flags, then its page offset (8 bytes) */
#define RB_BUSY    (1u << 31) /* reserved, not yet committed */
#define RB_DISCARD (1u << 30)
#define RB_HDR     8u

/* ---- the rate limit ------------------------------------------------------------------------ */

bool egress_ratelimit_take(struct egress_ratelimit *rl, uint64_t now)
{
        if (!rl->open || now - rl->window_start >= EGRESS_LOG_WINDOW_NS) {
                /* a window over with nothing counted ends silently; one with a count has
                 * been reported by egress_ratelimit_end first (egress_log_drain) */
                rl->open = true;
                rl->window_start = now;
                rl->in_window = 0;
        }
        if (rl->in_window < EGRESS_LOG_BURST) {
                rl->in_window++;
                return true;
        }
        rl->suppressed++;
        return false;
}

void egress_ratelimit_suppress(struct egress_ratelimit *rl, uint64_t n, uint64_t now)
{
        if (n == 0)
                return;
        if (!rl->open) {
                rl->open = true;
                rl->window_start = now;
                rl->in_window = 0;
        }
        rl->suppressed += n;
}

uint64_t egress_ratelimit_deadline(const struct egress_ratelimit *rl)
{
        return rl->open && rl->suppressed ? rl->window_start + EGRESS_LOG_WINDOW_NS : 0;
}

uint64_t egress_ratelimit_end(struct egress_ratelimit *rl, uint64_t now, bool force)
{
        if (!rl->open || (!force && now - rl->window_start < EGRESS_LOG_WINDOW_NS))
                return 0;
        uint64_t n = rl->suppressed;
        *rl = (struct egress_ratelimit){0};
        return n;
}

/* ---- the lines ------------------------------------------------------------------------------ */

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
        switch (p) {
        case IPPROTO_TCP:
                return "tcp";
        case IPPROTO_UDP:
                return "udp";
        case IPPROTO_ICMP:
                return "icmp";
        case IPPROTO_ICMPV6:
                return "icmpv6";
        case IPPROTO_SCTP:
                return "sctp";
        default:
                snprintf(buf, len, "protocol %u", p);
                return buf;
        }
}

/* The thread name is the user's to choose (prctl PR_SET_NAME): quoted, and nothing that could
 * end the line, fake a field or confuse a terminal gets through. */
static void comm_clean(const char comm[16], char out[17])
{
        size_t i = 0;
        for (; i < 16 && comm[i]; i++) {
                unsigned char c = (unsigned char)comm[i];
                out[i] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\' ? '?' : (char)c;
        }
        out[i] = '\0';
}

void egress_event_format(const struct egress_event *e, const char *session, const char *policy,
                         char *buf, size_t len)
{
        char addr[INET6_ADDRSTRLEN] = "?", pbuf[24], dest[80], who[96] = "", why[160];
        if (e->v6)
                inet_ntop(AF_INET6, e->addr, addr, sizeof(addr));
        else
                inet_ntop(AF_INET, e->addr + 12, addr, sizeof(addr));
        const char *proto = proto_name(e->proto, pbuf, sizeof(pbuf));
        bool ports = e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP;
        if (ports)
                snprintf(dest, sizeof(dest), "%s%s%s:%u/%s", e->v6 ? "[" : "", addr,
                         e->v6 ? "]" : "", ntohs(e->port), proto);
        else
                snprintf(dest, sizeof(dest), "%s%s%s (%s)", e->v6 ? "[" : "", addr,
                         e->v6 ? "]" : "", proto);
        if (e->task) {
                char comm[17];
                comm_clean(e->comm, comm);
                snprintf(who, sizeof(who), " (pid %u uid %u comm \"%s\")",
                         (unsigned)(e->pid_tgid >> 32), (unsigned)(e->uid_gid & 0xffffffffu), comm);
        }
        switch (e->reason) {
        case EGRESS_REFUSED_PROTOCOL:
                snprintf(why, sizeof(why), "policy %s's egress_allow admits TCP and UDP only",
                         policy);
                break;
        case EGRESS_REFUSED_NO_RULES:
                snprintf(why, sizeof(why), "policy %s's egress map holds no rule set", policy);
                break;
        default:
                snprintf(why, sizeof(why), "not in policy %s's egress_allow", policy);
                break;
        }
        snprintf(buf, len, "session %s: egress refused: %s%s: %s", session, dest, who, why);
}

void egress_suppressed_format(uint64_t n, const char *session, char *buf, size_t len)
{
        snprintf(buf, len,
                 "session %s: egress refused: suppressed %llu more (at most %d lines a "
                 "second per session)",
                 session, (unsigned long long)n, EGRESS_LOG_BURST);
}

/* ---- the ring ------------------------------------------------------------------------------- */

static int map_info(int fd, struct bpf_map_info *info)
{
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        memset(info, 0, sizeof(*info));
        a.info.bpf_fd = (uint32_t)fd;
        a.info.info_len = sizeof(*info);
        a.info.info = (uint64_t)(uintptr_t)info;
        return syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) < 0 ? -errno : 0;
}

void egress_log_reader_close(struct egress_log_reader *r)
{
        if (r->consumer)
                munmap(r->consumer, r->page);
        if (r->producer)
                munmap(r->producer, r->page + 2 * r->size);
        if (r->dropped)
                munmap((void *)r->dropped, r->page);
        memset(r, 0, sizeof(*r));
}

int egress_log_reader_open(struct egress_log_reader *r, int ring_fd, int dropped_fd,
                           const char *session, const char *policy)
{
        memset(r, 0, sizeof(*r));
        r->session = session;
        r->policy = policy;
        long page = sysconf(_SC_PAGESIZE);
        struct bpf_map_info info;
        int e = map_info(ring_fd, &info);
        if (e < 0)
                return e;
        if (info.type != BPF_MAP_TYPE_RINGBUF || page <= 0 || info.max_entries == 0 ||
            (info.max_entries & (info.max_entries - 1)) != 0)
                return -EINVAL;
        r->page = (size_t)page;
        r->size = info.max_entries;
        void *c = mmap(NULL, r->page, PROT_READ | PROT_WRITE, MAP_SHARED, ring_fd, 0);
        if (c == MAP_FAILED)
                return -errno;
        r->consumer = c;
        void *p = mmap(NULL, r->page + 2 * r->size, PROT_READ, MAP_SHARED, ring_fd, (off_t)r->page);
        if (p == MAP_FAILED) {
                e = -errno;
                egress_log_reader_close(r);
                return e;
        }
        r->producer = p;
        if (dropped_fd >= 0) {
                void *d = mmap(NULL, r->page, PROT_READ, MAP_SHARED, dropped_fd, 0);
                if (d == MAP_FAILED) {
                        e = -errno;
                        egress_log_reader_close(r);
                        return e;
                }
                r->dropped = d;
                r->dropped_seen = *r->dropped;
        }
        r->session = session;
        r->policy = policy;
        return 0;
}

static void report_window(struct egress_log_reader *r, uint64_t now, bool force,
                          egress_log_emit emit, void *data)
{
        uint64_t n = egress_ratelimit_end(&r->rl, now, force);
        if (n == 0)
                return;
        char line[256];
        egress_suppressed_format(n, r->session, line, sizeof(line));
        emit(line, data);
}

static void event_take(struct egress_log_reader *r, const struct egress_event *ev, uint64_t now,
                       egress_log_emit emit, void *data)
{
        report_window(r, now, false, emit, data); /* the window before this one, if over */
        if (!egress_ratelimit_take(&r->rl, now))
                return;
        char line[512];
        egress_event_format(ev, r->session, r->policy, line, sizeof(line));
        emit(line, data);
}

uint64_t egress_log_drain(struct egress_log_reader *r, uint64_t now, egress_log_emit emit,
                          void *data)
{
        if (!r->consumer)
                return 0;
        unsigned long *cons_p = (unsigned long *)r->consumer;
        const unsigned long *prod_p = (const unsigned long *)r->producer;
        const uint8_t *ring = r->producer + r->page;
        unsigned long cons = __atomic_load_n(cons_p, __ATOMIC_ACQUIRE);
        for (bool more = true; more;) {
                more = false;
                unsigned long prod = __atomic_load_n(prod_p, __ATOMIC_ACQUIRE);
                while (cons < prod) {
                        const uint32_t *hdr = (const uint32_t *)(ring + (cons & (r->size - 1)));
                        uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
                        if (len & RB_BUSY) /* not committed yet: the rest waits for it */
                                goto done;
                        more = true;
                        uint32_t n = len & ~(RB_BUSY | RB_DISCARD);
                        if (!(len & RB_DISCARD) && n >= sizeof(struct egress_event)) {
                                struct egress_event ev;
                                memcpy(&ev, (const uint8_t *)hdr + RB_HDR, sizeof(ev));
                                event_take(r, &ev, now, emit, data);
                        }
                        cons += (n + RB_HDR + 7) & ~7ul;
                        __atomic_store_n(cons_p, cons, __ATOMIC_RELEASE);
                }
        }
done:
        if (r->dropped) {
                uint64_t d = *r->dropped;
                if (d != r->dropped_seen) {
                        report_window(r, now, false, emit, data);
                        egress_ratelimit_suppress(&r->rl, d - r->dropped_seen, now);
                        r->dropped_seen = d;
                }
        }
        return egress_ratelimit_deadline(&r->rl);
}

void egress_log_flush(struct egress_log_reader *r, uint64_t now, bool force, egress_log_emit emit,
                      void *data)
{
        if (!force && r->rl.open && now - r->rl.window_start < EGRESS_LOG_WINDOW_NS)
                return; /* not over yet */
        /* what came while the window was counting belongs to it: taken as of its last
         * instant (the reader does not read a ring whose window is full), then its line */
        uint64_t as_of = !force && r->rl.open ? r->rl.window_start + EGRESS_LOG_WINDOW_NS - 1 : now;
        (void)egress_log_drain(r, as_of, emit, data);
        report_window(r, now, true, emit, data);
}

/* records.c: the session's login records copied to the host's (see records.h). */
#include "records.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../client/util.h"

void records_line(const char *line, size_t line_len, const char *session_id, char out[32])
{
        size_t n = strnlen(line, line_len);
        memset(out, 0, 32);
        bool pts = n > 4 && n < 20 && memcmp(line, "pts/", 4) == 0;
        for (size_t i = 4; pts && i < n; i++)
                pts = line[i] >= '0' && line[i] <= '9'; /* "pts/3", not a renamed one */
        if (pts) {
                char buf[64];
                snprintf(buf, sizeof(buf), "%.*s:%.6s", (int)n, line, session_id);
                memcpy(out, buf, strnlen(buf, 32));
                return;
        }
        memcpy(out, line, n < 32 ? n : 32);
}

void records_id(const char *line, size_t line_len, char out[4])
{
        static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        uint32_t h = 2166136261u; /* FNV-1a */
        for (size_t i = 0; i < line_len && line[i]; i++)
                h = (h ^ (unsigned char)line[i]) * 16777619u;
        for (int i = 0; i < 4; i++) {
                out[i] = alphabet[h % (sizeof(alphabet) - 1)];
                h /= (sizeof(alphabet) - 1);
        }
}

void records_init(struct records *r, int dir, int host_log, int host_utmp, const char *session_id,
                  uid_t uid)
{
        memset(r, 0, sizeof(*r));
        r->dir = dir;
        r->host_log = host_log;
        r->host_utmp = host_utmp;
        snprintf(r->session_id, sizeof(r->session_id), "%s", session_id);
        r->uid = uid;
        /* the session's lastlog starts as a copy of the user's host record (mounts.c): that
         * one is not new */
        _cleanup_close_ int fd = openat(dir, "lastlog", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0 &&
            pread(fd, &r->last, sizeof(r->last), (off_t)uid * (off_t)sizeof(r->last)) !=
                (ssize_t)sizeof(r->last))
                memset(&r->last, 0, sizeof(r->last));
}

/* The record as the host gets it: its line renamed, and the id that goes with that. */
static void host_record(const struct records *r, const struct utmp *in, struct utmp *out)
{
        *out = *in;
        char line[32];
        records_line(in->ut_line, sizeof(in->ut_line), r->session_id, line);
        if (memcmp(line, in->ut_line, sizeof(line)) == 0)
                return; /* not one of the session's ptys */
        memcpy(out->ut_line, line, sizeof(out->ut_line));
        records_id(line, sizeof(line), out->ut_id);
}

static void host_path(int dir, const char *name, char *buf, size_t len)
{
        snprintf(buf, len, "/proc/self/fd/%d/%s", dir, name);
}

static int copy_wtmp(struct records *r)
{
        if (r->host_log < 0)
                return 0;
        _cleanup_close_ int fd = openat(r->dir, "wtmp", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        char path[64];
        host_path(r->host_log, "wtmp", path, sizeof(path));
        int n = 0;
        struct utmp ut, out;
        while (pread(fd, &ut, sizeof(ut), r->wtmp_done) == (ssize_t)sizeof(ut)) {
                r->wtmp_done += sizeof(ut);
                host_record(r, &ut, &out);
                updwtmp(path, &out); /* by name: a rotated wtmp is followed */
                n++;
        }
        return n;
}

static void utmp_put(const struct records *r, const struct utmp *ut)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", r->host_utmp);
        if (utmpname(path) < 0)
                return;
        setutent();
        pututline(ut);
        endutent();
}

static int copy_utmp(struct records *r)
{
        if (r->host_utmp < 0)
                return 0;
        _cleanup_close_ int fd = openat(r->dir, "utmp", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        int n = 0;
        struct utmp ut, out;
        for (size_t i = 0; i < RECORDS_MAX_UTMP; i++) {
                if (pread(fd, &ut, sizeof(ut), (off_t)(i * sizeof(ut))) != (ssize_t)sizeof(ut))
                        break;
                if (i < r->n_seen && memcmp(&ut, &r->seen[i], sizeof(ut)) == 0)
                        continue;
                host_record(r, &ut, &out);
                utmp_put(r, &out);
                r->seen[i] = ut;
                r->live[i] = ut.ut_type == USER_PROCESS;
                if (i >= r->n_seen)
                        r->n_seen = i + 1;
                n++;
        }
        return n;
}

static int copy_lastlog(struct records *r)
{
        if (r->host_log < 0)
                return 0;
        _cleanup_close_ int fd = openat(r->dir, "lastlog", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        struct lastlog ll;
        off_t off = (off_t)r->uid * (off_t)sizeof(ll);
        if (pread(fd, &ll, sizeof(ll), off) != (ssize_t)sizeof(ll) ||
            memcmp(&ll, &r->last, sizeof(ll)) == 0)
                return 0;
        char path[64];
        host_path(r->host_log, "lastlog", path, sizeof(path));
        _cleanup_close_ int host = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        struct stat st;
        if (host < 0 || fstat(host, &st) < 0 || !S_ISREG(st.st_mode))
                return host < 0 ? -errno : -EINVAL;
        struct lastlog out = ll;
        records_line(ll.ll_line, sizeof(ll.ll_line), r->session_id, out.ll_line);
        if (pwrite(host, &out, sizeof(out), off) != (ssize_t)sizeof(out))
                return -errno;
        r->last = ll;
        return 1;
}

int records_copy(struct records *r)
{
        int first = 0, n = 0;
        int (*const steps[])(struct records *) = {copy_utmp, copy_wtmp, copy_lastlog};
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                int k = steps[i](r);
                if (k < 0 && first == 0)
                        first = k;
                if (k > 0)
                        n += k;
        }
        return first < 0 ? first : n;
}

void records_end(struct records *r)
{
        records_copy(r);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        char path[64];
        host_path(r->host_log, "wtmp", path, sizeof(path));
        for (size_t i = 0; i < r->n_seen; i++) {
                if (!r->live[i])
                        continue;
                struct utmp dead;
                host_record(r, &r->seen[i], &dead);
                dead.ut_type = DEAD_PROCESS;
                memset(dead.ut_user, 0, sizeof(dead.ut_user));
                memset(dead.ut_host, 0, sizeof(dead.ut_host));
                dead.ut_tv.tv_sec = (int32_t)now.tv_sec;
                dead.ut_tv.tv_usec = (int32_t)(now.tv_nsec / 1000);
                if (r->host_utmp >= 0)
                        utmp_put(r, &dead);
                if (r->host_log >= 0)
                        updwtmp(path, &dead);
                r->live[i] = false;
        }
}

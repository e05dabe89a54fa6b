/* util.c: see util.h. libc only. */
#include "util.h"

#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <limits.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static int error_vset(struct isolate_error *err, int code, bool with_errno, const char *fmt,
                      va_list ap)
{
        if (code < 0)
                code = -code;
        if (code == 0)
                code = EIO;
        if (!err)
                return -code;
        err->code = code;
        err->host_fault = false;
        int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        if (with_errno && n >= 0 && (size_t)n < sizeof(err->msg))
                snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(code));
        return -code;
}

int error_set(struct isolate_error *err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, false, fmt, ap);
        va_end(ap);
        return r;
}

int error_set_errno(struct isolate_error *err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, true, fmt, ap);
        va_end(ap);
        return r;
}

int error_host_fault(struct isolate_error *err)
{
        if (!err)
                return -EIO;
        err->host_fault = true;
        return -(err->code ? err->code : EIO);
}

int error_prefix(struct isolate_error *err, const char *fmt, ...)
{
        if (!err)
                return -EIO;
        char old[sizeof(err->msg)];
        memcpy(old, err->msg, sizeof(old));
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof(err->msg))
                snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", old);
        return -(err->code ? err->code : EIO);
}

int safe_atou64(const char *s, uint64_t *ret)
{
        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        uint64_t v = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
                unsigned d = (unsigned)(*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (*s != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int safe_atoi(const char *s, int *ret)
{
        bool neg = s && *s == '-';
        uint64_t v;
        int r = safe_atou64(neg ? s + 1 : s, &v);
        if (r < 0)
                return r;
        if (v > (uint64_t)INT_MAX + (neg ? 1 : 0))
                return -ERANGE;
        *ret = neg ? (int)-(int64_t)v : (int)v;
        return 0;
}

ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t max)
{
        if (max == 0)
                return -EINVAL;
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t len = 0;
        while (len < max - 1) {
                ssize_t n = read(fd, buf + len, max - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        return (ssize_t)len;
}

int read_u64_at(int dirfd, const char *path, uint64_t *ret)
{
        char buf[32];
        ssize_t n = read_file_at(dirfd, path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        buf[strcspn(buf, "\n")] = '\0';
        return safe_atou64(buf, ret);
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

char *strdup_printf(const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        return n < 0 ? NULL : s;
}

int random_hex(char *buf, size_t n)
{
        static const char digits[] = "0123456789abcdef";
        unsigned char raw[64];
        if (n % 2 || n / 2 > sizeof(raw))
                return -EINVAL;
        size_t got = 0;
        while (got < n / 2) {
                ssize_t r = getrandom(raw + got, n / 2 - got, 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                got += (size_t)r;
        }
        for (size_t i = 0; i < n / 2; i++) {
                buf[2 * i] = digits[raw[i] >> 4];
                buf[2 * i + 1] = digits[raw[i] & 15];
        }
        buf[n] = '\0';
        return 0;
}

int proc_start_time(pid_t pid, uint64_t *ret)
{
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        ssize_t n = read_file_at(AT_FDCWD, path, buf, sizeof(buf));
        if (n <= 0)
                return n < 0 ? (int)n : -ENOENT;
        /* the command name may hold spaces and parentheses: fields start after the last ')' */
        const char *p = strrchr(buf, ')');
        if (!p)
                return -EBADMSG;
        p++;
        if (p[0] != ' ' || p[1] == 'Z' || p[1] == 'X')
                return -ESRCH; /* exited, not yet reaped */
        for (int field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EBADMSG;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p + 1, &end, 10);
        if (errno || end == p + 1)
                return -EBADMSG;
        *ret = v;
        return 0;
}

void warnings_add(char *buf, size_t len, const char *fmt, ...)
{
        if (!buf || len == 0)
                return;
        size_t used = strnlen(buf, len);
        if (used >= len - 1)
                return;
        if (used > 0)
                buf[used++] = '\n';
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf + used, len - used, fmt, ap);
        va_end(ap);
}

void strv_free(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static int strv_append_unique(char ***v, size_t *n, const char *s)
{
        for (size_t i = 0; i < *n; i++)
                if (STREQ((*v)[i], s))
                        return 0;
        char **nv = reallocarray(*v, *n + 1, sizeof(**v));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        nv[*n] = strdup(s);
        if (!nv[*n])
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* getgrgid_r with a buffer that grows on ERANGE; a gid without a name is its number */
static int group_name(gid_t gid, char **buf, size_t *len, char *num, size_t num_len,
                      const char **ret)
{
        for (;;) {
                struct group gr, *res = NULL;
                int r = getgrgid_r(gid, &gr, *buf, *len, &res);
                if (r == ERANGE && *len < (1u << 20)) {
                        char *nb = realloc(*buf, *len * 2);
                        if (!nb)
                                return -ENOMEM;
                        *buf = nb;
                        *len *= 2;
                        continue;
                }
                if (r == 0 && res) {
                        *ret = res->gr_name;
                        return 0;
                }
                /* a gid without a name still counts; its number is what rules cannot name */
                snprintf(num, num_len, "%u", (unsigned)gid);
                *ret = num;
                return 0;
        }
}

int user_groups_lookup(const char *name, gid_t primary, bool with_groups, char ***ret,
                       size_t *ret_n)
{
        int ngroups = 32;
        _cleanup_free_ gid_t *gids = NULL;
        for (; with_groups;) {
                gid_t *ng = reallocarray(gids, (size_t)ngroups, sizeof(*gids));
                if (!ng)
                        return -ENOMEM;
                gids = ng;
                int n = ngroups;
                if (getgrouplist(name, primary, gids, &n) >= 0) {
                        ngroups = n;
                        break;
                }
                if (n <= ngroups || n > 65536)
                        return -EIO;
                ngroups = n;
        }
        if (!with_groups)
                ngroups = 0;

        size_t grlen = 1024;
        _cleanup_free_ char *grbuf = malloc(grlen);
        if (!grbuf)
                return -ENOMEM;
        char **v = NULL;
        size_t nv = 0;
        /* primary group first: getgrouplist() puts it first, but do not rely on that */
        for (int i = -1; i < ngroups; i++) {
                gid_t gid = i < 0 ? primary : gids[i];
                if (i >= 0 && gid == primary)
                        continue;
                char num[16];
                const char *gname;
                int r = group_name(gid, &grbuf, &grlen, num, sizeof(num), &gname);
                if (r == 0)
                        r = strv_append_unique(&v, &nv, gname);
                if (r < 0) {
                        strv_free(v, nv);
                        return r;
                }
        }
        *ret = v;
        *ret_n = nv;
        return 0;
}

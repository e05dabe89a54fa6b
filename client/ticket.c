/* ticket.c: keys, links and the caller's side of a join by ticket (ticket.h). libc only. */
#include "ticket.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "../conf/lexer.h"

int ticket_stamp(int fd, const char *word, const char *path, char *buf, size_t size)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        int n = snprintf(buf, size, "%s %s %llu %llu %lld %lld.%09ld %lld.%09ld", word, path,
                         (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                         (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                         (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
        return n < 0 || (size_t)n >= size ? -E2BIG : 0;
}

/* Appends to buf at *off; -E2BIG once it no longer fits. */
static int append(char *buf, size_t size, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int append(char *buf, size_t size, size_t *off, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = *off < size ? vsnprintf(buf + *off, size - *off, fmt, ap) : -1;
        va_end(ap);
        if (n < 0 || (size_t)n >= size - *off)
                return -E2BIG;
        *off += (size_t)n;
        return 0;
}

/* a key is one value per line: a value with a newline could pass for two */
static bool one_line(const char *s)
{
        return s && !strchr(s, '\n');
}

int ticket_key(const char *config_stamp, const struct open_request *req,
               const struct ticket_who *who, const char *needs, char *buf, size_t size)
{
        if (!req->helper_stamp[0] || !one_line(config_stamp) || !one_line(who->name) ||
            !one_line(who->home))
                return -EINVAL;
        size_t off = 0;
        /* the name as given and as the database has it (the rules match that one) */
        int r = append(buf, size, &off,
                       "isolate-ticket 2\n%s\n%s\nuser %s %s %u %u %s\nservice %s\n",
                       config_stamp, req->helper_stamp, req->user, who->name,
                       (unsigned)who->uid, (unsigned)who->gid, who->home, req->service);
        if (r == 0 && strchr(needs, TICKET_NEEDS_RHOST))
                r = append(buf, size, &off, "rhost %s\n", req->rhost);
        if (r == 0 && strchr(needs, TICKET_NEEDS_SLICE))
                r = append(buf, size, &off, "slice user-%u.slice\n", (unsigned)who->uid);
        if (r == 0 && strchr(needs, TICKET_NEEDS_GROUPS)) {
                if (!who->groups)
                        return -EINVAL;
                for (size_t i = 0; r == 0 && i < who->n_groups; i++)
                        r = one_line(who->groups[i])
                                ? append(buf, size, &off, "group %s\n", who->groups[i])
                                : -EINVAL;
        }
        return r < 0 ? r : (int)off;
}

int ticket_link_name(uid_t uid, const char *service, char *buf, size_t size)
{
        if (!*service || service[0] == '.' || strpbrk(service, "/\n") ||
            strlen(service) > 64)
                return -EINVAL;
        int n = snprintf(buf, size, "%u-%s.join", (unsigned)uid, service);
        return n < 0 || (size_t)n >= size ? -E2BIG : 0;
}

/* The config's runtime_dir as the helper reads it, and the config's stamp, from one open of
 * a file the helper would accept (root's, not writable by others, not too big). */
static int config_read(const char *config, char *runtime_dir, size_t rd_size, char *stamp,
                       size_t stamp_size)
{
        _cleanup_close_ int fd = open(config, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) ||
            st.st_size > CONFIG_MAX_BYTES)
                return -EPERM;
        _cleanup_free_ char *text = malloc((size_t)st.st_size + 1);
        if (!text)
                return -ENOMEM;
        ssize_t n = read(fd, text, (size_t)st.st_size);
        if (n != st.st_size)
                return -EIO;
        int r = lexer_top_string(text, (size_t)n, "runtime_dir", runtime_dir, rd_size);
        if (r < 0)
                return r;
        if (r == 0)
                snprintf(runtime_dir, rd_size, "%s", DEFAULT_RUNTIME_DIR);
        return ticket_config_stamp(fd, config, stamp, stamp_size);
}

/* "<ID>:<NEEDS>", an ID as the helper makes them (hex) */
static int link_parse(const char *target, char *id, size_t id_size, char *needs,
                      size_t needs_size)
{
        const char *colon = strchr(target, ':');
        size_t n = colon ? (size_t)(colon - target) : 0;
        if (n == 0 || n >= id_size || strspn(target, "0123456789abcdef") != n ||
            strspn(colon + 1, "grs") != strlen(colon + 1) || strlen(colon + 1) >= needs_size)
                return -EINVAL;
        snprintf(id, id_size, "%.*s", (int)n, target);
        snprintf(needs, needs_size, "%s", colon + 1);
        return 0;
}

/* Whether this process's cgroup (the unified hierarchy's line of /proc/self/cgroup) lies
 * under user-UID.slice, where logind puts the user's own logins. */
static bool under_user_slice(uid_t uid)
{
        char buf[4096], want[64];
        _cleanup_close_ int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        const char *line = strncmp(buf, "0::", 3) == 0 ? buf : strstr(buf, "\n0::");
        if (!line)
                return false;
        line += line[0] == '\n' ? 4 : 3;
        snprintf(want, sizeof(want), "/user.slice/user-%u.slice/", (unsigned)uid);
        return strncmp(line, want, strlen(want)) == 0;
}

int session_open_ticket(const char *config, const struct open_request *req, int timeout_ms,
                        struct open_reply *ret)
{
        char runtime_dir[PATH_MAX], stamp[PATH_MAX + 128];
        if (config_read(config, runtime_dir, sizeof(runtime_dir), stamp, sizeof(stamp)) < 0 ||
            runtime_dir[0] != '/')
                return 0;
        /* both root's and closed to others, as the helper makes them */
        _cleanup_close_ int rfd = open(runtime_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int dfd =
            rfd < 0 ? -1 : openat(rfd, "sessions", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st, sst;
        if (dfd < 0 || fstat(rfd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022) ||
            fstat(dfd, &sst) < 0 || sst.st_uid != 0 || (sst.st_mode & 022))
                return 0;

        /* the link's name needs the uid; the key the needs the link says */
        struct passwd pw, *res = NULL;
        char pwbuf[4096], name[128], target[64], id[32], needs[8];
        if (getpwnam_r(req->user, &pw, pwbuf, sizeof(pwbuf), &res) != 0 || !res ||
            ticket_link_name(pw.pw_uid, req->service, name, sizeof(name)) < 0)
                return 0;
        ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
        if (n <= 0)
                return 0;
        target[n] = '\0';
        if (link_parse(target, id, sizeof(id), needs, sizeof(needs)) < 0)
                return 0;
        if (strchr(needs, TICKET_NEEDS_SLICE) && !under_user_slice(pw.pw_uid))
                return 0; /* su from another user's session: the helper decides */
        struct ticket_who who = {
            .name = pw.pw_name, .uid = pw.pw_uid, .gid = pw.pw_gid, .home = pw.pw_dir};
        char **groups = NULL;
        if (strchr(needs, TICKET_NEEDS_GROUPS) &&
            user_groups_lookup(pw.pw_name, pw.pw_gid, true, &groups, &who.n_groups) < 0)
                return 0;
        who.groups = groups;
        _cleanup_free_ char *key = malloc(TICKET_KEY_MAX);
        int k = key ? ticket_key(stamp, req, &who, needs, key, TICKET_KEY_MAX) : -ENOMEM;
        strv_free(groups, who.n_groups);
        if (k < 0)
                return 0;

        /* non-blocking: an init whose backlog is full (stalled peers) sends us to the helper */
        _cleanup_close_ int conn = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (conn < 0)
                return 0;
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s.sock", dfd, id);
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (connect(conn, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0)
                return 0;
        _cleanup_close_ int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
        if (self < 0 || proto_send_simple_fds(conn, MSG_TICKET_JOIN, 0, key, &self, 1) < 0)
                return 0;
        bool hello = false;
        /* MSG_FAILED (no such key) does not decode as a reply: 0 as well */
        int r = proto_recv_reply(conn, timeout_ms < TICKET_ANSWER_MS ? timeout_ms : TICKET_ANSWER_MS,
                                 ret, &hello);
        if (r != MSG_OPEN_REPLY || ret->status != REPLY_OK || ret->join.init_pidfd < 0) {
                join_spec_free(&ret->join);
                memset(ret, 0, sizeof(*ret));
                join_spec_init(&ret->join);
                return 0;
        }
        ret->from_ticket = true;
        return 1;
}

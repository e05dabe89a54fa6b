/* registry.c: one file per live session under <runtime_dir>/sessions/, "key=value" lines,
 * the session's cgroups among them (registry_cgroup_format). Written by the helper (tmp +
 * rename, 0600 root), removed by the session's init. */
#include "registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* A root-owned directory not writable by others, made when missing. */
static int dir_prepare(const char *path, struct isolate_error *err)
{
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return error_set_errno(err, errno, "cannot create %s", path);
        struct stat st;
        if (lstat(path, &st) < 0)
                return error_set_errno(err, errno, "cannot stat %s", path);
        if (!S_ISDIR(st.st_mode))
                return error_set(err, ENOTDIR, "%s is not a directory", path);
        if (st.st_uid != 0 || (st.st_mode & 0022))
                return error_set(err, EPERM,
                                 "%s must be owned by root and not writable by group or others "
                                 "(fix: chown root:root %s && chmod 700 %s)",
                                 path, path, path);
        return 0;
}

/* Removes ".*.tmp*" files older than a minute (what a helper killed while writing left), and
 * a sandbox's "ID.sock" and "ID.state" and ticket links ("UID-SERVICE.join" -> "ID:...",
 * ticket.h) whose record "ID" is gone (an init or helper killed before it removed them). */
static void stale_tmp_remove(const char *dir)
{
        DIR *d = opendir(dir);
        if (!d)
                return;
        time_t now = time(NULL);
        for (struct dirent *de; (de = readdir(d));) {
                const char *dot = strchr(de->d_name, '.');
                bool tmp = de->d_name[0] == '.' && strstr(de->d_name, ".tmp");
                bool orphan = false;
                char id[64] = "";
                if (!tmp && dot && dot > de->d_name &&
                    (STREQ(dot, ".sock") || STREQ(dot, ".state")))
                        snprintf(id, sizeof(id), "%.*s", (int)(dot - de->d_name), de->d_name);
                size_t len = strlen(de->d_name);
                if (!tmp && len > 5 && STREQ(de->d_name + len - 5, ".join")) {
                        /* a ticket's link: "ID:NEEDS" */
                        ssize_t n = readlinkat(dirfd(d), de->d_name, id, sizeof(id) - 1);
                        id[n > 0 ? n : 0] = '\0';
                        id[strcspn(id, ":")] = '\0';
                }
                if (id[0]) {
                        struct stat rst;
                        orphan =
                            fstatat(dirfd(d), id, &rst, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
                }
                if (!tmp && !orphan)
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode) ||
                     (orphan && S_ISSOCK(st.st_mode))) &&
                    st.st_mtime + 60 < now)
                        unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

int registry_prepare(const char *runtime_dir, struct isolate_error *err)
{
        int r = dir_prepare(runtime_dir, err);
        if (r < 0)
                return r;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/sessions", runtime_dir);
        r = dir_prepare(path, err);
        if (r < 0)
                return r;
        stale_tmp_remove(path);
        snprintf(path, sizeof(path), "%s/seccomp", runtime_dir);
        stale_tmp_remove(path);
        return 0;
}

/* ---- the cgroup part of a record ------------------------------------------------------- */

/* A field: "-" when empty; bytes that would split the line or the fields as %XX. */
static int field_put(char **p, size_t *left, const char *v, bool last)
{
        char tmp[PATH_MAX * 3 + 4];
        size_t n = 0;
        if (!*v)
                tmp[n++] = '-';
        else if (STREQ(v, "-"))
                n = (size_t)snprintf(tmp, sizeof(tmp), "%%2D");
        else
                for (const unsigned char *c = (const unsigned char *)v; *c && n + 4 < sizeof(tmp);
                     c++) {
                        if (*c <= 0x20 || *c == 0x7f || *c == '%')
                                n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%%%02X", *c);
                        else
                                tmp[n++] = (char)*c;
                }
        tmp[n++] = last ? '\n' : ' ';
        if (n >= *left)
                return -ENOBUFS;
        memcpy(*p, tmp, n);
        *p += n;
        *left -= n;
        **p = '\0';
        return 0;
}

int registry_cgroup_format(const struct cgroup_session *s, char *buf, size_t len)
{
        int n = snprintf(buf, len, "cgroup_backend=%s\n", cgroup_backend_name(s->backend));
        if (n < 0 || (size_t)n >= len)
                return -ENOBUFS;
        char *p = buf + n;
        size_t left = len - (size_t)n;
        for (size_t i = 0; i < s->n && i < CGROUP_MAX_HIERARCHIES; i++) {
                const struct cgroup_hierarchy *h = &s->h[i];
                if (left <= 7)
                        return -ENOBUFS;
                memcpy(p, "cgroup=", 7);
                p += 7;
                left -= 7;
                const char *f[] = {h->controllers,     h->mount_type, h->mount_options,
                                   h->mount_name,      h->user_path,  h->leaf_path,
                                   h->supervisor_path, h->scope_path};
                for (size_t k = 0; k < ELEMENTSOF(f); k++) {
                        int r = field_put(&p, &left, f[k], k + 1 == ELEMENTSOF(f));
                        if (r < 0)
                                return r;
                }
        }
        return (int)(p - buf);
}

static int hexval(char c)
{
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                      : -1;
}

static int field_get(const char *s, size_t n, char *ret, size_t len)
{
        size_t w = 0;
        if (n == 1 && s[0] == '-') {
                ret[0] = '\0';
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '%') {
                        if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                                return -EBADMSG;
                        c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
                        i += 2;
                }
                if (w + 1 >= len)
                        return -EBADMSG;
                ret[w++] = c;
        }
        ret[w] = '\0';
        return 0;
}

/* A session's backend by its name (never "auto": a session has a resolved backend). */
static int backend_parse(const char *name, enum cgroup_backend_kind *ret)
{
        static const enum cgroup_backend_kind kinds[] = {CGROUP_BACKEND_SYSTEMD, CGROUP_BACKEND_V2,
                                                         CGROUP_BACKEND_V1};
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (STREQ(name, cgroup_backend_name(kinds[i]))) {
                        *ret = kinds[i];
                        return 0;
                }
        return -EBADMSG;
}

int registry_cgroup_parse(const char *text, struct cgroup_session *ret)
{
        memset(ret, 0, sizeof(*ret));
        bool have_backend = false;
        for (const char *line = text; *line;) {
                const char *e = strchrnul(line, '\n');
                size_t ll = (size_t)(e - line);
                if (ll > 15 && strncmp(line, "cgroup_backend=", 15) == 0) {
                        char name[16];
                        snprintf(name, sizeof(name), "%.*s", (int)(ll - 15), line + 15);
                        int r = backend_parse(name, &ret->backend);
                        if (r < 0)
                                return r;
                        have_backend = true;
                } else if (ll > 7 && strncmp(line, "cgroup=", 7) == 0) {
                        if (ret->n >= CGROUP_MAX_HIERARCHIES)
                                return -EBADMSG;
                        struct cgroup_hierarchy *h = &ret->h[ret->n];
                        struct {
                                char *dst;
                                size_t len;
                        } f[] = {{h->controllers, sizeof(h->controllers)},
                                 {h->mount_type, sizeof(h->mount_type)},
                                 {h->mount_options, sizeof(h->mount_options)},
                                 {h->mount_name, sizeof(h->mount_name)},
                                 {h->user_path, sizeof(h->user_path)},
                                 {h->leaf_path, sizeof(h->leaf_path)},
                                 {h->supervisor_path, sizeof(h->supervisor_path)},
                                 {h->scope_path, sizeof(h->scope_path)}};
                        const char *p = line + 7;
                        for (size_t k = 0; k < ELEMENTSOF(f); k++) {
                                const char *fe = memchr(p, ' ', (size_t)(e - p));
                                if (!fe)
                                        fe = e;
                                if (fe == p || (k + 1 < ELEMENTSOF(f)) != (fe < e))
                                        return -EBADMSG;
                                int r = field_get(p, (size_t)(fe - p), f[k].dst, f[k].len);
                                if (r < 0)
                                        return r;
                                p = fe + 1;
                        }
                        if (!STREQ(h->mount_type, "cgroup") && !STREQ(h->mount_type, "cgroup2"))
                                return -EBADMSG;
                        ret->n++;
                }
                line = *e ? e + 1 : e;
        }
        return have_backend ? 0 : -EBADMSG;
}

/* ---- the caps part of a record ---------------------------------------------------------- */

/* "caps=MEMORY_MAX MEMORY_HIGH SWAP_MAX PIDS_MAX CPU_MAX_PERCENT CPU_WEIGHT" (decimal,
 * LIMIT_UNSET and LIMIT_MAX as their numbers), then "caps_io=TARGET RBPS WBPS RIOPS WIOPS"
 * per io entry, TARGET escaped as a cgroup line's fields are. */
static int caps_format(const struct record_caps *c, char *buf, size_t len)
{
        const struct cap_scalars *s = &c->scalars;
        int n = snprintf(buf, len, "caps=%llu %llu %llu %llu %llu %llu\n",
                         (unsigned long long)s->memory_max, (unsigned long long)s->memory_high,
                         (unsigned long long)s->swap_max, (unsigned long long)s->pids_max,
                         (unsigned long long)s->cpu_max_percent, (unsigned long long)s->cpu_weight);
        if (n < 0 || (size_t)n >= len)
                return -ENOBUFS;
        char *p = buf + n;
        size_t left = len - (size_t)n;
        for (size_t i = 0; i < c->n_io && i < RECORD_MAX_IO; i++) {
                const struct record_io *io = &c->io[i];
                if (left <= 8)
                        return -ENOBUFS;
                memcpy(p, "caps_io=", 8);
                p += 8;
                left -= 8;
                int r = field_put(&p, &left, io->target, false);
                if (r < 0)
                        return r;
                int w =
                    snprintf(p, left, "%llu %llu %llu %llu\n", (unsigned long long)io->read_bps,
                             (unsigned long long)io->write_bps, (unsigned long long)io->read_iops,
                             (unsigned long long)io->write_iops);
                if (w < 0 || (size_t)w >= left)
                        return -ENOBUFS;
                p += w;
                left -= (size_t)w;
        }
        return (int)(p - buf);
}

static int caps_parse(const char *v, struct record_caps *c)
{
        unsigned long long f[6];
        char end;
        if (sscanf(v, "%llu %llu %llu %llu %llu %llu%c", &f[0], &f[1], &f[2], &f[3], &f[4], &f[5],
                   &end) != 6)
                return -EBADMSG;
        c->scalars = (struct cap_scalars){f[0], f[1], f[2], f[3], f[4], f[5]};
        return 0;
}

static int caps_io_parse(const char *v, struct record_caps *c)
{
        if (c->n_io >= RECORD_MAX_IO)
                return -EBADMSG;
        struct record_io *io = &c->io[c->n_io];
        const char *sp = strchr(v, ' ');
        if (!sp || sp == v)
                return -EBADMSG;
        int r = field_get(v, (size_t)(sp - v), io->target, sizeof(io->target));
        if (r < 0)
                return r;
        unsigned long long f[4];
        char end;
        if (sscanf(sp + 1, "%llu %llu %llu %llu%c", &f[0], &f[1], &f[2], &f[3], &end) != 4)
                return -EBADMSG;
        io->read_bps = f[0];
        io->write_bps = f[1];
        io->read_iops = f[2];
        io->write_iops = f[3];
        c->n_io++;
        return 0;
}

static bool id_valid(const char *id)
{
        size_t n = strlen(id);
        if (n == 0 || n >= 32)
                return false;
        return strspn(id, "0123456789abcdef") == n;
}

int registry_write(const char *runtime_dir, const struct session_record *r,
                   struct isolate_error *err)
{
        if (!id_valid(r->id))
                return error_set(err, EINVAL, "invalid session id '%s'", r->id);
        const char *values[] = {r->user, r->service, r->rhost, r->tty, r->policy};
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                if (strpbrk(values[i], "\n\r"))
                        return error_set(err, EINVAL,
                                         "refusing a registry value with a line break");
        char path[PATH_MAX], tmp[PATH_MAX];
        snprintf(path, sizeof(path), "%s/sessions/%s", runtime_dir, r->id);
        snprintf(tmp, sizeof(tmp), "%s/sessions/.%s.tmp", runtime_dir, r->id);
        char cg[CGROUP_MAX_HIERARCHIES * (CGROUP_PATH_LEN * 4 + 512)];
        int q = registry_cgroup_format(&r->cgroup, cg, sizeof(cg));
        if (q < 0)
                return error_set_errno(err, q, "cannot format the session's cgroups");

        _cleanup_close_ int fd =
            open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return error_set_errno(err, errno, "cannot create %s", tmp);
        char caps[RECORD_MAX_IO * (256 * 3 + 128) + 256];
        q = caps_format(&r->caps, caps, sizeof(caps));
        if (q < 0)
                return error_set_errno(err, q, "cannot format the session's caps");
        _cleanup_free_ char *text = strdup_printf(
            "format=%d\nid=%s\nuser=%s\nuid=%u\nservice=%s\nrhost=%s\ntty=%s\npolicy=%s\n"
            "caller_pid=%d\ninit_pid=%d\ninit_start=%llu\nstart_time=%llu\nscope=%s\n"
            "linger_ms=%llu\nfingerprint=%s\naudit_session=%u\n%s%s",
            REGISTRY_FORMAT, r->id, r->user, (unsigned)r->uid, r->service, r->rhost, r->tty,
            r->policy, (int)r->caller_pid, (int)r->init_pid, (unsigned long long)r->init_start,
            (unsigned long long)r->start_time, r->scope == SCOPE_USER ? "user" : "login",
            (unsigned long long)r->linger_ms, r->fingerprint, (unsigned)r->audit_session, caps, cg);
        if (!text) {
                unlink(tmp);
                return error_set(err, ENOMEM, "out of memory");
        }
        q = write_all(fd, text, strlen(text));
        if (q < 0) {
                unlink(tmp);
                return error_set_errno(err, q, "cannot write %s", tmp);
        }
        if (rename(tmp, path) < 0) {
                q = -errno;
                unlink(tmp);
                return error_set_errno(err, q, "cannot rename %s to %s", tmp, path);
        }
        return 0;
}

int registry_remove(const char *runtime_dir, const char *id)
{
        if (!id_valid(id))
                return -EINVAL;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/sessions/%s", runtime_dir, id);
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* The format a record's text says it has: its "format=N" line, 1 without one; -EBADMSG when
 * the line is not a number. Looked for before any other line is read: a newer format may have
 * changed what they mean. */
static int record_format(const char *text, unsigned *ret)
{
        *ret = 1;
        for (const char *line = text; *line;) {
                const char *e = strchrnul(line, '\n');
                if (strncmp(line, "format=", 7) == 0) {
                        char v[24];
                        uint64_t u;
                        if ((size_t)(e - line) - 7 >= sizeof(v))
                                return -EBADMSG;
                        snprintf(v, sizeof(v), "%.*s", (int)(e - line - 7), line + 7);
                        if (safe_atou64(v, &u) < 0 || u == 0 || u > UINT32_MAX)
                                return -EBADMSG;
                        *ret = (unsigned)u;
                        return 0;
                }
                line = *e ? e + 1 : e;
        }
        return 0;
}

/* Copies a value into a fixed field; values never contain a newline (the parser splits). */
static void field_copy(char *dst, size_t len, const char *v)
{
        snprintf(dst, len, "%s", v);
}

int registry_read(const char *runtime_dir, const char *id, struct session_record *ret)
{
        if (!id_valid(id))
                return -EINVAL;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/sessions/%s", runtime_dir, id);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_uid != 0 || (st.st_mode & 0077) || !S_ISREG(st.st_mode))
                return -EPERM; /* not ours: ignore it */
        size_t max = 64 * 1024;
        _cleanup_free_ char *buf = malloc(max);
        if (!buf)
                return -ENOMEM;
        ssize_t n = pread(fd, buf, max - 1, 0);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        memset(ret, 0, sizeof(*ret));
        ret->audit_session = AUDIT_SESSION_UNSET;
        int r = record_format(buf, &ret->format);
        if (r < 0)
                return r;
        if (ret->format < REGISTRY_FORMAT_MIN || ret->format > REGISTRY_FORMAT) {
                field_copy(ret->id, sizeof(ret->id), id);
                return -EPROTONOSUPPORT;
        }
        _cleanup_free_ char *cg = calloc(1, max);
        if (!cg)
                return -ENOMEM;
        size_t cg_len = 0;
        bool have_caps = false;
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                if (!eq)
                        return -EBADMSG;
                *eq = '\0';
                const char *k = line, *v = eq + 1;
                uint64_t u = 0;
                if (STREQ(k, "format"))
                        continue; /* record_format() */
                if (STREQ(k, "id"))
                        field_copy(ret->id, sizeof(ret->id), v);
                else if (STREQ(k, "user"))
                        field_copy(ret->user, sizeof(ret->user), v);
                else if (STREQ(k, "service"))
                        field_copy(ret->service, sizeof(ret->service), v);
                else if (STREQ(k, "rhost"))
                        field_copy(ret->rhost, sizeof(ret->rhost), v);
                else if (STREQ(k, "tty"))
                        field_copy(ret->tty, sizeof(ret->tty), v);
                else if (STREQ(k, "policy"))
                        field_copy(ret->policy, sizeof(ret->policy), v);
                else if (STREQ(k, "uid") && safe_atou64(v, &u) == 0)
                        ret->uid = (uid_t)u;
                else if (STREQ(k, "caller_pid") && safe_atou64(v, &u) == 0)
                        ret->caller_pid = (pid_t)u;
                else if (STREQ(k, "init_pid") && safe_atou64(v, &u) == 0)
                        ret->init_pid = (pid_t)u;
                else if (STREQ(k, "start_time") && safe_atou64(v, &u) == 0)
                        ret->start_time = u;
                else if (STREQ(k, "init_start") && safe_atou64(v, &u) == 0)
                        ret->init_start = u;
                else if (STREQ(k, "scope") && (STREQ(v, "user") || STREQ(v, "login")))
                        ret->scope = STREQ(v, "user") ? SCOPE_USER : SCOPE_LOGIN;
                else if (STREQ(k, "linger_ms") && safe_atou64(v, &u) == 0)
                        ret->linger_ms = u;
                else if (STREQ(k, "fingerprint"))
                        field_copy(ret->fingerprint, sizeof(ret->fingerprint), v);
                else if (STREQ(k, "audit_session") && safe_atou64(v, &u) == 0 && u <= UINT32_MAX)
                        ret->audit_session = (uint32_t)u;
                else if (STREQ(k, "caps")) {
                        if (caps_parse(v, &ret->caps) < 0)
                                return -EBADMSG;
                        have_caps = true;
                } else if (STREQ(k, "caps_io")) {
                        if (caps_io_parse(v, &ret->caps) < 0)
                                return -EBADMSG;
                } else {
                        /* everything else belongs to the cgroup part */
                        int w = snprintf(cg + cg_len, max - cg_len, "%s=%s\n", k, v);
                        if (w < 0 || (size_t)w >= max - cg_len)
                                return -EBADMSG;
                        cg_len += (size_t)w;
                }
        }
        if (!STREQ(ret->id, id) || ret->init_pid <= 0)
                return -EBADMSG;
        if (!have_caps) /* written before caps were recorded: nothing known, nothing set */
                ret->caps.scalars = CAP_SCALARS_UNSET;
        r = registry_cgroup_parse(cg, &ret->cgroup);
        if (r < 0)
                return r;
        return 0;
}

int registry_foreach(const char *runtime_dir, int (*fn)(const struct session_record *r, void *data),
                     void *data)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/sessions", runtime_dir);
        DIR *d = opendir(path);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        int r = 0;
        struct session_record *rec = malloc(sizeof(*rec));
        if (!rec) {
                closedir(d);
                return -ENOMEM;
        }
        bool newer = false;
        for (struct dirent *de; (de = readdir(d));) {
                if (!id_valid(de->d_name))
                        continue;
                int q = registry_read(runtime_dir, de->d_name, rec);
                newer |= q == -EPROTONOSUPPORT;
                if (q < 0)
                        continue;
                r = fn(rec, data);
                if (r < 0)
                        break;
        }
        free(rec);
        closedir(d);
        return r < 0 ? r : newer ? -EPROTONOSUPPORT : 0;
}

int registry_format_error(const char *runtime_dir, struct isolate_error *err)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/sessions", runtime_dir);
        _cleanup_free_ struct session_record *rec = malloc(sizeof(*rec));
        DIR *d = rec ? opendir(path) : NULL;
        for (struct dirent *de; d && (de = readdir(d));) {
                if (!id_valid(de->d_name) ||
                    registry_read(runtime_dir, de->d_name, rec) != -EPROTONOSUPPORT)
                        continue;
                closedir(d);
                return error_set(
                    err, EPROTONOSUPPORT,
                    "session record %s/%s has format %u, and this isolate reads formats %d to "
                    "%d: %s",
                    path, rec->id, rec->format, REGISTRY_FORMAT_MIN, REGISTRY_FORMAT,
                    rec->format > REGISTRY_FORMAT
                        ? "a newer isolate release wrote it (downgraded while its sessions "
                          "live?); reinstall that release, or end the session (kill the "
                          "init_pid its record names) and remove the record"
                        : "an isolate release older than this one reads wrote it; end the "
                          "session (kill the init_pid its record names) and remove the "
                          "record");
        }
        if (d)
                closedir(d);
        return error_set(err, EPROTONOSUPPORT,
                         "a session record in %s has a format this isolate does not read "
                         "(formats %d to %d)",
                         path, REGISTRY_FORMAT_MIN, REGISTRY_FORMAT);
}

bool registry_session_alive(const struct session_record *r)
{
        /* argv is the process's to write: a user's process that got the init's pid after
         * the init died could claim to be it; its start time it cannot choose */
        if (r->init_start) {
                uint64_t start;
                return proc_start_time(r->init_pid, &start) == 0 && start == r->init_start;
        }
        char path[64], cmdline[256];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)r->init_pid);
        ssize_t n = read_file_at(AT_FDCWD, path, cmdline, sizeof(cmdline));
        if (n <= 0)
                return false;
        /* argv: isolate-init SESSION-ID ... */
        const char *arg0 = cmdline;
        const char *base = strrchr(arg0, '/');
        base = base ? base + 1 : arg0;
        size_t l0 = strlen(arg0);
        if (!STREQ(base, "isolate-init") || (ssize_t)l0 + 1 >= n)
                return false;
        return STREQ(cmdline + l0 + 1, r->id);
}

int registry_state_read(const char *runtime_dir, const char *id, struct sandbox_state *ret)
{
        memset(ret, 0, sizeof(*ret));
        if (!id_valid(id))
                return -EINVAL;
        char path[PATH_MAX], buf[256];
        snprintf(path, sizeof(path), "%s/sessions/%s.state", runtime_dir, id);
        ssize_t n = read_file_at(AT_FDCWD, path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                uint64_t u;
                char *eq = strchr(line, '=');
                if (!eq || safe_atou64(eq + 1, &u) < 0)
                        continue;
                *eq = '\0';
                if (STREQ(line, "logins"))
                        ret->logins = u > UINT32_MAX ? UINT32_MAX : (unsigned)u;
                else if (STREQ(line, "linger_until"))
                        ret->linger_until = u;
                else if (STREQ(line, "linger_forever"))
                        ret->linger_forever = u != 0;
        }
        return 0;
}

struct find_sandbox {
        uid_t uid;
        const char *policy;
        struct session_record *ret;
        bool found;
};

static int find_sandbox_one(const struct session_record *r, void *data)
{
        struct find_sandbox *f = data;
        if (r->scope != SCOPE_USER || r->uid != f->uid || !STREQ(r->policy, f->policy) ||
            !registry_session_alive(r))
                return 0;
        /* the newest: an older one still listed is ending */
        if (!f->found || r->start_time > f->ret->start_time) {
                *f->ret = *r;
                f->found = true;
        }
        return 0;
}

int registry_find_sandbox(const char *runtime_dir, uid_t uid, const char *policy,
                          struct session_record *ret)
{
        struct find_sandbox f = {.uid = uid, .policy = policy, .ret = ret};
        int r = registry_foreach(runtime_dir, find_sandbox_one, &f);
        if (r < 0)
                return r;
        return f.found ? 0 : -ENOENT;
}

int registry_user_lock(const char *runtime_dir, uid_t uid, int *ret_fd, struct isolate_error *err)
{
        *ret_fd = -1;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/locks", runtime_dir);
        struct stat st;
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return error_set_errno(err, errno, "cannot create %s", path);
        if (lstat(path, &st) < 0)
                return error_set_errno(err, errno, "cannot stat %s", path);
        if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0022))
                return error_set(err, EPERM,
                                 "%s must be a directory owned by root and not writable by group "
                                 "or others (fix: rm -rf %s; the helper makes it again)",
                                 path, path);
        snprintf(path, sizeof(path), "%s/locks/%u", runtime_dir, (unsigned)uid);
        _cleanup_close_ int fd =
            open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return error_set_errno(err, errno, "cannot open %s", path);
        if (flock(fd, LOCK_EX) < 0)
                return error_set_errno(err, errno, "cannot lock %s", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* ---- the audit session, and the log of logins ------------------------------------------ */

uint32_t registry_audit_session_of(pid_t pid)
{
        char path[64], buf[32];
        snprintf(path, sizeof(path), "/proc/%d/sessionid", (int)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return AUDIT_SESSION_UNSET;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return AUDIT_SESSION_UNSET;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        uint64_t u;
        if (safe_atou64(buf, &u) < 0 || u > UINT32_MAX)
                return AUDIT_SESSION_UNSET;
        return (uint32_t)u;
}

#define LOGINS_MAX (1024 * 1024)

int registry_login_append(const char *runtime_dir, const struct login_entry *e,
                          struct isolate_error *err)
{
        if (!id_valid(e->id) || strpbrk(e->user, "\n\r") || strpbrk(e->policy, "\n\r ="))
                return error_set(err, EINVAL, "refusing a login entry with a bad value");
        char path[PATH_MAX], old[PATH_MAX];
        snprintf(path, sizeof(path), "%s/logins", runtime_dir);
        snprintf(old, sizeof(old), "%s/logins.old", runtime_dir);
        struct stat st;
        if (stat(path, &st) == 0 && st.st_size > LOGINS_MAX && rename(path, old) < 0)
                return error_set_errno(err, errno, "cannot move %s to %s", path, old);
        _cleanup_close_ int fd =
            open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return error_set_errno(err, errno, "cannot open %s", path);
        if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 0077) || !S_ISREG(st.st_mode))
                return error_set(err, EPERM, "%s is not a root-only file: not written", path);
        char line[512];
        int n = snprintf(line, sizeof(line),
                         "time=%llu ses=%u uid=%u id=%s policy=%s scope=%s user=%s\n",
                         (unsigned long long)e->time, (unsigned)e->audit_session, (unsigned)e->uid,
                         e->id, e->policy, e->scope == SCOPE_USER ? "user" : "login", e->user);
        if (n < 0 || (size_t)n >= sizeof(line))
                return error_set(err, EINVAL, "login entry too long");
        /* one write(2) of a short line to an O_APPEND file: concurrent helpers never mix */
        int r = write_all(fd, line, (size_t)n);
        if (r < 0)
                return error_set_errno(err, r, "cannot write %s", path);
        return 0;
}

int registry_login_parse(const char *line, struct login_entry *ret)
{
        memset(ret, 0, sizeof(*ret));
        static const char *const keys[] = {"time=", "ses=", "uid=", "id=", "policy="};
        const char *p = line;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                size_t kl = strlen(keys[i]);
                if (strncmp(p, keys[i], kl) != 0)
                        return -EBADMSG;
                p += kl;
                size_t vl = strcspn(p, " \n");
                if (p[vl] != ' ' || vl == 0 || vl >= sizeof(ret->user))
                        return -EBADMSG;
                char v[256];
                memcpy(v, p, vl);
                v[vl] = '\0';
                uint64_t u = 0;
                if (i < 3 && (safe_atou64(v, &u) < 0 || (i > 0 && u > UINT32_MAX)))
                        return -EBADMSG;
                if (i == 0)
                        ret->time = u;
                else if (i == 1)
                        ret->audit_session = (uint32_t)u;
                else if (i == 2)
                        ret->uid = (uid_t)u;
                else if (i == 3) {
                        if (vl >= sizeof(ret->id) || !id_valid(v))
                                return -EBADMSG;
                        memcpy(ret->id, v, vl + 1);
                } else {
                        if (vl >= sizeof(ret->policy))
                                return -EBADMSG;
                        memcpy(ret->policy, v, vl + 1);
                }
                p += vl + 1;
        }
        if (strncmp(p, "scope=user ", 11) == 0) {
                ret->scope = SCOPE_USER;
                p += 11;
        } else if (strncmp(p, "scope=login ", 12) == 0)
                p += 12;
        if (strncmp(p, "user=", 5) != 0)
                return -EBADMSG;
        p += 5;
        size_t ul = strcspn(p, "\n");
        if (ul == 0 || ul >= sizeof(ret->user))
                return -EBADMSG;
        memcpy(ret->user, p, ul);
        ret->user[ul] = '\0';
        return 0;
}

static int logins_file_foreach(const char *path, int (*fn)(const struct login_entry *e, void *data),
                               void *data)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_uid != 0 || (st.st_mode & 0022) || !S_ISREG(st.st_mode))
                return 0; /* not ours: ignored */
        FILE *f = fdopen(fd, "re");
        if (!f)
                return -errno;
        fd = -1;
        char *line = NULL;
        size_t cap = 0;
        int r = 0;
        while (r >= 0 && getline(&line, &cap, f) > 0) {
                struct login_entry e;
                if (registry_login_parse(line, &e) == 0)
                        r = fn(&e, data);
        }
        free(line);
        fclose(f);
        return r;
}

int registry_logins_foreach(const char *runtime_dir,
                            int (*fn)(const struct login_entry *e, void *data), void *data)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/logins.old", runtime_dir);
        int r = logins_file_foreach(path, fn, data);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/logins", runtime_dir);
        return logins_file_foreach(path, fn, data);
}

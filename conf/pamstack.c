/* pamstack.c: where pam_isolate.so sits in a service's session stack.
 *
 * Once pam_isolate has joined the sandbox, the PAM caller is outside its own pid namespace
 * (/proc/self no longer resolves) and under the seccomp filter, so a session module placed
 * after it runs crippled: pam_loginuid fails silently, pam_keyinit's keyctl is denied,
 * pam_selinux cannot write its exec context. This reads the stack the way libpam does
 * (include, substack, @include, "-" before the type, "[...]" controls, "\" continuations,
 * "#" comments) and reports each session module that comes after ours. */
#include "pamstack.h"

#include <unistd.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MODULE_NAME "pam_isolate.so"
/* libpam gives up on substacks nested deeper than this; a loop of includes ends here too. */
#define MAX_DEPTH     16
#define MAX_FILE_SIZE (1024 * 1024)

struct stack_entry {
        char *module; /* basename, "pam_loginuid.so" */
        char *where;  /* "FILE:LINE" */
};

struct stack {
        struct stack_entry *v;
        size_t n;
        const char *pamd_dir;
        struct config_errors *problems;
        int n_problems;
};

static int problem_add(struct stack *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int problem_add(struct stack *s, const char *fmt, ...)
{
        s->n_problems++;
        if (!s->problems)
                return 0;
        va_list ap;
        va_start(ap, fmt);
        int r = config_errors_vadd(s->problems, fmt, ap);
        va_end(ap);
        return r;
}

static int entry_add(struct stack *s, const char *module_path, const char *file, unsigned line)
{
        const char *base = strrchr(module_path, '/');
        base = base ? base + 1 : module_path;
        struct stack_entry *v = realloc(s->v, (s->n + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        s->v = v;
        struct stack_entry *e = &s->v[s->n];
        e->module = strdup(base);
        if (!e->module || asprintf(&e->where, "%s:%u", file, line) < 0) {
                free(e->module);
                return -ENOMEM;
        }
        s->n++;
        return 0;
}

static void stack_free(struct stack *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->v[i].module);
                free(s->v[i].where);
        }
        free(s->v);
}

/* Reads a whole (small) file. Returns its length or -errno. */
static ssize_t read_whole(const char *path, char **ret)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        struct stat st;
        if (fstat(fileno(f), &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (st.st_size > MAX_FILE_SIZE)
                return -EFBIG;
        _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        size_t n = fread(buf, 1, (size_t)st.st_size, f);
        if (ferror(f))
                return -EIO;
        buf[n] = '\0';
        *ret = TAKE_PTR(buf);
        return (ssize_t)n;
}

/* Next whitespace-separated token of *p; a token starting with '[' runs to the matching
 * ']' (a control such as "[success=ok default=bad]" holds spaces). NULL at the end. */
static char *next_token(char **p)
{
        char *s = *p + strspn(*p, " \t\r\f\v");
        if (*s == '\0')
                return NULL;
        char *end;
        if (*s == '[') {
                end = s + 1;
                int depth = 1;
                for (; *end && depth > 0; end++) {
                        if (*end == '\\' && end[1]) /* "\]" is a literal ']' in a control */
                                end++;
                        else if (*end == '[')
                                depth++;
                        else if (*end == ']')
                                depth--;
                }
        } else {
                end = s + strcspn(s, " \t\r\f\v");
        }
        if (*end)
                *end++ = '\0';
        *p = end;
        return s;
}

static int parse_file(struct stack *s, const char *path, unsigned depth);

static int include_file(struct stack *s, const char *name, const char *file, unsigned line,
                        unsigned depth)
{
        _cleanup_free_ char *path = NULL;
        if (name[0] == '/')
                path = strdup(name);
        else if (asprintf(&path, "%s/%s", s->pamd_dir, name) < 0)
                path = NULL;
        if (!path)
                return -ENOMEM;
        if (depth + 1 >= MAX_DEPTH)
                return problem_add(s,
                                   "%s:%u: includes nested more than %d deep (a loop?): %s "
                                   "not read",
                                   file, line, MAX_DEPTH, path);
        int r = parse_file(s, path, depth + 1);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return problem_add(s, "%s:%u: cannot read the included %s: %s", file, line, path,
                                   strerror(-r));
        return 0;
}

/* One logical line (continuations joined, comment cut). Only session lines and @include
 * matter: "session include X" / "session substack X" bring in X's session lines,
 * "@include X" brings in all of X. */
static int parse_line(struct stack *s, char *text, const char *file, unsigned line, unsigned depth)
{
        char *p = text;
        char *type = next_token(&p);
        if (!type)
                return 0;
        if (strcasecmp(type, "@include") == 0) {
                char *name = next_token(&p);
                if (!name)
                        return problem_add(s, "%s:%u: @include without a file name", file, line);
                return include_file(s, name, file, line, depth);
        }
        if (type[0] == '-') /* "-session": libpam skips a missing module quietly */
                type++;
        if (strcasecmp(type, "session") != 0)
                return 0;
        char *control = next_token(&p);
        char *module = next_token(&p);
        if (!control || !module)
                return problem_add(s, "%s:%u: session line without a module", file, line);
        if (strcasecmp(control, "include") == 0 || strcasecmp(control, "substack") == 0)
                return include_file(s, module, file, line, depth);
        return entry_add(s, module, file, line);
}

static int parse_file(struct stack *s, const char *path, unsigned depth)
{
        _cleanup_free_ char *buf = NULL;
        ssize_t len = read_whole(path, &buf);
        if (len < 0)
                return (int)len;
        unsigned lineno = 0;
        char *p = buf, *end = buf + len;
        while (p < end) {
                unsigned first = ++lineno;
                /* Assemble one logical line in place: "\" + newline joins the next line. */
                char *out = p, *start = p;
                for (;;) {
                        char *nl = memchr(p, '\n', (size_t)(end - p));
                        char *stop = nl ? nl : end;
                        size_t n = (size_t)(stop - p);
                        bool cont = n > 0 && p[n - 1] == '\\';
                        if (cont)
                                n--;
                        memmove(out, p, n);
                        out += n;
                        p = nl ? nl + 1 : end;
                        if (!cont || p >= end)
                                break;
                        *out++ = ' ';
                        lineno++;
                }
                *out = '\0';
                char *hash = strchr(start, '#');
                if (hash)
                        *hash = '\0';
                int r = parse_line(s, start, path, first, depth);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Why a module must come before pam_isolate, for the modules where the answer is known. */
static const char *why_before(const char *module)
{
        static const struct {
                const char *module, *why;
        } known[] = {
            {"pam_loginuid.so", "it writes /proc/self/loginuid, which no longer resolves after "
                                "the join: it fails silently and the session has no loginuid"},
            {"pam_systemd.so", "it registers the session with logind and moves the caller into "
                               "its scope; after the join the caller's /proc/self and cgroup "
                               "are the sandbox's"},
            {"pam_selinux.so", "its open reads the caller's context and writes the user's to "
                               "/proc/self/attr, which no longer resolves after the join: with "
                               "SELinux on, every login of this service fails there (\"Unable "
                               "to get valid context\"). Debian's pam-auth-update puts "
                               "pam_isolate.so in common-session, before it: on an SELinux host "
                               "run pam-auth-update --disable isolate and add `session required "
                               "pam_isolate.so` as the last session line of the service's file "
                               "instead"},
            {"pam_apparmor.so", "it writes /proc/self/attr, which no longer resolves after the "
                                "join"},
            {"pam_keyinit.so", "keyctl is denied by the sandbox's seccomp filter"},
            {"pam_namespace.so", "unshare and mount are denied by the sandbox's seccomp filter"},
            {"pam_cgfs.so", "it moves the caller between cgroups the sandbox no longer shows"},
        };
        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (STREQ(module, known[i].module))
                        return known[i].why;
        return "it runs inside the sandbox (no /proc/self, under the seccomp filter) and may fail";
}

static const char *selinux_enforce = "/sys/fs/selinux/enforce";

/* Modules whose place does not matter: they only steer the stack's result, or their
 * session part works as well inside the sandbox (no /proc/self, no setns/mount/keyctl):
 * Debian's /etc/pam.d/sshd lists several of them after `@include common-session`, and a
 * login through that stack is tested (tests/vm). */
static bool runs_fine_after(const char *module)
{
        static const char *const fine[] = {
            "pam_permit.so", "pam_deny.so", "pam_motd.so",  "pam_mail.so",
            "pam_limits.so", "pam_env.so",  "pam_umask.so", "pam_lastlog.so",
            "pam_exec.so",   "pam_echo.so", "pam_unix.so",  "pam_warn.so",
        };
        for (size_t i = 0; i < ELEMENTSOF(fine); i++)
                if (STREQ(module, fine[i]))
                        return true;
        /* pam_selinux does nothing where SELinux is off (Debian's sshd lists it after
         * common-session); where it is on, its open must come before the join */
        if (STREQ(module, "pam_selinux.so"))
                return access(selinux_enforce, F_OK) < 0;
        return false;
}

void pamstack_set_selinux_path(const char *enforce_file)
{
        selinux_enforce = enforce_file;
}

int pamstack_check(const char *pamd_dir, const char *service, struct config_errors *problems)
{
        struct stack s = {.pamd_dir = pamd_dir, .problems = problems};
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s", pamd_dir, service) < 0)
                return -ENOMEM;
        int r = parse_file(&s, path, 0);
        if (r < 0) {
                stack_free(&s);
                return r;
        }

        ssize_t ours = -1;
        for (size_t i = 0; i < s.n && r >= 0; i++) {
                if (!STREQ(s.v[i].module, MODULE_NAME))
                        continue;
                if (ours < 0)
                        ours = (ssize_t)i;
                else
                        r = problem_add(&s,
                                        "%s: " MODULE_NAME " is in the session stack of %s "
                                        "again (first at %s): a second join fails the login",
                                        s.v[i].where, service, s.v[ours].where);
        }
        if (ours < 0 && r >= 0)
                r = problem_add(&s,
                                "%s: " MODULE_NAME " is not in the session stack: sessions of "
                                "service %s are not confined",
                                path, service);
        for (size_t i = ours < 0 ? s.n : (size_t)ours + 1; i < s.n && r >= 0; i++) {
                if (STREQ(s.v[i].module, MODULE_NAME) || runs_fine_after(s.v[i].module))
                        continue;
                r = problem_add(&s,
                                "%s: %s comes after " MODULE_NAME " (%s) in the session "
                                "stack of %s: %s; move " MODULE_NAME " to the end",
                                s.v[i].where, s.v[i].module, s.v[ours].where, service,
                                why_before(s.v[i].module));
        }
        int n = s.n_problems;
        stack_free(&s);
        return r < 0 ? r : n;
}

/* util.h: the boring parts, written once (cleanup attributes, errors, parsing, files).
 * libc only: linked into the PAM module as well as the helper and isolatectl. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ISOLATE_VERSION "0.1.0"

/* Errors travel up as a negative errno plus a message object, last argument (crun style). */
struct isolate_error {
        int code;        /* positive errno, 0 when no error */
        char msg[1024];  /* one line, for an admin: what failed and what to do */
        bool host_fault; /* a fault of the host or the install that no user can cause (a
                            missing controller or session init, an LSM the kernel lacks):
                            the only failures `fail = open` may apply to. Cleared by
                            error_set(); set by error_host_fault(). */
};

/* Sets err (when not NULL) and returns -code. code may be given positive or negative. */
int error_set(struct isolate_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with ": strerror(code)" appended. */
int error_set_errno(struct isolate_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Marks the error just set as a fault of the host (see host_fault); returns -code. */
int error_host_fault(struct isolate_error *err);
/* Prefixes an existing message: "prefix: old message". */
int error_prefix(struct isolate_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void freep(void *p)
{
        free(*(void **)p);
}
static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p = (p);                                                            \
                (p) = NULL;                                                                        \
                _p;                                                                                \
        })
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd = (fd);                                                                    \
                (fd) = -1;                                                                         \
                _fd;                                                                               \
        })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define STREQ(a, b)   (strcmp((a), (b)) == 0)

/* Parses a whole decimal number; -EINVAL on junk, -ERANGE on overflow. */
int safe_atou64(const char *s, uint64_t *ret);
int safe_atoi(const char *s, int *ret);

/* Reads at most max bytes of a small file (proc, sysfs, cgroupfs) into a NUL-terminated
 * buffer; trailing newline kept. Returns length or -errno. */
ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t max);
/* Reads a file holding one decimal number (a sysctl, a cgroup counter): 0 or -errno
 * (-EINVAL for anything else in it). */
int read_u64_at(int dirfd, const char *path, uint64_t *ret);
/* A process's start time in clock ticks after boot (/proc/PID/stat, field 22): with the pid
 * it names one process, where a pid alone may have been reused. 0, -ESRCH for a process that
 * has exited (a zombie), or -errno. */
int proc_start_time(pid_t pid, uint64_t *ret);

/* Writes all of buf, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);

/* strdup that aborts on ENOMEM is not allowed here: returns NULL like strdup. */
char *strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Adds one line to a buffer of warnings (a NUL-terminated string, lines joined with '\n',
 * none at the end); what does not fit is cut. buf NULL or len 0: nothing. */
void warnings_add(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Random hex string of n chars (n even), from getrandom(2). */
int random_hex(char *buf, size_t n);

/* The names of a user's groups, primary first, each once: the primary's, then those of
 * getgrouplist() (with_groups; without, the primary's alone). A gid without a name counts
 * as its number. *ret: a heap array of heap strings; free with strv_free(). -errno. Both the
 * helper's decision (login_info_lookup_ext) and a ticket's key (ticket.h) read them here. */
int user_groups_lookup(const char *name, gid_t primary, bool with_groups, char ***ret,
                       size_t *ret_n);
void strv_free(char **v, size_t n);

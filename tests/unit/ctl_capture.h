/* ctl_capture.h: runs an isolatectl subcommand function in the test process and captures
 * what it prints. Shared by the unit tests of check, explain and why. */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

struct output {
        int rc;
        char out[65536], err[16384];
};

static inline void read_all(FILE *f, char *buf, size_t len)
{
        rewind(f);
        size_t n = fread(buf, 1, len - 1, f);
        buf[n] = '\0';
        fclose(f);
}

/* fn(argc, argv); stdout and stderr captured. */
static inline struct output *run_argv(int (*fn)(int, char **), int argc, char **argv)
{
        static struct output o;
        fflush(stdout);
        fflush(stderr);
        FILE *fo = tmpfile(), *fe = tmpfile();
        assert_non_null(fo);
        assert_non_null(fe);
        int so = dup(1), se = dup(2);
        dup2(fileno(fo), 1);
        dup2(fileno(fe), 2);
        o.rc = fn(argc, argv);
        fflush(stdout);
        fflush(stderr);
        dup2(so, 1);
        dup2(se, 2);
        close(so);
        close(se);
        read_all(fo, o.out, sizeof(o.out));
        read_all(fe, o.err, sizeof(o.err));
        return &o;
}

/* fn(argc, argv) with the NULL-terminated arguments; stdout and stderr captured. */
static inline struct output *run_cmd(int (*fn)(int, char **), ...)
{
        char *argv[16];
        int argc = 0;
        va_list ap;
        va_start(ap, fn);
        for (const char *a; argc < 15 && (a = va_arg(ap, const char *));)
                argv[argc++] = (char *)a;
        va_end(ap);
        argv[argc] = NULL;
        return run_argv(fn, argc, argv);
}

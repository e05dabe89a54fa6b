/* diag.c: the problems a parse collects, each with its line, and how they become the
 * "FILE:LINE: message" list a caller prints (struct config_errors). */
#include "parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages quote what the config says, and reach a terminal: control characters, C1
 * controls and bytes that are not UTF-8 become '?'. */
static void sanitize(char *s)
{
        unsigned char *p = (unsigned char *)s;
        while (*p) {
                unsigned c = *p;
                size_t n = c < 0x80             ? 1
                           : (c & 0xe0) == 0xc0 ? 2
                           : (c & 0xf0) == 0xe0 ? 3
                           : (c & 0xf8) == 0xf0 ? 4
                                                : 0;
                bool ok = n > 0;
                for (size_t i = 1; ok && i < n; i++)
                        ok = (p[i] & 0xc0) == 0x80;
                if (ok && n == 1)
                        ok = c >= 0x20 && c != 0x7f;
                if (ok && n == 2)
                        ok = c >= 0xc2 && !(c == 0xc2 && p[1] < 0xa0); /* overlong, C1 */
                if (!ok) {
                        *p++ = '?';
                        continue;
                }
                p += n;
        }
}

void diag_add(struct parse_ctx *ctx, int line, const char *fmt, ...)
{
        if (!ctx)
                return;
        struct diag *n = reallocarray(ctx->diags, ctx->n_diags + 1, sizeof(*n));
        if (!n) {
                ctx->oom = true;
                return;
        }
        ctx->diags = n;
        va_list ap;
        va_start(ap, fmt);
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg) {
                ctx->oom = true;
                return;
        }
        sanitize(msg);
        n[ctx->n_diags++] = (struct diag){.line = line, .seq = ctx->n_diags, .msg = msg};
}

static int diag_cmp(const void *a, const void *b)
{
        const struct diag *x = a, *y = b;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int errs_append(struct config_errors *errs, char *msg)
{
        char **n = reallocarray(errs->msgs, errs->n + 1, sizeof(*n));
        if (!n) {
                free(msg);
                return -ENOMEM;
        }
        errs->msgs = n;
        errs->msgs[errs->n++] = msg;
        return 0;
}

int config_errors_vadd(struct config_errors *errs, const char *fmt, va_list ap)
{
        if (!errs)
                return 0;
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                return -ENOMEM;
        return errs_append(errs, msg);
}

int config_errors_add(struct config_errors *errs, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = config_errors_vadd(errs, fmt, ap);
        va_end(ap);
        return r;
}

/* Moves the problems, sorted by line, into errs as "FILE:LINE: message". */
int diags_flush(struct parse_ctx *ctx, struct config_errors *errs)
{
        int r = 0;
        if (ctx->n_diags > 1) /* qsort(NULL, 0, ...) is undefined */
                qsort(ctx->diags, ctx->n_diags, sizeof(*ctx->diags), diag_cmp);
        for (size_t i = 0; i < ctx->n_diags; i++) {
                struct diag *d = &ctx->diags[i];
                if (errs && r == 0) {
                        if (d->line > 0)
                                r = config_errors_add(errs, "%s:%d: %s", ctx->file, d->line,
                                                      d->msg);
                        else
                                r = config_errors_add(errs, "%s: %s", ctx->file, d->msg);
                }
                free(d->msg);
        }
        free(ctx->diags);
        ctx->diags = NULL;
        ctx->n_diags = 0;
        return r;
}

void config_errors_free(struct config_errors *errs)
{
        if (!errs)
                return;
        for (size_t i = 0; i < errs->n; i++)
                free(errs->msgs[i]);
        free(errs->msgs);
        errs->msgs = NULL;
        errs->n = 0;
}

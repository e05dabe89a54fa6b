/* json.c: the JSON that isolatectl prints (explain --json, list --json). */
#include <inttypes.h>
#include <stdio.h>

#include "json.h"

/* A JSON string: escapes, control characters as \u00XX, invalid UTF-8 as U+FFFD. */
void json_str(FILE *f, const char *s)
{
        if (!s) {
                fputs("null", f);
                return;
        }
        fputc('"', f);
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
                unsigned c = *p;
                if (c == '"' || c == '\\') {
                        fprintf(f, "\\%c", c);
                        p++;
                } else if (c < 0x20 || c == 0x7f) {
                        fprintf(f, "\\u%04x", c);
                        p++;
                } else if (c < 0x80) {
                        fputc((int)c, f);
                        p++;
                } else {
                        size_t n = (c & 0xe0) == 0xc0   ? 2
                                   : (c & 0xf0) == 0xe0 ? 3
                                   : (c & 0xf8) == 0xf0 ? 4
                                                        : 0;
                        bool ok = n > 0 && c >= 0xc2 && c <= 0xf4;
                        for (size_t i = 1; ok && i < n; i++)
                                ok = (p[i] & 0xc0) == 0x80;
                        if (!ok) {
                                fputs("\\ufffd", f);
                                p++;
                                continue;
                        }
                        fwrite(p, 1, n, f);
                        p += n;
                }
        }
        fputc('"', f);
}

void json_strv(FILE *f, const struct strv *v)
{
        fputc('[', f);
        for (size_t i = 0; i < v->n; i++) {
                if (i)
                        fputs(", ", f);
                json_str(f, v->v[i]);
        }
        fputc(']', f);
}

/* null: not set; "max": no limit; else the number */
void json_limit(FILE *f, uint64_t v)
{
        if (v == LIMIT_UNSET)
                fputs("null", f);
        else if (v == LIMIT_MAX)
                fputs("\"max\"", f);
        else
                fprintf(f, "%" PRIu64, v);
}

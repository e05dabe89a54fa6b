/* values.c: one value as the config writes it: checked against its key (conf/keys.c), with
 * a message that says what to write instead, and converted (sizes, rates, counts,
 * percentages, durations, linger, capabilities, addresses, egress destinations, names and
 * paths). */
#include "parse.h"
#include "syscalls.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

int strv_push(struct strv *v, const char *s)
{
        char **n = reallocarray(v->v, v->n + 2, sizeof(*n));
        if (!n)
                return -ENOMEM;
        v->v = n;
        n[v->n] = strdup(s);
        if (!n[v->n])
                return -ENOMEM;
        n[++v->n] = NULL;
        return 0;
}

void config_strv_free(struct strv *v)
{
        for (size_t i = 0; v && i < v->n; i++)
                free(v->v[i]);
        if (v) {
                free(v->v);
                v->v = NULL;
                v->n = 0;
        }
}

bool config_strv_contains(const struct strv *v, const char *s)
{
        for (size_t i = 0; v && s && i < v->n; i++)
                if (STREQ(v->v[i], s))
                        return true;
        return false;
}

bool config_strv_all_in(const struct strv *v, const struct strv *set)
{
        if (v->n == 0)
                return false;
        for (size_t i = 0; i < v->n; i++)
                if (!config_strv_contains(set, v->v[i]))
                        return false;
        return true;
}

static const char *group_names(char *buf, size_t len)
{
        size_t n, off = 0;
        const struct syscall_group *g = syscall_groups(&n);
        buf[0] = '\0';
        for (size_t i = 0; i < n && off < len; i++)
                off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", g[i].name);
        return buf;
}

static bool is_number(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* One list element: 0 when fine, else the problem already reported. */
static int check_element(struct parse_ctx *ctx, const struct key *k, const struct optval *v)
{
        const char *s = v->text;
        char msg[1024];

        switch (k->kind) {
        case K_NAMES:
                for (const char *p = s; *p; p++)
                        if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20) {
                                diag_add(ctx, v->line, "%s: '%s' is not a name (white space)",
                                         k->name, s);
                                return -EINVAL;
                        }
                if (!*s) {
                        diag_add(ctx, v->line, "%s: empty name; remove it", k->name);
                        return -EINVAL;
                }
                return 0;
        case K_PATHS:
                if (s[0] != '/' || path_has_dotdot(s) || text_has_control_char(s)) {
                        diag_add(ctx, v->line, "%s: '%s' must be an absolute path without '..'",
                                 k->name, s);
                        return -EINVAL;
                }
                if (STREQ(k->name, "masked_paths") && s[strspn(s, "/")] == '\0') {
                        diag_add(ctx, v->line, "masked_paths: masking / would hide everything");
                        return -EINVAL;
                }
                return 0;
        case K_LANDLOCK: {
                const char *rest = s;
                if (strncmp(s, "$HOME", 5) == 0)
                        rest = s + 5;
                else if (s[0] == '~')
                        rest = s + 1;
                bool home = rest != s;
                if ((home && rest[0] != '\0' && rest[0] != '/') || (!home && s[0] != '/') ||
                    path_has_dotdot(s) || text_has_control_char(s)) {
                        diag_add(ctx, v->line,
                                 "%s: '%s' must be an absolute path, or start with $HOME or ~ "
                                 "(the user's home), without '..'",
                                 k->name, s);
                        return -EINVAL;
                }
                return 0;
        }
        case K_SYSCALLS:
                if (syscall_spec_check(s, msg, sizeof(msg)) < 0) {
                        char groups[1024];
                        if (s[0] == '@')
                                diag_add(ctx, v->line, "%s: %s; the groups are: %s", k->name, msg,
                                         group_names(groups, sizeof(groups)));
                        else
                                diag_add(ctx, v->line,
                                         "%s: %s; write a name as in syscall(2) or an @group",
                                         k->name, msg);
                        return -EINVAL;
                }
                return 0;
        default:
                return 0;
        }
}

static int parse_cap(const char *s, cap_value_t *ret)
{
        char name[64];
        if (!*s || is_number(s) || strlen(s) + 4 >= sizeof(name))
                return -EINVAL;
        bool prefixed = strncasecmp(s, "cap_", 4) == 0;
        snprintf(name, sizeof(name), "%s%s", prefixed ? "" : "cap_", s);
        for (char *p = name; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        cap_value_t v;
        if (cap_from_name(name, &v) < 0 || v < 0 || v >= 64)
                return -EINVAL;
        *ret = v;
        return 0;
}

static void cidr_error(struct parse_ctx *ctx, const struct optval *v, int r, const struct cidr *c)
{
        char net[INET6_ADDRSTRLEN + 8];
        if (r == -EADDRNOTAVAIL) {
                format_cidr(c, net, sizeof(net));
                diag_add(ctx, v->line,
                         "rhosts: '%s' has bits set behind its prefix; write the network, "
                         "e.g. \"%s\"",
                         v->text, net);
        } else if (r == -ERANGE) {
                diag_add(ctx, v->line,
                         "rhosts: '%s': the prefix is longer than the address (at most /32 for "
                         "IPv4, /128 for IPv6)",
                         v->text);
        } else {
                diag_add(ctx, v->line,
                         "rhosts: '%s' is not an IP address or network; write e.g. \"10.0.0.0/8\", "
                         "\"192.0.2.7\" or \"2001:db8::/32\" (host names are not matched: PAM's "
                         "rhost is compared as an address)",
                         v->text);
        }
}

/* linger: no, yes, or a duration as K_DURATION writes it, days ("2d") too. */
static int convert_linger(struct parse_ctx *ctx, const struct key *k, const struct optval *v,
                          uint64_t *ret)
{
        const char *s = v->text;
        uint64_t x = 0;
        int r;

        if (STREQ(s, "no")) {
                *ret = LINGER_NO;
                return 0;
        }
        if (STREQ(s, "yes")) {
                *ret = LINGER_FOREVER;
                return 0;
        }
        size_t len = strlen(s);
        if (len > 1 && s[len - 1] == 'd' && strspn(s, "0123456789") == len - 1) {
                char num[32];
                r = len - 1 < sizeof(num) ? 0 : -ERANGE;
                if (r == 0) {
                        memcpy(num, s, len - 1);
                        num[len - 1] = '\0';
                        r = safe_atou64(num, &x);
                }
                if (r == 0 && x > UINT64_MAX / (24 * 3600 * 1000))
                        r = -ERANGE;
                x *= 24 * 3600 * 1000;
        } else {
                r = parse_duration_ms(s, &x);
        }
        if (r == -ERANGE || (r == 0 && k->max && x > k->max)) {
                diag_add(ctx, v->line,
                         "%s: %s is too long (at most %" PRIu64 "d); write yes to keep the "
                         "sandbox until its last process exits",
                         k->name, s, k->max / (24 * 3600 * 1000));
                return -EINVAL;
        }
        if (r < 0) {
                diag_add(ctx, v->line,
                         "%s: '%s' is not no, yes or a duration; write e.g. 30s, 90m, 8h or 2d "
                         "(at most that long after the last login), yes (until no process is "
                         "left) or no",
                         k->name, s);
                return -EINVAL;
        }
        if (x < k->min) {
                diag_add(ctx, v->line,
                         "%s: %s is too short (at least %" PRIu64 "s); write no for a sandbox "
                         "that ends with its last login",
                         k->name, s, k->min / 1000);
                return -EINVAL;
        }
        *ret = x;
        return 0;
}

static int convert_number(struct parse_ctx *ctx, const struct key *k, const struct optval *v,
                          uint64_t *ret)
{
        const char *s = v->text;
        uint64_t x = 0;
        int r;

        switch (k->kind) {
        case K_SIZE:
                r = parse_size(s, &x);
                break;
        case K_RATE:
                r = parse_rate(s, &x);
                break;
        case K_PERCENT:
                r = parse_percent(s, &x);
                break;
        case K_DURATION:
                r = parse_duration_ms(s, &x);
                break;
        default: { /* K_COUNT */
                char buf[32];
                size_t len = strlen(s);
                if ((k->flags & KF_PER_SECOND) && len > 2 && STREQ(s + len - 2, "/s"))
                        len -= 2;
                if (len >= sizeof(buf)) {
                        r = is_number(s) ? -ERANGE : -EINVAL;
                        break;
                }
                memcpy(buf, s, len);
                buf[len] = '\0';
                if (STREQ(buf, "max") || STREQ(buf, "infinity")) {
                        x = LIMIT_MAX;
                        r = 0;
                } else {
                        r = safe_atou64(buf, &x);
                        if (r == 0 && x >= LIMIT_MAX)
                                r = -ERANGE;
                }
                break;
        }
        }

        if (r == -ERANGE) {
                diag_add(ctx, v->line, "%s: '%s' is too large", k->name, s);
                return r;
        }
        if (r < 0) {
                switch (k->kind) {
                case K_SIZE:
                        diag_add(ctx, v->line,
                                 "%s: '%s' is not a size; write a number of bytes with an "
                                 "optional unit K, M, G or T (1K = 1024), e.g. 512M or 1.5G%s",
                                 k->name, s, k->flags & KF_NO_MAX ? "" : ", or max");
                        break;
                case K_RATE:
                        diag_add(ctx, v->line,
                                 "%s: '%s' is not a rate; write bytes per second with an "
                                 "optional unit K, M, G (1K = 1024), e.g. 20M or 20M/s, or max",
                                 k->name, s);
                        break;
                case K_PERCENT:
                        if (is_number(s)) {
                                diag_add(ctx, v->line,
                                         "%s: '%s' needs a unit: write %s%% (100%% is one CPU)",
                                         k->name, s, s);
                                break;
                        }
                        diag_add(ctx, v->line,
                                 "%s: '%s' is not a percentage; write e.g. 50%% (half a CPU) or "
                                 "200%% (two CPUs), or max",
                                 k->name, s);
                        break;
                case K_DURATION:
                        diag_add(ctx, v->line,
                                 "%s: '%s' is not a duration; write e.g. 500ms, 5s, 2m, or a "
                                 "number of seconds",
                                 k->name, s);
                        break;
                default:
                        diag_add(ctx, v->line, "%s: '%s' is not a whole number%s", k->name, s,
                                 k->flags & KF_NO_MAX ? "" : " or max");
                        break;
                }
                return r;
        }
        if (x == LIMIT_MAX && ((k->flags & KF_NO_MAX) || k->kind == K_DURATION)) {
                diag_add(ctx, v->line, "%s: 'max' is not allowed here; write a value%s", k->name,
                         k->flags & KF_NOT_ZERO ? ", or remove the key for the default" : "");
                return -EINVAL;
        }
        if (x == 0 && (k->flags & KF_NOT_ZERO)) {
                if (STREQ(k->name, "tmp_size"))
                        diag_add(ctx, v->line,
                                 "tmp_size: 0 would mean no limit to tmpfs; write a size, or "
                                 "remove the key for the kernel's default (half of RAM)");
                else
                        diag_add(ctx, v->line,
                                 "%s: 0 would stop every session; write a larger value, or max "
                                 "for no limit",
                                 k->name);
                return -EINVAL;
        }
        if (x != LIMIT_MAX && k->min && x < k->min) {
                if (k->kind == K_DURATION)
                        diag_add(ctx, v->line, "%s: %s is too short (at least %" PRIu64 "ms)",
                                 k->name, s, k->min);
                else
                        diag_add(ctx, v->line, "%s: %s is below the minimum %" PRIu64 "%s", k->name,
                                 s, k->min, k->kind == K_PERCENT ? "%" : "");
                return -EINVAL;
        }
        if (x != LIMIT_MAX && k->max && x > k->max) {
                if (k->kind == K_DURATION)
                        diag_add(ctx, v->line, "%s: %s is too long (at most %" PRIu64 "s)", k->name,
                                 s, k->max / 1000);
                else
                        diag_add(ctx, v->line, "%s: %s is above the maximum %" PRIu64 "%s", k->name,
                                 s, k->max, k->kind == K_PERCENT ? "%" : "");
                return -EINVAL;
        }
        *ret = x;
        return 0;
}

bool is_scalar(enum kind k)
{
        return k != K_NAMES && k != K_PATHS && k != K_LANDLOCK && k != K_SYSCALLS && k != K_CAPS &&
               k != K_CIDRS && k != K_EGRESS;
}

/* Checks one value as written: 0 with *out filled, or -EINVAL after reporting the problem to
 * ctx (nothing is reported when ctx is NULL: the conversion re-reads checked values). */
int value_check(struct parse_ctx *ctx, const struct key *k, const struct optval *v,
                union parsed *out)
{
        char msg[1024];
        int r;

        switch (k->kind) {
        case K_BOOL:
                r = cfg_parse_boolean(v->text);
                if (r < 0) {
                        diag_add(ctx, v->line, "%s must be true or false, not '%s'", k->name,
                                 v->text);
                        return -EINVAL;
                }
                out->b = r;
                return 0;
        case K_ENUM:
                for (const struct enum_name *e = k->enums; e->name; e++)
                        if (STREQ(e->name, v->text)) {
                                out->e = e->value;
                                return 0;
                        }
                diag_add(ctx, v->line, "%s must be one of %s, not '%s'", k->name,
                         key_enum_choices(k, msg, sizeof(msg)), v->text);
                return -EINVAL;
        case K_STR:
                if (k->check && k->check(v->text, msg, sizeof(msg)) < 0) {
                        diag_add(ctx, v->line, "%s", msg);
                        return -EINVAL;
                }
                return 0;
        case K_SIZE:
        case K_RATE:
        case K_COUNT:
        case K_PERCENT:
        case K_DURATION:
                return convert_number(ctx, k, v, &out->u);
        case K_LINGER:
                return convert_linger(ctx, k, v, &out->u);
        case K_NAMES:
        case K_PATHS:
        case K_LANDLOCK:
        case K_SYSCALLS:
                return check_element(ctx, k, v);
        case K_CAPS:
                if (parse_cap(v->text, &out->cap) < 0) {
                        diag_add(ctx, v->line,
                                 "capabilities: unknown capability '%s'; write a name from "
                                 "capabilities(7), e.g. CAP_NET_BIND_SERVICE",
                                 v->text);
                        return -EINVAL;
                }
                return 0;
        case K_CIDRS:
                r = parse_cidr(v->text, &out->net);
                if (r < 0) {
                        if (ctx)
                                cidr_error(ctx, v, r, &out->net);
                        return -EINVAL;
                }
                return 0;
        case K_EGRESS:
                if (parse_egress_rule(v->text, &out->egress, msg, sizeof(msg)) < 0) {
                        diag_add(ctx, v->line, "%s: %s", k->name, msg);
                        return -EINVAL;
                }
                return 0;
        case K_NAME:
                if (!v->text[0]) {
                        diag_add(ctx, v->line, "%s: empty policy name", k->name);
                        return -EINVAL;
                }
                return 0;
        }
        return -EINVAL;
}

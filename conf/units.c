/* units.c: sizes, rates, percentages, durations and IP networks as written in the config. */
#include "policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool is_max(const char *s)
{
        return STREQ(s, "max") || STREQ(s, "infinity");
}

/* Leading decimal digits with an optional ".fraction" -> value * mult, rounded down.
 * *end points after the number. -EINVAL without digits, -ERANGE on overflow. */
static int parse_scaled(const char *s, uint64_t mult, uint64_t *ret, const char **end)
{
        uint64_t whole = 0;
        const char *p = s;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                unsigned d = (unsigned)(*p - '0');
                if (whole > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                whole = whole * 10 + d;
        }
        if (whole != 0 && mult > UINT64_MAX / whole)
                return -ERANGE;
        uint64_t v = whole * mult;

        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                /* Up to 9 fraction digits; more add nothing a byte count could hold. */
                uint64_t frac = 0, scale = 1;
                for (; *p >= '0' && *p <= '9'; p++) {
                        if (scale < 1000000000ULL) {
                                frac = frac * 10 + (unsigned)(*p - '0');
                                scale *= 10;
                        }
                }
                /* frac/scale < 1, so the product fits when computed as (mult/scale)*frac + ... */
                uint64_t add = (mult / scale) * frac + (mult % scale) * frac / scale;
                if (v > UINT64_MAX - add)
                        return -ERANGE;
                v += add;
        }
        *ret = v;
        *end = p;
        return 0;
}

static int unit_multiplier(char c, uint64_t *ret)
{
        switch (c) {
        case 'K':
        case 'k':
                *ret = 1ULL << 10;
                return 0;
        case 'M':
        case 'm':
                *ret = 1ULL << 20;
                return 0;
        case 'G':
        case 'g':
                *ret = 1ULL << 30;
                return 0;
        case 'T':
        case 't':
                *ret = 1ULL << 40;
                return 0;
        case 'P':
        case 'p':
                *ret = 1ULL << 50;
                return 0;
        case 'E':
        case 'e':
                *ret = 1ULL << 60;
                return 0;
        default:
                return -EINVAL;
        }
}

/* "<number>[.<fraction>][K|M|G|T|P|E][B]" up to suffix_end; binary units. */
static int parse_size_until(const char *s, const char *suffix_end, uint64_t *ret)
{
        const char *unit_start = s;
        while (unit_start < suffix_end &&
               ((*unit_start >= '0' && *unit_start <= '9') || *unit_start == '.'))
                unit_start++;

        uint64_t mult = 1;
        const char *u = unit_start;
        if (u < suffix_end && unit_multiplier(*u, &mult) == 0)
                u++;
        if (u < suffix_end && (*u == 'B' || *u == 'b'))
                u++;
        if (u != suffix_end)
                return -EINVAL;

        const char *end;
        uint64_t v;
        int r = parse_scaled(s, mult, &v, &end);
        if (r < 0)
                return r;
        if (end != unit_start)
                return -EINVAL;
        /* The two highest values are the "unset" and "max" markers. */
        if (v >= LIMIT_MAX)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret)
{
        if (!s || !*s)
                return -EINVAL;
        if (is_max(s)) {
                *ret = LIMIT_MAX;
                return 0;
        }
        return parse_size_until(s, s + strlen(s), ret);
}

int parse_rate(const char *s, uint64_t *ret)
{
        if (!s || !*s)
                return -EINVAL;
        if (is_max(s)) {
                *ret = LIMIT_MAX;
                return 0;
        }
        size_t len = strlen(s);
        if (len > 2 && STREQ(s + len - 2, "/s"))
                len -= 2;
        return parse_size_until(s, s + len, ret);
}

int parse_percent(const char *s, uint64_t *ret)
{
        if (!s || !*s)
                return -EINVAL;
        if (is_max(s)) {
                *ret = LIMIT_MAX;
                return 0;
        }
        size_t len = strlen(s);
        if (len < 2 || s[len - 1] != '%')
                return -EINVAL;
        char num[32];
        if (len - 1 >= sizeof(num))
                return -ERANGE;
        memcpy(num, s, len - 1);
        num[len - 1] = '\0';
        uint64_t v;
        int r = safe_atou64(num, &v);
        if (r < 0)
                return r;
        if (v >= LIMIT_MAX)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_duration_ms(const char *s, uint64_t *ret)
{
        static const struct {
                const char *suffix;
                uint64_t ms;
        } units[] = {
            {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"", 1000},
        };

        if (!s || !*s)
                return -EINVAL;
        const char *p = s;
        while (*p >= '0' && *p <= '9')
                p++;
        if (p == s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                if (!STREQ(p, units[i].suffix))
                        continue;
                char num[32];
                if ((size_t)(p - s) >= sizeof(num))
                        return -ERANGE;
                memcpy(num, s, (size_t)(p - s));
                num[p - s] = '\0';
                uint64_t v;
                int r = safe_atou64(num, &v);
                if (r < 0)
                        return r;
                if (v > UINT64_MAX / units[i].ms)
                        return -ERANGE;
                *ret = v * units[i].ms;
                return 0;
        }
        return -EINVAL;
}

static void prefix_mask(struct in6_addr *a, unsigned prefix)
{
        for (unsigned i = 0; i < 16; i++) {
                unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
                if (bits >= 8)
                        continue;
                a->s6_addr[i] &= (uint8_t)(0xff00 >> bits);
        }
}

/* An address alone is a /32 or /128. Host bits set behind the prefix ("10.1.2.3/8"):
 * -EADDRNOTAVAIL, with *ret holding the network the prefix names, so that the caller can
 * suggest it. */
int parse_cidr(const char *s, struct cidr *ret)
{
        char buf[INET6_ADDRSTRLEN + 8];
        if (!s || !*s || strlen(s) >= sizeof(buf))
                return -EINVAL;
        strcpy(buf, s);

        char *slash = strchr(buf, '/');
        if (slash)
                *slash = '\0';

        struct cidr c = {0};
        unsigned max_prefix;
        struct in_addr v4;
        if (inet_pton(AF_INET, buf, &v4) == 1) {
                c.addr.s6_addr[10] = 0xff;
                c.addr.s6_addr[11] = 0xff;
                memcpy(&c.addr.s6_addr[12], &v4, 4);
                max_prefix = 32;
        } else if (inet_pton(AF_INET6, buf, &c.addr) == 1) {
                max_prefix = 128;
        } else {
                return -EINVAL;
        }

        uint64_t prefix = max_prefix;
        if (slash) {
                /* safe_atou64 takes "08"; a prefix is written without leading zeros */
                if (slash[1] == '0' && slash[2] != '\0')
                        return -EINVAL;
                int r = safe_atou64(slash + 1, &prefix);
                if (r < 0)
                        return -EINVAL;
                if (prefix > max_prefix)
                        return -ERANGE;
        }
        c.prefix = (unsigned)prefix + (128 - max_prefix);

        struct in6_addr masked = c.addr;
        prefix_mask(&masked, c.prefix);
        bool host_bits = memcmp(&masked, &c.addr, sizeof(masked)) != 0;
        c.addr = masked;
        *ret = c;
        return host_bits ? -EADDRNOTAVAIL : 0;
}

bool cidr_contains(const struct cidr *net, const struct in6_addr *addr)
{
        struct in6_addr a = *addr;
        prefix_mask(&a, net->prefix);
        return memcmp(&a, &net->addr, sizeof(a)) == 0;
}

void format_cidr(const struct cidr *net, char *buf, size_t len)
{
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        char addr[INET6_ADDRSTRLEN];

        if (net->prefix >= 96 && memcmp(net->addr.s6_addr, v4mapped, 12) == 0) {
                inet_ntop(AF_INET, &net->addr.s6_addr[12], addr, sizeof(addr));
                snprintf(buf, len, "%s/%u", addr, net->prefix - 96);
        } else {
                inet_ntop(AF_INET6, &net->addr, addr, sizeof(addr));
                snprintf(buf, len, "%s/%u", addr, net->prefix);
        }
}

int parse_ip_address(const char *s, struct in6_addr *ret)
{
        char buf[INET6_ADDRSTRLEN + 1];
        struct in_addr v4;

        if (!s || !*s)
                return -EINVAL;
        if (inet_pton(AF_INET, s, &v4) == 1) {
                memset(ret, 0, sizeof(*ret));
                ret->s6_addr[10] = 0xff;
                ret->s6_addr[11] = 0xff;
                memcpy(&ret->s6_addr[12], &v4, 4);
                return 0;
        }
        /* A link-local address may carry a zone ("fe80::1%eth0"); the zone does not change
         * which network the address is in. */
        size_t n = strcspn(s, "%");
        if (n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (inet_pton(AF_INET6, buf, ret) == 1)
                return 0;
        return -EINVAL;
}

void format_size(uint64_t v, char *buf, size_t len)
{
        static const char units[] = "KMGTPE";

        if (v == LIMIT_UNSET) {
                snprintf(buf, len, "unset");
                return;
        }
        if (v == LIMIT_MAX) {
                snprintf(buf, len, "max");
                return;
        }
        int unit = -1;
        while (v != 0 && unit < 5 && (v & 1023) == 0) {
                v >>= 10;
                unit++;
        }
        if (unit < 0)
                snprintf(buf, len, "%" PRIu64, v);
        else
                snprintf(buf, len, "%" PRIu64 "%c", v, units[unit]);
}

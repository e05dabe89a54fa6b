/* egress.c: one entry of egress_allow, as the config writes it and as explain shows it.
 *
 *   ADDRESS[/PREFIX][:PORT][/PROTOCOL]
 *
 *   10.0.0.0/8:22         a network, one port, TCP and UDP
 *   192.0.2.10:443/tcp    one address, one port, TCP only
 *   [2001:db8::]/32:22    IPv6 always in brackets (the prefix may also go inside them)
 *   127.0.0.53:53/udp     the host's resolver, UDP only
 *   10.1.2.3              every port, both protocols (so is ":*"; "10.1.2.3:*" + "/udp"
 *                         is every UDP port)
 *
 * IPv6 needs its brackets even without a port: "::1:22" could be read as the address ::1:22
 * or as ::1 port 22, and an allowlist must mean one thing. Host names are not taken: their
 * addresses change without the config changing. IPv4 is kept as v4-mapped IPv6, so an IPv4
 * entry also allows the same addresses reached as ::ffff:a.b.c.d, and "[::]/0" holds IPv4
 * too. libc only: the helper and isolatectl both parse with it. */
#include "policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define EXAMPLES "e.g. \"10.0.0.0/8:22\", \"192.0.2.10:443/tcp\" or \"[2001:db8::1]:22\""

static bool is_v4mapped(const struct in6_addr *a)
{
        static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return memcmp(a->s6_addr, prefix, sizeof(prefix)) == 0;
}

void format_egress_rule(const struct egress_rule *r, char *buf, size_t len)
{
        char addr[INET6_ADDRSTRLEN], prefix[8] = "", port[8] = "";
        bool v4 = r->net.prefix >= 96 && is_v4mapped(&r->net.addr);
        unsigned bits = v4 ? r->net.prefix - 96 : r->net.prefix;

        if (v4)
                inet_ntop(AF_INET, &r->net.addr.s6_addr[12], addr, sizeof(addr));
        else
                inet_ntop(AF_INET6, &r->net.addr, addr, sizeof(addr));
        if (bits != (v4 ? 32u : 128u))
                snprintf(prefix, sizeof(prefix), "/%u", bits);
        if (r->port)
                snprintf(port, sizeof(port), ":%u", (unsigned)r->port);
        else if (r->proto != EGRESS_PROTO_ANY)
                snprintf(port, sizeof(port), ":*");
        snprintf(buf, len, "%s%s%s%s%s%s", v4 ? "" : "[", addr, v4 ? "" : "]", prefix, port,
                 r->proto == EGRESS_PROTO_TCP   ? "/tcp"
                 : r->proto == EGRESS_PROTO_UDP ? "/udp"
                                                : "");
}

static int port_parse(const char *s, const char *port, uint16_t *ret, char *msg, size_t len)
{
        uint64_t v;
        if (!*port) {
                snprintf(msg, len,
                         "'%s' has a ':' but no port after it; write a port (\":22\"), \":*\" "
                         "for every port, or leave out the ':'",
                         s);
                return -EINVAL;
        }
        if (STREQ(port, "*")) {
                *ret = 0;
                return 0;
        }
        int r = safe_atou64(port, &v);
        if (r == -EINVAL) {
                snprintf(msg, len,
                         "'%s': the port '%s' is not a number; write 1 to 65535, or * for every "
                         "port (services are not looked up by name)",
                         s, port);
                return -EINVAL;
        }
        if (r < 0 || v > 65535) {
                snprintf(msg, len, "'%s': the port %s is above 65535", s, port);
                return -EINVAL;
        }
        if (v == 0) {
                snprintf(msg, len,
                         "'%s': port 0 is no port; write * for every port, or leave the port out",
                         s);
                return -EINVAL;
        }
        *ret = (uint16_t)v;
        return 0;
}

/* What parse_cidr() refused in ADDRESS[/PREFIX], said for an admin. */
static int net_error(const char *s, int r, const char *addr, const char *prefix, bool bracketed,
                     const struct egress_rule *rule, char *msg, size_t len)
{
        struct in6_addr a;
        if (r == -EADDRNOTAVAIL) {
                char net[EGRESS_RULE_TEXT_MAX];
                format_egress_rule(rule, net, sizeof(net));
                snprintf(msg, len,
                         "'%s' has bits set behind its prefix /%s; write the network, \"%s\"", s,
                         prefix, net);
        } else if (r == -ERANGE) {
                snprintf(msg, len,
                         "'%s': the prefix /%s is longer than the address (at most /32 for "
                         "IPv4, /128 for IPv6)",
                         s, prefix);
        } else if (prefix && parse_ip_address(addr, &a) == 0) {
                snprintf(msg, len,
                         "'%s': the prefix '/%s' is not a number of bits; write e.g. "
                         "\"10.0.0.0/8:22\"",
                         s, prefix);
        } else if (bracketed) {
                snprintf(msg, len,
                         "'%s': '%s' is not an IPv6 address; write e.g. \"[2001:db8::1]:22\" or "
                         "\"[2001:db8::]/32\"",
                         s, addr);
        } else {
                snprintf(msg, len,
                         "'%s': '%s' is not an IPv4 address (host names are not looked up: their "
                         "addresses change, the list would not); write an address or a network, "
                         "" EXAMPLES,
                         s, addr);
        }
        return -EINVAL;
}

int parse_egress_rule(const char *s, struct egress_rule *ret, char *msg, size_t len)
{
        char buf[INET6_ADDRSTRLEN + 32];
        size_t n = strlen(s);

        if (n == 0) {
                snprintf(msg, len, "an empty entry; write a destination, " EXAMPLES);
                return -EINVAL;
        }
        if (n >= sizeof(buf)) {
                snprintf(msg, len, "'%.40s...' is too long for a destination; " EXAMPLES, s);
                return -EINVAL;
        }
        for (const char *p = s; *p; p++)
                if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20 || *p == 0x7f) {
                        snprintf(msg, len,
                                 "'%s' contains white space; write one destination per entry "
                                 "without spaces, " EXAMPLES,
                                 s);
                        return -EINVAL;
                }
        memcpy(buf, s, n + 1);

        /* the protocol: a last "/letters" (anything else there is taken for a prefix) */
        struct egress_rule rule = {.proto = EGRESS_PROTO_ANY};
        char *slash = strrchr(buf, '/');
        if (slash && slash[1] == '\0') {
                snprintf(msg, len,
                         "'%s' ends in '/'; write a prefix length (\"/24\") or a protocol "
                         "(\"/tcp\", \"/udp\") after it",
                         s);
                return -EINVAL;
        }
        bool word = slash != NULL;
        for (const char *p = slash ? slash + 1 : ""; *p && word; p++)
                word = isalpha((unsigned char)*p);
        if (word) {
                if (STREQ(slash + 1, "tcp")) {
                        rule.proto = EGRESS_PROTO_TCP;
                } else if (STREQ(slash + 1, "udp")) {
                        rule.proto = EGRESS_PROTO_UDP;
                } else {
                        snprintf(msg, len,
                                 "'%s': unknown protocol '%s'; write /tcp or /udp at the end, or "
                                 "nothing for both",
                                 s, slash + 1);
                        return -EINVAL;
                }
                *slash = '\0';
        }

        char *addr = buf, *prefix = NULL, *port = NULL;
        bool bracketed = buf[0] == '[';
        if (bracketed) {
                char *close = strchr(buf, ']');
                if (!close) {
                        snprintf(msg, len,
                                 "'%s': the '[' of an IPv6 address has no ']'; write e.g. "
                                 "\"[2001:db8::1]:22\"",
                                 s);
                        return -EINVAL;
                }
                *close = '\0';
                addr = buf + 1;
                char *rest = close + 1;
                if (*rest == '/') {
                        *rest = '\0';
                        prefix = rest + 1;
                        rest = prefix + strcspn(prefix, ":");
                }
                if (*rest == ':') {
                        *rest = '\0';
                        port = rest + 1;
                } else if (*rest != '\0') {
                        snprintf(msg, len,
                                 "'%s': '%s' after the ']' is neither a prefix (\"/32\") nor a "
                                 "port (\":22\"); write e.g. \"[2001:db8::]/32:22\"",
                                 s, rest);
                        return -EINVAL;
                }
                char *inner = strchr(addr, '/');
                if (inner && prefix) {
                        snprintf(msg, len,
                                 "'%s' has two prefixes; write one, e.g. \"[2001:db8::]/32:22\"",
                                 s);
                        return -EINVAL;
                }
                if (inner) {
                        *inner = '\0';
                        prefix = inner + 1;
                }
                struct in_addr v4;
                if (inet_pton(AF_INET, addr, &v4) == 1) {
                        snprintf(msg, len,
                                 "'%s': brackets are for IPv6 addresses; write %s without them", s,
                                 addr);
                        return -EINVAL;
                }
        } else {
                char *colon = strchr(buf, ':');
                if (colon && strchr(colon + 1, ':')) {
                        snprintf(msg, len,
                                 "'%s' looks like an IPv6 address: write IPv6 in brackets, so "
                                 "that a port cannot be read as part of it, e.g. \"[::1]\", "
                                 "\"[2001:db8::1]:22\" or \"[2001:db8::]/32:22\"",
                                 s);
                        return -EINVAL;
                }
                if (colon) {
                        *colon = '\0';
                        port = colon + 1;
                }
                char *sl = strchr(addr, '/');
                if (sl) {
                        *sl = '\0';
                        prefix = sl + 1;
                }
        }

        if (!*addr) {
                snprintf(msg, len, "'%s' has no address; " EXAMPLES, s);
                return -EINVAL;
        }
        if (port && port_parse(s, port, &rule.port, msg, len) < 0)
                return -EINVAL;

        char net[INET6_ADDRSTRLEN + 32];
        snprintf(net, sizeof(net), "%s%s%s", addr, prefix ? "/" : "", prefix ? prefix : "");
        int r = parse_cidr(net, &rule.net);
        if (r < 0)
                return net_error(s, r, addr, prefix, bracketed, &rule, msg, len);
        *ret = rule;
        return 0;
}

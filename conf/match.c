/* match.c: which policy a login gets (first matching rule, else the default), and who is
 * logging in, from the password and group databases. */
#include "policy.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <string.h>

/* ---- resolving ---------------------------------------------------------------------------- */

static bool in_any_group(const struct strv *set, const struct login_info *who, const char **ret)
{
        for (size_t i = 0; i < who->n_groups; i++)
                if (config_strv_contains(set, who->groups[i])) {
                        *ret = who->groups[i];
                        return true;
                }
        return false;
}

static void reason_append(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reason_append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
        if (*off >= len)
                return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf + *off, len - *off, fmt, ap);
        va_end(ap);
        if (n > 0)
                *off += (size_t)n;
}

/* Whether the rule matches; fills why with the conditions that held ("group ops, ..."). */
static bool rule_matches(const struct match_rule *r, const struct login_info *who,
                         const struct in6_addr *addr, char *why, size_t len)
{
        const char *group = NULL;
        size_t off = 0;
        char net[INET6_ADDRSTRLEN + 8];

        why[0] = '\0';
        if (r->users.n && !config_strv_contains(&r->users, who->user))
                return false;
        if (r->groups.n && !in_any_group(&r->groups, who, &group))
                return false;
        if (r->services.n && !config_strv_contains(&r->services, who->service))
                return false;
        size_t hit = SIZE_MAX;
        if (r->n_rhosts) {
                /* An empty rhost (a local login) or a host name never matches an address rule. */
                if (!addr)
                        return false;
                for (size_t i = 0; i < r->n_rhosts && hit == SIZE_MAX; i++)
                        if (cidr_contains(&r->rhosts[i], addr))
                                hit = i;
                if (hit == SIZE_MAX)
                        return false;
        }

        if (r->users.n)
                reason_append(why, len, &off, "%suser %s", off ? ", " : "", who->user);
        if (group)
                reason_append(why, len, &off, "%sgroup %s", off ? ", " : "", group);
        if (r->services.n)
                reason_append(why, len, &off, "%sservice %s", off ? ", " : "", who->service);
        if (hit != SIZE_MAX) {
                format_cidr(&r->rhosts[hit], net, sizeof(net));
                reason_append(why, len, &off, "%srhost %s in %s", off ? ", " : "", who->rhost, net);
        }
        if (off == 0)
                reason_append(why, len, &off, "it has no conditions");
        return true;
}

int policy_resolve(const struct config *c, const struct login_info *who, struct resolution *ret)
{
        if (!c || !who || !who->user || !who->service || !ret)
                return -EINVAL;
        *ret = (struct resolution){0};

        if (!config_strv_contains(&c->services, who->service)) {
                ret->outcome = RESOLVE_IGNORE;
                snprintf(ret->reason, sizeof(ret->reason),
                         "service %s is not in services: the login is not confined", who->service);
                return 0;
        }
        if (config_strv_contains(&c->exempt_users, who->user)) {
                ret->outcome = RESOLVE_EXEMPT;
                snprintf(ret->reason, sizeof(ret->reason), "user %s is in exempt_users", who->user);
                return 0;
        }
        const char *group;
        if (in_any_group(&c->exempt_groups, who, &group)) {
                ret->outcome = RESOLVE_EXEMPT;
                snprintf(ret->reason, sizeof(ret->reason),
                         "user %s is in group %s, which is in exempt_groups", who->user, group);
                return 0;
        }

        struct in6_addr addr;
        bool have_addr = who->rhost && parse_ip_address(who->rhost, &addr) == 0;
        char why[384];
        for (size_t i = 0; i < c->n_rules; i++) {
                const struct match_rule *r = &c->rules[i];
                if (!rule_matches(r, who, have_addr ? &addr : NULL, why, sizeof(why)))
                        continue;
                ret->rule = r;
                if (r->exempt) {
                        ret->outcome = RESOLVE_EXEMPT;
                        snprintf(ret->reason, sizeof(ret->reason),
                                 "rule at %s:%d matched (exempt = true): %s", c->file, r->line,
                                 why);
                } else {
                        ret->outcome = RESOLVE_POLICY;
                        ret->policy = &c->policies[r->policy_index];
                        snprintf(ret->reason, sizeof(ret->reason), "rule at %s:%d matched: %s",
                                 c->file, r->line, why);
                }
                return 0;
        }

        if (c->n_policies == 0)
                return -EINVAL; /* config_load never returns such a config */
        ret->outcome = RESOLVE_POLICY;
        ret->policy = &c->policies[c->default_policy];
        snprintf(ret->reason, sizeof(ret->reason), "no rule matched: default policy %s",
                 ret->policy->name);
        return 0;
}

/* ---- rule shadowing ----------------------------------------------------------------------- */

static bool names_cover(const struct strv *a, const struct strv *b)
{
        return a->n == 0 || config_strv_all_in(b, a);
}

/* The services a rule can match: its own that are also confined, or all confined ones. */
static bool service_can_match(const struct match_rule *r, const struct strv *services,
                              const char *s)
{
        if (!config_strv_contains(services, s))
                return false;
        return r->services.n == 0 || config_strv_contains(&r->services, s);
}

bool match_rule_covers(const struct match_rule *a, const struct match_rule *b,
                       const struct strv *services)
{
        if (!names_cover(&a->users, &b->users) || !names_cover(&a->groups, &b->groups))
                return false;

        const struct strv *bs = b->services.n ? &b->services : services;
        for (size_t i = 0; i < bs->n; i++)
                if (service_can_match(b, services, bs->v[i]) &&
                    !service_can_match(a, services, bs->v[i]))
                        return false;

        if (a->n_rhosts == 0)
                return true;
        if (b->n_rhosts == 0)
                return false;
        for (size_t i = 0; i < b->n_rhosts; i++) {
                bool inside = false;
                for (size_t j = 0; j < a->n_rhosts && !inside; j++)
                        inside = a->rhosts[j].prefix <= b->rhosts[i].prefix &&
                                 cidr_contains(&a->rhosts[j], &b->rhosts[i].addr);
                if (!inside)
                        return false;
        }
        return true;
}

/* ---- who is logging in ---------------------------------------------------------------------- */

/* getpwnam_r with a buffer that grows on ERANGE. */
static int lookup_user(const char *user, struct passwd *pw, char **buf)
{
        size_t len = 1024;
        for (;;) {
                char *nb = realloc(*buf, len);
                if (!nb)
                        return -ENOMEM;
                *buf = nb;
                struct passwd *res = NULL;
                int r = getpwnam_r(user, pw, *buf, len, &res);
                if (r == ERANGE && len < (1u << 20)) {
                        len *= 2;
                        continue;
                }
                if (r != 0)
                        return -r;
                return res ? 0 : -ENOENT;
        }
}

int login_info_lookup_ext(const char *user, const char *service, const char *rhost,
                          bool with_groups, struct login_info *ret)
{
        if (!user || !ret)
                return -EINVAL;
        *ret = (struct login_info){0};

        struct passwd pw;
        _cleanup_free_ char *pwbuf = NULL;
        int r = lookup_user(user, &pw, &pwbuf);
        if (r < 0)
                return r;

        struct login_info w = {.uid = pw.pw_uid, .gid = pw.pw_gid};
        w.user = strdup(pw.pw_name);
        w.home = strdup(pw.pw_dir ? pw.pw_dir : "/");
        w.service = service ? strdup(service) : NULL;
        w.rhost = rhost ? strdup(rhost) : NULL;
        if (!w.user || !w.home || (service && !w.service) || (rhost && !w.rhost)) {
                login_info_free(&w);
                return -ENOMEM;
        }

        r = user_groups_lookup(pw.pw_name, pw.pw_gid, with_groups, &w.groups, &w.n_groups);
        if (r < 0) {
                login_info_free(&w);
                return r;
        }
        *ret = w;
        return 0;
}

void login_info_free(struct login_info *who)
{
        if (!who)
                return;
        free((char *)who->user);
        free((char *)who->service);
        free((char *)who->rhost);
        free((char *)who->home);
        for (size_t i = 0; i < who->n_groups; i++)
                free(who->groups[i]);
        free(who->groups);
        *who = (struct login_info){0};
}

int login_info_lookup(const char *user, const char *service, const char *rhost,
                      struct login_info *ret)
{
        return login_info_lookup_ext(user, service, rhost, true, ret);
}

bool config_uses_groups(const struct config *c)
{
        if (c->exempt_groups.n > 0)
                return true;
        for (size_t i = 0; i < c->n_rules; i++)
                if (c->rules[i].groups.n > 0)
                        return true;
        return false;
}

bool config_uses_rhosts(const struct config *c)
{
        for (size_t i = 0; i < c->n_rules; i++)
                if (c->rules[i].n_rhosts > 0)
                        return true;
        return false;
}

size_t hostname_expand(const char *pattern, const char *user, char *buf, size_t len)
{
        size_t n = 0;
        if (len == 0)
                return 0;
        for (const char *s = pattern; *s && n < len - 1; s++) {
                if (s[0] == '%' && s[1] == 'u') {
                        for (const char *u = user; *u && n < len - 1; u++)
                                buf[n++] = *u;
                        s++;
                } else
                        buf[n++] = *s;
        }
        buf[n] = '\0';
        return n;
}

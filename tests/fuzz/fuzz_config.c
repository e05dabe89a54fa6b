/* fuzz_config.c: libFuzzer target for the config parser (config_parse_buffer) and the
 * resolver on whatever it accepts. Built by `make fuzz`.
 *
 * Beyond "no crash, no leak, no undefined behaviour" it checks what callers rely on:
 * success <=> a config and no messages; failure <=> no config and at least one message,
 * each naming the file; indices into policies stay in range; the resolver always returns
 * a policy of this config; sizes survive format_size -> parse_size. */
#include "../../conf/policy.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.conf"

static void check_units(const char *s)
{
        uint64_t v, w;
        char buf[64];
        if (parse_size(s, &v) == 0) {
                format_size(v, buf, sizeof(buf));
                if (parse_size(buf, &w) != 0 || w != v)
                        abort();
        }
        if (parse_rate(s, &v) == 0 && (v == LIMIT_UNSET))
                abort();
        if (parse_percent(s, &v) == 0 && v == LIMIT_UNSET)
                abort();
        (void)parse_duration_ms(s, &v);
        struct cidr net;
        int r = parse_cidr(s, &net);
        if ((r == 0 || r == -EADDRNOTAVAIL)) {
                if (net.prefix > 128 || !cidr_contains(&net, &net.addr))
                        abort();
                format_cidr(&net, buf, sizeof(buf));
                struct cidr again;
                if (parse_cidr(buf, &again) != 0 || again.prefix != net.prefix ||
                    memcmp(&again.addr, &net.addr, sizeof(net.addr)) != 0)
                        abort();
        }
}

static void check_resolve(const struct config *c)
{
        static char *groups[] = {"ops", "wheel", "users"};
        static const char *users[] = {"root", "alice", "bob"};
        static const char *services[] = {"sshd", "login", "su", "cron"};
        static const char *rhosts[] = {NULL, "", "10.1.2.3", "::1", "host.example", "fe80::1%eth0"};

        for (size_t u = 0; u < 3; u++)
                for (size_t s = 0; s < 4; s++)
                        for (size_t h = 0; h < 6; h++) {
                                struct login_info who = {
                                    .user = users[u],
                                    .uid = (uid_t)u,
                                    .groups = groups,
                                    .n_groups = u,
                                    .service = services[s],
                                    .rhost = rhosts[h],
                                };
                                struct resolution res;
                                if (policy_resolve(c, &who, &res) < 0)
                                        abort();
                                if (res.outcome == RESOLVE_POLICY &&
                                    (res.policy < c->policies ||
                                     res.policy >= c->policies + c->n_policies))
                                        abort();
                                if (!memchr(res.reason, '\0', sizeof(res.reason)) || !res.reason[0])
                                        abort();
                        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *buf = malloc(size + 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = '\0';

        /* the first line, as a unit */
        char unit[128];
        size_t n = strcspn(buf, "\n");
        if (n < sizeof(unit)) {
                memcpy(unit, buf, n);
                unit[n] = '\0';
                check_units(unit);
        }

        struct config *c = NULL;
        struct config_errors errs = {0};
        int r = config_parse_buffer(NAME, buf, &c, &errs);
        if (r == 0) {
                if (!c || errs.n != 0 || c->n_policies == 0 || c->default_policy >= c->n_policies)
                        abort();
                for (size_t i = 0; i < c->n_rules; i++)
                        if (!c->rules[i].exempt && c->rules[i].policy_index >= c->n_policies)
                                abort();
                check_resolve(c);
        } else {
                if (c || (errs.n == 0 && r != -ENOMEM))
                        abort();
        }
        for (size_t i = 0; i < errs.n; i++)
                if (strncmp(errs.msgs[i], NAME ":", strlen(NAME ":")) != 0)
                        abort();
        config_errors_free(&errs);
        config_free(c);
        free(buf);
        return 0;
}

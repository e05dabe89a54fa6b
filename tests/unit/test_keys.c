/* test_keys.c: the table of config keys (conf/keys.c) against what the others say of it:
 * the parser takes every default as a written value and gives the same policy either way;
 * isolate.conf(5) documents the same keys, the same choices and the same defaults; and
 * `isolatectl explain` shows every policy key, as text and as JSON, and for a user-scope
 * policy the live sandbox a login would join. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../conf/keys.h"
#include "../../conf/policy.h"
#include "../../isolatectl/ctl.h"
#include "../../session-helper/registry.h"
#include "ctl_capture.h"
#include "skip_because.h"

#define MAN_PAGE SRCDIR "/conf/isolate.conf.5"

static struct config *parse_ok(const char *text)
{
        struct config *c = NULL;
        struct config_errors e = {0};
        int r = config_parse_buffer("test.conf", text, &c, &e);
        for (size_t i = 0; i < e.n; i++)
                print_message("    %s\n", e.msgs[i]);
        if (r != 0 || !c || e.n)
                fail_msg("config_parse_buffer = %d for:\n%s", r, text);
        config_errors_free(&e);
        return c;
}

/* Appends "KEY = DEF " for each key of sk that has a default other than unset. */
static void write_defaults(const struct key_section *sk, char *buf, size_t len)
{
        for (size_t i = 0; i < sk->n_keys; i++) {
                const struct key *k = &sk->keys[i];
                if (!k->def || STREQ(k->def, "unset"))
                        continue;
                size_t off = strlen(buf);
                snprintf(buf + off, len - off, "%s = %s%s%s\n", k->name,
                         k->kind == K_STR ? "\"" : "", k->def, k->kind == K_STR ? "\"" : "");
        }
}

static void assert_same_field(const struct key *k, const void *a, const void *b)
{
        const char *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
        print_message("    %s\n", k->name);
        switch (k->kind) {
        case K_BOOL:
                assert_int_equal(*(const bool *)fa, *(const bool *)fb);
                break;
        case K_ENUM:
                assert_int_equal(*(const int *)fa, *(const int *)fb);
                break;
        case K_STR: {
                const char *sa = *(char *const *)fa, *sb = *(char *const *)fb;
                assert_true((sa == NULL) == (sb == NULL));
                if (sa)
                        assert_string_equal(sa, sb);
                break;
        }
        case K_DURATION:
                assert_int_equal(*(const uint32_t *)fa, *(const uint32_t *)fb);
                break;
        case K_NAMES:
        case K_PATHS:
        case K_LANDLOCK:
        case K_SYSCALLS: {
                const struct strv *va = (const struct strv *)fa, *vb = (const struct strv *)fb;
                assert_int_equal(va->n, vb->n);
                for (size_t i = 0; i < va->n; i++)
                        assert_string_equal(va->v[i], vb->v[i]);
                break;
        }
        case K_CIDRS:
        case K_NAME:
                break;
        default: /* numbers and capability masks */
                assert_int_equal(*(const uint64_t *)fa, *(const uint64_t *)fb);
                break;
        }
}

/* Leaving every key out and writing each default out give the same config. */
static void test_defaults_are_values_the_parser_takes(void **state)
{
        char text[8192] = "";
        write_defaults(keys_root, text, sizeof(text));
        strcat(text, "policy p {\n");
        write_defaults(keys_policy, text, sizeof(text));
        strcat(text, "  io \"/\" { read_bps = 1M }\n}\n");
        struct config *written = parse_ok(text);
        struct config *left_out = parse_ok("policy p { io \"/\" { read_bps = 1M } }\n");

        for (size_t i = 0; i < keys_root->n_keys; i++)
                assert_same_field(&keys_root->keys[i], written, left_out);
        for (size_t i = 0; i < keys_policy->n_keys; i++)
                assert_same_field(&keys_policy->keys[i], &written->policies[0],
                                  &left_out->policies[0]);
        for (size_t i = 0; i < keys_io->n_keys; i++)
                assert_same_field(&keys_io->keys[i], &written->policies[0].io[0],
                                  &left_out->policies[0].io[0]);
        config_free(written);
        config_free(left_out);

        /* and the defaults are the ones the code names */
        struct config *c = parse_ok("policy p { }\n");
        assert_int_equal(c->policies[0].pty_max, DEFAULT_PTY_MAX);
        assert_int_equal(c->policies[0].max_sessions, DEFAULT_MAX_SESSIONS);
        assert_int_equal(c->policies[0].memory_max, LIMIT_UNSET);
        assert_int_equal(c->helper_timeout_ms, DEFAULT_HELPER_TIMEOUT_MS);
        assert_string_equal(c->runtime_dir, DEFAULT_RUNTIME_DIR);
        config_free(c);
}

static void test_table_is_whole(void **state)
{
        for (size_t s = 0; s < n_key_sections; s++) {
                const struct key_section *sk = &key_sections[s];
                for (size_t i = 0; i < sk->n_keys; i++) {
                        const struct key *k = &sk->keys[i];
                        print_message("    %s.%s\n", sk->name, k->name);
                        assert_non_null(k->doc);
                        assert_true(strlen(k->doc) > 10);
                        assert_true((k->kind == K_ENUM) == (k->enums != NULL));
                        assert_true((k->group != KG_NONE) == (sk == keys_policy));
                        for (size_t j = 0; j < i; j++)
                                assert_string_not_equal(k->name, sk->keys[j].name);
                }
        }
        /* explain shows the groups in table order: a group never comes back */
        for (size_t i = 1; i < keys_policy->n_keys; i++)
                assert_true(keys_policy->keys[i].group >= keys_policy->keys[i - 1].group);
}

/* ---- the man page -------------------------------------------------------------------------- */

/* troff to plain text: \(dq -> ", \- -> -, "\ " -> " ", font requests and quotes dropped */
static void plain(const char *in, char *out, size_t len)
{
        size_t o = 0;
        for (const char *p = in; *p && o + 1 < len; p++) {
                if (strncmp(p, "\\(dq", 4) == 0) {
                        out[o++] = '"';
                        p += 3;
                } else if (strncmp(p, "\\(aq", 4) == 0) {
                        out[o++] = '\'';
                        p += 3;
                } else if (p[0] == '\\' && (p[1] == '-' || p[1] == ' ')) {
                        out[o++] = p[1];
                        p++;
                } else if (p[0] == '\\' && p[1] == 'f') {
                        p += 2;
                } else if (p[0] == '.' && (p == in || p[-1] == '\n')) {
                        while (p[1] && p[1] != ' ' && p[1] != '\n')
                                p++; /* ".BR" and the like */
                } else if (*p != '"') {
                        out[o++] = *p == '\n' ? ' ' : *p;
                }
        }
        out[o] = '\0';
}

struct man_entry {
        char keys[8][64]; /* the key names of one .TP heading (.TQ adds more) */
        size_t n_keys;
        char choices[256]; /* "a | b | c" when the heading lists them */
        char body[4096];   /* the paragraph, plain */
};

/* Every .TP entry whose heading line(s) start with a key name ".BI key" or ".BR key". */
static size_t man_entries(struct man_entry *out, size_t max)
{
        FILE *f = fopen(MAN_PAGE, "re");
        if (!f)
                fail_msg("%s: %s", MAN_PAGE, strerror(errno));
        char line[1024], prev[1024] = "";
        size_t n = 0;
        struct man_entry *cur = NULL;
        bool in_heading = false;
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                char word[64];
                bool heading = (strncmp(line, ".BI ", 4) == 0 || strncmp(line, ".BR ", 4) == 0) &&
                               sscanf(line + 4, "%63[a-z_]", word) == 1 &&
                               (STREQ(prev, ".TP") || STREQ(prev, ".TQ")) &&
                               line[4 + strlen(word)] == ' ';
                if (STREQ(line, ".TQ") && in_heading) {
                        /* one more heading of the same entry */
                } else if (STREQ(line, ".TP") || strncmp(line, ".S", 2) == 0) {
                        cur = NULL;
                        in_heading = false;
                } else if (heading) {
                        if (!in_heading) {
                                assert_true(n < max);
                                cur = &out[n++];
                                memset(cur, 0, sizeof(*cur));
                        }
                        in_heading = true;
                        assert_true(cur->n_keys < ELEMENTSOF(cur->keys));
                        snprintf(cur->keys[cur->n_keys++], 64, "%s", word);
                        const char *eq = strstr(line, "\" = \" ");
                        if (strncmp(line, ".BR ", 4) == 0 && eq)
                                plain(eq + 6, cur->choices, sizeof(cur->choices));
                } else if (cur) {
                        in_heading = false;
                        char text[1024];
                        plain(line, text, sizeof(text));
                        size_t off = strlen(cur->body);
                        snprintf(cur->body + off, sizeof(cur->body) - off, "%s ", text);
                }
                snprintf(prev, sizeof(prev), "%s", line);
        }
        fclose(f);
        return n;
}

static const struct man_entry *man_find(const struct man_entry *e, size_t n, const char *key,
                                        size_t after)
{
        for (size_t i = after; i < n; i++)
                for (size_t j = 0; j < e[i].n_keys; j++)
                        if (STREQ(e[i].keys[j], key))
                                return &e[i];
        return NULL;
}

/* "a | b | c" with the spaces of plain() squeezed */
static void squeeze(char *s)
{
        char *o = s;
        for (char *p = s; *p; p++)
                if (!(isspace((unsigned char)*p) && (o == s || o[-1] == ' ')))
                        *o++ = isspace((unsigned char)*p) ? ' ' : *p;
        while (o > s && o[-1] == ' ')
                o--;
        *o = '\0';
}

static void test_man_page_documents_the_table(void **state)
{
        static struct man_entry e[200];
        size_t n = man_entries(e, ELEMENTSOF(e));
        assert_true(n > 40);

        /* The match block's services comes after the global one: search each section's
         * keys from where that section's first key is documented. */
        for (size_t s = 0; s < n_key_sections; s++) {
                const struct key_section *sk = &key_sections[s];
                const struct man_entry *first = man_find(e, n, sk->keys[0].name, 0);
                assert_non_null(first);
                size_t from = (size_t)(first - e);
                for (size_t i = 0; i < sk->n_keys; i++) {
                        const struct key *k = &sk->keys[i];
                        print_message("    %s.%s\n", sk->name, k->name);
                        const struct man_entry *m = man_find(e, n, k->name, from);
                        if (!m)
                                fail_msg("isolate.conf.5 does not document %s (%s)", k->name,
                                         sk->where);
                        if (k->kind == K_ENUM) {
                                char want[256];
                                key_enum_choices(k, want, sizeof(want));
                                char got[256];
                                snprintf(got, sizeof(got), "%s", m->choices);
                                squeeze(got);
                                assert_string_equal(got, want);
                        }
                        const char *d = strstr(m->body, "Default:");
                        if (!k->def) {
                                continue;
                        }
                        if (!d)
                                fail_msg("isolate.conf.5 gives no default for %s", k->name);
                        char got[256];
                        snprintf(got, sizeof(got), "%s", d + strlen("Default:"));
                        squeeze(got);
                        char want[256];
                        snprintf(want, sizeof(want), "%s%s%s", k->kind == K_STR ? "\"" : "", k->def,
                                 k->kind == K_STR && !STREQ(k->def, "unset") ? "\"" : "");
                        if (STREQ(k->def, "unset"))
                                snprintf(want, sizeof(want), "unset");
                        if (strncmp(got, want, strlen(want)) != 0)
                                fail_msg("isolate.conf.5 says the default of %s is '%.40s', "
                                         "conf/keys.c says '%s'",
                                         k->name, got, want);
                }
        }

        /* and documents no key the table does not have */
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < e[i].n_keys; j++) {
                        bool known = false;
                        for (size_t s = 0; s < n_key_sections && !known; s++)
                                known = key_named(&key_sections[s], e[i].keys[j]) != NULL;
                        known |= STREQ(e[i].keys[j], "io"); /* the io block itself */
                        if (!known)
                                fail_msg("isolate.conf.5 documents '%s', which conf/keys.c "
                                         "does not know",
                                         e[i].keys[j]);
                }
}

/* ---- isolatectl explain ---------------------------------------------------------------------- */

/* Runs `isolatectl explain` with args, which must succeed and print; its stdout into out. */
static void run_explain(char **argv, int argc, char *out, size_t len)
{
        struct output *o = run_argv(cmd_explain, argc, argv);
        if (o->rc != 0 || !o->out[0])
                fail_msg("isolatectl explain exited %d, printed %zu bytes:\n%s", o->rc,
                         strlen(o->out), o->err);
        snprintf(out, len, "%s", o->out);
}

static void test_explain_shows_every_policy_key(void **state)
{
        char conf[] = "/tmp/test_keys_conf.XXXXXX";
        int fd = mkstemp(conf);
        assert_true(fd >= 0);
        const char *text = "policy p { }\n";
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(fchmod(fd, 0644), 0);
        close(fd);

        static char out[65536];
        char *text_argv[] = {"explain", "-c", conf, "root", NULL};
        run_explain(text_argv, 4, out, sizeof(out));
        for (size_t i = 0; i < keys_policy->n_keys; i++) {
                char want[64];
                snprintf(want, sizeof(want), "\n  %-20s = ", keys_policy->keys[i].name);
                if (!strstr(out, want))
                        fail_msg("explain does not show %s:\n%s", keys_policy->keys[i].name, out);
        }
        char *json_argv[] = {"explain", "-c", conf, "--json", "root", NULL};
        run_explain(json_argv, 5, out, sizeof(out));
        for (size_t i = 0; i < keys_policy->n_keys; i++) {
                char want[64];
                snprintf(want, sizeof(want), "\"%s\": ", keys_policy->keys[i].name);
                if (!strstr(out, want))
                        fail_msg("explain --json does not show %s:\n%s", keys_policy->keys[i].name,
                                 out);
        }
        unlink(conf);
}

/* A config file (0644) holding text; its path in path. */
static void write_conf(char *path, const char *text)
{
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(fchmod(fd, 0644), 0);
        close(fd);
}

/* scope and linger as explain shows them, and the sandbox line: a new one per login, a new
 * one (none live), or the live one of the registry that a login would join. */
static void test_explain_lifetime(void **state)
{
        if (geteuid() != 0)
                skip_because("the registry is root's: registry_read refuses files of others");
        char rt[] = "/tmp/test_keys_rt.XXXXXX";
        assert_non_null(mkdtemp(rt));
        struct isolate_error err = {0};
        assert_int_equal(registry_prepare(rt, &err), 0);

        char text[512];
        snprintf(text, sizeof(text),
                 "runtime_dir = \"%s\"\n"
                 "policy p {\n  scope = user\n  linger = 8h\n}\n"
                 "policy q { }\n"
                 "match {\n  users = {\"nobody\"}\n  policy = q\n}\n",
                 rt);
        char conf[] = "/tmp/test_keys_conf.XXXXXX";
        write_conf(conf, text);

        static char out[65536];
        char *text_argv[] = {"explain", "-c", conf, "root", NULL};
        run_explain(text_argv, 4, out, sizeof(out));
        assert_non_null(strstr(out, "\n lifetime (who shares the sandbox"));
        assert_non_null(strstr(out, "\n  scope                = user\n"));
        assert_non_null(strstr(out, "\n  linger               = 8h (after the last login, at most, "
                                    "while processes remain)\n"));
        assert_non_null(strstr(out, "\n  sandbox: a new one (scope = user; none live)\n"));

        char *json_argv[] = {"explain", "-c", conf, "--json", "root", NULL};
        run_explain(json_argv, 5, out, sizeof(out));
        assert_non_null(strstr(out, "\"scope\": \"user\", \"linger\": 28800000, "));
        assert_non_null(
            strstr(out, "\"sandbox\": {\"scope\": \"user\", \"join\": false, \"id\": null}"));

        /* a live sandbox of root and policy p: this process plays its init */
        struct session_record *rec = calloc(1, sizeof(*rec));
        assert_non_null(rec);
        snprintf(rec->id, sizeof(rec->id), "0123456789abcdef");
        snprintf(rec->user, sizeof(rec->user), "root");
        snprintf(rec->service, sizeof(rec->service), "sshd");
        snprintf(rec->policy, sizeof(rec->policy), "p");
        rec->uid = 0;
        rec->caller_pid = rec->init_pid = getpid();
        assert_int_equal(proc_start_time(getpid(), &rec->init_start), 0);
        rec->start_time = (uint64_t)time(NULL);
        rec->scope = SCOPE_USER;
        rec->linger_ms = 8 * 3600 * 1000;
        rec->cgroup.backend = CGROUP_BACKEND_V2;
        rec->caps.scalars = CAP_SCALARS_UNSET;
        assert_int_equal(registry_write(rt, rec, &err), 0);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/sessions/%s.state", rt, rec->id);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs("logins=2\nlinger_until=0\nlinger_forever=0\n", f);
        assert_int_equal(fclose(f), 0);

        run_explain(text_argv, 4, out, sizeof(out));
        if (!strstr(out, "\n  sandbox: would join live sandbox 0123456789abcdef (started ") ||
            !strstr(out, ", 2 logins)\n"))
                fail_msg("explain does not say it would join the live sandbox:\n%s", out);
        run_explain(json_argv, 5, out, sizeof(out));
        assert_non_null(strstr(out, "\"sandbox\": {\"scope\": \"user\", \"join\": true, "
                                    "\"id\": \"0123456789abcdef\", "));
        assert_non_null(strstr(out, "\"logins\": 2, "));

        /* lingering: no login open */
        f = fopen(path, "we");
        assert_non_null(f);
        fputs("logins=0\nlinger_until=0\nlinger_forever=1\n", f);
        assert_int_equal(fclose(f), 0);
        run_explain(text_argv, 4, out, sizeof(out));
        assert_non_null(strstr(out, ", no login, lingering until its last process exits)\n"));

        /* another user (nobody, policy q: login scope) never joins it */
        char *nobody_argv[] = {"explain", "-c", conf, "nobody", NULL};
        run_explain(nobody_argv, 4, out, sizeof(out));
        assert_non_null(strstr(out, "\n  scope                = login\n"));
        assert_non_null(strstr(out, "\n  linger               = no\n"));
        assert_non_null(strstr(out, "\n  sandbox: a new one per login (scope = login)\n"));
        char *nobody_json[] = {"explain", "-c", conf, "--json", "nobody", NULL};
        run_explain(nobody_json, 5, out, sizeof(out));
        assert_non_null(strstr(out, "\"linger\": false"));
        assert_non_null(
            strstr(out, "\"sandbox\": {\"scope\": \"login\", \"join\": false, \"id\": null}"));

        registry_remove(rt, rec->id);
        unlink(path);
        free(rec);
        unlink(conf);
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rt);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_defaults_are_values_the_parser_takes),
            cmocka_unit_test(test_table_is_whole),
            cmocka_unit_test(test_man_page_documents_the_table),
            cmocka_unit_test(test_explain_shows_every_policy_key),
            cmocka_unit_test(test_explain_lifetime),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

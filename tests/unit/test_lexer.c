/* test_lexer.c: the config's one lexer (conf/lexer.c): what it blanks and reports for the
 * helper's parser, and the fail mode the PAM module reads through it, which must be the one
 * the helper's parser (libconfuse) reads on every config the helper accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../conf/lexer.h"
#include "../../conf/policy.h"

static enum fail_mode mode_of(const char *text)
{
        return lexer_fail_mode(text, strlen(text), NULL);
}

#define expect_open(text)   assert_int_equal(mode_of(text), FAIL_OPEN)
#define expect_closed(text) assert_int_equal(mode_of(text), FAIL_CLOSED)

static void test_quote_styles(void **state)
{
        expect_open("fail = open\n");
        expect_open("fail = \"open\"\n");
        expect_open("fail = 'open'\n");
        expect_open("fail=open");
        expect_open("fail='open'");
        expect_open("  fail\t=\t\"open\"  \r\n");
        expect_open("\"fail\" = open\n"); /* libconfuse takes a quoted key too */
        expect_open("'fail' = 'open'\n");
        expect_closed("fail = closed\n");
        expect_closed("fail = 'closed'\n");
        expect_closed("fail = \"Open\"\n");
        expect_closed("fail = 'open '\n");
        expect_closed("");
        expect_closed("services = {\"sshd\"}\n");
}

static void test_comments_of_all_three_kinds(void **state)
{
        expect_closed("# fail = open\n");
        expect_closed("// fail = open\n");
        expect_closed("/* fail = open */\n");
        expect_closed("/*\nfail = open\n*/\nfail = closed\n");
        expect_closed("/* fail = open\n   fail = open */\n");
        /* beside the assignment, the comments go and the assignment stays */
        expect_open("fail = open # why\n");
        expect_open("fail = open // why\n");
        expect_closed("fail = open// why\n"); /* one word, "open//", for libconfuse too */
        expect_open("fail = 'open' /* why */\n");
        expect_open("fail /* a */ = /* b */ open\n");
        expect_open("fail = open#x\n");
        expect_open("# fail = closed\nfail = open\n// fail = closed\n/* fail = closed */\n");
        /* inside a string a comment character is text */
        expect_open("services = {\"#x\", '//y', \"/*z\"}\nfail = open\n");
}

static void test_fail_inside_a_block_is_not_counted(void **state)
{
        expect_closed("policy p {\n  fail = open\n}\n");
        expect_closed("match {\n  users = {\"a\"}\n  fail = open\n}\n");
        expect_closed("policy p { io \"/dev/sda\" { fail = open } }\n");
        expect_open("policy p {\n  fail = closed\n}\nfail = open\n");
        expect_open("policy p {\n  io \"/dev/sda\" {\n    read_bps = 1M\n  }\n  fail = closed\n}\n"
                    "match { policy = p }\nfail = open\n");
        /* "fail" as a value is no key */
        expect_open("exempt_users = fail\nfail = open\n");
        expect_open("exempt_users = {fail, \"fail\"}\nfail = open\n");
        expect_closed("exempt_users = fail\n");
}

static void test_two_fail_assignments_are_closed(void **state)
{
        expect_closed("fail = open\nfail = open\n");
        expect_closed("fail = open\nfail = closed\n");
        expect_closed("fail = closed\nfail = open\n");
        expect_closed("fail = open fail = open\n");
        expect_closed("fail = open\nfail += open\n");
}

static void test_unterminated_is_closed(void **state)
{
        expect_closed("fail = open\nservices = \"sshd\n");
        expect_closed("fail = open\nservices = 'sshd\n");
        expect_closed("fail = \"open\n");
        expect_closed("fail = open\n/* no end\n");
        expect_closed("fail = open\npolicy p {\n  memory_max = 1G\n");
        expect_closed("fail = open\nservices = \"${HOME}\"\n");
        expect_closed("fail = open\nservices = ${HOME}\n");
}

static void test_anything_else_is_doubt(void **state)
{
        expect_closed("fail = \"op\\x65n\"\n"); /* libconfuse decodes it to open */
        expect_closed("fail = \"\\open\"\n");
        expect_closed("fail = 'op\\\nen'\n");
        expect_closed("fail = {open}\n");
        expect_closed("fail += open\n");
        expect_closed("fail open\n");
        expect_closed("fail = \n");
        expect_closed("fail = = open\n");
        expect_closed("fail = open\n}\n");
        expect_closed("= x\nfail = open\n");
        expect_closed("fail { }\nfail = open\n");
        expect_closed("\"fa\\il\" = open\n");
}

static void test_line_of_the_assignment(void **state)
{
        int line = -1;
        const char *text = "# c\n\nservices = {\"sshd\"}\n/*\n*/ fail =\n 'open'\n";
        assert_int_equal(lexer_fail_mode(text, strlen(text), &line), FAIL_OPEN);
        assert_int_equal(line, 6);
        text = "fail = open\nfail = open\n";
        assert_int_equal(lexer_fail_mode(text, strlen(text), &line), FAIL_CLOSED);
        assert_int_equal(line, 0);
        text = "fail = closed\n";
        assert_int_equal(lexer_fail_mode(text, strlen(text), &line), FAIL_CLOSED);
        assert_int_equal(line, 1);
}

/* ---- lexer_top_string: runtime_dir as the PAM module reads it (ticket.h) ------------------ */

static int top(const char *text, char *buf, size_t size)
{
        return lexer_top_string(text, strlen(text), "runtime_dir", buf, size);
}

static void test_top_string_reads_one_plain_value(void **state)
{
        char buf[64];
        assert_int_equal(top("runtime_dir = \"/run/x\"\n", buf, sizeof(buf)), 1);
        assert_string_equal(buf, "/run/x");
        assert_int_equal(top("# c\nruntime_dir = /run/y # z\npolicy p {\n runtime_dir = /a\n}\n",
                             buf, sizeof(buf)),
                         1);
        assert_string_equal(buf, "/run/y");
        assert_int_equal(top("fail = open\n", buf, sizeof(buf)), 0);
        /* inside a block it is not the global key */
        assert_int_equal(top("policy p {\n runtime_dir = /a\n}\n", buf, sizeof(buf)), 0);
}

static void test_top_string_in_doubt_is_an_error(void **state)
{
        char buf[8];
        assert_int_equal(top("runtime_dir = /a\nruntime_dir = /b\n", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(top("runtime_dir += /a\n", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(top("runtime_dir = {/a}\n", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(top("runtime_dir = \"/r\\un\"\n", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(top("runtime_dir = \"${HOME}\"\n", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(top("runtime_dir = /much/too/long\n", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(top("runtime_dir = \"/a\n", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(top("} runtime_dir = /a\n", buf, sizeof(buf)), -EINVAL);
}

/* ---- lexer_scan: what the helper's parser gets ---------------------------------------------- */

struct seen {
        char out[1024];
        size_t n_problems;
        int lines[8];
        enum lexer_problem what[8];
};

static void on_problem(void *userdata, enum lexer_problem what, int line, const char *msg)
{
        struct seen *s = userdata;
        if (s->n_problems < 8) {
                s->lines[s->n_problems] = line;
                s->what[s->n_problems] = what;
        }
        s->n_problems++;
}

static void on_token(void *userdata, const struct lexer_token *t)
{
        struct seen *s = userdata;
        size_t n = strlen(s->out);
        if (t->kind == LEXER_PUNCT)
                snprintf(s->out + n, sizeof(s->out) - n, "%c|", t->c);
        else if (t->kind == LEXER_STRING)
                snprintf(s->out + n, sizeof(s->out) - n, "%c%.*s%c%d|", t->c, (int)t->len, t->text,
                         t->c, t->line);
        else
                snprintf(s->out + n, sizeof(s->out) - n, "%.*s|", (int)t->len, t->text);
}

static const struct lexer_ops seen_ops = {.problem = on_problem, .token = on_token};

static void test_scan_blanks_comments_and_keeps_lines(void **state)
{
        const char *in = "a = 1 # x\n// y\nb = 'c#' /* z\nw */ d\n";
        struct seen s = {0};
        char *out = NULL;
        assert_int_equal(lexer_scan(in, strlen(in), &seen_ops, &s, &out), 0);
        assert_string_equal(out, "a = 1    \n    \nb = 'c#'     \n     d\n");
        assert_string_equal(s.out, "a|=|1|b|=|'c#'3|d|");
        free(out);

        /* "//" and a block comment start comments only where a token starts */
        in = "a = b//c x/*y\n";
        memset(&s, 0, sizeof(s));
        assert_int_equal(lexer_scan(in, strlen(in), &seen_ops, &s, &out), 0);
        assert_string_equal(out, in);
        assert_string_equal(s.out, "a|=|b//c|x/|y|"); /* libconfuse drops the '*' */
        free(out);

        in = "k += {\"a\", b}\r\np t { }\n";
        memset(&s, 0, sizeof(s));
        assert_int_equal(lexer_scan(in, strlen(in), &seen_ops, &s, NULL), 0);
        assert_string_equal(s.out, "k|+|{|\"a\"1|,|b|}|p|t|{|}|");
}

static void test_scan_reports_problems_with_their_lines(void **state)
{
        const char *in = "a = \"${X}\"\nb = ${Y}\nc = 'unterminated\nd\n";
        struct seen s = {0};
        char *out = NULL;
        assert_int_equal(lexer_scan(in, strlen(in), &seen_ops, &s, &out), 3);
        assert_int_equal(s.lines[0], 1);
        assert_int_equal(s.what[0], LEXER_ENV_VAR);
        assert_int_equal(s.lines[1], 2);
        assert_int_equal(s.what[1], LEXER_ENV_VAR);
        assert_int_equal(s.lines[2], 3);
        assert_int_equal(s.what[2], LEXER_UNTERMINATED);
        /* libconfuse never sees the unterminated string nor what follows it */
        assert_string_equal(out, "a = \"${X}\"\nb = ${Y}\nc =              \n \n");
        free(out);

        in = "x {\n y {\n}\n";
        memset(&s, 0, sizeof(s));
        assert_int_equal(lexer_scan(in, strlen(in), &seen_ops, &s, NULL), 1);
        assert_int_equal(s.what[0], LEXER_UNTERMINATED);
        assert_int_equal(s.lines[0], 4);

        in = "a = 1\n/* x\n\n";
        memset(&s, 0, sizeof(s));
        assert_int_equal(lexer_scan(in, strlen(in), &seen_ops, &s, NULL), 1);
        assert_int_equal(s.lines[0], 2);
}

/* ---- the helper and the module agree ----------------------------------------------------------
 */

/* each after a policy, which the helper demands */
static const char *const agreeing[] = {
    "",
    "fail = open\n",
    "fail = closed\n",
    "fail = 'open'\n",
    "fail = \"open\"\n",
    "\"fail\" = open\n",
    "services = {\"sshd\"}\nfail = open # comment\n",
    "/* fail = closed */ fail = open\n",
    "default_policy = p\nfail = 'open'\n",
    "fail = {closed}\n",
    "fail = \"clo\\x73ed\"\n",
};

/* accepted by libconfuse as open, read otherwise by the module: refused */
static const char *const disagreeing[] = {
    "fail = \"op\\x65n\"\n", "fail = 'op\\\nen'\n", "fail = {open}\n",
    "fail = {\"open\"}\n",   "fail += open\n",
};

static void test_helper_accepts_only_what_the_module_reads_alike(void **state)
{
        char text[256];
        for (size_t i = 0; i < sizeof(agreeing) / sizeof(*agreeing); i++) {
                snprintf(text, sizeof(text), "policy p {\n}\n%s", agreeing[i]);
                struct config *c = NULL;
                struct config_errors e = {0};
                int r = config_parse_buffer("t.conf", text, &c, &e);
                if (r != 0)
                        fail_msg("refused: %s (%s)", text, e.n ? e.msgs[0] : "");
                assert_int_equal(c->fail, mode_of(text));
                config_free(c);
                config_errors_free(&e);
        }
        for (size_t i = 0; i < sizeof(disagreeing) / sizeof(*disagreeing); i++) {
                snprintf(text, sizeof(text), "policy p {\n}\n%s", disagreeing[i]);
                struct config *c = NULL;
                struct config_errors e = {0};
                int r = config_parse_buffer("t.conf", text, &c, &e);
                if (r != -EINVAL || e.n != 1)
                        fail_msg("accepted (%d, %zu messages): %s", r, e.n, text);
                assert_null(c);
                assert_true(strncmp(e.msgs[0], "t.conf:", 7) == 0);
                assert_non_null(strstr(e.msgs[0], ": fail reads as open here, but the PAM module"));
                config_errors_free(&e);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_quote_styles),
            cmocka_unit_test(test_comments_of_all_three_kinds),
            cmocka_unit_test(test_fail_inside_a_block_is_not_counted),
            cmocka_unit_test(test_two_fail_assignments_are_closed),
            cmocka_unit_test(test_unterminated_is_closed),
            cmocka_unit_test(test_anything_else_is_doubt),
            cmocka_unit_test(test_line_of_the_assignment),
            cmocka_unit_test(test_top_string_reads_one_plain_value),
            cmocka_unit_test(test_top_string_in_doubt_is_an_error),
            cmocka_unit_test(test_scan_blanks_comments_and_keeps_lines),
            cmocka_unit_test(test_scan_reports_problems_with_their_lines),
            cmocka_unit_test(test_helper_accepts_only_what_the_module_reads_alike),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

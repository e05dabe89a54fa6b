/* lexer.c: the one lexer of the config's syntax (lexer.h), and the fail-mode reader on top of
 * it. libc only: the PAM module links it. Mirrors libconfuse 3.3's flex lexer (src/lexer.l)
 * closely enough to agree on what is a comment, a string, a word and a brace; the helper
 * checks the one place where the agreement matters (schema.c compares the fail modes). */
#include "lexer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Outside strings, libconfuse's unquoted words are made of every other character; '*', a
 * lone '+' and '\r' match none of its rules and are dropped between tokens. */
static bool unquoted_char(char c)
{
        return !strchr(" #\"'\t\n\r={}()+,*", c);
}

struct scan {
        const struct lexer_ops *ops;
        void *userdata;
        int problems;
        bool unterminated;
};

static void problem(struct scan *s, enum lexer_problem what, int line, const char *msg)
{
        s->problems++;
        if (what == LEXER_UNTERMINATED)
                s->unterminated = true;
        if (s->ops && s->ops->problem)
                s->ops->problem(s->userdata, what, line, msg);
}

static void token(struct scan *s, enum lexer_token_kind kind, char c, bool escaped,
                  const char *text, size_t len, int line)
{
        if (!s->ops || !s->ops->token)
                return;
        struct lexer_token t = {
            .kind = kind, .c = c, .escaped = escaped, .text = text, .len = len, .line = line};
        s->ops->token(s->userdata, &t);
}

static void blank(char *out, size_t i)
{
        if (out)
                out[i] = ' ';
}

#define ENV_VAR_MSG                                                                                \
        "would be replaced by an environment variable of the program reading the config; "         \
        "write $HOME without braces (single quotes keep '${...}' as it is)"

int lexer_scan(const char *in, size_t len, const struct lexer_ops *ops, void *userdata,
               char **ret_blanked)
{
        char *out = NULL; /* the blanked copy, when asked for */
        if (ret_blanked) {
                *ret_blanked = NULL;
                out = malloc(len + 1);
                if (!out)
                        return -ENOMEM;
                memcpy(out, in, len);
                out[len] = '\0';
        }

        struct scan s = {.ops = ops, .userdata = userdata};
        int line = 1;
        /* the unquoted word being read: where it started, and on which line */
        bool in_word = false;
        size_t word = 0;
        int word_line = 0;
        size_t i = 0;
        /* libconfuse takes a file that ends inside a block as complete: count the braces */
        size_t depth = 0;
        int outer_open_line = 0;
        while (i < len) {
                char c = in[i];
                char next = i + 1 < len ? in[i + 1] : '\0';
                bool tok_start = !in_word;
                if (in_word && !unquoted_char(c)) {
                        token(&s, LEXER_WORD, 0, false, in + word, i - word, word_line);
                        in_word = false;
                }
                if (c == '\n') {
                        line++;
                        i++;
                } else if (c == '#' || (tok_start && c == '/' && next == '/')) {
                        while (i < len && in[i] != '\n')
                                blank(out, i++);
                } else if (tok_start && c == '/' && next == '*') {
                        int start_line = line;
                        blank(out, i++);
                        blank(out, i++);
                        bool closed = false;
                        while (i < len) {
                                if (in[i] == '*' && i + 1 < len && in[i + 1] == '/') {
                                        blank(out, i++);
                                        blank(out, i++);
                                        closed = true;
                                        break;
                                }
                                if (in[i] == '\n')
                                        line++;
                                else
                                        blank(out, i);
                                i++;
                        }
                        if (!closed)
                                problem(&s, LEXER_UNTERMINATED, start_line,
                                        "unterminated comment: the '/*' here has no '*/'");
                } else if (c == '"' || c == '\'') {
                        int start_line = line;
                        size_t quote = i;
                        bool closed = false, escaped = false;
                        for (i++; i < len; i++) {
                                if (in[i] == '\\' && i + 1 < len) {
                                        escaped = true;
                                        if (in[i + 1] == '\n')
                                                line++;
                                        i++;
                                        continue;
                                }
                                if (in[i] == '\n')
                                        line++;
                                if (in[i] == c) {
                                        closed = true;
                                        i++;
                                        break;
                                }
                                if (c == '"' && in[i] == '$' && i + 1 < len && in[i + 1] == '{') {
                                        escaped = true;
                                        problem(&s, LEXER_ENV_VAR, line,
                                                "'${' in a double-quoted string " ENV_VAR_MSG);
                                }
                        }
                        if (closed) {
                                token(&s, LEXER_STRING, c, escaped, in + quote + 1, i - quote - 2,
                                      start_line);
                        } else {
                                char msg[128];
                                snprintf(msg, sizeof(msg),
                                         "unterminated string: the %s here has no closing %s",
                                         c == '"' ? "'\"'" : "\"'\"", c == '"' ? "'\"'" : "\"'\"");
                                problem(&s, LEXER_UNTERMINATED, start_line, msg);
                                /* libconfuse's lexer has no rule for a '\' at the end of a
                                 * string and echoes it to stdout: it never sees the rest */
                                for (size_t j = quote; j < len; j++)
                                        if (in[j] != '\n')
                                                blank(out, j);
                        }
                } else if (c == '{' || c == '}') {
                        if (c == '{' && depth++ == 0)
                                outer_open_line = line;
                        else if (c == '}' && depth > 0)
                                depth--;
                        token(&s, LEXER_PUNCT, c, false, in + i, 1, line);
                        i++;
                } else if (unquoted_char(c)) {
                        if (c == '$' && next == '{')
                                problem(&s, LEXER_ENV_VAR, line, "'${' " ENV_VAR_MSG);
                        if (!in_word) {
                                in_word = true;
                                word = i;
                                word_line = line;
                        }
                        i++;
                } else if (c == '+' && next == '=') {
                        token(&s, LEXER_PUNCT, '+', false, in + i, 2, line);
                        i += 2;
                } else {
                        if (strchr("=(),", c))
                                token(&s, LEXER_PUNCT, c, false, in + i, 1, line);
                        i++;
                }
        }
        if (in_word)
                token(&s, LEXER_WORD, 0, false, in + word, len - word, word_line);
        if (depth > 0 && !s.unterminated) {
                char msg[160];
                snprintf(msg, sizeof(msg),
                         "unexpected end of file: a '}' is missing (the block opened at line %d, "
                         "or one inside it, is not closed)",
                         outer_open_line);
                problem(&s, LEXER_UNTERMINATED, line, msg);
        }
        if (ret_blanked)
                *ret_blanked = out;
        return s.problems;
}

/* ---- the fail mode -------------------------------------------------------------------------- */

/* Where the reader is in libconfuse's grammar of the top level (its cfg_parse_internal()). */
enum top_state {
        TOP_KEY,       /* expecting a key, a section's name or the end */
        TOP_AFTER_KEY, /* expecting '=', "+=", a section's title or its '{' */
        TOP_VALUE,     /* expecting a value or '{' of a list */
        TOP_LIST,      /* inside a list, until its '}' */
        TOP_TITLED,    /* after a section's title, expecting its '{' */
        TOP_BLOCK,     /* inside a section, until its '}' (depth counts the braces) */
};

/* Reads the top-level assignments of one key (fail, runtime_dir): how many, and the value
 * of the last one. */
struct top_reader {
        const char *key;
        enum top_state state;
        size_t depth;
        bool doubt;     /* the text does not read as an accepted config would */
        bool key_match; /* the key being read is ours */
        bool assign;    /* it was followed by '=', not "+=" */
        unsigned n;     /* assignments of the key */
        bool have_value; /* the last one's value is a single word or unescaped string */
        struct lexer_token value;
        int line;
};

static bool token_is(const struct lexer_token *t, const char *s)
{
        return (t->kind == LEXER_WORD || (t->kind == LEXER_STRING && !t->escaped)) &&
               t->len == strlen(s) && memcmp(t->text, s, t->len) == 0;
}

static bool is_string(const struct lexer_token *t)
{
        return t->kind != LEXER_PUNCT;
}

static bool is_punct(const struct lexer_token *t, char c)
{
        return t->kind == LEXER_PUNCT && t->c == c;
}

static void top_reader_token(void *userdata, const struct lexer_token *t)
{
        struct top_reader *r = userdata;
        if (r->doubt)
                return;
        switch (r->state) {
        case TOP_KEY:
                if (!is_string(t)) {
                        r->doubt = true; /* libconfuse: "unexpected token" or closing brace */
                        break;
                }
                /* a quoted key is a key too; an escaped one might decode to ours */
                if (t->kind == LEXER_STRING && t->escaped)
                        r->doubt = true;
                r->key_match = token_is(t, r->key);
                r->state = TOP_AFTER_KEY;
                break;
        case TOP_AFTER_KEY:
                if (is_punct(t, '=') || is_punct(t, '+')) {
                        r->assign = is_punct(t, '=');
                        if (r->key_match) {
                                r->n++;
                                r->have_value = false;
                                r->line = t->line;
                        }
                        r->state = TOP_VALUE;
                } else if (r->key_match) {
                        r->doubt = true; /* ours is no section */
                } else if (is_punct(t, '{')) {
                        r->depth = 1;
                        r->state = TOP_BLOCK;
                } else if (is_string(t)) {
                        r->state = TOP_TITLED;
                } else {
                        r->doubt = true;
                }
                break;
        case TOP_VALUE:
                if (is_string(t)) {
                        if (r->key_match) {
                                r->have_value = r->assign && (t->kind == LEXER_WORD || !t->escaped);
                                r->value = *t;
                                r->line = t->line;
                        }
                        r->state = TOP_KEY;
                } else if (is_punct(t, '{')) {
                        r->state = TOP_LIST; /* fail = {open}: a list, not a value */
                } else {
                        r->doubt = true;
                }
                break;
        case TOP_LIST:
                if (is_punct(t, '}'))
                        r->state = TOP_KEY;
                else if (!is_string(t) && !is_punct(t, ','))
                        r->doubt = true;
                break;
        case TOP_TITLED:
                if (is_punct(t, '{')) {
                        r->depth = 1;
                        r->state = TOP_BLOCK;
                } else {
                        r->doubt = true;
                }
                break;
        case TOP_BLOCK:
                if (is_punct(t, '{'))
                        r->depth++;
                else if (is_punct(t, '}') && --r->depth == 0)
                        r->state = TOP_KEY;
                break;
        }
}

/* The reader over the whole text: true when it reads as an accepted config would. */
static bool top_read(const char *text, size_t len, struct top_reader *r)
{
        const struct lexer_ops ops = {.token = top_reader_token};
        int problems = lexer_scan(text, len, &ops, r, NULL);
        return problems == 0 && !r->doubt && r->state == TOP_KEY;
}

enum fail_mode lexer_fail_mode(const char *text, size_t len, int *ret_line)
{
        struct top_reader r = {.key = "fail", .state = TOP_KEY};
        bool single = top_read(text, len, &r) && r.n == 1;
        if (ret_line)
                *ret_line = single ? r.line : 0;
        return single && r.have_value && token_is(&r.value, "open") ? FAIL_OPEN : FAIL_CLOSED;
}

int lexer_top_string(const char *text, size_t len, const char *key, char *buf, size_t size)
{
        struct top_reader r = {.key = key, .state = TOP_KEY};
        if (!top_read(text, len, &r) || r.n > 1)
                return -EINVAL;
        if (r.n == 0)
                return 0;
        if (!r.have_value || r.value.len >= size || memchr(r.value.text, '\0', r.value.len))
                return -EINVAL;
        memcpy(buf, r.value.text, r.value.len);
        buf[r.value.len] = '\0';
        return 1;
}

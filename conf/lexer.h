/* lexer.h: the one lexer of /etc/isolate.conf, libc only. The helper's parser (schema.c)
 * hands libconfuse the text it returns; the PAM module reads the fail mode through it
 * (lexer_fail_mode) without libconfuse, and the helper refuses a config on which the two
 * readings of `fail` differ. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* The largest config the helper parses and the PAM module reads. */
#define CONFIG_MAX_BYTES (1024 * 1024)

enum lexer_token_kind {
        LEXER_WORD,   /* an unquoted string */
        LEXER_STRING, /* a quoted string: text is what is between the quotes, not decoded */
        LEXER_PUNCT,  /* '{' '}' '(' ')' '=' ',' and "+=" (as '+') */
};

struct lexer_token {
        enum lexer_token_kind kind;
        char c;           /* LEXER_PUNCT: which one; LEXER_STRING: the quote */
        bool escaped;     /* LEXER_STRING: holds a '\' or "${", so libconfuse's value differs */
        const char *text; /* into the scanned text */
        size_t len;
        int line; /* where it starts, counting from 1 */
};

enum lexer_problem {
        LEXER_ENV_VAR,      /* "${", which libconfuse would replace from its environment */
        LEXER_UNTERMINATED, /* a string, block comment or block that the file ends inside */
};

/* Either may be NULL. msg is a sentence for the admin, valid during the call. */
struct lexer_ops {
        void (*problem)(void *userdata, enum lexer_problem what, int line, const char *msg);
        void (*token)(void *userdata, const struct lexer_token *t);
};

/* Scans text (len bytes, no NUL inside) as libconfuse 3.3's lexer does: comments ("#" outside
 * strings; "//" and block comments where a token starts), single- and double-quoted strings,
 * unquoted words, punctuation, and the nesting of blocks, which libconfuse does not check
 * at the end of the file. Reports each token and each problem through ops. With ret_blanked,
 * returns there a NUL-terminated copy in which every comment and an unterminated string are
 * spaces (newlines kept): what libconfuse is given, so that its line numbers are right and
 * it never sees what it mishandles. Returns the number of problems, or -ENOMEM. */
int lexer_scan(const char *text, size_t len, const struct lexer_ops *ops, void *userdata,
               char **ret_blanked);

/* The fail mode the config's text sets: FAIL_OPEN only when it scans without a problem, its
 * top level reads as libconfuse's grammar (KEY = VALUE, KEY = {LIST}, KEY [TITLE] {BLOCK}),
 * and it holds exactly one top-level `fail` assignment, "fail = open" with open unquoted or
 * in either quotes without escapes; FAIL_CLOSED otherwise (any doubt is closed). ret_line
 * (may be NULL): the line of that assignment's value, 0 when there is no single one. */
enum fail_mode lexer_fail_mode(const char *text, size_t len, int *ret_line);

/* The value of a top-level `key = VALUE` (a word, or a string without escapes) read by the
 * same rules: 1 and the value in buf when the text holds exactly one such assignment; 0 when
 * it holds none; -EINVAL when anything is in doubt (a problem, "+=", a list, two of them, a
 * value that does not fit). The PAM module reads runtime_dir with it. */
int lexer_top_string(const char *text, size_t len, const char *key, char *buf, size_t size);

/* parse.h: what the parts of the config parser share, inside conf/ only: schema.c (the
 * libconfuse schema, sections, cross-references), values.c (one value: check, convert) and
 * diag.c (the problems found, by line). */
#pragma once

#include <confuse.h>
#include <sys/capability.h>

#include "keys.h"
#include "policy.h"

struct diag {
        int line; /* 0: about the whole file */
        size_t seq;
        char *msg;
};

struct seen_key {
        char *name;
        int line;
};

/* What the hidden option of a section holds. */
struct secinfo {
        int line;
        struct seen_key *keys; /* keys assigned so far, to catch a key set twice */
        size_t n_keys;
        struct seen_key *io; /* in a policy: the io blocks seen, to catch duplicates */
        size_t n_io;
};

struct parse_ctx {
        const char *file;
        struct diag *diags;
        size_t n_diags;
        bool oom;
        bool lexer_reported; /* the pre-scan reported an unterminated string, comment, block */
        bool confuse_reported;
        int last_line;
        struct secinfo root;
        struct secinfo *cur_policy;
        struct seen_key *policies; /* policy titles seen, to catch duplicates */
        size_t n_policies;
};

/* A value as written, and where. */
struct optval {
        int line;
        bool ok; /* passed value_check() when parsed */
        char text[];
};

/* A checked value, converted. */
union parsed {
        bool b;
        int e;
        uint64_t u;
        cap_value_t cap;
        struct cidr net;
        struct egress_rule egress;
};

/* Adds a problem at line (0: about the whole file); nothing when ctx is NULL. */
void diag_add(struct parse_ctx *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Moves the problems, sorted by line, into errs as "FILE:LINE: message". */
int diags_flush(struct parse_ctx *ctx, struct config_errors *errs);

/* Whether k takes one value (not a list). */
bool is_scalar(enum kind k);
/* Checks one value as written: 0 with *out filled, or -EINVAL after reporting the problem
 * to ctx (nothing is reported when ctx is NULL). */
int value_check(struct parse_ctx *ctx, const struct key *k, const struct optval *v,
                union parsed *out);
int strv_push(struct strv *v, const char *s);

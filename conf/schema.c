/* schema.c: the libconfuse schema of /etc/isolate.conf and its conversion into struct config.
 *
 * How errors get their line numbers. libconfuse 3.3 counts two extra lines for every
 * comment, stops at the first error, takes a file that ends inside a block as complete,
 * and echoes a '\' that ends the file inside a string to stdout. So:
 *  - the text is pre-scanned (lexer.c): comments are blanked (newlines kept) before libconfuse
 *    sees it, which makes its line counter right; "${VAR}" (which libconfuse would replace
 *    with the parser's environment), unterminated strings, comments and blocks are
 *    reported, and an unterminated string is blanked too;
 *  - every key is a list of CFGT_PTR values whose parse callback keeps the text and its
 *    line, and checks the value right there (libconfuse drops a block when a later one
 *    has the same name, and a syntax error ends its parse), so every bad value is
 *    reported, not just the first; conversion into struct config comes after parsing;
 *  - every section has a hidden option (named "", which no config can name) with a
 *    default value: libconfuse parses it when it creates the section, at the line of the
 *    section's '{', which is how a section learns where it starts.
 * A syntax error or an unknown key still ends libconfuse's parse: what was found before it
 * is reported, cross-references are not checked then (they would be wrong). */
#include "keys.h"
#include "lexer.h"
#include "parse.h"
#include "policy.h"

#include <confuse.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>

/* libconfuse passes no user pointer to its callbacks, and its lexer is one global state
 * anyway (a parse is never concurrent with another), so the context of the parse running
 * on this thread is here. */
static __thread struct parse_ctx *current;

/* ---- the schema: the tables of conf/keys.c ---------------------------------------------- */

static const struct key_section *section_kind_of(cfg_t *sec)
{
        return sec ? key_section_named(sec->name) : NULL;
}

static const struct key *key_of(cfg_t *sec, const char *name)
{
        return key_named(section_kind_of(sec), name);
}

/* ---- libconfuse callbacks ------------------------------------------------------------------ */

static const struct key *key_of(cfg_t *sec, const char *name);
static bool valid_policy_name(const char *s);

static void seen_keys_free(struct seen_key *k, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(k[i].name);
        free(k);
}

static void secinfo_clear(struct secinfo *si)
{
        seen_keys_free(si->keys, si->n_keys);
        seen_keys_free(si->io, si->n_io);
        si->keys = si->io = NULL;
        si->n_keys = si->n_io = 0;
}

static void secinfo_free(void *p)
{
        struct secinfo *si = p;
        if (!si)
                return;
        if (current && current->cur_policy == si)
                current->cur_policy = NULL;
        secinfo_clear(si);
        free(si);
}

static const struct seen_key *seen_find(const struct seen_key *k, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (STREQ(k[i].name, name))
                        return &k[i];
        return NULL;
}

static int seen_add(struct seen_key **k, size_t *n, const char *name, int line)
{
        struct seen_key *nk = reallocarray(*k, *n + 1, sizeof(**k));
        if (!nk)
                return -ENOMEM;
        *k = nk;
        nk[*n].name = strdup(name);
        if (!nk[*n].name)
                return -ENOMEM;
        nk[*n].line = line;
        (*n)++;
        return 0;
}

static struct secinfo *secinfo_of(cfg_t *sec)
{
        for (unsigned i = 0; sec && sec->opts && sec->opts[i].name; i++)
                if (sec->opts[i].name[0] == '\0')
                        return cfg_opt_getnptr(&sec->opts[i], 0);
        return NULL;
}

static int section_hook(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
        struct parse_ctx *ctx = current;
        struct secinfo *si = calloc(1, sizeof(*si));
        if (!si)
                return -1;
        si->line = sec->line;

        if (ctx && STREQ(sec->name, "policy") && sec->title) {
                if (!valid_policy_name(sec->title))
                        diag_add(ctx, si->line,
                                 "policy name '%s': use letters, digits, '_', '-' and '.' (at "
                                 "most 64)",
                                 sec->title);
                const struct seen_key *prev = seen_find(ctx->policies, ctx->n_policies, sec->title);
                if (prev)
                        diag_add(ctx, si->line,
                                 "policy '%s' is defined twice (first at line %d); rename one "
                                 "or merge them",
                                 sec->title, prev->line);
                else if (seen_add(&ctx->policies, &ctx->n_policies, sec->title, si->line) < 0)
                        ctx->oom = true;
                ctx->cur_policy = si;
        } else if (ctx && STREQ(sec->name, "io") && sec->title && ctx->cur_policy) {
                struct secinfo *p = ctx->cur_policy;
                if (sec->title[0] != '/' || path_has_dotdot(sec->title) ||
                    text_has_control_char(sec->title))
                        diag_add(ctx, si->line,
                                 "io \"%s\": name a device node (\"/dev/sda\") or an absolute "
                                 "path on the disk to throttle (\"/home\")",
                                 sec->title);
                const struct seen_key *prev = seen_find(p->io, p->n_io, sec->title);
                if (prev)
                        diag_add(ctx, si->line,
                                 "io \"%s\" appears twice in this policy (first at line %d); "
                                 "merge the two blocks",
                                 sec->title, prev->line);
                else if (seen_add(&p->io, &p->n_io, sec->title, si->line) < 0)
                        ctx->oom = true;
        }
        *(void **)result = si;
        return 0;
}

static int value_cb(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
        struct parse_ctx *ctx = current;
        if (!value)
                return -1;
        size_t len = strlen(value);
        struct optval *v = malloc(sizeof(*v) + len + 1);
        if (!v)
                return -1;
        v->line = sec->line;
        memcpy(v->text, value, len + 1);
        if (ctx && v->line > ctx->last_line)
                ctx->last_line = v->line;

        /* Checked now, not after parsing: a later block of the same name replaces this one
         * inside libconfuse, and a syntax error further down ends the parse. */
        const struct key *k = key_of(sec, opt->name);
        union parsed tmp;
        v->ok = k && value_check(ctx, k, v, &tmp) == 0;
        if (k && is_scalar(k->kind) && opt->nvalues == 2)
                diag_add(ctx, v->line, "%s takes one value, not a list", opt->name);

        /* The first value of an assignment ("=" empties the list before this runs; "+="
         * onto a list already holding values leaves more than one). */
        if (ctx && opt->nvalues == 1) {
                struct secinfo *si = STREQ(sec->name, "root") ? &ctx->root : secinfo_of(sec);
                const struct seen_key *prev =
                    si ? seen_find(si->keys, si->n_keys, opt->name) : NULL;
                if (prev)
                        diag_add(ctx, v->line,
                                 "%s is set twice (also at line %d); the later value would "
                                 "replace the earlier: remove one (use += to add to a list)",
                                 opt->name, prev->line);
                else if (si && seen_add(&si->keys, &si->n_keys, opt->name, v->line) < 0)
                        ctx->oom = true;
        }
        *(void **)result = v;
        return 0;
}

/* Levenshtein distance, for "did you mean". Keys are short. */
static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        if (la > 40 || lb > 40)
                return SIZE_MAX;
        size_t prev[41], cur[41];
        for (size_t j = 0; j <= lb; j++)
                prev[j] = j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
                        size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
                        cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
                }
                memcpy(prev, cur, sizeof(prev));
        }
        return prev[lb];
}

static const char *const section_nice[] = {"at the top level", "inside a policy block",
                                           "inside an io block", "inside a match block"};

static void unknown_key(struct parse_ctx *ctx, cfg_t *sec, int line, const char *key)
{
        const struct key_section *here = section_kind_of(sec);
        const char *where = here ? here->where : "here";
        static const char *const section_words[] = {"policy", "io", "match"};

        if (STREQ(key, "policy") && here && !STREQ(here->name, "root")) {
                diag_add(ctx, line,
                         "'policy' cannot appear %s: policy blocks go at the top level, and "
                         "policy = NAME goes in a match block",
                         where);
                return;
        }
        /* a key of another block? */
        for (size_t s = 0; s < n_key_sections; s++) {
                if (&key_sections[s] == here)
                        continue;
                for (size_t k = 0; k < key_sections[s].n_keys; k++)
                        if (STREQ(key_sections[s].keys[k].name, key)) {
                                diag_add(ctx, line, "unknown key '%s' %s: it belongs %s", key,
                                         where, section_nice[s]);
                                return;
                        }
        }
        for (size_t s = 0; s < ELEMENTSOF(section_words); s++)
                if (STREQ(section_words[s], key)) {
                        diag_add(ctx, line, "%s %s block cannot appear %s",
                                 key[0] == 'i' ? "an" : "a", key, where);
                        return;
                }

        /* the closest key: of this block first, then of the others */
        for (int pass = 0; pass < 2; pass++) {
                const char *best = NULL;
                size_t best_d = SIZE_MAX, best_s = 0;
                for (size_t s = 0; s < n_key_sections; s++) {
                        if ((pass == 0) != (&key_sections[s] == here))
                                continue;
                        for (size_t k = 0; k < key_sections[s].n_keys; k++) {
                                size_t d = edit_distance(key, key_sections[s].keys[k].name);
                                if (d < best_d) {
                                        best_d = d;
                                        best = key_sections[s].keys[k].name;
                                        best_s = s;
                                }
                        }
                }
                if (!best || best_d > 2 + strlen(key) / 6)
                        continue;
                if (pass == 0)
                        diag_add(ctx, line, "unknown key '%s' %s; did you mean '%s'?", key, where,
                                 best);
                else
                        diag_add(ctx, line, "unknown key '%s' %s; did you mean '%s' (%s)?", key,
                                 where, best, section_nice[best_s]);
                return;
        }
        diag_add(ctx, line, "unknown key '%s' %s; see isolate.conf(5) for the keys", key, where);
}

/* libconfuse's own messages, reworded to say what to do. fmt is compared untranslated:
 * translated messages (a process that called setlocale) are passed on as they are. */
static void confuse_error(cfg_t *sec, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void confuse_error(cfg_t *sec, const char *fmt, va_list ap)
{
        struct parse_ctx *ctx = current;
        if (!ctx)
                return;
        char msg[512];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        int line = sec ? sec->line : 0;
        ctx->confuse_reported = true;

        /* the quoted argument of the message */
        char arg[256] = "";
        const char *q1 = strchr(msg, '\''), *q2 = q1 ? strrchr(msg, '\'') : NULL;
        if (q1 && q2 > q1 && (size_t)(q2 - q1 - 1) < sizeof(arg)) {
                memcpy(arg, q1 + 1, (size_t)(q2 - q1 - 1));
                arg[q2 - q1 - 1] = '\0';
        }

        if (STREQ(fmt, "no such option '%s'")) {
                unknown_key(ctx, sec, line, arg);
        } else if (STREQ(fmt, "unexpected token '%s'")) {
                diag_add(ctx, line,
                         "syntax error at '%s': expected KEY = VALUE, a list {\"a\", \"b\"} or "
                         "a block",
                         arg);
        } else if (STREQ(fmt, "missing equal sign after option '%s'")) {
                diag_add(ctx, line, "expected '=' after '%s'", arg);
        } else if (STREQ(fmt, "missing title for section '%s'")) {
                if (STREQ(arg, "io"))
                        diag_add(ctx, line,
                                 "an io block needs a device or path: io \"/dev/sda\" { ... }");
                else
                        diag_add(ctx, line, "a %s block needs a name: %s NAME { ... }", arg, arg);
        } else if (STREQ(fmt, "missing opening brace for section '%s'")) {
                if (STREQ(arg, "match"))
                        diag_add(ctx, line,
                                 "expected '{' after 'match' (a match block has no name)");
                else
                        diag_add(ctx, line, "expected '{' after the name of the %s block", arg);
        } else if (STREQ(fmt, "premature end of file")) {
                if (!ctx->lexer_reported) /* an unterminated string ran to the end */
                        diag_add(ctx, line, "unexpected end of file: a '}' is missing");
        } else if (STREQ(fmt, "unexpected closing brace")) {
                diag_add(ctx, line, "'}' without a block to close");
        } else if (STREQ(fmt, "unterminated string constant")) {
                if (!ctx->lexer_reported)
                        diag_add(ctx, line, "unterminated string");
        } else {
                diag_add(ctx, line, "%s", msg);
        }
}

/* ---- pre-scan: the lexer (lexer.c) blanks comments, finds ${...} and unterminated strings - */

static void lexer_problem(void *userdata, enum lexer_problem what, int line, const char *msg)
{
        struct parse_ctx *ctx = userdata;
        diag_add(ctx, line, "%s", msg);
        if (what == LEXER_UNTERMINATED)
                ctx->lexer_reported = true;
}

/* A copy of in with every comment character replaced by a space (lexer_scan()). */
static char *prescan(struct parse_ctx *ctx, const char *in, size_t len)
{
        static const struct lexer_ops ops = {.problem = lexer_problem};
        char *out = NULL;
        if (lexer_scan(in, len, &ops, ctx, &out) < 0)
                return NULL;
        return out;
}

/* ---- conversion ----------------------------------------------------------------------------- */

static const struct optval *value_at(cfg_t *sec, const char *key, unsigned i)
{
        return cfg_getnptr(sec, key, i);
}

/* Whether the config assigns the key at all ("key = {}" included). */
static bool key_written(cfg_t *sec, const char *key)
{
        cfg_opt_t *opt = cfg_getopt(sec, key);
        return opt && (opt->flags & CFGF_MODIFIED);
}

/* The one good value of a key that takes one; NULL when absent or not good (reported). */
static const struct optval *scalar_value(cfg_t *sec, const char *key)
{
        const struct optval *v = value_at(sec, key, 0);
        return cfg_size(sec, key) == 1 && v && v->ok ? v : NULL;
}

/* Stores one checked scalar value of k (as written: v) into field. */
static void store_scalar(struct parse_ctx *ctx, const struct key *k, char *field, const char *text,
                         const union parsed *x)
{
        switch (k->kind) {
        case K_BOOL:
                *(bool *)field = x->b;
                break;
        case K_ENUM:
                *(int *)field = x->e;
                break;
        case K_STR: {
                char *copy = strdup(text);
                if (!copy) {
                        ctx->oom = true;
                        return;
                }
                free(*(char **)field);
                *(char **)field = copy;
                break;
        }
        case K_DURATION:
                *(uint32_t *)field = (uint32_t)x->u; /* bounded by k->max */
                break;
        default:
                *(uint64_t *)field = x->u;
                break;
        }
}

/* egress_allow: written at all (even {}) turns the filter on; each good entry is a rule. */
static void convert_egress(struct parse_ctx *ctx, cfg_t *sec, const struct key *k,
                           struct egress_allow *field)
{
        unsigned n = cfg_size(sec, k->name);
        union parsed x;

        free(field->rules);
        *field = (struct egress_allow){.filtered = true};
        if (n > EGRESS_MAX_RULES) {
                const struct optval *v = value_at(sec, k->name, EGRESS_MAX_RULES);
                diag_add(ctx, v ? v->line : 0,
                         "%s: more than %d entries; join neighbouring addresses into networks "
                         "(\"10.0.0.0/24:22\")",
                         k->name, EGRESS_MAX_RULES);
                return;
        }
        if (n == 0)
                return;
        field->rules = calloc(n, sizeof(*field->rules));
        if (!field->rules) {
                ctx->oom = true;
                return;
        }
        for (unsigned i = 0; i < n; i++) {
                const struct optval *v = value_at(sec, k->name, i);
                if (v && v->ok && value_check(NULL, k, v, &x) == 0)
                        field->rules[field->n++] = x.egress;
        }
}

/* Converts one key of sec into base + k->offset. The values were checked (and problems
 * reported) as they were parsed; here only the good ones are taken. */
static void convert_key(struct parse_ctx *ctx, cfg_t *sec, const struct key *k, void *base)
{
        char *field = (char *)base + k->offset;
        unsigned n = cfg_size(sec, k->name);
        union parsed x;

        if (k->kind == K_NAME || k->kind == K_CIDRS)
                return; /* by the caller: they need more than one key */
        if (!key_written(sec, k->name))
                return; /* the default stays */
        if (k->kind == K_EGRESS) {
                convert_egress(ctx, sec, k, (struct egress_allow *)field);
                return;
        }
        if (is_scalar(k->kind)) {
                const struct optval *v = value_at(sec, k->name, 0);
                if (n == 1 && v && v->ok && value_check(NULL, k, v, &x) == 0)
                        store_scalar(ctx, k, field, v->text, &x);
                return;
        }
        /* a list written in the file ({} too) replaces the default */
        if (k->kind == K_CAPS)
                *(uint64_t *)field = 0;
        else
                config_strv_free((struct strv *)field);
        for (unsigned i = 0; i < n; i++) {
                const struct optval *v = value_at(sec, k->name, i);
                if (!v || !v->ok || value_check(NULL, k, v, &x) < 0)
                        continue;
                if (k->kind == K_CAPS)
                        *(uint64_t *)field |= UINT64_C(1) << x.cap;
                else if (strv_push((struct strv *)field, v->text) < 0)
                        ctx->oom = true;
        }
}

/* One value of a default (a whole scalar, or one element of a list), checked as if the
 * file said it: stored into field, or false when it does not pass. */
static bool default_value(struct parse_ctx *ctx, const struct key *k, char *field, const char *text,
                          size_t len)
{
        struct optval *v = calloc(1, sizeof(*v) + len + 1);
        union parsed x;
        if (!v) {
                ctx->oom = true;
                return false;
        }
        memcpy(v->text, text, len);
        bool ok = value_check(NULL, k, v, &x) == 0;
        if (ok && is_scalar(k->kind))
                store_scalar(ctx, k, field, v->text, &x);
        else if (ok && k->kind == K_CAPS)
                *(uint64_t *)field |= UINT64_C(1) << x.cap;
        else if (ok && strv_push((struct strv *)field, v->text) < 0)
                ctx->oom = true;
        free(v);
        return ok;
}

/* The defaults of a section's keys, from the table (keys.c): each .def goes through the same
 * checks as a value in the file. "unset" is LIMIT_UNSET for a number, else the zero of the
 * field; a list is written {"a", "b"}. Returns false when a .def does not pass, a bug of
 * the table that test_keys.c catches. */
static bool keys_defaults(struct parse_ctx *ctx, const struct key_section *sk, void *base)
{
        bool ok = true;
        for (size_t i = 0; i < sk->n_keys; i++) {
                const struct key *k = &sk->keys[i];
                char *field = (char *)base + k->offset;
                if (!k->def || k->kind == K_NAME || k->kind == K_CIDRS)
                        continue;
                if (STREQ(k->def, "unset")) {
                        if (k->kind == K_SIZE || k->kind == K_RATE || k->kind == K_COUNT ||
                            k->kind == K_PERCENT)
                                *(uint64_t *)field = LIMIT_UNSET;
                        continue;
                }
                if (is_scalar(k->kind)) {
                        ok &= default_value(ctx, k, field, k->def, strlen(k->def));
                        continue;
                }
                /* {"a", "b"}: the words between double quotes */
                for (const char *q = strchr(k->def, '"'), *end; q; q = strchr(end + 1, '"')) {
                        end = strchr(q + 1, '"');
                        if (!end)
                                return false;
                        ok &= default_value(ctx, k, field, q + 1, (size_t)(end - q - 1));
                }
        }
        return ok;
}

static void convert_keys(struct parse_ctx *ctx, cfg_t *sec, const struct key *keys, size_t n,
                         void *base)
{
        for (size_t i = 0; i < n; i++)
                convert_key(ctx, sec, &keys[i], base);
}

static bool valid_policy_name(const char *s)
{
        size_t n = 0;
        for (; s[n]; n++)
                if (!isalnum((unsigned char)s[n]) && !strchr("_.-", s[n]))
                        return false;
        return n > 0 && n <= 64;
}

static int section_line(cfg_t *sec)
{
        struct secinfo *si = secinfo_of(sec);
        return si ? si->line : 0;
}

static void convert_io(struct parse_ctx *ctx, cfg_t *pol, struct policy *p, bool complete)
{
        unsigned n = cfg_size(pol, "io");
        if (n == 0)
                return;
        p->io = calloc(n, sizeof(*p->io));
        if (!p->io) {
                ctx->oom = true;
                return;
        }
        for (unsigned i = 0; i < n; i++) {
                cfg_t *sec = cfg_getnsec(pol, "io", i);
                struct io_limit *io = &p->io[p->n_io];
                const char *title = sec ? cfg_title(sec) : NULL;
                if (!title)
                        continue;
                *io = (struct io_limit){.line = section_line(sec)};
                keys_defaults(ctx, keys_io, io);
                io->target = strdup(title);
                if (!io->target) {
                        ctx->oom = true;
                        return;
                }
                p->n_io++;
                convert_keys(ctx, sec, keys_io->keys, keys_io->n_keys, io);
                bool any_written = false;
                for (size_t k = 0; k < keys_io->n_keys; k++)
                        any_written |= cfg_size(sec, keys_io->keys[k].name) > 0;
                if (complete && !any_written && io->read_bps == LIMIT_UNSET &&
                    io->write_bps == LIMIT_UNSET && io->read_iops == LIMIT_UNSET &&
                    io->write_iops == LIMIT_UNSET)
                        diag_add(ctx, io->line,
                                 "io \"%s\" sets no limit; add read_bps, write_bps, read_iops "
                                 "or write_iops, or remove the block",
                                 title);
        }
}

/* Keys that shape the view inside need a mount namespace to shape it in. */
static void check_mount_keys(struct parse_ctx *ctx, cfg_t *sec, struct policy *p)
{
        char list[512] = "";
        size_t off = 0;
        for (size_t i = 0; i < keys_policy->n_keys; i++) {
                const struct key *k = &keys_policy->keys[i];
                if (!(k->flags & KF_NEEDS_MOUNT) || cfg_size(sec, k->name) == 0)
                        continue;
                /* false is what no mount namespace gives anyway */
                if (k->kind == K_BOOL && !*(bool *)((char *)p + k->offset))
                        continue;
                off += (size_t)snprintf(list + off, off < sizeof(list) ? sizeof(list) - off : 0,
                                        "%s%s", off ? ", " : "", k->name);
        }
        if (off) {
                const struct optval *v = value_at(sec, "mount_namespace", 0);
                diag_add(ctx, v ? v->line : p->line,
                         "mount_namespace = false, but %s need%s a mount namespace; remove %s "
                         "or turn mount_namespace on",
                         list, strchr(list, ',') ? "" : "s", strchr(list, ',') ? "them" : "it");
        }
        /* No namespace to make /tmp private in: say so in the struct, not just ignore it. */
        p->private_tmp = false;
}

static void convert_policy(struct parse_ctx *ctx, cfg_t *sec, struct policy *p, bool complete)
{
        *p = (struct policy){0};
        keys_defaults(ctx, keys_policy, p);
        p->line = section_line(sec);
        p->name = strdup(cfg_title(sec) ? cfg_title(sec) : "");
        if (!p->name) {
                ctx->oom = true;
                return;
        }
        convert_keys(ctx, sec, keys_policy->keys, keys_policy->n_keys, p);
        convert_io(ctx, sec, p, complete);

        if (!p->ns_mount)
                check_mount_keys(ctx, sec, p);
        if (!p->ns_mount) {
                /* the session's pid namespace needs its own /proc, and the host's /proc
                 * would let a session reach its owner's processes outside it */
                const struct optval *v = value_at(sec, "mount_namespace", 0);
                diag_add(ctx, v ? v->line : p->line,
                         "mount_namespace = false is not supported: the session needs its own "
                         "/proc (the host's shows processes outside the session, writable "
                         "through /proc/PID/mem); remove the line");
        }
        if (!p->ns_pid) {
                /* the session's init ends a session as pid 1 of its namespace: kill(-1)
                 * reaches exactly the session's processes, and every orphan comes to it */
                const struct optval *v = value_at(sec, "pid_namespace", 0);
                diag_add(ctx, v ? v->line : p->line,
                         "pid_namespace = false is not supported: a session needs its own pid "
                         "namespace so that it can be ended whole; remove the line");
        }
        if (p->egress.filtered && p->network == NETWORK_NONE) {
                /* the session's own lo is all it reaches: there is nothing to filter */
                const struct optval *v = value_at(sec, "egress_allow", 0);
                diag_add(ctx, v ? v->line : p->line,
                         "egress_allow has no effect with network = none (the session reaches "
                         "only a loopback of its own); remove it, or use network = host");
        }
        if (p->hostname && !p->ns_uts) {
                const struct optval *v = value_at(sec, "hostname", 0);
                diag_add(ctx, v ? v->line : p->line,
                         "hostname needs uts_namespace = true (it would rename the host)");
        }
        if (p->ns_mount && !p->private_tmp && p->tmp_size != LIMIT_UNSET) {
                const struct optval *v = value_at(sec, "tmp_size", 0);
                diag_add(ctx, v ? v->line : p->line,
                         "tmp_size has no effect with private_tmp = false; remove one of them");
        }
        if (p->seccomp_base == SECCOMP_BASE_NONE) {
                static const char *const keys[] = {"syscalls_allow", "syscalls_deny",
                                                   "seccomp_action"};
                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        const struct optval *v = value_at(sec, keys[i], 0);
                        if (v)
                                diag_add(ctx, v->line,
                                         "%s has no effect with seccomp = none; remove it, or "
                                         "use seccomp = default",
                                         keys[i]);
                }
        }
        const struct optval *sv = value_at(sec, "scope", 0);
        if (p->linger_ms != LINGER_NO && p->scope != SCOPE_USER && (!sv || sv->ok)) {
                /* a login-scope sandbox ends at its logout: there is nothing to linger */
                const struct optval *v = value_at(sec, "linger", 0);
                diag_add(ctx, v ? v->line : p->line,
                         "linger needs scope = user (a login-scope sandbox ends at its "
                         "logout); add scope = user to policy %s, or remove linger",
                         p->name);
        }
        if (p->memory_high != LIMIT_UNSET && p->memory_max != LIMIT_UNSET &&
            p->memory_high != LIMIT_MAX && p->memory_max != LIMIT_MAX &&
            p->memory_high > p->memory_max) {
                const struct optval *v = value_at(sec, "memory_high", 0);
                diag_add(ctx, v ? v->line : p->line,
                         "memory_high is above memory_max, so it would never apply; lower it "
                         "below memory_max or remove it");
        }
}

static ssize_t policy_find(const struct config *c, const char *name)
{
        for (size_t i = 0; i < c->n_policies; i++)
                if (STREQ(c->policies[i].name, name))
                        return (ssize_t)i;
        return -1;
}

static void undefined_policy(struct parse_ctx *ctx, const struct config *c, const char *key,
                             const struct optval *v)
{
        char list[512] = "";
        size_t off = 0;
        for (size_t i = 0; i < c->n_policies && off < sizeof(list); i++)
                off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
                                        c->policies[i].name);
        diag_add(ctx, v->line,
                 "%s: policy '%s' is not defined (defined: %s); define it with "
                 "policy %s { ... } or name one of those",
                 key, v->text, off ? list : "none", v->text);
}

static void convert_match(struct parse_ctx *ctx, cfg_t *sec, struct config *c, struct match_rule *m,
                          bool complete)
{
        m->line = section_line(sec);
        convert_keys(ctx, sec, keys_match->keys, keys_match->n_keys, m);

        unsigned n = cfg_size(sec, "rhosts");
        if (n > 0) {
                m->rhosts = calloc(n, sizeof(*m->rhosts));
                if (!m->rhosts) {
                        ctx->oom = true;
                        return;
                }
        }
        for (unsigned i = 0; i < n; i++) {
                const struct optval *v = value_at(sec, "rhosts", i);
                struct cidr net;
                if (v && v->ok && parse_cidr(v->text, &net) == 0)
                        m->rhosts[m->n_rhosts++] = net;
        }

        const struct optval *pv = scalar_value(sec, "policy");
        const struct optval *ev = value_at(sec, "exempt", 0);
        if (!complete)
                return;
        if (pv && m->exempt)
                diag_add(ctx, m->line,
                         "this match has both policy = %s and exempt = true; keep one", pv->text);
        else if (!pv && !m->exempt)
                diag_add(ctx, ev ? ev->line : m->line,
                         "this match has neither policy = NAME nor exempt = true; add one");
        if (pv && !m->exempt) {
                ssize_t i = policy_find(c, pv->text);
                if (i < 0)
                        undefined_policy(ctx, c, "match", pv);
                else
                        m->policy_index = (size_t)i;
        }
}

static void check_rules(struct parse_ctx *ctx, const struct config *c)
{
        for (size_t j = 0; j < c->n_rules; j++) {
                const struct match_rule *b = &c->rules[j];
                bool any_service = b->services.n == 0;
                for (size_t s = 0; s < b->services.n; s++)
                        any_service |= config_strv_contains(&c->services, b->services.v[s]);
                if (!any_service) {
                        diag_add(ctx, b->line,
                                 "this match can never apply: none of its services is in "
                                 "services (logins of other services are not confined); add "
                                 "them to services or remove the rule");
                        continue;
                }
                if (c->services.n == 0) {
                        diag_add(ctx, b->line,
                                 "this match can never apply: services is empty, so no login "
                                 "is confined");
                        continue;
                }
                if (config_strv_all_in(&b->users, &c->exempt_users)) {
                        diag_add(ctx, b->line,
                                 "this match can never apply: every user it names is in "
                                 "exempt_users");
                        continue;
                }
                if (config_strv_all_in(&b->groups, &c->exempt_groups)) {
                        diag_add(ctx, b->line,
                                 "this match can never apply: every group it names is in "
                                 "exempt_groups");
                        continue;
                }
                for (size_t i = 0; i < j; i++) {
                        if (match_rule_covers(&c->rules[i], b, &c->services)) {
                                diag_add(ctx, b->line,
                                         "this match can never apply: the match at line %d "
                                         "already takes every login it would (the first match "
                                         "wins); move it above line %d or remove it",
                                         c->rules[i].line, c->rules[i].line);
                                break;
                        }
                }
        }
}

static void convert_config(struct parse_ctx *ctx, cfg_t *root, struct config *c, bool complete)
{
        keys_defaults(ctx, keys_root, c);
        convert_keys(ctx, root, keys_root->keys, keys_root->n_keys, c);

        unsigned np = cfg_size(root, "policy");
        if (np > 0) {
                c->policies = calloc(np, sizeof(*c->policies));
                if (!c->policies) {
                        ctx->oom = true;
                        return;
                }
        }
        for (unsigned i = 0; i < np; i++) {
                cfg_t *sec = cfg_getnsec(root, "policy", i);
                if (!sec)
                        continue;
                convert_policy(ctx, sec, &c->policies[c->n_policies++], complete);
        }

        const struct optval *dv = scalar_value(root, "default_policy");
        if (complete && c->n_policies == 0)
                diag_add(ctx, 0,
                         "no policy is defined; add one, e.g. policy bastion { memory_max = 2G }");
        if (complete && dv) {
                ssize_t i = policy_find(c, dv->text);
                if (i < 0)
                        undefined_policy(ctx, c, "default_policy", dv);
                else
                        c->default_policy = (size_t)i;
        }

        unsigned nr = cfg_size(root, "match");
        if (nr > 0) {
                c->rules = calloc(nr, sizeof(*c->rules));
                if (!c->rules) {
                        ctx->oom = true;
                        return;
                }
        }
        for (unsigned i = 0; i < nr; i++) {
                cfg_t *sec = cfg_getnsec(root, "match", i);
                if (!sec)
                        continue;
                convert_match(ctx, sec, c, &c->rules[c->n_rules++], complete);
        }
        if (complete)
                check_rules(ctx, c);
}

/* ---- entry points ------------------------------------------------------------------------- */

#define VALUE_OPT(name) CFG_PTR_LIST_CB(name, 0, CFGF_NONE, value_cb, free)
/* The hidden option: "" cannot be written in a config; "h" is parsed when the section is made. */
#define SECTION_HOOK CFG_PTR_CB("", "h", CFGF_NONE, section_hook, secinfo_free)

static void fill_opts(cfg_opt_t *opts, const struct key *keys, size_t n)
{
        for (size_t i = 0; i < n; i++)
                opts[i] = (cfg_opt_t)VALUE_OPT(keys[i].name);
}

static void policy_free_contents(struct policy *p)
{
        free(p->name);
        free(p->hostname);
        free(p->egress.rules);
        config_strv_free(&p->masked_paths);
        config_strv_free(&p->read_only_paths);
        for (size_t i = 0; i < p->n_io; i++)
                free(p->io[i].target);
        free(p->io);
        config_strv_free(&p->syscalls_allow);
        config_strv_free(&p->syscalls_deny);
        free(p->apparmor_profile);
        free(p->selinux_context);
        config_strv_free(&p->landlock_read_only);
        config_strv_free(&p->landlock_read_write);
}

void config_free(struct config *c)
{
        if (!c)
                return;
        free(c->file);
        config_strv_free(&c->services);
        config_strv_free(&c->exempt_users);
        config_strv_free(&c->exempt_groups);
        free(c->cgroup_root);
        free(c->runtime_dir);
        for (size_t i = 0; i < c->n_policies; i++)
                policy_free_contents(&c->policies[i]);
        free(c->policies);
        for (size_t i = 0; i < c->n_rules; i++) {
                config_strv_free(&c->rules[i].users);
                config_strv_free(&c->rules[i].groups);
                config_strv_free(&c->rules[i].services);
                free(c->rules[i].rhosts);
        }
        free(c->rules);
        free(c);
}

/* The PAM module reads the fail mode itself when the helper cannot run (lexer_fail_mode());
 * a config on which its reading and libconfuse's differ is refused, so that for every config
 * the helper accepts, the module's fallback decides as the helper would. */
static void fail_mode_cross_check(struct parse_ctx *ctx, cfg_t *root, const struct config *c,
                                  const char *buf, size_t len)
{
        int line = 0;
        enum fail_mode module = lexer_fail_mode(buf, len, &line);
        if (module == c->fail)
                return;
        const struct optval *v = value_at(root, "fail", 0);
        diag_add(ctx, v ? v->line : line,
                 "fail reads as %s here, but the PAM module, which reads it itself when the "
                 "helper cannot run, would take it as %s; write it once, at the top level, as "
                 "fail = %s (quotes allowed, no escapes, no list)",
                 fail_mode_name(c->fail), fail_mode_name(module), fail_mode_name(c->fail));
}

static int parse_text(struct parse_ctx *ctx, const char *buf, size_t len, struct config *c)
{
        cfg_opt_t io_opts[keys_io->n_keys + 2];
        cfg_opt_t match_opts[keys_match->n_keys + 2];
        cfg_opt_t policy_opts[keys_policy->n_keys + 3];
        cfg_opt_t root_opts[keys_root->n_keys + 3];
        size_t n;

        fill_opts(io_opts, keys_io->keys, keys_io->n_keys);
        io_opts[keys_io->n_keys] = (cfg_opt_t)SECTION_HOOK;
        io_opts[keys_io->n_keys + 1] = (cfg_opt_t)CFG_END();

        fill_opts(match_opts, keys_match->keys, keys_match->n_keys);
        match_opts[keys_match->n_keys] = (cfg_opt_t)SECTION_HOOK;
        match_opts[keys_match->n_keys + 1] = (cfg_opt_t)CFG_END();

        n = keys_policy->n_keys;
        fill_opts(policy_opts, keys_policy->keys, n);
        policy_opts[n] = (cfg_opt_t)CFG_SEC("io", io_opts, CFGF_MULTI | CFGF_TITLE);
        policy_opts[n + 1] = (cfg_opt_t)SECTION_HOOK;
        policy_opts[n + 2] = (cfg_opt_t)CFG_END();

        n = keys_root->n_keys;
        fill_opts(root_opts, keys_root->keys, n);
        root_opts[n] = (cfg_opt_t)CFG_SEC("policy", policy_opts, CFGF_MULTI | CFGF_TITLE);
        root_opts[n + 1] = (cfg_opt_t)CFG_SEC("match", match_opts, CFGF_MULTI);
        root_opts[n + 2] = (cfg_opt_t)CFG_END();

        _cleanup_free_ char *text = prescan(ctx, buf, len);
        if (!text)
                return -ENOMEM;

        current = ctx;
        cfg_t *cfg = cfg_init(root_opts, CFGF_NONE);
        if (!cfg) {
                current = NULL;
                return -ENOMEM;
        }
        cfg_set_error_function(cfg, confuse_error);

        bool complete = true;
        if (len > 0) {
                FILE *f = fmemopen(text, len, "r");
                if (!f) {
                        cfg_free(cfg);
                        current = NULL;
                        return -errno;
                }
                int r = cfg_parse_fp(cfg, f);
                fclose(f);
                if (r != CFG_SUCCESS) {
                        complete = false;
                        if (!ctx->confuse_reported && !ctx->lexer_reported)
                                diag_add(ctx, ctx->last_line,
                                         "syntax error (after this line); check quotes, braces "
                                         "and '='");
                }
        }
        convert_config(ctx, cfg, c, complete);
        if (complete && ctx->n_diags == 0 && !ctx->oom)
                fail_mode_cross_check(ctx, cfg, c, buf, len);
        cfg_free(cfg);
        current = NULL;
        return 0;
}

int config_parse_buffer(const char *name, const char *buf, struct config **ret,
                        struct config_errors *errs)
{
        if (ret)
                *ret = NULL;
        if (!name || !buf)
                return -EINVAL;

        struct parse_ctx ctx = {.file = name};
        struct config *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->file = strdup(name);
        int r = c->file ? 0 : -ENOMEM;

        size_t len = strlen(buf);
        if (r == 0 && len > CONFIG_MAX_BYTES)
                diag_add(&ctx, 0, "larger than %d bytes; is this the right file?",
                         CONFIG_MAX_BYTES);
        else if (r == 0)
                r = parse_text(&ctx, buf, len, c);

        secinfo_clear(&ctx.root);
        seen_keys_free(ctx.policies, ctx.n_policies);
        if (r == 0 && ctx.oom)
                r = -ENOMEM;
        if (r == 0 && ctx.n_diags > 0)
                r = -EINVAL;
        int fr = diags_flush(&ctx, errs);
        if (r == 0 && fr < 0)
                r = fr;
        if (r < 0) {
                config_free(c);
                return r;
        }
        if (ret)
                *ret = c;
        else
                config_free(c);
        return 0;
}

int config_load(const char *path, bool check_owner, struct config **ret, struct config_errors *errs)
{
        if (ret)
                *ret = NULL;
        if (!path)
                return -EINVAL;

        /* Symlinks are followed (some hosts manage /etc with them); what is checked is the
         * file actually opened. O_NONBLOCK: a FIFO in its place must not hang a login (it is
         * refused as not a regular file just below). */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                int r = -errno;
                config_errors_add(errs, "%s: cannot open: %s", path, strerror(-r));
                return r;
        }
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                config_errors_add(errs, "%s: cannot stat: %s", path, strerror(-r));
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                config_errors_add(errs, "%s: not a regular file", path);
                return -EINVAL;
        }
        if (check_owner && (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))) {
                char why[128];
                if (st.st_uid != 0)
                        snprintf(why, sizeof(why), "owned by uid %u", (unsigned)st.st_uid);
                else
                        snprintf(why, sizeof(why), "writable by %s (mode %04o)",
                                 (st.st_mode & S_IWOTH) ? "others" : "its group",
                                 (unsigned)(st.st_mode & 07777));
                config_errors_add(
                    errs,
                    "%s: %s, must be root:root and not group/world-writable; fix: chown "
                    "root:root %s && chmod 644 %s",
                    path, why, path, path);
                return -EPERM;
        }
        if (st.st_size > CONFIG_MAX_BYTES) {
                config_errors_add(errs, "%s: larger than %d bytes; is this the right file?", path,
                                  CONFIG_MAX_BYTES);
                return -EFBIG;
        }

        size_t cap = (size_t)st.st_size + 1, len = 0;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == cap) {
                        config_errors_add(errs, "%s: grew while being read; try again", path);
                        return -EAGAIN;
                }
                ssize_t k = read(fd, buf + len, cap - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int r = -errno;
                        config_errors_add(errs, "%s: cannot read: %s", path, strerror(-r));
                        return r;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        buf[len] = '\0';
        if (memchr(buf, '\0', len)) {
                config_errors_add(errs, "%s: contains a NUL byte; is this a text file?", path);
                return -EINVAL;
        }
        return config_parse_buffer(path, buf, ret, errs);
}

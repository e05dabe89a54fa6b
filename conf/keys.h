/* keys.h: every key of /etc/isolate.conf, declared once (keys.c).
 *
 * One entry says what a key is: its name, its type and where the value goes, what values
 * it takes, its default as a config would write it, the section of `isolatectl explain`
 * it is shown in and one line of what it does. From the table come: the libconfuse
 * schema and the checks of every value (schema.c), each policy's and the config's
 * defaults (schema.c, keys_defaults), the text and JSON of `isolatectl explain`
 * (isolatectl/explain.c), and `isolatectl keys`; tests/unit/test_keys.c fails when
 * isolate.conf(5) documents a different list, other choices or another default.
 *
 * Adding a key: one entry in the right table below, the field in struct policy (or
 * config) that it fills, and the code that acts on it. */
#pragma once

#include "policy.h"

enum kind {
        K_BOOL,
        K_ENUM,
        K_STR,
        K_SIZE,     /* bytes: "512M", "max" */
        K_RATE,     /* bytes per second: "20M", "20M/s", "max" */
        K_COUNT,    /* a plain number or "max" ("/s" allowed with KF_PER_SECOND) */
        K_PERCENT,  /* "200%", "max" */
        K_DURATION, /* "500ms", "5s", "2m", "10" */
        K_LINGER,   /* "no" (LINGER_NO), "yes" (LINGER_FOREVER) or a duration ("8h", "2d") in
                       ms, into a uint64_t */
        K_NAMES,    /* list of user, group, service names */
        K_PATHS,    /* list of absolute paths */
        K_LANDLOCK, /* list of absolute paths, "$HOME" or "~" allowed first */
        K_SYSCALLS, /* list of syscall names and @groups */
        K_CAPS,     /* list of capability names -> bit mask */
        K_CIDRS,    /* match only */
        K_NAME,     /* a policy name (default_policy, match policy): resolved later */
        K_EGRESS,   /* list of destinations "10.0.0.0/8:22/tcp" -> struct egress_allow */
};

#define KF_NO_MAX      (1u << 0) /* "max" is not accepted */
#define KF_NOT_ZERO    (1u << 1) /* 0 is not accepted */
#define KF_PER_SECOND  (1u << 2) /* a trailing "/s" is accepted */
#define KF_NEEDS_MOUNT (1u << 3) /* needs mount_namespace = true */

/* The sections of `isolatectl explain` a policy key is shown in, in this order. */
enum key_group {
        KG_NONE, /* not a policy key */
        KG_NAMESPACES,
        KG_LIFETIME,
        KG_VIEW,
        KG_RESOURCES,
        KG_TABLES,
        KG_SYSCALLS,
        KG_PRIVILEGE,
        KG_LSM,
};

struct enum_name {
        const char *name;
        int value;
};

struct key {
        const char *name;
        enum kind kind;
        size_t offset; /* into the struct the section converts to */
        unsigned flags;
        const struct enum_name *enums; /* K_ENUM: the words, NULL-terminated */
        /* K_STR: 0, or -EINVAL with a message saying what is wrong and what to write */
        int (*check)(const char *s, char *msg, size_t len);
        uint64_t min, max; /* K_COUNT, K_PERCENT, K_DURATION, K_LINGER range; max 0: no limit */
        /* The default as a config would write it; "unset" leaves the field as the struct's
         * zero (NULL, {}, false) or LIMIT_UNSET; NULL: no default (a name resolved later). */
        const char *def;
        enum key_group group;
        const char *unit; /* explain, after the value: "per session (its own devpts)" */
        const char *doc;  /* one line: what the key does */
};

struct key_section {
        const char *name;  /* libconfuse's section name; "root" for the top level */
        const char *where; /* for messages */
        const struct key *keys;
        size_t n_keys;
};

extern const struct key_section key_sections[];
extern const size_t n_key_sections;
/* The four sections of key_sections, by name. */
extern const struct key_section *const keys_root, *const keys_policy, *const keys_io,
                                                                          *const keys_match;

const struct key_section *key_section_named(const char *name);
const struct key *key_named(const struct key_section *sk, const char *name);
/* The config's word for an enum value of k ("?" when none), and the words joined. */
const char *key_enum_word(const struct key *k, int value);
const char *key_enum_choices(const struct key *k, char *buf, size_t len);

/* checks that keys.c and the parser share */
bool text_has_control_char(const char *s);
bool path_has_dotdot(const char *s);

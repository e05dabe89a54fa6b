/* events.h: the journal MESSAGE_ID of each event isolate logs. conf/isolate.catalog explains
 * each one to the admin (journalctl -x), pam_isolate(8) lists them, and
 * tests/unit/test_journal.c checks that the catalog and this table name the same ids.
 *
 * Each id was made once with `systemd-id128 new` and is fixed: admins' queries, alerts and
 * the catalog installed on their hosts name them, so an id never changes or moves to another
 * event. A new event gets a new id. */
#pragma once

#include <stddef.h>

/* The login's outcome, logged by pam_isolate.so: one entry per login (the module's line). */
#define EVENT_CONFINED  "dcab18628f9f4e2d97f1604fd0902a2e" /* joined a sandbox the helper made */
#define EVENT_JOINED    "82fb58c8e49e4d68ac56ffb27d042435" /* joined a live one by ticket */
#define EVENT_EXEMPT    "b364348eadf74b6dba7ced9b3a93acbc" /* let in unconfined: exempt */
#define EVENT_IGNORED   "4443de9ce6f1483ca5db547c4568c0d6" /* not a service of the config */
#define EVENT_DENIED    "7716ee1286b54c649d77a6c78c7fb3ec" /* refused */
#define EVENT_FAIL_OPEN "be83406d0b3e4abaa0a0133644c02ca0" /* let in unconfined: setup failed */
/* The session's end, logged by pam_isolate.so at close_session. */
#define EVENT_CLOSED       "4bfdcc042e7e49248a8eff7a0b024e1e"
#define EVENT_CLOSE_FAILED "4880d38385764e4aaef3bb6b39619b1f"
/* An admin's act: isolatectl kill, isolatectl apply. */
#define EVENT_KILLED       "f247dd2d34484f04b9c5c0c37669153b"
#define EVENT_APPLIED      "61c01d8640d24d868f66da830441d8be"
#define EVENT_APPLY_FAILED "5e0d6f044f094622b700e8c016a09cf2"
/* isolate-helper's own record of what it decided for a login it served (any outcome; the
 * module's line above is the login's outcome, so `journalctl MESSAGE_ID=` of an event finds
 * each login once). */
#define EVENT_HELPER_DECISION "2fce813e0f454b6e99985d71c6fb40ec"

/* ISOLATE_OUTCOME -> MESSAGE_ID, for every outcome that has an event of its own; the root
 * rescue (fail-open-root) is a fail-open. */
struct isolate_event {
        const char *outcome;
        const char *message_id;
};

extern const struct isolate_event isolate_events[];
extern const size_t isolate_events_n;

/* The MESSAGE_ID of an outcome, or NULL when it has none. */
const char *event_message_id(const char *outcome);

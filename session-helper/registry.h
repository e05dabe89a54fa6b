/* registry.h: live sessions under <runtime_dir>/sessions/, one root-only file each, written
 * by the helper, removed by the session's init when it ends. isolatectl reads them. */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cgroup.h"
#include "../client/util.h"

struct session_record {
        char id[32];
        char user[256];
        uid_t uid;
        char service[64];
        char rhost[256];
        char tty[64];
        char policy[64];
        pid_t caller_pid;
        pid_t init_pid;      /* in the host's pid namespace */
        uint64_t start_time; /* unix seconds */
        uint64_t init_start; /* the init's start time in clock ticks after boot: with
                                init_pid it names the init (a pid can be reused); 0 in
                                records written before it existed */
        struct cgroup_session cgroup;
};

/* Creates <runtime_dir> and <runtime_dir>/sessions (0700 root) if missing, refusing a
 * directory that is not root-owned or is writable by others. */
int registry_prepare(const char *runtime_dir, struct isolate_error *err);
int registry_write(const char *runtime_dir, const struct session_record *r,
                   struct isolate_error *err);
int registry_remove(const char *runtime_dir, const char *id);
int registry_read(const char *runtime_dir, const char *id, struct session_record *ret);
/* Calls fn for each record; stops when fn returns < 0. */
int registry_foreach(const char *runtime_dir, int (*fn)(const struct session_record *r, void *data),
                     void *data);
/* true when the record's init still runs: the process at init_pid started when the init did
 * (records without init_start: its cmdline is isolate-init ID). */
bool registry_session_alive(const struct session_record *r);

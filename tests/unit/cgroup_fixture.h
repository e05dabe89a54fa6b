/* cgroup_fixture.h: what the cgroup backends' unit tests share: small file helpers for a
 * fake cgroupfs tree and a policy with every cap unset. Included by test_cgroup_*.c only. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../conf/policy.h"

static inline void put(const char *path, const char *text)
{
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        assert_true(fputs(text, fp) >= 0);
        assert_int_equal(fclose(fp), 0);
}

static inline void putf(const char *dir, const char *name, const char *text)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        put(path, text);
}

static inline char *get(const char *dir, const char *name)
{
        static char buf[4096];
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *fp = fopen(path, "re");
        if (!fp)
                return NULL;
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = '\0';
        fclose(fp);
        return buf;
}

static inline bool exists(const char *path)
{
        return access(path, F_OK) == 0;
}

static inline void mkdirs(const char *path)
{
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
        assert_int_equal(system(cmd), 0);
}

static inline void policy_unset(struct policy *p)
{
        memset(p, 0, sizeof(*p));
        p->name = "test";
        p->memory_max = p->memory_high = p->swap_max = LIMIT_UNSET;
        p->pids_max = p->cpu_max_percent = p->cpu_weight = LIMIT_UNSET;
}

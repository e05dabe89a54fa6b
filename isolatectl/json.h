/* json.h: writing JSON values for isolatectl's --json output. */
#pragma once

#include <stdio.h>

#include "../conf/policy.h"

/* A JSON string (null for NULL): escapes, control characters as \u00XX, invalid UTF-8 as
 * U+FFFD. */
void json_str(FILE *f, const char *s);
void json_strv(FILE *f, const struct strv *v);
/* null: not set; "max": no limit; else the number */
void json_limit(FILE *f, uint64_t v);

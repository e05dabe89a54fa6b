/* sd-bus-dl.c: see sd-bus-dl.h. */
#define SD_BUS_DL_NO_MACROS
#include "sd-bus-dl.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static struct sd_bus_dl table;
static int loaded; /* 0: not tried, 1: loaded, -1: failed */
static char load_error[512];

static int load(void)
{
        /* RTLD_NODELETE: the table stays valid for the process's life */
        void *h = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (!h) {
                snprintf(load_error, sizeof(load_error), "cannot load libsystemd.so.0: %s",
                         dlerror());
                return -1;
        }
        static const struct {
                const char *name;
                size_t offset;
        } symbols[] = {
#define SYM(field, name) {name, offsetof(struct sd_bus_dl, field)}
            SYM(open_system, "sd_bus_open_system"),
            SYM(new_bus, "sd_bus_new"),
            SYM(set_address, "sd_bus_set_address"),
            SYM(set_bus_client, "sd_bus_set_bus_client"),
            SYM(start, "sd_bus_start"),
            SYM(unref, "sd_bus_unref"),
            SYM(flush_close_unref, "sd_bus_flush_close_unref"),
            SYM(message_new_method_call, "sd_bus_message_new_method_call"),
            SYM(message_append, "sd_bus_message_append"),
            SYM(message_open_container, "sd_bus_message_open_container"),
            SYM(message_close_container, "sd_bus_message_close_container"),
            SYM(message_unref, "sd_bus_message_unref"),
            SYM(call, "sd_bus_call"),
            SYM(error_free, "sd_bus_error_free"),
#undef SYM
        };
        for (size_t i = 0; i < ELEMENTSOF(symbols); i++) {
                void *f = dlsym(h, symbols[i].name);
                if (!f) {
                        snprintf(load_error, sizeof(load_error), "libsystemd.so.0 lacks %s",
                                 symbols[i].name);
                        return -1;
                }
                memcpy((char *)&table + symbols[i].offset, &f, sizeof(f));
        }
        return 1;
}

const struct sd_bus_dl *sd_bus_dl_get(struct isolate_error *err)
{
        if (loaded == 0)
                loaded = load();
        if (loaded < 0) {
                error_set(err, ENOENT, "%s", load_error);
                return NULL;
        }
        return &table;
}

/* sd-bus-dl.h: libsystemd's sd-bus, loaded with dlopen the first time the systemd backend
 * needs it. A login on a host without systemd then never maps libsystemd and its five
 * dependencies (measured: ~0.6 ms of every exec of the helper). Include after
 * <systemd/sd-bus.h>: the sd_bus_* names used by isolate become calls through the table. */
#pragma once

#include <systemd/sd-bus.h>

#include "../client/util.h"

struct sd_bus_dl {
        int (*open_system)(sd_bus **ret);
        int (*new_bus)(sd_bus **ret);
        int (*set_address)(sd_bus *bus, const char *address);
        int (*set_bus_client)(sd_bus *bus, int b);
        int (*start)(sd_bus *bus);
        sd_bus *(*unref)(sd_bus *bus);
        sd_bus *(*flush_close_unref)(sd_bus *bus);
        int (*message_new_method_call)(sd_bus *bus, sd_bus_message **m, const char *destination,
                                       const char *path, const char *interface, const char *member);
        int (*message_append)(sd_bus_message *m, const char *types, ...);
        int (*message_open_container)(sd_bus_message *m, char type, const char *contents);
        int (*message_close_container)(sd_bus_message *m);
        sd_bus_message *(*message_unref)(sd_bus_message *m);
        int (*call)(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_error *ret_error,
                    sd_bus_message **reply);
        void (*error_free)(sd_bus_error *e);
};

/* The table, loaded on first use: NULL with a message when libsystemd cannot be loaded. */
const struct sd_bus_dl *sd_bus_dl_get(struct isolate_error *err);

#ifndef SD_BUS_DL_NO_MACROS
#define SDB(f)                         (sd_bus_dl_get(NULL)->f)
#define sd_bus_open_system             SDB(open_system)
#define sd_bus_new                     SDB(new_bus)
#define sd_bus_set_address             SDB(set_address)
#define sd_bus_set_bus_client          SDB(set_bus_client)
#define sd_bus_start                   SDB(start)
#define sd_bus_unref                   SDB(unref)
#define sd_bus_flush_close_unref       SDB(flush_close_unref)
#define sd_bus_message_new_method_call SDB(message_new_method_call)
#define sd_bus_message_append          SDB(message_append)
#define sd_bus_message_open_container  SDB(message_open_container)
#define sd_bus_message_close_container SDB(message_close_container)
#define sd_bus_message_unref           SDB(message_unref)
#define sd_bus_call                    SDB(call)
#define sd_bus_error_free              SDB(error_free)
#endif

/* names.c: the words the config uses for each enum value (messages, explain, JSON); the
 * session registry and `isolatectl list` write a session's backend with the same words. */
#include "policy.h"

const char *fail_mode_name(enum fail_mode m)
{
        switch (m) {
        case FAIL_CLOSED:
                return "closed";
        case FAIL_OPEN:
                return "open";
        }
        return "?";
}

const char *cgroup_backend_name(enum cgroup_backend_kind k)
{
        switch (k) {
        case CGROUP_BACKEND_AUTO:
                return "auto";
        case CGROUP_BACKEND_SYSTEMD:
                return "systemd";
        case CGROUP_BACKEND_V2:
                return "v2";
        case CGROUP_BACKEND_V1:
                return "v1";
        }
        return "?";
}

const char *network_mode_name(enum network_mode m)
{
        switch (m) {
        case NETWORK_HOST:
                return "host";
        case NETWORK_NONE:
                return "none";
        }
        return "?";
}

const char *proc_mode_name(enum proc_mode m)
{
        switch (m) {
        case PROC_READ_ONLY:
                return "read-only";
        case PROC_DOCKER:
                return "docker";
        }
        return "?";
}

const char *hidepid_name(enum hidepid_mode m)
{
        switch (m) {
        case HIDEPID_OFF:
                return "off";
        case HIDEPID_NOACCESS:
                return "noaccess";
        case HIDEPID_INVISIBLE:
                return "invisible";
        }
        return "?";
}

const char *seccomp_action_name(enum seccomp_action a)
{
        switch (a) {
        case SECCOMP_ACTION_ERRNO:
                return "errno";
        case SECCOMP_ACTION_KILL:
                return "kill";
        case SECCOMP_ACTION_LOG:
                return "log";
        }
        return "?";
}

const char *seccomp_base_name(enum seccomp_base b)
{
        switch (b) {
        case SECCOMP_BASE_DEFAULT:
                return "default";
        case SECCOMP_BASE_NONE:
                return "none";
        }
        return "?";
}

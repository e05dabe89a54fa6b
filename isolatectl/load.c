/* load.c: what the commands share: their options (list, gc, kill), the config, and the
 * message for a bad option. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "../session-helper/registry.h"

int ctl_load(int argc, char **argv, const char *usage, bool *json, const char **operand,
             struct config **ret)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *config = DEFAULT_CONFIG_PATH;
        int c;
        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 'j':
                        if (!json) {
                                fprintf(stderr, "%s", usage);
                                return 2;
                        }
                        *json = true;
                        break;
                case 'h':
                        printf("%s", usage);
                        return 0;
                default:
                        fprintf(stderr, "%s", usage);
                        return 2;
                }
        }
        if (argc - optind != (operand ? 1 : 0)) {
                fprintf(stderr, "%s", usage);
                return 2;
        }
        if (operand)
                *operand = argv[optind];
        if (ctl_config_load(config, ret) < 0)
                return 1;
        return -1; /* go on */
}

int ctl_config_load(const char *path, struct config **ret)
{
        struct config_errors errs = {0};
        int r = config_load(path, true, ret, &errs);
        if (r < 0)
                for (size_t i = 0; i < errs.n; i++)
                        fprintf(stderr, "%s\n", errs.msgs[i]);
        config_errors_free(&errs);
        return r;
}

void ctl_bad_option(const char *cmd, const char *with_arg, char **argv)
{
        fprintf(stderr, "isolatectl %s: %s '%s'\n", cmd,
                optopt && strchr(with_arg, optopt) ? "missing argument for" : "unknown option",
                argv[optind - 1]);
}

void ctl_registry_error(const char *cmd, const char *runtime_dir, int r)
{
        struct isolate_error err = {0};
        if (r == -EPROTONOSUPPORT) {
                registry_format_error(runtime_dir, &err);
                fprintf(stderr, "isolatectl %s: %s\n", cmd, err.msg);
        } else {
                fprintf(stderr, "isolatectl %s: cannot read %s/sessions: %s\n", cmd, runtime_dir,
                        strerror(-r));
        }
}

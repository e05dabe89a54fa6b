/* run.c: `isolatectl run` (a login without ssh: the same helper, the same join as the
 * PAM module).
 *
 * Exit status of run: the command's (128+N when killed by signal N); 125 when the session
 * was refused or could not be set up; 126/127 when the command cannot be run. */
#include <getopt.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../conf/policy.h"
#include "ctl.h"
#include "../client/join.h"
#include "../session-helper/registry.h"

#define EXIT_REFUSED 125

/* LeakSanitizer's exit-time check stops the world with a helper process that, after the
 * join, is born in the session's pid namespace and cannot see us: it would wait forever.
 * Sanitizer builds check for leaks just before joining instead (and skip the exit check). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define leak_check_before_join() __lsan_do_leak_check()
#else
#define leak_check_before_join() ((void)0)
#endif

static void run_usage(FILE *f)
{
        fprintf(f, "usage: isolatectl run [-c FILE] [--service S] [--rhost ADDR] [--tty TTY] "
                   "[--helper PATH] USER -- COMMAND [ARG...]\n");
}

/* In the child: become the user and run the command, as a login would. */
static _Noreturn void exec_as_user(const struct passwd *pw, char **cmd)
{
        if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
            setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
            setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
                fprintf(stderr, "isolatectl: cannot become %s: %m\n", pw->pw_name);
                _exit(126);
        }
        if (chdir(pw->pw_dir) < 0 && chdir("/") < 0)
                _exit(126);
        const char *term = getenv("TERM"), *lang = getenv("LANG");
        clearenv();
        setenv("HOME", pw->pw_dir, 1);
        setenv("USER", pw->pw_name, 1);
        setenv("LOGNAME", pw->pw_name, 1);
        setenv("SHELL", pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh", 1);
        setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
        if (term)
                setenv("TERM", term, 1);
        if (lang)
                setenv("LANG", lang, 1);
        execvp(cmd[0], cmd);
        int e = errno;
        fprintf(stderr, "isolatectl: %s: %s\n", cmd[0], strerror(e));
        _exit(e == ENOENT ? 127 : 126);
}

static int run_child(const struct passwd *pw, char **cmd)
{
        pid_t child = fork();
        if (child < 0) {
                fprintf(stderr, "isolatectl: fork: %m\n");
                return EXIT_REFUSED;
        }
        if (child == 0) {
                signal(SIGINT, SIG_DFL);
                signal(SIGQUIT, SIG_DFL);
                exec_as_user(pw, cmd);
        }
        int status;
        while (waitpid(child, &status, 0) < 0)
                if (errno != EINTR)
                        return EXIT_REFUSED;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int cmd_run(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"service", required_argument, NULL, 's'},
            {"rhost", required_argument, NULL, 'r'},
            {"tty", required_argument, NULL, 't'},
            {"helper", required_argument, NULL, 'H'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *config = DEFAULT_CONFIG_PATH, *helper = HELPER_PATH;
        struct open_request req = {0};
        snprintf(req.service, sizeof(req.service), "sshd");
        int c;
        while ((c = getopt_long(argc, argv, "+c:s:r:t:H:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 's':
                        snprintf(req.service, sizeof(req.service), "%s", optarg);
                        break;
                case 'r':
                        snprintf(req.rhost, sizeof(req.rhost), "%s", optarg);
                        break;
                case 't':
                        snprintf(req.tty, sizeof(req.tty), "%s", optarg);
                        break;
                case 'H':
                        helper = optarg;
                        break;
                case 'h':
                        run_usage(stdout);
                        return 0;
                default:
                        run_usage(stderr);
                        return 2;
                }
        }
        /* the helper starts in / (it resets the invoker's cwd): hand it an absolute path, so
         * that `-c conf/isolate.conf` in a checkout means what it says, as for check */
        char config_abs[PATH_MAX];
        if (config[0] != '/') {
                char cwd[PATH_MAX];
                if (!getcwd(cwd, sizeof(cwd)) ||
                    (size_t)snprintf(config_abs, sizeof(config_abs), "%s/%s", cwd, config) >=
                        sizeof(config_abs)) {
                        fprintf(stderr, "isolatectl run: cannot make %s an absolute path\n",
                                config);
                        return 2;
                }
                config = config_abs;
        }
        if (optind >= argc) {
                run_usage(stderr);
                return 2;
        }
        const char *user = argv[optind++];
        if (optind < argc && STREQ(argv[optind], "--"))
                optind++;
        if (optind >= argc) {
                run_usage(stderr);
                return 2;
        }
        char **cmd = argv + optind;
        if (geteuid() != 0) {
                fprintf(stderr, "isolatectl run: must run as root\n");
                return EXIT_REFUSED;
        }
        if (strlen(user) >= sizeof(req.user)) {
                fprintf(stderr, "isolatectl run: user name too long\n");
                return EXIT_REFUSED;
        }
        snprintf(req.user, sizeof(req.user), "%s", user);
        req.caller_pid = getpid();
        struct passwd *pw = getpwnam(user);
        if (!pw) {
                fprintf(stderr, "isolatectl run: %s: no such user\n", user);
                return EXIT_REFUSED;
        }

        struct open_reply rep;
        struct isolate_error err = {0};
        bool hello = false;
        int r = session_open(helper, config, &req, DEFAULT_HELPER_TIMEOUT_MS + 2000, false, &rep,
                             &hello, &err);
        if (r < 0) {
                fprintf(stderr, "isolatectl run: session refused: %s\n", err.msg);
                return EXIT_REFUSED;
        }
        switch (rep.status) {
        case REPLY_IGNORE:
                fprintf(stderr,
                        "isolatectl run: service %s is not in the config's services: a login "
                        "would pass unconfined; running unconfined\n",
                        req.service);
                return run_child(pw, cmd);
        case REPLY_EXEMPT:
                fprintf(stderr, "isolatectl run: %s is exempt (%s); running unconfined\n", user,
                        rep.message);
                return run_child(pw, cmd);
        case REPLY_DENY:
                if (rep.fail_open) {
                        fprintf(stderr,
                                "isolatectl run: setup failed (%s); fail = open: running "
                                "unconfined\n",
                                rep.message);
                        return run_child(pw, cmd);
                }
                fprintf(stderr, "isolatectl run: session refused: %s\n", rep.message);
                return EXIT_REFUSED;
        default:
                break;
        }
        if (rep.warnings[0])
                fprintf(stderr, "isolatectl run: warning: %s\n", rep.warnings);
        leak_check_before_join();
        r = session_join(&rep.join, &err);
        if (r < 0) {
                fprintf(stderr, "isolatectl run: cannot join session %s: %s\n", rep.session_id,
                        err.msg);
                return EXIT_REFUSED;
        }
        /* like system(3): the terminal's signals are for the command */
        signal(SIGINT, SIG_IGN);
        signal(SIGQUIT, SIG_IGN);
        int status = run_child(pw, cmd);
        r = session_close(rep.join.control_fd, 10000, &err);
        if (r < 0)
                fprintf(stderr, "isolatectl run: closing session %s: %s\n", rep.session_id,
                        err.msg);
        join_spec_free(&rep.join);
        return status;
}

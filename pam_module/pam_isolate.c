/* pam_isolate.so: puts the PAM caller (sshd's monitor, su, login) into the sandbox that
 * isolate-helper builds for this login, so that everything it forks for the user is
 * confined.
 *
 *   session required pam_isolate.so [config=/etc/isolate.conf] [helper=PATH] [debug]
 *
 * Thin on purpose (DESIGN.md): policy, config parsing and BPF compilation happen in the
 * helper; this asks for a sandbox (client.c), joins it (join.c) and keeps the session's
 * control socket for close_session. Session type only; it belongs last in the session
 * stack (README, `isolatectl check`). Links libpam and libc only. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "../conf/lexer.h"
#include "../conf/policy.h"
#include "../client/events.h"
#include "../client/join.h"
#include "../client/journal.h"

#define PUBLIC __attribute__((visibility("default")))

#define DATA_NAME        "isolate_session"
#define CLOSE_TIMEOUT_MS 5000

struct module_args {
        const char *config;
        const char *helper;
        bool debug;
};

/* What close_session needs, kept with pam_set_data. Only the control socket: the init's
 * pidfd served the setns and is closed right after it, because every process the caller
 * forks without exec inherits what we keep (sshd's post-auth child runs as the user). */
struct isolate_session {
        int control_fd; /* to the session init: MSG_CLOSE */
        char session_id[32];
        char policy[64];
};

static void session_data_free(pam_handle_t *pamh, void *data, int error_status)
{
        /* Called by pam_end in the caller and in any forked child that calls it (with
         * PAM_DATA_SILENT): only close our copies, never ask the init to do anything here. */
        struct isolate_session *s = data;
        closep(&s->control_fd);
        free(s);
}

/* Copies s into a log-safe form: control characters become '?', at most len-1 bytes. PAM
 * items come from remote peers (rhost) and from users (the name typed at login:). */
static const char *log_safe(const char *s, char *buf, size_t len)
{
        if (!s || !*s)
                return "-";
        size_t i = 0;
        for (; s[i] && i + 1 < len; i++)
                buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
        buf[i] = '\0';
        return buf;
}

static int args_parse(pam_handle_t *pamh, int argc, const char **argv, struct module_args *ret)
{
        *ret = (struct module_args){.config = DEFAULT_CONFIG_PATH, .helper = HELPER_PATH};
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                if (!a)
                        continue;
                if (strncmp(a, "config=", 7) == 0)
                        ret->config = a + 7;
                else if (strncmp(a, "helper=", 7) == 0)
                        ret->helper = a + 7;
                else if (STREQ(a, "debug"))
                        ret->debug = true;
                else /* Linux-PAM convention: log an unknown option and go on */
                        pam_syslog(pamh, LOG_ERR, "unknown option ignored: %.64s", a);
        }
        /* A relative path would be resolved against whatever the caller's cwd is. */
        if (ret->config[0] != '/' || ret->helper[0] != '/') {
                pam_syslog(pamh, LOG_ERR,
                           "config= and helper= need absolute paths (config=%.256s "
                           "helper=%.256s)",
                           ret->config, ret->helper);
                return -EINVAL;
        }
        return 0;
}

/* PAM item as a string, or "" when unset. */
static const char *item_string(pam_handle_t *pamh, int type)
{
        const void *v = NULL;
        if (pam_get_item(pamh, type, &v) != PAM_SUCCESS || !v)
                return "";
        return v;
}

/* Copies src into dst (size n); false when it does not fit: a cut user or service name
 * would name someone or something else, so such a login is refused, never truncated. */
static bool copy_exact(char *dst, size_t n, const char *src)
{
        size_t len = strnlen(src, n);
        if (len >= n)
                return false;
        memcpy(dst, src, len + 1);
        return true;
}

static int request_fill(pam_handle_t *pamh, struct open_request *req, const char **why)
{
        memset(req, 0, sizeof(*req));
        const char *user = item_string(pamh, PAM_USER);
        const char *service = item_string(pamh, PAM_SERVICE);
        if (!*user || !*service) {
                *why = !*user ? "no user name (PAM_USER unset)" : "no service name";
                return -EINVAL;
        }
        if (!copy_exact(req->user, sizeof(req->user), user)) {
                *why = "user name too long";
                return -ENAMETOOLONG;
        }
        if (!copy_exact(req->service, sizeof(req->service), service)) {
                *why = "service name too long";
                return -ENAMETOOLONG;
        }
        /* rhost decides policy (match rules by network): cutting it could change the match */
        if (!copy_exact(req->rhost, sizeof(req->rhost), item_string(pamh, PAM_RHOST))) {
                *why = "remote host name too long";
                return -ENAMETOOLONG;
        }
        /* the tty is only recorded: a cut one is good enough */
        snprintf(req->tty, sizeof(req->tty), "%s", item_string(pamh, PAM_TTY));
        req->caller_pid = (int32_t)getpid();
        return 0;
}

static bool user_is_root(const char *user)
{
        struct passwd pw, *res = NULL;
        char buf[4096];
        return user && *user && getpwnam_r(user, &pw, buf, sizeof(buf), &res) == 0 && res &&
               res->pw_uid == 0;
}

/* The helper could not tell us the config's fail mode: it is missing, not executable, or
 * died (or hung) before it had loaded the config. An admin who wrote `fail = open` chose
 * availability over confinement for exactly this kind of breakage, so it is honoured, but
 * only when there is no doubt: a regular, root-owned file not writable by group or others
 * and no larger than the helper takes (what the helper itself demands), read by the config's
 * own lexer (conf/lexer.c) as exactly one top-level `fail = open`. The helper refuses every
 * config on which libconfuse reads `fail` differently, so on a config the helper accepts this
 * decides as the helper would. On an invalid config it may still read open, which is what
 * its author asked for; the helper, when it runs, denies every non-root login on it. */
static bool config_says_fail_open(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
            (st.st_mode & 022) || st.st_size > CONFIG_MAX_BYTES)
                return false;
        _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return false;
        ssize_t n = read(fd, buf, (size_t)st.st_size);
        if (n != st.st_size || memchr(buf, '\0', (size_t)n))
                return false;
        return lexer_fail_mode(buf, (size_t)n, NULL) == FAIL_OPEN;
}

/* When the fail mode is unknown (no HELLO from the helper): fail = open by the config scan
 * above, and root always let through, unconfined and logged at LOG_CRIT. An unusable
 * isolate must not lock the admin out of the host they would repair it on; DESIGN.md makes
 * the same call for an invalid config ("denies every non-root login"), and root keeps the
 * host's full power inside a sandbox anyway (the monitor stays root). */
enum unknown_mode_verdict { VERDICT_DENY, VERDICT_OPEN, VERDICT_ROOT };

static enum unknown_mode_verdict unknown_mode_verdict(const struct module_args *args,
                                                      const char *user, bool config_known_bad)
{
        if (user_is_root(user))
                return VERDICT_ROOT;
        if (!config_known_bad && config_says_fail_open(args->config))
                return VERDICT_OPEN;
        return VERDICT_DENY;
}

/* The caller's name as its own syslog lines carry it (sshd, su, login): the kernel's comm,
 * which, unlike argv[0], sshd's setproctitle does not rewrite. */
static void caller_name(char *buf, size_t len)
{
        char comm[17] = "";
        if (prctl(PR_GET_NAME, comm, 0, 0, 0) < 0 || !comm[0])
                snprintf(comm, sizeof(comm), "pam_isolate");
        snprintf(buf, len, "%s", comm);
}

/* One entry: to the journal with MESSAGE_ID and the ISOLATE_* fields, else (no journald, or
 * it did not take the entry) the same line through pam_syslog. Never both. The caller's
 * PAM service prefixes the message as pam_syslog's would, so the line reads the same in the
 * journal and in auth.log whichever way it went. */
static void event_log(pam_handle_t *pamh, int prio, const struct journal_event *fields,
                      const char *line)
{
        char ident[32], message[3072];
        caller_name(ident, sizeof(ident));
        snprintf(message, sizeof(message), "pam_isolate(%s:session): %s", fields->service, line);
        struct journal_event e = *fields;
        e.message_id = event_message_id(fields->outcome);
        e.message = message;
        e.identifier = ident;
        e.priority = prio;
        if (journal_send_event(&e) == 0)
                return;
        pam_syslog(pamh, prio, "%s", line);
}

/* One line per decision: user, service, rhost, policy, session id, outcome, time. */
static void decision_log(pam_handle_t *pamh, int prio, const struct open_request *req,
                         const struct open_reply *rep, const char *outcome, uint64_t t0,
                         const char *reason)
{
        /* PAM items come from remote peers and users: control characters never reach a
         * field or the line; the line cuts user, service and rhost as it always has */
        char ub[sizeof(req->user)], sb[sizeof(req->service)], hb[sizeof(req->rhost)],
            tb[sizeof(req->tty)], rb[1200], line[3000];
        uint64_t us = (now_ns() - t0) / 1000;
        struct journal_event e = {
            .user = log_safe(req->user, ub, sizeof(ub)),
            .service = log_safe(req->service, sb, sizeof(sb)),
            .rhost = log_safe(req->rhost, hb, sizeof(hb)),
            .tty = log_safe(req->tty, tb, sizeof(tb)),
            .policy = rep && rep->policy[0] ? rep->policy : "-",
            .session_id = rep && rep->session_id[0] ? rep->session_id : "-",
            .outcome = outcome,
            .reason = log_safe(reason, rb, sizeof(rb)),
            .duration_us = us,
        };
        snprintf(line, sizeof(line),
                 "user=%.79s service=%.79s rhost=%.79s policy=%s session=%s outcome=%s "
                 "setup_ms=%.1f: %.599s",
                 e.user, e.service, e.rhost, e.policy, e.session_id, outcome, (double)us / 1000.0,
                 e.reason);
        event_log(pamh, prio, &e, line);
}

/* The session's end: closed, or close-failed. */
static void close_log(pam_handle_t *pamh, int prio, const struct isolate_session *sess,
                      const char *outcome, uint64_t t0, const char *reason)
{
        char ub[256], sb[64], hb[256], tb[64], rb[1200], line[2000];
        uint64_t us = (now_ns() - t0) / 1000;
        struct journal_event e = {
            .user = log_safe(item_string(pamh, PAM_USER), ub, sizeof(ub)),
            .service = log_safe(item_string(pamh, PAM_SERVICE), sb, sizeof(sb)),
            .rhost = log_safe(item_string(pamh, PAM_RHOST), hb, sizeof(hb)),
            .tty = log_safe(item_string(pamh, PAM_TTY), tb, sizeof(tb)),
            .policy = sess->policy[0] ? sess->policy : "-",
            .session_id = sess->session_id[0] ? sess->session_id : "-",
            .outcome = outcome,
            .reason = log_safe(reason, rb, sizeof(rb)),
            .duration_us = us,
        };
        snprintf(line, sizeof(line), "user=%.79s policy=%s session=%s outcome=%s close_ms=%.1f: %s",
                 e.user, e.policy, e.session_id, outcome, (double)us / 1000.0, e.reason);
        event_log(pamh, prio, &e, line);
}

/* The setup failed before anything irreversible happened to us: deny, or let the login
 * through unconfined when the fail mode says open. fail_open is the helper's word for this
 * failure (a fault of the host) when it sent one; mode_known says it sent HELLO. */
static int setup_failed(pam_handle_t *pamh, const struct module_args *args,
                        const struct open_request *req, const struct open_reply *rep,
                        bool mode_known, bool fail_open, bool config_known_bad, uint64_t t0,
                        const char *what)
{
        char reason[1200];
        enum unknown_mode_verdict v = VERDICT_DENY;
        if (mode_known) {
                snprintf(reason, sizeof(reason), "%s", what);
        } else {
                v = unknown_mode_verdict(args, req->user, config_known_bad);
                fail_open = v == VERDICT_OPEN;
                snprintf(reason, sizeof(reason), "%s%s", what,
                         fail_open ? " (fail = open in the config)" : "");
        }
        /* su runs PAM with the invoking user's real uid, limits and signals: that user can
         * make the setup fail on purpose (a low RLIMIT_NOFILE, a signal to the helper), so
         * neither fail = open nor the root rescue below may hand them an unconfined shell,
         * whoever the target user is. Checked first: they apply only where the caller is
         * root through and through (sshd, login). */
        if ((fail_open || v == VERDICT_ROOT) && getuid() != 0) {
                size_t n = strlen(reason);
                snprintf(reason + n, sizeof(reason) - n,
                         "; %s does not apply: the caller runs with the invoking user's real "
                         "uid %u, who could have caused the failure",
                         v == VERDICT_ROOT ? "letting root in unconfined" : "fail = open",
                         (unsigned)getuid());
                decision_log(pamh, LOG_ERR, req, rep, "denied", t0, reason);
                return PAM_SESSION_ERR;
        }
        if (v == VERDICT_ROOT) {
                size_t n = strlen(reason);
                snprintf(reason + n, sizeof(reason) - n,
                         "; root is let in unconfined so that isolate can be repaired");
                decision_log(pamh, LOG_CRIT, req, rep, "fail-open-root", t0, reason);
                return PAM_SUCCESS;
        }
        if (fail_open) {
                decision_log(pamh, LOG_WARNING, req, rep, "fail-open", t0, reason);
                return PAM_SUCCESS;
        }
        decision_log(pamh, LOG_ERR, req, rep, "denied", t0, reason);
        return PAM_SESSION_ERR;
}

static void debug_join(pam_handle_t *pamh, const struct open_reply *rep)
{
        const struct join_spec *j = &rep->join;
        pam_syslog(pamh, LOG_DEBUG,
                   "joining session %s: ns_flags=0x%x caps_keep=0x%llx no_new_privs=%d "
                   "seccomp=%u insns flags=0x%x landlock=%u paths lsm=%s",
                   rep->session_id, (unsigned)j->ns_flags, (unsigned long long)j->caps_keep,
                   (int)j->no_new_privs, (unsigned)j->bpf_len, (unsigned)j->seccomp_flags,
                   (unsigned)j->n_landlock, j->lsm_attr_path[0] ? j->lsm_attr_value : "-");
}

PUBLIC int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
        uint64_t t0 = now_ns();
        struct open_request req;
        struct module_args args;
        const char *why = NULL;
        memset(&req, 0, sizeof(req));

        int r = request_fill(pamh, &req, &why);
        if (r < 0) {
                decision_log(pamh, LOG_ERR, &req, NULL, "denied", t0, why);
                return PAM_SESSION_ERR;
        }
        if (args_parse(pamh, argc, argv, &args) < 0) {
                struct module_args fallback = {.config = DEFAULT_CONFIG_PATH};
                return setup_failed(pamh, &fallback, &req, NULL, false, false, true, t0,
                                    "bad module arguments");
        }
        const void *old = NULL;
        if (pam_get_data(pamh, DATA_NAME, &old) == PAM_SUCCESS && old) {
                decision_log(pamh, LOG_ERR, &req, NULL, "denied", t0,
                             "this PAM handle has joined a session already");
                return PAM_SESSION_ERR;
        }
        if (args.debug)
                pam_syslog(pamh, LOG_DEBUG, "open: helper=%s config=%s tty=%s", args.helper,
                           args.config, req.tty[0] ? req.tty : "-");

        /* big (about 4 KiB plus the join spec's heap parts): off the caller's stack */
        _cleanup_free_ struct open_reply *rep = calloc(1, sizeof(*rep));
        if (!rep) {
                decision_log(pamh, LOG_ERR, &req, NULL, "denied", t0, "out of memory");
                return PAM_BUF_ERR;
        }
        struct isolate_error err = {0};
        bool hello = false;
        r = session_open(args.helper, args.config, &req, DEFAULT_HELPER_TIMEOUT_MS, !args.debug,
                         rep, &hello, &err);
        if (r < 0) {
                /* After HELLO the helper died or hung mid-setup: the cause is unknown (a
                 * $HOME that hangs, a full memory cap), so fail = open does not apply. */
                char what[1200];
                snprintf(what, sizeof(what), "%s%s", err.msg,
                         hello && rep->fail_open
                             ? " (fail = open does not apply: the helper stopped after "
                               "loading the config, so the cause is unknown)"
                             : "");
                int ret = setup_failed(pamh, &args, &req, rep, hello, false, false, t0, what);
                join_spec_free(&rep->join);
                return ret;
        }
        if (rep->warnings[0])
                pam_syslog(pamh, LOG_WARNING, "session %s: %s",
                           rep->session_id[0] ? rep->session_id : "-", rep->warnings);

        switch (rep->status) {
        case REPLY_IGNORE:
                if (args.debug)
                        decision_log(pamh, LOG_DEBUG, &req, rep, "ignored", t0, rep->message);
                join_spec_free(&rep->join);
                return PAM_IGNORE;
        case REPLY_EXEMPT:
                decision_log(pamh, LOG_INFO, &req, rep, "exempt", t0, rep->message);
                join_spec_free(&rep->join);
                return PAM_SUCCESS;
        case REPLY_DENY: {
                /* no HELLO before a DENY: the helper refused the config itself (invalid,
                 * unreadable, unsafe) or the request; that is never fail-open for non-root */
                char what[1100];
                snprintf(what, sizeof(what), "%s",
                         rep->message[0] ? rep->message : "the helper refused without saying why");
                join_spec_free(&rep->join);
                return setup_failed(pamh, &args, &req, rep, hello, hello && rep->fail_open, true,
                                    t0, what);
        }
        case REPLY_OK:
                break;
        default: {
                char what[64];
                snprintf(what, sizeof(what), "unknown answer %u from the helper", rep->status);
                join_spec_free(&rep->join);
                return setup_failed(pamh, &args, &req, rep, true, false, true, t0, what);
        }
        }

        _cleanup_free_ struct isolate_session *s = calloc(1, sizeof(*s));
        if (!s) {
                join_spec_free(&rep->join);
                return setup_failed(pamh, &args, &req, rep, hello, hello && rep->fail_open, true,
                                    t0, "out of memory");
        }
        if (args.debug)
                debug_join(pamh, rep);

        r = session_join(&rep->join, &err);
        s->control_fd = TAKE_FD(rep->join.control_fd);
        snprintf(s->session_id, sizeof(s->session_id), "%s", rep->session_id);
        snprintf(s->policy, sizeof(s->policy), "%s", rep->policy);
        join_spec_free(&rep->join);
        if (r < 0) {
                /* possibly half-joined (namespaces entered, filter not loaded): whatever the
                 * fail mode, this process must not serve the login. The init ends the session
                 * when we exit. */
                char what[1100];
                snprintf(what, sizeof(what), "cannot join the session: %s", err.msg);
                decision_log(pamh, LOG_ERR, &req, rep, "denied", t0, what);
                session_data_free(pamh, TAKE_PTR(s), 0);
                return PAM_SESSION_ERR;
        }
        r = pam_set_data(pamh, DATA_NAME, s, session_data_free);
        if (r != PAM_SUCCESS) {
                decision_log(pamh, LOG_ERR, &req, rep, "denied", t0,
                             "joined, but cannot keep the session for close (pam_set_data)");
                session_data_free(pamh, TAKE_PTR(s), 0);
                return PAM_SESSION_ERR;
        }
        TAKE_PTR(s);
        if (rep->from_ticket) {
                char reason[1100];
                snprintf(reason, sizeof(reason),
                         "%s (by ticket: the sandbox's init answered, no helper ran)",
                         rep->message);
                decision_log(pamh, LOG_INFO, &req, rep, "joined", t0, reason);
        } else {
                decision_log(pamh, LOG_INFO, &req, rep, "confined", t0, rep->message);
        }
        return PAM_SUCCESS;
}

PUBLIC int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
        uint64_t t0 = now_ns();
        struct module_args args;
        bool debug = args_parse(pamh, argc, argv, &args) >= 0 && args.debug;
        const void *data = NULL;
        if (pam_get_data(pamh, DATA_NAME, &data) != PAM_SUCCESS || !data) {
                if (debug)
                        pam_syslog(pamh, LOG_DEBUG,
                                   "close: no session of ours (ignored, exempt "
                                   "or let through)");
                return PAM_IGNORE;
        }
        struct isolate_session *s = (struct isolate_session *)data;
        if (s->control_fd < 0) {
                close_log(pamh, LOG_ERR, s, "close-failed", t0,
                          "closed already: close_session ran before on this PAM handle");
                return PAM_SESSION_ERR;
        }
        struct isolate_error err = {0};
        int r = session_close(s->control_fd, CLOSE_TIMEOUT_MS, &err);
        /* The init stays up until we exit (later modules may still fork into the session);
         * our end of the control socket is of no further use. */
        closep(&s->control_fd);
        s->control_fd = -1;
        if (r < 0) {
                close_log(pamh, LOG_ERR, s, "close-failed", t0, err.msg);
                return PAM_SESSION_ERR;
        }
        char ended[64];
        snprintf(ended, sizeof(ended), "%d process%s ended", r, r == 1 ? "" : "es");
        close_log(pamh, LOG_INFO, s, "closed", t0, ended);
        return PAM_SUCCESS;
}

/* A session-only module. setcred is run over the auth stack, where we do nothing: ignore.
 * The other groups must never let anything through by mistake: a misplaced pam_isolate in
 * auth, account or password is an error, logged so that it gets fixed. */
PUBLIC int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
        return PAM_IGNORE;
}

static int not_a_session(pam_handle_t *pamh, const char *group)
{
        pam_syslog(pamh, LOG_ERR,
                   "pam_isolate.so is a session module; remove it from the %s "
                   "stack",
                   group);
        return PAM_SERVICE_ERR;
}

PUBLIC int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
        return not_a_session(pamh, "auth");
}

PUBLIC int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
        return not_a_session(pamh, "account");
}

PUBLIC int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
        return not_a_session(pamh, "password");
}

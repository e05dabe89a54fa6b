/* denials.h: the kernel's seccomp audit records (type=1326), read back from where the host
 * keeps them, tied to the isolate login they came from and explained against the config.
 * isolatectl why prints them.
 *
 * Where the records are: the kernel hands each audit record to auditd when one is
 * registered (then /var/log/audit/audit.log), else prints it to the kernel log (kmsg,
 * rate-limited by printk_ratelimit: bursts of more than about ten in five seconds are lost),
 * which journald, when it runs, copies into the journal. So kmsg and audit.log between them
 * hold every record the kernel kept; the journal holds what kmsg lost to its ring size. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../conf/policy.h"
#include "../session-helper/registry.h"

/* Which audit record: seccomp's, or an LSM's (Landlock, AppArmor, SELinux), or the syscall record
 * (1300) the kernel adds to an LSM record's event when audit is enabled, which carries the
 * audit session and login uid the LSM record lacks. */
enum audit_kind {
        AUDIT_KIND_SECCOMP,         /* 1326 */
        AUDIT_KIND_LANDLOCK_ACCESS, /* 1423: domain=, blockers=, path= ... */
        AUDIT_KIND_LANDLOCK_DOMAIN, /* 1424: domain=, status=allocated pid= uid= exe= comm= */
        AUDIT_KIND_APPARMOR,        /* 1400 apparmor="DENIED" or "ALLOWED" (complain mode) */
        AUDIT_KIND_SELINUX,         /* 1400 "avc:  denied  { read } for ... tclass=file" */
        AUDIT_KIND_SYSCALL,         /* 1300 */
};

struct seccomp_record {
        enum audit_kind kind;
        uint64_t time_ms; /* unix time in ms, from audit(SECONDS.MS:SERIAL) */
        uint64_t serial;
        uint32_t auid, uid, gid, ses; /* 4294967295: unset */
        pid_t pid;                    /* in the host's pid namespace */
        char comm[64];
        char exe[512];
        long sig;
        uint32_t arch; /* AUDIT_ARCH_*, which libseccomp's arch tokens are */
        long syscall;
        bool compat;
        uint32_t code; /* SECCOMP_RET_*: the action and its data */
        /* Landlock, AppArmor and SELinux; identity fields above unset (4294967295, pid 0)
         * until joined with the event's syscall record or the domain's 1424 record */
        uint64_t domain;    /* Landlock domain id */
        bool allowed;       /* AppArmor complain mode, SELinux permissive=1: logged, not
                               refused */
        bool deallocated;   /* 1424 status=deallocated: no pid/uid */
        char denied[256];   /* Landlock blockers= ("fs.write_file,fs.make_reg"); AppArmor
                               operation= ("open"); SELinux the permissions ("read write") */
        char mask[64];      /* AppArmor denied_mask= ("w") */
        char object[512];   /* Landlock path= (or the other end: opid=, daddr=); AppArmor name=;
                               SELinux path= or name= (the last component alone) */
        char dev[64];       /* Landlock and SELinux dev= of the object ("vda"); "" absent */
        uint64_t ino;       /* and its ino=; 0 absent */
        char profile[256];  /* AppArmor profile= */
        char aa_class[32];  /* AppArmor class= ("file", "net", "cap"): absent on old kernels */
        char scontext[256]; /* SELinux scontext=: the process's context */
        char tcontext[256]; /* SELinux tcontext=: the object's */
        char tclass[64];    /* SELinux tclass= ("file", "capability", "tcp_socket") */
        bool auditd_form;   /* written by auditd ("type=AVC msg=audit(..."), not the kernel's
                               log ("type=1400 audit(...") */
        int exit_errno;     /* the syscall record's exit= when the call failed (13: EACCES);
                               0: it did not, or no syscall record */
};

/* One audit record's text, the kernel's form ("audit: type=1326 audit(T.MS:SERIAL): auid=..
 * code=0x..") or auditd's ("type=SECCOMP msg=audit(T.MS:SERIAL): auid=.. code=0x.." with or
 * without its enriched part after 0x1d). 0; -ENOMSG: not a seccomp record (another type, not
 * audit at all); -EBADMSG: a seccomp record with a field missing or malformed (truncated). */
int seccomp_record_parse(const char *text, struct seccomp_record *ret);
/* Any record why reads: seccomp (1326), Landlock (1423, 1424), AppArmor (1400, apparmor=
 * "DENIED" or "ALLOWED"; other apparmor= values -ENOMSG), SELinux (1400 starting "avc:",
 * "denied"; "granted", auditallow's, -ENOMSG), syscall (1300), kind set. Returns as
 * seccomp_record_parse. */
int audit_record_parse(const char *text, struct seccomp_record *ret);
/* kmsg_record_parse for any record audit_record_parse takes. */
int kmsg_audit_parse(const char *rec, size_t len, struct seccomp_record *ret);
/* One /dev/kmsg record, "PRIO,SEQ,USEC,FLAGS;MESSAGE" (continuation lines after it ignored).
 * Only records of the kernel itself (facility 0) are taken: what root writes to /dev/kmsg
 * always carries a user-space facility. Returns as seccomp_record_parse. */
int kmsg_record_parse(const char *rec, size_t len, struct seccomp_record *ret);

/* "errno", "errno EPERM" (when the value carries it), "kill-process", "log (allowed)", ... */
void seccomp_code_name(uint32_t code, char *buf, size_t len);

/* Every entry of <runtime_dir>/logins (registry_logins_foreach), oldest first, into *ret
 * (the caller frees it) and *n; a negative errno when the log cannot be read. */
int denials_logins_read(const char *runtime_dir, struct login_entry **ret, size_t *n);

/* The login a record came from, among n logins (oldest first): by the audit session when
 * the record has one (pam_loginuid ran before pam_isolate) and the log has it; a session the
 * log lacks may be a later login that joined a user-scope sandbox by ticket: the latest
 * user-scope login of its login uid (auid) before it. Without an audit session: by the
 * record's uid, the user's latest login before it (for seccomp, one without an audit session
 * too; an LSM record lacks one whatever the login had). NULL: none of isolate's logins
 * (*ret_by_session unset). */
const struct login_entry *denial_login(const struct seccomp_record *r,
                                       const struct login_entry *logins, size_t n,
                                       bool *ret_by_session);

/* The record explained against policy p of the config in config_file. */
struct denial_explanation {
        char syscall[64];     /* "migrate_pages"; "#NNN" when libseccomp does not know it */
        char group[64];       /* "@numa": the config's group it belongs to; "" in none */
        char decided_by[768]; /* the config line that decided it, or what in the filter did */
        char fix[1024];       /* the line(s) to paste into the policy's block; "" when no
                                 config change allows it */
        char warning[512];    /* a named risk of the fix, when it lifts a deliberate denial */
        bool expected;        /* by design, not a refusal to fix (clone3 -> ENOSYS) */
        char errno_name[16];  /* what the filter returns for it under errno: the kernel's
                                 record has the action, not the errno */
        char fix_where[300];  /* where fix goes: "" the policy's block */
};
void denial_explain(const struct seccomp_record *r, const struct policy *p, const char *config_file,
                    struct denial_explanation *ret);
/* A Landlock (1423), AppArmor or SELinux (1400) record explained: syscall gets what was
 * denied ("fs.write_file on /tmp/x", "file { read }"), group the LSM, decided_by the policy's
 * landlock_* or apparmor_profile line, fix the line to paste: for Landlock into the policy,
 * for AppArmor a rule for the profile (fix_where says where it goes). SELinux's refusals are
 * the loaded SELinux policy's: decided_by says so and names the policy's selinux_context
 * line, fix has the commands (audit2why, audit2allow) that explain and allow it. */
void lsm_denial_explain(const struct seccomp_record *r, const struct policy *p,
                        const char *config_file, struct denial_explanation *ret);

/* What suggest shares with why. */
struct syscall_group;
/* Whether a config entry (a name or an @group) covers name. */
bool syscall_spec_covers(const char *spec, const char *name);
/* The first group of the config that has name, preferring one of the default's; NULL: none. */
const struct syscall_group *syscall_group_of(const char *name);
/* The risk of allowing a group the shipped default denies on purpose; NULL: not one. */
const char *syscall_deliberate_risk(const char *group);
/* Whether the policy's list (the default's groups and syscalls_allow, before syscalls_deny)
 * has name. */
bool policy_allows_name(const struct policy *p, const char *name);

/* Reads the records of the host's sources into fn, oldest first per source, each record once
 * (the journal's copy of a kmsg record is the same record): /dev/kmsg, the journal's kernel
 * messages of this boot when journald runs (journalctl -k), /var/log/audit/audit.log
 * (audit_log: another path; NULL: that one). sources gets the names of the sources read,
 * "; "-separated, and missing what could not be read and why. Returns the number of records
 * read, or -errno when fn failed. */
int denials_read(const char *audit_log, int (*fn)(const struct seccomp_record *r, void *data),
                 void *data, char *sources, size_t sources_len, char *missing, size_t missing_len);

/* --since TIME: unix seconds, "YYYY-MM-DD HH:MM[:SS]" (local), or an age (30s, 10m, 2h, 1d),
 * as unix ms. -EINVAL for anything else. (why.c) */
int why_since_parse(const char *s, uint64_t *ret_ms);

/* The config text with policy p's syscalls_allow and syscalls_deny changed so that every name
 * in needed is allowed: deny entries naming one dropped, a group that has one replaced by its
 * other members, and the names the list lacks added, as a group where every member of a group
 * outside the default was used. Other lines stay as they are; a key the block lacks goes after
 * its opening line. ret_warnings gets one line per added item that lifts a deliberate denial,
 * naming the risk. -ENOENT: no block at p->line; -ENOTSUP: the block is on one line; -EBADMSG:
 * its braces do not close. (suggest.c) */
int suggest_config_text(const char *text, const struct policy *p, const struct strv *needed,
                        char **ret_text, struct strv *ret_warnings);
/* A unified diff from old_text to new_text: one hunk, three lines of context. Nothing when the
 * texts are the same. */
void text_diff(FILE *out, const char *old_name, const char *old_text, const char *new_name,
               const char *new_text);

/* test_lsm.c: what lsm_plan() decides, against fake sysfs/procfs trees (this kernel has
 * neither AppArmor nor SELinux; the real test of those is in the VM), and the Landlock plan
 * against this kernel's real Landlock. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "skip_because.h"

#include "../../client/landlock.h"
#include "../../session-helper/lsm.h"

static char root[64];
static char sys_dir[128], proc_dir[128];

static void write_file(const char *dir, const char *rel, const char *content)
{
        char path[512], cmd[1200];
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
        assert_int_equal(system(cmd), 0);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static void make_dir(const char *dir, const char *rel)
{
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", dir, rel);
        assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
        strcpy(root, "/tmp/isolate-test-lsm-XXXXXX");
        if (!mkdtemp(root))
                return -1;
        snprintf(sys_dir, sizeof(sys_dir), "%s/sys", root);
        snprintf(proc_dir, sizeof(proc_dir), "%s/proc", root);
        mkdir(sys_dir, 0755);
        mkdir(proc_dir, 0755);
        lsm_set_root(sys_dir, proc_dir);
        lsm_set_landlock_abi(-1);
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        lsm_set_root(NULL, NULL);
        lsm_set_landlock_abi(-1);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

static struct policy policy_new(void)
{
        struct policy p;
        memset(&p, 0, sizeof(p));
        p.name = (char *)"strict";
        return p;
}

struct plan {
        int r;
        struct join_spec j;
        char warnings[1024];
        struct isolate_error err;
};

static void plan_run(struct plan *pl, const struct policy *p, const char *home)
{
        memset(pl, 0, sizeof(*pl));
        join_spec_init(&pl->j);
        pl->r = lsm_plan(p, home, &pl->j, pl->warnings, sizeof(pl->warnings), &pl->err);
}

/* ---- detection -------------------------------------------------------------------------- */

static void test_nothing_enabled(void **state)
{
        assert_false(lsm_apparmor_enabled());
        assert_false(lsm_selinux_enabled());
}

static void test_apparmor_from_lsm_list(void **state)
{
        write_file(sys_dir, "kernel/security/lsm", "lockdown,capability,landlock,apparmor\n");
        assert_true(lsm_apparmor_enabled());
        assert_false(lsm_selinux_enabled());
}

static void test_apparmor_from_module(void **state)
{
        write_file(sys_dir, "module/apparmor/parameters/enabled", "Y\n");
        /* the module parameter alone is not enough: securityfs must show it */
        assert_false(lsm_apparmor_enabled());
        make_dir(sys_dir, "kernel/security/apparmor");
        assert_true(lsm_apparmor_enabled());
        write_file(sys_dir, "module/apparmor/parameters/enabled", "N\n");
        assert_false(lsm_apparmor_enabled());
}

static void test_lsm_list_no_prefix_match(void **state)
{
        /* "apparmorx" or "selinuxfoo" are not apparmor / selinux */
        write_file(sys_dir, "kernel/security/lsm", "capability,apparmorx,selinuxfoo");
        assert_false(lsm_apparmor_enabled());
        assert_false(lsm_selinux_enabled());
        write_file(sys_dir, "kernel/security/lsm", "capability,selinux");
        assert_true(lsm_selinux_enabled());
}

static void test_selinux_from_selinuxfs(void **state)
{
        write_file(sys_dir, "fs/selinux/enforce", "1");
        assert_true(lsm_selinux_enabled());
        assert_false(lsm_apparmor_enabled());
}

/* The kernel's own answer to the question landlock_abi_version() asks: the ABI, or -errno. */
static long landlock_abi_from_kernel(void)
{
        long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        return abi < 0 ? -errno : abi;
}

static bool lsm_list_has(const char *list, const char *name)
{
        size_t n = strlen(name);
        for (const char *p = list; *p;) {
                size_t len = strcspn(p, ",\n");
                if (len == n && strncmp(p, name, n) == 0)
                        return true;
                p += len;
                p += strspn(p, ",\n");
        }
        return false;
}

/* Whether the kernel's list of active LSMs names landlock: 1 or 0, or -1 when the list cannot
 * be read. Where securityfs is not mounted, a child mounts it in a mount namespace of its own
 * (root only): the host's mounts stay as they are. */
static int landlock_in_lsm_list(void)
{
        char list[512];
        ssize_t n = read_file_at(AT_FDCWD, "/sys/kernel/security/lsm", list, sizeof(list));
        if (n >= 0)
                return lsm_list_has(list, "landlock");
        int pfd[2];
        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char answer = '?';
                if (unshare(CLONE_NEWNS) == 0 &&
                    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
                    mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL) == 0 &&
                    read_file_at(AT_FDCWD, "/sys/kernel/security/lsm", list, sizeof(list)) >= 0)
                        answer = lsm_list_has(list, "landlock") ? '1' : '0';
                _exit(write(pfd[1], &answer, 1) == 1 ? 0 : 1);
        }
        close(pfd[1]);
        char answer = '?';
        assert_int_equal(read(pfd[0], &answer, 1), 1);
        close(pfd[0]);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        return answer == '?' ? -1 : answer == '1';
}

static void test_landlock_abi_real(void **state)
{
        /* what the plan and the join use is what the kernel says, asked directly */
        long kernel = landlock_abi_from_kernel();
        if (kernel < 0) {
                /* not built in (ENOSYS) or not enabled at boot (EOPNOTSUPP): no Landlock */
                assert_true(kernel == -ENOSYS || kernel == -EOPNOTSUPP);
                assert_int_equal(landlock_abi_version(), 0);
                assert_int_equal(lsm_landlock_abi(), 0);
        } else {
                assert_true(kernel >= 1);
                assert_int_equal(landlock_abi_version(), kernel);
                assert_int_equal(lsm_landlock_abi(), kernel);
                /* every right planned for this ABI is one this kernel handles */
                struct {
                        uint64_t handled_access_fs;
                } attr = {landlock_fs_access_for_abi((int)kernel)};
                assert_true(attr.handled_access_fs != 0);
                int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
                assert_true(fd >= 0);
                close(fd);
        }
        /* and Landlock is an active LSM exactly when it answers with an ABI */
        int listed = landlock_in_lsm_list();
        if (listed >= 0)
                assert_int_equal(listed, kernel > 0);
        else
                printf("note: no /sys/kernel/security/lsm: the LSM list was not compared\n");
        /* an override wins until it is taken back */
        lsm_set_landlock_abi(2);
        assert_int_equal(lsm_landlock_abi(), 2);
        lsm_set_landlock_abi(-1);
        assert_int_equal(lsm_landlock_abi(), kernel > 0 ? kernel : 0);
}

/* ---- exec labels ------------------------------------------------------------------------- */

static void test_apparmor_stacking_path(void **state)
{
        write_file(sys_dir, "kernel/security/lsm", "capability,apparmor");
        write_file(proc_dir, "self/attr/apparmor/exec", "");
        struct policy p = policy_new();
        p.apparmor_profile = (char *)"isolate-user";
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_string_equal(pl.j.lsm_attr_path, "/proc/self/attr/apparmor/exec");
        assert_string_equal(pl.j.lsm_attr_value, "exec isolate-user");
        assert_string_equal(pl.warnings, "");
        join_spec_free(&pl.j);
}

static void test_apparmor_profile_not_loaded(void **state)
{
        write_file(sys_dir, "kernel/security/lsm", "capability,apparmor");
        write_file(proc_dir, "self/attr/apparmor/exec", "");
        write_file(sys_dir, "kernel/security/apparmor/profiles",
                   "isolate-userx (enforce)\n/usr/sbin/sshd (complain)\n");
        struct policy p = policy_new();
        p.apparmor_profile = (char *)"isolate-user";
        p.lsm_required = true;
        struct plan pl;
        plan_run(&pl, &p, "/root");
        /* refused at the helper, naming the profile: not by the kernel at the join */
        assert_int_equal(pl.r, -EOPNOTSUPP);
        assert_non_null(strstr(pl.err.msg, "isolate-user, which is not loaded"));
        join_spec_free(&pl.j);
        /* lsm_required = false: a warning, and no label to write */
        p.lsm_required = false;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_string_equal(pl.j.lsm_attr_path, "");
        assert_non_null(strstr(pl.warnings, "not loaded"));
        join_spec_free(&pl.j);
        /* loaded: the label */
        write_file(sys_dir, "kernel/security/apparmor/profiles",
                   "isolate-userx (enforce)\nisolate-user (enforce)\n");
        p.lsm_required = true;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_string_equal(pl.j.lsm_attr_value, "exec isolate-user");
        join_spec_free(&pl.j);
}

static void test_apparmor_old_path(void **state)
{
        write_file(sys_dir, "kernel/security/lsm", "capability,apparmor");
        write_file(proc_dir, "self/attr/exec", "");
        struct policy p = policy_new();
        p.apparmor_profile = (char *)"isolate-user";
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_string_equal(pl.j.lsm_attr_path, "/proc/self/attr/exec");
        assert_string_equal(pl.j.lsm_attr_value, "exec isolate-user");
        join_spec_free(&pl.j);
}

static void test_selinux_context(void **state)
{
        write_file(sys_dir, "fs/selinux/enforce", "1");
        struct policy p = policy_new();
        p.selinux_context = (char *)"user_u:user_r:user_t:s0";
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_string_equal(pl.j.lsm_attr_path, "/proc/self/attr/exec");
        assert_string_equal(pl.j.lsm_attr_value, "user_u:user_r:user_t:s0");
        join_spec_free(&pl.j);
}

/* A context the loaded policy rejects: selinuxfs's "context" file answers its write with
 * EINVAL. Played here by /proc/self/timerslack_ns, which answers a write of anything but a
 * number the same way. lsm_required refuses with the reason; without it the label is left
 * out with a warning, never half applied. */
static void test_selinux_context_rejected(void **state)
{
        write_file(sys_dir, "fs/selinux/enforce", "1");
        char link[256];
        snprintf(link, sizeof(link), "%s/fs/selinux/context", sys_dir);
        assert_int_equal(symlink("/proc/self/timerslack_ns", link), 0);
        struct policy p = policy_new();
        p.selinux_context = (char *)"user_u:sysadm_r:sysadm_t:s0";
        p.lsm_required = true;
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, -EOPNOTSUPP);
        assert_non_null(strstr(pl.err.msg, "SELinux context user_u:sysadm_r:sysadm_t:s0, which "
                                           "the loaded policy does not accept"));
        join_spec_free(&pl.j);

        p.lsm_required = false;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_string_equal(pl.j.lsm_attr_path, "");
        assert_non_null(strstr(pl.warnings, "does not accept"));
        assert_non_null(strstr(pl.warnings, "going on without it"));
        join_spec_free(&pl.j);
}

/* selinuxfs's access file is a transaction: a query written, its answer read from the same
 * file. Played by a plain file that holds the query and, after its NUL, the answer: the
 * write puts the same bytes back, the read that follows finds the answer. */
static void fake_selinux_policy(const char *answer)
{
        write_file(sys_dir, "fs/selinux/enforce", "1");
        write_file(sys_dir, "fs/selinux/class/process/index", "2\n");
        write_file(sys_dir, "fs/selinux/class/process/perms/transition", "5\n");
        write_file(sys_dir, "fs/selinux/class/process2/index", "10\n");
        write_file(sys_dir, "fs/selinux/class/process2/perms/nnp_transition", "5\n");
        write_file(sys_dir, "fs/selinux/policy_capabilities/nnp_nosuid_transition", "1");
        write_file(proc_dir, "4242/attr/current", "unconfined_u:unconfined_r:unconfined_t:s0");
        char path[512];
        snprintf(path, sizeof(path), "%s/fs/selinux/access", sys_dir);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        /* the process transition query (class 2, bit 5: 10), its NUL, the answer */
        fprintf(f, "unconfined_u:unconfined_r:unconfined_t:s0 user_u:user_r:user_t:s0 2 10%c%s",
                '\0', answer);
        fclose(f);
}

static int transition_check(struct policy *p, struct plan *pl)
{
        memset(pl, 0, sizeof(*pl));
        join_spec_init(&pl->j);
        strcpy(pl->j.lsm_attr_path, "/proc/self/attr/exec");
        strcpy(pl->j.lsm_attr_value, "user_u:user_r:user_t:s0");
        pl->r = lsm_check_transition(p, 4242, &pl->j, pl->warnings, sizeof(pl->warnings),
                                     &pl->err);
        return pl->r;
}

/* su from root's unconfined shell into a user's context: the policy denies the process
 * transition, so the login is refused before anything is built (or the label left out) */
static void test_selinux_transition_denied(void **state)
{
        fake_selinux_policy("0 ffffffff 0 ffffffff 1 0");
        struct policy p = policy_new();
        p.lsm_required = true;
        struct plan pl;
        assert_int_equal(transition_check(&p, &pl), -EOPNOTSUPP);
        assert_non_null(strstr(pl.err.msg, "does not let the caller's context "
                                           "unconfined_u:unconfined_r:unconfined_t:s0 enter"));
        assert_string_equal(pl.j.lsm_attr_path, "");
        join_spec_free(&pl.j);

        p.lsm_required = false;
        assert_int_equal(transition_check(&p, &pl), 0);
        assert_string_equal(pl.j.lsm_attr_path, "");
        assert_non_null(strstr(pl.warnings, "going on without it"));
        join_spec_free(&pl.j);
}

/* The transition is allowed (f0 has bit 10), nnp_transition not: the nnp query (class 10,
 * one byte longer) overwrites the answer's first character with its NUL and reads "0". */
static void test_selinux_nnp_transition_denied(void **state)
{
        fake_selinux_policy("f0 ffffffff 0 ffffffff 1 0");
        struct policy p = policy_new();
        p.lsm_required = true;
        p.no_new_privs = true;
        struct plan pl;
        assert_int_equal(transition_check(&p, &pl), -EOPNOTSUPP);
        assert_non_null(strstr(pl.err.msg, "under no_new_privs (process2 nnp_transition"));
        join_spec_free(&pl.j);

        /* without no_new_privs the allowed transition is all it takes */
        fake_selinux_policy("f0 ffffffff 0 ffffffff 1 0");
        p.no_new_privs = false;
        assert_int_equal(transition_check(&p, &pl), 0);
        assert_string_equal(pl.j.lsm_attr_value, "user_u:user_r:user_t:s0");
        join_spec_free(&pl.j);
}

static void test_both_named_one_enabled(void **state)
{
        struct policy p = policy_new();
        p.apparmor_profile = (char *)"isolate-user";
        p.selinux_context = (char *)"user_u:user_r:user_t:s0";
        p.lsm_required = true;
        struct plan pl;

        write_file(sys_dir, "fs/selinux/enforce", "1");
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_string_equal(pl.j.lsm_attr_value, "user_u:user_r:user_t:s0");
        assert_string_equal(pl.warnings, "");
        join_spec_free(&pl.j);

        /* both enabled (not a real kernel today): AppArmor, and a warning */
        write_file(sys_dir, "kernel/security/lsm", "capability,apparmor");
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_string_equal(pl.j.lsm_attr_value, "exec isolate-user");
        assert_non_null(strstr(pl.warnings, "SELinux context user_u:user_r:user_t:s0 is not"));
        join_spec_free(&pl.j);
}

static void test_apparmor_missing_required(void **state)
{
        struct policy p = policy_new();
        p.apparmor_profile = (char *)"isolate-user";
        p.lsm_required = true;
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, -EOPNOTSUPP);
        assert_string_equal(pl.err.msg,
                            "policy strict names AppArmor profile isolate-user but AppArmor is not "
                            "enabled in this kernel; load it or set lsm_required = false");
        assert_string_equal(pl.j.lsm_attr_path, "");
        join_spec_free(&pl.j);
}

static void test_apparmor_missing_not_required(void **state)
{
        struct policy p = policy_new();
        p.apparmor_profile = (char *)"isolate-user";
        struct plan pl;
        strcpy(pl.warnings, "");
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_string_equal(pl.j.lsm_attr_path, "");
        assert_string_equal(pl.j.lsm_attr_value, "");
        assert_non_null(strstr(pl.warnings, "policy strict names AppArmor profile isolate-user but "
                                            "AppArmor is not enabled"));
        join_spec_free(&pl.j);
}

static void test_warnings_appended(void **state)
{
        struct policy p = policy_new();
        p.selinux_context = (char *)"user_u:user_r:user_t:s0";
        struct join_spec j;
        join_spec_init(&j);
        char warnings[512] = "cgroup: io controller missing";
        struct isolate_error err = {0};
        assert_int_equal(lsm_plan(&p, "/root", &j, warnings, sizeof(warnings), &err), 0);
        assert_non_null(strstr(warnings,
                               "cgroup: io controller missing\npolicy strict names SELinux "
                               "context user_u:user_r:user_t:s0 but SELinux is not enabled"));
        join_spec_free(&j);
}

static void test_selinux_missing_required(void **state)
{
        struct policy p = policy_new();
        p.selinux_context = (char *)"user_u:user_r:user_t:s0";
        p.lsm_required = true;
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, -EOPNOTSUPP);
        assert_non_null(strstr(pl.err.msg, "SELinux is not enabled in this kernel"));
        assert_non_null(strstr(pl.err.msg, "lsm_required = false"));
        join_spec_free(&pl.j);
}

static void test_label_too_long(void **state)
{
        write_file(sys_dir, "kernel/security/lsm", "apparmor");
        char longname[600];
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        struct policy p = policy_new();
        p.apparmor_profile = longname;
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, -ENAMETOOLONG);
        assert_string_equal(pl.j.lsm_attr_path, "");
        join_spec_free(&pl.j);
}

/* ---- Landlock plan --------------------------------------------------------------------- */

static const struct landlock_path *find_path(const struct join_spec *j, const char *path)
{
        for (uint32_t i = 0; i < j->n_landlock; i++)
                if (STREQ(j->landlock[i].path, path))
                        return &j->landlock[i];
        return NULL;
}

static void test_landlock_plan_write_only(void **state)
{
        if (landlock_abi_version() < 1)
                skip_because("this kernel has no Landlock (landlock_create_ruleset: %m)");
        char home[160], missing[160];
        snprintf(home, sizeof(home), "%s/home", root);
        snprintf(missing, sizeof(missing), "%s/nope", root);
        make_dir(root, "home/proj");
        write_file(root, "home/file", "x");
        struct policy p = policy_new();
        char *rw[] = {"$HOME", "~/proj", "/tmp", missing, "$HOME/file", NULL};
        p.landlock_read_write = (struct strv){rw, 5};
        struct plan pl;
        plan_run(&pl, &p, home);
        assert_int_equal(pl.r, 0);
        uint64_t all = landlock_fs_access_for_abi(landlock_abi_version());
        /* nothing read-only listed: reading stays allowed, only writes are handled */
        assert_int_equal(pl.j.landlock_handled, all & ~LANDLOCK_FS_READ_EXEC);
        assert_int_equal(pl.j.landlock_abi, (uint32_t)landlock_abi_version());
        const struct landlock_path *lp = find_path(&pl.j, home);
        assert_non_null(lp);
        assert_int_equal(lp->access, pl.j.landlock_handled);
        char proj[200];
        snprintf(proj, sizeof(proj), "%s/proj", home);
        assert_non_null(find_path(&pl.j, proj));
        assert_non_null(find_path(&pl.j, "/tmp"));
        /* a file gets the file rights only */
        char file[200];
        snprintf(file, sizeof(file), "%s/file", home);
        lp = find_path(&pl.j, file);
        assert_non_null(lp);
        assert_int_equal(lp->access, pl.j.landlock_handled & LANDLOCK_FS_FILE_ACCESS);
        /* the missing one is skipped, with a warning */
        assert_null(find_path(&pl.j, missing));
        assert_non_null(strstr(pl.warnings, missing));
        assert_non_null(strstr(pl.warnings, "does not exist"));
        /* what the caller needs after the join, always; missing ones quietly left out */
        lp = find_path(&pl.j, "/dev/pts");
        assert_non_null(lp);
        assert_int_equal(lp->access, pl.j.landlock_handled);
        assert_non_null(find_path(&pl.j, "/dev/ptmx"));
        assert_non_null(find_path(&pl.j, "/dev/null"));
        /* never the whole of /dev: /dev/shm and writable device nodes stay the user's to list
         * (issue 12, row 9) */
        assert_null(find_path(&pl.j, "/dev"));
        assert_null(find_path(&pl.j, "/dev/shm"));
        if (access("/var/log/wtmp", F_OK) == 0)
                assert_non_null(find_path(&pl.j, "/var/log/wtmp"));
        if (access("/var/log/btmp", F_OK) != 0)
                assert_null(strstr(pl.warnings, "btmp"));
        join_spec_free(&pl.j);
}

static void test_landlock_plan_read_only(void **state)
{
        if (landlock_abi_version() < 1)
                skip_because("this kernel has no Landlock (landlock_create_ruleset: %m)");
        struct policy p = policy_new();
        char *ro[] = {"/usr", "/etc", NULL};
        char *rw[] = {"/tmp", NULL};
        p.landlock_read_only = (struct strv){ro, 2};
        p.landlock_read_write = (struct strv){rw, 1};
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        uint64_t all = landlock_fs_access_for_abi(landlock_abi_version());
        assert_int_equal(pl.j.landlock_handled, all);
        assert_int_equal(find_path(&pl.j, "/usr")->access, LANDLOCK_FS_READ_EXEC);
        assert_int_equal(find_path(&pl.j, "/etc")->access, LANDLOCK_FS_READ_EXEC);
        assert_int_equal(find_path(&pl.j, "/tmp")->access, all);
        assert_int_equal(find_path(&pl.j, "/dev/pts")->access, all);
        assert_null(find_path(&pl.j, "/dev"));
        join_spec_free(&pl.j);
}

/* The session's own login records, on the host's names (mounts.c): the monitor writes
 * them after the join. */
static void test_landlock_plan_records(void **state)
{
        if (landlock_abi_version() < 1)
                skip_because("this kernel has no Landlock (landlock_create_ruleset: %m)");
        struct policy p = policy_new();
        char *rw[] = {"/tmp", NULL};
        p.landlock_read_write = (struct strv){rw, 1};
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        if (access("/var/log/wtmp", F_OK) == 0)
                assert_non_null(find_path(&pl.j, "/var/log/wtmp"));
        if (access("/var/log/lastlog", F_OK) == 0)
                assert_non_null(find_path(&pl.j, "/var/log/lastlog"));
        assert_null(find_path(&pl.j, "/var/log/btmp")); /* written before the join only */
        join_spec_free(&pl.j);
}

static void test_landlock_abi_masking(void **state)
{
        assert_int_equal(landlock_fs_access_for_abi(0), 0);
        assert_int_equal(landlock_fs_access_for_abi(1), 0x1fff);
        assert_int_equal(landlock_fs_access_for_abi(2), 0x1fff | LANDLOCK_ACCESS_FS_REFER);
        assert_int_equal(landlock_fs_access_for_abi(3), 0x7fff);
        assert_int_equal(landlock_fs_access_for_abi(4), 0x7fff);
        assert_int_equal(landlock_fs_access_for_abi(5), 0xffff);
        assert_int_equal(landlock_fs_access_for_abi(7), 0xffff);

        lsm_set_landlock_abi(1);
        struct policy p = policy_new();
        char *rw[] = {"/tmp", NULL};
        p.landlock_read_write = (struct strv){rw, 1};
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_int_equal(pl.j.landlock_abi, 1);
        assert_int_equal(pl.j.landlock_handled, 0x1fff & ~LANDLOCK_FS_READ_EXEC);
        assert_int_equal(
            pl.j.landlock_handled & (LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE), 0);
        join_spec_free(&pl.j);
}

static void test_landlock_missing_kernel(void **state)
{
        lsm_set_landlock_abi(0);
        struct policy p = policy_new();
        char *rw[] = {"$HOME", NULL};
        p.landlock_read_write = (struct strv){rw, 1};
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_int_equal(pl.j.landlock_handled, 0);
        assert_int_equal(pl.j.n_landlock, 0);
        assert_non_null(strstr(pl.warnings, "Landlock is not available"));
        join_spec_free(&pl.j);

        p.lsm_required = true;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, -EOPNOTSUPP);
        assert_non_null(strstr(pl.err.msg, "policy strict names Landlock paths but Landlock is not "
                                           "available"));
        assert_non_null(strstr(pl.err.msg, "lsm_required = false"));
        join_spec_free(&pl.j);
}

static void test_landlock_no_rules(void **state)
{
        struct policy p = policy_new();
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_int_equal(pl.j.landlock_handled, 0);
        assert_int_equal(pl.j.n_landlock, 0);
        assert_string_equal(pl.j.lsm_attr_path, "");
        join_spec_free(&pl.j);
}

static void test_landlock_bad_paths(void **state)
{
        if (landlock_abi_version() < 1)
                skip_because("this kernel has no Landlock (landlock_create_ruleset: %m)");
        struct policy p = policy_new();
        char *rel[] = {"relative/dir", NULL};
        p.landlock_read_write = (struct strv){rel, 1};
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, -EINVAL);
        assert_non_null(strstr(pl.err.msg, "not absolute"));
        join_spec_free(&pl.j);

        char *tilde[] = {"~", NULL};
        p.landlock_read_write = (struct strv){tilde, 1};
        plan_run(&pl, &p, NULL);
        assert_int_equal(pl.r, -EINVAL);
        assert_non_null(strstr(pl.err.msg, "home"));
        join_spec_free(&pl.j);

        /* "~user" and "$HOMEDIR" are not the home directory */
        char *other[] = {"$HOMEDIR", NULL};
        p.landlock_read_write = (struct strv){other, 1};
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, -EINVAL);
        join_spec_free(&pl.j);

        /* too many paths */
        char *many[JOIN_MAX_LANDLOCK_PATHS + 1];
        for (size_t i = 0; i < JOIN_MAX_LANDLOCK_PATHS; i++)
                many[i] = "/tmp";
        many[JOIN_MAX_LANDLOCK_PATHS] = NULL;
        p.landlock_read_write = (struct strv){many, JOIN_MAX_LANDLOCK_PATHS};
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, -E2BIG);
        assert_null(pl.j.landlock);
        join_spec_free(&pl.j);
}

/* ---- Landlock scoping: auto, true, false; lsm_required on a kernel without ABI 6 --------- */

#define BOTH_SCOPES (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL)

static void test_scoping_auto(void **state)
{
        lsm_set_landlock_abi(7);
        struct policy p = policy_new();
        struct plan pl;
        /* scope = login: both, with no Landlock path at all */
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_int_equal(pl.j.landlock_scoped, BOTH_SCOPES);
        assert_int_equal(pl.j.landlock_handled, 0);
        assert_int_equal(pl.j.landlock_abi, 7);
        assert_string_equal(pl.warnings, "");
        join_spec_free(&pl.j);

        /* scope = user: none (each login would be a domain apart from the others) */
        p.scope = SCOPE_USER;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_int_equal(pl.j.landlock_scoped, 0);
        assert_int_equal(pl.j.landlock_abi, 0);
        join_spec_free(&pl.j);
}

static void test_scoping_true_false(void **state)
{
        lsm_set_landlock_abi(6);
        struct policy p = policy_new();
        struct plan pl;
        p.scope = SCOPE_USER;
        p.scope_signals = SCOPING_ON;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_int_equal(pl.j.landlock_scoped, LANDLOCK_SCOPE_SIGNAL);
        join_spec_free(&pl.j);

        p.scope = SCOPE_LOGIN;
        p.scope_signals = SCOPING_OFF;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.j.landlock_scoped, LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET);
        join_spec_free(&pl.j);

        p.scope_abstract_unix = SCOPING_OFF;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_int_equal(pl.j.landlock_scoped, 0);
        assert_int_equal(pl.j.landlock_abi, 0); /* no domain at all */
        join_spec_free(&pl.j);

        uint64_t demanded;
        p.scope_abstract_unix = SCOPING_ON;
        p.scope_signals = SCOPING_AUTO;
        assert_int_equal(lsm_scoping_wanted(&p, &demanded), BOTH_SCOPES);
        assert_int_equal(demanded, LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET);
}

/* ABI 5 (Linux 6.10): auto goes on without, quietly; true is a missing LSM. */
static void test_scoping_older_kernel(void **state)
{
        lsm_set_landlock_abi(5);
        struct policy p = policy_new();
        p.lsm_required = true;
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_int_equal(pl.j.landlock_scoped, 0);
        assert_string_equal(pl.warnings, "");
        join_spec_free(&pl.j);

        p.scope_signals = SCOPING_ON;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, -EOPNOTSUPP);
        assert_non_null(strstr(pl.err.msg, "policy strict has scope_signals = true, but this "
                                           "kernel's Landlock is ABI 5"));
        assert_non_null(strstr(pl.err.msg, "ABI 6 (Linux 6.12)"));
        assert_non_null(strstr(pl.err.msg, "lsm_required = false"));
        join_spec_free(&pl.j);

        p.lsm_required = false;
        p.scope_abstract_unix = SCOPING_ON;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_int_equal(pl.j.landlock_scoped, 0);
        assert_non_null(strstr(pl.warnings, "scope_abstract_unix = true and scope_signals = true"));
        assert_non_null(strstr(pl.warnings, "abstract unix sockets and signals not scoped "
                                            "(lsm_required = false)"));
        join_spec_free(&pl.j);

        /* no Landlock at all */
        lsm_set_landlock_abi(0);
        p.lsm_required = true;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, -EOPNOTSUPP);
        assert_non_null(strstr(pl.err.msg, "this kernel has no Landlock"));
        join_spec_free(&pl.j);
}

/* Filesystem rules planned for an older ABI and scoping together: one ABI, one ruleset. */
static void test_scoping_with_paths(void **state)
{
        if (landlock_abi_version() < LANDLOCK_SCOPE_ABI)
                skip_because("this kernel's Landlock ABI is %d: scoping needs ABI %d (Linux 6.12)",
                             landlock_abi_version(), LANDLOCK_SCOPE_ABI);
        struct policy p = policy_new();
        char *rw[] = {"/tmp", NULL};
        p.landlock_read_write = (struct strv){rw, 1};
        struct plan pl;
        plan_run(&pl, &p, "/root");
        assert_int_equal(pl.r, 0);
        assert_true(pl.j.landlock_handled != 0);
        assert_int_equal(pl.j.landlock_scoped, BOTH_SCOPES);
        assert_int_equal(pl.j.landlock_abi, (uint32_t)landlock_abi_version());
        join_spec_free(&pl.j);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_nothing_enabled, setup, teardown),
            cmocka_unit_test_setup_teardown(test_apparmor_from_lsm_list, setup, teardown),
            cmocka_unit_test_setup_teardown(test_apparmor_from_module, setup, teardown),
            cmocka_unit_test_setup_teardown(test_lsm_list_no_prefix_match, setup, teardown),
            cmocka_unit_test_setup_teardown(test_selinux_from_selinuxfs, setup, teardown),
            cmocka_unit_test_setup_teardown(test_landlock_abi_real, setup, teardown),
            cmocka_unit_test_setup_teardown(test_apparmor_stacking_path, setup, teardown),
            cmocka_unit_test_setup_teardown(test_apparmor_profile_not_loaded, setup, teardown),
            cmocka_unit_test_setup_teardown(test_apparmor_old_path, setup, teardown),
            cmocka_unit_test_setup_teardown(test_selinux_context, setup, teardown),
            cmocka_unit_test_setup_teardown(test_selinux_context_rejected, setup, teardown),
            cmocka_unit_test_setup_teardown(test_selinux_transition_denied, setup, teardown),
            cmocka_unit_test_setup_teardown(test_selinux_nnp_transition_denied, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_both_named_one_enabled, setup, teardown),
            cmocka_unit_test_setup_teardown(test_apparmor_missing_required, setup, teardown),
            cmocka_unit_test_setup_teardown(test_apparmor_missing_not_required, setup, teardown),
            cmocka_unit_test_setup_teardown(test_warnings_appended, setup, teardown),
            cmocka_unit_test_setup_teardown(test_selinux_missing_required, setup, teardown),
            cmocka_unit_test_setup_teardown(test_label_too_long, setup, teardown),
            cmocka_unit_test_setup_teardown(test_landlock_plan_write_only, setup, teardown),
            cmocka_unit_test_setup_teardown(test_landlock_plan_read_only, setup, teardown),
            cmocka_unit_test_setup_teardown(test_landlock_plan_records, setup, teardown),
            cmocka_unit_test_setup_teardown(test_landlock_abi_masking, setup, teardown),
            cmocka_unit_test_setup_teardown(test_landlock_missing_kernel, setup, teardown),
            cmocka_unit_test_setup_teardown(test_landlock_no_rules, setup, teardown),
            cmocka_unit_test_setup_teardown(test_landlock_bad_paths, setup, teardown),
            cmocka_unit_test_setup_teardown(test_scoping_auto, setup, teardown),
            cmocka_unit_test_setup_teardown(test_scoping_true_false, setup, teardown),
            cmocka_unit_test_setup_teardown(test_scoping_older_kernel, setup, teardown),
            cmocka_unit_test_setup_teardown(test_scoping_with_paths, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

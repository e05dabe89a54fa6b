/* seccomp.c: compiles the policy's syscall filter with libseccomp and caches the raw BPF.
 *
 * What the program does (default base), in the order the kernel sees it:
 * - a non-native ABI (i386 via int 0x80, x32 numbers with __X32_SYSCALL_BIT) kills the
 *   process: libseccomp's bad-arch action, which also catches x32 numbers on the x86_64
 *   arch;
 * - an allowed call is allowed, some only with conditions on their arguments:
 *     clone       without any CLONE_NEW* flag (unless unshare is allowed too: both create
 *                 namespaces, so they are one decision);
 *     ioctl       anything but TIOCSTI and TIOCLINUX, comparing only the low 32 bits of
 *                 the command: the kernel truncates it to unsigned int, so a 64-bit compare
 *                 would let `TIOCSTI | 1 << 32` through;
 *     socket      AF_UNIX, AF_INET, AF_INET6, AF_NETLINK; any other family gets
 *                 EAFNOSUPPORT, what a kernel without that family says, so programs that
 *                 probe (AF_VSOCK, AF_ALG, AF_BLUETOOTH) take their normal fallback;
 *     personality 0 (PER_LINUX), PER_LINUX32, UNAME26, ADDR_NO_RANDOMIZE (gdb, setarch -R)
 *                 and their combinations, and 0xffffffff (the query). Not READ_IMPLIES_EXEC,
 *                 MMAP_PAGE_ZERO and the like, which weaken memory protections;
 *     clone3      ENOSYS unless allowed (@namespaces): its flags sit in memory seccomp cannot
 *                 read, and ENOSYS makes libc fall back to clone, which is checked;
 * - a call libseccomp knows that is not allowed: EPERM (`kill`: the process is killed,
 *   `log`: allowed and logged);
 * - any other number (a call newer than libseccomp's table): ENOSYS, so that libc falls
 *   back to an older call. Also with `kill`: killing a program for probing a new call would
 *   break it on every libc upgrade. With `log` it is allowed and logged.
 * Conditions that refuse a call use the policy's action too (kill, log).
 *
 * Base `none`: no filter at all (the config refuses syscalls_allow/deny and seccomp_action
 * with it, so nothing else is asked of us then).
 *
 * How: libseccomp compiles the allowlist (binary tree), where each name is allowed, denied
 * or ENOSYS as a whole. The argument conditions are a short hand-written BPF prefix run
 * before it (argument_prefix()): for the few calls with conditions it returns the refusal
 * or falls through to libseccomp's part, which allows them. libseccomp cannot say this
 * itself: it has no "else" for a call (an unconditional rule swallows the conditional
 * ones of the same call, and an unmatched condition falls to the filter's default, which
 * is ENOSYS here), and its compares are 64-bit where the kernel reads an int. The prefix
 * loads the low 32 bits of the argument, what the kernel acts on for every one of these
 * calls (clone too: it takes lower_32_bits of the flags). */
#include "seccomp.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "../conf/syscalls.h"

/* Bump when the program compiled for the same policy changes: it is part of the cache key. */
#define SECCOMP_GENERATOR 1

/* Native syscall numbers considered; x86_64 ends below 500, the x32 range is separate. */
#define NR_LIMIT 1024

#define CLONE_NEW_FLAGS                                                                            \
        (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |             \
         CLONE_NEWPID | CLONE_NEWNET)
/* CLONE_NEWTIME shares its bit with the exit signal in clone(2): only clone3 and unshare
 * take it, and both are outside the default. */

/* personality: any combination of these, or the 0xffffffff query */
#define PERSONALITY_HARMLESS (PER_LINUX32 | UNAME26 | ADDR_NO_RANDOMIZE)

struct ruleset {
        bool filter; /* false: no program at all (base none) */
        bool allowed[NR_LIMIT];
        enum seccomp_action action;
};

static bool nr_known(int nr, char *name, size_t len)
{
        char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (!s)
                return false;
        if (name)
                snprintf(name, len, "%s", s);
        free(s);
        return true;
}

static int nr_of(const char *name)
{
        int nr = seccomp_syscall_resolve_name(name);
        return nr >= 0 && nr < NR_LIMIT ? nr : -1;
}

/* Sets (value true) or clears every number named by spec, a name or an @group. Names
 * that exist only on other architectures are skipped: they have no number here. */
static int ruleset_mark(struct ruleset *rs, const char *spec, bool value, struct isolate_error *err)
{
        char msg[256];
        if (syscall_spec_check(spec, msg, sizeof(msg)) < 0)
                return error_set(err, EINVAL, "%s", msg);
        if (spec[0] == '@') {
                const struct syscall_group *g = syscall_group_find(spec);
                for (const char *const *m = g->members; *m; m++) {
                        int nr = nr_of(*m);
                        if (nr >= 0)
                                rs->allowed[nr] = value;
                }
                return 0;
        }
        int nr = nr_of(spec);
        if (nr < 0)
                return error_set(err, EINVAL, "syscall '%s' has no number below %d", spec,
                                 NR_LIMIT);
        rs->allowed[nr] = value;
        return 0;
}

static int ruleset_from_policy(const struct policy *p, struct ruleset *rs,
                               struct isolate_error *err)
{
        int r;
        memset(rs, 0, sizeof(*rs));
        rs->action = p->seccomp_action;
        if (p->seccomp_base == SECCOMP_BASE_NONE)
                return 0;
        rs->filter = true;
        size_t n;
        const struct syscall_group *g = syscall_groups(&n);
        for (size_t i = 0; i < n; i++)
                if (g[i].in_default) {
                        r = ruleset_mark(rs, g[i].name, true, err);
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < p->syscalls_allow.n; i++) {
                r = ruleset_mark(rs, p->syscalls_allow.v[i], true, err);
                if (r < 0)
                        return error_prefix(err, "syscalls_allow of policy %s", p->name);
        }
        /* deny after allow: deny wins */
        for (size_t i = 0; i < p->syscalls_deny.n; i++) {
                r = ruleset_mark(rs, p->syscalls_deny.v[i], false, err);
                if (r < 0)
                        return error_prefix(err, "syscalls_deny of policy %s", p->name);
        }
        return 0;
}

/* A ruleset of its own (a few KiB: not on the stack) for p, in *ret. */
static int ruleset_new(const struct policy *p, struct ruleset **ret, struct isolate_error *err)
{
        _cleanup_free_ struct ruleset *rs = malloc(sizeof(*rs));
        if (!rs)
                return error_set(err, ENOMEM, "out of memory");
        int r = ruleset_from_policy(p, rs, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(rs);
        return 0;
}

static bool rs_allows(const struct ruleset *rs, const char *name)
{
        int nr = nr_of(name);
        return nr >= 0 && rs->allowed[nr];
}

/* Which conditional rules the program has; explain and the compiler share this. */
struct conditions {
        bool clone, ioctl, socket, personality, clone3_enosys;
};

static struct conditions conditions_of(const struct ruleset *rs)
{
        struct conditions c = {0};
        c.clone3_enosys = !rs_allows(rs, "clone3");
        c.clone = rs_allows(rs, "clone") && !rs_allows(rs, "unshare");
        c.ioctl = rs_allows(rs, "ioctl");
        c.socket = rs_allows(rs, "socket");
        c.personality = rs_allows(rs, "personality");
        return c;
}

static const char *action_name(enum seccomp_action a)
{
        switch (a) {
        case SECCOMP_ACTION_KILL:
                return "kill";
        case SECCOMP_ACTION_LOG:
                return "log";
        case SECCOMP_ACTION_ERRNO_LOG:
                return "errno-log";
        case SECCOMP_ACTION_ERRNO:
        default:
                return "errno";
        }
}

static uint32_t deny_action(enum seccomp_action a)
{
        switch (a) {
        case SECCOMP_ACTION_KILL:
                return SCMP_ACT_KILL_PROCESS;
        case SECCOMP_ACTION_LOG:
                return SCMP_ACT_LOG;
        case SECCOMP_ACTION_ERRNO:
        default:
                return SCMP_ACT_ERRNO(EPERM);
        }
}

static uint32_t default_action(const struct ruleset *rs)
{
        if (rs->action == SECCOMP_ACTION_LOG)
                return SCMP_ACT_LOG;
        return SCMP_ACT_ERRNO(ENOSYS);
}

/* Adds a rule unless it would repeat the default action (libseccomp refuses those). */
static int rule_add(scmp_filter_ctx ctx, uint32_t dflt, uint32_t action, int nr)
{
        if (action == dflt)
                return 0;
        return seccomp_rule_add(ctx, action, nr, 0);
}

/* ---- the argument prefix ----------------------------------------------------------------
 *
 *        ld  arch;  jne native -> END          (libseccomp's part kills other ABIs)
 *        ld  nr;    jeq ioctl -> B1;  jeq socket -> B2;  ...;  ja END
 *   B1:  ld  low 32 bits of the argument
 *        jeq/jset k -> ALLOW or REFUSE          (one per test, in order)
 *        the block's default: REFUSE: ret <refusal>   ALLOW: ja END
 *   END: libseccomp's program, which allows these calls
 * x32 numbers carry __X32_SYSCALL_BIT, so they never equal a native number here and reach
 * libseccomp's bad-arch check. */

#define MAX_TESTS  4
#define MAX_BLOCKS 4
#define MAX_PREFIX 64

struct arg_test {
        uint16_t jmp; /* BPF_JEQ or BPF_JSET */
        uint32_t k;
        bool refuse; /* on a match: refuse (else allow) */
};

struct arg_block {
        int nr;
        unsigned arg;
        struct arg_test tests[MAX_TESTS];
        size_t n_tests;
        bool refuse_by_default; /* when no test matched */
        uint32_t refusal;       /* SECCOMP_RET_* */
};

/* The prefix returns libseccomp's action values as they are: they are the kernel's. */
_Static_assert(SCMP_ACT_KILL_PROCESS == SECCOMP_RET_KILL_PROCESS, "libseccomp action values");
_Static_assert(SCMP_ACT_LOG == SECCOMP_RET_LOG, "libseccomp action values");
_Static_assert(SCMP_ACT_ERRNO(EPERM) == (SECCOMP_RET_ERRNO | EPERM), "libseccomp action values");

static size_t arg_offset(unsigned arg)
{
        size_t off = offsetof(struct seccomp_data, args) + arg * sizeof(uint64_t);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        off += sizeof(uint32_t);
#endif
        return off;
}

static size_t arg_blocks(const struct ruleset *rs, struct arg_block *b)
{
        const struct conditions c = conditions_of(rs);
        uint32_t deny = deny_action(rs->action);
        size_t n = 0;
        if (c.clone)
                b[n++] = (struct arg_block){
                    .nr = SCMP_SYS(clone),
                    .arg = 0,
                    .tests = {{BPF_JSET, CLONE_NEW_FLAGS, true}},
                    .n_tests = 1,
                    .refusal = deny,
                };
        if (c.ioctl)
                b[n++] = (struct arg_block){
                    .nr = SCMP_SYS(ioctl),
                    .arg = 1,
                    .tests = {{BPF_JEQ, TIOCSTI, true}, {BPF_JEQ, TIOCLINUX, true}},
                    .n_tests = 2,
                    .refusal = deny,
                };
        if (c.socket)
                b[n++] = (struct arg_block){
                    .nr = SCMP_SYS(socket),
                    .arg = 0,
                    .tests = {{BPF_JEQ, AF_UNIX, false},
                              {BPF_JEQ, AF_INET, false},
                              {BPF_JEQ, AF_INET6, false},
                              {BPF_JEQ, AF_NETLINK, false}},
                    .n_tests = 4,
                    .refuse_by_default = true,
                    .refusal =
                        rs->action == SECCOMP_ACTION_ERRNO || rs->action == SECCOMP_ACTION_ERRNO_LOG
                            ? SCMP_ACT_ERRNO(EAFNOSUPPORT)
                            : deny,
                };
        if (c.personality)
                b[n++] = (struct arg_block){
                    .nr = SCMP_SYS(personality),
                    .arg = 0,
                    .tests = {{BPF_JEQ, 0xffffffffu, false},
                              {BPF_JSET, (uint32_t)~PERSONALITY_HARMLESS, true}},
                    .n_tests = 2,
                    .refusal = deny,
                };
        return n;
}

struct prefix {
        struct sock_filter insn[MAX_PREFIX];
        size_t n;
        size_t to_end[MAX_PREFIX]; /* positions of "ja END", patched when the length is known */
        size_t n_to_end;
};

static void emit(struct prefix *p, struct sock_filter insn)
{
        p->insn[p->n++] = insn;
}

static void emit_ja_end(struct prefix *p)
{
        p->to_end[p->n_to_end++] = p->n;
        emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0));
}

/* Builds the prefix for rs into *p (p->n == 0: no call has conditions). */
static int argument_prefix(const struct ruleset *rs, struct prefix *p)
{
        struct arg_block blocks[MAX_BLOCKS];
        size_t n_blocks = arg_blocks(rs, blocks);
        memset(p, 0, sizeof(*p));
        if (n_blocks == 0)
                return 0;

        emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                             offsetof(struct seccomp_data, arch)));
        emit(p,
             (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 1, 0));
        emit_ja_end(p);
        emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                             offsetof(struct seccomp_data, nr)));
        size_t dispatch = p->n;
        for (size_t i = 0; i < n_blocks; i++)
                emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                                     (uint32_t)blocks[i].nr, 0, 0));
        emit_ja_end(p);

        for (size_t i = 0; i < n_blocks; i++) {
                const struct arg_block *b = &blocks[i];
                size_t start = p->n;
                p->insn[dispatch + i].jt = (uint8_t)(start - (dispatch + i) - 1);
                emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                                     (uint32_t)arg_offset(b->arg)));
                size_t first_test = p->n;
                for (size_t t = 0; t < b->n_tests; t++)
                        emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | b->tests[t].jmp | BPF_K,
                                                             b->tests[t].k, 0, 0));
                /* the two exits; no test matched falls into the first one */
                size_t refuse_at, allow_at;
                if (b->refuse_by_default) {
                        refuse_at = p->n;
                        emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, b->refusal));
                        allow_at = p->n;
                        emit_ja_end(p);
                } else {
                        allow_at = p->n;
                        emit_ja_end(p);
                        refuse_at = p->n;
                        emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, b->refusal));
                }
                for (size_t t = 0; t < b->n_tests; t++) {
                        size_t at = first_test + t;
                        size_t target = b->tests[t].refuse ? refuse_at : allow_at;
                        p->insn[at].jt = (uint8_t)(target - at - 1);
                }
        }
        if (p->n > 255)
                return -E2BIG; /* conditional jumps reach 255 instructions at most */
        for (size_t i = 0; i < p->n_to_end; i++) {
                size_t at = p->to_end[i];
                p->insn[at].k = (uint32_t)(p->n - at - 1);
        }
        return 0;
}

static bool is_conditional(const struct ruleset *rs, int nr)
{
        const struct conditions c = conditions_of(rs);
        return (c.clone3_enosys && nr == SCMP_SYS(clone3)) || (c.clone && nr == SCMP_SYS(clone)) ||
               (c.ioctl && nr == SCMP_SYS(ioctl)) || (c.socket && nr == SCMP_SYS(socket)) ||
               (c.personality && nr == SCMP_SYS(personality));
}

static void ctx_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

static int compile(const struct ruleset *rs, bool optimize, struct sock_filter **ret,
                   uint32_t *ret_len, struct isolate_error *err)
{
        int r;
        struct prefix prefix;
        r = argument_prefix(rs, &prefix);
        if (r < 0)
                return error_set_errno(err, r, "building the seccomp argument checks");

        uint32_t dflt = default_action(rs);
        __attribute__((cleanup(ctx_releasep))) scmp_filter_ctx ctx = seccomp_init(dflt);
        if (!ctx)
                return error_set(err, ENOMEM, "seccomp_init failed");
        /* The program is exported, not loaded here: the caller sets no_new_privs itself. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r == 0)
                r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r == 0 && optimize)
                r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (r < 0)
                return error_set_errno(err, r, "setting libseccomp filter attributes");

        const struct conditions c = conditions_of(rs);
        uint32_t deny = deny_action(rs->action);
        for (int nr = 0; nr < NR_LIMIT; nr++) {
                char name[64];
                if (!nr_known(nr, name, sizeof(name)))
                        continue;
                uint32_t action = rs->allowed[nr] ? SCMP_ACT_ALLOW : deny;
                if (c.clone3_enosys && nr == SCMP_SYS(clone3))
                        action = SCMP_ACT_ERRNO(ENOSYS);
                r = rule_add(ctx, dflt, action, nr);
                if (r < 0)
                        return error_set_errno(err, r, "adding the seccomp rule for %s", name);
        }

        _cleanup_close_ int fd = memfd_create("isolate-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return error_set_errno(err, errno, "memfd_create");
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return error_set_errno(err, r, "exporting the seccomp program");
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set_errno(err, errno, "fstat of the exported seccomp program");
        size_t size = (size_t)st.st_size;
        size_t n_insns = prefix.n + size / sizeof(struct sock_filter);
        if (size == 0 || size % sizeof(struct sock_filter) != 0 || n_insns > BPF_MAXINSNS)
                return error_set(err, EINVAL, "the seccomp program has a bad size (%zu bytes)",
                                 size);
        _cleanup_free_ struct sock_filter *prog = malloc(n_insns * sizeof(struct sock_filter));
        if (!prog)
                return error_set(err, ENOMEM, "out of memory");
        memcpy(prog, prefix.insn, prefix.n * sizeof(struct sock_filter));
        ssize_t n = pread(fd, prog + prefix.n, size, 0);
        if (n < 0)
                return error_set_errno(err, errno, "reading the exported seccomp program");
        if ((size_t)n != size)
                return error_set(err, EIO, "short read of the exported seccomp program");
        *ret_len = (uint32_t)n_insns;
        *ret = TAKE_PTR(prog);
        return 0;
}

int seccomp_program_build(const struct policy *p, bool optimize, struct sock_filter **ret,
                          uint32_t *ret_len, struct isolate_error *err)
{
        _cleanup_free_ struct ruleset *rs = NULL;
        *ret = NULL;
        *ret_len = 0;
        int r = ruleset_new(p, &rs, err);
        if (r < 0)
                return r;
        if (!rs->filter)
                return 0;
        return compile(rs, optimize, ret, ret_len, err);
}

/* ---- the cache: <runtime_dir>/seccomp/<hash>.bpf --------------------------------------
 *
 * File layout: struct cache_header, the key text (key_len bytes), the program. The key
 * names everything the program depends on (generator, arch, libseccomp version, action,
 * the allowed numbers); the file name is its hash, and the whole key is compared on load,
 * so a hash collision costs a recompile, never a wrong program. A file is used only when
 * it is a regular file owned by us (root), mode 0600, one link, of exactly the size its
 * header says, in a directory owned by us with mode 0700. */

#define CACHE_MAGIC "ISOLBPF1"

struct cache_header {
        char magic[8];
        uint64_t hash;      /* of the key; also the file name */
        uint64_t prog_hash; /* of the program: a damaged file is recompiled, not loaded */
        uint32_t key_len;
        uint32_t n_insns;
};

static char *cache_key(const struct ruleset *rs)
{
        const struct scmp_version *v = seccomp_version();
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fprintf(f,
                "isolate-seccomp generator=%d arch=%u libseccomp=%u.%u.%u action=%s\n"
                "allowed=",
                SECCOMP_GENERATOR, seccomp_arch_native(), v ? v->major : 0, v ? v->minor : 0,
                v ? v->micro : 0, action_name(rs->action));
        for (int nr = 0; nr < NR_LIMIT; nr++)
                if (rs->allowed[nr])
                        fprintf(f, "%d,", nr);
        fputc('\n', f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* FNV-1a, 64 bits: names the file and catches damage; the key itself is compared, so a
 * collision costs a recompile at most. Nobody but root can write there. */
static uint64_t fnv1a(const void *buf, size_t len)
{
        const unsigned char *p = buf;
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < len; i++) {
                h ^= p[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

/* Opens <runtime_dir>/seccomp, creating it 0700. A directory that is not ours is not used
 * (-EPERM: the caller compiles without the cache); a loose mode on ours is tightened. */
static int cache_dir_open(const char *runtime_dir)
{
        if (mkdir(runtime_dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        _cleanup_close_ int rfd = open(runtime_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return -errno;
        if (mkdirat(rfd, "seccomp", 0700) < 0 && errno != EEXIST)
                return -errno;
        _cleanup_close_ int fd =
            openat(rfd, "seccomp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_uid != geteuid())
                return -EPERM;
        if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* 0 and the program on a valid entry; -ENOENT when absent; -EBADMSG when the file is
 * there but not to be trusted (the caller then recompiles and replaces it). */
static int cache_load(int dirfd, const char *name, const char *key, uint64_t hash,
                      struct sock_filter **ret, uint32_t *ret_len)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ENOENT : -EBADMSG;
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
            (st.st_mode & 07777) != 0600 || st.st_nlink != 1)
                return -EBADMSG;
        struct cache_header h;
        size_t key_len = strlen(key);
        if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
            memcmp(h.magic, CACHE_MAGIC, sizeof(h.magic)) != 0 || h.hash != hash ||
            h.key_len != key_len || h.n_insns == 0 || h.n_insns > BPF_MAXINSNS)
                return -EBADMSG;
        size_t prog_size = (size_t)h.n_insns * sizeof(struct sock_filter);
        if ((uint64_t)st.st_size != sizeof(h) + key_len + prog_size)
                return -EBADMSG;
        _cleanup_free_ char *stored_key = malloc(key_len);
        _cleanup_free_ struct sock_filter *prog = malloc(prog_size);
        if (!stored_key || !prog)
                return -ENOMEM;
        if (pread(fd, stored_key, key_len, sizeof(h)) != (ssize_t)key_len ||
            memcmp(stored_key, key, key_len) != 0)
                return -EBADMSG;
        if (pread(fd, prog, prog_size, (off_t)(sizeof(h) + key_len)) != (ssize_t)prog_size ||
            fnv1a(prog, prog_size) != h.prog_hash)
                return -EBADMSG;
        *ret = TAKE_PTR(prog);
        *ret_len = h.n_insns;
        return 0;
}

/* Written to a temporary name and renamed over: a reader sees the old file or the whole
 * new one, and concurrent helpers writing the same entry both write the same bytes. */
static int cache_store(int dirfd, const char *name, const char *key, uint64_t hash,
                       const struct sock_filter *prog, uint32_t len)
{
        char tmp[64];
        char rnd[17];
        int r = random_hex(rnd, 16);
        if (r < 0)
                return r;
        rnd[16] = '\0';
        snprintf(tmp, sizeof(tmp), ".tmp-%s", rnd);
        _cleanup_close_ int fd =
            openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        struct cache_header h = {.hash = hash,
                                 .prog_hash = fnv1a(prog, (size_t)len * sizeof(*prog)),
                                 .key_len = (uint32_t)strlen(key),
                                 .n_insns = len};
        memcpy(h.magic, CACHE_MAGIC, sizeof(h.magic));
        if (fchmod(fd, 0600) < 0) /* against an odd umask */
                r = -errno;
        if (r == 0)
                r = write_all(fd, &h, sizeof(h));
        if (r == 0)
                r = write_all(fd, key, h.key_len);
        if (r == 0)
                r = write_all(fd, prog, (size_t)len * sizeof(*prog));
        if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0)
                unlinkat(dirfd, tmp, 0);
        return r;
}

int seccomp_program_get(const struct config *c, const struct policy *p, struct sock_filter **ret,
                        uint32_t *ret_len, uint32_t *ret_flags, struct isolate_error *err)
{
        *ret = NULL;
        *ret_len = 0;
        *ret_flags = 0;
        _cleanup_free_ struct ruleset *rs = NULL;
        int r = ruleset_new(p, &rs, err);
        if (r < 0)
                return r;
        if (!rs->filter)
                return 0;
        /* errno-log: the kernel logs a refusal only of a filter loaded with this flag */
        if (rs->action == SECCOMP_ACTION_ERRNO_LOG)
                *ret_flags = SECCOMP_FILTER_FLAG_LOG;

        _cleanup_free_ char *key = cache_key(rs);
        if (!key)
                return error_set(err, ENOMEM, "out of memory");
        uint64_t hash = fnv1a(key, strlen(key));
        char name[32];
        snprintf(name, sizeof(name), "%016llx.bpf", (unsigned long long)hash);

        /* The cache only saves time: when it cannot be used, compile and go on. */
        _cleanup_close_ int dirfd =
            cache_dir_open(c && c->runtime_dir ? c->runtime_dir : DEFAULT_RUNTIME_DIR);
        if (dirfd >= 0 && cache_load(dirfd, name, key, hash, ret, ret_len) == 0)
                return 0;

        r = compile(rs, true, ret, ret_len, err);
        if (r < 0)
                return r;
        if (dirfd >= 0)
                (void)cache_store(dirfd, name, key, hash, *ret, *ret_len);
        return 0;
}

/* ---- explain --------------------------------------------------------------------------- */

void seccomp_strv_free(struct strv *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        s->v = NULL;
        s->n = 0;
}

static int strv_push(struct strv *s, char *str)
{
        if (!str)
                return -ENOMEM;
        char **v = realloc(s->v, (s->n + 2) * sizeof(*v));
        if (!v) {
                free(str);
                return -ENOMEM;
        }
        v[s->n++] = str;
        v[s->n] = NULL;
        s->v = v;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *refusal_name(enum seccomp_action a, const char *errno_name)
{
        switch (a) {
        case SECCOMP_ACTION_KILL:
                return "the process is killed";
        case SECCOMP_ACTION_LOG:
                return "allowed and logged";
        case SECCOMP_ACTION_ERRNO_LOG:
                return STREQ(errno_name, "EPERM") ? "EPERM, logged" : "EAFNOSUPPORT, logged";
        case SECCOMP_ACTION_ERRNO:
        default:
                return errno_name;
        }
}

static int effective_rules(const struct ruleset *rs, struct strv *rules)
{
        const struct conditions c = conditions_of(rs);
        const char *deny = refusal_name(rs->action, "EPERM");
        int r = 0;

        if (c.clone && r == 0)
                r = strv_push(rules, strdup_printf("clone: allowed without CLONE_NEW* flags; with "
                                                   "them: %s",
                                                   deny));
        if (c.clone3_enosys && r == 0)
                r = strv_push(rules, strdup("clone3: ENOSYS (libc falls back to clone)"));
        if (c.ioctl && r == 0)
                r = strv_push(rules, strdup_printf("ioctl: allowed except TIOCSTI and TIOCLINUX "
                                                   "(low 32 bits of the command compared): %s",
                                                   deny));
        if (c.socket && r == 0)
                r = strv_push(rules,
                              strdup_printf("socket: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK; "
                                            "other families: %s",
                                            refusal_name(rs->action, "EAFNOSUPPORT")));
        if (c.personality && r == 0)
                r = strv_push(rules, strdup_printf("personality: PER_LINUX, PER_LINUX32, UNAME26, "
                                                   "ADDR_NO_RANDOMIZE and combinations, 0xffffffff "
                                                   "(query); other values: %s",
                                                   deny));
        if (r < 0)
                return r;

        /* the known calls that are refused, by name, sorted */
        _cleanup_(seccomp_strv_free) struct strv denied = {0};
        for (int nr = 0; nr < NR_LIMIT && r == 0; nr++) {
                char name[64];
                if (!rs->allowed[nr] && !is_conditional(rs, nr) && nr_known(nr, name, sizeof(name)))
                        r = strv_push(&denied, strdup(name));
        }
        if (r < 0)
                return r;
        if (denied.n > 0) {
                qsort(denied.v, denied.n, sizeof(*denied.v), cmp_str);
                char *buf = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&buf, &len);
                if (!f)
                        return -ENOMEM;
                fprintf(f, "denied (%s):", deny);
                for (size_t i = 0; i < denied.n; i++)
                        fprintf(f, "%s %s", i ? "," : "", denied.v[i]);
                if (fclose(f) != 0) {
                        free(buf);
                        return -ENOMEM;
                }
                r = strv_push(rules, buf);
        }
        if (r == 0)
                r = strv_push(
                    rules, strdup_printf("calls newer than libseccomp %u.%u.%u knows: %s",
                                         seccomp_version()->major, seccomp_version()->minor,
                                         seccomp_version()->micro,
                                         rs->action == SECCOMP_ACTION_LOG ? "allowed and logged"
                                         : rs->action == SECCOMP_ACTION_ERRNO_LOG ? "ENOSYS, logged"
                                                                                  : "ENOSYS"));
        if (r == 0)
                r = strv_push(rules, strdup("non-native ABIs (i386, x32): the process is killed"));
        return r;
}

int seccomp_effective(const struct policy *p, struct strv *ret_allowed, struct strv *ret_rules,
                      struct isolate_error *err)
{
        _cleanup_(seccomp_strv_free) struct strv allowed = {0};
        _cleanup_(seccomp_strv_free) struct strv rules = {0};
        _cleanup_free_ struct ruleset *rs = NULL;
        int r = ruleset_new(p, &rs, err);
        if (r < 0)
                return r;
        if (!rs->filter)
                r = strv_push(&rules, strdup("no seccomp filter (seccomp base none)"));
        else {
                for (int nr = 0; nr < NR_LIMIT && r == 0; nr++) {
                        char name[64];
                        if (rs->allowed[nr] && !is_conditional(rs, nr) &&
                            nr_known(nr, name, sizeof(name)))
                                r = strv_push(&allowed, strdup(name));
                }
                if (r == 0 && allowed.n > 0)
                        qsort(allowed.v, allowed.n, sizeof(*allowed.v), cmp_str);
                if (r == 0)
                        r = effective_rules(rs, &rules);
        }
        if (r < 0)
                return error_set(err, r, "out of memory");
        *ret_allowed = allowed;
        *ret_rules = rules;
        allowed = (struct strv){0};
        rules = (struct strv){0};
        return 0;
}

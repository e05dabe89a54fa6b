/* egress.c: egress_allow in the kernel. Four cgroup BPF sock_addr programs, one per hook
 * (connect4, connect6, sendmsg4, sendmsg6), look every TCP or UDP connect and every UDP
 * send to an address up in a map of the allowed destinations; the kernel gives the caller
 * EPERM when a program says no.
 *
 * What is judged. A TCP connect (TCP Fast Open's sendto included: it connects through the
 * same hook), a UDP connect and a UDP sendto/sendmsg with an address, IPv4 and IPv6. A
 * v4-mapped IPv6 destination (::ffff:192.0.2.1 on an AF_INET6 socket) is looked up as it
 * is, and IPv4 ones are turned into v4-mapped first, so both meet the same entries.
 * Not judged: sockets created before the process joined the cgroup (a socket belongs to
 * the cgroup it was created in) or passed in from outside; ICMP sent by ping sockets
 * without connect; raw sockets (they need CAP_NET_RAW, which the bounding set takes). A
 * connect of any protocol but TCP and UDP that reaches these hooks (ping sockets, SCTP) is
 * refused: it cannot be matched against a port rule, and refusing is the safe side.
 *
 * The map. An LPM trie keyed by {prefixlen, protocol, 0, port, address[16]}: protocol and
 * port always match exactly (the first 32 bits of every entry), the address by its
 * prefix, so an entry's prefixlen is 32 + the network's prefix on the IPv6 scale. An entry
 * for both protocols is stored twice (TCP, UDP); every port is port 0. A destination is
 * looked up twice, with its port and with port 0: allowed when either finds an entry.
 * The trie sits in slot 0 of a one-slot array of maps, so that egress_map_replace() can
 * swap a whole new rule set in with one update: a connect sees the old set or the new one,
 * never half of each, and nothing is reloaded. The trie is read-only to the programs.
 *
 * Attach flags: BPF_F_ALLOW_MULTI. Never BPF_F_ALLOW_OVERRIDE, under which a program
 * attached to a descendant cgroup replaces ours for everything below it. Not flags 0
 * either: a second attach with flags 0 at the same cgroup silently replaces the program
 * there, and a detach that names no program removes it. With MULTI a descendant can only
 * add programs; all of them run, descendants' first, so ours, last, sees the address
 * after any rewrite and its "no" stands (any program's 0 refuses the call); and a detach
 * must name the program by an fd of it.
 * Who can detach: whoever holds a program's fd and an fd of the cgroup directory; Linux
 * 6.x asks no capability more (tests/unit/test_egress.c shows it for uid 65534). Nobody
 * but us has one: BPF_PROG_GET_FD_BY_ID needs CAP_SYS_ADMIN, these fds are O_CLOEXEC and
 * the helper must close them before anything of the session runs; and the session's
 * seccomp filter denies bpf(2) to it, root (the sshd monitor) included.
 *
 * Why raw bpf(2) and not libbpf: the programs are ~40 instructions that only read the
 * socket address and call one helper, so there is no C to compile, no BTF, no relocation:
 * nothing libbpf would do for us but the few bpf(2) calls below. The helper runs once per
 * login and links its libraries statically to start fast, and the design admits no
 * run-time library beyond PAM, libseccomp, libcap, libsystemd and libconfuse; libbpf (with
 * libelf and zlib under it) would add start-up cost and a dependency for those calls. The
 * instruction macros are our own, after the encoding in <linux/bpf.h> (struct bpf_insn).
 *
 * The log (egress_log, egress-log.h). On a refusal a program writes a struct egress_event
 * (destination, protocol, why, and the process: host pid, uid, comm) into a BPF ring buffer
 * with bpf_ringbuf_output, and when the ring is full adds one to a counter instead; the
 * session's init reads both and syslogs, rate-limited. No daemon, nothing on the allowed
 * path: an allowed connect runs exactly the instructions it ran without the log. The
 * helpers are the ones the kernel gives cgroup sock_addr programs: ringbuf_output and
 * map_lookup_elem (every program type, Linux >= 5.8), get_current_pid_tgid,
 * get_current_uid_gid and get_current_comm (cgroup programs; all three on 6.x, not all on
 * every older kernel): where the verifier refuses a program that calls them, it is loaded
 * without the process's fields, and where it refuses the ring too, without a log: the
 * filter is what must not fail (egress_bpf.log_level says which; the helper warns).
 * Holding the ring's or the counter's fd gives no power over the filter: BPF_PROG_DETACH of
 * a BPF_F_ALLOW_MULTI program takes a program's fd and refuses anything else (EINVAL;
 * tests/unit/test_egress.c shows it for uid 65534 holding both maps and the cgroup).
 *
 * Kernel: Linux >= 5.10 for an LPM trie inside an array of maps; CONFIG_BPF_SYSCALL and
 * CONFIG_CGROUP_BPF. On hybrid hosts, kernels before 5.15 stopped matching sockets to their
 * cgroup2 cgroup once net_cls or net_prio v1 was used; since 5.15 they are independent. */
#include "egress.h"

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel asks every program for a license string; only GPL-compatible programs may call
 * GPL-only helpers, and these call none (map_lookup_elem is not). */
#define EGRESS_LICENSE "GPL"

#define MAP_NAME       "isolate_egress"
#define RULES_MAP_NAME "isolate_rules"
#define RING_MAP_NAME  "isolate_elog"
#define DROP_MAP_NAME  "isolate_edrop"

/* ---- the map's key --------------------------------------------------------------------- */

struct egress_key {
        uint32_t prefixlen; /* bits of what follows that an entry matches */
        uint8_t proto;      /* IPPROTO_TCP or IPPROTO_UDP */
        uint8_t zero;       /* always 0: keeps port and address aligned for the programs */
        uint16_t port;      /* network byte order; 0 in an entry: every port */
        uint8_t addr[16];   /* IPv6; IPv4 as v4-mapped */
};
_Static_assert(sizeof(struct egress_key) == 24, "no padding in the key");

#define KEY_EXACT_BITS 32 /* proto, zero, port: always matched whole */
#define KEY_ALL_BITS   (KEY_EXACT_BITS + 128)
#define RULES_MAX      (2 * EGRESS_MAX_RULES) /* an entry for both protocols is two */

/* ---- bpf(2) ------------------------------------------------------------------------------ */

static uint64_t ptr_u64(const void *p)
{
        return (uint64_t)(uintptr_t)p;
}

static int bpf_call(enum bpf_cmd cmd, union bpf_attr *attr)
{
        long r;
        do
                r = syscall(__NR_bpf, cmd, attr, sizeof(*attr));
        while (r < 0 && errno == EINTR);
        return r < 0 ? -errno : (int)r;
}

static int map_create(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t max,
                      uint32_t flags, int inner_fd, const char *name)
{
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.map_type = type;
        a.key_size = key_size;
        a.value_size = value_size;
        a.max_entries = max;
        a.map_flags = flags;
        a.inner_map_fd = inner_fd >= 0 ? (uint32_t)inner_fd : 0;
        snprintf(a.map_name, sizeof(a.map_name), "%s", name);
        return bpf_call(BPF_MAP_CREATE, &a);
}

static int map_update(int fd, const void *key, const void *value)
{
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.map_fd = (uint32_t)fd;
        a.key = ptr_u64(key);
        a.value = ptr_u64(value);
        a.flags = BPF_ANY;
        return bpf_call(BPF_MAP_UPDATE_ELEM, &a);
}

static int obj_info(int fd, void *info, uint32_t len)
{
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.info.bpf_fd = (uint32_t)fd;
        a.info.info_len = len;
        a.info.info = ptr_u64(info);
        return bpf_call(BPF_OBJ_GET_INFO_BY_FD, &a);
}

/* What a failed bpf(2) says about the host, for the messages below. */
static int bpf_error(struct isolate_error *err, int r, const char *what)
{
        if (r == -ENOSYS) {
                error_set(err, r,
                          "%s: the kernel has no bpf(2); egress_allow needs a kernel "
                          "built with CONFIG_BPF_SYSCALL=y and CONFIG_CGROUP_BPF=y",
                          what);
                return error_host_fault(err);
        }
        if (r == -EPERM) {
                error_set(err, r,
                          "%s: bpf(2) is not permitted; the helper needs CAP_BPF and "
                          "CAP_NET_ADMIN (it runs as root: is it confined by a seccomp "
                          "filter or a container that denies bpf?)",
                          what);
                return error_host_fault(err);
        }
        return error_set_errno(err, r, "%s", what);
}

/* ---- the rule set -------------------------------------------------------------------------- */

/* The map entries of one rule: one per protocol it allows. */
static size_t rule_keys(const struct egress_rule *rule, struct egress_key ret[2])
{
        static const uint8_t both[] = {IPPROTO_TCP, IPPROTO_UDP};
        static const uint8_t tcp[] = {IPPROTO_TCP}, udp[] = {IPPROTO_UDP};
        const uint8_t *protos = rule->proto == EGRESS_PROTO_TCP   ? tcp
                                : rule->proto == EGRESS_PROTO_UDP ? udp
                                                                  : both;
        size_t n = rule->proto == EGRESS_PROTO_ANY ? 2 : 1;

        for (size_t i = 0; i < n; i++) {
                ret[i] = (struct egress_key){
                    .prefixlen = KEY_EXACT_BITS + rule->net.prefix,
                    .proto = protos[i],
                    .port = htons(rule->port),
                };
                memcpy(ret[i].addr, rule->net.addr.s6_addr, sizeof(ret[i].addr));
        }
        return n;
}

/* A new trie holding allow's rules; its fd in *ret_fd. */
static int rules_map_new(const struct egress_allow *allow, int *ret_fd, struct isolate_error *err)
{
        if (allow->n > EGRESS_MAX_RULES)
                return error_set(err, E2BIG, "egress_allow has %zu entries, at most %d are taken",
                                 allow->n, EGRESS_MAX_RULES);
        _cleanup_close_ int fd =
            map_create(BPF_MAP_TYPE_LPM_TRIE, sizeof(struct egress_key), sizeof(uint32_t),
                       RULES_MAX, BPF_F_NO_PREALLOC | BPF_F_RDONLY_PROG, -1, RULES_MAP_NAME);
        if (fd == -EINVAL) {
                error_set(err, EINVAL,
                          "cannot create the egress rule map: the kernel has no LPM trie "
                          "maps (egress_allow needs Linux >= 5.10)");
                return error_host_fault(err);
        }
        if (fd < 0)
                return bpf_error(err, fd, "cannot create the egress rule map");

        for (size_t i = 0; i < allow->n; i++) {
                struct egress_key keys[2];
                uint32_t index = (uint32_t)i; /* which entry allowed it, for bpftool map dump */
                size_t n = rule_keys(&allow->rules[i], keys);
                for (size_t k = 0; k < n; k++) {
                        int r = map_update(fd, &keys[k], &index);
                        if (r < 0) {
                                char text[EGRESS_RULE_TEXT_MAX];
                                format_egress_rule(&allow->rules[i], text, sizeof(text));
                                return error_set_errno(err, r,
                                                       "cannot add egress_allow entry \"%s\" to "
                                                       "the rule map",
                                                       text);
                        }
                }
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* ---- the programs -------------------------------------------------------------------------- */

/* Instructions, as struct bpf_insn encodes them. */
#define INSN(c, d, s, o, i)                                                                        \
        ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define MOV_REG(d, s)          INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i)          INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADD_IMM(d, i)          INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define LOAD(sz, d, s, o)      INSN(BPF_LDX | BPF_MEM | (sz), d, s, o, 0) /* d = *(sz *)(s + o) */
#define STORE(sz, d, o, s)     INSN(BPF_STX | BPF_MEM | (sz), d, s, o, 0) /* *(sz *)(d + o) = s */
#define STORE_IMM(sz, d, o, i) INSN(BPF_ST | BPF_MEM | (sz), d, 0, o, i)
#define JEQ_IMM(d, i)          INSN(BPF_JMP | BPF_JEQ | BPF_K, d, 0, 0, i) /* target: asm_jump */
#define JNE_IMM(d, i)          INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, 0, i)
#define JA()                   INSN(BPF_JMP | BPF_JA, 0, 0, 0, 0)
#define CALL(f)                INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT()                 INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
/* *(u64 *)(d + o) += s, atomically (BPF_XADD of older headers) */
#define ATOMIC_ADD64(d, o, s) INSN(BPF_STX | BPF_ATOMIC | BPF_DW, d, s, o, BPF_ADD)
/* a map's fd into a register: two instructions, the second holds the upper 32 bits (0) */
#define LOAD_MAP_FD(d, fd) INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd)
#define LOAD_IMM64_HIGH()  INSN(0, 0, 0, 0, 0)

#define R0  BPF_REG_0
#define R1  BPF_REG_1
#define R2  BPF_REG_2
#define R3  BPF_REG_3
#define R4  BPF_REG_4
#define R6  BPF_REG_6
#define R7  BPF_REG_7
#define R8  BPF_REG_8
#define RFP BPF_REG_10

/* The stack: the key at fp-24, the outer map's index (0) below it, the log's event below
 * that (8-byte aligned). */
#define STACK_KEY   (-(int)sizeof(struct egress_key))
#define STACK_INDEX (STACK_KEY - 4)
#define STACK_EVENT (STACK_INDEX - 4 - (int)sizeof(struct egress_event))
#define KEY_AT(f)   (STACK_KEY + (int)offsetof(struct egress_key, f))
#define EV_AT(f)    (STACK_EVENT + (int)offsetof(struct egress_event, f))
#define CTX(f)      ((int)offsetof(struct bpf_sock_addr, f))
_Static_assert(STACK_EVENT % 8 == 0, "the event's u64 fields are stored aligned");

enum label {
        L_PROTO_OK,
        L_DENY,
        L_DENY_PROTO,
        L_DENY_NO_RULES,
        L_LOG,
        L_REFUSE,
        L_ALLOW,
        N_LABELS
};

#define PROG_MAX 160

/* A program being written, with forward jumps to labels patched when placed. */
struct asm_buf {
        struct bpf_insn insn[PROG_MAX];
        size_t n;
        struct {
                size_t at;
                enum label to;
        } jumps[16];
        size_t n_jumps;
        bool overflow;
};

static void asm_put(struct asm_buf *a, struct bpf_insn insn)
{
        if (a->n >= PROG_MAX) {
                a->overflow = true;
                return;
        }
        a->insn[a->n++] = insn;
}

static void asm_jump(struct asm_buf *a, struct bpf_insn insn, enum label to)
{
        if (a->n_jumps >= ELEMENTSOF(a->jumps)) {
                a->overflow = true;
                return;
        }
        a->jumps[a->n_jumps].at = a->n;
        a->jumps[a->n_jumps++].to = to;
        asm_put(a, insn);
}

static void asm_label(struct asm_buf *a, enum label l)
{
        for (size_t i = 0; i < a->n_jumps; i++)
                if (a->jumps[i].to == l && a->jumps[i].at < a->n)
                        a->insn[a->jumps[i].at].off = (int16_t)(a->n - a->jumps[i].at - 1);
}

static const struct hook_info {
        const char *name; /* the program's name, for bpftool and egress_map_find */
        enum bpf_attach_type attach;
        bool v6;
} hooks[EGRESS_N_HOOKS] = {
    [EGRESS_CONNECT4] = {"isolate_conn4", BPF_CGROUP_INET4_CONNECT, false},
    [EGRESS_CONNECT6] = {"isolate_conn6", BPF_CGROUP_INET6_CONNECT, true},
    [EGRESS_SENDMSG4] = {"isolate_send4", BPF_CGROUP_UDP4_SENDMSG, false},
    [EGRESS_SENDMSG6] = {"isolate_send6", BPF_CGROUP_UDP6_SENDMSG, true},
};

/* The destination's address (IPv4 as ::ffff:a.b.c.d) from the context in r6 to fp + at. */
static void put_address(struct asm_buf *a, bool v6, int at)
{
        if (v6) {
                for (int i = 0; i < 4; i++) {
                        asm_put(a, LOAD(BPF_W, R2, R6, CTX(user_ip6) + 4 * i));
                        asm_put(a, STORE(BPF_W, RFP, at + 4 * i, R2));
                }
        } else {
                asm_put(a, STORE_IMM(BPF_W, RFP, at, 0));
                asm_put(a, STORE_IMM(BPF_W, RFP, at + 4, 0));
                asm_put(a, STORE_IMM(BPF_W, RFP, at + 8, (int32_t)htonl(0xffff)));
                asm_put(a, LOAD(BPF_W, R2, R6, CTX(user_ip4)));
                asm_put(a, STORE(BPF_W, RFP, at + 12, R2));
        }
}

/* The refusal, reason in r8: a struct egress_event into the ring (level TASK: with the
 * process), or one more in the counter when the ring is full. Then r0 = 0. */
static void log_refusal(struct asm_buf *a, bool v6, enum egress_log_level level,
                        const struct egress_log *elog)
{
        /* every byte the ring gets is written first (the verifier wants it, and no stack
         * garbage reaches the reader) */
        for (int o = 0; o < (int)sizeof(struct egress_event); o += 8)
                asm_put(a, STORE_IMM(BPF_DW, RFP, STACK_EVENT + o, 0));
        put_address(a, v6, EV_AT(addr));
        asm_put(a, LOAD(BPF_W, R2, R6, CTX(user_port)));
        asm_put(a, STORE(BPF_H, RFP, EV_AT(port), R2));
        asm_put(a, LOAD(BPF_W, R2, R6, CTX(protocol)));
        asm_put(a, STORE(BPF_B, RFP, EV_AT(proto), R2));
        asm_put(a, STORE(BPF_B, RFP, EV_AT(reason), R8));
        asm_put(a, STORE_IMM(BPF_B, RFP, EV_AT(v6), v6));
        if (level >= EGRESS_LOG_TASK) {
                asm_put(a, STORE_IMM(BPF_B, RFP, EV_AT(task), 1));
                asm_put(a, CALL(BPF_FUNC_get_current_pid_tgid));
                asm_put(a, STORE(BPF_DW, RFP, EV_AT(pid_tgid), R0));
                asm_put(a, CALL(BPF_FUNC_get_current_uid_gid));
                asm_put(a, STORE(BPF_DW, RFP, EV_AT(uid_gid), R0));
                asm_put(a, MOV_REG(R1, RFP));
                asm_put(a, ADD_IMM(R1, EV_AT(comm)));
                asm_put(a, MOV_IMM(R2, sizeof(((struct egress_event *)0)->comm)));
                asm_put(a, CALL(BPF_FUNC_get_current_comm));
        }
        asm_put(a, LOAD_MAP_FD(R1, elog->ring_fd));
        asm_put(a, LOAD_IMM64_HIGH());
        asm_put(a, MOV_REG(R2, RFP));
        asm_put(a, ADD_IMM(R2, STACK_EVENT));
        asm_put(a, MOV_IMM(R3, sizeof(struct egress_event)));
        asm_put(a, MOV_IMM(R4, 0)); /* wake the reader when it has caught up */
        asm_put(a, CALL(BPF_FUNC_ringbuf_output));
        asm_jump(a, JEQ_IMM(R0, 0), L_REFUSE);

        /* no room: counted, so that the log can say how many it never saw */
        asm_put(a, STORE_IMM(BPF_W, RFP, STACK_INDEX, 0));
        asm_put(a, LOAD_MAP_FD(R1, elog->dropped_fd));
        asm_put(a, LOAD_IMM64_HIGH());
        asm_put(a, MOV_REG(R2, RFP));
        asm_put(a, ADD_IMM(R2, STACK_INDEX));
        asm_put(a, CALL(BPF_FUNC_map_lookup_elem));
        asm_jump(a, JEQ_IMM(R0, 0), L_REFUSE);
        asm_put(a, MOV_IMM(R1, 1));
        asm_put(a, ATOMIC_ADD64(R0, 0, R1));
}

/* r6 = ctx; refuse what is neither TCP nor UDP; key = {160, protocol, 0, port, address};
 * allowed if the trie in slot 0 of map_fd holds the key, or the key with port 0. A refusal
 * is logged (level > OFF) on its way out; an allowed destination never reaches that code. */
static void egress_program(struct asm_buf *a, bool v6, int map_fd, enum egress_log_level level,
                           const struct egress_log *elog)
{
        asm_put(a, MOV_REG(R6, R1));
        asm_put(a, LOAD(BPF_W, R2, R6, CTX(protocol)));
        asm_jump(a, JEQ_IMM(R2, IPPROTO_TCP), L_PROTO_OK);
        asm_jump(a, JNE_IMM(R2, IPPROTO_UDP), L_DENY_PROTO);
        asm_label(a, L_PROTO_OK);

        asm_put(a, STORE_IMM(BPF_W, RFP, KEY_AT(prefixlen), KEY_ALL_BITS));
        asm_put(a, STORE(BPF_B, RFP, KEY_AT(proto), R2));
        asm_put(a, STORE_IMM(BPF_B, RFP, KEY_AT(zero), 0));
        /* user_port holds the port as sin_port has it (network order) in its low 16 bits */
        asm_put(a, LOAD(BPF_W, R2, R6, CTX(user_port)));
        asm_put(a, STORE(BPF_H, RFP, KEY_AT(port), R2));
        put_address(a, v6, KEY_AT(addr));

        /* r7 = the live trie (none: refuse, the safe side) */
        asm_put(a, STORE_IMM(BPF_W, RFP, STACK_INDEX, 0));
        asm_put(a, LOAD_MAP_FD(R1, map_fd));
        asm_put(a, LOAD_IMM64_HIGH());
        asm_put(a, MOV_REG(R2, RFP));
        asm_put(a, ADD_IMM(R2, STACK_INDEX));
        asm_put(a, CALL(BPF_FUNC_map_lookup_elem));
        asm_jump(a, JEQ_IMM(R0, 0), L_DENY_NO_RULES);
        asm_put(a, MOV_REG(R7, R0));

        /* this port, then every port */
        for (int pass = 0; pass < 2; pass++) {
                if (pass == 1)
                        asm_put(a, STORE_IMM(BPF_H, RFP, KEY_AT(port), 0));
                asm_put(a, MOV_REG(R1, R7));
                asm_put(a, MOV_REG(R2, RFP));
                asm_put(a, ADD_IMM(R2, STACK_KEY));
                asm_put(a, CALL(BPF_FUNC_map_lookup_elem));
                asm_jump(a, JNE_IMM(R0, 0), L_ALLOW);
        }

        /* refused: r8 = why */
        asm_label(a, L_DENY);
        asm_put(a, MOV_IMM(R8, EGRESS_REFUSED_NOT_LISTED));
        asm_jump(a, JA(), L_LOG);
        asm_label(a, L_DENY_PROTO);
        asm_put(a, MOV_IMM(R8, EGRESS_REFUSED_PROTOCOL));
        asm_jump(a, JA(), L_LOG);
        asm_label(a, L_DENY_NO_RULES);
        asm_put(a, MOV_IMM(R8, EGRESS_REFUSED_NO_RULES));
        asm_label(a, L_LOG);
        if (level > EGRESS_LOG_OFF)
                log_refusal(a, v6, level, elog);
        asm_label(a, L_REFUSE);
        asm_put(a, MOV_IMM(R0, 0)); /* the caller gets EPERM */
        asm_put(a, EXIT());
        asm_label(a, L_ALLOW);
        asm_put(a, MOV_IMM(R0, 1));
        asm_put(a, EXIT());
}

static int prog_load(enum egress_hook h, const struct asm_buf *a, char *log, size_t log_len)
{
        union bpf_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
        attr.expected_attach_type = hooks[h].attach;
        attr.insns = ptr_u64(a->insn);
        attr.insn_cnt = (uint32_t)a->n;
        attr.license = ptr_u64(EGRESS_LICENSE);
        if (log) {
                log[0] = '\0';
                attr.log_buf = ptr_u64(log);
                attr.log_size = (uint32_t)log_len;
                attr.log_level = 1;
        }
        snprintf(attr.prog_name, sizeof(attr.prog_name), "%s", hooks[h].name);
        int r = -EAGAIN;
        /* the verifier gives EAGAIN when interrupted by a signal; try again, as libbpf does */
        for (int tries = 0; tries < 5 && r == -EAGAIN; tries++)
                r = bpf_call(BPF_PROG_LOAD, &attr);
        return r;
}

/* The end of the verifier's log, one line: its last lines say why. */
static void log_tail(const char *log, char *buf, size_t len)
{
        size_t n = strlen(log);
        while (n > 0 && (log[n - 1] == '\n' || log[n - 1] == ' '))
                n--;
        size_t start = n > len - 1 ? n - (len - 1) : 0;
        size_t o = 0;
        for (size_t i = start; i < n && o + 1 < len; i++)
                buf[o++] = log[i] == '\n' ? '|' : log[i];
        buf[o] = '\0';
}

static int load_one(enum egress_hook h, int map_fd, enum egress_log_level level,
                    const struct egress_log *elog, int *ret_fd, struct isolate_error *err)
{
        struct asm_buf a = {0};
        egress_program(&a, hooks[h].v6, map_fd, level, elog);
        if (a.overflow)
                return error_set(err, ENOBUFS, "egress program %s: longer than %d instructions",
                                 hooks[h].name, PROG_MAX);

        int fd = prog_load(h, &a, NULL, 0);
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        if (fd == -EPERM || fd == -ENOSYS)
                return bpf_error(err, fd, "cannot load the egress program");

        /* again, for the verifier's words */
        const size_t log_len = 64 * 1024;
        _cleanup_free_ char *log = malloc(log_len);
        int r = fd;
        if (log) {
                r = prog_load(h, &a, log, log_len);
                if (r >= 0) { /* it went through the second time */
                        *ret_fd = r;
                        return 0;
                }
        }
        if (!log || log[0] == '\0') {
                if (r == -EINVAL) {
                        error_set(err, r,
                                  "cannot load the egress program %s: the kernel does "
                                  "not take cgroup sock_addr programs; egress_allow "
                                  "needs CONFIG_CGROUP_BPF=y (Linux >= 5.10)",
                                  hooks[h].name);
                        return error_host_fault(err);
                }
                return error_set_errno(err, r, "cannot load the egress program %s", hooks[h].name);
        }
        char tail[400];
        log_tail(log, tail, sizeof(tail));
        error_set(err, r,
                  "the kernel's verifier refused the egress program %s (%s); it said: "
                  "...%s",
                  hooks[h].name, strerror(-r), tail);
        return error_host_fault(err);
}

/* ---- the entry points ------------------------------------------------------------------------ */

void egress_close(struct egress_bpf *e)
{
        if (!e)
                return;
        closep(&e->map_fd);
        for (int h = 0; h < EGRESS_N_HOOKS; h++)
                closep(&e->prog_fd[h]);
        *e = EGRESS_BPF_NONE;
}

int egress_load(const struct egress_allow *allow, const struct egress_log *elog,
                struct egress_bpf *ret, struct isolate_error *err)
{
        *ret = EGRESS_BPF_NONE;
        if (!allow || !allow->filtered)
                return error_set(err, EINVAL, "egress_load: the policy has no egress_allow");

        _cleanup_close_ int rules = -1;
        int r = rules_map_new(allow, &rules, err);
        if (r < 0)
                return r;

        _cleanup_(egress_close) struct egress_bpf e = EGRESS_BPF_NONE;
        e.map_fd = map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, sizeof(uint32_t), sizeof(uint32_t), 1, 0,
                              rules, MAP_NAME);
        if (e.map_fd == -EINVAL) {
                error_set(err, EINVAL,
                          "cannot create the egress map: the kernel does not take an LPM "
                          "trie inside an array of maps (egress_allow needs Linux >= "
                          "5.10)");
                return error_host_fault(err);
        }
        if (e.map_fd < 0)
                return bpf_error(err, e.map_fd, "cannot create the egress map");
        uint32_t slot = 0, inner = (uint32_t)rules;
        r = map_update(e.map_fd, &slot, &inner);
        if (r < 0)
                return bpf_error(err, r, "cannot put the rule map into the egress map");

        /* the richest log this kernel takes; the filter itself in any case */
        enum egress_log_level level =
            elog && elog->ring_fd >= 0 && elog->dropped_fd >= 0 ? EGRESS_LOG_TASK : EGRESS_LOG_OFF;
        for (;;) {
                r = load_one(EGRESS_CONNECT4, e.map_fd, level, elog, &e.prog_fd[EGRESS_CONNECT4],
                             err);
                if (r >= 0 || level == EGRESS_LOG_OFF || (r != -EINVAL && r != -EACCES))
                        break;
                level--;
        }
        if (r < 0)
                return r;
        for (int h = EGRESS_CONNECT4 + 1; h < EGRESS_N_HOOKS; h++) {
                r = load_one((enum egress_hook)h, e.map_fd, level, elog, &e.prog_fd[h], err);
                if (r < 0)
                        return r;
        }
        e.log_level = level;
        *ret = e;
        e = EGRESS_BPF_NONE;
        return 0;
}

static int prog_attach(int cmd, int cgroup_fd, int prog_fd, enum bpf_attach_type type)
{
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.target_fd = (uint32_t)cgroup_fd;
        a.attach_bpf_fd = (uint32_t)prog_fd;
        a.attach_type = type;
        a.attach_flags = cmd == BPF_PROG_ATTACH ? BPF_F_ALLOW_MULTI : 0;
        return bpf_call(cmd, &a);
}

int egress_detach(const struct egress_bpf *e, int cgroup_fd, struct isolate_error *err)
{
        int first = 0;
        for (int h = 0; h < EGRESS_N_HOOKS; h++) {
                if (e->prog_fd[h] < 0)
                        continue;
                int r = prog_attach(BPF_PROG_DETACH, cgroup_fd, e->prog_fd[h], hooks[h].attach);
                if (r < 0 && r != -ENOENT && first == 0) {
                        first = r;
                        error_set_errno(err, r, "cannot detach the egress program %s",
                                        hooks[h].name);
                }
        }
        return first;
}

int egress_attach(const struct egress_bpf *e, int cgroup_fd, struct isolate_error *err)
{
        for (int h = 0; h < EGRESS_N_HOOKS; h++) {
                int r = prog_attach(BPF_PROG_ATTACH, cgroup_fd, e->prog_fd[h], hooks[h].attach);
                if (r == 0)
                        continue;
                /* all or nothing: a session with TCP filtered but not UDP is no sandbox */
                struct egress_bpf attached = EGRESS_BPF_NONE;
                for (int k = 0; k < h; k++)
                        attached.prog_fd[k] = e->prog_fd[k];
                (void)egress_detach(&attached, cgroup_fd, NULL);

                if (r == -EBADF || r == -ENOTDIR)
                        return error_set(err, r,
                                         "cannot attach the egress program %s: the cgroup is "
                                         "not a directory of the cgroup2 hierarchy (v1 cgroups "
                                         "take no BPF programs; on a hybrid host use the cgroup "
                                         "under /sys/fs/cgroup/unified)",
                                         hooks[h].name);
                if (r == -EPERM)
                        return error_set(err, r,
                                         "cannot attach the egress program %s: not permitted; "
                                         "either an ancestor cgroup has a program of this kind "
                                         "attached that allows none below it (without "
                                         "BPF_F_ALLOW_MULTI; see bpftool cgroup tree), or the "
                                         "helper lacks CAP_NET_ADMIN",
                                         hooks[h].name);
                if (r == -EINVAL) {
                        error_set(err, r,
                                  "cannot attach the egress program %s: the kernel does "
                                  "not know this attach type (egress_allow needs "
                                  "CONFIG_CGROUP_BPF=y, Linux >= 5.10)",
                                  hooks[h].name);
                        return error_host_fault(err);
                }
                return error_set_errno(err, r, "cannot attach the egress program %s",
                                       hooks[h].name);
        }
        return 0;
}

int egress_map_replace(int map_fd, const struct egress_allow *allow, struct isolate_error *err)
{
        if (!allow || !allow->filtered)
                return error_set(err, EINVAL,
                                 "egress_map_replace: the policy has no egress_allow (to lift the "
                                 "filter of a live sandbox, detach its programs)");
        _cleanup_close_ int rules = -1;
        int r = rules_map_new(allow, &rules, err);
        if (r < 0)
                return r;
        uint32_t slot = 0, inner = (uint32_t)rules;
        r = map_update(map_fd, &slot, &inner);
        if (r < 0)
                return error_set_errno(err, r,
                                       "cannot swap the new rule set into the egress map (is the "
                                       "fd the egress map of egress_load or egress_map_find?)");
        return 0;
}

/* The maps of our connect4 program attached to cgroup_fd: for each of want[] (a map type
 * and name), its fd in ret[] (-1 when the program has none such). -ENOENT when no program of
 * ours is attached there. */
struct map_want {
        uint32_t type;
        const char *name;
};

static int prog_maps_find(int cgroup_fd, const struct map_want *want, size_t n_want, int *ret,
                          struct isolate_error *err)
{
        for (size_t w = 0; w < n_want; w++)
                ret[w] = -1;
        uint32_t ids[64];
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.query.target_fd = (uint32_t)cgroup_fd;
        a.query.attach_type = hooks[EGRESS_CONNECT4].attach;
        a.query.prog_ids = ptr_u64(ids);
        a.query.prog_cnt = ELEMENTSOF(ids);
        int r = bpf_call(BPF_PROG_QUERY, &a);
        if (r < 0 && r != -ENOSPC) /* ENOSPC: more than 64; ours, attached early, are among them */
                return bpf_error(err, r, "cannot list the cgroup's connect4 programs");
        uint32_t n = a.query.prog_cnt < ELEMENTSOF(ids) ? a.query.prog_cnt : ELEMENTSOF(ids);

        for (uint32_t i = 0; i < n; i++) {
                memset(&a, 0, sizeof(a));
                a.prog_id = ids[i];
                _cleanup_close_ int prog = bpf_call(BPF_PROG_GET_FD_BY_ID, &a);
                if (prog < 0)
                        continue; /* detached meanwhile */
                uint32_t map_ids[8] = {0};
                struct bpf_prog_info info;
                memset(&info, 0, sizeof(info));
                info.nr_map_ids = ELEMENTSOF(map_ids);
                info.map_ids = ptr_u64(map_ids);
                if (obj_info(prog, &info, sizeof(info)) < 0 ||
                    strcmp(info.name, hooks[EGRESS_CONNECT4].name) != 0)
                        continue;
                uint32_t n_maps =
                    info.nr_map_ids < ELEMENTSOF(map_ids) ? info.nr_map_ids : ELEMENTSOF(map_ids);
                for (uint32_t m = 0; m < n_maps; m++) {
                        memset(&a, 0, sizeof(a));
                        a.map_id = map_ids[m];
                        _cleanup_close_ int map = bpf_call(BPF_MAP_GET_FD_BY_ID, &a);
                        if (map < 0)
                                continue;
                        struct bpf_map_info minfo;
                        memset(&minfo, 0, sizeof(minfo));
                        if (obj_info(map, &minfo, sizeof(minfo)) < 0)
                                continue;
                        for (size_t w = 0; w < n_want; w++)
                                if (ret[w] < 0 && minfo.type == want[w].type &&
                                    strcmp(minfo.name, want[w].name) == 0)
                                        ret[w] = TAKE_FD(map);
                }
                return 0; /* ours: what it has is all there is */
        }
        return error_set(err, ENOENT, "no egress program of isolate is attached to this cgroup");
}

int egress_map_find(int cgroup_fd, int *ret_map_fd, struct isolate_error *err)
{
        static const struct map_want want[] = {{BPF_MAP_TYPE_ARRAY_OF_MAPS, MAP_NAME}};
        int fd = -1;
        int r = prog_maps_find(cgroup_fd, want, 1, &fd, err);
        if (r < 0)
                return r;
        if (fd < 0)
                return error_set(err, ENOENT, "the egress program attached has no rule map");
        *ret_map_fd = fd;
        return 0;
}

/* ---- the log's maps ---------------------------------------------------------------------- */

void egress_log_close(struct egress_log *l)
{
        if (!l)
                return;
        closep(&l->ring_fd);
        closep(&l->dropped_fd);
        *l = EGRESS_LOG_NONE;
}

int egress_log_new(struct egress_log *ret, struct isolate_error *err)
{
        *ret = EGRESS_LOG_NONE;
        _cleanup_(egress_log_close) struct egress_log l = EGRESS_LOG_NONE;
        l.ring_fd =
            map_create(BPF_MAP_TYPE_RINGBUF, 0, 0, EGRESS_LOG_RING_BYTES, 0, -1, RING_MAP_NAME);
        if (l.ring_fd == -EINVAL) {
                error_set(err, EINVAL,
                          "cannot create the egress log's ring buffer: the kernel has no BPF "
                          "ring buffers (Linux >= 5.8)");
                return error_host_fault(err);
        }
        if (l.ring_fd < 0)
                return bpf_error(err, l.ring_fd, "cannot create the egress log's ring buffer");
        /* mmapable: the init reads the count without bpf(2) */
        l.dropped_fd = map_create(BPF_MAP_TYPE_ARRAY, sizeof(uint32_t), sizeof(uint64_t), 1,
                                  BPF_F_MMAPABLE, -1, DROP_MAP_NAME);
        if (l.dropped_fd < 0)
                return bpf_error(err, l.dropped_fd, "cannot create the egress log's counter");
        *ret = l;
        l = EGRESS_LOG_NONE;
        return 0;
}

int egress_log_find(int cgroup_fd, struct egress_log *ret, struct isolate_error *err)
{
        static const struct map_want want[] = {{BPF_MAP_TYPE_RINGBUF, RING_MAP_NAME},
                                               {BPF_MAP_TYPE_ARRAY, DROP_MAP_NAME}};
        int fds[2];
        *ret = EGRESS_LOG_NONE;
        int r = prog_maps_find(cgroup_fd, want, 2, fds, err);
        if (r < 0)
                return r;
        if (fds[0] < 0 || fds[1] < 0) {
                closep(&fds[0]);
                closep(&fds[1]);
                return error_set(err, ENOENT, "the egress program attached logs nothing");
        }
        *ret = (struct egress_log){.ring_fd = fds[0], .dropped_fd = fds[1]};
        return 0;
}

"""bench.py: what a login through isolate costs, measured on this machine; writes
bench/RESULTS.md. Started by tests/bench/run.sh (`make bench`) under the test reaper, as root,
with /usr/bin/python3. BENCH_QUICK=1: fewer rounds and at most 100 concurrent sessions.
BENCH_SECTIONS=pam,scale runs only those sections (for work on the bench itself);
BENCH_MERGE=1 with BENCH_SECTIONS keeps the last run's figures ($BUILD/bench/results.json) for
the sections not run, and RESULTS.md says which sections ran when;
BENCH_RESULTS=PATH writes the report elsewhere; `bench.py --report-only` rewrites it from the
last run's raw figures ($BUILD/bench/results.json).

Sections (issue 7), each run in alternation with its baseline so that load from others on a
shared machine hits both alike:
  exec    what exec of the helper costs (dynamic libraries) against static and dynamic hellos
  migrate one cgroup v1 migration in a cgroup of our own, after idle time and back to back
  pam     pam_open_session + pam_close_session with and without pam_isolate (and with
          network = none), spaced (each login after idle time) and back to back; a breakdown
          of the helper's time from a preloaded shim (helper_shim.c)
  join    (issue 14) logins that join a live scope = user sandbox, held open meanwhile,
          against fresh sandboxes and the plain stack in the same run; a breakdown (the shim)
          and their CPU (perf)
  egress  (issue 15) connect() inside a session with and without egress_allow, the ratio in
          the same run, a refused connect with and without egress_log; logins of the same
          policy with and without egress_allow (what loading the programs adds)
  tools   isolatectl run against bwrap, firejail and /bin/true
  scale   1, 10, 100, 1000 sessions held open: setup latency, memory, teardown, leftovers
  seccomp ns per call with no filter, a one-rule filter, the default filter with and without
          libseccomp's binary tree; the kernel's constant-action cache
  ssh     `ssh host true` against a real sshd on loopback with and without the module

A benchmark reports; it does not fail. A section that cannot run says why in RESULTS.md.
Everything made (users, cgroups, the private mount namespaces, sshd, sessions) is removed
by the context managers of harness.py and sshd.py, also on failure."""

import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import harness  # noqa: E402
from harness import HELPER, ISOLATECTL, PAM_MODULE, Sandbox  # noqa: E402
from sshd import PrivateEnv, SshServer  # noqa: E402

BUILD = harness.BUILD
BIN = os.path.join(BUILD, "bench")
PAM_LOOP = os.path.join(BIN, "pam_loop")
ALTERNATE = os.path.join(BIN, "alternate")
SECCOMP_COST = os.path.join(BIN, "seccomp_cost")
SECCOMP_LOG_COST = os.path.join(BIN, "seccomp_log_cost")
HELPER_WRAP = os.path.join(BIN, "helper_wrap")
HELPER_VG = os.path.join(BIN, "helper_vg")
SHIM_LOG = os.path.join(BIN, "shim.log")
HELLO_STATIC = os.path.join(BIN, "hello_static")
HELLO_DYNAMIC = os.path.join(BIN, "hello_dynamic")
CONNECT_LOOP = os.path.join(BIN, "connect_loop")
EGRESS_COST = os.path.join(BIN, "egress_cost")
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(ROOT, "bench", "RESULTS.md"))
RAW = os.path.join(BIN, "results.json")
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
MERGE = os.environ.get("BENCH_MERGE", "") not in ("", "0")
USER = "isolate-bench"

# Rounds per section: (full, quick).
N = {
    "exec": (150, 40),
    "migrate": (20, 8),
    "pam_spaced": (60, 15),
    "pam_b2b": (60, 15),
    "pam_breakdown": (30, 10),
    "tools": (40, 10),
    "scale_levels": ([1, 10, 100, 1000], [1, 10, 100]),
    "scale_probes": (20, 8),
    "scale_breakdown": (6, 3),
    "seccomp_rounds": (41, 11),
    "ssh": (30, 8),
    "cpu": (40, 15),
    "egress_rounds": (15, 4),
    "egress_calls": (2000, 500),
    "egress_cost": (40, 10),
    "egress_cost_cold": (15, 5),
}
IDLE_GAP_MS = 100  # "after an idle spell": longer than an RCU grace period here


def n(key):
    return N[key][1 if QUICK else 0]


# The policy every bench login gets: the shipped `bastion` policy (conf/isolate.conf) with
# pids_max raised so that 1000 sessions of one user fit (caps are per user); bench_user is
# the same with scope = user (one sandbox per user, which later logins join: 1f), bench_none
# the same with a new net namespace.
POLICY_BODY = """  hostname = "%u-session"
  proc = read-only
  hidepid = invisible
  private_tmp = true
  tmp_size = 512M
  memory_max = 2G
  memory_high = 1536M
  swap_max = 0
  pids_max = 8192
  max_sessions = max
  cpu_max = 200%
  cpu_weight = 100
  caps_required = false
  seccomp = default
  seccomp_action = errno
"""
POLICIES = "".join(f"policy {name} {{\n{own}{POLICY_BODY}}}\n" for name, own in (
    ("bench", "  network = host\n"),
    ("bench_user", "  scope = user\n  linger = no\n  network = host\n"),
    ("bench_none", "  network = none\n")))
SERVICES = ["sshd", "isolatectl", "bench-iso", "bench-none", "bench-join", "bench-join-helper",
            "bench-wrap",
            "bench-join-wrap", "bench-vg", "bench-egress", "bench-egress-nolog",
            "bench-egress-wrap"]


def egress_policies(port):
    """bench with egress_allow (a bastion's short list and the bench's own listener,
    127.0.0.2:port), with and without egress_log; only in the egress section's configs, so
    that the other sections' helper parses the config it always did."""
    allow = ('  egress_allow = {"10.0.0.0/8:22", "192.0.2.10:443/tcp", "[2001:db8::]/32:22", '
             f'"127.0.0.2:{port}/tcp"}}\n')
    return "".join(f"policy {name} {{\n  network = host\n{allow}{own}{POLICY_BODY}}}\n"
                   for name, own in (("bench_egress", ""),
                                     ("bench_egress_nolog", "  egress_log = false\n")))

COMMANDS = []  # (section, argv) of every measured command, for RESULTS.md


# ---- small tools ----------------------------------------------------------------------------

def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def med(values):
    return statistics.median(values) if values else float("nan")


def ms(ns):
    return ns / 1e6


def f1(x):
    return "n/a" if x != x else f"{x:.1f}"


def f2(x):
    return "n/a" if x != x else f"{x:.2f}"


def spread(values_ms):
    """'p50 (p10-p90)' in ms."""
    if not values_ms:
        return "n/a"
    return f"{f2(med(values_ms))} ({f2(pct(values_ms, 10))}-{f2(pct(values_ms, 90))})"


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])  # kB
    return out


def own_memcg():
    """Our own memory cgroup (read only: every process of the bench and of its sessions is
    charged inside it, nobody else's), or None."""
    for mnt, path in harness.own_cgroups().items():
        if os.path.basename(mnt) == "memory" or mnt.endswith("/memory"):
            d = os.path.join(mnt, path.lstrip("/"))
            if os.path.exists(os.path.join(d, "memory.usage_in_bytes")):
                return d
    return None


def memcg_snapshot(d):
    """KiB charged to memcg d: total, kernel, anon, file; {} without one."""
    if not d:
        return {}
    out = {}
    try:
        with open(os.path.join(d, "memory.usage_in_bytes")) as f:
            out["usage"] = int(f.read()) // 1024
        with open(os.path.join(d, "memory.kmem.usage_in_bytes")) as f:
            out["kmem"] = int(f.read()) // 1024
        with open(os.path.join(d, "memory.stat")) as f:
            for line in f:
                k, v = line.split()
                if k in ("total_rss", "total_cache", "total_shmem"):
                    out[k[6:]] = int(v) // 1024
    except (OSError, ValueError):
        pass
    return out


def slabinfo():
    """{cache: bytes in use} from /proc/slabinfo."""
    out = {}
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                if line.startswith(("slabinfo", "#")):
                    continue
                p = line.split()
                out[p[0]] = int(p[1]) * int(p[3])
    except (OSError, ValueError, IndexError):
        pass
    return out


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(argv, **kw)


def shown(argv):
    """A command line as RESULTS.md shows it: build and temp paths shortened."""
    out = []
    for a in argv:
        a = str(a).replace(ROOT + "/", "")
        a = re.sub(r"/tmp/isolate-test-[^/]+/", "$SANDBOX/", a)
        a = re.sub(r"/var/lib/isolate-test/env-[^/]+/", "$ENV/", a)
        out.append(a)
    return " ".join(out)


def record(section, argv):
    COMMANDS.append((section, shown(argv)))


def alternate(section, rounds, cmds, warmup=2, gap_ms=0):
    """Runs cmds (lists) in alternation, gap_ms of idle time before each run; {index: [ns]} of
    successful runs, {index: failures}."""
    argv = [ALTERNATE, str(rounds + warmup), str(gap_ms)]
    for i, c in enumerate(cmds):
        if i:
            argv.append(":::")
        argv += c
        record(section, c)
    r = run(argv, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"alternate failed: {r.stderr.strip()}")
    times = {i: [] for i in range(len(cmds))}
    fails = {i: 0 for i in range(len(cmds))}
    for line in r.stdout.splitlines():
        _, idx, rnd, status, ns = line.split()
        idx, rnd, status, ns = int(idx), int(rnd), int(status), int(ns)
        if rnd < warmup:
            continue
        if status != 0:
            fails[idx] += 1
        else:
            times[idx].append(ns)
    return times, fails


# ---- the machine -----------------------------------------------------------------------------

def machine_info():
    info = {}
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    u = os.uname()
    info["host"] = u.nodename
    info["kernel"] = f"{u.sysname} {u.release} {u.machine}"
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    info["cpu"] = model
    info["cpus"] = os.cpu_count()
    info["mem_total_gib"] = meminfo()["MemTotal"] / 1024 / 1024
    virt = run(["systemd-detect-virt"]).stdout.strip() if shutil.which("systemd-detect-virt") \
        else ""
    if not virt:
        lscpu = run(["lscpu"]).stdout
        m = re.search(r"Hypervisor vendor:\s*(\S+)", lscpu)
        virt = m.group(1) if m else "none found"
    info["virt"] = virt
    v1 = os.path.isdir("/sys/fs/cgroup/memory")
    unified = os.path.ismount("/sys/fs/cgroup/unified")
    info["cgroup"] = ("v1 hybrid (legacy controllers, cgroup2 at /sys/fs/cgroup/unified)"
                      if v1 and unified else "v1" if v1 else "v2")
    info["favordynmods"] = any("favordynmods" in line for line in open("/proc/self/mountinfo"))
    with open("/etc/debian_version") as f:
        info["debian"] = f.read().strip()
    git = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).stdout.strip()
    dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]).stdout
    info["commit"] = git + (" (with uncommitted changes in the tree)" if dirty.strip() else "")
    versions = {}
    for name, argv in (("bwrap", ["bwrap", "--version"]),
                       ("firejail", ["firejail", "--version"]),
                       ("ssh", ["ssh", "-V"]),
                       ("libseccomp", ["pkg-config", "--modversion", "libseccomp"]),
                       ("gcc", ["gcc", "-dumpfullversion"])):
        try:
            r = run(argv)
            text = (r.stdout + r.stderr).strip().splitlines()
            versions[name] = text[0] if text else "?"
        except OSError:
            versions[name] = "not installed"
    info["versions"] = versions
    info["procs"] = sum(1 for d in os.listdir("/proc") if d.isdigit())
    return info


# ---- exec of the helper ------------------------------------------------------------------------

def section_exec(res):
    cmds = [[HELPER, "--version"], [HELLO_STATIC], [HELLO_DYNAMIC]]
    times, fails = alternate("exec", n("exec"), cmds, warmup=5)
    out = {"helper": [ms(t) for t in times[0]], "static": [ms(t) for t in times[1]],
           "dynamic": [ms(t) for t in times[2]], "fails": fails}
    libs = run(["ldd", HELPER]).stdout.splitlines()
    out["libs"] = [l.split()[0] for l in libs if "=>" in l]
    r = run([HELPER, "--version"], env={"LD_DEBUG": "statistics", "PATH": "/usr/bin:/bin"})
    m = re.search(r"total startup time in dynamic loader:\s*([\d,]+) cycles", r.stderr)
    out["ld_cycles"] = int(m.group(1).replace(",", "")) if m else None
    m = re.search(r"number of relocations:\s*(\d+)", r.stderr)
    out["relocs"] = int(m.group(1)) if m else None
    record("exec", ["LD_DEBUG=statistics", HELPER, "--version"])
    ir = {}
    if shutil.which("valgrind"):
        for name, argv in (("helper", [HELPER, "--version"]), ("static", [HELLO_STATIC]),
                           ("dynamic", [HELLO_DYNAMIC])):
            vg = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + argv
            record("exec", vg)
            r = run(vg, timeout=120)
            m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
            ir[name] = int(m.group(1)) if m else None
    out["ir"] = ir
    res["exec"] = out


# ---- one cgroup migration ------------------------------------------------------------------------

MOVER = """
import sys, time
for line in sys.stdin:
    t = time.perf_counter_ns()
    with open(line.strip(), "w") as f:
        f.write("0")
    print(time.perf_counter_ns() - t, flush=True)
"""


def section_migrate(sb, res):
    """A process moved between two cgroups of ours (pids hierarchy, under the bench's cgroup
    root), by another process through cgroup.procs and by itself through tasks, after idle
    time and right after another move."""
    pids_root = [d for d in sb.cgroup_dirs() if d.startswith("/sys/fs/cgroup/pids/")]
    if not pids_root:
        raise RuntimeError("no cgroup v1 pids hierarchy here")
    base = pids_root[0]
    os.makedirs(base, exist_ok=True)
    a, b = os.path.join(base, "bench-migrate-a"), os.path.join(base, "bench-migrate-b")
    os.mkdir(a)
    os.mkdir(b)
    # the mover writes "0" to the tasks file it is given (moving itself), and says how long
    mover = subprocess.Popen(["/usr/bin/python3", "-c", MOVER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    out = {"idle": [], "hot": [], "self_idle": [], "self_hot": []}
    try:
        with open(os.path.join(a, "cgroup.procs"), "w") as f:
            f.write(str(mover.pid))
        where = a
        for _ in range(n("migrate")):
            for gap, key in ((IDLE_GAP_MS / 1000, "idle"), (0, "hot")):
                time.sleep(gap)
                where = b if where == a else a
                t = time.perf_counter_ns()
                with open(os.path.join(where, "cgroup.procs"), "w") as f:
                    f.write(str(mover.pid))
                out[key].append(ms(time.perf_counter_ns() - t))
            for gap, key in ((IDLE_GAP_MS / 1000, "self_idle"), (0, "self_hot")):
                time.sleep(gap)
                where = b if where == a else a
                mover.stdin.write(os.path.join(where, "tasks") + "\n")
                mover.stdin.flush()
                out[key].append(ms(int(mover.stdout.readline())))
    finally:
        mover.kill()
        mover.wait()
        for d in (a, b):
            for _ in range(200):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
    out["where"] = shown([base])
    res["migrate"] = out


# ---- login setup through PAM ----------------------------------------------------------------------

def pam_files(conf, conf_none, conf_user, conf_user_rhost, conf_egress, conf_egress_nolog):
    base = "account required pam_unix.so\nsession required pam_unix.so\n"
    mod = f"session required {PAM_MODULE} config={{}} helper={{}}\n"
    return {
        "bench-egress": base + mod.format(conf_egress, HELPER),
        "bench-egress-nolog": base + mod.format(conf_egress_nolog, HELPER),
        "bench-egress-wrap": base + mod.format(conf_egress, HELPER_WRAP),
        "bench-plain": base,
        "bench-iso": base + mod.format(conf, HELPER),
        "bench-none": base + mod.format(conf_none, HELPER),
        "bench-join": base + mod.format(conf_user, HELPER),
        "bench-join-helper": base + mod.format(conf_user_rhost, HELPER),
        "bench-join-wrap": base + mod.format(conf_user_rhost, HELPER_WRAP),
        "bench-wrap": base + mod.format(conf, HELPER_WRAP),
        "bench-vg": base + mod.format(conf, HELPER_VG),
    }


def parse_logins(text):
    """pam_loop 'login' lines -> {service: [dict]}."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if not f or f[0] != "login":
            continue
        d = {"service": f[1], "round": int(f[2]), "pid": int(f[3]), "rc": int(f[4]),
             "t_start": int(f[5]), "t_opened": int(f[6]), "t_closed": int(f[7]),
             "t_ended": int(f[8]), "cpu_self": int(f[9]), "cpu_children": int(f[10]),
             "runq": int(f[11])}
        out.setdefault(d["service"], []).append(d)
    return out


def login_stats(logins):
    ok = [d for d in logins if d["rc"] == 0]
    return {
        "n": len(ok),
        "failed": len(logins) - len(ok),
        "open": [ms(d["t_opened"] - d["t_start"]) for d in ok],
        "close": [ms(d["t_closed"] - d["t_opened"]) for d in ok],
        "oc": [ms(d["t_closed"] - d["t_start"]) for d in ok],
        "cpu": [ms(d["cpu_self"] + d["cpu_children"]) for d in ok],
        "runq": [ms(d["runq"]) for d in ok],
    }


def helper_durations(lines, service):
    out = []
    for l in lines:
        m = re.search(rf"isolate\[\d+\]: .*service={re.escape(service)} .*duration=([\d.]+)ms", l)
        if m:
            out.append(float(m.group(1)))
    return out


def pam_cycle(env, sb, section, services, rounds, gap_ms, timeout=1800, clean=True,
              vary_rhost=False):
    """clean=False: a sandbox is held open meanwhile (1f), do not wait for none to be left.
    vary_rhost: each login's rhost an address of its own (pam_loop -r)."""
    argv = ([PAM_LOOP, "cycle", "-u", USER, "-n", str(rounds), "-g", str(gap_ms)]
            + (["-r"] if vary_rhost else []) + services)
    record(section, ["nsenter --mount=<private /etc/pam.d>"] + argv)
    mark = env.syslog.mark()
    r = env.run(argv, timeout=timeout)
    if r.returncode == 2:
        raise RuntimeError(f"pam_loop failed: {r.stderr.strip()}")
    logins = parse_logins(r.stdout)
    time.sleep(0.2)
    syslog = env.syslog.lines()[mark:]
    left = sb.wait_clean(30) if clean else {}
    return logins, syslog, left, r.stderr.strip()


def shim_groups(logins):
    """The shim's log (helper_shim.c) split per helper, each from its "start" line on (its
    session child's lines with it), as lists of fields; and the successful logins by
    caller pid."""
    groups = []
    try:
        with open(SHIM_LOG) as f:
            for line in f:
                p = line.split()
                if len(p) < 3:
                    continue
                if p[1] == "start":
                    groups.append([])
                if groups:
                    groups[-1].append(p)
    except FileNotFoundError:
        pass
    return groups, {d["pid"]: d for d in logins if d["rc"] == 0}


def shim_breakdown(logins):
    """Per login of the wrapped helper: where its time went (ms)."""
    groups, by_caller = shim_groups(logins)
    rows = []
    for g in groups:
        start = g[0]
        t0, caller = int(start[2]), int(start[3])
        d = by_caller.get(caller)
        ev = {}
        cg_writes, mkdirs, files, sends = [], [], [], []
        for p in g:
            kind = p[1]
            if kind == "cgwrite":
                cg_writes.append((int(p[2]), int(p[3]), p[0]))
            elif kind == "cgmkdir":
                mkdirs.append((int(p[2]), int(p[3])))
            elif kind == "cgfile":
                files.append((int(p[2]), int(p[3])))
            elif kind == "send":
                if p[0] == start[0]:
                    sends.append(int(p[2]))
            else:
                ev.setdefault(kind, p)
        if d is None or "clone" not in ev or "exec" not in ev or "exit" not in ev:
            continue
        t_clone, clone_dur = int(ev["clone"][2]), int(ev["clone"][3])
        t_childstart = int(ev["childstart"][2]) if "childstart" in ev else t_clone + clone_dur
        t_exec = int(ev["exec"][2])
        t_exit = int(ev["exit"][2])
        child_writes = [w for w in cg_writes if w[0] >= t_childstart and w[0] < t_exec]
        caller_writes = [w for w in cg_writes if w[0] >= t_exec]
        first_cg = min([m[0] for m in mkdirs] + [t_clone])
        # the helper's reply: its last message before exit (after the caller moves, if any)
        t_reply = max([x for x in sends if x <= t_exit] or [t_exit])
        t_moved = caller_writes[-1][0] + caller_writes[-1][1] if caller_writes else None
        row = {
            "before_helper": ms(t0 - d["t_start"]),
            "config_policy": ms(first_cg - t0),
            "cgroup_create": ms(t_clone - first_cg),
            "clone": ms(max(t_childstart, t_clone + clone_dur) - t_clone),
            "child_migrations": ms(sum(w[1] for w in child_writes)),
            "child_other": ms(t_exec - max(t_childstart, t_clone + clone_dur)
                              - sum(w[1] for w in child_writes)),
            "init_ready_commit": ms((caller_writes[0][0] if caller_writes else t_reply) - t_exec),
            "caller_migration": ms((t_moved - caller_writes[0][0]) if caller_writes else 0),
            "reply": ms(t_reply - (t_moved if caller_writes else t_reply)),
            "helper_tail": ms(t_exit - t_reply),
            "after_helper": ms(d["t_opened"] - t_exit),
            "open": ms(d["t_opened"] - d["t_start"]),
            "migrations": ms(sum(w[1] for w in cg_writes)),
            "slowest_migration": ms(max([w[1] for w in cg_writes] or [0])),
            "n_migration_writes": len(cg_writes),
            "mkdir": ms(sum(m[1] for m in mkdirs)),
            "cap_writes": ms(sum(x[1] for x in files)),
            "helper_cpu": ms(int(ev["exit"][3])) if len(ev["exit"]) > 3 else float("nan"),
            "helper_runq": ms(int(ev["exit"][4])) if len(ev["exit"]) > 4 else float("nan"),
            "child_cpu": ms(int(ev["exec"][3])) if len(ev["exec"]) > 3 else float("nan"),
            "child_runq": ms(int(ev["exec"][4])) if len(ev["exec"]) > 4 else float("nan"),
            "helper_wall": ms(t_exit - t0),
            "helper_minflt": int(ev["exit"][5]) if len(ev["exit"]) > 5 else -1,
            "child_minflt": int(ev["exec"][5]) if len(ev["exec"]) > 5 else -1,
        }
        row["open_without_migrations"] = row["open"] - row["migrations"]
        rows.append(row)
    return rows


def section_pam(sb, env, res):
    out = {}
    services = ["bench-plain", "bench-iso", "bench-none"]
    # warm up: seccomp cache, page cache, the user's cgroup
    pam_cycle(env, sb, "pam-warmup", services, 2, 0)
    for mode, gap, rounds in (("spaced", IDLE_GAP_MS, n("pam_spaced")),
                              ("b2b", 0, n("pam_b2b"))):
        logins, syslog, left, err = pam_cycle(env, sb, f"pam ({mode})", services, rounds, gap)
        out[mode] = {s: login_stats(logins.get(s, [])) for s in services}
        out[mode]["helper_ms"] = {s: helper_durations(syslog, s) for s in services}
        out[mode]["left"] = left
        out[mode]["stderr"] = err[-500:]
    # the breakdown: the same login through helper_wrap (helper_shim.so preloaded)
    with open(SHIM_LOG, "w"):
        pass
    logins, syslog, left, err = pam_cycle(env, sb, "pam (breakdown)", ["bench-wrap"],
                                          n("pam_breakdown"), IDLE_GAP_MS)
    out["breakdown"] = shim_breakdown(logins.get("bench-wrap", []))
    out["breakdown_stats"] = login_stats(logins.get("bench-wrap", []))
    out["breakdown_left"] = left
    res["pam"] = out


def helper_counts(lines, pattern):
    """{what pattern's group catches: count} over the helper's decision log lines."""
    out = {}
    for l in lines:
        m = re.search(r"isolate\[\d+\]: .*" + pattern, l)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + 1
    return out


def module_counts(lines, service):
    """{outcome: count} over pam_isolate's own decision lines of one PAM service."""
    out = {}
    for l in lines:
        m = re.search(r"pam_isolate\(" + re.escape(service) + r":session\): .*outcome=(\S+)", l)
        if m and m.group(1) != "closed":
            out[m.group(1)] = out.get(m.group(1), 0) + 1
    return out


def join_breakdown(logins):
    """Per join through the wrapped helper (ms): its messages order its steps. The helper
    sends HELLO after the config, MSG_JOIN to the init once the caps are set, then the
    reply; its cap writes show as cgfile lines."""
    groups, by_caller = shim_groups(logins)
    rows = []
    for g in groups:
        pid, t0, caller = g[0][0], int(g[0][2]), int(g[0][3])
        d = by_caller.get(caller)
        sends = [int(p[2]) for p in g if p[1] == "send" and p[0] == pid]
        caps = [(int(p[2]), int(p[3])) for p in g if p[1] == "cgfile"]
        ex = [p for p in g if p[1] == "exit"]
        if d is None or len(sends) != 3 or not ex or any(p[1] == "clone" for p in g):
            continue  # not a join (a fresh sandbox: the policy changed, or none was live)
        hello, join, reply = sends
        t_exit = int(ex[0][2])
        c0 = caps[0][0] if caps else join
        c1 = caps[-1][0] + caps[-1][1] if caps else join
        rows.append({
            "before_helper": ms(t0 - d["t_start"]),
            "config": ms(hello - t0),
            "policy": ms(c0 - hello),
            "caps": ms(c1 - c0),
            "connect": ms(join - c1),
            "init_answer": ms(reply - join),
            "helper_tail": ms(t_exit - reply),
            "after_helper": ms(d["t_opened"] - t_exit),
            "open": ms(d["t_opened"] - d["t_start"]),
            "helper_wall": ms(t_exit - t0),
            "helper_cpu": ms(int(ex[0][3])) if len(ex[0]) > 3 else float("nan"),
            "helper_minflt": int(ex[0][5]) if len(ex[0]) > 5 else -1,
        })
    return rows


def section_join(sb, env, res):
    """Logins that join a live user-scope sandbox (policy bench_user, held open by one more
    login throughout), alternating with fresh sandboxes and the plain stack in the same run."""
    out = {}
    argv = [PAM_LOOP, "hold", "-u", USER, "-n", "1", "-p", "0", "-g", "0", "bench-join"]
    record("join (the sandbox held open)", ["nsenter --mount=<private /etc/pam.d>"] + argv)
    p = env.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  text=True)
    killer = threading.Timer(1800, p.kill)
    killer.start()
    try:
        held = []
        for line in p.stdout:
            held.append(line)
            if line.startswith("held "):
                break
        opened = [l.split() for l in held if l.startswith("open ")]
        if not opened or int(opened[0][3]) != 0:
            raise RuntimeError(f"the held login failed: {''.join(held)}"
                               f"{p.stderr.read()[-300:] if p.poll() is not None else ''}")
        out["held_inits"] = len(sb.init_processes())
        services = ["bench-plain", "bench-iso", "bench-join", "bench-join-helper"]
        pam_cycle(env, sb, "join-warmup", services, 2, 0, clean=False, vary_rhost=True)
        for mode, gap, rounds in (("spaced", IDLE_GAP_MS, n("pam_spaced")),
                                  ("b2b", 0, n("pam_b2b"))):
            logins, syslog, _, err = pam_cycle(env, sb, f"join ({mode})", services, rounds, gap,
                                               clean=False, vary_rhost=True)
            out[mode] = {s: login_stats(logins.get(s, [])) for s in services}
            out[mode]["helper_ms"] = {s: helper_durations(syslog, s) for s in services}
            # the module's decision line: "joined" for a ticket, "confined" after the helper
            out[mode]["outcomes"] = module_counts(syslog, "bench-join")
            # the module's own time of a join by ticket: its decision line's setup_ms, from
            # pam_sm_open_session's start to the join's end (lookup, the init's answer, join)
            out[mode]["module_ms"] = [float(m.group(1)) for m in (
                re.search(r"pam_isolate\(bench-join:session\): .*outcome=joined "
                          r"setup_ms=([\d.]+)", l) for l in syslog) if m]
            out[mode]["outcomes_helper"] = helper_counts(
                syslog, r"service=bench-join-helper .*outcome=(\S+)")
            out[mode]["stderr"] = err[-500:]
        with open(SHIM_LOG, "w"):
            pass
        logins, syslog, _, err = pam_cycle(env, sb, "join (breakdown)", ["bench-join-wrap"],
                                           n("pam_breakdown"), IDLE_GAP_MS, clean=False,
                                           vary_rhost=True)
        out["breakdown"] = join_breakdown(logins.get("bench-join-wrap", []))
        out["breakdown_stats"] = login_stats(logins.get("bench-join-wrap", []))
        try:
            perf_works()
            out["cpu"] = {"rounds": n("cpu"),
                          "join": perf_profile(env, "bench-join", n("cpu"), "join (cpu)"),
                          "plain": perf_profile(env, "bench-plain", n("cpu"), "join (cpu)")}
        except RuntimeError as e:
            out["cpu_error"] = str(e)
        # the fresh logins' sandboxes end with them: the held one is all that is left
        deadline = time.monotonic() + 30
        while len(sb.init_processes()) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        out["inits_after"] = len(sb.init_processes())
        p.stdin.write("\n")
        p.stdin.flush()
        p.stdout.read()
        p.wait(60)
    finally:
        killer.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()
    out["left"] = sb.wait_clean(30)
    res["join"] = out


# ---- egress_allow (issue 15) ----------------------------------------------------------------------

EGRESS_CASES = (
    # (key, config, connect_loop mode, address): the same policy but for egress_allow (and
    # egress_log); allowed: a connect to the session's own listener, listed; refused: not
    ("plain", "conf", "allowed", "127.0.0.2"),
    ("filtered", "conf_egress", "allowed", "127.0.0.2"),
    ("refused_log", "conf_egress", "refused", "127.0.0.3"),
    ("refused_nolog", "conf_egress_nolog", "refused", "127.0.0.3"),
)


def free_port_on(addr):
    import socket
    s = socket.socket()
    try:
        s.bind((addr, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def section_egress(sb, env, res, confs, port):
    """connect() in a session (isolatectl run, policy bench against bench_egress, alternating
    run by run), and logins of both policies and of the plain stack, alternating login by
    login."""
    out = {"port": port, "calls": n("egress_calls"), "rounds": n("egress_rounds")}
    samples = {k: [] for k, _, _, _ in EGRESS_CASES}
    round_p50 = {k: [] for k, _, _, _ in EGRESS_CASES}
    fails = {}
    mark = 0
    for rnd in range(n("egress_rounds") + 1):  # round 0: warm-up
        if rnd == 1:
            time.sleep(1.2)  # the warm-up's inits have logged their last lines
            mark = env.syslog.mark()
        for key, conf, mode, addr in EGRESS_CASES:
            argv = [ISOLATECTL, "run", "-c", confs[conf], "--service", "isolatectl", "--helper",
                    HELPER, USER, "--", CONNECT_LOOP, mode, str(n("egress_calls")), addr,
                    str(port)]
            if rnd == 0:
                record("egress (connect)", ["nsenter --mount=<private /etc/pam.d>"] + argv)
            r = env.run(argv, timeout=600)
            line = [l for l in r.stdout.splitlines() if l.startswith("samples ")]
            if r.returncode != 0 or not line:
                fails[key] = r.stderr.strip()[-300:] or f"exit {r.returncode}"
                continue
            got = [int(x) for x in line[0].split()[2:]]
            if rnd > 0:
                samples[key] += got
                round_p50[key].append(med(got))
    time.sleep(1.2)  # the inits' last "suppressed" lines
    out["connect"] = {k: {"n": len(v), "p10": pct(v, 10) / 1e3, "p50": med(v) / 1e3,
                          "p90": pct(v, 90) / 1e3, "p99": pct(v, 99) / 1e3,
                          "round_p50": [x / 1e3 for x in round_p50[k]]}
                      for k, v in samples.items() if v}
    out["connect_fails"] = fails
    out["left_connect"] = sb.wait_clean(30)
    # what the refused-and-logged runs left in the log: lines, and the counts of the rest
    lines = env.syslog.lines()[mark:]
    out["log_lines"] = sum(1 for l in lines if "egress refused: 127.0.0.3:" in l)
    out["log_suppressed"] = sum(int(m.group(1)) for m in
                                (re.search(r"egress refused: suppressed (\d+) more", l)
                                 for l in lines) if m)

    services = ["bench-plain", "bench-iso", "bench-egress", "bench-egress-nolog"]
    pam_cycle(env, sb, "egress-warmup", services, 2, 0)
    for mode, gap, rounds in (("spaced", IDLE_GAP_MS, n("pam_spaced")),
                              ("b2b", 0, n("pam_b2b"))):
        logins, syslog, left, err = pam_cycle(env, sb, f"egress ({mode})", services, rounds, gap)
        out[mode] = {s: login_stats(logins.get(s, [])) for s in services}
        out[mode]["helper_ms"] = {s: helper_durations(syslog, s) for s in services}
        out[mode]["left"] = left
        out[mode]["stderr"] = err[-500:]

    # where the added time goes: the helper's egress calls alone (egress_cost), and the
    # cgroup work the policy adds, from the shim (1a) on logins of both policies
    # warm: one process, rounds back to back; cold: a fresh process a round, 300 ms apart
    # (as the helper: a new process, and no program of the kind attached on the host)
    for key, procs, rounds, gap in (("cost_us", 1, n("egress_cost"), 0),
                                    ("cost_cold_us", n("egress_cost_cold"), 1, 0.3)):
        argv = [EGRESS_COST, str(rounds)]
        record("egress (setup)", argv)
        steps = {}
        for _ in range(procs):
            time.sleep(gap)
            r = run(argv, timeout=600)
            if r.returncode != 0:
                out["cost_error"] = r.stderr.strip()[-300:]
            for line in r.stdout.splitlines():
                f = line.split()
                if len(f) == 4 and f[0] == "cost":
                    steps.setdefault(f[2], []).append(int(f[3]) / 1e3)
        out[key] = steps
    with open(SHIM_LOG, "w"):
        pass
    logins, _, left, _ = pam_cycle(env, sb, "egress (breakdown)", ["bench-wrap",
                                                                   "bench-egress-wrap"],
                                   n("pam_breakdown"), IDLE_GAP_MS)
    groups, by_caller = shim_groups([d for v in logins.values() for d in v])
    shim = {}
    for g in groups:
        d = by_caller.get(int(g[0][3]))
        ex = [p for p in g if p[1] == "exit"]
        if d is None or not ex:
            continue
        unified = [(p[1], int(p[3])) for p in g if p[1] in ("cgwrite", "cgmkdir")
                   and "/unified/" in p[4]]
        row = shim.setdefault(d["service"], {"helper_wall": [], "unified_ms": [],
                                             "unified_ops": [], "open": []})
        row["helper_wall"].append(ms(int(ex[0][2]) - int(g[0][2])))
        row["unified_ms"].append(ms(sum(t for _, t in unified)))
        row["unified_ops"].append(len(unified))
        row["open"].append(ms(d["t_opened"] - d["t_start"]))
    out["shim"] = shim
    out["left_breakdown"] = left
    res["egress"] = out


# ---- instructions of the helper (callgrind) ------------------------------------------------------

PROFILE_FUNCS = [
    ("rtld.c:_dl_start", "dynamic linking (ld.so: load and relocate the shared libraries)"),
    ("helper.c:cmd_open", "the helper's main work until the profile stops"),
    ("schema.c:config_load", "config_load (libconfuse parse, validation)"),
    ("match.c:login_info_lookup", "login_info_lookup (getpwnam, getgrouplist: nss files + "
                                  "systemd)"),
    ("seccomp.c:seccomp_program_get", "seccomp_program_get (the cached program: key, read, check)"),
    ("match.c:policy_resolve", "policy_resolve"),
]


def section_profile(sb, env, res):
    if not os.path.exists(HELPER_VG):
        raise RuntimeError("valgrind is not installed")
    for f in os.listdir(BIN):
        if f.startswith("callgrind.out."):
            os.unlink(os.path.join(BIN, f))
    # a normal login first: the seccomp program is then in the cache, as on a host that has
    # seen one login (libseccomp itself does not work under valgrind)
    pam_cycle(env, sb, "profile", ["bench-iso"], 1, 0)
    logins, syslog, left, err = pam_cycle(env, sb, "profile", ["bench-vg"], 2, 0, timeout=600)
    files = sorted((os.path.join(BIN, f) for f in os.listdir(BIN)
                    if f.startswith("callgrind.out.")), key=os.path.getmtime)
    if not files:
        raise RuntimeError("callgrind wrote no profile")
    argv = ["callgrind_annotate", "--inclusive=yes", "--threshold=100", files[-1]]
    record("profile", argv)
    text = run(argv).stdout
    counts = {}
    total = None
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S+)", line)
        if not m:
            continue
        val, where = int(m.group(1).replace(",", "")), m.group(2)
        if where == "PROGRAM":
            total = val
        for key, _ in PROFILE_FUNCS:
            if where.endswith(key):
                counts[key] = max(counts.get(key, 0), val)
    stop = [l for l in syslog if "isolate[" in l and "outcome=denied" in l]
    reason = stop[-1].split(": ", 2)[-1] if stop else "?"
    for f in files:
        os.unlink(f)
    res["profile"] = {"total": total, "counts": counts, "stop": reason}


# ---- CPU by process and system call (perf) -----------------------------------------------------

PERF_HZ = 10000  # cpu-clock samples per second of CPU: one sample = 0.1 ms


def perf_works():
    if not shutil.which("perf"):
        raise RuntimeError("perf is not installed")
    probe = run(["perf", "stat", "-e", "cpu-clock", "true"])
    if probe.returncode != 0:
        raise RuntimeError(f"perf does not work here: {probe.stderr.strip()[-200:]}")


def perf_profile(env, service, rounds, section="cpu"):
    """{"comm|part": ms of CPU per login}: part is a shared object for user time, a
    syscall entry (__x64_sys_*) or the page fault handler for kernel time."""
    data = os.path.join(BIN, f"perf-{service}.data")
    argv = ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(PERF_HZ), "-g", "-o", data,
            "--", PAM_LOOP, "cycle", "-u", USER, "-n", str(rounds), "-g", "20", service]
    record(section, ["nsenter --mount=<private /etc/pam.d>"] + argv)
    try:
        r = env.run(argv, timeout=600)
        if not os.path.exists(data):
            raise RuntimeError(f"perf record failed: {r.stderr.strip()[-300:]}")
        rep = run(["perf", "report", "-i", data, "--no-children", "--sort", "comm,dso",
                   "--stdio", "-n", "-q", "-g", "none"]).stdout
        rows, total = [], 0
        for line in rep.splitlines():
            m = re.match(r"^\s*([\d.]+)%\s+(\d+)\s+(\S+)\s+(\S+)", line)
            if m:
                samples = int(m.group(2))
                total += samples
                rows.append((m.group(3), m.group(4), samples))
        per_login = 1000.0 / PERF_HZ / rounds  # ms per sample per login
        out = {}
        for comm, dso, samples in rows:
            part = "kernel" if dso == "[kernel.kallsyms]" else os.path.basename(dso)
            out[f"{comm}|{part}"] = out.get(f"{comm}|{part}", 0) + samples * per_login
        rep = run(["perf", "report", "-i", data, "--children", "--sort", "comm,sym", "--stdio",
                   "-q", "-g", "none"]).stdout
        for line in rep.splitlines():
            m = re.match(r"^\s*([\d.]+)%\s+[\d.]+%\s+(\S+)\s+\[k\]\s+(\S+)", line)
            if not m:
                continue
            sym = m.group(3)
            if sym.startswith(("__x64_sys_", "__do_sys_")) or sym == "asm_exc_page_fault":
                name = re.sub(r"^__(x64|do)_sys_", "", sym)
                name = "page faults" if sym == "asm_exc_page_fault" else name
                out[f"{m.group(2)}|k:{name}"] = float(m.group(1)) / 100 * total * per_login
        return out
    finally:
        if os.path.exists(data):
            os.unlink(data)


def section_cpu(sb, env, res):
    perf_works()
    rounds = n("cpu")
    res["cpu"] = {"rounds": rounds,
                  "isolate": perf_profile(env, "bench-iso", rounds),
                  "plain": perf_profile(env, "bench-plain", rounds)}
    sb.wait_clean(30)


# ---- the same sandbox by other tools ----------------------------------------------------------

def section_tools(sb, conf, conf_none, res):
    cmds, names = [], []
    iso = [ISOLATECTL, "run", "-c", conf, "--service", "isolatectl", "--helper", HELPER, USER,
           "--", "/bin/true"]
    cmds.append(iso)
    names.append("isolatectl run")
    iso_none = list(iso)
    iso_none[3] = conf_none
    cmds.append(iso_none)
    names.append("isolatectl run (network = none)")
    missing = []
    bwrap = shutil.which("bwrap")
    if bwrap:
        cmds.append([bwrap, "--unshare-all", "--ro-bind", "/", "/", "--proc", "/proc", "--dev",
                     "/dev", "true"])
        names.append("bwrap")
    else:
        missing.append("bwrap")
    firejail = shutil.which("firejail")
    if firejail:
        cmds.append([firejail, "--quiet", "--noprofile", "true"])
        names.append("firejail")
    else:
        missing.append("firejail")
    cmds.append(["/bin/true"])
    names.append("/bin/true")
    times, fails = alternate("tools", n("tools"), cmds, gap_ms=IDLE_GAP_MS)
    left = sb.wait_clean(30)
    res["tools"] = {"names": names, "times": {names[i]: [ms(t) for t in times[i]]
                                               for i in times},
                    "fails": {names[i]: fails[i] for i in fails}, "missing": missing,
                    "left": left}


# ---- scale: many sessions held open ------------------------------------------------------------

def smaps_rollup(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                m = re.match(r"^(\w+):\s+(\d+) kB", line)
                if m:
                    out[m.group(1)] = int(m.group(2))
    except OSError:
        pass
    return out


def slab_objects(name):
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                p = line.split()
                if p and p[0] == name:
                    return int(p[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def mount_devs(path):
    """The superblocks (MAJ:MIN) a mount namespace shows."""
    out = set()
    try:
        with open(path) as f:
            for line in f:
                out.add(line.split()[2])
    except OSError:
        pass
    return out


def fstypes_of(path, devs):
    """'FSTYPE on MOUNTPOINT' of each superblock in devs (its first mount)."""
    seen = {}
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                dev = p[2]
                if dev in devs and dev not in seen:
                    seen[dev] = f"{p[p.index('-') + 1]} {p[4]}"
    except (OSError, ValueError):
        pass
    return list(seen.values())


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def children_of(ppid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == ppid and fields[0] != "Z":
                kids.append(int(d))
        except (OSError, IndexError, ValueError):
            continue
    return kids


MEM_KEYS = ("MemAvailable", "Slab", "SUnreclaim", "KernelStack", "PageTables", "Percpu",
            "Shmem", "AnonPages")


def hold(env, sb, service, count, probes, section, breakdown=0, timeout=1800):
    """pam_loop hold: opens count sessions, measures while they are held, releases them.
    breakdown: that many more logins through the shim-wrapped helper while they are held."""
    argv = [PAM_LOOP, "hold", "-u", USER, "-n", str(count), "-p", str(probes), "-g",
            str(IDLE_GAP_MS), service]
    record(section, ["nsenter --mount=<private /etc/pam.d>"] + argv)
    memcg = own_memcg()
    time.sleep(1.0)
    mem0, cg0, slab0 = meminfo(), memcg_snapshot(memcg), slabinfo()
    k1k0 = slab_objects("kmalloc-1k")
    mark = env.syslog.mark()
    p = env.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  text=True)
    killer = threading.Timer(timeout, p.kill)
    killer.start()
    out = {"count": count, "opens": [], "open_failed": 0}
    try:
        lines = []
        t_ramp = time.monotonic()
        for line in p.stdout:
            lines.append(line)
            f = line.split()
            if f and f[0] == "open":
                if int(f[3]) == 0:
                    out["opens"].append(ms(int(f[5]) - int(f[4])))
                else:
                    out["open_failed"] += 1
            if f and f[0] == "held":
                break
        out["ramp_s"] = time.monotonic() - t_ramp
        # the reason of each open the helper denied
        out["denied"] = helper_counts(env.syslog.lines()[mark:],
                                      r"outcome=denied duration=[\d.]+ms: (.*)$")
        probe = parse_logins("".join(lines)).get(service, [])
        out["probes"] = login_stats(probe)
        # the probes' sessions end on their own; wait until only the held ones are left
        iso = service != "bench-plain"
        deadline = time.monotonic() + 30
        inits = sb.init_processes()
        while iso and len(inits) > count and time.monotonic() < deadline:
            time.sleep(0.1)
            inits = sb.init_processes()
        time.sleep(1.0)
        mem1, cg1, slab1 = meminfo(), memcg_snapshot(memcg), slabinfo()
        out["inits"] = len(inits) if iso else 0
        pss = [smaps_rollup(pid) for pid in inits] if iso else []
        out["init_pss_kib"] = [x.get("Pss", 0) for x in pss if x]
        out["init_rss_kib"] = [x.get("Rss", 0) for x in pss if x]
        out["mounts_session"] = count_lines(f"/proc/{inits[0]}/mountinfo") if iso and inits \
            else None
        out["mounts_caller_ns"] = count_lines(f"/proc/{p.pid}/mountinfo")
        if iso and inits:
            own = mount_devs(f"/proc/{inits[0]}/mountinfo")
            out["superblocks_session"] = len(own - mount_devs(f"/proc/{p.pid}/mountinfo"))
            out["session_fstypes"] = fstypes_of(f"/proc/{inits[0]}/mountinfo",
                                                own - mount_devs(f"/proc/{p.pid}/mountinfo"))
        holders = children_of(p.pid)
        hp = [smaps_rollup(pid) for pid in holders]
        out["holder_pss_kib"] = [x.get("Pss", 0) for x in hp if x]
        out["mem_delta_kib"] = {k: mem0.get(k, 0) - mem1.get(k, 0) for k in MEM_KEYS}
        out["memcg_delta_kib"] = {k: cg1[k] - cg0[k] for k in cg0 if k in cg1}
        grow = {k: slab1.get(k, 0) - v for k, v in slab0.items()}
        grow.update({k: v for k, v in slab1.items() if k not in slab0})
        out["slab_growth"] = sorted(grow.items(), key=lambda kv: -kv[1])[:10]
        # kmalloc caches without "-cg-" hold allocations never charged to a memory cgroup
        out["kmalloc_uncharged_kib"] = sum(v for k, v in grow.items()
                                           if re.match(r"^kmalloc-\d+k?$", k)) / 1024
        out["kmalloc_1k_objs"] = slab_objects("kmalloc-1k") - k1k0
        if breakdown and iso:
            with open(SHIM_LOG, "w"):
                pass
            bargv = [PAM_LOOP, "cycle", "-u", USER, "-n", str(breakdown), "-g",
                     str(IDLE_GAP_MS), "bench-wrap"]
            record(section, ["nsenter --mount=<private /etc/pam.d>"] + bargv)
            r = env.run(bargv, timeout=600)
            out["breakdown"] = shim_breakdown(parse_logins(r.stdout).get("bench-wrap", []))
        t0 = time.monotonic()
        p.stdin.write("\n")
        p.stdin.flush()
        rest = p.stdout.read()
        m = re.search(r"^released (\d+)$", rest, re.M)
        out["released_ms"] = ms(int(m.group(1))) if m else float("nan")
        p.wait(60)
        left = sb.wait_clean(120) if iso else {}
        out["teardown_ms"] = (time.monotonic() - t0) * 1000
        out["left"] = left
        out["stderr"] = p.stderr.read()[-500:]
    finally:
        killer.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()
    return out


def section_scale(sb, env, res):
    out = {"levels": []}
    with open("/proc/sys/fs/inotify/max_user_instances") as f:
        out["inotify_instances"] = f.read().strip()
    for count in n("scale_levels"):
        out["levels"].append(hold(env, sb, "bench-iso", count, n("scale_probes"), "scale",
                                  breakdown=n("scale_breakdown")))
    top = n("scale_levels")[-1]
    out["plain"] = hold(env, sb, "bench-plain", top, 0, "scale (plain stack)")
    res["scale"] = out


# ---- seccomp ------------------------------------------------------------------------------------

def section_seccomp(conf, res):
    argv = [SECCOMP_COST, conf, str(n("seccomp_rounds")), "20000"]
    record("seccomp", argv)
    r = run(argv, timeout=1200)
    if r.returncode != 0 and "cost " not in r.stdout:
        raise RuntimeError(f"seccomp_cost failed: {r.stderr.strip()}")
    out = {"filters": {}, "cache": {}, "cachecount": {}, "uncached": {}, "cost": {},
           "per_round": {}}
    for line in r.stdout.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "filter":
            out["filters"][f[1]] = int(f[2])
        elif f[0] == "cache":
            out["cache"].setdefault(f[1], {})[f[2]] = f[3]
        elif f[0] == "cachecount":
            out["cachecount"][f[1]] = (int(f[2]), int(f[3]))
        elif f[0] == "uncached":
            out["uncached"][f[1]] = " ".join(f[2:])
        elif f[0] == "cost":
            rnd, flt, call, ns, errors = int(f[1]), f[2], f[3], float(f[4]), int(f[5])
            out["cost"].setdefault(flt, {}).setdefault(call, []).append(ns)
            out["per_round"].setdefault(rnd, {}).setdefault(flt, {})[call] = ns
            if errors:
                out.setdefault("errors", []).append(line)
    out["stderr"] = r.stderr.strip()[-500:]
    # errno-log (issue 17): a refused call under errno and under errno-log. Few calls per
    # measurement: every logged refusal is a line in the kernel log, which other readers share.
    argv = [SECCOMP_LOG_COST, str(n("seccomp_rounds")), "2000"]
    record("seccomp_log", argv)
    r = run(argv, timeout=600)
    out["log_cost"] = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 5 and f[0] == "cost":
            out["log_cost"].setdefault(f[2], []).append(float(f[3]))
            if int(f[4]):
                out.setdefault("errors", []).append(line)
    res["seccomp"] = out


# ---- ssh end to end -----------------------------------------------------------------------------

def section_ssh(sb, conf, res):
    base = "account required pam_unix.so\nsession required pam_unix.so\n"
    stacks = {"without": base,
              "with": base + f"session required {PAM_MODULE} config={conf} helper={HELPER}\n"}
    envs, servers = [], []
    try:
        for name in ("without", "with"):
            env = PrivateEnv({"sshd": stacks[name]})
            envs.append(env)
            srv = SshServer(env)
            servers.append(srv)
            srv.authorize(USER)
            srv.start()
        checks = {}
        for name, srv in zip(("without", "with"), servers):
            r = srv.ssh(USER, "grep -E '^Seccomp:' /proc/self/status; readlink /proc/self/ns/pid")
            checks[name] = (r.returncode, r.stdout.strip().replace("\n", " "), r.stderr.strip())
        host_pidns = os.readlink("/proc/self/ns/pid")
        ok = (checks["without"][0] == 0 and checks["with"][0] == 0
              and "Seccomp:\t2" in checks["with"][1] + "\t" and host_pidns not in checks["with"][1])
        cmds = []
        for srv in servers:
            argv = srv.ssh_argv(USER, "true")
            argv[0] = shutil.which("ssh")
            cmds.append(argv)
        times, fails = alternate("ssh", n("ssh"), cmds, gap_ms=IDLE_GAP_MS)
        left = sb.wait_clean(30)
        res["ssh"] = {"without": [ms(t) for t in times[0]], "with": [ms(t) for t in times[1]],
                      "fails": fails, "checks": checks, "confined": ok, "left": left}
    finally:
        for srv in servers:
            srv.close()
        for env in envs:
            env.close()


# ---- RESULTS.md ------------------------------------------------------------------------------------

def verdict(ok):
    return "met" if ok else "**missed**"


def login_table(b, runs, stacks, added=False):
    """A table of section 1: a row per run (spaced, back to back) and stack (service, name);
    added: a column with the p50 each stack adds over the plain stack's."""
    b("| run | stack | n | open+close p50 | p90 | p99 | open p50 | close p50 | CPU p50 "
      "(caller+helper) | helper's own duration p50 |"
      + (" added over plain, p50 |" if added else ""))
    b("|---|---|---|---|---|---|---|---|---|---|" + ("---|" if added else ""))
    for mode, label in (("spaced", "spaced"), ("b2b", "back to back")):
        m = runs.get(mode)
        if not m:
            continue
        base = med(m["bench-plain"]["oc"])
        for s, name in stacks:
            st = m[s]
            hd = m["helper_ms"].get(s) or []
            row = (f"| {label} | {name} | {st['n']}"
                   f"{' (' + str(st['failed']) + ' failed)' if st['failed'] else ''} | "
                   f"{f2(med(st['oc']))} | {f2(pct(st['oc'], 90))} | {f2(pct(st['oc'], 99))} | "
                   f"{f2(med(st['open']))} | {f2(med(st['close']))} | {f2(med(st['cpu']))} | "
                   f"{f2(med(hd)) if hd else '-'} |")
            if added:
                row += f" {'-' if s == 'bench-plain' else f2(med(st['oc']) - base)} |"
            b(row)
    b("")


def cpu_table(b, name, prof, plain, max_rows=30):
    """perf_profile's figures of a stack against the plain stack's, the largest first."""
    b(f"| process | where | {name} | plain |")
    b("|---|---|---|---|")
    tot_i = sum(v for k, v in prof.items() if "|k:" not in k)
    tot_p = sum(v for k, v in plain.items() if "|k:" not in k)
    b(f"| all | total | {f2(tot_i)} | {f2(tot_p)} |")
    keys = sorted(set(prof) | set(plain), key=lambda k: -max(prof.get(k, 0), plain.get(k, 0)))
    shown_rows = 0
    for key in keys:
        comm, part = key.split("|", 1)
        vi, vp = prof.get(key, 0), plain.get(key, 0)
        if max(vi, vp) < 0.05 or shown_rows >= max_rows:
            continue
        label = f"kernel: {part[2:]}" if part.startswith("k:") else (
            "kernel (all)" if part == "kernel" else f"user: {part}")
        b(f"| {comm} | {label} | {f2(vi)} | {f2(vp)} |")
        shown_rows += 1
    b("")


JOIN_STEPS = [
    ("before_helper", "pam_start, module, posix_spawn + 2 execs + dynamic linking until the "
                      "helper's constructors"),
    ("config", "helper: config load, until it tells the caller its fail mode"),
    ("policy", "helper: user, policy, seccomp program (cache), LSM plan, the user's caps over "
               "the live sandboxes, the registry entry of the one to join"),
    ("caps", "helper: the user's caps written"),
    ("connect", "helper: connect to the init's socket, MSG_JOIN sent"),
    ("init_answer", "the init takes the login and answers with its pidfd; the helper opens "
                    "the caller's cgroup files and sends the reply"),
    ("helper_tail", "helper: after the reply until exit (decision log, frees)"),
    ("after_helper", "caller, after the helper's exit: reaping it, the join (its own cgroup "
                     "moves, setns, bounding set, no_new_privs, seccomp) until "
                     "pam_open_session returns"),
    ("open", "**total: pam_open_session (with pam_start)**"),
]


def write_results(res, info, errors, t_total):
    L = []
    w = L.append
    w("# isolate benchmarks")
    w("")
    w("Generated by `make bench` (tests/bench/run.sh, tests/bench/bench.py); do not edit by hand."
      f"{' Quick run (BENCH_QUICK=1): fewer rounds.' if QUICK else ''}")
    w("")
    w("## Machine")
    w("")
    la0, la1 = info["load_start"], info["load_end"]
    cpus = info["cpus"]
    busiest = max([la0[0], la1[0]] + [v[1] for v in info.get("sections", {}).values()]
                  + [v[2] for v in info.get("sections", {}).values()])
    loaded = busiest > 0.5 * cpus
    w(f"- date: {info['date']}; total run time {t_total:.0f} s")
    w(f"- host `{info.get('host', '?')}`: {info['kernel']}, Debian {info['debian']}, "
      f"{info['cpus']} x {info['cpu']}, "
      f"{info['mem_total_gib']:.1f} GiB RAM, virtualisation: {info['virt']}")
    w(f"- cgroup: {info['cgroup']}; favordynmods: {'yes' if info['favordynmods'] else 'no'}")
    w(f"- tree: {info['commit']}; build `{os.path.relpath(BUILD, ROOT)}` (-O2)")
    w("- versions: " + "; ".join(f"{k} {v}" for k, v in info["versions"].items()))
    w(f"- load average (1/5/15 min) at start {la0[0]:.1f}/{la0[1]:.1f}/{la0[2]:.1f}, at end "
      f"{la1[0]:.1f}/{la1[1]:.1f}/{la1[2]:.1f} on {cpus} CPUs; {info['procs']} processes at "
      "start.")
    if info.get("sections"):
        w("- sections (run time; 1-min load average at start and end): " + "; ".join(
            f"{k} {v[0]:.0f} s, {v[1]:.1f}/{v[2]:.1f}" for k, v in info["sections"].items()))
    for k, v in (info.get("merged") or {}).items():
        w(f"- section {k} ran on its own later (`BENCH_SECTIONS={k} BENCH_MERGE=1`): "
          f"{v['date']}, tree {v['commit']}, load average {v['load'][0]:.1f} at start and "
          f"{v['load'][1]:.1f} at end; every other figure is from the run above.")
    if loaded:
        w(f"- **The machine was {'loaded' if busiest > cpus else 'shared'}** (other engineers' "
          f"builds and tests; load average up to {busiest:.1f} on {cpus} CPUs). Every "
          "comparison below ran interleaved (A B A B ...), so load hits both sides alike, "
          "but absolute times and tails (p90, p99) are inflated and noisy; medians of paired "
          "comparisons are the figures to trust.")
    w("")
    w("Figures are milliseconds unless marked; `p50 (p10-p90)` gives the median and the "
      "spread. n = number of samples.")
    w("")

    targets = []
    pam = res.get("pam")
    tools = res.get("tools")
    scale = res.get("scale")
    sc = res.get("seccomp")
    ssh = res.get("ssh")
    ex = res.get("exec")
    mig = res.get("migrate")

    # ---- targets summary is assembled as sections are written; printed first
    body = []
    b = body.append

    # (1) PAM
    b("## 1. Login setup through PAM")
    b("")
    if pam:
        b("A small PAM application (tests/bench/pam_loop.c) logs the test user in and out, "
          "each login in a fresh child process (the module joins its caller to the sandbox, "
          "so a process logs in once, like sshd's monitor), in a private mount namespace "
          "whose /etc/pam.d holds the stacks (sshd.py's PrivateEnv). The three stacks "
          "alternate login by login:")
        b("")
        b("- `plain`: `session required pam_unix.so`")
        b("- `isolate`: the same plus `session required pam_isolate.so config=... "
          "helper=build/isolate-helper` (policy `bench`, the shipped `bastion` policy, network "
          "= host)")
        b("- `network=none`: the same with policy `bench_none` (a new net namespace)")
        b("")
        b(f"*Spaced*: {IDLE_GAP_MS} ms of idle time before each login, as real logins arrive "
          "(and longer than an RCU grace period, see 1b). *Back to back*: no pause.")
        b("")
        login_table(b, pam, (("bench-plain", "plain"), ("bench-iso", "isolate"),
                             ("bench-none", "network=none")))
        sp = pam.get("spaced")
        bb = pam.get("b2b")
        if sp:
            d_sp = med(sp["bench-iso"]["oc"]) - med(sp["bench-plain"]["oc"])
            d_none = med(sp["bench-none"]["oc"]) - med(sp["bench-iso"]["oc"])
            d_bb = med(bb["bench-iso"]["oc"]) - med(bb["bench-plain"]["oc"]) if bb else float("nan")
            d_cpu = med(sp["bench-iso"]["cpu"]) - med(sp["bench-plain"]["cpu"])
            b(f"**Overhead of pam_isolate (p50 difference, open+close)**: spaced "
              f"**{f2(d_sp)} ms**, back to back {f2(d_bb)} ms; CPU time {f2(d_cpu)} ms per "
              f"login. A new net namespace (network = none) adds {f2(d_none)} ms (spaced).")
            b("")
            targets.append(("Setup overhead p50 without a net namespace (1, spaced)",
                            "<= 1.5 ms", f"{f2(d_sp)} ms", d_sp <= 1.5))
            if bb:
                targets.append(("  the same, back to back (1)", "<= 1.5 ms", f"{f2(d_bb)} ms",
                                d_bb <= 1.5))
            bd_ = pam.get("breakdown") or []
            if bd_ and med([r["migrations"] for r in bd_]) > 1:
                d_wo = med([r["open_without_migrations"] for r in bd_]) - med(sp["bench-plain"]["open"])
                targets.append(("  the same without the helper's cgroup moves (1a: open only, "
                                "through the wrapper, so one exec more)", "<= 1.5 ms",
                                f"{f2(d_wo)} ms", d_wo <= 1.5))
        for mode in ("spaced", "b2b"):
            if pam.get(mode, {}).get("left") and any(pam[mode]["left"].values()):
                b(f"Left behind after the {mode} run: `{pam[mode]['left']}`")
                b("")
        bd = pam.get("breakdown") or []
        if bd:
            b("### 1a. Where the time of an isolate login goes")
            b("")
            b("The same spaced login once more through tests/bench/helper_wrap, which execs "
              "the helper with tests/bench/helper_shim.so preloaded: it timestamps the "
              "helper's cgroup writes and mkdirs, its clone3, the session child's exec of "
              "isolate-init and the helper's exit, and reads the CPU and run-queue times of "
              "both from /proc/self/schedstat. The wrapper adds one exec, so `open` is a "
              f"little higher than above. n = {len(bd)}.")
            b("")
            b("| step (in order) | p50 | p90 |")
            b("|---|---|---|")
            steps = [
                ("before_helper", "pam_start, module, posix_spawn + 2 execs + dynamic linking "
                                  "until the helper's constructors"),
                ("config_policy", "helper: config load, policy, seccomp program (cache), "
                                  "LSM plan, until the first cgroup mkdir"),
                ("cgroup_create", "helper: user cgroup, caps, session leaf, supervisor "
                                  "(mkdirs and cap writes)"),
                ("clone", "clone3 into new namespaces, until the session child runs"),
                ("child_migrations", "session child: its cgroup moves (into the leaf, then "
                                     "the supervisor)"),
                ("child_other", "session child: cgroup namespace, mounts, fds, until exec "
                                "of isolate-init"),
                ("init_ready_commit", "exec of isolate-init, it says ready; the helper "
                                      "writes the registry, commits, opens the caller's "
                                      "cgroup files, sends the reply"),
                ("caller_migration", "helper: moves of the caller (none where the caller "
                                     "moves itself in the join)"),
                ("reply", "helper: until the reply is sent"),
                ("helper_tail", "helper: after the reply until exit (decision log, frees) "
                                "(in parallel with the join)"),
                ("after_helper", "caller, after the helper's exit: reaping it, the join "
                                 "(its own cgroup moves, setns, bounding set, no_new_privs, "
                                 "seccomp) until pam_open_session returns"),
                ("open", "**total: pam_open_session (with pam_start)**"),
            ]
            for key, label in steps:
                vals = [r[key] for r in bd]
                if max(vals) <= 0:
                    continue  # a step this tree does not have (e.g. the helper moving the caller)
                b(f"| {label} | {f2(med(vals))} | {f2(pct(vals, 90))} |")
            b("")
            mig_sum = [r["migrations"] for r in bd]
            slow = [r["slowest_migration"] for r in bd]
            wo = [r["open_without_migrations"] for r in bd]
            hcpu = [r["helper_cpu"] + r["child_cpu"] for r in bd]
            hrq = [r["helper_runq"] + r["child_runq"] for r in bd]
            hw = [r["helper_wall"] for r in bd]
            b(f"- cgroup moves (writes to cgroup.procs or tasks) by the helper and the session "
              f"child: {bd[0]['n_migration_writes']} per login, total p50 {f2(med(mig_sum))} ms "
              f"(p90 {f2(pct(mig_sum, 90))}), the slowest single write p50 {f2(med(slow))} ms. "
              "The caller's own moves happen in the join, in the caller, where the shim is "
              "not loaded: they are part of the last step.")
            b(f"- pam_open_session **without those writes**: p50 {f2(med(wo))} ms "
              f"(p90 {f2(pct(wo, 90))}).")
            b(f"- helper (from its constructors to exit): wall {f2(med(hw))} ms p50. CPU of the "
              f"helper (from its spawn, so with its exec) and the session child: "
              f"{f2(med(hcpu))} ms; their wait for a CPU (run queue, machine load) "
              f"{f2(med(hrq))} ms. Minor page faults: the helper "
              f"{med([r['helper_minflt'] for r in bd]):.0f} (from its exec), the session child "
              f"{med([r['child_minflt'] for r in bd]):.0f} (until its exec of isolate-init).")
            b("")
        if mig:
            b("### 1b. One cgroup migration alone")
            b("")
            b("A process moved between two cgroups of the bench's own "
              f"(`{mig['where']}/bench-migrate-{{a,b}}`, pids hierarchy), {len(mig['idle'])} "
              f"times each way: after {IDLE_GAP_MS} ms idle and again at once; by another "
              "process writing its pid to `cgroup.procs`, and by itself writing `0` to "
              "`tasks`:")
            b("")
            b("| move | p50 | p10-p90 | max |")
            b("|---|---|---|---|")
            for key, label in (("idle", f"another's, cgroup.procs, after {IDLE_GAP_MS} ms idle"),
                               ("hot", "another's, cgroup.procs, right after a move"),
                               ("self_idle", f"itself, tasks, after {IDLE_GAP_MS} ms idle"),
                               ("self_hot", "itself, tasks, right after a move")):
                v = mig.get(key) or []
                if v:
                    b(f"| {label} | {f2(med(v))} | {f2(pct(v, 10))}-{f2(pct(v, 90))} | "
                      f"{f2(max(v))} |")
            b("")
            b("Moving a whole process (cgroup.procs) takes cgroup_threadgroup_rwsem for "
              "writing, and after an idle spell its rcu_sync first waits for an RCU grace "
              "period (percpu_down_write -> rcu_sync_enter -> synchronize_rcu); while writers "
              "keep coming within a grace period the next one is fast. A single thread "
              "moving itself through v1's `tasks` does not take that lock. The "
              "`favordynmods` mount option (not set here) would keep the lock in "
              "writer-friendly mode for every move.")
            b("")
    else:
        b("Not measured: " + errors.get("pam", "?"))
        b("")

    if ex:
        b("### 1c. exec of the helper")
        b("")
        b(f"`isolate-helper --version` against a static and a dynamic hello (in alternation, "
          f"n = {len(ex['helper'])}); the helper links {len(ex['libs'])} shared "
          f"librar{'y' if len(ex['libs']) == 1 else 'ies'} "
          f"({', '.join(os.path.basename(x) for x in ex['libs'])}).")
        b("")
        b("| program | wall p50 (p10-p90) | instructions (callgrind) |")
        b("|---|---|---|")
        ir = ex.get("ir", {})

        def irs(k):
            v = ir.get(k)
            return f"{v:,}" if v else "n/a"
        b(f"| isolate-helper --version | {spread(ex['helper'])} | {irs('helper')} |")
        b(f"| hello, dynamic (libc only) | {spread(ex['dynamic'])} | {irs('dynamic')} |")
        b(f"| hello, static | {spread(ex['static'])} | {irs('static')} |")
        b("")
        extra = med(ex["helper"]) - med(ex["static"])
        b(f"The helper's exec costs {f2(extra)} ms more than a static program's "
          f"({f2(med(ex['helper']) - med(ex['dynamic']))} ms more than a libc-only one)"
          + (f"; ld.so reports {ex['ld_cycles']:,} cycles of startup and "
             f"{ex['relocs']:,} relocations" if ex.get("ld_cycles") else "") + ".")
        b("")

    prof = res.get("profile")
    if prof and prof.get("total"):
        b("### 1d. Instructions of the helper (callgrind)")
        b("")
        b("One login through tests/bench/helper_wrap built as helper_vg, which runs the helper "
          "under `valgrind --tool=callgrind`: instruction counts are repeatable, unlike times "
          "on a loaded machine. valgrind does not know pidfd_open, so that login is refused "
          f"there (\"{prof['stop']}\"): the profile covers exec to pidfd_open of the "
          "caller, i.e. everything before the cgroups, clone3 and the mounts (kernel work, "
          "which callgrind does not see anyway).")
        b("")
        b("| part (inclusive) | instructions | share |")
        b("|---|---|---|")
        b(f"| total, exec to the refusal | {prof['total']:,} | 100% |")
        for key, label in PROFILE_FUNCS:
            v = prof["counts"].get(key)
            if v:
                b(f"| {label} | {v:,} | {v / prof['total'] * 100:.0f}% |")
        b("")

    cpu = res.get("cpu")
    if cpu:
        iso, pl = cpu["isolate"], cpu["plain"]
        b("### 1e. CPU of a login by process and system call (perf)")
        b("")
        b(f"`perf record -e cpu-clock -F {PERF_HZ} -g` over {cpu['rounds']} logins of each "
          "stack, 20 ms apart (pam_loop and everything it starts: the helper, the session "
          "child, isolate-init). ms of CPU per login; user time by shared object, kernel time "
          "by the system call it was spent in (inclusive), the largest first.")
        b("")
        cpu_table(b, "isolate", iso, pl)

    jn = res.get("join")
    if jn:
        b("### 1f. A login that joins a live sandbox (scope = user)")
        b("")
        b("Policy `bench_user`: `bench` with `scope = user` (`linger = no`). One login of it "
          "is held open for the whole section (`pam_loop hold`), so that its sandbox lives "
          "and holds a ticket (client/ticket.h) for this user and service; then four stacks "
          "alternate login by login as in 1, each login from an address of its own "
          "(`pam_loop -r`): `plain`; `fresh` (policy `bench`: a sandbox made and ended per "
          "login); `join (ticket)` (policy `bench_user`: the module reads the ticket's link, "
          "builds the login's key and asks the held sandbox's init, which answers with the "
          "join the helper gave it; no helper runs); and `join (helper)` (the same policy "
          "from a config that matches on networks, so that the rhost is part of the key and "
          "no login has a ticket: the module's lookup misses, and the helper finds the held "
          "sandbox in the registry, sets the user's caps, hands its init the caller "
          "(MSG_JOIN) and replies with the init's pidfd). Either way the caller joins as it "
          "would a new sandbox; nothing is made, and its logout ends nothing.")
        b("")
        login_table(b, jn, (("bench-plain", "plain"), ("bench-iso", "fresh"),
                            ("bench-join", "join (ticket)"),
                            ("bench-join-helper", "join (helper)")), added=True)
        for mode, label in (("spaced", "spaced"), ("b2b", "back to back")):
            m = jn.get(mode)
            if not m:
                continue
            d_join = med(m["bench-join"]["oc"]) - med(m["bench-plain"]["oc"])
            d_fresh = med(m["bench-iso"]["oc"]) - med(m["bench-plain"]["oc"])
            d_join90 = pct(m["bench-join"]["oc"], 90) - pct(m["bench-plain"]["oc"], 90)
            hj = m.get("bench-join-helper")
            d_help = med(hj["oc"]) - med(m["bench-plain"]["oc"]) if hj else float("nan")
            outc = ", ".join(f"{v} {k}" for k, v in sorted(m["outcomes"].items())) or "none"
            outh = ", ".join(f"{v} {k}" for k, v in
                             sorted((m.get("outcomes_helper") or {}).items())) or "none"
            b(f"- {label}: a join by ticket adds **{f2(d_join)} ms** p50 over the plain stack "
              f"({f2(d_join90)} ms at p90), a join through the helper {f2(d_help)} ms, a fresh "
              f"sandbox {f2(d_fresh)} ms: the join by ticket costs "
              f"{d_join / d_fresh * 100:.0f}% of a fresh login. The module's decision lines "
              f"for the ticket stack: {outc}; the helper's for the helper stack: {outh}.")
            mm = m.get("module_ms") or []
            if mm:
                b(f"  Of a join by ticket, the module's own time (pam_isolate's decision line, "
                  f"setup_ms: from its start to the end of the join: the config's runtime_dir, "
                  f"the link, the key, the init's answer, the caller's join) is "
                  f"{f2(med(mm))} ms p50 (n = {len(mm)}); the rest of what it adds is loading "
                  f"pam_isolate.so into each new PAM handle and the close.")
            targets.append((f"Join overhead p50, scope = user, by ticket (1f, {label})",
                            "<= 1.5 ms", f"{f2(d_join)} ms", d_join <= 1.5))
        b("- back to back, each join starts as the fresh login before it ends: that "
          "sandbox's init tears it down and runs `isolate-helper caps` (the user still has "
          "the held sandbox, whose caps apply again), which takes a CPU and the user's lock "
          "while the join runs; whichever stack comes after the fresh one pays for it. The "
          "spaced figures are the ones to compare.")
        b(f"- the held sandbox: {jn.get('held_inits', '?')} init while held, "
          f"{jn.get('inits_after', '?')} after the fresh logins' had ended; after its "
          "release: " + ("nothing left" if not any((jn.get("left") or {}).values())
                         else f"left `{jn['left']}`") + ".")
        b("")
        bd = jn.get("breakdown") or []
        if bd:
            b(f"Where the time of a join through the helper goes (a login without a ticket): "
              f"the helper stack's join through tests/bench/helper_wrap "
              f"(helper_shim.so preloaded, as in 1a; one exec more), {IDLE_GAP_MS} ms apart, "
              f"n = {len(bd)}. The helper's messages mark its steps: HELLO to the caller after "
              "the config, MSG_JOIN to the init, the reply.")
            b("")
            b("| step (in order) | p50 | p90 |")
            b("|---|---|---|")
            for key, label in JOIN_STEPS:
                vals = [r[key] for r in bd]
                b(f"| {label} | {f2(med(vals))} | {f2(pct(vals, 90))} |")
            b("")
            b(f"- helper (from its constructors to exit): wall "
              f"{f2(med([r['helper_wall'] for r in bd]))} ms p50; its CPU from its spawn (with "
              f"the exec) {f2(med([r['helper_cpu'] for r in bd]))} ms; minor page faults "
              f"{med([r['helper_minflt'] for r in bd]):.0f}.")
            b("")
        jc = jn.get("cpu")
        if jc:
            b(f"CPU of a join (`perf record -e cpu-clock -F {PERF_HZ} -g` over {jc['rounds']} "
              "join logins and as many plain ones, 20 ms apart, as in 1e), ms per login:")
            b("")
            cpu_table(b, "join", jc["join"], jc["plain"], max_rows=20)
        elif jn.get("cpu_error"):
            b(f"CPU by process (perf): not measured: {jn['cpu_error']}")
            b("")
    elif errors.get("join"):
        b("### 1f. A login that joins a live sandbox (scope = user)")
        b("")
        b("Not measured: " + errors["join"])
        b("")

    eg = res.get("egress")
    if eg:
        egress_report(b, eg, info)
    elif errors.get("egress"):
        b("### 1g. egress_allow: connect() and login (issue 15)")
        b("")
        b("Not measured: " + errors["egress"])
        b("")

    # (2) tools
    b("## 2. The same sandbox by other tools (whole process)")
    b("")
    if tools:
        t = tools["times"]
        b(f"Each command once per round, in alternation, {IDLE_GAP_MS} ms of idle time before "
          "each run; wall time from spawn to exit (tests/bench/alternate.c).")
        b("")
        b("| command | n | p50 | p10-p90 | minus /bin/true |")
        b("|---|---|---|---|---|")
        base = med(t.get("/bin/true", []))
        for name in tools["names"]:
            v = t[name]
            fail = tools["fails"][name]
            b(f"| {name} | {len(v)}{' (' + str(fail) + ' failed)' if fail else ''} | "
              f"{f2(med(v))} | {f2(pct(v, 10))}-{f2(pct(v, 90))} | {f2(med(v) - base)} |")
        b("")
        iso = med(t["isolatectl run"])
        for other, target in (("bwrap", 0.5), ("firejail", 0.1)):
            if other in t and t[other]:
                ratio = iso / med(t[other])
                b(f"- isolate/{other}: **{ratio:.2f}** (target <= {target})")
                targets.append((f"isolate/{other} (2)", f"<= {target}", f"{ratio:.2f}",
                                ratio <= target))
        if tools["missing"]:
            b(f"- not installed: {', '.join(tools['missing'])}")
        b("")
    else:
        b("Not measured: " + errors.get("tools", "?"))
        b("")

    # (3) scale
    b("## 3. Scale: sessions held open")
    b("")
    if scale:
        b("pam_loop opens N sessions back to back and keeps them open (each held by a child "
          f"process, the caller); then logs in and out {n('scale_probes')} more times, "
          f"{IDLE_GAP_MS} ms apart, while the N are held (*probes*, the same spaced login as "
          f"in 1), and {n('scale_breakdown')} times through the shim-wrapped helper (the "
          "breakdown below); then releases all. Teardown: from the release until no init, "
          "no cgroup leaf and no registry entry of the bench is left (harness.py's "
          "wait_clean).")
        b("")
        b("| N | opens p50 | opens p99 | probes p50 | probes p99 | all N opened in | teardown "
          "| left afterwards |")
        b("|---|---|---|---|---|---|---|---|")
        for lv in scale["levels"]:
            c = lv["count"]
            left = lv.get("left") or {}
            leftover = "nothing" if not any(left.values()) else str(left)
            fails = lv["open_failed"] + lv["probes"]["failed"]
            b(f"| {c}{' (' + str(fails) + ' failed)' if fails else ''} | "
              f"{f2(med(lv['opens']))} | {f2(pct(lv['opens'], 99))} | "
              f"{f2(med(lv['probes']['open']))} | {f2(pct(lv['probes']['open'], 99))} | "
              f"{f2(lv.get('ramp_s', float('nan')))} s | {f1(lv['teardown_ms'])} ms | "
              f"{leftover} |")
        pl = scale.get("plain")
        if pl:
            b(f"| {pl['count']}, plain stack | {f2(med(pl['opens']))} | "
              f"{f2(pct(pl['opens'], 99))} | - | - | {f2(pl.get('ramp_s', float('nan')))} s "
              f"| {f1(pl['teardown_ms'])} ms | - |")
        b("")
        b("(opens and probes: pam_open_session, ms.)")
        for lv in scale["levels"]:
            if lv.get("denied"):
                b("")
                b(f"At {lv['count']} sessions the helper denied " + "; ".join(
                    f"{v} with \"{k}\"" for k, v in sorted(lv["denied"].items(),
                                                        key=lambda kv: -kv[1])) +
                  f". fs.inotify.max_user_instances here: {scale.get('inotify_instances', '?')}"
                  " (each session's init holds an inotify instance, for the login records, "
                  "and all of them count against root's).")
        b("")
        b("Memory per session, KiB. *charged*: the growth of the bench's own memory cgroup "
          "(every process of the bench and of its sessions, and the kernel objects they "
          "allocate, are charged inside it, nobody else's: a clean figure on a shared "
          "machine), split into kernel (kmem), anonymous and file/shmem pages. *MemAvailable*: "
          "the host-wide drop, for comparison (others' activity moves it too). *kmalloc, not "
          "charged*: growth of the plain kmalloc-* slab caches (/proc/slabinfo, host-wide): "
          "kernel allocations made without __GFP_ACCOUNT, which no cgroup sees (see below). "
          "*Percpu*: the growth of /proc/meminfo's Percpu (host-wide; per-cpu counters of "
          "the session's cgroups and mounts, it grows with the number of CPUs). "
          "Measured 1 s after the last open, divided by N.")
        b("")
        b("| N | init PSS (mean) | init RSS (mean) | caller PSS (mean) | charged | kernel | anon "
          "| file | kmalloc, not charged | Percpu | MemAvailable drop |")
        b("|---|---|---|---|---|---|---|---|---|---|---|")
        rows = list(scale["levels"]) + ([dict(pl, plain=True)] if pl else [])
        for lv in rows:
            c = lv["count"]
            cg = lv.get("memcg_delta_kib", {})
            pss, rss, hp = lv["init_pss_kib"], lv["init_rss_kib"], lv["holder_pss_kib"]

            def per(k):
                return f1(cg[k] / c) if k in cg else "n/a"
            b(f"| {c}{', plain stack' if lv.get('plain') else ''} | "
              f"{f1(sum(pss) / len(pss)) if pss else '-'} | "
              f"{f1(sum(rss) / len(rss)) if rss else '-'} | "
              f"{f1(sum(hp) / len(hp)) if hp else '-'} | {per('usage')} | {per('kmem')} | "
              f"{per('rss')} | {per('cache')} | "
              f"{f1(lv.get('kmalloc_uncharged_kib', float('nan')) / c)} | "
              f"{f1(-lv['mem_delta_kib']['Percpu'] / c)} | "
              f"{f1(lv['mem_delta_kib']['MemAvailable'] / c)} |")
        b("")
        levels = {lv["count"]: lv for lv in scale["levels"]}
        top = max(levels)
        sg = levels[top].get("slab_growth") or []
        if sg:
            b(f"Slab caches that grew most while {top} sessions were held (/proc/slabinfo, "
              "host-wide), KiB per session: " + ", ".join(
                  f"{k} {v / 1024 / top:.1f}" for k, v in sg[:8] if v > 0) + ".")
            b("")
        if any(lv.get("breakdown") for lv in scale["levels"]):
            b("Where a probe's time goes as N grows (the shim-wrapped helper, p50, ms; steps as "
              "in 1a):")
            b("")
            keys = [("config_policy", "config, policy"), ("cgroup_create", "cgroup create + gc"),
                    ("clone", "clone3"), ("migrations", "cgroup moves"),
                    ("child_other", "child: mounts"), ("open", "pam_open_session")]
            b("| N | " + " | ".join(k[1] for k in keys) + " |")
            b("|---|" + "---|" * len(keys))
            for lv in scale["levels"]:
                bd = lv.get("breakdown") or []
                if bd:
                    b(f"| {lv['count']} | " + " | ".join(f2(med([r[k] for r in bd]))
                                                      for k, _ in keys) + " |")
            b("")
        one = levels.get(1)
        if one and top:
            p50_1 = med(one["probes"]["open"])
            p99_top = pct(levels[top]["probes"]["open"], 99)
            ratio = (f"{p99_top / p50_1:.1f}x" if levels[top]["probes"]["open"]
                     else f"n/a (every probe at {top} failed)")
            b(f"- p99 of the probes at {top} sessions: {f2(p99_top)} ms against {f2(p50_1)} ms "
              f"p50 at 1 session: **{ratio}** (target <= 3x)")
            targets.append((f"p99 setup at {top} sessions vs p50 at 1 (3)",
                            "<= 3x", ratio, p99_top <= 3 * p50_1))
            pss = levels[top]["init_pss_kib"]
            if pss:
                mean_pss = sum(pss) / len(pss)
                targets.append((f"memory per idle session at {top}: the init's PSS (3)",
                                "<= 256 KiB", f"{f1(mean_pss)} KiB", mean_pss <= 256))
            cg = levels[top].get("memcg_delta_kib", {})
            cgp = (pl or {}).get("memcg_delta_kib", {})
            if "usage" in cg:
                plc = pl["count"] if pl else 1
                mine = cg["usage"] / top - (cgp.get("usage", 0) / plc if pl else 0)
                unch = (levels[top].get("kmalloc_uncharged_kib", 0) / top
                        - ((pl or {}).get("kmalloc_uncharged_kib", 0) / plc if pl else 0))
                b(f"- memory charged per session at {top}: {f1(cg['usage'] / top)} KiB; the "
                  f"plain stack holding as many logins (the callers alone) "
                  f"{f1(cgp.get('usage', 0) / plc) if pl else 'n/a'} KiB: isolate's share "
                  f"**{f1(mine)} KiB** charged, plus {f1(unch)} KiB of kernel memory no "
                  f"cgroup is charged for: **{f1(mine + unch)} KiB** per session")
                targets.append((f"memory per idle session at {top}: charged and uncharged, "
                                "minus the plain stack's (3)", "<= 256 KiB",
                                f"{f1(mine + unch)} KiB", mine + unch <= 256))
            if levels[top].get("superblocks_session"):
                b(f"- a session makes {levels[top]['superblocks_session']} superblocks of its "
                  f"own ({', '.join(levels[top].get('session_fstypes', []))}) and holds "
                  f"{levels[top].get('mounts_session')} mounts")
            if levels[top].get("kmalloc_1k_objs"):
                b(f"- kmalloc-1k grew by {levels[top]['kmalloc_1k_objs'] / top:.0f} objects "
                  "per session: the shrinker_info of the session's memory cgroup (see the "
                  "last section)")
            b(f"- teardown of {top} sessions: {f1(levels[top]['teardown_ms'])} ms "
              f"(the callers themselves exited within {f1(levels[top]['released_ms'])} ms)")
        b("")
    else:
        b("Not measured: " + errors.get("scale", "?"))
        b("")

    # (4) seccomp
    b("## 4. seccomp cost per system call")
    b("")
    if sc:
        f = sc["filters"]
        b(f"tests/bench/seccomp_cost.c, linked against the build's objects: each filter loaded "
          f"in a fresh child, {n('seccomp_rounds')} rounds in rotation, 20000 calls per "
          "measurement (5000 for open+close). Filters: `none`; `one-rule` (`ret ALLOW`, 1 "
          "instruction: the price of having seccomp at all); `one-rule-nc` (`ld args[0]; ret "
          "ALLOW`: the same verdict, but not provably constant, so the program runs on every "
          "call: a cache miss, for scale); `default` (the default policy, "
          f"seccomp_program_build with libseccomp's binary tree, {f.get('default')} "
          f"instructions); `linear` (the same allowlist without the tree, {f.get('linear')} "
          "instructions).")
        b("")
        calls = ["getpid", "read1", "open+close", "ioctl"]
        flts = ["none", "one-rule", "one-rule-nc", "default", "linear"]
        b("| ns per call, p50 (p10-p90) | " + " | ".join(flts) + " |")
        b("|---|" + "---|" * len(flts))
        for call in calls:
            row = []
            for fl in flts:
                v = sc["cost"].get(fl, {}).get(call, [])
                row.append(f"{f1(med(v))} ({f1(pct(v, 10))}-{f1(pct(v, 90))})" if v else "n/a")
            b(f"| {call} | " + " | ".join(row) + " |")
        b("")
        b("Minimum over the rounds (the least disturbed measurement), ns per call:")
        b("")
        b("| call | " + " | ".join(flts) + " |")
        b("|---|" + "---|" * len(flts))
        for call in calls:
            b(f"| {call} | " + " | ".join(
                f1(min(sc["cost"].get(fl, {}).get(call, [float("nan")]))) for fl in flts) + " |")
        b("")
        b("Paired per round (same round, adjacent children), the median of the ratios:")
        b("")
        b("| call | default / one-rule | linear / one-rule | one-rule / none | "
          "one-rule-nc / one-rule |")
        b("|---|---|---|---|---|")
        ratios = {}
        for call in calls:
            cells = []
            for a, bb_ in (("default", "one-rule"), ("linear", "one-rule"),
                           ("one-rule", "none"), ("one-rule-nc", "one-rule")):
                rs = [pr[a][call] / pr[bb_][call] for pr in sc["per_round"].values()
                      if a in pr and bb_ in pr and call in pr[a] and pr[bb_][call] > 0]
                ratios[(call, a, bb_)] = med(rs)
                cells.append(f2(med(rs)))
            b(f"| {call} | " + " | ".join(cells) + " |")
        b("")
        cache = sc["cache"].get("default", {})
        cc = sc["cachecount"].get("default")
        b("The kernel's constant-action cache (kernel/seccomp.c, seccomp_cache_prepare): a "
          "syscall number whose path through the program reads only arch and nr and ends in "
          "ALLOW is allowed without running the program. seccomp_cost emulates the kernel's "
          "check on the exact program:")
        b("")
        for call in calls:
            b(f"- {call}: default `{cache.get(call, '?')}`, linear "
              f"`{sc['cache'].get('linear', {}).get(call, '?')}`")
        if cc:
            b(f"- over native numbers 0-511, the default program is constant-allow for {cc[0]} "
              f"and runs the program for {cc[1]}: `{sc['uncached'].get('default', '')}` "
              "(ioctl, socket, clone, personality: the calls with argument conditions); "
              "every other number is a constant deny.")
        b("- so for getpid, read, openat and close the kernel never runs the program, "
          "whatever the arguments: their cost cannot depend on them. Measured, default / "
          "one-rule: " + ", ".join(
              f"{call} {f2(ratios.get((call, 'default', 'one-rule'), float('nan')))}"
              for call in ("getpid", "read1", "open+close")) +
          f"; ioctl, which runs the program, {f2(ratios.get(('ioctl', 'default', 'one-rule'), float('nan')))} "
          f"with the tree and {f2(ratios.get(('ioctl', 'linear', 'one-rule'), float('nan')))} "
          "without (its argument block comes first, in the hand-written prefix, so the tree "
          "hardly matters for it).")
        b("")
        for call in ("getpid", "read1"):
            r_ = ratios.get((call, "default", "one-rule"), float("nan"))
            targets.append((f"default filter vs one-rule, {call} (4)", "within 10%",
                            f"{(r_ - 1) * 100:+.1f}%", r_ <= 1.10))
        lc = sc.get("log_cost", {})
        if lc:
            b("A refused call, `seccomp_action = errno` against `errno-log` (issue 17; "
              "tests/bench/seccomp_log_cost.c: getppid refused by a 7-instruction filter, "
              f"2000 calls per measurement, {n('seccomp_rounds')} rounds; `none`: getppid "
              "allowed, no filter; `log`: allowed and logged):")
            b("")
            lf = ["none", "errno", "errno-log", "log"]
            b("| ns per call | " + " | ".join(lf) + " |")
            b("|---|" + "---|" * len(lf))
            b("| p50 (p10-p90) | " + " | ".join(
                f"{f1(med(lc[k]))} ({f1(pct(lc[k], 10))}-{f1(pct(lc[k], 90))})" if lc.get(k)
                else "n/a" for k in lf) + " |")
            b("| min | " + " | ".join(f1(min(lc[k])) if lc.get(k) else "n/a" for k in lf) + " |")
            b("")
            b("Each logged refusal builds an audit record and, without auditd, prints it to the "
              "kernel log: the price is paid per refused call, not per allowed one.")
            b("")
        if sc.get("errors"):
            b("Calls that failed under a filter: " + "; ".join(sc["errors"][:5]))
            b("")
    else:
        b("Not measured: " + errors.get("seccomp", "?"))
        b("")

    # (5) ssh
    b("## 5. ssh end to end")
    b("")
    if ssh:
        wo, wi = ssh["without"], ssh["with"]
        b("`ssh -T user@127.0.0.1 true` (key login, tests/integration/sshd.py: a real sshd "
          "in a private mount namespace) against two sshds, one whose session stack is "
          f"`pam_unix`, one with pam_isolate last; in alternation, {IDLE_GAP_MS} ms apart.")
        b("")
        b("| sshd stack | n | p50 | p10-p90 |")
        b("|---|---|---|---|")
        b(f"| without the module | {len(wo)} | {f2(med(wo))} | {f2(pct(wo, 10))}-{f2(pct(wo, 90))} |")
        b(f"| with the module | {len(wi)} | {f2(med(wi))} | {f2(pct(wi, 10))}-{f2(pct(wi, 90))} |")
        b("")
        diff = med(wi) - med(wo)
        share = diff / med(wi) * 100
        b(f"Difference {f2(diff)} ms: the module's share of an ssh login is **{share:.1f}%**. "
          f"Sanity check (Seccomp: 2 and a pid namespace of its own in the session with the "
          f"module): {'passed' if ssh['confined'] else 'FAILED: ' + str(ssh['checks'])}.")
        if any(ssh["fails"].values()):
            b(f"Failed logins: {ssh['fails']}.")
        b("")
        targets.append(("module share of an ssh login (5)", "< 5%", f"{share:.1f}%", share < 5))
    else:
        b("Not measured: " + errors.get("ssh", "?"))
        b("")

    # where the misses come from
    b("## Where the time and memory go (for the targets missed)")
    b("")
    b(analysis(res))
    b("")

    b("## Commands")
    b("")
    b("Temporary paths: `$SANDBOX` is the bench's root-owned temp dir (config, runtime dir), "
      "`$ENV` a private mount namespace's work dir; both are removed afterwards. The test "
      f"user is `{USER}`, created and removed by the bench. Every measured command:")
    b("")
    b("```")
    seen = set()
    for section, cmd in COMMANDS:
        if (section, cmd) in seen:
            continue
        seen.add((section, cmd))
        b(f"[{section}] {cmd}")
    b("```")
    b("")
    if errors:
        b("## Sections that could not run")
        b("")
        for k, v in errors.items():
            b(f"- {k}: {v}")
        b("")

    w("## Targets")
    w("")
    w("| target (issue 7; join: issue 14) | goal | measured | |")
    w("|---|---|---|---|")
    for name, goal, got, ok in targets:
        w(f"| {name} | {goal} | {got} | {verdict(ok)} |")
    w("")
    L.extend(body)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as fh:
        fh.write("\n".join(L).rstrip() + "\n")


def egress_report(b, eg, info):
    b("### 1g. egress_allow: connect() and login (issue 15)")
    b("")
    when = (info.get("merged") or {}).get("egress")
    if when:
        b(f"*This section ran on its own ({when['date']}, tree {when['commit']}, load average "
          f"{when['load'][0]:.1f} at start and {when['load'][1]:.1f} at end; `BENCH_SECTIONS=egress "
          "BENCH_MERGE=1`); the other sections are the full run above.*")
        b("")
    b("Two policies that differ only in `egress_allow`: `bench` (as in 1) and `bench_egress` "
      "(the same plus `egress_allow = {\"10.0.0.0/8:22\", \"192.0.2.10:443/tcp\", "
      f"\"[2001:db8::]/32:22\", \"127.0.0.2:{eg['port']}/tcp\"}}`, egress_log on, the "
      "default); `bench_egress_nolog` adds `egress_log = false`.")
    b("")
    c = eg.get("connect") or {}
    if c:
        b(f"**connect()** inside a session: `isolatectl run` of tests/bench/connect_loop.c, "
          f"{eg['calls']} calls per run, the four runs below in turn, {eg['rounds']} rounds "
          "(after one of warm-up), in the private mount namespace of 1 (the inits log to the "
          "bench's listener). A call is `connect()` + `close()` of a TCP socket made inside "
          "the session (the socket() before and the listener's accept() in between are not "
          "timed); allowed: to a listener of the session's own on 127.0.0.2 (listed), refused: "
          "to 127.0.0.3 (not listed, EPERM). Microseconds per call.")
        b("")
        b("| session | destination | n | p50 | p10-p90 | p99 |")
        b("|---|---|---|---|---|---|")
        names = {"plain": ("`bench` (no filter)", "127.0.0.2, accepted"),
                 "filtered": ("`bench_egress`", "127.0.0.2, listed: accepted"),
                 "refused_log": ("`bench_egress`", "127.0.0.3, refused (EPERM), logged"),
                 "refused_nolog": ("`bench_egress_nolog`", "127.0.0.3, refused (EPERM)")}
        for k, (who, dest) in names.items():
            x = c.get(k)
            if x:
                b(f"| {who} | {dest} | {x['n']} | {f2(x['p50'])} | {f2(x['p10'])}-"
                  f"{f2(x['p90'])} | {f2(x['p99'])} |")
        b("")
        pl, fl = c.get("plain"), c.get("filtered")
        if pl and fl:
            ratios = [f / p for f, p in zip(fl["round_p50"], pl["round_p50"]) if p]
            b(f"- an allowed connect()+close() with the filter against without: "
              f"**x{fl['p50'] / pl['p50']:.2f}** at p50 ({f2(fl['p50'] - pl['p50'])} us more); "
              f"the median of the {len(ratios)} rounds' own ratios (each round runs both back "
              f"to back) x{med(ratios):.2f}. The programs' work per call: two lookups in the "
              "LPM trie (the destination with its port, then with port 0) behind one in the "
              "array of maps.")
        rl, rn = c.get("refused_log"), c.get("refused_nolog")
        if rl and rn:
            b(f"- a refused connect (EPERM, no packet sent) costs {f2(rn['p50'])} us p50 "
              f"without the log and {f2(rl['p50'])} us with it (x{rl['p50'] / rn['p50']:.2f}): "
              "the event written into the ring buffer with the process's pid, uid and comm "
              "(the first 10 of a window also wake the init, which logs them; then it leaves "
              "the ring alone until the window ends, so that the next 255 events wake nobody "
              "and the rest are one atomic add to the counter). The init logged "
              f"{eg.get('log_lines', 0)} lines for the {rl['n']} refusals and counted "
              f"{eg.get('log_suppressed', 0)} in `suppressed` lines: at most 10 lines a second "
              "per session.")
        b("")
    for k, v in (eg.get("connect_fails") or {}).items():
        b(f"- {k}: failed: `{v}`")
    if eg.get("spaced"):
        b("**A login's cost**: pam_loop as in 1, four stacks alternating login by login: "
          "`plain`, `isolate` (policy `bench`), `egress_allow` (policy `bench_egress`: the helper "
          "also makes the ring and its counter, the rule trie and the array of maps, loads the "
          "four programs, which the kernel verifies, and attaches them to the session's cgroup "
          "in the cgroup2 hierarchy; on this v1-hybrid host a leaf of its own under "
          "/sys/fs/cgroup/unified, made and removed with the session) and `egress_allow, no "
          "log` (policy `bench_egress_nolog`).")
        b("")
        login_table(b, eg, (("bench-plain", "plain"), ("bench-iso", "isolate"),
                            ("bench-egress", "egress_allow"),
                            ("bench-egress-nolog", "egress_allow, no log")), added=True)
        for mode, label in (("spaced", "spaced"), ("b2b", "back to back")):
            m = eg.get(mode)
            if not m:
                continue
            d = med(m["bench-egress"]["oc"]) - med(m["bench-iso"]["oc"])
            dn = med(m["bench-egress-nolog"]["oc"]) - med(m["bench-iso"]["oc"])
            hd = (med(m["helper_ms"].get("bench-egress") or [])
                  - med(m["helper_ms"].get("bench-iso") or []))
            b(f"- {label}: egress_allow adds **{f2(d)} ms** p50 to a login's open+close over the "
              f"same policy without it ({f2(dn)} ms without the log); the helper's own duration "
              f"grows by {f2(hd)} ms p50.")
        b("")
    cost = eg.get("cost_us") or {}
    cold = eg.get("cost_cold_us") or {}
    if cost:
        b("Where the added time goes. The helper's own egress calls (tests/bench/egress_cost.c, "
          "linked against the build's objects as seccomp_cost is) in a cgroup2 cgroup of the "
          f"bench's, microseconds; *warm*: {len(cost.get('load_log', []))} rounds back to back "
          "in one process, so the kernel's static keys for cgroup sock_addr programs (one per "
          "attach type, on while any such program is attached anywhere on the host) stay on, "
          "as on a bastion where another session has egress_allow; *fresh, first on the "
          f"host*: {len(cold.get('load_log', []))} processes of one round each, 300 ms apart, "
          "as the helper is (a new process per login) when no other session has programs "
          "attached: each attach flips the four keys (code patching on every CPU).")
        b("")
        b("| step | warm p50 | p90 | fresh, first on the host p50 | p90 |")
        b("|---|---|---|---|---|")
        labels = (("log_new", "egress_log_new: the ring (16 KiB) and its counter"),
                  ("load_log", "egress_load with the log: the rule trie, the array of maps, "
                               "4 programs verified and JIT-compiled"),
                  ("load_nolog", "egress_load without the log (for comparison)"),
                  ("mkdir", "mkdir of a cgroup2 leaf"),
                  ("attach", "egress_attach: the 4 programs on the leaf"),
                  ("close", "every fd closed (the programs stay attached)"),
                  ("rmdir", "rmdir of the leaf (programs and maps freed)"))
        for k, label in labels:
            v, c = cost.get(k), cold.get(k)
            if v:
                b(f"| {label} | {med(v):.0f} | {pct(v, 90):.0f} | "
                  f"{f'{med(c):.0f}' if c else '-'} | {f'{pct(c, 90):.0f}' if c else '-'} |")
        b("")
    elif eg.get("cost_error"):
        b(f"egress_cost failed: `{eg['cost_error']}`")
        b("")
    sh = eg.get("shim") or {}
    iso_s, eg_s = sh.get("bench-wrap"), sh.get("bench-egress-wrap")
    if iso_s and eg_s and cost:
        def parts(c):
            return sum(med(c.get(k) or [0]) for k in ("log_new", "load_log", "attach")) / 1e3
        sp = eg.get("spaced") or {}
        hd = (med(sp.get("helper_ms", {}).get("bench-egress") or [])
              - med(sp.get("helper_ms", {}).get("bench-iso") or []))
        first = parts(cold) if cold else float("nan")
        unified = med(eg_s["unified_ms"])
        b(f"So, of the **{f2(hd)} ms** the helper's own duration grows by (spaced, above): the "
          f"ring, the load and the attach take {first:.2f} ms in a fresh process with no "
          f"other session's programs attached ({parts(cost):.2f} ms warm, the keys on); the "
          "helper's cgroup work in the unified hierarchy (mkdir of the leaf, moves into and out "
          f"of it: {med(eg_s['unified_ops']):.0f} calls a login, none without egress_allow on "
          f"this v1-hybrid host; timed by the shim of 1a, {len(eg_s['open'])} logins of each "
          f"policy) {f2(unified)} ms; {f2(hd - first - unified)} ms is not broken down here. "
          "Logins one session at a time, as here, find the previous session's programs gone "
          "and flip the keys again, spaced ones surely, back to back ones not always: hence "
          "spaced pays more; on a bastion with sessions open the keys stay on. On a cgroup v2 "
          "host the session's leaf exists anyway. What no host avoids is a fresh process "
          "loading its programs: the verifier and the JIT run per login, since each login's "
          "programs embed its own ring and rule map. (Through the shim, whose wrapper adds an "
          "exec, the helper's wall time grows by "
          f"{f2(med(eg_s['helper_wall']) - med(iso_s['helper_wall']))} ms.)")
        b("")


def analysis(res):
    """The explanation of the misses, with this run's figures."""
    out = []
    pam = res.get("pam") or {}
    bd = pam.get("breakdown") or []
    mig = res.get("migrate")
    ex = res.get("exec")
    sp = pam.get("spaced")
    if bd and sp:
        op = med([r["open"] for r in bd])
        plain = med(sp["bench-plain"]["open"])
        steps = [("before_helper", "pam_start, the module and the spawn, exec and linking of "
                                   "the helper (with one exec more for the wrapper)"),
                 ("config_policy", "the helper's config, user lookup, policy and seccomp "
                                   "program (1d)"),
                 ("cgroup_create", "making the cgroups"),
                 ("clone", "clone3 until the session child runs"),
                 ("child_migrations", "the session child's cgroup moves"),
                 ("child_other", "the session child's namespaces and mounts"),
                 ("init_ready_commit", "isolate-init's start and the commit"),
                 ("caller_migration", "the helper moving the caller"),
                 ("helper_tail", "the helper's reply and exit"),
                 ("after_helper", "the join in the caller")]
        ranked = sorted(((med([r[k] for r in bd]), label) for k, label in steps), reverse=True)
        cpu = med([r["helper_cpu"] + r["child_cpu"] for r in bd])
        rq = med([r["helper_runq"] + r["child_runq"] for r in bd])
        mig_sum = med([r["migrations"] for r in bd])
        text = (f"- **Login setup (1)**: pam_open_session takes {f2(op)} ms p50 through the "
                f"wrapper against {f2(plain)} ms for the plain stack. By size: "
                + "; ".join(f"{label} {f2(v)} ms" for v, label in ranked[:6]) + ". "
                f"The helper and the session child use {f2(cpu)} ms of CPU and wait {f2(rq)} "
                "ms for one.")
        if mig_sum > 2:
            text += (f" The cgroup moves alone take {f2(mig_sum)} ms: an RCU grace period "
                     "(1b), paid when a whole process is moved through cgroup.procs after an "
                     "idle spell.")
        out.append(text)
        prof = res.get("profile")
        if prof and prof.get("total"):
            c = prof["counts"]
            out.append(
                f"- The helper's own instructions (1d): {prof['total']:,} from exec to "
                f"pidfd_open, of which dynamic linking {c.get('rtld.c:_dl_start', 0):,}, "
                f"config_load {c.get('schema.c:config_load', 0):,}, login_info_lookup_ext "
                f"{c.get('match.c:login_info_lookup_ext', 0):,} (the bench's config matches "
                "on no group, so getgrouplist, which goes through every nsswitch source and "
                "here dlopens libnss_systemd, is skipped), "
                f"seccomp_program_get {c.get('seccomp.c:seccomp_program_get', 0):,}.")
    cpu = res.get("cpu")
    if cpu:
        iso, pl = cpu["isolate"], cpu["plain"]
        tot_i = sum(v for k, v in iso.items() if "|k:" not in k)
        tot_p = sum(v for k, v in pl.items() if "|k:" not in k)
        extra = sorted(((v - pl.get(k, 0), k) for k, v in iso.items() if "|k:" in k),
                       reverse=True)[:6]
        out.append(
            f"- **CPU (1e)**: a login with isolate uses {f2(tot_i)} ms of CPU against "
            f"{f2(tot_p)} ms without. The largest kernel parts isolate adds: "
            + "; ".join(f"{k.split('|')[0]} {k.split('|k:')[1]} {f2(v)} ms" for v, k in extra)
            + f". Page faults of the helper come from its exec (a "
            f"{os.path.getsize(HELPER) / 1e6:.1f} MB binary) and from "
            "touching its structures (struct cgroup_session is 16 KiB: 8 hierarchies x 4 "
            "paths of 512 bytes; it was 128 KiB with PATH_MAX paths).")
    jn = res.get("join") or {}
    jsp, jbd = jn.get("spaced"), jn.get("breakdown") or []
    if jsp and jbd:
        d_join = med(jsp["bench-join"]["oc"]) - med(jsp["bench-plain"]["oc"])
        ranked = sorted(((med([r[k] for r in jbd]), label) for k, label in
                         (("before_helper", "pam_start, the module and the spawn, exec and "
                                            "linking of the helper (one exec more for the "
                                            "wrapper)"),
                          ("config", "the config"),
                          ("policy", "user, policy, seccomp program, the caps rule over the "
                                     "registry"),
                          ("caps", "the cap writes"),
                          ("connect", "connecting to the init"),
                          ("init_answer", "the init's answer"),
                          ("helper_tail", "the helper's exit"),
                          ("after_helper", "the join in the caller"))), reverse=True)
        hj = jsp.get("bench-join-helper")
        d_help = med(hj["oc"]) - med(jsp["bench-plain"]["oc"]) if hj else float("nan")
        text = (f"- **Join (1f)**: a join by ticket adds {f2(d_join)} ms p50 over the plain "
                f"stack, a join through the helper {f2(d_help)} ms. A join makes nothing (no "
                "cgroup, clone, mount or init exec); through the helper, what costs is the "
                "helper itself: a process spawned and exec'd per login that parses and checks "
                "the whole config and resolves the policy before it can know there is a "
                "sandbox to join. Through the wrapper pam_open_session then takes "
                f"{f2(med([r['open'] for r in jbd]))} ms; by size: "
                + "; ".join(f"{label} {f2(v)} ms" for v, label in ranked[:6]) + ". "
                "A ticket leaves the helper out when nothing its decision rests on changed "
                "(config file, passwd entry, service; groups and rhost where the config reads "
                "them): what is left is the module's lookup, one round trip to the init and "
                "the caller's own join (setns, bounding set, seccomp).")
        if ex:
            text += (f" On this machine an exec of a static hello alone takes "
                     f"{f2(med(ex['static']))} ms, the helper's {f2(med(ex['helper']))} ms "
                     "(1c).")
        out.append(text)
    if mig and mig.get("idle"):
        out.append(
            f"- One move of another process after idle time: {f2(med(mig['idle']))} ms p50, "
            f"right after another {f2(med(mig['hot']))} ms"
            + (f"; a process moving itself through tasks: {f2(med(mig['self_idle']))} ms after "
               f"idle time" if mig.get("self_idle") else "") + ".")
    if ex:
        out.append(
            f"- exec of the helper: {f2(med(ex['helper']) - med(ex['static']))} ms more than a "
            f"static hello ({len(ex['libs'])} shared librar"
            f"{'y' if len(ex['libs']) == 1 else 'ies'}: "
            f"{', '.join(os.path.basename(x) for x in ex['libs'])}).")
    tools = res.get("tools")
    if tools and sp:
        t = tools["times"]
        iso = med(t["isolatectl run"]) - med(t.get("/bin/true", [0]))
        setup = med(sp["bench-iso"]["oc"]) - med(sp["bench-plain"]["oc"])
        line = (f"- **isolatectl run vs bwrap and firejail (2)**: `isolatectl run` costs "
                f"{f2(iso)} ms more than /bin/true; the login's sandbox (setup and close, 1) "
                f"is {f2(setup)} ms of it, the rest is isolatectl's own exec, the fork and "
                "exec of the command as the user (initgroups, setresuid) and the close round "
                "trip.")
        if t.get("bwrap"):
            line += (f" bwrap needs {f2(med(t['bwrap']) - med(t.get('/bin/true', [0])))} ms: "
                     "one clone, a handful of mounts, no cgroups, no helper process, no "
                     "policy, no seccomp program, no registry")
        if t.get("firejail"):
            line += (f"; firejail {f2(med(t['firejail']) - med(t.get('/bin/true', [0])))} "
                     "ms.")
        out.append(line)
    sc = res.get("scale")
    if sc:
        levels = {lv["count"]: lv for lv in sc["levels"]}
        top = max(levels)
        lv = levels[top]
        cg = lv.get("memcg_delta_kib", {})
        pl = sc.get("plain") or {}
        cgp = pl.get("memcg_delta_kib", {})
        if "usage" in cg:
            kmem = cg.get("kmem", 0) / top - cgp.get("kmem", 0) / max(1, pl.get("count", 1))
            anon = cg.get("rss", 0) / top - cgp.get("rss", 0) / max(1, pl.get("count", 1))
            sg = ", ".join(f"{k} {v / 1024 / top:.1f}" for k, v in (lv.get("slab_growth") or [])[:6]
                           if v > 0)
            out.append(
                f"- **Memory per session at {top}**: {f1(cg['usage'] / top)} KiB charged per "
                f"session, of which kernel objects {f1(cg.get('kmem', 0) / top)} KiB "
                f"({f1(kmem)} KiB more than the plain stack's callers) and anonymous pages "
                f"{f1(cg.get('rss', 0) / top)} KiB ({f1(anon)} more). The init is small (PSS "
                f"above); the kernel side is what a session costs: its mount namespace, "
                f"{lv.get('mounts_session')} mounts (a copy of every mount of the namespace it "
                f"was made from, here the bench's private one with "
                f"{lv.get('mounts_caller_ns')}, plus its own), "
                f"{lv.get('superblocks_session')} superblocks of its own ("
                + ", ".join(lv.get("session_fstypes") or []) +
                "), pid/ipc/uts/cgroup namespaces, and a cgroup leaf per hierarchy (a memory "
                f"cgroup carries per-cpu statistics). Largest slab growth per session (KiB): "
                f"{sg}.")
        k1 = lv.get("kmalloc_1k_objs")
        if k1:
            out.append(
                f"- **Kernel memory no cgroup sees**: kmalloc-1k grew by {k1 / top:.0f} objects "
                f"per session at {top} (a kmem:kmalloc trace of logins names the caller: "
                "alloc_shrinker_info from mem_cgroup_css_online, i.e. the mkdir of the "
                "session's memory cgroup leaf). Every memory cgroup gets, per NUMA node, one "
                "520-byte shrinker_info_unit per 64 memcg-aware shrinker ids the kernel has "
                "ever handed out (shrinker_nr_max, a high-water mark that never shrinks), and "
                "every superblock registers such a shrinker. Each session brings "
                f"{lv.get('superblocks_session', '?')} superblocks of its own, so N sessions "
                f"raise shrinker_nr_max by about {lv.get('superblocks_session', '?')} x N, and "
                "each new memory cgroup then costs about that / 64 KiB, unaccounted: the "
                "per-session cost grows linearly with the number of sessions the host has had "
                "at once (and stays raised until reboot, for every memory cgroup anyone "
                "creates: this bench's own 1000 sessions leave it raised on the machine it ran "
                "on, and earlier runs had raised it already). A session now makes as few "
                "superblocks as it can (one tmpfs holds /tmp, /var/tmp, /dev/shm, /run/lock, "
                "/run/user and every mask; it was about a dozen); what is left is the "
                "per-session memory cgroup itself, kept for the per-session memory figures of "
                "isolatectl list (removing it, as for v1 blkio, would cut this part).")
        bd1 = (levels.get(1) or {}).get("breakdown") or []
        bdt = lv.get("breakdown") or []
        grown = {}  # step -> (p50 at 1 session, p50 at top), where it grew by more than 2 ms
        for key in ("cgroup_create", "config_policy"):
            if bd1 and bdt:
                one, many = med([r[key] for r in bd1]), med([r[key] for r in bdt])
                if many - one > 2:
                    grown[key] = (one, many)
        if "cgroup_create" in grown:
            one, many = grown["cgroup_create"]
            out.append(
                f"- **Setup at {top} sessions**: the cgroup step grows from {f2(one)} ms at 1 "
                f"session to {f2(many)} ms at {top} (+{f2(many - one)} ms): "
                "cgroup_session_create sweeps the user's dead leaves (cg_gc_user_dir: a "
                "readdir and an fstatat per leaf, in each hierarchy with leaves); it runs at "
                "most once a minute per user (a marker in <runtime_dir>/gc), so most logins "
                "skip it and the p99 carries the ones that do not.")
        if "config_policy" in grown:
            one, many = grown["config_policy"]
            out.append(
                f"- **Before the cgroups, at {top} sessions**: the helper's config and policy "
                f"step grows from {f2(one)} ms at 1 session to {f2(many)} ms at {top}: the "
                "strictest-cap rule (caps_effective) finds the user's live sandboxes by "
                "reading every entry of the registry, whoever's, and checking its init, at "
                "every login (a join reads them twice: registry_find_sandbox too).")
        pl = sc.get("plain") or {}
        if pl.get("teardown_ms") and lv["teardown_ms"] > 3 * pl["teardown_ms"]:
            out.append(
                f"- **Teardown of {top} sessions**: {f1(lv['teardown_ms'])} ms, against "
                f"{f1(pl['teardown_ms'])} ms for as many plain logins: every ending init whose "
                "user still has a live sandbox runs `isolate-helper caps` (caps.h), which loads "
                "the config and reads the whole registry under the user's lock, so the N ends "
                "of one user's sandboxes read N registries of up to N entries, one after the "
                "other, and the N helpers load the config at once before they queue for the "
                "lock.")
    return "\n".join(out) if out else "Nothing to explain: no section measured."


# ---- main -----------------------------------------------------------------------------------------

def run_sections(sb, res, section):
    sb.user(USER)
    conf = sb.config(policies=POLICIES, default_policy="bench", services=SERVICES)
    conf_none = sb.config(policies=POLICIES, default_policy="bench_none",
                          services=SERVICES, name="isolate-none.conf")
    conf_user = sb.config(policies=POLICIES, default_policy="bench_user",
                          services=SERVICES, name="isolate-user.conf")
    # the same decision, but read from the rhost: with pam_loop -r no login has a ticket, so
    # each join goes through the helper (1f)
    conf_user_rhost = sb.config(policies=POLICIES, default_policy="bench_user",
                                services=SERVICES, name="isolate-user-rhost.conf",
                                body='match {\n  rhosts = {"10.0.0.0/8"}\n  policy = bench_user\n}\n')
    port = free_port_on("127.0.0.2")
    egress = POLICIES + egress_policies(port)
    conf_egress = sb.config(policies=egress, default_policy="bench_egress",
                            services=SERVICES, name="isolate-egress.conf")
    conf_egress_nolog = sb.config(policies=egress, default_policy="bench_egress_nolog",
                                  services=SERVICES, name="isolate-egress-nolog.conf")
    confs = {"conf": conf, "conf_egress": conf_egress, "conf_egress_nolog": conf_egress_nolog}
    section("exec", section_exec, res)
    with PrivateEnv(pam_files(conf, conf_none, conf_user, conf_user_rhost, conf_egress,
                              conf_egress_nolog)) as env:
        section("pam", section_pam, sb, env, res)
        section("join", section_join, sb, env, res)
        section("egress", section_egress, sb, env, res, confs, port)
        section("migrate", section_migrate, sb, res)
        section("scale", section_scale, sb, env, res)
        section("profile", section_profile, sb, env, res)
        section("cpu", section_cpu, sb, env, res)
    section("tools", section_tools, sb, conf, conf_none, res)
    section("seccomp", section_seccomp, conf, res)
    section("ssh", section_ssh, sb, conf, res)


def merge_into_last(info, res, errors, only):
    """BENCH_MERGE=1: the last run's figures with the sections just run in place of its own;
    the machine's description stays the last run's, with a line per section run now."""
    with open(RAW) as f:
        raw = json.load(f)
    old_info, old_res = raw["info"], raw["results"]
    old_errors = {k: v for k, v in raw["errors"].items() if k not in only}

    def section_of(label):
        return label.split()[0].split("-")[0]

    commands = [tuple(c) for c in raw.get("commands", []) if section_of(c[0]) not in only]
    commands += [c for c in COMMANDS if section_of(c[0]) in only]
    COMMANDS[:] = commands
    for name in only:
        if name in info.get("sections", {}):
            old_info.setdefault("sections", {})[name] = info["sections"][name]
            t, la0, la1 = info["sections"][name]
            old_info.setdefault("merged", {})[name] = {
                "date": info["date"], "commit": info["commit"], "load": [la0, la1]}
        if name in res:
            old_res[name] = res[name]
        else:
            old_res.pop(name, None)
        if name in errors:
            old_errors[name] = errors[name]
    old_info["t_total_merged"] = raw.get("t_total", 0)
    return old_info, old_res, old_errors


def main():
    if sys.argv[1:] == ["--report-only"]:
        # rewrites RESULTS.md from the last run's raw figures (work on the report's text)
        with open(RAW) as f:
            raw = json.load(f)
        COMMANDS.extend(tuple(c) for c in raw.get("commands", []))
        write_results(raw["results"], raw["info"], raw["errors"], raw.get("t_total", 0))
        print(f"bench: wrote {RESULTS} from {RAW}")
        return 0
    if os.geteuid() != 0:
        print("bench: needs root", file=sys.stderr)
        return 2
    # SIGTERM runs the cleanups too (context managers) instead of leaving things behind
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    t_start = time.monotonic()
    info = machine_info()
    info["load_start"] = loadavg()
    res, errors = {}, {}

    only = [x for x in os.environ.get("BENCH_SECTIONS", "").split(",") if x]

    def section(name, fn, *args):
        if only and name not in only:
            return
        t = time.monotonic()
        print(f"bench: {name} ...", flush=True)
        la = loadavg()[0]
        try:
            fn(*args)
        except Exception as e:  # a section that fails is reported, the rest goes on
            errors[name] = f"{type(e).__name__}: {e}"
            traceback.print_exc()
        info.setdefault("sections", {})[name] = (time.monotonic() - t, la, loadavg()[0])
        print(f"bench: {name} done in {time.monotonic() - t:.1f} s", flush=True)

    if MERGE and not only:
        print("bench: BENCH_MERGE=1 needs BENCH_SECTIONS", file=sys.stderr)
        return 2
    with Sandbox() as sb:
        # the harness's runtime dir is below /run, a tmpfs as /run/isolate is on a real host
        run_sections(sb, res, section)
        final_left = sb.wait_clean(30)
    info["load_end"] = loadavg()
    if MERGE:
        info, res, errors = merge_into_last(info, res, errors, only)

    info["left_at_end"] = final_left
    t_total = info.get("t_total_merged") or time.monotonic() - t_start
    try:
        with open(RAW, "w") as f:
            json.dump({"info": info, "results": res, "errors": errors, "t_total": t_total,
                       "commands": COMMANDS}, f, indent=1,
                      default=str)
    except (OSError, TypeError, ValueError) as e:
        print(f"bench: cannot write {RAW}: {e}", file=sys.stderr)
    write_results(res, info, errors, t_total)
    print(f"bench: wrote {RESULTS} ({t_total:.0f} s)")
    if any(final_left.values()):
        print(f"bench: left behind: {final_left}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/bin/bash
# demo.sh: a real sandboxed ssh login, host beside session. Run by `make demo` (and
# `make demo-shell`, which passes --shell and leaves you an interactive session).
#
# What it does, as root, with the freshly built files in $BUILD (default build/):
#   - creates the user isolate-demo if missing (and removes it at the end if it made it);
#   - copies conf/isolate.conf to a root-owned temp file, changing only where the session's
#     cgroups and registry go (a cgroup root nested under this shell's own cgroup, a temp
#     runtime dir) so that nothing outside the demo's own directories is written;
#   - starts OpenSSH's sshd on 127.0.0.1:2222 inside a private mount namespace whose
#     /etc/pam.d is a copy of the host's with pam_isolate.so added last to sshd's session
#     stack (nothing on the host's /etc, /run or /dev changes);
#   - logs in with a generated key, runs the same probe on the host and in the session, and
#     prints them side by side; with --shell, hands you the session instead;
#   - scope = user: the user isolate-shell gets the shipped `shell` policy (one sandbox per
#     user, lingering after the last logout); a tmux started in one ssh login is found by the
#     next one;
#   - tears everything down (sshd, namespace, user, cgroups, temp files), also on Ctrl-C.
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD

if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (sudo make demo): it starts sshd and creates a user" >&2
	exit 1
fi
for f in pam_isolate.so isolate-helper isolate-init isolatectl; do
	if [ ! -e "$BUILD/$f" ]; then
		echo "demo: $BUILD/$f is missing: run make first" >&2
		exit 1
	fi
done
for tool in sshd ssh ssh-keygen unshare nsenter; do
	command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin:/sbin
	command -v "$tool" >/dev/null || { echo "demo: $tool is missing (make deps)" >&2; exit 1; }
done

# The Python side reuses the integration harness: PrivateEnv (private mount namespace, own
# /etc/pam.d, /dev/log listener), SshServer (sshd + client key), harness.Sandbox (temp dir,
# nested cgroup root, leak checks), harness.TestUser.
read -r -d '' DEMO_PY <<'PY' || true
import ctypes, os, re, subprocess, sys, time

# Session inits and sshd's children outlive their parents; where PID 1 does not reap them
# (containers, this project's test machines) the demo does, as their subreaper.
PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

sys.path.insert(0, os.path.join(os.getcwd(), "tests", "integration"))
from harness import BUILD, HELPER, ISOLATECTL, PAM_MODULE, Sandbox, TestUser
from sshd import PrivateEnv, SshServer, sanitizer_env

SHELL_MODE = "--shell" in sys.argv[1:]
USER = "isolate-demo"
SHELL_USER = "isolate-shell"  # gets the shipped policy shell (scope = user)
PORT = 2222

# One probe, run as the demo user on the host and in the session: "what<TAB>value" lines.
PROBE = r'''
p() { printf '%s\t%s\n' "$1" "$2"; }
mnt() { awk -v m="$1" '$2==m {split($4,o,","); v=o[1]} END {print v}' /proc/self/mounts; }
st() { awk -v k="$1:" '$1==k {print $2}' /proc/self/status; }
p "user" "$(id -un) (uid $(id -u))"
p "hostname" "$(hostname)"
p "processes visible" "$(ps -e --no-headers | wc -l)"
p "pid namespace" "$(readlink /proc/self/ns/pid)"
p "mount namespace" "$(readlink /proc/self/ns/mnt)"
p "ipc namespace" "$(readlink /proc/self/ns/ipc)"
p "cgroup namespace" "$(readlink /proc/self/ns/cgroup)"
p "net namespace" "$(readlink /proc/self/ns/net)"
p "own cgroup (memory)" "$(awk -F: '$2=="memory" {print $3}' /proc/self/cgroup)"
p "/proc mounted" "$(mnt /proc)"
p "/sys mounted" "$(mnt /sys)"
p "/sys/fs/cgroup entries" "$(ls /sys/fs/cgroup 2>/dev/null | wc -l)"
p "/tmp entries" "$(ls -A /tmp 2>/dev/null | wc -l)"
p "bounding set (CapBnd)" "$(st CapBnd)"
p "effective caps" "$(st CapEff)"
p "no_new_privs" "$(st NoNewPrivs)"
p "seccomp (2 = filter)" "$(st Seccomp)"
if out=$(unshare -U true 2>&1); then out=allowed; fi
p "unshare -U true" "${out#unshare: }"
'''


def rows(text):
    out = {}
    for line in text.splitlines():
        if "\t" in line:
            k, v = line.split("\t", 1)
            out[k] = v.strip() or "-"
    return out


def table(host, session):
    keys = [k for k in host] + [k for k in session if k not in host]
    w0, w1 = max(len(k) for k in keys), 34
    print(f"  {'':{w0}}  {'host':{w1}}  session")
    print(f"  {'':{w0}}  {'-' * w1}  {'-' * w1}")
    for k in keys:
        h, s = host.get(k, "?"), session.get(k, "?")
        mark = " " if h == s else "*"
        print(f"{mark} {k:{w0}}  {h[:w1]:{w1}}  {s[:60]}")
    print("\n  (* = differs)")


def demo_config(sb):
    """conf/isolate.conf with only cgroup_root and runtime_dir pointed at the demo's own, and
    a match rule that gives SHELL_USER the policy shell."""
    with open("conf/isolate.conf") as f:
        text = f.read()
    for key, value in (("cgroup_root", sb.cgroup_root), ("runtime_dir", sb.runtime_dir)):
        line = f'{key} = "{value}"'
        text, n = re.subn(rf"(?m)^{key}\s*=.*$", line, text)
        if n == 0:
            text = line + "\n" + text
    text += f'\nmatch {{\n        users = {{"{SHELL_USER}"}}\n        policy = shell\n}}\n'
    path = os.path.join(sb.dir, "isolate.conf")
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, 0, 0)
    os.chmod(path, 0o644)
    return path


def pam_files(config):
    """The host's /etc/pam.d, with pam_isolate.so appended to sshd's session stack."""
    line = f"session required {PAM_MODULE} config={config} helper={HELPER}\n"
    files = {}
    if os.path.exists("/etc/pam.d/sshd"):
        for name in os.listdir("/etc/pam.d"):
            path = os.path.join("/etc/pam.d", name)
            if os.path.isfile(path):
                with open(path) as f:
                    files[name] = f.read()
        files["sshd"] = files["sshd"].rstrip("\n") + "\n\n# added by the isolate demo\n" + line
    else:
        files["sshd"] = ("account required pam_unix.so\nsession required pam_loginuid.so\n"
                         "session required pam_unix.so\n" + line)
    return files


def section(title):
    print(f"\n== {title}")


def indented(text):
    print("\n".join("    " + l for l in text.strip().splitlines()))


def user_scope_tmux(srv, config):
    """Two ssh logins of SHELL_USER, one after the other: the second finds the first's tmux."""
    section(f"scope = user: {SHELL_USER} gets the policy shell (one sandbox per user; "
            "linger = 8h)")
    r = srv.ssh(SHELL_USER, "tmux new -d -s work && tmux ls")
    if r.returncode != 0:
        sys.exit(f"demo: tmux in the first login failed: {r.stderr.strip()}")
    print("  login 1: tmux new -d -s work; tmux ls; logout")
    indented(r.stdout)
    # the login ends when sshd's monitor exits, a moment after the client has
    deadline = time.monotonic() + 5
    while True:
        ls = subprocess.run([ISOLATECTL, "list", "-c", config], capture_output=True, text=True)
        row = [l.split() for l in ls.stdout.splitlines() if l.startswith(SHELL_USER)]
        if (row and row[0][-1].startswith("until")) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    print("  after the logout, isolatectl list: no login open, the sandbox lingers")
    indented(ls.stdout)
    r = srv.ssh(SHELL_USER, "tmux ls")
    if r.returncode != 0 or not r.stdout.startswith("work:"):
        sys.exit(f"demo: the second login did not find tmux: {r.stdout}{r.stderr}")
    print("  login 2: tmux ls (the tmux of login 1: the login joined the same sandbox)")
    indented(r.stdout)
    print(f"  isolatectl kill {SHELL_USER}")
    indented(subprocess.run([ISOLATECTL, "kill", "-c", config, SHELL_USER],
                            capture_output=True, text=True).stdout)


sb = env = srv = user = shell_user = config = None
try:
    sb = Sandbox()
    user = TestUser(USER)
    shell_user = TestUser(SHELL_USER)
    config = demo_config(sb)
    env = PrivateEnv(pam_files(config))
    srv = SshServer(env, port=PORT, extra_env=sanitizer_env(BUILD, env.workdir))
    srv.authorize(USER)
    srv.authorize(SHELL_USER)
    try:
        srv.start()
    except RuntimeError as e:
        sys.exit(f"demo: sshd did not start on 127.0.0.1:{PORT} (in use?):\n{e}")
    section(f"sshd on 127.0.0.1:{PORT} (pid {srv.proc.pid}), private mount namespace, "
            f"/etc/pam.d/sshd ends with:")
    print("  session required pam_isolate.so config=<copy of conf/isolate.conf> "
          f"helper={HELPER}")

    if SHELL_MODE:
        section(f"an interactive sandboxed session as {USER}; exit (or Ctrl-D) to tear down")
        print("  try: ps -ef; ls /tmp; cat /proc/self/status | grep -E 'Cap|Seccomp|NoNew'; "
              "unshare -U true; touch /proc/sys/x")
        argv = srv.ssh_argv(USER, None, tty=True)
        subprocess.call(argv)
    else:
        mark = env.syslog.mark()
        host = subprocess.run(["runuser", "-u", USER, "--", "bash", "-c", PROBE],
                              capture_output=True, text=True, cwd="/")
        r = srv.ssh(USER, PROBE)
        if r.returncode != 0:
            print(env.syslog.dump())
            sys.exit(f"demo: the ssh login failed ({r.returncode}): {r.stderr.strip()}")
        section(f"what {USER} sees: on the host (runuser) and in an ssh session")
        table(rows(host.stdout), rows(r.stdout))
        section("the session's processes (ps -ef inside)")
        ps = srv.ssh(USER, "ps -ef")
        print("\n".join("  " + l for l in ps.stdout.splitlines()))
        section("what pam_isolate.so logged (pam_syslog, captured from /dev/log)")
        first = env.syslog.wait_for(r"pam_isolate\(sshd:session\).*outcome=confined", 5, mark)
        sid = re.search(r"session=(\S+)", first or "session=?").group(1)
        env.syslog.wait_for(rf"pam_isolate\(sshd:session\).*session={sid} outcome=closed", 5,
                            mark)
        for l in env.syslog.lines(rf"(pam_isolate|isolate\[).*session={sid}"):
            print("  " + re.sub(r"^<\d+>", "", l))
        user_scope_tmux(srv, config)
finally:
    section("tearing down")
    if config and shell_user:  # a lingering sandbox left by a failure above
        subprocess.run([ISOLATECTL, "kill", "-c", config, SHELL_USER], capture_output=True)
    if srv:
        srv.close()
    if env:
        env.close()
    for u in (user, shell_user):
        if u:
            u.close()
    if sb:
        left = sb.wait_clean(5)
        sb.close()
        print("  sshd stopped, namespace gone, demo files removed; left behind:",
              "nothing" if not any(left.values()) else left)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.02)
        except ChildProcessError:
            break
PY

exec /usr/bin/python3 -c "$DEMO_PY" "$@"

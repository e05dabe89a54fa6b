"""sshd.py: a real OpenSSH sshd on loopback in a private mount namespace, for the PAM tests.

What it gives a test:
- PrivateEnv: a mount namespace of its own (held by a small holder process) in which
  /etc/pam.d is a test stack, /dev/log is a syslog listener of the test's, /run is a
  tmpfs copy of the host's /run (so sshd's /run/sshd and a fresh /run/utmp exist without
  touching the host), and /var/log/{wtmp,btmp,lastlog} are test files (or /var/log is a
  test directory of them, var_log_dir=True). Nothing on the
  host's /etc, /dev, /run or /var/log changes. run() executes a command inside it.
- SyslogListener: a datagram socket that stands in for /dev/log and keeps every line.
- JournalListener: a datagram socket that stands in for journald's native socket
  (/run/systemd/journal/socket, with PrivateEnv(journal=...)) and keeps every entry.
- SshServer: sshd -D -e on 127.0.0.1:<free port> inside a PrivateEnv, host key, a client
  key authorised for the users it is given, and ssh()/scp()/sftp() clients.
Test users, configs, the cgroup root and leak checks come from harness.py.

Everything is undone by close() (also reached from a failing setUp through the context
manager or addCleanup): sshd and every process still in the private mount namespace are
stopped by pid, the holder exits (the namespace and all its mounts go with it), the work
directory is deleted.

Run as root with /usr/bin/python3. `python3 sshd.py --selftest` logs a user in once
through a stack with pam_exec and prints what it saw.
"""

import contextlib
import ctypes
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"

# Work directories live here rather than in /tmp: inside a sandbox /tmp and /var/tmp are
# private, and sshd's StrictModes refuses key files below a world-writable directory.
WORK_BASE = os.environ.get("ISOLATE_TEST_WORK_BASE", "/var/lib/isolate-test")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong]

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV = 1, 2, 4
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1


def _check(ret, what):
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def _mount(src, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else os.fsencode(s)
    _check(_libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)),
           f"mount {src} on {target}")


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM when the test process dies, so a crashed test
    leaves no sshd behind (the death signal survives exec of a non-setuid program)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_workdir(prefix):
    """A root-owned 0711 directory (others may traverse, not list) under WORK_BASE."""
    os.makedirs(WORK_BASE, mode=0o711, exist_ok=True)
    os.chmod(WORK_BASE, 0o711)
    d = tempfile.mkdtemp(prefix=prefix, dir=WORK_BASE)
    os.chmod(d, 0o711)
    return d


# ---- syslog -------------------------------------------------------------------------------

class SyslogListener:
    """Receives what syslog(3) sends to /dev/log (RFC 3164 datagrams) and keeps the lines.

    The socket is bound at `path` in the host's mount namespace; PrivateEnv bind-mounts it
    over /dev/log in the private one, so pam_syslog lines of sshd, su or pamtester (and of
    the sandboxed monitor, whose mount namespace is a copy) arrive here."""

    _PRI = re.compile(r"^<(\d+)>")

    def __init__(self, path):
        self.path = path
        self._lines = []
        self._cond = threading.Condition()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(path)
        os.chmod(path, 0o666)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while True:
            r, _, _ = select.select([self._sock, self._stop_r], [], [])
            if self._stop_r in r:
                return
            data = self._sock.recv(65536)
            text = data.decode("utf-8", "replace").rstrip("\n\0")
            with self._cond:
                self._lines.append(text)
                self._cond.notify_all()

    def lines(self, pattern=None):
        with self._cond:
            lines = list(self._lines)
        if pattern is None:
            return lines
        rx = re.compile(pattern)
        return [l for l in lines if rx.search(l)]

    def mark(self):
        """A position; wait_for(..., since=mark) only looks at lines after it."""
        with self._cond:
            return len(self._lines)

    def wait_for(self, pattern, timeout=10.0, since=0):
        """The first line after `since` matching pattern, or None after timeout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for l in self._lines[since:]:
                    if rx.search(l):
                        return l
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def dump(self):
        return "\n".join(self.lines())

    def close(self):
        if self._thread.is_alive():
            os.write(self._stop_w, b"x")
            self._thread.join(5)
        self._sock.close()
        os.close(self._stop_r)
        os.close(self._stop_w)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


# ---- journald ------------------------------------------------------------------------------

def parse_native(data):
    """The fields of one datagram of journald's native protocol, in order, as (name, value)
    pairs: NAME=value lines, or NAME, a newline, a 64-bit little-endian length, that many
    bytes and a newline (a value holding a newline). Raises ValueError on a malformed one."""
    fields, i = [], 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            raise ValueError(f"no newline after byte {i}")
        line = data[i:nl]
        if b"=" in line:
            name, value = line.split(b"=", 1)
            i = nl + 1
        else:
            name = line
            if nl + 9 > len(data):
                raise ValueError(f"{name!r}: binary field without its length")
            n = int.from_bytes(data[nl + 1:nl + 9], "little")
            value = data[nl + 9:nl + 9 + n]
            if len(value) != n or data[nl + 9 + n:nl + 10 + n] != b"\n":
                raise ValueError(f"{name!r}: binary field of {n} bytes cut or not ended")
            i = nl + 10 + n
        if not re.fullmatch(rb"[A-Z0-9][A-Z0-9_]*", name):
            raise ValueError(f"bad field name {name!r}")
        fields.append((name.decode(), value.decode("utf-8", "replace")))
    return fields


class JournalListener:
    """Stands in for journald: a datagram socket at `directory`/socket, which PrivateEnv
    (journal=directory) puts at /run/systemd/journal/socket in its namespace. Keeps each
    entry as the list of its (name, value) fields, in order (parse_native)."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "socket")
        self._entries = []
        self._cond = threading.Condition()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while True:
            r, _, _ = select.select([self._sock, self._stop_r], [], [])
            if self._stop_r in r:
                return
            data = self._sock.recv(1 << 20)
            try:
                entry = parse_native(data)
            except ValueError as e:
                entry = [("MALFORMED", f"{e}: {data!r}")]
            with self._cond:
                self._entries.append(entry)
                self._cond.notify_all()

    def entries(self, since=0, **match):
        """Entries after `since` whose fields have the given values (each entry a list of
        (name, value) pairs)."""
        with self._cond:
            got = list(self._entries[since:])
        return [e for e in got if all((k, v) in e for k, v in match.items())]

    def mark(self):
        with self._cond:
            return len(self._entries)

    def wait_for(self, timeout=10.0, since=0, **match):
        """The first entry after `since` with the given field values, or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self._entries[since:]:
                    if all((k, v) in e for k, v in match.items()):
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def dump(self):
        with self._cond:
            return "\n".join(" ".join(f"{k}={v!r}" for k, v in e) for e in self._entries)

    def close(self):
        """Stops listening; the socket file stays (a send to it is refused), as when
        journald has stopped."""
        if self._thread.is_alive():
            os.write(self._stop_w, b"x")
            self._thread.join(5)
        self._sock.close()
        os.close(self._stop_r)
        os.close(self._stop_w)


# ---- the private mount namespace ----------------------------------------------------------

def _shadow_dir(path, extras):
    """Covers `path` with a tmpfs that holds what the original held (directories and files
    bind-mounted back, device nodes re-made, symlinks copied) plus `extras`, a dict of
    name -> ("dir", mode) | ("bind", source) | ("dev", st). The original stays reachable
    through an O_PATH fd taken before it is covered."""
    orig = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        entries = []
        for name in os.listdir(f"/proc/self/fd/{orig}"):
            if name in extras:
                continue
            entries.append((name, os.lstat(f"/proc/self/fd/{orig}/{name}")))
        top = os.stat(path)
        _mount("tmpfs", path, "tmpfs", MS_NOSUID, f"mode={stat.S_IMODE(top.st_mode):o}")
        for name, st in entries:
            src, dst = f"/proc/self/fd/{orig}/{name}", os.path.join(path, name)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), dst)
                continue
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(dst)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                # Re-made rather than bound: a bound /dev/ptmx does not find its pts/.
                os.mknod(dst, st.st_mode, st.st_rdev)
                os.chown(dst, st.st_uid, st.st_gid)
                os.chmod(dst, stat.S_IMODE(st.st_mode))
                continue
            elif stat.S_ISREG(st.st_mode):
                open(dst, "w").close()
            else:
                continue  # a socket or fifo of the host's: not ours to serve
            _mount(src, dst, None, MS_BIND | MS_REC)
        for name, (kind, arg) in extras.items():
            dst = os.path.join(path, name)
            if kind == "dir":
                os.mkdir(dst, arg)
                os.chmod(dst, arg)
            else:
                open(dst, "w").close()
                _mount(arg, dst, None, MS_BIND)
    finally:
        os.close(orig)


def _holder_main(spec):
    """Runs in the holder process: builds the namespace, says "ready", waits for stdin EOF."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount(spec["pamd"], "/etc/pam.d", None, MS_BIND)
    _shadow_dir("/dev", {"log": ("bind", spec["log"])})
    run_extras = {"sshd": ("dir", 0o755), "utmp": ("bind", spec["utmp"])}
    if spec.get("journal"):
        run_extras["log"] = ("dir", 0o755)  # an empty /run/log for a journald of the test's
    _shadow_dir("/run", run_extras)
    if spec.get("journal"):
        # /run/systemd/journal is the test's directory: its socket is the journal here
        if os.path.isdir("/run/systemd"):
            _shadow_dir("/run/systemd", {"journal": ("dir", 0o755)})
        else:
            os.makedirs("/run/systemd/journal", 0o755)
        _mount(spec["journal"], "/run/systemd/journal", None, MS_BIND)
    if spec.get("var_log"):
        # the whole directory: the test may rename its files (a logrotate) under sshd
        _mount(spec["var_log"], "/var/log", None, MS_BIND)
    else:
        for name in ("wtmp", "btmp", "lastlog"):
            target = "/var/log/" + name
            if not os.path.exists(target):
                continue
            _mount(spec[name], target, None, MS_BIND)
    for src, dst in spec.get("binds", []):
        _mount(src, dst, None, MS_BIND)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.read()  # until the test closes the pipe or dies


def pids_in_mntns(mntns, holder_pid):
    """Processes whose mount namespace is mntns, but for its holder (all started by a test)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == holder_pid:
            continue
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{d}/ns/mnt") == mntns:
                pids.append(int(d))
    return pids


def end_mntns_holder(holder, mntns):
    """Ends every process of the holder's mount namespace (TERM, then KILL, by pid), then
    the holder itself (a `cat` waiting on its stdin); its pipes are closed."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = pids_in_mntns(mntns, holder.pid)
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, sig)
        deadline = time.monotonic() + 3
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if _alive(p)]
            time.sleep(0.02)
    with contextlib.suppress(Exception):
        holder.stdin.close()
    try:
        holder.wait(5)
    except subprocess.TimeoutExpired:
        holder.kill()
        holder.wait()
    holder.stdout.close()
    holder.stderr.close()


class PrivateEnv:
    """A mount namespace with a test PAM stack, a /dev/log listener and private login
    records. pam_files: {service or include name: text}; `other` defaults to pam_deny.

    var_log_dir: instead of test files bound over /var/log/{wtmp,btmp,lastlog} (each there
    only where the host has it), /var/log is a test directory (self.var_log) holding just
    wtmp, btmp and lastlog; self.wtmp etc. name its files, which the test may rename and
    re-create as logrotate does (a file with a mount on it could not be renamed).

    journal: a directory of the test's that becomes /run/systemd/journal inside (the rest of
    /run/systemd is the host's, bound back), with an empty /run/log: put a JournalListener
    in it, or run a journald that makes its sockets there. None: the host's /run/systemd."""

    def __init__(self, pam_files, binds=(), var_log_dir=False, journal=None):
        self.workdir = make_workdir("env-")
        self.pamd = os.path.join(self.workdir, "pam.d")
        os.mkdir(self.pamd, 0o755)
        self.var_log = None
        if var_log_dir:
            self.var_log = os.path.join(self.workdir, "var-log")
            os.mkdir(self.var_log, 0o755)
            os.chmod(self.var_log, 0o755)
        self.holder = None
        self.syslog = None
        files = {"other": "auth required pam_deny.so\naccount required pam_deny.so\n"
                          "password required pam_deny.so\nsession required pam_deny.so\n"}
        files.update(pam_files)
        try:
            for name, text in files.items():
                self.write_pam(name, text)
            self.utmp = self._record_file("utmp")
            log = self.var_log or self.workdir
            self.wtmp = self._record_file("wtmp", directory=log)
            self.btmp = self._record_file("btmp", 0o660, directory=log)
            self.lastlog = self._record_file("lastlog", directory=log)
            self.syslog = SyslogListener(os.path.join(self.workdir, "log"))
            spec = {"pamd": self.pamd, "log": self.syslog.path, "utmp": self.utmp,
                    "wtmp": self.wtmp, "btmp": self.btmp, "lastlog": self.lastlog,
                    "var_log": self.var_log, "binds": [list(b) for b in binds],
                    "journal": journal}
            self.holder = subprocess.Popen(
                ["/usr/bin/python3", os.path.abspath(__file__), "--hold", json.dumps(spec)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                preexec_fn=_die_with_parent)
            line = self.holder.stdout.readline().decode()
            if line.strip() != "ready":
                err = self.holder.stderr.read().decode()
                raise RuntimeError(f"private mount namespace setup failed: {err.strip()}")
            self.mntns = os.readlink(f"/proc/{self.holder.pid}/ns/mnt")
        except BaseException:
            self.close()
            raise

    def _record_file(self, name, mode=0o664, directory=None):
        path = os.path.join(directory or self.workdir, name)
        open(path, "wb").close()
        os.chown(path, 0, 43 if name != "lastlog" else 43)  # group utmp
        os.chmod(path, mode)
        return path

    def write_pam(self, name, text):
        path = os.path.join(self.pamd, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)

    def nsenter(self):
        return ["nsenter", f"--mount=/proc/{self.holder.pid}/ns/mnt", "--"]

    def run(self, argv, timeout=60, **kw):
        """Runs argv inside the namespace; returns CompletedProcess (text, captured)."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.nsenter() + list(argv), timeout=timeout, cwd="/", **kw)

    def popen(self, argv, **kw):
        return subprocess.Popen(self.nsenter() + list(argv), cwd="/",
                                preexec_fn=_die_with_parent, **kw)

    def pids_inside(self):
        """Processes whose mount namespace is this one (all of them started by the test)."""
        return pids_in_mntns(self.mntns, self.holder.pid)

    def close(self):
        if self.holder is not None:
            end_mntns_holder(self.holder, self.mntns)
            self.holder = None
        if self.syslog is not None:
            self.syslog.close()
            self.syslog = None
        shutil.rmtree(self.workdir, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(WORK_BASE)  # only when no other test's directory is left in it

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ---- sshd ----------------------------------------------------------------------------------

def asan_preload(build):
    """LD_PRELOAD value for a sanitizer build of the module loaded into an uninstrumented
    sshd: the ASan runtime must come first in the process."""
    if not build.rstrip("/").endswith("-san"):
        return None
    lib = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                         text=True).stdout.strip()
    return os.path.realpath(lib) if lib and os.path.exists(lib) else None


def sanitizer_env(build, workdir):
    """Environment for sshd when build is a SANITIZE=1 build (build-san): the module is
    ASan-built and sshd is not, so the ASan runtime is preloaded into sshd (sshd gives the
    user's processes an environment of its own, without it). Reports go to workdir/asan.*
    and workdir/ubsan.*. Empty for a normal build."""
    lib = asan_preload(build)
    if lib is None:
        return {}
    return {"LD_PRELOAD": lib,
            "ASAN_OPTIONS": f"detect_leaks=0:log_path={workdir}/asan",
            "UBSAN_OPTIONS": f"print_stacktrace=1:log_path={workdir}/ubsan"}


class SshServer:
    """sshd on 127.0.0.1:<port> inside env (a PrivateEnv whose `sshd` PAM file the test wrote).

    Key authentication only; every user passed to authorize() may log in with self.key."""

    def __init__(self, env, port=None, options=None, log_level="VERBOSE", extra_env=None):
        self.env = env
        self.dir = os.path.join(env.workdir, "sshd")
        os.mkdir(self.dir, 0o711)
        self.keysdir = os.path.join(self.dir, "authorized")
        os.mkdir(self.keysdir, 0o755)
        self.proc = None
        self.log = []
        self._log_cond = threading.Condition()
        hostkey = os.path.join(self.dir, "host_ed25519")
        self.key = os.path.join(self.dir, "client_ed25519")
        for k in (hostkey, self.key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "isolate-test",
                            "-f", k], check=True, capture_output=True)
        with open(self.key + ".pub") as f:
            self.pubkey = f.read()
        opts = {
            "ListenAddress": "127.0.0.1", "HostKey": hostkey,
            "PidFile": os.path.join(self.dir, "sshd.pid"),
            "UsePAM": "yes", "PubkeyAuthentication": "yes", "PasswordAuthentication": "no",
            "KbdInteractiveAuthentication": "no", "PermitRootLogin": "prohibit-password",
            "AuthorizedKeysFile": os.path.join(self.keysdir, "%u"),
            "StrictModes": "yes", "UseDNS": "no", "PrintMotd": "no", "PrintLastLog": "no",
            "AllowTcpForwarding": "yes", "X11Forwarding": "no", "MaxStartups": "200",
            "MaxSessions": "50", "LogLevel": log_level,
            "Subsystem": f"sftp {SFTP_SERVER}", "AcceptEnv": "LANG LC_*",
        }
        opts.update(options or {})
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w") as f:
            for k, v in opts.items():
                f.write(f"{k} {v}\n")
        self.extra_env = dict(extra_env or {})
        self.port = port

    def authorize(self, user_name):
        path = os.path.join(self.keysdir, user_name)
        with open(path, "w") as f:
            f.write(self.pubkey)
        os.chmod(path, 0o644)

    def start(self, timeout=10):
        last = None
        for _ in range(5):
            port = self.port or free_port()
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
            env.update(self.extra_env)
            self.log = []
            self.proc = self.env.popen([SSHD, "-D", "-e", "-f", self.config, "-p", str(port)],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, env=env)
            self._reader = threading.Thread(target=self._read_log, args=(self.proc,),
                                            daemon=True)
            self._reader.start()
            if self.wait_log(r"Server listening on 127\.0\.0\.1 port", timeout):
                self.port = port
                return self
            last = "\n".join(self.log)
            self.stop()
            if self.port or "Address already in use" not in last:
                break
        raise RuntimeError(f"sshd did not start:\n{last}")

    def _read_log(self, proc):
        for raw in proc.stderr:
            with self._log_cond:
                self.log.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._log_cond.notify_all()

    def wait_log(self, pattern, timeout=10, since=0):
        """The first sshd log line after `since` matching pattern, or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._log_cond:
            while True:
                for l in self.log[since:]:
                    if rx.search(l):
                        return l
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if self.proc is None or self.proc.poll() is not None:
                    # sshd is gone: let the reader drain its last lines, then give up.
                    deadline = min(deadline, time.monotonic() + 0.3)
                self._log_cond.wait(min(left, 0.1))

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # the reader ends at EOF (sshd and every child holding its stderr gone); only then
        # may the pipe be closed under it
        self._reader.join(5)
        if not self._reader.is_alive():
            self.proc.stderr.close()
        self.proc = None

    # -- clients ---------------------------------------------------------------------------

    def client_opts(self):
        return ["-F", "/dev/null", "-i", self.key, "-o", "IdentitiesOnly=yes",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=10", "-o", "ControlMaster=no", "-o", "ControlPath=none"]

    def ssh_argv(self, user, command=None, tty=False, extra=()):
        argv = ["ssh"] + self.client_opts() + ["-p", str(self.port)] + list(extra)
        argv += ["-tt"] if tty else ["-T"]
        argv.append(f"{user}@127.0.0.1")
        if command is not None:
            argv += ["--", command]
        return argv

    def ssh(self, user, command, tty=False, extra=(), timeout=60, **kw):
        """Runs command (a shell string) as user; CompletedProcess with text output unless
        input/stdout say otherwise."""
        kw.setdefault("capture_output", True)
        if "input" not in kw or isinstance(kw.get("input"), str):
            kw.setdefault("text", True)
        if "input" not in kw and "stdin" not in kw:
            kw["stdin"] = subprocess.DEVNULL
        return subprocess.run(self.ssh_argv(user, command, tty, extra), timeout=timeout, **kw)

    def local_forward(self, user, host, port, extra=()):
        """What a client reading from an ssh -N -L forward (as user) to host:port gets, all
        of it until the far end closes (b"" when sshd could not connect there). The client
        is stopped afterwards, killed if SIGTERM does not end it in 10 s."""
        lport = free_port()
        ssh = subprocess.Popen(
            self.ssh_argv(user, None, extra=["-N", *extra, "-L",
                                             f"127.0.0.1:{lport}:{host}:{port}"]),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    c = socket.create_connection(("127.0.0.1", lport), timeout=10)
                    break
                except OSError:
                    if time.monotonic() > deadline or ssh.poll() is not None:
                        raise AssertionError("the -L listener never came up: " +
                                             (ssh.stderr.read().decode()
                                              if ssh.poll() is not None else "timeout"))
                    time.sleep(0.1)
            got = b""
            with c:
                while chunk := c.recv(4096):
                    got += chunk
            return got
        finally:
            # the client's stderr is read too (a full pipe would block it)
            ssh.terminate()
            try:
                ssh.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                ssh.kill()
                ssh.communicate(timeout=10)

    def scp(self, *args, timeout=60):
        argv = ["scp"] + self.client_opts() + ["-P", str(self.port)] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def sftp(self, user, batch, timeout=60):
        argv = ["sftp"] + self.client_opts() + ["-P", str(self.port), "-b", "-",
                                                f"{user}@127.0.0.1"]
        return subprocess.run(argv, input=batch, capture_output=True, text=True,
                              timeout=timeout)

    def close(self):
        self.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- self test -----------------------------------------------------------------------------

def _selftest():
    from harness import TestUser
    hook = ("#!/bin/sh\nlogger -t isolate-hook \"$PAM_TYPE user=$PAM_USER "
            "service=$PAM_SERVICE\"\n")
    with PrivateEnv({}) as env:
        hook_path = os.path.join(env.workdir, "hook.sh")
        with open(hook_path, "w") as f:
            f.write(hook)
        os.chmod(hook_path, 0o755)
        env.write_pam("sshd", "account required pam_unix.so\n"
                              "session required pam_unix.so\n"
                              f"session optional pam_exec.so {hook_path}\n")
        user = TestUser("isolate-selftest")
        with contextlib.closing(user), SshServer(env) as srv:
            srv.authorize(user.name)
            srv.start()
            r = srv.ssh(user.name, "id -un; tty; echo $SSH_CONNECTION", tty=True)
            print("exit", r.returncode, "stdout:", r.stdout.strip(), "stderr:", r.stderr.strip())
            print("hook(close):", env.syslog.wait_for("isolate-hook: close_session", 5))
            print("syslog:\n" + env.syslog.dump())
            print("utmpdump:", subprocess.run(["utmpdump", env.wtmp], capture_output=True,
                                               text=True).stdout)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--hold":
        _holder_main(json.loads(sys.argv[2]))
    elif sys.argv[1:] == ["--selftest"]:
        _selftest()
    else:
        sys.exit("usage: sshd.py --selftest")

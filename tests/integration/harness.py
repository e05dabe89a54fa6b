"""Shared pieces of the integration tests: paths, test users, root-owned configs, a cgroup
root under the cgroup the tests run in, and leak checks. Run as root with /usr/bin/python3.

Everything a test makes is removed by the matching cleanup, also when the test fails:
use Sandbox as a context manager or from setUpClass/tearDownClass."""

import atexit
import contextlib
import json
import os
import pwd
import re
import secrets
import select
import shutil
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
ISOLATECTL = os.path.join(BUILD, "isolatectl")
HELPER = os.path.join(BUILD, "isolate-helper")
# the helper with its fault injection compiled in (ISOLATE_TEST_*): tests only
FAULT_HELPER = os.path.join(BUILD, "tests", "isolate-helper-faults")
INIT = os.path.join(BUILD, "isolate-init")
PAM_MODULE = os.path.join(BUILD, "pam_isolate.so")
PROBE_BUILT = os.path.join(BUILD, "tests", "probe")


def _probe_visible_inside():
    """The probe runs inside sessions, whose /tmp, /var/tmp, /dev/shm and /run/lock are their
    own: a checkout under /tmp (a CI clone) would not be visible there. A copy goes to a
    directory under /var/lib for this test run, removed at exit."""
    if not os.path.exists(PROBE_BUILT):
        return PROBE_BUILT
    d = tempfile.mkdtemp(prefix="isolate-tests-", dir="/var/lib")
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    dst = os.path.join(d, "probe")
    shutil.copy2(PROBE_BUILT, dst)
    os.chmod(dst, 0o755)
    return dst


PROBE = _probe_visible_inside() if os.geteuid() == 0 else PROBE_BUILT
CGROUP_FS = "/sys/fs/cgroup"

# The policy every test starts from; tests add their own policy blocks and match rules.
BASE_POLICY = """
policy test {
  network = host
  hostname = "%u-session"
  private_tmp = true
  tmp_size = 64M
}
"""


def require_root():
    """Not root is a wrong invocation, not a host that cannot run the tests: a failure."""
    if os.geteuid() != 0:
        raise AssertionError("integration tests run as root (sudo make check)")


def require_built(*paths):
    """make builds everything the tests use before it runs them: a missing file fails."""
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise AssertionError(f"not built: {', '.join(missing)} (make integration builds them)")


def own_cgroups():
    """{hierarchy mount dir: our cgroup path inside it} for every cgroupfs mount."""
    paths = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            paths[controllers] = path
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3]
            mnt = fields[4]
            if fstype == "cgroup2":
                if "" in paths:
                    mounts[mnt] = paths[""]
            elif fstype == "cgroup":
                opts = [o for o in options.split(",") if o not in ("rw", "ro", "relatime")]
                for key, path in paths.items():
                    if key and set(key.split(",")) == set(o for o in opts
                                                          if not o.startswith("clone")):
                        mounts[mnt] = path
    return mounts


def remove_cgroup_tree(path):
    """rmdir depth-first (cgroupfs directories cannot be removed with their files)."""
    if not os.path.isdir(path):
        return
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            remove_cgroup_tree(entry.path)
    for _ in range(100):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"cannot remove cgroup {path}")


class TestUser:
    """A throwaway local user with a home directory; removed at close()."""

    def __init__(self, name):
        self.name = name
        self.created = False
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], check=True)
            self.created = True
        p = pwd.getpwnam(name)
        self.uid, self.gid, self.home = p.pw_uid, p.pw_gid, p.pw_dir

    def close(self):
        if self.created:
            subprocess.run(["pkill", "-KILL", "-u", self.name], check=False)
            time.sleep(0.05)
            subprocess.run(["userdel", "-r", "-f", self.name], check=False,
                           stderr=subprocess.DEVNULL)
            self.created = False


class Sandbox:
    """One test environment: a root-owned temp dir with configs, a runtime dir, and a cgroup
    root "./isolate-test-XXXX" nested under the cgroup the tests run in."""

    def __init__(self):
        require_root()
        self.dir = tempfile.mkdtemp(prefix="isolate-test-")
        os.chmod(self.dir, 0o755)
        self.cgroup_name = "isolate-test-" + secrets.token_hex(4)
        # below /run, as the shipped /run/isolate: inside a session /tmp is private, and the
        # login records are reached through the runtime dir by root only (mounts.c)
        self.runtime_dir = "/run/" + self.cgroup_name
        # made now, so that a PrivateEnv (sshd.py) made later binds it back into its /run:
        # the registry the helper writes in there is the one the test reads
        os.mkdir(self.runtime_dir, 0o700)
        self.cgroup_root = "./" + self.cgroup_name
        self.users = []
        self._cg_parents = own_cgroups()

    # --- configs -------------------------------------------------------------------------
    def config(self, body="", policies=BASE_POLICY, default_policy="test", services=None,
               extra_global="", name="isolate.conf"):
        """Writes a root-owned 0644 config and returns its path."""
        services = services or ["sshd", "login", "su", "su-l", "isolatectl", "pamtester"]
        text = (
            f"fail = closed\n"
            f"services = {{{', '.join(json.dumps(s) for s in services)}}}\n"
            f"exempt_users = {{\"root\"}}\n"
            f"cgroup_backend = auto\n"
            f"cgroup_root = \"{self.cgroup_root}\"\n"
            f"runtime_dir = \"{self.runtime_dir}\"\n"
            f"helper_timeout = 10s\n"
            f"default_policy = {default_policy}\n"
            f"{extra_global}\n{policies}\n{body}\n"
        )
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, 0, 0)
        os.chmod(path, 0o644)
        return path

    def user(self, name):
        u = TestUser(name)
        self.users.append(u)
        return u

    # --- running ---------------------------------------------------------------------------
    def run(self, user, cmd, config, service="sshd", rhost=None, helper=HELPER, timeout=60,
            input=None, env=None, **kw):
        """isolatectl run USER -- CMD; returns CompletedProcess (text)."""
        args = [ISOLATECTL, "run", "-c", config, "--service", service, "--helper", helper]
        if rhost:
            args += ["--rhost", rhost]
        args += [user if isinstance(user, str) else user.name, "--"]
        args += cmd if isinstance(cmd, list) else ["/bin/sh", "-c", cmd]
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                              input=input, env=env, **kw)

    def start(self, user, cmd, config, service="sshd", **kw):
        """Starts isolatectl run in the background; returns the Popen."""
        args = [ISOLATECTL, "run", "-c", config, "--service", service, "--helper", HELPER,
                user if isinstance(user, str) else user.name, "--"]
        args += cmd if isinstance(cmd, list) else ["/bin/sh", "-c", cmd]
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, **kw)

    # --- what is left ------------------------------------------------------------------------
    def cgroup_dirs(self):
        """Absolute paths of our cgroup root in every hierarchy (existing or not)."""
        out = []
        for mnt, parent in self._cg_parents.items():
            out.append(os.path.join(mnt, parent.lstrip("/"), self.cgroup_name))
        return out

    def session_leaves(self):
        """Every session-* directory under our cgroup root, in every hierarchy."""
        leaves = []
        for root in self.cgroup_dirs():
            if not os.path.isdir(root):
                continue
            for user_dir in os.scandir(root):
                if user_dir.is_dir() and user_dir.name.startswith("user-"):
                    for leaf in os.scandir(user_dir.path):
                        if leaf.is_dir() and leaf.name.startswith("session-"):
                            leaves.append(leaf.path)
        return leaves

    def registry_entries(self):
        d = os.path.join(self.runtime_dir, "sessions")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def init_processes(self):
        """pids of live isolate-init processes in our cgroup root (the supervisor cgroup)."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                with open(f"/proc/{entry}/cgroup") as f:
                    cgroups = f.read()
            except OSError:
                continue
            if (argv[0].endswith(b"isolate-init") and state != "Z"
                    and f"/{self.cgroup_name}/" in cgroups):
                pids.append(int(entry))
        return pids

    def wait_clean(self, timeout=3.0):
        """Waits until no init, leaf or registry entry of ours is left; returns what is left."""
        deadline = time.monotonic() + timeout
        while True:
            left = {"inits": self.init_processes(), "leaves": self.session_leaves(),
                    "registry": self.registry_entries()}
            if not any(left.values()) or time.monotonic() > deadline:
                return left
            time.sleep(0.02)

    def close(self):
        for pid in self.init_processes():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
        for u in self.users:
            u.close()
        for path in self.cgroup_dirs():
            remove_cgroup_tree(path)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SwitchedHelper:
    """The helper behind a wrapper script that can be switched off: a ticket's key holds the
    helper binary the caller runs (client/ticket.h), so a login that must prove it joined by
    ticket runs the same path with the helper switched off (`with h.off():`) and still gets
    in; one that went to the helper fails with "switched off" on its stderr."""

    def __init__(self, sb, real=HELPER):
        self.path = os.path.join(sb.dir, "isolate-helper-switch")
        self.flag = os.path.join(sb.dir, "isolate-helper-off")
        with open(self.path, "w") as f:
            f.write(f'#!/bin/sh\nif [ -e "{self.flag}" ]; then\n'
                    '  echo "isolate-helper: switched off by the test" >&2; exit 127\nfi\n'
                    f'exec "{real}" "$@"\n')
        os.chmod(self.path, 0o755)

    @contextlib.contextmanager
    def off(self):
        open(self.flag, "w").close()
        try:
            yield
        finally:
            os.unlink(self.flag)


class Held:
    """A login or session in the background (stdin a pipe, stdout and stderr together).
    wait_for() reads until a line matches; end() sends a line and closes stdin (HOLD returns),
    then waits. Always ended, killed if need be: use it with `with`."""

    def __init__(self, argv, **kw):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, **kw)
        self.out, self.eof = "", False

    def _read(self, timeout):
        if select.select([self.p.stdout], [], [], max(timeout, 0))[0]:
            data = os.read(self.p.stdout.fileno(), 65536)
            self.eof = not data
            self.out += data.decode(errors="replace").replace("\r", "")

    def send(self, text):
        """Writes a line to the login's stdin (its pty, through ssh -tt)."""
        self.p.stdin.write(text.encode() + b"\n")
        self.p.stdin.flush()

    def wait_for(self, pattern, timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.out, re.M)
            if m:
                return m
            if self.eof or time.monotonic() > deadline:
                raise AssertionError(f"never printed /{pattern}/ "
                                     f"({'it ended' if self.eof else f'{timeout} s'}):\n"
                                     f"{self.out[-3000:]}")
            self._read(deadline - time.monotonic())

    def end(self, timeout=60):
        """(exit status, whole output)."""
        if not self.p.stdin.closed:
            try:
                self.p.stdin.write(b"\n")
                self.p.stdin.close()
            except BrokenPipeError:
                pass
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._read(deadline - time.monotonic())
        try:
            rc = self.p.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.p.stdout.close()
        return rc, self.out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.p.returncode is None:
            self.end(timeout=20)


class SandboxTestCase(unittest.TestCase):
    """A test class with one Sandbox (self.sb) and two test users (self.u1, self.u2)."""

    USERS = ("isolate-t1", "isolate-t2")

    @classmethod
    def setUpClass(cls):
        cls.sb = Sandbox()
        try:
            cls.u1 = cls.sb.user(cls.USERS[0])
            cls.u2 = cls.sb.user(cls.USERS[1])
        except Exception:
            cls.sb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.sb.close()

    def assertClean(self, timeout=3.0):
        left = self.sb.wait_clean(timeout)
        self.assertEqual(left, {"inits": [], "leaves": [], "registry": []},
                         "session left something behind")

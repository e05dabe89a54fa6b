"""Issue 15, item 3: Landlock scoping of abstract unix sockets and signals
(scope_abstract_unix, scope_signals), through isolatectl run (the helper's login path).

With network = host a session shares the host's abstract unix socket namespace: X11 and
daemons listen there, and it was a channel between users (one user's session bound @drop,
another user's separate session connected to it). Where the kernel has Landlock ABI 6
(Linux 6.12) each login is a Landlock domain scoped for both by default (auto, for
scope = login): a session process cannot connect or send to an abstract socket made
outside its login, nor signal a process outside it. The kernel answers both with EPERM.

Every refusal is shown next to the same probe under a policy with the key false, which
reaches the socket or the process: a refusal is the scoping's doing.

Each login makes a Landlock domain of its own (a domain is inherited, never joined), so two
logins joining one user-scope sandbox are in different domains. A scoped login then cannot
signal the other's processes, and under hidepid (the default: invisible) it does not even
see them in /proc, as for any Landlock domain (its ptrace check decides what /proc shows).
That is why auto means off for scope = user; TestUserScope shows both sides.

No test signals from a login to the session's non-login processes: the only one is the init
(pid 1, root), which kill(2) refuses to a user by uid (EPERM) with or without scoping, and
processes outside the session are not in its pid namespace, so they cannot be named.
Scoping of signals shows between two logins of one user-scope sandbox (TestUserScope).

On a kernel without ABI 6 the tests that need scoping skip; TestOlderKernel runs everywhere:
the test helper plans as for an older kernel (ISOLATE_TEST_LANDLOCK_ABI) and lsm_required
decides for a policy that writes true."""

import ctypes
import json
import os
import secrets
import socket
import threading
import unittest

from harness import FAULT_HELPER, HELPER, ISOLATECTL, Held, SandboxTestCase, require_built

LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture (a new syscall)
LANDLOCK_CREATE_RULESET_VERSION = 1


def landlock_abi():
    libc = ctypes.CDLL(None, use_errno=True)
    abi = libc.syscall(LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return max(abi, 0)


ABI = landlock_abi()
NO_SCOPING = (f"this kernel's Landlock ABI is {ABI}: scoping abstract unix sockets and "
              f"signals needs ABI 6 (Linux 6.12)")

# Run inside a session: connects (stream: sends, reads the answer) or sends (datagram) to
# each abstract name; prints {name: "ok:ANSWER" | "sent" | errno name}.
PROBE = r"""
import errno, json, socket, sys
out = {}
for name, kind, addr in json.loads(sys.argv[1]):
    s = socket.socket(socket.AF_UNIX, getattr(socket, kind) | socket.SOCK_CLOEXEC)
    s.settimeout(5)
    try:
        if kind == "SOCK_STREAM":
            s.connect("\0" + addr)
            s.sendall(b"from-session")
            out[name] = "ok:" + s.recv(64).decode()
        else:
            s.sendto(b"from-session", "\0" + addr)
            out[name] = "sent"
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
print(json.dumps(out))
"""

# Run inside a session, held open: binds @NAME, prints READY, and until a line comes on
# stdin prints what each connection brought and from which uid (SO_PEERCRED).
DROP = r"""
import select, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
s.bind("\0" + sys.argv[1])
s.listen(4)
print("READY", flush=True)
while True:
    r, _, _ = select.select([s, sys.stdin], [], [])
    if s in r:
        c, _ = s.accept()
        pid, uid, gid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        c.settimeout(5)
        print(f"GOT {c.recv(64).decode()} uid={uid}", flush=True)
        c.sendall(b"dropped")
        c.close()
    if sys.stdin in r:
        print("END", flush=True)
        break
"""

# Run inside a session: two processes of the one login talk over an abstract socket.
WITHIN = r"""
import os, socket, sys
name = "\0" + sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
s.bind(name)
s.listen(1)
if os.fork() == 0:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        c.connect(name)
        c.sendall(b"sibling")
    except OSError as e:
        print("child:", e, flush=True)
    os._exit(0)
s.settimeout(5)
try:
    c, _ = s.accept()
    print("within:", c.recv(64).decode())
except OSError as e:
    print("within:", e)
os.wait()
"""


def policy(keys="", scope="login", network="host"):
    return f"""
policy test {{
  network = {network}
  scope = {scope}
  private_tmp = true
  {keys}
}}
"""


class HostListeners:
    """An abstract stream socket that answers "host" and an abstract datagram socket, both
    bound by this (unconfined) test process under fresh random names."""

    def __init__(self):
        self.stream_name = "isolate-test-" + secrets.token_hex(6)
        self.dgram_name = "isolate-test-" + secrets.token_hex(6)
        self.stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.stream.bind("\0" + self.stream_name)
        self.stream.listen(16)
        self.dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.dgram.bind("\0" + self.dgram_name)
        self.dgram.settimeout(0.5)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            while True:
                c, _ = self.stream.accept()
                c.settimeout(5)
                try:
                    c.recv(64)
                    c.sendall(b"host")
                finally:
                    c.close()
        except OSError:
            pass

    def targets(self):
        return [("stream", "SOCK_STREAM", self.stream_name),
                ("dgram", "SOCK_DGRAM", self.dgram_name)]

    def received(self):
        try:
            return self.dgram.recv(64).decode()
        except OSError:
            return None

    def close(self):
        self.stream.close()
        self.dgram.close()


def held(user, cfg, argv, helper=HELPER):
    """A login of user running argv (isolatectl run), held open in the background."""
    return Held([ISOLATECTL, "run", "-c", cfg, "--service", "sshd", "--helper", helper,
                 user.name, "--"] + argv)


class ScopingCase(SandboxTestCase):
    def probe(self, user, cfg, targets, helper=HELPER):
        r = self.sb.run(user, ["/usr/bin/python3", "-c", PROBE, json.dumps(targets)], cfg,
                        helper=helper)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout.strip().splitlines()[-1]), r.stderr


class TestAbstractUnix(ScopingCase):
    USERS = ("isolate-sc1", "isolate-sc2")

    def setUp(self):
        if ABI < 6:
            self.skipTest(NO_SCOPING)
        self.host = HostListeners()
        self.addCleanup(self.host.close)

    def test_host_socket_refused_by_default(self):
        got, _ = self.probe(self.u1, self.sb.config(policies=policy()), self.host.targets())
        # Landlock refuses with EPERM (not ECONNREFUSED): the socket is there, the session
        # may not reach it
        self.assertEqual(got, {"stream": "EPERM", "dgram": "EPERM"})
        self.assertIsNone(self.host.received(), "the datagram must not arrive")

    def test_host_socket_reached_with_the_key_false(self):
        cfg = self.sb.config(policies=policy("scope_abstract_unix = false"))
        got, _ = self.probe(self.u1, cfg, self.host.targets())
        self.assertEqual(got, {"stream": "ok:host", "dgram": "sent"})
        self.assertEqual(self.host.received(), "from-session")

    def test_scope_signals_false_keeps_sockets_scoped(self):
        cfg = self.sb.config(policies=policy("scope_signals = false"))
        got, _ = self.probe(self.u1, cfg, self.host.targets())
        self.assertEqual(got, {"stream": "EPERM", "dgram": "EPERM"})

    def test_network_none_has_its_own_namespace_anyway(self):
        # the session's own network namespace has its own abstract names: the host's socket
        # is not there at all (ECONNREFUSED), scoped or not
        for keys in ("", "scope_abstract_unix = false"):
            with self.subTest(keys=keys):
                cfg = self.sb.config(policies=policy(keys, network="none"))
                got, _ = self.probe(self.u1, cfg, self.host.targets())
                self.assertEqual(got, {"stream": "ECONNREFUSED", "dgram": "ECONNREFUSED"})

    def test_processes_of_one_login_still_talk(self):
        r = self.sb.run(self.u1, ["/usr/bin/python3", "-c", WITHIN,
                                  "isolate-test-" + secrets.token_hex(6)],
                        self.sb.config(policies=policy()))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("within: sibling", r.stdout)

    def _drop(self, keys):
        """u1's session binds @drop-X; u2's separate session probes it. (probe, u1's output)"""
        name = "drop-" + secrets.token_hex(6)
        cfg = self.sb.config(policies=policy(keys))
        with held(self.u1, cfg, ["/usr/bin/python3", "-c", DROP, name]) as a:
            a.wait_for("READY")
            got, _ = self.probe(self.u2, cfg, [("drop", "SOCK_STREAM", name)])
            rc, out = a.end()
        self.assertEqual(rc, 0, out)
        self.assertIn("END", out)
        return got, out

    def test_another_users_session_cannot_reach_a_drop(self):
        got, out = self._drop("")
        self.assertEqual(got, {"drop": "EPERM"})
        self.assertNotIn("GOT", out)

    def test_another_users_session_reaches_a_drop_with_the_key_false(self):
        # the channel as it was proven: the message arrives, with the other user's uid
        got, out = self._drop("scope_abstract_unix = false")
        self.assertEqual(got, {"drop": "ok:dropped"})
        self.assertIn(f"GOT from-session uid={self.u2.uid}", out)


class TestSignals(ScopingCase):
    USERS = ("isolate-ss1", "isolate-ss2")

    def setUp(self):
        if ABI < 6:
            self.skipTest(NO_SCOPING)

    def test_a_login_signals_its_own_processes(self):
        # job control, kill of a child, kill %1: all within the login's own domain
        r = self.sb.run(self.u1, ["/bin/bash", "-c",
                                  "sleep 300 & kill %1; wait $!; echo status=$?; "
                                  "sleep 300 & kill -TERM $!; wait $!; echo status=$?"],
                        self.sb.config(policies=policy()))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["status=143", "status=143"])


class TestUserScope(ScopingCase):
    """Two logins of one user joining one user-scope sandbox: each is a domain of its own."""

    USERS = ("isolate-su1", "isolate-su2")
    # login A: a job and its pid; at the end A kills it (SIGKILL: 137) unless a signal from
    # the other login (SIGUSR1: 138) ended it first
    JOB = "sleep 300 & p=$!; echo PID=$p; read x; kill -KILL $p 2>/dev/null; wait $p; echo status=$?"

    def setUp(self):
        if ABI < 6:
            self.skipTest(NO_SCOPING)

    def _two_logins(self, keys):
        cfg = self.sb.config(policies=policy(keys, scope="user"))
        with held(self.u1, cfg, ["/bin/sh", "-c", self.JOB]) as a:
            pid = a.wait_for(r"^PID=(\d+)").group(1)
            # B first looks (before the signal could end the job), then signals
            b = self.sb.run(self.u1, "test -d /proc/{0} && echo visible || echo invisible; "
                                     "kill -USR1 {0}; echo kill=$?".format(pid), cfg)
            self.assertEqual(b.returncode, 0, b.stderr)
            rc, out = a.end()
        self.assertEqual(rc, 0, out)
        self.assertClean()
        return b, out

    def test_auto_is_off_for_scope_user(self):
        b, out = self._two_logins("")
        self.assertEqual(b.stdout.split(), ["visible", "kill=0"], b.stderr)
        self.assertIn("status=138", out, "the other login's SIGUSR1 ended the job")

    def test_scope_signals_true_parts_the_logins(self):
        b, out = self._two_logins("scope_signals = true")
        # a domain of its own: the other login's job is not even in /proc (hidepid =
        # invisible asks Landlock's ptrace check), and kill(2) by pid is refused
        self.assertEqual(b.stdout.split(), ["invisible", "kill=1"], b.stderr)
        self.assertIn("Operation not permitted", b.stderr)
        self.assertIn("status=137", out, "the job outlived the other login's signal")

    def test_scope_abstract_unix_true_parts_the_logins(self):
        name = "drop-" + secrets.token_hex(6)
        cfg = self.sb.config(policies=policy("scope_abstract_unix = true", scope="user"))
        with held(self.u1, cfg, ["/usr/bin/python3", "-c", DROP, name]) as a:
            a.wait_for("READY")
            got, _ = self.probe(self.u1, cfg, [("drop", "SOCK_STREAM", name)])
            rc, out = a.end()
        self.assertEqual(got, {"drop": "EPERM"}, "the same user's other login is apart")
        self.assertNotIn("GOT", out)


class TestOlderKernel(ScopingCase):
    """A kernel without Landlock ABI 6, as the helper sees it (ISOLATE_TEST_LANDLOCK_ABI=5):
    auto goes on unscoped and quietly; a policy that writes true is refused, or with
    lsm_required = false goes on unscoped with a warning. Runs on every kernel."""

    USERS = ("isolate-so1", "isolate-so2")

    def setUp(self):
        require_built(FAULT_HELPER)
        self.helper = os.path.join(self.sb.dir, "helper-landlock-abi-5.sh")
        with open(self.helper, "w") as f:
            f.write(f'#!/bin/sh\nISOLATE_TEST_LANDLOCK_ABI=5 exec {FAULT_HELPER} "$@"\n')
        os.chmod(self.helper, 0o755)
        self.host = HostListeners()
        self.addCleanup(self.host.close)

    def test_auto_goes_on_unscoped(self):
        got, err = self.probe(self.u1, self.sb.config(policies=policy()), self.host.targets(),
                              helper=self.helper)
        self.assertEqual(got, {"stream": "ok:host", "dgram": "sent"})
        self.assertNotIn("scope", err)

    def test_true_is_refused_with_lsm_required(self):
        cfg = self.sb.config(policies=policy("scope_abstract_unix = true"))
        r = self.sb.run(self.u1, "echo inside", cfg, helper=self.helper)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("inside", r.stdout)
        self.assertIn("session refused", r.stderr)
        self.assertIn("scope_abstract_unix = true", r.stderr)
        self.assertIn("ABI 5", r.stderr)
        self.assertIn("lsm_required = false", r.stderr)
        self.assertClean()

    def test_true_goes_on_with_a_warning_without_lsm_required(self):
        cfg = self.sb.config(policies=policy("scope_abstract_unix = true\n"
                                             "  scope_signals = true\n"
                                             "  lsm_required = false"))
        got, err = self.probe(self.u1, cfg, self.host.targets(), helper=self.helper)
        self.assertEqual(got, {"stream": "ok:host", "dgram": "sent"})
        self.assertIn("warning", err)
        self.assertIn("abstract unix sockets and signals not scoped", err)


if __name__ == "__main__":
    unittest.main()

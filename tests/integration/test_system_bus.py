"""Issue 15: system_bus = deny, through a real sshd. The session's users cannot reach the
D-Bus system bus (/run/dbus/system_bus_socket), through which they could ask system
services to act outside the sandbox; root's processes in the session (the sshd monitor
joined it, and pam_systemd closes the login over that bus after our open) still can, and
the login, its pty and its logout work as before.

The bus is a stand-in: a unix socket of the test's, bound in the test's private mount
namespace (sshd.py's PrivateEnv) over /run/dbus, that answers "bus" and records the uid
of every peer (SO_PEERCRED). Root's use at close is a pam_exec after pam_isolate that
connects to it, as pam_systemd's close would."""

import os
import shutil
import socket
import struct
import tempfile
import threading
import time
import unittest

from harness import (BUILD, HELPER, INIT, PAM_MODULE, Sandbox, require_built, require_root)
from sshd import WORK_BASE, PrivateEnv, SshServer, sanitizer_env
from test_pam_sshd import sshd_stack

POLICIES = """
policy test {
  network = host
  system_bus = %s
}
"""

# what a user (or root) in the session sees of the bus: "bus" or the errno's name
CONNECT = ("import errno, socket\n"
           "s = socket.socket(socket.AF_UNIX)\n"
           "try:\n"
           "    s.connect('/run/dbus/system_bus_socket'); print('bus-says-' + s.recv(8).decode())\n"
           "except OSError as e:\n"
           "    print('bus-error-' + errno.errorcode[e.errno])\n")


class FakeBus:
    """A unix socket at DIR/system_bus_socket (mode 0666, as the real one) that answers
    "bus" and keeps the uid of each peer."""

    def __init__(self):
        os.makedirs(WORK_BASE, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="bus-", dir=WORK_BASE)
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "system_bus_socket")
        self.s = socket.socket(socket.AF_UNIX)
        self.s.bind(self.path)
        os.chmod(self.path, 0o666)
        self.s.listen(16)
        self.peers = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            while True:
                c, _ = self.s.accept()
                cred = c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
                self.peers.append(struct.unpack("3i", cred)[1])
                c.sendall(b"bus")
                c.close()
        except OSError:
            pass

    def close(self):
        self.s.close()
        shutil.rmtree(self.dir, True)


class TestSystemBus(unittest.TestCase):
    USERS = ("isolate-sb1",)

    @classmethod
    def setUpClass(cls):
        require_root()
        require_built(PAM_MODULE, HELPER, INIT)
        cls.bus = FakeBus()
        cls.addClassCleanup(cls.bus.close)
        cls.sb = Sandbox()
        cls.addClassCleanup(cls.sb.close)
        cls.u = cls.sb.user(cls.USERS[0])
        cls.hook = os.path.join(cls.bus.dir, "close-hook.py")
        with open(cls.hook, "w") as f:
            f.write("#!/usr/bin/python3\n" + CONNECT)
        os.chmod(cls.hook, 0o755)
        cls.env = PrivateEnv({}, binds=[(cls.bus.dir, "/run/dbus")])
        cls.addClassCleanup(cls.env.close)
        cls.srv = SshServer(cls.env, extra_env=sanitizer_env(BUILD, cls.env.workdir))
        cls.addClassCleanup(cls.srv.close)
        cls.srv.authorize(cls.u.name)
        cls.srv.start()

    def use(self, mode):
        cfg = self.sb.config(policies=POLICIES % mode)
        # root's use of the bus when the login closes, after pam_isolate (as pam_systemd's)
        after = f"session optional pam_exec.so type=close_session log={self.log} {self.hook}\n"
        self.env.write_pam("sshd", sshd_stack(cfg, after=after))

    def setUp(self):
        self.log = os.path.join(self.bus.dir, f"hook-{self.id().rsplit('.', 1)[1]}.log")
        self.bus.peers.clear()

    def close_hook_saw(self):
        """What the close hook printed; sshd closes the session after the client is gone."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(self.log) as f:
                    text = f.read()
                if "bus-" in text:
                    return text
            except FileNotFoundError:
                pass
            time.sleep(0.1)
        return ""

    def test_denied_to_the_user_not_to_root(self):
        self.use("deny")
        r = self.srv.ssh(self.u.name, f"/usr/bin/python3 -c \"{CONNECT}\"; tty", tty=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("bus-error-EACCES", r.stdout)
        self.assertRegex(r.stdout, r"/dev/pts/\d+")  # the pty still works
        self.assertNotIn(self.u.uid, self.bus.peers)
        # the close of the login: root, in the session, reached the bus
        self.assertIn("bus-says-bus", self.close_hook_saw())
        self.assertIn(0, self.bus.peers)
        left = self.sb.wait_clean(5)
        self.assertEqual(left, {"inits": [], "leaves": [], "registry": []})

    def test_allowed(self):
        self.use("allow")
        r = self.srv.ssh(self.u.name, f"/usr/bin/python3 -c \"{CONNECT}\"")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("bus-says-bus", r.stdout)
        self.assertIn(self.u.uid, self.bus.peers)
        self.assertIn("bus-says-bus", self.close_hook_saw())


if __name__ == "__main__":
    unittest.main()

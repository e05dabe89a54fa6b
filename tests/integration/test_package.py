"""Issue 16: the Debian package (make deb, debian/): lintian, its files, its dependencies
against what the binaries link, and install / enable / remove / purge with dpkg.

The package is built once (make deb, in a copy of the tree under build/deb-src; the results
land in build/deb) unless build/deb already holds one newer than every file of the tree.

dpkg never touches the host: every dpkg and pam-auth-update run happens in a private mount
namespace (a holder process made with unshare -m) in which /etc, /usr, /var and /run are
overlayfs mounts whose lower layer is the host's directory and whose upper layer is a
temporary directory. Writes land in the upper layers; the namespace, with its mounts, goes
when the holder and every process in it have exited, and the temporary directory is then
deleted (addCleanup: also when a test fails)."""

import contextlib
import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import ROOT, Held, Sandbox, require_root
from sshd import end_mntns_holder

DEB_DIR = os.path.join(ROOT, "build", "deb")
PACKAGE = "libpam-isolate"
OVERLAID = ("etc", "usr", "var", "run")
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
       "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8", "HOME": "/root"}


def multiarch():
    return subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                          text=True, check=True).stdout.strip()


def makefile_var(name):
    """A one-line variable of the top Makefile (NAME := words)."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        for line in f:
            m = re.match(rf"{name}\s*:?=\s*(.*)$", line)
            if m:
                return m.group(1).split()
    raise AssertionError(f"no {name} in the Makefile")


def tree_files():
    """The files make deb copies: what git tracks plus new files it does not ignore."""
    r = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                        "--exclude-standard"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return [os.path.join(ROOT, p) for p in r.stdout.split("\0") if p]


def built_deb(fresh_only=True):
    """build/deb's package (if fresh_only, only when newer than every file of the tree)."""
    debs = glob.glob(os.path.join(DEB_DIR, f"{PACKAGE}_*.deb"))
    if len(debs) != 1:
        return None
    if not fresh_only:
        return debs[0]
    files = tree_files()
    if files is None:
        return None
    newest = max(os.stat(p).st_mtime for p in files if os.path.exists(p))
    return debs[0] if os.stat(debs[0]).st_mtime > newest else None


def deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", deb, field], capture_output=True, text=True,
                          check=True).stdout.strip()


def dep_names(value):
    """Package names of a Depends-like field (alternatives flattened, versions dropped)."""
    names = set()
    for part in re.split(r"[,|]", value):
        part = part.strip()
        if part:
            names.add(re.match(r"[a-z0-9][a-z0-9+.-]*", part).group(0))
    return names


def host_state(so):
    """What the cycle would change on the host if it leaked out of the overlay."""
    def read(p):
        with contextlib.suppress(OSError), open(p, "rb") as f:
            return f.read()
    status = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", PACKAGE],
                            capture_output=True, text=True).stdout
    return {"dpkg": status, "module": os.path.exists(so),
            "profile": os.path.exists("/usr/share/pam-configs/isolate"),
            "common-session": read("/etc/pam.d/common-session"),
            "sshd": read("/etc/pam.d/sshd"), "conf": read("/etc/isolate.conf")}


class Overlay:
    """A private mount namespace whose /etc, /usr, /var and /run are overlays of the host's
    (see the module's doc). run() executes a command inside it."""

    def __init__(self, testcase):
        self.work = tempfile.mkdtemp(prefix="isolate-pkgtest-", dir="/tmp")
        testcase.addCleanup(self.close)
        self.holder = None
        mounts = []
        for d in OVERLAID:
            for sub in ("up", "wk"):
                os.mkdir(os.path.join(self.work, f"{d}-{sub}"), 0o755)
            mounts.append(f"mount -t overlay overlay -o lowerdir=/{d},"
                          f"upperdir={self.work}/{d}-up,workdir={self.work}/{d}-wk /{d}")
        script = "set -e\n" + "\n".join(mounts) + "\necho ready\nexec cat >/dev/null\n"
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
        line = self.holder.stdout.readline().decode().strip()
        if line != "ready":
            err = self.holder.stderr.read().decode().strip()
            self.holder.wait()
            if "overlay" in err and ("unknown filesystem" in err or "No such device" in err):
                raise unittest.SkipTest(f"this kernel has no overlayfs: {err}")
            raise AssertionError(f"cannot make the overlay namespace: {err}")
        self.mntns = os.readlink(f"/proc/{self.holder.pid}/ns/mnt")

    def argv(self, argv):
        return ["nsenter", f"--mount=/proc/{self.holder.pid}/ns/mnt", "--"] + list(argv)

    def run(self, argv, timeout=120, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.argv(argv), timeout=timeout, cwd="/", env=ENV, **kw)

    def sh(self, script, **kw):
        return self.run(["/bin/sh", "-c", script], **kw)

    def read(self, path):
        """A file as the namespace sees it (None when it does not exist there)."""
        r = self.run(["cat", path])
        return r.stdout if r.returncode == 0 else None

    def exists(self, path):
        return self.run(["test", "-e", path]).returncode == 0

    def close(self):
        if self.holder is not None:
            end_mntns_holder(self.holder, self.mntns)
            self.holder = None
        shutil.rmtree(self.work, ignore_errors=True)


class TestPackage(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        require_root()
        tools = ("dpkg-buildpackage", "dh", "lintian", "unshare", "nsenter", "pamtester")
        missing = [t for t in tools if shutil.which(t) is None]
        if missing:
            raise AssertionError(f"missing {', '.join(missing)} (make deps installs them)")
        cls.deb = built_deb()
        if cls.deb is None:
            # not the make that runs the tests' variables (SANITIZE=1, its jobserver)
            env = {k: v for k, v in os.environ.items()
                   if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "SANITIZE", "B")}
            r = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "deb"],
                               capture_output=True, text=True, timeout=600, env=env)
            if r.returncode != 0:
                raise AssertionError(f"make deb failed:\n{(r.stdout + r.stderr)[-4000:]}")
            cls.deb = built_deb(fresh_only=False)
            if cls.deb is None:
                raise AssertionError(f"make deb left no {PACKAGE}_*.deb in {DEB_DIR}")
        cls.multiarch = multiarch()
        cls.pamdir = f"/usr/lib/{cls.multiarch}/security"
        cls.tmp = tempfile.mkdtemp(prefix="isolate-pkg-")
        cls.tree = os.path.join(cls.tmp, "tree")
        subprocess.run(["dpkg-deb", "-x", cls.deb, cls.tree], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- the package as built -----------------------------------------------------------
    def test_lintian_reports_no_error_no_warning_no_unused_override(self):
        r = subprocess.run(["lintian", "--display-info", "--fail-on", "error,warning",
                            self.deb], capture_output=True, text=True, timeout=300)
        tags = [l for l in r.stdout.splitlines() if re.match(r"[EWIXPO]: ", l)]
        bad = [l for l in tags if l[0] in "EW" or "unused-override" in l
               or "mismatched-override" in l]
        self.assertEqual(bad, [], f"lintian:\n{r.stdout}{r.stderr}")
        self.assertEqual(r.returncode, 0, f"lintian:\n{r.stdout}{r.stderr}")

    def test_exactly_the_expected_files(self):
        out = subprocess.run(["dpkg-deb", "-c", self.deb], capture_output=True, text=True,
                             check=True).stdout
        entries = {}
        for line in out.splitlines():
            mode, owner, _size, _date, _time, path = line.split(None, 5)
            entries[path[1:].split(" -> ")[0]] = (mode, owner)
        files = {p: v for p, v in entries.items() if not v[0].startswith("d")}
        man = {f"/usr/share/man/man{p[-1]}/{os.path.basename(p)}.gz"
               for p in makefile_var("MAN_PAGES")}
        doc = "/usr/share/doc/" + PACKAGE
        expected = {
            "/etc/isolate.conf": ("-rw-r--r--", "root/root"),
            f"{self.pamdir}/pam_isolate.so": ("-rw-r--r--", "root/root"),
            "/usr/libexec/isolate/isolate-helper": ("-rwxr-xr-x", "root/root"),
            "/usr/libexec/isolate/isolate-init": ("-rwxr-xr-x", "root/root"),
            "/usr/sbin/isolatectl": ("-rwxr-xr-x", "root/root"),
            "/usr/share/pam-configs/isolate": ("-rw-r--r--", "root/root"),
            # the journal catalog: systemd's own dpkg trigger on this directory runs
            # journalctl --update-catalog, so no maintainer script of ours does
            "/usr/lib/systemd/catalog/isolate.catalog": ("-rw-r--r--", "root/root"),
            # the SELinux policy module, loaded by the admin where SELinux is on
            "/usr/share/isolate/selinux/isolate.cil": ("-rw-r--r--", "root/root"),
            f"{doc}/copyright": ("-rw-r--r--", "root/root"),
            f"{doc}/changelog.gz": ("-rw-r--r--", "root/root"),
            f"{doc}/README.md.gz": ("-rw-r--r--", "root/root"),
            # debian/libpam-isolate.lintian-overrides, as dh_lintian installs it
            f"/usr/share/lintian/overrides/{PACKAGE}": ("-rw-r--r--", "root/root"),
        }
        expected.update({p: ("-rw-r--r--", "root/root") for p in man})
        self.assertEqual(files, expected)
        self.assertEqual(len(man), 3, "isolate.conf(5), pam_isolate(8), isolatectl(8)")
        # the conffile, the shipped config and profile as in the tree
        ctrl = os.path.join(self.tmp, "control")
        subprocess.run(["dpkg-deb", "-e", self.deb, ctrl], check=True)
        with open(os.path.join(ctrl, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/isolate.conf"])
        for shipped, src in (("etc/isolate.conf", "conf/isolate.conf"),
                             ("usr/share/pam-configs/isolate", "pam_module/pam-configs/isolate"),
                             ("usr/share/isolate/selinux/isolate.cil", "conf/isolate.cil")):
            with open(os.path.join(self.tree, shipped)) as a, open(os.path.join(ROOT, src)) as b:
                self.assertEqual(a.read(), b.read(), shipped)
        with open(os.path.join(ROOT, "pam_module/pam-configs/isolate")) as f:
            self.assertIn("Default: no\n", f.read(), "opt-in: installing enables nothing")

    def test_paths_compiled_in_are_the_installed_ones(self):
        """The module and isolatectl exec the helper at its packaged path (HELPER_PATH from
        LIBEXECDIR), not make's default /usr/local one."""
        for rel in (f"{self.pamdir}/pam_isolate.so", "/usr/sbin/isolatectl"):
            with open(self.tree + rel, "rb") as f:
                data = f.read()
            self.assertIn(b"/usr/libexec/isolate/isolate-helper\0", data, rel)
            self.assertNotIn(b"/usr/local/libexec", data, rel)

    def test_version_is_the_program_version(self):
        with open(os.path.join(ROOT, "client/util.h")) as f:
            version = re.search(r'#define ISOLATE_VERSION "([^"]+)"', f.read()).group(1)
        self.assertEqual(deb_field(self.deb, "Version"), version)
        r = subprocess.run([self.tree + "/usr/sbin/isolatectl", "--version"],
                           capture_output=True, text=True)
        self.assertIn(version, r.stdout + r.stderr)

    def test_depends_are_what_the_binaries_link(self):
        """Depends names the package of every library a binary has in DT_NEEDED (libc6,
        libpam0g), plus libpam-runtime (pam-auth-update in the maintainer scripts), and
        nothing else. libseccomp, libcap and libconfuse are linked statically: no binary
        needs them, so no Depends; Built-Using names libseccomp's source (LGPL-2.1)."""
        elves = []
        for dirpath, _, names in os.walk(self.tree):
            for n in names:
                p = os.path.join(dirpath, n)
                with open(p, "rb") as f:
                    if f.read(4) == b"\x7fELF":
                        elves.append(p)
        self.assertEqual(len(elves), 4, elves)
        needed = {}
        for p in elves:
            out = subprocess.run(["objdump", "-p", p], capture_output=True, text=True,
                                 check=True).stdout
            needed[p[len(self.tree):]] = set(re.findall(r"^\s*NEEDED\s+(\S+)", out, re.M))
        self.assertEqual(needed[f"{self.pamdir}/pam_isolate.so"], {"libpam.so.0", "libc.so.6"},
                         "the module links libpam and libc only")
        self.assertEqual(needed["/usr/libexec/isolate/isolate-init"], set(), "static")
        sonames = set().union(*needed.values())
        for lib in ("libseccomp.so.2", "libcap.so.2", "libconfuse.so.2", "libsystemd.so.0"):
            self.assertNotIn(lib, sonames, "linked statically or loaded with dlopen")
        # the package of each soname, as dpkg knows it on the build host
        packages = set()
        for so in sonames:
            r = subprocess.run(["dpkg", "-S", f"/lib/{self.multiarch}/{so}",
                                f"/usr/lib/{self.multiarch}/{so}"], capture_output=True,
                               text=True)
            owners = {l.split(":")[0] for l in r.stdout.splitlines() if ":" in l}
            self.assertEqual(len(owners), 1, f"{so}: {r.stdout}{r.stderr}")
            packages |= owners
        self.assertEqual(packages, {"libc6", "libpam0g"})
        depends = deb_field(self.deb, "Depends")
        self.assertEqual(dep_names(depends), packages | {"libpam-runtime"}, depends)
        self.assertEqual(dep_names(deb_field(self.deb, "Recommends")), {"libsystemd0"})
        with open(self.tree + "/usr/libexec/isolate/isolate-helper", "rb") as f:
            self.assertIn(b"libsystemd.so.0\0", f.read(), "the helper dlopens libsystemd")
        seccomp_src = subprocess.run(
            ["dpkg-query", "-W", "-f", "${source:Package} (= ${source:Version})",
             "libseccomp-dev"], capture_output=True, text=True, check=True).stdout
        self.assertEqual(deb_field(self.deb, "Built-Using"), seccomp_src)

    # ---- dpkg, in the overlay ----------------------------------------------------------------
    def overlay(self):
        ov = Overlay(self)
        # man-db's trigger rebuilds its index on every install: skipped in the overlay
        ov.run(["rm", "-f", "/var/lib/man-db/auto-update"])
        ov.run(["cp", self.deb, "/run/isolate-pkgtest.deb"], check=True)
        return ov

    def dpkg(self, ov, *args):
        return ov.run(["dpkg", *args], timeout=180)

    def status(self, ov):
        r = ov.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", PACKAGE])
        return r.stdout.strip() if r.returncode == 0 else None

    def pamtester(self, ov):
        """open_session for root through a stack naming pam_isolate.so (service
        isolate-pkgtest, which no config lists)."""
        ov.sh("printf 'auth required pam_permit.so\\naccount required pam_permit.so\\n"
              "session required pam_isolate.so\\nsession required pam_permit.so\\n' "
              "> /etc/pam.d/isolate-pkgtest", check=True)
        return ov.run(["pamtester", "isolate-pkgtest", "root", "open_session",
                       "close_session"])

    def stack_names_isolate(self, ov, name):
        text = ov.read(f"/etc/pam.d/{name}") or ""
        return [l for l in text.splitlines() if "pam_isolate" in l and not l.startswith("#")]

    def test_install_enable_remove_purge(self):
        so = f"{self.pamdir}/pam_isolate.so"
        host_before = host_state(so)
        ov = self.overlay()
        pamd_before = ov.sh("cd /etc/pam.d && for f in *; do echo \"== $f\"; cat \"$f\"; done")
        self.assertEqual(pamd_before.returncode, 0)
        r = self.dpkg(ov, "-i", "/run/isolate-pkgtest.deb")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.status(ov), "ii")
        for path in (so, "/usr/libexec/isolate/isolate-helper", "/usr/libexec/isolate/isolate-init",
                     "/usr/sbin/isolatectl", "/etc/isolate.conf", "/usr/share/pam-configs/isolate"):
            self.assertTrue(ov.exists(path), path)
        # opt-in: installing changed no PAM file
        pamd_after = ov.sh("cd /etc/pam.d && for f in *; do echo \"== $f\"; cat \"$f\"; done")
        self.assertEqual(pamd_after.stdout, pamd_before.stdout, "dpkg -i changed /etc/pam.d")
        # the installed binaries run, and the shipped config is valid
        r = ov.run(["isolatectl", "explain", "-c", "/etc/isolate.conf", "nobody"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # libpam finds the module by name in its own directory (a service the config does
        # not list: the module is loaded and steps aside, no sandbox is made)
        self.assertEqual(self.pamtester(ov).returncode, 0, "pam_isolate.so does not load")
        ov.run(["rm", "/etc/pam.d/isolate-pkgtest"], check=True)

        r = ov.run(["pam-auth-update", "--enable", "isolate"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        if "Local modifications" in r.stderr:
            self.skipTest("this host's /etc/pam.d/common-* have local modifications: "
                          "pam-auth-update does not manage them, so it cannot enable isolate")
        lines = self.stack_names_isolate(ov, "common-session")
        self.assertEqual([l.split() for l in lines], [["session", "required", "pam_isolate.so"]],
                         ov.read("/etc/pam.d/common-session"))
        self.assertEqual(self.stack_names_isolate(ov, "common-session-noninteractive"), [])
        # an upgrade (here: the same package again) keeps the admin's choice
        r = self.dpkg(ov, "-i", "/run/isolate-pkgtest.deb")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.stack_names_isolate(ov, "common-session"), lines)

        # a hand-edited sshd stack names the module: remove refuses, and changes nothing
        ov.sh("echo 'session required pam_isolate.so' >> /etc/pam.d/sshd", check=True)
        sshd_line = len(ov.read("/etc/pam.d/sshd").splitlines())
        r = self.dpkg(ov, "-r", PACKAGE)
        self.assertNotEqual(r.returncode, 0, "remove went on while /etc/pam.d/sshd names it")
        self.assertIn(f"/etc/pam.d/sshd:{sshd_line}", r.stderr)
        # still installed, configured, without error (dpkg notes the wish to remove: "ri")
        self.assertEqual(self.status(ov)[1:], "i")
        self.assertTrue(ov.exists(so))
        self.assertEqual(len(self.stack_names_isolate(ov, "common-session")), 1,
                         "a refused remove leaves the stack as it was")
        ov.sh("sed -i '$d' /etc/pam.d/sshd", check=True)
        self.assertEqual(self.stack_names_isolate(ov, "sshd"), [])

        # a common-session edited by hand inside pam-auth-update's block: pam-auth-update
        # leaves it alone (and exits 0), so the module would stay named there: refused too
        saved = ov.read("/etc/pam.d/common-session")
        ov.sh("sed -i 's/^# end of pam-auth-update config/session optional pam_umask.so\\n&/' "
              "/etc/pam.d/common-session", check=True)
        self.assertIn("pam_umask.so\n# end of pam-auth-update config",
                      ov.read("/etc/pam.d/common-session"))
        r = self.dpkg(ov, "-r", PACKAGE)
        self.assertNotEqual(r.returncode, 0, "remove went on while common-session names it")
        self.assertIn("Local modifications", r.stderr)
        self.assertIn("/etc/pam.d/common-session:", r.stderr)
        self.assertEqual(self.status(ov)[1:], "i")
        self.assertTrue(ov.exists(so))
        ov.run(["sh", "-c", "cat > /etc/pam.d/common-session"], input=saved, check=True)

        # remove: the module leaves the stack while its file is still there. A
        # pam-auth-update earlier in PATH records, when called, whether the .so exists,
        # then runs the real one.
        log = "/run/isolate-pkgtest.log"
        ov.sh(f"""cat > /usr/local/sbin/pam-auth-update <<'EOF'
#!/bin/sh
[ -e {so} ] && so=present || so=absent
echo "pam-auth-update $* (module $so)" >> {log}
exec /usr/sbin/pam-auth-update "$@"
EOF
chmod 755 /usr/local/sbin/pam-auth-update""", check=True)
        r = self.dpkg(ov, "-r", PACKAGE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("pam-auth-update --package --remove isolate (module present)",
                      ov.read(log) or "", "prerm takes the module out while it is installed")
        self.assertEqual(self.stack_names_isolate(ov, "common-session"), [])
        self.assertEqual(ov.sh("grep -rl pam_isolate /etc/pam.d").stdout, "")
        self.assertFalse(ov.exists(so))
        self.assertFalse(ov.exists("/usr/libexec/isolate/isolate-helper"))
        self.assertEqual(self.status(ov), "rc", "removed, its conffile kept")
        self.assertTrue(ov.exists("/etc/isolate.conf"))
        ov.run(["rm", "/usr/local/sbin/pam-auth-update"], check=True)

        # purge: the config and the runtime dir go
        ov.sh("mkdir -p /run/isolate/sessions && echo x > /run/isolate/sessions/left",
              check=True)
        r = self.dpkg(ov, "-P", PACKAGE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIsNone(self.status(ov), "purged: dpkg knows nothing of it")
        self.assertFalse(ov.exists("/etc/isolate.conf"))
        self.assertFalse(ov.exists("/run/isolate"))
        self.assertFalse(ov.exists("/usr/share/pam-configs/isolate"))
        # what the refusals above prevent: a stack naming the removed module fails
        r = self.pamtester(ov)
        self.assertNotEqual(r.returncode, 0, "a stack naming a missing module let a session in")
        self.assertEqual(host_state(so), host_before, "the host's /etc, /usr or dpkg changed")

    def test_purge_under_a_live_session(self):
        """A session opened by the installed package survives remove and purge, and closes
        cleanly afterwards: its init exits, its cgroup leaf goes."""
        sb = Sandbox()
        self.addCleanup(sb.close)
        ov = self.overlay()
        r = self.dpkg(ov, "-i", "/run/isolate-pkgtest.deb")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # the config as an admin would edit it: the test's cgroup root, the default runtime
        # dir (/run/isolate, in the overlay)
        cfg = sb.config()
        with open(cfg) as f:
            text = re.sub(r'(?m)^runtime_dir = .*\n', "", f.read())
        r = ov.run(["sh", "-c", "cat > /etc/isolate.conf"], input=text)
        self.assertEqual(r.returncode, 0, r.stderr)
        # a user of the overlay only (its passwd entry and home are in the upper layers)
        user = "isolate-pkgt1"
        r = ov.run(["useradd", "-m", "-d", f"/var/lib/{user}", "-s", "/bin/sh", user])
        self.assertEqual(r.returncode, 0, r.stderr)
        argv = ov.argv(["/usr/sbin/isolatectl", "run", "--service", "sshd", user, "--",
                        "/bin/sh", "-c", "echo READY; read x; echo STILL-HERE"])
        with Held(argv, env=ENV, cwd="/") as s:
            s.wait_for("READY", timeout=30)
            inits = sb.init_processes()
            self.assertEqual(len(inits), 1, "one session init")
            self.assertTrue(ov.run(["sh", "-c", "ls /run/isolate/sessions | grep ."]).stdout)
            r = self.dpkg(ov, "-P", PACKAGE)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertFalse(ov.exists("/run/isolate"))
            self.assertFalse(ov.exists("/usr/libexec/isolate/isolate-init"))
            self.assertEqual(sb.init_processes(), inits, "the init lives on")
            s.send("x")
            s.wait_for("STILL-HERE", timeout=10)
            rc, out = s.end()
        self.assertEqual(rc, 0, out)
        left = sb.wait_clean(5)
        self.assertEqual((left["inits"], left["leaves"]), ([], []),
                         "the session closed without its files")


if __name__ == "__main__":
    unittest.main()

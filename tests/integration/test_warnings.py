"""What the helper logs and goes on with (caps_required = false, lsm_required = false) reaches
the admin one warning a line, whichever parts of the helper said them."""

import os
import unittest

from harness import SandboxTestCase, own_cgroups


def kernel_lsms():
    try:
        with open("/sys/kernel/security/lsm") as f:
            return f.read().strip().split(",")
    except OSError:
        return []


def v1_memsw():
    """The v1 memory hierarchy we run in, if it limits memory + swap together."""
    for mnt, path in own_cgroups().items():
        if os.path.basename(mnt) == "memory" or mnt.endswith("/memory"):
            return os.path.exists(os.path.join(mnt, path.lstrip("/"),
                                               "memory.memsw.limit_in_bytes"))
    return False


class TestWarningsOneALine(SandboxTestCase):
    """An LSM warning followed by a cgroup warning: before, the helper glued the second onto
    the end of the first ("...(lsm_required = false)cgroup v1 limits memory...")."""

    def test_lsm_and_cgroup_warnings_are_separate_lines(self):
        if "selinux" in kernel_lsms():
            self.skipTest("SELinux is active in this kernel: a selinux_context is applied, "
                          "not warned about")
        if not v1_memsw():
            self.skipTest("no cgroup v1 memory hierarchy with memory.memsw here: swap_max "
                          "without memory_max is not a warning on this host")
        conf = self.sb.config(policies="""
policy test {
  swap_max = 0
  caps_required = false
  selinux_context = "user_u:user_r:user_t:s0"
  lsm_required = false
}
""")
        r = self.sb.run(self.u1, "true", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stderr.splitlines()
        # isolatectl run prints the helper's warnings after one "warning: " prefix
        text = "\n".join(lines)
        self.assertIn("SELinux", text)
        self.assertIn("swap_max needs memory_max", text)
        selinux = [l for l in lines if "SELinux" in l]
        swap = [l for l in lines if "swap_max needs memory_max" in l]
        self.assertEqual(len(selinux), 1, r.stderr)
        self.assertEqual(len(swap), 1, r.stderr)
        self.assertNotEqual(selinux[0], swap[0], "two warnings on one line: " + r.stderr)
        self.assertTrue(selinux[0].rstrip().endswith("(lsm_required = false)"), r.stderr)
        self.assertClean()


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/python3
"""The integration tests' main (tests/run-integration.sh runs it under the reaper):

    run.py MODULE...

runs the unittest modules like `python3 -m unittest -v`, and records each test for the
summary of make check (tests/results.py): pass, fail (a failure, an error, an error of a
class or module fixture, an unexpected success) or skip with its reason. Exit status 1 when
anything failed or nothing ran."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from results import Recorder  # noqa: E402  (tests/results.py)


def test_name(test):
    """module.Class.method, or what unittest calls a failed fixture ("setUpClass (m.C)")."""
    if isinstance(test, unittest.TestCase):
        return test.id()
    return getattr(test, "description", None) or str(test)


def first_line_of_error(err_text):
    """The first line of the exception of a formatted traceback (after its last frame)."""
    lines = err_text.strip().splitlines()
    frames = [i for i, l in enumerate(lines) if l.startswith("  File ")]
    rest = lines[frames[-1] + 1:] if frames else lines
    rest = [l for l in rest if l.strip() and not l.startswith("    ")]
    return rest[0].strip()[:300] if rest else ""


class RecordingResult(unittest.TextTestResult):
    recorder = None

    def _rec(self, status, test, detail=""):
        self.recorder.add(status, test_name(test), detail)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._rec("pass", test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._rec("fail", test, first_line_of_error(self.failures[-1][1]))

    def addError(self, test, err):
        super().addError(test, err)
        self._rec("fail", test, "error: " + first_line_of_error(self.errors[-1][1]))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._rec("skip", test, reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._rec("pass", test, "expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._rec("fail", test, "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            # a failing subtest fails its test (unittest then records no success for it)
            self._rec("fail", subtest.id(), first_line_of_error(
                self._exc_info_to_string(err, test)))


def main(modules):
    if not modules:
        print("usage: run.py MODULE...", file=sys.stderr)
        return 2
    rec = Recorder("integration")
    RecordingResult.recorder = rec
    suite = unittest.TestSuite()
    loader = unittest.defaultTestLoader
    for m in modules:
        # a module that does not import becomes one failing test (unittest's _FailedTest)
        suite.addTests(loader.loadTestsFromName(m))
    runner = unittest.TextTestRunner(verbosity=2, resultclass=RecordingResult)
    result = runner.run(suite)
    if result.testsRun == 0:
        rec.add("fail", "integration", "no test ran")
    rc = rec.finish()
    return 0 if rc == 0 and result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

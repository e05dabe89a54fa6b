#!/usr/bin/python3
"""Test results of `make check`: every stage (unit, man, integration, vmtest-RELEASE: one per
guest) writes one record per test into $TEST_RESULTS/STAGE, and `summary` turns them into the
one line `make check` ends with, `N passed, N failed, N skipped`, with every skip and its
reason listed above it.

A record is one line, `STATUS<TAB>NAME<TAB>DETAIL`, STATUS pass, fail or skip; a stage's last
line is `end` once its runner got to the end. A stage without `end` (its build failed, its
runner died) counts as a failure, and so does a make that failed with no failed test recorded.
A stage may leave one line beside its records, $TEST_RESULTS/STAGE.note, which the summary
shows after its counts (the guest test: its run time, and whether its booted state was
cached).

  results.py unit BINARY...          runs cmocka test binaries (TAP output), records them
  results.py vmtest RESULTS CHECKS   the guest test's "ok ID - ..." lines against the fixed
                                     list of expected checks (a missing one is a failure);
                                     the stage is $TEST_STAGE (run.sh: vmtest-RELEASE)
  results.py man PAGE...             lints the man pages (the Makefile's MAN_PAGES) with groff
                                     and fails on any warning, and on a man page of the tree
                                     or a page of ours named in one that is not in the list
  results.py summary DIR STAGE...    the summary of DIR's stages; exit status 1 on any failure

Without $TEST_RESULTS (`make unit` alone), `unit` writes to a directory of its own and ends with
the summary of its stage; tests/integration/run.py does the same."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

STATUSES = ("pass", "fail", "skip")


class Recorder:
    """Appends a stage's records to DIR/STAGE; DIR is $TEST_RESULTS, or a temporary directory
    that finish() summarizes and removes."""

    def __init__(self, stage):
        # tests/check.sh names the stage it runs (make fuzz-replay runs tests/run-unit.sh too)
        stage = self.stage = os.environ.get("TEST_STAGE") or stage
        self.own_dir = None
        d = os.environ.get("TEST_RESULTS")
        if not d:
            d = self.own_dir = tempfile.mkdtemp(prefix=f"isolate-{stage}-results.")
        self.path = os.path.join(d, stage)
        self.counts = dict.fromkeys(STATUSES, 0)
        self.f = open(self.path, "a", buffering=1)

    def add(self, status, name, detail=""):
        assert status in STATUSES, status
        self.counts[status] += 1
        clean = " ".join(str(detail).split())
        self.f.write(f"{status}\t{' '.join(name.split())}\t{clean}\n")

    def finish(self):
        """Marks the stage complete; returns the exit status the stage's runner should have."""
        self.f.write("end\n")
        self.f.close()
        c = self.counts
        if self.own_dir is None:
            print(f"{self.stage}: {c['pass']} passed, {c['fail']} failed, {c['skip']} skipped",
                  flush=True)
            return 1 if c["fail"] else 0
        try:
            return summary(self.own_dir, [self.stage])
        finally:
            shutil.rmtree(self.own_dir, True)


# ---- unit: cmocka binaries, TAP -----------------------------------------------------------

UNIT_TIMEOUT = int(os.environ.get("UNIT_TIMEOUT", "600"))
SKIP_REASON = re.compile(r"^skip-reason: (\S+): (.*)$")  # tests/unit/skip_because.h
TAP_PLAN = re.compile(r"^1\.\.(\d+)\s*$")
TAP_SKIP = re.compile(r"^(?:not )?ok (\d+) # SKIP:?\s*(.*)$")  # cmocka 1.1.5: "not ok N # SKIP"
TAP_RESULT = re.compile(r"^(not )?ok (\d+)(?: - (.*))?$")
TAP_GROUP = re.compile(r"^# (not )?ok - ")  # the group's own line, after its tests


def run_unit_binary(path, rec):
    """Runs one cmocka binary with TAP output, echoing it; records each test. Every numbered
    test of the plan must report exactly once, and the binary must exit 0 when all passed."""
    binary = os.path.basename(path)
    print(f"== {path}", flush=True)
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
    try:
        p = subprocess.Popen([path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                             text=True, errors="replace", start_new_session=True)
    except OSError as e:
        rec.add("fail", binary, f"cannot run {path}: {e}")
        return
    timed_out = []

    def kill():
        timed_out.append(True)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(UNIT_TIMEOUT, kill)
    timer.start()
    plan = None
    results = {}       # number -> (status, name, detail)
    twice = []
    reasons = {}       # test name -> reason printed by skip_because()
    last_fail = None   # the number whose "# ..." detail lines follow
    for line in p.stdout:
        sys.stdout.write(line)
        line = line.rstrip("\n")
        m = SKIP_REASON.match(line)
        if m:
            reasons[m.group(1)] = m.group(2)
            continue
        m = TAP_PLAN.match(line)
        if m and plan is None:
            plan = int(m.group(1))
            continue
        m = TAP_SKIP.match(line)
        if m:
            outcome = (int(m.group(1)), "skip", m.group(2).strip(), "")
        else:
            m = TAP_RESULT.match(line)
            if m:
                outcome = (int(m.group(2)), "fail" if m.group(1) else "pass",
                           (m.group(3) or "").strip(), "")
            elif (line.startswith("# ") and last_fail is not None
                  and not TAP_GROUP.match(line)):
                status, name, detail = results[last_fail]
                if len(detail) < 300:
                    results[last_fail] = (status, name, (detail + " " + line[2:]).strip())
                continue
            else:
                last_fail = None
                continue
        n, status, name, detail = outcome
        last_fail = n if status == "fail" else None
        if n in results:
            twice.append((n, name))
        results[n] = (status, name, detail)
    p.wait()
    timer.cancel()
    rc = p.returncode
    how = "was killed after %d s" % UNIT_TIMEOUT if timed_out else (
        f"exited {rc}" if rc >= 0 else f"was killed by signal {-rc}")
    failed = 0
    for n in sorted(results):
        status, name, detail = results[n]
        full = f"{binary}.{name or f'#{n}'}"
        if status == "skip":
            if name in reasons:
                rec.add("skip", full, reasons[name])
            else:
                failed += 1
                rec.add("fail", full, "skipped without a reason (use skip_because() from "
                                      "tests/unit/skip_because.h)")
        else:
            failed += status == "fail"
            rec.add(status, full, detail)
    for n, name in twice:
        failed += 1
        rec.add("fail", f"{binary}.{name or f'#{n}'}",
                "reported more than once (a forked test child went on running the suite?)")
    if plan is None:
        failed += 1
        rec.add("fail", binary, f"printed no TAP plan and {how}")
    else:
        for n in range(1, plan + 1):
            if n not in results:
                failed += 1
                rec.add("fail", f"{binary}.#{n}", f"test {n} of {plan} reported no result; "
                                                  f"the binary {how}")
    if (rc != 0 or timed_out) and not failed:
        rec.add("fail", binary, f"all its tests passed but the binary {how}")


def cmd_unit(binaries):
    rec = Recorder("unit")
    for b in binaries:
        run_unit_binary(b, rec)
    return rec.finish()


# ---- vmtest: the guest's checks against the fixed list -------------------------------------

GUEST_LINE = re.compile(r"^(ok|not ok|skip) (\S+) - (.*)$")


def read_checks(path):
    """The fixed list of the guest test's checks: one ID per line (text after it and lines
    starting with # are comments)."""
    ids = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                ids.append(line.split()[0])
    return ids


def cmd_vmtest(results_path, checks_path):
    rec = Recorder("vmtest")
    expected = read_checks(checks_path)
    dup = sorted({i for i in expected if expected.count(i) > 1})
    seen = {}
    extra = []
    with open(results_path, errors="replace") as f:
        for line in f:
            m = GUEST_LINE.match(line.rstrip("\n"))
            if not m:
                continue
            status = {"ok": "pass", "not ok": "fail", "skip": "skip"}[m.group(1)]
            cid, text = m.group(2), m.group(3)
            if cid in seen or cid not in expected:
                extra.append((status, cid, text))
            else:
                seen[cid] = (status, text)
    for cid in expected:
        if cid in seen:
            status, text = seen[cid]
            rec.add(status, cid, text)
        else:
            rec.add("fail", cid, "no result: its step did not report it (the step "
                                         "failed or stopped early)")
    for status, cid, text in extra:
        if cid in expected:
            why = "reported more than once"
        else:
            why = f"not in {os.path.basename(checks_path)}"
        # a step's own failure (e.g. ssh exited non-zero) is a failure whatever its id
        rec.add("fail", cid, f"{why}: {'not ok' if status == 'fail' else 'ok'} - {text}")
    for cid in dup:
        rec.add("fail", cid, f"listed twice in {os.path.basename(checks_path)}")
    return rec.finish()


# ---- man: the man pages, rendered by groff -------------------------------------------------

MAN_FILE = re.compile(r"^[A-Za-z0-9_.+-]+\.([1-9])$")
MAN_TH = re.compile(r'^\.TH\s+"?([^\s"]+)"?\s+"?([1-9])', re.M)
# a reference to one of isolate's own pages: "isolatectl (8)" in .BR, or \fBisolatectl\fP(8)
MAN_REF = re.compile(
    r"(?:^\.BR\s+|\\fB)((?:pam_)?isolate[A-Za-z0-9_.-]*)(?:\\f[RP])?\s*\(([1-9])\)", re.M)
# not searched for man pages: build output, the tests (tests/vm/cache is huge), packaging
MAN_SKIP_DIRS = {"build", "build-san", "tests", "debian"}


def man_pages_in_tree(top):
    """Every file under top, outside MAN_SKIP_DIRS and hidden directories, named NAME.N with
    a .TH line: the man pages of the tree."""
    found = []
    for d, dirs, files in os.walk(top):
        if d == top:
            dirs[:] = [x for x in dirs if x not in MAN_SKIP_DIRS]
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        for f in sorted(files):
            if not MAN_FILE.match(f):
                continue
            path = os.path.join(d, f)
            try:
                with open(path, errors="replace") as fh:
                    head = fh.read(4096)
            except OSError:
                continue
            if MAN_TH.search(head):
                found.append(os.path.relpath(path, top))
    return found


def lint_man_page(path, listed_names):
    """The problems of one page: groff's warnings, a .TH that does not name the file, and
    references to pages of ours that are not in the list."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError as e:
        return [f"listed in MAN_PAGES but cannot be read: {e.strerror}"]
    problems = []
    name, section = os.path.basename(path).rsplit(".", 1)
    m = MAN_TH.search(text)
    if not m:
        problems.append("no .TH line")
    elif m.group(1).lower() != name.lower() or m.group(2) != section:
        problems.append(f".TH says {m.group(1)}({m.group(2)}), the file is {name}({section})")
    for ref, sec in sorted(set(MAN_REF.findall(text))):
        if f"{ref}.{sec}" not in listed_names and ref != name:
            problems.append(f"names {ref}({sec}), which is not in MAN_PAGES")
    # -t: tbl for tables; -ww: every warning; -z: no output. groff exits 0 on warnings, so
    # anything it says is the failure.
    try:
        p = subprocess.run(["groff", "-t", "-ww", "-z", "-man", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, errors="replace", timeout=120)
    except FileNotFoundError:
        return problems + ["groff is not installed (make deps installs groff-base)"]
    except subprocess.TimeoutExpired:
        return problems + ["groff did not finish in 120 s"]
    out = p.stdout.strip()
    if out:
        problems += out.splitlines()
    if p.returncode != 0:
        problems.append(f"groff exited {p.returncode}")
    return problems


def cmd_man(pages):
    rec = Recorder("man")
    top = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    listed = [os.path.normpath(p) for p in pages]
    listed_names = {os.path.basename(p) for p in listed}
    for page in listed:
        print(f"== groff -t -ww -z -man {page}", flush=True)
        problems = lint_man_page(os.path.join(top, page), listed_names)
        for line in problems:
            print(f"  {line}", flush=True)
        rec.add("fail" if problems else "pass", f"man.{page}", "; ".join(problems))
    unlisted = [p for p in man_pages_in_tree(top) if p not in listed]
    for p in unlisted:
        print(f"  {p}: a man page that is not in MAN_PAGES (Makefile)", flush=True)
    rec.add("fail" if unlisted or not listed else "pass", "man.every-page-listed",
            "not in MAN_PAGES (Makefile): " + ", ".join(unlisted) if unlisted
            else "MAN_PAGES is empty" if not listed else "")
    return rec.finish()


# ---- summary --------------------------------------------------------------------------------

def read_stage(d, stage):
    """(records, complete, make's exit status or None) of one stage. A stage that keeps no
    records (no file at all) is one test: make's exit status says whether it passed."""
    records, complete, rc = [], False, None
    try:
        with open(os.path.join(d, stage + ".rc")) as f:
            rc = int(f.read().strip() or "0")
    except (FileNotFoundError, ValueError):
        pass
    try:
        with open(os.path.join(d, stage), errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if line == "end":
                    complete = True
                    continue
                parts = line.split("\t", 2)
                if len(parts) == 3 and parts[0] in STATUSES:
                    records.append(tuple(parts))
    except FileNotFoundError:
        if rc == 0:
            return [("pass", stage, f"make {stage} exited 0")], True, rc
    return records, complete, rc


def read_note(d, stage):
    """The line a stage left beside its records (DIR/STAGE.note: the guest test's run time),
    or None."""
    try:
        with open(os.path.join(d, stage + ".note"), errors="replace") as f:
            return " ".join(f.read().split())[:120] or None
    except FileNotFoundError:
        return None


def summary(d, stages):
    per_stage = []
    skips, fails = [], []
    for stage in stages:
        records, complete, rc = read_stage(d, stage)
        if not complete:
            why = f"make {stage} exited {rc}" if rc else "its runner died"
            records.append(("fail", stage, f"the stage did not run to its end ({why}; a failed "
                                           "build stops it: see the output above)"))
        elif rc and not any(r[0] == "fail" for r in records):
            records.append(("fail", stage, f"make {stage} exited {rc} with no failed test "
                                           "recorded (see the output above)"))
        c = dict.fromkeys(STATUSES, 0)
        for status, name, detail in records:
            c[status] += 1
            if status == "skip":
                skips.append(f"{stage}: {name}: {detail or '(no reason given)'}")
            elif status == "fail":
                fails.append(f"{stage}: {name}" + (f": {detail}" if detail else ""))
        per_stage.append((stage, c))
    total = {s: sum(c[s] for _, c in per_stage) for s in STATUSES}
    print("==== summary ====")
    print(f"skipped ({len(skips)}):" if skips else "skipped: none")
    for s in skips:
        print(f"  {s}")
    if fails:
        print(f"failed ({len(fails)}):")
        for s in fails:
            print(f"  {s[:400]}")
    for stage, c in per_stage:
        note = read_note(d, stage)
        print(f"  {stage}: {c['pass']} passed, {c['fail']} failed, {c['skip']} skipped"
              + (f" ({note})" if note else ""))
    print(f"{total['pass']} passed, {total['fail']} failed, {total['skip']} skipped", flush=True)
    return 1 if total["fail"] else 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "unit":
        return cmd_unit(argv[2:])
    if len(argv) >= 2 and argv[1] == "man":
        return cmd_man(argv[2:])
    if len(argv) == 4 and argv[1] == "vmtest":
        return cmd_vmtest(argv[2], argv[3])
    if len(argv) >= 3 and argv[1] == "summary":
        return summary(argv[2], argv[3:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

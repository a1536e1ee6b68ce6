"""Helpers for the end-to-end tests of `expensed run` (and bench_burst.py).

A Daemon runs the real binary against a real spool with its own config
file; wait_for() polls a condition with a bounded timeout (never
sleep-and-hope); the spool helpers read what the daemon archived.
"""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

SEED_NAME = "cd13-cp-2019-02-08-r36.json"
REPO = Path(__file__).resolve().parents[2]
SHIPPED_RULES = REPO / "config" / "rules.d" / "mission-report.rules"

# "expensed[PID]: LEVEL: NAME: VERDICT (report ..." -- one per judged file
VERDICT_LINE = re.compile(
    r"^expensed\[\d+\]: (?:info|warning): (.*): (accepted|rejected|invalid) "
    r"\(report ")


def seed_path():
    env = os.environ.get("EXPENSED_EXAMPLES")
    base = Path(env) if env else REPO / "examples"
    return base / SEED_NAME


def hooks_binary(expensed_bin):
    """The daemon built with the test hooks (EXPENSED_FAILPOINT, which the
    release binary lacks): $EXPENSED_HOOKS, else expensed-hooks beside the
    binary under test."""
    env = os.environ.get("EXPENSED_HOOKS")
    path = Path(env) if env else Path(expensed_bin).with_name("expensed-hooks")
    path = str(path.resolve())
    if not os.access(path, os.X_OK):
        raise AssertionError("expensed-hooks binary not found or not "
                             "executable: %s (build it with make all, or set "
                             "EXPENSED_HOOKS)" % path)
    return path


def wait_for(cond, timeout=10.0, interval=0.02, what="condition"):
    """Poll cond() until it returns a true value; fail after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def write_config(path, spool, settle="200ms", rescan="1s",
                 max_file_size=None, rules=None, extra="", spool_keys=()):
    """spool_keys: "key = value" lines put first in [spool] (line 2 on)."""
    lines = ["[spool]", *spool_keys,
             "directory = %s" % spool,
             "inbox = %s" % (Path(spool) / "inbox"),
             "settle = %s" % settle,
             "rescan = %s" % rescan]
    if max_file_size:
        lines.append("max_file_size = %s" % max_file_size)
    if rules:
        lines += ["[rules]", "path = %s" % rules]
    lines += ["[log]", "level = debug"]
    Path(path).write_text("\n".join(lines) + "\n" + extra)


class Daemon:
    """The daemon under test, with stderr (-v) captured in a file."""

    def __init__(self, binary, config, logfile, env=None):
        self.binary = binary
        self.config = str(config)
        self.logfile = Path(logfile)
        self.env = dict(os.environ)
        self.env.pop("NOTIFY_SOCKET", None)
        self.env.pop("WATCHDOG_USEC", None)
        self.env.update(env or {})
        self.proc = None

    def start(self):
        self.log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "run", "-c", self.config, "-v"],
            stdout=subprocess.DEVNULL, stderr=self.log, env=self.env)
        wait_for(lambda: "started:" in self.text() or
                 self.proc.poll() is not None, 10, what="daemon start")
        assert self.proc.poll() is None, self.text()
        return self

    def text(self):
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()

    def stop(self, timeout=10):
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise
        finally:
            self.log.close()
        return rc

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if getattr(self, "log", None):
            self.log.close()


def derived(name):
    """Whether an archive entry is a result or a page (never an input: the
    daemon never archives an input under such a name)."""
    return name.endswith(".result.json") or name.endswith(".result.html")


def archived(spool):
    """{input name: (dir, has result)} for accepted/ and rejected/."""
    out = {}
    for d in ("accepted", "rejected"):
        p = Path(spool) / d
        if not p.is_dir():
            continue
        names = set(os.listdir(p))
        for n in names:
            if derived(n):
                continue
            out.setdefault(n, []).append((d, n + ".result.json" in names))
    return out


def count_archived(spool):
    n = 0
    for d in ("accepted", "rejected"):
        p = Path(spool) / d
        if p.is_dir():
            n += sum(1 for e in os.scandir(p) if not derived(e.name))
    return n


def result(spool, name):
    """The result document of an archived input name (either dir)."""
    for d in ("accepted", "rejected"):
        p = Path(spool) / d / (name + ".result.json")
        if p.exists():
            return json.loads(p.read_text())
    return None


def drop(spool, name, data, stage=None):
    """Write data elsewhere on the spool's fs, then rename it into the
    inbox (as a careful client does)."""
    stage = Path(stage or Path(spool) / "stage")
    stage.mkdir(exist_ok=True)
    tmp = stage / name
    if isinstance(data, str):
        data = data.encode()
    tmp.write_bytes(data)
    os.rename(tmp, Path(spool) / "inbox" / name)


def make_report(seed_bytes, n, broken=False):
    """A seed-sized report with its own id; broken ones fail total.missions."""
    doc = json.loads(seed_bytes)
    doc["id"] = "%s-%05d" % (doc["id"], n)
    if broken:
        doc["total"] = "139208.94"
    return json.dumps(doc, ensure_ascii=False, indent=2).encode()


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kb(pid, field="VmRSS:"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0

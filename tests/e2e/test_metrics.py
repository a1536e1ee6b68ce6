"""End-to-end tests of the Prometheus metrics file and of the totals that
survive a restart (docs/operations.md "Metrics").

The real daemon judges a known set of files (2 accepted, 1 rejected, 2
invalid) and delivers each verdict to three webhooks of a real receiver on
127.0.0.1: one answers 204, one 410 (dead at once), one 500 once then 204
(one retry). The metrics file is checked line by line, and by promtool
(Debian package prometheus, installed by scripts/deps.sh); STATUS= is read
from a fake NOTIFY_SOCKET after a clean restart and after a kill -9.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from daemon_util import wait_for
from test_webhooks import FAST_RETRY, report
from test_webhooks import Env as WebhookEnv

HOOKS = (("ok", "/ok"), ("gone", "/gone"), ("flaky", "/flaky"))


class Env(WebhookEnv):
    """test_webhooks' spool, receiver and configuration, with a metrics
    file and a notify socket read all the time."""

    def __init__(self, tmp_path, exe):
        super().__init__(tmp_path, exe)
        self.prom = tmp_path / "textfile" / "expensed.prom"
        self.prom.parent.mkdir()
        self.receiver.script("/ok", [], default=204)
        self.receiver.script("/gone", [], default=410)
        self.receiver.script("/flaky", [500], default=204)
        self.configure([(name, {"url": self.receiver.url(path),
                                "events": "accepted, rejected, invalid",
                                "retry": FAST_RETRY})
                        for name, path in HOOKS])
        with open(self.conf, "a") as f:
            f.write("[metrics]\ntextfile = %s\ninterval = 100ms\n"
                    % self.prom)
        self.sock_path = str(tmp_path / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.sock.settimeout(0.1)
        # read all the time: an unread socket fills and blocks the daemon
        self.msgs = []
        self.cond = threading.Condition()
        self.closing = False
        self.reader = threading.Thread(target=self.read_notify, daemon=True)
        self.reader.start()
        self.log = open(tmp_path / "daemon.log", "ab")

    def read_notify(self):
        while not self.closing:
            try:
                m = self.sock.recv(4096).decode()
            except (socket.timeout, OSError):
                continue
            with self.cond:
                self.msgs.append(m)
                self.cond.notify_all()

    def start(self):
        env = {k: v for k, v in os.environ.items()
               if "proxy" not in k.lower() and k not in
               ("EXPENSED_CONFIG", "WATCHDOG_USEC")}
        env["NOTIFY_SOCKET"] = self.sock_path
        with self.cond:
            self.first = len(self.msgs)
        self.proc = subprocess.Popen([self.exe, "run", "-v", "-c",
                                      str(self.conf)],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     env=env)

    def status(self):
        """The first STATUS= the daemon sent since it was started."""
        deadline = time.monotonic() + 10
        with self.cond:
            while True:
                for m in self.msgs[self.first:]:
                    if m.startswith("STATUS="):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no STATUS= in %r" % self.msgs)
                self.cond.wait(left)

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None:
            self.proc.send_signal(sig)
            rc = self.proc.wait(timeout=10)
            self.proc = None
            return rc
        return None

    def close(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()
        self.closing = True
        self.reader.join(5)
        self.sock.close()
        self.receiver.stop()

    def n_archived(self):
        return sum(1 for d in ("accepted", "rejected")
                   for n in os.listdir(self.spool / d)
                   if not n.endswith((".result.json", ".result.html")))

    def count(self, sub):
        """Files in sub, but notes.txt (a file that is no delivery)."""
        p = self.spool / sub
        return len([n for n in os.listdir(p) if n != "notes.txt"]
                   ) if p.is_dir() else 0

    def metrics(self):
        try:
            return self.prom.read_text()
        except FileNotFoundError:
            return ""


@pytest.fixture
def env(tmp_path, expensed_bin):
    e = Env(tmp_path, expensed_bin)
    yield e
    e.close()


def samples(text):
    """{series: value text} of the sample lines."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = value
    return out


def promtool_check(text):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: run scripts/deps.sh as root "
                    "(Debian package prometheus)")
    r = subprocess.run([promtool, "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout + r.stderr == ""


def drop_known_files(env, first=1):
    env.drop("a1.json", report("m-%d" % first))
    env.drop("a2.json", report("m-%d" % (first + 1)))
    env.drop("r1.json", report("m-%d" % (first + 2), total="999.00"))
    env.drop("i1.json", b"{")
    env.drop("i2.txt", report("m-%d" % (first + 3)))


def settled(env, files, per_hook):
    """Every file archived, every delivery done (2xx or dead), and the
    metrics file saying so."""
    def done():
        got = env.receiver.got()
        return (env.n_archived() == files and env.count("outbox") == 0 and
                env.count("dead") == per_hook and
                len(env.receiver.delivered("/ok")) == per_hook and
                len(env.receiver.delivered("/flaky")) == per_hook and
                len([r for r in got if r.path == "/gone"]) == per_hook)
    try:
        wait_for(done, 20, what="files judged and delivered")
    except AssertionError:
        raise AssertionError("archived %d, outbox %d, dead %d, got %r" % (
            env.n_archived(), env.count("outbox"), env.count("dead"),
            [(r.path, r.answer) for r in env.receiver.got()]))


FAMILIES = [
    ("expensed_build_info", "gauge"),
    ("expensed_files_judged_total", "counter"),
    ("expensed_findings_total", "counter"),
    ("expensed_judge_duration_seconds", "histogram"),
    ("expensed_inbox_files", "gauge"),
    ("expensed_work_files", "gauge"),
    ("expensed_outbox_deliveries", "gauge"),
    ("expensed_dead_deliveries", "gauge"),
    ("expensed_deliveries_total", "counter"),
    ("expensed_last_verdict_timestamp_seconds", "gauge"),
]

BUCKETS = ["0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"]


def expected(n):
    """The counter and gauge lines after n rounds of drop_known_files."""
    return {
        'expensed_build_info{version="0.1.0"}': "1",
        'expensed_files_judged_total{verdict="accepted"}': str(2 * n),
        'expensed_files_judged_total{verdict="rejected"}': str(n),
        'expensed_files_judged_total{verdict="invalid"}': str(2 * n),
        'expensed_findings_total{rule="input.json",severity="error"}':
            str(n),
        'expensed_findings_total{rule="input.name",severity="error"}':
            str(n),
        'expensed_findings_total{rule="total.missions",severity="error"}':
            str(n),
        "expensed_judge_duration_seconds_count": str(5 * n),
        "expensed_inbox_files": "0",
        "expensed_work_files": "0",
        "expensed_outbox_deliveries": "0",
        "expensed_dead_deliveries": str(5 * n),
        'expensed_deliveries_total{webhook="flaky",outcome="delivered"}':
            str(5 * n),
        'expensed_deliveries_total{webhook="flaky",outcome="retried"}':
            str(n),
        'expensed_deliveries_total{webhook="gone",outcome="dead"}':
            str(5 * n),
        'expensed_deliveries_total{webhook="ok",outcome="delivered"}':
            str(5 * n),
    }


def check_file(text, n, t0, t1):
    promtool_check(text)
    # every family once, in this order, with its HELP and TYPE
    types = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M)
    helps = re.findall(r"^# HELP (\S+) \S", text, re.M)
    assert types == FAMILIES
    assert helps == [name for name, _ in FAMILIES]
    got = samples(text)
    hist = "expensed_judge_duration_seconds"
    buckets = [int(got.pop('%s_bucket{le="%s"}' % (hist, le)))
               for le in BUCKETS]
    assert buckets == sorted(buckets)
    assert buckets[-1] == 5 * n
    total = float(got.pop(hist + "_sum"))
    assert 0 < total < 5 * n * 5
    stamp = float(got.pop("expensed_last_verdict_timestamp_seconds"))
    assert t0 - 1 <= stamp <= t1 + 1
    assert got == expected(n)


def test_metrics_file_and_totals_across_restarts(env):
    t0 = time.time()
    env.start()
    assert env.status() == ("STATUS=accepted 0, rejected 0, invalid 0, "
                            "outbox backlog 0")
    # written at start, before any file
    wait_for(lambda: "expensed_build_info" in env.metrics(), 10,
             what="the metrics file at start")
    assert ('expensed_files_judged_total{verdict="accepted"} 0\n'
            in env.metrics())

    drop_known_files(env)
    settled(env, 5, 5)
    # the interval's write shows it all while the daemon runs
    wait_for(lambda: samples(env.metrics()).get(
        'expensed_deliveries_total{webhook="ok",outcome="delivered"}') ==
        "5" and samples(env.metrics()).get("expensed_dead_deliveries") ==
        "5", 10, what="the interval's write")
    assert env.stop() == 0
    t1 = time.time()
    check_file(env.metrics(), 1, t0, t1)
    # no temporary file left beside it
    assert os.listdir(env.prom.parent) == ["expensed.prom"]

    # a file in dead/ that is no delivery is not counted as one (`expensed
    # status` shows it apart)
    (env.spool / "dead" / "notes.txt").write_text("not a delivery\n")
    # a restart starts from the totals, and adds to them
    env.start()
    assert env.status() == ("STATUS=accepted 2, rejected 1, invalid 2, "
                            "outbox backlog 0")
    env.receiver.script("/flaky", [500], default=204)
    drop_known_files(env, first=10)
    settled(env, 10, 10)
    assert env.stop() == 0
    check_file(env.metrics(), 2, t0, time.time())

    # kill -9 after a batch: its counts were saved within a second
    env.start()
    assert env.status() == ("STATUS=accepted 4, rejected 2, invalid 4, "
                            "outbox backlog 0")
    env.drop("late.json", report("m-99"))
    wait_for(lambda: env.count("outbox") == 0 and env.count("dead") == 11 and
             len(env.receiver.delivered("/ok")) == 11, 10,
             what="late.json delivered")
    wait_for(lambda: 'verdict="accepted"} 5\n' in
             (env.spool / "state" / "metrics").read_text(), 10,
             what="state/metrics after the batch")
    env.stop(signal.SIGKILL)
    env.start()
    assert env.status() == ("STATUS=accepted 5, rejected 2, invalid 4, "
                            "outbox backlog 0")
    assert env.stop() == 0


def start_bare(tmp_path, expensed_bin, spool):
    """A daemon on spool with only [spool] configured (no textfile), its
    output in tmp_path/log: (proc, log)."""
    conf = tmp_path / "expensed.conf"
    conf.write_text("[spool]\ndirectory = %s\nsettle = 100ms\n" % spool)
    log = open(tmp_path / "log", "ab")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    proc = subprocess.Popen([expensed_bin, "run", "-v", "-c", str(conf)],
                            stdout=log, stderr=log, env=env)
    return proc, log


def stop_bare(proc, log, timeout=10):
    """SIGTERM, which must end it with status 0 (killed if it did not)."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()


def test_metrics_off_writes_no_file(tmp_path, expensed_bin):
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    proc, log = start_bare(tmp_path, expensed_bin, spool)
    try:
        (tmp_path / "x.json").write_bytes(b"{")
        os.rename(tmp_path / "x.json", spool / "inbox" / "x.json")
        wait_for(lambda: (spool / "rejected" / "x.json").exists(), 10,
                 what="x.json judged")
    finally:
        stop_bare(proc, log)
    # the totals are kept all the same; nothing else is written
    state = (spool / "state" / "metrics").read_text().splitlines()
    assert state[0] == "expensed-metrics 1"
    assert 'expensed_files_judged_total{verdict="invalid"} 1' in state
    assert sorted(os.listdir(tmp_path)) == ["expensed.conf", "log", "spool"]


class SaveWatch:
    """Every rename of a new state/metrics into place (IN_MOVED_TO), with
    the monotonic time it was seen, read by a thread through inotify."""

    IN_MOVED_TO = 0x80

    def __init__(self, state_dir):
        import ctypes
        import struct
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0
        assert self.libc.inotify_add_watch(
            self.fd, str(state_dir).encode(), self.IN_MOVED_TO) >= 0
        self.event = struct.Struct("iIII")
        self.times = []
        self.closing = False
        # held from a read of the fd until its events are counted
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        import select
        while not self.closing:
            if not select.select([self.fd], [], [], 0.05)[0]:
                continue
            with self.lock:
                buf = os.read(self.fd, 65536)
                now = time.monotonic()
                off = 0
                while off < len(buf):
                    _, _, _, ln = self.event.unpack_from(buf, off)
                    off += self.event.size
                    name = buf[off:off + ln].rstrip(b"\0")
                    off += ln
                    if name == b"metrics":
                        self.times.append(now)

    def drain(self, timeout=5.0):
        """Wait until every event queued so far is read and counted: a
        save seen in the file was queued by its rename, but the reading
        thread may not have run since (under load, a save was missed)."""
        import array
        import fcntl
        import termios
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                left = array.array("i", [0])
                fcntl.ioctl(self.fd, termios.FIONREAD, left)
                if left[0] == 0:
                    return
            if time.monotonic() > deadline:
                raise AssertionError("inotify events left unread")
            time.sleep(0.01)

    def close(self):
        self.closing = True
        self.thread.join(5)
        os.close(self.fd)


def test_totals_saved_at_most_once_a_second(tmp_path, expensed_bin):
    """state/metrics is rewritten within a second of a batch, not after
    every batch (docs/operations.md "Metrics"): 40 files judged one at a
    time over at least 2 s make at most one save a second, and the last
    one's count is saved while the daemon runs."""
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    (spool / "state").mkdir()
    conf = tmp_path / "expensed.conf"
    # no textfile: only the paced save and the 15 s interval write it
    conf.write_text("[spool]\ndirectory = %s\nsettle = 100ms\n" % spool)
    log = open(tmp_path / "log", "ab")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    watch = SaveWatch(spool / "state")
    proc = subprocess.Popen([expensed_bin, "run", "-v", "-c", str(conf)],
                            stdout=log, stderr=log, env=env)
    try:
        t0 = time.monotonic()
        n = 0
        while n < 40 or time.monotonic() - t0 < 2.0:
            name = "f%03d.json" % n
            (tmp_path / name).write_bytes(report("s-%d" % n))
            os.rename(tmp_path / name, spool / "inbox" / name)
            wait_for(lambda: (spool / "accepted" / name).exists(), 10,
                     what=name + " judged")
            n += 1
        t1 = time.monotonic()
        want = 'expensed_files_judged_total{verdict="accepted"} %d' % n
        wait_for(lambda: want in (spool / "state" /
                                  "metrics").read_text().splitlines(),
                 3, what="the last count saved within a second")
        watch.drain()
        saves = [t for t in watch.times if t >= t0]
        assert proc.poll() is None
    finally:
        watch.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        log.close()
    # n files, n batches: before, one save each; now one a second
    assert 2 <= len(saves) <= int(t1 - t0) + 2, (len(saves), n, t1 - t0)
    gaps = [b - a for a, b in zip(saves, saves[1:])]
    assert all(g >= 0.9 for g in gaps), gaps


def test_totals_count_every_file_archived_at_stop(tmp_path, expensed_bin):
    """SIGTERM in the middle of a burst: the daemon archives the batch in
    hand (and the one whose sync was still running on its own thread),
    counts them, then saves the totals; the saved count is exactly the
    number of files archived, and nothing is left in work/."""
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    (spool / "state").mkdir()
    stage = tmp_path / "stage"
    stage.mkdir()
    names = ["b%04d.json" % i for i in range(1500)]
    for i, name in enumerate(names):
        (stage / name).write_bytes(report("t-%d" % i))

    def archived():
        return sum(1 for n in os.listdir(spool / "accepted")
                   if n.endswith(".result.json"))
    proc, log = start_bare(tmp_path, expensed_bin, spool)
    try:
        wait_for(lambda: (spool / "work").is_dir(), 10, what="the spool")
        for name in names:
            os.rename(stage / name, spool / "inbox" / name)
        wait_for(lambda: archived() >= 300, 60, 0.001,
                 what="300 archived")
    finally:
        stop_bare(proc, log, 30)
    n = archived()
    assert n >= 300
    assert os.listdir(spool / "work") == []
    assert n + len(os.listdir(spool / "inbox")) == len(names)
    saved = (spool / "state" / "metrics").read_text().splitlines()
    assert 'expensed_files_judged_total{verdict="accepted"} %d' % n in saved

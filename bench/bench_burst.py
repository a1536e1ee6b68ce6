#!/usr/bin/python3
"""bench_burst.py BUILD_DIR - the daemon as it runs for real, against its
floor, in one run: every figure is taken on its own fresh journaled ext4
(a loop-mounted image), so that every run starts equal. A measurement, not
a test: nothing here fails (see bench/README.md for the targets).

  floor   bench/floor.c on 5,000 files: claim, read, judge, write the
          result, archive; no fsync, inotify, log or webhook -> files/s
  burst   the same 5,000 files (20 % rejected) renamed into the inbox of a
          daemon with syslog on and a webhook to a local receiver, until
          every file is archived and every rejected file's POST received
          -> files/s, burst/floor, journal commits; then its RSS and its
          CPU over 5 s idle
  lone    200 accepted files, each renamed into the inbox of an idle daemon
          once the previous one's result is in accepted/ -> p50, p99,
          journal commits per file
  syncs   a 1,000-file burst and 50 lone files under strace (fsync,
          fdatasync, syncfs, sync, sync_file_range only), not timed
          -> sync calls per file
  memory  `expensed check` on a report of 100,000 empty missions
          (~300 KB) -> the child's peak RSS (ru_maxrss), what happened
"""
import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO / "bench"))

from benchenv import (ResultWatch, SyslogSink, fresh_ext4,  # noqa: E402
                      images_note, inotify_note, peak_memory)
from daemon_util import (cpu_ticks, make_report, rss_kb,  # noqa: E402
                         seed_path)
from receiver import Receiver  # noqa: E402

BURST = 5000
LONE = 400  # 200 into an idle daemon, 200 back to back
STRACE_BURST = 1000
STRACE_LONE = 50
MISSIONS = 100000
# floor and burst alternate this many times, each on its own fresh ext4:
# the ratio of their medians (one pair moved from 0.35 to 0.54 between two
# runs on the same revision, the floor alone from 4,900 to 8,100 files/s)
ROUNDS = int(os.environ.get("BENCH_BURST_ROUNDS", "3"))
SYNC_CALLS = "fsync,fdatasync,syncfs,sync,sync_file_range"
# the daemon without verdict pages: the work issue 8's targets were set
# for, before pages (whose own cost bench_pages.py measures)
NO_PAGES = ("[html]", "enabled = no")
LIBC = ctypes.CDLL(None)  # syncfs, sync_file_range


def build(build_dir):
    subprocess.run(["make", "--no-print-directory", "BUILD=%s" % build_dir,
                    "%s/expensed" % build_dir], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    out = Path(build_dir) / "bench" / "floor"
    out.parent.mkdir(parents=True, exist_ok=True)
    # the objects of today's sources only (a build dir may hold stale ones)
    objs = sorted(str(p) for d in ("rules", "common")
                  for p in (Path(build_dir) / d).glob("*.o")
                  if (REPO / d / (p.stem + ".c")).exists())
    objs.append(str(Path(build_dir) / "gen" / "builtin_rules.o"))
    subprocess.run(["cc", "-O2", "-std=gnu11", "-D_GNU_SOURCE", "-o",
                    str(out), str(REPO / "bench" / "floor.c")] + objs +
                   ["-ljansson", "-lcrypto", "-lm"], check=True)
    return str(Path(build_dir).resolve() / "expensed"), str(out)


def reports(prefix, n, rejected_every=0, base=0):
    """[(name, bytes)]: seed-sized reports with their own ids; every
    rejected_every-th one fails total.missions (a wrong total)."""
    seed = seed_path().read_bytes()
    return [("%s%05d.json" % (prefix, i),
             make_report(seed, base + i,
                         broken=rejected_every and
                         i % rejected_every == rejected_every - 1))
            for i in range(n)]


def syncfs(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        LIBC.syncfs(fd)
    finally:
        os.close(fd)


def stage(fs, items):
    """Write items under FS/stage (the same file system as the inbox, so a
    drop is one rename), old enough that no settle delay applies, synced
    so that their writeback is not charged to the measurement."""
    st = fs.path / "stage"
    st.mkdir(exist_ok=True)
    old = time.time() - 60
    for name, data in items:
        p = st / name
        p.write_bytes(data)
        os.utime(p, (old, old))
    syncfs(fs.path)
    return st


def spool_dirs(fs):
    spool = fs.path / "spool"
    for d in ("inbox", "accepted", "rejected"):
        (spool / d).mkdir(parents=True, exist_ok=True)
    return spool


def machine_busy():
    """Clock ticks the machine's CPUs were busy (not idle, not waiting for
    I/O) since boot, all CPUs together (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]


def own_ticks():
    """utime + stime of this process, all its threads, in ticks."""
    return cpu_ticks(os.getpid())


def run_floor(floor, fs, items, cpu=None):
    """The floor's files/s; with cpu a dict, also the CPU ticks the
    machine was busy while it ran (cpu["busy"]) and the floor's own
    (cpu["floor"])."""
    spool = spool_dirs(fs)
    st = stage(fs, items)
    for name, _ in items:
        os.rename(st / name, spool / "inbox" / name)
    syncfs(fs.path)
    b0, c0 = machine_busy(), os.times()
    out = subprocess.run([floor, str(spool)], check=True,
                         capture_output=True, text=True).stdout.split()
    b1, c1 = machine_busy(), os.times()
    if cpu is not None:
        hz = os.sysconf("SC_CLK_TCK")
        cpu["busy"] = b1 - b0
        cpu["floor"] = ((c1.children_user - c0.children_user) +
                        (c1.children_system - c0.children_system)) * hz
    n, secs = int(out[0]), float(out[1])
    assert n == len(items), out
    return n / secs


class BenchDaemon:
    """`expensed run` as in production: logs to syslog only (no -v, no
    terminal), optionally under a command such as strace."""

    def __init__(self, binary, cfg, errfile, wrapper=()):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("WATCHDOG_USEC", None)
        self.err = open(errfile, "ab")
        self.proc = subprocess.Popen(
            list(wrapper) + [binary, "run", "-c", str(cfg)],
            stdout=subprocess.DEVNULL, stderr=self.err, env=env)
        self.wrapped = bool(wrapper)
        self._pid = None if wrapper else self.proc.pid

    @property
    def pid(self):
        """The daemon's own pid (the wrapper's child when wrapped)."""
        if self._pid is None:
            p = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
            with open(p) as f:
                kids = f.read().split()
            if kids:
                self._pid = int(kids[0])
        return self._pid

    def stop(self, timeout=10):
        """SIGTERM to the daemon and wait; its exit status (the wrapper's
        when wrapped: strace exits with its tracee's status)."""
        try:
            if self.proc.poll() is None:
                pid = self.pid
                if pid is not None:
                    os.kill(pid, signal.SIGTERM)
                else:
                    self.proc.terminate()
                return self.proc.wait(timeout)
            return self.proc.returncode
        finally:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            pid = self._pid
            if self.wrapped and pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.kill()
            self.proc.wait(10)
        self.err.close()


def start_daemon(binary, fs, spool, rcv, wrapper=(), extra=()):
    """A daemon on spool with a webhook to rcv, level info (and the
    configuration lines extra); returns it with a ResultWatch on its
    archive once it has archived a probe file (so it is watching the
    inbox)."""
    cfg = fs.path / "bench.conf"
    cfg.write_text("\n".join([
        "[spool]",
        "directory = %s" % spool,
        "inbox = %s" % (spool / "inbox"),
        "settle = 200ms",
        "rescan = 60s",
        "[log]",
        "level = info",
        "[webhook bench]",
        "url = %s" % rcv.url("/hook"),
        "format = standard",
        "events = rejected, invalid"] + list(extra) + [""]))
    watch = ResultWatch([spool / "accepted", spool / "rejected"])
    d = BenchDaemon(binary, cfg, fs.path / "daemon.err", wrapper)
    try:
        (name, data), = reports("probe", 1, base=90000)
        (fs.path / name).write_bytes(data)
        os.rename(fs.path / name, spool / "inbox" / name)
        watch.wait(lambda w: w.has(name) or d.proc.poll() is not None,
                   20, "the daemon to start")
        if d.proc.poll() is not None:
            raise SystemExit("the daemon exited: %s" %
                             (fs.path / "daemon.err").read_text())
    except BaseException:
        d.kill()
        watch.close()
        raise
    return d, watch


def burst(spool, st, items, watch, rcv):
    """Rename items into the inbox at once; wait until every result is in
    the archive and every rejected file's POST received. Returns (s until
    all archived, s until all done)."""
    want_files = watch.count + len(items)
    want_posts = len(rcv.requests) + sum(
        1 for _, data in items if b"139208.94" in data)
    inbox = spool / "inbox"
    t0 = time.monotonic()
    for name, _ in items:
        os.rename(st / name, inbox / name)
    # 5 ms between reads of the watcher: its CPU is the daemon's loss
    watch.wait(lambda w: w.count >= want_files, 300, "the burst archived",
               coalesce=0.005)
    t_arch = time.monotonic() - t0
    watch.wait(lambda w: len(rcv.requests) >= want_posts, 300,
               "the burst's POSTs", coalesce=0.005)
    return t_arch, time.monotonic() - t0


def syscall_of(pid):
    """What the daemon's own thread is doing: the number of the system call
    it waits in (/proc/PID/syscall), or "running"."""
    with open("/proc/%d/syscall" % pid) as f:
        return f.read().split()[0]


def lone(spool, st, items, watch, idle=None):
    """Latencies in ms of items dropped one at a time: each as soon as the
    previous one's result is archived, or with idle=(pid, call) once the
    daemon's thread is back waiting in that system call (its epoll_wait:
    idle, the previous file's index.html and verdict lines done)."""
    inbox = spool / "inbox"
    lat = []
    for name, _ in items:
        if idle is not None:
            pid, call = idle
            deadline = time.monotonic() + 2
            while syscall_of(pid) != call:
                if time.monotonic() > deadline:
                    raise TimeoutError("the daemon did not go idle")
                time.sleep(0.0002)
        t = time.perf_counter()
        os.rename(st / name, inbox / name)
        watch.wait(lambda w: w.has(name), 10, "lone file %s" % name)
        lat.append((time.perf_counter() - t) * 1000)
    return lat


def pct(sorted_vals, p):
    """Nearest-rank percentile."""
    k = max(1, -(-len(sorted_vals) * p // 100))
    return sorted_vals[int(k) - 1]


def strace_counts(path, windows):
    """Sync calls in the strace -ttt output at path, per (t0, t1) window
    of wall-clock time, as {call: n} dicts."""
    out = [dict() for _ in windows]
    with open(path) as f:
        for line in f:
            parts = line.split(None, 2)
            if len(parts) < 3 or "resumed>" in parts[2]:
                continue
            call = parts[2].split("(", 1)[0]
            ts = float(parts[1])
            for i, (a, b) in enumerate(windows):
                if a <= ts <= b:
                    out[i][call] = out[i].get(call, 0) + 1
    return out


@contextlib.contextmanager
def running(binary, fs, rcv, items, wrapper=(), extra=()):
    """A daemon (start_daemon()) on a new spool in fs, items staged beside
    it: yields (spool, the staging directory, the daemon, its watch), and
    kills it and closes the watch on the way out, whatever happens."""
    spool = spool_dirs(fs)
    st = stage(fs, items)
    d, watch = start_daemon(binary, fs, spool, rcv, wrapper, extra)
    try:
        yield spool, st, d, watch
    finally:
        d.kill()
        watch.close()


def phase_burst(binary, fs, rcv, items, res):
    with running(binary, fs, rcv, items) as (spool, st, d, watch):
        c0 = fs.commits()
        b0, d0, o0 = machine_busy(), cpu_ticks(d.pid), own_ticks()
        t_arch, t_all = burst(spool, st, items, watch, rcv)
        b1, d1, o1 = machine_busy(), cpu_ticks(d.pid), own_ticks()
        c1 = fs.commits()
        res["burst_cpu"] = {"busy": b1 - b0, "daemon": d1 - d0,
                            "bench": o1 - o0}
        res["burst_s"], res["burst_arch_s"] = t_all, t_arch
        res["burst_commits"] = None if c0 is None else c1 - c0
        res["rss_at_end"] = rss_kb(d.pid)
        time.sleep(1)
        t0 = cpu_ticks(d.pid)
        time.sleep(5)
        res["idle_ticks"] = cpu_ticks(d.pid) - t0
        # once idle: the daemon gives a burst's heap back after 0.5 s
        # without events (run.c, TRIM_QUIET_MS)
        res["rss"] = rss_kb(d.pid)
        res["anon"] = rss_kb(d.pid, "RssAnon:")
        res["rc"] = d.stop()


def phase_burst_no_pages(binary, fs, rcv, items):
    """The same burst with [html] enabled = no: the seconds until every
    file is archived and every POST received."""
    with running(binary, fs, rcv, items, extra=NO_PAGES) as (
            spool, st, d, watch):
        t_all = burst(spool, st, items, watch, rcv)[1]
        d.stop()
    return t_all


def phase_lone_no_pages(binary, fs, rcv, items, res):
    """Lone files into an idle daemon with [html] enabled = no."""
    with running(binary, fs, rcv, items, extra=NO_PAGES) as (
            spool, st, d, watch):
        time.sleep(0.3)
        idle = (d.pid, syscall_of(d.pid))
        lat = sorted(lone(spool, st, items, watch, idle))
        res["np_p50"], res["np_p99"] = pct(lat, 50), pct(lat, 99)
        d.stop()


def phase_lone(binary, fs, rcv, items, res):
    with running(binary, fs, rcv, items) as (spool, st, d, watch):
        time.sleep(0.3)
        # the call its thread waits in when idle (epoll_wait)
        idle = (d.pid, syscall_of(d.pid))
        half = len(items) // 2
        c0 = fs.commits()
        lat = sorted(lone(spool, st, items[:half], watch, idle))
        time.sleep(0.3)
        c1 = fs.commits()
        b2b = sorted(lone(spool, st, items[half:], watch))
        res["p50"], res["p99"] = pct(lat, 50), pct(lat, 99)
        res["lone_max"] = lat[-1]
        res["lone_n"] = len(lat)
        res["lone_commits"] = None if c0 is None else (c1 - c0) / len(lat)
        res["b2b_p50"], res["b2b_p99"] = pct(b2b, 50), pct(b2b, 99)
        d.stop()


SFR_WRITE = 2  # SYNC_FILE_RANGE_WRITE
SFR_WAIT = 1 | 2 | 4  # WAIT_BEFORE | WRITE | WAIT_AFTER


def sync_file_range(fd, flags):
    LIBC.sync_file_range(fd, ctypes.c_longlong(0), ctypes.c_longlong(0),
                         flags)


def write_new(path, data, sfr=0):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        os.write(fd, data)
        if sfr:
            sync_file_range(fd, sfr)
    finally:
        os.close(fd)


def phase_sync_floor(fs, res, n=200):
    """The least a durable verdict costs on this file system, the lone
    file's baselines, n times each in turn: one file of a report's size
    created, written and fsync'ed (one journal commit, the loop device's
    flush to its image): res["sync_p50"], res["sync_p99"] in ms; and the
    three files a lone verdict makes durable, as the daemon writes them
    (the copy and the page with their writeback started, the result
    waited for, then one syncfs: spool_int.h step 3), without reading,
    judging or renaming anything: res["sync3_p50"], res["sync3_p99"]."""
    (_, data), = reports("z", 1, base=40000)
    page = b"<!DOCTYPE html>" + b"x" * 12389  # a seed page's size
    lat, lat3 = [], []
    dfd = os.open(fs.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(n):
            t = time.perf_counter()
            fd = os.open(fs.path / ("z%d.json" % i),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            lat.append((time.perf_counter() - t) * 1000)
        for i in range(n):
            t = time.perf_counter()
            write_new(fs.path / ("k%d" % i), data, SFR_WRITE)
            write_new(fs.path / ("p%d" % i), page, SFR_WRITE)
            write_new(fs.path / ("r%d" % i), data, SFR_WAIT)
            LIBC.syncfs(dfd)
            lat3.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(dfd)
    lat.sort()
    lat3.sort()
    res["sync_p50"], res["sync_p99"] = pct(lat, 50), pct(lat, 99)
    res["sync3_p50"], res["sync3_p99"] = pct(lat3, 50), pct(lat3, 99)
    for key, with_page in (("io", True), ("io_np", False)):
        lat = verdict_io(fs, data, page if with_page else None, n, key)
        res[key + "_p50"], res[key + "_p99"] = pct(lat, 50), pct(lat, 99)


def verdict_io(fs, data, page, n, tag):
    """What the daemon does to the file system for a lone file, in its
    order (spool_int.h, steps 1 to 4), without reading a report's meaning,
    judging, rendering, logging or waking up: the claim renamed from the
    inbox into work/, read; its copy written, its writeback started and
    renamed over the claim; a ledger line appended; the page (when page is
    not None) written with its writeback started; the result written and
    waited for; one syncfs; the copy, the page and the result renamed into
    accepted/. n drops in turn (each dropped file staged and synced
    beforehand); the sorted latencies in ms."""
    inbox, work, acc = (fs.path / tag / d for d in ("inbox", "work", "acc"))
    for d in (inbox, work, acc):
        d.mkdir(parents=True)
    for i in range(n):
        (fs.path / tag / ("d%d.json" % i)).write_bytes(data)
    syncfs(fs.path)
    ledger = os.open(fs.path / tag / "ledger", os.O_WRONLY | os.O_CREAT |
                     os.O_APPEND, 0o640)
    dfd = os.open(fs.path, os.O_RDONLY | os.O_DIRECTORY)
    lat = []
    try:
        for i in range(n):
            name = "d%d.json" % i
            os.rename(fs.path / tag / name, inbox / name)
            t = time.perf_counter()
            claim = work / ("c%d.%s" % (i, name))
            os.rename(inbox / name, claim)
            fd = os.open(claim, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                os.fstat(fd)
                body = os.read(fd, 1 << 20)
            finally:
                os.close(fd)
            write_new(work / ("k%d" % i), body, SFR_WRITE)
            os.rename(work / ("k%d" % i), claim)
            os.write(ledger, b"%d %s\n" % (i, name.encode()))
            if page is not None:
                write_new(work / ("p%d" % i), page, SFR_WRITE)
            write_new(work / ("r%d" % i), body, SFR_WAIT)
            LIBC.syncfs(dfd)
            os.rename(claim, acc / name)
            if page is not None:
                os.rename(work / ("p%d" % i), acc / (name + ".result.html"))
            os.rename(work / ("r%d" % i), acc / (name + ".result.json"))
            lat.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(dfd)
        os.close(ledger)
    lat.sort()
    return lat


def phase_strace(binary, fs, rcv, bitems, litems, res, calls=SYNC_CALLS):
    """res["syncs_burst"], res["syncs_lone"]: the calls (all of them when
    calls is None) of a burst of bitems then of litems dropped alone."""
    trace = fs.path / "strace.out"
    wrapper = ["strace", "-f", "-qq", "-ttt", "-o", str(trace)]
    if calls is not None:
        wrapper[-2:-2] = ["--seccomp-bpf", "-e", "trace=" + calls]
    with running(binary, fs, rcv, bitems + litems, wrapper) as (
            spool, st, d, watch):
        time.sleep(0.3)
        a = time.time()
        burst(spool, st, bitems, watch, rcv)
        time.sleep(0.3)
        b = time.time()
        lone(spool, st, litems, watch)
        time.sleep(0.3)
        c = time.time()
        d.stop()
    res["syncs_burst"], res["syncs_lone"] = strace_counts(
        trace, [(a, b), (b, c)])


def phase_memory(binary, root, res):
    big = Path(root) / "missions-100000.json"
    big.write_text(json.dumps({"format": "mission-report/1",
                               "missions": [{}] * MISSIONS},
                              separators=(",", ":")))
    res["mem_file_kb"] = big.stat().st_size / 1024
    res["mem"] = peak_memory([binary, "check", str(big)], 120, 4 << 30)
    big.unlink()


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def row(label, value, target="", ok=None):
    mark = "" if ok is None else (" ok" if ok else " MISSED")
    print("%-44s %12s   %s%s" % (label, value, target, mark))


def calls_text(counts, files):
    n = sum(counts.values())
    detail = ", ".join("%s %d" % kv for kv in sorted(counts.items()))
    return "%.3f" % (n / files), "(%d: %s)" % (n, detail or "none")


def report(res, fs_notes, sink, load0, root):
    print("== daemon benchmark, burst/lone/idle/memory (%d CPUs, %s)" %
          (os.cpu_count(), os.uname().machine))
    if fs_notes:
        print("!! NOT a fresh ext4 for: %s" % "; ".join(fs_notes))
    else:
        print("file system: a fresh ext4 (%s loop image, journaled) per "
              "measurement" % "512 MB")
    print("syslog: %s" % sink.note)
    print(inotify_note())
    print(images_note(root))
    with open("/proc/loadavg") as f:
        print("load average: %s at start, %s at end" %
              (load0, " ".join(f.read().split()[:3])))
    row("figure", "value", "target")
    hz = os.sysconf("SC_CLK_TCK")
    rates = [BURST / s for s in res["bursts"]]
    rate, floor = median(rates), median(res["floors"])
    ratio = rate / floor
    each = ", ".join("%.2f" % (b / f) for b, f in zip(rates, res["floors"]))
    row("burst %d files (20 %% rejected), files/s" % BURST, "%.0f" % rate,
        "(median of %s)" % " ".join("%.0f" % r for r in rates))
    row("  all archived after, s", "%.2f" % res["burst_arch_s"],
        "(last round)")
    row("  all archived and POSTed after, s", "%.2f" % res["burst_s"])
    row("floor (no fsync/inotify/log/webhook), f/s", "%.0f" % floor,
        "(median of %s)" % " ".join("%.0f" % f for f in res["floors"]))
    row("burst / floor (medians)", "%.2f" % ratio, ">= 0.5", ratio >= 0.5)
    row("  each round's", each)
    bc, fc = res.get("burst_cpu"), res.get("floor_cpu")
    if bc and fc:
        def per_file(ticks):
            return "%.0f" % (ticks * 1e6 / hz / BURST)
        rest = bc["busy"] - bc["daemon"] - bc["bench"]
        row("  machine CPU per file in the burst, us", per_file(bc["busy"]),
            "(daemon %s, bench %s, the rest %s; last round)" %
            (per_file(bc["daemon"]), per_file(bc["bench"]), per_file(rest)))
        row("  machine CPU per file in the floor, us", per_file(fc["busy"]),
            "(floor %s, the rest %s; last round)" %
            (per_file(fc["floor"]), per_file(fc["busy"] - fc["floor"])))
    if res.get("burst_commits") is not None:
        bc = res["burst_commits"]
        row("  journal commits during the burst", "%d" % bc)
        row("  files per journal commit", "%.1f" % (BURST / max(bc, 1)))
    if "syncs_burst" in res:
        v, d = calls_text(res["syncs_burst"], STRACE_BURST)
        row("  sync calls per file (%d-file burst)" % STRACE_BURST, v, d)
    np_rates = [BURST / s for s in res["np_bursts"]]
    np_rate = median(np_rates)
    row("burst without pages ([html] enabled = no), files/s",
        "%.0f" % np_rate,
        "(median of %s)" % " ".join("%.0f" % r for r in np_rates))
    row("  without pages / floor (medians)", "%.2f" % (np_rate / floor),
        "(each round's %s)" % ", ".join(
            "%.2f" % (b / f) for b, f in zip(np_rates, res["floors"])))
    row("  with pages / without (medians)", "%.2f" % (rate / np_rate))
    row("lone file into an idle daemon, p50 ms (%d files)" % res["lone_n"],
        "%.2f" % res["p50"], "<= 1.5", res["p50"] <= 1.5)
    row("lone file archived, p99 ms", "%.2f" % res["p99"], "<= 3",
        res["p99"] <= 3)
    row("  max ms", "%.2f" % res["lone_max"])
    row("  without pages (%d files), p50 / p99 ms" % (LONE // 2),
        "%.2f / %.2f" % (res["np_p50"], res["np_p99"]),
        "(into an idle daemon, [html] enabled = no)")
    row("  back to back (%d files), p50 / p99 ms" % (LONE - res["lone_n"]),
        "%.2f / %.2f" % (res["b2b_p50"], res["b2b_p99"]),
        "(each as soon as the one before is archived)")
    if "sync_p50" in res:
        row("  sync floor: a report fsync'ed alone, p50 ms",
            "%.2f" % res["sync_p50"], "(p99 %.2f)" % res["sync_p99"])
        row("  lone p50 / sync floor p50", "%.2f" %
            (res["p50"] / res["sync_p50"]))
    if "sync3_p50" in res:
        row("  a verdict's three files and one syncfs, p50 ms",
            "%.2f" % res["sync3_p50"], "(p99 %.2f; nothing judged)" %
            res["sync3_p99"])
        row("  lone p50 / that p50", "%.2f" %
            (res["p50"] / res["sync3_p50"]))
    if "io_p50" in res:
        row("  a lone verdict's file system work alone, p50 ms",
            "%.2f" % res["io_p50"], "(p99 %.2f; renames, copy, ledger line,"
            " page, result, syncfs)" % res["io_p99"])
        row("  lone p50 / that p50", "%.2f" % (res["p50"] / res["io_p50"]))
        row("  the same without a page, p50 ms", "%.2f" % res["io_np_p50"],
            "(p99 %.2f)" % res["io_np_p99"])
        row("  lone without pages p50 / that p50",
            "%.2f" % (res["np_p50"] / res["io_np_p50"]))
    if res.get("lone_commits") is not None:
        lc = res["lone_commits"]
        row("  journal commits per lone file", "%.2f" % lc, "1", lc <= 1.05)
    if "syncs_lone" in res:
        v, d = calls_text(res["syncs_lone"], STRACE_LONE)
        row("  sync calls per lone file (%d files)" % STRACE_LONE, v, d)
    what, maxrss, out, secs, tail = res["mem"]
    row("check, %d empty missions (%.0f kB): peak MB" %
        (MISSIONS, res["mem_file_kb"]), "%.0f" % (maxrss / 1024), "<= 256",
        maxrss <= 256 * 1024)
    row("  its outcome", what, "(%.1f s, %.1f MB on stdout)" %
        (secs, out / 1e6))
    if tail and what != "exit 0":
        row("  its last stderr line", "", tail)
    row("idle CPU over 5 s after the burst, ms",
        "%.0f" % (res["idle_ticks"] * 1000 / hz), "0",
        res["idle_ticks"] == 0)
    row("RSS after the burst, once idle (webhook on), MB",
        "%.1f" % (res["rss"] / 1024), "<= 16", res["rss"] <= 16 * 1024)
    row("  of which private (RssAnon), MB", "%.1f" % (res["anon"] / 1024),
        "(the rest: shared libraries)")
    row("  at the burst's last POST, MB", "%.1f" % (res["rss_at_end"] / 1024),
        "(before its heap is given back)")
    row("exit status on SIGTERM", "%d" % res["rc"], "0", res["rc"] == 0)
    if sink.sock is not None:
        row("syslog lines received (whole run)", "%d" % sink.messages)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench_burst.py BUILD_DIR")
    binary, floor = build(sys.argv[1])
    with open("/proc/loadavg") as f:
        load0 = " ".join(f.read().split()[:3])
    have_strace = subprocess.run(["sh", "-c", "command -v strace"],
                                 stdout=subprocess.DEVNULL).returncode == 0
    bitems = reports("b", BURST, rejected_every=5)
    litems = reports("l", LONE, base=BURST)
    sitems = reports("s", STRACE_BURST, rejected_every=5, base=20000)
    slitems = reports("t", STRACE_LONE, base=30000)
    nitems = reports("n", LONE // 2, base=50000)
    root = Path(tempfile.mkdtemp(prefix="expensed-bench-"))
    sink = SyslogSink().start()
    rcv = Receiver()
    rcv.script("/hook", [], default=200)
    res, notes = {}, []
    try:
        res["floors"], res["bursts"], res["np_bursts"] = [], [], []
        for r in range(ROUNDS):
            with fresh_ext4(root, "floor%d" % r) as fs:
                notes += ["floor: " + fs.note] if fs.note else []
                res["floor_cpu"] = {}
                res["floors"].append(run_floor(floor, fs, bitems,
                                               res["floor_cpu"]))
            with fresh_ext4(root, "burst%d" % r) as fs:
                notes += ["burst: " + fs.note] if fs.note else []
                # the last round's daemon gives the other figures
                phase_burst(binary, fs, rcv, bitems, res)
                res["bursts"].append(res["burst_s"])
            with fresh_ext4(root, "nopages%d" % r) as fs:
                if fs.note:
                    notes.append("burst without pages: " + fs.note)
                res["np_bursts"].append(
                    phase_burst_no_pages(binary, fs, rcv, bitems))
        with fresh_ext4(root, "lone") as fs:
            notes += ["lone: " + fs.note] if fs.note else []
            phase_lone(binary, fs, rcv, litems, res)
        with fresh_ext4(root, "lone-nopages") as fs:
            notes += ["lone without pages: " + fs.note] if fs.note else []
            phase_lone_no_pages(binary, fs, rcv, nitems, res)
        with fresh_ext4(root, "sync") as fs:
            phase_sync_floor(fs, res)
        if have_strace:
            with fresh_ext4(root, "strace") as fs:
                phase_strace(binary, fs, rcv, sitems, slitems, res)
        phase_memory(binary, root, res)
        report(res, notes, sink, load0, root)
        if not have_strace:
            print("(strace not installed: no sync call counts)")
    finally:
        rcv.stop()
        sink.stop()
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)])


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # SIGTERM unwinds like Ctrl-C: daemons stopped, images unmounted
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    main()

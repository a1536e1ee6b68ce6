#!/usr/bin/python3
"""bench_pages.py BUILD_DIR - what verdict pages cost the daemon, with
pages on and off in the same run: every burst on its own fresh journaled
ext4 (bench_burst.py's surroundings), the two settings alternated so that
the machine's drift falls on both. A measurement, not a test: nothing here
fails (see bench/README.md "Pages" for the target).

  burst   5,000 files (20 % rejected) renamed into the inbox of a daemon
          with [html] enabled = no, then yes, ROUNDS times each (default
          5), until every result is archived and every rejected file's
          POST received -> files/s each; ratio on/off of each round (the
          two bursts one after the other), their median the figure; the
          best of each as well (one fast burst moves it by a tenth)
  rss     the daemon's RSS after its burst, pages on and off (the
          highest of the rounds)
  peak    a daemon with pages on judging one report of 100,000 empty
          missions dropped into its inbox -> its VmHWM (peak RSS)
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO / "bench"))

import bench_burst  # noqa: E402
from bench_burst import BURST, MISSIONS, burst, reports  # noqa: E402
from benchenv import (SyslogSink, fresh_ext4, images_note,  # noqa: E402
                      inotify_note)
from daemon_util import rss_kb  # noqa: E402
from receiver import Receiver  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_PAGES_ROUNDS", "5"))
# epoll_wait's and epoll_pwait's numbers in /proc/PID/syscall (trimmed())
EPOLL_WAITS = {"x86_64": ("232", "281"), "aarch64": ("22",)}


def build(build_dir):
    subprocess.run(["make", "--no-print-directory", "BUILD=%s" % build_dir,
                    "%s/expensed" % build_dir], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    return str(Path(build_dir).resolve() / "expensed")


def running(binary, fs, rcv, items, html):
    """bench_burst.py's daemon with [html] enabled = html (running())."""
    return bench_burst.running(
        binary, fs, rcv, items,
        extra=["[html]", "enabled = %s" % ("yes" if html else "no")])


def trimmed(pid, timeout=10):
    """Wait until the daemon has given the burst's heap back: 0.5 s after
    its last event it calls malloc_trim, then its own thread sleeps in
    epoll_wait with no timeout (run.c, TRIM_QUIET_MS). Until then it waits
    with a timeout of 500 ms, or is busy: an RSS read earlier (a fixed 1.5
    s used to be) can catch the heap not yet given back."""
    waits = EPOLL_WAITS.get(os.uname().machine)
    if waits is None:  # not known here: the trim is 0.5 s after the burst
        time.sleep(3)
        return
    deadline = time.monotonic() + timeout
    while True:
        with open("/proc/%d/syscall" % pid) as f:
            call = f.read().split()
        # epoll_wait(epfd, events, maxevents, timeout, ...): timeout -1
        # (an int: 0xffffffff)
        if (len(call) > 4 and call[0] in waits and
                int(call[4], 16) & 0xffffffff == 0xffffffff):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the daemon did not trim its heap in %d s"
                               % timeout)
        time.sleep(0.01)


def phase_burst(binary, fs, rcv, items, html, disk=None):
    """files/s of one burst, and the daemon's RSS (kB) after it; with a
    list disk, what the disk below the image wrote during the burst
    appended to it ((bytes, flushes), or None: no such disk)."""
    with running(binary, fs, rcv, items, html) as (spool, st, d, watch):
        w0 = fs.disk_writes()
        _, t_all = burst(spool, st, items, watch, rcv)
        w1 = fs.disk_writes()
        if disk is not None:
            disk.append(None if w0 is None or w1 is None else
                        (w1[0] - w0[0], w1[1] - w0[1]))
        trimmed(d.pid)
        rss = rss_kb(d.pid)
        pages = sum(1 for sub in ("accepted", "rejected")
                    for e in os.scandir(spool / sub)
                    if e.name.endswith(".result.html"))
        d.stop()
    want = len(items) + 1 if html else 0  # and the probe's
    assert pages == want, (pages, want)
    return len(items) / t_all, rss


def phase_peak(binary, fs, rcv):
    """VmHWM (kB) of a daemon with pages on judging one report of MISSIONS
    empty missions, and the size of its page (bytes)."""
    big = json.dumps({"format": "mission-report/1",
                      "missions": [{}] * MISSIONS},
                     separators=(",", ":")).encode()
    with running(binary, fs, rcv, [("big.json", big)], True) as (
            spool, st, d, watch):
        before = watch.count
        os.rename(st / "big.json", spool / "inbox" / "big.json")
        watch.wait(lambda w: w.count > before, 120, "the large report")
        hwm = rss_kb(d.pid, "VmHWM:")
        d.stop()
    page = spool / "rejected" / "big.json.result.html"
    return hwm, page.stat().st_size if page.exists() else -1, len(big)


def row(label, value, target="", ok=None):
    mark = "" if ok is None else (" ok" if ok else " MISSED")
    print("%-46s %12s   %s%s" % (label, value, target, mark))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench_pages.py BUILD_DIR")
    binary = build(sys.argv[1])
    with open("/proc/loadavg") as f:
        load0 = " ".join(f.read().split()[:3])
    root = Path(tempfile.mkdtemp(prefix="expensed-bench-pages-"))
    where = images_note(root)
    sink = SyslogSink().start()
    rcv = Receiver()
    rcv.script("/hook", [], default=200)
    rates = {False: [], True: []}
    rss, notes = {False: [], True: []}, []
    disk = {False: [], True: []}
    try:
        for r in range(ROUNDS):
            for html in (False, True):
                items = reports("b%d%d" % (r, html), BURST, rejected_every=5,
                                base=r * 10000)
                with fresh_ext4(root, "burst-%d-%d" % (r, html)) as fs:
                    if fs.note:
                        notes.append(fs.note)
                    rate, kb = phase_burst(binary, fs, rcv, items, html,
                                           disk[html])
                rates[html].append(rate)
                rss[html].append(kb)
        with fresh_ext4(root, "peak") as fs:
            if fs.note:
                notes.append(fs.note)
            hwm, page_size, big_size = phase_peak(binary, fs, rcv)
    finally:
        rcv.stop()
        sink.stop()
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)])
    print("== pages benchmark (%d CPUs, %s), %d rounds" %
          (os.cpu_count(), os.uname().machine, ROUNDS))
    if notes:
        print("!! NOT a fresh ext4: %s" % "; ".join(sorted(set(notes))))
    print("syslog: %s" % sink.note)
    print(inotify_note())
    print(where)
    with open("/proc/loadavg") as f:
        print("load average: %s at start, %s at end" %
              (load0, " ".join(f.read().split()[:3])))
    row("figure", "value", "target")
    for html in (False, True):
        row("burst %d files, pages %s, files/s" %
            (BURST, "on" if html else "off"),
            " ".join("%.0f" % v for v in rates[html]))
    paired = [on / off for off, on in zip(rates[False], rates[True])]
    row("pages on / off, each round", " ".join("%.2f" % r for r in paired))
    ratio = statistics.median(paired)
    row("pages on / off (median of the rounds)", "%.2f" % ratio, ">= 0.8",
        ratio >= 0.8)
    row("pages on / off (best of each)",
        "%.2f" % (max(rates[True]) / max(rates[False])))
    for html in (False, True):
        if None in disk[html]:
            continue
        row("disk below, pages %s: MB written, flushes" %
            ("on" if html else "off"),
            " ".join("%.0f/%d" % (b / 2**20, n) for b, n in disk[html]))
    for html in (False, True):
        most = max(rss[html])
        row("RSS once idle after the burst, pages %s, MB" %
            ("on" if html else "off"),
            "%.1f" % (most / 1024), "<= 16", most <= 16 * 1024)
    row("daemon peak, %d missions (%.0f kB), MB" %
        (MISSIONS, big_size / 1024), "%.0f" % (hwm / 1024), "<= 256",
        hwm <= 256 * 1024)
    row("  its page, kB", "%.0f" % (page_size / 1024))


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    main()

#!/usr/bin/python3
"""bench_burst.py BUILD_DIR - the daemon under a burst, one file at a time,
and idle, against the floor (bench/floor.c: the same per-file work with no
inotify, no logging and no fsync). A measurement, not a test.

  burst   5,000 seed-sized reports (80 % accepted, 20 % rejected) renamed
          into the inbox at once -> files/s until all are archived
  floor   the same 5,000 files through bench/floor.c -> files/s
  lone    200 files dropped one at a time (rename, wait until archived)
          -> p50 / p99 latency
  idle    CPU time over 5 s idle after that (/proc/PID/stat), and VmRSS

Targets: burst/floor >= 0.5, lone p99 <= 10 ms, idle CPU 0, RSS <= 16 MB.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from daemon_util import (Daemon, count_archived, cpu_ticks, make_report,  # noqa
                         rss_kb, seed_path, wait_for, write_config)

BURST = 5000
LONE = 200


def stage(spool, n, prefix):
    seed = seed_path().read_bytes()
    st = spool / "stage"
    st.mkdir(parents=True, exist_ok=True)
    names = []
    old = time.time() - 60
    for i in range(n):
        name = "%s%05d.json" % (prefix, i)
        p = st / name
        p.write_bytes(make_report(seed, i, broken=i % 5 == 4))
        os.utime(p, (old, old))
        names.append(name)
    return st, names


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


def run_floor(floor, root):
    spool = root / "floor"
    st, names = stage(spool, BURST, "f")
    (spool / "inbox").mkdir()
    for n in names:
        os.rename(st / n, spool / "inbox" / n)
    out = subprocess.run([floor, str(spool)], check=True,
                         capture_output=True, text=True).stdout.split()
    n, secs = int(out[0]), float(out[1])
    assert n == BURST, out
    return n / secs


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench_burst.py BUILD_DIR")
    binary, floor = build(sys.argv[1])
    root = Path(tempfile.mkdtemp(prefix="expensed-bench-"))
    d = None
    try:
        floor_rate = run_floor(floor, root)

        spool = root / "spool"
        (spool / "inbox").mkdir(parents=True)
        cfg = root / "bench.conf"
        write_config(cfg, spool, settle="200ms", rescan="60s")
        st, names = stage(spool, BURST, "b")
        d = Daemon(binary, cfg, root / "daemon.log").start()

        t0 = time.monotonic()
        for n in names:
            os.rename(st / n, spool / "inbox" / n)
        wait_for(lambda: count_archived(spool) >= BURST, 300, 0.01,
                 what="the burst")
        burst_s = time.monotonic() - t0
        burst_rate = BURST / burst_s

        st, names = stage(spool, LONE, "l")
        lat = []
        for n in names:
            res = spool / "accepted" / (n + ".result.json")
            res2 = spool / "rejected" / (n + ".result.json")
            t = time.monotonic()
            os.rename(st / n, spool / "inbox" / n)
            while not (res.exists() or res2.exists()):
                if time.monotonic() - t > 10:
                    raise SystemExit("lone file %s not archived" % n)
                time.sleep(0.0001)
            lat.append((time.monotonic() - t) * 1000)
        lat.sort()
        p50 = lat[len(lat) // 2]
        p99 = lat[int(len(lat) * 0.99) - 1]

        time.sleep(1)
        c0 = cpu_ticks(d.proc.pid)
        time.sleep(5)
        idle_ticks = cpu_ticks(d.proc.pid) - c0
        rss = rss_kb(d.proc.pid)
        anon = rss_kb(d.proc.pid, "RssAnon:")
        rc = d.stop()
        d = None

        hz = os.sysconf("SC_CLK_TCK")
        ratio = burst_rate / floor_rate
        print("== daemon burst benchmark (%d CPUs)" % os.cpu_count())
        print("%-34s %14s   %s" % ("figure", "value", "target"))
        rows = [
            ("burst %d files, files/s" % BURST, "%.0f" % burst_rate, ""),
            ("  (burst wall time, s)", "%.2f" % burst_s, ""),
            ("floor (no inotify/log/fsync), f/s", "%.0f" % floor_rate, ""),
            ("burst / floor", "%.2f" % ratio,
             ">= 0.5 %s" % ("ok" if ratio >= 0.5 else "MISSED")),
            ("lone file latency p50, ms", "%.2f" % p50, ""),
            ("lone file latency p99, ms", "%.2f" % p99,
             "<= 10 %s" % ("ok" if p99 <= 10 else "MISSED")),
            ("idle CPU over 5 s, ms", "%.0f" % (idle_ticks * 1000 / hz),
             "0 %s" % ("ok" if idle_ticks == 0 else "MISSED")),
            ("RSS after the burst, MB", "%.1f" % (rss / 1024),
             "<= 16 %s" % ("ok" if rss <= 16 * 1024 else "MISSED")),
            ("  of which private (RssAnon), MB", "%.1f" % (anon / 1024),
             "(the rest: shared libraries)"),
            ("exit status on SIGTERM", "%d" % rc, "0"),
        ]
        for r in rows:
            print("%-34s %14s   %s" % r)
    finally:
        if d is not None:
            d.cleanup()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()

#!/usr/bin/python3
"""bench_cost.py SRC [SRC...] - what the daemon costs per file, in
figures that a busy machine does not move, against the floor of the same
run (bench/README.md, "The cost benchmark"). Each SRC is a source tree
of expensed (this one: .; another revision: `git archive REV | tar -x -C
DIR`), built with its own `make` into SRC/build. For each:

  syscalls  a 1,000-file burst (20 % rejected, webhook and syslog on) and
            50 lone files under `strace -f`: system calls per file, by
            name; the floor under `strace -f -c` on the same 1,000 files
  instr     a 500-file burst under callgrind (counters zeroed once the
            daemon is idle, dumped once every result is archived and every
            POST received): user-space instructions per file; the floor
            the same (its run on 500 files minus its run on none)
  cpu       a 5,000-file burst without any tracer: the daemon's utime +
            stime per file (noisy, unlike the two above)

Then, with two builds or more, ROUNDS rounds (BENCH_ROUNDS, default 3) of
the wall-time figures of bench_burst.py (burst / floor, lone p50 and p99),
the builds taken in turn within each round, so that the machine's load
weighs on each alike. Needs root (loop mounts), strace and valgrind.
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_burst as bb  # noqa: E402
from benchenv import SyslogSink, fresh_ext4  # noqa: E402
from daemon_util import cpu_ticks  # noqa: E402
from receiver import Receiver  # noqa: E402

SYS_BURST = 1000
SYS_LONE = 50
CG_BURST = 500
CPU_BURST = 5000


def build(src):
    """SRC/build/expensed and SRC/build/bench/floor, made from SRC."""
    src = Path(src).resolve()
    subprocess.run(["make", "--no-print-directory", "-C", str(src), "-j2",
                    "build/expensed"], check=True, stdout=subprocess.DEVNULL)
    b = src / "build"
    out = b / "bench" / "floor"
    out.parent.mkdir(parents=True, exist_ok=True)
    objs = sorted(str(p) for d in ("rules", "common")
                  for p in (b / d).glob("*.o")
                  if (src / d / (p.stem + ".c")).exists())
    objs.append(str(b / "gen" / "builtin_rules.o"))
    subprocess.run(["cc", "-O2", "-std=gnu11", "-D_GNU_SOURCE", "-o",
                    str(out), str(src / "bench" / "floor.c")] + objs +
                   ["-ljansson", "-lcrypto", "-lm"], check=True)
    return str(b / "expensed"), str(out)


def posts_wanted(items):
    return sum(1 for _, data in items if b"139208.94" in data)


def floor_spools(fs, items):
    """An empty spool, and a spool with items in its inbox, for the
    floor's run on nothing and on the files."""
    empty = fs.path / "empty"
    for d in ("inbox", "accepted", "rejected"):
        (empty / d).mkdir(parents=True, exist_ok=True)
    spool = bb.spool_dirs(fs)
    st = bb.stage(fs, items)
    for name, _ in items:
        os.rename(st / name, spool / "inbox" / name)
    return empty, spool


def floor_syscalls(floor, fs, items):
    """System calls per file of the floor: its run on items minus its run
    on an empty inbox (start and end), as {call: n}."""
    def counted(spool, tag):
        out = fs.path / ("floor-%s.strace" % tag)
        subprocess.run(["strace", "-f", "-c", "-o", str(out), floor,
                        str(spool)], check=True, stdout=subprocess.DEVNULL)
        calls = {}
        for line in out.read_text().splitlines():
            parts = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(parts) >= 5 and parts[0][0].isdigit() and \
                    parts[-1] != "total":
                calls[parts[-1]] = int(parts[3])
        return calls
    empty, spool = floor_spools(fs, items)
    base = counted(empty, "empty")
    full = counted(spool, "full")
    return {k: v - base.get(k, 0) for k, v in full.items()
            if v - base.get(k, 0) > 0}


def daemon_syscalls(binary, fs, rcv, bitems, litems):
    res = {}
    bb.phase_strace(binary, fs, rcv, bitems, litems, res, calls=None)
    return res["syncs_burst"], res["syncs_lone"]


def callgrind_total(path):
    """The instruction count of a callgrind dump (its summary line)."""
    for line in Path(path).read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit("no summary in %s" % path)


def floor_instr(floor, fs, items):
    def run(spool, tag):
        out = fs.path / ("floor-%s.cg" % tag)
        subprocess.run(["valgrind", "-q", "--tool=callgrind",
                        "--callgrind-out-file=%s" % out, floor, str(spool)],
                       check=True, stdout=subprocess.DEVNULL)
        return callgrind_total(out)
    empty, spool = floor_spools(fs, items)
    return (run(spool, "full") - run(empty, "empty")) / len(items)


def daemon_instr(binary, fs, rcv, items):
    spool = bb.spool_dirs(fs)
    st = bb.stage(fs, items)
    out = fs.path / "daemon.cg"
    wrapper = ["valgrind", "-q", "--tool=callgrind", "--vgdb=yes",
               "--callgrind-out-file=%s.%%p" % out]
    d, watch = bb.start_daemon(binary, fs, spool, rcv, wrapper)
    d._pid = d.proc.pid  # valgrind runs the daemon in its own process
    try:
        time.sleep(1)
        subprocess.run(["callgrind_control", "-z", str(d.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        want_files = watch.count + len(items)
        want_posts = len(rcv.requests) + posts_wanted(items)
        for name, _ in items:
            os.rename(st / name, spool / "inbox" / name)
        watch.wait(lambda w: w.count >= want_files, 600, "archived")
        watch.wait(lambda w: len(rcv.requests) >= want_posts, 600, "POSTs")
        time.sleep(0.5)
        subprocess.run(["callgrind_control", "-d", str(d.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        d.stop(60)
    finally:
        d.kill()
        watch.close()
    dumps = sorted(fs.path.glob("daemon.cg.%d.*" % d.proc.pid))
    if not dumps:
        raise SystemExit("callgrind wrote no dump")
    return callgrind_total(dumps[0]) / len(items)


def daemon_cpu(binary, fs, rcv, items):
    spool = bb.spool_dirs(fs)
    st = bb.stage(fs, items)
    d, watch = bb.start_daemon(binary, fs, spool, rcv)
    try:
        time.sleep(0.3)
        t0 = cpu_ticks(d.pid)
        bb.burst(spool, st, items, watch, rcv)
        ticks = cpu_ticks(d.pid) - t0
        d.stop()
    finally:
        d.kill()
        watch.close()
    return ticks * 1000 / os.sysconf("SC_CLK_TCK") / len(items)


def floor_cpu(floor, fs, items):
    spool = floor_spools(fs, items)[1]
    p = subprocess.Popen([floor, str(spool)], stdout=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    return (ru.ru_utime + ru.ru_stime) * 1000 / len(items)


def wall_round(binary, floor, root, rcv, items, litems, tag):
    res = {}
    with fresh_ext4(root, "floor" + tag) as fs:
        res["floor"] = bb.run_floor(floor, fs, items)
    with fresh_ext4(root, "burst" + tag) as fs:
        bb.phase_burst(binary, fs, rcv, items, res)
    with fresh_ext4(root, "lone" + tag) as fs:
        bb.phase_lone(binary, fs, rcv, litems, res)
    return (len(items) / res["burst_s"] / res["floor"], res["p50"],
            res["p99"], res["rss"] / 1024)


def fmt_calls(calls, files, top=12):
    n = sum(calls.values())
    best = sorted(calls.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return "%.1f" % (n / files), ", ".join(
        "%s %.2f" % (k, v / files) for k, v in best)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: bench_cost.py SRC [SRC...]")
    builds = [build(b) for b in sys.argv[1:]]
    names = sys.argv[1:]
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    sitems = bb.reports("s", SYS_BURST, rejected_every=5, base=20000)
    slitems = bb.reports("t", SYS_LONE, base=30000)
    citems = bb.reports("c", CG_BURST, rejected_every=5, base=40000)
    bitems = bb.reports("b", CPU_BURST, rejected_every=5)
    litems = bb.reports("l", bb.LONE, base=CPU_BURST)
    root = Path(tempfile.mkdtemp(prefix="expensed-cost-"))
    sink = SyslogSink().start()
    rcv = Receiver()
    rcv.script("/hook", [], default=200)
    with open("/proc/loadavg") as f:
        load0 = " ".join(f.read().split()[:3])
    out = []
    try:
        fl = builds[0][1]
        with fresh_ext4(root, "fsys") as fs:
            f_sys = floor_syscalls(fl, fs, sitems)
        with fresh_ext4(root, "finstr") as fs:
            f_instr = floor_instr(fl, fs, citems)
        with fresh_ext4(root, "fcpu") as fs:
            f_cpu = floor_cpu(fl, fs, bitems)
        for i, (binary, _) in enumerate(builds):
            r = {}
            with fresh_ext4(root, "sys%d" % i) as fs:
                r["sys"], r["sys_lone"] = daemon_syscalls(
                    binary, fs, rcv, sitems, slitems)
            with fresh_ext4(root, "cg%d" % i) as fs:
                r["instr"] = daemon_instr(binary, fs, rcv, citems)
            with fresh_ext4(root, "cpu%d" % i) as fs:
                r["cpu"] = daemon_cpu(binary, fs, rcv, bitems)
            out.append(r)
        walls = [[] for _ in builds]
        if len(builds) > 1:
            for k in range(rounds):
                for i, (binary, floor) in enumerate(builds):
                    walls[i].append(wall_round(binary, floor, root, rcv,
                                               bitems, litems,
                                               "w%d-%d" % (k, i)))
    finally:
        rcv.stop()
        sink.stop()
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)])
    with open("/proc/loadavg") as f:
        load1 = " ".join(f.read().split()[:3])
    print("== daemon cost per file (%d CPUs; load %s at start, %s at end)"
          % (os.cpu_count(), load0, load1))
    fs_n = sum(f_sys.values()) / SYS_BURST
    print("floor: %.1f syscalls/file (%s); %.0f instructions/file; "
          "%.3f CPU ms/file" % (fs_n, fmt_calls(f_sys, SYS_BURST)[1],
                                f_instr, f_cpu))
    for name, r in zip(names, out):
        n, top = fmt_calls(r["sys"], SYS_BURST)
        print("-- %s" % name)
        print("  syscalls/file, %d-file burst   %6s  (x%.2f the floor)"
              % (SYS_BURST, n, float(n) / fs_n))
        print("    " + top)
        n, top = fmt_calls(r["sys_lone"], SYS_LONE)
        print("  syscalls/lone file (%d)         %6s" % (SYS_LONE, n))
        print("    " + top)
        print("  instructions/file, %d burst    %8.0f  (x%.2f the floor)"
              % (CG_BURST, r["instr"], r["instr"] / f_instr))
        print("  CPU ms/file, %d burst         %8.3f  (x%.2f the floor)"
              % (CPU_BURST, r["cpu"], r["cpu"] / f_cpu))
    if len(builds) > 1:
        print("-- wall time, %d rounds, builds in turn: "
              "burst/floor, lone p50 ms, p99 ms, RSS MB" % rounds)
        for name, w in zip(names, walls):
            print("  %-24s %s" % (name, "  ".join(
                "%.2f/%.2f/%.2f/%.1f" % x for x in w)))
            med = [sorted(col)[len(col) // 2] for col in zip(*w)]
            print("  %-24s median %.2f/%.2f/%.2f/%.1f" % ("", *med))


if __name__ == "__main__":
    main()

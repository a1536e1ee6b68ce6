#!/usr/bin/python3
"""bench_collide.py BUILD_DIR - `expensed check` on a report of 150,000
missions whose ids all share one bucket under the old unkeyed FNV-1a hash
(BUILD_DIR/tests/gen_collide, tests/collide/gen_collide.c), against the same
report with ordinary ids of the same length. A measurement, not a test: it
prints both times (best of 3) and their ratio, target <= 2 (docs/costs.md).
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
N = 150000


def report(ids):
    return json.dumps({"id": "collide", "missions": [
        {"id": i} for i in ids]}).encode()


def best_of(exe, path, rounds=3):
    best = None
    env = dict(os.environ)
    env.pop("EXPENSED_CONFIG", None)
    for _ in range(rounds):
        start = time.monotonic()
        p = subprocess.run([exe, "check", "--format", "json", str(path)],
                           stdout=subprocess.DEVNULL, env=env)
        took = time.monotonic() - start
        if p.returncode not in (0, 1):
            sys.exit("bench_collide: check exited %d" % p.returncode)
        best = took if best is None else min(best, took)
    return best


def main(argv):
    build = Path(argv[1] if len(argv) > 1 else "build").resolve()
    exe = build / "expensed"
    gen = build / "tests" / "gen_collide"
    subprocess.run(["make", "--no-print-directory", "BUILD=%s" % build,
                    str(exe), str(gen)], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    colliding = subprocess.run([str(gen), str(N)], check=True,
                               capture_output=True).stdout.decode().split()
    assert len(colliding) == N
    ordinary = ["m-%07d-%04x" % (i, (i * 2654435761) & 0xffff)
                for i in range(N)]
    with tempfile.TemporaryDirectory() as tmp:
        a = Path(tmp) / "colliding.json"
        b = Path(tmp) / "ordinary.json"
        a.write_bytes(report(colliding))
        b.write_bytes(report(ordinary))
        tb = best_of(exe, b)
        ta = best_of(exe, a)
    print("  %-34s %10.3f s" % ("check, %d ordinary ids" % N, tb))
    print("  %-34s %10.3f s" % ("check, %d colliding ids" % N, ta))
    print("  %-34s %10.2f    (target <= 2: %s)"
          % ("colliding / ordinary", ta / tb,
             "met" if ta / tb <= 2 else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

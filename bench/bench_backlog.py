#!/usr/bin/python3
"""bench_backlog.py BUILD_DIR - draining a webhook backlog: deliveries/s and
the daemon's CPU per delivery with 100 and with 10,000 deliveries queued,
against a local receiver (loopback, answering 200 at once). A measurement,
not a test: it prints the figures and whether the ratio of CPU per
delivery (10,000 / 100) stays under the target of 1.5.

The deliveries are written into SPOOL/outbox/ before the daemon starts,
due a little after its start; the clock runs from the daemon's "resumed"
log line (or their due time, if later) to an empty outbox. CPU is utime+stime from /proc/PID/stat (clock
ticks; the 100 case is run 20 times and summed, so that ticks are not too
coarse), cross-checked with /proc/PID/schedstat (nanoseconds).
"""
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from daemon_util import cpu_ticks, wait_for  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def sched_ns(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def queue(outbox, n, due_ms):
    body = json.dumps({"type": "report.rejected",
                       "timestamp": "2026-01-01T00:00:00Z",
                       "data": {"file": "x.json", "verdict": "rejected",
                                "pad": "x" * 1500}})
    for i in range(n):
        mid = "msg_%032x" % i
        (outbox / (mid + ".json")).write_text(json.dumps({
            "id": mid, "webhook": "bench", "type": "report.rejected",
            "file": "r%d.json" % i, "claim": "c.%d.r.json" % i,
            "created": "2026-01-01T00:00:00Z", "attempts": 0,
            "due_ms": due_ms, "next_try": "2026-01-01T00:00:00Z",
            "last_error": None, "body": body}, indent=2))


def drain(exe, n, port):
    """One daemon draining n queued deliveries: (seconds, ticks, ns)."""
    with tempfile.TemporaryDirectory(prefix="bench-backlog-") as tmp:
        tmp = Path(tmp)
        spool = tmp / "spool"
        outbox = spool / "outbox"
        (spool / "inbox").mkdir(parents=True)
        outbox.mkdir()
        conf = tmp / "expensed.conf"
        conf.write_text(
            "[spool]\ndirectory = %s\ninbox = %s\n\n[log]\nlevel = info\n\n"
            "[webhook bench]\nurl = http://127.0.0.1:%d/hook\n"
            "format = standard\ntimeout = 10s\nretry = 0s, 1s, 1s\n"
            % (spool, spool / "inbox", port))
        # Due after the start, so that loading is not mixed in.
        due = time.time() + 1.5 + n / 5000
        queue(outbox, n, int(due * 1000))
        log = tmp / "daemon.log"
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        with open(log, "wb") as f:
            p = subprocess.Popen([exe, "run", "-v", "-c", str(conf)],
                                 stdout=f, stderr=f, env=env)
        try:
            wait_for(lambda: "resumed" in log.read_text(), 120,
                     what="the daemon loading its outbox")
            wait_for(lambda: time.time() >= due, 120, 0.001,
                     what="the deliveries' due time")
            t0, c0, s0 = time.monotonic(), cpu_ticks(p.pid), sched_ns(p.pid)
            wait_for(lambda: not any(os.scandir(outbox)), 600, 0.005,
                     what="an empty outbox")
            t1, c1, s1 = time.monotonic(), cpu_ticks(p.pid), sched_ns(p.pid)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        return t1 - t0, c1 - c0, s1 - s0


def main():
    build = Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "build")
    exe = str((build / "expensed").resolve())
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    rows = {}
    for n, runs in ((100, 20), (10000, 1)):
        secs = ticks = ns = 0
        for _ in range(runs):
            s, t, x = drain(exe, n, port)
            secs, ticks, ns = secs + s, ticks + t, ns + x
        total = n * runs
        rows[n] = (total / secs, ticks / TICK / total, ns / 1e9 / total)
        print("%6d queued: %8.0f deliveries/s, CPU %.1f us/delivery "
              "(stat), %.1f us/delivery (schedstat), %d deliveries"
              % (n, rows[n][0], rows[n][1] * 1e6, rows[n][2] * 1e6, total))
    ratio = rows[10000][1] / rows[100][1] if rows[100][1] else float("inf")
    ratio_ns = rows[10000][2] / rows[100][2]
    print("CPU per delivery, 10,000 / 100: %.2f (stat), %.2f (schedstat); "
          "target < 1.5: %s" % (ratio, ratio_ns,
                                "met" if ratio < 1.5 else "NOT met"))
    srv.shutdown()


if __name__ == "__main__":
    main()

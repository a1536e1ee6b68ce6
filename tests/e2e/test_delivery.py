"""End-to-end tests of the outbox's delivery (docs/webhooks.md, "Delivery
and retries", "Several daemons on one spool"): permanent failures go to
dead/ at once with the answer's first bytes, deliveries moved back into
outbox/ are picked up by the running daemon, and two daemons sharing a
spool post each delivery once.

Receivers: receiver.py for plain statuses; BodyReceiver (below) answers a
chosen status with a body, which receiver.py cannot.
"""

import http.server
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from daemon_util import wait_for
from receiver import Receiver


def report(rid, total="1.00"):
    """A report the default rules reject (total does not add up)."""
    return json.dumps({
        "format": "mission-report/1", "id": rid,
        "authority": "Departement des Bouches-du-Rhone",
        "meeting": {"body": "Commission permanente", "date": "2017-01-10"},
        "subject": "missions 2017",
        "period": {"start": "2017-01-01", "end": "2017-12-31"},
        "currency": "EUR", "total": total,
        "missions": [{
            "id": "m1", "destination": "Genoa", "country": "IT",
            "start": "2017-03-01", "end": "2017-03-03",
            "delegation": {"size": 1, "councillors": 1, "guests": 0,
                           "staff": 0},
            "cost": "300.00"}],
    }).encode()


class BodyReceiver:
    """HTTP on 127.0.0.1 answering every POST with (status, body);
    records (webhook-id, time) of each request."""

    def __init__(self, status, body):
        self.status, self.body = status, body
        self.requests = []
        self.lock = threading.Lock()
        rcv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with rcv.lock:
                    rcv.requests.append(self.headers.get("webhook-id"))
                self.send_response(rcv.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(rcv.body)))
                self.end_headers()
                self.wfile.write(rcv.body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever,
                         kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self):
        return "http://127.0.0.1:%d/hook" % self.server.server_address[1]

    def got(self):
        with self.lock:
            return list(self.requests)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Spool:
    """A spool, its config and the daemons run on it (one log each)."""

    def __init__(self, tmp_path, exe):
        self.exe, self.dir = exe, tmp_path
        self.spool = tmp_path / "spool"
        self.inbox = self.spool / "inbox"
        self.inbox.mkdir(parents=True)
        self.conf = tmp_path / "expensed.conf"
        self.procs = []

    def configure(self, url, retry="0s, 200ms, 200ms, 500ms"):
        self.conf.write_text(
            "[spool]\ndirectory = %s\ninbox = %s\nsettle = 100ms\n\n"
            "[log]\nlevel = debug\n\n[webhook audit]\nurl = %s\n"
            "format = standard\nevents = rejected, invalid\ntimeout = 5s\n"
            "retry = %s\n" % (self.spool, self.inbox, url, retry))

    def start(self, n=0):
        env = {k: v for k, v in os.environ.items()
               if "proxy" not in k.lower() and k != "EXPENSED_CONFIG"}
        log = open(self.dir / ("daemon%d.log" % n), "ab")
        p = subprocess.Popen([self.exe, "run", "-v", "-c", str(self.conf)],
                             stdin=subprocess.DEVNULL, stdout=log,
                             stderr=log, env=env)
        log.close()
        wait_for(lambda: "started:" in self.log(n) or p.poll() is not None,
                 10, what="daemon start")
        assert p.poll() is None, self.log(n)
        while len(self.procs) <= n:
            self.procs.append(None)
        self.procs[n] = p
        return p

    def log(self, n=0):
        try:
            return (self.dir / ("daemon%d.log" % n)).read_text(
                errors="replace")
        except FileNotFoundError:
            return ""

    def kill9(self, n):
        self.procs[n].send_signal(signal.SIGKILL)
        self.procs[n].wait(10)
        self.procs[n] = None

    def stop(self):
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)

    def drop(self, name, data):
        tmp = self.inbox / (".%s.part" % name)
        tmp.write_bytes(data)
        os.rename(tmp, self.inbox / name)

    def names(self, sub):
        d = self.spool / sub
        return sorted(n for n in os.listdir(d)
                      if not n.startswith(".")) if d.exists() else []


@pytest.fixture
def sp(tmp_path, expensed_bin):
    s = Spool(tmp_path, expensed_bin)
    try:
        yield s
    finally:
        s.stop()


@pytest.mark.parametrize("status", [400, 413, 422])
def test_permanent_failure_is_dead_at_once(sp, status):
    answer = ("refused: payload \u00e9 " + "x" * 400).encode()
    rcv = BodyReceiver(status, answer)
    try:
        sp.configure(rcv.url())
        sp.start()
        sp.drop("bad.json", report("R-perm"))
        wait_for(lambda: sp.names("dead"), what="a dead delivery")
        d = json.loads((sp.spool / "dead" / sp.names("dead")[0]).read_text())
        assert sp.names("outbox") == []
        assert rcv.got() == [d["id"]]
        assert d["attempts"] == 1
        err = d["last_error"]
        assert err["status"] == status
        assert err["error"] == "HTTP %d" % status
        # The first 256 bytes of the answer, as text.
        assert err["answer"].encode() == answer[:256]
        wait_for(lambda: "gave up delivery " + d["id"] in sp.log(),
                 what="the err log line")
        # The schedule would have tried again within 200 ms: it did not.
        time.sleep(0.6)
        assert len(rcv.got()) == 1
    finally:
        rcv.stop()


def test_answer_cut_inside_a_character_is_still_text(sp):
    answer = b"a" * 255 + "\u00e9t\u00e9".encode() + b"\x00\xff"
    rcv = BodyReceiver(400, answer)
    try:
        sp.configure(rcv.url())
        sp.start()
        sp.drop("bad.json", report("R-cut"))
        wait_for(lambda: sp.names("dead"), what="a dead delivery")
        d = json.loads((sp.spool / "dead" / sp.names("dead")[0]).read_text())
        assert d["last_error"]["answer"] == "a" * 255 + "\ufffd"
    finally:
        rcv.stop()


def test_server_error_is_retried(sp):
    rcv = BodyReceiver(500, b"try later")
    try:
        sp.configure(rcv.url(), retry="0s, 100ms, 100ms")
        sp.start()
        sp.drop("bad.json", report("R-500"))
        wait_for(lambda: sp.names("dead"), what="a dead delivery")
        d = json.loads((sp.spool / "dead" / sp.names("dead")[0]).read_text())
        assert rcv.got() == [d["id"]] * 3
        assert d["attempts"] == 3
        assert d["last_error"]["status"] == 500
        assert d["last_error"]["answer"] == "try later"
    finally:
        rcv.stop()


def test_retry_after_http_date(sp):
    """libcurl reads Retry-After as a date too."""
    rcv = Receiver()
    try:
        when = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                             time.gmtime(time.time() + 3))
        rcv.script("/hook", [(503, {"Retry-After": when})])
        sp.configure(rcv.url(), retry="0s, 100ms, 100ms")
        sp.start()
        sp.drop("busy.json", report("R-busy"))
        reqs = rcv.wait(lambda rs: len(rs) >= 2 and rs, timeout=15,
                        what="a second try")
        assert [r.answer for r in reqs] == [503, 204]
        # the date has a one-second resolution
        assert reqs[1].time - reqs[0].time >= 1.0
    finally:
        rcv.stop()


def test_first_try_waits_its_whole_first_delay(sp):
    """retry[0] counts from when the file was judged, in milliseconds:
    the first try never comes before the drop + retry[0]. A due time
    counted from the second the judging began in came up to a second
    early: dropped 0.05 to 0.4 s into a second, the file's first try came
    0.6 to 0.95 s after the drop."""
    rcv = Receiver()
    try:
        sp.configure(rcv.url(), retry="1s, 100ms")
        sp.start()
        for i in range(2):
            wait_for(lambda: 0.05 <= time.time() % 1 <= 0.4, timeout=2,
                     interval=0.005, what="early in a second")
            t0 = time.monotonic()
            sp.drop("late%d.json" % i, report("R-late%d" % i))
            reqs = rcv.wait(lambda rs, i=i: len(rs) > i and rs, timeout=10,
                            what="the first try")
            assert reqs[i].time - t0 >= 1.0, reqs[i].time - t0
            assert reqs[i].answer == 204
    finally:
        rcv.stop()


def test_requeued_delivery_is_picked_up_within_a_second(sp):
    rcv = Receiver()
    try:
        rcv.script("/hook", [410])
        sp.configure(rcv.url())
        sp.start()
        sp.drop("bad.json", report("R-requeue"))
        wait_for(lambda: sp.names("dead"), what="a dead delivery")
        name = sp.names("dead")[0]
        d = json.loads((sp.spool / "dead" / name).read_text())
        # Sent back by hand: fresh schedule, same id, renamed in.
        d["attempts"] = 0
        d["due_ms"] = 0
        tmp = sp.spool / "dead" / (".%s.tmp" % name)
        tmp.write_text(json.dumps(d))
        os.rename(tmp, sp.spool / "dead" / name)
        t0 = time.monotonic()
        os.rename(sp.spool / "dead" / name, sp.spool / "outbox" / name)
        reqs = rcv.wait(lambda rs: len(rs) == 2 and rs[1].answer and rs,
                        timeout=1.0, what="the requeued delivery")
        assert reqs[1].time - t0 < 1.0
        assert [r.id for r in reqs] == [d["id"], d["id"]]
        assert reqs[1].answer == 204
        wait_for(lambda: sp.names("outbox") == [], what="an empty outbox")
        assert sp.names("dead") == []
    finally:
        rcv.stop()


def shared_burst(sp, rcv, n, kill=None):
    """Daemon 0 queues n deliveries while the receiver fails them; daemon 1
    starts on the same spool (and loads them all too); then the receiver
    takes them. kill: the daemon to kill -9 mid-burst, and restart.
    Returns the ids allowed to be delivered twice: a delivery is posted
    again only if its file was still in outbox/ when its daemon died (in
    flight, or answered but not yet removed: at least once)."""
    sp.configure(rcv.url(), retry=", ".join(["0s"] + ["300ms"] * 40))
    rcv.script("/hook", [], default=503)
    sp.start(0)
    for i in range(n):
        sp.drop("r%03d.json" % i, report("R-%03d" % i))
    wait_for(lambda: len(sp.names("outbox")) == n, timeout=30,
             what="every delivery queued")
    sp.start(1)
    wait_for(lambda: "%d pending deliveries resumed" % n in sp.log(1),
             what="daemon 1 loading them")
    rcv.script("/hook", [], default=204)
    allowed = set()
    if kill is not None:
        rcv.wait(lambda rs: len([r for r in rs if r.answer == 204]) >=
                 n // 4, timeout=30, what="a quarter of the burst")
        # listed before the kill: a superset of the files left at the kill
        # (delivery files only go away), however slow the machine
        allowed = {name[:-len(".json")] for name in sp.names("outbox")}
        sp.kill9(kill)
        sp.start(kill)
    rcv.wait(lambda rs: len({r.id for r in rs if r.answer == 204}) == n,
             timeout=60, what="every delivery")
    wait_for(lambda: sp.names("outbox") == [], timeout=30,
             what="an empty outbox")
    return allowed


def check_once(rcv, n, allowed):
    ids = [r.id for r in rcv.got() if r.answer == 204]
    assert len(set(ids)) == n
    twice = {i for i in ids if ids.count(i) > 1}
    assert twice <= allowed, (twice, allowed)
    # at most the killed daemon's transfers in flight (4 per webhook)
    assert len(twice) <= 4, twice


def test_two_daemons_share_one_spool(sp):
    rcv = Receiver()
    try:
        shared_burst(sp, rcv, 60)
        check_once(rcv, 60, set())
        assert sp.names("dead") == []
        time.sleep(1.5)  # a daemon that lost a lock looks again after 1 s
        check_once(rcv, 60, set())
    finally:
        rcv.stop()


@pytest.mark.parametrize("victim", [0, 1])
def test_two_daemons_share_one_spool_across_kill9(sp, victim):
    rcv = Receiver()
    try:
        allowed = shared_burst(sp, rcv, 60, kill=victim)
        check_once(rcv, 60, allowed)
        assert sp.names("dead") == []
    finally:
        rcv.stop()


def pending_delivery(sp, rcv):
    """A delivery that failed its first try and waits for its second
    (retry 300 ms, then 1 s): its file name in outbox/."""
    sp.configure(rcv.url(), retry="0s, 300ms, 1s, 1s")
    sp.start()
    sp.drop("first.json", report("R-first"))
    wait_for(lambda: len(rcv.got()) == 1, what="the first try")
    wait_for(lambda: "try 1 failed" in sp.log(), what="its failure")
    return sp.names("outbox")[0]


def test_fifo_in_outbox_does_not_stop_the_daemon(sp):
    """A FIFO in outbox/ (mkfifo, renamed in; or over a pending delivery's
    file) is no delivery: reading it must not wait for a writer. Opened
    without O_NONBLOCK, the loader and the lock blocked the daemon's loop
    for good: nothing judged or sent any more, and under systemd the
    watchdog's restarts hung again at loading."""
    rcv = BodyReceiver(503, b"busy")
    try:
        name = pending_delivery(sp, rcv)
        out = sp.spool / "outbox"
        os.mkfifo(out / ".fifo1")
        os.rename(out / ".fifo1", out / ("msg_" + "0" * 32 + ".json"))
        os.mkfifo(out / ".fifo2")
        os.rename(out / ".fifo2", out / name)  # over the pending delivery
        # its second try came: the FIFO opened, refused, the delivery given
        # up (test_delivery_file_replaced_by_no_delivery)
        wait_for(lambda: "gave up delivery" in sp.log(), timeout=5,
                 what="the pending delivery's next try")
        rcv.status = 204
        sp.drop("second.json", report("R-second"))
        wait_for(lambda: "second.json: rejected" in sp.log(), timeout=5,
                 what="the next file judged")
        wait_for(lambda: len(set(rcv.got())) == 2, timeout=5,
                 what="the next file's alert")
    finally:
        rcv.stop()


@pytest.mark.parametrize("what", ["junk", "symlink", "fifo"])
def test_delivery_file_replaced_by_no_delivery(sp, what):
    """A pending delivery's file replaced (another inode) by one that is
    no delivery (not JSON, a symlink, a FIFO): when its next try comes,
    the delivery as the daemon last read it goes to dead/ (from where
    `expensed requeue` sends it again), logged once. It was put back for
    a second later, and logged at warning ("cannot lock ...: Invalid
    argument"), every second for as long as the daemon ran."""
    rcv = BodyReceiver(503, b"busy")
    try:
        name = pending_delivery(sp, rcv)
        out = sp.spool / "outbox"
        before = json.loads((out / name).read_text())
        if what == "junk":
            (out / ".junk").write_text('{"id": "cut short')
            os.rename(out / ".junk", out / name)
        elif what == "symlink":
            (sp.dir / "elsewhere.json").write_bytes((out / name).read_bytes())
            os.symlink(sp.dir / "elsewhere.json", out / ".link")
            os.rename(out / ".link", out / name)
        else:
            os.mkfifo(out / ".fifo")
            os.rename(out / ".fifo", out / name)
        # logged once it is in dead/ and out of outbox/ (give_up())
        wait_for(lambda: "gave up delivery" in sp.log(), timeout=5,
                 what="the delivery given up")
        assert sp.names("dead") == [name]
        assert sp.names("outbox") == []
        d = json.loads((sp.spool / "dead" / name).read_text())
        assert (d["id"], d["body"], d["attempts"]) == \
            (before["id"], before["body"], 1)
        assert "no delivery" in d["last_error"]["error"]
        assert "cannot lock" not in sp.log()
        assert sp.log().count("gave up delivery " + d["id"]) == 1
        assert rcv.got() == [d["id"]]
        rcv.status = 204
        subprocess.run([sp.exe, "requeue", "-c", str(sp.conf), "all"],
                       check=True, stdout=subprocess.DEVNULL)
        wait_for(lambda: rcv.got() == [d["id"]] * 2, timeout=5,
                 what="the requeued delivery")
    finally:
        rcv.stop()


def test_attempts_beyond_the_bound_at_load(sp):
    """A delivery file whose attempts a hand edit took near INT_MAX was
    loaded, and its next try counted one more: a signed overflow (UBSan),
    then given up 'after -2147483648 tries'. At load, as when it is read
    again under its lock, more than 1,000,000 tries make it no delivery:
    moved to dead/, said so."""
    rcv = BodyReceiver(503, b"busy")
    try:
        name = pending_delivery(sp, rcv)
        sp.stop()
        path = sp.spool / "outbox" / name
        d = json.loads(path.read_text())
        d["attempts"] = 2147483647
        path.write_text(json.dumps(d))
        sp.procs = []
        sp.start()
        wait_for(lambda: sp.names("dead") == [name], timeout=5,
                 what="the delivery in dead/")
        assert "outbox: %s is not a delivery; moved to dead/" % name \
            in sp.log()
        assert "gave up" not in sp.log()
        assert sp.names("outbox") == []
    finally:
        sp.stop()
        rcv.stop()

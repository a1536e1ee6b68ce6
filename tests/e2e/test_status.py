"""End-to-end tests of `expensed status [-c FILE] [--json]`
(docs/operations.md "expensed status").

A spool built by hand with known files (inbox, claims in work/, archived
reports and results, deliveries in outbox/ and dead/ in the daemon's
format), read by expensed-hooks with its clock fixed by EXPENSED_NOW_MS so
that every age is exact; then a real daemon on a real spool, with a webhook
whose receiver answers 410 (a dead delivery); and the errors (exit 2).
"""
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daemon_util import (Daemon, SHIPPED_RULES, hooks_binary,  # noqa: E402
                         seed_path, wait_for, write_config)
from receiver import Receiver  # noqa: E402

TOKEN = "0123456789abcdef"


def status(binary, conf, *args, now_ms=None):
    env = {k: v for k, v in os.environ.items()
           if "proxy" not in k.lower() and k != "EXPENSED_CONFIG"}
    if now_ms is not None:
        env["EXPENSED_NOW_MS"] = str(now_ms)
    return subprocess.run([binary, "status", "-c", str(conf)] + list(args),
                          capture_output=True, text=True, timeout=30,
                          env=env)


def ctime_ms(path):
    return os.lstat(path).st_ctime_ns // 1000000


def iso(ms):
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def delivery(msg, hook, webhook_last=False):
    """A delivery file as outbox.c writes it (or with "webhook" last, as
    another writer might)."""
    keys = [("id", msg), ("webhook", hook), ("type", "report.rejected"),
            ("file", "a.json"), ("claim", "c%s.00000001.a.json" % TOKEN),
            ("created", "2024-05-01T12:00:00Z"), ("attempts", 1),
            ("due_ms", 1714564800000), ("next_try", "2024-05-01T12:00:00Z"),
            ("last_error", None), ("body", '{"type": "report.rejected"}')]
    if webhook_last:
        keys = [k for k in keys if k[0] != "webhook"] + [("webhook", hook)]
    return json.dumps(dict(keys), indent=2) + "\n"


def build_spool(tmp_path):
    """The spool of the hand-built tests; returns (conf, spool, times)."""
    spool = tmp_path / "spool"
    for d in ("inbox", "work", "accepted", "rejected", "outbox", "dead",
              "state"):
        (spool / d).mkdir(parents=True)
    conf = tmp_path / "expensed.conf"
    conf.write_text("[spool]\ndirectory = spool\nsettle = 1s\nrescan = 10s\n"
                    "[webhook audit]\nurl = http://127.0.0.1:9/a\n"
                    "[webhook chat]\nurl = http://127.0.0.1:9/c\n")
    inbox = spool / "inbox"
    for n in ("a.json", "b.json", "notes.txt"):
        (inbox / n).write_text("{}")
    # left alone by the daemon, so not counted: in progress
    for n in (".hidden.json", "c.json.part", "d.json.tmp", "e.json.swp",
              "f.json~"):
        (inbox / n).write_text("{}")
    # an old modification time does not make a file old in the inbox
    os.utime(inbox / "b.json", (1000000000, 1000000000))
    work = spool / "work"
    k1, k2, k3 = ("%s.%08x" % (TOKEN, i) for i in (1, 2, 3))
    for n in ("c%s.a.json" % k1, "r%s.r.a.json" % k1,   # one file, two names
              "c%s.b.json" % k2,
              "r%s.a.z.json" % k3,                      # its result left
              "not-ours"):
        (work / n).write_text("{}")
    acc, rej = spool / "accepted", spool / "rejected"
    for n in ("r1.json", "r2.json", "r2.1.json", "notes.txt"):
        (acc / n).write_text("{}")
        (acc / (n + ".result.json")).write_text("{}")
    for n in ("bad.json", "broken.json"):
        (rej / n).write_text("{}")
        (rej / (n + ".result.json")).write_text("{}")
    out, dead = spool / "outbox", spool / "dead"
    (out / "msg_01.json").write_text(delivery("msg_01", "audit"))
    (out / "msg_02.json").write_text(delivery("msg_02", "audit",
                                              webhook_last=True))
    (out / "msg_03.json").write_text(delivery("msg_03", "zeta"))
    (out / ".msg_04.tmp").write_text("{")          # being written
    for i in (5, 6, 7):
        (dead / ("msg_0%d.json" % i)).write_text(
            delivery("msg_0%d" % i, "audit"))
    (dead / "junk.json").write_text("{not json")
    # a stale owner lock: its daemon died (kill -9); nobody holds it
    (spool / "state" / ("owner-%s.lock" % TOKEN)).write_text("4242\n")
    (spool / "state" / "accepted-ids").write_text("")
    return conf, spool


def set_verdict_times(spool, newest_ms):
    """The results' modification times: the newest one in rejected/."""
    # integer nanoseconds: a float of seconds can land a nanosecond short
    # of the millisecond meant
    older = (newest_ms - 3600000) * 1000000
    for p in (spool / "accepted").glob("*.result.json"):
        os.utime(p, ns=(older, older))
    t = newest_ms * 1000000
    os.utime(spool / "rejected" / "bad.json.result.json", ns=(t, t))
    os.utime(spool / "rejected" / "broken.json.result.json",
             ns=(older, older))


def oldest(spool, d, names):
    return min(ctime_ms(spool / d / n) for n in names)


def test_known_spool(expensed_bin, tmp_path):
    hooks = hooks_binary(expensed_bin)
    conf, spool = build_spool(tmp_path)
    inbox_t = oldest(spool, "inbox", ["a.json", "b.json", "notes.txt"])
    work_t = oldest(spool, "work", [n for n in os.listdir(spool / "work")
                                    if n != "not-ours"])
    assert 0 <= work_t - inbox_t < 400
    now = inbox_t + 30500           # 30.5 s after the first file arrived
    verdict = now - (4 * 60 + 2) * 1000 - 300
    set_verdict_times(spool, verdict)

    r = status(hooks, conf, now_ms=now)
    assert r.stderr == ""
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "! no daemon holds the spool",
        "! a file has waited 30s in inbox/ (more than 20s)",
        "! a file has waited 30s in work/ (more than 20s)",
        "! 3 dead deliveries (webhook audit)",
        "! 1 file in dead/ that is no delivery",
        "spool         %s" % spool,
        "daemon        not running",
        "inbox         3 files, oldest 30s",
        "work          3 files, oldest 30s",
        "accepted      4 files",
        "rejected      2 files",
        "outbox        3 deliveries (audit 2, chat 0, zeta 1)",
        "dead          4 deliveries (audit 3, chat 0, zeta 0, no delivery 1)",
        "last verdict  %s (4m 2s ago)" % iso(verdict),
    ]

    r = status(hooks, conf, "--json", now_ms=now)
    assert r.returncode == 1 and r.stderr == ""
    assert json.loads(r.stdout) == {
        "spool": str(spool),
        "ok": False,
        "problems": [
            {"code": "no-daemon", "text": "no daemon holds the spool"},
            {"code": "inbox-stale",
             "text": "a file has waited 30s in inbox/ (more than 20s)"},
            {"code": "work-stale",
             "text": "a file has waited 30s in work/ (more than 20s)"},
            {"code": "dead-deliveries",
             "text": "3 dead deliveries (webhook audit)"},
            {"code": "dead-other",
             "text": "1 file in dead/ that is no delivery"},
        ],
        "daemon": {"running": False, "pids": []},
        "inbox": {"files": 3, "oldest_age_ms": now - inbox_t,
                  "missing": False},
        "work": {"files": 3, "oldest_age_ms": now - work_t},
        "accepted": {"files": 4},
        "rejected": {"files": 2},
        "outbox": {"files": 3, "webhooks": {"audit": 2, "chat": 0,
                                            "zeta": 1}, "other": 0},
        "dead": {"files": 4, "webhooks": {"audit": 3, "chat": 0, "zeta": 0},
                 "other": 1},
        "last_verdict": {"time": iso(verdict), "age_ms": now - verdict},
        "stale_after_ms": 20000,
    }
    # the keys come in the documented order
    assert list(json.loads(r.stdout)) == [
        "spool", "ok", "problems", "daemon", "inbox", "work", "accepted",
        "rejected", "outbox", "dead", "last_verdict", "stale_after_ms"]


def test_threshold_is_ten_settles_and_a_rescan(expensed_bin, tmp_path):
    hooks = hooks_binary(expensed_bin)
    conf, spool = build_spool(tmp_path)
    for n in os.listdir(spool / "dead"):
        os.unlink(spool / "dead" / n)
    inbox_t = oldest(spool, "inbox", ["a.json", "b.json", "notes.txt"])
    work_t = oldest(spool, "work", [n for n in os.listdir(spool / "work")
                                    if n != "not-ours"])
    # exactly the limit is not stale yet; the work/ file is younger still
    r = status(hooks, conf, now_ms=inbox_t + 20000)
    assert r.stdout.splitlines()[:2] == ["! no daemon holds the spool",
                                         "spool         %s" % spool]
    assert "dead          0 deliveries (audit 0, chat 0, zeta 0)" \
        in r.stdout.splitlines()
    assert r.returncode == 1
    # one millisecond more is
    r = status(hooks, conf, now_ms=max(inbox_t, work_t) + 20001)
    assert [ln for ln in r.stdout.splitlines() if ln.startswith("!")] == [
        "! no daemon holds the spool",
        "! a file has waited 20s in inbox/ (more than 20s)",
        "! a file has waited 20s in work/ (more than 20s)",
    ]


def test_running_daemon_and_dead_delivery(expensed_bin, tmp_path):
    """A real daemon: it holds the spool (its pid is shown), judges a file
    whose delivery is refused for good (410), and status says so; stopped
    by kill -9, its lock file stays but nobody holds it."""
    rcv = Receiver()
    rcv.script("/hook", [], default=410)
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    conf = tmp_path / "expensed.conf"
    write_config(conf, spool, rules=SHIPPED_RULES,
                 extra="[webhook audit]\nurl = %s\nretry = 0s\n"
                       % rcv.url("/hook"))
    d = Daemon(expensed_bin, conf, tmp_path / "daemon.log")
    try:
        d.start()
        (spool / "inbox" / "broken.json").write_text("{not json")
        wait_for(lambda: (spool / "dead").is_dir() and
                 len(os.listdir(spool / "dead")) == 1, what="a dead delivery")
        # the delivery may die before the file is archived: wait for both
        result = spool / "rejected" / "broken.json.result.json"
        wait_for(result.exists, what="the archived result")
        mtime = os.stat(result).st_mtime_ns // 1000000
        r = status(expensed_bin, conf)
        assert r.returncode == 1 and r.stderr == ""
        lines = r.stdout.splitlines()
        assert lines[:-1] == [
            "! 1 dead delivery (webhook audit)",
            "spool         %s" % spool,
            "daemon        running (pid %d)" % d.proc.pid,
            "inbox         0 files",
            "work          0 files",
            "accepted      0 files",
            "rejected      1 file",
            "outbox        0 deliveries (audit 0)",
            "dead          1 delivery (audit 1)",
        ]
        assert lines[-1].startswith("last verdict  %s (" % iso(mtime))
        j = json.loads(status(expensed_bin, conf, "--json").stdout)
        assert j["ok"] is False
        assert j["daemon"] == {"running": True, "pids": [d.proc.pid]}
        assert j["dead"] == {"files": 1, "webhooks": {"audit": 1},
                             "other": 0}
        assert j["last_verdict"]["time"] == iso(mtime)
        assert j["problems"] == [{"code": "dead-deliveries",
                                  "text": "1 dead delivery (webhook audit)"}]
        # the lock was only tested: the daemon still judges
        (spool / "inbox" / "second.json").write_text("{not json")
        wait_for(lambda: (spool / "rejected" / "second.json.result.json")
                 .exists(), what="the second file judged")
        wait_for(lambda: len(os.listdir(spool / "dead")) == 2,
                 what="the second dead delivery")
        d.kill9()
        assert any(n.startswith("owner-")
                   for n in os.listdir(spool / "state"))
        r = status(expensed_bin, conf)
        assert r.returncode == 1
        assert r.stdout.splitlines()[:3] == [
            "! no daemon holds the spool",
            "! 2 dead deliveries (webhook audit)",
            "spool         %s" % spool]
        assert "daemon        not running" in r.stdout.splitlines()
    finally:
        d.cleanup()
        rcv.stop()


def test_all_well_is_zero(expensed_bin, tmp_path):
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    conf = tmp_path / "expensed.conf"
    write_config(conf, spool, rules=SHIPPED_RULES)
    d = Daemon(expensed_bin, conf, tmp_path / "daemon.log")
    try:
        d.start()
        (spool / "inbox" / "r36.json").write_bytes(seed_path().read_bytes())
        wait_for(lambda: (spool / "accepted" / "r36.json.result.json")
                 .exists(), what="the report accepted")
        r = status(expensed_bin, conf)
        assert r.stderr == ""
        assert r.returncode == 0, r.stdout
        assert r.stdout.splitlines()[:-1] == [
            "spool         %s" % spool,
            "daemon        running (pid %d)" % d.proc.pid,
            "inbox         0 files",
            "work          0 files",
            "accepted      1 file",
            "rejected      0 files",
            "outbox        0 deliveries",
            "dead          0 deliveries",
        ]
        j = json.loads(status(expensed_bin, conf, "--json").stdout)
        assert j["ok"] is True and j["problems"] == []
        assert j["outbox"] == {"files": 0, "webhooks": {}, "other": 0}
    finally:
        d.stop()
        d.cleanup()


def test_missing_spool_is_an_error(expensed_bin, tmp_path):
    conf = tmp_path / "expensed.conf"
    conf.write_text("[spool]\ndirectory = nowhere\n")
    for args in ([], ["--json"]):
        r = status(expensed_bin, conf, *args)
        assert r.returncode == 2
        assert r.stdout == ""
        assert r.stderr == ("expensed: spool directory %s does not exist\n"
                            % (tmp_path / "nowhere"))


def test_missing_inbox_needs_a_person(expensed_bin, tmp_path):
    conf, spool = build_spool(tmp_path)
    os.rename(spool / "inbox", tmp_path / "gone")
    r = status(expensed_bin, conf)
    assert r.returncode == 1
    assert "! the inbox %s is missing" % (spool / "inbox") in r.stdout
    assert "inbox         missing" in r.stdout.splitlines()
    j = json.loads(status(expensed_bin, conf, "--json").stdout)
    assert j["inbox"] == {"files": 0, "oldest_age_ms": None, "missing": True}


def test_config_and_option_errors(expensed_bin, tmp_path):
    conf = tmp_path / "expensed.conf"
    conf.write_text("[spool]\nsettle = soon\n")
    r = status(expensed_bin, conf)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.endswith("expensed: configuration has errors\n")
    r = status(expensed_bin, tmp_path / "none.conf")
    assert r.returncode == 2 and r.stdout == ""
    r = subprocess.run([expensed_bin, "status", "--bogus"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr.startswith("expensed: ")
    r = subprocess.run([expensed_bin, "status", "extra"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr.startswith("expensed: status: unexpected argument")
    r = subprocess.run([expensed_bin, "status", "--help"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert r.stdout == "usage: expensed status [-c FILE] [--json]\n"


def test_owner_lock_that_is_a_fifo(expensed_bin, tmp_path):
    """An owner lock replaced by a FIFO (by hand): `status` opened it
    without O_NONBLOCK and waited for a writer for good. It is no daemon's
    lock: no daemon holds the spool."""
    conf, spool = build_spool(tmp_path)
    lock = spool / "state" / ("owner-%s.lock" % TOKEN)
    lock.unlink()
    os.mkfifo(lock)
    r = status(expensed_bin, conf)
    assert r.returncode == 1, r.stdout
    assert r.stdout.splitlines()[0] == "! no daemon holds the spool"

"""End-to-end tests of `expensed run` (docs/operations.md): the real binary on a
real spool under tmp_path, config with settle = 200ms and rescan = 1s.

The life of a file (verdicts, unsafe inputs, names), bursts with inotify
overflow, kill -9 recovery, report.duplicate, SIGHUP reload, SIGTERM,
sd_notify, a removed and recreated inbox, and two daemons on one spool.
"""
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from daemon_util import (SHIPPED_RULES, VERDICT_LINE, Daemon, archived,
                         count_archived, cpu_ticks, drop, hooks_binary,
                         make_report, result, seed_path, wait_for,
                         write_config)

SEED = seed_path().read_bytes()
SEED_ID = json.loads(SEED)["id"]
MAX_EVENTS = Path("/proc/sys/fs/inotify/max_queued_events")


def wait_archived(spool, name, timeout=10):
    return wait_for(lambda: result(spool, name), timeout,
                    what="%s to be archived" % name)


def only_finding(doc):
    assert doc["verdict"] == "invalid"
    assert doc["errors"] == 1 and len(doc["findings"]) == 1
    f = doc["findings"][0]
    assert f["severity"] == "error" and f["path"] == ""
    return f["rule"]


def test_seed_accepted(spool, start_daemon):
    start_daemon(spool)
    drop(spool, "rapport-36.json", SEED)
    doc = wait_archived(spool, "rapport-36.json")
    assert doc["verdict"] == "accepted"
    assert doc["file"] == "rapport-36.json"
    assert doc["report_id"] == SEED_ID
    assert doc["errors"] == 0 and doc["warnings"] == 5
    assert sorted(f["rule"] for f in doc["findings"]) == sorted(
        ["ratification.retroactive"] * 3 +
        ["cost.per_participant", "cost.per_participant_day"])
    assert doc["archived_as"] == "accepted/rapport-36.json"
    acc = spool / "accepted"
    assert (acc / "rapport-36.json").read_bytes() == SEED
    assert sorted(os.listdir(acc)) == ["rapport-36.json",
                                       "rapport-36.json.result.html",
                                       "rapport-36.json.result.json"]
    assert os.listdir(spool / "inbox") == []
    assert os.listdir(spool / "work") == []


def test_broken_total_rejected(spool, start_daemon):
    d = start_daemon(spool)
    doc = json.loads(SEED)
    doc["total"] = "139208.94"
    drop(spool, "broken.json", json.dumps(doc))
    res = wait_archived(spool, "broken.json")
    assert res["verdict"] == "rejected"
    assert res["archived_as"] == "rejected/broken.json"
    errors = [f for f in res["findings"] if f["severity"] == "error"]
    assert [(f["rule"], f["path"]) for f in errors] == [
        ("total.missions", "/total")]
    assert (spool / "rejected" / "broken.json").exists()
    text = wait_for(lambda: "broken.json: /total: error:" in d.text()
                    and d.text(), 5, what="finding log line")
    assert re.search(r"warning: broken\.json: rejected \(report "
                     r"CD13-CP-2019-02-08-R36, 1 error, 5 warnings\) -> "
                     r"rejected/broken\.json", text)


def test_invalid_inputs(spool, start_daemon, tmp_path):
    d = start_daemon(spool)
    drop(spool, "notjson.json", "this is not JSON\n")
    drop(spool, "empty.json", b"")
    drop(spool, "notes.txt", SEED)
    assert only_finding(wait_archived(spool, "notjson.json")) == "input.json"
    assert only_finding(wait_archived(spool, "empty.json")) == "input.json"
    doc = wait_archived(spool, "notes.txt")
    assert only_finding(doc) == "input.name"
    assert doc["archived_as"] == "rejected/notes.txt"
    # a directory dropped in the inbox: input.file, not recursed into
    sub = tmp_path / "stage-dir"
    sub.mkdir()
    (sub / "inner.json").write_bytes(SEED)
    os.rename(sub, spool / "inbox" / "folder.json")
    assert only_finding(wait_archived(spool, "folder.json")) == "input.file"
    assert not (spool / "accepted" / "inner.json").exists()
    assert "invalid" in d.text()


def test_symlink_never_read(spool, start_daemon, tmp_path):
    marker = "SECRET-MARKER-7f3a9c"
    secret = tmp_path / "outside.json"
    secret.write_text('{"id": "%s"}\n' % marker)
    d = start_daemon(spool)
    os.symlink(secret, spool / "inbox" / "link.json")
    doc = wait_archived(spool, "link.json")
    assert only_finding(doc) == "input.file"
    assert "symbolic link" in doc["findings"][0]["message"]
    assert (spool / "rejected" / "link.json").is_symlink()
    for p in spool.rglob("*.result.json"):
        assert marker not in p.read_text()
    assert marker not in d.text()


def test_fifo_does_not_block(spool, start_daemon):
    start_daemon(spool)
    os.mkfifo(spool / "inbox" / "pipe.json")  # found by a scan (no event)
    drop(spool, "after.json", SEED)
    assert only_finding(wait_archived(spool, "pipe.json")) == "input.file"
    assert wait_archived(spool, "after.json")["verdict"] == "accepted"


def test_oversize(spool, start_daemon):
    start_daemon(spool, max_file_size="1K")
    drop(spool, "big.json", SEED)  # 1622 bytes
    drop(spool, "big.txt", SEED)   # input.name comes before input.size
    doc = wait_archived(spool, "big.json")
    assert only_finding(doc) == "input.size"
    assert doc["size"] == len(SEED)
    assert only_finding(wait_archived(spool, "big.txt")) == "input.name"


def test_newline_in_name_is_escaped(spool, start_daemon):
    d = start_daemon(spool)
    name = "evil\nexpensed[1]: info: forged.json: accepted.json"
    drop(spool, name, "nope")
    doc = wait_archived(spool, name)
    assert only_finding(doc) == "input.json"
    assert doc["file"] == name
    text = wait_for(lambda: "input.json" in d.text() and d.text(), 5,
                    what="log lines")
    assert "evil\\nexpensed[1]: info: forged.json: accepted.json: invalid" \
        in text
    for line in text.splitlines():
        assert not line.startswith("expensed[1]"), line


def test_in_progress_names_left_alone(spool, start_daemon):
    d = start_daemon(spool)
    names = [".hidden.json", "x.json.part", "x.json.tmp", "x.json.swp",
             "x.json~"]
    for n in names:
        (spool / "inbox" / n).write_bytes(SEED)
    drop(spool, "real.json", SEED)
    wait_archived(spool, "real.json")
    # two rescans (1s) later they are all still there, untouched
    rescans = time.monotonic() + 2.5
    wait_for(lambda: time.monotonic() > rescans, 5, what="two rescans")
    assert sorted(os.listdir(spool / "inbox")) == sorted(names)
    assert sorted(archived(spool)) == ["real.json"]
    assert "x.json" not in d.text()


def test_settle_for_scanned_files(spool, start_daemon, tmp_path):
    """A file found only by a scan waits until its mtime is settle old."""
    start_daemon(spool, settle="1500ms")
    p = spool / "inbox" / "slow.json"
    with open(p, "wb") as f:  # never closed-for-write before the scan...
        f.write(SEED)
        f.flush()
        t0 = time.monotonic()
        # ...so only the rescan (1s) can find it, and it is not settled
        wait_for(lambda: time.monotonic() - t0 > 1.2, 3, what="a rescan")
        assert result(spool, "slow.json") is None
        os.utime(p, (time.time() - 10, time.time() - 10))
        wait_archived(spool, "slow.json", 5)


def test_report_duplicate(spool, start_daemon):
    start_daemon(spool)
    drop(spool, "first.json", SEED)
    assert wait_archived(spool, "first.json")["verdict"] == "accepted"
    drop(spool, "second.json", SEED)
    doc = wait_archived(spool, "second.json")
    assert doc["verdict"] == "rejected"
    dup = [f for f in doc["findings"] if f["rule"] == "report.duplicate"]
    assert len(dup) == 1 and doc["errors"] == 1
    assert dup[0]["path"] == "/id" and dup[0]["severity"] == "error"
    assert SEED_ID in dup[0]["message"]
    assert "accepted/first.json" in dup[0]["message"]
    # a rejected report, then its corrected resubmission: not a duplicate
    other = json.loads(SEED)
    other["id"] = "CD13-OTHER-1"
    other["total"] = "1.00"
    drop(spool, "bad.json", json.dumps(other))
    assert wait_archived(spool, "bad.json")["verdict"] == "rejected"
    other["total"] = json.loads(SEED)["total"]
    drop(spool, "bad.json", json.dumps(other))  # same name again
    res = spool / "accepted" / "bad.json.result.json"
    wait_for(res.exists, 10, what="the resubmission")
    doc = json.loads(res.read_text())
    assert doc["verdict"] == "accepted"
    assert doc["archived_as"] == "accepted/bad.json"  # suffixes per dir


def test_ledger_survives_restart(spool, start_daemon, expensed_bin,
                                 tmp_path):
    d = start_daemon(spool)
    drop(spool, "one.json", SEED)
    wait_archived(spool, "one.json")
    assert d.stop() == 0
    d2 = Daemon(expensed_bin, d.config, tmp_path / "d2.log").start()
    try:
        drop(spool, "two.json", SEED)
        doc = wait_archived(spool, "two.json")
        assert [f["rule"] for f in doc["findings"]
                if f["severity"] == "error"] == ["report.duplicate"]
    finally:
        d2.cleanup()


def test_ledger_line_removed_by_hand(spool, start_daemon):
    """An administrator removes an accepted id's line from the ledger (as
    an editor saves: a new file renamed over it) while the daemon runs:
    the report is accepted again, and the line of that acceptance goes to
    the file now at the ledger's name."""
    start_daemon(spool)
    other = json.loads(SEED)
    other["id"] = "CD13-KEPT-1"
    drop(spool, "kept.json", json.dumps(other))
    assert wait_archived(spool, "kept.json")["verdict"] == "accepted"
    drop(spool, "one.json", SEED)
    assert wait_archived(spool, "one.json")["verdict"] == "accepted"
    ledger = spool / "state" / "accepted-ids"
    lines = ledger.read_text().splitlines(keepends=True)
    assert [x.split("\t")[0] for x in lines] == ["CD13-KEPT-1", SEED_ID]
    edited = spool / "state" / "accepted-ids.edited"
    edited.write_text(lines[0])
    os.rename(edited, ledger)
    drop(spool, "two.json", SEED)
    doc = wait_archived(spool, "two.json")
    assert doc["verdict"] == "accepted" and doc["errors"] == 0
    lines = ledger.read_text().splitlines()
    assert [x.split("\t")[0] for x in lines] == ["CD13-KEPT-1", SEED_ID]
    assert lines[1].endswith("\taccepted/two.json")
    drop(spool, "kept2.json", json.dumps(other))
    doc = wait_archived(spool, "kept2.json")
    assert [f["rule"] for f in doc["findings"]
            if f["severity"] == "error"] == ["report.duplicate"]


def test_same_name_twice_gets_suffix(spool, start_daemon):
    start_daemon(spool)
    broken = SEED.replace(b'"total": "139108.94"', b'"total": "1"')
    drop(spool, "r.json", broken)
    wait_archived(spool, "r.json")
    drop(spool, "r.json", broken)
    doc = wait_for(lambda: result(spool, "r.1.json"), 10, what="r.1.json")
    assert doc["archived_as"] == "rejected/r.1.json"
    assert doc["file"] == "r.json"
    assert sorted(os.listdir(spool / "rejected")) == [
        "r.1.json", "r.1.json.result.html", "r.1.json.result.json",
        "r.json", "r.json.result.html", "r.json.result.json"]


def test_reload_rules(spool, start_daemon, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.rules").write_text(SHIPPED_RULES.read_text())
    d = start_daemon(spool, rules=rules)
    drop(spool, "r1.json", make_report(SEED, 1))
    assert wait_archived(spool, "r1.json")["verdict"] == "accepted"

    (rules / "b.rules").write_text("[broken]\ntype = nonsense\n")
    d.signal(signal.SIGHUP)
    wait_for(lambda: "reload failed" in d.text(), 5, what="reload failure")
    assert "b.rules:" in d.text()
    drop(spool, "r2.json", make_report(SEED, 2))
    assert wait_archived(spool, "r2.json")["verdict"] == "accepted"

    (rules / "b.rules").write_text(
        "[currency.usd]\ntype = enum\nitems = /currency\nvalues = USD\n")
    d.signal(signal.SIGHUP)
    wait_for(lambda: "reloaded:" in d.text(), 5, what="reload")
    drop(spool, "r3.json", make_report(SEED, 3))
    doc = wait_archived(spool, "r3.json")
    assert doc["verdict"] == "rejected"
    assert [f["rule"] for f in doc["findings"]
            if f["severity"] == "error"] == ["currency.usd"]
    assert d.stop() == 0


def test_reload_keeps_the_inbox_of_the_spool_kept(spool, start_daemon,
                                                   tmp_path):
    """A new spool directory needs a restart: the reload says so and keeps
    the spool. The inbox left to its default (DIRECTORY/inbox) stays that
    spool's too: it followed the new directory, so that the daemon watched
    another spool's inbox, claimed its files into the old spool's work/,
    and no longer took the files dropped where it says it still is."""
    conf = tmp_path / "d.conf"
    conf.write_text("[spool]\ndirectory = %s\nsettle = 200ms\n"
                    "rescan = 1s\n" % spool)
    d = start_daemon(spool)
    other = tmp_path / "other"
    (other / "inbox").mkdir(parents=True)
    conf.write_text("[spool]\ndirectory = %s\nsettle = 200ms\n"
                    "rescan = 1s\n" % other)
    d.signal(signal.SIGHUP)
    wait_for(lambda: "reloaded:" in d.text(), 5, what="reload")
    assert ("spool directory change to %s needs a restart; still using %s"
            % (other, spool)) in d.text()
    drop(spool, "r1.json", make_report(SEED, 1))
    assert wait_archived(spool, "r1.json")["verdict"] == "accepted"
    assert d.stop() == 0
    assert "watching inbox %s/inbox" % other not in d.text()


def test_sigterm_exits_zero(spool, start_daemon):
    d = start_daemon(spool)
    assert d.stop() == 0
    assert "stopping" in d.text()
    assert list((spool / "state").glob("owner-*")) == []


def test_missing_config_is_an_error(expensed_bin, tmp_path):
    env = dict(os.environ)
    env.pop("EXPENSED_CONFIG", None)
    r = subprocess.run([expensed_bin, "run", "-c",
                        str(tmp_path / "nope.conf")], env=env,
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert "nope.conf" in r.stderr


def test_start_failure_on_stderr(expensed_bin, tmp_path):
    """A daemon that cannot start says why on stderr, not in syslog alone
    (which a container may not have), once, and exits 1: a spool that is
    not there, an inbox on another file system; not on a stderr that is
    the journal ($JOURNAL_STREAM), where the log lines go."""
    (tmp_path / "spool").mkdir()
    conf = tmp_path / "start.conf"
    cases = [
        ("directory = nospool",
         "cannot open spool directory %s: No such file or directory"
         % (tmp_path / "nospool")),
        ("directory = spool\ninbox = /proc",
         "%s:3: inbox /proc is not on the file system of spool %s (files "
         "are claimed by rename)" % (conf, tmp_path / "spool")),
    ]
    for keys, why in cases:
        conf.write_text("[spool]\n%s\n" % keys)
        r = subprocess.run([expensed_bin, "run", "-c", str(conf)],
                           capture_output=True, text=True, timeout=10)
        assert (r.returncode, r.stderr) == (
            1, "expensed: %s\nexpensed: not started\n" % why)
    # stderr connected to systemd's journal, which has the log lines: not
    # said twice there
    rfd, wfd = os.pipe()
    st = os.fstat(wfd)
    env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
    try:
        r = subprocess.run([expensed_bin, "run", "-c", str(conf)],
                           stderr=wfd, env=env, timeout=10)
        os.close(wfd)
        wfd = -1
        assert (r.returncode, os.read(rfd, 4096)) == (1, b"")
    finally:
        os.close(rfd)
        if wfd != -1:
            os.close(wfd)
    # -v copies the log lines to stderr, but [log] level = crit logs no
    # err line: said on stderr all the same
    conf.write_text("[spool]\ndirectory = nospool\n[log]\nlevel = crit\n")
    r = subprocess.run([expensed_bin, "run", "-v", "-c", str(conf)],
                       capture_output=True, text=True, timeout=10)
    assert (r.returncode, r.stderr) == (
        1, "expensed: %s\nexpensed: not started\n" % cases[0][1])


def test_sd_notify(spool, start_daemon, tmp_path):
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(5)
    msgs = []

    def until(pred, what):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            m = sock.recv(4096).decode()
            msgs.append(m)
            if pred(m):
                return m
        raise AssertionError("no %s in %r" % (what, msgs))

    try:
        d = start_daemon(spool, env={"NOTIFY_SOCKET": sock_path,
                                     "WATCHDOG_USEC": "400000"})
        until(lambda m: m == "READY=1", "READY=1")
        until(lambda m: m.startswith("STATUS=accepted 0"), "STATUS")
        until(lambda m: m == "WATCHDOG=1", "WATCHDOG=1")
        drop(spool, "s.json", SEED)
        until(lambda m: m.startswith("STATUS=accepted 1, rejected 0, "
                                     "invalid 0, outbox backlog 0"),
              "STATUS after a file")
        d.signal(signal.SIGHUP)
        m = until(lambda m: m.startswith("RELOADING=1"), "RELOADING=1")
        assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", m)
        until(lambda m: m == "READY=1", "READY=1 after reload")
        d.signal(signal.SIGTERM)
        until(lambda m: m == "STOPPING=1", "STOPPING=1")
        assert d.proc.wait(10) == 0
    finally:
        sock.close()


def test_inbox_removed_and_recreated(spool, start_daemon):
    d = start_daemon(spool)
    inbox = spool / "inbox"
    os.rmdir(inbox)
    wait_for(lambda: "was removed" in d.text(), 5, what="removal noticed")
    inbox.mkdir()
    wait_for(lambda: "is back" in d.text(), 5, what="re-watch")
    drop(spool, "later.json", SEED)
    assert wait_archived(spool, "later.json")["verdict"] == "accepted"
    # replaced by rename: the old one moved away, a new one moved in
    os.rename(inbox, spool / "inbox.old")
    new = spool / "inbox.new"
    new.mkdir()
    os.rename(new, inbox)
    wait_for(lambda: d.text().count("is back") >= 2, 5, what="re-watch 2")
    drop(spool, "later2.json", make_report(SEED, 2))
    assert wait_archived(spool, "later2.json")["verdict"] == "accepted"


def test_idle_does_not_spin(spool, start_daemon):
    d = start_daemon(spool)
    drop(spool, "one.json", SEED)
    wait_archived(spool, "one.json")
    t0 = cpu_ticks(d.proc.pid)
    end = time.monotonic() + 2
    wait_for(lambda: time.monotonic() > end, 5, what="2 s idle")
    assert cpu_ticks(d.proc.pid) - t0 <= 5  # 50 ms of CPU at most


def test_libcurl_linked(spool, start_daemon):
    """libcurl is an ordinary link-time dependency, mapped from the start
    (with or without webhooks)."""
    d = start_daemon(spool)
    drop(spool, "one.json", SEED)
    wait_archived(spool, "one.json")
    maps = Path("/proc/%d/maps" % d.proc.pid).read_text()
    assert "libcurl" in maps
    assert "libjansson" in maps


def stage_burst(tmp_path, spool, n, prefix="f"):
    """Write n reports (80 % accepted, 20 % rejected) on the spool's fs."""
    stage = spool / "stage"
    stage.mkdir(exist_ok=True)
    names = []
    for i in range(n):
        name = "%s%05d.json" % (prefix, i)
        (stage / name).write_bytes(make_report(SEED, i, broken=i % 5 == 4))
        names.append(name)
    old = time.time() - 60  # settled for scans already
    for name in names:
        os.utime(stage / name, (old, old))
    return stage, names


def drop_all(spool, stage, names):
    for name in names:
        os.rename(stage / name, spool / "inbox" / name)


def assert_each_once(spool, names):
    arch = archived(spool)
    assert sorted(arch) == sorted(names), \
        "missing %s, extra %s" % (sorted(set(names) - set(arch))[:5],
                                  sorted(set(arch) - set(names))[:5])
    for name, where in arch.items():
        assert len(where) == 1 and where[0][1], (name, where)
    for i, name in enumerate(sorted(names)):
        want = "rejected" if i % 5 == 4 else "accepted"
        assert arch[name][0][0] == want, (name, arch[name])
    assert os.listdir(spool / "inbox") == []
    assert os.listdir(spool / "work") == []


@pytest.fixture
def few_inotify_events():
    """Lower fs.inotify.max_queued_events to 64 (forcing overflows), and
    restore it afterwards; None when that is not permitted. A 64 found
    there is another run's of this fixture (two suites at once): the
    kernel's default is put back instead, or the machine would stay with
    a queue that overflows at every burst."""
    try:
        old = MAX_EVENTS.read_text()
        if old.strip() == "64":
            old = "16384\n"
        MAX_EVENTS.write_text("64\n")
    except OSError as e:
        yield None, str(e)
        return
    try:
        yield True, ""
    finally:
        MAX_EVENTS.write_text(old)


def test_burst_with_overflow(spool, start_daemon, tmp_path,
                             few_inotify_events):
    lowered, why = few_inotify_events
    if not lowered:
        pytest.skip("cannot lower fs.inotify.max_queued_events: %s" % why)
    stage, names = stage_burst(tmp_path, spool, 5000)
    d = start_daemon(spool)
    drop_all(spool, stage, names)
    wait_for(lambda: count_archived(spool) >= 5000, 120, 0.1,
             what="5000 files archived")
    assert_each_once(spool, names)
    assert "inotify queue overflow" in d.text()
    assert sum(1 for line in d.text().splitlines()
               if VERDICT_LINE.match(line)) == 5000


def test_crash_recovery(spool, start_daemon, expensed_bin, tmp_path):
    stage, names = stage_burst(tmp_path, spool, 1000)
    cfg = tmp_path / "crash.conf"
    write_config(cfg, spool)
    kills = 0
    drop_all(spool, stage, names)
    for threshold in (100, 350, 650):
        d = Daemon(expensed_bin, cfg, tmp_path / ("crash%d.log" % kills))
        try:
            d.start()
            wait_for(lambda: count_archived(spool) >= threshold, 60, 0.005,
                     what="%d archived" % threshold)
            d.kill9()
            kills += 1
        finally:
            d.cleanup()
    d = Daemon(expensed_bin, cfg, tmp_path / "final.log")
    try:
        d.start()
        wait_for(lambda: count_archived(spool) >= 1000 and
                 not os.listdir(spool / "work"), 60, 0.05,
                 what="all archived after restarts")
        assert d.stop() == 0
    finally:
        d.cleanup()
    assert kills == 3
    assert_each_once(spool, names)
    # every accepted report id is in the ledger exactly as accepted
    ledger = (spool / "state" / "accepted-ids").read_text().splitlines()
    ids = {line.split("\t")[0] for line in ledger}
    assert len(ids) == 800


@pytest.mark.parametrize("point", ["copied", "recorded", "synced",
                                   "half-archived", "archived"])
def test_crash_windows(point, spool, expensed_bin, tmp_path):
    """Die (like kill -9) at each point of the batch protocol, restart:
    every file archived once, with one result, none a duplicate of
    itself."""
    stage, names = stage_burst(tmp_path, spool, 20)
    drop_all(spool, stage, names)  # before start: one batch of 20
    cfg = tmp_path / "crash.conf"
    write_config(cfg, spool)
    env = dict(os.environ, EXPENSED_FAILPOINT=point)
    env.pop("NOTIFY_SOCKET", None)
    hooks_bin = hooks_binary(expensed_bin)
    with open(tmp_path / "crash.log", "wb") as log:
        r = subprocess.run([hooks_bin, "run", "-c", str(cfg), "-v"],
                           stderr=log, env=env, timeout=30)
    assert r.returncode == 99
    work = sorted(os.listdir(spool / "work"))
    if point == "copied":
        # every claim is now the daemon's copy, no result yet
        assert len([w for w in work if w.startswith("c")]) == 20
        assert [w for w in work if not w.startswith("c")] == []
        assert all(os.stat(spool / "work" / w).st_mode & 0o777 == 0o640
                   for w in work)
    elif point in ("recorded", "synced"):
        assert len([w for w in work if w.startswith("c")]) == 20
        assert len([w for w in work if w.startswith("r")]) == 20
    elif point == "half-archived":
        assert len([w for w in work if w.startswith("c")]) == 18
        assert len([w for w in work if w.startswith("r")]) == 19
    else:
        assert work == []
    d = Daemon(expensed_bin, cfg, tmp_path / "after.log")
    try:
        d.start()
        wait_for(lambda: count_archived(spool) >= 20 and
                 not os.listdir(spool / "work"), 30, what="recovery")
        assert d.stop() == 0
    finally:
        d.cleanup()
    assert_each_once(spool, names)
    ledger = (spool / "state" / "accepted-ids").read_text().splitlines()
    assert len({line.split("\t")[0] for line in ledger}) == 16
    if point != "archived":
        assert "recovering" in d.text()


@pytest.mark.parametrize("taken", [False, True])
def test_crash_half_archived_name_not_utf8(taken, spool, expensed_bin,
                                           tmp_path):
    """Names in Latin-1 (r\\xff0.json ...), the daemon dead after the
    second file's input moved and before its result did: recovery puts
    the result and page beside that file, found through archived_as_bytes
    (archived_as, r\ufffd1.json, names another file), and leaves alone
    the files archived before under the UTF-8 names that archived_as
    spells (it once moved one back out of accepted/ and judged it a
    duplicate of itself). taken: meanwhile something else wrote that
    file's NAME.result.json; the file goes back to work/ under its own
    bytes (it came back as r\ufffd1.json, the name the result's "file"
    spells) and is archived as r\\xff1.1.json."""
    cfg = tmp_path / "crash.conf"
    write_config(cfg, spool)
    inbox = bytes(spool / "inbox")
    acc = bytes(spool / "accepted")
    honest = {("r\ufffd%d.json" % i).encode(): make_report(SEED, 100 + i)
              for i in range(4)}
    latin = {b"r\xff%d.json" % i: make_report(SEED, i) for i in range(4)}
    d = Daemon(expensed_bin, cfg, tmp_path / "first.log")
    try:
        d.start()
        for name, data in honest.items():
            with open(os.path.join(inbox, name), "wb") as f:
                f.write(data)
        wait_for(lambda: count_archived(spool) == 4 and
                 not os.listdir(spool / "work"), 15, what="the first four")
        assert d.stop() == 0
    finally:
        d.cleanup()
    for name, data in latin.items():
        with open(os.path.join(inbox, name), "wb") as f:
            f.write(data)
    env = dict(os.environ, EXPENSED_FAILPOINT="half-archived")
    env.pop("NOTIFY_SOCKET", None)
    with open(tmp_path / "crash.log", "wb") as log:
        r = subprocess.run([hooks_binary(expensed_bin), "run", "-c",
                            str(cfg), "-v"], stderr=log, env=env, timeout=30)
    assert r.returncode == 99
    # the state to recover: a result in work/ whose input is archived
    work = os.listdir(spool / "work")
    moved = [w for w in work if w.startswith("r") and
             not any(c.startswith("c" + w[1:]) for c in work)]
    assert len(moved) == 1
    recovered = json.loads((spool / "work" / moved[0]).read_bytes())
    arch = urllib.parse.unquote_to_bytes(
        recovered["archived_as_bytes"]).split(b"/", 1)[1]
    if taken:
        with open(os.path.join(acc, arch + b".result.json"), "wb") as f:
            f.write(b"not ours\n")
    d = Daemon(expensed_bin, cfg, tmp_path / "after.log")
    try:
        d.start()
        wait_for(lambda: count_archived(spool) == 8 and
                 not os.listdir(spool / "work"), 15, what="recovery")
        assert d.stop() == 0
    finally:
        d.cleanup()
    assert os.listdir(spool / "rejected") == []
    want = set()
    for name, data in {**honest, **latin}.items():
        as_ = name[:-5] + b".1.json" if taken and name == arch else name
        want |= {as_, as_ + b".result.json", as_ + b".result.html"}
        with open(os.path.join(acc, as_), "rb") as f:
            assert f.read() == data
        with open(os.path.join(acc, as_ + b".result.json"), "rb") as f:
            doc = json.load(f)
        assert doc["report_id"] == json.loads(data)["id"]
        assert doc["sha256"] == hashlib.sha256(data).hexdigest()
        assert doc["file"] == name.decode("utf-8", "replace")
        assert doc["archived_as"] == "accepted/" + as_.decode(
            "utf-8", "replace")
        if name in latin:
            assert doc["archived_as_bytes"] == (
                "accepted/" + urllib.parse.quote_from_bytes(as_))
        else:
            assert "archived_as_bytes" not in doc
    if taken:
        want.add(arch + b".result.json")
        with open(os.path.join(acc, arch + b".result.json"), "rb") as f:
            assert f.read() == b"not ours\n"
        assert "was taken meanwhile" in d.text()
    assert set(os.listdir(acc)) == want
    assert "recovering" in d.text()
    # every link of index.html leads to its page: the recovered file's too
    # (the one archived whole before the crash lost its line, as a crash
    # may: docs/operations.md)
    hrefs = re.findall(rb'href="(accepted/[^"]+)"',
                       (spool / "index.html").read_bytes())
    assert len(set(hrefs)) == len(hrefs) >= 5
    if not taken:
        assert (recovered["archived_as_bytes"] +
                ".result.html").encode() in hrefs
    for h in hrefs:
        assert os.path.isfile(os.path.join(bytes(spool),
                                           urllib.parse.unquote_to_bytes(h)))


def run_hooks(hooks_bin, cfg, log, **hooks):
    """The daemon built with the test hooks, run until it dies (exit 99)."""
    env = dict(os.environ, **hooks)
    env.pop("NOTIFY_SOCKET", None)
    with open(log, "wb") as err:
        return subprocess.Popen([hooks_bin, "run", "-c", str(cfg), "-v"],
                                stderr=err, env=env)


def claims(spool):
    return sorted(w for w in os.listdir(spool / "work") if w.startswith("c"))


def crash_on_pill(spool, expensed_bin, tmp_path, recorded, **hooks):
    """A batch of 5 dropped before the start; once `recorded` of them are
    recorded (their sync held back: still in work/), pill.json dropped,
    which kills the daemon as it is judged. (names, cfg, hooks binary)."""
    stage, names = stage_burst(tmp_path, spool, 5)
    drop_all(spool, stage, names)  # before start: one batch of 5
    (stage / "pill.json").write_bytes(make_report(SEED, 99))
    cfg = tmp_path / "pill.conf"
    write_config(cfg, spool)
    hooks_bin = hooks_binary(expensed_bin)
    p = run_hooks(hooks_bin, cfg, tmp_path / "d1.log",
                  EXPENSED_DIE_JUDGING="pill.json",
                  EXPENSED_HOLD_PENDING="20000", **hooks)
    try:
        wait_for(lambda: (spool / "work").is_dir() and
                 len([w for w in os.listdir(spool / "work")
                      if w.startswith("r")]) == recorded, 10,
                 what="the batch recorded")
        os.rename(stage / "pill.json", spool / "inbox" / "pill.json")
        assert p.wait(10) == 99
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return names, cfg, hooks_bin


def assert_killer_ends(spool, expensed_bin, cfg, log, names):
    """A daemon without hooks archives pill.json input.resources (its
    third recovery was counted) and names with their own verdicts."""
    d = Daemon(expensed_bin, cfg, log)
    try:
        d.start()
        wait_for(lambda: count_archived(spool) >= len(names) + 1 and
                 not claims(spool), 20, what="recovery")
        assert d.stop() == 0
    finally:
        d.cleanup()
    doc = json.loads((spool / "rejected" / "pill.json.result.json")
                     .read_text())
    assert [f["rule"] for f in doc["findings"]] == ["input.resources"]
    arch = archived(spool)
    del arch["pill.json"]
    assert sorted(arch) == sorted(names)
    for i, name in enumerate(names):
        want = "rejected" if i % 5 == 4 else "accepted"
        assert arch[name] == [(want, True)], (name, arch[name])


@pytest.mark.parametrize("last_seq", [None, "fffffffd"],
                         ids=["numbered-from-1", "across-the-wrap"])
def test_crash_judging_spares_the_batch_before(spool, expensed_bin,
                                               tmp_path, last_seq):
    """A report that kills the daemon while it is judged, the batch before
    still in work/ waiting for its group commit: the owner lock says that
    batch was recorded, so the next daemon judges it without counting a
    recovery (a crash then counts nothing); after that, each file taken
    back is judged alone, its recovery counted just before: only the
    killer is counted again, and ends input.resources at its third
    recovery; the others keep their verdicts. Across the wrap of the
    32-bit claim counter too (the batch numbered fffffffe, ffffffff,
    00000001 to 00000003, the killer 00000004: it comes after them)."""
    hooks = {"EXPENSED_LAST_SEQ": last_seq} if last_seq else {}
    names, cfg, hooks_bin = crash_on_pill(spool, expensed_bin, tmp_path, 5,
                                          **hooks)
    work = claims(spool)
    assert len(work) == 6
    pill = [w for w in work if w.endswith(".pill.json")]
    assert len(pill) == 1
    token, seq = pill[0][1:].split(".")[:2]
    batch = sorted(w[1:].split(".")[1] for w in work if w not in pill)
    if last_seq:
        assert (batch, seq) == (["00000001", "00000002", "00000003",
                                 "fffffffe", "ffffffff"], "00000004")
    else:
        assert (batch, seq) == (["00000001", "00000002", "00000003",
                                 "00000004", "00000005"], "00000006")
    lock = (spool / "state" / ("owner-%s.lock" % token)).read_text()
    assert lock.splitlines()[1] == "recorded " + seq
    pill_key = token + "." + seq

    def tries():
        return {n.name[len("tries-"):]: n.read_text()
                for n in (spool / "state").glob("tries-*")}

    # the second daemon judges the five together, uncounted: dying on
    # one of them counts nothing
    p = run_hooks(hooks_bin, cfg, tmp_path / "d2.log",
                  EXPENSED_DIE_JUDGING=names[0])
    assert p.wait(20) == 99
    assert tries() == {}
    assert len(claims(spool)) == 6
    # from now on all six are suspects, each judged alone and counted
    # just before: the five are archived, the killer counted
    for i, want in ((3, "1\n"), (4, "2\n")):
        p = run_hooks(hooks_bin, cfg, tmp_path / ("d%d.log" % i),
                      EXPENSED_DIE_JUDGING="pill.json")
        assert p.wait(20) == 99
        assert tries() == {pill_key: want}
        assert claims(spool) == [pill[0]]
    # the fifth archives the killer input.resources
    assert_killer_ends(spool, expensed_bin, cfg, tmp_path / "d5.log", names)
    assert tries() == {}


def test_crash_judging_counts_a_claim_left_before(spool, expensed_bin,
                                                  tmp_path):
    """The owner lock's mark exempts only what was judged: a claim of the
    batch before left in work/ for lack of memory (its page could not be
    rendered: deferred, the file may be the cause) is a suspect, judged
    alone and counted just before, with the rest of its batch from it
    on."""
    # four recorded, one left without result or page
    names, cfg, hooks_bin = crash_on_pill(
        spool, expensed_bin, tmp_path, 4,
        EXPENSED_PAGE_ENOMEM="1", EXPENSED_DEFER_MS="600000")
    work = claims(spool)
    keys = {w[1:].split(".", 2)[2]: ".".join(w[1:].split(".")[:2])
            for w in work}
    results = {w[1:] for w in os.listdir(spool / "work")
               if w.startswith("r")}
    left = [k for k in keys.values() if k not in results]
    assert len(work) == 6 and len(left) == 2  # the deferred one, the pill
    first_left = min(left)
    token = first_left.split(".")[0]
    lock = (spool / "state" / ("owner-%s.lock" % token)).read_text()
    assert lock.splitlines()[1] == "recorded " + first_left.split(".")[1]
    # a suspect: counted just before it is judged, and then it kills the
    # daemon (as if it were the cause)
    deferred = [n for n, k in keys.items() if k == first_left][0]
    p = run_hooks(hooks_bin, cfg, tmp_path / "d2.log",
                  EXPENSED_DIE_JUDGING=deferred)
    assert p.wait(20) == 99
    counted = {n.name[len("tries-"):]: n.read_text()
               for n in (spool / "state").glob("tries-*")}
    assert counted == {first_left: "1\n"}
    d = Daemon(expensed_bin, cfg, tmp_path / "d3.log")
    try:
        d.start()
        wait_for(lambda: count_archived(spool) >= 6 and not claims(spool),
                 20, what="recovery")
        assert d.stop() == 0
    finally:
        d.cleanup()
    arch = archived(spool)
    assert sorted(arch) == sorted(names + ["pill.json"])


def test_killer_in_a_batch_takes_only_itself(spool, expensed_bin, tmp_path):
    """A report that kills the daemon each time it is judged, in one batch
    with five good ones: after the first crash every file taken back is a
    suspect, judged alone with its recovery counted just before (those
    never counted first); the five are archived with their verdicts, and
    the killer alone ends input.resources (at its third counted
    recovery)."""
    stage, names = stage_burst(tmp_path, spool, 5)
    (stage / "pill.json").write_bytes(make_report(SEED, 99))
    old = time.time() - 60  # settled for the first scan, as the others
    os.utime(stage / "pill.json", (old, old))
    drop_all(spool, stage, names + ["pill.json"])  # one batch of 6
    cfg = tmp_path / "batch.conf"
    write_config(cfg, spool)
    hooks_bin = hooks_binary(expensed_bin)
    for i in range(3):
        p = run_hooks(hooks_bin, cfg, tmp_path / ("d%d.log" % i),
                      EXPENSED_DIE_JUDGING="pill.json")
        assert p.wait(20) == 99
        tries = {n.name[len("tries-"):]: n.read_text()
                 for n in (spool / "state").glob("tries-*")}
        left = sorted(c.split(".", 2)[2] for c in claims(spool))
        if i == 0:
            assert len(left) == 6 and tries == {}
        else:
            # counted: the killer only, once per restart
            assert list(tries.values()) == ["%d\n" % i]
            assert [k for k in tries] == [
                ".".join(c[1:].split(".")[:2]) for c in claims(spool)
                if c.endswith(".pill.json")]
        if i == 2:
            # those after it at the first restart came first at the
            # second (never counted: before the killer, counted once)
            assert left == ["pill.json"]
    assert_killer_ends(spool, expensed_bin, cfg, tmp_path / "d3.log", names)


def verdict_lines(d):
    return [m.group(1) for m in map(VERDICT_LINE.match, d.text().splitlines())
            if m]


def test_claims_of_live_daemon_not_stolen(spool, start_daemon, expensed_bin,
                                          tmp_path):
    """A claim in work/ belongs to its daemon while it lives (owner lock);
    the claims of a daemon that died are taken over by a live one."""
    a = start_daemon(spool, name="a")
    lock = wait_for(lambda: list((spool / "state").glob("owner-*.lock")), 5,
                    what="owner lock")
    token = lock[0].name[len("owner-"):-len(".lock")]
    b = start_daemon(spool, name="b")
    # a leftover claim of A (as a failed batch would leave): only A may
    # judge it, at its next rescan
    (spool / "work" / ("c%s.00000999.mine.json" % token)).write_bytes(SEED)
    wait_archived(spool, "mine.json")
    wait_for(lambda: "mine.json" in verdict_lines(a), 5, what="A's verdict")
    assert "mine.json" not in verdict_lines(b)

    # C dies (like kill -9) holding 20 claims; A or B takes them over
    stage, names = stage_burst(tmp_path, spool, 20, prefix="c")
    write_config(tmp_path / "c.conf", spool)
    env = dict(os.environ, EXPENSED_FAILPOINT="synced")
    env.pop("NOTIFY_SOCKET", None)
    a.signal(signal.SIGSTOP)
    b.signal(signal.SIGSTOP)
    try:
        drop_all(spool, stage, names)
        r = subprocess.run([hooks_binary(expensed_bin), "run", "-c",
                            str(tmp_path / "c.conf")], env=env,
                           stderr=subprocess.DEVNULL, timeout=30)
        assert r.returncode == 99
        assert len([w for w in os.listdir(spool / "work")
                    if not w.startswith("p")]) == 40  # claims, results
    finally:
        a.signal(signal.SIGCONT)
        b.signal(signal.SIGCONT)
    wait_for(lambda: count_archived(spool) >= 21 and
             not os.listdir(spool / "work"), 10, what="take-over")
    assert "taking over the claims" in a.text() + b.text()
    # a verdict line is written after the archive's sync: wait for them all
    judged = wait_for(
        lambda: (lambda j: j if set(names) <= set(j) else None)(
            verdict_lines(a) + verdict_lines(b)), 10, what="verdict lines")
    for n in names:
        assert judged.count(n) == 1, n
    # the dead daemon's lock is removed at the adopter's next rescan
    wait_for(lambda: len(list((spool / "state").glob("owner-*.lock"))) == 2,
             5, what="the dead owner's lock to go")



def status_pids(expensed_bin, cfg):
    r = subprocess.run([expensed_bin, "status", "-c", str(cfg), "--json"],
                       capture_output=True, text=True, timeout=10)
    return json.loads(r.stdout)["daemon"]["pids"]


def test_owner_lock_removed_by_hand(spool, start_daemon, expensed_bin,
                                    tmp_path):
    """A's state/owner-TOKEN.lock removed by hand while A runs, its batch
    still in work/: nobody held the name any more, so `status` said no
    daemon ran (or named B alone), and B took A for dead at its next look
    ('taking over the claims of stopped daemon') and judged A's claims a
    second time. A locks its name again at its next batch (and at each
    look, idle): B leaves them to A, and every file is judged once."""
    stage, names = stage_burst(tmp_path, spool, 3)
    drop_all(spool, stage, names)  # before A starts: one batch of 3
    a = start_daemon(spool, name="a", binary=hooks_binary(expensed_bin),
                     env={"EXPENSED_HOLD_PENDING": "5000"})
    wait_for(lambda: len([w for w in os.listdir(spool / "work")
                          if w.startswith("r")]) == 3, 10,
             what="A's batch recorded, its sync held")
    lock = list((spool / "state").glob("owner-*.lock"))
    assert len(lock) == 1
    lock = lock[0]
    b = start_daemon(spool, name="b")
    b.signal(signal.SIGSTOP)
    try:
        lock.unlink()
        drop(spool, "g.json", make_report(SEED, 7))  # A's next batch
        wait_for(lambda: lock.exists() and
                 a.proc.pid in status_pids(expensed_bin, tmp_path / "a.conf"),
                 10, what="A's owner lock taken again")
    finally:
        b.signal(signal.SIGCONT)
    wait_for(lambda: count_archived(spool) >= 4 and
             not os.listdir(spool / "work"), 20, what="all archived")
    wait_for(lambda: len(verdict_lines(a)) == 4, 10, what="A's verdicts")
    assert sorted(verdict_lines(a)) == sorted(names + ["g.json"])
    assert verdict_lines(b) == []
    assert "taking over the claims" not in b.text()
    assert "cannot archive" not in a.text()
    assert a.text().count("state/%s was removed or replaced while this "
                          "daemon held it: locked again" % lock.name) == 1
    arch = archived(spool)
    assert sorted(arch) == sorted(names + ["g.json"])
    for name, where in arch.items():
        assert where == [("accepted", True)], (name, where)
    # removed again while A is idle: taken again at its next look
    lock.unlink()
    wait_for(lambda: lock.exists() and
             a.proc.pid in status_pids(expensed_bin, tmp_path / "a.conf"),
             10, what="A's owner lock taken again, idle")
    assert sorted(status_pids(expensed_bin, tmp_path / "a.conf")) == \
        sorted([a.proc.pid, b.proc.pid])

def test_two_daemons_one_spool(spool, start_daemon, tmp_path):
    stage, names = stage_burst(tmp_path, spool, 2000)
    a = start_daemon(spool, name="a")
    b = start_daemon(spool, name="b")
    drop_all(spool, stage, names)
    wait_for(lambda: count_archived(spool) >= 2000, 120, 0.1,
             what="2000 files archived")
    assert_each_once(spool, names)
    wait_for(lambda: sum(1 for t in (a.text(), b.text())
                         for line in t.splitlines()
                         if VERDICT_LINE.match(line)) >= 2000, 5,
             what="all verdict lines")
    seen = {}
    for d in (a, b):
        for line in d.text().splitlines():
            m = VERDICT_LINE.match(line)
            if m:
                seen[m.group(1)] = seen.get(m.group(1), 0) + 1
    assert sorted(seen) == sorted(names)
    assert set(seen.values()) == {1}
    assert a.stop() == 0 and b.stop() == 0

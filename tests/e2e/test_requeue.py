"""End-to-end tests of `expensed requeue` (docs/webhooks.md).

The dead deliveries are made by the real daemon: webhooks pointing at a
receiver on 127.0.0.1 that answers 410 Gone, which files a delivery in
dead/ after one attempt. The daemon is stopped, `expensed requeue` moves
deliveries back into outbox/, and a restarted daemon sends them, with the
same webhook-id, to the receiver now answering 204.
"""
import fcntl
import json
import os
import re
import subprocess
import time

import pytest

from daemon_util import Daemon, drop, wait_for, write_config
from receiver import Receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LINE = re.compile(r"^requeued (msg_[0-9a-f]{32}) \(webhook (\w+), "
                  r"file ([\w.-]+)\)$")


class Spool:
    """A spool, its configuration with two webhooks (audit, chat) on one
    receiver, and the daemon on them."""

    def __init__(self, tmp_path, exe):
        self.exe = exe
        self.tmp = tmp_path
        self.spool = tmp_path / "spool"
        (self.spool / "inbox").mkdir(parents=True)
        self.receiver = Receiver(secret=SECRET)
        secret = tmp_path / "hook.secret"
        secret.write_text(SECRET + "\n")
        secret.chmod(0o600)
        hooks = ""
        for name in ("audit", "chat"):
            hooks += ("[webhook %s]\nurl = %s\nformat = standard\n"
                      "events = accepted, rejected, invalid\n"
                      "secret_file = %s\nretry = 0s, 200ms\n\n"
                      % (name, self.receiver.url("/" + name), secret))
        self.conf = tmp_path / "expensed.conf"
        write_config(self.conf, self.spool, extra=hooks)
        self.daemon = None

    def env(self):
        return {k: v for k, v in os.environ.items()
                if "proxy" not in k.lower() and k != "EXPENSED_CONFIG"}

    def start(self):
        self.daemon = Daemon(self.exe, self.conf, self.tmp / "daemon.log")
        self.daemon.env = self.env()
        self.daemon.start()

    def stop(self):
        if self.daemon is not None:
            assert self.daemon.stop() == 0
            self.daemon = None

    def names(self, sub):
        d = self.spool / sub
        return sorted(os.listdir(d)) if d.exists() else []

    def load(self, sub, name):
        return json.loads((self.spool / sub / name).read_text())

    def requeue(self, *args):
        return subprocess.run([self.exe, "requeue", "-c", str(self.conf)]
                              + list(args), capture_output=True, text=True,
                              timeout=30, env=self.env())

    def make_dead(self, files):
        """Drop files with the receiver answering 410: each makes one dead
        delivery per webhook. The daemon is stopped after."""
        self.receiver.script("/audit", [], default=410)
        self.receiver.script("/chat", [], default=410)
        self.start()
        for name in files:
            drop(self.spool, name, b"{not json: " + name.encode())
        want = 2 * len(files)
        wait_for(lambda: len(self.names("dead")) == want, 10,
                 what="%d dead deliveries" % want)
        self.stop()
        assert self.names("outbox") == []
        return {name: self.load("dead", name) for name in self.names("dead")}


@pytest.fixture
def sp(tmp_path, expensed_bin):
    s = Spool(tmp_path, expensed_bin)
    try:
        yield s
    finally:
        if s.daemon is not None:
            s.daemon.cleanup()
        s.receiver.stop()


def test_requeue_all_of_one_webhook_then_delivered(sp):
    dead = sp.make_dead(["a.json", "b.json"])
    sent = {r.id: r for r in sp.receiver.got()}
    assert sorted(sent) == sorted(d["id"] for d in dead.values())
    for name, d in dead.items():
        assert name == d["id"] + ".json"
        assert d["attempts"] == 1 and d["last_error"]["status"] == 410
    audit = sorted(n for n, d in dead.items() if d["webhook"] == "audit")
    chat = sorted(n for n, d in dead.items() if d["webhook"] == "chat")
    assert len(audit) == 2 and len(chat) == 2

    before_ms = int(time.time() * 1000)
    r = sp.requeue("--webhook", "audit", "all")
    after_ms = int(time.time() * 1000)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[-1] == "requeued 2 deliveries"
    got = sorted(LINE.match(line).groups() for line in lines[:-1])
    assert got == sorted((dead[n]["id"], "audit", dead[n]["file"])
                         for n in audit)
    # outbox/ holds exactly the two files, nothing temporary left over
    assert sp.names("outbox") == audit
    assert sp.names("dead") == chat
    for n in audit:
        o = sp.load("outbox", n)
        assert o["id"] == dead[n]["id"]
        assert o["attempts"] == 0
        assert o["last_error"] is None
        assert before_ms <= o["due_ms"] <= after_ms
        for key in ("webhook", "type", "file", "claim", "created", "body"):
            assert o[key] == dead[n][key], key

    r = sp.requeue("all")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "requeued 2 deliveries"
    assert sp.names("outbox") == sorted(audit + chat)
    assert sp.names("dead") == []

    # the receiver is fixed: every delivery arrives once, same webhook-id
    sp.receiver.script("/audit", [], default=204)
    sp.receiver.script("/chat", [], default=204)
    sp.start()
    ok = sp.receiver.wait(lambda rs: len([x for x in rs if x.answer == 204])
                          == 4 and rs, what="four deliveries")
    wait_for(lambda: sp.names("outbox") == [], what="an empty outbox")
    sp.stop()
    again = [x for x in ok if x.answer == 204]
    assert sorted(x.id for x in again) == sorted(sent)
    for x in again:
        assert x.sig_ok is True
        assert x.body == sent[x.id].body
        assert x.path == "/" + dead[x.id + ".json"]["webhook"]
    assert sp.names("dead") == []
    assert len(sp.receiver.got()) == 8


def test_requeue_by_id_and_by_file_name(sp):
    dead = sp.make_dead(["a.json", "b.json"])
    by_hook = {}
    for n, d in dead.items():
        by_hook.setdefault(d["webhook"], []).append(d["id"])
    one = by_hook["audit"][0]
    two = by_hook["chat"][0]
    r = sp.requeue(one, two + ".json")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "requeued 2 deliveries"
    assert sp.names("outbox") == sorted([one + ".json", two + ".json"])
    assert len(sp.names("dead")) == 2

    # asked again: no longer dead
    r = sp.requeue(one)
    assert r.returncode == 1
    assert r.stderr == "expensed: no dead delivery %s\n" % one
    assert r.stdout == ""


def test_requeue_unknown_id_and_other_webhook(sp):
    dead = sp.make_dead(["a.json"])
    audit = [d["id"] for d in dead.values() if d["webhook"] == "audit"][0]
    chat = [d["id"] for d in dead.values() if d["webhook"] == "chat"][0]
    missing = "msg_" + "0" * 32

    # one found, one not: the found one is requeued, exit 1
    r = sp.requeue(missing, audit)
    assert r.returncode == 1
    assert r.stderr == "expensed: no dead delivery %s\n" % missing
    assert r.stdout.splitlines()[-1] == "requeued 1 delivery"
    assert sp.names("outbox") == [audit + ".json"]

    # --webhook limits IDs too
    r = sp.requeue("--webhook", "audit", chat)
    assert r.returncode == 1
    assert r.stderr == ("expensed: dead/%s.json is a delivery of webhook "
                        "'chat', not 'audit'\n" % chat)
    assert sp.names("dead") == [chat + ".json"]

    # nothing left of audit: not an error
    r = sp.requeue("--webhook", "audit", "all")
    assert (r.returncode, r.stdout, r.stderr) == (0, "nothing to requeue\n",
                                                  "")
    # a webhook that is not configured
    r = sp.requeue("--webhook", "nosuch", "all")
    assert r.returncode == 2
    assert r.stderr == ("expensed: %s: no [webhook nosuch] section\n"
                        % sp.conf)
    # a path is only ever matched against the names in dead/
    r = sp.requeue("../outbox/" + audit + ".json")
    assert r.returncode == 1
    assert sp.names("outbox") == [audit + ".json"]
    assert sp.names("dead") == [chat + ".json"]


def test_requeue_nothing_dead(sp):
    r = sp.requeue("all")
    assert (r.returncode, r.stdout, r.stderr) == (0, "nothing to requeue\n",
                                                  "")
    r = sp.requeue("msg_" + "1" * 32)
    assert r.returncode == 1
    for args in ([], ["all", "msg_" + "1" * 32], ["--bogus", "all"]):
        r = sp.requeue(*args)
        assert r.returncode == 2, args
        assert "usage: expensed requeue" in r.stderr


def test_requeue_left_in_both_after_a_crash(sp):
    """A crash between the rename into outbox/ and the removal from dead/
    leaves the delivery in both: requeued again, the pending one is kept
    as it is and the dead copy goes."""
    dead = sp.make_dead(["a.json"])
    name = [n for n, d in dead.items() if d["webhook"] == "audit"][0]
    pending = (sp.spool / "dead" / name).read_text().replace(
        '"attempts": 1', '"attempts": 0')
    (sp.spool / "outbox" / name).write_text(pending)
    r = sp.requeue("--webhook", "audit", "all")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith(
        "already in outbox/: %s (webhook audit" % dead[name]["id"])
    assert (sp.spool / "outbox" / name).read_text() == pending
    assert sp.names("outbox") == [name]
    assert name not in sp.names("dead")


def test_requeue_leaves_what_is_no_delivery(sp):
    sp.make_dead(["a.json"])
    junk = sp.spool / "dead" / "junk.json"
    junk.write_text("{not a delivery")
    r = sp.requeue("all")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "requeued 2 deliveries"
    assert sp.names("dead") == ["junk.json"]
    r = sp.requeue("junk.json")
    assert r.returncode == 1
    assert r.stderr == "expensed: dead/junk.json is no delivery\n"
    assert junk.read_text() == "{not a delivery"


def test_requeue_leaves_deliveries_of_unconfigured_webhooks(sp):
    dead = sp.make_dead(["a.json"])
    chat = [n for n, d in dead.items() if d["webhook"] == "chat"][0]
    audit = [n for n, d in dead.items() if d["webhook"] == "audit"][0]
    text = sp.conf.read_text()
    cut = text.index("[webhook chat]")
    sp.conf.write_text(text[:cut])
    r = sp.requeue("all")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ("expensed: warning: dead/%s: webhook 'chat' is not "
                        "configured: left in dead/\n" % chat)
    assert r.stdout.splitlines()[-1] == "requeued 1 delivery"
    assert sp.names("outbox") == [audit]
    assert sp.names("dead") == [chat]
    r = sp.requeue(chat)
    assert r.returncode == 2
    assert sp.names("dead") == [chat]


def test_requeue_picked_up_by_a_running_daemon(sp):
    """`expensed requeue` while the daemon runs: the daemon notices the
    files in outbox/ and sends them within a second, same webhook-id."""
    dead = sp.make_dead(["a.json"])
    sp.receiver.script("/audit", [], default=204)
    sp.receiver.script("/chat", [], default=204)
    sp.start()
    before = len(sp.receiver.got())
    r = sp.requeue("all")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "requeued 2 deliveries"
    got = sp.receiver.wait(
        lambda rs: [x for x in rs[before:] if x.answer == 204]
        if len([x for x in rs[before:] if x.answer == 204]) == 2 else None,
        timeout=3, what="the two requeued deliveries")
    assert sorted(x.id for x in got) == sorted(d["id"] for d in dead.values())
    wait_for(lambda: sp.names("outbox") == [], what="an empty outbox")
    sp.stop()


# nanosleep and clock_nanosleep, as /proc/PID/syscall numbers them
SLEEPS = {"x86_64": ("35", "230"), "aarch64": ("101", "115")}


def sleeping(pid):
    """Whether process pid sleeps in nanosleep (requeue's wait for a
    delivery's lock)."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            call = f.read().split()
    except OSError:
        return False
    return bool(call) and call[0] in SLEEPS.get(os.uname().machine, ())


def test_requeue_while_a_daemon_gives_it_up(sp):
    """A daemon gives a delivery up under its lock: written into dead/, then
    removed from outbox/. A requeue in between found it in outbox/, took it
    for pending and removed the dead copy, and the daemon then removed the
    other: the delivery was lost. Requeue now takes that lock before it
    removes a dead copy, and requeues it when the one in outbox/ went."""
    if os.uname().machine not in SLEEPS:
        pytest.skip("no nanosleep number known for this machine")
    dead = sp.make_dead(["a.json"])
    name = [n for n, d in dead.items() if d["webhook"] == "audit"][0]
    out = sp.spool / "outbox" / name
    # the daemon between the two steps: in dead/ already, still in outbox/
    out.write_text((sp.spool / "dead" / name).read_text())
    fd = os.open(out, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    proc = None
    try:
        proc = subprocess.Popen(
            [sp.exe, "requeue", "-c", str(sp.conf), "--webhook", "audit",
             "all"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=sp.env())
        try:
            wait_for(lambda: proc.poll() is not None or sleeping(proc.pid),
                     5, what="requeue waiting for the delivery's lock")
            out.unlink()  # the daemon's second step
        finally:
            os.close(fd)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert stdout.splitlines()[0].startswith(
        "requeued %s (webhook audit" % dead[name]["id"]), stdout
    assert sp.names("outbox") == [name]
    assert sp.load("outbox", name)["attempts"] == 0
    assert name not in sp.names("dead")

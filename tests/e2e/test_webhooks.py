"""End-to-end tests of webhook deliveries (docs/webhooks.md).

The real daemon (`expensed run -c CONF`, the binary of the expensed_bin
fixture: $EXPENSED, default <repo>/build/expensed) runs on a
temporary spool; alerts go to a real HTTP receiver on 127.0.0.1 (receiver.py)
that verifies every Standard Webhooks signature and answers from a script.
After each test, every request the receiver got is checked with the real
client libraries (clients.py): each standard delivery verifies with
`Webhook.verify` of `standardwebhooks`, each Teams card parses and
validates with Microsoft's `adaptivecards` with no event, and rendered it
has no link and no formatting made from report text.
"""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from clients import clients  # noqa: F401 (the session fixture)
from daemon_util import hooks_binary
from receiver import Receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FAST_RETRY = "0s, 200ms, 200ms, 500ms, 1s"


def teams_esc(s):
    """Report text as a Teams card shows it: controls as spaces, leading
    spaces as NO-BREAK SPACEs, every ASCII punctuation character
    backslash-escaped, a word joiner (U+2060) after each '.', ':' and '@'
    so that nothing becomes a link."""
    out = ""
    for c in s:
        if (ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or
                c in "\u061c\u200e\u200f\u2028\u2029" or
                0x202a <= ord(c) <= 0x202e or 0x2066 <= ord(c) <= 0x2069):
            c = " "
        if c == " " and out.strip(" \u00a0") == "":
            c = "\u00a0"
        out += "\\" + c if c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" else c
        if c in ".:@":
            out += "\u2060"
    return out


def wait_until(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        val = pred()
        if val:
            return val
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def report(rid, total="300.00"):
    """A report that the default rules accept (total 300.00) or reject."""
    return json.dumps({
        "format": "mission-report/1",
        "id": rid,
        "authority": "Departement des Bouches-du-Rhone",
        "meeting": {"body": "Commission permanente", "date": "2017-01-10"},
        "subject": "missions 2017",
        "period": {"start": "2017-01-01", "end": "2017-12-31"},
        "currency": "EUR",
        "total": total,
        "missions": [{
            "id": "m1", "destination": "Genoa", "country": "IT",
            "start": "2017-03-01", "end": "2017-03-03",
            "delegation": {"size": 1, "councillors": 1, "guests": 0,
                           "staff": 0},
            "cost": "300.00",
        }],
    }).encode()


class Env:
    """A spool, a config file, a receiver, and the daemon on them."""

    def __init__(self, tmp_path, exe):
        self.exe = exe
        self.dir = tmp_path
        self.spool = tmp_path / "spool"
        self.inbox = self.spool / "inbox"
        self.inbox.mkdir(parents=True)
        self.receiver = Receiver(secret=SECRET)
        secret = tmp_path / "audit.secret"
        secret.write_text(SECRET + "\n")
        secret.chmod(0o600)
        self.secret_file = secret
        self.conf = tmp_path / "expensed.conf"
        self.proc = None
        self.log = None

    def configure(self, hooks, head=""):
        """hooks: list of dicts NAME -> {key: value}, written in order;
        head: text before them (a [general] section)."""
        text = head + ("[spool]\ndirectory = %s\ninbox = %s\nsettle = 200ms\n\n"
                       "[log]\nlevel = debug\n\n" % (self.spool, self.inbox))
        for name, keys in hooks:
            text += "[webhook %s]\n" % name
            for k, v in keys.items():
                text += "%s = %s\n" % (k, v)
            text += "\n"
        self.conf.write_text(text)

    def standard(self, path="/hook", events="accepted, rejected, invalid",
                 retry=FAST_RETRY, timeout="2s"):
        return {"url": self.receiver.url(path), "format": "standard",
                "events": events, "secret_file": str(self.secret_file),
                "timeout": timeout, "retry": retry}

    def start(self, extra_env=None, exe=None):
        env = {k: v for k, v in os.environ.items()
               if "proxy" not in k.lower() and k != "EXPENSED_CONFIG"}
        env.update(extra_env or {})
        if self.log:
            self.log.close()
        self.log = open(self.dir / "daemon.log", "ab")
        self.proc = subprocess.Popen([exe or self.exe, "run", "-v", "-c",
                                      str(self.conf)],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     env=env)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop_daemon(self):
        """SIGTERM, and wait for the daemon to exit."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def stop(self):
        self.stop_daemon()
        if self.log:
            self.log.close()
            self.log = None
        self.receiver.stop()

    def logtext(self):
        return (self.dir / "daemon.log").read_text(errors="replace")

    def drop(self, name, data):
        """Drop a file the way a careful writer does: temp, rename."""
        tmp = self.inbox / (".%s.part" % name)
        tmp.write_bytes(data)
        os.rename(tmp, self.inbox / name)

    def archived(self, name):
        for verdict in ("accepted", "rejected"):
            p = self.spool / verdict / (name + ".result.json")
            if p.exists():
                return p
        return None

    def wait_archived(self, name, timeout=10.0):
        p = wait_until(lambda: self.archived(name), timeout,
                       "%s to be archived" % name)
        return json.loads(p.read_text())

    def outbox(self):
        d = self.spool / "outbox"
        if not d.exists():
            return []
        return sorted(n for n in os.listdir(d) if not n.startswith("."))

    def dead(self):
        d = self.spool / "dead"
        if not d.exists():
            return []
        return sorted(n for n in os.listdir(d) if not n.startswith("."))

    def send_test(self, name):
        env = {k: v for k, v in os.environ.items()
               if "proxy" not in k.lower() and k != "EXPENSED_CONFIG"}
        return subprocess.run([self.exe, "send-test", name, "-c",
                               str(self.conf)], capture_output=True,
                              text=True, timeout=30, env=env)


@pytest.fixture
def env(tmp_path, expensed_bin, clients):
    e = Env(tmp_path, expensed_bin)
    try:
        yield e
    finally:
        e.stop()
        # Every delivery, as the real clients see it.
        bad = e.receiver.client_problems(clients)
        assert bad == [], "\n".join(bad)
        # Whatever happened, no log line may carry the secret or the urls.
        if (tmp_path / "daemon.log").exists():
            text = e.logtext()
            assert SECRET not in text
            assert SECRET[len("whsec_"):] not in text
            assert "/hook" not in text and "/slack" not in text


def ids_delivered(rcv, path="/hook"):
    return [r.id for r in rcv.delivered(path)]


def test_standard_signed_deliveries(env):
    env.configure([("audit", env.standard())])
    env.start()
    env.drop("good.json", report("R-good"))
    env.drop("bad-total.json", report("R-bad", total="400.00"))
    env.drop("broken.json", b"{not json")
    docs = {n: env.wait_archived(n)
            for n in ("good.json", "bad-total.json", "broken.json")}
    reqs = env.receiver.wait(
        lambda rs: len([r for r in rs if r.answer == 204]) >= 3 and rs,
        what="three deliveries")
    assert len(reqs) == 3
    types = {}
    for r in reqs:
        assert r.sig_ok is True, r.headers
        assert r.headers["content-type"] == "application/json"
        assert re.fullmatch(r"msg_[0-9a-f]{32}", r.id)
        assert re.fullmatch(r"v1,[A-Za-z0-9+/]{43}=",
                            r.headers["webhook-signature"])
        assert abs(int(r.headers["webhook-timestamp"]) - time.time()) < 60
        body = r.json()
        assert set(body) == {"type", "timestamp", "data"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                            body["timestamp"])
        data = body["data"]
        doc = docs[data["file"]]
        for key in ("file", "sha256", "size", "report_id", "verdict",
                    "errors", "warnings", "findings", "rules", "expensed"):
            assert data[key] == doc[key], key
        types[data["file"]] = body["type"]
    assert types == {"good.json": "report.accepted",
                     "bad-total.json": "report.rejected",
                     "broken.json": "report.invalid"}
    assert len({r.id for r in reqs}) == 3
    wait_until(lambda: env.outbox() == [], what="an empty outbox")
    assert env.dead() == []


def test_events_filter(env):
    """The default events are rejected and invalid: no accepted alert."""
    hook = env.standard()
    del hook["events"]
    env.configure([("audit", hook)])
    env.start()
    env.drop("good.json", report("R-good"))
    env.wait_archived("good.json")
    env.drop("bad.json", report("R-bad", total="1.00"))
    env.wait_archived("bad.json")
    reqs = env.receiver.wait(lambda rs: rs, what="a delivery")
    wait_until(lambda: env.outbox() == [], what="an empty outbox")
    assert [r.json()["type"] for r in env.receiver.got()] == [
        "report.rejected"]
    assert reqs[0].json()["data"]["file"] == "bad.json"


def test_receiver_down_then_up(env):
    retry = "0s, 200ms, 200ms, 500ms, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s"
    env.configure([("audit", env.standard(retry=retry))])
    env.receiver.script("/hook", [], default=500)
    env.start()
    names = ["r%d.json" % i for i in range(4)]
    for i, n in enumerate(names):
        env.drop(n, report("R-%d" % i, total="1.00"))
    for n in names:
        env.wait_archived(n)
    # Failing with 500 for a while ...
    env.receiver.wait(lambda rs: len({r.id for r in rs}) == 4 and
                      len(rs) >= 8, what="retries of four alerts")
    assert len(env.outbox()) == 4
    # ... then not there at all, until a try has been refused ...
    env.receiver.down()

    def refused():
        for n in env.outbox():
            try:
                d = json.loads((env.spool / "outbox" / n).read_text())
            except (OSError, ValueError):
                continue
            err = (d.get("last_error") or {}).get("error", "")
            if "onnect" in err and d["last_error"]["status"] is None:
                return True
        return False

    wait_until(refused, what="a refused connection")
    # ... then back: every alert arrives, each exactly once.
    env.receiver.script("/hook", [], default=204)
    env.receiver.start()
    env.receiver.wait(lambda rs: len({r.id for r in rs
                                      if r.answer == 204}) == 4,
                      timeout=15, what="all four alerts")
    wait_until(lambda: env.outbox() == [], what="an empty outbox")
    ok = ids_delivered(env.receiver)
    assert len(ok) == 4 and len(set(ok)) == 4
    assert all(r.sig_ok for r in env.receiver.got())
    assert env.dead() == []
    assert "try 1 failed: HTTP 500" in env.logtext()


def test_kill9_then_restart(env):
    retry = ", ".join(["0s"] + ["300ms"] * 30)
    env.configure([("audit", env.standard(retry=retry))])
    env.receiver.script("/hook", [], default=503)
    env.start()
    names = ["k%d.json" % i for i in range(3)]
    for i, n in enumerate(names):
        env.drop(n, report("R-k%d" % i, total="1.00"))
    for n in names:
        env.wait_archived(n)
    env.receiver.wait(lambda rs: len({r.id for r in rs}) == 3,
                      what="three alerts tried")
    seen = {r.id for r in env.receiver.got()}
    env.kill9()
    assert env.outbox() == sorted(i + ".json" for i in seen)
    env.receiver.script("/hook", [], default=204)
    env.start()
    env.receiver.wait(lambda rs: len({r.id for r in rs
                                      if r.answer == 204}) == 3,
                      what="all three alerts after the restart")
    ok = ids_delivered(env.receiver)
    assert sorted(ok) == sorted(seen)
    wait_until(lambda: env.outbox() == [], what="an empty outbox")
    assert env.dead() == []


def test_another_daemon_waits_for_the_batch_sync(env):
    """Two daemons on one spool. Daemon A (its batch's syncfs held by a test
    hook, as a slow disk would) has queued the deliveries of its first
    batch in outbox/; daemon B, started then, loads them but posts none while their
    claims are still in work/ (docs/operations.md: no webhook before its
    batch's sync). A killed -9 before its sync, B takes its claims over,
    judges them again and posts each delivery once, once its file is
    archived: B once posted them at once, and again after judging them,
    with other bodies."""
    env.configure([("audit", env.standard())])
    text = env.conf.read_text().replace("settle = 200ms\n",
                                        "settle = 200ms\nrescan = 500ms\n")
    env.conf.write_text(text)
    names = ["s%02d.json" % i for i in range(12)]
    env.start({"EXPENSED_HOLD_PENDING": "60000"},
              exe=hooks_binary(env.exe))
    for i, n in enumerate(names):
        env.drop(n, report("R-s%02d" % i, total="1.00"))
    # A's first batch, its deliveries queued, waits for its sync (and A
    # with it: the next batch first archives the one before)
    wait_until(lambda: re.search(r"archive names of s\d\d\.json",
                                 env.logtext()) and env.outbox(),
               what="A's deliveries in outbox/")
    a = env.proc
    b = subprocess.Popen([env.exe, "run", "-v", "-c", str(env.conf)],
                         stdin=subprocess.DEVNULL, stdout=env.log,
                         stderr=env.log,
                         env={k: v for k, v in os.environ.items()
                              if "proxy" not in k.lower() and
                              k != "EXPENSED_CONFIG"})
    try:
        wait_until(lambda: re.search(r"outbox: \d+ pending deliveries "
                                     r"resumed", env.logtext()),
                   what="B loading A's deliveries")
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=10)
        env.proc = None

        def archived_when_posted():
            posted = {r.json()["data"]["file"] for r in env.receiver.got()}
            for n in posted:  # each post's file archived before it
                assert env.archived(n), "%s posted from work/" % n
            return len(posted) == len(names) and all(
                env.archived(n) for n in names)
        wait_until(archived_when_posted, 30, "B's takeover and posts")
        byid = {}
        for r in env.receiver.got():
            byid.setdefault(r.id, []).append(r.body)
        assert len(byid) == len(names)
        assert all(len(bodies) == 1 for bodies in byid.values())
    finally:
        b.send_signal(signal.SIGTERM)
        assert b.wait(timeout=10) == 0


def test_gone_is_dead_at_once(env):
    env.configure([("audit", env.standard(retry="0s, 200ms, 200ms"))])
    env.receiver.script("/hook", [], default=410)
    env.start()
    env.drop("gone.json", report("R-gone", total="1.00"))
    env.wait_archived("gone.json")
    wait_until(lambda: len(env.dead()) == 1, what="a dead delivery")
    assert env.outbox() == []
    reqs = env.receiver.got()
    assert len(reqs) == 1
    d = json.loads((env.spool / "dead" / env.dead()[0]).read_text())
    assert d["id"] + ".json" == env.dead()[0] == reqs[0].id + ".json"
    assert d["attempts"] == 1
    assert d["last_error"]["status"] == 410
    assert d["last_error"]["error"] == "HTTP 410"
    assert d["webhook"] == "audit" and d["type"] == "report.rejected"
    assert d["body"].encode() == reqs[0].body
    wait_until(lambda: "gave up delivery " + d["id"] in env.logtext(),
               what="the err log line")
    time.sleep(0.5)  # the retry schedule would have tried again by now
    assert len(env.receiver.got()) == 1


def test_redirect_is_a_failure(env):
    env.configure([("audit", env.standard(retry="0s, 200ms"))])
    env.receiver.script("/hook", [], default=("redirect", 302, "/elsewhere"))
    env.start()
    env.drop("moved.json", report("R-moved", total="1.00"))
    env.wait_archived("moved.json")
    wait_until(lambda: len(env.dead()) == 1, what="a dead delivery")
    assert [r.answer for r in env.receiver.got("/hook")] == [302, 302]
    assert env.receiver.got("/elsewhere") == []
    d = json.loads((env.spool / "dead" / env.dead()[0]).read_text())
    assert d["attempts"] == 2
    assert d["last_error"]["status"] == 302
    assert env.receiver.got() == env.receiver.got("/hook")


def test_retry_after_is_honoured(env):
    env.configure([("audit", env.standard(retry="0s, 200ms, 200ms"))])
    env.receiver.script("/hook", [(429, {"Retry-After": "2"})])
    env.start()
    env.drop("busy.json", report("R-busy", total="1.00"))
    env.wait_archived("busy.json")
    reqs = env.receiver.wait(
        lambda rs: len(rs) >= 2 and all(r.answer for r in rs) and rs,
        timeout=10, what="a second try")
    assert [r.answer for r in reqs] == [429, 204]
    assert reqs[0].id == reqs[1].id
    assert reqs[1].time - reqs[0].time >= 2.0
    # A fresh timestamp and signature on the second try.
    assert reqs[1].sig_ok and reqs[0].sig_ok
    wait_until(lambda: env.outbox() == [], what="an empty outbox")


def test_hanging_receiver_times_out(env):
    env.configure([("audit", env.standard(timeout="1s"))])
    env.receiver.script("/hook", [("hang", 20.0)])
    env.start()
    env.drop("a.json", report("R-a", total="1.00"))
    env.wait_archived("a.json")
    first = env.receiver.wait(lambda rs: rs, what="a first try")[0]
    # While that try hangs, files keep being judged and archived.
    env.drop("b.json", report("R-b", total="1.00"))
    env.wait_archived("b.json", timeout=0.9)
    archived_b = time.monotonic()
    assert first.answer is None  # still hanging
    reqs = env.receiver.wait(
        lambda rs: len([r for r in rs if r.id == first.id]) >= 2 and rs,
        timeout=10, what="a second try of the hung delivery")
    again = [r for r in reqs if r.id == first.id][1]
    assert again.time - first.time >= 0.95
    assert again.time > archived_b
    env.receiver.wait(lambda rs: len({r.id for r in rs
                                      if r.answer == 204}) == 2,
                      what="both alerts delivered")
    wait_until(lambda: env.outbox() == [], what="an empty outbox")
    assert "timed out" in env.logtext()


def test_slack_and_teams_payloads(env):
    env.configure([
        ("chat", {"url": env.receiver.url("/slack"), "format": "slack",
                  "events": "rejected", "retry": FAST_RETRY}),
        ("teams", {"url": env.receiver.url("/teams"), "format": "teams",
                   "events": "rejected", "retry": FAST_RETRY}),
    ])
    env.start()
    env.drop("<b>&x.json", report("R-<1>", total="400.00"))
    doc = env.wait_archived("<b>&x.json")
    env.receiver.wait(lambda rs: len([r for r in rs if r.answer]) == 2,
                      what="two deliveries")
    errors = [f for f in doc["findings"] if f["severity"] == "error"]
    assert doc["errors"] == len(errors) >= 1

    def line(f):
        return f["rule"] + (" " + f["path"] if f["path"] else "") + \
            ": " + f["message"]

    (slack,) = env.receiver.got("/slack")
    assert slack.headers["content-type"] == "application/json"
    assert "webhook-signature" not in slack.headers
    msg = slack.json()
    assert list(msg) == ["text"]

    def esc(s):
        return s.replace("&", "&amp;").replace("<", "&lt;") \
            .replace(">", "&gt;").replace("@", "@\u2060") \
            .replace("]", "]\u2060")

    w = doc["warnings"]
    want = ["expensed: %s was rejected" % esc(doc["file"]),
            "Report: %s" % esc(doc["report_id"]),
            "%d error%s, %d warning%s" % (
                doc["errors"], "" if doc["errors"] == 1 else "s",
                w, "" if w == 1 else "s")]
    want += ["\u2022 " + esc(line(f)) for f in errors]
    assert msg["text"].split("\n") == want

    (teams,) = env.receiver.got("/teams")
    msg = teams.json()
    assert msg["type"] == "message"
    (att,) = msg["attachments"]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["$schema"] == \
        "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["version"] == "1.4"
    body = card["body"]
    assert body[0]["type"] == "TextBlock"
    assert body[0]["text"] == "expensed: report rejected"
    assert body[1]["type"] == "FactSet"
    assert body[1]["facts"] == [
        {"title": "Verdict", "value": "rejected"},
        {"title": "File", "value": teams_esc(doc["file"])},
        {"title": "Report", "value": teams_esc(doc["report_id"])},
        {"title": "Errors", "value": str(doc["errors"])},
        {"title": "Warnings", "value": str(doc["warnings"])},
    ]
    assert [b["text"] for b in body[2:]] == \
        ["\u2022 " + teams_esc(f["rule"]) +
         (" " + teams_esc(f["path"]) if f["path"] else "") + ": " +
         teams_esc(f["message"]) for f in errors]
    assert all(b["type"] == "TextBlock" and b["wrap"] is True
               for b in body[2:])
    wait_until(lambda: env.outbox() == [], what="an empty outbox")


def test_slack_text_makes_no_mention_link_or_image(env, clients):
    """Mattermost and Rocket.Chat take the slack format and read its text
    as Markdown: a file named "@channel.json" pinged the whole channel, and
    a report id made a link that hid where it went and an image that every
    reader's client fetched. A word joiner after "@" and "]" leaves them
    text, shown the same."""
    env.configure([
        ("chat", {"url": env.receiver.url("/slack"), "format": "slack",
                  "events": "rejected", "retry": FAST_RETRY}),
    ])
    env.start()
    rid = ("@here [Approve](https://evil.example/login) "
           "![t](https://evil.example/t.png)")
    env.drop("@channel.json", report(rid, total="400.00"))
    env.wait_archived("@channel.json")
    env.receiver.wait(lambda rs: any(r.answer for r in rs),
                      what="the slack delivery")
    (slack,) = env.receiver.got("/slack")
    lines = slack.json()["text"].split("\n")
    assert lines[:2] == [
        "expensed: @\u2060channel.json was rejected",
        "Report: @\u2060here [Approve]\u2060(https://evil.example/login) "
        "![t]\u2060(https://evil.example/t.png)"]
    rendered = clients.markdown(slack.body)
    assert (rendered["links"], rendered["images"]) == ([], [])
    assert "@channel" not in rendered["text"]
    assert "@here" not in rendered["text"]


def test_teams_name_with_leading_spaces_is_no_code_block(env, clients):
    """A fact's value starts a Markdown paragraph: a file dropped as
    "    x.json" (four spaces) made an indented code block, the name shown
    in monospace with the backslashes of its escapes."""
    env.configure([
        ("teams", {"url": env.receiver.url("/teams"), "format": "teams",
                   "events": "rejected", "retry": FAST_RETRY}),
    ])
    env.start()
    env.drop("    spaced.json", report("R-1", total="400.00"))
    env.wait_archived("    spaced.json")
    env.receiver.wait(lambda rs: any(r.answer for r in rs),
                      what="the teams delivery")
    (teams,) = env.receiver.got("/teams")
    facts = teams.json()["attachments"][0]["content"]["body"][1]["facts"]
    assert facts[1] == {"title": "File",
                        "value": "\u00a0" * 4 + "spaced\\.\u2060json"}
    card = clients.card(teams.body)
    assert card["tags"] == {}
    assert "\nFile\nspaced.\u2060json\n" in card["text"]


def test_non_utf8_name_with_every_format(env):
    """A name that is not UTF-8 (a Latin-1 name from a share) is archived
    with its result and alerted in every format, its bad bytes shown as
    U+FFFD in the JSON; it used to stay in work/ forever ("cannot queue
    deliveries")."""
    every = "accepted, rejected, invalid"
    env.configure([
        ("audit", env.standard()),
        ("chat", {"url": env.receiver.url("/slack"), "format": "slack",
                  "events": every, "retry": FAST_RETRY}),
        ("teams", {"url": env.receiver.url("/teams"), "format": "teams",
                   "events": every, "retry": FAST_RETRY}),
    ])
    env.start()
    raw = b"caf\xe9.json"
    inbox = os.fsencode(env.inbox)
    with open(inbox + b"/.caf.part", "wb") as f:
        f.write(report("R-latin1"))
    os.rename(inbox + b"/.caf.part", inbox + b"/" + raw)
    accepted = os.fsencode(env.spool / "accepted")
    res = accepted + b"/" + raw + b".result.json"
    wait_until(lambda: os.path.exists(res), what="the archived result")
    doc = json.loads(open(res, "rb").read())
    shown = "caf\ufffd.json"
    assert doc["file"] == shown
    assert doc["verdict"] == "accepted"
    assert open(accepted + b"/" + raw, "rb").read() == report("R-latin1")
    env.receiver.wait(lambda rs: len([r for r in rs if r.answer]) == 3,
                      what="three deliveries")
    (std,) = env.receiver.got("/hook")
    assert std.sig_ok is True
    body = std.json()
    assert body["type"] == "report.accepted"
    assert body["data"]["file"] == shown
    assert body["data"]["sha256"] == doc["sha256"]
    (slack,) = env.receiver.got("/slack")
    assert slack.json()["text"].split("\n")[0] == \
        "expensed: %s was accepted" % shown
    (teams,) = env.receiver.got("/teams")
    facts = teams.json()["attachments"][0]["content"]["body"][1]["facts"]
    assert {"title": "File", "value": teams_esc(shown)} in facts
    wait_until(lambda: env.outbox() == [], what="an empty outbox")
    assert env.dead() == []
    assert os.listdir(env.spool / "work") == []
    assert os.listdir(env.inbox) == []
    assert "cannot" not in env.logtext()


def test_send_test(env):
    env.configure([
        ("audit", env.standard("/hook")),
        ("broken", env.standard("/fail")),
        ("chat", {"url": env.receiver.url("/slack"), "format": "slack"}),
    ])
    env.receiver.script("/fail", [], default=500)
    r = env.send_test("audit")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"audit: HTTP 204 in \d+ ms\n", r.stdout)
    (ping,) = env.receiver.got("/hook")
    assert ping.sig_ok is True
    body = ping.json()
    assert body["type"] == "ping"
    assert body["data"]["webhook"] == "audit"
    assert isinstance(body["data"]["expensed"], str)

    r = env.send_test("broken")
    assert r.returncode == 1
    assert re.fullmatch(r"broken: HTTP 500 in \d+ ms\n", r.stdout)

    r = env.send_test("chat")
    assert r.returncode == 0
    (ping,) = env.receiver.got("/slack")
    assert "chat" in ping.json()["text"]

    r = env.send_test("nosuch")
    assert r.returncode == 2
    assert "nosuch" in r.stderr

    env.receiver.down()
    r = env.send_test("audit")
    assert r.returncode == 1
    assert r.stdout.startswith("audit: failed after ")
    assert "/hook" not in r.stdout + r.stderr


def test_unconfigured_webhook_is_kept_not_sent(env):
    retry = ", ".join(["0s"] + ["200ms"] * 30)
    env.configure([("audit", env.standard(retry=retry))])
    env.receiver.script("/hook", [], default=503)
    env.start()
    env.drop("kept.json", report("R-kept", total="1.00"))
    env.wait_archived("kept.json")
    first = env.receiver.wait(lambda rs: rs, what="a first try")[0]
    env.stop_daemon()
    (name,) = env.outbox()
    # Restarted without [webhook audit]: kept, one warning, not sent.
    env.configure([("other", env.standard("/other", events="accepted"))])
    n = len(env.receiver.got())
    env.start()
    wait_until(lambda: "webhook audit: not configured" in env.logtext(),
               what="the warning")
    time.sleep(0.6)  # three periods of the schedule: nothing may be sent
    assert len(env.receiver.got()) == n
    assert env.outbox() == [name]
    assert env.logtext().count("webhook audit: not configured") == 1
    env.stop_daemon()
    # Back in the configuration: sent, with the same id.
    env.configure([("audit", env.standard(retry=retry))])
    env.receiver.script("/hook", [], default=204)
    env.start()
    env.receiver.wait(lambda rs: rs[-1].answer == 204, what="the delivery")
    assert env.receiver.got()[-1].id == first.id
    wait_until(lambda: env.outbox() == [], what="an empty outbox")


def test_webhook_removed_while_its_try_is_in_flight(env):
    """A webhook removed by SIGHUP while a try hangs: when that try fails
    (its timeout), it is logged at warning and counted like any failed try,
    and the delivery, kept in outbox/, is logged once as not configured."""
    metrics = env.dir / "m.prom"
    head = "[metrics]\ntextfile = %s\ninterval = 100ms\n\n" % metrics
    env.configure([("audit", env.standard(retry="0s, 200ms, 200ms",
                                          timeout="1s"))], head=head)
    env.receiver.script("/hook", [("hang", 20.0)])
    env.start()
    env.drop("gone.json", report("R-gone", total="1.00"))
    first = env.receiver.wait(lambda rs: rs, what="a first try")[0]
    env.configure([], head=head)
    env.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reloaded:" in env.logtext(), what="the reload")
    assert first.answer is None  # still in flight
    (name,) = env.outbox()
    wait_until(lambda: "webhook audit: not configured" in env.logtext(),
               what="the not configured warning")
    log = env.logtext()
    fail = re.findall(r"warning: webhook audit: delivery (\S+) "
                      r"\(report\.rejected, gone\.json\) try 1 failed: "
                      r"Operation timed out after \d+ milliseconds with 0 "
                      r"bytes received; no next try while the webhook is not "
                      r"configured\n", log)
    assert fail == [first.id], log
    kept = re.findall(r"warning: webhook audit: not configured; delivery "
                      r"(\S+) \(gone\.json\) kept in outbox/, not sent\n",
                      log)
    assert kept == [first.id], log
    assert log.index("try 1 failed") < log.index("not configured;")
    d = json.loads((env.spool / "outbox" / name).read_text())
    assert d["attempts"] == 1
    assert d["last_error"]["attempt"] == 1
    assert d["last_error"]["status"] is None
    series = ('expensed_deliveries_total{webhook="audit",'
              'outcome="retried"} 1\n')
    wait_until(lambda: metrics.exists() and series in metrics.read_text(),
               what="the failed try counted")
    # Nothing more: not sent, not logged again.
    env.drop("other.json", report("R-other", total="1.00"))
    env.wait_archived("other.json")
    assert len(env.receiver.got()) == 1
    assert env.outbox() == [name]
    assert env.logtext().count("webhook audit: not configured") == 1


def test_webhook_added_by_reload(env):
    """A webhook added to the configuration takes effect at SIGHUP, for the
    files judged from then on."""
    env.configure([])
    env.start()
    env.drop("before.json", report("R-before", total="1.00"))
    assert env.wait_archived("before.json")["verdict"] == "rejected"
    assert env.outbox() == []

    env.configure([("audit", env.standard(events="rejected"))])
    env.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reloaded:" in env.logtext(), what="the reload")
    env.drop("after.json", report("R-after", total="2.00"))
    env.wait_archived("after.json")
    reqs = env.receiver.wait(
        lambda rs: [r for r in rs if r.answer == 204], what="a delivery")
    assert [r.json()["data"]["file"] for r in reqs] == ["after.json"]
    assert reqs[0].sig_ok is True
    wait_until(lambda: env.outbox() == [], what="an empty outbox")
    assert [r.json()["data"]["file"] for r in env.receiver.got()] == [
        "after.json"]


def test_resident_memory(env):
    """With a webhook configured and a delivery made, the daemon stays
    within 16 MB of resident memory, libcurl and its libraries included."""
    env.configure([("audit", env.standard())])
    env.start()
    env.drop("good.json", report("R-good"))
    env.wait_archived("good.json")
    env.receiver.wait(lambda rs: [r for r in rs if r.answer == 204],
                      what="a delivery")
    if "libasan" in open("/proc/%d/maps" % env.proc.pid).read():
        pytest.skip("sanitizer build: its shadow memory is no measure")
    with open("/proc/%d/status" % env.proc.pid) as f:
        rss = [int(line.split()[1]) for line in f
               if line.startswith("VmRSS:")][0]
    assert rss <= 16 * 1024


def test_language_fr_messages_and_slack_but_not_keys_or_log(env):
    """[general] language = fr: the result document's messages and the
    chat alert are French whatever the daemon's environment (an English
    locale here, and a LANGUAGE gettext would follow); the JSON keys, the
    rule ids, the expected and actual values and the log line are not."""
    env.configure([
        ("chat", {"url": env.receiver.url("/slack"), "format": "slack",
                  "events": "rejected", "retry": FAST_RETRY}),
    ], head="[general]\nlanguage = fr\n\n")
    env.start({"LC_ALL": "C.UTF-8", "LANG": "en_US.UTF-8",
               "LANGUAGE": "en"})
    env.drop("r1.json", report("R-1", total="400.00"))
    doc = env.wait_archived("r1.json")
    env.receiver.wait(lambda rs: len([r for r in rs if r.answer]) == 1,
                      what="the slack delivery")
    assert doc["verdict"] == "rejected" and doc["errors"] == 1
    assert all(set(f) <= {"rule", "severity", "path", "message", "expected",
                          "actual"} for f in doc["findings"])
    (total,) = [f for f in doc["findings"] if f["rule"] == "total.missions"]
    assert total == {
        "rule": "total.missions", "severity": "error", "path": "/total",
        "message": "/total vaut 400,00\u00a0\u20ac mais 1 valeur de "
                   "/missions/*/cost totalise 300,00\u00a0\u20ac "
                   "(\u00e9cart de 100,00\u00a0\u20ac)",
        "expected": "300.00", "actual": "400.00"}
    (slack,) = env.receiver.got("/slack")
    assert slack.json()["text"].split("\n") == [
        "expensed : r1.json, verdict : rejet\u00e9",
        "Rapport : R-1",
        "1 erreur, 0 avertissement",
        "\u2022 total.missions /total: " + total["message"],
    ]
    # the log's own words stay English; a finding line quotes the message
    # as the result document has it
    log = env.logtext()
    assert re.search(r": r1\.json: rejected \(report R-1, 1 error, 0 "
                     r"warnings\) -> rejected/r1\.json$", log, re.M), log
    assert re.search(r": r1\.json: /total: error: /total vaut .* "
                     r"\[total\.missions\]$", log, re.M), log
    assert "rejet\u00e9" not in log and "erreur" not in log


def test_language_follows_a_reload(env):
    """language = fr set by a reload: the files judged before it keep their
    English messages, the ones judged after it are French."""
    env.configure([])
    env.start()
    env.drop("before.json", report("R-1", total="400.00"))
    doc = env.wait_archived("before.json")
    (f,) = [f for f in doc["findings"] if f["rule"] == "total.missions"]
    assert f["message"] == ("/total is 400.00 but the 1 value of "
                            "/missions/*/cost adds up to 300.00 "
                            "(difference 100.00)")
    env.configure([], head="[general]\nlanguage = fr\n\n")
    env.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reloaded:" in env.logtext(), what="the reload")
    env.drop("after.json", report("R-2", total="400.00"))
    doc = env.wait_archived("after.json")
    (f,) = [f for f in doc["findings"] if f["rule"] == "total.missions"]
    assert f["message"].startswith("/total vaut 400,00\u00a0\u20ac mais ")
    before = json.loads((env.spool / "rejected" /
                         "before.json.result.json").read_text())
    assert before["findings"][0]["message"].startswith("/total is 400.00")

"""The real client libraries, for checking webhook deliveries.

tests/js/verify.mjs runs under Node with the packages pinned in
tests/package.json (installed into tests/node_modules by scripts/deps.sh,
which runs `npm ci --prefix tests`): `standardwebhooks` (the official
Standard Webhooks library), `adaptivecards` (Microsoft's SDK), `jsdom` and
`markdown-it` to render the cards. One Node process serves the whole test
session (it takes seconds to start; a request takes milliseconds).

Nothing is skipped: without node or the packages, every test that uses
the `clients` fixture fails and says to run scripts/deps.sh.

    clients.verify(secret, headers, body, now=None) -> None or the error
    clients.card(body) -> {"version", "events", "links", "tags", "text",
                           "html"}
    clients.markdown(body) -> {"links", "images", "text"}
    problems(clients, requests, secret) -> what is wrong with the requests
        a receiver got: unverified standard deliveries, Teams cards with
        an event, a version above 1.5, or a link or formatting made from
        the text, slack texts that Markdown (Mattermost, Rocket.Chat)
        makes a link, an image or a channel-wide mention of
"""

import base64
import json
import re
import select
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
HELPER = TESTS / "js" / "verify.mjs"
MODULES = TESTS / "node_modules"
FIX = "run scripts/deps.sh (as root) to install them"
TIMEOUT = 60.0


def missing():
    """Why the clients cannot run (a sentence), or None."""
    if shutil.which("node") is None:
        return "node is not installed; " + FIX
    pins = json.loads((TESTS / "package.json").read_text())["dependencies"]
    for name, version in sorted(pins.items()):
        meta = MODULES / name / "package.json"
        if not meta.is_file():
            return "%s is not installed in %s; %s" % (name, MODULES, FIX)
        have = json.loads(meta.read_text()).get("version")
        if have != version:
            return ("%s %s is installed in %s, tests/package.json pins %s; "
                    "%s" % (name, have, MODULES, version, FIX))
    return None


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


class Clients:
    """The Node helper: one request, one answer, in order (thread-safe)."""

    def __init__(self):
        why = missing()
        if why:
            raise RuntimeError(why)
        self.lock = threading.Lock()
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(["node", str(HELPER)],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=self.err, cwd=str(TESTS))

    def _stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def call(self, req):
        line = json.dumps(req).encode() + b"\n"
        with self.lock:
            try:
                self.proc.stdin.write(line)
                self.proc.stdin.flush()
            except OSError as e:
                raise RuntimeError("node helper: %s; stderr: %s"
                                   % (e, self._stderr()))
            ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
            out = self.proc.stdout.readline() if ready else b""
        if not out:
            raise RuntimeError("node helper: no answer (%s); stderr: %s"
                               % ("exited %s" % self.proc.poll()
                                  if ready else "timed out",
                                  self._stderr()))
        return json.loads(out)

    def verify(self, secret, headers, body, now=None):
        """None if Webhook(secret).verify(body, headers) accepts, else its
        error message."""
        r = self.call({"op": "verify", "secret": secret,
                       "headers": dict(headers), "body": b64(body),
                       "now": now})
        return None if r["ok"] else r["error"]

    def card(self, body):
        """The Adaptive Card of a Teams message body, parsed, validated and
        rendered; raises AssertionError if the body is no such message."""
        r = self.call({"op": "card", "body": b64(body)})
        if not r["ok"]:
            raise AssertionError("not a Teams card: %s" % r["error"])
        return r

    def markdown(self, body):
        """A slack message's text rendered as Markdown (markdown-it), as
        Mattermost and Rocket.Chat read it."""
        r = self.call({"op": "markdown", "body": b64(body)})
        if not r["ok"]:
            raise AssertionError("not a slack message: %s" % r["error"])
        return r

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.err.close()


def kind(body):
    """"teams", "slack" or "standard", from the shape of a body."""
    try:
        doc = json.loads(body)
    except ValueError:
        return "standard"
    if isinstance(doc, dict) and "attachments" in doc:
        return "teams"
    if isinstance(doc, dict) and list(doc) == ["text"]:
        return "slack"
    return "standard"


def card_problems(card):
    """What is wrong with a checked card (Clients.card): events, a
    version above 1.5 (the helper reports it as an event), any link, any
    formatting Markdown made from the text."""
    out = ["event: " + e for e in card["events"]]
    out += ["link: %s -> %s" % (a["text"], a["href"]) for a in card["links"]]
    out += ["<%s> x%d in the rendered text" % (t, n)
            for t, n in sorted(card["tags"].items()) if t != "a"]
    return out


# The mentions that notify a whole channel in Mattermost and Rocket.Chat.
CHANNEL_MENTION = re.compile(r"@(channel|all|here)\b", re.IGNORECASE)


def slack_problems(rendered):
    """What is wrong with a slack text rendered as Markdown
    (Clients.markdown): any link, any image, any channel-wide mention.
    The daemon's own words have none of them."""
    out = ["link: %s -> %s" % (a["text"], a["href"])
           for a in rendered["links"]]
    out += ["image: %s" % src for src in rendered["images"]]
    out += ["mention: %s" % m.group(0)
            for m in CHANNEL_MENTION.finditer(rendered["text"])]
    return out


def problems(clients, requests, secret):
    """Every problem of the requests a receiver got, as lines."""
    out = []
    for r in requests:
        k = kind(r.body)
        where = "%s %s (%s)" % (r.path, r.id or "-", k)
        if k == "standard" and secret is not None:
            err = clients.verify(secret, r.headers, r.body)
            if err:
                out.append("%s: Webhook.verify: %s" % (where, err))
        elif k == "teams":
            out += ["%s: %s" % (where, p)
                    for p in card_problems(clients.card(r.body))]
        elif k == "slack":
            out += ["%s: %s" % (where, p)
                    for p in slack_problems(clients.markdown(r.body))]
    return out


@pytest.fixture(scope="session")
def clients():
    """The Node helper for the session; fails (never skips) without it."""
    try:
        c = Clients()
    except RuntimeError as e:
        pytest.fail("the real client libraries: %s" % e)
    try:
        yield c
    finally:
        c.close()

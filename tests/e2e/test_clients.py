"""Webhook deliveries checked with the real client libraries (clients.py).

`standardwebhooks` (the official Standard Webhooks library) on the
specification's test vector and on what the binary signs; Microsoft's
`adaptivecards` SDK on the Teams cards the daemon posts, rendered under
jsdom with markdown-it. The checker itself is checked first: it must find
a bad signature, an event and a link, or a clean result would prove
nothing.
"""

import json
import re

import pytest

import clients as clients_mod
from clients import card_problems, clients  # noqa: F401 (the fixture)
from receiver import sign
from test_webhooks import FAST_RETRY, SECRET, Env, report, wait_until

# The test vector of the Standard Webhooks specification.
VECTOR = {
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "timestamp": 1614265330,
    "body": b'{"test": 2432232314}',
    "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}

INJECTION = "[Approve here](https://evil.example/login) **URGENT**"


def vector_headers(signature=VECTOR["signature"]):
    return {"webhook-id": VECTOR["id"],
            "webhook-timestamp": str(VECTOR["timestamp"]),
            "webhook-signature": signature}


def teams_message(content):
    return json.dumps({"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None, "content": content}]}).encode()


def card(version, body):
    return {"type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": version, "body": body}


def test_specification_vector(clients):
    """The library accepts the specification's vector (its clock set to
    the vector's time) and refuses it changed in any part."""
    v = VECTOR
    assert clients.verify(v["secret"], vector_headers(), v["body"],
                          now=v["timestamp"]) is None
    assert clients.verify(v["secret"], vector_headers(),
                          b'{"test": 2432232315}', now=v["timestamp"]) == \
        "No matching signature found"
    other = "whsec_" + "A" * 32
    assert clients.verify(other, vector_headers(), v["body"],
                          now=v["timestamp"]) == "No matching signature found"
    # several signatures, one of them right (key rotation)
    both = "v1,AAAA v1a,xyz " + v["signature"]
    assert clients.verify(v["secret"], vector_headers(both), v["body"],
                          now=v["timestamp"]) is None
    # at the real time of day, the vector is five years old
    assert clients.verify(v["secret"], vector_headers(), v["body"]) == \
        "Message timestamp too old"
    # the receiver's own reference signer agrees with the specification
    assert sign(v["secret"], v["id"], str(v["timestamp"]), v["body"]) == \
        v["signature"]


def test_send_test_ping_verifies(tmp_path, expensed_bin, clients):
    """What the binary signs (`expensed send-test`, with the vector's key)
    verifies with the library; its timestamp is the time of sending, so
    the comparison is by verifying, not by bytes."""
    e = Env(tmp_path, expensed_bin)
    try:
        e.configure([("audit", e.standard())])
        r = e.send_test("audit")
        assert r.returncode == 0, r.stderr
        (ping,) = e.receiver.got("/hook")
        assert json.loads(ping.body)["type"] == "ping"
        assert clients.verify(SECRET, ping.headers, ping.body) is None
        # one byte changed and the library refuses it
        assert clients.verify(SECRET, ping.headers, ping.body + b" ") == \
            "No matching signature found"
        assert e.receiver.client_problems(clients) == []
    finally:
        e.stop()


def test_card_checker_finds_problems(clients):
    """A card with a Markdown link, bold text, an unknown element and a
    version above 1.5: the checker reports each."""
    bad = clients.card(teams_message(card("1.6", [
        {"type": "TextBlock", "text": "title", "wrap": True},
        {"type": "FactSet", "facts": [{"title": "Report",
                                       "value": INJECTION}]},
        {"type": "Bogus"},
    ])))
    assert bad["links"] == [{"href": "https://evil.example/login",
                             "text": "Approve here"}]
    assert bad["tags"] == {"a": 1, "strong": 1}
    assert any("UnknownElementType" in e for e in bad["events"])
    assert "version: 1.6 is above 1.5" in bad["events"]
    assert len(card_problems(bad)) == 4
    # the same text escaped for Markdown is shown as typed, no link
    escaped = re.sub(r"([\\`*_{}\[\]()#+\-.!<>|~])", r"\\\1", INJECTION)
    good = clients.card(teams_message(card("1.4", [
        {"type": "FactSet", "facts": [{"title": "Report",
                                       "value": escaped}]}])))
    assert card_problems(good) == []
    assert INJECTION in good["text"]
    with pytest.raises(AssertionError):
        clients.card(b'{"text": "a Slack message"}')


def teams_env(tmp_path, expensed_bin):
    e = Env(tmp_path, expensed_bin)
    e.configure([("teams", {"url": e.receiver.url("/teams"),
                            "format": "teams", "events": "rejected",
                            "retry": FAST_RETRY})])
    return e


def test_teams_card_of_a_rejected_report(tmp_path, expensed_bin, clients):
    """The daemon's card for a rejected report: version 1.4 (at most 1.5),
    no parse or validation event, no link or formatting, every finding
    shown."""
    e = teams_env(tmp_path, expensed_bin)
    try:
        e.start()
        e.drop("over.json", report("R-over", total="400.00"))
        doc = e.wait_archived("over.json")
        (req,) = e.receiver.wait(lambda rs: [r for r in rs if r.answer],
                                 what="the Teams delivery")
        got = clients.card(req.body)
        assert got["version"] == "1.4"
        assert got["events"] == [] and got["links"] == []
        assert got["tags"] == {}
        assert card_problems(got) == []
        # as shown, but for the word joiners (U+2060) that keep names and
        # numbers from being linked
        text = got["text"].replace("\u2060", "")
        assert "expensed: report rejected" in text
        assert "R-over" in text and "over.json" in text
        errors = [f for f in doc["findings"] if f["severity"] == "error"]
        assert errors
        for f in errors:
            assert f["message"] in text
        wait_until(lambda: e.outbox() == [], what="an empty outbox")
    finally:
        e.stop()


def test_teams_report_id_makes_no_link(tmp_path, expensed_bin, clients):
    """A report whose id is Markdown: rendered by the SDK, its card has no
    <a> and no <strong> from it, and shows the id as typed."""
    e = teams_env(tmp_path, expensed_bin)
    try:
        e.start()
        e.drop("phish.json", report(INJECTION, total="400.00"))
        e.wait_archived("phish.json")
        (req,) = e.receiver.wait(lambda rs: [r for r in rs if r.answer],
                                 what="the Teams delivery")
        got = clients.card(req.body)
        assert got["events"] == []
        assert got["links"] == []
        assert "strong" not in got["tags"]
        assert got["tags"] == {}
        # shown as typed, but for the invisible word joiners (U+2060) that
        # keep "https:" and "evil.example" from being linked
        assert INJECTION in got["text"].replace("\u2060", "")
    finally:
        e.stop()


def test_missing_packages_fail_with_the_fix(monkeypatch, tmp_path):
    """Without tests/node_modules the clients cannot start, and the reason
    names scripts/deps.sh (the fixture fails with it, never skips)."""
    assert clients_mod.missing() is None
    monkeypatch.setattr(clients_mod, "MODULES", tmp_path / "node_modules")
    why = clients_mod.missing()
    assert why.startswith("adaptivecards is not installed in ")
    assert why.endswith("run scripts/deps.sh (as root) to install them")
    with pytest.raises(RuntimeError, match="scripts/deps.sh"):
        clients_mod.Clients()
    monkeypatch.setattr(clients_mod.shutil, "which", lambda name: None)
    assert clients_mod.missing() == \
        "node is not installed; run scripts/deps.sh (as root) to install them"

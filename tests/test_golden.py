"""Golden-file tests of the audit engine (SPEC sections 1-3).

One test per folder of tests/cases/: input.json (the bytes judged), optional
rules.rules (else the built-in default set) and expected.json (verdict,
counts, and the exact list of findings as rule, severity, path, with an
optional "message_contains": a substring or a list of substrings).
Adding a case is adding a folder.
"""
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

CASES = Path(__file__).resolve().parent / "cases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir()
                    if p.is_dir() and (p / "expected.json").is_file())

DOC_FIELDS = ["file", "sha256", "size", "report_id", "verdict", "errors",
              "warnings", "findings", "checked_at", "rules", "expensed"]


def clean_env():
    """No configuration file: check must use the built-in set."""
    env = dict(os.environ)
    env.pop("EXPENSED_CONFIG", None)
    env["LC_ALL"] = "C.UTF-8"
    return env


def check_doc_fields(doc, data):
    missing = [k for k in DOC_FIELDS if k not in doc]
    assert not missing, "result document lacks %s" % missing
    assert doc["file"] == "input.json"
    assert doc["sha256"] == hashlib.sha256(data).hexdigest()
    assert doc["size"] == len(data)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z",
                        doc["checked_at"]), doc["checked_at"]
    assert re.fullmatch(r"[0-9a-f]{64}", doc["rules"]), doc["rules"]
    assert isinstance(doc["expensed"], str) and doc["expensed"]
    assert isinstance(doc["findings"], list)
    for f in doc["findings"]:
        assert isinstance(f.get("message"), str), f
        assert f.get("severity") in ("error", "warning", "info"), f
        assert isinstance(f.get("path"), str) and "*" not in f["path"], f


def expected_report_id(data):
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("id"), str) and doc["id"]:
        return doc["id"]
    return None


@pytest.mark.parametrize("name", CASE_NAMES)
def test_case(expensed_bin, name):
    folder = CASES / name
    data = (folder / "input.json").read_bytes()
    expected = json.loads((folder / "expected.json").read_text("utf-8"))
    argv = [expensed_bin, "check", "--format", "json"]
    if (folder / "rules.rules").is_file():
        argv += ["-r", "rules.rules"]
    argv.append("input.json")
    proc = subprocess.run(argv, cwd=folder, env=clean_env(),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=30)
    stderr = proc.stderr.decode("utf-8", "replace")
    lines = proc.stdout.decode("utf-8").splitlines()
    assert len(lines) == 1, "want one JSON line, got %r (stderr %r)" % (
        proc.stdout, stderr)
    doc = json.loads(lines[0])

    check_doc_fields(doc, data)
    if doc["verdict"] != "invalid":
        rid = expected_report_id(data)
        if rid is not None:
            assert doc["report_id"] == rid

    got = [{"rule": f["rule"], "severity": f["severity"], "path": f["path"]}
           for f in doc["findings"]]
    want = [{"rule": f["rule"], "severity": f["severity"], "path": f["path"]}
            for f in expected["findings"]]
    assert got == want, "\n".join(
        ["findings differ; got:"]
        + ["  %s %s %r: %s" % (f["rule"], f["severity"], f["path"],
                               f.get("message")) for f in doc["findings"]])
    assert doc["verdict"] == expected["verdict"]
    assert doc["errors"] == expected["errors"]
    assert doc["warnings"] == expected["warnings"]

    for f, e in zip(doc["findings"], expected["findings"]):
        subs = e.get("message_contains")
        if subs is None:
            continue
        for s in [subs] if isinstance(subs, str) else subs:
            assert s in f["message"], "%r not in message %r" % (
                s, f["message"])

    want_rc = 0 if expected["verdict"] == "accepted" else 1
    assert proc.returncode == want_rc, "exit %d, stderr %r" % (
        proc.returncode, stderr)

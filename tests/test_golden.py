"""Golden-file tests of the audit engine (docs/report-format.md, docs/rules.md, docs/result.md).

One test per folder of tests/cases/ holding input.json (the bytes judged),
with an optional rules.rules (else the built-in default set). Run from inside
the folder, `expensed check --format json` must print exactly expected.json
(the whole result document but checked_at and expensed), and `expensed check`
exactly expected.txt; nothing on stderr, exit 0 if accepted, else 1.
Adding a case is adding a folder; tests/cases/regen.py writes its expected
files (see tests/cases/README.md).
"""
import difflib
import hashlib
import importlib.util
import json
import re
from pathlib import Path

import pytest

CASES = Path(__file__).resolve().parent / "cases"


def load_regen():
    """tests/cases/regen.py: the one definition of what is compared."""
    spec = importlib.util.spec_from_file_location("regen", CASES / "regen.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


regen = load_regen()
CASE_NAMES = [p.name for p in regen.case_folders()]

DOC_FIELDS = ["file", "sha256", "size", "report_id", "verdict", "errors",
              "warnings", "findings", "checked_at", "rules", "expensed"]


def check_doc_fields(doc, data):
    """What the document must say whatever the expected files hold."""
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


def read_expected(folder, name):
    path = folder / name
    if not path.is_file():
        pytest.fail("%s missing: run /usr/bin/python3 tests/cases/regen.py %s"
                    % (path, folder.name))
    return path.read_bytes()


def differences(name, want, got):
    """A unified diff of two texts, "" when they are the same bytes."""
    if want == got:
        return ""
    diff = difflib.unified_diff(
        want.decode("utf-8", "backslashreplace").splitlines(keepends=True),
        got.decode("utf-8", "backslashreplace").splitlines(keepends=True),
        "expected/" + name, "got/" + name)
    return "%s differs (- expected, + got):\n%s" % (name, "".join(diff))


@pytest.mark.parametrize("lang", sorted(regen.LANGS))
@pytest.mark.parametrize("name", CASE_NAMES)
def test_case(expensed_bin, name, lang):
    folder = CASES / name
    data = (folder / "input.json").read_bytes()
    jname, tname = regen.LANGS[lang]
    want_json = read_expected(folder, jname)
    want_txt = read_expected(folder, tname)

    pj = regen.run_check(expensed_bin, folder, True, lang)
    assert pj.stderr == b"", "stderr %r" % pj.stderr
    doc = regen.parse_doc(pj)
    check_doc_fields(doc, data)
    if doc["verdict"] != "invalid":
        rid = expected_report_id(data)
        if rid is not None:
            assert doc["report_id"] == rid
    if lang != "en":
        check_same_but_messages(folder, doc)
    diffs = [differences(jname, want_json,
                         regen.render(doc).encode("utf-8"))]
    want_rc = 0 if doc["verdict"] == "accepted" else 1
    assert pj.returncode == want_rc, "--format json: exit %d" % pj.returncode

    pt = regen.run_check(expensed_bin, folder, False, lang)
    assert pt.stderr == b"", "stderr %r" % pt.stderr
    diffs.append(differences(tname, want_txt, pt.stdout))
    if any(diffs):
        pytest.fail("\n".join(d for d in diffs if d), pytrace=False)
    assert pt.returncode == want_rc, "text: exit %d" % pt.returncode


def check_same_but_messages(folder, doc):
    """Another language changes the messages and nothing else: keys, rule
    ids, paths, expected and actual values, counts as in English."""
    english = json.loads((folder / "expected.json").read_text("utf-8"))
    kept = {k: v for k, v in doc.items() if k not in regen.VARYING}
    assert list(kept) == list(english)
    for a, b in zip(kept["findings"], english["findings"]):
        assert list(a) == list(b)
        assert {k: v for k, v in a.items() if k != "message"} == \
            {k: v for k, v in b.items() if k != "message"}
    strip = lambda d: {k: v for k, v in d.items() if k != "findings"}
    assert strip(kept) == strip(english)
    assert len(kept["findings"]) == len(english["findings"])

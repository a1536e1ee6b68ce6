"""End-to-end tests of what the spool promises whatever a dropper does
(docs/operations.md): the archive is the daemon's copy of the bytes judged,
every file gets its own result under its own name, long names, one suffix
probe per name, poison pills end, and at most 20 finding lines per file.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from daemon_util import (Daemon, archived, count_archived, derived, drop,
                         hooks_binary, make_report, result, seed_path,
                         wait_for, write_config)

SEED = seed_path().read_bytes()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def archive_path(spool, doc):
    return Path(spool) / doc["archived_as"]


def wait_result(spool, name, timeout=10):
    return wait_for(lambda: result(spool, name), timeout,
                    what="%s to be archived" % name)


def assert_each_has_its_own(spool):
    """Every archived file has exactly its own result (archived_as naming
    it, sha256 of its bytes), every other file is such a result; nothing
    left in work/. Returns {archived_as: result}."""
    docs = {}
    for d in ("accepted", "rejected"):
        p = Path(spool) / d
        names = set(os.listdir(p))
        inputs = set()
        for n in names:
            r = n + ".result.json"
            if r not in names:
                continue
            doc = json.loads((p / r).read_text())
            if doc.get("archived_as") != "%s/%s" % (d, n):
                continue  # n is itself a result
            if doc["sha256"] is not None:
                assert doc["sha256"] == sha((p / n).read_bytes()), n
            inputs.add(n)
            docs[doc["archived_as"]] = doc
        # and its page ([html] enabled, the default)
        assert names == inputs | {n + ".result.json" for n in inputs} | \
            {n + ".result.html" for n in inputs}
    assert os.listdir(Path(spool) / "work") == []
    return docs


def test_hard_link_is_input_file(spool, start_daemon, tmp_path):
    """A file with a second name outside the inbox could be rewritten
    after the verdict: input.file, never read."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "linked.json").write_bytes(SEED)
    start_daemon(spool)
    os.link(home / "linked.json", spool / "inbox" / "linked.json")
    doc = wait_result(spool, "linked.json")
    assert doc["verdict"] == "invalid"
    assert [(f["rule"], f["message"]) for f in doc["findings"]] == [
        ("input.file", "the file has 2 hard links")]
    assert doc["sha256"] is None and doc["size"] == len(SEED)
    assert doc["archived_as"] == "rejected/linked.json"


def test_open_writer_cannot_change_archive(spool, start_daemon, tmp_path):
    """A dropper keeping a write descriptor rewrites the file after the
    verdict: the archive is the daemon's copy, unchanged, 0640."""
    stage = tmp_path / "stage"
    stage.mkdir()
    fd = os.open(stage / "kept.json", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        os.write(fd, SEED)
        start_daemon(spool)
        os.rename(stage / "kept.json", spool / "inbox" / "kept.json")
        doc = wait_result(spool, "kept.json")
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b'{"forged": true}')
        os.ftruncate(fd, 16)
    finally:
        os.close(fd)
    assert doc["verdict"] == "accepted"
    arch = archive_path(spool, doc)
    st = arch.stat()
    assert arch.read_bytes() == SEED
    assert doc["sha256"] == sha(SEED) and doc["size"] == len(SEED)
    assert st.st_mode & 0o777 == 0o640 and st.st_nlink == 1
    assert st.st_uid == os.getuid()


# A program holding a write lease on its file (F_SETLEASE: Samba with
# kernel oplocks, the NFS server's write delegations), renamed into the
# inbox. "release": it gives the lease up when the daemon's open breaks it
# (SIGIO), as they do; "keep": it never does (SIGIO ignored).
LEASE_HOLDER = r"""
import fcntl, os, signal, sys
stage, dest, mode = sys.argv[1:]
F_SETLEASE = 1024
fd = os.open(stage, os.O_RDONLY)
fcntl.fcntl(fd, F_SETLEASE, fcntl.F_WRLCK)
def release(sig, frame):
    fcntl.fcntl(fd, F_SETLEASE, fcntl.F_UNLCK)
    print("released", flush=True)
signal.signal(signal.SIGIO, release if mode == "release" else signal.SIG_IGN)
os.rename(stage, dest)
print("dropped", flush=True)
sys.stdin.read()
"""


def hold_lease(spool, name, mode):
    stage = Path(spool) / "stage"
    stage.mkdir(exist_ok=True)
    (stage / name).write_bytes(SEED)
    p = subprocess.Popen([sys.executable, "-c", LEASE_HOLDER,
                          str(stage / name), str(Path(spool) / "inbox" / name),
                          mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    # "released" may come first: the daemon may open it at once
    p.said = [p.stdout.readline()]
    if p.said[0] == "released\n":
        p.said.append(p.stdout.readline())
    assert "dropped\n" in p.said
    return p


def end_holder(p):
    """Let the holder go; what else it said (read through the same
    buffered pipe as the first lines)."""
    p.stdin.close()
    p.said += p.stdout.readlines()
    p.wait(10)


@pytest.mark.parametrize("rescan", ["1s", "0"])
def test_leased_file_judged_once_released(rescan, spool, start_daemon,
                                          expensed_bin):
    """The daemon's open breaks the lease; a holder that gives it up
    promptly has its file judged as it is at the next look, not invalid
    for a moment's EWOULDBLOCK. With rescan = 0 the daemon looks again on
    its own (60 s; here EXPENSED_FULL_RETRY_MS, 500 ms)."""
    if rescan == "0":
        d = start_daemon(spool, rescan="0", binary=hooks_binary(expensed_bin),
                         env={"EXPENSED_FULL_RETRY_MS": "500"})
    else:
        d = start_daemon(spool)
    p = hold_lease(spool, "leased.json", "release")
    try:
        doc = wait_result(spool, "leased.json")
    finally:
        end_holder(p)
    assert sorted(p.said) == ["dropped\n", "released\n"]
    assert doc["verdict"] == "accepted", doc["findings"]
    assert doc["archived_as"] == "accepted/leased.json"
    assert doc["sha256"] == sha(SEED) and doc["size"] == len(SEED)
    assert (spool / "accepted" / "leased.json").read_bytes() == SEED
    assert d.text().count("leased.json: another program holds a lease on "
                          "the file; taken again at the next look") == 1
    assert_each_has_its_own(spool)


def test_lease_never_released_ends_input_file(spool, start_daemon):
    """A holder that never gives its lease up cannot keep its file in
    work/ for good: at the third look it is invalid, input.file, saying
    why, archived as it is."""
    d = start_daemon(spool)
    p = hold_lease(spool, "kept.json", "keep")
    try:
        doc = wait_result(spool, "kept.json", timeout=20)
    finally:
        end_holder(p)
    assert doc["verdict"] == "invalid"
    assert [(f["rule"], f["message"]) for f in doc["findings"]] == [
        ("input.file", "another program (a file server) kept the file "
         "locked and did not release it (3 tries)")]
    assert doc["sha256"] is None and doc["size"] is None
    assert doc["archived_as"] == "rejected/kept.json"
    assert d.text().count("kept.json: another program holds a lease on "
                          "the file; taken again at the next look") == 2
    assert_each_has_its_own(spool)


def test_slow_writer(spool, start_daemon):
    """A file created in the inbox and written slowly: whatever was judged,
    the archive holds exactly those bytes."""
    start_daemon(spool)
    path = spool / "inbox" / "slow.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, SEED[:len(SEED) // 2])
        # claimed once settled, the first half only
        wait_for(lambda: not path.exists(), 10, what="the claim")
        os.write(fd, SEED[len(SEED) // 2:])
    finally:
        os.close(fd)
    doc = wait_result(spool, "slow.json")
    data = archive_path(spool, doc).read_bytes()
    assert doc["sha256"] == sha(data) and doc["size"] == len(data)
    assert data == SEED[:len(SEED) // 2]
    assert doc["findings"][0]["rule"] == "input.json"


def test_forged_result_in_one_burst(spool, start_daemon, tmp_path):
    """X.json and a forged X.json.result.json moved in together: each is
    judged and archived with its own result."""
    forged = json.dumps({"file": "X.json", "verdict": "accepted",
                         "errors": 0, "findings": []}).encode()
    stage = tmp_path / "stage"
    stage.mkdir()
    x = make_report(SEED, 1, broken=True)  # rejected: both in rejected/
    (stage / "X.json").write_bytes(x)
    (stage / "X.json.result.json").write_bytes(forged)
    os.rename(stage / "X.json", spool / "inbox" / "X.json")
    os.rename(stage / "X.json.result.json",
              spool / "inbox" / "X.json.result.json")
    d = start_daemon(spool)  # one scan at start: one batch
    wait_for(lambda: "X.json: rejected" in d.text() and
             "X.json.result.json: rejected" in d.text(), 10,
             what="both archived")
    docs = {}
    for dd in ("accepted", "rejected"):
        for n in os.listdir(spool / dd):
            if n.endswith(".result.json"):
                doc = json.loads((spool / dd / n).read_text())
                docs[doc["file"]] = doc
    assert sorted(docs) == ["X.json", "X.json.result.json"]
    assert docs["X.json"]["verdict"] == "rejected"
    assert docs["X.json"]["sha256"] == sha(x)
    assert docs["X.json.result.json"]["verdict"] == "rejected"
    assert docs["X.json.result.json"]["sha256"] == sha(forged)
    # whichever came first kept its name; the other got a suffix
    assert sorted(doc["archived_as"] for doc in docs.values()) in (
        ["rejected/X.json", "rejected/X.json.result.1.json"],
        ["rejected/X.1.json", "rejected/X.json.result.json"])
    assert_each_has_its_own(spool)
    assert "File exists" not in d.text()


def test_same_name_3000_times(spool, start_daemon, tmp_path):
    """3,000 drops of same.json: distinct suffixes, each its own result,
    and the disk is probed once for that name, not once per file."""
    d = start_daemon(spool)
    stage = tmp_path / "stage"
    stage.mkdir()
    inbox = spool / "inbox" / "same.json"
    for i in range(3000):
        (stage / "same.json").write_bytes(make_report(SEED, i))
        wait_for(lambda: not inbox.exists(), 10, 0.0005, what="a claim")
        os.rename(stage / "same.json", inbox)
    wait_for(lambda: count_archived(spool) >= 3000 and
             not os.listdir(spool / "work"), 60, 0.05, what="3000 archived")
    names = sorted(os.listdir(spool / "accepted"))
    want = ["same.json"] + ["same.%d.json" % i for i in range(1, 3000)]
    assert sorted(n for n in names if not derived(n)) == sorted(want)
    for n in want:
        doc = json.loads((spool / "accepted" / (n + ".result.json"))
                         .read_text())
        assert doc["file"] == "same.json"
        assert doc["sha256"] == sha((spool / "accepted" / n).read_bytes())
    text = d.text()
    probes = [line for line in text.splitlines()
              if "archive names of same.json in accepted/" in line]
    assert len(probes) == 1, probes
    assert "taken meanwhile" not in text


def test_long_names(spool, start_daemon):
    """A 255-byte name ending in .json is judged as dropped and archived
    under a shortened name ending in .json; a 240-byte one is not cut."""
    long = "a" * 250 + ".json"
    mid = "b" * 235 + ".json"
    start_daemon(spool)
    drop(spool, long, make_report(SEED, 1))
    drop(spool, mid, make_report(SEED, 2))
    wait_for(lambda: count_archived(spool) >= 2, 10, what="both archived")
    docs = {}
    for n in os.listdir(spool / "accepted"):
        if n.endswith(".result.json"):
            doc = json.loads((spool / "accepted" / n).read_text())
            docs[doc["file"]] = (n[:-len(".result.json")], doc)
    assert sorted(docs) == sorted([long, mid])
    arch, doc = docs[long]
    assert doc["verdict"] == "accepted"
    assert arch.endswith(".json") and len(arch) < 255
    assert len(arch) + len(".result.json") <= 255
    assert long.startswith(arch[:-len(".json")])
    assert docs[mid][0] == mid
    assert_each_has_its_own(spool)


def test_third_recovery_is_input_resources(spool, start_daemon):
    """A claim whose recovery was counted twice already (as a daemon that
    crashed twice on it leaves it) is archived input.resources."""
    token = "0123456789abcdef"
    key = token + ".00000001"
    (spool / "work").mkdir()
    (spool / "state").mkdir()
    (spool / "work" / ("c%s.pill.json" % key)).write_bytes(SEED)
    (spool / "state" / ("tries-%s" % key)).write_text("2\n")
    d = start_daemon(spool)
    doc = wait_result(spool, "pill.json")
    assert doc["verdict"] == "invalid" and doc["sha256"] is None
    f = doc["findings"]
    assert [x["rule"] for x in f] == ["input.resources"]
    assert "3 times" in f[0]["message"]
    assert doc["archived_as"] == "rejected/pill.json"
    wait_for(lambda: not (spool / "state" / ("tries-%s" % key)).exists(),
             5, what="the count removed")
    wait_for(lambda: "pill.json: invalid" in d.text(), 5,
             what="the verdict line")


def test_poison_pill_ends(spool, start_daemon, expensed_bin):
    """2,000,000 empty missions (6 MB) under a small address space: their
    parse tree alone outgrows it, so judging runs out of memory (or crashes)
    at each start; the third recovery archives it input.resources, and the
    next file is judged normally. (100,000 empty missions now judge within
    bounds: test_check_cli.py.)"""
    if b"libasan" in Path(expensed_bin).read_bytes():
        pytest.skip("sanitizer build: its shadow memory needs more address "
                    "space than the limit")
    pill = json.dumps({"id": "PILL", "missions": [{}] * 2000000}).encode()
    assert len(pill) > 6000000
    drop(spool, "pill.json", pill)
    limit = ["prlimit", "--as=%d" % (200 << 20)]
    outcome = None
    for i in range(5):
        d = start_daemon(spool, name="p%d" % i, prefix=limit)
        wait_for(lambda: d.proc.poll() is not None or
                 "out of memory judging" in d.text() or
                 result(spool, "pill.json"), 30, what="an attempt")
        outcome = result(spool, "pill.json")
        if outcome:
            break
        d.stop() if d.proc.poll() is None else d.cleanup()
    assert outcome is not None, "not archived after 5 starts"
    assert i == 3  # two recoveries judged, the third is input.resources
    assert [f["rule"] for f in outcome["findings"]] == ["input.resources"]
    assert outcome["archived_as"] == "rejected/pill.json"
    drop(spool, "next.json", SEED)
    assert wait_result(spool, "next.json")["verdict"] == "accepted"
    assert d.stop() == 0


def test_log_cap(spool, start_daemon):
    """At most 20 finding lines per file, then one line with the rest."""
    doc = json.loads(SEED)
    m = doc["missions"][0]
    doc["missions"] = [{k: v for k, v in m.items() if k != "id"}
                       for _ in range(30)]
    d = start_daemon(spool)
    drop(spool, "many.json", json.dumps(doc))
    res = wait_result(spool, "many.json")
    assert res["errors"] >= 30
    wait_for(lambda: "many.json: and " in d.text(), 5, what="the last line")
    lines = [line for line in d.text().splitlines() if "many.json: " in line]
    errs = [line for line in lines if re.search(r"many\.json: \S*: ?error:",
                                                line) or "error: " in line]
    assert len(errs) == 20, lines
    assert [line for line in lines if "many.json: and " in line] == [
        line for line in lines
        if line.endswith("many.json: and %d more errors (see the result)"
                         % (res["errors"] - 20))]
    assert len(lines) == 1 + 20 + 1


def test_daemon_max_findings(spool, tmp_path, expensed_bin):
    """[spool] max_findings bounds the findings listed in the daemon's
    result too; the counts stay exact and findings_left_out says the rest."""
    doc = json.loads(SEED)
    m = doc["missions"][0]
    doc["missions"] = [{k: v for k, v in m.items() if k != "id"}
                       for _ in range(30)]
    conf = tmp_path / "max.conf"
    write_config(conf, spool)
    text = conf.read_text().replace("[spool]\n", "[spool]\nmax_findings = 5\n")
    conf.write_text(text)
    d = Daemon(expensed_bin, conf, tmp_path / "max.log")
    try:
        d.start()
        drop(spool, "many.json", json.dumps(doc))
        res = wait_result(spool, "many.json")
    finally:
        d.stop()
    # the same file through check, unbounded, gives the full list
    full = subprocess.run(
        [expensed_bin, "check", "--format", "json", "--max-findings",
         "1000000", str(spool / "rejected" / "many.json")],
        stdout=subprocess.PIPE, check=False)
    whole = json.loads(full.stdout)
    assert res["verdict"] == "rejected"
    assert res["errors"] == whole["errors"]
    assert res["warnings"] == whole["warnings"]
    assert len(res["findings"]) == 5
    assert res["findings"] == whole["findings"][:5]
    assert res["findings_left_out"] == len(whole["findings"]) - 5

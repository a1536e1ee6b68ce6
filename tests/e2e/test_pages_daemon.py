"""End-to-end tests of the daemon's pages (docs/operations.md "Verdict
pages"): NAME.result.html beside every result, written in the same batch
and recovered from every kill -9 point of it, never a name a dropped file
can take; index.html, the latest 200 verdicts, newest first, continued
across restarts; [html] enabled = no; French.
"""
import calendar
import contextlib
import errno
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from browser import dump_dom, parse
from daemon_util import (VERDICT_LINE, Daemon, cpu_ticks, derived, drop,
                         hooks_binary, make_report, result, seed_path,
                         wait_for, write_config)

SEED = seed_path().read_bytes()
SEED_ID = json.loads(SEED)["id"]
NOBODY = 65534
BROKEN = make_report(SEED, 1, broken=True)
VERDICTS = {"en": ("accepted", "rejected", "invalid"),
            "fr": ("accepté", "rejeté", "invalide")}


def listing(spool):
    """{dir: sorted names} of accepted/ and rejected/."""
    return {d: sorted(os.listdir(spool / d)) for d in ("accepted", "rejected")
            if (spool / d).is_dir()}


def inputs(spool):
    """[(dir, ARCH)] of every archived input."""
    return [(d, n) for d, names in listing(spool).items() for n in names
            if not derived(n)]


def assert_each_has_one_page(spool):
    """Every archived input has exactly its result and its page (mode
    0640), every other entry is one of those; work/ is empty. Returns
    {(dir, ARCH): result document}."""
    docs = {}
    for d, names in listing(spool).items():
        got = set(names)
        ins = {n for n in names if not derived(n)}
        assert got == ins | {n + ".result.json" for n in ins} | \
            {n + ".result.html" for n in ins}, (d, sorted(got))
        for n in ins:
            doc = json.loads((spool / d / (n + ".result.json")).read_text())
            assert doc["archived_as"] == "%s/%s" % (d, n)
            page = spool / d / (n + ".result.html")
            assert stat.S_IMODE(page.stat().st_mode) == 0o640
            docs[(d, n)] = doc
    assert os.listdir(spool / "work") == []
    return docs


def page_verdict(page):
    """The verdict the page's #verdict banner states by its class, v-VERDICT
    (raw HTML read, no browser; docs/pages.md)."""
    m = re.search(r'<header class="banner v-(\w+)" id="verdict">',
                  page.read_text())
    assert m, page
    return m.group(1)


def dom_verdict(page):
    """The verdict as Chromium built the page: the #verdict banner's class
    and its heading, which says it in words (English)."""
    el = parse(dump_dom(page)).by_id().get("verdict")
    assert el is not None, page
    cls = [c[2:] for c in el.attrs["class"].split() if c.startswith("v-")]
    words = el.find_all("h1", class_="verdict")[0].text.lower()
    assert cls == [words], (cls, words)
    return words


def verdict_lines(d):
    return [m.group(1) for m in map(VERDICT_LINE.match, d.text().splitlines())
            if m]


def settled(stage, names):
    """Make the staged files old enough for the daemon's first scan to take
    them all, in one batch."""
    old = time.time() - 60
    for n in names:
        os.utime(stage / n, (old, old))


def wait_all(spool, n, timeout=30):
    wait_for(lambda: len(inputs(spool)) >= n and
             not os.listdir(spool / "work"), timeout,
             what="%d files archived" % n)


# ---- pages beside results ----

def test_pages_beside_results(spool, start_daemon):
    """An accepted, a rejected, an invalid file and a same-name drop each
    get exactly ARCH.result.html beside ARCH.result.json, mode 0640, whose
    verdict is the result's."""
    d = start_daemon(spool)
    drop(spool, "seed.json", SEED)
    wait_for(lambda: result(spool, "seed.json"), 10, what="seed.json")
    drop(spool, "broken.json", BROKEN)
    drop(spool, "bad.json", b'{"id": "x", ')
    drop(spool, "notes.txt", b"hello")
    wait_all(spool, 4)
    # the same name again: suffixed, and so is its page
    drop(spool, "broken.json", make_report(SEED, 2, broken=True))
    wait_for(lambda: result(spool, "broken.1.json"), 10, what="broken.1")
    assert listing(spool) == {
        "accepted": ["seed.json", "seed.json.result.html",
                     "seed.json.result.json"],
        "rejected": ["bad.json", "bad.json.result.html",
                     "bad.json.result.json",
                     "broken.1.json", "broken.1.json.result.html",
                     "broken.1.json.result.json",
                     "broken.json", "broken.json.result.html",
                     "broken.json.result.json",
                     "notes.txt", "notes.txt.result.html",
                     "notes.txt.result.json"]}
    docs = assert_each_has_one_page(spool)
    assert {n: doc["verdict"] for (_, n), doc in docs.items()} == {
        "seed.json": "accepted", "broken.json": "rejected",
        "broken.1.json": "rejected", "bad.json": "invalid",
        "notes.txt": "invalid"}
    for (dd, n), doc in docs.items():
        assert doc["verdict"] == page_verdict(spool / dd /
                                              (n + ".result.html"))
    # as a browser reads them
    for dd, n in (("accepted", "seed.json"), ("rejected", "broken.json"),
                  ("rejected", "bad.json")):
        doc = docs[(dd, n)]
        assert doc["verdict"] == dom_verdict(spool / dd /
                                             (n + ".result.html"))
    assert d.stop() == 0


def test_pages_take_the_read_group(spool, start_daemon):
    """The read group is the group of accepted/ and rejected/ (setgid, as
    tmpfiles makes them): copies, results, pages and index.html get it,
    although they are written elsewhere and renamed in."""
    if os.geteuid() != 0:
        pytest.skip("chown to another group needs root")
    gid = 4242
    for dd in ("accepted", "rejected"):
        (spool / dd).mkdir()
        os.chown(spool / dd, -1, gid)
        os.chmod(spool / dd, 0o2750)
    d = start_daemon(spool)
    drop(spool, "seed.json", SEED)
    drop(spool, "broken.json", BROKEN)
    wait_all(spool, 2)
    wait_for(lambda: (spool / "index.html").exists(), 10, what="index")
    for dd, names in listing(spool).items():
        for n in names:
            st = os.stat(spool / dd / n)
            assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (gid, 0o640), n
    st = os.stat(spool / "index.html")
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (gid, 0o640)
    assert d.stop() == 0


def test_read_group_setting(spool, start_daemon, tmp_path):
    """[spool] read_group names the group instead: accepted/ and rejected/
    are given it (setgid kept), and so are the files archived, their pages
    and index.html."""
    if os.geteuid() != 0:
        pytest.skip("chown to another group needs root")
    for dd in ("accepted", "rejected"):
        (spool / dd).mkdir()
        os.chmod(spool / dd, 0o750)
    write_config(tmp_path / "d.conf", spool)
    conf = (tmp_path / "d.conf").read_text().replace(
        "[spool]\n", "[spool]\nread_group = 4343\n", 1)
    (tmp_path / "d.conf").write_text(conf)
    d = start_daemon(spool)
    drop(spool, "seed.json", SEED)
    drop(spool, "broken.json", BROKEN)
    wait_all(spool, 2)
    wait_for(lambda: (spool / "index.html").exists(), 10, what="index")
    assert d.stop() == 0
    for dd in ("accepted", "rejected"):
        st = os.stat(spool / dd)
        assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (4343, 0o2750), dd
    for dd, names in listing(spool).items():
        for n in names:
            assert os.stat(spool / dd / n).st_gid == 4343, n
    assert os.stat(spool / "index.html").st_gid == 4343



def read_group_config(tmp_path, spool, gid):
    write_config(tmp_path / "d.conf", spool)
    conf = (tmp_path / "d.conf").read_text().replace(
        "[spool]\n", "[spool]\nread_group = %d\n" % gid, 1)
    (tmp_path / "d.conf").write_text(conf)


def tmpfiles_again(spool, gid):
    """What `systemd-tmpfiles --create` does to accepted/ and rejected/
    (at boot, and in the postinst of a package upgrade): the group and
    mode of expensed.tmpfiles, whatever the daemon gave them."""
    for dd in ("accepted", "rejected"):
        os.chown(spool / dd, -1, gid)
        os.chmod(spool / dd, 0o2750)


def test_read_group_given_at_start(spool, start_daemon, tmp_path):
    """accepted/ and rejected/ get [spool] read_group when the daemon
    starts, not at its first batch: after an upgrade (whose tmpfiles run
    gave them the drop group back just before the restart) the readers
    are not locked out until the next report comes."""
    if os.geteuid() != 0:
        pytest.skip("chown to another group needs root")
    for dd in ("accepted", "rejected"):
        (spool / dd).mkdir()
    tmpfiles_again(spool, 4242)
    read_group_config(tmp_path, spool, 4343)
    d = start_daemon(spool)
    for dd in ("accepted", "rejected"):
        st = os.stat(spool / dd)
        assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (4343, 0o2750), dd
    assert d.stop() == 0


def test_read_group_given_back(spool, start_daemon, tmp_path):
    """A running daemon gives accepted/ and rejected/ the read group again
    at the next batch when they lost it (systemd-tmpfiles --create), not
    only when the setting changes: the readers are not locked out until a
    restart."""
    if os.geteuid() != 0:
        pytest.skip("chown to another group needs root")
    read_group_config(tmp_path, spool, 4343)
    d = start_daemon(spool)
    drop(spool, "seed.json", SEED)
    wait_all(spool, 1)
    tmpfiles_again(spool, 4242)
    drop(spool, "broken.json", BROKEN)
    wait_all(spool, 2)
    for dd in ("accepted", "rejected"):
        st = os.stat(spool / dd)
        assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (4343, 0o2750), dd
    assert os.stat(spool / "rejected/broken.json").st_gid == 4343
    assert d.stop() == 0

def test_read_group_not_given_warns_once(expensed_bin, tmp_path):
    """A daemon that may not give the read group (not a member: run as
    nobody, read_group 4343) archives its files with its own group and
    says so once, naming the group and the reason, not once per file;
    index.html is still written."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run the daemon as nobody")
    top = Path(tempfile.mkdtemp(prefix="expensed-nobody-"))
    try:
        os.chmod(top, 0o755)
        spool = top / "spool"
        for sub in ("", "inbox", "stage", "accepted", "rejected"):
            (spool / sub).mkdir(exist_ok=True)
            os.chown(spool / sub, NOBODY, NOBODY)
        for dd in ("accepted", "rejected"):
            os.chown(spool / dd, NOBODY, 4343)
            os.chmod(spool / dd, 0o2750)
        write_config(top / "d.conf", spool)
        conf = (top / "d.conf").read_text().replace(
            "[spool]\n", "[spool]\nread_group = 4343\n", 1)
        (top / "d.conf").write_text(conf)
        wrapper = top / "as-nobody"
        wrapper.write_text(
            "#!/bin/sh\nexec setpriv --reuid=%d --regid=%d --clear-groups "
            "%s \"$@\"\n" % (NOBODY, NOBODY, os.path.abspath(expensed_bin)))
        os.chmod(wrapper, 0o755)
        d = Daemon(str(wrapper), top / "d.conf", top / "d.log")
        try:
            d.start()
            for i, name in enumerate(("a.json", "b.json", "c.json")):
                (spool / "stage" / name).write_bytes(
                    make_report(SEED, i, broken=i == 1))
                os.chown(spool / "stage" / name, NOBODY, NOBODY)
                os.rename(spool / "stage" / name, spool / "inbox" / name)
                wait_all(spool, i + 1)
            wait_for(lambda: (spool / "index.html").exists(), 10,
                     what="index")
            assert d.stop() == 0
        finally:
            d.cleanup()
        warnings = [line for line in d.text().splitlines()
                    if "cannot give the archived files" in line]
        assert warnings == [
            "expensed[%d]: warning: cannot give the archived files the "
            "read group ? (4343): Operation not permitted; they keep the "
            "daemon's group (is the daemon a member?)" % d.proc.pid], \
            d.text()
        for dd, names in listing(spool).items():
            for n in names:
                assert os.stat(spool / dd / n).st_gid == NOBODY, n
        assert len(inputs(spool)) == 3
        assert os.stat(spool / "index.html").st_gid == NOBODY
    finally:
        shutil.rmtree(top)


# ---- crashes ----

POINTS = ["copied", "recorded", "synced", "half-archived", "page-archived",
          "archived"]


@pytest.mark.parametrize("point", POINTS)
def test_crash_windows(point, spool, expensed_bin, start_daemon, tmp_path):
    """Die like kill -9 at each point of a batch of 12, restart: every file
    has exactly one result and one page, the page's verdict is the
    result's, nothing is left in work/."""
    stage = tmp_path / "stage"
    stage.mkdir()
    names = []
    for i in range(12):
        name = "f%02d.json" % i
        data = b"{" if i % 4 == 3 else make_report(SEED, i, broken=i % 2)
        (stage / name).write_bytes(data)
        names.append(name)
    settled(stage, names)
    for n in names:
        os.rename(stage / n, spool / "inbox" / n)
    cfg = tmp_path / "crash.conf"
    write_config(cfg, spool)
    env = dict(os.environ, EXPENSED_FAILPOINT=point)
    env.pop("NOTIFY_SOCKET", None)
    with open(tmp_path / "crash.log", "wb") as log:
        r = subprocess.run([hooks_binary(expensed_bin), "run", "-c",
                            str(cfg), "-v"], stderr=log, env=env, timeout=30)
    assert r.returncode == 99
    work = sorted(os.listdir(spool / "work"))
    pages = [w for w in work if w.startswith("p")]
    if point in ("recorded", "synced"):
        assert len(pages) == 12
    elif point == "half-archived":
        # the first file is done; the second moved, not its page
        assert len(pages) == 11
    elif point == "page-archived":
        # the second file's page moved, not its result
        assert len(pages) == 10
        assert len([w for w in work if w.startswith("r")]) == 11
    elif point == "archived":
        assert work == []
    d = start_daemon(spool, name="after")
    wait_all(spool, 12)
    assert d.stop() == 0
    docs = assert_each_has_one_page(spool)
    assert sorted(doc["file"] for doc in docs.values()) == names
    for (dd, n), doc in docs.items():
        assert doc["verdict"] == page_verdict(spool / dd /
                                              (n + ".result.html"))
    # index.html lists what the recovery archived, each file once: the
    # index is a view, the files the crashed daemon archived are not in it
    # (it died before its index update)
    if point == "archived":
        assert not (spool / "index.html").exists()
    else:
        files = [r["file"] for r in index_rows(spool)]
        assert len(set(files)) == len(files)
        assert set(files) <= set(names)
        assert len(files) == (11 if "archived" in point else 12)


# when a page says it was checked, in the local time zone, whatever it is
CHECKED_AT = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
                        rb"[A-Za-z]+(?:[+-]\d\d:\d\d)?")


def checked_page(expensed_bin, tmp_path, name, data):
    """What expensed check --format html prints for data as the file
    name, its times blanked."""
    d = tmp_path / "check"
    d.mkdir(exist_ok=True)
    (d / name).write_bytes(data)
    r = subprocess.run([expensed_bin, "check", "--format", "html", name],
                       cwd=d, capture_output=True, timeout=30)
    assert r.returncode in (0, 1, 2), r.stderr
    return CHECKED_AT.sub(b"TIME", r.stdout)


def archived_page(spool, d, name):
    return CHECKED_AT.sub(b"TIME",
                          (spool / d / (name + ".result.html")).read_bytes())


def archived_as_row(name):
    return ("<tr><th>Archived as</th><td><bdi>%s</bdi></td></tr>\n" %
            name).encode()


def test_pages_show_what_was_decided_after_judging(spool, start_daemon,
                                                   expensed_bin, tmp_path):
    """A page is rendered as soon as its file is judged, from the report
    still parsed and the bytes still in memory: byte for byte what
    expensed check prints. When the verdicts and names decided after
    judging change what it shows (a report.duplicate, a suffixed archive
    name), it is rendered again from the file's copy: the same page, with
    the finding or the "Archived as" row, and an invalid file's quote."""
    bad = b'{"id": "x",\n  "total": 12,, \n'
    d = start_daemon(spool)
    drop(spool, "seed.json", SEED)
    wait_for(lambda: result(spool, "seed.json"), 10, what="seed.json")
    drop(spool, "bad.json", bad)
    wait_for(lambda: result(spool, "bad.json"), 10, what="bad.json")
    # as judged: what check prints
    assert archived_page(spool, "accepted", "seed.json") == \
        checked_page(expensed_bin, tmp_path, "seed.json", SEED)
    checked_bad = checked_page(expensed_bin, tmp_path, "bad.json", bad)
    assert b'<pre class="quote" id="quote">' in checked_bad
    assert archived_page(spool, "rejected", "bad.json") == checked_bad
    # a suffixed name: rendered again, the invalid file quoted from its copy
    drop(spool, "bad.json", bad)
    wait_for(lambda: result(spool, "bad.1.json"), 10, what="bad.1.json")
    file_row = b"<tr><th>File</th><td><bdi>bad.json</bdi></td></tr>\n"
    assert archived_page(spool, "rejected", "bad.1.json") == \
        checked_bad.replace(file_row, file_row + archived_as_row("bad.1.json"))
    # a duplicate, then the same again (suffixed)
    drop(spool, "copy.json", SEED)
    wait_for(lambda: result(spool, "copy.json"), 10, what="copy.json")
    drop(spool, "copy.json", SEED)
    wait_for(lambda: result(spool, "copy.1.json"), 10, what="copy.1.json")
    assert d.stop() == 0
    for name in ("copy.json", "copy.1.json"):
        doc = result(spool, name)
        assert doc["verdict"] == "rejected"
        assert [f["rule"] for f in doc["findings"]
                if f["severity"] == "error"] == ["report.duplicate"]
        page = archived_page(spool, "rejected", name)
        assert page_verdict(spool / "rejected" / (name + ".result.html")) \
            == "rejected"
        assert b'data-path="/id"><span class="fno">6</span>' in page
        assert b'<span class="rule">report.duplicate</span>' in page
        assert (b"was already accepted (as accepted/seed.json)" in page)
        assert (archived_as_row(name) in page) == (name == "copy.1.json")
    assert archived_as_row("seed.json") not in \
        archived_page(spool, "accepted", "seed.json")


def test_duplicate_in_french(spool, start_daemon):
    """language = fr: report.duplicate's message is in French like the
    engine's (docs/languages.md), in the result document, on the page and
    in the log line that quotes it; its rule id and path stay."""
    d = start_daemon(spool, extra="[general]\nlanguage = fr\n")
    drop(spool, "seed.json", SEED)
    wait_for(lambda: result(spool, "seed.json"), 10, what="seed.json")
    drop(spool, "copy.json", SEED)
    wait_for(lambda: result(spool, "copy.json"), 10, what="copy.json")
    assert d.stop() == 0
    msg = ("le rapport %s a d\u00e9j\u00e0 \u00e9t\u00e9 accept\u00e9 "
           "(archiv\u00e9 sous accepted/seed.json)" % SEED_ID)
    (f,) = [f for f in result(spool, "copy.json")["findings"]
            if f["rule"] == "report.duplicate"]
    assert (f["path"], f["severity"], f["message"]) == ("/id", "error", msg)
    page = archived_page(spool, "rejected", "copy.json").decode()
    assert '<span class="sev">erreur</span>%s</p>' % msg in page
    assert "copy.json: /id: error: %s [report.duplicate]" % msg in d.text()
    assert "already accepted" not in page + d.text()


def test_times_in_local_time(spool, start_daemon):
    """Pages and index.html show when a file was checked in the server's
    time zone, named (CET, CEST), in French as 08/02/2019 11:00:00 CET;
    the result document and the index's datetime stay in UTC."""
    tz = "CET-1CEST,M3.5.0,M10.5.0/3"  # Paris, without tzdata
    d = start_daemon(spool, env={"TZ": tz},
                     extra="[general]\nlanguage = fr\n")
    drop(spool, "seed.json", SEED)
    doc = wait_for(lambda: result(spool, "seed.json"), 10, what="seed.json")
    assert d.stop() == 0
    utc = time.strptime(doc["checked_at"], "%Y-%m-%dT%H:%M:%SZ")
    old = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        local = time.localtime(calendar.timegm(utc))
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()
    zone = "CEST" if local.tm_isdst else "CET"
    page = (spool / "accepted" / "seed.json.result.html").read_text()
    assert time.strftime("%d/%m/%Y %H:%M:%S ", local) + zone in page
    assert " UTC" not in page
    (row,) = parse((spool / "index.html").read_text()).find_all(
        "time")
    assert row.attrs["datetime"] == doc["checked_at"]
    assert row.text == time.strftime("%d/%m/%Y %H:%M ", local) + zone


def test_page_out_of_memory_is_not_a_verdict(spool, expensed_bin,
                                             start_daemon):
    """A page that cannot be rendered for lack of memory (the test hook
    EXPENSED_PAGE_ENOMEM fails the first two) leaves its file in work/,
    without result or page; it is judged again and archived once, with its
    verdict, result and page."""
    d = start_daemon(spool, binary=hooks_binary(expensed_bin),
                     env={"EXPENSED_PAGE_ENOMEM": "2",
                          "EXPENSED_DEFER_MS": "100"})
    drop(spool, "seed.json", SEED)
    drop(spool, "broken.json", BROKEN)
    wait_for(lambda: d.text().count("cannot write page") == 2, 10,
             what="two pages out of memory")
    wait_all(spool, 2)
    assert d.stop() == 0
    docs = assert_each_has_one_page(spool)
    assert {n: doc["verdict"] for (_, n), doc in docs.items()} == {
        "seed.json": "accepted", "broken.json": "rejected"}
    assert d.text().count("cannot write page") == 2
    assert "Cannot allocate memory" in d.text()
    assert sorted(verdict_lines(d)) == ["broken.json", "seed.json"]
    # not a duplicate of itself: its ledger line came from the same claim
    assert docs[("accepted", "seed.json")]["errors"] == 0
    assert ledger_lines(spool) == [SEED_ID]


def ledger_lines(spool):
    """The ids of the ledger's lines (state/accepted-ids), in order."""
    text = (spool / "state" / "accepted-ids").read_text()
    return [line.split("\t")[0] for line in text.splitlines()]


def test_page_never_written_ends_input_resources(spool, expensed_bin,
                                                 start_daemon):
    """A page that always fails (EXPENSED_PAGE_ENOMEM past any count) does
    not loop: each failure defers the claim (EXPENSED_DEFER_MS, 100 ms in
    the test) and counts a recovery (state/tries-KEY), so that the third
    recovery judges it invalid, input.resources; its page failing too, it
    is archived without one. The ledger keeps the one line of the first
    try, not one per try."""
    d = start_daemon(spool, binary=hooks_binary(expensed_bin),
                     env={"EXPENSED_PAGE_ENOMEM": "100000",
                          "EXPENSED_DEFER_MS": "100"})
    drop(spool, "seed.json", SEED)
    wait_for(lambda: (spool / "rejected" / "seed.json.result.json").exists()
             and not os.listdir(spool / "work"), 20,
             what="seed.json archived")
    doc = json.loads((spool / "rejected" / "seed.json.result.json")
                     .read_text())
    assert doc["verdict"] == "invalid"
    assert [f["rule"] for f in doc["findings"]] == ["input.resources"]
    assert sorted(os.listdir(spool / "rejected")) == [
        "seed.json", "seed.json.result.json"]
    assert d.text().count("cannot write page") == 4
    # the first try and three recoveries, then never again: a second file
    # goes the same way meanwhile, and the first is not tried once more
    drop(spool, "broken.json", BROKEN)
    wait_for(lambda: (spool / "rejected" / "broken.json.result.json")
             .exists() and not os.listdir(spool / "work"), 20,
             what="broken.json archived")
    assert d.stop() == 0
    assert d.text().count("cannot write page") == 8
    assert verdict_lines(d) == ["seed.json", "broken.json"]
    assert not [n for n in os.listdir(spool / "state")
                if n.startswith("tries-")]
    assert ledger_lines(spool) == [SEED_ID]
    assert not (spool / "index.html").exists()


def fill(path):
    """Write path until its file system has no byte left (ENOSPC)."""
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 8, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e


@contextlib.contextmanager
def small_fs(tmp_path):
    """A file system of 4 MB of its own (a tmpfs), to fill: its mount
    point, unmounted afterwards."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755",
                    "tmpfs", str(mnt)], check=True, timeout=30)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], timeout=30)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"),
                    reason="mounts a small tmpfs (root)")
def test_full_disk_delays_and_never_invalidates(tmp_path, start_daemon):
    """No room for the copy is not the file's fault (unlike a page too
    large for memory): the claim stays in work/ uncounted and is tried
    again at each rescan, never deferred or counted toward input.resources;
    once there is room it is accepted, with its page."""
    with small_fs(tmp_path) as mnt:
        spool = mnt / "spool"
        (spool / "inbox").mkdir(parents=True)
        d = start_daemon(spool)  # rescan 1s
        part = spool / "inbox" / ".seed.json.part"  # in progress: left
        part.write_bytes(SEED)
        fill(mnt / "filler")
        os.rename(part, spool / "inbox" / "seed.json")
        wait_for(lambda: d.text().count("cannot copy") >= 4, 20,
                 what="four looks at the claim")
        assert listing(spool) == {"accepted": [], "rejected": []}
        assert len(os.listdir(spool / "work")) == 1
        assert not [n for n in os.listdir(spool / "state")
                    if n.startswith("tries-")]
        os.unlink(mnt / "filler")
        wait_for(lambda: result(spool, "seed.json"), 10, what="seed.json")
        doc = json.loads((spool / "accepted" / "seed.json.result.json")
                         .read_text())
        assert (doc["verdict"], doc["errors"]) == ("accepted", 0)
        assert listing(spool)["accepted"] == [
            "seed.json", "seed.json.result.html", "seed.json.result.json"]
        assert d.stop() == 0
        assert verdict_lines(d) == ["seed.json"]


# the lines that say a write of a batch failed (not those of the index,
# metrics or totals, which say so once per reason themselves)
WRITE_FAILED = re.compile(r"err: cannot (copy|write (page|result)|queue "
                          r"deliveries|count the recoveries) .*: No space")
NO_ROOM = "no room on the spool's file system"


class NotifyListener:
    """An sd_notify socket read all the while, as systemd reads it (the
    daemon's sendto() waits once ten datagrams are unread): said(m) tells
    whether the datagram m came."""

    def __init__(self, path):
        self.path = str(path)
        self.got = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.running = threading.Event()
        self.running.set()
        self.thread = threading.Thread(target=self._read)
        self.thread.start()

    def _read(self):
        while self.running.is_set():
            try:
                self.got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def said(self, message):
        return message in self.got

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.running.clear()
        self.thread.join()
        self.sock.close()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"),
                    reason="mounts a small tmpfs (root)")
def test_full_disk_says_so_once_per_look(tmp_path, start_daemon):
    """A burst into a full spool: one failed write and one line saying how
    many files wait, per look (a rescan), not a line per file; the rest of
    the batch is not tried, and files dropped meanwhile stay in the inbox,
    untaken, until there is room. Then every file is archived once, with
    its page, and the daemon says there is room again, once."""
    with small_fs(tmp_path) as mnt, \
            NotifyListener(tmp_path / "notify.sock") as notify:
        spool = mnt / "spool"
        (spool / "inbox").mkdir(parents=True)
        stage = mnt / "stage"
        stage.mkdir()
        first = ["f%02d.json" % i for i in range(20)]
        later = ["g%d.json" % i for i in range(5)]
        for i, name in enumerate(first + later):
            (stage / name).write_bytes(make_report(SEED, i, broken=i % 4 == 0))
        settled(stage, first + later)
        d = start_daemon(spool, rescan="2s",
                         env={"NOTIFY_SOCKET": notify.path})
        fill(mnt / "filler")
        for name in first:
            os.rename(stage / name, spool / "inbox" / name)
        wait_for(lambda: NO_ROOM in d.text(), 20, what="the first look")
        ticks = cpu_ticks(d.proc.pid)
        wait_for(lambda: notify.said("STATUS=accepted 0, rejected 0, "
                                     "invalid 0, outbox backlog 0; no room "
                                     "on the spool's file system"), 10,
                 what="the status line")
        text = d.text()
        assert len(WRITE_FAILED.findall(text)) == text.count(NO_ROOM), text
        assert re.search(r"err: no room on the spool's file system: \d+ "
                         r"file\(s\) wait in work/, tried again within 2 "
                         r"s; the inbox is not taken until then", text), text
        assert listing(spool) == {"accepted": [], "rejected": []}
        assert len(os.listdir(spool / "work")) + \
            len(os.listdir(spool / "inbox")) == len(first)
        for name in later:
            os.rename(stage / name, spool / "inbox" / name)
        wait_for(lambda: d.text().count(NO_ROOM) >= 3, 20,
                 what="two more looks")
        text = d.text()
        assert len(WRITE_FAILED.findall(text)) == text.count(NO_ROOM), text
        # two looks, 2 s apart: waiting is not spinning (a busy loop would
        # burn the whole 2 s and more)
        assert cpu_ticks(d.proc.pid) - ticks < 100
        assert set(later) <= set(os.listdir(spool / "inbox"))
        assert listing(spool) == {"accepted": [], "rejected": []}
        assert "room again" not in text
        os.unlink(mnt / "filler")
        wait_for(lambda: len(inputs(spool)) == len(first + later), 20,
                 what="every file archived")
        # seven of the 25 reports are broken (i % 4 == 0)
        wait_for(lambda: notify.said("STATUS=accepted 18, rejected 7, "
                                     "invalid 0, outbox backlog 0"), 10,
                 what="the status line once written again")
        assert d.stop() == 0
        docs = assert_each_has_one_page(spool)
        assert sorted(n for _, n in docs) == sorted(first + later)
        assert sorted(verdict_lines(d)) == sorted(first + later)
        assert d.text().count("the spool's file system has room again") \
            == 1
        assert not [n for n in os.listdir(spool / "state")
                    if n.startswith("tries-")]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"),
                    reason="mounts a small tmpfs (root)")
def test_full_disk_without_rescan_looks_again(tmp_path, start_daemon,
                                              expensed_bin):
    """With rescan = 0 a full spool still looks again on its own (60 s;
    here EXPENSED_FULL_RETRY_MS, 500 ms, which the log rounds up to 1 s),
    also when rescan was turned off by a reload while full, and takes what
    waits once there is room."""
    with small_fs(tmp_path) as mnt:
        spool = mnt / "spool"
        (spool / "inbox").mkdir(parents=True)
        d = start_daemon(spool, rescan="3600s",
                         binary=hooks_binary(expensed_bin),
                         env={"EXPENSED_FULL_RETRY_MS": "500"})
        (mnt / "stage").mkdir()
        (mnt / "stage" / "seed.json").write_bytes(SEED)
        fill(mnt / "filler")
        os.rename(mnt / "stage" / "seed.json", spool / "inbox" / "seed.json")
        wait_for(lambda: NO_ROOM in d.text(), 20, what="the first look")
        assert "tried again within 3600 s" in d.text()
        write_config(tmp_path / "d.conf", spool, rescan="0")
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.text().count(NO_ROOM) >= 3, 20,
                 what="two looks more without a rescan")
        assert "tried again within 1 s; the inbox is not taken" in d.text()
        assert listing(spool) == {"accepted": [], "rejected": []}
        os.unlink(mnt / "filler")
        wait_for(lambda: result(spool, "seed.json"), 10, what="seed.json")
        assert d.stop() == 0
        assert listing(spool)["accepted"] == [
            "seed.json", "seed.json.result.html", "seed.json.result.json"]
        assert verdict_lines(d) == ["seed.json"]


# ---- names ----

def test_dropped_page_name_cannot_take_a_page(spool, start_daemon, tmp_path):
    """X.json and X.json.result.html dropped together, and a lone
    Y.json.result.html dropped before Y.json: a dropped file never takes
    the name of a page; each file gets its own page."""
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "X.json.result.html").write_bytes(b"<h1>forged</h1>")
    (stage / "X.json").write_bytes(BROKEN)
    settled(stage, ["X.json", "X.json.result.html"])
    os.rename(stage / "X.json.result.html",
              spool / "inbox" / "X.json.result.html")
    os.rename(stage / "X.json", spool / "inbox" / "X.json")
    d = start_daemon(spool)  # one scan at start: one batch
    wait_all(spool, 2)
    drop(spool, "Y.json.result.html", b"<h1>forged</h1>")
    wait_all(spool, 3)
    drop(spool, "Y.json", make_report(SEED, 3, broken=True))
    wait_all(spool, 4)
    assert listing(spool)["rejected"] == [
        "X.json", "X.json.result.html", "X.json.result.html.1",
        "X.json.result.html.1.result.html",
        "X.json.result.html.1.result.json", "X.json.result.json",
        "Y.json", "Y.json.result.html", "Y.json.result.html.1",
        "Y.json.result.html.1.result.html",
        "Y.json.result.html.1.result.json", "Y.json.result.json"]
    assert_each_has_one_page(spool)
    rej = spool / "rejected"
    for n in ("X.json", "Y.json"):
        assert "forged" not in (rej / (n + ".result.html")).read_text()
        assert "rejected" == page_verdict(rej / (n + ".result.html"))
    assert (rej / "X.json.result.html.1").read_bytes() == \
        b"<h1>forged</h1>"
    assert d.stop() == 0


# ---- index.html ----

def index_rows(spool):
    """The rows of index.html: [{file, href, verdict, ...}], in order."""
    root = parse((spool / "index.html").read_text())
    rows = []
    for tr in root.find_all("tbody")[0].find_all("tr"):
        td = tr.find_all("td")
        a = td[1].find_all("a")[0]
        rows.append({"time": td[0].find_all("time")[0].attrs["datetime"],
                     "file": a.text, "href": a.attrs["href"],
                     "report": td[2].text, "verdict": td[3].text,
                     "errors": int(td[4].text), "warnings": int(td[5].text)})
    return rows


def csp(path):
    """The Content-Security-Policy metas of a page, as a string (each one
    once, so two would show)."""
    return "|".join(m.attrs["content"]
                    for m in parse(path.read_text()).find_all("meta")
                    if m.attrs.get("http-equiv") ==
                    "Content-Security-Policy")


def href_target(spool, href):
    """The file a relative href of index.html names."""
    assert not urllib.parse.urlsplit(href).scheme, href
    assert not href.startswith("/") and ".." not in href.split("/"), href
    return Path(os.fsdecode(spool)) / os.fsdecode(
        urllib.parse.unquote_to_bytes(href))


def test_index_300_files_and_restart(spool, start_daemon, tmp_path):
    """After 300 files index.html lists exactly the latest 200, newest
    first, each linking to its page; a restart continues the list."""
    d = start_daemon(spool)
    stage = tmp_path / "stage"
    stage.mkdir()
    names = []
    for i in range(300):
        n = "r%03d.json" % i
        (stage / n).write_bytes(make_report(SEED, i, broken=i % 3 == 0))
        names.append(n)
    for n in names:
        os.rename(stage / n, spool / "inbox" / n)
    wait_all(spool, 300, 60)
    assert d.stop() == 0
    order = verdict_lines(d)  # the order in which they were archived
    assert sorted(order) == names
    rows = index_rows(spool)
    assert len(rows) == 200
    assert [r["file"] for r in rows] == order[::-1][:200]
    times = [r["time"] for r in rows]
    assert times == sorted(times, reverse=True)
    for r in rows:
        page = href_target(spool, r["href"])
        assert page.name == r["file"] + ".result.html"
        doc = result(spool, r["file"])
        assert page.parent.name == doc["verdict"].replace("invalid",
                                                          "rejected")
        assert r["verdict"] == doc["verdict"]
        assert (r["errors"], r["warnings"]) == (doc["errors"],
                                                doc["warnings"])
        assert r["report"] == doc["report_id"]
        assert page.is_file()
    st = os.stat(spool / "index.html")
    assert stat.S_IMODE(st.st_mode) == 0o640
    # the same Content-Security-Policy as the pages: no script, no fetch
    assert csp(spool / "index.html") == csp(page) == \
        "default-src 'none'; style-src 'unsafe-inline'"
    # the state behind it stays bounded
    lines = (spool / "state" / "pages-index").read_bytes().splitlines()
    assert 200 <= len(lines) <= 400

    # a restart continues the list
    d2 = start_daemon(spool, name="d2")
    drop(spool, "after.json", SEED)
    wait_for(lambda: index_rows(spool)[0]["file"] == "after.json", 10,
             what="after.json in the index")
    assert d2.stop() == 0
    rows2 = index_rows(spool)
    assert len(rows2) == 200
    assert [r["file"] for r in rows2] == \
        ["after.json"] + [r["file"] for r in rows[:199]]

    # as Chromium loads it: every link relative, resolving to a page
    dom = parse(dump_dom(spool / "index.html"))
    links = dom.find_all("a")
    assert len(links) == 200
    for a in links:
        assert href_target(spool, a.attrs["href"]).is_file()
    assert not dom.find_all("script")


def test_index_hostile_names(spool, start_daemon):
    """File names and report ids with markup, quotes and bytes that are not
    UTF-8 are escaped in index.html; their links still resolve."""
    d = start_daemon(spool)
    doc = json.loads(SEED)
    doc["id"] = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    drop(spool, "<script>alert(3)<script>.json",
         json.dumps(doc).encode())
    drop(spool, "q\"uote's <b>.json", BROKEN)
    raw = b"\xff\xfe-latin1-\xe9t\xe9.json"
    (spool / "stage").mkdir(exist_ok=True)
    (spool / "stage" / os.fsdecode(raw)).write_bytes(SEED)
    os.rename(os.path.join(os.fsencode(spool / "stage"), raw),
              os.path.join(os.fsencode(spool / "inbox"), raw))
    wait_all(spool, 3)
    wait_for(lambda: (spool / "index.html").exists() and
             len(index_rows(spool)) == 3, 10, what="index of 3")
    text = (spool / "index.html").read_bytes()
    text.decode("utf-8")  # valid UTF-8 whatever the names
    assert b"<script" not in text and b"<img" not in text and \
        b"<b>" not in text
    rows = index_rows(spool)
    files = sorted(r["file"] for r in rows)
    assert "<script>alert(3)<script>.json" in files
    assert "q\"uote's <b>.json" in files
    for r in rows:
        assert href_target(spool, r["href"]).is_file(), r
    assert any(r["report"] == doc["id"] for r in rows)
    dom = parse(dump_dom(spool / "index.html"))
    assert not dom.find_all("script") and not dom.find_all("img") and \
        not dom.find_all("b")
    for a in dom.find_all("a"):
        assert href_target(spool, a.attrs["href"]).is_file()
    assert d.stop() == 0


def test_index_state_torn_or_garbage(spool, start_daemon):
    """A torn last line and garbage lines in state/pages-index are skipped;
    the good lines are kept and the file is written anew."""
    (spool / "state").mkdir()
    good = "1\t1700000000\taccepted\t0\t5\taccepted/old.json\told.json\tOLD\n"
    bad = ["garbage\n", "1\t1700000000\taccepted\t0\t5\t../x\tx\t\n",
           "1\tnan\trejected\t1\t0\trejected/y.json\ty.json\t\n",
           "1\t1700000001\tmaybe\t1\t0\trejected/z.json\tz.json\t\n",
           "\x00\xff\n"]
    (spool / "state" / "pages-index").write_bytes(
        (good + "".join(bad)).encode("latin-1") + b"1\t17000")
    d = start_daemon(spool)
    drop(spool, "new.json", SEED)
    wait_for(lambda: (spool / "index.html").exists(), 10, what="index")
    assert d.stop() == 0
    rows = index_rows(spool)
    assert [(r["file"], r["report"]) for r in rows] == [
        ("new.json", json.loads(SEED)["id"]), ("old.json", "OLD")]
    lines = (spool / "state" / "pages-index").read_text().splitlines()
    assert len(lines) == 2 and lines[0] == good.rstrip("\n")


def test_index_state_numbers_out_of_range(spool, start_daemon):
    """A number of state/pages-index too long to be a time or a count
    (edited by hand, garbage) makes its line garbage, skipped: not a row
    of 1970 or a negative count, as its overflow once made it."""
    (spool / "state").mkdir()
    good = "1\t1700000000\taccepted\t0\t5\taccepted/old.json\told.json\tOLD\n"
    big = "9999999999999999999"  # past 2^63: wrapped to a negative number
    bad = ["1\t%s\taccepted\t0\t5\taccepted/a.json\ta.json\t\n" % big,
           "1\t1700000000\trejected\t%s\t0\trejected/b.json\tb.json\t\n"
           % big,
           "1\t1700000000\trejected\t1\t%s\trejected/c.json\tc.json\t\n"
           % big]
    (spool / "state" / "pages-index").write_text(good + "".join(bad))
    d = start_daemon(spool)
    drop(spool, "new.json", SEED)
    wait_for(lambda: (spool / "index.html").exists(), 10, what="index")
    assert d.stop() == 0
    assert [r["file"] for r in index_rows(spool)] == ["new.json", "old.json"]
    lines = state_lines(spool)
    assert len(lines) == 2 and lines[0] == good.rstrip("\n")


def test_index_state_replaced_by_a_link(spool, start_daemon, tmp_path):
    """state/pages-index replaced by a symbolic link is not followed (its
    target is left as it is) but replaced by the file, written anew: the
    index goes on listing new files, where it once stayed as it was for
    good ("cannot write state/pages-index" at every batch)."""
    (spool / "state").mkdir()
    target = tmp_path / "elsewhere"
    target.write_text("1\t1700000000\taccepted\t0\t5\taccepted/x.json"
                      "\tx.json\tX\n")
    os.symlink(target, spool / "state" / "pages-index")
    d = start_daemon(spool)
    drop(spool, "one.json", SEED)
    wait_for(lambda: (spool / "index.html").exists() and
             [r["file"] for r in index_rows(spool)] == ["one.json"], 10,
             what="one.json in the index")
    drop(spool, "two.json", SEED)
    wait_for(lambda: [r["file"] for r in index_rows(spool)] ==
             ["two.json", "one.json"], 10, what="two.json in the index")
    assert d.stop() == 0
    assert not (spool / "state" / "pages-index").is_symlink()
    assert [ln.split("\t")[6] for ln in state_lines(spool)] == \
        ["one.json", "two.json"]
    assert target.read_text().count("\n") == 1
    assert "cannot write state/pages-index" not in d.text()


def test_index_state_inode_number_taken_again(spool, start_daemon):
    """state/pages-index replaced twice while a daemon waits (another
    daemon's compactions, or edits saved by a rename), the second time by
    a file that took the first one's inode number, freed by the first
    rename (ext4 gives the lowest free number): the daemon reads the new
    file, not from where it left the old one, which would list what the
    file no longer holds and lose what it does. (Where numbers are not
    given again, as on tmpfs, nothing takes it and the test proves
    nothing.)"""
    d = start_daemon(spool)
    drop(spool, "one.json", SEED)
    wait_for(lambda: (spool / "index.html").exists(), 10, what="index")
    state = spool / "state"
    st = os.stat(state / "pages-index")
    d.signal(signal.SIGSTOP)
    try:
        lines = "".join(
            "1\t1700000000\taccepted\t0\t5\taccepted/b%d.json\tb%d.json"
            "\tB%d\n" % (i, i, i) for i in range(1, 4))
        assert len(lines) > st.st_size
        (state / "edit").write_text("")
        os.rename(state / "edit", state / "pages-index")
        # the next files made take the numbers freed, the lowest first
        made = []
        for i in range(64):
            made.append(state / ("edit%d" % i))
            made[-1].write_text("")
            if os.stat(made[-1]).st_ino == st.st_ino:
                break
        made[-1].write_text(lines)
        os.rename(made[-1], state / "pages-index")
        for m in made[:-1]:
            m.unlink()
    finally:
        d.signal(signal.SIGCONT)
    drop(spool, "new.json", SEED)
    wait_for(lambda: index_rows(spool)[0]["file"] == "new.json", 10,
             what="new.json in the index")
    assert d.stop() == 0
    assert [r["file"] for r in index_rows(spool)] == \
        ["new.json", "b3.json", "b2.json", "b1.json"]


def state_lines(spool):
    return (spool / "state" / "pages-index").read_text().splitlines()


def test_index_shared_by_two_daemons(spool, start_daemon, tmp_path):
    """Two daemons on one spool share state/pages-index: each archives
    files while the other is stopped (SIGSTOP), and index.html lists both
    daemons' files, newest first, whichever wrote it last; a compaction
    (past 400 lines) keeps the other daemon's lines, and after a restart
    none is lost."""
    a = start_daemon(spool, name="a")
    b = start_daemon(spool, name="b")
    stage = tmp_path / "stage"
    stage.mkdir()
    order = []

    def wave(run, stop, prefix, n):
        stop.signal(signal.SIGSTOP)
        try:
            names = ["%s%03d.json" % (prefix, i) for i in range(n)]
            for i, name in enumerate(names):
                (stage / name).write_bytes(
                    make_report(SEED, len(order) + i, broken=i % 5 == 0))
            for name in names:
                os.rename(stage / name, spool / "inbox" / name)
            wait_all(spool, len(order) + n, 60)
            wait_for(lambda: verdict_lines(run)[-1:] and
                     set(names) <= set(verdict_lines(run)), 10,
                     what="%s logged" % prefix)
            order.extend(m for m in verdict_lines(run) if m in names)
        finally:
            stop.signal(signal.SIGCONT)

    wave(a, b, "a", 5)
    wave(b, a, "b", 5)
    wave(a, b, "c", 5)
    # the last writer (a) lists b's files too, in the order archived
    assert [r["file"] for r in index_rows(spool)] == order[::-1]
    assert len(state_lines(spool)) == 15
    # past 400 lines: one of them compacts the file from its own lines
    wave(b, a, "d", 200)
    wave(a, b, "e", 200)
    lines = state_lines(spool)
    assert len(order) == 415 and 200 <= len(lines) < 400
    assert [ln.split("\t")[6] for ln in lines] == order[-len(lines):]
    assert [r["file"] for r in index_rows(spool)] == order[::-1][:200]
    assert a.stop() == 0 and b.stop() == 0
    # what the file holds is the latest 200 or more, none lost: a restart
    # lists them, and a new file on top
    c = start_daemon(spool, name="c")
    drop(spool, "last.json", SEED)
    wait_for(lambda: index_rows(spool)[0]["file"] == "last.json", 10,
             what="last.json in the index")
    assert c.stop() == 0
    assert [r["file"] for r in index_rows(spool)] == \
        ["last.json"] + order[::-1][:199]


def test_index_crash_leaves_no_temporary_files(spool, expensed_bin,
                                               start_daemon, tmp_path):
    """A kill -9 in the middle of the index update (the failpoint index
    leaves .index.html-TOKEN and state/pages-index.tmp-TOKEN) leaves
    nothing behind once another daemon starts: the temporary files of a
    dead daemon go with its owner lock, and those of a daemon whose lock
    is gone too are removed at start."""
    cfg = tmp_path / "crash.conf"
    write_config(cfg, spool)
    env = dict(os.environ, EXPENSED_FAILPOINT="index")
    env.pop("NOTIFY_SOCKET", None)
    drop(spool, "seed.json", SEED)
    with open(tmp_path / "crash.log", "wb") as log:
        r = subprocess.run([hooks_binary(expensed_bin), "run", "-c",
                            str(cfg), "-v"], stderr=log, env=env, timeout=30)
    assert r.returncode == 99
    tmps = sorted(n for n in os.listdir(spool) if n.startswith(".index"))
    assert len(tmps) == 1 and re.fullmatch(r"\.index\.html-[0-9a-f]{16}",
                                           tmps[0]), tmps
    token = tmps[0][-16:]
    state = sorted(os.listdir(spool / "state"))
    assert "pages-index.tmp-" + token in state
    assert "owner-%s.lock" % token in state
    # a second crashed daemon whose owner lock is gone as well
    other = "0123456789abcdef"
    (spool / (".index.html-" + other)).write_bytes(b"")
    (spool / "state" / ("pages-index.tmp-" + other)).write_bytes(b"")
    d = start_daemon(spool)
    drop(spool, "next.json", SEED)
    wait_all(spool, 2)
    wait_for(lambda: not [n for n in os.listdir(spool / "state")
                          if n.startswith("owner-") and token in n], 10,
             what="the dead daemon's lock removed")
    assert d.stop() == 0
    assert not [n for n in os.listdir(spool) if n.startswith(".index")]
    assert not [n for n in os.listdir(spool / "state")
                if n.startswith("pages-index.tmp-")]
    assert [r["file"] for r in index_rows(spool)] == ["next.json",
                                                       "seed.json"]


def rchar(pid):
    """Bytes the process read so far (/proc/PID/io rchar)."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar")


def test_invalid_page_does_not_read_the_file_again(spool, start_daemon,
                                                   tmp_path):
    """A page is rendered from the bytes judged, still in memory: a large
    file judged invalid (input.resources: longer than max_judge_time) is
    read once, to judge it, not read back for its page."""
    write_config(tmp_path / "d.conf", spool)
    conf = (tmp_path / "d.conf").read_text().replace(
        "[spool]\n", "[spool]\nmax_judge_time = 1ms\n", 1)
    (tmp_path / "d.conf").write_text(conf)
    d = start_daemon(spool)
    doc = json.loads(SEED)
    doc["padding"] = ["x" * 1000] * 8000  # some 8 MB of JSON
    big = json.dumps(doc).encode()
    before = rchar(d.proc.pid)
    drop(spool, "big.json", big)
    wait_all(spool, 1, 60)
    read = rchar(d.proc.pid) - before
    assert d.stop() == 0
    res = result(spool, "big.json")
    assert res["verdict"] == "invalid"
    assert [f["rule"] for f in res["findings"]] == ["input.resources"]
    assert page_verdict(spool / "rejected" / "big.json.result.html") == \
        "invalid"
    # judged once (its bytes), not read back for the page (twice)
    assert len(big) <= read < len(big) * 3 // 2, (read, len(big))


# ---- [html] enabled, language ----

def test_html_disabled_then_reloaded(spool, start_daemon, tmp_path):
    """[html] enabled = no: no page, no index.html; after a reload with
    yes, new files get them (the old ones are left as they are)."""
    d = start_daemon(spool, extra="[html]\nenabled = no\n")
    drop(spool, "one.json", SEED)
    drop(spool, "two.json", BROKEN)
    wait_all(spool, 2)
    assert not [n for names in listing(spool).values() for n in names
                if n.endswith(".result.html")]
    assert not (spool / "index.html").exists()
    assert not (spool / "state" / "pages-index").exists()
    write_config(tmp_path / "d.conf", spool, extra="[html]\nenabled = yes\n")
    d.signal(signal.SIGHUP)
    wait_for(lambda: "reloaded" in d.text(), 10, what="reload")
    drop(spool, "three.json", make_report(SEED, 3))
    wait_all(spool, 3)
    pages = [n for names in listing(spool).values() for n in names
             if n.endswith(".result.html")]
    assert pages == ["three.json.result.html"]
    assert [r["file"] for r in index_rows(spool)] == ["three.json"]
    assert d.stop() == 0


def test_bad_html_value(spool, expensed_bin, tmp_path):
    cfg = tmp_path / "bad.conf"
    write_config(cfg, spool, extra="[html]\nenabled = maybe\n")
    r = subprocess.run([expensed_bin, "check-config", "-c", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "%s:9: bad value 'maybe' for enabled (yes or no)" % cfg in \
        r.stderr + r.stdout


def test_index_in_french(spool, start_daemon):
    """language = fr: index.html is in French (words, dates)."""
    d = start_daemon(spool, extra="[general]\nlanguage = fr\n")
    drop(spool, "seed.json", SEED)
    drop(spool, "broken.json", BROKEN)
    drop(spool, "bad.json", b"{")
    wait_all(spool, 3)
    wait_for(lambda: (spool / "index.html").exists() and
             len(index_rows(spool)) == 3, 10, what="index of 3")
    text = (spool / "index.html").read_text()
    assert '<html lang="fr">' in text
    assert "<h1>Derniers verdicts</h1>" in text
    rows = index_rows(spool)
    assert sorted(r["verdict"] for r in rows) == sorted(VERDICTS["fr"])
    dom = parse(dump_dom(spool / "index.html"))
    heads = [th.text for th in dom.find_all("th")]
    assert heads == ["Heure", "Fichier", "Rapport", "Verdict", "Erreurs",
                     "Avertissements"]
    # dates as the French write them: DD/MM/YYYY HH:MM, and the zone
    zone = time.strftime("%Z")
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d %s" % zone,
                            td.text) for td in dom.find_all("td", class_="t"))
    assert d.stop() == 0

"""The verdict pages in a real browser (docs/pages.md): `expensed check
--format html` on the seed report, a rejected one, an invalid one and a
hostile one, each page loaded by headless Chromium (browser.py) and asserted
on its DOM: the verdict and counts, every highlighted cell's pointer
against the findings' paths, every in-page link resolving, nothing
external, no markup from a report; printed to PDF, every finding's message
is on paper; in French, amounts and dates as French readers write them.

EXPENSED_SCREENSHOTS=DIR keeps a PNG of each page there, to look at.
"""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import browser

SEED = "cd13-cp-2019-02-08-r36.json"
HOSTILE = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>",
           "</style><b>bold</b>", "abc\u202edcba\u2066x"]


def env_for(lang):
    env = dict(os.environ)
    for k in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE",
              "EXPENSED_CONFIG"):
        env.pop(k, None)
    env["LANG"] = "fr_FR.UTF-8" if lang == "fr" else "C.UTF-8"
    return env


def check(binary, path, fmt, lang="en"):
    return subprocess.run([binary, "check", "--format", fmt, str(path)],
                          capture_output=True, timeout=60,
                          env=env_for(lang))


def rejected(doc):
    """The seed with a wrong total and a wrong delegation size."""
    doc = json.loads(json.dumps(doc))
    doc["total"] = "139208.94"
    doc["missions"][1]["delegation"]["size"] = 21
    return doc


def hostile(doc):
    """The seed whose strings carry markup and bidi controls."""
    doc = json.loads(json.dumps(doc))
    doc["authority"] = HOSTILE[1]
    doc["subject"] = HOSTILE[2]
    doc["id"] = HOSTILE[0]
    doc["missions"][0]["destination"] = HOSTILE[3]
    doc["missions"][1]["destination"] = HOSTILE[0]
    doc["missions"][2]["id"] = HOSTILE[1]
    doc["currency"] = HOSTILE[0]  # a finding whose message quotes it
    return doc


class Page:
    """One page: its file, the result document of the same file, the
    exit status, and the DOM as Chromium built it."""

    def __init__(self, path, result, rc):
        self.path, self.result, self.rc = path, result, rc
        self.root = browser.parse(browser.dump_dom(path))
        self.ids = self.root.by_id()

    def text(self):
        return self.root.text


@pytest.fixture(scope="module")
def pages(expensed_bin, examples_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pages")
    seed = json.loads((examples_dir / SEED).read_text())
    inputs = {
        "seed": (examples_dir / SEED).read_bytes(),
        "rejected": json.dumps(rejected(seed), indent=2).encode(),
        "invalid": b'{\n  "id": "R",\n  "missions": [\n    {"cost": '
                   b'"1.00"}\n    {"cost": "2.00"}\n  ]\n}\n',
        "hostile": json.dumps(hostile(seed), indent=2,
                              ensure_ascii=False).encode(),
    }
    out = {}
    for name, data in inputs.items():
        src = tmp / (name + ".json")
        src.write_bytes(data)
        for lang in ("en", "fr"):
            if lang == "fr" and name == "hostile":
                continue
            r = check(expensed_bin, src, "html", lang)
            assert r.stderr == b"", r.stderr
            assert r.stdout.startswith(b"<!DOCTYPE html>\n")
            page = tmp / ("%s.%s.html" % (name, lang))
            page.write_bytes(r.stdout)
            j = check(expensed_bin, src, "json", lang)
            out[name, lang] = Page(page, json.loads(j.stdout), r.returncode)
            assert r.returncode == j.returncode
    return out


def hits(page):
    """{pointer: [finding element, ...]} of the highlighted cells."""
    found = {}
    for e in page.root.iter():
        if "hit" not in e.attrs.get("class", "").split():
            continue
        refs = [a.attrs["href"][1:] for a in e.find_all("a", class_="ref")]
        assert refs, "a highlighted cell links to its findings"
        ptr = e.attrs["data-pointer"]
        assert ptr not in found, "one cell per pointer"
        found[ptr] = [page.ids[r] for r in refs]
    return found


def assert_sound(page):
    """What every page must be: links resolve, nothing external, no
    script, every highlighted cell's pointer matches its findings."""
    root = page.root
    for tag in ("script", "img", "iframe", "object", "embed", "link",
                "base", "form", "svg", "video", "audio"):
        assert root.find_all(tag) == [], tag
    for e in root.iter():
        for k, v in e.attrs.items():
            assert not k.startswith("on"), (e.tag, k)
            assert k not in ("src", "srcset", "action", "background"), k
            if k == "href":
                assert v.startswith("#") and v[1:] in page.ids, v
    for s in root.find_all("style"):
        assert "url(" not in s.text and "@import" not in s.text
    assert [m.attrs.get("http-equiv") for m in root.find_all("meta")
            if m.attrs.get("http-equiv")] == ["Content-Security-Policy"]
    paths = [f["path"] for f in page.result["findings"]]
    for ptr, findings in hits(page).items():
        for f in findings:
            path = f.attrs["data-path"]
            assert path == ptr or path.startswith(ptr + "/"), (ptr, path)
            assert path in paths
    # each finding is listed once, in result order, with its back link
    items = page.root.find_all("li", class_="finding")
    assert [li.attrs["data-path"] for li in items] == paths or \
        sorted(li.attrs["id"] for li in items) == sorted(
            "f-%d" % (i + 1) for i in range(len(paths)))
    assert len(items) == len(paths)
    for li in items:
        n = int(li.attrs["id"][2:])
        f = page.result["findings"][n - 1]
        assert li.attrs["data-path"] == f["path"]
        assert f["rule"] in li.text
        back = li.find_all("a", class_="back")
        if back:
            cell = page.ids[back[0].attrs["href"][1:]]
            assert li in hits(page)[cell.attrs["data-pointer"]]


def counts(page):
    return (page.root.find_all("h1", class_="verdict")[0].text,
            page.root.find_all("span", class_="n-errors")[0].text,
            page.root.find_all("span", class_="n-warnings")[0].text)


def test_seed_page(pages):
    page = pages["seed", "en"]
    assert page.rc == 0
    assert counts(page) == ("Accepted", "0 errors", "5 warnings")
    assert_sound(page)
    h = hits(page)
    assert sorted(h) == ["/missions/0/start", "/missions/1/cost",
                         "/missions/1/start", "/missions/2/start"]
    for i in range(3):
        (f,) = h["/missions/%d/start" % i]
        assert "ratification.retroactive" in f.text
        cell = page.ids["at-missions-%d-start" % i]
        assert "hit-w" in cell.attrs["class"].split()
    assert [f.attrs["id"] for f in h["/missions/1/cost"]] == ["f-4", "f-5"]
    assert page.ids["computed-sum"].text == "139108.94"
    assert page.ids["sum"].text == "139108.94"
    assert page.root.find_all("html")[0].attrs["lang"] == "en"


def test_rejected_page(pages):
    page = pages["rejected", "en"]
    assert page.rc == 1
    assert page.result["verdict"] == "rejected"
    assert counts(page) == ("Rejected", "2 errors", "5 warnings")
    assert_sound(page)
    h = hits(page)
    errors = {p for p, fs in h.items()
              if any("f-e" in f.attrs["class"].split() for f in fs)}
    assert errors == {"/total", "/missions/1/delegation/size"}
    assert "hit-e" in page.ids["at-total"].attrs["class"].split()
    assert "total.missions" in h["/total"][0].text
    assert page.ids["computed-sum"].text.startswith("139108.94")
    assert "difference: 100.00" in page.ids["computed-sum"].text


def test_invalid_page(pages):
    page = pages["invalid", "en"]
    assert page.rc == 1
    (f,) = page.result["findings"]
    assert f["rule"] == "input.json"
    line, col = map(int, re.search(r"line (\d+), column (\d+)",
                                   f["message"]).groups())
    assert counts(page) == ("Invalid", "1 error", "0 warnings")
    assert_sound(page)
    assert "Line %d, column %d:" % (line, col) in page.text()
    quote = page.ids["quote"]
    (at,) = quote.find_all("span", class_="at")
    assert at.text.startswith(str(line))
    mark = at.find_all("mark", class_="here")[0].text
    assert at.text == '%d    {"cost": "2.00"}' % line
    assert mark == '{'
    near = [s.text for s in quote.find_all("span", class_="near")]
    assert near == ['3  "missions": [', '4    {"cost": "1.00"}',
                    '6  ]']
    assert "How to fix it" in page.text()


def test_pdf_has_every_finding(pages, tmp_path):
    for name in ("seed", "rejected", "invalid"):
        for lang in ("en", "fr"):
            page = pages[name, lang]
            text = " ".join(browser.pdf_text(page.path, tmp_path).split())
            assert page.result["findings"]
            for f in page.result["findings"]:
                msg = " ".join(f["message"].split())
                assert msg in text, (name, lang, msg)
                assert f["rule"] in text


def test_hostile_strings_stay_text(pages):
    page = pages["hostile", "en"]
    assert_sound(page)
    root = page.root
    assert root.find_all("b") == [] or all(
        b.parent.attrs.get("class") == "file" for b in root.find_all("b"))
    for e in root.iter():
        for k, v in e.attrs.items():
            assert "alert" not in k and "alert" not in v, (e.tag, k, v)
    (style,) = root.find_all("style")
    assert style.text.startswith("@page{size:A4")
    text = page.text()
    for s in HOSTILE[:3]:
        assert s in text, s
    assert "\u202e" not in text and "\u2066" not in text
    assert "abc[U+202E]dcba[U+2066]x" in text
    # isolated: report strings are in <bdi>
    assert any(b.text == "abc[U+202E]dcba[U+2066]x"
               for b in root.find_all("bdi"))


def test_french_page(pages):
    page = pages["seed", "fr"]
    assert page.rc == 0
    assert page.root.find_all("html")[0].attrs["lang"] == "fr"
    assert counts(page) == ("Accepté", "0 erreur", "5 avertissements")
    assert_sound(page)
    text = page.text()
    assert "139\u202f108,94\u00a0€" in text
    assert page.ids["computed-sum"].text == "139\u202f108,94\u00a0€"
    assert "19/10/2017" in text
    assert page.ids["at-missions-0-start"].text.startswith("19/10/2017")
    assert "2017-10-19" not in page.ids["at-missions-0-start"].text
    assert "la mission a commencé le 19/10/2017, avant la réunion de la " \
        "commission du 08/02/2019" in text
    assert "Constats" in text and "À propos de ce contrôle" in text
    # expected values in French words too (the result keeps its own)
    assert "Attendu : le 08/02/2019 ou après" in text
    assert "≤ 5\u202f000,00\u00a0€" in text
    inv = pages["invalid", "fr"]
    assert counts(inv) == ("Invalide", "1 erreur", "0 avertissement")
    assert "Comment y remédier" in inv.text()


def test_screenshots(pages, tmp_path):
    keep = os.environ.get("EXPENSED_SCREENSHOTS")
    out = Path(keep) if keep else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    for (name, lang), page in pages.items():
        if name == "hostile" and not keep:
            continue
        png = out / ("%s.%s.png" % (name, lang))
        browser.screenshot(page.path, png)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_takes_one_file(expensed_bin, examples_dir):
    seed = str(examples_dir / SEED)
    r = subprocess.run([expensed_bin, "check", "--format", "html", seed,
                        seed], capture_output=True, timeout=60,
                       env=env_for("en"))
    assert (r.returncode, r.stdout) == (2, b"")
    assert b"expensed: --format html prints the page of one file" \
        in r.stderr
    r = subprocess.run([expensed_bin, "check", "--help"],
                       capture_output=True, timeout=60, env=env_for("en"))
    assert r.returncode == 0 and b"--format html" in r.stdout
    r = subprocess.run([expensed_bin, "check", "--format", "xml", seed],
                       capture_output=True, timeout=60, env=env_for("en"))
    assert r.returncode == 2
    assert b"unknown format 'xml' (text, json or html)" in r.stderr


def test_page_of_many_findings(expensed_bin, tmp_path):
    """The issue's report: 100,000 ill-typed missions, 600,009 findings in
    the result. The page lists the first 1000, says how many more there
    are and where they are, links only to what it lists, and stays small
    (it was 209 MB)."""
    src = tmp_path / "m.json"
    src.write_text(json.dumps({"missions": [
        {"start": "x", "end": "y", "cost": "z", "id": 1, "destination": 2,
         "delegation": 3}] * 100000}))
    for lang, say in (("en", r"([\d]+) more findings are not shown here: "
                       r"see m\.json\.result\.json\."),
                      ("fr", r"([\d]+) autres constats ne sont pas "
                       r"affichés ici : voir m\.json\.result\.json\.")):
        r = subprocess.run([expensed_bin, "check", "--max-findings",
                            "1000000", "--format", "html", str(src)],
                           capture_output=True, timeout=120,
                           env=env_for(lang))
        assert r.returncode == 1 and r.stderr == b""
        assert len(r.stdout) < 2 * 1000 * 1000, len(r.stdout)
        page = tmp_path / ("m.%s.html" % lang)
        page.write_bytes(r.stdout)
        root = browser.parse(browser.dump_dom(page))
        ids = root.by_id()
        items = root.find_all("li", class_="finding")
        assert len(items) == 1000
        # errors come first: these are the first 1000 errors
        assert [li.attrs["id"] for li in items][:3] == ["f-1", "f-2",
                                                         "f-3"]
        assert all("f-e" in li.attrs["class"].split() for li in items)
        note = re.fullmatch(say, ids["not-listed"].text)
        assert note, ids["not-listed"].text
        errors = int(root.find_all("span", class_="n-errors")[0]
                     .text.split()[0])
        warnings = int(root.find_all("span", class_="n-warnings")[0]
                       .text.split()[0])
        assert int(note.group(1)) + 1000 == errors + warnings
        assert errors + warnings == 600009
        refs = [a.attrs["href"][1:] for a in root.find_all("a")
                if a.attrs.get("href", "").startswith("#")]
        assert refs and all(h in ids for h in refs)
        assert {h for h in refs if h.startswith("f-")} <= \
            {li.attrs["id"] for li in items}
        # a cell whose findings are not listed is still highlighted, and
        # links to the note
        cell = ids["at-missions-499-cost"]
        assert "hit-e" in cell.attrs["class"].split()
        (ref,) = cell.find_all("a", class_="ref")
        assert (ref.attrs["href"], ref.text) == ("#not-listed", "+1")

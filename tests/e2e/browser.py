"""Debian's headless Chromium for the page tests (docs/pages.md).

Each call starts one chromium process on a file:// page, with a throwaway
profile, no network beyond the page itself, and a bounded timeout; the
process is ours and is ended by its PID when it overruns.

    dom = dump_dom(page)          # the DOM as Chromium built it, serialised
    root = parse(dom)             # an Element tree (html.parser)
    screenshot(page, "p.png")     # to look at
    text = pdf_text(page, tmp)    # printed on A4, read back with pdftotext
"""
import html.parser
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT = 60  # seconds, for one chromium run on a loaded machine


def _run(page, *args):
    """Run headless chromium on page (a Path) with args; its stdout."""
    with tempfile.TemporaryDirectory(prefix="expensed-chromium-") as prof:
        cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
               "--no-first-run", "--no-default-browser-check",
               "--disable-extensions", "--disable-background-networking",
               "--disable-sync", "--disable-dev-shm-usage",
               "--user-data-dir=" + prof, *args,
               Path(page).resolve().as_uri()]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE,
                             env=dict(os.environ, HOME=prof))
        try:
            out, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise
        assert p.returncode == 0, err.decode(errors="replace")[-2000:]
        return out


def dump_dom(page):
    """The page's DOM after Chromium loaded it, as text."""
    return _run(page, "--dump-dom").decode()


def screenshot(page, png, size="1024,1400"):
    """A PNG of the page, size "W,H" pixels."""
    _run(page, "--hide-scrollbars", "--window-size=" + size,
         "--screenshot=" + str(Path(png).resolve()))
    assert Path(png).stat().st_size > 0


def print_pdf(page, pdf):
    """The page printed by Chromium (its print stylesheet, A4 when the page
    asks for it) into pdf."""
    _run(page, "--no-pdf-header-footer",
         "--print-to-pdf=" + str(Path(pdf).resolve()))
    assert Path(pdf).read_bytes()[:5] == b"%PDF-"


def pdf_text(page, tmp):
    """The text of the page printed to PDF, read back with pdftotext."""
    pdf = Path(tmp) / (Path(page).name + ".pdf")
    print_pdf(page, pdf)
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"],
                          check=True, capture_output=True,
                          timeout=TIMEOUT).stdout.decode()


class Element:
    """One element of a parsed DOM: tag, attrs (a dict), children, text."""

    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.parts = [], []

    @property
    def text(self):
        """All the text under this element, as one string."""
        return "".join(p if isinstance(p, str) else p.text
                       for p in self.parts)

    def iter(self, tag=None):
        """This element and every one below it (of tag, when given)."""
        if tag is None or self.tag == tag:
            yield self
        for c in self.children:
            yield from c.iter(tag)

    def find_all(self, tag=None, **attrs):
        """Elements below of tag whose attributes include attrs (class_
        for class: matches one of its classes)."""
        out = []
        for e in self.iter(tag):
            ok = True
            for k, v in attrs.items():
                k = k.rstrip("_")
                if k == "class":
                    ok = ok and v in e.attrs.get("class", "").split()
                else:
                    ok = ok and e.attrs.get(k) == v
            if ok:
                out.append(e)
        return out

    def by_id(self):
        """{id: element} of every element with an id."""
        return {e.attrs["id"]: e for e in self.iter() if "id" in e.attrs}


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}


class _Builder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Element("#document", {})

    def handle_starttag(self, tag, attrs):
        e = Element(tag, attrs, self.cur)
        self.cur.children.append(e)
        self.cur.parts.append(e)
        if tag not in VOID:
            self.cur = e

    def handle_endtag(self, tag):
        e = self.cur
        while e is not None and e.tag != tag:
            e = e.parent
        if e is not None and e.parent is not None:
            self.cur = e.parent

    def handle_data(self, data):
        self.cur.parts.append(data)


def parse(dom):
    """The Element tree of a serialised DOM (dump_dom's output)."""
    b = _Builder()
    b.feed(dom)
    b.close()
    return b.root

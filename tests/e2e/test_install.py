"""`make install` honours PREFIX and DESTDIR and never overwrites the
configuration or rules an administrator already has."""
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def make_install(expensed_bin, dest, prefix):
    build = os.path.relpath(os.path.dirname(expensed_bin), REPO)
    san = ["SANITIZE=1"] if build.endswith("-san") else []
    r = subprocess.run(["make", "-s", "install", "BUILD=" + build,
                        "DESTDIR=%s" % dest, "PREFIX=" + prefix] + san,
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def test_install_layout_and_no_overwrite(expensed_bin, tmp_path):
    dest = tmp_path / "dest"
    make_install(expensed_bin, dest, "/opt/exp")
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*")
                   if p.is_file())
    assert files == [
        "etc/expensed/expensed.conf",
        "etc/expensed/rules.d/mission-report.rules",
        "lib/systemd/system/expensed.service",
        "opt/exp/bin/expensed",
        "opt/exp/share/locale/fr/LC_MESSAGES/expensed.mo",
        "opt/exp/share/man/man5/expensed.conf.5",
        "opt/exp/share/man/man5/expensed.rules.5",
        "opt/exp/share/man/man8/expensed.8",
        "usr/lib/sysusers.d/expensed.conf",
        "usr/lib/tmpfiles.d/expensed.conf",
    ]
    assert os.access(dest / "opt/exp/bin/expensed", os.X_OK)
    # the French catalog, where the installed binary looks for it
    assert b"/opt/exp/share/locale\0" in \
        (dest / "opt/exp/bin/expensed").read_bytes()
    assert (dest / "opt/exp/share/locale/fr/LC_MESSAGES/expensed.mo") \
        .read_bytes()[:4] in (b"\xde\x12\x04\x95", b"\x95\x04\x12\xde")
    # the unit starts the binary where PREFIX put it
    unit = (dest / "lib/systemd/system/expensed.service").read_text()
    assert [ln for ln in unit.splitlines() if ln.startswith("ExecStart=")] \
        == ["ExecStart=/opt/exp/bin/expensed run"]
    assert (dest / "opt/exp/share/man/man8/expensed.8").read_bytes() \
        == (REPO / "man/expensed.8").read_bytes()
    assert (dest / "etc/expensed/rules.d/mission-report.rules").read_bytes() \
        == (REPO / "config/rules.d/mission-report.rules").read_bytes()
    # an administrator's edits survive a second install
    (dest / "etc/expensed/expensed.conf").write_text("# mine\n")
    (dest / "etc/expensed/rules.d/mission-report.rules").write_text("# own\n")
    make_install(expensed_bin, dest, "/opt/exp")
    assert (dest / "etc/expensed/expensed.conf").read_text() == "# mine\n"
    assert (dest / "etc/expensed/rules.d/mission-report.rules").read_text() \
        == "# own\n"

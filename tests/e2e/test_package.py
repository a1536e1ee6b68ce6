"""`make deb` builds the Debian package: the files it installs, its
conffiles, its dependencies (from dpkg-shlibdeps) and maintainer scripts,
and lintian without an error or a warning.

SLOW (about a minute: a full package build from a copy of the checkout).
Skipped when dpkg-buildpackage, dh or lintian is missing (scripts/deps.sh
installs them). Installing the package in a booted Debian is the systemd
test's job, not this one's."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

MISSING = [t for t in ("dpkg-buildpackage", "dh", "lintian", "dpkg-deb")
           if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason="not installed: %s (scripts/deps.sh)"
    % ", ".join(MISSING))

FILES = [
    "etc/expensed/expensed.conf",
    "etc/expensed/rules.d/mission-report.rules",
    "lib/systemd/system/expensed.service",
    "usr/bin/expensed",
    "usr/lib/sysusers.d/expensed.conf",
    "usr/lib/tmpfiles.d/expensed.conf",
    "usr/share/doc/expensed/HACKING.md.gz",
    "usr/share/doc/expensed/README.md.gz",
    "usr/share/doc/expensed/changelog.Debian.gz",
    "usr/share/doc/expensed/copyright",
    "usr/share/doc/expensed/costs.md.gz",
    "usr/share/doc/expensed/ini.md",
    "usr/share/doc/expensed/languages.md.gz",
    "usr/share/doc/expensed/operations.md.gz",
    "usr/share/doc/expensed/pages.md.gz",
    "usr/share/doc/expensed/report-format.md.gz",
    "usr/share/doc/expensed/result.md.gz",
    "usr/share/doc/expensed/rules.md.gz",
    "usr/share/doc/expensed/webhooks.md.gz",
    "usr/share/lintian/overrides/expensed",
    "usr/share/locale/fr/LC_MESSAGES/expensed.mo",
    "usr/share/man/man5/expensed.conf.5.gz",
    "usr/share/man/man5/expensed.rules.5.gz",
    "usr/share/man/man8/expensed.8.gz",
]


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True,
                          timeout=600, **kw)


@pytest.fixture(scope="module")
def deb():
    r = run("make", "-s", "deb", cwd=REPO)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    arch = run("dpkg", "--print-architecture").stdout.strip()
    path = REPO / "build" / "deb" / ("expensed_0.1.0-1_%s.deb" % arch)
    assert path.is_file(), sorted(os.listdir(path.parent))
    return path


def test_package_files(deb):
    r = run("dpkg-deb", "-c", str(deb))
    assert r.returncode == 0, r.stderr
    files = sorted(line.split()[-1][2:] for line in r.stdout.splitlines()
                   if line.startswith("-"))
    assert files == FILES
    # no spool in the package: systemd-tmpfiles makes it at install
    assert "./var/" not in r.stdout


def test_package_control(deb, tmp_path):
    r = run("dpkg-deb", "-e", str(deb), str(tmp_path / "ctl"))
    assert r.returncode == 0, r.stderr
    ctl = tmp_path / "ctl"
    assert (ctl / "conffiles").read_text().split() == [
        "/etc/expensed/expensed.conf",
        "/etc/expensed/rules.d/mission-report.rules",
    ]
    depends = run("dpkg-deb", "-f", str(deb), "Depends").stdout
    for lib in ("libcurl4", "libjansson4", "libssl3", "libc6",
                "systemd | systemd-standalone-sysusers"):
        assert lib in depends, depends
    postinst = (ctl / "postinst").read_text()
    # users first, then the spool that belongs to them, then the service
    i_users = postinst.index("systemd-sysusers")
    i_spool = postinst.index("systemd-tmpfiles")
    i_start = postinst.index("deb-systemd-invoke")
    assert i_users < i_spool < i_start
    assert "deb-systemd-helper enable 'expensed.service'" in postinst
    assert "rmdir --ignore-fail-on-non-empty" in (ctl / "postrm").read_text()
    assert "userdel expensed" in (ctl / "postrm").read_text()
    unit = run("sh", "-c", "dpkg-deb --fsys-tarfile '%s' | tar -xOf - "
               "./lib/systemd/system/expensed.service" % deb).stdout
    assert "\nExecStart=/usr/bin/expensed run\n" in unit


def test_package_speaks_french(deb, tmp_path):
    """The packaged binary finds the packaged catalog where it installs
    it (/usr/share/locale), without a French locale on the machine."""
    r = run("dpkg-deb", "-x", str(deb), str(tmp_path / "root"))
    assert r.returncode == 0, r.stderr
    exe = (tmp_path / "root/usr/bin/expensed").read_bytes()
    assert b"/usr/share/locale\0" in exe
    env = dict(os.environ, LANG="fr_FR.UTF-8",
               EXPENSED_LOCALEDIR=str(tmp_path / "root/usr/share/locale"))
    env.pop("LC_ALL", None)
    env.pop("EXPENSED_CONFIG", None)
    seed = REPO / "examples" / "cd13-cp-2019-02-08-r36.json"
    r = run(str(tmp_path / "root/usr/bin/expensed"), "check", str(seed),
            env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].endswith(
        "/missions/0/start: avertissement : la mission a commenc\u00e9 le "
        "19/10/2017, avant la r\u00e9union de la commission du 08/02/2019 "
        "qui l'a autoris\u00e9e : mandat sp\u00e9cial accord\u00e9 a "
        "posteriori [ratification.retroactive]")


def test_lintian_clean(deb):
    r = run("lintian", "--fail-on", "error,warning", str(deb))
    assert r.returncode == 0, r.stdout + r.stderr
    tags = [ln for ln in r.stdout.splitlines()
            if ln[:2] in ("E:", "W:")]
    assert tags == []

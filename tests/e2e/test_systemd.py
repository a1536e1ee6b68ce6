"""Tests of the shipped systemd files (docs/operations.md, "Signals and systemd").

`systemd-analyze security --offline=true` must rate the unit OK with an
overall exposure of at most 2.0; `systemd-analyze verify` must be silent;
sysusers.d and tmpfiles.d, applied to an empty root, must create the users,
groups and spool with the documented owners and modes.
"""
import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "expensed.service"
SYSUSERS = REPO / "systemd" / "expensed.sysusers"
TMPFILES = REPO / "systemd" / "expensed.tmpfiles"
MAX_EXPOSURE = 2.0


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.skip("%s is not installed (Debian package systemd)" % tool)
    return path


def unit_settings():
    """The unit's Key=Value lines, as a list of (key, value)."""
    out = []
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.append((key, value))
    return out


def test_unit_essentials():
    s = unit_settings()
    d = dict(s)
    assert d["Type"] == "notify"
    assert d["ExecStart"] == "/usr/local/bin/expensed run"
    assert d["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert d["WatchdogSec"] == "30s"
    assert d["Restart"] == "on-failure"
    assert d["User"] == "expensed" and d["Group"] == "expensed"
    assert d["SupplementaryGroups"] == "expensed-drop"
    assert d["ProtectSystem"] == "strict"
    assert d["ReadWritePaths"] == "/var/spool/expensed"
    assert d["CapabilityBoundingSet"] == ""
    assert d["NoNewPrivileges"] == "yes"
    assert d["RestrictAddressFamilies"] == "AF_INET AF_INET6 AF_UNIX"
    assert ("SystemCallFilter", "@system-service") in s
    assert ("SystemCallFilter", "~@privileged @resources") in s
    assert "IPAddressDeny" not in d  # webhooks go out to configured hosts


def test_security_exposure_ok():
    tool = need("systemd-analyze")
    r = subprocess.run([tool, "security", "--offline=true", "--no-pager",
                        str(UNIT)], capture_output=True, text=True,
                       timeout=60)
    m = re.search(r"Overall exposure level for expensed\.service: "
                  r"([0-9]+\.[0-9]+) (\S+)", r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    exposure = float(m.group(1))
    print("systemd-analyze security exposure: %.1f %s"
          % (exposure, m.group(2)))
    assert exposure <= MAX_EXPOSURE, r.stdout
    assert m.group(2) == "OK"
    assert r.returncode == 0


def test_verify_is_clean(tmp_path, expensed_bin):
    """verify wants ExecStart's binary to exist: point it at the one under
    test in a temporary copy of the unit."""
    tool = need("systemd-analyze")
    text = UNIT.read_text()
    assert "/usr/local/bin/expensed" in text
    unit = tmp_path / "expensed.service"
    unit.write_text(text.replace("/usr/local/bin/expensed", expensed_bin))
    r = subprocess.run([tool, "verify", "--no-pager", str(unit)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout + r.stderr == ""


def test_sysusers_and_tmpfiles(request):
    sysusers = need("systemd-sysusers")
    tmpfiles = need("systemd-tmpfiles")
    if os.geteuid() != 0:
        pytest.skip("creating files owned by other users needs root")
    # under /tmp itself, so that another user can reach it (pytest's own
    # directories are 0700)
    top = Path(tempfile.mkdtemp(prefix="expensed-root-"))
    request.addfinalizer(lambda: shutil.rmtree(top, ignore_errors=True))
    os.chmod(top, 0o755)
    root = top / "root"
    (root / "etc").mkdir(parents=True)
    (root / "usr/lib/sysusers.d").mkdir(parents=True)
    (root / "usr/lib/tmpfiles.d").mkdir(parents=True)
    shutil.copy(SYSUSERS, root / "usr/lib/sysusers.d/expensed.conf")
    shutil.copy(TMPFILES, root / "usr/lib/tmpfiles.d/expensed.conf")
    r = subprocess.run([sysusers, "--root=%s" % root], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    users = {l.split(":")[0]: l.split(":")
             for l in (root / "etc/passwd").read_text().splitlines()}
    groups = {l.split(":")[0]: l.split(":")
              for l in (root / "etc/group").read_text().splitlines()}
    assert users["expensed"][5] == "/var/spool/expensed"
    assert users["expensed"][6] in ("/usr/sbin/nologin", "/sbin/nologin",
                                    "/bin/false")
    assert users["expensed"][3] == groups["expensed"][2]
    assert "expensed-drop" in groups
    uid = int(users["expensed"][2])
    gid = int(groups["expensed"][2])
    drop_gid = int(groups["expensed-drop"][2])
    assert uid < 1000 and gid < 1000 and drop_gid < 1000  # system ids

    r = subprocess.run([tmpfiles, "--root=%s" % root, "--create"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    spool = root / "var/spool/expensed"
    # the top: listed by the droppers (to find index.html), passed
    # through by others
    want = {"": (0o751, drop_gid), "inbox": (0o3770, drop_gid),
            "accepted": (0o2750, drop_gid), "rejected": (0o2750, drop_gid)}
    for d in ("work", "outbox", "dead", "state"):
        want[d] = (0o750, gid)
    for name, (mode, group) in want.items():
        st = os.stat(spool / name)
        assert stat.S_ISDIR(st.st_mode), name
        assert stat.S_IMODE(st.st_mode) == mode, (name, oct(st.st_mode))
        assert st.st_uid == uid, name
        assert st.st_gid == group, name
    assert sorted(os.listdir(spool)) == sorted(k for k in want if k)

    # A member of expensed-drop only (not of expensed) can drop a file
    # into the inbox and read the verdicts, and cannot read the rest of the
    # spool.
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("setpriv or root missing: drop permissions not tried")
    as_dropper = [setpriv, "--reuid=64000", "--regid=64000",
                  "--groups=%d" % drop_gid, "--"]
    r = subprocess.run(as_dropper + ["sh", "-c", "echo {} > %s" %
                                     (spool / "inbox/dropped.json")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    st = os.stat(spool / "inbox/dropped.json")
    assert st.st_gid == drop_gid  # setgid inbox
    for d in ("work", "outbox", "dead", "state"):
        r = subprocess.run(as_dropper + ["ls", str(spool / d)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, d
    for d in ("accepted", "rejected"):
        r = subprocess.run(as_dropper + ["ls", str(spool / d)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, (d, r.stderr)
        r = subprocess.run(as_dropper + ["touch", str(spool / d / "x")],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, d
    # the top: a dropper lists it (to find index.html in a file browser);
    # anyone else (a separate read group) passes through it only
    r = subprocess.run(as_dropper + ["ls", str(spool)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == sorted(k for k in want if k)
    as_other = [setpriv, "--reuid=64001", "--regid=64001", "--clear-groups",
                "--"]
    r = subprocess.run(as_other + ["ls", str(spool)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    r = subprocess.run(as_other + ["stat", str(spool / "accepted")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr

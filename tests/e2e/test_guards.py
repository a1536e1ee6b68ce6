"""End-to-end tests of the guards around the spool (docs/operations.md):
droppers cannot touch each other's files in the 3770 inbox (the mode read
from the shipped tmpfiles.d file), an inbox entry the daemon cannot move is
logged once and not at every scan, and a name carrying Unicode
bidirectional controls cannot disguise a log line.

The permission tests need root (to act as other users with setpriv, by
numeric ids: no user is created) and are skipped without it.
"""
import errno
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from daemon_util import (VERDICT_LINE, Daemon, make_report, result,
                         seed_path, wait_for, write_config)

REPO = Path(__file__).resolve().parents[2]
TMPFILES = REPO / "systemd" / "expensed.tmpfiles"
SEED = seed_path().read_bytes()

DROP_GID = 64200  # the drop group
ALICE, BOB = 64201, 64202  # two droppers
DAEMON_UID = 64203  # a daemon that is not root
SETPRIV = shutil.which("setpriv")

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or SETPRIV is None,
    reason="needs root and setpriv to act as other users")


def shipped_mode(name):
    """(mode, user, group) of spool directory name in the shipped
    tmpfiles.d file."""
    for line in TMPFILES.read_text().splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] == "d" and \
                f[1] == "/var/spool/expensed/" + name:
            return int(f[2], 8), f[3], f[4]
    raise AssertionError("no line for %s in %s" % (name, TMPFILES))


def as_user(uid, gid, groups=()):
    """The setpriv prefix running a command as uid:gid (numeric ids)."""
    grp = ["--groups=%s" % ",".join(str(g) for g in groups)] if groups \
        else ["--clear-groups"]
    return [SETPRIV, "--reuid=%d" % uid, "--regid=%d" % gid] + grp + ["--"]


def py_as(uid, code, *args):
    """Run python code as a drop-group member; returns its stdout."""
    r = subprocess.run(as_user(uid, uid, [DROP_GID]) +
                       [sys.executable, "-c", code] + list(args),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


# what a member may try on another member's file: the errno it gets
TRY = r"""
import errno, os, sys
def attempt(f, *a):
    try:
        f(*a)
        return "done"
    except OSError as e:
        return errno.errorcode[e.errno]
inbox = sys.argv[1]
with open(os.path.join(inbox, "forged.tmp"), "w") as f:
    f.write('{"forged": true}')
print(attempt(os.rename, inbox + "/alice.json", inbox + "/mine.json"),
      attempt(os.unlink, inbox + "/alice.json"),
      attempt(os.rename, inbox + "/forged.tmp", inbox + "/alice.json"),
      attempt(os.rename, inbox + "/alice.json", inbox + "/.hidden"))
"""


@pytest.fixture
def base():
    """A directory other users can traverse (tmp_path's parents are
    root's alone), removed at the end."""
    d = Path(tempfile.mkdtemp(prefix="expensed-guards."))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d)


@pytest.fixture
def daemons():
    started = []
    yield started
    for d in started:
        d.cleanup()


class DaemonAs(Daemon):
    """The daemon run as another user through setpriv."""

    def __init__(self, prefix, *args, **kw):
        super().__init__(*args, **kw)
        self.prefix = prefix

    def start(self):
        binary = self.binary
        self.binary = None
        try:
            self.log = open(self.logfile, "ab")
            self.proc = subprocess.Popen(
                self.prefix + [binary, "run", "-c", self.config, "-v"],
                stdout=subprocess.DEVNULL, stderr=self.log, env=self.env)
        finally:
            self.binary = binary
        wait_for(lambda: "started:" in self.text() or
                 self.proc.poll() is not None, 10, what="daemon start")
        assert self.proc.poll() is None, self.text()
        return self


def make_spool(base, uid, gid):
    spool = base / "spool"
    for d in ("inbox", "work", "accepted", "rejected", "outbox", "dead",
              "state"):
        (spool / d).mkdir(parents=True)
        os.chown(spool / d, uid, gid)
    os.chown(spool, uid, gid)
    mode, _, _ = shipped_mode("inbox")
    os.chown(spool / "inbox", uid, DROP_GID)
    os.chmod(spool / "inbox", mode)  # after chown, which clears setgid
    return spool


@needs_root
def test_droppers_cannot_touch_each_others_files(expensed_bin, base, daemons):
    mode, user, group = shipped_mode("inbox")
    assert (mode, user, group) == (0o3770, "expensed", "expensed-drop")
    spool = make_spool(base, 0, 0)
    inbox = spool / "inbox"
    assert stat.S_IMODE(os.stat(inbox).st_mode) == 0o3770

    py_as(ALICE, "import sys; open(sys.argv[1], 'wb')"
          ".write(bytes.fromhex(sys.argv[2]))",
          str(inbox / "alice.json"), SEED.hex())
    st = os.stat(inbox / "alice.json")
    assert (st.st_uid, st.st_gid) == (ALICE, DROP_GID)  # setgid inbox

    # Bob may neither rename, delete, replace nor hide Alice's file
    eperm = errno.errorcode[errno.EPERM]
    assert py_as(BOB, TRY, str(inbox)).split() == [eperm] * 4
    assert (inbox / "alice.json").read_bytes() == SEED
    assert sorted(os.listdir(inbox)) == ["alice.json", "forged.tmp"]
    # ...while Alice may still take her own file back
    assert py_as(ALICE, "import os, sys; os.rename(sys.argv[1] + "
                 "'/alice.json', sys.argv[1] + '/alice2.json'); "
                 "os.rename(sys.argv[1] + '/alice2.json', sys.argv[1] + "
                 "'/alice.json'); print('ok')", str(inbox)) == "ok"

    # the daemon (the inbox's owner) still claims and archives it
    conf = base / "d.conf"
    write_config(conf, spool)
    d = Daemon(expensed_bin, conf, base / "d.log")
    daemons.append(d)
    d.start()
    doc = wait_for(lambda: result(spool, "alice.json"), 10,
                   what="alice.json archived")
    assert doc["verdict"] == "accepted"
    assert doc["file"] == "alice.json"
    assert (spool / "accepted" / "alice.json").read_bytes() == SEED
    assert sorted(os.listdir(inbox)) == ["forged.tmp"]  # ignored name


@needs_root
def test_unclaimable_directory_is_logged_once(expensed_bin, base, daemons):
    """A directory the daemon may not move (another user's, not writable
    by the daemon: moving it would rewrite its '..') stays in the inbox,
    with one log line however many scans try it again."""
    spool = make_spool(base, DAEMON_UID, DAEMON_UID)
    inbox = spool / "inbox"
    stage = spool / "stage"
    stage.mkdir()
    subprocess.run(as_user(ALICE, ALICE, [DROP_GID]) +
                   ["mkdir", "-m", "0755", str(inbox / "sub.json")],
                   check=True, timeout=30)
    conf = base / "d.conf"
    write_config(conf, spool, settle="50ms", rescan="100ms")
    os.chmod(conf, 0o644)
    d = DaemonAs(as_user(DAEMON_UID, DAEMON_UID, [DROP_GID]), expensed_bin,
                 conf, base / "d.log")
    daemons.append(d)
    d.start()
    line = ("cannot claim sub.json: Permission denied; left in the inbox "
            "(retried at each scan, not logged again)")
    wait_for(lambda: line in d.text(), 10, what="the claim failure")
    # three more scans: a hard link made in the inbox raises no event the
    # daemon watches, so only a scan finds each of these reports
    for i in range(3):
        name = "scan-%d.json" % i
        (stage / name).write_bytes(make_report(SEED, i))
        os.chmod(stage / name, 0o644)
        os.link(stage / name, inbox / name)
        os.unlink(stage / name)
        wait_for(lambda: result(spool, name), 10,
                 what="%s archived by a scan" % name)
    assert (inbox / "sub.json").is_dir()
    text = d.text()
    assert text.count("sub.json") == 1, text
    assert text.count(line) == 1
    # gone, then back as a new entry: logged again, once
    os.rmdir(inbox / "sub.json")
    subprocess.run(as_user(BOB, BOB, [DROP_GID]) +
                   ["mkdir", "-m", "0755", str(inbox / "sub.json")],
                   check=True, timeout=30)
    wait_for(lambda: d.text().count(line) == 2, 10,
             what="the new entry's failure")
    assert d.stop() == 0
    assert d.text().count(line) == 2


def test_bidi_controls_escaped_in_log(expensed_bin, tmp_path, daemons):
    """A name with U+202E (right-to-left override) shows as \\u202e: it
    cannot make 'invoice-\u202egnp.json' read as 'invoice-nosj.png'."""
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    conf = tmp_path / "d.conf"
    write_config(conf, spool)
    d = Daemon(expensed_bin, conf, tmp_path / "d.log")
    daemons.append(d)
    d.start()
    name = "invoice-\u202egnp\u2066\u0085.json"
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / name).write_bytes(SEED)
    os.rename(stage / name, spool / "inbox" / name)
    doc = wait_for(lambda: result(spool, name), 10, what="archived")
    assert doc["file"] == name

    def verdict_lines():
        return [m.group(1) for m in map(VERDICT_LINE.match,
                                        d.text().splitlines()) if m]
    # the verdict is logged just after the file is archived
    lines = wait_for(verdict_lines, 10, what="the verdict line")
    assert lines == ["invoice-\\u202egnp\\u2066\\u0085.json"]
    raw = d.logfile.read_bytes()
    for ch in ("\u202e", "\u2066", "\u0085"):
        assert ch.encode() not in raw


@pytest.mark.parametrize("seconds", [2 ** 62, -2 ** 62])
def test_mtime_beyond_any_clock(expensed_bin, daemons, seconds):
    """A file whose dropper set its mtime some 10^11 years away (tmpfs and
    btrfs keep 64-bit seconds): found by the scan at start, its age in
    milliseconds overflowed (undefined: UBSan stops the daemon). It is
    judged like any other: an mtime in the future waits for the settle
    time, one in the past does not."""
    top = Path(tempfile.mkdtemp(prefix="expensed-mtime.", dir="/dev/shm"))
    try:
        spool = top / "spool"
        (spool / "inbox").mkdir(parents=True)
        conf = top / "d.conf"
        write_config(conf, spool)
        name = "far.json"
        (spool / "inbox" / name).write_bytes(SEED)
        os.utime(spool / "inbox" / name, ns=(0, seconds * 10 ** 9))
        assert os.stat(spool / "inbox" / name).st_mtime_ns == \
            seconds * 10 ** 9
        d = Daemon(expensed_bin, conf, top / "d.log")
        daemons.append(d)
        d.start()
        doc = wait_for(lambda: result(spool, name), 10, what="archived")
        assert (doc["verdict"], doc["archived_as"]) == \
            ("accepted", "accepted/" + name)
        d.stop()
    finally:
        shutil.rmtree(top)

"""The checks of `make systemd-test` (tests/systemd/nspawn.py boots the
guest; each check here runs commands in it and raises CheckFailed with a
message). Every wait is bounded; reports are made from tests/cases with a
fresh report id each, so that none is a duplicate of another (but the one
check_upgrade drops again on purpose).
"""
import base64
import hashlib
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from nspawn import (CONF, DROPPER, REPO, SPOOL, CheckFailed, log, wait_for)

ACCEPTED_CASE = REPO / "tests/cases/cost_per_day_at_limit/input.json"
REJECTED_CASE = REPO / "tests/cases/currency_lowercase/input.json"
UNIT = "expensed.service"
UPGRADE_SUFFIX = "+upgradetest1"
WEBHOOK = "ci-upgrade"
READERS = "ci-readers"  # [spool] read_group, and a member: READER
READER = "ci-reader"
DROPIN = "/etc/systemd/system/expensed.service.d/ci-readers.conf"
ACCOUNTS = (("passwd", "expensed"), ("group", "expensed"),
            ("group", "expensed-drop"))
_serial = [0]


def make_install(root):
    """The stand-in for the package: the build, `make install` into root
    (PREFIX /usr/local, as the unit's ExecStart= says)."""
    log("install: make all, make install DESTDIR=%s" % root)
    subprocess.run(["make", "-j2", "all"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["make", "install", "DESTDIR=%s" % root], cwd=REPO,
                   check=True, stdout=subprocess.DEVNULL)


def report(case):
    """(name, bytes) of a report from case with a report id never used."""
    _serial[0] += 1
    doc = json.loads(case.read_text())
    doc["id"] = "%s-NSPAWN-%d-%d" % (doc["id"], int(time.time()),
                                    _serial[0])
    return "ci-%03d.json" % _serial[0], json.dumps(doc, indent=1).encode()


class Service:
    """The guest and the questions asked of expensed.service in it."""

    def __init__(self, guest):
        self.g = guest

    def show(self, *props):
        out = self.g.run(["systemctl", "show", "-p", ",".join(props),
                          UNIT]).stdout
        return dict(line.split("=", 1) for line in out.splitlines()
                    if "=" in line)

    def running(self):
        """MainPID (int) when active/running, else None."""
        p = self.show("ActiveState", "SubState", "MainPID")
        if p["ActiveState"] == "active" and p["SubState"] == "running":
            return int(p["MainPID"]) or None
        return None

    def wait_running(self, timeout=30, other_than=None):
        def ok():
            pid = self.running()
            return pid if pid and pid != other_than else None
        what = "%s active (running)" % UNIT
        if other_than:
            what += " with a MainPID other than %d" % other_than
        return wait_for(ok, timeout, what)

    def seconds(self, prop):
        """A duration property (…USec) in seconds."""
        value = self.show(prop)[prop]
        if value in ("infinity", ""):
            raise CheckFailed("%s is %r" % (prop, value))
        total = 0.0
        units = {"min": 60, "ms": 0.001, "us": 1e-6, "s": 1, "h": 3600}
        for num, unit in re.findall(r"([\d.]+)(min|ms|us|s|h)", value):
            total += float(num) * units[unit]
        return total

    def cursor(self):
        out = self.g.run(["journalctl", "-n", "1", "-o", "json",
                          "--no-pager"]).stdout.strip()
        return json.loads(out.splitlines()[-1])["__CURSOR"] if out else None

    def journal(self, cursor=None, unit=True):
        argv = ["journalctl", "-o", "json", "--no-pager"]
        if unit:
            argv += ["-u", "expensed"]
        if cursor:
            argv += ["--after-cursor", cursor]
        out = self.g.run(argv).stdout
        entries = [json.loads(line) for line in out.splitlines() if line]
        for e in entries:
            if isinstance(e.get("MESSAGE"), list):
                e["MESSAGE"] = bytes(e["MESSAGE"]).decode("utf-8",
                                                          "replace")
        return entries

    def wait_journal(self, pred, what, cursor=None, unit=True, timeout=15):
        return wait_for(lambda: [e for e in self.journal(cursor, unit)
                                 if pred(e)], timeout, "journal: " + what)

    def drop(self, name, data, user=DROPPER):
        """Write a report into the inbox as user (a member of
        expensed-drop), as a person would: write, then close."""
        self.g.run(["runuser", "-u", user, "--", "sh", "-c",
                    'cat > "$1"', "sh", "%s/inbox/%s" % (SPOOL, name)],
                   input=data)

    def archived(self, name, verdict):
        """The result document of name in accepted/ or rejected/, or None
        while it is not there."""
        res = self.g.run(["cat", "%s/%s/%s.result.json" % (SPOOL, verdict,
                                                            name)],
                         check=False)
        if res.returncode != 0:
            return None
        if self.g.run(["test", "-f", "%s/%s/%s" % (SPOOL, verdict, name)],
                      check=False).returncode != 0:
            return None
        return json.loads(res.stdout)

    def wait_archived(self, name, verdict, timeout=20):
        doc = wait_for(lambda: self.archived(name, verdict), timeout,
                       "%s archived in %s/" % (name, verdict))
        if doc.get("verdict") != verdict:
            raise CheckFailed("%s/%s.result.json: verdict %r, want %r"
                              % (verdict, name, doc.get("verdict"), verdict))
        return doc

    def spool_empty(self, *dirs):
        for d in dirs:
            out = self.g.run(["ls", "-A", "%s/%s" % (SPOOL, d)]).stdout
            if out.strip():
                return False
        return True


# ---- the checks, in the order they run ----

def check_install(s, deb):
    if deb is None:
        s.g.run(["systemd-sysusers"])
        s.g.run(["systemd-tmpfiles", "--create"])
        s.g.run(["systemctl", "daemon-reload"])
        s.g.run(["systemctl", "enable", "--now", "expensed"], timeout=90)
        return "make install, sysusers, tmpfiles, enable --now"
    name = "/var/tmp/" + deb.name
    argv = ["apt-get", "install", "-y", "-q", name]
    res = s.g.run(argv, check=False, timeout=300)
    if res.returncode != 0:
        # a dependency not in the cached root: fetch it from the mirror
        log("install: apt-get install failed offline; apt-get update")
        s.g.run(["apt-get", "update", "-q"], timeout=300)
        s.g.run(argv, timeout=300)
    st = s.g.run(["dpkg-query", "-W", "-f", "${Status} ${Version}",
                  "expensed"]).stdout
    if not st.startswith("install ok installed"):
        raise CheckFailed("dpkg says %r after apt install" % st)
    return "apt-get install ./%s: %s" % (deb.name, st)


def check_ready(s, deb):
    pid = s.wait_running(30)
    p = s.show("Type", "NotifyAccess", "StatusText",
               "ExecMainStartTimestampMonotonic",
               "ActiveEnterTimestampMonotonic", "UnitFileState")
    if p["Type"] != "notify":
        raise CheckFailed("Type=%s, want notify" % p["Type"])
    if p["UnitFileState"] != "enabled":
        raise CheckFailed("UnitFileState=%s, want enabled"
                          % p["UnitFileState"])
    ms = (int(p["ActiveEnterTimestampMonotonic"]) -
          int(p["ExecMainStartTimestampMonotonic"])) / 1000
    # Type=notify: "active" only once READY=1 came from the main process
    return "active (running), MainPID %d, READY=1 %.0f ms after exec" % (
        pid, ms)


def check_status_text(s, deb):
    text = s.show("StatusText")["StatusText"]
    if not text:
        raise CheckFailed("StatusText is empty: no STATUS= from the daemon")
    out = s.g.run(["systemctl", "status", "--no-pager", "expensed"],
                  check=False).stdout
    if 'Status: "%s"' % text not in out:
        raise CheckFailed("systemctl status lacks Status: \"%s\":\n%s"
                          % (text, out))
    return "Status: \"%s\"" % text


def check_drop(s, deb):
    s.g.run(["useradd", "--no-create-home", "--shell", "/bin/sh",
             "--groups", "expensed-drop", DROPPER])
    ids = s.g.run(["id", DROPPER]).stdout.strip()
    if "uid=0(" in ids or "(expensed-drop)" not in ids:
        raise CheckFailed("dropper is not a non-root member of "
                          "expensed-drop: %s" % ids)
    s.good, data = report(ACCEPTED_CASE)
    s.drop(s.good, data)
    s.bad, bad = report(REJECTED_CASE)
    s.drop(s.bad, bad)
    doc = s.wait_archived(s.good, "accepted")
    if doc.get("report_id") != json.loads(data)["id"]:
        raise CheckFailed("accepted/%s.result.json: report_id %r"
                          % (s.good, doc.get("report_id")))
    s.wait_archived(s.bad, "rejected")
    owner = s.g.run(["stat", "-c", "%U:%G %a", "%s/accepted/%s"
                     % (SPOOL, s.good)]).stdout.strip()
    # the dropper reads the verdicts: report, result and page, each given
    # the group of accepted/ by the daemon (a rename does not give it)
    for name in (s.good, s.good + ".result.json", s.good + ".result.html"):
        r = s.g.run(["runuser", "-u", DROPPER, "--", "cat",
                     "%s/accepted/%s" % (SPOOL, name)], check=False)
        if r.returncode != 0:
            raise CheckFailed("%s cannot read accepted/%s: %s"
                              % (DROPPER, name, r.stderr.strip()))
    return "%s (%s): accepted/ with result and page, readable by the " \
        "dropper; %s: rejected/" % (s.good, ids.split()[0], s.bad) + \
        "; archived as " + owner


def check_journal(s, deb):
    found = []
    for name, verdict, prio in ((s.good, "accepted", "6"),
                                (s.bad, "rejected", "4")):
        head = "%s: %s (report " % (name, verdict)
        lines = s.wait_journal(lambda e: e.get("MESSAGE", "").startswith(
            head), "the verdict line of %s" % name)
        if lines[0].get("PRIORITY") != prio:
            raise CheckFailed("verdict line of %s at PRIORITY %s, want %s: "
                              "%s" % (name, lines[0].get("PRIORITY"), prio,
                                      lines[0]["MESSAGE"]))
        found.append("%s %s at priority %s" % (name, verdict, prio))
    return "; ".join(found)


def check_status_command(s, deb):
    res = s.g.run(["expensed", "status"], check=False)
    if "unknown command" in res.stderr:
        return "status: not available in this build"
    log("expensed status:\n" + res.stdout.rstrip())
    if res.returncode != 0:
        raise CheckFailed("expensed status exited %d:\n%s%s"
                          % (res.returncode, res.stdout, res.stderr))
    js = s.g.run(["expensed", "status", "--json"], check=False)
    try:
        st = json.loads(js.stdout)
    except ValueError:
        raise CheckFailed("expensed status --json is not JSON:\n%s"
                          % js.stdout)
    pid = s.running()
    got = (st.get("ok"), st.get("daemon"), st.get("accepted"),
           st.get("rejected"), st.get("inbox", {}).get("files"),
           st.get("work", {}).get("files"), st.get("last_verdict") is None)
    want = (True, {"running": True, "pids": [pid]}, {"files": 1},
            {"files": 1}, 0, 0, False)
    if got != want:
        raise CheckFailed("expensed status --json: (ok, daemon, accepted, "
                          "rejected, inbox, work, no last verdict) = %r, "
                          "want %r" % (got, want))
    return "exit 0; daemon running (pid %d), 1 accepted, 1 rejected, " \
        "backlog 0, last verdict %s" % (pid, st["last_verdict"]["time"])


def check_security(s, deb):
    out = s.g.run(["systemd-analyze", "security", "--no-pager",
                   "expensed"], check=False).stdout
    m = re.search(r"Overall exposure level for expensed\.service: "
                  r"([\d.]+) (\S+)", out)
    if not m:
        raise CheckFailed("no exposure level in:\n" + out[-2000:])
    if float(m.group(1)) > 1.5:
        raise CheckFailed("exposure %s %s, want <= 1.5" % m.groups())
    # the sandbox as the daemon sees it: /run is read-only (systemd 252
    # would leave it writable, see the unit), the spool writable
    pid = s.wait_running()
    probe = s.g.run(["nsenter", "-t", str(pid), "-m", "sh", "-c",
                     "touch /run/.expensed-probe 2>&1; echo rc=$?"],
                    check=False).stdout
    if "rc=0" in probe:
        s.g.run(["rm", "-f", "/run/.expensed-probe"], check=False)
        raise CheckFailed("/run is writable inside the service")
    return "exposure %s %s (online); /run read-only in the service" % \
        m.groups()


def check_reload(s, deb):
    pid = s.wait_running()
    s.g.run(["systemctl", "log-level", "debug"])
    cur = s.cursor()
    try:
        s.g.run(["systemctl", "reload", "expensed"])
        s.wait_running()
        s.wait_journal(lambda e: "reloaded: " in e.get("MESSAGE", ""),
                       "the daemon's 'reloaded: ...'", cur)
    finally:
        s.g.run(["systemctl", "log-level", "info"])
    msgs = [e["MESSAGE"] for e in s.journal(cur)]
    want = ["Got notification message from PID %d (RELOADING=1" % pid,
            "Changed running -> reload", "Changed reload -> running",
            "reloading %s" % CONF, "reloaded: "]
    for w in want:
        if not any(w in m for m in msgs):
            raise CheckFailed("reload: no journal line with %r; lines:\n%s"
                              % (w, "\n".join(msgs)))
    after = s.running()
    if after != pid:
        raise CheckFailed("MainPID %s after reload, want %d" % (after, pid))
    return "RELOADING=1, running -> reload -> running, same MainPID %d" % pid


def check_bad_reload(s, deb):
    pid = s.wait_running()
    good = s.g.run(["cat", CONF]).stdout
    cur = s.cursor()
    s.g.run(["sh", "-c", 'printf "%s" "$1" > ' + CONF, "sh",
             "[spool]\nthis line is not a key = value pair\n"])
    try:
        s.g.run(["systemctl", "reload", "expensed"])
        err = s.wait_journal(lambda e: e.get("MESSAGE", "").startswith(
            "reload failed; keeping"), "'reload failed; keeping ...'", cur)
        if err[0].get("PRIORITY") != "3":
            raise CheckFailed("reload failure logged at PRIORITY %s, want 3"
                              % err[0].get("PRIORITY"))
        s.wait_running()
        if s.running() != pid:
            raise CheckFailed("MainPID changed on a bad reload")
        name, data = report(ACCEPTED_CASE)
        s.drop(name, data)
        s.wait_archived(name, "accepted")
    finally:
        s.g.run(["sh", "-c", 'printf "%s" "$1" > ' + CONF, "sh", good])
    s.g.run(["systemctl", "reload", "expensed"])
    s.wait_running()
    return "old configuration kept (same MainPID %d, still judging); " \
        "error at priority 3: %s" % (pid, err[0]["MESSAGE"])


def check_kill9(s, deb):
    pid = s.wait_running()
    restarts = int(s.show("NRestarts")["NRestarts"])
    names = []
    for _ in range(3):
        name, data = report(ACCEPTED_CASE)
        s.drop(name, data)
        names.append(name)
    s.g.run(["sh", "-c", "kill -KILL %d" % pid])
    for _ in range(3):
        name, data = report(ACCEPTED_CASE)
        s.drop(name, data)
        names.append(name)
    timeout = s.seconds("RestartUSec") + 30
    new = s.wait_running(timeout, other_than=pid)
    if int(s.show("NRestarts")["NRestarts"]) != restarts + 1:
        raise CheckFailed("NRestarts did not grow by one")
    for name in names:
        s.wait_archived(name, "accepted")
    if not s.spool_empty("inbox", "work"):
        raise CheckFailed("inbox/ or work/ not empty after the restart")
    return "MainPID %d -> %d; all %d files around the kill archived" % (
        pid, new, len(names))


def check_watchdog(s, deb):
    pid = s.wait_running()
    wd = s.seconds("WatchdogUSec")
    abort = s.seconds("TimeoutAbortUSec")
    timeout = wd + abort + s.seconds("RestartUSec") + 30
    cur = s.cursor()
    t0 = time.monotonic()
    s.g.run(["sh", "-c", "kill -STOP %d" % pid])
    new = s.wait_running(timeout, other_than=pid)
    took = time.monotonic() - t0
    s.wait_journal(lambda e: "Watchdog timeout" in e.get("MESSAGE", ""),
                   "systemd's 'Watchdog timeout'", cur)
    name, data = report(ACCEPTED_CASE)
    s.drop(name, data)
    s.wait_archived(name, "accepted")
    return "stopped MainPID %d killed by the watchdog (WatchdogSec %gs), " \
        "restarted as %d after %.0fs; judging again" % (pid, wd, new, took)


def upgrade_deb(deb, dest):
    """A second package made from deb: the same files, Version: with
    UPGRADE_SUFFIX appended (dpkg-deb -R, edit DEBIAN/control, dpkg-deb
    -b), written into dest. (its path, the old version, the new one)"""
    old = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"],
                         check=True, capture_output=True,
                         text=True).stdout.strip()
    arch = subprocess.run(["dpkg-deb", "-f", str(deb), "Architecture"],
                          check=True, capture_output=True,
                          text=True).stdout.strip()
    new = old + UPGRADE_SUFFIX
    if subprocess.run(["dpkg", "--compare-versions", new, "gt",
                       old]).returncode != 0:
        raise CheckFailed("version %s is not above %s" % (new, old))
    tmp = Path(tempfile.mkdtemp(prefix="expensed-upgrade.", dir="/var/tmp"))
    try:
        subprocess.run(["dpkg-deb", "-R", str(deb), str(tmp / "pkg")],
                       check=True)
        control = tmp / "pkg/DEBIAN/control"
        text, n = re.subn(r"^Version: .*$", "Version: " + new,
                          control.read_text(), flags=re.M)
        if n != 1:
            raise CheckFailed("%d Version: lines in %s's control"
                              % (n, deb.name))
        control.write_text(text)
        out = dest / ("expensed_%s_%s.deb" % (new, arch))
        subprocess.run(["dpkg-deb", "--root-owner-group", "-b",
                        str(tmp / "pkg"), str(out)], check=True,
                       stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    got = subprocess.run(["dpkg-deb", "-f", str(out), "Version"],
                         check=True, capture_output=True,
                         text=True).stdout.strip()
    if got != new:
        raise CheckFailed("%s says Version %r, want %r" % (out, got, new))
    return out, old, new


def read_files(s, directory, pattern):
    """{name: text} of the files matching pattern in directory, read in
    one command (outbox/ and the burst's results hold hundreds)."""
    out = s.g.run(["sh", "-c", 'cd "$1" || exit 1; for f in $2; do '
                   '[ -f "$f" ] && d=$(base64 -w0 < "$f") && '
                   'printf "%s %s\\n" "$f" "$d"; done; true', "sh",
                   directory, pattern]).stdout
    found = {}
    for line in out.splitlines():
        name, _, data = line.partition(" ")
        found[name] = base64.b64decode(data).decode()
    return found


def outbox(s):
    """{file name: (text, document)} of the deliveries in outbox/."""
    return {name: (text, json.loads(text)) for name, text in
            read_files(s, SPOOL + "/outbox", "*.json").items()}


def delivery_of(s, name, attempts):
    """(file name, text, document) of the delivery of name in outbox/ once
    it has made attempts tries, or None."""
    for fname, (text, doc) in outbox(s).items():
        if doc.get("file") == name and doc.get("attempts") == attempts:
            return fname, text, doc
    return None


def etc_state(s):
    """The names under /etc/expensed and the sha256 of its files."""
    return s.g.run(["sh", "-c", "cd /etc/expensed && find . | sort && "
                    "find . -type f | sort | xargs sha256sum"]).stdout


# The burst of reports dropped around the upgrade: bash as the dropper,
# one report every 5 ms or so (no fork but sleep), the odd ones accepted,
# the even ones rejected, each line of LOG "N EPOCHREALTIME" once
# ci-burst-N.json is written and closed; until STOP exists or MAX files.
BURST = r"""exec >"$6"
i=0
while [ ! -e "$3" ] && [ "$i" -lt "$4" ]; do
	i=$((i + 1))
	if [ $((i % 2)) = 1 ]; then t=$1; else t=$2; fi
	printf '%s' "${t//@N@/$i}" >"$5/ci-burst-$i.json"
	echo "$i $EPOCHREALTIME"
	sleep 0.005
done
"""
BURST_MAX = 1500
BURST_STOP = "/var/tmp/ci-burst.stop"
BURST_LOG = "/var/tmp/ci-burst.log"


def burst_template(case):
    doc = json.loads(case.read_text())
    doc["id"] = "%s-NSPAWN-%d-burst-@N@" % (doc["id"], int(time.time()))
    return json.dumps(doc, indent=1)


def burst_verdict(i):
    return "accepted" if i % 2 else "rejected"


def burst_log(s):
    """[(N, time)] of the files the burst has dropped so far (whole
    lines: the last one may be read while it is written)."""
    res = s.g.run(["cat", BURST_LOG], check=False)
    return [(int(n), float(t)) for n, t in
            (line.split() for line in res.stdout.split("\n")[:-1])]


def check_upgrade(s, deb):
    """An upgrade to a higher version of the same package, as an
    administrator makes it: an edited conffile, an accepted report, a
    pending webhook delivery, and reports dropped all through it."""
    if deb is None:
        return "skipped (installed with make install, not a package)"
    new_deb, old_v, new_v = upgrade_deb(deb, s.g.root / "var/tmp")
    st = s.g.run(["dpkg-query", "-W", "-f", "${Status} ${Version}",
                  "expensed"]).stdout
    if st != "install ok installed " + old_v:
        raise CheckFailed("dpkg says %r before the upgrade, want %s"
                          % (st, old_v))
    if outbox(s):
        raise CheckFailed("outbox/ not empty before the webhook was set")
    # The administrator's edit: a comment and a webhook whose receiver is
    # down. The port is bound on the host (whose network the guest shares)
    # and not listening, so that every try is refused, however long the
    # check takes, and nothing else can take the port meanwhile.
    hold = socket.socket()
    try:
        hold.bind(("127.0.0.1", 0))
        port = hold.getsockname()[1]
        return _upgrade(s, new_deb, old_v, new_v, port)
    finally:
        hold.close()


def _upgrade(s, new_deb, old_v, new_v, port):
    # ... and readers of the verdicts who do not drop: [spool] read_group,
    # the daemon a member of it by a drop-in (then a restart)
    s.g.run(["groupadd", "--system", READERS])
    s.g.run(["useradd", "--no-create-home", "--groups", READERS, READER])
    s.g.run(["mkdir", "-p", DROPIN.rsplit("/", 1)[0]])
    s.g.run(["sh", "-c", 'printf "%s" "$1" > ' + DROPIN, "sh",
             "[Service]\nSupplementaryGroups=%s\n" % READERS])
    edit = ("\n# systemd-test: edited by the administrator before an "
            "upgrade\n[webhook %s]\nurl = http://127.0.0.1:%d/hook\n"
            "events = accepted\nretry = 0s, 1h\n" % (WEBHOOK, port))
    shipped = s.g.run(["cat", CONF]).stdout
    if shipped.count("\n[spool]\n") != 1:
        raise CheckFailed("%s has no single [spool] line" % CONF)
    edited = shipped.replace("\n[spool]\n", "\n[spool]\nread_group = %s\n"
                             % READERS) + edit
    s.g.run(["sh", "-c", 'printf "%s" "$1" > ' + CONF, "sh", edited])
    if s.g.run(["cat", CONF]).stdout != edited:
        raise CheckFailed("%s is not the shipped file and the edit" % CONF)
    digest = s.g.run(["sha256sum", CONF]).stdout
    cc = s.g.run(["expensed", "check-config"]).stdout.splitlines()
    gid = s.g.run(["getent", "group", READERS]).stdout.split(":")[2]
    for line in ("webhook %s: format standard, events accepted" % WEBHOOK,
                 "read group: %s (%s)" % (READERS, gid)):
        if line not in cc:
            raise CheckFailed("check-config lacks %r:\n%s"
                              % (line, "\n".join(cc)))
    cur_admin = s.cursor()
    pid = s.wait_running()
    s.g.run(["systemctl", "daemon-reload"])
    s.g.run(["systemctl", "restart", "expensed"], timeout=90)
    s.wait_running(other_than=pid)
    etc = etc_state(s)
    accounts = [s.g.run(["getent", db, name]).stdout for db, name in ACCOUNTS]

    # a report accepted before, and its delivery, refused once and due
    # again in an hour
    kept, kept_data = report(ACCEPTED_CASE)
    s.drop(kept, kept_data)
    kept_doc = s.wait_archived(kept, "accepted")
    kept_result = s.g.run(["cat", "%s/accepted/%s.result.json"
                           % (SPOOL, kept)]).stdout
    pending, pending_text, pending_doc = wait_for(
        lambda: delivery_of(s, kept, 1), 30,
        "the delivery of %s refused once, in outbox/" % kept)
    if (pending_doc.get("webhook"), pending_doc.get("type"),
            (pending_doc.get("last_error") or {}).get("status"),
            len(outbox(s))) != (WEBHOOK, "report.accepted", None, 1):
        raise CheckFailed("outbox/%s: %s" % (pending, pending_text))

    # the upgrade, with reports dropped from before it starts until after
    # the service is back: the restart comes with work in flight
    old_pid = s.wait_running()
    restarts = s.show("NRestarts")["NRestarts"]
    cur = s.cursor()
    s.g.run(["rm", "-f", BURST_STOP, BURST_LOG])
    burst = s.g.start(["runuser", "-u", DROPPER, "--", "bash", "-c", BURST,
                       "bash", burst_template(ACCEPTED_CASE),
                       burst_template(REJECTED_CASE), BURST_STOP,
                       str(BURST_MAX), SPOOL + "/inbox", BURST_LOG])
    try:
        s.wait_archived("ci-burst-1.json", "accepted")
        t0 = time.monotonic()
        res = s.g.run(["apt-get", "install", "-y", "-q",
                       "/var/tmp/" + new_deb.name], check=False,
                       timeout=300)
        took = time.monotonic() - t0
        if res.returncode != 0:
            raise CheckFailed("apt-get install ./%s exited %d: %s"
                              % (new_deb.name, res.returncode,
                                 (res.stderr or res.stdout).strip()[-2000:]))
        # postinst restarts the service (systemctl restart, which waits
        # for READY=1): a new main process by the time apt-get returns
        new_pid = s.running()
        if not new_pid or new_pid == old_pid:
            raise CheckFailed("after the upgrade: MainPID %s (was %d), "
                              "want a new one, active (running)"
                              % (new_pid, old_pid))
        # postinst's systemd-tmpfiles gave accepted/ and rejected/ their
        # installed group back; the new daemon, up, has given them the
        # read group again, before any report
        modes = s.g.run(["stat", "-c", "%G %a", SPOOL + "/accepted",
                         SPOOL + "/rejected"]).stdout.split("\n")[:2]
        if modes != ["%s 2750" % READERS] * 2:
            raise CheckFailed("accepted/, rejected/ after the upgrade: %s, "
                              "want %s 2750" % (modes, READERS))
        at_return = len(burst_log(s))
        if at_return >= BURST_MAX:
            raise CheckFailed("the burst reached its %d files before "
                              "apt-get returned" % BURST_MAX)
        wait_for(lambda: len(burst_log(s)) >= at_return + 3, 20,
                 "3 more files dropped after the upgrade")
    finally:
        s.g.run(["touch", BURST_STOP])
        try:
            burst.communicate(timeout=30)
        finally:
            if burst.poll() is None:
                burst.kill()
                burst.communicate()
    if burst.returncode != 0:
        raise CheckFailed("the burst exited %d" % burst.returncode)
    dropped = burst_log(s)
    if [n for n, _ in dropped] != list(range(1, len(dropped) + 1)):
        raise CheckFailed("the burst's log is not 1..N: %s" % dropped)

    st = s.g.run(["dpkg-query", "-W", "-f", "${Status} ${Version}",
                  "expensed"]).stdout
    if st != "install ok installed " + new_v:
        raise CheckFailed("dpkg says %r after the upgrade, want %s"
                          % (st, new_v))
    if s.g.run(["cat", CONF]).stdout != edited or \
            s.g.run(["sha256sum", CONF]).stdout != digest:
        raise CheckFailed("%s changed by the upgrade" % CONF)
    now = etc_state(s)
    if now != etc:
        raise CheckFailed("/etc/expensed before the upgrade:\n%sand "
                          "after:\n%s" % (etc, now))
    # a restart that is asked for (here by postinst) is not one of
    # Restart='s: systemd starts counting those again from 0
    now_restarts = s.show("NRestarts")["NRestarts"]
    if now_restarts != "0":
        raise CheckFailed("NRestarts %s after the upgrade (was %s), want 0"
                          % (now_restarts, restarts))
    for (db, name), before in zip(ACCOUNTS, accounts):
        after = s.g.run(["getent", db, name]).stdout
        if after != before:
            raise CheckFailed("%s %s: %r before, %r after" % (db, name,
                                                              before, after))

    # every report dropped around it archived once, with its verdict
    names = {"ci-burst-%d.json" % n: burst_verdict(n) for n, _ in dropped}

    def results():
        got = {}
        for verdict in ("accepted", "rejected"):
            for name, text in read_files(s, "%s/%s" % (SPOOL, verdict),
                                         "ci-burst-*.result.json").items():
                got[name[:-len(".result.json")]] = (verdict,
                                                    json.loads(text))
        return got if len(got) >= len(names) else None
    got = wait_for(results, 60, "the %d files of the burst archived"
                   % len(names))
    for name, verdict in names.items():
        where, doc = got.get(name, (None, {}))
        want = (verdict, verdict, "%s/%s" % (verdict, name), name)
        if (where, doc.get("verdict"), doc.get("archived_as"),
                doc.get("file")) != want:
            raise CheckFailed("%s: in %s/, verdict %s, archived_as %s, "
                              "file %s; want %s" % (name, where,
                                                    doc.get("verdict"),
                                                    doc.get("archived_as"),
                                                    doc.get("file"), want))
    if len(got) != len(names):
        raise CheckFailed("results of %d burst files, %d dropped"
                          % (len(got), len(names)))
    if not s.spool_empty("inbox", "work"):
        raise CheckFailed("inbox/ or work/ not empty after the upgrade")
    judged_by = {}
    for e in s.journal(cur):
        m = re.match(r"(ci-burst-\d+\.json): (accepted|rejected) \(report ",
                     e.get("MESSAGE", ""))
        if m:
            judged_by.setdefault(m.group(1), []).append(int(e["_PID"]))
    for name in names:
        if judged_by.get(name) not in ([old_pid], [new_pid]):
            raise CheckFailed("%s: verdict lines from pids %s, want one "
                              "from %d or %d" % (name, judged_by.get(name),
                                                 old_pid, new_pid))
    systemd = [e for e in s.journal(cur, unit=False)
               if e.get("UNIT") == UNIT and e.get("_PID") == "1"]
    stopping = [int(e["__REALTIME_TIMESTAMP"]) / 1e6 for e in systemd
                if e.get("MESSAGE", "").startswith("Stopping ")]
    started = [int(e["__REALTIME_TIMESTAMP"]) / 1e6 for e in systemd
               if e.get("MESSAGE", "").startswith("Started ")]
    if len(stopping) != 1 or len(started) != 1:
        raise CheckFailed("systemd's lines about %s during the upgrade: "
                          "%s" % (UNIT, [e.get("MESSAGE") for e in systemd]))
    early = [n for n, t in dropped if t < stopping[0]]
    late = [n for n, t in dropped if t > started[0]]
    # dropped (written and closed) before the new daemon was up, judged
    # by it: what the restart had in flight
    waited = [n for n, t in dropped if t < started[0] and
              judged_by["ci-burst-%d.json" % n] == [new_pid]]
    if not early or not late or not waited:
        raise CheckFailed("the burst did not span the restart: %d files "
                          "before Stopping, %d after Started, %d dropped "
                          "before and judged after"
                          % (len(early), len(late), len(waited)))
    by_old = sum(1 for v in judged_by.values() if v == [old_pid])

    # the readers read it all; the daemon, sandboxed (RestrictSUIDSGID=),
    # gave the read group without an error
    for cmd, path in (("ls", "accepted"), ("ls", "rejected"),
                      ("cat", "accepted/%s.result.json" % kept)):
        res = s.g.run(["runuser", "-u", READER, "--", cmd,
                       "%s/%s" % (SPOOL, path)], check=False)
        if res.returncode != 0:
            raise CheckFailed("%s cannot read %s: %s" % (READER, path,
                                                         res.stderr))
    err = [e["MESSAGE"] for e in s.journal(cur_admin)
           if "read group" in e.get("MESSAGE", "")]
    if err:
        raise CheckFailed("the daemon's lines about the read group: %s"
                          % err)

    # the report accepted before: still there, its result unchanged
    text = s.g.run(["cat", "%s/accepted/%s.result.json"
                    % (SPOOL, kept)]).stdout
    if text != kept_result:
        raise CheckFailed("accepted/%s.result.json changed" % kept)
    sha = s.g.run(["sha256sum", "%s/accepted/%s" % (SPOOL, kept)]
                  ).stdout.split()[0]
    if sha != kept_doc["sha256"] or sha != hashlib.sha256(
            kept_data).hexdigest():
        raise CheckFailed("accepted/%s: sha256 %s, result says %s"
                          % (kept, sha, kept_doc["sha256"]))
    # the ledger survived: the same report again is a duplicate
    again = "ci-again-" + kept
    s.drop(again, kept_data)
    doc = s.wait_archived(again, "rejected")
    want = [{"rule": "report.duplicate", "severity": "error", "path": "/id",
             "message": "report %s was already accepted (as accepted/%s)"
             % (kept_doc["report_id"], kept)}]
    if (doc.get("errors"), doc.get("warnings"), doc.get("findings")) != \
            (1, 0, want):
        raise CheckFailed("rejected/%s.result.json: errors %s, warnings "
                          "%s, findings %s; want 1, 0, %s"
                          % (again, doc.get("errors"), doc.get("warnings"),
                             doc.get("findings"), want))

    # the pending delivery kept as it was, and the upgraded daemon alerts
    # through the edited configuration
    left = outbox(s).get(pending)
    if left is None or left[0] != pending_text:
        raise CheckFailed("outbox/%s after the upgrade: %s (was %s)"
                          % (pending, left and left[0], pending_text))
    last = max(n for n in late if n % 2)
    wait_for(lambda: delivery_of(s, "ci-burst-%d.json" % last, 1), 30,
             "the delivery of ci-burst-%d.json, judged by the upgraded "
             "daemon, refused once" % last)
    return "%s -> %s in %.1fs: MainPID %d -> %d, down %.0f ms (Stopping " \
        "to Started), NRestarts %s -> 0; %s kept byte for byte; %d reports " \
        "dropped through it, each archived once with its verdict (%d by " \
        "the old daemon, %d by the new, %d of them dropped before it was " \
        "up); read group %s kept; %s kept, again: report.duplicate; " \
        "outbox/%s kept; accounts unchanged" % (
            old_v, new_v, took, old_pid, new_pid,
            (started[0] - stopping[0]) * 1000, restarts, CONF,
            len(dropped), by_old, len(dropped) - by_old, len(waited),
            READERS, kept, pending)


def check_stop(s, deb):
    s.wait_running()
    t0 = time.monotonic()
    s.g.run(["systemctl", "stop", "expensed"], timeout=120)
    ms = (time.monotonic() - t0) * 1000
    p = s.show("ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
    if p["ActiveState"] != "inactive" or p["Result"] != "success":
        raise CheckFailed("after stop: ActiveState=%s Result=%s"
                          % (p["ActiveState"], p["Result"]))
    if p["ExecMainStatus"] != "0" or p["ExecMainCode"] != "1":
        raise CheckFailed("main process: code %s status %s, want exited 0"
                          % (p["ExecMainCode"], p["ExecMainStatus"]))
    detail = "inactive, exit status 0, in %.0f ms" % ms
    res = s.g.run(["expensed", "status", "--json"], check=False)
    if "unknown command" not in res.stderr:
        st = json.loads(res.stdout)
        codes = [p.get("code") for p in st.get("problems", [])]
        if (st["daemon"]["running"] or st["ok"] or res.returncode != 1 or
                "no-daemon" not in codes):
            raise CheckFailed("expensed status after stop: exit %d, %s"
                              % (res.returncode, res.stdout))
        detail += "; expensed status: no-daemon, exit 1"
    return detail


def check_purge(s, deb):
    if deb is None:
        return "skipped (installed with make install, not a package)"
    s.g.run(["apt-get", "purge", "-y", "-q", "expensed"], timeout=300)
    st = s.g.run(["dpkg-query", "-W", "-f", "${Status}", "expensed"],
                 check=False).stdout
    if st and "not-installed" not in st:
        raise CheckFailed("dpkg status after purge: %r" % st)
    load = s.show("LoadState")["LoadState"]
    if load != "not-found":
        raise CheckFailed("unit LoadState=%s after purge, want not-found"
                          % load)
    left = s.g.run(["sh", "-c", "ls -d /lib/systemd/system/expensed* "
                    "/etc/systemd/system/*/expensed* /etc/expensed "
                    "2>/dev/null"], check=False).stdout.split()
    if left:
        raise CheckFailed("left after purge: %s" % " ".join(left))
    # the package removes its accounts on purge (the issue asks for no
    # user left behind; debian/expensed.postrm says why and what it means)
    for db, name in (("passwd", "expensed"), ("group", "expensed"),
                     ("group", "expensed-drop")):
        if s.g.run(["getent", db, name], check=False).returncode == 0:
            raise CheckFailed("%s %s left after purge" % (db, name))
    kept = s.g.run(["find", SPOOL, "-type", "f"], check=False).stdout
    return "unit, enablement links, /etc/expensed, user and groups gone; " \
        "spool files kept: %d" % len(kept.split())


CHECKS = [
    ("install", check_install),
    ("ready (READY=1)", check_ready),
    ("status text (STATUS=)", check_status_text),
    ("drop by a member of expensed-drop", check_drop),
    ("journal priorities", check_journal),
    ("expensed status", check_status_command),
    ("systemd-analyze security", check_security),
    ("reload (RELOADING=1)", check_reload),
    ("bad config on reload", check_bad_reload),
    ("kill -9 and restart", check_kill9),
    ("watchdog (SIGSTOP)", check_watchdog),
    ("apt upgrade", check_upgrade),
    ("stop", check_stop),
    ("apt purge", check_purge),
]
# without these the later checks cannot run
FATAL = {"install", "ready (READY=1)"}


def run_all(guest, deb, results):
    """Run CHECKS in order, appending (name, ok, detail) to results."""
    s = Service(guest)
    for name, fn in CHECKS:
        t0 = time.monotonic()
        try:
            detail = fn(s, deb)
            ok = True
        except (CheckFailed, subprocess.TimeoutExpired,
                AttributeError) as e:
            detail, ok = str(e), False
            tail = guest.run(["journalctl", "-u", "expensed", "-n", "12",
                              "--no-pager"], check=False).stdout
            log("%s failed; the unit's journal ends with:\n%s"
                % (name, tail.rstrip()))
        log("%s %s (%.1fs): %s" % ("PASS" if ok else "FAIL", name,
                                  time.monotonic() - t0, detail))
        results.append((name, ok, detail))
        if not ok and name in FATAL:
            break


def summary(results, seconds):
    failed = [r for r in results if not r[1]]
    print("\n=== systemd-test summary (%.0fs) ===" % seconds)
    for name, ok, detail in results:
        print("%s  %-36s %s" % ("PASS" if ok else "FAIL", name,
                                detail.splitlines()[0] if detail else ""))
    if not results:
        print("FAIL  no check ran")
        return 1
    print("=== %d checks, %d failed" % (len(results), len(failed)))
    return 1 if failed else 0

"""The checks of `make systemd-test` (tests/systemd/nspawn.py boots the
guest; each check here runs commands in it and raises CheckFailed with a
message). Every wait is bounded; reports are made from tests/cases with a
fresh report id each, so that none is a duplicate of another.
"""
import json
import re
import subprocess
import time
from pathlib import Path

from nspawn import (CONF, DROPPER, REPO, SPOOL, CheckFailed, log, wait_for)

ACCEPTED_CASE = REPO / "tests/cases/cost_per_day_at_limit/input.json"
REJECTED_CASE = REPO / "tests/cases/currency_lowercase/input.json"
UNIT = "expensed.service"
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

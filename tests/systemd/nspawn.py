#!/usr/bin/python3
"""expensed under a real systemd: boot a minimal Debian 12 with
systemd-nspawn, install the package inside, and check the service.

Run by tests/systemd/run.sh (`make systemd-test`), as root. Steps:

1. the root file system: `debootstrap --variant=minbase` from the Debian
   mirror configured on this machine (/etc/apt/sources.list*), with systemd
   and the run-time libraries of the package, cached as a tarball in
   /var/cache/expensed-ci (EXPENSED_CI_CACHE) keyed by mirror and package
   list, then unpacked into a fresh directory for every run;
2. the package: `make deb` in this repository (or, with --make-install,
   `make install` into the root, then sysusers and tmpfiles inside);
3. the boot: `systemd-nspawn -b --register=no --keep-unit --console=pipe`
   with SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 (hosts whose PID 1 is not
   systemd: no machined, hybrid cgroups); commands run inside with
   `nsenter -t LEADER -m -u -i -n -p -C`, LEADER being the container's
   systemd, the child of the nspawn process;
4. the checks (CHECKS below), each an assertion with a message, every wait
   bounded; a summary at the end; exit 1 if any check failed;
5. the teardown, always: nspawn is asked to power the guest off (SIGTERM),
   killed if it does not stop in time, the guest's init killed if it
   survived, and the directory removed.
"""
import argparse
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
VARIANT = "minbase"
# systemd (systemctl, journalctl, systemd-analyze), dbus as on a real
# server, and the run-time libraries of the package so that installing it
# rarely needs a download. Nothing else: a dependency the package forgets
# must fail the install (the package lists come with the root, so apt
# fetches declared ones from the mirror).
PACKAGES = ["systemd", "dbus", "libjansson4", "libcurl4", "libssl3"]
CACHE_FORMAT = 2  # bump when the way the cached root is made changes
CACHE_DIR = Path(os.environ.get("EXPENSED_CI_CACHE") or
                 "/var/cache/expensed-ci")
GUEST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
             "/sbin:/bin", "LANG": "C.UTF-8", "TERM": "dumb",
             "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0",
             "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root"}
SPOOL = "/var/spool/expensed"
CONF = "/etc/expensed/expensed.conf"
DROPPER = "ci-dropper"


class CheckFailed(Exception):
    pass


class Interrupted(BaseException):
    pass


def log(msg):
    print("systemd-test: " + msg, flush=True)


def wait_for(cond, timeout, what):
    """Poll cond() until it returns a true value (returned) or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise CheckFailed("timed out after %gs waiting for %s"
                              % (timeout, what))
        time.sleep(0.2)


# ---- the host: mirror, cached root, package ----

def read_mirror():
    """The first Debian mirror of this machine serving SUITE main."""
    files = sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
    for path in files:
        for stanza in Path(path).read_text().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                if m:
                    fields[m.group(1).lower()] = m.group(2).split()
            if ("deb" in fields.get("types", []) and
                    SUITE in fields.get("suites", []) and
                    "main" in fields.get("components", []) and
                    fields.get("enabled", ["yes"]) != ["no"]):
                return fields["uris"][0]
    lists = ["/etc/apt/sources.list"] + sorted(
        glob.glob("/etc/apt/sources.list.d/*.list"))
    for path in lists:
        if not os.path.exists(path):
            continue
        for line in Path(path).read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#")[0]).split()
            if (len(words) >= 4 and words[0] == "deb" and
                    words[2] == SUITE and "main" in words[3:]):
                return words[1]
    raise SystemExit("systemd-test: no Debian %s mirror (main) in "
                     "/etc/apt/sources.list*" % SUITE)


def cached_root(mirror):
    """The path of the root tarball for this mirror, made if missing."""
    key = hashlib.sha256(json.dumps(
        [CACHE_FORMAT, SUITE, VARIANT, mirror, PACKAGES]).encode()
    ).hexdigest()[:16]
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tarball = CACHE_DIR / ("debian12-%s.tar" % key)
    with open(CACHE_DIR / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.exists():
            log("root: cached %s" % tarball)
            return tarball
        log("root: debootstrap %s from %s (cold cache, a few minutes)"
            % (SUITE, mirror))
        build = Path(tempfile.mkdtemp(prefix="bootstrap.", dir=CACHE_DIR))
        try:
            subprocess.run(["debootstrap", "--variant=" + VARIANT,
                            "--include=" + ",".join(PACKAGES), SUITE,
                            str(build / "root"), mirror], check=True,
                           stdout=subprocess.DEVNULL)
            for argv in (["apt-get", "update", "-q"],
                         ["apt-get", "clean"]):
                subprocess.run(["chroot", str(build / "root")] + argv,
                               check=True, stdout=subprocess.DEVNULL)
            part = tarball.with_suffix(".part")
            subprocess.run(["tar", "-C", str(build / "root"),
                            "--numeric-owner", "-cpf", str(part), "."],
                           check=True)
            part.rename(tarball)
        finally:
            shutil.rmtree(build, ignore_errors=True)
        log("root: cached as %s" % tarball)
        return tarball


def build_deb():
    """make deb in this repository; the path of the expensed .deb."""
    probe = subprocess.run(["make", "-n", "deb"], cwd=REPO,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        raise SystemExit("systemd-test: this checkout has no `make deb` "
                         "(the Debian package); use --make-install to test "
                         "a plain `make install` instead")
    log("package: make deb")
    subprocess.run(["make", "deb"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    debs = [p for p in glob.glob(str(REPO / "build/deb/expensed_*.deb"))
            if "dbgsym" not in p]
    if len(debs) != 1:
        raise SystemExit("systemd-test: make deb left %d expensed_*.deb in "
                         "build/deb (want 1)" % len(debs))
    return Path(debs[0])


# ---- the guest ----

class Guest:
    def __init__(self, workdir):
        self.workdir = workdir
        self.root = workdir / "root"
        self.proc = None
        self.leader = None
        self.leader_start = None

    def boot(self):
        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
        console = open(self.workdir / "console.log", "wb")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "-q", "-b", "-D", str(self.root),
             "-M", "expensed-ci", "--register=no", "--keep-unit",
             "--console=pipe"], env=env, stdin=subprocess.DEVNULL,
            stdout=console, stderr=subprocess.STDOUT,
            start_new_session=True)
        console.close()
        self.leader = wait_for(self._find_leader, 30,
                               "the container's systemd (child of nspawn)")
        self.leader_start = _start_time(self.leader)
        log("boot: nspawn pid %d, container init (host pid) %d"
            % (self.proc.pid, self.leader))
        # systemctl fails until the guest's systemd listens on its socket
        last = []

        def booted():
            res = self.run(["systemctl", "is-system-running", "--wait"],
                           check=False, timeout=120)
            last[:] = [res.stdout.strip(), res.stderr.strip()]
            return res.stdout.strip() not in ("", "offline", "unknown")
        try:
            wait_for(booted, 120, "the guest to boot")
        except (CheckFailed, subprocess.TimeoutExpired):
            raise CheckFailed("the guest did not boot in 120s: %s" % last)
        state = last[0]
        if state not in ("running", "degraded"):
            raise CheckFailed("guest system state %r after boot" % state)
        if state == "degraded":
            failed = self.run(["systemctl", "--failed", "--no-legend"],
                              check=False).stdout
            log("boot: degraded; failed units:\n" + failed)

    def _find_leader(self):
        if self.proc.poll() is not None:
            raise CheckFailed("systemd-nspawn exited with %d (see %s)"
                              % (self.proc.returncode,
                                 self.workdir / "console.log"))
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                text = Path(stat).read_text()
            except OSError:
                continue
            comm = text[text.index("(") + 1:text.rindex(")")]
            ppid = int(text[text.rindex(")") + 2:].split()[1])
            if ppid == self.proc.pid and comm == "systemd":
                return int(stat.split("/")[2])
        return None

    def _cmd(self, argv):
        cmd = ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n",
               "-p", "-C", "--", "/usr/bin/env", "-i"]
        return cmd + ["%s=%s" % kv for kv in GUEST_ENV.items()] + list(argv)

    def start(self, argv):
        """Start argv inside the guest without waiting: a Popen whose
        communicate() gives its text output."""
        return subprocess.Popen(self._cmd(argv), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def run(self, argv, check=True, input=None, timeout=60):
        """Run argv inside the guest; CompletedProcess with text output."""
        cmd = self._cmd(argv)
        kw = {"input": input} if input is not None else {
            "stdin": subprocess.DEVNULL}
        res = subprocess.run(cmd, **kw, capture_output=True,
                             timeout=timeout, text=isinstance(input, str) or
                             input is None)
        if check and res.returncode != 0:
            raise CheckFailed("`%s` in the guest exited with %d: %s"
                              % (" ".join(argv), res.returncode,
                                 (res.stderr or res.stdout).strip()[-2000:]))
        return res

    def shutdown(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()  # nspawn: power the guest off
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                log("teardown: nspawn still running after 60s; SIGKILL")
                self.proc.kill()
                self.proc.wait(30)
        if self.leader and _start_time(self.leader) == self.leader_start:
            log("teardown: container init survived nspawn; SIGKILL")
            os.kill(self.leader, signal.SIGKILL)  # ends the whole pid ns
            wait_for(lambda: _start_time(self.leader) != self.leader_start,
                     30, "the container's init to die")
        log("teardown: container stopped (nspawn exit %s)"
            % self.proc.returncode)


def _start_time(pid):
    try:
        text = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()[19]


def remove_workdir(workdir):
    """Unmount anything left under workdir, then remove it."""
    prefix = str(workdir) + "/"
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                mounts.append(point)
    for point in sorted(mounts, reverse=True):
        log("teardown: unmounting %s" % point)
        subprocess.run(["umount", "-l", point], check=False)
    subprocess.run(["rm", "-rf", "--one-file-system", str(workdir)],
                   check=False)


# ---- the checks: tests/systemd/checks.py ----

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--make-install", action="store_true",
                    help="install with `make install` instead of the .deb")
    ap.add_argument("--keep", action="store_true",
                    help="keep the guest's directory after the run")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("systemd-test: needs root")

    def interrupted(signum, frame):
        raise Interrupted("signal %d" % signum)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)

    import checks

    t0 = time.monotonic()
    tarball = cached_root(read_mirror())
    deb = None if args.make_install else build_deb()
    workdir = Path(tempfile.mkdtemp(prefix="expensed-nspawn.",
                                    dir="/var/tmp"))
    guest = Guest(workdir)
    results = []
    try:
        (workdir / "root").mkdir()
        subprocess.run(["tar", "-C", str(guest.root), "--numeric-owner",
                        "-xpf", str(tarball)], check=True)
        if deb is None:
            checks.make_install(guest.root)
        else:
            shutil.copy(deb, guest.root / "var/tmp" / deb.name)
        log("setup %.0fs; booting" % (time.monotonic() - t0))
        guest.boot()
        checks.run_all(guest, deb, results)
    except Interrupted as e:
        results.append(("harness", False, "interrupted (%s)" % e))
    except CheckFailed as e:
        results.append(("boot", False, str(e)))
    finally:
        try:
            guest.shutdown()
        finally:
            if args.keep:
                log("kept %s" % workdir)
            else:
                remove_workdir(workdir)
    return checks.summary(results, time.monotonic() - t0)


if __name__ == "__main__":
    # through the module, so that checks.py and this file share one
    # CheckFailed (not one in __main__ and one in nspawn)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import nspawn
    sys.exit(nspawn.main())

"""The surroundings bench_burst.py measures the daemon in, standard library
only: a fresh ext4 per measurement, a /dev/log listener when the machine
has none, an inotify watch on the archive, the journal's commit counter and
a child's own peak memory.
"""
import contextlib
import ctypes
import os
import select
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

IMAGE_SIZE = "512M"
# BENCH_IMAGES=ram: each image in /dev/shm rather than beside the bench's
# temporary directory (bench/README.md, "The disk below the loop device")
IMAGES_IN_RAM = os.environ.get("BENCH_IMAGES") == "ram"
RAM_DIR = "/dev/shm"


def backing_disk(path):
    """The whole disk holding path ("vda" for /dev/vda1), or None when path
    is on no block device (tmpfs)."""
    st = os.stat(path)
    sys_dev = Path("/sys/dev/block/%d:%d" % (os.major(st.st_dev),
                                             os.minor(st.st_dev)))
    try:
        real = sys_dev.resolve(strict=True)
    except OSError:
        return None
    if (real / "partition").exists():
        real = real.parent
    return real.name


def disk_writes(disk):
    """(bytes written, flushes done) by disk since boot
    (/sys/block/DISK/stat), or None."""
    try:
        with open("/sys/block/%s/stat" % disk) as f:
            fields = f.read().split()
        return int(fields[6]) * 512, int(fields[15])
    except (OSError, ValueError, IndexError, TypeError):
        return None


def images_note(root):
    """Where the images are, and what a sync of theirs reaches."""
    if IMAGES_IN_RAM:
        return ("images: in RAM (%s, BENCH_IMAGES=ram): no disk below the "
                "loop devices" % RAM_DIR)
    disk = backing_disk(root)
    if disk is None:
        return "images: in %s, on no disk" % root
    return ("images: in %s, on %s: each journal commit of a bench's ext4 "
            "reaches it (the loop device syncs its image)" % (root, disk))


class Fs:
    """Where one measurement runs: path, and what it is."""

    def __init__(self, path, dev=None, note="", disk=None):
        self.path = Path(path)
        self.dev = dev          # "loop0" on a loop mount, else None
        self.note = note        # why it is not a fresh ext4, if it is not
        self.disk = disk        # the disk below the loop device's image

    def disk_writes(self):
        """(bytes written, flushes done) by the disk below the image since
        boot, or None (no such disk: in RAM, or not a loop mount)."""
        return None if self.disk is None else disk_writes(self.disk)

    def commits(self):
        """Transactions the ext4 journal has committed since the mount
        (/proc/fs/jbd2/DEV-8/info), or None without one."""
        if self.dev is None:
            return None
        try:
            with open("/proc/fs/jbd2/%s-8/info" % self.dev) as f:
                return int(f.readline().split()[0])
        except (OSError, ValueError, IndexError):
            return None


def _run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


@contextlib.contextmanager
def fresh_ext4(root, tag):
    """A new journaled ext4 mounted from a loop image under root (made,
    mounted, then unmounted and removed whatever happens; the image in
    root, or in RAM with BENCH_IMAGES=ram); a plain directory, with Fs.note
    saying why, where loop mounts are impossible."""
    root = Path(root)
    ram = Path(tempfile.mkdtemp(dir=RAM_DIR)) if IMAGES_IN_RAM else None
    img = (ram or root) / (tag + ".img")
    mnt = root / tag
    mnt.mkdir()
    mounted = False
    try:
        why = None
        if os.environ.get("BENCH_NO_LOOP"):
            why = "BENCH_NO_LOOP is set"
        elif os.geteuid() != 0:
            why = "not root"
        else:
            with open(img, "wb") as f:
                f.truncate(512 << 20)
            # inode tables and journal written now, not by a background
            # thread during the measurement
            r = _run(["mkfs.ext4", "-q", "-F", "-E",
                      "lazy_itable_init=0,lazy_journal_init=0", str(img)])
            if r.returncode != 0:
                why = "mkfs.ext4: " + r.stdout.strip()
            else:
                r = _run(["mount", "-o", "loop", str(img), str(mnt)])
                if r.returncode != 0:
                    why = "mount -o loop: " + r.stdout.strip()
                else:
                    mounted = True
        if not mounted:
            yield Fs(mnt, note=why or "unknown")
            return
        src = _run(["findmnt", "-n", "-o", "SOURCE", str(mnt)]).stdout
        yield Fs(mnt, dev=os.path.basename(src.strip()) or None,
                 disk=backing_disk(img.parent))
    finally:
        if mounted:
            if _run(["umount", str(mnt)]).returncode != 0:
                _run(["umount", "-l", str(mnt)])
        else:
            subprocess.run(["rm", "-rf", "--one-file-system", str(mnt)])
        with contextlib.suppress(OSError):
            mnt.rmdir()
        with contextlib.suppress(OSError):
            img.unlink()
        if ram is not None:
            with contextlib.suppress(OSError):
                ram.rmdir()


class SyslogSink:
    """Make syslog() really write: when /dev/log is missing (glibc then
    drops every message after a failed connect), listen on it and count
    what arrives; remove it afterwards. With a system logger there, use
    that (and count nothing)."""

    PATH = "/dev/log"
    # a datagram's sender blocks once this many wait unread: the kernel's
    # default is 10; systemd raises it to 512 at boot (PID 1), on every
    # host the daemon runs on as a service. Our listener is not that
    # host's journald: without it, the daemon's thread would wait for the
    # bench's Python thread at every tenth line of a burst.
    QLEN = Path("/proc/sys/net/unix/max_dgram_qlen")
    QLEN_SYSTEMD = 512

    def __init__(self):
        self.sock = None
        self.ino = None
        self.messages = 0
        self.bytes = 0
        self.note = ""
        self.thread = None
        self.stopping = threading.Event()
        self.old_qlen = None

    def start(self):
        if os.path.exists(self.PATH):
            self.note = "the system's %s" % self.PATH
            return self
        qlen = ""
        try:
            old = int(self.QLEN.read_text())
            if old < self.QLEN_SYSTEMD:
                self.QLEN.write_text("%d\n" % self.QLEN_SYSTEMD)
                self.old_qlen = old
                qlen = (", net.unix.max_dgram_qlen %d (was %d) as systemd "
                        "sets it" % (self.QLEN_SYSTEMD, old))
        except (OSError, ValueError) as e:
            qlen = ", net.unix.max_dgram_qlen left as it is (%s)" % e
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            s.bind(self.PATH)
            os.chmod(self.PATH, 0o666)
        except OSError as e:
            self.note = ("no %s and cannot listen on it (%s): syslog() "
                         "drops every line" % (self.PATH, e))
            return self
        self.sock = s
        self.ino = os.stat(self.PATH).st_ino
        self.note = "the bench's own %s listener%s" % (self.PATH, qlen)
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()
        return self

    def _drain(self):
        self.sock.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                b = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.messages += 1
            self.bytes += len(b)

    def stop(self):
        if self.old_qlen is not None:
            with contextlib.suppress(OSError):
                self.QLEN.write_text("%d\n" % self.old_qlen)
            self.old_qlen = None
        if self.sock is None:
            return
        with contextlib.suppress(OSError):
            if os.stat(self.PATH).st_ino == self.ino:
                os.unlink(self.PATH)
        self.stopping.set()
        self.thread.join(2)
        self.sock.close()
        self.sock = None


def inotify_note():
    """fs.inotify.max_queued_events, and "!!" when it is below the kernel's
    default (16384): a test that lowers it (tests/e2e/test_daemon.py, to
    force overflows) and was interrupted, or two such tests run at once,
    can leave it at 64; the daemon then rescans its inbox after each
    overflow and this bench's watcher recounts the archive, and every
    figure is wrong."""
    try:
        n = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    except (OSError, ValueError) as e:
        return "fs.inotify.max_queued_events unknown (%s)" % e
    if n < 16384:
        return ("!! fs.inotify.max_queued_events is %d, below the default "
                "16384: figures not comparable (sysctl -w "
                "fs.inotify.max_queued_events=16384)" % n)
    return "fs.inotify.max_queued_events %d" % n


IN_CREATE = 0x100
IN_MOVED_TO = 0x80
IN_Q_OVERFLOW = 0x4000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")


class ResultWatch:
    """Every NAME.result.json that appears in the watched directories
    (renamed or created there), in arrival order, without polling."""

    def __init__(self, dirs):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.dirs = [Path(d) for d in dirs]
        for d in self.dirs:
            if libc.inotify_add_watch(self.fd, str(d).encode(),
                                      IN_MOVED_TO | IN_CREATE) < 0:
                raise OSError(ctypes.get_errno(), "inotify_add_watch %s" % d)
        self.seen = set()
        self.count = 0
        self.overflow = False

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not r:
            return
        try:
            buf = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return
        off = 0
        while off < len(buf):
            _wd, mask, _cookie, ln = _EVENT.unpack_from(buf, off)
            off += _EVENT.size
            name = buf[off:off + ln].rstrip(b"\0")
            off += ln
            if mask & IN_Q_OVERFLOW:
                self.overflow = True
            elif name.endswith(b".result.json") and name not in self.seen:
                self.seen.add(name)
                self.count += 1

    def _recount(self):
        # events lost: count the directories themselves from now on
        n = 0
        for d in self.dirs:
            n += sum(1 for e in os.scandir(d)
                     if e.name.endswith(".result.json"))
        self.count = n

    def wait(self, cond, timeout, what, coalesce=0.0):
        """Read events until cond(self) or timeout (then raise). With
        coalesce (seconds), each wakeup waits that long before reading, so
        that one read takes many events: a burst's watcher then takes
        little CPU from the daemon it measures (at most coalesce later)."""
        deadline = time.monotonic() + timeout
        while not cond(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out after %.0f s waiting for %s"
                                   % (timeout, what))
            if coalesce:
                time.sleep(coalesce)
            self._read(min(left, 0.05))
            if self.overflow:
                self._recount()

    def has(self, name):
        return name.encode() + b".result.json" in self.seen


def peak_memory(cmd, timeout, cap_bytes):
    """Run cmd (stdout counted, not kept) under an address-space cap of
    cap_bytes (prlimit, which execs it: same process); returns (status
    text, ru_maxrss in kB of that child alone, stdout bytes, seconds,
    stderr tail)."""
    t0 = time.monotonic()
    p = subprocess.Popen(["prlimit", "--as=%d" % cap_bytes, "--"] + cmd,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = [0]
    err = []

    def drain_out():
        while True:
            b = p.stdout.read(1 << 20)
            if not b:
                return
            out[0] += len(b)

    def drain_err():
        err.append(p.stderr.read())

    ts = [threading.Thread(target=drain_out, daemon=True),
          threading.Thread(target=drain_err, daemon=True)]
    for t in ts:
        t.start()
    deadline = t0 + timeout
    timed_out = False
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        if time.monotonic() > deadline and not timed_out:
            timed_out = True
            p.kill()
        time.sleep(0.02)
    secs = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    for t in ts:
        t.join(5)
    if timed_out:
        what = "killed after %d s" % timeout
    elif os.WIFSIGNALED(status):
        what = "killed by signal %d" % os.WTERMSIG(status)
    else:
        what = "exit %d" % os.WEXITSTATUS(status)
    tail = (err[0] if err else b"").decode(errors="replace").strip()
    tail = tail.splitlines()[-1][:100] if tail else ""
    return what, ru.ru_maxrss, out[0], secs, tail

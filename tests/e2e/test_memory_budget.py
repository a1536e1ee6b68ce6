"""A report whose parsed form would take more memory than its budget is
invalid, input.resources, at once (check --max-memory, [spool]
max_judge_memory), rather than an out-of-memory error or an OOM kill of
the daemon three times: JSON of empty objects takes some 79 times its size
once parsed (docs/costs.md)."""
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon_util import (Daemon, drop, result, seed_path, wait_for,
                         write_config)

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "cases"))
import regen  # noqa: E402  (tests/cases/regen.py: how the cases are run)

SEED = seed_path().read_bytes()


def flood(n):
    """A report of n empty missions: some 240 bytes of heap each once
    parsed."""
    return ('{"format":"mission-report/1","missions":[%s]}'
            % ",".join(["{}"] * n)).encode()


def check(exe, args, lang="en"):
    return subprocess.run([exe, "check"] + args, capture_output=True,
                          timeout=120, env=regen.clean_env(exe, lang))


def test_check_max_memory(expensed_bin, tmp_path):
    f = tmp_path / "flood.json"
    data = flood(30000)  # 90 kB, some 7 MB parsed
    f.write_bytes(data)
    p = check(expensed_bin, ["--max-memory", "1M", str(f)])
    assert p.returncode == 1
    assert p.stderr == b""
    assert p.stdout.decode() == (
        "%s: error: judging needs more than 1 MB of memory "
        "[input.resources]\n"
        "%s: invalid: 1 error, 0 warnings\n" % (f, f))
    p = check(expensed_bin, ["--format", "json", "--max-memory", "1536K",
                             str(f)])
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["verdict"] == "invalid"
    assert doc["report_id"] is None
    assert doc["sha256"] == hashlib.sha256(data).hexdigest()
    assert doc["size"] == len(data)
    assert (doc["errors"], doc["warnings"]) == (1, 0)
    assert doc["findings"] == [{
        "rule": "input.resources", "severity": "error", "path": "",
        "message": "judging needs more than 1536 kB of memory"}]


def test_check_max_memory_in_french(expensed_bin, tmp_path):
    f = tmp_path / "flood.json"
    f.write_bytes(flood(30000))
    p = check(expensed_bin, ["--max-memory", "2M", str(f)], lang="fr")
    assert p.returncode == 1
    assert p.stdout.decode() == (
        "%s: erreur : le contrôle demande plus de 2 Mo de mémoire "
        "[input.resources]\n"
        "%s: invalide : 1 erreur, 0 avertissement\n" % (f, f))


def test_check_budget_not_reached_changes_nothing(expensed_bin, tmp_path):
    """Without --max-memory the flood is judged to the end (rejected);
    with a budget it fits, the seed's output is byte for byte the same."""
    f = tmp_path / "flood.json"
    f.write_bytes(flood(30000))
    p = check(expensed_bin, ["--format", "json", str(f)])
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["verdict"] == "rejected"
    # nine per mission, eight for the missing top-level fields
    assert doc["errors"] == 30000 * 9 + 8
    seed = tmp_path / "seed.json"
    seed.write_bytes(SEED)
    plain = check(expensed_bin, [str(seed)])
    budget = check(expensed_bin, ["--max-memory", "1M", str(seed)])
    assert plain.returncode == budget.returncode == 0
    assert budget.stdout == plain.stdout
    assert b"accepted: 0 errors, 5 warnings" in budget.stdout


def nulls(n):
    """A report whose n missions are null: 8 bytes each once parsed (Jansson
    shares its one null), but each is reported where it stands (the
    engine keeps the pointer text of every ill-kinded null, true or false
    it reported: some 100 bytes each)."""
    return ('{"format":"mission-report/1","missions":[%s]}'
            % ",".join(["null"] * n)).encode()


def peak_kb(exe, args, lang="en"):
    """check's output and its peak RSS in kB (a process of its own)."""
    probe = ("import resource, subprocess, sys\n"
             "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
             "sys.stdout.buffer.write(p.stdout)\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    p = subprocess.run([sys.executable, "-c", probe, exe, "check"] + args,
                       capture_output=True, timeout=120,
                       env=regen.clean_env(exe, lang))
    out, _, kb = p.stdout.rstrip(b"\n").rpartition(b"\n")
    return out + b"\n", int(kb)


def test_check_budget_counts_the_rules_tables(expensed_bin, tmp_path):
    """The budget holds what the rules keep while they run, not only the
    parsed report: 600,000 null missions (3 MB) parse into 4.8 MB, and
    the pointers of the nulls reported ("/missions/123") took some 40 MB
    more before. With a budget of 8M the file is invalid, input.resources,
    and judging stops there; without one it is judged to the end (not
    under a sanitizer: its shadow memory says nothing of the heap, and
    the run takes a minute)."""
    f = tmp_path / "nulls.json"
    f.write_bytes(nulls(600000))
    out, kb = peak_kb(expensed_bin, ["--max-memory", "8M", str(f)])
    assert out.decode() == (
        "%s: error: judging needs more than 8 MB of memory "
        "[input.resources]\n"
        "%s: invalid: 1 error, 0 warnings\n" % (f, f))
    if sanitized(expensed_bin):
        return
    out, unbounded = peak_kb(expensed_bin, ["--format", "json", str(f)])
    doc = json.loads(out)
    assert doc["verdict"] == "rejected"
    # one per mission, eight for the missing top-level fields
    assert doc["errors"] == 600000 + 8
    assert (doc["findings"][8]["path"], doc["findings"][8]["message"]) == (
        "/missions/0", "expected an object, found null")
    # the bounded run's peak: the budget, the file, the program (some 15
    # MB); the unbounded one's some 50 MB
    assert unbounded > 40 * 1024, unbounded
    assert kb < unbounded - 25 * 1024, (kb, unbounded)


@pytest.mark.parametrize("arg", ["0", "1023K", "512", "10x", "", "1M5",
                                 "-1M"])
def test_check_bad_max_memory(expensed_bin, tmp_path, arg):
    p = check(expensed_bin, ["--max-memory", arg, str(tmp_path / "x.json")])
    assert p.returncode == 2
    assert p.stdout == b""
    assert p.stderr.decode().startswith(
        "expensed: bad --max-memory '%s' (a size of at least 1M, such as "
        "64M, 1G)\n" % arg)


def write_memory_config(path, spool, budget=None, extra=""):
    write_config(path, spool, settle="100ms", extra=extra,
                 spool_keys=() if budget is None else
                 ["max_judge_memory = %s" % budget])


def test_daemon_max_judge_memory(expensed_bin, tmp_path):
    """The flood is archived invalid, input.resources, with its page and
    its bytes; the daemon goes on (same process) and judges the next file
    as usual; in French with language = fr."""
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    cfg = tmp_path / "d.conf"
    write_memory_config(cfg, spool, "1M",
                        extra="[general]\nlanguage = fr\n")
    d = Daemon(expensed_bin, cfg, tmp_path / "d.log").start()
    try:
        data = flood(30000)
        drop(spool, "flood.json", data)
        doc = wait_for(lambda: result(spool, "flood.json"), 30,
                       what="flood.json archived")
        assert doc["verdict"] == "invalid"
        assert doc["archived_as"] == "rejected/flood.json"
        assert doc["report_id"] is None
        assert doc["sha256"] == hashlib.sha256(data).hexdigest()
        assert doc["findings"] == [{
            "rule": "input.resources", "severity": "error", "path": "",
            "message": "le contrôle demande plus de 1 Mo de mémoire"}]
        assert (spool / "rejected" / "flood.json").read_bytes() == data
        page = (spool / "rejected" / "flood.json.result.html").read_text()
        assert "le contrôle demande plus de 1 Mo de mémoire" in page
        drop(spool, "next.json", SEED)
        doc = wait_for(lambda: result(spool, "next.json"), 10,
                       what="next.json archived")
        assert doc["verdict"] == "accepted"
        assert doc["archived_as"] == "accepted/next.json"
        assert d.proc.poll() is None
        assert list((spool / "work").iterdir()) == []
    finally:
        d.cleanup()


def test_daemon_default_budget(expensed_bin, tmp_path):
    """Out of the box: 4 MiB of empty objects (some 300 MB parsed, more
    than the unit's MemoryMax allows with the rest) is stopped at 256 MB."""
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    cfg = tmp_path / "d.conf"
    write_memory_config(cfg, spool)
    d = Daemon(expensed_bin, cfg, tmp_path / "d.log").start()
    try:
        data = flood(4 * 1024 * 1024 // 3)
        drop(spool, "flood.json", data)
        doc = wait_for(lambda: result(spool, "flood.json"), 120,
                       what="flood.json archived")
        assert doc["verdict"] == "invalid"
        assert doc["findings"] == [{
            "rule": "input.resources", "severity": "error", "path": "",
            "message": "judging needs more than 256 MB of memory"}]
        assert d.proc.poll() is None
    finally:
        d.cleanup()


def check_config(exe, cfg):
    return subprocess.run([exe, "check-config", "-c", str(cfg)],
                          capture_output=True, timeout=10)


def test_config_max_judge_memory(expensed_bin, tmp_path):
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    cfg = tmp_path / "c.conf"
    write_memory_config(cfg, spool)
    p = check_config(expensed_bin, cfg)
    assert p.returncode == 0, p.stderr
    assert ("\nmax_judge_memory: 268435456 bytes (256M)\n"
            in p.stdout.decode())
    write_memory_config(cfg, spool, "1G")
    p = check_config(expensed_bin, cfg)
    assert p.returncode == 0, p.stderr
    assert ("\nmax_judge_memory: 1073741824 bytes (1G)\n"
            in p.stdout.decode())


@pytest.mark.parametrize("value,message", [
    ("512K", "max_judge_memory must be at least 1M"),
    ("0", "max_judge_memory must be at least 1M"),
    ("lots", "bad size 'lots' for max_judge_memory (e.g. 256M, 1G)"),
    ("1T", "bad size '1T' for max_judge_memory (e.g. 256M, 1G)"),
])
def test_config_bad_max_judge_memory(expensed_bin, tmp_path, value,
                                     message):
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    cfg = tmp_path / "c.conf"
    write_memory_config(cfg, spool, value)
    p = check_config(expensed_bin, cfg)
    assert p.returncode != 0
    assert ("%s:2: %s" % (cfg, message)) in p.stderr.decode(), p.stderr


@contextlib.contextmanager
def memory_cgroup(tmp_path, limit):
    """A memory cgroup of limit bytes (what the unit's MemoryMax makes):
    yields a script that runs the program it is given inside it, or None
    where this machine does not let the tests make one (not root, no
    memory controller)."""
    v1 = Path("/sys/fs/cgroup/memory")
    v2 = Path("/sys/fs/cgroup")
    name = "expensed-test-%d" % os.getpid()
    v2_controllers = v2 / "cgroup.subtree_control"
    if (v1 / "memory.limit_in_bytes").exists():
        cg, knob = v1 / name, "memory.limit_in_bytes"
    elif (v2_controllers.exists() and
          "memory" in v2_controllers.read_text().split()):
        cg, knob = v2 / name, "memory.max"
    else:
        yield None
        return
    try:
        cg.mkdir()
    except OSError:
        yield None
        return
    try:
        (cg / knob).write_text(str(limit))
    except OSError:
        cg.rmdir()
        yield None
        return
    # no swap to fall back on: over the limit, the kernel kills
    for knob in ("memory.swappiness", "memory.swap.max"):
        with contextlib.suppress(OSError):
            (cg / knob).write_text("0")
    wrapper = tmp_path / "in-cgroup"
    wrapper.write_text('#!/bin/sh\necho $$ > %s\nexec "$@"\n'
                       % (cg / "cgroup.procs"))
    wrapper.chmod(0o755)
    try:
        yield wrapper
    finally:
        # the processes put there are ended by then (Daemon.cleanup)
        deadline = time.monotonic() + 10
        while True:
            try:
                cg.rmdir()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def sanitized(binary):
    ldd = subprocess.run(["ldd", binary], capture_output=True,
                         text=True).stdout
    return "libasan" in ldd or "libtsan" in ldd


def test_daemon_in_its_memory_limit(expensed_bin, tmp_path):
    """The real thing: the daemon in a memory cgroup of 512M, as the
    unit's MemoryMax puts it, and a 16 MiB file (the default
    max_file_size) of empty objects, some 1.3 GB once parsed: the file is
    archived input.resources and the daemon lives on (before the budget,
    the kernel killed it, three times)."""
    if sanitized(expensed_bin):
        pytest.skip("a sanitizer's shadow memory does not fit the unit's "
                    "limit")
    with memory_cgroup(tmp_path, 512 * 1024 * 1024) as wrapper:
        if wrapper is None:
            pytest.skip("no memory cgroup can be made here")
        launcher = tmp_path / "expensed"
        launcher.write_text('#!/bin/sh\nexec %s %s "$@"\n'
                            % (wrapper, expensed_bin))
        launcher.chmod(0o755)
        spool = tmp_path / "spool"
        (spool / "inbox").mkdir(parents=True)
        cfg = tmp_path / "d.conf"
        write_memory_config(cfg, spool)
        d = Daemon(str(launcher), cfg, tmp_path / "d.log").start()
        try:
            data = flood(16 * 1024 * 1024 // 3 - 20)
            assert len(data) <= 16 * 1024 * 1024
            drop(spool, "flood.json", data)
            doc = wait_for(lambda: result(spool, "flood.json") or
                           d.proc.poll() is not None, 120,
                           what="flood.json archived")
            assert d.proc.poll() is None, "the daemon died: %s" % (
                d.proc.returncode,)
            assert doc["verdict"] == "invalid"
            assert doc["findings"] == [{
                "rule": "input.resources", "severity": "error",
                "path": "", "message":
                "judging needs more than 256 MB of memory"}]
            assert (spool / "rejected" / "flood.json").read_bytes() == data
            drop(spool, "next.json", SEED)
            doc = wait_for(lambda: result(spool, "next.json"), 10,
                           what="next.json archived")
            assert doc["verdict"] == "accepted"
        finally:
            d.cleanup()

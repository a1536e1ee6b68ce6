"""Judging costs what the report's size says, whatever its content
(docs/costs.md): the hash key does not show in any output, and a file that
takes too long to judge is invalid, input.resources, within its budget
(check --max-time, [spool] max_judge_time)."""
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon_util import (Daemon, drop, hooks_binary, result, seed_path,
                         wait_for, write_config)

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "cases"))
import regen  # noqa: E402  (tests/cases/regen.py: how the cases are run)

SEED = seed_path().read_bytes()
KEYS = ("0,0", "0123456789abcdef,fedcba9876543210")


def slow_report(n=200000):
    """Many missions, each with only an id: every rule of the default set
    has work to do on each (about 2 s of judging with no budget)."""
    return json.dumps({"id": "slow", "missions": [
        {"id": "m-%d" % i} for i in range(n)]}).encode()


def write_budget_config(path, spool, budget=None, **kw):
    """write_config with max_judge_time in [spool] (None: not set)."""
    write_config(path, spool, spool_keys=() if budget is None else
                 ["max_judge_time = %s" % budget], **kw)


def run_hooks_check(exe, folder, as_json, key):
    argv = [exe, "check"]
    if as_json:
        argv += ["--format", "json"]
    if (folder / "rules.rules").is_file():
        argv += ["-r", "rules.rules"]
    argv.append("input.json")
    env = regen.clean_env()
    env["EXPENSED_HASH_KEY"] = key
    p = subprocess.run(argv, cwd=folder, env=env, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=30)
    assert p.returncode in (0, 1), (folder.name, p.stderr)
    out = p.stdout
    if as_json:  # the second of checked_at may change between two runs
        out = re.sub(rb'"checked_at":"[^"]*"', b'"checked_at":""', out)
    return out


def test_output_does_not_depend_on_the_hash_key(expensed_bin):
    """Every golden case, text and JSON, gives the same bytes under two
    hash keys (EXPENSED_HASH_KEY, a hook of expensed-hooks only)."""
    exe = hooks_binary(expensed_bin)
    folders = regen.case_folders()
    assert len(folders) > 100
    for folder in folders:
        for as_json in (False, True):
            a = run_hooks_check(exe, folder, as_json, KEYS[0])
            b = run_hooks_check(exe, folder, as_json, KEYS[1])
            assert a == b, folder.name
            assert a, folder.name


def test_release_binary_ignores_the_key_hook(expensed_bin, tmp_path):
    """The release binary has no hook: the variable changes nothing (it
    still draws its key), and the output is the golden one."""
    folder = regen.case_folders()[0]
    out = run_hooks_check(expensed_bin, folder, False, KEYS[0])
    assert out == (folder / "expected.txt").read_bytes()


def test_check_max_time(expensed_bin, tmp_path):
    slow = tmp_path / "slow.json"
    slow.write_bytes(slow_report())
    start = time.monotonic()
    p = subprocess.run([expensed_bin, "check", "--max-time", "50ms",
                        str(slow)], capture_output=True, timeout=60,
                       env=regen.clean_env())
    took = time.monotonic() - start
    assert p.returncode == 1
    assert p.stderr == b""
    assert p.stdout.decode() == (
        "%s: error: judging took longer than 50 ms [input.resources]\n"
        "%s: invalid: 1 error, 0 warnings\n" % (slow, slow))
    assert took < 0.05 + 1.5, took
    p = subprocess.run([expensed_bin, "check", "--format", "json",
                        "--max-time", "1ms", str(slow)],
                       capture_output=True, timeout=60,
                       env=regen.clean_env())
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["verdict"] == "invalid"
    assert doc["report_id"] is None
    assert doc["sha256"] is not None
    assert doc["findings"] == [{
        "rule": "input.resources", "severity": "error", "path": "",
        "message": "judging took longer than 1 ms"}]


def test_check_without_max_time_judges_to_the_end(expensed_bin, tmp_path):
    """No limit unless asked: the same file is judged (rejected)."""
    slow = tmp_path / "slow.json"
    slow.write_bytes(slow_report(20000))
    p = subprocess.run([expensed_bin, "check", "--format", "json",
                        str(slow)], capture_output=True, timeout=120,
                       env=regen.clean_env())
    doc = json.loads(p.stdout)
    assert p.returncode == 1
    assert doc["verdict"] == "rejected"
    assert "input.resources" not in {f["rule"] for f in doc["findings"]}
    # and a budget it does not reach changes nothing
    p2 = subprocess.run([expensed_bin, "check", "--format", "json",
                         "--max-time", "1m", str(slow)],
                        capture_output=True, timeout=120,
                        env=regen.clean_env())
    doc2 = json.loads(p2.stdout)
    doc.pop("checked_at")
    doc2.pop("checked_at")
    assert doc == doc2


@pytest.mark.parametrize("arg", ["0", "-1s", "10x", "", "1e3"])
def test_check_bad_max_time(expensed_bin, tmp_path, arg):
    p = subprocess.run([expensed_bin, "check", "--max-time", arg,
                        str(tmp_path / "x.json")], capture_output=True,
                       timeout=10, env=regen.clean_env())
    assert p.returncode == 2
    assert p.stdout == b""
    assert p.stderr.decode().startswith(
        "expensed: bad --max-time '%s' (a duration such as 500ms, 10s, "
        "2m)\n" % arg)


def test_check_max_time_at_most_3650_days(expensed_bin, tmp_path):
    """Durations stop at 3650d, as the configuration's do: past it, the
    message says the limit."""
    p = subprocess.run([expensed_bin, "check", "--max-time", "3651d",
                        str(tmp_path / "x.json")], capture_output=True,
                       timeout=10, env=regen.clean_env())
    assert (p.returncode, p.stdout, p.stderr) == (
        2, b"", b"expensed: bad --max-time '3651d' (at most 3650d)\n")


def test_daemon_max_judge_time(expensed_bin, tmp_path):
    """A file slower to judge than max_judge_time is archived invalid,
    input.resources, within the budget plus a second; the next file is
    judged as usual."""
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    cfg = tmp_path / "d.conf"
    write_budget_config(cfg, spool, "50ms", settle="100ms")
    d = Daemon(expensed_bin, cfg, tmp_path / "d.log").start()
    try:
        # small enough to parse fast (even under ASan), slow to judge
        data = slow_report(50000)
        start = time.monotonic()
        drop(spool, "slow.json", data)
        doc = wait_for(lambda: result(spool, "slow.json"), 20,
                       what="slow.json archived")
        took = time.monotonic() - start
        assert took < 0.1 + 0.05 + 1.0, took
        assert doc["verdict"] == "invalid"
        assert doc["archived_as"] == "rejected/slow.json"
        assert doc["findings"] == [{
            "rule": "input.resources", "severity": "error", "path": "",
            "message": "judging took longer than 50 ms"}]
        assert (spool / "rejected" / "slow.json").read_bytes() == data
        drop(spool, "next.json", SEED)
        doc = wait_for(lambda: result(spool, "next.json"), 10,
                       what="next.json archived")
        assert doc["verdict"] == "accepted"
        assert doc["archived_as"] == "accepted/next.json"
    finally:
        d.cleanup()


def test_config_max_judge_time(expensed_bin, tmp_path):
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    cfg = tmp_path / "c.conf"
    write_config(cfg, spool)
    p = subprocess.run([expensed_bin, "check-config", "-c", str(cfg)],
                       capture_output=True, timeout=10)
    assert p.returncode == 0, p.stderr
    assert "\nmax_judge_time: 10s\n" in p.stdout.decode()
    write_budget_config(cfg, spool, "250ms")
    p = subprocess.run([expensed_bin, "check-config", "-c", str(cfg)],
                       capture_output=True, timeout=10)
    assert "\nmax_judge_time: 250ms\n" in p.stdout.decode()
    for bad, why in (("0", "max_judge_time must be from 1ms to 20s"),
                     ("21s", "max_judge_time must be from 1ms to 20s"),
                     ("soon", "bad duration 'soon' for max_judge_time")):
        write_budget_config(cfg, spool, bad)
        p = subprocess.run([expensed_bin, "check-config", "-c", str(cfg)],
                           capture_output=True, timeout=10)
        assert p.returncode != 0
        assert why in p.stderr.decode(), p.stderr


def test_slow_files_keep_the_watchdog_fed(expensed_bin, tmp_path):
    """A batch of files each slow up to max_judge_time pings the watchdog
    (WATCHDOG=1) as it goes, so that it never trips; but at most once a
    second (notify_alive()), not once a file, which in a burst would be
    thousands of datagrams a second for PID 1. With a watchdog period far
    too long for the timer to fire, six files judged 400 ms each (2.4 s)
    give a first ping and at least one more, not closer than a second (as
    sent; read here, 0.8 s)."""
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    cfg = tmp_path / "w.conf"
    write_budget_config(cfg, spool, "400ms", settle="100ms")
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(10)
    env = dict(os.environ)
    env.update({"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "3600000000"})
    d = Daemon(expensed_bin, cfg, tmp_path / "w.log", env).start()
    names = ["s%d.json" % i for i in range(6)]
    try:
        while sock.recv(4096).decode() != "READY=1":
            pass
        stage = tmp_path / "stage"
        stage.mkdir()
        for name in names:
            (stage / name).write_bytes(slow_report())
        for name in names:
            (stage / name).rename(spool / "inbox" / name)
        sock.settimeout(0.1)
        pings = []
        deadline = time.monotonic() + 60
        while not all(result(spool, n) for n in names):
            assert time.monotonic() < deadline, "the six files archived"
            try:
                if sock.recv(4096).decode() == "WATCHDOG=1":
                    pings.append(time.monotonic())
            except socket.timeout:
                pass
        for name in names:
            assert [f["rule"] for f in result(spool, name)["findings"]] \
                == ["input.resources"]
        # at least one ping more after the first (the six take 2.4 s at
        # the least), a second apart at most as they were sent; read
        # here a little later or sooner each, so 0.8 s (one a file came
        # 0.48 s apart)
        assert len(pings) >= 2, pings
        assert all(b - a >= 0.8 for a, b in zip(pings, pings[1:])), pings
    finally:
        d.cleanup()
        sock.close()

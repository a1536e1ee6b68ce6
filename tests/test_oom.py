"""Out of memory is an error path, never a crash and never a verdict (issue 8).

tests/oom/failmalloc.c, preloaded, makes the k-th allocation of a run of
`expensed check --format json` fail. For every k from 1 to the number of
allocations of a normal run, the run must end either as the normal run
does, with byte-identical output (but checked_at), or with exit status 2,
nothing on stdout and `expensed: out of memory ...` on stderr: never a
signal, never a sanitizer report, never another verdict or a field less.
"""
import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SEED = "cd13-cp-2019-02-08-r36.json"
# A run of check allocates about 1,200 times (most in loading the built-in
# rule set); every k is tried. Should that grow past this, the sweep stops
# here (and says so in its assertion message) to stay within a minute.
MAX_K = 4000


def failmalloc(expensed_bin, tmp_path_factory):
    """The interposer built beside the binary (make all), else built now."""
    built = Path(expensed_bin).parent / "tests" / "failmalloc.so"
    if built.exists():
        return str(built)
    out = tmp_path_factory.mktemp("oom") / "failmalloc.so"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(out),
                    str(REPO / "tests" / "oom" / "failmalloc.c")],
                   check=True)
    return str(out)


@pytest.fixture(scope="module")
def preload(expensed_bin, tmp_path_factory):
    ldd = subprocess.run(["ldd", expensed_bin], capture_output=True,
                         text=True).stdout
    if "libasan" in ldd or "libubsan" in ldd:
        pytest.skip("a sanitized binary cannot run under a malloc "
                    "interposer (the sanitizer owns malloc)")
    return failmalloc(expensed_bin, tmp_path_factory)


def env_for(extra):
    env = dict(os.environ)
    env.pop("EXPENSED_CONFIG", None)
    env.pop("FAILMALLOC_AT", None)
    env.pop("FAILMALLOC_COUNT", None)
    env["LC_ALL"] = "C.UTF-8"
    env.update(extra)
    return env


def check(binary, path, cwd, extra, fmt="json"):
    return subprocess.run([binary, "check", "--format", fmt, path],
                          cwd=cwd, capture_output=True, timeout=60,
                          env=env_for(extra))


def without_time(out):
    """The output but the time it was checked at (in a result document,
    or on a page: "2026-11-26 14:39:34 UTC", in the local time zone)."""
    out = re.sub(rb"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} "
                 rb"[A-Za-z]+(?:[+-][0-9]{2}:[0-9]{2})?", b"", out)
    return re.sub(rb'"checked_at":"[^"]*"', b'"checked_at":""', out)


def judge_outcome(what, normal, rc, out, err):
    """Assert that a run whose allocation failed ended well; return which
    way: "same" (as the normal run) or "out of memory"."""
    assert rc >= 0, "%s: killed by signal %d: %r" % (what, -rc, err)
    assert b"Sanitizer" not in err and b"runtime error" not in err, (what,
                                                                     err)
    if rc == normal.returncode:
        assert err == b"", (what, err)
        assert without_time(out) == without_time(normal.stdout), (what, out)
        return "same"
    assert rc == 2, (what, rc, out, err)
    assert out == b"", (what, out)
    lines = err.decode().splitlines()
    assert lines and all(re.match(r"expensed: (.*: )?out of memory", line)
                         for line in lines), (what, err)
    return "out of memory"


def sweep(binary, so, path, tmp, fmt="json"):
    """Fail each allocation in turn (FAILMALLOC_SWEEP: one process forked
    per k, the libraries loaded once) of `check --format fmt`; return the
    outcomes counted and the number of allocations of a normal run."""
    normal = check(binary, path, tmp, {}, fmt)
    assert normal.returncode in (0, 1) and normal.stderr == b""
    d = tmp / "sweep"
    d.mkdir()
    r = subprocess.run([binary, "check", "--format", fmt, path],
                       cwd=tmp, capture_output=True, timeout=600,
                       env=env_for({"LD_PRELOAD": so,
                                    "FAILMALLOC_SWEEP": str(d),
                                    "FAILMALLOC_SWEEP_MAX": str(MAX_K)}))
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")
    n = int((d / "0.count").read_text())
    assert n > 100, "the interposer counted %d allocations" % n
    ended = {}
    for line in (d / "results").read_text().splitlines():
        k, how, v = line.split()
        ended[int(k)] = -int(v) if how == "signal" else int(v)
    assert sorted(ended) == list(range(min(n, MAX_K) + 1))

    outcomes = {"same": 0, "out of memory": 0}
    for k in sorted(ended):
        out = (d / ("%d.out" % k)).read_bytes()
        err = (d / ("%d.err" % k)).read_bytes()
        what = "allocation %d of %d" % (k, n)
        how = judge_outcome(what, normal, ended[k], out, err)
        if k == 0:
            assert how == "same", "the run that fails nothing differs"
        else:
            outcomes[how] += 1
    assert n <= MAX_K, "only the first %d of %d allocations tried" % (
        MAX_K, n)
    return outcomes, n


def rejected_report(examples_dir, tmp):
    """The seed with a finding of many rules: total, ids, currency, dates,
    a missing field, an ill-kinded node."""
    doc = json.loads((examples_dir / SEED).read_text())
    doc["total"] = "139208.94"
    doc["currency"] = "eur"
    doc["missions"][1]["id"] = doc["missions"][0]["id"]
    doc["missions"][2]["end"] = "2001-01-01"
    del doc["missions"][0]["destination"]
    doc["missions"][1]["delegation"]["size"] = "twenty"
    path = tmp / "rejected.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def test_oom_seed_report_every_allocation(expensed_bin, preload,
                                          examples_dir, tmp_path):
    seed = tmp_path / SEED
    shutil.copy(examples_dir / SEED, seed)
    outcomes, n = sweep(expensed_bin, preload, str(seed), tmp_path)
    # most allocations are needed: failing them must be said
    assert outcomes["out of memory"] > outcomes["same"], outcomes


def test_oom_rejected_report_every_allocation(expensed_bin, preload,
                                              examples_dir, tmp_path):
    path = rejected_report(examples_dir, tmp_path)
    normal = check(expensed_bin, str(path), tmp_path, {})
    assert normal.returncode == 1
    doc = json.loads(normal.stdout)
    assert doc["verdict"] == "rejected"
    assert len({f["rule"] for f in doc["findings"]}) >= 5, doc["findings"]
    outcomes, n = sweep(expensed_bin, preload, str(path), tmp_path)
    assert outcomes["out of memory"] > outcomes["same"], outcomes


def test_oom_html_page_every_allocation(expensed_bin, preload,
                                        examples_dir, tmp_path):
    """check --format html: the page too is all or nothing (issue 11)."""
    path = rejected_report(examples_dir, tmp_path)
    normal = check(expensed_bin, str(path), tmp_path, {}, "html")
    assert normal.returncode == 1
    assert normal.stdout.startswith(b"<!DOCTYPE html>")
    assert normal.stdout.endswith(b"</html>\n")
    outcomes, n = sweep(expensed_bin, preload, str(path), tmp_path, "html")
    assert outcomes["out of memory"] > outcomes["same"], outcomes


def test_oom_one_allocation_per_process(expensed_bin, preload, examples_dir,
                                        tmp_path):
    """FAILMALLOC_AT alone, in a process of its own (no fork), for a few k:
    the same rule, so the sweep's forked runs stand for real ones."""
    seed = tmp_path / SEED
    shutil.copy(examples_dir / SEED, seed)
    normal = check(expensed_bin, str(seed), tmp_path, {})
    count = tmp_path / "count"
    r = check(expensed_bin, str(seed), tmp_path,
              {"LD_PRELOAD": preload, "FAILMALLOC_COUNT": str(count)})
    assert without_time(r.stdout) == without_time(normal.stdout)
    n = int(count.read_text())
    seen = set()
    for k in (1, 2, n // 2, n - 1, n, n + 1):
        r = check(expensed_bin, str(seed), tmp_path,
                  {"LD_PRELOAD": preload, "FAILMALLOC_AT": str(k)})
        seen.add(judge_outcome("allocation %d of %d" % (k, n), normal,
                               r.returncode, r.stdout, r.stderr))
    assert seen == {"same", "out of memory"}

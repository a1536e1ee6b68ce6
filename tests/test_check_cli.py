"""Command-line tests of `expensed check` (docs/result.md), on the real binary.

Text and JSON output, exit statuses, standard input, symbolic links,
directories, the size limit from a configuration file, and the "FILE:LINE:"
diagnostics of rule sets that do not parse.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest

SEED = "cd13-cp-2019-02-08-r36.json"
GENES = "genes-2017-detail.json"

SEED_FINDINGS = [
    ("/missions/0/start", "warning", "ratification.retroactive"),
    ("/missions/1/start", "warning", "ratification.retroactive"),
    ("/missions/2/start", "warning", "ratification.retroactive"),
    ("/missions/1/cost", "warning", "cost.per_participant"),
    ("/missions/1/cost", "warning", "cost.per_participant_day"),
]


def env_without_config(extra=None):
    env = dict(os.environ)
    env.pop("EXPENSED_CONFIG", None)
    env["LC_ALL"] = "C.UTF-8"
    env["TERM"] = "xterm-256color"  # colour must still be off: not a tty
    if extra:
        env.update(extra)
    return env


def run(binary, args, cwd, stdin=b"", env=None):
    return subprocess.run([binary] + list(args), cwd=cwd,
                          input=stdin, capture_output=True, timeout=30,
                          env=env if env is not None else env_without_config())


def out_lines(proc):
    return proc.stdout.decode("utf-8").splitlines()


def json_docs(proc):
    return [json.loads(line) for line in out_lines(proc)]


@pytest.fixture
def work(tmp_path, examples_dir):
    """A folder holding seed.json (accepted, 5 warnings), genes.json
    (accepted, clean), rejected.json (1 error, 1 warning), broken.json."""
    shutil.copyfile(examples_dir / SEED, tmp_path / "seed.json")
    shutil.copyfile(examples_dir / GENES, tmp_path / "genes.json")
    doc = json.loads((examples_dir / GENES).read_text("utf-8"))
    doc["currency"] = "USD"
    doc["meeting"]["date"] = "2017-10-20"
    (tmp_path / "rejected.json").write_text(json.dumps(doc, indent=2))
    (tmp_path / "broken.json").write_bytes(b'{\n  "format": \n')
    return tmp_path


# ------------------------------------------------------------- text format

FINDING_RE = re.compile(r"^(?P<file>[^:]+): (?P<path>/[^:]*): "
                        r"(?P<sev>error|warning|info): (?P<msg>.+) "
                        r"\[(?P<rule>[^\]]+)\]$")


def test_text_format_seed(expensed_bin, work):
    proc = run(expensed_bin, ["check", "seed.json"], work)
    assert proc.returncode == 0, proc.stderr
    assert b"\x1b" not in proc.stdout, "colour on a pipe"
    lines = out_lines(proc)
    assert len(lines) == 6, lines
    got = []
    for line in lines[:5]:
        m = FINDING_RE.match(line)
        assert m, "bad finding line %r" % line
        assert m.group("file") == "seed.json"
        got.append((m.group("path"), m.group("sev"), m.group("rule")))
    assert got == SEED_FINDINGS
    assert lines[5] == "seed.json: accepted: 0 errors, 5 warnings"


def test_text_format_singular_counts(expensed_bin, work):
    proc = run(expensed_bin, ["check", "rejected.json"], work)
    assert proc.returncode == 1
    lines = out_lines(proc)
    assert len(lines) == 3, lines
    m0, m1 = FINDING_RE.match(lines[0]), FINDING_RE.match(lines[1])
    assert m0 and m1, lines
    assert (m0.group("path"), m0.group("sev"), m0.group("rule")) == (
        "/currency", "error", "currency.allowed")
    assert (m1.group("path"), m1.group("sev"), m1.group("rule")) == (
        "/missions/0/start", "warning", "ratification.retroactive")
    assert lines[2] == "rejected.json: rejected: 1 error, 1 warning"


def test_text_format_clean_file(expensed_bin, work):
    proc = run(expensed_bin, ["check", "genes.json"], work)
    assert proc.returncode == 0
    assert out_lines(proc) == ["genes.json: accepted: 0 errors, 0 warnings"]


def test_text_format_invalid_has_no_path(expensed_bin, work):
    proc = run(expensed_bin, ["check", "broken.json"], work)
    assert proc.returncode == 1
    lines = out_lines(proc)
    assert len(lines) == 2, lines
    assert re.fullmatch(r"broken\.json: error: .+ \[input\.json\]",
                        lines[0]), lines[0]
    assert lines[1] == "broken.json: invalid: 1 error, 0 warnings"


def test_text_format_several_files(expensed_bin, work):
    proc = run(expensed_bin, ["check", "genes.json", "rejected.json",
                              "seed.json"], work)
    assert proc.returncode == 1
    summaries = [ln for ln in out_lines(proc) if not FINDING_RE.match(ln)]
    assert summaries == ["genes.json: accepted: 0 errors, 0 warnings",
                         "rejected.json: rejected: 1 error, 1 warning",
                         "seed.json: accepted: 0 errors, 5 warnings"]


# ------------------------------------------------------------- json format

def test_json_lines_several_files(expensed_bin, work):
    proc = run(expensed_bin, ["check", "--format", "json", "seed.json",
                              "genes.json", "broken.json", "rejected.json"],
               work)
    assert proc.returncode == 1
    docs = json_docs(proc)
    assert [d["file"] for d in docs] == ["seed.json", "genes.json",
                                         "broken.json", "rejected.json"]
    assert [d["verdict"] for d in docs] == ["accepted", "accepted",
                                            "invalid", "rejected"]
    seed = docs[0]
    assert seed["report_id"] == "CD13-CP-2019-02-08-R36"
    assert seed["sha256"] == hashlib.sha256(
        (work / "seed.json").read_bytes()).hexdigest()
    assert [(f["path"], f["severity"], f["rule"])
            for f in seed["findings"]] == SEED_FINDINGS
    assert docs[2]["findings"][0]["rule"] == "input.json"
    assert docs[2]["findings"][0]["path"] == ""
    # the same built-in set for every file
    assert len({d["rules"] for d in docs}) == 1


def test_json_format_option_after_file(expensed_bin, work):
    proc = run(expensed_bin, ["check", "genes.json", "--format", "json"],
               work)
    assert proc.returncode == 0
    assert [d["verdict"] for d in json_docs(proc)] == ["accepted"]


# ------------------------------------------------------------- exit status

def test_exit_zero_when_all_accepted(expensed_bin, work):
    proc = run(expensed_bin, ["check", "seed.json", "genes.json"], work)
    assert proc.returncode == 0


def test_exit_one_when_invalid(expensed_bin, work):
    proc = run(expensed_bin, ["check", "genes.json", "broken.json"], work)
    assert proc.returncode == 1


def test_fail_on_warning(expensed_bin, work):
    proc = run(expensed_bin, ["check", "--fail-on", "warning", "seed.json"],
               work)
    assert proc.returncode == 1
    proc = run(expensed_bin, ["check", "--fail-on", "warning", "genes.json"],
               work)
    assert proc.returncode == 0
    proc = run(expensed_bin, ["check", "--fail-on", "error", "seed.json"],
               work)
    assert proc.returncode == 0


@pytest.mark.parametrize("args", [
    ["check"],
    ["check", "--format", "xml", "genes.json"],
    ["check", "--fail-on", "info", "genes.json"],
    ["check", "--no-such-option", "genes.json"],
    ["check", "-r"],
    ["no-such-command"],
    [],
])
def test_usage_errors_exit_two(expensed_bin, work, args):
    proc = run(expensed_bin, args, work)
    assert proc.returncode == 2, (args, proc.returncode, proc.stdout)
    assert proc.stderr.strip(), "usage error without a message"
    assert not re.search(rb"(accepted|rejected|invalid):", proc.stdout)


def test_nonexistent_file_is_an_error_not_a_verdict(expensed_bin, work):
    proc = run(expensed_bin, ["check", "--format", "json", "genes.json",
                              "missing.json"], work)
    assert proc.returncode == 2
    assert b"missing.json" in proc.stderr
    docs = json_docs(proc)
    assert [d["file"] for d in docs] == ["genes.json"]


def test_nonexistent_file_text(expensed_bin, work):
    proc = run(expensed_bin, ["check", "missing.json"], work)
    assert proc.returncode == 2
    assert b"missing.json" in proc.stderr
    assert proc.stdout == b""


def test_version_and_help(expensed_bin, work):
    proc = run(expensed_bin, ["--version"], work)
    assert proc.returncode == 0
    assert b"expensed" in proc.stdout.splitlines()[0]
    proc = run(expensed_bin, ["--help"], work)
    assert proc.returncode == 0
    assert b"check" in proc.stdout


# ------------------------------------------------------ what check reads

def test_stdin_dash(expensed_bin, work):
    data = (work / "seed.json").read_bytes()
    proc = run(expensed_bin, ["check", "--format", "json", "-"], work,
               stdin=data)
    assert proc.returncode == 0, proc.stderr
    (doc,) = json_docs(proc)
    assert doc["file"] == "-"
    assert doc["verdict"] == "accepted"
    assert doc["size"] == len(data)
    assert doc["sha256"] == hashlib.sha256(data).hexdigest()
    assert doc["warnings"] == 5


def test_stdin_dash_text(expensed_bin, work):
    data = (work / "rejected.json").read_bytes()
    proc = run(expensed_bin, ["check", "-"], work, stdin=data)
    assert proc.returncode == 1
    assert out_lines(proc)[-1] == "-: rejected: 1 error, 1 warning"


def test_symlink_is_followed(expensed_bin, work):
    os.symlink("seed.json", work / "link.json")
    proc = run(expensed_bin, ["check", "--format", "json", "link.json"], work)
    assert proc.returncode == 0, proc.stderr
    (doc,) = json_docs(proc)
    data = (work / "seed.json").read_bytes()
    assert doc["file"] == "link.json"
    assert doc["verdict"] == "accepted"
    assert doc["sha256"] == hashlib.sha256(data).hexdigest()
    assert doc["size"] == len(data)


def test_pipe_is_read(expensed_bin, work):
    data = (work / "genes.json").read_bytes()
    fifo = work / "fifo.json"
    os.mkfifo(fifo)
    proc = subprocess.Popen([expensed_bin, "check", "--format", "json",
                             "fifo.json"], cwd=work, env=env_without_config(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with open(fifo, "wb") as f:  # blocks until check opens the FIFO
            f.write(data)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    (doc,) = [json.loads(x) for x in out.decode().splitlines()]
    assert doc["verdict"] == "accepted"
    assert doc["sha256"] == hashlib.sha256(data).hexdigest()


def test_directory_is_invalid_input_file(expensed_bin, work):
    (work / "adir.json").mkdir()
    proc = run(expensed_bin, ["check", "--format", "json", "adir.json"], work)
    assert proc.returncode == 1
    (doc,) = json_docs(proc)
    assert doc["verdict"] == "invalid"
    assert doc["errors"] == 1 and doc["warnings"] == 0
    assert [(f["rule"], f["severity"], f["path"])
            for f in doc["findings"]] == [("input.file", "error", "")]


def test_size_limit_from_config(expensed_bin, work):
    conf = work / "expensed.conf"
    conf.write_text("[spool]\nmax_file_size = 1K\n")
    env = env_without_config({"EXPENSED_CONFIG": str(conf)})
    # 2 KiB: a valid report padded with spaces, and 2 KiB of garbage
    # (input.size comes before input.json)
    genes = (work / "genes.json").read_bytes()
    (work / "big.json").write_bytes(genes + b" " * (2048 - len(genes)))
    (work / "garbage.json").write_bytes(b"x" * 2048)
    # exactly 1024 bytes is not larger than the limit
    small = b'{"format": "mission-report/1"}'
    (work / "edge.json").write_bytes(small + b" " * (1024 - len(small)))
    proc = run(expensed_bin, ["check", "--format", "json", "big.json",
                              "garbage.json", "edge.json"], work, env=env)
    assert proc.returncode == 1, proc.stderr
    docs = json_docs(proc)
    assert len(docs) == 3
    for doc in docs[:2]:
        assert doc["verdict"] == "invalid"
        assert [(f["rule"], f["path"]) for f in doc["findings"]] == [
            ("input.size", "")]
        assert doc["size"] == 2048
    assert docs[2]["verdict"] == "rejected"
    assert "input.size" not in {f["rule"] for f in docs[2]["findings"]}
    # without the configuration file the default limit (16M) applies
    proc = run(expensed_bin, ["check", "--format", "json", "big.json"], work)
    assert proc.returncode == 0
    assert json_docs(proc)[0]["verdict"] == "accepted"


# ------------------------------------------------------------- rule sets

CUSTOM = """# a custom set replaces the default one
[expense.cap]
type = limit
value = /missions/*/expenses/*/amount
max = 400.00
severity = warning
"""


def test_custom_rules_file(expensed_bin, work):
    (work / "cap.rules").write_text(CUSTOM)
    proc = run(expensed_bin, ["check", "--format", "json", "-r", "cap.rules",
                              "genes.json", "seed.json"], work)
    assert proc.returncode == 0, proc.stderr
    docs = json_docs(proc)
    assert [(f["rule"], f["path"]) for f in docs[0]["findings"]] == [
        ("expense.cap", "/missions/0/expenses/1/amount")]
    assert docs[1]["findings"] == []
    builtin = json_docs(run(expensed_bin, ["check", "--format", "json",
                                           "genes.json"], work))[0]
    assert docs[0]["rules"] != builtin["rules"]
    proc = run(expensed_bin, ["check", "--fail-on", "warning", "-r",
                              "cap.rules", "genes.json"], work)
    assert proc.returncode == 1


SUM_RULES = """[total.missions]
type   = sum
items  = /missions/*/cost
equals = /total
"""


def test_sum_past_int64_is_shown_whole(expensed_bin, work):
    """100,000 costs of the largest amount a report may hold add up to
    10^17 euros, past int64 in cents: the finding says the sum as it is
    (it once stopped at 92233720368547758.07)."""
    (work / "sum.rules").write_text(SUM_RULES)
    (work / "big.json").write_text(json.dumps(
        {"total": "1", "missions": [{"cost": 1000000000000}] * 100000}))
    proc = run(expensed_bin, ["check", "--format", "json", "-r", "sum.rules",
                              "big.json"], work)
    assert proc.returncode == 1, proc.stderr
    assert json_docs(proc)[0]["findings"] == [{
        "rule": "total.missions", "severity": "error", "path": "/total",
        "message": "/total is 1.00 but the 100000 values of /missions/*/cost"
                   " add up to 100000000000000000.00 (difference"
                   " -99999999999999999.00)",
        "expected": "100000000000000000.00", "actual": "1.00"}]


def test_rules_directory_in_name_order(expensed_bin, work):
    rd = work / "rules.d"
    rd.mkdir()
    (rd / "20-a.rules").write_text(
        "[aa.second]\ntype = enum\nitems = /currency\nvalues = USD\n")
    (rd / "10-b.rules").write_text(
        "[zz.first]\ntype = enum\nitems = /format\nvalues = other\n")
    (rd / "README").write_text("not a rules file [\n")
    proc = run(expensed_bin, ["check", "--format", "json", "-r", "rules.d",
                              "genes.json"], work)
    assert proc.returncode == 1, proc.stderr
    (doc,) = json_docs(proc)
    assert [(f["rule"], f["path"]) for f in doc["findings"]] == [
        ("zz.first", "/format"), ("aa.second", "/currency")]


def test_rules_directory_duplicate_id_across_files(expensed_bin, work):
    rd = work / "rules.d"
    rd.mkdir()
    (rd / "a.rules").write_text("[same]\ntype = enum\nitems = /x\n"
                                "values = a\n")
    (rd / "b.rules").write_text("# b\n\n[same]\ntype = enum\nitems = /y\n"
                                "values = a\n")
    proc = run(expensed_bin, ["check", "-r", "rules.d", "genes.json"], work)
    assert proc.returncode == 2
    assert re.search(r"b\.rules:3:", proc.stderr.decode()), proc.stderr
    assert proc.stdout == b""


def test_rules_file_missing(expensed_bin, work):
    proc = run(expensed_bin, ["check", "-r", "nope.rules", "genes.json"],
               work)
    assert proc.returncode == 2
    assert b"nope.rules" in proc.stderr
    assert proc.stdout == b""


# Each: (name, text, line of the problem). Missing keys are reported at the
# rule's section line.
BAD_RULES = [
    ("unknown_type",
     "# bad\n[r1]\ntype = average\nitems = /x\nequals = /y\n", 3),
    ("unknown_key",
     "[r1]\ntype = sum\nitems = /x\nequals = /y\ncolour = red\n", 5),
    ("missing_operand",
     "# sum without equals\n\n[r1]\ntype = sum\nitems = /x\n", 3),
    ("missing_type",
     "[ok]\ntype = enum\nitems = /x\nvalues = a\n[r2]\nitems = /x\n", 5),
    ("limit_without_bounds",
     "[r1]\ntype = limit\nvalue = /x\n", 1),
    ("bad_path_escape",
     "[r1]\ntype = sum\nitems = /missions/~2/cost\nequals = /total\n", 3),
    ("bad_literal_tolerance",
     "[r1]\ntype = sum\nitems = /x\nequals = /y\ntolerance = abc\n", 5),
    ("bad_literal_max",
     "[r1]\ntype = limit\nvalue = /x\n\nmax = 12.345\n", 5),
    ("bad_literal_slack",
     "[r1]\ntype = within\nitems = /d\nfrom = 2020-01-01\n"
     "to = 2020-12-31\nslack = soon\n", 6),
    ("duplicate_id",
     "[r1]\ntype = enum\nitems = /x\nvalues = a\n\n[r1]\ntype = enum\n"
     "items = /y\nvalues = b\n", 6),
    ("bad_where",
     "[r1]\ntype = count\nitems = /m/*\nequals = 1\n\nwhere = role\n", 6),
    ("bad_severity",
     "[r1]\ntype = enum\nitems = /x\nvalues = a\nseverity = fatal\n", 5),
    ("bad_enabled",
     "[r1]\ntype = enum\nitems = /x\nvalues = a\nenabled = maybe\n", 5),
    ("bad_required_kind",
     "[r1]\ntype = required\nfields = name:string, age:number\n", 3),
    ("key_outside_section",
     "# leading\ntype = sum\n[r1]\ntype = enum\nitems = /x\nvalues = a\n", 2),
    ("not_key_value",
     "[r1]\ntype = enum\nitems = /x\nvalues = a\nthis is not ini\n", 5),
]


@pytest.mark.parametrize("name,text,line", BAD_RULES,
                         ids=[b[0] for b in BAD_RULES])
def test_bad_rules_file(expensed_bin, work, name, text, line):
    (work / "bad.rules").write_text(text)
    proc = run(expensed_bin, ["check", "-r", "bad.rules", "genes.json"],
               work)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, (proc.returncode, err)
    assert re.search(r"(^|[\s/])bad\.rules:%d: \S" % line, err,
                     re.MULTILINE), err
    assert proc.stdout == b"", "no verdict on a bad rule set"


UNKNOWN_TYPE = ("unknown type 'average' (expected sum, count, within, "
                "order, limit, required, unique or enum)")
BAD_TILDE = "bad path '/x/~2' in 'items': '~' must be followed by 0 or 1"

# Each: (name, bytes of bad.rules, every line of stderr after "expensed: ").
ALL_ERRORS = [
    ("unknown_type_checks_the_rest",
     b"[r1]\ntype = average\ncolour = red\nitems = /x/~2\n",
     ["bad.rules:2: " + UNKNOWN_TYPE,
      "bad.rules:3: unknown key 'colour' in rule 'r1'",
      "bad.rules:4: " + BAD_TILDE]),
    ("not_utf8_line_and_the_rest",
     b"[r1]\ntype = enum\nitems = /x/~2\nvalues = caf\xe9\ncolour = red\n",
     ["bad.rules:3: " + BAD_TILDE,
      "bad.rules:4: not valid UTF-8",
      "bad.rules:5: unknown key 'colour' in rule 'r1'"]),
    ("nul_byte_at_its_line",
     b"[r1]\ntype = enum\nitems = /x\nvalues = a\000b\n",
     ["bad.rules:4: NUL byte in line"]),
    ("nul_byte_and_the_rest",
     b"[r1]\ntype = enum\nitems = /x/~2\nvalues = a\000b\ncolour = red\n",
     ["bad.rules:3: " + BAD_TILDE,
      "bad.rules:4: NUL byte in line",
      "bad.rules:5: unknown key 'colour' in rule 'r1'"]),
    ("unknown_type_then_a_bad_rule",
     b"[r1]\ntype = average\ncolour = red\nitems = /x/~2\n\n"
     b"[r2]\ntype = sum\nitems = /y\nfoo = 1\n",
     ["bad.rules:2: " + UNKNOWN_TYPE,
      "bad.rules:3: unknown key 'colour' in rule 'r1'",
      "bad.rules:4: " + BAD_TILDE,
      "bad.rules:6: rule 'r2' (sum) is missing operand 'equals'",
      "bad.rules:9: unknown key 'foo' in rule 'r2'"]),
]


@pytest.mark.parametrize("name,text,lines", ALL_ERRORS,
                         ids=[a[0] for a in ALL_ERRORS])
def test_bad_rules_file_every_error(expensed_bin, work, name, text, lines):
    """Every problem of a rules file, not only the first, in line order
    and each once (docs/rules.md); the set is still refused."""
    (work / "bad.rules").write_bytes(text)
    proc = run(expensed_bin, ["check", "-r", "bad.rules", "seed.json"],
               work)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.decode("utf-8").splitlines() == [
        "expensed: " + line for line in lines]
    assert proc.stdout == b"", "no verdict on a bad rule set"


def test_info_findings_count_as_neither(expensed_bin, work):
    (work / "info.rules").write_text(
        "[note.currency]\ntype = enum\nitems = /currency\nvalues = USD\n"
        "severity = info\n")
    proc = run(expensed_bin, ["check", "--fail-on", "warning", "-r",
                              "info.rules", "genes.json"], work)
    assert proc.returncode == 0, proc.stderr
    lines = out_lines(proc)
    assert len(lines) == 2, lines
    m = FINDING_RE.match(lines[0])
    assert m and (m.group("path"), m.group("sev"), m.group("rule")) == (
        "/currency", "info", "note.currency"), lines[0]
    assert lines[1] == "genes.json: accepted: 0 errors, 0 warnings"


def test_empty_stdin_is_invalid_json(expensed_bin, work):
    proc = run(expensed_bin, ["check", "--format", "json", "-"], work,
               stdin=b"")
    assert proc.returncode == 1
    (doc,) = json_docs(proc)
    assert doc["file"] == "-"
    assert doc["verdict"] == "invalid"
    assert [(f["rule"], f["path"]) for f in doc["findings"]] == [
        ("input.json", "")]
    assert doc["sha256"] == hashlib.sha256(b"").hexdigest()
    assert doc["size"] == 0


def test_default_size_limit_is_16m(expensed_bin, work):
    limit = 16 * 1024 * 1024
    genes = (work / "genes.json").read_bytes()
    (work / "exact.json").write_bytes(genes + b" " * (limit - len(genes)))
    (work / "over.json").write_bytes(genes + b" " * (limit + 1 - len(genes)))
    proc = run(expensed_bin, ["check", "--format", "json", "exact.json",
                              "over.json"], work)
    assert proc.returncode == 1, proc.stderr
    docs = json_docs(proc)
    assert docs[0]["verdict"] == "accepted"
    assert docs[1]["verdict"] == "invalid"
    assert [(f["rule"], f["path"]) for f in docs[1]["findings"]] == [
        ("input.size", "")]
    assert docs[1]["size"] == limit + 1


def test_name_not_utf8_is_judged(expensed_bin, work):
    """A file name in Latin-1 (from a share) is judged; the "file" field
    and the text output show the bad byte as U+FFFD."""
    name = b"caf\xe9.json"
    shutil.copyfile(work / "genes.json", os.path.join(bytes(work), name))
    proc = run(expensed_bin, ["check", "--format", "json", name], work)
    assert proc.returncode == 0, proc.stderr
    (doc,) = json_docs(proc)
    assert doc["file"] == "caf\ufffd.json"
    assert doc["verdict"] == "accepted"
    proc = run(expensed_bin, ["check", name], work)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (b"caf\xef\xbf\xbd.json: accepted: 0 errors, "
                           b"0 warnings\n")


@pytest.mark.parametrize("name, said", [
    # a hyperlink (OSC 8) over a name that cannot be opened
    (b"x\x1b]8;;https://evil.example/\x07ok.json\x1b]8;;\x07",
     b"expensed: cannot open 'x\\x1b]8;;https://evil.example/\\x07ok.json"
     b"\\x1b]8;;\\x07': No such file or directory"),
    # a newline that would fake a verdict line, a bidi override
    (b"y.json\nseed.json: accepted: 0 errors, 0 warnings\xe2\x80\xae",
     b"expensed: cannot open 'y.json\\nseed.json: accepted: 0 errors, "
     b"0 warnings\\u202e': No such file or directory"),
    # a name that getopt takes for an option (expensed check *.json)
    (b"--\x1b[2K\rz.json",
     b"expensed: unknown option '--\\x1b[2K\\rz.json'"),
    (b"-\x1b[31mred.json", b"expensed: unknown option '-\\x1b'"),
    (b"--format=\x1b[31mred.json",
     b"expensed: unknown format '\\x1b[31mred.json' (text, json or html)"),
])
def test_names_in_diagnostics_are_escaped(expensed_bin, work, name, said):
    """A name from a directory listing reaches stderr escaped as on
    stdout: it can neither colour, link nor fake a line of the terminal."""
    proc = run(expensed_bin, ["check", name], work)
    assert proc.returncode == 2
    assert proc.stdout == b""
    first, _, rest = proc.stderr.partition(b"\n")
    assert first == said
    assert rest == b"" or rest.startswith(b"usage: expensed check ")


@pytest.mark.parametrize("fmt, files", [
    ("text", 1), ("json", 1), ("html", 1),
    ("text", 300), ("json", 300),  # past stdout's buffer: writes fail first
])
def test_output_that_cannot_be_written_is_an_error(expensed_bin, work, fmt,
                                                   files):
    """A full disk (here /dev/full) loses the verdicts: exit status 2 and
    a message, never 0 as if they had been written."""
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([expensed_bin, "check", "--format", fmt] +
                              ["seed.json"] * files, cwd=work, stdout=full,
                              stderr=subprocess.PIPE, timeout=30,
                              env=env_without_config())
    assert proc.returncode == 2
    assert proc.stderr == (b"expensed: cannot write the output: "
                           b"No space left on device\n")


def test_config_secret_not_needed(expensed_bin, work):
    """check reads the configuration for its rules and size limit only: a
    webhook secret file it cannot read (here: absent) is no error."""
    conf = work / "expensed.conf"
    conf.write_text("[spool]\nmax_file_size = 1K\n\n[webhook audit]\n"
                    "url = https://audit.example.org/hooks/expensed\n"
                    "secret_file = %s\n" % (work / "missing.secret"))
    env = env_without_config({"EXPENSED_CONFIG": str(conf)})
    proc = run(expensed_bin, ["check", "--format", "json", "genes.json"],
               work, env=env)
    assert proc.stderr == b""
    assert proc.returncode == 1  # 1K limit from the config: input.size
    (doc,) = json_docs(proc)
    assert [f["rule"] for f in doc["findings"]] == ["input.size"]
    # the daemon's own check of the configuration does read it
    proc = run(expensed_bin, ["check-config", "-c", str(conf)], work,
               env=env)
    assert proc.returncode == 2
    assert b"missing.secret" in proc.stderr


@pytest.mark.parametrize("args, first", [
    (["check", "-r", "EMPTY", "x.json"],
     "expensed: EMPTY: no .rules files in directory"),
    (["check", "--bogus", "x.json"], "expensed: unknown option '--bogus'"),
    (["check", "x.json", "-r"], "expensed: option '-r' needs a value"),
    (["check-config", "extra"],
     "expensed: check-config: unexpected argument 'extra'"),
    (["run", "-x"], "expensed: unknown option '-x'"),
    (["send-test", "--config"], "expensed: option '--config' needs a value"),
    (["frobnicate"], "expensed: unknown command 'frobnicate'"),
])
def test_diagnostics_name_the_program(expensed_bin, tmp_path, args, first):
    """Every command's diagnostics start with "expensed: " (one idiom)."""
    (tmp_path / "EMPTY").mkdir()
    proc = subprocess.run([expensed_bin] + args, cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(os.environ, EXPENSED_CONFIG="/dev/null"))
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines()[0] == first


# ------------------------------------------- bounded judging (issue 8)

MISSION_FIELDS = ["id", "destination", "start", "end", "delegation/size",
                  "delegation/councillors", "delegation/guests",
                  "delegation/staff", "cost"]
FIELD_KIND = {"id": "a non-empty string", "destination": "a non-empty string",
              "start": "a date", "end": "a date", "cost": "an amount"}


def empty_missions(examples_dir, path, n):
    """The seed report with n empty missions: each misses its 9 required
    fields (schema.mission), and nothing else is said."""
    doc = json.loads((examples_dir / SEED).read_text("utf-8"))
    doc["missions"] = [{} for _ in range(n)]
    path.write_text(json.dumps(doc))


def expected_finding(i):
    field = MISSION_FIELDS[i % 9]
    return {"rule": "schema.mission", "severity": "error",
            "path": "/missions/%d/%s" % (i // 9, field),
            "message": "missing required field %s (%s)" % (
                field, FIELD_KIND.get(field, "an integer")),
            "expected": "string" if field in ("id", "destination") else
            "date" if field in ("start", "end") else
            "amount" if field == "cost" else "integer",
            "actual": "missing"}


def test_empty_missions_small_case_counts(expensed_bin, work, examples_dir):
    """The base of the big case: 10 empty missions, 90 findings, all
    listed, no findings_left_out member."""
    empty_missions(examples_dir, work / "ten.json", 10)
    proc = run(expensed_bin, ["check", "--format", "json", "ten.json"], work)
    assert proc.returncode == 1, proc.stderr
    doc = json_docs(proc)[0]
    assert (doc["verdict"], doc["errors"], doc["warnings"]) == (
        "rejected", 90, 0)
    assert doc["findings"] == [expected_finding(i) for i in range(90)]
    assert "findings_left_out" not in doc


def test_poison_pill_judged_within_256mb(expensed_bin, work, examples_dir):
    """100,000 empty missions (issue 8): 900,000 findings made, the first
    1000 listed, judged under a 256 MB address space, not a crash."""
    empty_missions(examples_dir, work / "big.json", 100000)
    ldd = subprocess.run(["ldd", expensed_bin], capture_output=True,
                         text=True).stdout
    # AddressSanitizer reserves terabytes of address space for its shadow:
    # a sanitized binary is judged without the limit
    limit = ([] if "libasan" in ldd else
             ["prlimit", "--as=268435456"]) + [expensed_bin]
    proc = subprocess.run(limit + ["check", "--format", "json", "big.json"],
                          cwd=work, capture_output=True, timeout=120,
                          env=env_without_config())
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == b""
    doc = json_docs(proc)[0]
    assert (doc["verdict"], doc["errors"], doc["warnings"]) == (
        "rejected", 900000, 0)
    assert doc["findings"] == [expected_finding(i) for i in range(1000)]
    assert doc["findings_left_out"] == 899000
    assert list(doc)[list(doc).index("findings") + 1] == "findings_left_out"
    proc = subprocess.run(limit + ["check", "big.json"], cwd=work,
                          capture_output=True, timeout=120,
                          env=env_without_config())
    assert proc.returncode == 1, proc.stderr
    lines = out_lines(proc)
    assert len(lines) == 1002
    assert lines[999] == ("big.json: /missions/111/id: error: missing "
                          "required field id (a non-empty string) "
                          "[schema.mission]")
    assert lines[-2:] == [
        "big.json: 899000 more findings not listed (max_findings 1000)",
        "big.json: rejected: 900000 errors, 0 warnings"]


@pytest.mark.parametrize("n", [1, 2, 89, 90, 91])
def test_max_findings_option(expensed_bin, work, examples_dir, n):
    empty_missions(examples_dir, work / "ten.json", 10)
    proc = run(expensed_bin, ["check", "--format", "json", "--max-findings",
                              str(n), "ten.json"], work)
    assert proc.returncode == 1, proc.stderr
    doc = json_docs(proc)[0]
    assert doc["errors"] == 90
    assert doc["findings"] == [expected_finding(i)
                               for i in range(min(n, 90))]
    assert doc.get("findings_left_out", 0) == max(90 - n, 0)
    assert ("findings_left_out" in doc) == (n < 90)
    proc = run(expensed_bin, ["check", "--max-findings=%d" % n, "ten.json"],
               work)
    lines = out_lines(proc)
    assert len(lines) == min(n, 90) + 1 + (n < 90)
    if n < 90:
        assert lines[-2] == "ten.json: %d more finding%s not listed " \
            "(max_findings %d)" % (90 - n, "" if 90 - n == 1 else "s", n)
    assert lines[-1] == "ten.json: rejected: 90 errors, 0 warnings"


@pytest.mark.parametrize("value", ["0", "-1", "1000001", "ten", "", "5x",
                                   "99999999999999999999999"])
def test_max_findings_option_bad(expensed_bin, work, value):
    proc = run(expensed_bin, ["check", "--max-findings", value, "seed.json"],
               work)
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert proc.stderr.decode() == (
        "expensed: bad --max-findings '%s' (a whole number from 1 to "
        "1000000)\n" % value)


def test_max_findings_from_config(expensed_bin, work, examples_dir):
    empty_missions(examples_dir, work / "ten.json", 10)
    conf = work / "expensed.conf"
    conf.write_text("[spool]\nmax_findings = 4\n")
    env = env_without_config({"EXPENSED_CONFIG": str(conf)})
    proc = run(expensed_bin, ["check", "--format", "json", "ten.json"], work,
               env=env)
    doc = json_docs(proc)[0]
    assert doc["findings"] == [expected_finding(i) for i in range(4)]
    assert doc["findings_left_out"] == 86
    # the option wins over the configuration
    proc = run(expensed_bin, ["check", "--format", "json",
                              "--max-findings", "6", "ten.json"], work,
               env=env)
    assert len(json_docs(proc)[0]["findings"]) == 6
    # check-config shows it
    proc = run(expensed_bin, ["check-config", "-c", str(conf)], work,
               env=env)
    assert "max_findings: 4" in out_lines(proc), proc.stderr


@pytest.mark.parametrize("value", ["0", "1000001", "many", "1.5", "-3"])
def test_max_findings_config_bad(expensed_bin, work, value):
    conf = work / "expensed.conf"
    conf.write_text("[spool]\n# a comment\nmax_findings = %s\n" % value)
    env = env_without_config({"EXPENSED_CONFIG": str(conf)})
    line = ("expensed: %s:3: bad max_findings '%s' (a whole number from 1 "
            "to 1000000)" % (conf, value))
    proc = run(expensed_bin, ["check", "seed.json"], work, env=env)
    assert (proc.returncode, proc.stdout) == (2, b"")
    assert proc.stderr.decode().splitlines() == [line]
    proc = run(expensed_bin, ["check-config", "-c", str(conf)], work,
               env=env)
    assert (proc.returncode, proc.stdout) == (2, b"")
    assert proc.stderr.decode().splitlines()[0] == line

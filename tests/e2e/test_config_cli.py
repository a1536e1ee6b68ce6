"""Command-line tests of `expensed check-config [-c FILE]` (docs/result.md, docs/operations.md).

The summary of a good configuration, every error with its FILE:LINE and exit
status 2, the secret-file warning, and that no webhook token, url password,
query string or secret ever reaches the output.
"""
import grp
import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED_RULES = REPO / "config" / "rules.d" / "mission-report.rules"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SLACK_TOKEN = "XyZ1sEcReTtOkEn42"


def run(binary, args, env_extra=None, cwd=None):
    env = dict(os.environ)
    env.pop("EXPENSED_CONFIG", None)
    env.update(env_extra or {})
    return subprocess.run([binary, "check-config"] + args, env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=30)


def rule_count(path):
    return sum(1 for line in path.read_text().splitlines()
               if line.startswith("["))


def test_good_config_summary(expensed_bin, tmp_path):
    secret = tmp_path / "audit.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o640)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "mission-report.rules").write_text(
        SHIPPED_RULES.read_text())
    (tmp_path / "spool" / "inbox").mkdir(parents=True)
    conf = tmp_path / "expensed.conf"
    conf.write_text(
        "[general]\n"
        "language = fr\n"
        "[spool]\n"
        "directory = spool   # relative to this file\n"
        "max_file_size = 512K\n"
        "settle = 500ms\n"
        "rescan = 0\n"
        "[rules]\n"
        "path = rules\n"
        "[log]\n"
        "facility = local2\n"
        "level = warning\n"
        "[metrics]\n"
        "textfile = metrics/expensed.prom\n"
        "interval = 30s\n"
        "[webhook audit]\n"
        "url = https://audit.example.org:8443/hooks/expensed?key=QS123\n"
        "events = accepted, invalid\n"
        "secret_file = audit.secret\n"
        "timeout = 5s\n"
        "retry = 0s, 90s, 1h\n"
        "[webhook chat]\n"
        "url = https://hooks.slack.com/services/T0/B0/%s\n"
        "format = slack\n" % SLACK_TOKEN)
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    n = rule_count(SHIPPED_RULES)
    lines = r.stdout.splitlines()
    sha = [l for l in lines if l.startswith("rules sha256: ")]
    assert len(sha) == 1 and re.fullmatch(r"rules sha256: [0-9a-f]{64}",
                                          sha[0])
    assert [l for l in lines if not l.startswith("rules sha256: ")] == [
        "config file: %s" % conf,
        "spool directory: %s/spool" % tmp_path,
        "inbox: %s/spool/inbox" % tmp_path,
        "max_file_size: 524288 bytes (512K)",
        "max_findings: 1000",
        "language: fr",
        "pages: on (NAME.result.html, index.html)",
        "read group: the group of accepted/",
        "settle: 500ms",
        "max_judge_time: 10s",
        "max_judge_memory: 268435456 bytes (256M)",
        "rescan: off",
        "log: facility local2, level warning",
        "metrics: %s/metrics/expensed.prom, every 30s" % tmp_path,
        "rules: %s/rules" % tmp_path,
        "rule count: %d" % n,
        "webhook audit: format standard, events accepted, invalid",
        "  url: https://audit.example.org:8443/...",
        "  secret: from %s" % secret,
        "  timeout: 5s, 3 tries: 0s, 90s, 1h",
        "webhook chat: format slack, events rejected, invalid",
        "  url: https://hooks.slack.com/...",
        "  secret: none (deliveries are not signed)",
        "  timeout: 15s, 10 tries: 0s, 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 1d",
        "configuration OK",
    ]
    for text in (r.stdout, r.stderr):
        assert SECRET not in text
        assert SLACK_TOKEN not in text
        assert "QS123" not in text
        assert "hooks/expensed" not in text


def test_defaults_and_builtin_rules_via_environment(expensed_bin, tmp_path):
    conf = tmp_path / "empty.conf"
    conf.write_text("# all defaults\n")
    r = run(expensed_bin, [], env_extra={"EXPENSED_CONFIG": str(conf)})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "config file: %s" % conf
    assert "spool directory: /var/spool/expensed" in lines
    assert "inbox: /var/spool/expensed/inbox" in lines
    assert "max_file_size: 16777216 bytes (16M)" in lines
    assert "settle: 2s" in lines
    assert "pages: on (NAME.result.html, index.html)" in lines
    assert "read group: the group of accepted/" in lines
    assert "metrics: off" in lines
    assert "rules: built-in" in lines
    assert "rule count: %d" % rule_count(SHIPPED_RULES) in lines
    assert "webhooks: none" in lines
    assert lines[-1] == "configuration OK"


def test_pages_off_and_read_group_shown(expensed_bin, tmp_path):
    """[html] enabled = no and [spool] read_group appear in the summary:
    the group by name with its number."""
    conf = tmp_path / "pages.conf"
    conf.write_text("[spool]\nread_group = %d\n[html]\nenabled = no\n"
                    % os.getgid())
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "pages: off" in lines
    name = grp.getgrgid(os.getgid()).gr_name
    assert "read group: %s (%d)" % (name, os.getgid()) in lines


def test_c_option_wins_over_environment(expensed_bin, tmp_path):
    good = tmp_path / "good.conf"
    good.write_text("[spool]\ndirectory = /srv/x\n")
    r = run(expensed_bin, ["-c", str(good)],
            env_extra={"EXPENSED_CONFIG": str(tmp_path / "missing.conf")})
    assert r.returncode == 0, r.stderr
    assert "spool directory: /srv/x" in r.stdout.splitlines()


def test_errors_with_line_numbers(expensed_bin, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text(
        "[spool]\n"                                  # 1
        "settle = 2 seconds\n"                       # 2
        "max_file_size = 16Q\n"                      # 3
        "\n"                                         # 4
        "[log]\n"                                    # 5
        "level = loud\n"                             # 6
        "[webhook x]\n"                              # 7
        "url = ftp://example.org/%s\n"               # 8
        "colour = red\n"                             # 9
        "[webhook y]\n"                              # 10
        "format = slack\n"                           # 11
        "[webhook x]\n"                              # 12
        % SLACK_TOKEN)
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 2
    assert r.stdout == ""
    c = str(conf)
    assert r.stderr.splitlines() == ["expensed: " + line for line in [
        c + ":2: bad duration '2 seconds' for settle "
        "(e.g. 500ms, 2s, 5m, 1h, 1d)",
        c + ":3: bad size '16Q' for max_file_size (e.g. 512K, 16M, 1G)",
        c + ":6: unknown level 'loud' (debug, info, notice, warning, err, "
        "crit)",
        c + ":8: bad url for webhook 'x': only http:// and https:// urls "
        "with a host are allowed",
        c + ":9: unknown key 'colour' in [webhook x]",
        c + ":10: webhook 'y' has no url",
        c + ":12: duplicate webhook 'x' (first on line 7)",
        "configuration has errors",
    ]]
    assert SLACK_TOKEN not in r.stderr


def test_metrics_errors_with_line_numbers(expensed_bin, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text(
        "[metrics]\n"                                # 1
        "interval = 0\n"                             # 2
        "textfile =\n"                               # 3
        "[metrics]\n"                                # 4
        "[log]\n"                                    # 5
        "[metrics]\n"                                # 6
        "colour = red\n")                            # 7
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 2
    c = str(conf)
    assert r.stderr.splitlines() == ["expensed: " + line for line in [
        c + ":2: interval must not be 0",
        c + ":3: empty value for 'textfile'",
        c + ":4: duplicate section [metrics] (first on line 1)",
        c + ":6: duplicate section [metrics] (first on line 1)",
        "configuration has errors",
    ]]
    conf.write_text("[metrics]\ninterval = soon\ntextfile = m.prom\n")
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "expensed: %s:2: bad duration 'soon' for interval "
        "(e.g. 500ms, 2s, 5m, 1h, 1d)" % c,
        "expensed: configuration has errors"]


def test_durations_past_3650_days(expensed_bin, tmp_path):
    """A duration is at most 3650d (docs/operations.md): one past it, which
    overflowed the daemon's sums with the clock (a retry of 106751991167d
    was sent at once), is an error naming its key and line."""
    conf = tmp_path / "long.conf"
    conf.write_text(
        "[spool]\n"                                  # 1
        "directory = spool\n"                        # 2
        "settle = 3650d\n"                           # 3
        "rescan = 106751991167d\n"                   # 4
        "[webhook o]\n"                              # 5
        "url = http://127.0.0.1:9/o\n"               # 6
        "timeout = 87601h\n"                         # 7
        "retry = 106751991167d\n")                   # 8
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 2
    assert r.stdout == ""
    c = str(conf)
    assert r.stderr.splitlines() == ["expensed: " + line for line in [
        c + ":4: bad duration '106751991167d' for rescan (at most 3650d)",
        c + ":7: bad duration '87601h' for timeout (at most 3650d)",
        c + ":8: bad retry list '106751991167d' (each delay at most 3650d)",
        "configuration has errors",
    ]]
    conf.write_text("[spool]\ndirectory = spool\nsettle = 3650d\n"
                    "rescan = 3650d\n[webhook o]\nurl = http://127.0.0.1:9/o\n"
                    "retry = 3650d\n")
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "configuration OK"


def test_missing_config_file(expensed_bin, tmp_path):
    missing = tmp_path / "nope.conf"
    r = run(expensed_bin, ["-c", str(missing)])
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.splitlines()[0] == (
        "expensed: cannot open '%s': No such file or directory" % missing)


def test_bad_rules_exit_2(expensed_bin, tmp_path):
    rules = tmp_path / "bad.rules"
    rules.write_text("[x]\ntype = nonsense\n")
    conf = tmp_path / "expensed.conf"
    conf.write_text("[rules]\npath = bad.rules\n")
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 2
    assert r.stdout == ""
    assert str(rules) in r.stderr
    assert "configuration OK" not in r.stderr


def test_secret_readable_by_others_is_a_warning(expensed_bin, tmp_path):
    secret = tmp_path / "s.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o644)
    conf = tmp_path / "expensed.conf"
    (tmp_path / "inbox").mkdir()
    conf.write_text("[spool]\ndirectory = .\n"
                    "[webhook a]\nurl = http://127.0.0.1:9/h\n"
                    "secret_file = s.secret\n")
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "expensed: warning: %s:5: secret_file '%s' is readable by others (chmod o-r)"
        % (conf, secret)]
    assert r.stdout.splitlines()[-1] == "configuration OK"
    assert SECRET not in r.stdout + r.stderr


def test_bad_secret_is_not_printed(expensed_bin, tmp_path):
    secret = tmp_path / "s.secret"
    secret.write_text("hunter2-TopSecretValue\n")
    secret.chmod(0o600)
    conf = tmp_path / "expensed.conf"
    conf.write_text("[webhook a]\nurl = http://127.0.0.1:9/h\n"
                    "secret_file = s.secret\n")
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == (
        "expensed: %s:3: secret_file '%s' does not hold a secret of the form "
        "whsec_BASE64" % (conf, secret))
    assert "TopSecretValue" not in r.stdout + r.stderr


def test_url_userinfo_and_teams_token_redacted(expensed_bin, tmp_path):
    conf = tmp_path / "expensed.conf"
    conf.write_text(
        "[webhook t]\n"
        "format = teams\n"
        "url = https://prod-01.westeurope.logic.azure.com:443/workflows/"
        "0123456789abcdef/triggers/manual/paths/invoke?api-version=2016-06-01"
        "&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SiGnAtUrE0123456789"
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n"
        "[webhook u]\n"
        "url = http://alice:PaSsWoRd@127.0.0.1:8080\n")
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert "  url: https://prod-01.westeurope.logic.azure.com:443/..." in out
    assert "  url: http://127.0.0.1:8080" in out
    for word in ("SiGnAtUrE", "0123456789abcdef", "alice", "PaSsWoRd",
                 "workflows"):
        assert word not in r.stdout + r.stderr


def test_usage_error(expensed_bin):
    r = run(expensed_bin, ["--frobnicate"])
    assert r.returncode == 2
    assert "usage: expensed check-config [-c FILE]" in r.stderr


def test_shipped_config_is_valid_and_states_the_defaults(expensed_bin,
                                                         tmp_path):
    text = (REPO / "config" / "expensed.conf").read_text()
    assert "path = /etc/expensed/rules.d\n" in text
    conf = tmp_path / "expensed.conf"
    conf.write_text(text.replace("/etc/expensed/rules.d",
                                 str(SHIPPED_RULES.parent)))
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for want in ("spool directory: /var/spool/expensed",
                 "inbox: /var/spool/expensed/inbox",
                 "max_file_size: 16777216 bytes (16M)",
                 "settle: 2s", "rescan: 1m",
                 "log: facility daemon, level info",
                 "metrics: off",
                 "rules: %s" % SHIPPED_RULES.parent,
                 "webhooks: none", "configuration OK"):
        assert want in lines

    # The commented webhook examples are valid once uncommented.
    secret = tmp_path / "audit.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    hooks = [l[1:] for l in text.splitlines()
             if l.startswith("#") and not l.startswith("##")
             and ("=" in l or l.startswith("#["))]
    hooks = [l for l in hooks if not l.startswith(" ")]
    assert hooks[0] == "[webhook audit]"
    body = (conf.read_text() + "\n".join(hooks) + "\n").replace(
        "/etc/expensed/audit.secret", str(secret))
    conf.write_text(body)
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "webhook audit: format standard, events rejected, invalid" in lines
    assert "webhook chat: format slack, events rejected, invalid" in lines
    assert "  url: https://hooks.slack.com/..." in lines


def test_run_dev_script(expensed_bin, tmp_path):
    """scripts/run-dev.sh on a copy of the checkout, with a stand-in binary
    that records its arguments: the spool, the config, the exec line."""
    top = tmp_path / "checkout with space"
    (top / "scripts").mkdir(parents=True)
    (top / "config" / "rules.d").mkdir(parents=True)
    for rel in ("scripts/run-dev.sh", "config/dev.conf.in",
                "config/rules.d/mission-report.rules"):
        (top / rel).write_bytes((REPO / rel).read_bytes())
    fake = tmp_path / "fake-expensed"
    fake.write_text("#!/bin/sh\nprintf '%s\\n' \"$PWD\" \"$@\" > \"$0.args\"\n")
    fake.chmod(0o755)
    r = subprocess.run(["sh", "scripts/run-dev.sh", str(fake)], cwd=top,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    run_dir = top / "run"
    assert "drop reports into %s/inbox/" % run_dir in r.stdout
    assert "Ctrl-C stops" in r.stdout
    args = (tmp_path / "fake-expensed.args").read_text().splitlines()
    assert args == [str(top), "run", "-v", "-c", "run/expensed.conf"]
    for d in ("inbox", "work", "accepted", "rejected", "outbox", "dead",
              "state"):
        assert (run_dir / d).is_dir(), d
    assert (run_dir / "inbox").stat().st_mode & 0o7777 == 0o1770
    c = run(expensed_bin, ["-c", "run/expensed.conf"], cwd=top)
    assert c.returncode == 0, c.stderr
    lines = c.stdout.splitlines()
    assert "spool directory: %s" % run_dir in lines
    assert "inbox: %s/inbox" % run_dir in lines
    assert "settle: 1s" in lines
    assert "rescan: 1m" in lines
    assert "rules: %s/config/rules.d" % top in lines
    assert "webhooks: none" in lines


def test_missing_spool_is_a_warning(expensed_bin, tmp_path):
    conf = tmp_path / "expensed.conf"
    conf.write_text("[spool]\ndirectory = nowhere\n")
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "expensed: warning: %s is not a directory yet: `expensed run` needs it "
        "(systemd-tmpfiles creates it)" % (tmp_path / d)
        for d in ("nowhere", "nowhere/inbox")]
    assert r.stdout.splitlines()[-1] == "configuration OK"


def test_inbox_guard_resolves_the_path(expensed_bin, tmp_path):
    """However the path is spelt (".", "..", a symlink), an inbox that is
    the spool or lies in one of its own directories is refused by
    check-config and by run, with FILE:LINE: otherwise the daemon would
    judge its own output again without end."""
    spool = tmp_path / "spool"
    for d in ("inbox", "work", "accepted", "rejected", "outbox", "dead",
              "state"):
        (spool / d).mkdir(parents=True)
    (tmp_path / "share").mkdir()
    (tmp_path / "to-work").symlink_to(spool / "work")
    real = os.path.realpath(spool)
    conf = tmp_path / "expensed.conf"
    refused = [("%s/./rejected" % spool, "rejected"),
               ("%s/inbox/../accepted" % spool, "accepted"),
               (str(tmp_path / "to-work"), "work"),
               ("%s/state/x" % spool, "state/x"),
               ("%s/." % spool, None)]
    for inbox, inside in refused:
        conf.write_text("[spool]\ndirectory = %s\ninbox = %s\n"
                        % (spool, inbox))
        want = ("%s:3: inbox must not be the spool directory or its work, "
                "accepted, rejected, outbox, dead or state directory, nor "
                "lie inside one (it is %s)"
                % (conf, real + ("/" + inside if inside else "")))
        r = run(expensed_bin, ["-c", str(conf)])
        assert r.returncode == 2, (inbox, r.stderr)
        assert r.stderr.splitlines() == ["expensed: " + want,
                                         "expensed: configuration has errors"]
        r = subprocess.run([expensed_bin, "run", "-c", str(conf)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (inbox, r.stderr)
        assert "expensed: " + want in r.stderr.splitlines(), inbox
        assert os.listdir(spool / "state") == [], inbox  # never started
    for inbox in ("%s/inbox" % spool, "%s/./inbox/" % spool,
                  str(tmp_path / "share")):
        conf.write_text("[spool]\ndirectory = %s\ninbox = %s\n"
                        % (spool, inbox))
        r = run(expensed_bin, ["-c", str(conf)])
        assert r.returncode == 0, (inbox, r.stderr)
        assert r.stdout.splitlines()[-1] == "configuration OK"


def test_language_must_be_en_or_fr(expensed_bin, tmp_path):
    (tmp_path / "spool" / "inbox").mkdir(parents=True)
    conf = tmp_path / "expensed.conf"
    conf.write_text("[spool]\ndirectory = spool\n"
                    "[general]\nlanguage = de\n")
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode != 0
    assert "%s:4: bad language 'de' (en or fr)" % conf in r.stderr


def test_inbox_that_is_a_link_is_refused(expensed_bin, tmp_path):
    """An inbox that is itself a symbolic link was never watched (the
    daemon opens it with O_NOFOLLOW: 'inbox ... is missing (Not a
    directory)' at every start) while check-config said OK. Both refuse
    it now, naming the directory to give; a link above it is followed."""
    spool = tmp_path / "spool"
    (spool / "inbox").mkdir(parents=True)
    (tmp_path / "share" / "reports").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "share" / "reports")
    (tmp_path / "above").symlink_to(tmp_path / "share")
    conf = tmp_path / "expensed.conf"
    conf.write_text("[spool]\ndirectory = %s\ninbox = %s\n"
                    % (spool, tmp_path / "link"))
    want = ("expensed: %s:3: inbox %s is a symbolic link: the daemon opens "
            "the inbox itself, never through a link (give %s)"
            % (conf, tmp_path / "link",
               os.path.realpath(tmp_path / "share" / "reports")))
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [want,
                                     "expensed: configuration has errors"]
    r = subprocess.run([expensed_bin, "run", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stderr
    assert want in r.stderr.splitlines()
    conf.write_text("[spool]\ndirectory = %s\ninbox = %s\n"
                    % (spool, tmp_path / "above" / "reports"))
    r = run(expensed_bin, ["-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "configuration OK"


def test_inbox_on_another_file_system_is_an_error(expensed_bin, tmp_path):
    """`run` refuses to start (and a reload refuses) an inbox on another
    file system than the spool: files are claimed by rename. check-config,
    run before `systemctl reload`, said "configuration OK" to it."""
    (tmp_path / "spool").mkdir()
    conf = tmp_path / "expensed.conf"
    conf.write_text("[spool]\ndirectory = spool\ninbox = /proc\n")
    r = run(expensed_bin, ["-c", str(conf)])
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines() == [
        "expensed: %s:3: inbox /proc is not on the file system of spool %s "
        "(files are claimed by rename)" % (conf, tmp_path / "spool"),
        "expensed: configuration has errors"]

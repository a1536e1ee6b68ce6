"""Fixtures of the end-to-end tests that start the daemon on a spool of
their own (tests/e2e/daemon_util.py has the Daemon itself)."""
import subprocess

import pytest

from daemon_util import Daemon, write_config


@pytest.fixture
def spool(tmp_path):
    """A spool directory with its inbox; the daemon makes the rest."""
    s = tmp_path / "spool"
    (s / "inbox").mkdir(parents=True)
    return s


def start_prefixed(d):
    """Start d with a command prefix (prlimit, setpriv) before the binary;
    returns it without waiting for its start line."""
    d.log = open(d.logfile, "ab")
    d.proc = subprocess.Popen(d.binary + ["run", "-c", d.config, "-v"],
                              stdout=subprocess.DEVNULL, stderr=d.log,
                              env=d.env)
    return d


@pytest.fixture
def start_daemon(expensed_bin, tmp_path):
    """start_daemon(spool, name="d", binary=None, env=None, prefix=(),
    **config) -> a started Daemon, killed at the end. name: its
    configuration and log files (tmp_path/NAME.conf, NAME.log; an existing
    configuration is kept); binary: another build (expensed-hooks);
    prefix: a command run before the binary (then not waited for)."""
    started = []

    def start(spool, name="d", binary=None, env=None, prefix=(), **conf):
        cfg = tmp_path / ("%s.conf" % name)
        if not cfg.exists():
            write_config(cfg, spool, **conf)
        d = Daemon(binary or expensed_bin, cfg,
                   tmp_path / ("%s.log" % name), env)
        started.append(d)
        if prefix:
            d.binary = list(prefix) + [d.binary]
            return start_prefixed(d)
        return d.start()

    yield start
    for d in started:
        d.cleanup()

"""Shared pytest fixtures: where the expensed binary and the examples are.

EXPENSED (a path; empty is unset) overrides the binary, default
<repo>/build/expensed: missing, it fails every test that runs it (no skip);
EXPENSED_EXAMPLES overrides the examples folder, default <repo>/examples.
EXPENSED_LOCALEDIR (the catalogs) defaults to the locale/ folder beside
the binary.
"""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def expensed_path():
    """Absolute path of the binary under test (no existence check)."""
    return str(Path(os.environ.get("EXPENSED")
                    or REPO / "build" / "expensed").resolve())


# The binary's catalogs are the ones built beside it (make: BUILD/locale),
# for every process the tests start (docs/languages.md).
os.environ.setdefault("EXPENSED_LOCALEDIR",
                      str(Path(expensed_path()).parent / "locale"))


@pytest.fixture(scope="session")
def expensed_bin():
    path = expensed_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("expensed binary not found or not executable: %s "
                    "(build it with make, or set EXPENSED)" % path)
    return path


@pytest.fixture(scope="session")
def examples_dir():
    env = os.environ.get("EXPENSED_EXAMPLES")
    if env:
        return Path(env).resolve()
    return REPO / "examples"

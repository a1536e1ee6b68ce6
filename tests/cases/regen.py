#!/usr/bin/python3
"""Write the expected outputs of the golden cases from the current binary.

For each case folder (one holding input.json) it runs, from inside the
folder, `expensed check --format json [-r rules.rules] input.json` and
`expensed check [-r rules.rules] input.json` and writes:

- expected.json: the result document, less the fields that vary from run to
  run (checked_at, expensed), indented, keys in the binary's order;
- expected.txt: the text output, byte for byte (no colour: not a terminal);
- expected.fr.json and expected.fr.txt: the same in French, run with
  LANG=fr_FR.UTF-8 (docs/languages.md) and the build's catalog
  (EXPENSED_LOCALEDIR, the locale/ folder beside the binary).

This pins the current behaviour: after a deliberate change of output, run it
and read `git diff tests/cases` before committing. tests/test_golden.py
imports the same functions, so what is written is exactly what is compared.

    /usr/bin/python3 tests/cases/regen.py [NAME...]    # default: every case

EXPENSED (a path) overrides the binary, default <repo>/build/expensed.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# Fields of the result document that change from run to run.
VARYING = ("checked_at", "expensed")


def binary():
    """Absolute path of the binary (EXPENSED, else <repo>/build/expensed)."""
    return str(Path(os.environ.get("EXPENSED")
                    or REPO / "build" / "expensed").resolve())


# The expected files of each language, and the locale check runs in.
LANGS = {
    "en": ("expected.json", "expected.txt"),
    "fr": ("expected.fr.json", "expected.fr.txt"),
}


def clean_env(exe=None, lang="en"):
    """No configuration file: check must use the built-in set. French: a
    French LANG (a locale this machine need not have) and the catalog
    built beside the binary."""
    env = dict(os.environ)
    env.pop("EXPENSED_CONFIG", None)
    env.pop("NO_COLOR", None)
    if lang == "en":
        env["LC_ALL"] = "C.UTF-8"
        return env
    for k in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        env.pop(k, None)
    env["LANG"] = "fr_FR.UTF-8"
    env["EXPENSED_LOCALEDIR"] = str(Path(exe).parent / "locale")
    return env


def run_check(exe, folder, as_json, lang="en"):
    """Run check on folder/input.json from inside folder, in lang."""
    argv = [exe, "check"]
    if as_json:
        argv += ["--format", "json"]
    if (Path(folder) / "rules.rules").is_file():
        argv += ["-r", "rules.rules"]
    argv.append("input.json")
    return subprocess.run(argv, cwd=folder, env=clean_env(exe, lang),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=30)


def parse_doc(proc):
    """The one JSON line of a --format json run (ValueError if not)."""
    lines = proc.stdout.decode("utf-8").splitlines()
    if len(lines) != 1:
        raise ValueError("want one JSON line, got %r (stderr %r)"
                         % (proc.stdout, proc.stderr))
    return json.loads(lines[0])


def render(doc):
    """expected.json's text for a result document (varying fields out)."""
    kept = {k: v for k, v in doc.items() if k not in VARYING}
    return json.dumps(kept, indent=2, ensure_ascii=False) + "\n"


def case_folders(names=None):
    """Case folders, sorted: every folder with input.json, or the named."""
    if names:
        return [HERE / n for n in names]
    return sorted(p for p in HERE.iterdir()
                  if p.is_dir() and (p / "input.json").is_file())


def regen(exe, folder):
    """Write folder's expected files of every language; returns the
    English doc."""
    docs = {}
    for lang, (jname, tname) in LANGS.items():
        pj = run_check(exe, folder, True, lang)
        pt = run_check(exe, folder, False, lang)
        for p in (pj, pt):
            if p.stderr or p.returncode not in (0, 1):
                raise RuntimeError("%s: exit %d, stderr %r"
                                   % (folder.name, p.returncode, p.stderr))
        docs[lang] = parse_doc(pj)
        (folder / jname).write_text(render(docs[lang]), encoding="utf-8")
        (folder / tname).write_bytes(pt.stdout)
    return docs["en"]


def main(argv):
    exe = binary()
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        sys.exit("regen: no executable %s (make all, or set EXPENSED)" % exe)
    folders = case_folders(argv)
    for folder in folders:
        regen(exe, folder)
    print("regen: %d cases written with %s" % (len(folders), exe))


if __name__ == "__main__":
    main(sys.argv[1:])

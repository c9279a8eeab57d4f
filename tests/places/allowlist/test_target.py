"""The writer and the `after` hook: atomic writes only on change, argv hooks with `{path}`, failures and hangs."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from egress.core.spec import parse_config
from egress.errors import OutputError, UsageError
from egress.places.allowlist.config import BrokenExport
from egress.places.allowlist.target import check_hook, run_hook, write_files


def broken(text: str) -> BrokenExport:
    (entry,) = parse_config(text, where="c.toml").exports
    assert isinstance(entry, BrokenExport)
    return entry


def test_write_files_writes_only_changes(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    assert [r.changed for r in write_files([(path, "x\n")])] == [True]
    assert [r.changed for r in write_files([(path, "x\n")])] == [False]
    assert [r.changed for r in write_files([(path, "y\n")])] == [True]
    assert path.read_text() == "y\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temp file left behind


def test_write_files_checks_every_folder_before_writing(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    with pytest.raises(OutputError, match="folder .*missing does not exist"):
        write_files([(good, "x"), (tmp_path / "missing" / "b.txt", "y")])
    assert not good.exists()
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(OutputError, match="exists and is not a file"):
        write_files([(tmp_path / "dir.txt", "x")])


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_hook_gets_the_path_as_one_argument(tmp_path: Path) -> None:
    path = tmp_path / "with space; $(touch pwned).txt"
    record = tmp_path / "argv.txt"
    argv = [*_py(f"import sys; open({str(record)!r}, 'w').write(repr(sys.argv[1:]))"), "{path}", "x{path}y"]
    assert run_hook(argv, path, 10) is None
    assert record.read_text() == repr([str(path), f"x{path}y"])
    assert not (Path.cwd() / "pwned").exists()


def test_failing_hook_is_one_line_with_its_stderr(tmp_path: Path) -> None:
    failure = run_hook(
        _py("import sys; sys.stderr.write('table not found\\nline two\\n'); sys.exit(3)"), tmp_path, 10
    )
    assert failure is not None and "exited 3: table not found line two" in failure
    assert "\n" not in failure
    missing = run_hook(["/nonexistent/reload-firewall", "{path}"], tmp_path, 10)
    assert missing is not None and "could not start" in missing


def test_hanging_hook_and_its_children_are_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time; "
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); open({str(pidfile)!r}, 'w').write(str(p.pid)); "
        "time.sleep(60)"
    )
    started = time.monotonic()
    failure = run_hook(_py(code), tmp_path, 1.5)
    assert time.monotonic() - started < 15
    assert failure is not None and "did not finish within 1.5 s and was killed" in failure
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the hook's child survived")


@pytest.mark.parametrize(
    ("after", "message"),
    [
        ('"nft -f {path}"', "must be a list of words"),
        ("[]", "must be a list of words"),
        ('["nft", ""]', "non-empty string"),
        ('["nft", "-f", "{file}"]', "{file}; {path} is the only placeholder"),
        ('["nft", "a\\u0000b"]', "holds a NUL byte"),  # was a ValueError at run time
    ],
)
def test_bad_hooks_in_a_config(after: str, message: str) -> None:
    text = (
        f'[[exports]]\nname = "x"\nformat = "edl"\ntags = ["AzureBackup"]\npath = "x.txt"\nafter = {after}\n'
    )
    assert message in broken(text).message


def test_check_hook_keeps_the_words() -> None:
    assert check_hook(["nft", "-f", "{path}"], "x") == ("nft", "-f", "{path}")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('name = "x"\nformat = "edl"\npath = "a"\ncolour = "red"', "unknown key(s) colour"),
        ('name = "x"\nformat = "edl"', "needs a `path`"),
        ('name = "x"\npath = "a"', "needs a `format`"),
        ('name = "x"\nformat = "pdf"\npath = "a"', "unknown export format 'pdf'"),
        ('name = "x"\nformat = "edl"\npath = "a"\nfamily = "ipv5"', "--family 'ipv5'"),
        ('name = "x"\nformat = "edl"\npath = "a"\nafter_timeout = 5', "`after_timeout` needs `after`"),
        ('name = "x"\nformat = "edl"\npath = "a"\nafter = ["true"]\nafter_timeout = 0', "after_timeout"),
        ('name = "x"\nformat = "edl"\npath = "a"\nmax_prefixes = "5"', "`max_prefixes` must be an integer"),
        ('name = "x"\nformat = "nftables"\npath = "a"\nper_family = true', "keeps both families"),
        ('name = "42"\nformat = "edl"\npath = "a"', "give a `set_name`"),
    ],
)
def test_bad_export_entries(body: str, message: str) -> None:
    found = broken(f"[[exports]]\n{body}\n")
    assert found.message.startswith("c.toml exports[0]")
    assert message in found.message and "\n" not in found.message


def test_an_entry_without_a_name_fails_the_whole_config() -> None:
    with pytest.raises(UsageError, match="needs a `name`"):
        parse_config('[[exports]]\nformat = "edl"\npath = "a"\n', where="c.toml")


def test_names_and_paths_are_unique_across_targets_and_exports() -> None:
    target = '[[targets]]\nname = "lab"\ntarget = "nsg.json"\n'
    with pytest.raises(UsageError, match="the name 'lab' is taken"):
        parse_config(target + '[[exports]]\nname = "lab"\nformat = "edl"\npath = "a"\n', where="c.toml")
    two = '[[exports]]\nname = "a"\nformat = "edl"\npath = "x"\n[[exports]]\nname = "b"\nformat = "csv"\npath = "x"\n'
    with pytest.raises(UsageError, match="both write x"):
        parse_config(two, where="c.toml")


def test_a_config_with_exports_parses_with_defaults() -> None:
    cfg = parse_config(
        '[defaults]\nregion = "eastus"\n[[exports]]\nname = "pan-edl"\nformat = "edl"\npath = "a.txt"\n',
        where="c.toml",
    )
    (export,) = cfg.exports
    assert export.request.name == "pan_edl"
    assert export.request.tags == ("Storage.{region}", "AzureBackup", "AzureActiveDirectory")
    assert export.spec.region == "eastus"

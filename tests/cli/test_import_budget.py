"""`egress --help` and `egress plan` load only what they use (structural: module lists, never timings).

Each case runs the real entry point (`egress.__main__`, as `python -m egress` does) in a fresh process and reads
the modules it imported from `-X importtime`'s report on stderr and from `sys.modules` at exit: the report alone
misses what `importlib.import_module` loads (the place registry and each place's modules).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = "servicetags/ServiceTags_Public_20250127.json"

# Never needed to show help or plan rules: the Azure SDK and HTTP stack (apply, fetch), netaddr (a test and
# benchmark baseline), pydantic (Typer's converter, replaced by egress.cli.coerce), Jinja (render), defusedxml
# (the legacy XML), tomllib (--config only).
NOT_FOR_HELP_OR_PLAN = (
    "azure",
    "requests",
    "urllib3",
    "netaddr",
    "pydantic",
    "jinja2",
    "defusedxml",
    "tomllib",
)
# Plan's own modules, which help must not load either.
NOT_FOR_HELP = (
    "egress.places.nsg.planner",
    "egress.core.parse",
    "egress.adapters.datastore",
    "hashlib",
    "platformdirs",
)


COMMAND_MODULES = {
    f"egress.cli.{m}" for m in ("apply", "plan", "proxy", "ranges", "refresh", "render", "schedule", "verify")
}


# `python -m egress`, plus a dump of sys.modules (one name a line) to $EGRESS_TEST_MODULES when it exits.
_RUN = (
    "import atexit, os, runpy, sys\n"
    "def _dump():\n"
    "    with open(os.environ['EGRESS_TEST_MODULES'], 'w') as out:\n"
    "        out.write('\\n'.join(sorted(sys.modules)))\n"
    "atexit.register(_dump)\n"
    "runpy.run_module('egress', run_name='__main__', alter_sys=True)\n"
)


def imported(args: list[str], tmp_path: Path) -> set[str]:
    env = dict(os.environ)
    env["EGRESS_CACHE_DIR"] = str(tmp_path / "cache")  # empty: plan without --data uses the bundled file
    dump = tmp_path / "modules.txt"
    env["EGRESS_TEST_MODULES"] = str(dump)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _RUN, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = {
        line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")
    }
    assert "typer" in names and "egress.cli" in names  # the report was read
    at_exit = set(dump.read_text().split())
    assert "egress.cli" in at_exit  # so was the dump
    return (names | at_exit) - {"module"}  # the report's header line


def loaded(names: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == p or n.startswith(p + ".") for p in packages))


def test_help_loads_no_sdk_no_plan_machinery(tmp_path: Path) -> None:
    names = imported(["--help"], tmp_path)
    assert loaded(names, (*NOT_FOR_HELP_OR_PLAN, *NOT_FOR_HELP)) == []


def test_command_help_loads_no_sdk(tmp_path: Path) -> None:
    names = imported(["plan", "--help"], tmp_path)
    assert loaded(names, (*NOT_FOR_HELP_OR_PLAN, *NOT_FOR_HELP)) == []


@pytest.mark.parametrize("option", ["ip-ranges", "service-tags"])
def test_plan_on_a_file_loads_no_sdk(shared_data: Path, tmp_path: Path, option: str) -> None:
    args = ["plan", "--option", option, "--region", "eastus", "--data", str(shared_data / DATA), "-o", "json"]
    names = imported(args, tmp_path)
    assert loaded(names, NOT_FOR_HELP_OR_PLAN) == []
    assert "egress.places.nsg.planner" in names  # it did plan
    # Only the plan command's own module, not every command's (egress.cli.COMMANDS).
    assert sorted(n for n in names if n.startswith("egress.cli.") and n in COMMAND_MODULES) == [
        "egress.cli.plan"
    ]


def test_plan_on_bundled_data_loads_no_sdk(tmp_path: Path) -> None:
    names = imported(["plan", "--region", "eastus"], tmp_path)
    assert loaded(names, (*NOT_FOR_HELP_OR_PLAN, "importlib.resources")) == []
    assert "gzip" in names  # it did read the bundled snapshot


def test_verify_of_a_local_file_checks_auth_without_the_sdk(shared_data: Path, tmp_path: Path) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text('{"name": "n", "properties": {"securityRules": []}}\n')
    args = [
        "verify",
        "--nsg",
        str(nsg),
        "--dest",
        "20.60.1.5",
        "--auth",
        "cli",
        "--data",
        str(shared_data / DATA),
    ]
    names = imported(args, tmp_path)
    assert loaded(names, ("azure", "requests", "urllib3", "msal")) == []
    assert "egress.adapters.azure.credentials" in names  # the --auth check ran

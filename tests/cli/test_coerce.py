"""The plain option converter agrees with Typer's own on every egress option; the per-run app matches the full one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer._coercion import build_runtime_param
from typer.testing import CliRunner

from egress.cli import COMMANDS, _app_for, app
from egress.cli.coerce import PlainParam, install

ROOT = Path(__file__).resolve().parents[2]
SAMPLES: dict[Any, list[Any]] = {
    str: ["eastus", "", " spaced ", "Ünïcode", "--looks-like-a-flag", "0"],
    int: ["0", "7", "-3", "007", "-0", "4096", "+5", " 5", "5_000", "1e3", "5.0", "x", "", "٣", 10, -1],
    bool: [True, False, "true", "0"],
    list[str]: [("a", "b"), ["x"], (), ("a", 1)],
}


def all_params() -> list[tuple[str, Any]]:
    command = typer.main.get_command(app)
    install(command, ["-h", "--help"])
    found: list[tuple[str, Any]] = []

    def walk(cmd: Any, path: str) -> None:
        for p in cmd.params:
            found.append((f"{path} {p.name}", (cmd, p)))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(command, "egress")
    return found


def outcome(runtime: Any, value: Any, param: Any, ctx: Any) -> tuple[str, Any]:
    try:
        return "ok", runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:  # compare the error Typer would show
        return type(exc).__name__, str(getattr(exc, "message", exc))


def test_plain_params_convert_exactly_like_typer() -> None:
    checked = 0
    for label, (cmd, param) in all_params():
        runtime = param._runtime_param
        if not isinstance(runtime, PlainParam):
            continue
        full = build_runtime_param(param.type_descriptor)
        ctx = cmd.context_class(cmd, info_name=label)
        for value in SAMPLES[param.type_descriptor.annotation]:
            mine, theirs = outcome(runtime, value, param, ctx), outcome(full, value, param, ctx)
            assert mine == theirs, (label, value)
            assert type(mine[1]) is type(theirs[1]), (label, value)
            checked += 1
    assert checked > 100  # every command's str/int/bool/list options took part


def test_enums_and_paths_keep_typers_converter() -> None:
    kinds = {
        type(p._runtime_param).__name__
        for _, (_, p) in all_params()
        if p.type_descriptor.annotation not in (str, int, bool, list[str])
    }
    assert "PlainParam" not in kinds


def test_bad_number_keeps_typers_message() -> None:
    result = CliRunner().invoke(app, ["plan", "--priority-start", "abc"])
    assert result.exit_code == 2
    assert "Invalid value for '--priority-start'" in result.output
    assert "valid integer" in result.output


def test_app_for_keeps_only_the_command_run() -> None:
    assert _app_for([]) is app
    assert _app_for(["--help"]) is app
    assert _app_for(["--version"]) is app
    assert _app_for(["plann"]) is app  # unknown: the full app answers (with its suggestion)
    plan = _app_for(["plan", "--region", "eastus"])
    assert [c.name for c in plan.registered_commands] == ["plan"] and plan.registered_groups == []
    ranges = _app_for(["ranges", "list"])
    assert ranges.registered_commands == [] and [g.name for g in ranges.registered_groups] == ["ranges"]
    assert len(app.registered_commands) > 1  # the full app is untouched


def test_commands_table_names_the_module_of_every_command() -> None:
    # A run imports only COMMANDS[its command]: that module must be the one registering the command.
    found = {c.name: c.callback.__module__ for c in app.registered_commands if c.callback is not None}
    for group in app.registered_groups:
        assert group.typer_instance is not None
        found[group.name] = group.typer_instance.registered_commands[0].callback.__module__  # type: ignore[union-attr]
    assert found == COMMANDS


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100"}  # help text wraps to the terminal
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--option", "ip-ranges", "--region", "eastus", "-o", "json"],
        ["plan", "--help"],
        ["plan", "--priority-start", "x"],
        ["ranges", "--help"],
        ["plann"],
        ["--help"],
    ],
)
def test_console_entry_point_answers_like_the_full_app(args: list[str], shared_data: Path) -> None:
    if args[:2] == ["plan", "--option"]:
        args = [*args, "--data", str(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")]
    mine = run([sys.executable, "-m", "egress", *args])
    full = run([sys.executable, "-c", "from egress.cli import app; app(prog_name='egress')", *args])
    assert (mine.returncode, mine.stdout, mine.stderr) == (full.returncode, full.stdout, full.stderr)
    if "json" in args:
        assert json.loads(mine.stdout)["rules"]


def test_entry_point_is_the_main_module() -> None:
    import tomllib

    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["egress"]
    assert entry == "egress.__main__:main"
    from egress.__main__ import main

    assert callable(main)

"""Every command's help names its values the same way (issue 15 §5): `--data FILE`, `--output text|json`, never
Typer's `<str>`, `<list[str]>` or `{tag}`; one flag reads the same in every command; and help names
Microsoft's guide, not "the seed" or "options a, b, c"."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from egress.cli import app
from egress.cli.metavars import BY_COMMAND

runner = CliRunner()
# An upper-case noun (FILE, IP[:PORT], IP:PORT) or a choice list (text|json, weekly|daily|CRON), optionally repeated.
VALUE = re.compile(
    r"(?:[A-Z][A-Z0-9_]*(?:\[[:,][A-Z][A-Z0-9]*\]|:[A-Z]+)?|(?:[A-Za-z0-9*][\w*-]*\|)+[A-Za-z0-9*][\w*-]*)(?:\.\.\.)?"
)
OPTION_LINE = re.compile(r"^  (?:-\w, )?(--[\w-]+)(?:/--[\w-]+)?(?: (\S+))?(?:\s{2,}|$)")


def _commands() -> Iterator[list[str]]:
    root = typer.main.get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        if subs:
            for sub in subs:
                yield [name, sub]
        else:
            yield [name]


COMMANDS = list(_commands())


def _help(path: list[str]) -> str:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def _values(text: str) -> dict[str, str | None]:
    """--flag -> the value name help shows for it (None for a flag without a value)."""
    out: dict[str, str | None] = {}
    for line in text.splitlines():
        match = OPTION_LINE.match(line)
        if match and match.group(1) != "--help":
            out[match.group(1)] = match.group(2)
    return out


def test_every_command_is_walked() -> None:
    assert len(COMMANDS) >= 14 and ["ranges", "show"] in COMMANDS and ["proxy", "server"] in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_value_names_are_meaningful(path: list[str]) -> None:
    text = _help(path)
    usage = text.splitlines()[0]
    assert "{" not in usage and "<" not in usage, usage
    for flag, value in _values(text).items():
        if value is None:
            continue
        assert VALUE.fullmatch(value), f"{' '.join(path)} {flag} {value}"
    assert not re.search(r"<(?:str|int|float|list\[str\]|path)>", text), text
    assert "seed" not in text and "options a, b, c" not in text


def test_one_flag_one_value_name_across_commands() -> None:
    seen: dict[str, dict[str, str]] = {}
    for path in COMMANDS:
        for flag, value in _values(_help(path)).items():
            if value is not None and (path[-1], flag) not in BY_COMMAND:
                seen.setdefault(flag, {})[" ".join(path)] = value
    # A choice list is the command's own (`--output text|json` here, `table|json` there; `--out FILE|DIR`).
    mixed = {
        flag: names for flag, names in seen.items() if len({v for v in names.values() if "|" not in v}) > 1
    }
    assert mixed == {}, mixed


def test_arguments_read_as_click_writes_them() -> None:
    assert _help(["ranges", "show"]).splitlines()[0] == "Usage: egress ranges show [OPTIONS] TAG"
    assert _help(["ranges", "diff"]).splitlines()[0] == "Usage: egress ranges diff [OPTIONS] OLD [NEW]"
    assert _help(["ranges", "lookup"]).splitlines()[0] == "Usage: egress ranges lookup [OPTIONS] ADDRESS..."
    missing = runner.invoke(app, ["ranges", "show"])
    assert missing.exit_code == 2
    assert missing.stderr == "Error: Missing argument 'TAG' (see `egress ranges show --help`).\n"


def test_option_help_names_the_guide() -> None:
    text = " ".join(_help(["plan"]).split())
    assert 'Microsoft\'s guide "Prepare your environment to back up Azure VMs"' in text

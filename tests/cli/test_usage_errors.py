"""Click's own usage errors (unknown option, bad type, missing argument) are one `Error:` line, exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from egress.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["plan", "--bogus"], "No such option: --bogus (see `egress plan --help`)."),
        (["plan", "--priority-start", "abc"], "'--priority-start'"),
        (["ranges", "show"], "Missing argument"),
        (["apply", "--max-deletes", "many"], "'--max-deletes'"),
        (["bogus"], "No such command 'bogus'"),
    ],
)
def test_usage_error_is_one_line(args: list[str], needle: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_commands_in_workflow_order() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.stdout.split("Commands:", 1)[1].splitlines() if line.strip()]
    assert listed == [
        "ranges",
        "plan",
        "render",
        "apply",
        "verify",
        "lint",
        "path",
        "refresh",
        "schedule",
        "proxy",
    ]

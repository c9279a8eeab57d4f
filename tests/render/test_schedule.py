"""Quoting and cron handling of the schedule renderer, checked against real parsers (sh, PyYAML)."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from egress.errors import UsageError
from egress.render.schedule import cron_quote, on_calendar, parse_every, shell_word, systemd_quote, yaml_quote
from tests.helpers import require_program

NASTY = [
    "plain",
    "two words",
    "it's",
    'say "hi"',
    "$(id)",
    "`id`",
    "a;b",
    "100%",
    "%%",
    "back\\slash",
    "ünï",
    "-x",
    "",
]
printable = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30)


def _sh_roundtrip(words: list[str], quote) -> list[str]:  # type: ignore[no-untyped-def]
    sh = require_program("sh")
    command = "printf '%s\\0' " + " ".join(quote(w) for w in words)
    if quote is cron_quote:
        command = command.replace("\\%", "%")  # what cron itself does before handing the line to sh
    out = subprocess.run([sh, "-c", command], capture_output=True, timeout=30, check=True).stdout
    return out.decode("utf-8").split("\0")[:-1]


def test_shell_and_cron_words_survive_sh() -> None:
    assert _sh_roundtrip(NASTY, shell_word) == NASTY
    assert _sh_roundtrip(NASTY, cron_quote) == NASTY
    assert "%" not in cron_quote("50%").replace("\\%", "")  # no bare % reaches cron


@settings(max_examples=30, deadline=None)
@given(st.lists(printable, min_size=1, max_size=8))
def test_any_printable_word_survives_cron_and_sh(words: list[str]) -> None:
    assert _sh_roundtrip(words, cron_quote) == words


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_yaml_quote_round_trips_through_pyyaml(text: str) -> None:
    if "${{" in text:
        with pytest.raises(UsageError):
            yaml_quote(text)
        return
    assert yaml.safe_load(f"key: {yaml_quote(text)}  # comment\n")["key"] == text


def test_systemd_quote() -> None:
    assert systemd_quote("/usr/bin/egress") == "/usr/bin/egress"
    assert systemd_quote("/srv/my config.toml") == '"/srv/my config.toml"'
    assert systemd_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert systemd_quote("100%") == '"100%%"' and systemd_quote("$HOME") == '"$$HOME"'
    with pytest.raises(UsageError, match="control character"):
        systemd_quote("a\nExecStartPre=/bin/evil")


@pytest.mark.parametrize(
    ("every", "calendar"),
    [
        ("weekly", "Tue *-*-* 05:23:00"),
        ("daily", "*-*-* 05:23:00"),
        ("0 */6 * * mon-fri", "Mon,Tue,Wed,Thu,Fri *-*-* 00,06,12,18:00:00"),
        ("30 2 1,15 jan *", "*-01-01,15 02:30:00"),
    ],
)
def test_on_calendar(every: str, calendar: str) -> None:
    assert on_calendar(parse_every(every)) == calendar

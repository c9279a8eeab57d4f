from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egress.errors import UsageError
from egress.render.quoting import bash_quote, powershell_quote
from tests.helpers import pwsh_problems, require_program

NASTY = ["", "'", "''", "a'b", "'; rm -rf /", "$(id)", "`id`", "a\nb", '"', "\\", "$HOME", "*", "-n", "\t"]


@pytest.mark.parametrize("value", NASTY)
def test_bash_quote_is_read_back_verbatim_by_bash(value: str) -> None:
    bash = require_program("bash")
    out = subprocess.run([bash, "-c", f"printf %s {bash_quote(value)}"], capture_output=True, check=True)
    assert out.stdout.decode("utf-8") == value


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40))
def test_bash_quote_round_trips_any_text(value: str) -> None:
    bash = require_program("bash")
    out = subprocess.run([bash, "-c", f"printf %s {bash_quote(value)}"], capture_output=True, check=True)
    assert out.stdout.decode("utf-8", "surrogateescape") == value


def test_quoting_refuses_nul() -> None:
    with pytest.raises(UsageError):
        bash_quote("a\x00b")
    with pytest.raises(UsageError):
        powershell_quote("a\x00b")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "'abc'"),
        ("it's", "'it''s'"),
        ("$(Remove-Item C:\\)", "'$(Remove-Item C:\\)'"),
        # PowerShell reads U+2018/2019/201A/201B as single quotes too (language spec, single-quote-character).
        ("a\u2019b", "'a\u2019\u2019b'"),
        ("a\u2018\u201a\u201bb", "'a\u2018\u2018\u201a\u201a\u201b\u201bb'"),
    ],
)
def test_powershell_quote(value: str, expected: str) -> None:
    assert powershell_quote(value) == expected


def _string_literals(source: str) -> list[str]:
    import tree_sitter
    import tree_sitter_pwsh

    data = source.encode("utf-8")
    tree = tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language())).parse(data)
    found, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "string_literal":
            found.append(data[node.start_byte : node.end_byte].decode("utf-8"))
        stack.extend(node.children)
    return found


@pytest.mark.parametrize("value", NASTY)
def test_powershell_quote_parses_as_one_string(value: str) -> None:
    quoted = powershell_quote(value)
    source = f"$x = {quoted}\nWrite-Output $x\n"
    assert pwsh_problems(source) == []
    assert _string_literals(source) == [quoted]


def test_unquoted_value_would_break_out() -> None:
    # Control for the test above: pasted raw between quotes, the value ends the string and a command follows.
    value = "a'; Remove-Item C:\\ ; '"
    assert _string_literals(f"$x = '{value}'\n") != [f"'{value}'"]


@pytest.mark.parametrize("value", ["azure_backup_v4", "egress", "T1"])
def test_token_passes_plain_names(value: str) -> None:
    from egress.render.quoting import token

    assert token(value) == value


@pytest.mark.parametrize("value", ["", "1x", "_x", "a b", "a;b", "a}", "a\nb", "é", "a-b"])
def test_token_refuses_anything_else(value: str) -> None:
    from egress.render.quoting import token

    with pytest.raises(UsageError):
        token(value)


@pytest.mark.parametrize("value", ["20.38.0.0/16", "2603:1030::/48", "1.2.3.4/32"])
def test_cidr_passes_canonical_prefixes(value: str) -> None:
    from egress.render.quoting import cidr

    assert cidr(value) == value


@pytest.mark.parametrize("value", ["20.38.0.1/16", "2603:1030:0::/48", "1.2.3.4", "1.2.3.0/24 }", "x"])
def test_cidr_refuses_anything_else(value: str) -> None:
    from egress.render.quoting import cidr

    with pytest.raises(UsageError):
        cidr(value)

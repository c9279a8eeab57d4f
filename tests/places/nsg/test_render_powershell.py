"""Az PowerShell script: parsed by tree-sitter-pwsh; each Add-AzNetworkSecurityRuleConfig call equals its rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from egress.places.nsg import render_powershell
from egress.places.nsg.planner import RuleSet
from egress.places.nsg.rules import PlannedRule
from egress.render.common import RenderTarget
from egress.render.header import Header
from egress.render.quoting import powershell_quote
from tests.helpers import assert_golden, assert_pwsh_parses, pwsh_problems
from tests.places.nsg import nsg_cases

_QUOTES = "'\u2018\u2019\u201a\u201b"


def _tree(text: str) -> tuple[Any, bytes]:
    ts = pytest.importorskip("tree_sitter", reason="tree-sitter is not installed (pip install '.[test]')")
    pwsh = pytest.importorskip("tree_sitter_pwsh", reason="tree-sitter-pwsh is not installed")
    source = text.encode("utf-8")
    return ts.Parser(ts.Language(pwsh.language())).parse(source), source


def _verbatim(raw: str) -> str:
    """A PowerShell verbatim string's value: outer quotes off, each doubled quote character halved."""
    assert raw[0] in _QUOTES and raw[-1] in _QUOTES, raw
    inner, out, i = raw[1:-1], [], 0
    while i < len(inner):
        ch = inner[i]
        if ch in _QUOTES:
            assert i + 1 < len(inner) and inner[i + 1] in _QUOTES, f"lone quote in {raw!r}"
            i += 1
        out.append(ch)
        i += 1
    return "".join(out)


def _walk(node: Any) -> list[Any]:
    out, stack = [], [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(current.children))
    return out


def _text(node: Any, source: bytes) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8")


def _value(node: Any, source: bytes) -> Any:
    """An argument: a variable (its name), an integer, a verbatim string or @(...) of verbatim strings.

    Anything else, such as an expandable "string", fails the test: nothing may be interpreted.
    """
    kinds = [n.type for n in _walk(node)]
    if kinds == ["unary_expression", "variable"]:
        return _text(node, source)
    assert "variable" not in kinds and "expandable_string_literal" not in kinds, _text(node, source)
    if "array_expression" in kinds:
        return [_verbatim(_text(n, source)) for n in _walk(node) if n.type == "verbatim_string_characters"]
    if "integer_literal" in kinds:
        return int(_text(node, source))
    (literal,) = [n for n in _walk(node) if n.type == "verbatim_string_characters"]
    return _verbatim(_text(literal, source))


def _calls(text: str, cmdlet: str) -> list[dict[str, Any]]:
    """Each call of `cmdlet` as {parameter: value}."""
    tree, source = _tree(text)
    calls = []
    for node in _walk(tree.root_node):
        if node.type != "command":
            continue
        name = node.child_by_field_name("command_name")
        if name is None or _text(name, source) != cmdlet:
            continue
        (elements,) = [c for c in node.children if c.type == "command_elements"]
        args = [c for c in elements.children if c.type != "command_argument_sep"]
        call: dict[str, Any] = {}
        for param, value in zip(args[::2], args[1::2], strict=True):
            assert param.type == "command_parameter", _text(param, source)
            key = _text(param, source)
            call[key] = _value(value, source)
        calls.append(call)
    return calls


def _expected(rule: PlannedRule) -> dict[str, Any]:
    return {
        "-NetworkSecurityGroup": "$nsg",
        "-Name": rule.name,
        "-Priority": rule.priority,
        "-Direction": rule.direction,
        "-Access": rule.access,
        "-Protocol": rule.protocol,
        "-SourceAddressPrefix": list(rule.source),
        "-SourcePortRange": list(rule.source_ports),
        "-DestinationAddressPrefix": list(rule.destination),
        "-DestinationPortRange": list(rule.destination_ports),
        "-Description": rule.description,
    }


def _script_parameters(text: str) -> dict[str, str | None]:
    tree, source = _tree(text)
    (block,) = [c for c in tree.root_node.children if c.type == "param_block"]
    params: dict[str, str | None] = {}
    for node in _walk(block):
        if node.type == "script_parameter":
            (variable,) = [c for c in node.children if c.type == "variable"]
            defaults = [n for n in _walk(node) if n.type == "verbatim_string_characters"]
            params[_text(variable, source)] = _verbatim(_text(defaults[0], source)) if defaults else None
    return params


@pytest.mark.parametrize("case", list(nsg_cases.CASES))
def test_golden(shared_data: Path, case: str) -> None:
    assert_golden(
        f"render/{case}/{render_powershell.FILE_NAME}", nsg_cases.render(shared_data, case, "powershell")
    )


@pytest.mark.parametrize("case", list(nsg_cases.CASES))
def test_parses_and_each_call_matches_its_rule(shared_data: Path, case: str) -> None:
    text = nsg_cases.render(shared_data, case, "powershell")
    assert text.startswith("<#\n    Generated by egress TEST. Do not edit: regenerate instead.\n")
    assert_pwsh_parses(text)
    assert "\n$ErrorActionPreference = 'Stop'\n" in text
    rules = nsg_cases.ruleset(shared_data, case).rules
    assert _calls(text, "Add-AzNetworkSecurityRuleConfig") == [_expected(rule) for rule in rules]
    # Idempotent: every rule of the same name goes first, and the NSG is read once and saved once, at the end.
    removed = _calls(text, "Remove-RuleIfPresent")
    assert removed == [{"-Nsg": "$nsg", "-Name": rule.name} for rule in rules]
    assert len(_calls(text, "Get-AzNetworkSecurityGroup")) == 1
    assert _calls(text, "Set-AzNetworkSecurityGroup") == [{"-NetworkSecurityGroup": "$nsg"}]
    assert text.index("Get-AzNetworkSecurityGroup -") < text.index("Add-AzNetworkSecurityRuleConfig -")
    assert text.rindex("Add-AzNetworkSecurityRuleConfig -") < text.index("Set-AzNetworkSecurityGroup -")


@pytest.mark.parametrize("case", list(nsg_cases.CASES))
def test_script_parameters_carry_the_rendered_names(shared_data: Path, case: str) -> None:
    text = nsg_cases.render(shared_data, case, "powershell")
    target = nsg_cases.CASES[case][1]
    assert _script_parameters(text) == {
        "$ResourceGroupName": target.resource_group,
        "$NsgName": target.name,
    }
    # tree-sitter-pwsh cannot read `param(...)` on the line of a `{`: every param block starts its own line.
    assert all(line.strip().startswith("param(") for line in text.splitlines() if "param(" in line)
    if target.name is None:
        assert text.count("[Parameter(Mandatory = $true)]") == 4  # two script parameters, two in the helper


def test_negative_control_breaking_a_quote_is_reported(shared_data: Path) -> None:
    text = nsg_cases.render(shared_data, "proxy", "powershell")
    broken = text.replace("-Name 'egress-allow-proxy' `", "-Name 'egress-allow-proxy `", 1)
    assert broken != text
    assert pwsh_problems(broken)


def test_hostile_values_stay_single_literal_arguments() -> None:
    hostile = 'it\'s ‘typographic’ $(Remove-Item C:\\) `$x "q" #> <# @(1) ; exit'
    rule = PlannedRule(
        name="x'y",
        direction="Outbound",
        access="Allow",
        protocol="Tcp",
        source=("VirtualNetwork",),
        destination=(hostile, "10.0.0.0/8", "a", "b", "c"),
        description=hostile,
        priority=300,
    )
    ruleset = RuleSet(rules=(rule,), spec=nsg_cases.CASES["proxy"][0], provenance={})
    text = render_powershell.render(
        ruleset, Header("TEST", hostile, hostile), RenderTarget(name="nsg1", resource_group="rg1")
    )
    assert_pwsh_parses(text)
    assert _calls(text, "Add-AzNetworkSecurityRuleConfig") == [_expected(rule)]
    assert powershell_quote(hostile) in text

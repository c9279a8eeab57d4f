"""Terraform: parsed by python-hcl2; every resource's arguments read back equal the planned rule."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egress.places.nsg import render_terraform
from egress.places.nsg.rules import PlannedRule
from egress.render.quoting import hcl_quote
from tests.helpers import assert_golden
from tests.places.nsg import nsg_cases
from tests.render.hclfmt import hcl_format

_TOKEN = re.compile(r'\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)|\$\$\{|%%\{|\$\{|%\{|"', re.DOTALL)
_SIMPLE = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}


def hcl_unescape(raw: str) -> str:
    """The text of an HCL quoted template with no interpolation (spec: escapes, `$${`, `%%{`), else an error."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("$${", "%%{"):
            return token[1:]
        if token in ("${", "%{", '"'):
            raise AssertionError(f"unescaped {token!r} in {raw!r}")
        escape = match.group(1)
        if escape[0] in "uU" and len(escape) > 1:
            return chr(int(escape[1:], 16))
        if escape not in _SIMPLE:
            raise AssertionError(f"invalid HCL escape \\{escape}")
        return _SIMPLE[escape]

    return _TOKEN.sub(one, raw)


def _hcl2() -> Any:
    return pytest.importorskip("hcl2", reason="python-hcl2 is not installed (pip install '.[test]')")


def _parse(text: str) -> dict[str, Any]:
    return _hcl2().load(io.StringIO(text))


def _string(value: Any) -> str:
    """python-hcl2 (v8) keeps a string's quotes and escapes: check the quotes, decode the rest."""
    assert isinstance(value, str) and value.startswith('"') and value.endswith('"'), value
    return hcl_unescape(value[1:-1])


def _resources(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for block in doc.get("resource", []):
        for kind, named in block.items():
            assert kind.strip('"') == "azurerm_network_security_rule"
            for label, body in named.items():
                out[label.strip('"')] = body
    return out


def _expected(rule: PlannedRule) -> dict[str, Any]:
    """The azurerm arguments for a rule, written out from the provider's documented names."""
    props = rule.to_arm()["properties"]
    expected: dict[str, Any] = {
        "name": rule.name,
        "priority": rule.priority,
        "direction": rule.direction,
        "access": rule.access,
        "protocol": rule.protocol,
        "description": rule.description,
    }
    for singular, plural, arm in (
        ("source_address_prefix", "source_address_prefixes", "sourceAddressPrefix"),
        ("destination_address_prefix", "destination_address_prefixes", "destinationAddressPrefix"),
        ("source_port_range", "source_port_ranges", "sourcePortRange"),
        ("destination_port_range", "destination_port_ranges", "destinationPortRange"),
    ):
        if arm in props:
            expected[singular] = props[arm]
        else:
            expected[plural] = props[arm.replace("Prefix", "Prefixes").replace("Range", "Ranges")]
    return expected


@pytest.mark.parametrize("case", list(nsg_cases.CASES))
def test_golden(shared_data: Path, case: str) -> None:
    assert_golden(
        f"render/{case}/{render_terraform.FILE_NAME}", nsg_cases.render(shared_data, case, "terraform")
    )


@pytest.mark.parametrize("case", list(nsg_cases.CASES))
def test_is_what_terraform_fmt_writes(shared_data: Path, case: str) -> None:
    """`terraform fmt -check` passes: hclwrite.Format (terraform fmt's formatter) changes nothing."""
    text = nsg_cases.render(shared_data, case, "terraform")
    assert hcl_format(text) == text


def test_fmt_aligns_single_line_arguments_only() -> None:
    """The rule behind the test above (hclwrite format.go): `key = [` opening a multi-line value is not aligned
    and ends the aligned run; hclwrite's own formatter agrees on the lines egress writes."""
    lines = render_terraform._lines(
        {
            "name": "n",
            "priority": 4096,
            "destination_address_prefixes": ["10.0.0.0/8", "11.0.0.0/8"],
            "description": "d",
            "depends_on": render_terraform.Reference(["azurerm_network_security_rule.a"]),
        }
    )
    assert lines == [
        'name     = "n"',
        "priority = 4096",
        "destination_address_prefixes = [",
        '  "10.0.0.0/8",',
        '  "11.0.0.0/8",',
        "]",
        'description = "d"',
        "depends_on = [",
        "  azurerm_network_security_rule.a,",
        "]",
    ]
    block = 'resource "x" "y" {\n' + "".join(f"  {line}\n" for line in lines) + "}\n"
    assert hcl_format(block) == block


@pytest.mark.parametrize("case", list(nsg_cases.CASES))
def test_parses_and_every_resource_matches_its_rule(shared_data: Path, case: str) -> None:
    text = nsg_cases.render(shared_data, case, "terraform")
    assert text.startswith("# Generated by egress TEST. Do not edit: regenerate instead.\n")
    doc = _parse(text)
    rules = nsg_cases.ruleset(shared_data, case).rules
    resources = _resources(doc)
    assert len(resources) == len(rules)
    variables = {name.strip('"'): body for block in doc["variable"] for name, body in block.items()}
    assert set(variables) == {"resource_group_name", "network_security_group_name"}
    target = nsg_cases.CASES[case][1]
    for name, given_value in (
        ("resource_group_name", target.resource_group),
        ("network_security_group_name", target.name),
    ):
        default = variables[name].get("default")
        assert (default and _string(default)) == given_value
    allows = [label for label, rule in zip(resources, rules, strict=True) if rule.access == "Allow"]
    for (label, body), rule in zip(resources.items(), rules, strict=True):
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", label)
        assert body["resource_group_name"] == "${var.resource_group_name}"
        assert body["network_security_group_name"] == "${var.network_security_group_name}"
        got = {
            key: (
                [_string(v) for v in value]
                if isinstance(value, list)
                else value
                if isinstance(value, int)
                else _string(value)
            )
            for key, value in body.items()
            if key not in ("resource_group_name", "network_security_group_name", "depends_on", "__is_block__")
        }
        assert got == _expected(rule), label
        if rule.access == "Deny":
            # Terraform creates resources in parallel: the deny waits for every allow.
            assert body["depends_on"] == [f"${{azurerm_network_security_rule.{a}}}" for a in allows]
        else:
            assert "depends_on" not in body


def test_plural_attributes_for_several_values(shared_data: Path) -> None:
    body = _resources(_parse(nsg_cases.render(shared_data, "ip-ranges-eastus", "terraform")))
    plural = [b for b in body.values() if "destination_address_prefixes" in b]
    singular = [b for b in body.values() if "destination_address_prefix" in b]
    assert plural and singular  # the real week has both shapes
    assert all(len(b["destination_address_prefixes"]) > 1 for b in plural)
    assert not any(
        "destination_address_prefixes" in b and "destination_address_prefix" in b for b in body.values()
    )


def test_syntax_errors_are_caught() -> None:
    # Negative control: the parser really rejects broken HCL (an unescaped quote ends the string early).
    with pytest.raises(Exception):  # noqa: B017 - lark raises its own error types
        _parse('x = "a"b"\n')


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))))
def test_quote_round_trips(text: str) -> None:
    quoted = hcl_quote(text)
    assert quoted[0] == quoted[-1] == '"'
    assert "\n" not in quoted
    assert hcl_unescape(quoted[1:-1]) == text


@pytest.mark.parametrize(
    "text", ['say "hi"', "a\\b", "${var.x}", "%{ if x }", "$${x}", "tab\there", "'; rm -rf /"]
)
def test_quoted_strings_parse(text: str) -> None:
    doc = _parse(f"x = {hcl_quote(text)}\n")
    assert _string(doc["x"]) == text

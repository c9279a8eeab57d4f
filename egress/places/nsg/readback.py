"""Read an earlier rendering back: the rules it creates (name, direction, priority) and those it left in the NSG.

`egress render --previous FILE` (and `--out DIR`, which reads the file it is about to replace) hands these to the
planner so a rule that survives keeps its priority and a new rule never takes one the earlier rendering held.
Every format egress writes can be read back, and so can `egress plan -o json`. Pure text parsing, no I/O.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from egress.errors import DataError
from egress.places.common import logical_lines
from egress.places.nsg import limits

# The comment line the scripts carry for each rule an earlier rendering created and this one dropped: scripts
# never delete rules, so it is still in the NSG with its priority (the template writes it, this reads it).
LEFT_LINE = re.compile(r"^#\s+left in the NSG: (\S+) (Inbound|Outbound) priority (\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Earlier:
    """What an earlier rendering puts in the NSG: its rules, and rules it knows earlier ones left there."""

    fmt: str
    rules: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (direction, priority)
    left: dict[str, tuple[str, int]] = field(default_factory=dict)

    def held(self, rule_prefix: str) -> dict[str, tuple[str, int]]:
        """Every egress rule (of this prefix) the NSG may hold once the earlier rendering is deployed."""
        both = {**self.left, **self.rules}
        return {name: value for name, value in both.items() if name.startswith(rule_prefix)}


def read_rendering(text: str, *, where: str) -> Earlier:
    """Parse any NSG rendering egress writes (arm, bicep, terraform, azcli, powershell, json, plan -o json)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        fmt, pairs = "json", _json_rules(stripped, where)
    elif 'resource "azurerm_network_security_rule"' in text:
        fmt, pairs = "terraform", _terraform_rules(text)
    elif "az network nsg rule create" in text:
        fmt, pairs = "azcli", _azcli_rules(text)
    elif "Add-AzNetworkSecurityRuleConfig" in text:
        fmt, pairs = "powershell", _powershell_rules(text)
    elif "Microsoft.Network/networkSecurityGroups@" in text:
        fmt, pairs = "bicep", _bicep_rules(text)
    else:
        raise DataError(
            f"{where}: not an NSG rendering of egress (arm, bicep, terraform, azcli, powershell or plan JSON)."
        )
    rules = _checked(pairs, where)
    if not rules:
        raise DataError(f"{where}: holds no security rule; give the file an earlier `egress render` wrote.")
    left = _checked(((m.group(1), m.group(2), m.group(3)) for m in LEFT_LINE.finditer(text)), where)
    return Earlier(fmt=fmt, rules=rules, left=left)


def _checked(pairs: Any, where: str) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for name, direction, priority in pairs:
        if not isinstance(name, str) or not limits.RULE_NAME.match(name):
            raise DataError(
                f"{where}: rule name {name!r} is not one Azure accepts; is this an egress rendering?"
            )
        if direction not in limits.DIRECTIONS:
            raise DataError(f"{where}: rule {name}: direction {direction!r} is neither Inbound nor Outbound.")
        try:
            number = int(priority)
        except (TypeError, ValueError):
            number = -1
        if isinstance(priority, bool) or not limits.MIN_PRIORITY <= number <= limits.MAX_PRIORITY:
            raise DataError(
                f"{where}: rule {name}: priority {priority!r} is outside Azure's range "
                f"{limits.MIN_PRIORITY}-{limits.MAX_PRIORITY}."
            )
        out[name] = (direction, number)
    return out


def _json_rules(text: str, where: str) -> Iterator[tuple[Any, Any, Any]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno}).") from None
    if not isinstance(doc, Mapping):
        raise DataError(f"{where}: a JSON rendering is an object.")
    if isinstance(doc.get("resources"), list):  # an ARM template
        rules: list[Any] = []
        for resource in doc["resources"]:
            if isinstance(resource, Mapping) and str(resource.get("type", "")).lower().endswith(
                "/networksecuritygroups"
            ):
                props = resource.get("properties")
                if isinstance(props, Mapping) and isinstance(props.get("securityRules"), list):
                    rules.extend(props["securityRules"])
    elif isinstance(doc.get("rules"), list):  # egress plan -o json / render --format json
        rules = doc["rules"]
    else:
        raise DataError(f"{where}: neither an ARM template nor `egress plan -o json` output.")
    for rule in rules:
        props = rule.get("properties") if isinstance(rule, Mapping) else None
        if not isinstance(props, Mapping):
            raise DataError(f"{where}: a security rule without `properties`.")
        yield rule.get("name"), props.get("direction"), props.get("priority")


_HCL_RESOURCE = re.compile(r'^resource\s+"azurerm_network_security_rule"\s+"[^"]*"\s*\{\s*$')
_HCL_ARG = re.compile(r'^\s*(name|priority|direction)\s*=\s*(?:"([^"\\]*)"|(\d+))\s*$')


def _terraform_rules(text: str) -> Iterator[tuple[Any, Any, Any]]:
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if _HCL_RESOURCE.match(line):
            current = {}
        elif current is not None and line.startswith("}"):
            yield current.get("name"), current.get("direction"), current.get("priority")
            current = None
        elif current is not None and (m := _HCL_ARG.match(line)):
            current[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)


def _azcli_rules(text: str) -> Iterator[tuple[Any, Any, Any]]:
    for line in logical_lines(text, "\\"):
        if not line.lstrip().startswith("az network nsg rule create"):
            continue
        words = shlex.split(line, comments=True)
        args = {words[i]: words[i + 1] for i in range(len(words) - 1) if words[i].startswith("--")}
        yield args.get("--name"), args.get("--direction"), args.get("--priority")


_PS_ARG = {
    "name": re.compile(r"-Name\s+'((?:[^']|'')*)'"),
    "direction": re.compile(r"-Direction\s+'(\w+)'"),
    "priority": re.compile(r"-Priority\s+(\d+)"),
}


def _powershell_rules(text: str) -> Iterator[tuple[Any, Any, Any]]:
    for line in logical_lines(text, "`"):
        if "Add-AzNetworkSecurityRuleConfig" not in line:
            continue
        found = {key: (m.group(1) if (m := rx.search(line)) else None) for key, rx in _PS_ARG.items()}
        yield found["name"], found["direction"], found["priority"]


_BICEP_NAME = re.compile(r"^\s*name: '((?:[^'\\]|\\.)*)'\s*$")
_BICEP_ARG = re.compile(r"^\s*(direction|priority): (?:'(\w+)'|(\d+))\s*$")


def _bicep_rules(text: str) -> Iterator[tuple[Any, Any, Any]]:
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if m := _BICEP_NAME.match(line):
            if current is not None:
                yield current.get("name"), current.get("direction"), current.get("priority")
            current = {"name": m.group(1)}
        elif current is not None and (m := _BICEP_ARG.match(line)):
            current[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
    if current is not None:
        yield current.get("name"), current.get("direction"), current.get("priority")

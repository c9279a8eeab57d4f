"""Read an earlier route-table rendering back: the routes it puts in the table (name, addressPrefix).

`egress render --place route-table --previous FILE` (and `--out DIR`, which reads the file it is about to
replace) hands them to the planner, so a budget cover keeps the routes it wrote last week while they remain a
good cover (egress.core.stable_cover). Every route format egress writes can be read, and so can
`egress plan -o json`. Pure text parsing, no I/O.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from typing import Any

from egress.errors import DataError
from egress.places.common import NAME, logical_lines
from egress.places.route_table.model import Route

# An ARM child resource's name: "[format('{0}/{1}', parameters('routeTableName'), 'NAME')]".
_ARM_NAME = re.compile(r"^\[format\('\{0\}/\{1\}', parameters\('routeTableName'\), '([^']*)'\)\]$")
_HCL_RESOURCE = re.compile(r'^resource\s+"azurerm_route"\s+"[^"]*"\s*\{\s*$')
_HCL_ARG = re.compile(r'^\s*(name|address_prefix)\s*=\s*"([^"\\]*)"\s*$')
_BICEP_RESOURCE = re.compile(r"^resource\s+\S+\s+'Microsoft\.Network/routeTables/routes@[^']*'\s*=\s*\{\s*$")
_BICEP_ARG = re.compile(r"^\s*(name|addressPrefix): '((?:[^'\\]|\\.)*)'\s*$")
_PS_ARG = {
    "name": re.compile(r"-Name\s+'((?:[^']|'')*)'"),
    "prefix": re.compile(r"-AddressPrefix\s+'((?:[^']|'')*)'"),
}


def read_routes(text: str, *, where: str) -> list[Route]:
    """The routes of any route-table rendering egress writes (arm, bicep, terraform, azcli, powershell, json)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        pairs = list(_json_routes(stripped, where))
    elif 'resource "azurerm_route"' in text:
        pairs = list(_terraform_routes(text))
    elif "az network route-table route create" in text:
        pairs = list(_azcli_routes(text))
    elif "Add-AzRouteConfig" in text:
        pairs = list(_powershell_routes(text))
    elif "Microsoft.Network/routeTables/routes@" in text:
        pairs = list(_bicep_routes(text))
    else:
        raise DataError(
            f"{where}: not a route-table rendering of egress (arm, bicep, terraform, azcli, powershell or plan "
            "JSON)."
        )
    routes: list[Route] = []
    for name, prefix in pairs:
        if not isinstance(name, str) or not NAME.match(name):
            raise DataError(
                f"{where}: route name {name!r} is not one Azure accepts; is this an egress rendering?"
            )
        if not isinstance(prefix, str) or not prefix.strip():
            raise DataError(f"{where}: route {name} has no addressPrefix.")
        routes.append(Route(name, prefix.strip(), "None"))  # the next hop is the plan's, whatever it was
    if not routes:
        raise DataError(f"{where}: holds no route; give the file an earlier `egress render` wrote.")
    return routes


def _json_routes(text: str, where: str) -> Iterator[tuple[Any, Any]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno}).") from None
    if not isinstance(doc, Mapping):
        raise DataError(f"{where}: a JSON rendering is an object.")
    if isinstance(doc.get("resources"), list):  # an ARM template
        for resource in doc["resources"]:
            if not isinstance(resource, Mapping) or not str(resource.get("type", "")).lower().endswith(
                "/routetables/routes"
            ):
                continue
            match = _ARM_NAME.match(str(resource.get("name", "")))
            props = resource.get("properties")
            yield (
                match.group(1) if match else resource.get("name"),
                props.get("addressPrefix") if isinstance(props, Mapping) else None,
            )
    elif isinstance(doc.get("routes"), list):  # egress plan -o json / render --format json
        for route in doc["routes"]:
            props = route.get("properties") if isinstance(route, Mapping) else None
            if not isinstance(props, Mapping):
                raise DataError(f"{where}: a route without `properties`.")
            yield route.get("name"), props.get("addressPrefix")
    else:
        raise DataError(f"{where}: neither an ARM template nor `egress plan -o json` output of routes.")


def _blocks(text: str, start: re.Pattern[str], arg: re.Pattern[str]) -> Iterator[tuple[Any, Any]]:
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if start.match(line):
            current = {}
        elif current is not None and line.startswith("}"):
            yield current.get("name"), current.get("address_prefix", current.get("addressPrefix"))
            current = None
        elif current is not None and (m := arg.match(line)):
            current.setdefault(m.group(1), m.group(2))


def _terraform_routes(text: str) -> Iterator[tuple[Any, Any]]:
    return _blocks(text, _HCL_RESOURCE, _HCL_ARG)


def _bicep_routes(text: str) -> Iterator[tuple[Any, Any]]:
    return _blocks(text, _BICEP_RESOURCE, _BICEP_ARG)


def _azcli_routes(text: str) -> Iterator[tuple[Any, Any]]:
    for line in logical_lines(text, "\\"):
        if not line.lstrip().startswith("az network route-table route create"):
            continue
        words = shlex.split(line, comments=True)
        args = {words[i]: words[i + 1] for i in range(len(words) - 1) if words[i].startswith("--")}
        yield args.get("--name"), args.get("--address-prefix")


def _powershell_routes(text: str) -> Iterator[tuple[Any, Any]]:
    for line in logical_lines(text, "`"):
        if "Add-AzRouteConfig" not in line:
            continue
        found = {
            k: (m.group(1).replace("''", "'") if (m := rx.search(line)) else None)
            for k, rx in _PS_ARG.items()
        }
        yield found["name"], found["prefix"]

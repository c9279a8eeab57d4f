"""The places egress writes to: NSGs, route tables, firewall policies and exported allow-lists, each a sibling
package here (model, planner or export, limits, renderers or formats, target).

The places `plan`, `render`, `apply`, `refresh` and `lint` take with `--place` are registered below: one object
implementing `Place` each, found by name, so the commands never ask which place it is. The exported allow-list
(allowlist/) is written by `egress ranges export` and refresh's `[[exports]]`, not through `--place`.

Adding a place is adding a package with a `place.py` whose `PLACE` implements the protocol (base.DocumentPlace does
most of it for a place whose target is one ARM document of named items), and one line below. A place imports only
neutral modules (egress.core, egress.render, egress.adapters, places.common/base) and its own, not another
place's (one exception: the firewall policy's second artifact is a route table, planned by route_table).
The registry names modules, not objects, so a command loads only the place it runs (and `egress --help` none).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from egress.errors import UsageError

if TYPE_CHECKING:
    from egress.core.model import Dataset, ServiceTag
    from egress.core.spec import EgressSpec
    from egress.render.header import Header

DEFAULT_PLACE = "nsg"

# name -> the module whose `PLACE` is that place (a literal table: the tree and this list say the same thing).
PLACES: dict[str, str] = {
    "nsg": "egress.places.nsg.place",
    "route-table": "egress.places.route_table.place",
    "firewall-policy": "egress.places.firewall_policy.place",
}


@dataclass(frozen=True, slots=True)
class Format:
    """One output format of a place: the file it writes and how: renderer(planned, header, target) -> the
    text of `file_name`, or {file name: text} for a place writing more than one artifact."""

    name: str
    file_name: str
    render: Callable[[Any, Header, Any], str | dict[str, str]]
    mode: int | None = None  # None: 0666 minus the umask


class Place(Protocol):
    """What every verb needs from a place. `planned` is the place's plan result (with `.spec`, `.provenance`,
    `.notes` and `to_json()`); an apply plan has `.changes`, `.has_changes`, `counts()`, `check_safety()`,
    `to_json()`, `.ruleset` (the planned result) and `.rules_after` (what the target's write takes)."""

    name: str
    title: str  # "network security group", for messages
    arm_type: str  # Microsoft.Network/...
    checks_nsg_flags: bool  # whether the NSG's option/flag combinations apply
    own_lint: bool  # False: `egress lint` runs the NSG's analysis; True: `lint()` below gives the report
    own_verify: bool  # False: `egress verify` evaluates an NSG; True: `verify()` below answers
    keeps_priorities: bool  # whether `plan(earlier=...)` takes an earlier rendering's priorities (--previous)

    def check_spec(self, spec: EgressSpec, given: Mapping[str, Any]) -> None: ...

    def plan(self, spec: EgressSpec, dataset: Dataset, *, earlier: Any = None) -> Any: ...

    def plan_table(self, planned: Any) -> str: ...

    def formats(self) -> Mapping[str, Format]: ...

    def used_tags(self, spec: EgressSpec, dataset: Dataset) -> tuple[ServiceTag, ...]: ...

    def open_target(self, target: str, **azure: Any) -> Any: ...

    def plan_apply(self, snapshot: Any, spec: EgressSpec, dataset: Dataset) -> Any: ...

    def plan_text(self, plan: Any, label: str) -> str: ...

    def lint(self, target: str, dataset: Dataset, **azure: Any) -> Any:
        """(resource name, item count, egress.core.lint_report.LintReport) of the document at `target`."""

    def verify(
        self,
        target: str,
        dataset: Dataset,
        dest: str,
        vnet: tuple[str, ...],
        expect: str | None,
        **azure: Any,
    ) -> tuple[dict[str, Any], bool | None]:
        """(a JSON-ready answer with a `lines` list for text output, as expected or None) for `dest`."""


def get_place(name: str | None) -> Place:
    """The place called `name` (case-insensitive); a one-line UsageError lists the known ones."""
    key = (name or DEFAULT_PLACE).strip().lower()
    module = PLACES.get(key)
    if module is None:
        raise UsageError(f"unknown --place {name!r}: use one of {', '.join(PLACES)}.")
    place: Place = importlib.import_module(module).PLACE
    return place


def format_of(place: Place, name: str) -> Format:
    """A place's format by name (case-insensitive), or a one-line UsageError listing the place's formats."""
    formats = place.formats()
    key = name.lower() if isinstance(name, str) else ""
    if key not in formats:
        raise UsageError(f"unknown --format {name!r}: use one of {', '.join(formats)}.")
    return formats[key]

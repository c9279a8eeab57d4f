"""The delegation every place shares: a place names its package, and each verb imports the one module of that
package it needs when it runs (so `egress --help` loads no place and `plan` no target or Azure adapter).

`PlaceBase` is what every place has; `DocumentPlace` is a place whose target is one ARM document of named items
(a route table's routes, a rule collection group's collections), planned, applied and linted the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from egress.core.model import Dataset, ServiceTag
    from egress.core.spec import EgressSpec


class PlaceBase:
    package: str  # "egress.places.route_table": the place's modules are this package's

    def module(self, name: str) -> ModuleType:
        """The place's module `name` (planner, output, target, lint, ...), imported on first use."""
        return importlib.import_module(f"{self.package}.{name}")

    def used_tags(self, spec: EgressSpec, dataset: Dataset) -> tuple[ServiceTag, ...]:
        from egress.core.selection import used_tags

        return used_tags(spec, dataset)

    def open_target(self, target: str, **azure: Any) -> Any:
        return self.module("target").open_target(target, **azure)


class DocumentPlace(PlaceBase):
    """A place whose planner has `check_spec`, a builder and `plan_apply(model, spec, dataset)`, whose target
    reads a snapshot with `.model`, and whose apply plan is egress.places.common's ItemApplyPlan."""

    checks_nsg_flags = False
    own_lint = True
    own_verify = True
    keeps_priorities = False
    build: str  # the planner's function (spec, dataset) -> the plan
    table: str  # the output module's function (plan) -> the text table
    check: str  # the lint module's function (model, dataset) -> LintReport
    items: str  # the model's attribute holding its items (what lint counts)

    def check_spec(self, spec: EgressSpec, given: Mapping[str, Any]) -> None:
        self.module("planner").check_spec(spec, dict(given))

    def plan(self, spec: EgressSpec, dataset: Dataset, *, earlier: Any = None) -> Any:
        return getattr(self.module("planner"), self.build)(spec, dataset)

    def plan_table(self, planned: Any) -> str:
        text: str = getattr(self.module("output"), self.table)(planned)
        return text

    def plan_apply(self, snapshot: Any, spec: EgressSpec, dataset: Dataset) -> Any:
        return self.module("planner").plan_apply(snapshot.model, spec, dataset)

    def plan_text(self, plan: Any, label: str) -> str:
        from egress.places.common import plan_text

        return plan_text(plan, label)

    def read_model(self, target: str, **azure: Any) -> Any:
        """The parsed document at `target`, the source closed whatever happens."""
        source = self.open_target(target, **azure)
        try:
            return source.read().model
        finally:
            source.close()

    def lint(self, target: str, dataset: Dataset, **azure: Any) -> Any:
        model = self.read_model(target, **azure)
        report = getattr(self.module("lint"), self.check)(model, dataset)
        return model.name, len(getattr(model, self.items)), report

"""The route table as a place (the registry's entry; its modules are this package's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from egress.places import Format

if TYPE_CHECKING:
    from egress.core.model import Dataset, ServiceTag
    from egress.core.spec import EgressSpec


class RouteTablePlace:
    name = "route-table"
    title = "route table"
    arm_type = "Microsoft.Network/routeTables"
    checks_nsg_flags = False
    own_lint = True

    def check_spec(self, spec: EgressSpec, given: Mapping[str, Any]) -> None:
        from egress.places.route_table.planner import check_spec

        check_spec(spec, dict(given))

    def plan(self, spec: EgressSpec, dataset: Dataset) -> Any:
        from egress.places.route_table.planner import build_routes

        return build_routes(spec, dataset)

    def plan_table(self, planned: Any) -> str:
        from egress.places.route_table.output import routes_table

        return routes_table(planned)

    def formats(self) -> Mapping[str, Format]:
        from egress.places.route_table import render_arm, render_json
        from egress.places.route_table import render_text as t

        return {
            "arm": Format("arm", render_arm.FILE_NAME, render_arm.render),
            "bicep": Format("bicep", t.BICEP_FILE, t.render_bicep),
            "terraform": Format("terraform", t.TERRAFORM_FILE, t.render_terraform),
            "azcli": Format("azcli", t.AZCLI_FILE, t.render_azcli, t.AZCLI_MODE),
            "powershell": Format("powershell", t.POWERSHELL_FILE, t.render_powershell),
            "json": Format("json", render_json.FILE_NAME, render_json.render),
        }

    def used_tags(self, spec: EgressSpec, dataset: Dataset) -> tuple[ServiceTag, ...]:
        from egress.core.planner import used_tags

        return used_tags(spec, dataset)

    def open_target(self, target: str, **azure: Any) -> Any:
        from egress.places.route_table.target import open_target

        return open_target(target, **azure)

    def plan_apply(self, snapshot: Any, spec: EgressSpec, dataset: Dataset) -> Any:
        from egress.places.route_table.planner import plan_apply

        return plan_apply(snapshot.model, spec, dataset)

    def plan_text(self, plan: Any, label: str) -> str:
        from egress.places.common import plan_text

        return plan_text(plan, label)

    def lint(self, target: str, dataset: Dataset, **azure: Any) -> Any:
        from egress.places.route_table.lint import lint_routes

        source = self.open_target(target, **azure)
        try:
            table = source.read().model
        finally:
            source.close()
        return table.name, len(table.routes), lint_routes(table, dataset)


PLACE = RouteTablePlace()

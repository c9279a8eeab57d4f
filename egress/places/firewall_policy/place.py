"""The firewall policy as a place (the registry's entry; its modules are this package's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from egress.places import Format

if TYPE_CHECKING:
    from egress.core.model import Dataset, ServiceTag
    from egress.core.spec import EgressSpec


class FirewallPolicyPlace:
    name = "firewall-policy"
    title = "firewall policy rule collection group"
    arm_type = "Microsoft.Network/firewallPolicies/ruleCollectionGroups"
    checks_nsg_flags = False
    own_lint = True
    own_verify = True
    keeps_priorities = False

    def check_spec(self, spec: EgressSpec, given: Mapping[str, Any]) -> None:
        from egress.places.firewall_policy.planner import check_spec

        check_spec(spec, dict(given))

    def plan(self, spec: EgressSpec, dataset: Dataset, *, earlier: Any = None) -> Any:
        from egress.places.firewall_policy.planner import build_policy

        return build_policy(spec, dataset)

    def plan_table(self, planned: Any) -> str:
        from egress.places.firewall_policy.output import firewall_table

        return firewall_table(planned)

    def formats(self) -> Mapping[str, Format]:
        from egress.places.firewall_policy import render_arm as a
        from egress.places.firewall_policy import render_text as t

        return {
            "arm": Format("arm", a.ARM_FILE, a.render_arm),
            "bicep": Format("bicep", t.BICEP_FILE, t.render_bicep),
            "terraform": Format("terraform", t.TERRAFORM_FILE, t.render_terraform),
            "azcli": Format("azcli", t.AZCLI_FILE, t.render_azcli, t.AZCLI_MODE),
            "powershell": Format("powershell", t.POWERSHELL_FILE, t.render_powershell),
            "json": Format("json", a.JSON_FILE, a.render_json),
        }

    def used_tags(self, spec: EgressSpec, dataset: Dataset) -> tuple[ServiceTag, ...]:
        from egress.core.planner import used_tags

        return used_tags(spec, dataset)

    def open_target(self, target: str, **azure: Any) -> Any:
        from egress.places.firewall_policy.target import open_target

        return open_target(target, **azure)

    def plan_apply(self, snapshot: Any, spec: EgressSpec, dataset: Dataset) -> Any:
        from egress.places.firewall_policy.planner import plan_apply

        return plan_apply(snapshot.model, spec, dataset)

    def plan_text(self, plan: Any, label: str) -> str:
        from egress.places.common import plan_text

        return plan_text(plan, label)

    def lint(self, target: str, dataset: Dataset, **azure: Any) -> Any:
        from egress.places.firewall_policy.lint import lint_group

        source = self.open_target(target, **azure)
        try:
            group = source.read().model
        finally:
            source.close()
        return group.name, len(group.collections), lint_group(group, dataset)

    def verify(self, target: str, dataset: Dataset, dest: str, vnet: tuple[str, ...], expect: str | None,
               **azure: Any) -> tuple[dict[str, Any], bool | None]:  # fmt: skip
        from egress.errors import UsageError

        raise UsageError(
            "verify evaluates NSGs and route tables; a firewall's decision also depends on rules of other groups "
            "and its parent policy: use `egress lint --place firewall-policy` for the group itself."
        )


PLACE = FirewallPolicyPlace()

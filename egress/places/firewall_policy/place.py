"""The firewall policy as a place (the registry's entry; its modules are this package's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from egress.places import Format
from egress.places.base import DocumentPlace

if TYPE_CHECKING:
    from egress.core.model import Dataset


class FirewallPolicyPlace(DocumentPlace):
    name = "firewall-policy"
    title = "firewall policy rule collection group"
    arm_type = "Microsoft.Network/firewallPolicies/ruleCollectionGroups"
    package = "egress.places.firewall_policy"
    build, table, check, items = "build_policy", "firewall_table", "lint_group", "collections"

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

    def verify(self, target: str, dataset: Dataset, dest: str, vnet: tuple[str, ...], expect: str | None,
               **azure: Any) -> tuple[dict[str, Any], bool | None]:  # fmt: skip
        from egress.errors import UsageError

        raise UsageError(
            "verify evaluates NSGs and route tables; a firewall's decision also depends on rules of other groups "
            "and its parent policy: use `egress lint --place firewall-policy` for the group itself."
        )


PLACE = FirewallPolicyPlace()

"""The NSG as a place (the registry's entry; its modules are this package's, imported when a verb needs them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from egress.errors import UsageError
from egress.places import Format
from egress.places.base import PlaceBase

if TYPE_CHECKING:
    from egress.core.model import Dataset
    from egress.core.spec import EgressSpec

# Flags of other places, by spec field: given with --place nsg they would be silently ignored.
_OTHER_PLACES = {
    "next_hop": "--next-hop",
    "next_hop_ip": "--next-hop-ip",
    "vnet": "--vnet",
    "firewall_ip": "--firewall-ip",
    "rcg_name": "--rcg-name",
}


class NsgPlace(PlaceBase):
    name = "nsg"
    title = "network security group"
    arm_type = "Microsoft.Network/networkSecurityGroups"
    package = "egress.places.nsg"
    checks_nsg_flags = True
    own_lint = False  # `egress lint` has the NSG's own analysis (egress.places.nsg.lint) and output
    own_verify = False  # so has `egress verify` (egress.places.nsg.evaluate)
    keeps_priorities = True  # --previous: an earlier rendering's rules keep their priorities

    def check_spec(self, spec: EgressSpec, given: Mapping[str, Any]) -> None:
        for field, flag in _OTHER_PLACES.items():
            if field in given:
                raise UsageError(f"{flag} applies to --place route-table or firewall-policy, not the NSG.")
        spec.nsg_validated()

    def plan(self, spec: EgressSpec, dataset: Dataset, *, earlier: Any = None) -> Any:
        from egress.places.nsg.planner import build_rules
        from egress.places.nsg.validate import ensure_valid

        ruleset = build_rules(spec, dataset, earlier=earlier)
        ensure_valid([r.to_arm() for r in ruleset.rules])
        return ruleset

    def plan_table(self, planned: Any) -> str:
        from egress.places.nsg.output import rules_table

        return rules_table(planned)

    def formats(self) -> Mapping[str, Format]:
        from egress.places.nsg.formats import FORMATS

        return {name: Format(f.name, f.file_name, f.render, f.mode) for name, f in FORMATS.items()}

    def plan_apply(self, snapshot: Any, spec: EgressSpec, dataset: Dataset) -> Any:
        from egress.places.nsg.reconcile import plan_apply

        return plan_apply(
            snapshot.nsg,
            spec,
            dataset,
            raw_rules=snapshot.raw_rules,
            repair=getattr(snapshot, "repair", None),
        )

    def plan_text(self, plan: Any, label: str) -> str:
        from egress.places.nsg.apply_output import plan_text

        return plan_text(plan, label)

    def lint(self, target: str, dataset: Dataset, **azure: Any) -> Any:
        raise NotImplementedError("the NSG is linted by egress.places.nsg.lint (own_lint is False)")

    def verify(
        self,
        target: str,
        dataset: Dataset,
        dest: str,
        vnet: tuple[str, ...],
        expect: str | None,
        **azure: Any,
    ) -> tuple[dict[str, Any], bool | None]:
        raise NotImplementedError("the NSG is verified by egress.places.nsg.evaluate (own_verify is False)")


PLACE = NsgPlace()

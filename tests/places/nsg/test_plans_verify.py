"""The rule engine's plans, evaluated offline as Azure would: Backup's destinations allowed, the Internet denied."""

from __future__ import annotations

from pathlib import Path

import pytest

from egress.adapters.datastore import load_file
from egress.core.spec import BACKUP_TAGS, EgressSpec
from egress.places.nsg.evaluate import Flow, check_tag, evaluate
from egress.places.nsg.model import parse_nsg_document
from egress.places.nsg.planner import build_rules

VM = "10.0.0.4"


@pytest.fixture(scope="module")
def week(shared_data: Path):
    return load_file(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")


def nsg_for(spec: EgressSpec, dataset):
    rules = [r.to_arm() for r in build_rules(spec, dataset).rules]
    return parse_nsg_document({"name": "planned", "properties": {"securityRules": rules}})


@pytest.mark.parametrize("option", ["service-tags", "ip-ranges"])
def test_backup_tags_allowed_and_internet_denied(week, option: str) -> None:
    nsg = nsg_for(EgressSpec(option=option, region="eastus"), week)
    for template in BACKUP_TAGS:
        tag = template.format(region="EastUS")
        result = check_tag(nsg, week, tag, 443, "Tcp", VM)
        assert result.all_allowed, (tag, [p.destinations for p in result.denied][:3])
        assert {p.rule.name for p in result.allowed if p.rule} <= {r.name for r in nsg.rules}
        # The same destinations on another port fall to the deny rule, not the default allow.
        other = check_tag(nsg, week, tag, 80, "Tcp", VM)
        assert other.all_denied
        assert {p.rule.name for p in other.denied if p.rule} == {"egress-deny-internet"}
    verdict = evaluate(nsg, Flow(VM, "8.8.8.8", 443), week)
    assert (verdict.access, verdict.rule.name) == ("Deny", "egress-deny-internet")
    # VNet-internal traffic still follows Azure's default AllowVnetOutBound.
    inside = evaluate(nsg, Flow(VM, "10.0.1.9", 22), week)
    assert inside.allowed and inside.default


def test_unrelated_region_storage_is_denied(week) -> None:
    nsg = nsg_for(EgressSpec(option="service-tags", tags=("Storage.EastUS",)), week)
    result = check_tag(nsg, week, "Storage.WestUS", 443, "Tcp", VM)
    assert not result.all_allowed and result.denied


def test_proxy_plan_lets_only_the_proxy_out(week) -> None:
    nsg = nsg_for(EgressSpec(option="proxy", proxy_ip="10.0.0.5", proxy_port=3128), week)
    assert evaluate(nsg, Flow("10.0.0.5", "8.8.8.8", 443), week).rule.name == "egress-allow-proxy"
    assert evaluate(nsg, Flow("10.0.0.5", "8.8.8.8", 80), week).allowed
    assert evaluate(nsg, Flow("10.0.0.5", "8.8.8.8", 22), week).rule.name == "egress-deny-internet"
    vm_out = evaluate(nsg, Flow(VM, "8.8.8.8", 443), week)
    assert (vm_out.access, vm_out.rule.name) == ("Deny", "egress-deny-internet")
    to_proxy = evaluate(nsg, Flow(VM, "10.0.0.5", 3128), week)
    assert to_proxy.allowed and to_proxy.rule.name == "egress-allow-to-proxy"


def test_proxy_subnet_nsg_admits_the_vnet_on_the_proxy_port(week) -> None:
    nsg = nsg_for(EgressSpec(option="proxy", proxy_ip="10.0.0.5", for_nsg="proxy"), week)
    inbound = evaluate(nsg, Flow(VM, "10.0.0.5", 3128, direction="Inbound"), week)
    assert inbound.allowed and inbound.rule.name == "egress-allow-vnet-to-proxy"
    internet_in = evaluate(nsg, Flow("8.8.8.8", "10.0.0.5", 3128, direction="Inbound"), week)
    assert not internet_in.allowed

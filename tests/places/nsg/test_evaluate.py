"""Hand-computed verdicts: each default rule, each kind of rule field, tag splits, real service-tag data."""

from __future__ import annotations

import ipaddress
import re

import pytest

from egress.core.model import Dataset, Provenance, ServiceTag
from egress.errors import TargetError, UnknownTagError, UsageError
from egress.places.nsg.evaluate import Flow, Query, check_tag, evaluate, evaluate_space
from egress.places.nsg.model import Nsg, SecurityRule
from tests.conftest import SHARED_DATA

PUBLIC_20250127_SHA = "870cdf2845dbe73a3b373b768715b1c79dc084ab7e7d9e01e5e69d6ee668938b"
VNET = ("10.0.0.0/16",)


def rule(
    name: str,
    priority: int,
    access: str = "Allow",
    *,
    direction: str = "Outbound",
    protocol: str = "*",
    src: str | list[str] = "*",
    dst: str | list[str] = "*",
    sport: str | list[str] = "*",
    dport: str | list[str] = "*",
    extra: dict[str, object] | None = None,
) -> SecurityRule:
    def split(value: str | list[str]) -> tuple[str | None, tuple[str, ...]]:
        return (value, ()) if isinstance(value, str) else (None, tuple(value))

    (s1, sn), (d1, dn), (p1, pn), (q1, qn) = split(src), split(dst), split(sport), split(dport)
    return SecurityRule(
        name, priority, direction, access, protocol, s1, sn, d1, dn, p1, pn, q1, qn, extra=extra or {}
    )


def make_nsg(*rules: SecurityRule) -> Nsg:
    return Nsg(name="test", rules=list(rules))


def tiny_dataset() -> Dataset:
    prov = Provenance(
        cloud="Public", change_number=1, source="test", kind="file", sha256="0", file_date="2025-01-01"
    )
    return Dataset(
        prov,
        (
            ServiceTag("Storage.Test", region="test", prefixes=("20.0.0.0/24", "20.0.1.0/24", "2603::/64")),
            ServiceTag("Backup.Test", region="test", prefixes=("40.0.0.0/26",)),
        ),
    )


DATA = tiny_dataset()


def verdict(nsg: Nsg, src: str, dst: str, port: int | None = 443, **kw: object) -> tuple[str, str | None]:
    v = evaluate(nsg, Flow(src, dst, port, **kw), DATA, vnet=VNET)  # type: ignore[arg-type]
    return v.access, v.rule_name


# ------------------------------------------------------------------------------------------ default rules


@pytest.mark.parametrize(
    ("direction", "src", "dst", "expected"),
    [
        ("Inbound", "10.0.1.4", "10.0.0.4", ("Allow", "AllowVnetInBound")),
        # 168.63.129.16 is inside VirtualNetwork too (host VIP), so the LB rule decides only outside the VNet.
        ("Inbound", "168.63.129.16", "20.1.1.1", ("Allow", "AllowAzureLoadBalancerInBound")),
        ("Inbound", "8.8.8.8", "10.0.0.4", ("Deny", "DenyAllInBound")),
        ("Outbound", "10.0.0.4", "10.0.200.5", ("Allow", "AllowVnetOutBound")),
        ("Outbound", "10.0.0.4", "8.8.8.8", ("Allow", "AllowInternetOutBound")),
        (
            "Outbound",
            "10.0.0.4",
            "20.0.0.9",
            ("Allow", "AllowInternetOutBound"),
        ),  # Azure's public IPs are Internet
        # A private address outside the VNet is neither VirtualNetwork nor Internet.
        ("Outbound", "10.0.0.4", "172.16.0.1", ("Deny", "DenyAllOutBound")),
        ("Outbound", "10.0.0.4", "10.1.0.1", ("Deny", "DenyAllOutBound")),
    ],
)
def test_each_default_rule(direction: str, src: str, dst: str, expected: tuple[str, str]) -> None:
    v = evaluate(make_nsg(), Flow(src, dst, 443, direction=direction), DATA, vnet=VNET)
    assert (v.access, v.rule_name) == expected
    assert v.default and v.priority in (65000, 65001, 65500)


def test_default_vnet_is_rfc1918() -> None:
    v = evaluate(make_nsg(), Flow("10.0.0.4", "172.16.0.1", 443), DATA)
    assert (v.access, v.rule_name) == ("Allow", "AllowVnetOutBound")
    v = evaluate(
        make_nsg(), Flow("10.0.0.4", "100.64.0.1", 443), DATA
    )  # shared space: not VNet, not Internet
    assert (v.access, v.rule_name) == ("Deny", "DenyAllOutBound")


def test_ipv6_flows() -> None:
    vnet = ("10.0.0.0/16", "fd00::/64")
    v = evaluate(make_nsg(), Flow("fd00::4", "2603::1", 443), DATA, vnet=vnet)
    assert v.rule_name == "AllowInternetOutBound"
    v = evaluate(
        make_nsg(rule("DenyV4", 100, "Deny", dst="0.0.0.0/0")),
        Flow("fd00::4", "2603::1", 443),
        DATA,
        vnet=vnet,
    )
    assert v.rule_name == "AllowInternetOutBound"  # 0.0.0.0/0 is IPv4 only
    v = evaluate(
        make_nsg(rule("DenyAll", 100, "Deny", dst="*")), Flow("fd00::4", "2603::1", 443), DATA, vnet=vnet
    )
    assert v.rule_name == "DenyAll"
    with pytest.raises(UsageError, match="both be IPv4 or both be IPv6"):
        evaluate(make_nsg(), Flow("10.0.0.4", "2603::1", 443), DATA, vnet=vnet)


# ------------------------------------------------------------------------------------------ custom rules


def test_lower_priority_number_wins_whatever_the_list_order() -> None:
    nsg = make_nsg(rule("DenyAll", 200, "Deny"), rule("Allow443", 100, protocol="Tcp", dport="443"))
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", 443) == ("Allow", "Allow443")
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", 80) == ("Deny", "DenyAll")


def test_protocol_matching() -> None:
    nsg = make_nsg(
        rule("DenyUdp", 100, "Deny", protocol="Udp"), rule("DenyIcmp", 110, "Deny", protocol="Icmp")
    )
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", 53, protocol="Udp") == ("Deny", "DenyUdp")
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", 53, protocol="Tcp") == ("Allow", "AllowInternetOutBound")
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", None, protocol="Icmp") == ("Deny", "DenyIcmp")
    esp = make_nsg(rule("DenyAny", 100, "Deny", protocol="*"))
    assert verdict(esp, "10.0.0.4", "8.8.8.8", None, protocol="Esp") == ("Deny", "DenyAny")


def test_ports_only_apply_to_tcp_and_udp() -> None:
    nsg = make_nsg(
        rule("Deny443", 100, "Deny", protocol="*", dport="443"),
        rule("DenyRest", 200, "Deny", protocol="Icmp"),
    )
    # A rule naming a port cannot match ICMP, so ICMP falls through to the next rule.
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", None, protocol="Icmp") == ("Deny", "DenyRest")
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", 443, protocol="Udp") == ("Deny", "Deny443")


@pytest.mark.parametrize(
    ("port", "expected"), [(79, "DenyAll"), (80, "AllowWeb"), (443, "AllowWeb"), (444, "DenyAll")]
)
def test_port_range_boundaries(port: int, expected: str) -> None:
    nsg = make_nsg(rule("AllowWeb", 100, protocol="Tcp", dport="80-443"), rule("DenyAll", 4096, "Deny"))
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", port)[1] == expected


@pytest.mark.parametrize(
    ("port", "expected"), [(22, "Allow"), (7999, "Deny"), (8000, "Allow"), (8002, "Allow"), (8003, "Deny")]
)
def test_plural_port_ranges(port: int, expected: str) -> None:
    nsg = make_nsg(
        rule("AllowSome", 100, protocol="Tcp", dport=["22", "8000-8002"]), rule("DenyAll", 4096, "Deny")
    )
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", port)[0] == expected


def test_plural_and_singular_address_prefixes() -> None:
    nsg = make_nsg(
        rule("FromSubnets", 100, src=["10.0.1.0/24", "10.0.3.7"], dst="8.8.8.8"),
        rule("DenyAll", 4096, "Deny"),
    )
    assert verdict(nsg, "10.0.1.200", "8.8.8.8")[1] == "FromSubnets"
    assert verdict(nsg, "10.0.3.7", "8.8.8.8")[1] == "FromSubnets"
    assert verdict(nsg, "10.0.3.8", "8.8.8.8")[1] == "DenyAll"
    assert verdict(nsg, "10.0.1.200", "8.8.4.4")[1] == "DenyAll"


def test_service_tags_case_insensitive_and_internet_deny() -> None:
    nsg = make_nsg(
        rule("AllowStorage", 100, protocol="Tcp", dst="storage.test", dport="443"),
        rule("DenyInternet", 4000, "Deny", dst="Internet"),
    )
    assert verdict(nsg, "10.0.0.4", "20.0.1.255") == ("Allow", "AllowStorage")
    assert verdict(nsg, "10.0.0.4", "20.0.2.0") == ("Deny", "DenyInternet")
    assert verdict(nsg, "10.0.0.4", "40.0.0.1") == ("Deny", "DenyInternet")  # Backup.Test: Internet too
    assert verdict(nsg, "10.0.0.4", "20.0.0.1", 80) == ("Deny", "DenyInternet")
    assert verdict(nsg, "10.0.0.4", "10.0.9.9") == ("Allow", "AllowVnetOutBound")


def test_virtual_network_follows_vnet_option() -> None:
    nsg = make_nsg(rule("DenyVnet", 100, "Deny", src="VirtualNetwork", dst="VirtualNetwork"))
    narrow = evaluate(nsg, Flow("10.0.0.4", "10.0.9.9", 443), DATA, vnet=("10.0.0.0/16",))
    wide = evaluate(nsg, Flow("10.0.0.4", "10.7.9.9", 443), DATA, vnet=("10.0.0.0/16", "10.7.0.0/16"))
    outside = evaluate(nsg, Flow("10.0.0.4", "10.7.9.9", 443), DATA, vnet=("10.0.0.0/16",))
    assert (narrow.rule_name, wide.rule_name, outside.rule_name) == (
        "DenyVnet",
        "DenyVnet",
        "DenyAllOutBound",
    )


def test_azure_load_balancer_tag() -> None:
    nsg = make_nsg(rule("DenyLb", 100, "Deny", direction="Inbound", src="AzureLoadBalancer"))
    assert verdict(nsg, "168.63.129.16", "10.0.0.4", direction="Inbound") == ("Deny", "DenyLb")
    assert verdict(nsg, "168.63.129.17", "10.0.0.4", direction="Inbound") == ("Deny", "DenyAllInBound")


def test_source_ports() -> None:
    nsg = make_nsg(
        rule("FromHighPorts", 100, protocol="Tcp", sport="1000-2000"), rule("DenyAll", 4096, "Deny")
    )
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", source_port=1500)[1] == "FromHighPorts"
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", source_port=999)[1] == "DenyAll"
    with pytest.raises(UsageError, match="depends on the source port"):
        verdict(nsg, "10.0.0.4", "8.8.8.8")


def test_asg_rules_are_skipped_and_reported() -> None:
    asg = rule("DenyToAsg", 100, "Deny", extra={"destinationApplicationSecurityGroups": [{"id": "/x"}]})
    v = evaluate(make_nsg(asg), Flow("10.0.0.4", "8.8.8.8", 443), DATA, vnet=VNET)
    assert (v.rule_name, v.skipped) == ("AllowInternetOutBound", ("DenyToAsg",))


def test_nsg_without_default_rules_drops_unmatched_traffic() -> None:
    nsg = Nsg(name="bare", rules=[rule("Allow443", 100, protocol="Tcp", dport="443")], default_rules=[])
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", 443) == ("Allow", "Allow443")
    assert verdict(nsg, "10.0.0.4", "8.8.8.8", 80) == ("Deny", None)


def test_bad_input() -> None:
    nsg = make_nsg(rule("AllowNope", 100, dst="NoSuchTag"))
    with pytest.raises(UnknownTagError, match="rule 'AllowNope': unknown service tag 'NoSuchTag'"):
        verdict(nsg, "10.0.0.4", "8.8.8.8")
    with pytest.raises(UsageError, match=re.escape("destination: invalid IP prefix '8.8.8'")):
        verdict(make_nsg(), "10.0.0.4", "8.8.8")
    with pytest.raises(UsageError, match="a prefix; a flow needs a single IP"):
        verdict(make_nsg(), "10.0.0.0/24", "8.8.8.8")
    with pytest.raises(UsageError, match="needs a destination port"):
        verdict(make_nsg(), "10.0.0.4", "8.8.8.8", None)
    with pytest.raises(UsageError, match="outside 0-65535"):
        verdict(make_nsg(), "10.0.0.4", "8.8.8.8", 70000)
    with pytest.raises(UsageError, match="protocol 'Gre'"):
        verdict(make_nsg(), "10.0.0.4", "8.8.8.8", protocol="Gre")
    with pytest.raises(UsageError, match="--vnet"):
        evaluate(make_nsg(), Flow("10.0.0.4", "8.8.8.8", 443), DATA, vnet=("10.0.0/16",))
    with pytest.raises(TargetError, match="rule 'BadPort'"):
        verdict(make_nsg(rule("BadPort", 100, dport="http")), "10.0.0.4", "8.8.8.8")
    with pytest.raises(UnknownTagError, match="needs service-tag data"):
        evaluate(make_nsg(rule("T", 100, dst="Storage")), Flow("10.0.0.4", "8.8.8.8", 443), None)


# ------------------------------------------------------------------------------------------ sets of flows


def test_evaluate_space_splits_protocols() -> None:
    nsg = make_nsg(
        rule("AllowTcp443", 100, protocol="Tcp", dport="443"),
        rule("DenyInternet", 4000, "Deny", dst="Internet"),
    )
    result = evaluate_space(
        nsg, Query(destinations=("8.8.8.8",), destination_ports=("443",)), DATA, vnet=VNET
    )
    assert [(p.rule_name, p.protocols) for p in result.parts] == [
        ("AllowTcp443", ("Tcp",)),
        ("DenyInternet", ("Udp", "Icmp", "Esp", "Ah", "other")),
    ]
    assert not result.allowed and not result.denied and result.verdict() is None
    assert result.parts[0].sources == VNET


def test_evaluate_space_splits_destination_prefix() -> None:
    nsg = make_nsg(rule("DenyHalf", 100, "Deny", dst="8.8.8.0/25"))
    result = evaluate_space(
        nsg, Query(destinations=("8.8.8.0/24",), destination_ports=("443",), protocol="Tcp"), DATA, vnet=VNET
    )
    assert [(p.rule_name, p.destinations, p.destination_addresses) for p in result.parts] == [
        ("DenyHalf", ("8.8.8.0/25",), 128),
        ("AllowInternetOutBound", ("8.8.8.128/25",), 128),
    ]


def test_check_tag_splits_exactly() -> None:
    nsg = make_nsg(
        rule("AllowHalf", 100, protocol="Tcp", dst="20.0.0.0/25", dport="443"),
        rule("DenyInternet", 4000, "Deny", dst="Internet"),
    )
    result = check_tag(nsg, DATA, "storage.test", 443, "Tcp", vnet=VNET)
    assert result.tag == "Storage.Test"
    assert [(p.rule_name, p.destinations) for p in result.allowed] == [("AllowHalf", ("20.0.0.0/25",))]
    assert [(p.rule_name, p.destinations) for p in result.denied] == [
        ("DenyInternet", ("20.0.0.128/25", "20.0.1.0/24"))
    ]
    assert result.unchecked == ("2603::/64",)  # IPv4-only VNet: no source for the IPv6 prefix
    assert not result.all_allowed and not result.all_denied
    both = check_tag(nsg, DATA, "Storage.Test", 443, "Tcp", source=["10.0.0.4", "fd00::4"], vnet=VNET)
    assert both.unchecked == ()
    assert [p.destinations for p in both.denied] == [("20.0.0.128/25", "20.0.1.0/24"), ("2603::/64",)]
    with pytest.raises(UnknownTagError, match=re.escape("did you mean Storage.Test")):
        check_tag(nsg, DATA, "Storage.Tset", 443)


# ------------------------------------------------------------------------------------------ real data


def _public_20250127() -> Dataset:
    from egress.adapters.datastore import load_file

    dataset = load_file(SHARED_DATA / "servicetags" / "ServiceTags_Public_20250127.json")
    assert dataset.provenance.sha256 == PUBLIC_20250127_SHA
    return dataset


@pytest.fixture(scope="module")
def public() -> Dataset:
    return _public_20250127()


def backup_nsg() -> Nsg:
    return make_nsg(
        rule(
            "AllowStorageEastUS", 100, protocol="Tcp", src="VirtualNetwork", dst="Storage.EastUS", dport="443"
        ),
        rule("DenyInternet", 4000, "Deny", dst="Internet"),
    )


def test_real_storage_eastus_all_allowed(public: Dataset) -> None:
    result = check_tag(backup_nsg(), public, "Storage.EastUS", 443, "Tcp")
    assert result.all_allowed
    assert {p.rule_name for p in result.parts} == {"AllowStorageEastUS"}
    v4 = [ipaddress.ip_network(p) for p in public.get("Storage.EastUS").ipv4()]
    assert sum(p.destination_addresses for p in result.parts) == sum(n.num_addresses for n in v4)
    assert len(result.unchecked) == len(public.get("Storage.EastUS").ipv6())
    on_80 = check_tag(backup_nsg(), public, "Storage.EastUS", 80, "Tcp")
    assert on_80.all_denied and {p.rule_name for p in on_80.parts} == {"DenyInternet"}


def test_real_storage_westus_address_denied(public: Dataset) -> None:
    west = public.get("Storage.WestUS").ipv4()[0]
    address = str(ipaddress.ip_network(west)[1])
    v = evaluate(backup_nsg(), Flow("10.0.0.4", address, 443), public)
    assert (v.access, v.rule_name, v.priority) == ("Deny", "DenyInternet", 4000)
    east = str(ipaddress.ip_network(public.get("Storage.EastUS").ipv4()[-1])[0])
    assert evaluate(backup_nsg(), Flow("10.0.0.4", east, 443), public).rule_name == "AllowStorageEastUS"


def test_real_partial_allow_matches_ipaddress(public: Dataset) -> None:
    east = [ipaddress.ip_network(p) for p in public.get("Storage.EastUS").ipv4()]
    chosen = east[::3]
    nsg = make_nsg(
        rule("AllowSome", 100, protocol="Tcp", dst=[str(n) for n in chosen], dport="443"),
        rule("DenyInternet", 4000, "Deny", dst="Internet"),
    )
    result = check_tag(nsg, public, "Storage.EastUS", 443, "Tcp")
    collapse = ipaddress.collapse_addresses
    allowed = [ipaddress.ip_network(p) for part in result.allowed for p in part.destinations]
    denied = [ipaddress.ip_network(p) for part in result.denied for p in part.destinations]
    assert {p.rule_name for p in result.allowed} == {"AllowSome"}
    assert {p.rule_name for p in result.denied} == {"DenyInternet"}
    assert list(collapse(allowed)) == list(collapse(chosen))
    assert not any(d.overlaps(a) for d in denied for a in chosen)
    assert list(collapse(east + denied)) == list(collapse(east))  # denied lies inside the tag
    total = sum(n.num_addresses for n in collapse(east))
    assert sum(n.num_addresses for n in allowed + denied) == total  # and together they are all of it

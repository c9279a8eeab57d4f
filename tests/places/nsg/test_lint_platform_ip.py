"""Lint: a rule that exists only for 168.63.129.16 is not needed (the platform exempts that address from NSGs)."""

from __future__ import annotations

from egress.places.nsg.lint import lint
from egress.places.nsg.model import Nsg
from tests.places.nsg.test_lint import DATA, VNET, rule


def codes(nsg: Nsg) -> list[tuple[str, str, str]]:
    return [
        (f.severity, f.code, f.rule) for f in lint(nsg, DATA, vnet=VNET).findings if f.code == "platform-ip"
    ]


def test_a_rule_only_for_the_platform_address_is_flagged() -> None:
    nsg = Nsg(
        name="n",
        rules=[
            rule("wireserver", 100, dst="168.63.129.16", dport="80"),
            rule("wireserver-32", 110, "Deny", dst=["168.63.129.16/32"], dport="32526"),
            rule("probes-in", 120, direction="Inbound", src="168.63.129.16", dport="*"),
        ],
    )
    assert codes(nsg) == [
        ("warning", "platform-ip", "probes-in"),
        ("warning", "platform-ip", "wireserver"),
        ("warning", "platform-ip", "wireserver-32"),
    ]
    finding = next(f for f in lint(nsg, DATA, vnet=VNET).findings if f.rule == "wireserver")
    assert finding.message == (
        "exists only for 168.63.129.16, Azure's platform address (DHCP, DNS, health probes, the VM agent), which "
        "NSG rules never affect; the rule is not needed."
    )


def test_a_rule_for_more_than_the_platform_address_is_not_flagged() -> None:
    nsg = Nsg(
        name="n",
        rules=[
            rule("mixed", 100, dst=["168.63.129.16", "20.0.0.1"]),
            rule(
                "source-side", 110, src="168.63.129.16", dst="20.0.0.1"
            ),  # outbound: the remote side is the dest
            rule("vnet", 120, dst="VirtualNetwork"),
        ],
    )
    assert codes(nsg) == []

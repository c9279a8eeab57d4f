"""Two NSGs in a row (NIC, then subnet) decide exactly what two single-NSG `verify` verdicts decide together."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egress.core.addrset import address_set
from egress.core.path.nsgs import evaluate_nsgs
from egress.core.path.steps import union
from egress.places.nsg.evaluate import Flow, Query, evaluate
from egress.places.nsg.model import Nsg
from egress.places.nsg.space import Resolver
from tests.places.nsg.test_evaluate_property import DATA, VNET, rules

SOURCE = "10.0.0.1"
DESTINATIONS = [
    "10.0.0.2",
    "10.0.0.5",
    "8.8.8.0",
    "8.8.8.1",
    "8.8.8.2",
    "172.16.0.1",
    "168.63.129.16",
    "1.1.1.1",
]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    nic=rules(),
    subnet=rules(),
    port=st.sampled_from([1, 2, 3, 443, 65535]),
    source_port=st.sampled_from([1, 2, 40000]),
    protocol=st.sampled_from(["Tcp", "Udp"]),
)
def test_two_nsgs_are_the_and_of_two_verify_verdicts(nic, subnet, port, source_port, protocol) -> None:  # type: ignore[no-untyped-def]
    first, second = Nsg(name="nic", rules=nic), Nsg(name="subnet", rules=subnet)
    query = Query(
        destinations=(),
        destination_ports=(str(port),),
        protocol=protocol,
        sources=(SOURCE,),
        source_ports=(str(source_port),),
    )
    everything = union(address_set(d) for d in DESTINATIONS)
    result = evaluate_nsgs(
        [("nic-nsg", first, ""), ("subnet-nsg", second, "")], everything, query, DATA, VNET
    )
    blocked_by = {}
    for step in result.blocked:
        for destination in DESTINATIONS:
            if address_set(destination).issubset(step.addresses):
                blocked_by[destination] = step.layer
    for destination in DESTINATIONS:
        flow = Flow(SOURCE, destination, port, protocol, source_port=source_port)
        nic_ok = evaluate(first, flow, DATA, vnet=VNET).allowed
        subnet_ok = evaluate(second, flow, DATA, vnet=VNET).allowed
        passed = address_set(destination).issubset(result.passed)
        assert passed == (nic_ok and subnet_ok), destination
        if not passed:  # the first NSG that denies is the one named
            assert blocked_by[destination] == ("nic-nsg" if not nic_ok else "subnet-nsg")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nic=rules(), subnet=rules(), port=st.sampled_from([1, 3, 443]))
def test_the_per_run_cache_gives_every_source_its_own_exact_answer(nic, subnet, port) -> None:  # type: ignore[no-untyped-def]
    """VMs whose address the rules treat alike share one evaluation; others never do."""
    layers = [
        ("nic-nsg", Nsg(name="nic", rules=nic), ""),
        ("subnet-nsg", Nsg(name="subnet", rules=subnet), ""),
    ]
    everything = union(address_set(d) for d in DESTINATIONS)
    resolver = Resolver(DATA, VNET)
    cache: dict = {}  # type: ignore[type-arg]
    for source in ("10.0.0.1", "10.0.0.2", "10.0.0.1", "8.8.8.1", "172.16.0.1"):
        query = Query(destinations=(), destination_ports=(str(port),), protocol="Tcp", sources=(source,))
        fresh = evaluate_nsgs(layers, everything, query, DATA, VNET)
        cached = evaluate_nsgs(layers, everything, query, DATA, VNET, resolver=resolver, cache=cache)
        assert cached.passed == fresh.passed
        assert [(b.layer, b.rule, b.addresses) for b in cached.blocked] == [
            (b.layer, b.rule, b.addresses) for b in fresh.blocked
        ]

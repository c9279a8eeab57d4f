"""What one run of the path check computes once and reuses for every VM: resolvers, tag sets, route tables.

A fleet shares a few VNets, subnets and tags among many VMs; resolving `Storage` (hundreds of prefixes) or a
subnet's routes again for each VM would cost most of the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from egress.core.addrset import IntSet
from egress.core.model import Dataset, ServiceTag
from egress.places.nsg.space import Resolver


class Memo:
    def __init__(self, dataset: Dataset | None) -> None:
        self.dataset = dataset
        self._resolvers: dict[tuple[tuple[str, ...], tuple[str, ...]], Resolver] = {}
        self._tags: dict[str, IntSet] = {}
        self._families: dict[tuple[str, int], tuple[IntSet, int]] = {}
        self._routes: dict[str, Any] = {}
        self.nsg_evaluations: dict[tuple[object, ...], Any] = {}  # see egress.core.path.nsgs
        self.selections: dict[tuple[str, IntSet], Any] = {}  # see egress.core.path.routes

    def resolver(self, vnet: Sequence[str], routed: Sequence[str] = ()) -> Resolver:
        """One resolver per VNet address space and user-route prefixes (`VirtualNetwork` differs per VNet and
        route table; tags resolve once in each)."""
        k = (tuple(vnet), tuple(routed))
        found = self._resolvers.get(k)
        if found is None:
            found = self._resolvers[k] = Resolver(self.dataset, *k)
        return found

    def tag_set(self, tag: ServiceTag) -> IntSet:
        found = self._tags.get(tag.name)
        if found is None:
            # A tag's addresses do not depend on the VNet; any resolver reads them (and reports damaged data).
            found = self._tags[tag.name] = Resolver(self.dataset, ("0.0.0.0/32",)).tag_addresses(tag)
        return found

    def tag_in_family(self, tag: ServiceTag, family: IntSet) -> tuple[IntSet, int]:
        """(the tag's addresses in `family`, how many it has outside it): the same for every VM of a family."""
        k = (tag.name, family.size())
        found = self._families.get(k)
        if found is None:
            addresses = self.tag_set(tag)
            found = self._families[k] = (addresses & family, (addresses - family).size())
        return found

    def routes(self, subnet_key: str, build: Callable[[], Any]) -> Any:
        found = self._routes.get(subnet_key)
        if found is None:
            found = self._routes[subnet_key] = build()
        return found

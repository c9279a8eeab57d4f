"""A budget cover that stays put: keep the routes a table already holds while they remain a good cover.

`prefixes.budget_aggregate` recomputes the optimal cover from scratch, so one new prefix can reshuffle dozens of
over-approximating routes and a weekly refresh plans more deletes than `--max-deletes` allows. Here the same tree
knapsack runs with a price on every change, a prefix the table does not hold yet or one it holds and the cover
drops (Lagrangian relaxation): the larger the price, the more existing prefixes survive and the more extra
addresses the cover admits. The largest price whose
cover stays within the allowance (the optimum plus `KEEP_SLACK`, never over the caller's limit) wins.

Pure arithmetic, no I/O. Prefixes are `prefixes.Prefix` tuples.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

from egress.core import prefixes
from egress.core.prefixes import Prefix, _decompose, _merge

_BITS = {4: 32, 6: 128}

# How much more a kept cover may admit than the optimal one, per family: (numerator, denominator) of the optimum's
# extra addresses. A quarter keeps routine weekly changes local (measured in scripts/bench, section `churn`)
# while a cover never drifts far from the best the budget allows.
KEEP_SLACK = (1, 4)

# The price of a new prefix is searched over 2**0 .. 2**MAX_PRICE_BITS in weighted extra addresses; beyond
# 2**MAX_PRICE_BITS it exceeds any cover's extra (IPv6 128 bits, IPv4 weighted by 2**64), so keeping always wins.
MAX_PRICE_BITS = 200
PRICE_STEPS = 4  # bisections of the price between the two powers of two found (each one a tree knapsack)


@dataclass(frozen=True, slots=True)
class StableCover:
    """A cover of the required prefixes within the budget, as close to the existing routes as allowed.

    ``prefixes``: sorted, at most the budget, covering every required address. ``kept``: those the table
    already held. ``optimal``: the fresh optimum it was weighed against (what a plan without the table gives).
    """

    prefixes: list[Prefix]
    kept: frozenset[Prefix]
    extra_ipv4: int
    extra_ipv6: int
    optimal: prefixes.BudgetResult
    allowed_ipv4: int | None
    allowed_ipv6: int | None

    def changes(self, existing: Iterable[Prefix]) -> tuple[int, int]:
        """(creates, deletes) taking `existing` to this cover."""
        before = set(existing)
        after = set(self.prefixes)
        return len(after - before), len(before - after)

    def fresh_changes(self, existing: Iterable[Prefix]) -> tuple[int, int]:
        """(creates, deletes) the optimum from scratch would make instead."""
        before = set(existing)
        after = set(self.optimal.prefixes)
        return len(after - before), len(before - after)


def allowance(optimal: int, limit: int | None, slack: tuple[int, int] = KEEP_SLACK) -> int | None:
    """The most a kept cover may admit in one family: the optimum plus the slack, capped by `limit` (None: no
    cap) but never below the optimum itself (the optimum is what a fresh plan would write anyway)."""
    wanted = optimal + optimal * slack[0] // slack[1]
    if limit is not None:
        wanted = min(wanted, limit)
    return max(wanted, optimal)


class _Trie:
    """The Patricia trie of one family's required leaves, with the existing prefixes placed on its nodes."""

    def __init__(self, version: int, leaves: list[Prefix], existing: list[Prefix], weight: int) -> None:
        self.version = version
        self.weight = weight
        bits = _BITS[version]
        self.leaves = leaves = _refine(version, leaves, existing)
        n = len(leaves)
        self.left: list[int] = []
        self.right: list[int] = []
        self.net: list[int] = []
        self.length: list[int] = []
        self.covered: list[int] = []
        leaf_covered = [1 << (bits - p[2]) for p in leaves]
        stack: list[
            tuple[int, int, int, int]
        ] = []  # (node, covered, first network, depth toward the next leaf)
        node = -1
        for idx in range(n):
            net = leaves[idx][1]
            node, covered, first = idx, leaf_covered[idx], net
            nxt = bits - (net ^ leaves[idx + 1][1]).bit_length() if idx + 1 < n else -1
            while stack and stack[-1][3] > nxt:
                lnode, lcovered, lfirst, depth = stack.pop()
                host = bits - depth
                covered += lcovered
                node_id = n + len(self.left)
                self.left.append(lnode)
                self.right.append(node)
                self.net.append(lfirst >> host << host)
                self.length.append(depth)
                self.covered.append(covered)
                node, first = node_id, lfirst
            stack.append((node, covered, first, nxt))
        self.root = node
        self.leaf_covered = leaf_covered
        # Every node's own prefix, and the cheapest existing prefix holding exactly its leaves (if any).
        by_prefix = {(self.net[i], self.length[i]): n + i for i in range(len(self.net))}
        by_prefix.update({(p[1], p[2]): i for i, p in enumerate(leaves)})
        starts = [p[1] for p in leaves]
        self.held: dict[int, Prefix] = {}  # node -> the existing prefix holding just its leaves, least extra
        self.at = [0] * (n + len(self.net))  # existing prefixes holding just the node's leaves
        for e in existing:
            _, net, length = e
            i = bisect_left(starts, net)
            j = bisect_left(starts, net + (1 << (bits - length)))
            if i == j:
                continue  # covers none of the required addresses: deleted
            if j - i == 1:
                target = i
            else:
                depth = bits - (starts[i] ^ starts[j - 1]).bit_length()
                host = bits - depth
                found = by_prefix.get((starts[i] >> host << host, depth))
                if found is None:  # pragma: no cover - a range of leaves inside a prefix always has its node
                    continue
                target = found
            self.at[target] += 1
            best = self.held.get(target)
            if best is None or best[2] < length:
                self.held[target] = e
        self.own_kept = [
            self.held.get(node) == self.prefix(node) for node in range(n + len(self.net))
        ]  # the node's own prefix is in the table
        # Existing prefixes strictly below each node: one prefix for the node deletes them all.
        self.below = [0] * (n + len(self.net))
        for i in range(len(self.net)):
            lt, rt = self.left[i], self.right[i]
            self.below[n + i] = self.below[lt] + self.at[lt] + self.below[rt] + self.at[rt]

    def prefix(self, node: int) -> Prefix:
        if node < len(self.leaves):
            return self.leaves[node]
        i = node - len(self.leaves)
        return (self.version, self.net[i], self.length[i])

    def _single(self, node: int, price: int) -> tuple[int, Prefix]:
        """The cheapest one-prefix cover of the node's leaves, its own prefix or an existing one, priced per
        change: a new prefix is one, and so is every existing prefix at or below the node it replaces."""
        bits = _BITS[self.version]
        n = len(self.leaves)
        covered = self.leaf_covered[node] if node < n else self.covered[node - n]
        replaced = self.below[node] + self.at[node]
        own = self.prefix(node)
        own_changes = replaced - 1 if self.own_kept[node] else replaced + 1
        own_cost = ((1 << (bits - own[2])) - covered) * self.weight + price * own_changes
        held = self.held.get(node)
        if held is not None and not self.own_kept[node]:
            held_cost = ((1 << (bits - held[2])) - covered) * self.weight + price * (replaced - 1)
            if held_cost < own_cost:
                return held_cost, held
        return own_cost, own

    def solve(self, cap: int, price: int) -> _Solution:
        n = len(self.leaves)
        shift = (cap + 1).bit_length()
        mask = (1 << shift) - 1
        singles = [self._single(node, price) for node in range(n + len(self.net))]
        curves: list[list[int]] = [[singles[i][0]] for i in range(n)]
        choice: list[array[int]] = []
        for i in range(len(self.net)):
            left = curves[self.left[i]]
            if self.at[n + i]:  # splitting the node deletes the existing prefixes holding just its leaves
                left = [c + price * self.at[n + i] for c in left]
            curve, ch = _merge(left, curves[self.right[i]], singles[n + i][0], cap, shift, mask)
            curves.append(curve)
            choice.append(ch)
        return _Solution(self, curves[self.root], choice, [s[1] for s in singles])


@dataclass
class _Solution:
    trie: _Trie
    cost: list[int]
    choice: list[array[int]]  # per internal node and budget: 0 = one prefix, else the left child's budget
    single: list[Prefix]

    def prefixes(self, budget: int) -> list[Prefix]:
        trie = self.trie
        n = len(trie.leaves)
        out: list[Prefix] = []
        todo = [(trie.root, budget)]
        while todo:
            node, k = todo.pop()
            if node < n:
                out.append(self.single[node])
                continue
            i = node - n
            ch = self.choice[i]
            k = min(k, len(ch))
            t = ch[k - 1]
            if t == 0:
                out.append(self.single[node])
            else:
                todo.append((trie.left[i], t))
                todo.append((trie.right[i], k - t))
        return out


def _refine(version: int, leaves: list[Prefix], existing: list[Prefix]) -> list[Prefix]:
    """Split every leaf holding an existing prefix strictly inside it, so that prefix is a union of leaves
    (a table may keep two /24 routes where the exact cover now has one /23)."""
    bits = _BITS[version]
    starts = [p[1] for p in leaves]
    cuts: dict[int, set[int]] = {}
    for _, net, length in existing:
        i = bisect_right(starts, net) - 1
        if i < 0:
            continue
        leaf = leaves[i]
        if leaf[2] < length and prefixes.contains(leaf, (version, net, length)):
            cuts.setdefault(i, set()).update((net, net + (1 << (bits - length))))
    if not cuts:
        return leaves
    out: list[Prefix] = []
    for i, leaf in enumerate(leaves):
        if i not in cuts:
            out.append(leaf)
            continue
        start, end = leaf[1], leaf[1] + (1 << (bits - leaf[2]))
        points = sorted({start, end, *cuts[i]})
        _decompose(version, list(pairwise(points)), out)
    return out


def _outermost(items: list[Prefix]) -> list[Prefix]:
    """Sorted prefixes less any inside an earlier one (a prefix sorts before those it contains)."""
    out: list[Prefix] = []
    for p in sorted(items):
        if not out or not prefixes.contains(out[-1], p):
            out.append(p)
    return out


def _extra(chosen: list[Prefix], required: list[Prefix], version: int) -> int:
    mine = [p for p in chosen if p[0] == version]
    need = [p for p in required if p[0] == version]
    return prefixes.address_count(mine) - prefixes.address_count(need)


def stable_budget_cover(
    required: Iterable[Prefix],
    max_prefixes: int,
    existing: Iterable[Prefix],
    *,
    v4_weight: int = 1,
    limit_ipv4: int | None = None,
    limit_ipv6: int | None = None,
    slack: tuple[int, int] = KEEP_SLACK,
) -> StableCover:
    """A cover of `required` with at most `max_prefixes` prefixes that keeps as many `existing` ones as it can.

    The cover admits, per family, at most the optimum's extra addresses plus `slack` of them, and never more
    than `limit_ipv4`/`limit_ipv6` (None: no cap) unless the optimum itself does. Among covers found within that
    allowance it takes the fewest changes (creates + deletes), then the fewest weighted extra addresses.
    Raises ValueError if the budget is below one prefix per family present (as `budget_aggregate`).
    """
    exact = prefixes.aggregate(required)
    optimal = prefixes.budget_aggregate(exact, max_prefixes, v4_weight=v4_weight)
    before = sorted(set(existing))
    allowed4 = allowance(optimal.extra_ipv4, limit_ipv4, slack)
    allowed6 = allowance(optimal.extra_ipv6, limit_ipv6, slack)

    def result(chosen: list[Prefix]) -> StableCover:
        chosen = sorted(set(chosen))
        return StableCover(
            chosen,
            frozenset(chosen).intersection(before),
            _extra(chosen, exact, 4),
            _extra(chosen, exact, 6),
            optimal,
            allowed4,
            allowed6,
        )

    fresh = result(optimal.prefixes)
    families = [(v, [p for p in exact if p[0] == v]) for v in (4, 6)]
    families = [(v, leaves) for v, leaves in families if leaves]
    candidates = [p for p in before if any(p[0] == v for v, _ in families)]
    if not candidates:
        return fresh
    # The table as it is, less routes covering nothing required and routes inside another (both redundant).
    as_is = [p for p in _outermost(candidates) if prefixes.subtract([p], exact) != [p]]
    if len(as_is) <= max_prefixes and not prefixes.subtract(exact, as_is):
        kept = result(as_is)  # the table still covers everything: nothing to change if it costs no more
        if (allowed4 is None or kept.extra_ipv4 <= allowed4) and (
            allowed6 is None or kept.extra_ipv6 <= allowed6
        ):
            return kept
    need = len(families)
    cap = max_prefixes - need + 1
    tries = [
        _Trie(v, leaves, [p for p in candidates if p[0] == v], v4_weight if v == 4 else 1)
        for v, leaves in families
    ]

    def cover(price: int) -> StableCover:
        solved = [t.solve(cap, price) for t in tries]
        if len(solved) == 1:
            (only,) = solved
            return result(only.prefixes(min(max_prefixes, len(only.cost))))
        s4, s6 = solved
        best: tuple[int, int] | None = None
        for k4 in range(1, min(len(s4.cost), max_prefixes - 1) + 1):
            k6 = min(max_prefixes - k4, len(s6.cost))
            total = s4.cost[k4 - 1] + s6.cost[k6 - 1]
            if best is None or total < best[0]:
                best = (total, k4)
        assert best is not None
        k4 = best[1]
        return result(s4.prefixes(k4) + s6.prefixes(min(max_prefixes - k4, len(s6.cost))))

    def fits(c: StableCover) -> bool:
        return (allowed4 is None or c.extra_ipv4 <= allowed4) and (
            allowed6 is None or c.extra_ipv6 <= allowed6
        )

    def rank(c: StableCover) -> tuple[int, int]:
        return sum(c.changes(before)), c.extra_ipv4 * v4_weight + c.extra_ipv6

    best = fresh
    keep_all = cover(1 << MAX_PRICE_BITS)
    if fits(keep_all):
        return min(best, keep_all, key=rank)
    lo, hi = 0, MAX_PRICE_BITS  # the price 2**hi is too high; search the highest that fits
    while hi - lo > 1:
        mid = (lo + hi) // 2
        found = cover(1 << mid)
        if fits(found):
            best = min(best, found, key=rank)
            lo = mid
        else:
            hi = mid
    low, high = 1 << lo, 1 << hi  # then finer, between two powers of two
    for _ in range(PRICE_STEPS):
        mid = (low + high) // 2
        found = cover(mid)
        if fits(found):
            best = min(best, found, key=rank)
            low = mid
        else:
            high = mid
    return best

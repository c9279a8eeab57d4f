"""Prefix arithmetic: parse, format, aggregate, count, subtract and optimally over-approximate CIDR sets.

A prefix is a plain tuple ``(version, network, length)``: ``version`` 4 or 6, ``network`` the first address
as an int (host bits zero) and ``length`` the prefix length. Tuples keep the hot paths (≈50k prefixes per
service-tag file) fast; every function here assumes canonical tuples, which `parse_prefix` always returns.
"""

from __future__ import annotations

import ipaddress
import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from egress.errors import DataError, EgressError

if TYPE_CHECKING:
    from egress.core.model import ServiceTag

Prefix = tuple[int, int, int]

_BITS = {4: 32, 6: 128}
_V4_OCTET = {str(i): i for i in range(256)}  # one dict lookup validates and converts (no "01", "+1", " 1")
_V4_LEN = {str(i): i for i in range(33)}
_V6_LEN = {str(i): i for i in range(129)}
_HEX_COLON = re.compile(r"[0-9A-Fa-f:]+")
_ZERO_RUN = re.compile(r"(?:^|:)0(?::0)+(?=:|$)")
_SIZE4 = [1 << i for i in range(33)]
_SIZE6 = [1 << i for i in range(129)]


# --------------------------------------------------------------------------------------------- parsing


def _bad(text: str, why: str, what: str = "IP prefix") -> ValueError:
    return ValueError(f"invalid {what} {text!r}: {why}")


def _v4_int(addr: str, text: str, what: str) -> int:
    parts = addr.split(".")
    if len(parts) == 4:
        try:
            return (
                (_V4_OCTET[parts[0]] << 24)
                | (_V4_OCTET[parts[1]] << 16)
                | (_V4_OCTET[parts[2]] << 8)
                | _V4_OCTET[parts[3]]
            )
        except KeyError:
            pass
    else:
        raise _bad(text, f"an IPv4 address has 4 dot-separated parts, got {len(parts)}", what)
    for part in parts:
        if part not in _V4_OCTET:
            if part.isascii() and part.isdigit() and len(part) > 1 and part[0] == "0" and int(part) < 256:
                raise _bad(
                    text, f"IPv4 part {part!r} has a leading zero (ambiguous; write {int(part)})", what
                )
            raise _bad(text, f"IPv4 part {part!r} is not a number 0-255", what)
    raise AssertionError("unreachable")  # pragma: no cover


def _v6_int(addr: str, text: str, what: str) -> int:
    if _HEX_COLON.fullmatch(addr) is None:
        # Embedded IPv4 ("::ffff:1.2.3.4") is rare: let ipaddress handle it; refuse zone ids ("%eth0").
        if "%" not in addr and "." in addr:
            try:
                return int(ipaddress.IPv6Address(addr))
            except ValueError:
                pass
        raise _bad(text, "not a valid IPv6 address", what)
    head, sep, tail = addr.partition("::")
    if sep:
        if "::" in tail:
            raise _bad(text, "'::' may appear only once in an IPv6 address", what)
        hg = head.split(":") if head else []
        tg = tail.split(":") if tail else []
        missing = 8 - len(hg) - len(tg)
        if missing < 1:
            raise _bad(text, "too many groups in an IPv6 address", what)
        groups = [*hg, *(["0"] * missing), *tg]
    else:
        groups = addr.split(":")
        if len(groups) != 8:
            raise _bad(text, f"an IPv6 address without '::' has 8 groups, got {len(groups)}", what)
    for g in groups:
        if not 0 < len(g) <= 4:
            raise _bad(text, "each IPv6 group has 1-4 hex digits", what)
    return int("".join([g.zfill(4) for g in groups]), 16)


def _length(raw: str, table: dict[str, int], bits: int, text: str) -> int:
    length = table.get(raw)
    if length is None:
        # Accept "024" like ipaddress does; refuse signs, spaces, "_" and non-ASCII digits.
        if raw.isascii() and raw.isdigit() and int(raw) <= bits:
            return int(raw)
        raise _bad(text, f"prefix length {raw!r} is not a number 0-{bits}")
    return length


def parse_tag_prefixes(tag: ServiceTag, error: type[EgressError] = DataError) -> list[Prefix]:
    """A tag's prefixes parsed; a prefix that does not parse means the data file is damaged (`error`, one line)."""
    try:
        return [parse_prefix(p) for p in tag.prefixes]
    except ValueError as exc:
        raise error(f"{tag.name}: {exc}; the data file is damaged, fetch it again.") from None


def parse_prefix(text: str) -> Prefix:
    """Parse CIDR text or a bare address (= /32 or /128), IPv4 or IPv6; host bits are masked off.

    Raises ValueError with a message naming the text and the problem.
    """
    s = text.strip() if isinstance(text, str) else text
    if not isinstance(s, str):
        raise ValueError(f"invalid IP prefix {text!r}: expected text")
    addr, slash, raw_len = s.partition("/")
    if not addr:
        raise _bad(text, "empty address")
    if ":" in addr:
        n = _v6_int(addr, text, "IP prefix")
        length = _length(raw_len, _V6_LEN, 128, text) if slash else 128
        host = 128 - length
        return (6, n >> host << host, length)
    if "." not in addr:
        raise _bad(text, "not an IPv4 or IPv6 address")
    n = _v4_int(addr, text, "IP prefix")
    length = _length(raw_len, _V4_LEN, 32, text) if slash else 32
    host = 32 - length
    return (4, n >> host << host, length)


def parse_address(text: str) -> tuple[int, int]:
    """Parse one IPv4 or IPv6 address into ``(version, int)``; ValueError on anything else, CIDR included."""
    s = text.strip() if isinstance(text, str) else text
    if not isinstance(s, str):
        raise ValueError(f"invalid IP address {text!r}: expected text")
    if "/" in s:
        raise ValueError(f"invalid IP address {text!r}: expected a single address, not a CIDR prefix")
    if ":" in s:
        return (6, _v6_int(s, text, "IP address"))
    if "." not in s:
        raise _bad(text, "not an IPv4 or IPv6 address", "IP address")
    return (4, _v4_int(s, text, "IP address"))


def _v6_text(n: int) -> str:
    """RFC 5952 text, as Python 3.11's ipaddress writes it (hex even for IPv4-mapped addresses, so the
    output does not depend on the Python version)."""
    h = f"{n:032x}"
    text = ":".join([h[i : i + 4].lstrip("0") or "0" for i in range(0, 32, 4)])
    # The longest run of two or more zero groups becomes "::" (leftmost on ties).
    best = None
    best_len = 1
    for m in _ZERO_RUN.finditer(text):
        run = m.group().count("0")
        if run > best_len:
            best, best_len = m, run
    if best is None:
        return text
    return text[: best.start()] + "::" + text[best.end() :].lstrip(":")


def format_address(version: int, n: int) -> str:
    """Canonical text of one address."""
    if version == 4:
        return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
    if version == 6:
        return _v6_text(n)
    raise ValueError(f"invalid address version {version!r}: must be 4 or 6")


def format_prefix(p: Prefix) -> str:
    """Canonical CIDR text; IPv6 is compressed as `ipaddress` writes it."""
    version, n, length = p
    if version == 4:
        return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}/{length}"
    if version == 6:
        return f"{_v6_text(n)}/{length}"
    raise ValueError(f"invalid prefix {p!r}: version must be 4 or 6")


# --------------------------------------------------------------------------------------------- basics


def prefix_size(p: Prefix) -> int:
    """Number of addresses in the prefix."""
    return 1 << (_BITS[p[0]] - p[2])


def contains(outer: Prefix, inner: Prefix) -> bool:
    """Whether every address of ``inner`` is in ``outer`` (same family, ``outer`` no longer)."""
    if outer[0] != inner[0] or outer[2] > inner[2]:
        return False
    host = _BITS[outer[0]] - outer[2]
    return inner[1] >> host == outer[1] >> host


def family_split(prefixes: Iterable[Prefix]) -> tuple[list[Prefix], list[Prefix]]:
    """``(ipv4, ipv6)`` in input order."""
    v4: list[Prefix] = []
    v6: list[Prefix] = []
    for p in prefixes:
        (v4 if p[0] == 4 else v6).append(p)
    return v4, v6


# --------------------------------------------------------------------------------------------- intervals
#
# Set operations work on sorted, disjoint, non-adjacent half-open intervals [start, end) per family. Keys pack
# (network << 8 | host bits) into one int: sorting ints is several times faster than sorting tuples, which is
# most of what makes `aggregate` beat netaddr.cidr_merge.


def _keys(prefixes: Iterable[Prefix]) -> tuple[list[int], list[int]]:
    k4: list[int] = []
    k6: list[int] = []
    a4 = k4.append
    a6 = k6.append
    for v, n, length in prefixes:
        if v == 4:
            a4((n << 8) | (32 - length))
        elif v == 6:
            a6((n << 8) | (128 - length))
        else:
            raise ValueError(f"invalid prefix {(v, n, length)!r}: version must be 4 or 6")
    k4.sort()
    k6.sort()
    return k4, k6


def _intervals(keys: list[int], sizes: list[int]) -> list[tuple[int, int]]:
    """Merge sorted keys into maximal intervals (overlapping and touching ones join)."""
    out: list[tuple[int, int]] = []
    app = out.append
    cs = ce = -1
    for k in keys:
        s = k >> 8
        if s > ce:
            if ce >= 0:
                app((cs, ce))
            cs = s
            ce = s + sizes[k & 255]
        else:
            e = s + sizes[k & 255]
            if e > ce:
                ce = e
    if ce >= 0:
        app((cs, ce))
    return out


def _family_intervals(prefixes: Iterable[Prefix]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    k4, k6 = _keys(prefixes)
    return _intervals(k4, _SIZE4), _intervals(k6, _SIZE6)


def _decompose(version: int, intervals: list[tuple[int, int]], out: list[Prefix]) -> None:
    """Append the unique minimal CIDR cover of each interval (greedy largest aligned block)."""
    bits = _BITS[version]
    app = out.append
    for s, e in intervals:
        while s < e:
            k = (s & -s).bit_length() - 1 if s else bits  # alignment of s
            r = (e - s).bit_length() - 1  # largest block that still fits
            if r < k:
                k = r
            app((version, s, bits - k))
            s += 1 << k


def _subtract_intervals(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    j = 0
    nb = len(b)
    for s, e in a:
        while j < nb and b[j][1] <= s:
            j += 1
        k = j
        while s < e and k < nb and b[k][0] < e:
            bs, be = b[k]
            if bs > s:
                out.append((s, bs))
            s = max(s, be)
            k += 1
        if s < e:
            out.append((s, e))
    return out


def aggregate(prefixes: Iterable[Prefix]) -> list[Prefix]:
    """The exact minimal CIDR cover of the union, sorted by (version, network, length).

    Same result as ``netaddr.cidr_merge``; IPv4 and IPv6 are never merged with each other.
    """
    i4, i6 = _family_intervals(prefixes)
    out: list[Prefix] = []
    _decompose(4, i4, out)
    _decompose(6, i6, out)
    return out


def address_count(prefixes: Iterable[Prefix]) -> int:
    """Number of distinct addresses in the union (overlaps counted once; IPv4 and IPv6 added)."""
    i4, i6 = _family_intervals(prefixes)
    return sum(e - s for s, e in i4) + sum(e - s for s, e in i6)


def subtract(prefixes: Iterable[Prefix], remove: Iterable[Prefix]) -> list[Prefix]:
    """Exact set difference ``prefixes − remove`` as a minimal, sorted CIDR list."""
    a4, a6 = _family_intervals(prefixes)
    b4, b6 = _family_intervals(remove)
    out: list[Prefix] = []
    _decompose(4, _subtract_intervals(a4, b4), out)
    _decompose(6, _subtract_intervals(a6, b6), out)
    return out


# --------------------------------------------------------------------------------------------- budget


@dataclass(frozen=True)
class BudgetResult:
    """An optimal cover within a prefix budget.

    ``prefixes``: sorted, at most the budget, covering every input address.
    ``extra_addresses``: addresses covered beyond the input union (0 when the exact aggregate fits).
    ``exact_count``: number of prefixes in the exact aggregate (what an exact rule set would need).
    """

    prefixes: list[Prefix]
    extra_addresses: int
    exact_count: int
    extra_ipv4: int = 0
    extra_ipv6: int = 0


class _Curve:
    """Optimal covers of one family's aggregated leaves for every budget 1..len(cost)."""

    __slots__ = ("choice", "cost", "leaves", "left", "node_len", "node_net", "right", "root", "version")

    def __init__(self, version: int, leaves: list[Prefix], cap: int) -> None:
        self.version = version
        self.leaves = leaves
        self.left: list[int] = []
        self.right: list[int] = []
        self.node_net: list[int] = []
        self.node_len: list[int] = []
        self.choice: list[array[int]] = []
        self.root, self.cost = self._solve(cap)

    def _solve(self, cap: int) -> tuple[int, list[int]]:
        """Tree knapsack over the Patricia trie of the leaves, built bottom-up with a Cartesian-tree stack.

        Internal nodes are exactly the lowest common ancestors of adjacent leaves (depth = common prefix of
        the two networks). A node's curve f(k) = least extra addresses covering its leaves with ≤ k prefixes:
        f(1) = its own prefix; f(k) = min(f(1), min over i of left(i) + right(k − i)), truncated to
        min(cap, leaves below) entries, so the total work is O(leaves · cap).
        """
        leaves = self.leaves
        bits = _BITS[self.version]
        nleaves = len(leaves)
        shift = (cap + 1).bit_length()  # room for the tag (left budget, 0 = own prefix) under each cost
        mask = (1 << shift) - 1
        choice = self.choice
        left, right, node_net, node_len = self.left, self.right, self.node_net, self.node_len
        # Stack items: (node id, curve, covered addresses, first network, branch depth toward the next leaf).
        stack: list[tuple[int, list[int], int, int, int]] = []
        node = -1
        curve: list[int] = []
        for idx in range(nleaves):
            _, net, length = leaves[idx]
            node, curve, covered = idx, [0], 1 << (bits - length)
            first = net
            nxt = bits - (net ^ leaves[idx + 1][1]).bit_length() if idx + 1 < nleaves else -1
            while stack and stack[-1][4] > nxt:
                lnode, lcurve, lcovered, lfirst, depth = stack.pop()
                host = bits - depth
                covered += lcovered
                own = (1 << host) - covered
                curve, ch = _merge(lcurve, curve, own, cap, shift, mask)
                node_id = nleaves + len(choice)
                choice.append(ch)
                left.append(lnode)
                right.append(node)
                node_net.append(lfirst >> host << host)
                node_len.append(depth)
                node, first = node_id, lfirst
            stack.append((node, curve, covered, first, nxt))
        return node, curve

    def prefixes(self, budget: int) -> list[Prefix]:
        """Reconstruct the optimal cover for ``budget`` (iteratively; no recursion limit concerns)."""
        out: list[Prefix] = []
        nleaves = len(self.leaves)
        todo = [(self.root, budget)]
        while todo:
            node, k = todo.pop()
            if node < nleaves:
                out.append(self.leaves[node])
                continue
            i = node - nleaves
            ch = self.choice[i]
            k = min(k, len(ch))
            t = ch[k - 1]
            if t == 0:
                out.append((self.version, self.node_net[i], self.node_len[i]))
            else:
                todo.append((self.left[i], t))
                todo.append((self.right[i], k - t))
        out.sort()
        return out


def _merge(
    a: list[int], b: list[int], own: int, cap: int, shift: int, mask: int
) -> tuple[list[int], array[int]]:
    """Min-plus combination of two child curves plus the node's own prefix, with the argmin.

    Costs are packed as ``cost << shift | tag`` so the C-level ``min`` yields the argmin too; tag 0 (own
    prefix) wins ties, preferring fewer prefixes.
    """
    la, lb = len(a), len(b)
    c = min(la + lb, cap)
    out = [own << shift] * c
    if c > 1:
        if la <= lb:
            bs = [x << shift for x in b]
            for i in range(min(la, c - 1)):
                lo = i + 1
                hi = min(lo + lb, c)
                out[lo:hi] = map(min, out[lo:hi], map(((a[i] << shift) | lo).__add__, bs))
        else:
            tagged = [(x << shift) | (i + 1) for i, x in enumerate(a)]
            for j in range(min(lb, c - 1)):
                lo = j + 1
                hi = min(lo + la, c)
                out[lo:hi] = map(min, out[lo:hi], map((b[j] << shift).__add__, tagged))
    return [x >> shift for x in out], array("H" if mask < 1 << 16 else "Q", [x & mask for x in out])


# Weight that makes one extra IPv4 address cost as much as one extra IPv6 /64 (a subnet's worth of hosts), so a
# shared budget is split sensibly instead of IPv6's vast gaps always winning.
IPV4_ADDRESS_AS_IPV6_SUBNET = 1 << 64


def budget_aggregate(prefixes: Iterable[Prefix], max_prefixes: int, *, v4_weight: int = 1) -> BudgetResult:
    """The optimal over-approximation of the union with at most ``max_prefixes`` CIDR prefixes.

    Among all sets of ≤ ``max_prefixes`` prefixes covering every input address, returns one admitting the
    fewest addresses outside the union. IPv4 and IPv6 share the budget (each family present needs one) and
    their extra addresses are simply added, so IPv6 gaps (easily 2**64 and up) outweigh any IPv4 saving: a
    caller wanting a balanced split passes ``v4_weight`` (e.g. ``IPV4_ADDRESS_AS_IPV6_SUBNET``), which scales
    IPv4's extra addresses when the two families compete. Raises ValueError if the budget is below the minimum.
    """
    exact = aggregate(prefixes)
    v4 = [p for p in exact if p[0] == 4]
    v6 = exact[len(v4) :]
    need = (1 if v4 else 0) + (1 if v6 else 0)
    if max_prefixes < max(need, 1):
        raise ValueError(
            f"a budget of {max_prefixes} prefix(es) is too small: "
            f"need at least {max(need, 1)} (one per address family present)"
        )
    if len(exact) <= max_prefixes:
        return BudgetResult(exact, 0, len(exact))
    extra4 = extra6 = 0
    cap = max_prefixes - need + 1  # the most one family can get
    curves = [_Curve(v, leaves, cap) for v, leaves in ((4, v4), (6, v6)) if leaves]
    if len(curves) == 1:
        (only,) = curves
        k = min(max_prefixes, len(only.cost))
        chosen = only.prefixes(k)
        extra = only.cost[k - 1]
        extra4, extra6 = (extra, 0) if only.version == 4 else (0, extra)
    else:
        c4, c6 = curves
        best: tuple[int, int] | None = None
        for k4 in range(1, min(len(c4.cost), max_prefixes - 1) + 1):
            k6 = min(max_prefixes - k4, len(c6.cost))
            total = c4.cost[k4 - 1] * v4_weight + c6.cost[k6 - 1]
            if best is None or total < best[0]:
                best = (total, k4)
        assert best is not None
        k4 = best[1]
        k6 = min(max_prefixes - k4, len(c6.cost))
        extra4, extra6 = c4.cost[k4 - 1], c6.cost[k6 - 1]
        extra = extra4 + extra6
        chosen = c4.prefixes(k4) + c6.prefixes(k6)
    return BudgetResult(chosen, extra, len(exact), extra4, extra6)

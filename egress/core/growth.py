"""The growth guard, mirror of the shrink guard (egress.core.shrink): refuse data that widens what egress allows.

A served week in which `Storage.EastUS` gained `0.0.0.0/0` would have become an Allow TCP/443 to the whole
Internet. Three checks, each per address family (IPv6 space is so large that sums hide IPv4 changes):
- no tag may hold a default route, or a prefix shorter than a floor (/8 IPv4, /16 IPv6: no Microsoft tag
  comes close; the widest real ones are /12 and /24);
- no tag may gain more than `max_growth` percent of its addresses, beyond a slack (a /16 of IPv4, a /48 of
  IPv6) that keeps small tags' ordinary weekly growth (109 -> 301 addresses happens) from tripping it;
- no apply may widen what egress's own rules in an NSG allow by more than the same measure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from egress.core.model import ServiceTag
from egress.core.prefixes import Prefix, address_count, format_prefix, parse_prefix
from egress.core.shrink import TagSize, format_count, tag_size
from egress.errors import DataError, UsageError

DEFAULT_MAX_GROWTH = 100.0  # percent: a tag doubling in a week
DEFAULT_MIN_PREFIX = {4: 8, 6: 16}  # the widest prefix a tag may hold, per family
GROWTH_SLACK = {4: 1 << 16, 6: 1 << 80}  # growth smaller than a /16 (IPv4) or a /48 (IPv6) never trips it
FAMILY_BITS = {4: 32, 6: 128}


@dataclass(frozen=True, slots=True)
class GrowthLimits:
    max_growth: float = DEFAULT_MAX_GROWTH
    min_prefix_v4: int = DEFAULT_MIN_PREFIX[4]
    min_prefix_v6: int = DEFAULT_MIN_PREFIX[6]

    def floor(self, family: int) -> int:
        return self.min_prefix_v4 if family == 4 else self.min_prefix_v6

    def validated(self) -> GrowthLimits:
        if not self.max_growth >= 0:  # also NaN
            raise UsageError(f"--max-growth {self.max_growth:g} must be a percentage, 0 or more.")
        for family, flag in ((4, "--min-prefix-v4"), (6, "--min-prefix-v6")):
            if not 1 <= self.floor(family) <= FAMILY_BITS[family]:
                raise UsageError(
                    f"{flag} {self.floor(family)} must be 1-{FAMILY_BITS[family]} (a default route is never "
                    "accepted)."
                )
        return self


@dataclass(frozen=True, slots=True)
class GrowthFinding:
    tag: str  # a tag, or "egress's rules" for the NSG-level check
    family: int
    kind: str  # "wide" (a default route or a prefix under the floor) | "grew"
    before: int = 0
    after: int = 0
    prefix: str | None = None
    floor: int | None = None

    @property
    def grown_percent(self) -> float:
        return round((self.after - self.before) * 100 / self.before, 1) if self.before else 100.0

    def describe(self) -> str:
        if self.kind == "wide":
            what = "a default route" if self.prefix and self.prefix.endswith("/0") else "a prefix"
            return f"{self.tag} holds {what} {self.prefix} (wider than /{self.floor})"
        return (
            f"{self.tag} grew {self.grown_percent:g}% in IPv{self.family} addresses "
            f"({format_count(self.before, self.family)} -> {format_count(self.after, self.family)})"
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tag": self.tag, "family": f"IPv{self.family}", "kind": self.kind}
        if self.kind == "wide":
            out.update(prefix=self.prefix, floor=self.floor)
        else:
            out.update(before=self.before, after=self.after, grownPercent=self.grown_percent)
        return out


WideCheck = Callable[[ServiceTag, "GrowthLimits"], tuple["GrowthFinding", ...]]


def _parsed(tag: ServiceTag) -> list[Prefix]:
    try:
        return [parse_prefix(p) for p in tag.prefixes]
    except ValueError as exc:
        raise DataError(f"{tag.name}: {exc}; the data file is damaged, fetch it again.") from None


def tag_wide_prefixes(tag: ServiceTag, limits: GrowthLimits) -> tuple[GrowthFinding, ...]:
    """One tag's default routes and prefixes shorter than the floor (at most 3, so a message stays short)."""
    wide = [p for p in _parsed(tag) if p[2] < limits.floor(p[0])]
    return tuple(
        GrowthFinding(
            tag.name,
            version,
            "wide",
            prefix=format_prefix((version, network, length)),
            floor=limits.floor(version),
        )
        for version, network, length in sorted(wide, key=lambda p: (p[2], p))[:3]
    )


def wide_prefixes(
    tags: Iterable[ServiceTag], limits: GrowthLimits, *, wide: WideCheck = tag_wide_prefixes
) -> tuple[GrowthFinding, ...]:
    """Default routes and prefixes shorter than the floor, per tag."""
    return tuple(f for tag in tags for f in wide(tag, limits))


def grew_too_much(before: int, after: int, family: int, max_growth: float) -> bool:
    """More than `max_growth` percent and more than the family's slack (a family that was empty is not judged)."""
    gained = after - before
    return before > 0 and gained > GROWTH_SLACK[family] and gained * 100 > max_growth * before


def check_growth(
    before: Mapping[str, TagSize],
    tags_now: Sequence[ServiceTag],
    limits: GrowthLimits,
    *,
    size: Callable[[ServiceTag], TagSize] = tag_size,
    wide: WideCheck = tag_wide_prefixes,
) -> tuple[GrowthFinding, ...]:
    """Findings for the tags `tags_now`: wide prefixes always; growth against `before` where it knows the tag.
    `size` and `wide` measure one tag: a fleet run passes memoised ones (a thousand targets, the same tags)."""
    limits.validated()
    findings = list(wide_prefixes(tags_now, limits, wide=wide))
    for tag in sorted(tags_now, key=lambda t: t.name.lower()):
        old = before.get(tag.name)
        if old is None:
            continue
        new = size(tag)
        for family in (4, 6):
            if grew_too_much(old.of(family), new.of(family), family, limits.max_growth):
                findings.append(GrowthFinding(tag.name, family, "grew", old.of(family), new.of(family)))
    return tuple(findings)


def allowed_size(destinations: Iterable[str]) -> TagSize:
    """Distinct addresses a set of rule destinations covers (names such as service tags are not counted)."""
    parsed: list[Prefix] = []
    for text in destinations:
        try:
            parsed.append(parse_prefix(text))
        except ValueError:
            continue
    return TagSize(
        address_count(p for p in parsed if p[0] == 4), address_count(p for p in parsed if p[0] == 6)
    )


def check_rule_growth(before: TagSize, after: TagSize, limits: GrowthLimits) -> tuple[GrowthFinding, ...]:
    """What egress's own rules in one NSG allow, now against after the plan."""
    return tuple(
        GrowthFinding("egress's rules", family, "grew", before.of(family), after.of(family))
        for family in (4, 6)
        if grew_too_much(before.of(family), after.of(family), family, limits.max_growth)
    )


def refusal_message(findings: Sequence[GrowthFinding], limits: GrowthLimits, *, outcome: str) -> str:
    """One line: what widened, what happened (`outcome`), and how to override."""
    shown = "; ".join(f.describe() for f in findings[:4])
    more = f" (and {len(findings) - 4} more)" if len(findings) > 4 else ""
    overrides = []
    if any(f.kind == "grew" for f in findings):
        overrides.append(f"a higher --max-growth (now {limits.max_growth:g}%)")
    if any(f.kind == "wide" for f in findings):
        overrides.append(
            f"lower --min-prefix-v4/--min-prefix-v6 (now /{limits.min_prefix_v4}, /{limits.min_prefix_v6})"
        )
    return (
        f"growth guard: {shown}{more}; {outcome}. Check the data (egress ranges diff), then rerun with "
        f"{' or '.join(overrides)} if the change is real."
    )

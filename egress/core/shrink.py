"""The shrink guard: refuse new data in which a tag a target uses lost too many addresses, or vanished.

A tag losing most of its ranges from one week to the next is far more often a broken download or a publishing
accident than a real change, and applying it would cut backups off. Addresses are counted per family: IPv6 space
is so large that a tag's IPv4 ranges could all disappear without moving a combined count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from egress.core.model import ServiceTag
from egress.core.prefixes import address_count, family_split, parse_tag_prefixes
from egress.errors import UsageError

DEFAULT_MAX_SHRINK = 20.0  # percent


@dataclass(frozen=True, slots=True)
class TagSize:
    """Distinct addresses a tag covers, per family."""

    ipv4: int
    ipv6: int

    def of(self, family: int) -> int:
        return self.ipv4 if family == 4 else self.ipv6

    def to_json(self) -> dict[str, int]:
        return {"ipv4": self.ipv4, "ipv6": self.ipv6}

    @classmethod
    def from_json(cls, obj: Any) -> TagSize | None:
        """A size as stored in a state file, or None when it is not one (a damaged state is no baseline)."""
        if not isinstance(obj, Mapping):
            return None
        v4, v6 = obj.get("ipv4"), obj.get("ipv6")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (v4, v6)):
            return None
        return cls(int(v4), int(v6))  # type: ignore[arg-type]


def format_count(count: int, family: int) -> str:
    """`11,984`; IPv6 in /64s, since raw IPv6 counts are 25-digit numbers nobody can compare."""
    if family == 6 and count >= 1 << 64:
        return f"{count / (1 << 64):,.0f} /64s"
    return f"{count:,}"


def tag_size(tag: ServiceTag) -> TagSize:
    parsed = parse_tag_prefixes(tag)
    v4, v6 = family_split(parsed)
    return TagSize(address_count(v4), address_count(v6))


@dataclass(frozen=True, slots=True)
class ShrinkFinding:
    tag: str
    family: int | None  # 4 or 6; None: the tag vanished
    before: int
    after: int

    @property
    def vanished(self) -> bool:
        return self.family is None

    @property
    def lost_percent(self) -> float:
        return 100.0 if self.before == 0 else round((self.before - self.after) * 100 / self.before, 1)

    def describe(self) -> str:
        if self.vanished:
            return f"{self.tag} vanished from the data"
        return (
            f"{self.tag} lost {self.lost_percent:g}% of its IPv{self.family} addresses "
            f"({format_count(self.before, self.family)} -> {format_count(self.after, self.family)})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "family": None if self.family is None else f"IPv{self.family}",
            "vanished": self.vanished,
            "before": self.before,
            "after": self.after,
            "lostPercent": self.lost_percent,
        }


def check_max_shrink(percent: float) -> float:
    if not 0 <= percent <= 100:
        raise UsageError(f"--max-shrink {percent:g} is not a percentage (0-100).")
    return float(percent)


def check_shrink(
    before: Mapping[str, TagSize], after: Mapping[str, TagSize | None], max_shrink: float
) -> tuple[ShrinkFinding, ...]:
    """Findings for every tag of `before` that vanished (absent or None in `after`) or lost > `max_shrink` %.

    A family the tag did not have before is not checked; `max_shrink` 100 only refuses vanished tags.
    """
    check_max_shrink(max_shrink)
    findings: list[ShrinkFinding] = []
    for name in sorted(before, key=str.lower):
        old, new = before[name], after.get(name)
        if new is None:
            findings.append(ShrinkFinding(name, None, old.ipv4 + old.ipv6, 0))
            continue
        for family in (4, 6):
            b, a = old.of(family), new.of(family)
            if b and (b - a) * 100 > max_shrink * b:
                findings.append(ShrinkFinding(name, family, b, a))
    return tuple(findings)


def refusal_message(findings: tuple[ShrinkFinding, ...], max_shrink: float) -> str:
    """One line for the report: what shrank, that nothing was written, and how to override."""
    shown = "; ".join(f.describe() for f in findings[:4])
    more = f" (and {len(findings) - 4} more)" if len(findings) > 4 else ""
    return (
        f"shrink guard: {shown}{more} - more than --max-shrink {max_shrink:g}% since the last good data; "
        "the target was left untouched. Check the data (egress ranges diff), then rerun with a higher "
        "--max-shrink if the change is real."
    )

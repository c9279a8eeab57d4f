"""`--max-extra V4[,V6]`: how much an over-approximation may admit beyond the tags, per address family."""

from __future__ import annotations

from egress.errors import UsageError

FAMILY_BITS = (32, 128)


def _amount(text: str, family_bits: int, label: str) -> int:
    """IPv4 in addresses, IPv6 in /64s; `/N` is the size of one /N of that family."""
    value = text.strip()
    try:
        if value.startswith("/"):
            length = int(value[1:])
            if not 0 <= length <= family_bits:
                raise ValueError
            size = 1 << (family_bits - length)
            return size if family_bits == 32 else size >> 64
        number = int(value.replace("_", ""))
        if number < 0:
            raise ValueError
        return number
    except ValueError:
        unit = "addresses" if family_bits == 32 else "/64s"
        raise UsageError(
            f"--max-extra: {label} {text!r} is neither a count of {unit} nor /N (0-{family_bits})."
        ) from None


def parse_max_extra(text: str) -> tuple[int | None, int | None]:
    """`16777216`, `/8,/32`, `1000,/48`: (IPv4 addresses, IPv6 /64s); a family left out keeps its default."""
    parts = text.split(",")
    if len(parts) > 2 or not text.strip():
        raise UsageError(f"--max-extra {text!r}: give V4 or V4,V6 (IPv4 addresses, IPv6 /64s, or /N).")
    v4 = _amount(parts[0], 32, "IPv4") if parts[0].strip() else None
    v6 = _amount(parts[1], 128, "IPv6") if len(parts) == 2 and parts[1].strip() else None
    return v4, v6

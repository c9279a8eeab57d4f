"""The growth guard's options, shared by `apply`, `refresh` and `ranges fetch` (see egress.core.growth)."""

from __future__ import annotations

import typer

from egress.core.growth import DEFAULT_MAX_GROWTH, DEFAULT_MIN_PREFIX, GrowthLimits

MAX_GROWTH = typer.Option(
    DEFAULT_MAX_GROWTH,
    "--max-growth",
    metavar="PERCENT",
    help="Refuse data in which a tag (or egress's rules in an NSG) gained more than this percent of its "
    "addresses (growth under a /16 IPv4 or /48 IPv6 never counts).",
)
MIN_PREFIX_V4 = typer.Option(
    DEFAULT_MIN_PREFIX[4],
    "--min-prefix-v4",
    metavar="N",
    help="Refuse data with an IPv4 prefix shorter than /N (default 8).",
)
MIN_PREFIX_V6 = typer.Option(
    DEFAULT_MIN_PREFIX[6],
    "--min-prefix-v6",
    metavar="N",
    help="Refuse data with an IPv6 prefix shorter than /N (default 16).",
)


def growth_limits(max_growth: float, min_prefix_v4: int, min_prefix_v6: int) -> GrowthLimits:
    return GrowthLimits(max_growth, min_prefix_v4, min_prefix_v6).validated()

"""Priority allocation: unique per direction, inside a window, around priorities other rules already hold."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from egress.errors import RuleError


def allocate(
    count: int,
    *,
    start: int,
    stop: int,
    used: Iterable[int] = (),
    preferred: Sequence[int | None] = (),
    held: Iterable[int] = (),
) -> list[int]:
    """Give `count` rules priorities in [start, stop), none in `used` or `held`.

    `preferred[i]` (a rule's current priority, when it already exists) is kept when it is still free and inside the
    window, so a re-plan does not renumber rules that did not change. The others take the lowest free numbers in
    order, so a fresh plan is numbered start, start+1, ... around whatever is taken. `held` are priorities of
    rules an earlier rendering had and this one drops: they may still be in the NSG when this one is deployed.
    """
    held = set(held) - set(used)
    taken = set(used) | held
    result: list[int | None] = [None] * count
    for index, want in enumerate(preferred[:count]):
        if want is not None and start <= want < stop and want not in taken:
            result[index] = want
            taken.add(want)
    free = (p for p in range(start, stop) if p not in taken)
    for index in range(count):
        if result[index] is None:
            nxt = next(free, None)
            if nxt is None:
                window = set(range(start, stop))
                held_here = len(held & window)
                also, way = "", "lower --priority-start or free some priorities."
                if held_here:
                    also = f", {held_here} held by rules of the earlier rendering that this one drops"
                    way = (
                        "lower --priority-start, or remove the dropped rules (`egress apply` does) and render "
                        "without the earlier rendering."
                    )
                raise RuleError(
                    f"{count} rules do not fit between priorities {start} and {stop - 1} "
                    f"({len(set(used) & window)} of those are taken by other rules{also}); {way}"
                )
            result[index] = nxt
    return [p for p in result if p is not None]

"""When this run started, for limits on the whole run (EGRESS_ARM_DEADLINE). A tiny module on purpose: the CLI
starts the clock for every command, and must not load the Azure adapter to do so."""

from __future__ import annotations

import time

_started: float | None = None


def start_run() -> None:
    """The run's clock starts now (the CLI calls this as each command starts)."""
    global _started
    _started = time.monotonic()


def elapsed() -> float:
    """Seconds since the run started (the clock starts at the first call if nothing started it)."""
    global _started
    if _started is None:
        _started = time.monotonic()
    return time.monotonic() - _started

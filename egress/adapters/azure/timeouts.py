"""How long egress waits for Azure Resource Manager: per connection, per read, and for the whole run.

azure-core's defaults wait 300 s for a read that never comes, and its retry loop tries that 5 times; a hung
front end then holds an unattended refresh for half an hour per request. egress waits less and also bounds
everything one run asks of ARM (retries and operation polls included) by a deadline that starts with the run.
No SDK import here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from egress.adapters.run_clock import elapsed
from egress.errors import AzureError, UsageError

TIMEOUT_ENV = "EGRESS_ARM_TIMEOUT"  # seconds, "READ" or "CONNECT,READ"
DEADLINE_ENV = "EGRESS_ARM_DEADLINE"  # seconds for all ARM requests of one run
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0  # a PUT answers once Azure accepted it (the operation is polled), so a minute is ample
RUN_DEADLINE = 900.0  # 15 minutes: a fleet refresh is seconds per NSG when ARM is well


class DeadlineExceeded(AzureError):
    """The run's time for ARM (EGRESS_ARM_DEADLINE) is up."""


@dataclass(frozen=True, slots=True)
class ArmTimeouts:
    connect: float = CONNECT_TIMEOUT
    read: float = READ_TIMEOUT
    deadline: float = RUN_DEADLINE

    @classmethod
    def from_env(cls) -> ArmTimeouts:
        connect, read, deadline = CONNECT_TIMEOUT, READ_TIMEOUT, RUN_DEADLINE
        raw = os.environ.get(TIMEOUT_ENV, "").strip()
        raw_deadline = os.environ.get(DEADLINE_ENV, "").strip()
        try:
            if raw:
                parts = [float(p) for p in raw.split(",")]
                if len(parts) > 2:
                    raise ValueError
                connect, read = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
            if raw_deadline:
                deadline = float(raw_deadline)
        except ValueError:
            raise UsageError(
                f"{TIMEOUT_ENV} must be seconds (`60` or `10,60`) and {DEADLINE_ENV} seconds (`900`)."
            ) from None
        if not all(0 < v < math.inf for v in (connect, read, deadline)):
            raise UsageError(f"{TIMEOUT_ENV} and {DEADLINE_ENV} must be positive (and finite).")
        return cls(connect, read, deadline)

    def remaining(self) -> float:
        """Seconds left of the run's deadline (egress.adapters.run_clock)."""
        return self.deadline - elapsed()

    def check(self, doing: str) -> float:
        """The seconds left, or DeadlineExceeded naming what was being done."""
        left = self.remaining()
        if left <= 0:
            raise self.exceeded(doing)
        return left

    def exceeded(self, doing: str) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"gave up {doing}: this run's {self.deadline:g}s for Azure Resource Manager are up "
            f"({DEADLINE_ENV}; each request may wait {self.connect:g}s to connect and {self.read:g}s for an "
            f"answer, {TIMEOUT_ENV}); check ARM's health and run again."
        )

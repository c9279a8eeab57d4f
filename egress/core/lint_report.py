"""What a lint of any place reports: findings (severity, code, the item they are about) and limit usage.

Each place's lint (the NSG's egress.places.nsg.lint, the route table's, the firewall policy's) returns a LintReport;
`egress lint` prints and exits by it whatever the place.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")
DIRECTIONS = ("Inbound", "Outbound")  # an NSG rule's; findings of other places have none and sort first


@dataclass(frozen=True)
class Finding:
    severity: str  # error | warning | info
    code: str
    rule: str  # the rule's name; "" for findings about the whole NSG
    message: str
    direction: str = ""
    priority: int | None = None

    def sort_key(self) -> tuple[object, ...]:
        direction = DIRECTIONS.index(self.direction) if self.direction in DIRECTIONS else -1
        priority = self.priority if self.priority is not None else -1
        return (SEVERITIES.index(self.severity), direction, priority, self.rule, self.code, self.message)

    def to_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "code": self.code,
            "rule": self.rule,
            "direction": self.direction,
            "priority": self.priority,
            "message": self.message,
        }


@dataclass(frozen=True)
class LimitUsage:
    name: str  # rules | source prefixes | destination prefixes
    used: int
    limit: int

    @property
    def percent(self) -> float:
        return round(100.0 * self.used / self.limit, 1)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "used": self.used, "limit": self.limit, "percent": self.percent}


@dataclass(frozen=True)
class LintReport:
    findings: tuple[Finding, ...]
    limits: tuple[LimitUsage, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

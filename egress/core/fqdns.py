"""FQDNs a proxy must let through for Azure Backup (workload backup, MARS), per cloud, and list handling.

Source: Microsoft's Azure Backup network requirements (see shared/reference/backup-networking.md): Azure Backup,
Azure Storage (blob, queue) and Microsoft Entra ID, all on TCP 443. The US Government and China lists follow the
same three services with each cloud's own domains.
"""

from __future__ import annotations

from egress.core.values import fqdn_pattern
from egress.errors import UsageError

BACKUP_FQDNS: dict[str, tuple[str, ...]] = {
    "public": (
        "*.backup.windowsazure.com",
        "*.blob.core.windows.net",
        "*.queue.core.windows.net",
        "*.blob.storage.azure.net",
        "*.login.microsoft.com",
        "login.microsoftonline.com",
    ),
    "usgov": (
        "*.backup.windowsazure.us",
        "*.blob.core.usgovcloudapi.net",
        "*.queue.core.usgovcloudapi.net",
        "login.microsoftonline.us",
    ),
    "china": (
        "*.backup.windowsazure.cn",
        "*.blob.core.chinacloudapi.cn",
        "*.queue.core.chinacloudapi.cn",
        "login.chinacloudapi.cn",
    ),
}
BUILTIN_LIST = "backup"


def builtin(cloud: str) -> tuple[str, ...]:
    """The Azure Backup list of a cloud (`public`, `usgov`, `china`)."""
    try:
        return BACKUP_FQDNS[cloud]
    except KeyError:
        raise UsageError(
            f"unknown cloud {cloud!r} for the proxy: use one of {', '.join(BACKUP_FQDNS)}."
        ) from None


def parse_list(text: str, source: str) -> tuple[str, ...]:
    """One FQDN pattern per line; blank lines and `#` comments ignored; every entry validated."""
    found: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            found.append(fqdn_pattern(line))
        except UsageError as exc:
            raise UsageError(f"{source}, line {number}: {exc}") from None
    if not found:
        raise UsageError(f"{source} lists no host names: put one name or *.domain per line.")
    return tuple(found)


def squid_domains(patterns: tuple[str, ...] | list[str]) -> list[str]:
    """Patterns as squid `dstdomain` values, sorted, with entries a wider one already covers removed.

    `*.x` becomes `.x`, which squid matches as x and every name under it; squid warns (and some versions refuse)
    when a list holds both `.x` and a name inside it, so those are dropped here.
    """
    values = {("." + p[2:]) if p.startswith("*.") else p for p in (fqdn_pattern(p) for p in patterns)}
    suffixes = sorted(v for v in values if v.startswith("."))

    def covered(value: str) -> bool:
        bare = value.lstrip(".")
        return any(s != value and (bare == s[1:] or bare.endswith(s)) for s in suffixes)

    return sorted((v for v in values if not covered(v)), key=lambda v: (v.lstrip("."), v))

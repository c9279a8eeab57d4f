"""Names and rule bodies shared by the Azure adapter tests."""

from __future__ import annotations

from typing import Any

from egress.adapters.azure import NsgRef

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
REF = NsgRef(SUB, "rg-backup", "nsg-vm1")


def rule(name: str, priority: int, **props: Any) -> dict[str, Any]:
    base = {
        "protocol": "Tcp",
        "access": "Allow",
        "priority": priority,
        "direction": "Outbound",
        "sourceAddressPrefix": "VirtualNetwork",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "AzureBackup",
        "destinationPortRange": "443",
    }
    base.update(props)
    return {"name": name, "properties": base}

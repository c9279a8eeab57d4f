"""egress: a safe, minimal outbound path for Azure Backup through locked-down NSGs."""

__version__ = "0.1.0"

"""Map `--auth` to an azure-identity credential (imported only when one is made)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from egress.errors import UsageError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

# --auth value -> what it uses. `cli` takes its cloud from `az cloud set`, `managed-identity` from the VM.
AUTH_METHODS: dict[str, str] = {
    "default": "DefaultAzureCredential: environment, workload identity, managed identity, Azure CLI, ...",
    "cli": "AzureCliCredential: the account `az login` signed in",
    "environment": "EnvironmentCredential: AZURE_TENANT_ID, AZURE_CLIENT_ID and a secret or certificate",
    "managed-identity": "ManagedIdentityCredential: the VM's identity (AZURE_CLIENT_ID: a user-assigned one)",
}


def make_credential(auth: str, authority: str) -> TokenCredential:
    """A credential for `auth` (default | cli | environment | managed-identity) against `authority` (a host).

    Nothing is contacted until the first token is requested.
    """
    key = auth.strip().lower()
    if key not in AUTH_METHODS:
        raise UsageError(f"unknown --auth {auth!r}: use one of {', '.join(AUTH_METHODS)}.")
    _quiet_sdk_logs()
    import azure.identity as identity

    if key == "default":
        return identity.DefaultAzureCredential(authority=authority)
    if key == "cli":
        return identity.AzureCliCredential()
    if key == "environment":
        return identity.EnvironmentCredential(authority=authority)
    return identity.ManagedIdentityCredential()


def _quiet_sdk_logs() -> None:
    """Keep the Azure SDK's log records off stderr: egress reports what failed in its own one line.

    azure-identity logs every credential it tried at WARNING, several lines each; with no handler configured,
    Python's last-resort handler would print them on stderr above egress's `Error: ...` line.
    """
    logger = logging.getLogger("azure")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())

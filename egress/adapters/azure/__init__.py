"""The Azure adapter: the only place egress talks to Azure (and imports the Azure SDK, lazily).

    ref = parse_nsg_id("azure:/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/...")
    endpoint = resolve_endpoint("public", None)            # honours $EGRESS_ARM_ENDPOINT
    credential = make_credential("cli", endpoint.authority)
    with NsgClient(ref, endpoint, credential) as client:
        nsg, etag = client.get()
        ...                                                 # edit nsg["properties"]["securityRules"]
        try:
            result = client.put(nsg, etag)
        except PreconditionFailedError:
            ...                                             # changed meanwhile: get() again and re-plan

A run over many NSGs shares one `AzureSession(auth)` (one sign-in, one SDK client per subscription, one
connection pool, per-subscription throttling): `NsgClient(ref, endpoint, session=session)`.

Importing this package loads no SDK module; the first request does.
"""

from egress.adapters.azure.credentials import AUTH_METHODS, SharedCredential, make_credential
from egress.adapters.azure.errors import AzureApiError, PreconditionFailedError
from egress.adapters.azure.nsg_client import NsgClient
from egress.adapters.azure.service_tags import service_tags_to_weekly
from egress.adapters.azure.session import AzureSession, RequestStats
from egress.adapters.azure.target import (
    CLOUD_ENDPOINTS,
    ENV_ARM_ENDPOINT,
    Endpoint,
    NsgRef,
    parse_nsg_id,
    resolve_endpoint,
)

__all__ = [
    "AUTH_METHODS",
    "CLOUD_ENDPOINTS",
    "ENV_ARM_ENDPOINT",
    "AzureApiError",
    "AzureSession",
    "Endpoint",
    "NsgClient",
    "NsgRef",
    "PreconditionFailedError",
    "RequestStats",
    "SharedCredential",
    "make_credential",
    "parse_nsg_id",
    "resolve_endpoint",
    "service_tags_to_weekly",
]

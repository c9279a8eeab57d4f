"""The Service Tag Discovery API (`GET .../locations/{location}/serviceTags`) through azure-mgmt-network.

Returns the answer in the weekly file's shape (`changeNumber` is a string there) so the same parser and
validation apply. The SDK and azure-identity are imported only when this function runs.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from egress.errors import AzureError, UsageError

ARM_ENDPOINT_ENV = "EGRESS_ARM_ENDPOINT"
# cloud -> (Resource Manager endpoint, login authority host)
ENDPOINTS: dict[str, tuple[str, str]] = {
    "public": ("https://management.azure.com", "login.microsoftonline.com"),
    "usgov": ("https://management.usgovcloudapi.net", "login.microsoftonline.us"),
    "china": ("https://management.chinacloudapi.cn", "login.chinacloudapi.cn"),
}
AUTH_MODES = ("default", "cli", "environment", "managed-identity")


def make_credential(auth: str, authority: str) -> Any:
    """The azure-identity credential for `--auth` (default: DefaultAzureCredential)."""
    import azure.identity as identity

    if auth == "default":
        return identity.DefaultAzureCredential(authority=authority)
    if auth == "cli":
        return identity.AzureCliCredential()
    if auth == "environment":
        return identity.EnvironmentCredential(authority=authority)
    if auth == "managed-identity":
        return identity.ManagedIdentityCredential()
    raise UsageError(f"unknown --auth {auth!r}; use one of {', '.join(AUTH_MODES)}.")


def fetch_service_tags(
    subscription: str,
    location: str,
    cloud: str = "public",
    auth: str = "default",
    *,
    arm_endpoint: str | None = None,
    credential: Any = None,
) -> dict[str, Any]:
    """All service tags of the subscription's cloud, as a dict in the weekly-file shape."""
    if cloud not in ENDPOINTS:
        raise UsageError(
            f"the Service Tag Discovery API is not available for cloud {cloud!r}; use the download."
        )
    arm, authority = ENDPOINTS[cloud]
    arm = (arm_endpoint or os.environ.get(ARM_ENDPOINT_ENV) or arm).rstrip("/")

    from azure.core.exceptions import AzureError as SdkError
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
    from azure.mgmt.network import NetworkManagementClient

    # Plain HTTP only for a loopback test double; a real endpoint keeps the SDK's TLS check.
    options: dict[str, Any] = {"enforce_https": False} if _is_loopback_http(arm) else {}
    try:
        cred = credential or make_credential(auth, authority)
        client = NetworkManagementClient(
            cred, subscription, base_url=arm, credential_scopes=[f"{arm}/.default"]
        )
        result = client.service_tags.list(location, **options)
    except ClientAuthenticationError as exc:
        raise AzureError(
            f"could not sign in to Azure ({_first_line(exc)}); run `az login` or choose another --auth."
        ) from None
    except HttpResponseError as exc:
        raise AzureError(
            f"Azure refused the service-tag request (HTTP {exc.status_code}: {_first_line(exc)}); "
            "check --subscription and --location and your access."
        ) from None
    except SdkError as exc:
        raise AzureError(f"could not reach Azure Resource Manager at {arm} ({_first_line(exc)}).") from None
    return dict(result.as_dict())


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc)
    return (text.splitlines() or [type(exc).__name__])[0][:160]


def _is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") in ("127.0.0.1", "localhost", "::1")

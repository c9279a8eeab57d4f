"""Which NSG egress writes to, and which Azure cloud answers. Pure: no SDK import, no network.

An NSG target is written `azure:/subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.Network/
networkSecurityGroups/<name>` (the `azure:` prefix is optional; segment names match case-insensitively).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from egress.core.urls import redact_url
from egress.errors import UsageError

TARGET_PREFIX = "azure:"
ENV_ARM_ENDPOINT = "EGRESS_ARM_ENDPOINT"

_ID_RE = re.compile(
    r"^/?subscriptions/(?P<sub>[^/]*)/resourcegroups/(?P<rg>[^/]*)"
    r"/providers/microsoft\.network/networksecuritygroups/(?P<name>[^/]*)/?$",
    re.IGNORECASE,
)
_GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
# Resource groups: 1-90 letters, digits, `_ - . ( )`, not ending in `.`.
_RG_RE = re.compile(r"^[\w\-.()]{0,89}[\w\-()]$")
# NSG (and rule) names: 1-80 chars, start with a word character, end with a word character or `_`.
_NAME_RE = re.compile(r"^\w(?:[\w.-]{0,78}\w)?$")
_EXAMPLE = (
    "azure:/subscriptions/<subscription-id>/resourceGroups/<group>"
    "/providers/Microsoft.Network/networkSecurityGroups/<nsg>"
)


@dataclass(frozen=True)
class NsgRef:
    """One network security group, as named in its Azure resource id."""

    subscription: str
    resource_group: str
    name: str

    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Network/networkSecurityGroups/{self.name}"
        )

    @property
    def target(self) -> str:
        """The spelling egress prints and accepts: `azure:` + the resource id."""
        return TARGET_PREFIX + self.resource_id

    def __str__(self) -> str:
        return self.target


def subscription_id(text: str, what: str = "--subscription") -> str:
    """A subscription id (a GUID), lower-cased. Checked before any sign-in: a typo never reaches Entra ID or ARM."""
    value = text.strip()
    if not _GUID_RE.fullmatch(value):
        raise UsageError(
            f"{what} {text!r} is not a subscription id (a GUID like 00000000-0000-0000-0000-000000000000); "
            "`az account show --query id` prints yours."
        )
    return value.lower()


def parse_nsg_id(text: str) -> NsgRef:
    """Parse `azure:/subscriptions/...` or a bare NSG resource id; raise UsageError if it is neither."""
    raw = text.strip()
    body = raw[len(TARGET_PREFIX) :] if raw.lower().startswith(TARGET_PREFIX) else raw
    m = _ID_RE.match(body)
    if not m:
        raise UsageError(f"{text!r} is not an NSG resource id; write it as {_EXAMPLE}.")
    sub, rg, name = m.group("sub"), m.group("rg"), m.group("name")
    if not _GUID_RE.match(sub):
        raise UsageError(
            f"subscription {sub!r} in {text!r} is not a subscription id (a GUID); check the NSG id."
        )
    if not _RG_RE.match(rg):
        raise UsageError(
            f"resource group {rg!r} in {text!r} is not a valid resource group name; check the NSG id."
        )
    if not _NAME_RE.match(name):
        raise UsageError(f"NSG name {name!r} in {text!r} is not a valid NSG name; check the NSG id.")
    return NsgRef(sub.lower(), rg, name)


@dataclass(frozen=True)
class Endpoint:
    """Where Azure Resource Manager answers and how to get a token for it."""

    cloud: str  # public | usgov | china
    arm: str  # ARM base URL, no trailing slash
    authority: str  # Microsoft Entra authority host for azure-identity
    scope: str  # the token scope ARM accepts

    @property
    def overridden(self) -> bool:
        return self.arm != CLOUD_ENDPOINTS[self.cloud].arm


CLOUD_ENDPOINTS: dict[str, Endpoint] = {
    "public": Endpoint(
        "public",
        "https://management.azure.com",
        "login.microsoftonline.com",
        "https://management.azure.com/.default",
    ),
    "usgov": Endpoint(
        "usgov",
        "https://management.usgovcloudapi.net",
        "login.microsoftonline.us",
        "https://management.usgovcloudapi.net/.default",
    ),
    "china": Endpoint(
        "china",
        "https://management.chinacloudapi.cn",
        "login.chinacloudapi.cn",
        "https://management.chinacloudapi.cn/.default",
    ),
}
# Other spellings users type (Azure CLI cloud names, the weekly files' `cloud` values).
_CLOUD_ALIASES = {
    "azurecloud": "public",
    "azureusgovernment": "usgov",
    "azuregovernment": "usgov",
    "azurechinacloud": "china",
}


def resolve_endpoint(cloud: str, arm_endpoint: str | None = None) -> Endpoint:
    """The endpoint for `cloud`, with its ARM URL replaced by `arm_endpoint` or else $EGRESS_ARM_ENDPOINT.

    The override keeps the cloud's authority and token scope: it is meant for private ARM front ends and test
    doubles, which accept the cloud's tokens.
    """
    key = cloud.strip().lower()
    key = _CLOUD_ALIASES.get(key, key)
    if key not in CLOUD_ENDPOINTS:
        raise UsageError(
            f"unknown cloud {cloud!r} for Azure Resource Manager: use one of {', '.join(CLOUD_ENDPOINTS)}."
        )
    endpoint = CLOUD_ENDPOINTS[key]
    override = arm_endpoint or os.environ.get(ENV_ARM_ENDPOINT) or None
    if override is None:
        return endpoint
    parts = urlsplit(override.strip())
    source = "--arm-endpoint" if arm_endpoint else f"${ENV_ARM_ENDPOINT}"
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise UsageError(
            f"{source} {redact_url(override)!r} is not an https:// base URL; give one like "
            "https://management.azure.com."
        )
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"{source} {redact_url(override)!r} carries a user name or password; ARM takes a bearer token "
            "(--auth), never credentials in the URL."
        )
    return replace(endpoint, arm=override.strip().rstrip("/"))

"""Turn Service Tag Discovery API answers into the weekly download's JSON shape. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from egress.errors import FetchError


def _change_number(value: object, where: str) -> int:
    # The API sends changeNumber as a string ("63"); the weekly file as a number.
    if isinstance(value, bool):
        raise FetchError(
            f"the Service Tag Discovery API returned changeNumber {value!r} for {where}; expected a number."
        )
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.isdigit():
        raise FetchError(
            f"the Service Tag Discovery API returned changeNumber {value!r} for {where}; expected a number."
        )
    return int(text)


def service_tags_to_weekly(pages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge the pages of a Discovery API answer into `{"changeNumber": int, "cloud": str, "values": [...]}`.

    Each value keeps the API's properties (changeNumber made an int). The API omits `regionId`, `platform`
    and `networkFeatures`, and lists only tags that NSGs accept.
    """
    if not pages:
        raise FetchError("the Service Tag Discovery API returned nothing.")
    first = pages[0]
    values: list[dict[str, Any]] = []
    for page in pages:
        for entry in page.get("values") or []:
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                raise FetchError("the Service Tag Discovery API returned a tag without a name.")
            props = dict(entry.get("properties") or {})
            if "changeNumber" in props:
                props["changeNumber"] = _change_number(props["changeNumber"], name)
            values.append({"name": name, "id": entry.get("id") or name, "properties": props})
    cloud = first.get("cloud")
    if not isinstance(cloud, str) or not cloud:
        raise FetchError("the Service Tag Discovery API answer names no cloud.")
    return {
        "changeNumber": _change_number(first.get("changeNumber"), "the list"),
        "cloud": cloud,
        "values": values,
    }


def fetch_service_tags(
    subscription: str,
    location: str,
    cloud: str = "public",
    auth: str = "default",
    *,
    arm_endpoint: str | None = None,
    credential: Any = None,
    ca_bundle: str | None = None,
) -> dict[str, Any]:
    """All service tags of the subscription's cloud from the Discovery API, in the weekly file's shape."""
    from egress.adapters.azure.arm_client import ArmResourceClient
    from egress.adapters.azure.credentials import make_credential
    from egress.adapters.azure.target import CLOUD_ENDPOINTS, resolve_endpoint, subscription_id
    from egress.errors import UsageError

    if cloud not in CLOUD_ENDPOINTS:
        raise UsageError(
            f"the Service Tag Discovery API is not available for cloud {cloud!r}; use the download."
        )
    subscription = subscription_id(subscription, "subscription")
    endpoint = resolve_endpoint(cloud, arm_endpoint)
    cred = credential if credential is not None else make_credential(auth, endpoint.authority)
    with ArmResourceClient(None, endpoint, cred, ca_bundle=ca_bundle) as client:
        return client.list_service_tags(subscription, location)

"""Where firewall policy plans are written: a rule collection group kept as JSON, or a live one."""

from __future__ import annotations

from typing import Any

from egress.places.firewall_policy.model import (
    RuleCollectionGroup,
    parse_rule_collection_group,
    with_collections,
)


def _parse(document: Any, source: str) -> RuleCollectionGroup:
    return parse_rule_collection_group(document, source=source)


def _client_class() -> Any:
    from egress.adapters.azure.firewall_policy_client import RuleCollectionGroupClient

    return RuleCollectionGroupClient


def _ref(text: str) -> Any:
    from egress.adapters.azure.resource_ids import parse_rule_collection_group_id

    return parse_rule_collection_group_id(text)


def _blank(ref: Any) -> dict[str, Any]:
    """A group the policy does not have yet: egress creates it (priority from --priority-start)."""
    return {"name": ref.name, "properties": {"ruleCollections": []}}


def open_target(target: str, **azure: Any) -> Any:
    from egress.adapters.place_target import open_document_target

    return open_document_target(
        target,
        what="rule collection group",
        parse=_parse,
        rebuild=with_collections,
        azure_ref=_ref,
        client_class=_client_class,
        blank=_blank,
        **azure,
    )

"""Where route table plans are written: a route table kept as JSON (ARM's or az's shape) or a live one."""

from __future__ import annotations

from typing import Any

from egress.places.route_table.model import RouteTable, parse_route_table, with_routes


def _parse(document: Any, source: str) -> RouteTable:
    return parse_route_table(document, source=source)


def _client_class() -> Any:
    from egress.adapters.azure.route_table_client import RouteTableClient

    return RouteTableClient


def _ref(text: str) -> Any:
    from egress.adapters.azure.resource_ids import parse_route_table_id

    return parse_route_table_id(text)


def open_target(target: str, **azure: Any) -> Any:
    from egress.adapters.place_target import open_document_target

    return open_document_target(
        target,
        what="route table",
        parse=_parse,
        rebuild=with_routes,
        azure_ref=_ref,
        client_class=_client_class,
        **azure,
    )

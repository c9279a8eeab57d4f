"""Real weekly files and a small export of them, shared by the allow-list tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from egress.adapters.datastore import load_file
from egress.core.model import Dataset
from egress.places.allowlist.export import ExportRequest, build, resolve_tags
from egress.places.allowlist.formats import Options, export_format
from egress.places.allowlist.model import ExportSet
from egress.render.header import Header
from tests.conftest import SHARED_DATA

SMALL_TAGS = ("AzureBackup.WestUS2", "Storage.WestUS2")


def week(stamp: str) -> Path:
    return SHARED_DATA / "servicetags" / f"ServiceTags_Public_{stamp}.json"


_LOADED: dict[str, Dataset] = {}


def dataset(stamp: str = "20250127") -> Dataset:
    if stamp not in _LOADED:
        _LOADED[stamp] = load_file(str(week(stamp)))
    return _LOADED[stamp]


def request(fmt: str, tags: tuple[str, ...] = SMALL_TAGS, **kwargs: object) -> ExportRequest:
    options = Options(**kwargs.pop("options", {}))  # type: ignore[arg-type]
    return ExportRequest(
        format=export_format(fmt),
        tags=tags,
        name=kwargs.pop("name", "azure_backup"),
        options=options,
        **kwargs,
    ).checked()  # type: ignore[arg-type]


def export_of(req: ExportRequest, stamp: str = "20250127") -> ExportSet:
    ds = dataset(stamp)
    return build(req, resolve_tags(ds, req.tags), ds)


def header_of(export: ExportSet, command: str = "egress ranges export (test)") -> Header:
    return Header(tool_version="TEST", provenance=export.provenance_text(), command=command)


@pytest.fixture
def small() -> ExportSet:
    return export_of(request("edl"))

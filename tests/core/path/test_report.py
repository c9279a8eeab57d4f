"""The report's three formats, as golden files (review a change with EGRESS_UPDATE_GOLDEN=1, then the diff)."""

from __future__ import annotations

import json

from egress.cli.common import render_table
from egress.core.model import Dataset
from egress.core.path.report import HEADERS, markdown, rows, text, to_json
from egress.core.path.topology import build
from egress.core.path.verdict import check_paths
from tests.core.path import scenario as s
from tests.core.path.conftest import DATA_FILE
from tests.helpers import assert_golden


def report(dataset: Dataset):  # type: ignore[no-untyped-def]
    first = dataset.get("AzureBackup").ipv4()[0]
    resources = s.base(
        nic_nsg=[s.rule("deny-entra", 200, "Deny", "AzureActiveDirectory")],
        routeTable={"id": s.RT_ID},
        serviceEndpoints=[{"service": "Microsoft.Storage", "locations": ["eastus"]}],
    )
    resources += [
        s.route_table(("default", "0.0.0.0/0", "Internet", ""), ("drop-one", first, "None", "")),
        s.admin_rules(),
    ]
    return check_paths(build(resources, "resources.json"), dataset)


def scrub(output: str) -> str:
    return output.replace(str(DATA_FILE), "<data>")


def test_table(dataset: Dataset) -> None:
    result = report(dataset)
    assert_golden(
        "path/report.txt", scrub(text(result, dataset.provenance, render_table(HEADERS, rows(result)))) + "\n"
    )


def test_markdown(dataset: Dataset) -> None:
    assert_golden(
        "path/report.md", scrub(markdown(report(dataset), dataset.provenance, "resources.json")) + "\n"
    )


def test_json(dataset: Dataset) -> None:
    doc = to_json(report(dataset), dataset.provenance, "resources.json")
    assert_golden("path/report.json", scrub(json.dumps(doc, indent=2, sort_keys=True)) + "\n")

"""json: exactly `egress plan --output json` plus the `_generator` header."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egress.places.nsg import render_json
from tests.helpers import assert_golden
from tests.places.nsg import nsg_cases


@pytest.mark.parametrize("case", list(nsg_cases.CASES))
def test_golden(shared_data: Path, case: str) -> None:
    assert_golden(f"render/{case}/{render_json.FILE_NAME}", nsg_cases.render(shared_data, case, "json"))


@pytest.mark.parametrize("case", list(nsg_cases.CASES))
def test_is_the_plan_plus_the_header(shared_data: Path, case: str) -> None:
    doc = json.loads(nsg_cases.render(shared_data, case, "json"))
    generator = doc.pop("_generator")
    assert doc == nsg_cases.ruleset(shared_data, case).to_json()
    assert set(generator) == {"name", "version", "provenance", "command"}
    assert generator["command"].startswith(
        "egress render --data ServiceTags_Public_20250127.json --format json "
    )


def test_matches_the_plan_golden(shared_data: Path) -> None:
    # The plan command's own golden file (tests/golden/plan) is what `render --format json` extends.
    plan_golden = Path(__file__).parents[2] / "golden" / "plan" / "service-tags-eastus.json"
    doc = json.loads(nsg_cases.render(shared_data, "service-tags-eastus", "json"))
    doc.pop("_generator")
    assert doc == json.loads(plan_golden.read_text(encoding="utf-8"))

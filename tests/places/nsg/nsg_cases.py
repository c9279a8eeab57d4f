"""The real-data cases every NSG renderer test uses: the week of 2025-01-27, three options, two targets.

The dataset's source is reduced to its file name and the spec names the data by file name, so headers and
goldens do not depend on where the decompressed test data lives.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from egress.adapters.datastore import load_file
from egress.core.model import Dataset
from egress.core.spec import EgressSpec
from egress.places.nsg.formats import FORMATS, render_nsg
from egress.places.nsg.planner import RuleSet, build_rules
from egress.render.common import RenderTarget, plan_header
from egress.render.header import Header

DATA_NAME = "ServiceTags_Public_20250127.json"
VERSION = "TEST"  # goldens must not change with every release
NAMED = RenderTarget(name="nsg-backup", resource_group="rg-backup")

# name -> (spec, target); service-tags leaves the names to whoever runs the files (required parameters).
CASES: dict[str, tuple[EgressSpec, RenderTarget]] = {
    "service-tags-eastus": (EgressSpec(region="eastus", data=DATA_NAME), RenderTarget()),
    "ip-ranges-eastus": (EgressSpec(option="ip-ranges", region="eastus", data=DATA_NAME), NAMED),
    "proxy": (EgressSpec(option="proxy", proxy_ip="10.0.0.5", proxy_port=3128, data=DATA_NAME), NAMED),
    # --proxy-ports 80,443: Azure's plural destinationPortRanges in every format (issue 15 §5).
    "proxy-ports": (
        EgressSpec(option="proxy", proxy_ip="10.0.0.5", proxy_ports=("80", "443"), data=DATA_NAME),
        NAMED,
    ),
}


def data_file(shared_data: Path) -> Path:
    return shared_data / "servicetags" / DATA_NAME


@lru_cache(maxsize=2)
def week(path: str) -> Dataset:
    loaded = load_file(path)
    provenance = replace(loaded.provenance, source=Path(loaded.provenance.source).name)
    return Dataset(provenance=provenance, tags=loaded.tags)


@lru_cache(maxsize=8)
def _ruleset(path: str, case: str) -> RuleSet:
    return build_rules(CASES[case][0], week(path))


def ruleset(shared_data: Path, case: str) -> RuleSet:
    return _ruleset(str(data_file(shared_data)), case)


def header(rules: RuleSet, fmt: str, target: RenderTarget) -> Header:
    return plan_header(rules, fmt, target, tool_version=VERSION)


def render(shared_data: Path, case: str, fmt: str) -> str:
    """The one file a format writes for a case, rendered exactly as `egress render` would (version TEST)."""
    rules = ruleset(shared_data, case)
    target = CASES[case][1]
    files = render_nsg(fmt, rules, header(rules, fmt, target), target)
    assert list(files) == [FORMATS[fmt].file_name]
    return files[FORMATS[fmt].file_name]

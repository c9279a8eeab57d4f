"""NSGs listed by id in the config get the Graph no-op too: one Resource Graph query by ids (`id in~ (...)`) for
all of them, so a no-op run reads none; any NSG whose Graph copy differs, or that Graph does not show, is read
with a GET and written with If-Match as before. Real SDK clients and AzureCliCredential on the ARM double."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.armdouble import ArmDouble
from tests.armdouble.plugin import FakeAz
from tests.cli.test_refresh_discover import MANAGED, THEIRS, estate, nsg_id, refresh, rules

__all__ = ["estate"]  # the fixture, seeded with the tagged NSGs this module lists by id


def listed(tmp_path: Path, ids: list[str]) -> Path:
    path = tmp_path / "listed.toml"
    entries = "".join(f'\n[[targets]]\nname = "n{i}"\ntarget = "azure:{rid}"\n' for i, rid in enumerate(ids))
    path.write_text('[defaults]\noption = "service-tags"\nregion = "eastus"\n' + entries)
    return path


def results(result) -> dict[str, dict]:
    return {t["name"]: t for t in json.loads(result.stdout)["targets"]}


def graph_queries(double: ArmDouble) -> list[str]:
    return [r.body["query"] for r in double.requests if r.kind == "graph"]


def test_a_no_op_of_listed_nsgs_costs_one_graph_query_and_no_get(
    estate: ArmDouble, fake_az: FakeAz, tmp_path: Path, shared_data: Path
) -> None:
    cfg = listed(tmp_path, MANAGED)
    first = refresh(cfg, shared_data, "--apply")
    assert first.exit_code == 3, first.stderr
    assert {t["result"] for t in results(first).values()} == {"applied"}
    assert (
        estate.count("GET", "nsg") >= 8 and estate.count("PUT") == 8
    )  # Graph's copy differed: read, then written

    estate.requests.clear()
    calls = len(fake_az.calls())
    noop = refresh(cfg, shared_data, "--apply")
    assert noop.exit_code == 0, noop.stderr
    report = json.loads(noop.stdout)
    assert {t["result"] for t in report["targets"]} == {"unchanged"}
    assert all(t["requests"] == {} for t in report["targets"])
    assert [r.kind for r in estate.requests] == ["graph"]  # one query for all eight, no GET
    (query,) = graph_queries(estate)
    assert "| where id in~ (" in query and all(rid.lower() in query for rid in MANAGED)
    assert len(fake_az.calls()) - calls == 1  # one sign-in for the run
    assert any("Resource Graph showed 8 of 8 listed NSG(s) (1 request(s))" in n for n in report["notes"])

    estate.requests.clear()
    read = refresh(cfg, shared_data, "--apply", "--no-graph")
    assert read.exit_code == 0, read.stderr
    assert estate.count(kind="graph") == 0 and estate.count("GET", "nsg") == 8 and estate.count("PUT") == 0


def test_a_listed_nsg_graph_shows_stale_or_not_at_all_is_read_and_written_with_if_match(
    estate: ArmDouble, tmp_path: Path, shared_data: Path
) -> None:
    missing = nsg_id(MANAGED[0].split("/")[2], "rg-0", "not-there")
    cfg = listed(tmp_path, [*MANAGED[:3], missing])
    assert refresh(cfg, shared_data, "--apply").exit_code == 1  # the missing NSG is an error (404)
    equal, behind = MANAGED[0], MANAGED[1]
    # Graph's copy is at the plan but ARM moved on: unchanged without a request (Graph decides only "skip").
    estate.freeze_graph(equal)
    estate.edit_nsg(equal, lambda d: d["properties"]["securityRules"].append(THEIRS))
    # Graph's copy lacks an egress rule and ARM gained a foreign rule since: GET, then PUT on ARM's etag.
    estate.edit_nsg(behind, lambda d: d["properties"]["securityRules"].pop())
    estate.freeze_graph(behind)
    estate.edit_nsg(behind, lambda d: d["properties"]["securityRules"].append(THEIRS))
    etag = estate.nsg(behind)["etag"]

    estate.requests.clear()
    result = refresh(cfg, shared_data, "--apply")
    assert result.exit_code == 1, result.stderr
    targets = results(result)
    assert targets["n0"]["result"] == "unchanged" and targets["n0"]["requests"] == {}
    assert targets["n1"]["result"] == "applied"
    puts = [r for r in estate.requests if r.method == "PUT"]
    assert [r.path.lower() for r in puts] == [behind.lower()] and puts[0].if_match == etag
    assert "their-new-rule" in rules(estate, behind) and "egress-deny-internet" in rules(estate, behind)
    assert "their-new-rule" in rules(estate, equal)
    assert targets["n2"]["result"] == "unchanged" and targets["n2"]["requests"] == {}
    assert (
        targets["n3"]["result"] == "error" and targets["n3"]["requests"].get("GET") == 1
    )  # not in Graph: read
    assert "Resource Graph showed 3 of 4 listed NSG(s)" in " ".join(json.loads(result.stdout)["notes"])


def test_listed_ids_are_chunked_when_a_query_would_be_too_long(
    estate: ArmDouble, tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = listed(tmp_path, MANAGED)
    assert refresh(cfg, shared_data, "--apply").exit_code == 3
    monkeypatch.setattr("egress.core.discovery.MAX_QUERY_CHARS", 800)  # room for 4 of these ids a query
    estate.requests.clear()
    noop = refresh(cfg, shared_data, "--apply")
    assert noop.exit_code == 0, noop.stderr
    queries = graph_queries(estate)
    assert len(queries) == 2 and all(len(q) <= 800 for q in queries)
    assert all(sum(rid.lower() in q for q in queries) == 1 for rid in MANAGED)  # each id in one query
    assert [r.kind for r in estate.requests] == ["graph"] * len(queries)
    assert {t["result"] for t in results(noop).values()} == {"unchanged"}


def test_graph_failing_for_listed_nsgs_costs_only_the_no_op(
    estate: ArmDouble, tmp_path: Path, shared_data: Path
) -> None:
    cfg = listed(tmp_path, MANAGED[:2])
    assert refresh(cfg, shared_data, "--apply").exit_code == 3
    estate.inject("status", method="POST", path="*/microsoft.resourcegraph/*", times=100, status=403,
                  code="AuthorizationFailed", message="no Reader")  # fmt: skip
    estate.requests.clear()
    result = refresh(cfg, shared_data, "--apply")
    assert result.exit_code == 0, result.stderr
    assert {t["result"] for t in results(result).values()} == {"unchanged"}
    assert estate.count("GET", "nsg") == 2 and estate.count("PUT") == 0
    (note,) = [n for n in json.loads(result.stdout)["notes"] if "listed NSG(s)" in n]
    assert "could not be read" in note and "each is read with a GET" in note

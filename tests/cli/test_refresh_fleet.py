"""Fleet scale on the ARM double: one sign-in per run (the real AzureCliCredential and a stand-in `az` that counts
its calls), clients and connections shared, ARM's throttling absorbed per subscription, one subscription failing
authorisation while the others proceed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from tests.armdouble import ArmDouble
from tests.armdouble.plugin import FakeAz

runner = CliRunner()
SUBS = (
    "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "1c2e5f8a-0d4b-4e6f-9a7b-3c5d7e9f1a2b",
    "2d3f6a9b-1e5c-4f70-8b8c-4d6e8f0a2b3c",
)
POLICY = {
    "name": "NRMS-Rule-101",
    "properties": {
        "access": "Deny", "description": "injected by organisation policy", "destinationAddressPrefix": "*",
        "destinationPortRange": "23", "direction": "Outbound", "priority": 200, "protocol": "Tcp",
        "sourceAddressPrefix": "*", "sourcePortRange": "*",
    },
}  # fmt: skip


def nsg_id(i: int) -> str:
    sub = SUBS[i % len(SUBS)]
    return f"/subscriptions/{sub}/resourceGroups/rg-{i % 7}/providers/Microsoft.Network/networkSecurityGroups/nsg-{i:04d}"


def fleet(double: ArmDouble, tmp_path: Path, n: int) -> Path:
    """`n` NSGs (each holding a foreign policy rule) spread over three subscriptions, one [[targets]] entry each."""
    lines = ["[defaults]", 'option = "service-tags"', 'region = "eastus"']
    for i in range(n):
        double.seed_nsg(nsg_id(i), {"location": "eastus", "properties": {"securityRules": [POLICY]}})
        lines += ["", "[[targets]]", f'name = "nsg-{i:04d}"', f'target = "azure:{nsg_id(i)}"']
    path = tmp_path / "fleet.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def live(arm_env: ArmDouble, fake_az: FakeAz, monkeypatch: pytest.MonkeyPatch) -> ArmDouble:
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", "0")
    monkeypatch.setenv("EGRESS_CACHE_DIR", str(fake_az.directory.parent / "cache"))
    return arm_env


def refresh(config: Path, data: Path, *args: str):
    return runner.invoke(
        app, ["refresh", "--config", str(config), "--data", str(data), "--auth", "cli", "-o", "json", *args]
    )


def week(shared: Path) -> Path:
    return shared / "servicetags" / "ServiceTags_Public_20250127.json"


def test_a_fleet_of_100_signs_in_once_per_run(
    live: ArmDouble, fake_az: FakeAz, tmp_path: Path, shared_data: Path
) -> None:
    config = fleet(live, tmp_path, 100)
    changed = refresh(config, week(shared_data), "--apply", "--concurrency", "8")
    assert changed.exit_code == 3, changed.stderr
    report = json.loads(changed.stdout)
    assert [t["name"] for t in report["targets"]] == [f"nsg-{i:04d}" for i in range(100)]  # config order
    assert {t["result"] for t in report["targets"]} == {"applied"}
    assert len(fake_az.calls()) == 1  # one `az account get-access-token` for 100 NSGs in 3 subscriptions
    assert {r.token for r in live.requests} == {fake_az.token}
    assert live.count("PUT", "nsg") == 100 and live.count("GET", "nsg") == 200  # read + the LRO's final GET
    for i in range(100):  # foreign rules kept, egress's written
        names = [r["name"] for r in live.nsg(nsg_id(i))["properties"]["securityRules"]]
        assert names[0] == "NRMS-Rule-101" and "egress-deny-internet" in names
    assert all(r.if_match for r in live.requests if r.method == "PUT")

    live.requests.clear()
    noop = refresh(config, week(shared_data), "--apply", "--concurrency", "8")
    assert noop.exit_code == 0, noop.stderr
    assert {t["result"] for t in json.loads(noop.stdout)["targets"]} == {"unchanged"}
    assert len(fake_az.calls()) == 2  # the second run signs in once more, not once per NSG
    assert [r.kind for r in live.requests] == ["graph"]  # one Graph query by ids, no GET of any NSG


def test_throttling_bursts_never_surface_as_failures(
    live: ArmDouble, fake_az: FakeAz, tmp_path: Path, shared_data: Path
) -> None:
    """ARM's buckets enforced (small here: egress spaces its requests when they run low) plus injected 429
    bursts: every target is applied, every write still carries If-Match."""
    config = fleet(live, tmp_path, 60)
    live.limits.buckets = {"reads": (40, 200.0), "writes": (10, 100.0), "deletes": (10, 100.0)}
    live.limits.enforce = True
    live.inject("throttle", method="PUT", times=15, retry_after="0")
    live.inject("throttle", method="GET", path="*/operations/*", times=15, retry_after="0")
    result = refresh(config, week(shared_data), "--apply", "--concurrency", "16")
    assert result.exit_code == 3, result.stderr
    targets = json.loads(result.stdout)["targets"]
    assert {t["result"] for t in targets} == {"applied"}, [
        t["message"] for t in targets if t["result"] != "applied"
    ]
    throttled = [r for r in live.requests if r.status == 429]
    assert len([r for r in throttled if r.fault == "throttle"]) == 30  # any beyond: ARM's own buckets
    assert live.count("PUT", "nsg") - sum(1 for r in throttled if r.method == "PUT") == 60
    assert all(r.if_match for r in live.requests if r.method == "PUT")


def test_one_subscription_refusing_authorisation_leaves_the_others_applied(
    live: ArmDouble, fake_az: FakeAz, tmp_path: Path, shared_data: Path
) -> None:
    config = fleet(live, tmp_path, 12)
    denied = SUBS[1]
    live.inject(
        "status", path=f"/subscriptions/{denied}/*", times=1000, status=403, code="AuthorizationFailed",
        message=f"The client does not have authorization to perform action over scope '/subscriptions/{denied}'.",
    )  # fmt: skip
    result = refresh(config, week(shared_data), "--apply")
    assert result.exit_code == 1, result.stderr  # an error among applied targets
    targets = {t["name"]: t for t in json.loads(result.stdout)["targets"]}
    for i in range(12):
        t = targets[f"nsg-{i:04d}"]
        if SUBS[i % 3] == denied:
            assert t["result"] == "error" and "403 AuthorizationFailed" in t["message"]
            assert "Network Contributor" in t["message"]
        else:
            assert t["result"] == "applied", t["message"]
    assert len(fake_az.calls()) == 1
    assert not any(r.method == "PUT" and denied in r.path for r in live.requests)


def test_a_mixed_fleet_reads_only_what_changed_and_reports_in_config_order(
    live: ArmDouble, fake_az: FakeAz, tmp_path: Path, shared_data: Path
) -> None:
    """Graph no-ops are decided without the thread pool, the rest go through it: the report still follows the
    config, and only the NSGs someone changed since are read and written."""
    config = fleet(live, tmp_path, 12)
    first = refresh(config, week(shared_data), "--apply", "--concurrency", "4")
    assert first.exit_code == 3, first.stderr
    drifted = (2, 7, 11)
    for i in drifted:  # someone removed egress's rules out of band
        live.seed_nsg(nsg_id(i), {"location": "eastus", "properties": {"securityRules": [POLICY]}})
    live.requests.clear()
    second = refresh(config, week(shared_data), "--apply", "--concurrency", "4")
    assert second.exit_code == 3, second.stderr
    targets = json.loads(second.stdout)["targets"]
    assert [t["name"] for t in targets] == [f"nsg-{i:04d}" for i in range(12)]
    assert [t["result"] for t in targets] == ["applied" if i in drifted else "unchanged" for i in range(12)]
    read = sorted({r.path.lower() for r in live.requests if r.kind == "nsg" and r.method == "GET"})
    assert read == sorted(nsg_id(i).lower() for i in drifted)
    assert live.count("PUT", "nsg") == len(drifted)
    assert all(r.if_match for r in live.requests if r.method == "PUT")


def test_a_fleet_measures_each_tag_once_whatever_its_size(
    live: ArmDouble, fake_az: FakeAz, tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shrink and growth guards measure the run's tags, not each NSG's copy of them: a 1,000-NSG no-op once
    spent seconds parsing the same Storage.EastUS for every NSG. Counted, not timed."""
    import egress.core.growth as growth
    import egress.core.shrink as shrink

    parsed: list[str] = []

    def counting(real):
        def parse(tag, *args):
            parsed.append(tag.name)
            return real(tag, *args)

        return parse

    monkeypatch.setattr(shrink, "parse_tag_prefixes", counting(shrink.parse_tag_prefixes))
    monkeypatch.setattr(growth, "_parsed", counting(growth._parsed))
    counts = {}
    for n in (4, 24):
        folder = tmp_path / str(n)
        folder.mkdir()
        config = fleet(live, folder, n)
        assert refresh(config, week(shared_data), "--apply").exit_code == 3  # first run: writes
        parsed.clear()
        result = refresh(config, week(shared_data), "--apply")
        assert result.exit_code == 0, result.stderr
        counts[n] = sorted(parsed)
    assert counts[4] and counts[4] == counts[24]

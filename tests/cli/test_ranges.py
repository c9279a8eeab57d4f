"""`egress ranges list|show|lookup|diff`: exit code, stdout and stderr checked separately."""

from __future__ import annotations

import gzip
import ipaddress
import json
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app

runner = CliRunner()
BUNDLED_NOTICE = "egress: using the bundled Public service tags of 2025-01-27"


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def bundled_raw() -> dict:
    blob = resources.files("egress.data").joinpath("ServiceTags_Public_20250127.json.gz").read_bytes()
    return json.loads(gzip.decompress(blob))


def _entry(raw: dict, name: str) -> dict:
    return next(v for v in raw["values"] if v["name"] == name)


def _numeric(prefixes: list[str]) -> list[str]:
    nets = {ipaddress.ip_network(p) for p in prefixes}
    return [str(n) for n in sorted(nets, key=lambda n: (n.version, int(n.network_address), n.prefixlen))]


def test_runner_keeps_stderr_apart() -> None:
    result = run("ranges", "show", "Storage.EastUS")
    assert result.stderr.startswith(BUNDLED_NOTICE)
    assert "bundled" not in result.stdout


# --------------------------------------------------------------------------------------------------- show


def test_show_works_offline_on_the_bundled_data(bundled_raw: dict) -> None:
    result = run("ranges", "show", "storage.eastus")
    assert result.exit_code == 0
    expected = _numeric(_entry(bundled_raw, "Storage.EastUS")["properties"]["addressPrefixes"])
    assert result.stdout.splitlines() == expected
    assert result.stderr.strip().splitlines() == [
        BUNDLED_NOTICE + " (run `egress ranges fetch` for the current week)"
    ]


def test_show_family_merge_and_json(bundled_raw: dict) -> None:
    prefixes = _entry(bundled_raw, "AzureCloud.eastus")["properties"]["addressPrefixes"]
    v4 = [ipaddress.ip_network(p) for p in prefixes if ":" not in p]

    result = run("ranges", "show", "AZURECLOUD.EASTUS", "--family", "ipv4", "--merge")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [str(n) for n in ipaddress.collapse_addresses(sorted(v4))]

    result = run("ranges", "show", "azurecloud.eastus", "--family", "ipv6", "--output", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["tag"] == "AzureCloud.eastus" and doc["family"] == "ipv6" and doc["merged"] is False
    assert doc["prefixes"] == _numeric([p for p in prefixes if ":" in p]) and doc["count"] == len(
        doc["prefixes"]
    )
    assert (
        doc["provenance"]["kind"] == "bundled"
        and doc["provenance"]["changeNumber"] == bundled_raw["changeNumber"]
    )


def test_show_with_data_file_and_legacy_xml(shared_data: Path) -> None:
    xml = shared_data / "legacy" / "PublicIPs_20200826.xml"
    result = run("ranges", "show", "AzureCloud.EuropeWest", "--data", str(xml))
    assert result.exit_code == 0 and result.stderr == ""
    text = xml.read_text()
    block = text[text.index('<Region Name="europewest">') :]
    block = block[: block.index("</Region>")]
    assert len(result.stdout.splitlines()) == block.count("<IpRange ")


def test_unknown_tag_suggests() -> None:
    result = run("ranges", "show", "Storage.EastUs2x")
    assert result.exit_code == 1
    assert result.stdout == ""
    error = result.stderr.splitlines()[-1]
    assert error.startswith("Error: unknown service tag 'Storage.EastUs2x'; did you mean ")
    assert "Storage.EastUS2" in error and "Traceback" not in result.stderr


def test_invalid_choice_is_a_usage_error() -> None:
    result = run("ranges", "show", "Storage.EastUS", "--family", "ipv5")
    assert result.exit_code == 2
    assert result.stdout == "" and "ipv5" in result.stderr


# --------------------------------------------------------------------------------------------------- list


def test_list_json_region_filter_matches_the_file(bundled_raw: dict) -> None:
    result = run("ranges", "list", "--region", "EastUS", "--output", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    expected = sorted(
        (v["name"] for v in bundled_raw["values"] if v["properties"]["region"] == "eastus"), key=str.lower
    )
    assert [t["name"] for t in doc["tags"]] == expected
    row = next(t for t in doc["tags"] if t["name"] == "AzureBackup.EastUS")
    props = _entry(bundled_raw, "AzureBackup.EastUS")["properties"]
    assert row["changeNumber"] == props["changeNumber"] and row["nsgUsable"] is False
    assert row["ipv4"] + row["ipv6"] == len(props["addressPrefixes"])


def test_list_table_service_and_nsg_filters() -> None:
    result = run("ranges", "list", "--service", "AzureBackup", "--nsg-usable")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "REGION", "SERVICE", "CHANGE", "IPV4", "IPV6", "NSG"]
    assert [line.split()[0] for line in lines[1:]] == ["AzureBackup"]  # regional AzureBackup tags lack NSG
    assert lines[1].split()[-1] == "yes"

    everything = run("ranges", "list", "--service", "azurebackup").stdout.splitlines()
    assert len(everything) > 2 and all(line.split()[-1] == "no" for line in everything[2:])


def test_list_2019_file_reports_unknown_nsg_usability(shared_data: Path, tmp_path: Path) -> None:
    raw = json.loads((shared_data / "servicetags" / "ServiceTags_Public_20240610.json").read_bytes())
    for entry in raw["values"]:
        entry["properties"].pop("regionId", None)
        entry["properties"].pop("networkFeatures", None)
    path = tmp_path / "ServiceTags_Public_20191007.json"
    path.write_text(json.dumps(raw))
    result = run("ranges", "list", "--data", str(path), "--nsg-usable", "-o", "json")
    assert result.exit_code == 0 and result.stderr == ""
    tags = json.loads(result.stdout)["tags"]
    assert len(tags) == len(raw["values"]) and {t["nsgUsable"] for t in tags} == {None}
    table = run("ranges", "list", "--data", str(path), "--service", "AzureBackup")
    assert {line.split()[-1] for line in table.stdout.splitlines()[1:]} == {"unknown"}


def test_list_unknown_region_and_service() -> None:
    result = run("ranges", "list", "--region", "eastuss")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith("Error: unknown region 'eastuss'; did you mean eastus")
    result = run("ranges", "list", "--service", "AzureBakup")
    assert result.exit_code == 1 and "did you mean AzureBackup" in result.stderr


# --------------------------------------------------------------------------------------------------- lookup


def test_lookup_lists_every_containing_tag(bundled_raw: dict) -> None:
    first = _entry(bundled_raw, "AzureBackup.EastUS")["properties"]["addressPrefixes"][0]
    address = str(ipaddress.ip_network(first).network_address)
    result = run("ranges", "lookup", address, "192.0.2.10")
    assert result.exit_code == 0
    expected = sorted(
        (
            v["name"]
            for v in bundled_raw["values"]
            if any(
                ipaddress.ip_address(address) in ipaddress.ip_network(p)
                for p in v["properties"]["addressPrefixes"]
            )
        ),
        key=str.lower,
    )
    rows = [line.split() for line in result.stdout.splitlines()]
    assert [r[1] for r in rows if r[0] == address] == expected
    assert [r for r in rows if r[0] == "192.0.2.10"] == [["192.0.2.10", "(no", "tag)", "-"]]

    doc = json.loads(run("ranges", "lookup", address, "-o", "json").stdout)
    assert doc["results"][0]["tags"] == expected


@pytest.mark.parametrize("bad", ["20.60.0.300", "not-an-ip", "10.0.0.0/40"])
def test_lookup_malformed_ip_is_one_line_usage_error(bad: str) -> None:
    result = run("ranges", "lookup", "20.60.0.1", bad)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"Error: {bad!r} is not an IP address or prefix; use e.g. 20.60.0.1, 2603:1030::1 or 20.60.0.0/24."
    ]


# --------------------------------------------------------------------------------------------------- diff


def test_diff_real_consecutive_files(shared_data: Path) -> None:
    d = shared_data / "servicetags"
    old, new = d / "ServiceTags_Public_20250120.json", d / "ServiceTags_Public_20250127.json"
    result = run("ranges", "diff", str(old), str(new), "--output", "json")
    assert result.exit_code == 0 and result.stderr == ""
    doc = json.loads(result.stdout)
    old_map = {
        v["name"]: set(v["properties"]["addressPrefixes"]) for v in json.loads(old.read_bytes())["values"]
    }
    new_map = {
        v["name"]: set(v["properties"]["addressPrefixes"]) for v in json.loads(new.read_bytes())["values"]
    }
    changed = sorted((n for n in new_map if old_map.get(n) != new_map[n]), key=str.lower)
    assert [t["name"] for t in doc["tags"]] == changed
    for tag in doc["tags"]:
        assert set(tag["added"]) == new_map[tag["name"]] - old_map[tag["name"]]
        assert set(tag["removed"]) == old_map[tag["name"]] - new_map[tag["name"]]

    text = run("ranges", "diff", str(old), str(new), "--tag", "azurecloud.EASTUS")
    assert text.exit_code == 0
    plus = sorted(new_map["AzureCloud.eastus"] - old_map["AzureCloud.eastus"])
    minus = sorted(old_map["AzureCloud.eastus"] - new_map["AzureCloud.eastus"])
    lines = text.stdout.splitlines()
    assert sorted(line.split()[2] for line in lines if line.startswith("+ AzureCloud.eastus ")) == plus
    assert sorted(line.split()[2] for line in lines if line.startswith("- AzureCloud.eastus ")) == minus
    assert f"+{len(plus)}/-{len(minus)} prefixes" in text.stdout


def test_diff_change_number_bump_only_reports_no_changes(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "servicetags" / "ServiceTags_China_20260713.json"
    raw = json.loads(src.read_bytes())
    raw["changeNumber"] += 1
    bumped = tmp_path / "ServiceTags_China_20260720.json"
    bumped.write_text(json.dumps(raw, indent=1))
    result = run("ranges", "diff", str(src), str(bumped))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "no changes"
    assert json.loads(run("ranges", "diff", str(src), str(bumped), "-o", "json").stdout)["tags"] == []


def test_diff_against_the_current_data(shared_data: Path) -> None:
    old = shared_data / "servicetags" / "ServiceTags_Public_20250120.json"
    result = run("ranges", "diff", str(old), "--tag", "Storage.*")
    assert result.exit_code == 0
    assert result.stderr.startswith(BUNDLED_NOTICE)
    assert "new: bundled:ServiceTags_Public_20250127.json" in result.stdout


# --------------------------------------------------------------------------------------------------- bad inputs


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    binary = tmp_path / "binary.json"
    binary.write_bytes(bytes(range(256)) * 4)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"kind": "not service tags", "items": [1, 2]}))
    return {
        "missing": (tmp_path / "nope.json", "no such file"),
        "directory": (tmp_path, "is a directory"),
        "binary": (binary, "not a service-tag file"),
        "other-shape": (other, "no `values` list"),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "binary", "other-shape"])
@pytest.mark.parametrize(
    "command",
    [
        ["ranges", "show", "Storage.EastUS", "--data"],
        ["ranges", "list", "--data"],
        ["ranges", "lookup", "20.60.0.1", "--data"],
        ["ranges", "diff", "OLD", "--data"],
    ],
    ids=["show", "list", "lookup", "diff"],
)
def test_bad_data_file_is_one_line_error(
    tmp_path: Path, shared_data: Path, case: str, command: list[str]
) -> None:
    path, expected = _bad_inputs(tmp_path)[case]
    good = shared_data / "servicetags" / "ServiceTags_China_20260713.json"
    args = [str(good) if a == "OLD" else a for a in command]
    result = run(*args, str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}: ")
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_bad_diff_operand(tmp_path: Path, shared_data: Path) -> None:
    good = shared_data / "servicetags" / "ServiceTags_China_20260713.json"
    result = run("ranges", "diff", str(tmp_path / "missing.json"), str(good))
    assert result.exit_code == 1 and result.stdout == ""
    assert (
        result.stderr.strip()
        == f"Error: {tmp_path / 'missing.json'}: no such file; check --data or run `egress ranges fetch`."
    )
    result = run("ranges", "diff", str(good), str(good), "--data", str(good))
    assert result.exit_code == 2 and "NEW or --data" in result.stderr


def test_unknown_cloud_is_a_usage_error() -> None:
    result = run("ranges", "list", "--cloud", "mars")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: unknown cloud 'mars': use one of public, usgov, china, germany."

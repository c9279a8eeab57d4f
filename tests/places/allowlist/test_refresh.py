"""`egress refresh` keeping `[[exports]]` current across Microsoft's real consecutive weeks, beside an NSG target:
exact prefix changes, the shrink guard, hooks that fail or hang, unwritable paths, dry runs, Markdown."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from egress.core.cidrs import normalize_prefix
from tests.places.allowlist.conftest import dataset, week

runner = CliRunner()
# (old week, new week, region, export tags): the second tag of each pair changed between the two weeks.
WEEKS = [
    ("20240610", "20240617", "eastus", ("AzureBackup", "AzureActiveDirectory")),
    ("20250120", "20250127", "westus2", ("AzureBackup", "Storage.WestUS2")),
]


def toml_value(value: object) -> str:
    return json.dumps(value)  # JSON strings, numbers, booleans and lists of them are TOML too


def write_config(
    tmp_path: Path, region: str, tags: tuple[str, ...], exports: list[dict] | None = None
) -> Path:
    nsg = tmp_path / "nsg.json"
    if not nsg.exists():
        nsg.write_text(
            json.dumps({"name": "nsg-lab", "location": region, "properties": {"securityRules": []}})
        )
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    entries = exports or [
        {"name": "pan", "format": "edl", "tags": list(tags), "path": str(out / "azure.txt")},
        {"name": "linux", "format": "nftables", "tags": list(tags), "path": str(out / "azure.nft"),
         "set_name": "azure_backup"},
    ]  # fmt: skip
    lines = ["[defaults]", 'option = "ip-ranges"', f"region = {toml_value(region)}", "",
             "[[targets]]", 'name = "lab"', f"target = {toml_value(str(nsg))}"]  # fmt: skip
    for entry in entries:
        lines += ["", "[[exports]]"] + [f"{k} = {toml_value(v)}" for k, v in entry.items()]
    config = tmp_path / "egress.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def refresh(config: Path, data: Path | str, *args: str):
    return runner.invoke(app, ["refresh", "--config", str(config), "--data", str(data), "-o", "json", *args])


def union(stamp: str, tags: tuple[str, ...]) -> set[str]:
    return {normalize_prefix(p) for t in tags for p in dataset(stamp).get(t).prefixes}


def edl_entries(path: Path) -> set[str]:
    return {line.split(" ", 1)[0] for line in path.read_text().splitlines()}


@pytest.mark.parametrize(("old", "new", "region", "tags"), WEEKS)
def test_one_nsg_and_two_exports_across_real_weeks(
    tmp_path: Path, old: str, new: str, region: str, tags
) -> None:
    config = write_config(tmp_path, region, tags)
    first = refresh(config, week(old), "--apply")
    assert first.exit_code == 3, first.output
    report = json.loads(first.stdout)
    assert [t["result"] for t in report["targets"]] == ["applied"]
    assert [(e["name"], e["result"], e["compared"]) for e in report["exports"]] == [
        ("pan", "applied", False),
        ("linux", "applied", False),
    ]
    edl, nft = tmp_path / "out" / "azure.txt", tmp_path / "out" / "azure.nft"
    assert edl_entries(edl) == union(old, tags)

    second = refresh(config, week(new), "--apply")
    assert second.exit_code == 3, second.output
    report = json.loads(second.stdout)
    assert [t["result"] for t in report["targets"]] == ["applied"]
    # What `egress ranges diff` says changed in these tags is exactly what each export gained and lost.
    diff = runner.invoke(app, ["ranges", "diff", str(week(old)), str(week(new)), "-o", "json"] + [
        w for t in tags for w in ("--tag", t)])  # fmt: skip
    changes = json.loads(diff.stdout)["tags"]
    gained = {p for t in changes for p in t["added"]} - union(old, tags)
    lost = {p for t in changes for p in t["removed"]} - union(new, tags)
    assert gained  # these weeks do change these tags
    for entry in report["exports"]:
        assert entry["result"] == "applied" and entry["compared"]
        assert set(entry["added"]) == gained and set(entry["removed"]) == lost
        assert entry["count"] == len(union(new, tags))
    assert edl_entries(edl) == union(new, tags)
    assert all(p in nft.read_text() for p in gained)

    before = {p: p.read_bytes() for p in (edl, nft)}
    mtimes = {p: p.stat().st_mtime_ns for p in (edl, nft)}
    third = refresh(config, week(new), "--apply")
    assert third.exit_code == 0, third.output
    assert [e["result"] for e in json.loads(third.stdout)["exports"]] == ["unchanged", "unchanged"]
    assert {p: p.read_bytes() for p in (edl, nft)} == before
    assert {p: p.stat().st_mtime_ns for p in (edl, nft)} == mtimes


def test_a_week_that_leaves_the_tags_alone_rewrites_nothing(tmp_path: Path) -> None:
    # 20240610 -> 20240617: the file's changeNumber moved, AzureBackup and Storage.EastUS did not change.
    config = write_config(tmp_path, "eastus", ("AzureBackup", "Storage.EastUS"))
    assert refresh(config, week("20240610"), "--apply").exit_code == 3
    edl = tmp_path / "out" / "azure.txt"
    text = edl.read_bytes()
    result = refresh(config, week("20240617"), "--apply")
    exports = json.loads(result.stdout)["exports"]
    assert [(e["result"], e["added"], e["removed"]) for e in exports] == [("unchanged", [], [])] * 2
    assert edl.read_bytes() == text


def shrunk_week(tmp_path: Path, base: str, tag: str, keep: int) -> Path:
    doc = json.loads(week(base).read_text())
    for value in doc["values"]:
        if value["name"] == tag:
            value["properties"]["addressPrefixes"] = value["properties"]["addressPrefixes"][:keep]
    doc["changeNumber"] += 1
    path = tmp_path / "ServiceTags_Public_20250203.json"
    path.write_text(json.dumps(doc))
    return path


def test_shrink_guard_refuses_and_leaves_the_files_byte_identical(tmp_path: Path) -> None:
    tags = ("AzureBackup", "Storage.WestUS2")
    config = write_config(tmp_path, "westus2", tags)
    assert refresh(config, week("20250120"), "--apply").exit_code == 3
    files = sorted((tmp_path / "out").iterdir())
    before = {p: p.read_bytes() for p in files}
    crafted = shrunk_week(tmp_path, "20250127", "AzureBackup", keep=20)
    result = refresh(config, crafted, "--apply")
    assert result.exit_code == 4, result.output
    report = json.loads(result.stdout)
    for entry in report["exports"]:
        assert entry["result"] == "refused"
        assert (
            "shrink guard: AzureBackup lost" in entry["message"]
            and "the file was left as it is" in entry["message"]
        )
        assert {f["family"] for f in entry["shrink"]} == {"IPv4", "IPv6"}
    assert {p: p.read_bytes() for p in files} == before
    # The next good week goes through: the baseline stayed at the last good data.
    good = refresh(config, week("20250127"), "--apply")
    assert good.exit_code == 3, good.output
    assert [e["added"] for e in json.loads(good.stdout)["exports"]] == [["20.153.47.0/24"]] * 2


def test_shrink_guard_counts_only_the_family_exported(tmp_path: Path) -> None:
    tags = ("AzureBackup",)
    exports = [
        {
            "name": "v4",
            "format": "csv",
            "tags": list(tags),
            "family": "ipv4",
            "path": str(tmp_path / "v4.csv"),
        }
    ]
    config = write_config(tmp_path, "westus2", tags, exports)
    assert refresh(config, week("20250127"), "--apply", "--target-name", "v4").exit_code == 3
    doc = json.loads(week("20250127").read_text())
    for value in doc["values"]:
        if value["name"] == "AzureBackup":  # lose every IPv6 prefix, keep IPv4
            value["properties"]["addressPrefixes"] = [
                p for p in value["properties"]["addressPrefixes"] if ":" not in p
            ]
    crafted = tmp_path / "ServiceTags_Public_20250203.json"
    crafted.write_text(json.dumps(doc))
    result = refresh(config, crafted, "--apply", "--target-name", "v4")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["exports"][0]["result"] == "unchanged"


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_hooks_run_on_change_and_failures_stay_with_their_export(tmp_path: Path) -> None:
    out = tmp_path / "out"
    log = tmp_path / "hook.log"
    record = f"import sys; open({str(log)!r}, 'a').write(sys.argv[1] + '\\n')"
    exports = [
        {"name": "good", "format": "nftables", "tags": ["AzureBackup"], "path": str(out / "good.nft"),
         "after": [*_py(record), "{path}"]},
        {"name": "fails", "format": "edl", "tags": ["AzureBackup"], "path": str(out / "fails.txt"),
         "after": _py("import sys; sys.stderr.write('reload refused'); sys.exit(2)")},
        {"name": "hangs", "format": "ipset", "tags": ["AzureBackup"], "path": str(out / "hangs.ipset"),
         "after": _py("import time; time.sleep(60)"), "after_timeout": 1},
        {"name": "nowhere", "format": "csv", "tags": ["AzureBackup"], "path": str(tmp_path / "missing" / "x.csv")},
        {"name": "typo", "format": "pdf", "tags": ["AzureBackup"], "path": str(out / "typo.pdf")},
    ]  # fmt: skip
    config = write_config(tmp_path, "westus2", ("AzureBackup",), exports)
    result = refresh(config, week("20250120"), "--apply")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["targets"][0]["result"] == "applied"  # the NSG went on
    by_name = {e["name"]: e for e in report["exports"]}
    assert by_name["good"]["result"] == "applied"
    assert log.read_text() == f"{out / 'good.nft'}\n"
    assert by_name["fails"]["result"] == "error"
    assert (
        "after hook failed" in by_name["fails"]["message"]
        and "exited 2: reload refused" in by_name["fails"]["message"]
    )
    assert (out / "fails.txt").exists()  # written; only the reload failed
    assert (
        by_name["hangs"]["result"] == "error"
        and "did not finish within 1 s and was killed" in by_name["hangs"]["message"]
    )
    assert by_name["nowhere"]["result"] == "error"
    assert (
        by_name["nowhere"]["message"].startswith("cannot write ")
        and "does not exist" in by_name["nowhere"]["message"]
    )
    assert (
        by_name["typo"]["result"] == "error" and "unknown export format 'pdf'" in by_name["typo"]["message"]
    )
    assert not (out / "typo.pdf").exists()

    again = refresh(config, week("20250120"), "--apply")
    by_name = {e["name"]: e for e in json.loads(again.stdout)["exports"]}
    assert by_name["good"]["result"] == "unchanged" and by_name["good"]["hook"] is None
    assert log.read_text().count("\n") == 1  # unchanged file: no reload
    assert by_name["fails"]["result"] == "error"  # its last reload failed: tried again though nothing changed


def test_dry_run_reports_pending_and_writes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, "westus2", ("AzureBackup",))
    result = refresh(config, week("20250127"))
    assert result.exit_code == 3, result.output
    exports = json.loads(result.stdout)["exports"]
    assert [e["result"] for e in exports] == ["pending", "pending"]
    assert "dry run; pass --apply" in exports[0]["message"]
    assert list((tmp_path / "out").iterdir()) == []


def test_markdown_and_text_reports_cover_the_exports(tmp_path: Path) -> None:
    tags = ("AzureBackup", "Storage.WestUS2")
    config = write_config(tmp_path, "westus2", tags)
    assert refresh(config, week("20250120"), "--apply").exit_code == 3
    md = runner.invoke(
        app,
        ["refresh", "--config", str(config), "--data", str(week("20250127")), "--apply", "-o", "markdown"],
    )
    assert md.exit_code == 3
    assert "### Exports" in md.stdout
    assert "| pan | 🔄 applied | edl |" in md.stdout
    assert "+ 20.153.47.0/24" in md.stdout
    text = runner.invoke(app, ["refresh", "--config", str(config), "--data", str(week("20250127"))])
    assert text.exit_code == 0
    assert "EXPORT  RESULT" in text.stdout and "pan     unchanged  edl" in text.stdout


def test_an_exports_only_config_and_target_name_selection(tmp_path: Path) -> None:
    config = tmp_path / "only.toml"
    config.write_text(
        f'[[exports]]\nname = "a"\nformat = "json"\ntags = ["AzureBackup"]\npath = {toml_value(str(tmp_path / "a.json"))}\n'
        f'[[exports]]\nname = "b"\nformat = "csv"\ntags = ["AzureBackup"]\npath = {toml_value(str(tmp_path / "b.csv"))}\n'
    )
    result = refresh(config, week("20250127"), "--apply", "--target-name", "b")
    assert result.exit_code == 3, result.output
    assert [e["name"] for e in json.loads(result.stdout)["exports"]] == ["b"]
    assert (tmp_path / "b.csv").exists() and not (tmp_path / "a.json").exists()

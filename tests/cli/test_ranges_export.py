"""`egress ranges export` through the CLI: the done-when command on the bundled data, files, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.adapters.datastore import load_dataset
from egress.cli import app
from tests.places.allowlist.conftest import week

runner = CliRunner()


def export(*args: str):
    return runner.invoke(app, ["ranges", "export", *args])


def test_edl_of_azure_backup_and_storage_eastus_on_the_bundled_data() -> None:
    result = export("--format", "edl", "--tag", "AzureBackup", "--tag", "Storage.EastUS")
    assert result.exit_code == 0, result.stderr
    assert "bundled" in result.stderr
    dataset = load_dataset(None, cloud="public").dataset
    published = set(dataset.get("AzureBackup").prefixes) | set(dataset.get("Storage.EastUS").prefixes)
    entries = [line.split(" ", 1)[0] for line in result.stdout.splitlines()]
    assert len(entries) == len(set(entries))
    assert set(entries) == published
    assert (
        " # Regenerate: egress ranges export --format edl --tag AzureBackup --tag Storage.EastUS"
        in result.stdout
    )


def test_out_folder_writes_once_then_reports_unchanged(tmp_path: Path) -> None:
    args = (
        "--format",
        "nftables",
        "--tag",
        "AzureBackup",
        "--data",
        str(week("20250127")),
        "--out",
        str(tmp_path),
    )
    first = export(*args)
    assert first.exit_code == 0, first.stderr
    path = tmp_path / "azure_backup.nft"
    assert first.stdout == "" and f"wrote {path}" in first.stderr
    mtime = path.stat().st_mtime_ns
    second = export(*args)
    assert second.exit_code == 0 and f"unchanged {path}" in second.stderr
    assert path.stat().st_mtime_ns == mtime


def test_per_family_edl_files(tmp_path: Path) -> None:
    out = tmp_path / "azure.txt"
    result = export("--format", "edl", "--tag", "AzureBackup", "--per-family", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    v4 = (tmp_path / "azure-ipv4.txt").read_text().splitlines()
    v6 = (tmp_path / "azure-ipv6.txt").read_text().splitlines()
    assert v4 and v6 and all(":" not in line.split(" ")[0] for line in v4)
    assert all(":" in line.split(" ")[0] for line in v6)


def test_printing_two_families_separates_them() -> None:
    result = export("--format", "squid", "--tag", "AzureBackup", "--per-family")
    assert result.exit_code == 0
    assert result.stdout.startswith("==> ipv4 <==\n") and "\n==> ipv6 <==\n" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "pdf", "--tag", "AzureBackup"], "unknown export format 'pdf'"),
        (["--format", "edl"], "give at least one --tag"),
        (["--format", "edl", "--tag", "AzureBackup", "--family", "ipv5"], "--family 'ipv5'"),
        (["--format", "edl", "--tag", "AzureBackup", "--name", "Bad-Name"], "--name 'Bad-Name'"),
        (["--format", "nftables", "--tag", "AzureBackup", "--per-family"], "nftables keeps both families"),
        (["--format", "edl", "--tag", "AzureBackup", "--nft-table", "filter"], "--nft-table applies"),
        (["--format", "edl", "--tag", "AzureBackup", "--out", " "], "--out is empty"),
        (
            ["--format", "edl", "--tag", "AzureBackup", "--max-prefixes", "0"],
            "--max-prefixes must be at least 1",
        ),
    ],
)
def test_usage_errors_are_one_line(args: list[str], message: str) -> None:
    result = export(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_unknown_tag_exits_1() -> None:
    result = export("--format", "edl", "--tag", "AzureBakup", "--data", str(week("20250127")))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: unknown service tag 'AzureBakup'; did you mean AzureBackup")


def test_unwritable_folder_is_one_line(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = tmp_path / "missing" / "azure.txt"  # root writes anywhere; a missing folder still fails
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "azure.txt"
    result = export(
        "--format", "edl", "--tag", "AzureBackup", "--data", str(week("20250127")), "--out", str(target)
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot write ") and result.stderr.count("\n") == 1
    assert not target.exists()

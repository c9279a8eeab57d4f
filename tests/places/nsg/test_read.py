"""Reading NSG targets from local files and stdin, with one-line errors."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from egress.errors import TargetError, UsageError
from egress.places.nsg.read import read_target

DOC = {
    "name": "nsg1",
    "securityRules": [
        {
            "name": "AllowHttps",
            "priority": 100,
            "direction": "Outbound",
            "access": "Allow",
            "protocol": "Tcp",
            "sourceAddressPrefix": "*",
            "destinationAddressPrefix": "Storage",
            "sourcePortRange": "*",
            "destinationPortRange": "443",
        }
    ],
}


def write(tmp_path: Path, data: bytes, name: str = "nsg.json") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_reads_file_and_file_scheme(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(DOC).encode())
    for target in (str(path), f"file:{path}"):
        nsg = read_target(target)
        assert nsg.name == "nsg1" and [r.name for r in nsg.rules] == ["AllowHttps"]


def test_reads_utf8_bom(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + json.dumps(DOC).encode())
    assert read_target(str(path)).name == "nsg1"


def test_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(DOC).encode())))
    assert read_target("-").rules[0].destination_address_prefix == "Storage"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"name": ', "not valid JSON (Expecting value at line 1 column 10)"),
        (b"", "empty file"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "expected a JSON object"),
        (
            b'{"name": "x", "securityRules": [{"name": "r", "priority": "high"}]}',
            "rule 'r': priority must be",
        ),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path: Path, data: bytes, expected: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(TargetError) as info:
        read_target(str(path))
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith(str(path))


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="no such file"):
        read_target(str(tmp_path / "nope.json"))
    with pytest.raises(TargetError, match="is a directory"):
        read_target(str(tmp_path))
    with pytest.raises(UsageError, match="empty target"):
        read_target("  ")


def test_azure_target_is_read_through_the_adapter(arm_env, fake_az) -> None:
    nsg_id = (
        "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg"
        "/providers/Microsoft.Network/networkSecurityGroups/n"
    )
    arm_env.seed_nsg(nsg_id, {"location": "eastus", "properties": {"securityRules": []}})
    nsg = read_target("azure:" + nsg_id, auth="cli")
    assert nsg.name == "n" and nsg.rules == []
    assert arm_env.count("GET") == 1 and arm_env.count("PUT") == 0
    with pytest.raises(UsageError):
        read_target("azure:/subscriptions/s/resourceGroups/rg")

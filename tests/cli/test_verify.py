"""`egress verify` and `egress lint` end to end: exit codes, stdout, stderr, on the real Public 2025-01-27 data."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from egress.adapters.datastore import load_bundled
from egress.cli import app
from tests.conftest import SHARED_DATA

runner = CliRunner()
SHA = "870cdf2845dbe73a3b373b768715b1c79dc084ab7e7d9e01e5e69d6ee668938b"


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGRESS_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def data_args() -> list[str]:
    return ["--data", str(SHARED_DATA / "servicetags" / "ServiceTags_Public_20250127.json")]


@pytest.fixture(scope="module")
def tags() -> dict[str, tuple[str, ...]]:
    dataset = load_bundled()
    assert dataset.provenance.sha256 == SHA
    return {t.name: t.prefixes for t in dataset}


def az_rule(
    name: str, priority: int, access: str, dst: str | list[str], port: str = "443", protocol: str = "Tcp"
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": name,
        "priority": priority,
        "direction": "Outbound",
        "access": access,
        "protocol": protocol,
        "sourceAddressPrefix": "*",
        "sourcePortRange": "*",
        "destinationPortRange": port,
    }
    rule["destinationAddressPrefix" if isinstance(dst, str) else "destinationAddressPrefixes"] = dst
    return rule


def write_nsg(tmp_path: Path, *rules: dict[str, Any], name: str = "nsg.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"name": "vm-nsg", "location": "eastus", "securityRules": list(rules)}))
    return str(path)


def backup_nsg(tmp_path: Path) -> str:
    return write_nsg(
        tmp_path,
        az_rule("AllowStorageEastUS", 100, "Allow", "Storage.EastUS"),
        az_rule("DenyInternet", 4000, "Deny", "Internet", port="*", protocol="*"),
    )


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def first_address(prefix: str) -> str:
    return str(ipaddress.ip_network(prefix)[1])


# ------------------------------------------------------------------------------------------ verify --dest


def test_allowed_address_with_expect(
    tmp_path: Path, data_args: list[str], tags: dict[str, tuple[str, ...]]
) -> None:
    dest = first_address(tags["Storage.EastUS"][0])
    result = run(
        "verify", "--nsg", backup_nsg(tmp_path), "--dest", f"{dest}:443", "--expect", "allow", *data_args
    )
    assert result.exit_code == 0, result.output
    assert "Verdict:  Allow, by rule AllowStorageEastUS (priority 100)" in result.stdout
    assert f"to {dest} port 443" in result.stdout
    assert "Expected: allow — as expected" in result.stdout
    assert "Public service tags of 2025-01-27, change 343" in result.stdout


def test_westus_address_denied_by_the_deny_rule(
    tmp_path: Path, data_args: list[str], tags: dict[str, tuple[str, ...]]
) -> None:
    dest = first_address(tags["Storage.WestUS"][0])
    nsg = backup_nsg(tmp_path)
    result = run("verify", "--nsg", nsg, "--dest", dest, "--expect", "allow", *data_args)
    assert result.exit_code == 1
    assert "Verdict:  Deny, by rule DenyInternet (priority 4000)" in result.stdout
    assert "NOT as expected" in result.stdout
    assert result.stderr == ""  # a failed expectation is a result, not an error
    assert run("verify", "--nsg", nsg, "--dest", dest, "--expect", "deny", *data_args).exit_code == 0
    assert run("verify", "--nsg", nsg, "--dest", dest, *data_args).exit_code == 0  # no --expect: report only


def test_default_rules_decide_without_custom_rules(tmp_path: Path, data_args: list[str]) -> None:
    nsg = write_nsg(tmp_path)
    result = run("verify", "--nsg", nsg, "--dest", "8.8.8.8", *data_args)
    assert "Verdict:  Allow, by default rule AllowInternetOutBound (priority 65001)" in result.stdout
    result = run(
        "verify",
        "--nsg",
        nsg,
        "--dest",
        "8.8.8.8",
        "--direction",
        "Inbound",
        "--source",
        "1.1.1.1",
        *data_args,
    )
    assert "Verdict:  Deny, by default rule DenyAllInBound (priority 65500)" in result.stdout


def test_vnet_option_is_repeatable(tmp_path: Path, data_args: list[str]) -> None:
    nsg = write_nsg(tmp_path)
    one = run("verify", "--nsg", nsg, "--dest", "10.1.2.3", "--vnet", "10.0.0.0/16", *data_args)
    assert "DenyAllOutBound" in one.stdout and "from VNet 10.0.0.0/16 " in one.stdout
    two = run(
        "verify",
        "--nsg",
        nsg,
        "--dest",
        "10.1.2.3",
        "--vnet",
        "10.0.0.0/16",
        "--vnet",
        "10.1.0.0/16",
        *data_args,
    )
    assert "AllowVnetOutBound" in two.stdout


def test_any_protocol_shows_the_split(tmp_path: Path, data_args: list[str]) -> None:
    nsg = write_nsg(
        tmp_path,
        az_rule("AllowHttps", 100, "Allow", "8.8.8.0/24"),
        az_rule("DenyInternet", 4000, "Deny", "Internet", port="*", protocol="*"),
    )
    result = run(
        "verify", "--nsg", nsg, "--dest", "8.8.8.8", "--protocol", "*", "--expect", "allow", *data_args
    )
    assert result.exit_code == 1
    assert "Verdict:  mixed: 2 rules decide different parts" in result.stdout
    assert "  Allow by rule AllowHttps (priority 100): Tcp from " in result.stdout
    assert "  Deny  by rule DenyInternet (priority 4000): Udp, Icmp, Esp, Ah, other from " in result.stdout


def test_ipv6_destination_with_port(tmp_path: Path, data_args: list[str]) -> None:
    nsg = write_nsg(tmp_path, az_rule("DenyV6", 100, "Deny", "2603:1030::/32"))
    result = run("verify", "--nsg", nsg, "--dest", "[2603:1030::5]:443", "--source", "fd00::4", *data_args)
    assert result.exit_code == 0, result.output
    assert "Deny, by rule DenyV6" in result.stdout and "to 2603:1030::5 port 443" in result.stdout


def test_json_output(tmp_path: Path, data_args: list[str], tags: dict[str, tuple[str, ...]]) -> None:
    dest = first_address(tags["Storage.EastUS"][0])
    result = run(
        "verify", "--nsg", backup_nsg(tmp_path), "--dest", dest, "-o", "json", "--expect", "deny", *data_args
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "Allow" and doc["asExpected"] is False
    assert [(p["rule"], p["priority"], p["default"]) for p in doc["parts"]] == [
        ("AllowStorageEastUS", 100, False)
    ]
    assert doc["data"]["fileDate"] == "2025-01-27" and doc["data"]["sha256"] == SHA


def test_target_and_stdin(tmp_path: Path, data_args: list[str]) -> None:
    nsg = backup_nsg(tmp_path)
    by_target = run("verify", "--target", nsg, "--dest", "8.8.8.8", *data_args)
    assert "DenyInternet" in by_target.stdout
    piped = runner.invoke(
        app, ["verify", "--nsg", "-", "--dest", "8.8.8.8", *data_args], input=Path(nsg).read_text()
    )
    assert piped.exit_code == 0 and "DenyInternet" in piped.stdout and "(-)" in piped.stdout


# ------------------------------------------------------------------------------------------ verify --dest-tag


def test_dest_tag_all_allowed(tmp_path: Path, data_args: list[str], tags: dict[str, tuple[str, ...]]) -> None:
    result = run(
        "verify",
        "--nsg",
        backup_nsg(tmp_path),
        "--dest-tag",
        "storage.eastus",
        "--expect",
        "allow",
        *data_args,
    )
    assert result.exit_code == 0, result.output
    total = sum(ipaddress.ip_network(p).num_addresses for p in tags["Storage.EastUS"] if ":" not in p)
    assert "to every prefix of Storage.EastUS (111 prefixes)" in result.stdout
    assert f"Allowed:  {total} of {total} addresses" in result.stdout
    assert "  by rule AllowStorageEastUS (priority 100): all of them" in result.stdout
    assert "Denied:   none" in result.stdout
    assert "Unchecked: 5 prefixes" in result.stdout  # the tag's IPv6 prefixes, with an IPv4-only VNet


def test_dest_tag_split_lists_prefixes(
    tmp_path: Path, data_args: list[str], tags: dict[str, tuple[str, ...]]
) -> None:
    east_v4 = [p for p in tags["Storage.EastUS"] if ":" not in p]
    nsg = write_nsg(
        tmp_path,
        az_rule("AllowTwo", 100, "Allow", east_v4[:2]),
        az_rule("DenyInternet", 4000, "Deny", "Internet", port="*", protocol="*"),
    )
    result = run(
        "verify", "--nsg", nsg, "--dest-tag", "Storage.EastUS", "-o", "json", "--expect", "allow", *data_args
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "mixed"
    allowed = [ipaddress.ip_network(p) for part in doc["allowed"] for p in part["destinations"]]
    assert list(ipaddress.collapse_addresses(allowed)) == list(
        ipaddress.collapse_addresses(ipaddress.ip_network(p) for p in east_v4[:2])
    )
    assert {p["rule"] for p in doc["denied"]} == {"DenyInternet"}
    text = run("verify", "--nsg", nsg, "--dest-tag", "Storage.EastUS", *data_args).stdout
    assert "  by rule AllowTwo (priority 100):\n" in text and f"    {east_v4[0]}\n" in text


def test_dest_tag_other_port_all_denied(tmp_path: Path, data_args: list[str]) -> None:
    result = run(
        "verify",
        "--nsg",
        backup_nsg(tmp_path),
        "--dest-tag",
        "Storage.EastUS",
        "--port",
        "80",
        "--expect",
        "deny",
        *data_args,
    )
    assert result.exit_code == 0
    assert "Verdict:  Deny" in result.stdout and "Allowed:  none" in result.stdout


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--dest", "1.2.3"], 2, "Error: --dest '1.2.3': invalid IP prefix '1.2.3'"),
        (["--dest", "Storage"], 2, "for a service tag use --dest-tag"),
        (
            ["--dest-tag", "Storage.EastUSS"],
            1,
            "Error: unknown service tag 'Storage.EastUSS'; did you mean Storage.EastUS",
        ),
        (["--dest", "8.8.8.8:70000"], 2, "the port must be a number from 0 to 65535"),
        (["--dest", "8.8.8.8:443", "--port", "80"], 2, "--dest gives port 443 but --port gives 80"),
        (["--dest", "8.8.8.8", "--dest-tag", "Storage"], 2, "exactly one of --dest"),
        ([], 2, "exactly one of --dest"),
        (["--dest", "8.8.8.8", "--expect", "maybe"], 2, "--expect 'maybe': use allow or deny"),
        (["--dest", "8.8.8.8", "--protocol", "Icmp", "--port", "443"], 2, "Icmp carries no ports"),
        (["--dest", "8.8.8.8", "--protocol", "gre"], 2, "--protocol 'gre' is not a protocol Azure accepts"),
        (["--dest", "8.8.8.8", "--direction", "Up"], 2, "direction 'Up': use Inbound or Outbound"),
        (["--dest", "8.8.8.8", "--vnet", "10.0.0/8"], 2, "--vnet: invalid IP prefix"),
        (["--dest", "8.8.8.8", "--source", "10.0.0.300"], 2, "source address: invalid IP prefix"),
        (["--dest", "2603::1"], 2, "share no address family"),
        (["--dest", "8.8.8.8", "-o", "yaml"], 2, "--output 'yaml'"),
    ],
)
def test_bad_verify_input(
    tmp_path: Path, data_args: list[str], args: list[str], code: int, message: str
) -> None:
    result = run("verify", "--nsg", backup_nsg(tmp_path), *args, *data_args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert "Traceback" not in result.output


def test_bad_nsg_files(tmp_path: Path, data_args: list[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "securityRules": [')
    result = run("verify", "--nsg", str(bad), "--dest", "8.8.8.8", *data_args)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {bad}: not valid JSON (Expecting value at line 1 column 33).\n"
    typo = write_nsg(tmp_path, az_rule("AllowTypo", 100, "Allow", "Storage.EastUSS"), name="typo.json")
    result = run("verify", "--nsg", typo, "--dest", "8.8.8.8", *data_args)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: rule 'AllowTypo': unknown service tag 'Storage.EastUSS'")
    both = run("verify", "--nsg", typo, "--target", typo, "--dest", "8.8.8.8", *data_args)
    assert both.exit_code == 2 and "exactly one of --target TARGET or --nsg FILE" in both.stderr
    azure = run("verify", "--target", "azure:/subscriptions/s/x", "--dest", "8.8.8.8", *data_args)
    assert azure.exit_code == 2 and azure.stderr.startswith("Error: ") and azure.stderr.count("\n") == 1


# ------------------------------------------------------------------------------------------ lint


def test_lint_clean_nsg(tmp_path: Path, data_args: list[str]) -> None:
    result = run("lint", "--nsg", backup_nsg(tmp_path), *data_args)
    assert result.exit_code == 0, result.output
    assert "No findings." in result.stdout
    assert (
        "Limits:   rules 2/1000 (0.2%), source prefixes 2/4000 (0.1%), destination prefixes 2/4000 (0.1%)"
        in result.stdout
    )


def test_lint_finds_planted_problems(tmp_path: Path, data_args: list[str]) -> None:
    nsg = write_nsg(
        tmp_path,
        az_rule("AllowStorage", 100, "Allow", "Storage"),
        az_rule("AllowStorageEastUS", 200, "Allow", "Storage.EastUS"),  # inside Storage: shadowed
        az_rule("DenyInternet", 4000, "Deny", "Internet", port="*", protocol="*"),
        az_rule("AllowBackup", 4010, "Allow", "AzureBackup"),  # below the deny
        az_rule("AllowAnything", 4020, "Allow", "*", port="8443"),
    )
    result = run("lint", "--nsg", nsg, *data_args)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1].startswith(
        "error    allow-below-deny  Outbound 4010 AllowBackup: never matches: its traffic is denied first by DenyInternet (4000)"
    )
    assert any(
        line.startswith("warning  shadowed          Outbound 200 AllowStorageEastUS: never matches")
        for line in lines
    )
    assert any("wide-allow        Outbound 4020 AllowAnything" in line for line in lines)
    doc = json.loads(run("lint", "--nsg", nsg, "-o", "json", *data_args).stdout)
    codes = [(f["code"], f["rule"]) for f in doc["findings"] if f["code"] != "limit"]
    assert codes == [
        ("allow-below-deny", "AllowBackup"),
        ("shadowed", "AllowStorageEastUS"),
        ("allow-below-deny", "AllowAnything"),
        ("wide-allow", "AllowAnything"),
    ]
    assert doc["limits"][0] == {"name": "rules", "used": 5, "limit": 1000, "percent": 0.5}


def test_lint_bad_input(tmp_path: Path, data_args: list[str]) -> None:
    missing = run("lint", "--nsg", str(tmp_path / "none.json"), *data_args)
    assert (
        missing.exit_code == 1 and missing.stderr.startswith("Error: ") and "no such file" in missing.stderr
    )
    assert run("lint", *data_args).exit_code == 2

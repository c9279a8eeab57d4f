"""Issue 15 §5: --proxy-ports (Azure's destinationPortRanges) through plan, apply and lint; --ip-version; lint
agreeing with what egress plans by default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from tests.armdouble import ArmDouble

runner = CliRunner()
SUB = "3f2c9c1e-9a5b-4b8e-8d7e-2b9f6c1d0a11"
NSG_ID = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-proxy"


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def data(shared_data: Path) -> str:
    return str(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")


def empty_nsg(path: Path) -> Path:
    path.write_text(json.dumps({"name": "nsg", "location": "eastus", "properties": {"securityRules": []}}))
    return path


def rules_of(doc: dict) -> dict[str, dict]:
    return {r["name"]: r["properties"] for r in doc["properties"]["securityRules"]}


PROXY = ("--option", "proxy", "--proxy-ip", "10.0.0.5")


def test_proxy_ports_reach_the_file_target_as_destination_port_ranges(tmp_path: Path, data: str) -> None:
    nsg = empty_nsg(tmp_path / "nsg.json")
    result = run("apply", "--target", str(nsg), *PROXY, "--proxy-ports", "80,443", "--data", data, "--yes")
    assert result.exit_code == 3, result.stderr
    rule = rules_of(json.loads(nsg.read_text()))["egress-allow-proxy"]
    assert rule["destinationPortRanges"] == ["80", "443"] and "destinationPortRange" not in rule
    assert rule["description"] == "[egress] proxy 10.0.0.5 may reach the Internet on tcp/80,443"
    again = run(
        "apply",
        "--target",
        str(nsg),
        *PROXY,
        "--proxy-ports",
        "80",
        "--proxy-ports",
        "443",
        "--data",
        data,
        "--yes",
    )
    assert again.exit_code == 0, again.stderr  # the repeated flag means the same
    back = run("apply", "--target", str(nsg), *PROXY, "--data", data, "--dry-run")
    assert back.exit_code == 0, back.stderr
    assert "destinationPortRanges: +80-443 -443,80" in back.stdout


def test_proxy_ports_reach_azure(
    arm_env: ArmDouble, fake_az, monkeypatch: pytest.MonkeyPatch, data: str
) -> None:
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", "0")
    arm_env.seed_nsg(NSG_ID, {"location": "eastus", "properties": {"securityRules": []}})
    result = run(
        "apply",
        "--target",
        f"azure:{NSG_ID}",
        "--auth",
        "cli",
        *PROXY,
        "--proxy-ports",
        "80,443",
        "--data",
        data,
        "--yes",
    )
    assert result.exit_code == 3, result.stderr
    rule = rules_of(arm_env.nsg(NSG_ID))["egress-allow-proxy"]
    assert rule["destinationPortRanges"] == ["80", "443"] and not rule.get("destinationPortRange")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("80,,443", "--proxy-ports '': use ports 1-65535 or ranges LOW-HIGH, e.g. 80,443."),
        ("0", "--proxy-ports '0': use ports 1-65535 or ranges LOW-HIGH, e.g. 80,443."),
        ("443-80", "--proxy-ports '443-80': use ports 1-65535 or ranges LOW-HIGH, e.g. 80,443."),
        ("080", "--proxy-ports '080': use ports 1-65535 or ranges LOW-HIGH, e.g. 80,443."),
        ("http", "--proxy-ports 'http': use ports 1-65535 or ranges LOW-HIGH, e.g. 80,443."),
        ("443,443", "--proxy-ports lists a port twice: 443,443."),
    ],
)
def test_bad_proxy_ports(data: str, value: str, message: str) -> None:
    result = run("plan", *PROXY, "--proxy-ports", value, "--data", data)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"Error: {message}\n"


def test_proxy_ports_only_with_the_proxy_option(data: str) -> None:
    result = run("plan", "--region", "eastus", "--proxy-ports", "80,443", "--data", data)
    assert result.exit_code == 2
    assert (
        result.stderr
        == "Error: --proxy-ports applies to --option proxy only (the option here is service-tags).\n"
    )


def test_lint_notes_the_guides_wide_port_range_and_not_the_narrow_one(tmp_path: Path, data: str) -> None:
    wide, narrow = empty_nsg(tmp_path / "wide.json"), empty_nsg(tmp_path / "narrow.json")
    assert run("apply", "--target", str(wide), *PROXY, "--data", data, "--yes").exit_code == 3
    assert (
        run(
            "apply", "--target", str(narrow), *PROXY, "--proxy-ports", "80,443", "--data", data, "--yes"
        ).exit_code
        == 3
    )
    result = run("lint", "--nsg", str(wide), "--data", data)
    assert result.exit_code == 0, result.stderr
    assert (
        "info     port-range        Outbound 200 egress-allow-proxy: destination ports 80-443 also open the 362 "
        "ports 81-442; if only 80 and 443 are needed, list them (80,443; egress: --proxy-ports).\n"
    ) in result.stdout
    quiet = run("lint", "--nsg", str(narrow), "--data", data)
    assert quiet.exit_code == 0 and "port-range" not in quiet.stdout
    assert result.stderr == quiet.stderr == ""


# --- --ip-version and lint's default ---------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "families"), [("4", {"v4"}), ("6", {"v6"}), ("both", {"v4", "v6"})])
def test_ip_version_keeps_one_family(data: str, version: str, families: set[str]) -> None:
    result = run(
        "plan",
        "--option",
        "ip-ranges",
        "--region",
        "eastus",
        "--ip-version",
        version,
        "--data",
        data,
        "-o",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    rules = json.loads(result.stdout)["rules"]
    seen = {
        ("v4" if "-v4-" in r["name"] else "v6") for r in rules if "-v4-" in r["name"] or "-v6-" in r["name"]
    }
    assert seen == families
    if version != "both":
        notes = json.loads(result.stdout)["summary"]["notes"]
        assert f"IPv{10 - int(version)} destinations left out: --ip-version {version}" in notes


def test_ip_version_conflicts_are_usage_errors(data: str) -> None:
    cases = [
        (
            ["--option", "ip-ranges", "--region", "eastus", "--ip-version", "6", "--source", "10.0.0.0/8"],
            "--ip-version 6 but --source 10.0.0.0/8 is IPv4.",
        ),
        ([*PROXY, "--ip-version", "6"], "--ip-version 6 but --proxy-ip 10.0.0.5 is IPv4."),
        (["--region", "eastus", "--ip-version", "5"], "--ip-version must be 4, 6 or both, not '5'."),
    ]
    for args, message in cases:
        result = run("plan", *args, "--data", data)
        assert result.exit_code == 2, result.stdout
        assert result.stderr == f"Error: {message}\n"


@pytest.mark.parametrize("option", ["service-tags", "ip-ranges"])
def test_egress_own_default_plan_lints_clean(tmp_path: Path, data: str, option: str) -> None:
    nsg = empty_nsg(tmp_path / "nsg.json")
    applied = run(
        "apply", "--target", str(nsg), "--option", option, "--region", "eastus", "--data", data, "--yes"
    )
    assert applied.exit_code == 3, applied.stderr
    result = run("lint", "--nsg", str(nsg), "--data", data)
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines()[1] == "No findings."
    assert result.stderr == ""


def test_lint_ip_version_4_flags_ipv6_rules_and_an_ipv4_plan_is_clean(tmp_path: Path, data: str) -> None:
    both, v4 = empty_nsg(tmp_path / "both.json"), empty_nsg(tmp_path / "v4.json")
    base = ("--option", "ip-ranges", "--region", "eastus", "--data", data, "--yes")
    assert run("apply", "--target", str(both), *base).exit_code == 3
    assert run("apply", "--target", str(v4), *base, "--ip-version", "4").exit_code == 3
    flagged = run("lint", "--nsg", str(both), "--ip-version", "4", "--data", data)
    assert flagged.exit_code == 0
    assert (
        "egress-storage-eastus-v6-2603: never matches: its sources and destinations share no family."
        in flagged.stdout
    )
    clean = run("lint", "--nsg", str(v4), "--ip-version", "4", "--data", data)
    assert clean.stdout.splitlines()[1] == "No findings."
    bad = run("lint", "--nsg", str(v4), "--ip-version", "ipv4", "--data", data)
    assert bad.exit_code == 2 and bad.stderr == "Error: --ip-version must be 4, 6 or both, not 'ipv4'.\n"


# --- verify --dest-tag --summary -------------------------------------------------------------------------------


def _two_rule_nsg(path: Path, data: str) -> tuple[Path, list[str]]:
    """Allows two of Storage.EastUS's IPv4 prefixes, denies the Internet below: a split verdict."""
    east = json.loads(run("ranges", "show", "Storage.EastUS", "--data", data, "-o", "json").stdout)
    v4 = [p for p in east["prefixes"] if ":" not in p]
    common = {"direction": "Outbound", "sourceAddressPrefix": "*", "sourcePortRange": "*"}
    rules = [
        {
            "name": "AllowTwo",
            "properties": {
                **common,
                "access": "Allow",
                "priority": 100,
                "protocol": "Tcp",
                "destinationAddressPrefixes": v4[:2],
                "destinationPortRange": "443",
            },
        },
        {
            "name": "DenyInternet",
            "properties": {
                **common,
                "access": "Deny",
                "priority": 4000,
                "protocol": "*",
                "destinationAddressPrefix": "Internet",
                "destinationPortRange": "*",
            },
        },
    ]
    path.write_text(json.dumps({"name": "n", "properties": {"securityRules": rules}}))
    return path, v4


def test_verify_dest_tag_summary_counts_instead_of_listing(tmp_path: Path, data: str) -> None:
    nsg, v4 = _two_rule_nsg(tmp_path / "nsg.json", data)
    args = ("verify", "--nsg", str(nsg), "--dest-tag", "Storage.EastUS", "--data", data)
    full, short = run(*args), run(*args, "--summary")
    assert full.exit_code == short.exit_code == 0
    assert short.stderr == full.stderr == ""
    full_lines, short_lines = full.stdout.splitlines(), short.stdout.splitlines()
    assert len(short_lines) <= 10 < len(full_lines)
    assert "  by rule AllowTwo (priority 100): 2 prefixes, " in short.stdout
    assert f"  by rule DenyInternet (priority 4000): {len(v4) - 2} prefixes, " in short.stdout
    assert v4[0] not in short.stdout and v4[0] in full.stdout
    unchecked = next(line for line in short_lines if line.startswith("Unchecked:"))
    assert unchecked.endswith("(give --source or --vnet in that family)")  # the IPv6 prefixes, counted only
    doc = json.loads(run(*args, "--summary", "-o", "json").stdout)
    parts = doc["allowed"] + doc["denied"]
    assert all("destinations" not in part for part in parts)
    assert sum(part["destinationPrefixes"] for part in parts) + doc["unchecked"] == doc["prefixes"]


def test_summary_needs_dest_tag(tmp_path: Path, data: str) -> None:
    nsg = empty_nsg(tmp_path / "nsg.json")
    result = run("verify", "--nsg", str(nsg), "--dest", "20.60.1.5", "--summary", "--data", data)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert (
        result.stderr
        == "Error: --summary applies to --dest-tag (a single --dest prints one verdict already).\n"
    )


# --- ARM timeouts and the run's deadline -----------------------------------------------------------------------


def test_apply_gives_up_on_a_hung_arm_at_the_deadline(
    arm_env: ArmDouble, fake_az, monkeypatch: pytest.MonkeyPatch, data: str
) -> None:
    monkeypatch.setenv("EGRESS_ARM_TIMEOUT", "1,0.5")
    monkeypatch.setenv("EGRESS_ARM_DEADLINE", "5")  # signing in through the stand-in `az` takes some of it
    arm_env.seed_nsg(NSG_ID, {"location": "eastus", "properties": {"securityRules": []}})
    arm_env.inject("stall", method="GET", times=100, seconds=30)
    result = run(
        "apply", "--target", f"azure:{NSG_ID}", "--auth", "cli", "--region", "eastus", "--data", data, "--yes"
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: gave up to read azure:{NSG_ID}: this run's 5s for Azure Resource Manager "
        "are up (EGRESS_ARM_DEADLINE; each request may wait 1s to connect and 0.5s for an answer, "
        "EGRESS_ARM_TIMEOUT); check ARM's health and run again.\n"
    )
    assert arm_env.count("PUT") == 0 and 1 <= arm_env.count("GET") <= 10  # 0.5 s each, not 5 x 300 s


def test_bad_arm_timeout_is_a_usage_error(
    arm_env: ArmDouble, fake_az, monkeypatch: pytest.MonkeyPatch, data: str
) -> None:
    monkeypatch.setenv("EGRESS_ARM_TIMEOUT", "soon")
    arm_env.seed_nsg(NSG_ID, {"location": "eastus", "properties": {"securityRules": []}})
    result = run(
        "apply", "--target", f"azure:{NSG_ID}", "--auth", "cli", "--region", "eastus", "--data", data, "--yes"
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: EGRESS_ARM_TIMEOUT must be seconds (`60` or `10,60`) and EGRESS_ARM_DEADLINE seconds (`900`).\n"
    )
    assert arm_env.requests == []


def test_config_takes_proxy_ports_and_ip_version(tmp_path: Path, data: str) -> None:
    cfg = tmp_path / "egress.toml"
    cfg.write_text(
        '[defaults]\noption = "proxy"\nproxy_ip = "10.0.0.5"\nproxy_ports = [80, 443]\nip_version = 4\n'
        f'data = "{data}"\n'
    )
    result = run("plan", "--config", str(cfg), "-o", "json")
    assert result.exit_code == 0, result.stderr
    rule = json.loads(result.stdout)["rules"][0]
    assert rule["properties"]["destinationPortRanges"] == ["80", "443"]
    cfg.write_text('[defaults]\noption = "proxy"\nproxy_ip = "10.0.0.5"\nproxy_ports = [true]\n')
    bad = run("plan", "--config", str(cfg))
    assert bad.exit_code == 2
    assert bad.stderr == f"Error: {cfg} [defaults]: `proxy_ports` must be a list of strings.\n"

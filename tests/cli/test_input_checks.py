"""Issue 15 §4: values Azure would refuse late, or that silently mean something else, are refused up front."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app

runner = CliRunner()


def run(*args: str) -> object:
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def data(shared_data: Path) -> str:
    return str(shared_data / "servicetags" / "ServiceTags_Public_20250127.json")


@pytest.fixture()
def nsg_file(tmp_path: Path) -> Path:
    path = tmp_path / "nsg.json"
    path.write_text(json.dumps({"name": "nsg", "properties": {"securityRules": []}}))
    return path


@pytest.mark.parametrize("command", ["plan", "render", "apply"])
def test_source_with_host_bits_is_refused_naming_the_network(command: str, data: str, nsg_file: Path) -> None:
    extra = {"render": ["--format", "json"], "apply": ["--target", str(nsg_file), "--yes"]}.get(command, [])
    before = nsg_file.read_text()
    result = run(command, "--region", "eastus", "--data", data, "--source", "10.0.0.5/16", *extra)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: --source '10.0.0.5/16' has host bits set (Azure refuses it); did you mean the network "
        "10.0.0.0/16 or the host 10.0.0.5/32?\n"
    )
    assert nsg_file.read_text() == before


def test_source_network_and_ipv6_prefixes_still_plan(data: str) -> None:
    for source in ("10.0.0.0/16", "10.0.0.5/32", "10.0.0.5", "fd00:1::/64"):
        result = run(
            "plan", "--option", "ip-ranges", "--region", "eastus", "--data", data, "--source", source
        )
        assert result.exit_code == 0, result.stderr
    result = run("plan", "--region", "eastus", "--data", data, "--source", "fd00:1::5/64")
    assert result.exit_code == 2
    assert "did you mean the network fd00:1::/64 or the host fd00:1::5/128?" in result.stderr


@pytest.mark.parametrize("key", ["data", "target"])
@pytest.mark.parametrize("command", ["plan", "render", "apply", "refresh"])
def test_nul_byte_in_config_path_is_one_line_error(
    tmp_path: Path, data: str, nsg_file: Path, key: str, command: str
) -> None:
    values = {"data": data, "target": str(nsg_file)}
    values[key] = str(tmp_path / "x") + "\\u0000y"
    cfg = tmp_path / "egress.toml"
    cfg.write_text(
        f'[defaults]\nregion = "eastus"\ndata = "{values["data"]}"\n'
        f'[[targets]]\nname = "a"\ntarget = "{values["target"]}"\n'
    )
    args = {
        "plan": ["plan", "--config", str(cfg), "--target-name", "a"],
        "render": ["render", "--format", "json", "--config", str(cfg), "--target-name", "a"],
        "apply": ["apply", "--config", str(cfg), "--target-name", "a", "--yes"],
        "refresh": ["refresh", "--config", str(cfg)],
    }[command]
    result = run(*args)
    where = f"{cfg} [defaults]" if key == "data" else f"{cfg} targets[0] (a)"
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"Error: {where}: `{key}` holds a control character (\\x00); remove it.\n"


@pytest.mark.parametrize(
    ("ip", "why"),
    [
        ("8.8.8.8", "is not a private address"),
        ("2001:4860::8888", "is not a private address"),
        ("127.0.0.1", "is an address Azure reserves"),
        ("168.63.129.16", "is an address Azure reserves"),
        ("224.0.0.5", "is an address Azure reserves"),
        ("169.254.169.254", "is an address Azure reserves"),
    ],
)
def test_proxy_ip_must_be_one_a_vnet_holds(data: str, ip: str, why: str) -> None:
    result = run("plan", "--option", "proxy", "--proxy-ip", ip, "--data", data)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: --proxy-ip {ip} {why}")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("ip", ["10.0.0.5", "172.16.4.4", "192.168.1.1", "100.64.0.9", "fd12:3456::5"])
def test_private_proxy_ips_plan(data: str, ip: str) -> None:
    result = run("plan", "--option", "proxy", "--proxy-ip", ip, "--data", data)
    assert result.exit_code == 0, result.stderr


def test_public_proxy_ip_with_override(data: str) -> None:
    result = run(
        "plan", "--option", "proxy", "--proxy-ip", "8.8.8.8", "--allow-public-proxy-ip", "--data", data
    )
    assert result.exit_code == 0, result.stderr
    assert "8.8.8.8/32" in result.stdout
    rendered = run(
        "render",
        "--format",
        "json",
        "--option",
        "proxy",
        "--proxy-ip",
        "8.8.8.8",
        "--allow-public-proxy-ip",
        "--data",
        data,
    )
    assert rendered.exit_code == 0, rendered.stderr
    assert "--allow-public-proxy-ip" in rendered.stdout  # the regenerate command carries it
    reserved = run(
        "plan", "--option", "proxy", "--proxy-ip", "127.0.0.1", "--allow-public-proxy-ip", "--data", data
    )
    assert reserved.exit_code == 2 and "Azure reserves" in reserved.stderr
    other = run("plan", "--region", "eastus", "--allow-public-proxy-ip", "--data", data)
    assert other.exit_code == 2
    assert other.stderr == (
        "Error: --allow-public-proxy-ip applies to --option proxy only (the option here is service-tags).\n"
    )


@pytest.mark.parametrize("command", ["plan", "ranges"])
def test_cloud_that_contradicts_the_data_file_is_refused(shared_data: Path, command: str) -> None:
    gov = str(shared_data / "servicetags" / "ServiceTags_AzureGovernment_20260713.json")
    args = ["plan", "--region", "usgovvirginia"] if command == "plan" else ["ranges", "list"]
    result = run(*args, "--cloud", "china", "--data", gov)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: --data {gov} is for cloud 'AzureGovernment' (--cloud usgov), not --cloud china; "
        "give the file or the cloud the target is in.\n"
    )
    fine = run(*args, "--cloud", "usgov", "--data", gov)
    assert fine.exit_code == 0, fine.stderr


def test_cloud_not_given_takes_the_file_as_it_is(shared_data: Path) -> None:
    gov = str(shared_data / "servicetags" / "ServiceTags_AzureGovernment_20260713.json")
    result = run("ranges", "list", "--data", gov)
    assert result.exit_code == 0, result.stderr


# --- the retired XML -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xml(shared_data: Path) -> str:
    return str(shared_data / "legacy" / "PublicIPs_20200826.xml")


def test_legacy_xml_takes_todays_region_names(xml: str) -> None:
    result = run(
        "plan", "--option", "ip-ranges", "--region", "eastus", "--tag", "AzureCloud.{region}", "--data", xml
    )
    assert result.exit_code == 0, result.stderr
    assert "egress-azurecloud-useast-v4-" in result.stdout
    assert result.stdout.splitlines()[-1].endswith(f"data: Public no changeNumber from {xml}")
    assert "None" not in result.stdout and result.stderr == ""
    listed = run("ranges", "list", "--region", "westeurope", "--data", xml)
    assert listed.exit_code == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["AzureCloud.europewest"]


def test_legacy_xml_refuses_service_tags(xml: str) -> None:
    for args in (["--region", "eastus"], ["--tag", "AzureCloud.useast"]):
        result = run("plan", "--option", "service-tags", *args, "--data", xml)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr == (
            "Error: the legacy XML file holds IP ranges per region, not service tags: its AzureCloud.<region> "
            "names do not exist as NSG tags; use --option ip-ranges with it, or a ServiceTags_*.json file.\n"
        )
    source = run(
        "plan",
        "--option",
        "ip-ranges",
        "--tag",
        "AzureCloud.useast",
        "--source",
        "AzureCloud.uswest",
        "--data",
        xml,
    )
    assert source.exit_code == 2 and "not NSG service tags; give a prefix" in source.stderr


def test_no_none_in_human_output_on_xml(xml: str, tmp_path: Path) -> None:
    outputs = [
        run("plan", "--option", "ip-ranges", "--tag", "AzureCloud.useast", "--data", xml),
        run("ranges", "show", "AzureCloud.useast", "--data", xml),
        run("ranges", "list", "--data", xml),
        run("ranges", "lookup", "13.68.0.1", "--data", xml),
    ]
    for fmt in ("arm", "bicep", "terraform", "azcli", "powershell"):
        outputs.append(
            run(
                "render",
                "--format",
                fmt,
                "--option",
                "ip-ranges",
                "--tag",
                "AzureCloud.useast",
                "--data",
                xml,
            )
        )
    for result in outputs:
        assert result.exit_code == 0, result.stderr
        assert "None" not in result.stdout and "None" not in result.stderr


# --- plan's table --------------------------------------------------------------------------------------------


def test_plan_table_shows_the_source(data: str) -> None:
    result = run("plan", "--option", "proxy", "--proxy-ip", "10.0.0.5", "--data", data)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "PRIORITY",
        "DIR",
        "NAME",
        "ACCESS",
        "PROTO",
        "SOURCE",
        "DESTINATION",
        "PORTS",
        "PREFIXES",
    ]
    assert lines[2].split() == [
        "200",
        "out",
        "egress-allow-proxy",
        "Allow",
        "Tcp",
        "10.0.0.5/32",
        "Internet",
        "80-443",
        "1",
    ]
    assert lines[3].split()[5:7] == ["VirtualNetwork", "10.0.0.5/32"]
    assert result.stderr == ""


# --- control characters from data never reach the terminal raw ------------------------------------------------

EVIL = "Evil\x1b]0;pwned\x07\x1b[2J\rTag\u202e"
# Off a terminal click already drops colour sequences (ESC [ ... letter); everything else is escaped by egress.
SHOWN = "Evil\\x1b]0;pwned\\x07\\x0dTag\\u202e"


@pytest.fixture()
def evil_data(data: str, tmp_path: Path) -> str:
    doc = json.loads(Path(data).read_bytes())
    doc["values"][0]["name"] = doc["values"][0]["id"] = EVIL
    path = tmp_path / "ServiceTags_Public_20250127.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _no_controls(text: str) -> None:
    assert not any(
        (ch < " " and ch not in "\n\t") or "\x7f" <= ch <= "\x9f" or ch == "\u202e" for ch in text
    ), text


def test_ranges_list_and_diff_escape_control_characters(data: str, evil_data: str) -> None:
    listed = run("ranges", "list", "--service", "Evil*", "--data", evil_data)
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout.splitlines()[1].startswith(SHOWN + "  ")
    diffed = run("ranges", "diff", data, evil_data)
    assert diffed.exit_code == 0, diffed.stderr
    assert f"\n{SHOWN}  added" in diffed.stdout and f"+ {SHOWN} " in diffed.stdout
    shown = run("ranges", "show", EVIL, "--data", evil_data)
    assert shown.exit_code == 0
    for result in (listed, diffed, shown):
        _no_controls(result.stdout + result.stderr)


def test_errors_and_json_carry_no_raw_control_characters(evil_data: str) -> None:
    missing = run("ranges", "show", "Nope\x1b[31m", "--data", evil_data)
    assert missing.exit_code == 1
    _no_controls(missing.stderr)
    as_json = run("ranges", "list", "--service", "Evil*", "--data", evil_data, "-o", "json")
    assert as_json.exit_code == 0
    assert (
        json.loads(as_json.stdout)["tags"][0]["name"] == EVIL
    )  # JSON keeps the value, escaped by JSON itself
    _no_controls(as_json.stdout)


# --- secrets in URLs are never echoed -------------------------------------------------------------------------

SECRET_BASE = "https://mirror-user:PW-s3cret@127.0.0.1:9"
NSG_ID = (
    "/subscriptions/3f2c9c1e-9a5b-4b8e-8d7e-2b9f6c1d0a11/resourceGroups/rg/providers/Microsoft.Network/"
    "networkSecurityGroups/nsg"
)


def _no_secret(result: object) -> None:
    text = result.stdout + result.stderr  # type: ignore[attr-defined]
    assert "PW-s3cret" not in text and "SIG-s3cret" not in text and "mirror-user" not in text, text


def test_download_errors_redact_userinfo_and_query(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGRESS_DOWNLOAD_BASE", SECRET_BASE)
    monkeypatch.setenv("EGRESS_DETAILS_BASE", SECRET_BASE)
    result = run("ranges", "fetch")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Error: could not fetch the Public service tags: https://***@127.0.0.1:9/"
    )
    _no_secret(result)
    paged = run("ranges", "fetch", "--page-url", f"{SECRET_BASE}/details.aspx?id=56519&sig=SIG-s3cret")
    assert paged.exit_code == 1
    _no_secret(paged)
    bad = run("ranges", "fetch", "--page-url", "ftp://mirror-user:PW-s3cret@host/x?sig=SIG-s3cret")
    assert bad.exit_code == 2
    assert (
        bad.stderr
        == "Error: --page-url 'ftp://***@host/x?sig=***': give the https:// address of the details page "
        "(HTTPS only).\n"
    )


def test_refresh_report_redacts_the_failed_download(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EGRESS_DOWNLOAD_BASE", SECRET_BASE)
    monkeypatch.setenv("EGRESS_DETAILS_BASE", SECRET_BASE)
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps({"name": "nsg", "properties": {"securityRules": []}}))
    cfg = tmp_path / "egress.toml"
    cfg.write_text(f'[defaults]\nregion = "eastus"\n[[targets]]\nname = "a"\ntarget = "{nsg}"\n')
    for fmt in ("text", "json", "markdown"):
        result = run("refresh", "--config", str(cfg), "-o", fmt)
        assert result.exit_code == 1, result.stdout
        assert "https://***@127.0.0.1:9/" in result.stdout + result.stderr
        _no_secret(result)


def test_arm_endpoint_with_credentials_is_refused_redacted() -> None:
    result = run(
        "verify",
        "--target",
        f"azure:{NSG_ID}",
        "--dest",
        "20.60.1.5",
        "--arm-endpoint",
        "https://mirror-user:PW-s3cret@127.0.0.1:1/",
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: --arm-endpoint 'https://***@127.0.0.1:1/' carries a user name or password; ARM takes a bearer "
        "token (--auth), never credentials in the URL.\n"
    )
    query = run(
        "verify",
        "--target",
        f"azure:{NSG_ID}",
        "--dest",
        "20.60.1.5",
        "--arm-endpoint",
        "https://127.0.0.1:1/?sig=SIG-s3cret",
    )
    assert query.exit_code == 2 and "https://127.0.0.1:1/?sig=***" in query.stderr
    _no_secret(query)

"""`egress path` end to end: exit codes, stdout and stderr, on Microsoft's examples and the real 2025-01-27 data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app
from tests.conftest import SHARED_DATA
from tests.core.path import scenario as s

runner = CliRunner()
DATA = ["--data", str(SHARED_DATA / "servicetags" / "ServiceTags_Public_20250127.json")]


def run(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["path", *args, *DATA], input=stdin)


def test_all_reachable_exits_0(tmp_path: Path) -> None:
    result = run("--resources", str(s.write(tmp_path, s.base())))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["VM", "destination", "flow", "verdict", "layer", "deciding", "rule", "/", "route",
                                "/", "method", "addresses"]  # fmt: skip
    assert lines[1].split()[:5] == ["vm1", "Storage.EastUS", "tcp/443", "reachable", "outbound"]
    assert "via default outbound access" in lines[1]
    assert "note: default outbound access is retired" in result.stdout
    assert result.stdout.rstrip().endswith("(" + DATA[1] + ")")
    assert result.stderr == ""


def test_blocked_exits_1_with_the_rule_and_the_fix(tmp_path: Path) -> None:
    resources = s.base(nic_nsg=[s.rule("deny-entra", 200, "Deny", "AzureActiveDirectory")])
    result = run("--resources", str(s.write(tmp_path, resources)), "--vm", "VM1")
    assert result.exit_code == 1
    assert "vm1 -> AzureActiveDirectory: blocked" in result.stdout
    assert "  blocked at nic-nsg: deny-entra (priority 200) (56944 addresses: " in result.stdout
    assert f"    fix: egress apply --target azure:{s.NIC_NSG_ID} --region eastus" in result.stdout
    assert result.stderr == ""


def test_json_output(tmp_path: Path) -> None:
    resources = s.base(default_outbound=False)
    result = run("--resources", str(s.write(tmp_path, resources)), "-o", "json", "--tag", "AzureBackup")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    (check,) = doc["checks"]
    assert (check["vm"], check["destination"], check["verdict"], check["layer"], check["rule"]) == (
        "vm1", "AzureBackup", "blocked", "outbound", "no outbound path"
    )  # fmt: skip
    assert check["fix"] == f"attach a NAT gateway or an explicit outbound method to subnet {s.SUBNET_ID}"
    assert check["blockedAddresses"] == check["addresses"] > 0
    assert check["excludedAddresses"] > 0  # the tag's IPv6 prefixes: the VM has no IPv6 address
    assert doc["data"]["sha256"].startswith("870cdf28")


def test_markdown_output(tmp_path: Path) -> None:
    resources = s.base(subnet_nsg=[s.rule("deny-backup", 300, "Deny", "AzureBackup")])
    result = run("--resources", str(s.write(tmp_path, resources)), "-o", "markdown")
    assert result.exit_code == 1
    assert result.stdout.startswith("### Will Backup work? `")
    assert (
        "| vm1 | AzureBackup | tcp/443 | blocked | subnet-nsg | deny-backup (priority 300) |" in result.stdout
    )


def test_graph_wrapper_on_stdin() -> None:
    result = run("--resources", "-", stdin=json.dumps({"data": s.base()}))
    assert result.exit_code == 0, result.stderr


def test_proxy_option(tmp_path: Path) -> None:
    result = run("--resources", str(s.write(tmp_path, s.base())), "--proxy", "10.0.1.99:3128", "-o", "json")
    assert result.exit_code == 1
    check = json.loads(result.stdout)["checks"][0]
    assert (check["verdict"], check["layer"]) == ("unknown", "proxy")


def test_dangling_reference_is_unknown_and_exits_1(tmp_path: Path) -> None:
    resources = [r for r in s.base() if r["type"] != "Microsoft.Network/networkInterfaces"]
    result = run("--resources", str(s.write(tmp_path, resources)))
    assert result.exit_code == 1
    assert f"missing from the input: network interface {s.NIC_ID}" in result.stdout
    assert result.stdout.splitlines()[1].split()[:5] == [
        "vm1",
        "Storage.EastUS",
        "tcp/443",
        "unknown",
        "input",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON (Expecting property name enclosed in double quotes at line 1 column 2)."),
        ("", "empty file; expected a JSON array of ARM resources."),
        ('"text"', "expected a JSON array of ARM resources, got a string."),
        ('{"x": 1}', "expected a JSON array of ARM resources (or az graph query's {\"data\": [...]}), got an object "
                     "without a 'data' list."),
        ("[1]", "element 0: expected an ARM resource object, got int."),
        ('[{"id": "/x"}]', "element 0: has no 'type' (ARM resources carry one, e.g. Microsoft.Network/...)."),
        ('[{"type": "Microsoft.Compute/virtualMachines"}]',
         "element 0: has no ARM 'id' (a string starting with /subscriptions/...)."),
        ('{"data": {"columns": [], "rows": []}}', "a Resource Graph answer in table format; export it as an object "
                                                  "array (`az graph query ... -o json`, or resultFormat objectArray)."),
        ("[]", "holds no virtual machine (type Microsoft.Compute/virtualMachines) and no network interface; "
               "export the VMs with their network resources."),
    ],
)  # fmt: skip
def test_bad_files_are_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(content)
    result = run("--resources", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: {path}: {message}\n"


def test_a_huge_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import egress.adapters.resources as resources

    monkeypatch.setattr(resources, "MAX_RESOURCES_BYTES", 1000)
    path = s.write(tmp_path, s.base())
    result = run("--resources", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}: larger than 0 MiB;")


def test_missing_file_and_usage_errors(tmp_path: Path) -> None:
    result = run("--resources", str(tmp_path / "nope.json"))
    assert (result.exit_code, result.stderr) == (1, f"Error: {tmp_path / 'nope.json'}: no such file; give the JSON "
                                                    "file of ARM resources.\n")  # fmt: skip
    path = str(s.write(tmp_path, s.base()))
    result = run("--resources", path, "--vm", "other")
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: --vm 'other': no such virtual machine (or network interface id) in {path}.\n",
    )
    result = run("--resources", path, "--proxy", "10.0.0.0/24:3128")
    assert result.exit_code == 2 and result.stderr.startswith("Error: --proxy '10.0.0.0/24:3128': ")
    result = run("--resources", path, "-o", "xml")
    assert (result.exit_code, result.stderr) == (2, "Error: --output 'xml': use table, json or markdown.\n")
    result = run("--resources", path, "--tag", "NoSuchTag")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: unknown service tag 'NoSuchTag'")


def test_path_offline_loads_no_azure_sdk(tmp_path: Path) -> None:
    from tests.cli.test_import_budget import COMMAND_MODULES, imported, loaded

    path = s.write(tmp_path, s.base())
    names = imported(["path", "--resources", str(path), *DATA], tmp_path)
    assert loaded(names, ("azure", "requests", "urllib3", "msal", "netaddr", "jinja2")) == []
    assert "egress.core.path.verdict" in names  # it did check the path
    assert sorted(n for n in names if n in COMMAND_MODULES | {"egress.cli.path"}) == ["egress.cli.path"]


@pytest.mark.parametrize(
    "resources",
    [
        s.base(nic_nsg=[s.rule("deny-entra", 200, "Deny", "AzureActiveDirectory")]),
        [
            *s.base(routeTable={"id": s.RT_ID}),
            s.route_table(("to-nva", "0.0.0.0/0", "VirtualAppliance", "10.0.5.4")),
        ],
        [
            *s.base(default_outbound=False, routeTable={"id": s.RT_ID}),
            s.route_table(("fw", "0.0.0.0/0", "VirtualAppliance", s.FW_IP)),
            s.firewall(),
            s.firewall_policy("g"),
            s.rule_collection_group("g", 100),
        ],
    ],
    ids=["nsg", "route-table", "firewall-policy"],
)
def test_every_fix_command_is_one_egress_accepts(tmp_path: Path, resources: list[dict[str, object]]) -> None:
    """The fix is planned as written (apply -> plan, the target dropped): egress takes every option in it."""
    doc = json.loads(run("--resources", str(s.write(tmp_path, resources)), "-o", "json").stdout)
    fixes = {c["fix"] for c in doc["checks"] if c["fix"] and c["fix"].startswith("egress apply ")}
    assert fixes
    for fix in fixes:
        argv = fix.split()[2:]
        at = argv.index("--target")
        del argv[at : at + 2]
        planned = runner.invoke(app, ["plan", *argv, *DATA])
        assert planned.exit_code == 0, (fix, planned.stderr)

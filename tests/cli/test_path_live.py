"""`egress path --scope` live, against the ARM double: the real azure-mgmt-resourcegraph and azure-mgmt-network
clients, a stand-in `az` for `--auth cli`; the same report as the offline file, and the request counts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from egress.cli import app
from egress.core.graph_queries import parse_scope, path_topology_query
from tests.armdouble import ArmDouble
from tests.armdouble.estate import seed_estate
from tests.conftest import SHARED_DATA

runner = CliRunner()
SUB = "00000000-0000-0000-0000-0000000000aa"
DATA = ["--data", str(SHARED_DATA / "servicetags" / "ServiceTags_Public_20250127.json")]


def run(*args: str) -> Any:
    return runner.invoke(app, ["path", *args, *DATA])


def kinds(double: ArmDouble) -> Counter[str]:
    return Counter(f"{r.method} {r.kind}" for r in double.requests)


def test_live_scope_gives_the_offline_report_with_one_graph_query(
    arm_env: ArmDouble, fake_az: Any, tmp_path: Path
) -> None:
    seed_estate(arm_env, SUB, vms=6, vnets=3, admin_rules=2, public_ip_every=3)
    live = run("--scope", f"azure:/subscriptions/{SUB}", "--auth", "cli", "-o", "json")
    assert live.exit_code in (0, 1), live.stderr
    assert live.stderr == "", live.stderr
    requests = kinds(arm_env)
    assert requests == Counter(
        {"POST graph": 1, "POST admin-rules": 3, "GET rcg-list": 2}
    )  # never a GET per resource
    report = json.loads(live.stdout)
    assert len(report["checks"]) == 6 * 3  # every VM, every default destination
    assert {c["vm"] for c in report["checks"]} == {f"vm-{n}" for n in range(6)}
    assert len(fake_az.calls()) >= 1  # signed in through `az`, nothing else

    # The same topology as a file: the report is the same, check for check.
    from egress.adapters.azure import resolve_endpoint
    from egress.adapters.azure.resource_graph import load_topology

    rows = load_topology(
        [parse_scope(f"azure:/subscriptions/{SUB}")], auth="cli", endpoint=resolve_endpoint("public", None)
    )
    path = tmp_path / "topology.json"
    path.write_text(json.dumps({"data": rows}))
    offline = run("--resources", str(path), "-o", "json")
    assert offline.exit_code == live.exit_code
    assert json.loads(offline.stdout)["checks"] == report["checks"]
    # The estate's AlwaysAllow admin rule to AzureBackup, then the hub firewall's AzureBackup FQDN tag.
    backup = [c for c in report["checks"] if c["destination"] == "AzureBackup"]
    assert {c["verdict"] for c in backup} == {"reachable"}


def test_print_query_is_the_graph_topology_query() -> None:
    result = runner.invoke(app, ["path", "--print-query"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == path_topology_query([]) + "\n"
    scoped = runner.invoke(
        app,
        [
            "path",
            "--print-query",
            "--scope",
            f"azure:/subscriptions/{SUB}/resourceGroups/rg-app",
            "--protected-by-backup",
        ],
    )
    assert (
        scoped.stdout
        == path_topology_query(
            [parse_scope(f"azure:/subscriptions/{SUB}/resourceGroups/rg-app")], protected_only=True
        )
        + "\n"
    )


def test_resources_or_scope_not_both(tmp_path: Path) -> None:
    neither = run()
    assert (neither.exit_code, neither.stderr) == (
        2,
        "Error: give --resources FILE (offline) or --scope azure:/subscriptions/... (live), not both.\n",
    )
    bad = run("--scope", "azure:/subscriptions/not-a-guid")
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: subscription 'not-a-guid' in --scope")

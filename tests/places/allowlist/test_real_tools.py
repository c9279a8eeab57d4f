"""The exported files read by the real programs: nft (check and a live load in a network namespace), ipset
restore (in a namespace), squid -k parse, and aerleon generating Juniper, nftables, iptables and Palo Alto."""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from egress.core.diff import diff_tags
from egress.places.allowlist.formats import generate
from egress.places.allowlist.model import ExportSet
from tests.helpers import require_netns, require_program
from tests.places.allowlist.conftest import dataset, export_of, header_of, request

HERE = Path(__file__).parent
TAG = "Storage.WestUS2"  # gained 20.153.47.0/24 between 2025-01-20 and 2025-01-27


def _write(tmp_path: Path, fmt: str, stamp: str, name: str, **kwargs: object) -> tuple[Path, ExportSet]:
    req = request(fmt, tags=(TAG,), **kwargs)
    export = export_of(req, stamp)
    path = tmp_path / name
    path.write_text(generate(req.format, export, header_of(export), req.options))
    return path, export


def _net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def _host(prefix: str, offset: int = 1) -> str:
    net = _net(prefix)
    return str(net.network_address + offset)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- nftables -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_nft_check_accepts_the_sets_and_refuses_a_damaged_copy(tmp_path: Path) -> None:
    unshare = require_netns()
    nft = require_program("nft")
    path, _ = _write(tmp_path, "nftables", "20250127", "azure.nft")
    ok = subprocess.run([unshare, "-n", nft, "-c", "-f", str(path)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    broken = tmp_path / "broken.nft"
    broken.write_text(path.read_text().replace("flags interval", "flags intervall", 1))
    control = subprocess.run([unshare, "-n", nft, "-c", "-f", str(broken)], capture_output=True, text=True)
    assert control.returncode != 0


@pytest.mark.slow
def test_nft_live_sets_filter_and_a_reload_brings_the_next_week(tmp_path: Path) -> None:
    unshare = require_netns()
    require_program("nft")
    week1, export1 = _write(tmp_path, "nftables", "20250120", "week1.nft")
    week2, export2 = _write(tmp_path, "nftables", "20250127", "week2.nft")
    diff = diff_tags(dataset("20250120").get(TAG), dataset("20250127").get(TAG))
    assert diff is not None and diff.added == ("20.153.47.0/24",) and not diff.removed
    added = _host(diff.added[0])
    inside_v4 = _host(export1.prefixes(4)[0])
    inside_v6 = _host(export1.prefixes(6)[0])
    outside = _host(dataset().get("AzureBackup.EastUS").prefixes[0])
    assert not any(_net(outside).subnet_of(_net(p)) for p in export2.prefixes(4))
    port = _free_port()
    rules = tmp_path / "rules.nft"
    rules.write_text(
        "table inet egress {\n"
        "\tchain output {\n"
        "\t\ttype filter hook output priority filter; policy accept;\n"
        f"\t\ttcp dport {port} ip daddr @azure_backup_v4 accept\n"
        f"\t\ttcp dport {port} ip6 daddr @azure_backup_v6 accept\n"
        f"\t\ttcp dport {port} drop\n"
        "\t}\n"
        "}\n"
    )
    probes = [inside_v4, inside_v6, added, outside]
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "port": port,
                "rules": str(rules),
                "steps": [
                    {"load": str(week1), "probe": probes},
                    {"load": str(week1), "probe": []},  # reloading the same file is harmless
                    {"load": str(week2), "probe": probes},
                ],
            }
        )
    )
    run = subprocess.run(
        [unshare, "-n", sys.executable, str(HERE / "nft_live.py"), str(spec)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    first, _, second = seen["steps"]
    assert [s["load_rc"] for s in seen["steps"]] == [0, 0, 0], [s["load_err"] for s in seen["steps"]]
    assert first["rules_rc"] == 0, first["rules_err"]
    assert first["reachable"] == {inside_v4: True, inside_v6: True, added: False, outside: False}
    assert second["reachable"] == {inside_v4: True, inside_v6: True, added: True, outside: False}
    assert seen["ruleset"].count("set azure_backup_v4 {") == 1
    assert "20.153.47.0/24" in seen["ruleset"]


# --- ipset ----------------------------------------------------------------------------------------------------


def _saved_sets(text: str) -> dict[str, set[str]]:
    sets: dict[str, set[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["create"]:
            sets.setdefault(words[1], set())
        elif words[:1] == ["add"]:
            sets.setdefault(words[1], set()).add(str(_net(words[2])))
    return sets


@pytest.mark.slow
def test_ipset_restore_loads_swaps_and_reloads_the_next_week(tmp_path: Path) -> None:
    unshare = require_netns()
    require_program("ipset")
    week1, export1 = _write(tmp_path, "ipset", "20250120", "week1.ipset")
    week2, export2 = _write(tmp_path, "ipset", "20250127", "week2.ipset")
    script = (
        f"ipset restore -file {week1} && ipset restore -file {week1} && ipset save && echo ==== && "
        f"ipset restore -file {week2} && ipset save && echo ==== && "
        "ipset test azure_backup_v4 20.153.47.1 2>/dev/null; echo test=$?"
    )
    run = subprocess.run([unshare, "-n", "sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    before, after, tail = run.stdout.split("====\n")
    for saved, export in ((before, export1), (after, export2)):
        sets = _saved_sets(saved)
        assert set(sets) == {
            "azure_backup_v4",
            "azure_backup_v6",
        }  # the _new sets were swapped in and destroyed
        assert sets["azure_backup_v4"] == {str(_net(p)) for p in export.prefixes(4)}
        assert sets["azure_backup_v6"] == {str(_net(p)) for p in export.prefixes(6)}
    assert "test=0" in tail


# --- squid ----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_squid_parses_a_config_using_the_acl_file(tmp_path: Path) -> None:
    squid = require_program("squid")
    acl, export = _write(tmp_path, "squid", "20250127", "azure_backup.txt")
    conf = tmp_path / "squid.conf"
    conf.write_text(
        "http_port 3128\n"
        f'acl azure_backup dst "{acl}"\n'
        "acl SSL_port port 443\n"
        "acl CONNECT method CONNECT\n"
        "http_access allow CONNECT SSL_port azure_backup\n"
        "http_access deny all\n"
    )
    run = subprocess.run([squid, "-k", "parse", "-f", str(conf)], capture_output=True, text=True, timeout=60)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert f'Processing: acl azure_backup dst "{acl}"' in output
    assert not re.search(r"WARNING|ERROR|FATAL", output), output
    listed = [line for line in acl.read_text().splitlines() if not line.startswith("#")]
    assert {str(_net(p)) for p in listed} <= {str(_net(p)) for p in export.prefixes()}
    acl.write_text(acl.read_text().replace(listed[0], "20.153.47.300/24"))  # control: squid reads every entry
    control = subprocess.run(
        [squid, "-k", "parse", "-f", str(conf)], capture_output=True, text=True, timeout=60
    )
    assert control.returncode != 0


# --- aerleon --------------------------------------------------------------------------------------------------

_CIDR = re.compile(r"(?<![\w:.])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7})/\d{1,3}\b")


def _cidrs(text: str) -> set[str]:
    return {str(_net(m)) for m in _CIDR.findall(text)}


def test_aerleon_generates_platforms_whose_prefixes_are_exactly_the_tags(tmp_path: Path) -> None:
    api = pytest.importorskip("aerleon.api", reason="aerleon is a test dependency: pip install '.[test]'")
    from aerleon.lib import naming

    definitions = tmp_path / "def"
    definitions.mkdir()
    _, export = _write(definitions, "aerleon", "20250127", "azure_backup.yaml")
    defs = naming.Naming(str(definitions))  # aerleon reads the folder as it would with aclgen
    defs.ParseDefinitionsObject({"services": {"HTTPS": [{"protocol": "tcp", "port": 443}]}}, "services")
    policy = {
        "filename": "azure_backup",
        "filters": [
            {
                "header": {
                    "targets": {
                        "juniper": "azure-backup mixed",
                        "nftables": "mixed output",
                        "iptables": "OUTPUT ACCEPT",
                        "paloalto": "from-zone trust to-zone untrust",
                    }
                },
                "terms": [
                    {
                        "name": "allow-azure-backup",
                        "destination-address": "AZURE_BACKUP",
                        "destination-port": "HTTPS",
                        "protocol": "tcp",
                        "action": "accept",
                    }
                ],
            }
        ],
    }
    outputs = api.Generate([policy], defs)
    tag = dataset().get(TAG)
    expected = {str(_net(p)) for p in tag.prefixes}
    assert {str(_net(p)) for p in export.prefixes()} == expected
    juniper, nft = outputs["azure_backup.jcl"], outputs["azure_backup.nft"]
    assert _cidrs(juniper) == expected
    assert _cidrs(nft) == expected
    assert "/* Storage.WestUS2 cn" in juniper  # egress's provenance travels as aerleon's comments
    iptables = outputs["azure_backup"]
    assert _cidrs(iptables) == {p for p in expected if ":" not in p}  # iptables is IPv4 (inet)

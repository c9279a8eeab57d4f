"""`egress refresh` on Microsoft's real consecutive weekly files: local-file and ARM-double targets, the shrink
guard, fleets, fetching and falling back, and runs that are killed or overlap (subprocesses)."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.adapters.datastore import load_file
from egress.adapters.refresh_state import state_path
from egress.cli import app
from egress.core.diff import diff_tags
from egress.core.selection import used_tags
from egress.core.spec import EgressSpec
from tests.armdouble import ArmDouble
from tests.support.fakesite import PUBLIC_FOLDER, FakeSite, Reply

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
NSG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.Network/networkSecurityGroups/nsg-fleet"
POLICY = {
    "name": "NRMS-Rule-101",
    "properties": {
        "access": "Deny",
        "description": "injected by organisation policy",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "23",
        "direction": "Outbound",
        "priority": 200,
        "protocol": "Tcp",
        "sourceAddressPrefix": "*",
        "sourcePortRange": "*",
    },
}
# (old week, new week, region whose tags change between them)
WEEKS = [("20240610", "20240617", "eastus"), ("20250120", "20250127", "westus2")]


def week(shared: Path, stamp: str) -> str:
    return str(shared / "servicetags" / f"ServiceTags_Public_{stamp}.json")


def nsg_doc(name: str = "nsg-fleet") -> dict:
    return {"name": name, "location": "eastus", "properties": {"securityRules": [POLICY]}}


def write_config(path: Path, targets: list[dict], **defaults: object) -> Path:
    lines = ["[defaults]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in {"option": "ip-ranges", **defaults}.items()]
    for t in targets:
        lines.append("\n[[targets]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in t.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def refresh(config: Path, *args: str):
    return runner.invoke(app, ["refresh", "--config", str(config), *args])


def report_of(result) -> dict:
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def by_name(report: dict) -> dict[str, dict]:
    return {t["name"]: t for t in report["targets"]}


def rules(doc: dict) -> dict[str, dict]:
    return {r["name"]: r["properties"] for r in doc["properties"]["securityRules"]}


def destinations(props: dict) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    values = props.get("destinationAddressPrefixes") or [props.get("destinationAddressPrefix")]
    out = []
    for v in values:
        with contextlib.suppress(TypeError, ValueError):  # a service tag or `Internet` is no network
            out.append(ipaddress.ip_network(v))
    return out


def rules_holding_changes(old: str, new: str, region: str, before: dict, after: dict) -> set[str]:
    """Independently of the planner: the egress rules (before or after) whose destinations overlap a prefix that
    was added to or removed from the tag the rule is for."""
    spec = EgressSpec(option="ip-ranges", region=region)
    old_ds, new_ds = load_file(old), load_file(new)
    changed: dict[str, list] = {}
    for tag in used_tags(spec, new_ds):
        diff = diff_tags(old_ds.find(tag.name), tag)
        if diff is not None:
            changed[tag.name] = [ipaddress.ip_network(p) for p in (*diff.added, *diff.removed)]
    hit = set()
    for side in (before, after):
        for name, props in side.items():
            if not name.startswith("egress-"):
                continue
            for tag, nets in changed.items():
                if f"allow {tag} in " not in props.get("description", ""):
                    continue
                if any(d.version == n.version and d.overlaps(n) for d in destinations(props) for n in nets):
                    hit.add(name)
    return hit


# --- real weeks against a local file ----------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "region"), WEEKS)
def test_weekly_walk_on_a_local_file(
    tmp_path: Path, shared_data: Path, old: str, new: str, region: str
) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(tmp_path / "egress.toml", [{"name": "vms", "target": str(nsg)}], region=region)
    old_file, new_file = week(shared_data, old), week(shared_data, new)

    first = refresh(config, "--data", old_file, "--apply", "-o", "json")
    assert first.exit_code == 3, first.stderr
    assert by_name(report_of(first))["vms"]["result"] == "applied"
    before = rules(json.loads(nsg.read_text()))

    second = refresh(config, "--data", new_file, "--apply", "-o", "json")
    assert second.exit_code == 3, second.stderr
    target = by_name(report_of(second))["vms"]
    assert target["result"] == "applied"
    after = rules(json.loads(nsg.read_text()))
    assert after["NRMS-Rule-101"] == POLICY["properties"]  # the foreign rule, untouched
    changed = {c["name"] for c in target["changes"]}
    assert changed, "real consecutive weeks changed tags this target uses"
    assert changed == rules_holding_changes(old_file, new_file, region, before, after)
    # Only those rules differ between the two versions of the file.
    differing = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
    assert differing == changed
    # The per-tag report is the prefix diff of the tags the target uses.
    for tag in target["tags"]:
        diff = diff_tags(load_file(old_file).find(tag["name"]), load_file(new_file).find(tag["name"]))
        assert tag["added"] == list(diff.added if diff else ())
        assert tag["removed"] == list(diff.removed if diff else ())

    stamp = nsg.stat().st_mtime_ns
    body = nsg.read_bytes()
    third = refresh(config, "--data", new_file, "--apply", "-o", "json")
    assert third.exit_code == 0, third.stderr
    again = by_name(report_of(third))["vms"]
    assert again["result"] == "unchanged" and again["changes"] == []
    assert again["requests"] == {"read": 1, "write": 0}
    assert nsg.read_bytes() == body and nsg.stat().st_mtime_ns == stamp  # not even rewritten


def test_change_number_bump_alone_changes_nothing(tmp_path: Path, shared_data: Path) -> None:
    """2025-01-20 -> 01-27 moved the file's changeNumber, but not Storage.EastUS, AzureBackup or Entra ID."""
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(tmp_path / "egress.toml", [{"name": "east", "target": str(nsg)}], region="eastus")
    assert refresh(config, "--data", week(shared_data, "20250120"), "--apply").exit_code == 3
    body = nsg.read_bytes()
    result = refresh(config, "--data", week(shared_data, "20250127"), "--apply", "-o", "json")
    assert result.exit_code == 0, result.stderr
    report = report_of(result)
    assert report["data"][0]["changeNumber"] == 343
    east = by_name(report)["east"]
    assert east["previousData"]["changeNumber"] == 342
    assert east["result"] == "unchanged" and not any(t["changed"] for t in east["tags"])
    assert nsg.read_bytes() == body


def test_dry_run_reports_pending_and_writes_nothing(tmp_path: Path, shared_data: Path) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(tmp_path / "egress.toml", [{"name": "vms", "target": str(nsg)}], region="westus2")
    assert refresh(config, "--data", week(shared_data, "20250120"), "--apply").exit_code == 3
    body = nsg.read_bytes()
    result = refresh(config, "--data", week(shared_data, "20250127"))
    assert result.exit_code == 3, result.stderr
    assert "pending" in result.stdout and "Storage.WestUS2 +1/-0" in result.stdout
    assert nsg.read_bytes() == body
    # A dry run does not move the target's recorded data: applying later still sees the change.
    applied = refresh(config, "--data", week(shared_data, "20250127"), "--apply", "-o", "json")
    assert by_name(report_of(applied))["vms"]["result"] == "applied"


# --- the ARM double ---------------------------------------------------------------------------------------------


@pytest.fixture
def live(arm_env: ArmDouble, fake_az, monkeypatch: pytest.MonkeyPatch) -> ArmDouble:
    arm_env.seed_nsg(NSG_ID, nsg_doc())
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", "0")
    return arm_env


@pytest.mark.parametrize(("old", "new", "region"), WEEKS)
def test_weekly_walk_on_the_arm_double(
    live: ArmDouble, tmp_path: Path, shared_data: Path, old: str, new: str, region: str
) -> None:
    config = write_config(
        tmp_path / "egress.toml", [{"name": "live", "target": f"azure:{NSG_ID}"}], region=region
    )
    old_file, new_file = week(shared_data, old), week(shared_data, new)
    first = refresh(config, "--data", old_file, "--apply", "--auth", "cli", "-o", "json")
    assert first.exit_code == 3, first.stderr
    assert live.count("PUT") == 1
    before = rules(live.nsg(NSG_ID))

    live.requests.clear()
    second = refresh(config, "--data", new_file, "--apply", "--auth", "cli", "-o", "json")
    assert second.exit_code == 3, second.stderr
    assert live.count("PUT") == 1
    target = by_name(report_of(second))["live"]
    assert target["requests"]["PUT"] == 1
    after = rules(live.nsg(NSG_ID))
    changed = {c["name"] for c in target["changes"]}
    assert changed and changed == rules_holding_changes(old_file, new_file, region, before, after)
    comparable = ("destinationAddressPrefixes", "destinationAddressPrefix", "priority", "access")
    differing = {
        n
        for n in before.keys() | after.keys()
        if {k: (before.get(n) or {}).get(k) for k in comparable}
        != {k: (after.get(n) or {}).get(k) for k in comparable}
    }
    assert differing == changed

    live.requests.clear()
    third = refresh(config, "--data", new_file, "--apply", "--auth", "cli", "-o", "json")
    assert third.exit_code == 0, third.stderr
    assert [r.kind for r in live.requests] == ["graph"] and live.count("PUT") == 0  # Graph's copy: no GET
    assert by_name(report_of(third))["live"]["result"] == "unchanged"


# --- the shrink guard -------------------------------------------------------------------------------------------


def crafted_week(shared: Path, folder: Path, tag: str, keep: float | None) -> str:
    """The real 2025-01-27 file with `tag` cut to a fraction of its prefixes (None: removed outright)."""
    doc = json.loads(Path(week(shared, "20250127")).read_text(encoding="utf-8-sig"))
    values = []
    for entry in doc["values"]:
        if entry["name"] == tag:
            if keep is None:
                continue
            prefixes = entry["properties"]["addressPrefixes"]
            entry["properties"]["addressPrefixes"] = prefixes[: max(1, int(len(prefixes) * keep))]
        values.append(entry)
    doc["values"] = values
    doc["changeNumber"] += 1
    path = folder / "ServiceTags_Public_20250203.json"
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.mark.parametrize(("keep", "needle"), [(0.1, "lost"), (None, "vanished")])
def test_shrunk_or_vanished_tag_is_refused_and_target_untouched(
    tmp_path: Path, shared_data: Path, keep: float | None, needle: str
) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    other = tmp_path / "other.json"
    other.write_text(json.dumps(nsg_doc("nsg-other")))
    config = write_config(
        tmp_path / "egress.toml",
        [
            {"name": "west", "target": str(nsg)},
            {"name": "north", "target": str(other), "region": "northeurope"},
        ],
        region="westus2",
    )
    assert refresh(config, "--data", week(shared_data, "20250127"), "--apply").exit_code == 3
    body, state = nsg.read_bytes(), state_path(config).read_bytes()
    bad = crafted_week(shared_data, tmp_path, "Storage.WestUS2", keep)
    result = refresh(config, "--data", bad, "--apply", "-o", "json")
    assert result.exit_code == 4, result.stderr
    report = report_of(result)
    west = by_name(report)["west"]
    assert west["result"] == "refused" and needle in west["message"] and "--max-shrink 20%" in west["message"]
    assert west["shrink"][0]["tag"] == "Storage.WestUS2"
    assert west["requests"] == {} and west["changes"] == []  # never even read
    assert by_name(report)["north"]["result"] == "unchanged"  # its tags are intact: processed as usual
    assert nsg.read_bytes() == body
    west_state = json.loads(state_path(config).read_bytes())["targets"]["west"]
    assert west_state == json.loads(state)["targets"]["west"]  # the last good data stays the baseline
    # The guard keeps refusing until the data is good again (or someone raises --max-shrink).
    assert refresh(config, "--data", bad, "--apply").exit_code == 4
    # (`north` took the crafted file, which is newer: going back to 01-27 is a rollback, said out loud.)
    assert refresh(config, "--data", week(shared_data, "20250127"), "--apply", "--allow-older").exit_code == 0
    if keep is not None:
        allowed = refresh(config, "--data", bad, "--apply", "--max-shrink", "100")
        assert allowed.exit_code == 3, allowed.stdout + allowed.stderr


# --- fleets -------------------------------------------------------------------------------------------------------


def test_fleet_with_a_broken_target_processes_the_others(
    live: ArmDouble, tmp_path: Path, shared_data: Path
) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    one.write_text(json.dumps(nsg_doc("one")))
    two.write_text(json.dumps(nsg_doc("two")))
    config = write_config(
        tmp_path / "fleet.toml",
        [
            {"name": "file-one", "target": str(one)},
            {"name": "missing", "target": str(tmp_path / "gone.json")},
            {"name": "file-two", "target": str(two), "option": "service-tags"},
            {"name": "azure", "target": f"azure:{NSG_ID}", "region": "westus2"},
        ],
        region="eastus",
    )
    result = refresh(
        config, "--data", week(shared_data, "20250127"), "--apply", "--auth", "cli", "--concurrency", "2"
    )
    assert result.exit_code == 1, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.split()}
    assert "applied" in lines["file-one"] and "applied" in lines["file-two"] and "applied" in lines["azure"]
    assert "error" in lines["missing"] and "no such file" in lines["missing"]
    assert "3 applied, 1 error (exit 1)" in result.stdout
    assert "egress-deny-internet" in rules(json.loads(one.read_text()))
    assert (
        rules(json.loads(two.read_text()))["egress-storage-eastus"]["destinationAddressPrefix"]
        == "Storage.EastUS"
    )
    assert "egress-deny-internet" in rules(live.nsg(NSG_ID))
    md = refresh(config, "--data", week(shared_data, "20250127"), "--auth", "cli", "-o", "markdown")
    assert md.exit_code == 1
    assert "| missing | ❌ error |" in md.stdout and "### ✅ azure: unchanged" in md.stdout


def test_target_name_selects_and_unknown_name_is_usage_error(tmp_path: Path, shared_data: Path) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(
        tmp_path / "c.toml", [{"name": "a", "target": str(nsg)}, {"name": "b", "target": "x.json"}]
    )
    only = refresh(config, "--data", week(shared_data, "20250127"), "--target-name", "a", "-o", "json")
    assert [t["name"] for t in report_of(only)["targets"]] == ["a"]
    bad = refresh(config, "--data", week(shared_data, "20250127"), "--target-name", "zzz")
    assert bad.exit_code == 2 and "no target named 'zzz'" in bad.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-shrink", "150"], "--max-shrink 150 is not a percentage"),
        (["--concurrency", "0"], "--concurrency must be"),
        (["-o", "yaml"], "use text, json or markdown"),
        (["--auth", "password"], "unknown --auth"),
        (["--lock-timeout", "-1"], "--lock-timeout"),
    ],
)
def test_bad_options_are_one_line_usage_errors(tmp_path: Path, args: list[str], needle: str) -> None:
    config = write_config(tmp_path / "c.toml", [{"name": "a", "target": "a.json"}])
    result = refresh(config, *args)
    assert result.exit_code == 2 and needle in result.stderr and result.stderr.count("\n") == 1


def test_config_without_targets_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[defaults]\nregion = "eastus"\n')
    result = refresh(config)
    assert result.exit_code == 2 and "no [[targets]]" in result.stderr


# --- fetching, and falling back --------------------------------------------------------------------------------


def publish(site: FakeSite, body: bytes, stamp: str) -> None:
    path = f"{PUBLIC_FOLDER}ServiceTags_Public_{stamp}.json"
    site.route(path, Reply(body=body))
    site.details_page([path])


def test_fetches_the_weekly_file_and_compares_with_the_cached_one(
    fake_site: FakeSite, egress_cache: Path, tmp_path: Path, shared_data: Path
) -> None:
    egress_cache.mkdir(parents=True)
    (egress_cache / "ServiceTags_Public_20250120.json").write_bytes(
        Path(week(shared_data, "20250120")).read_bytes()
    )
    publish(fake_site, Path(week(shared_data, "20250127")).read_bytes(), "20250127")
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(tmp_path / "c.toml", [{"name": "west", "target": str(nsg)}], region="westus2")
    result = refresh(config, "-o", "json")
    assert result.exit_code == 3, result.stderr
    report = report_of(result)
    assert report["data"][0]["origin"] == "fetched" and report["data"][0]["fileDate"] == "2025-01-27"
    assert report["data"][0]["underAWeekOld"] is False
    west = by_name(report)["west"]
    # First refresh of the target: the previously cached week is the baseline.
    assert [t["name"] for t in west["tags"] if t["changed"]] == ["Storage.WestUS2"]
    assert (egress_cache / "ServiceTags_Public_20250127.json").exists()


def test_fetch_failure_falls_back_to_the_last_good_cached_file(
    fake_site: FakeSite, egress_cache: Path, tmp_path: Path, shared_data: Path
) -> None:
    egress_cache.mkdir(parents=True)
    cached = egress_cache / "ServiceTags_Public_20250120.json"
    cached.write_bytes(Path(week(shared_data, "20250120")).read_bytes())
    fake_site.details_page([])  # the page links no file; every guessed URL is 404
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(tmp_path / "c.toml", [{"name": "west", "target": str(nsg)}], region="westus2")
    result = refresh(config, "--apply", "-o", "json")
    assert result.exit_code == 3, result.stderr
    data = report_of(result)["data"][0]
    assert data["origin"] == "cache-fallback" and data["changeNumber"] == 342
    assert any("could not fetch" in n and cached.name in n for n in data["notes"])
    assert "using the last good cached file" in result.stderr


def test_fallback_never_moves_a_target_back_to_older_data(
    fake_site: FakeSite, egress_cache: Path, tmp_path: Path, shared_data: Path
) -> None:
    egress_cache.mkdir(parents=True)
    (egress_cache / "ServiceTags_Public_20250120.json").write_bytes(
        Path(week(shared_data, "20250120")).read_bytes()
    )
    fake_site.details_page([])
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(tmp_path / "c.toml", [{"name": "west", "target": str(nsg)}], region="westus2")
    assert refresh(config, "--data", week(shared_data, "20250127"), "--apply").exit_code == 3
    body = nsg.read_bytes()
    result = refresh(config, "--apply", "-o", "json")  # fetch fails; only the older week is cached
    assert result.exit_code == 0, result.stdout + result.stderr
    west = by_name(report_of(result))["west"]
    assert west["result"] == "unchanged" and west["data"]["changeNumber"] == 343
    assert any("older than this target's" in n for n in west["notes"])
    assert nsg.read_bytes() == body


def test_fetch_failure_with_nothing_cached_is_an_error_per_target(
    fake_site: FakeSite, tmp_path: Path
) -> None:
    fake_site.details_page([])
    config = write_config(tmp_path / "c.toml", [{"name": "a", "target": str(tmp_path / "a.json")}])
    result = refresh(config)
    assert result.exit_code == 1
    assert "could not fetch the Public service tags and nothing is cached" in result.stdout


# --- killed and overlapping runs (real processes) ---------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class Proc:
    """A `python -m egress ...` subprocess whose stderr is read line by line in the background."""

    def __init__(self, args: list[str], **env: str) -> None:
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "egress", *args],
            cwd=ROOT,
            env=_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self.lines.append("")  # EOF marker
            self._seen.notify_all()

    def wait_for(self, needle: str, timeout: float = 120) -> None:
        with self._seen:
            found = self._seen.wait_for(
                lambda: any(needle in line for line in self.lines) or "" in self.lines, timeout
            )
        assert found and any(needle in line for line in self.lines), "".join(self.lines)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        out, _ = self.proc.communicate(timeout=timeout)
        self._reader.join(timeout=10)
        return self.proc.returncode, out


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        if p.proc.poll() is None:
            p.kill()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sigkill_before_the_write_leaves_cache_state_and_target_valid(
    procs: list[Proc], egress_cache: Path, tmp_path: Path, shared_data: Path
) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(tmp_path / "c.toml", [{"name": "west", "target": str(nsg)}], region="westus2")
    assert refresh(config, "--data", week(shared_data, "20250120"), "--apply").exit_code == 3
    before_nsg, before_cache = nsg.read_bytes(), snapshot(egress_cache)
    before_cache.pop("refresh.lock")  # holds only the last holder's pid, which the victim rewrites
    before_dir = sorted(p.name for p in tmp_path.iterdir())
    args = ["refresh", "--config", str(config), "--data", week(shared_data, "20250127"), "--apply"]
    victim = Proc(args, EGRESS_TEST_PAUSE_BEFORE_WRITE="300")
    procs.append(victim)
    victim.wait_for("test pause before writing")
    victim.kill()
    assert victim.proc.returncode == -signal.SIGKILL
    assert nsg.read_bytes() == before_nsg
    json.loads(nsg.read_text())  # still a whole document
    after_cache = snapshot(egress_cache)
    after_cache.pop("refresh.lock")
    assert after_cache == before_cache  # the state file is as the last complete run left it
    assert sorted(p.name for p in tmp_path.iterdir()) == before_dir  # no temp file left next to the target
    # The kernel dropped the dead run's lock: the next run goes ahead and applies.
    rerun = refresh(config, "--data", week(shared_data, "20250127"), "--apply", "-o", "json")
    assert rerun.exit_code == 3, rerun.stderr
    assert by_name(report_of(rerun))["west"]["result"] == "applied"


def test_sigkill_mid_download_leaves_the_cache_as_it_was(
    procs: list[Proc], fake_site: FakeSite, egress_cache: Path, tmp_path: Path, shared_data: Path
) -> None:
    egress_cache.mkdir(parents=True)
    (egress_cache / "ServiceTags_Public_20250120.json").write_bytes(
        Path(week(shared_data, "20250120")).read_bytes()
    )
    body = Path(week(shared_data, "20250127")).read_bytes()
    publish(fake_site, b"", "20250127")
    fake_site.route(
        f"{PUBLIC_FOLDER}ServiceTags_Public_20250127.json", Reply(body=body, stall_after=len(body) // 2)
    )
    before = snapshot(egress_cache)
    config = write_config(tmp_path / "c.toml", [{"name": "west", "target": str(tmp_path / "n.json")}])
    victim = Proc(["refresh", "--config", str(config), "--apply"])
    procs.append(victim)
    wait_for_request(fake_site, "ServiceTags_Public_20250127.json")
    victim.kill()
    after = snapshot(egress_cache)
    after.pop("refresh.lock", None)  # the lock file may have been created; it holds no data
    assert after == before


def wait_for_request(site: FakeSite, needle: str, polls: int = 2400) -> None:
    """Wait (bounded) until the fake site has been asked for a path containing `needle`."""
    pause = threading.Event()
    for _ in range(polls):
        if any(needle in path for path in list(site.requests)):
            return
        pause.wait(0.05)
    pytest.fail(f"the fake site never saw a request for {needle}")


def test_second_run_exits_1_while_the_first_holds_the_lock(
    procs: list[Proc], tmp_path: Path, shared_data: Path
) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(tmp_path / "c.toml", [{"name": "west", "target": str(nsg)}], region="westus2")
    data = week(shared_data, "20250127")
    first = Proc(
        ["refresh", "--config", str(config), "--data", data, "--apply"], EGRESS_TEST_PAUSE_BEFORE_WRITE="300"
    )
    procs.append(first)
    first.wait_for("test pause before writing")
    second = refresh(config, "--data", data, "--apply")
    assert second.exit_code == 1
    assert second.stderr.startswith("Error: another egress refresh is running (pid ")
    assert "--lock-timeout" in second.stderr and second.stderr.count("\n") == 1
    first.kill()


def test_second_run_waits_with_lock_timeout_then_proceeds(
    procs: list[Proc], tmp_path: Path, shared_data: Path
) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(tmp_path / "c.toml", [{"name": "west", "target": str(nsg)}], region="westus2")
    data = week(shared_data, "20250127")
    first = Proc(
        ["refresh", "--config", str(config), "--data", data, "--apply"], EGRESS_TEST_PAUSE_BEFORE_WRITE="300"
    )
    procs.append(first)
    first.wait_for("test pause before writing")
    second = Proc(["refresh", "--config", str(config), "--data", data, "--apply", "--lock-timeout", "300"])
    procs.append(second)
    second.wait_for("waiting up to 300s")
    first.kill()  # the holder dies mid-run: its lock goes with it
    code, out = second.finish()
    assert code == 3, "".join(second.lines)
    assert "applied" in out


# --- the state file ---------------------------------------------------------------------------------------------


def test_guard_still_works_when_the_last_good_file_is_gone(tmp_path: Path, shared_data: Path) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(tmp_path / "c.toml", [{"name": "west", "target": str(nsg)}], region="westus2")
    copy = tmp_path / "ServiceTags_Public_20250127.json"
    copy.write_bytes(Path(week(shared_data, "20250127")).read_bytes())
    assert refresh(config, "--data", str(copy), "--apply").exit_code == 3
    copy.unlink()  # e.g. pruned from the cache
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = crafted_week(shared_data, bad_dir, "Storage.WestUS2", 0.1)
    result = refresh(config, "--data", bad, "--apply", "-o", "json")
    assert result.exit_code == 4, result.stdout
    west = by_name(report_of(result))["west"]
    assert west["result"] == "refused" and any("is gone" in n for n in west["notes"])
    assert all(t["compared"] is False for t in west["tags"])  # sizes only: no prefix lists without the file


def test_damaged_state_is_noted_and_replaced(tmp_path: Path, shared_data: Path) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(tmp_path / "c.toml", [{"name": "west", "target": str(nsg)}], region="westus2")
    state = state_path(config)
    state.parent.mkdir(parents=True)
    state.write_text("{not json")
    result = refresh(config, "--data", week(shared_data, "20250127"), "--apply", "-o", "json")
    assert result.exit_code == 3
    assert any("is damaged; starting afresh" in n for n in report_of(result)["notes"])
    saved = json.loads(state.read_text())
    assert saved["targets"]["west"]["data"]["changeNumber"] == 343
    assert saved["targets"]["west"]["tags"]["Storage.WestUS2"]["ipv4"] > 0


def test_a_target_with_a_bad_setting_does_not_stop_the_others(tmp_path: Path, shared_data: Path) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    config = write_config(
        tmp_path / "c.toml",
        [
            {"name": "mars", "target": str(tmp_path / "m.json"), "cloud": "mars"},
            {"name": "typo", "target": str(tmp_path / "t.json"), "region": "eastus9"},
            {"name": "fine", "target": str(nsg)},
        ],
        region="eastus",
    )
    result = refresh(config, "--data", week(shared_data, "20250127"), "--apply", "-o", "json")
    assert result.exit_code == 1
    targets = by_name(report_of(result))
    assert targets["fine"]["result"] == "applied"
    assert targets["mars"]["result"] == "error" and "unknown cloud 'mars'" in targets["mars"]["message"]
    assert targets["typo"]["result"] == "error" and "unknown region 'eastus9'" in targets["typo"]["message"]


def test_max_deletes_refusal_reports_the_plan(tmp_path: Path, shared_data: Path) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps(nsg_doc()))
    ranges = write_config(tmp_path / "a.toml", [{"name": "vms", "target": str(nsg)}], region="eastus")
    assert refresh(ranges, "--data", week(shared_data, "20250127"), "--apply").exit_code == 3
    body = nsg.read_bytes()
    tags = write_config(
        tmp_path / "b.toml", [{"name": "vms", "target": str(nsg)}], option="service-tags", region="eastus"
    )
    result = refresh(tags, "--data", week(shared_data, "20250127"), "--apply", "-o", "json")
    assert result.exit_code == 4
    vms = by_name(report_of(result))["vms"]
    assert vms["result"] == "refused" and "more than --max-deletes 10" in vms["message"]
    assert vms["counts"]["delete"] > 10 and any(c["action"] == "delete" for c in vms["changes"])
    assert vms["requests"] == {"read": 1, "write": 0}
    assert nsg.read_bytes() == body

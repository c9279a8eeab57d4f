"""Rendered artifacts replayed week over week on Microsoft's real files (issue 15.1).

For each pair of weeks, region and format: render week 1 into a folder, render week 2 into the same folder (the
file there is the earlier rendering), then replay week 2's artifact over the NSG that week 1's artifact produced,
the way the real tool would, and check that no two rules ever share a priority in one direction. The artifacts
are read with parsers that do not come from egress: shlex for the az CLI script, python-hcl2 for Terraform,
tree-sitter-pwsh for PowerShell, pycep for Bicep, json for ARM and the plan.
"""

from __future__ import annotations

import io
import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from egress.cli import app
from egress.places.nsg.formats import FORMATS
from tests.places.nsg.test_render_powershell import _text, _tree, _value, _walk

WEEK_PAIRS = (
    ("20240610", "20240617"),  # consecutive weeks
    ("20250120", "20250127"),  # consecutive weeks
    ("20240617", "20250120"),  # seven months apart: many blocks gained, lost and split
)
REGIONS = ("uksouth", "eastus", "westeurope", "australiaeast")

Rule = tuple[str, str, int]  # name, direction, priority
Nsg = dict[str, tuple[str, int]]  # name -> (direction, priority)


def _data(shared_data: Path, day: str) -> Path:
    return shared_data / "servicetags" / f"ServiceTags_Public_{day}.json"


def _render(folder: Path, fmt: str, data: Path, *extra: str) -> str:
    result = CliRunner().invoke(
        app,
        [
            "render",
            "--format",
            fmt,
            "--option",
            "ip-ranges",
            "--data",
            str(data),
            "--out",
            str(folder),
            *extra,
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return (folder / FORMATS[fmt].file_name).read_text(encoding="utf-8")


# --- reading each artifact with a parser egress does not provide ------------------------------------------------


def _azcli_commands(text: str) -> Iterator[list[str]]:
    """Each command of the script as bash would split it (continuation lines joined)."""
    logical = text.replace("\\\n", " ")
    for line in logical.splitlines():
        words = shlex.split(line, comments=True)
        if words[:3] == ["az", "network", "nsg"]:
            yield words


def _azcli_rules(text: str) -> list[Rule]:
    out = []
    for words in _azcli_commands(text):
        assert words[3:5] == ["rule", "create"], words  # the script only ever creates (or updates)
        args = {words[i]: words[i + 1] for i in range(5, len(words) - 1) if words[i].startswith("--")}
        out.append((args["--name"], args["--direction"], int(args["--priority"])))
    return out


def _terraform_resources(text: str) -> dict[str, Rule]:
    import hcl2

    doc = hcl2.load(io.StringIO(text))
    out = {}
    for block in doc.get("resource", []):
        for kind, named in block.items():
            assert kind.strip('"') == "azurerm_network_security_rule"
            for label, body in named.items():
                out[label.strip('"')] = (
                    body["name"].strip('"'),
                    body["direction"].strip('"'),
                    int(body["priority"]),
                )
    return out


def _powershell_steps(text: str) -> list[tuple[str, Any]]:
    """The script's Remove-RuleIfPresent and Add-AzNetworkSecurityRuleConfig calls, in the order they run."""
    tree, source = _tree(text)
    steps: list[tuple[str, Any]] = []
    for node in _walk(tree.root_node):
        if node.type != "command":
            continue
        name = node.child_by_field_name("command_name")
        cmdlet = _text(name, source) if name is not None else ""
        if cmdlet not in ("Remove-RuleIfPresent", "Add-AzNetworkSecurityRuleConfig"):
            continue
        (elements,) = [c for c in node.children if c.type == "command_elements"]
        args = [c for c in elements.children if c.type != "command_argument_sep"]
        call = {_text(p, source): _value(v, source) for p, v in zip(args[::2], args[1::2], strict=True)}
        if cmdlet == "Remove-RuleIfPresent":
            steps.append(("remove", call["-Name"]))
        else:
            steps.append(("add", (call["-Name"], call["-Direction"], int(call["-Priority"]))))
    return steps


def _bicep_rules(tmp_path: Path, text: str) -> list[Rule]:
    pycep = pytest.importorskip("pycep", reason="pycep-parser is not installed (pip install '.[test]')")
    path = tmp_path / "replay.bicep"
    path.write_text(text, encoding="utf-8")
    doc = pycep.BicepParser().parse(file_path=path)
    (nsg,) = doc["resources"].values()
    rules = nsg["config"]["properties"]["securityRules"]
    return [(r["name"], r["properties"]["direction"], int(r["properties"]["priority"])) for r in rules]


def _json_rules(text: str) -> list[Rule]:
    doc = json.loads(text)
    if "resources" in doc:  # ARM
        (nsg,) = doc["resources"]
        rules = nsg["properties"]["securityRules"]
    else:  # egress plan -o json (+ _generator)
        rules = doc["rules"]
    return [(r["name"], r["properties"]["direction"], int(r["properties"]["priority"])) for r in rules]


# --- replaying ---------------------------------------------------------------------------------------------------


def _clash(nsg: Nsg, name: str, direction: str, priority: int) -> str | None:
    for other, (d, p) in nsg.items():
        if other != name and d == direction and p == priority:
            return other
    return None


def _assert_unique(rules: list[Rule], what: str) -> None:
    seen: dict[tuple[str, int], str] = {}
    for name, direction, priority in rules:
        key = (direction, priority)
        assert key not in seen, f"{what}: {name} and {seen[key]} share {direction} priority {priority}"
        seen[key] = name


def _replay_sequential(nsg: Nsg, steps: list[Rule], what: str) -> Nsg:
    """az network nsg rule create, one by one: each is a PUT Azure checks against the NSG as it is then."""
    state = dict(nsg)
    for name, direction, priority in steps:
        other = _clash(state, name, direction, priority)
        assert other is None, f"{what}: creating {name} at {direction} {priority} collides with {other}"
        state[name] = (direction, priority)
    return state


def _replay_powershell(nsg: Nsg, steps: list[tuple[str, Any]], what: str) -> Nsg:
    """Remove + Add on the in-memory NSG, then one Set-AzNetworkSecurityGroup (checked here at every step)."""
    state = dict(nsg)
    for action, value in steps:
        if action == "remove":
            state.pop(value, None)
            continue
        name, direction, priority = value
        other = _clash(state, name, direction, priority)
        assert other is None, f"{what}: adding {name} at {direction} {priority} collides with {other}"
        state[name] = (direction, priority)
    _assert_unique([(n, d, p) for n, (d, p) in state.items()], what)
    return state


def _replay_terraform(before: dict[str, Rule], after: dict[str, Rule], what: str) -> None:
    """terraform apply: creates, in-place updates and destroys run in parallel, in any order. A resource written
    at a priority is safe only if no other resource holds it before the apply or after it."""
    for address, (name, direction, priority) in after.items():
        if before.get(address) == (name, direction, priority):
            continue  # no change, no API call
        holders = [
            f"{other_address} ({other})"
            for other_address, (other, d, p) in [*before.items(), *after.items()]
            if other_address != address and (d, p) == (direction, priority)
        ]
        assert not holders, f"{what}: {address} written at {direction} {priority} while {holders[0]} holds it"


def _kept_priorities(week1: list[Rule], week2: list[Rule], what: str) -> None:
    """The property itself: a rule in both weeks keeps its priority; a new rule takes none week 1 held."""
    first = {name: (d, p) for name, d, p in week1}
    held = {(d, p) for _, d, p in week1}
    for name, direction, priority in week2:
        if name in first:
            assert first[name] == (direction, priority), f"{what}: {name} moved {first[name]} -> {priority}"
        else:
            assert (direction, priority) not in held, f"{what}: new rule {name} took {direction} {priority}"


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("pair", WEEK_PAIRS, ids="-".join)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_week_over_week_replay(
    shared_data: Path, tmp_path: Path, fmt: str, pair: tuple[str, str], region: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    first = _render(folder, fmt, _data(shared_data, pair[0]), "--region", region)
    second = _render(folder, fmt, _data(shared_data, pair[1]), "--region", region)
    what = f"{fmt} {region} {pair[0]}->{pair[1]}"
    if fmt == "azcli":
        week1, week2 = _azcli_rules(first), _azcli_rules(second)
        nsg = _replay_sequential({}, week1, what)
        _replay_sequential(nsg, week2, what)
    elif fmt == "powershell":
        steps1, steps2 = _powershell_steps(first), _powershell_steps(second)
        week1 = [v for a, v in steps1 if a == "add"]
        week2 = [v for a, v in steps2 if a == "add"]
        _replay_powershell(_replay_powershell({}, steps1, what), steps2, what)
    elif fmt == "terraform":
        before, after = _terraform_resources(first), _terraform_resources(second)
        week1, week2 = list(before.values()), list(after.values())
        _replay_terraform({}, before, what)
        _replay_terraform(before, after, what)
    elif fmt == "bicep":
        week1, week2 = _bicep_rules(tmp_path, first), _bicep_rules(tmp_path, second)
    else:  # arm, json: the whole list is replaced (ARM) or read (the plan)
        week1, week2 = _json_rules(first), _json_rules(second)
    _assert_unique(week1, what + " (week 1)")
    _assert_unique(week2, what + " (week 2)")
    _kept_priorities(week1, week2, what)


@pytest.mark.parametrize("fmt", ["azcli", "powershell"])
def test_scripts_keep_what_they_leave_behind_reserved_for_generations(
    shared_data: Path, tmp_path: Path, fmt: str
) -> None:
    """Scripts never delete: a rule a rendering drops stays in the NSG, so every later rendering must avoid its
    priority. Three renderings (forwards seven months, then back) replayed in a row over one NSG."""
    folder = tmp_path / "out"
    folder.mkdir()
    days = ("20240617", "20250127", "20240610")
    nsg: Nsg = {}
    texts = []
    for day in days:
        text = _render(
            folder, fmt, _data(shared_data, day), "--region", "westeurope", "--tag", "AzureCloud.{region}"
        )
        texts.append(text)
        what = f"{fmt} {day}"
        if fmt == "azcli":
            nsg = _replay_sequential(nsg, _azcli_rules(text), what)
        else:
            nsg = _replay_powershell(nsg, _powershell_steps(text), what)
    # What the last script says it left behind is exactly what is in the NSG besides its own rules.
    last = (
        _azcli_rules(texts[-1])
        if fmt == "azcli"
        else [v for a, v in _powershell_steps(texts[-1]) if a == "add"]
    )
    left = {name: value for name, value in nsg.items() if name not in {n for n, _, _ in last}}
    assert left, "the weeks chosen must drop some rules"
    recorded = {}
    for line in texts[-1].splitlines():
        if "left in the NSG:" in line:
            name, direction, _, priority = line.split("left in the NSG:")[1].split()
            recorded[name] = (direction, int(priority))
    assert recorded == left
    # Rendering the same week again changes nothing: the record is carried, not lost.
    again = _render(
        folder, fmt, _data(shared_data, days[-1]), "--region", "westeurope", "--tag", "AzureCloud.{region}"
    )
    assert again == texts[-1]


def test_plan_json_takes_previous(shared_data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    week1 = runner.invoke(
        app,
        [
            "plan",
            "-o",
            "json",
            "--option",
            "ip-ranges",
            "--region",
            "uksouth",
            "--data",
            str(_data(shared_data, "20240617")),
        ],
    )
    assert week1.exit_code == 0, week1.output
    previous = tmp_path / "plan.json"
    previous.write_text(week1.stdout)
    week2 = runner.invoke(
        app,
        [
            "plan", "-o", "json", "--option", "ip-ranges", "--region", "uksouth",
            "--data", str(_data(shared_data, "20250120")), "--previous", str(previous),
        ],
    )  # fmt: skip
    assert week2.exit_code == 0, week2.output
    _kept_priorities(_json_rules(week1.stdout), _json_rules(week2.stdout), "plan uksouth")
    fresh = runner.invoke(
        app,
        [
            "plan",
            "-o",
            "json",
            "--option",
            "ip-ranges",
            "--region",
            "uksouth",
            "--data",
            str(_data(shared_data, "20250120")),
        ],
    )
    with pytest.raises(AssertionError):  # without --previous the numbering shifts (the reproduction)
        _kept_priorities(_json_rules(week1.stdout), _json_rules(fresh.stdout), "plan uksouth")


def test_a_window_spent_by_dropped_rules_is_reported(shared_data: Path, tmp_path: Path) -> None:
    """46 priorities (4050-4095) held by rules the earlier rendering had and this one drops: uksouth's 44 allows
    fit from 4000 up, not from 4010 up, and the error says why."""
    held = [
        {"name": f"egress-old-{i}", "properties": {"direction": "Outbound", "priority": 4050 + i}}
        for i in range(46)
    ]
    previous = tmp_path / "plan.json"
    previous.write_text(json.dumps({"rules": held}))
    base = [
        "render",
        "-f",
        "azcli",
        "--option",
        "ip-ranges",
        "--region",
        "uksouth",
        "--previous",
        str(previous),
    ]
    base += ["--data", str(_data(shared_data, "20250120"))]
    fits = CliRunner().invoke(app, [*base, "--priority-start", "4000"])
    assert fits.exit_code == 0, fits.output
    rules = _azcli_rules(fits.stdout)
    assert len(rules) == 45 and max(p for _, _, p in rules if p != 4096) == 4043
    assert fits.stdout.count("#   left in the NSG: egress-old-") == 46
    full = CliRunner().invoke(app, [*base, "--priority-start", "4010"])
    assert full.exit_code == 1
    assert full.stderr == (
        "Error: 44 rules do not fit between priorities 4010 and 4095 (0 of those are taken by other rules, 46 held "
        "by rules of the earlier rendering that this one drops); lower --priority-start, or remove the dropped "
        "rules (`egress apply` does) and render without the earlier rendering.\n"
    )

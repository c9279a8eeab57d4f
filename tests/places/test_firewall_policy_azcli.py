"""The firewall policy's az script gives the rule collection group the plan's priority, idempotently.

The `az network firewall policy rule-collection-group` commands live in the azure-firewall extension, which is
not on PyPI, so the real `az` cannot parse them here. The script runs against a stand-in `az` that keeps one
group's priority in a file (show / create / update, as the extension's commands do) and records every call; each
group call is then checked against the extension's documented syntax."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.places import cases
from tests.places.nsg.test_render_azcli import _run

SCRIPT = "egress-firewall-policy.sh"
GROUP = ["network", "firewall", "policy", "rule-collection-group"]
# Flags of the extension's group commands (azext_firewall/aaz/latest/network/firewall/policy/
# rule_collection_group/_show.py, _create.py, _update.py): (required, optional), long forms.
NAMES = frozenset({"--resource-group", "--policy-name", "--name"})
DOCUMENTED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "show": (NAMES, frozenset()),
    "create": (NAMES, frozenset({"--priority", "--rule-collections", "--no-wait"})),
    "update": (
        NAMES,
        frozenset({"--priority", "--rule-collections", "--no-wait", "--set", "--add", "--remove"}),
    ),
}
GLOBAL_FLAGS = frozenset(
    {"--output", "--query", "--only-show-errors", "--subscription", "--debug", "--verbose"}
)
PRIORITY_RANGE = (100, 65000)  # AAZIntArgFormat(minimum=100, maximum=65000) on --priority

# A group held in a file (its priority; no file: no group). ResourceNotFound exits 3, as az does.
STAND_IN = """\
import json, os, sys
argv = sys.argv[1:]
with open(os.environ["AZ_LOG"], "a", encoding="utf-8") as f:
    f.write(json.dumps(argv) + "\\n")
state = os.environ["AZ_GROUP"]
if argv[:4] == ["network", "firewall", "policy", "rule-collection-group"] and argv[4] in ("show", "create", "update"):
    verb, opts = argv[4], dict(zip(argv[5::2], argv[6::2]))
    exists = os.path.exists(state)
    if verb in ("show", "update") and not exists:
        print("(ResourceNotFound) The Resource was not found.", file=sys.stderr)
        sys.exit(3)
    if verb == "show":
        priority = int(open(state, encoding="utf-8").read())
        if opts.get("--query") == "priority" and opts.get("--output") == "tsv":
            print(priority)
        else:
            print(json.dumps({"name": opts["--name"], "priority": priority}))
    elif "--priority" in opts:
        with open(state, "w", encoding="utf-8") as f:
            f.write(opts["--priority"])
"""


def _apply(
    shared_data: Path, folder: Path, case: str, state: Path, existing: int | None = None
) -> tuple[list[list[str]], str]:
    """Run the case's script once in `folder` against the group kept in `state` (seeded with `existing`)."""
    folder.mkdir()
    script = folder / SCRIPT
    script.write_text(cases.render(shared_data, case, "azcli")[SCRIPT])
    az = folder / "az"
    az.write_text(f"#!{sys.executable}\n{STAND_IN}", encoding="utf-8")
    az.chmod(0o755)
    if existing is not None:
        state.write_text(str(existing))
    result, calls = _run(
        script, folder, folder / "az-calls.jsonl", RG="rg-hub", POLICY="fw", AZ_GROUP=str(state)
    )
    assert result.returncode == 0, result.stderr
    return calls, result.stderr


def _verbs(calls: list[list[str]]) -> list[str]:
    return [c[4] for c in calls if c[:4] == GROUP and c[4] in DOCUMENTED]


def _flag(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.mark.parametrize("case", cases.FW_CASES)
def test_a_missing_group_is_created_with_the_plan_priority(
    shared_data: Path, tmp_path: Path, case: str
) -> None:
    priority = cases.planned(shared_data, case).priority
    state = tmp_path / "group"
    calls, _ = _apply(shared_data, tmp_path / "run", case, state)
    assert _verbs(calls) == ["show", "create"]
    (create,) = [c for c in calls if c[:5] == [*GROUP, "create"]]
    assert _flag(create, "--priority") == str(priority)
    assert state.read_text() == str(priority)


@pytest.mark.parametrize("case", cases.FW_CASES)
def test_a_group_with_another_priority_gets_the_plan_priority(
    shared_data: Path, tmp_path: Path, case: str
) -> None:
    priority = cases.planned(shared_data, case).priority
    state = tmp_path / "group"
    calls, stderr = _apply(shared_data, tmp_path / "run", case, state, existing=450)
    assert _verbs(calls) == ["show", "update"]
    (update,) = [c for c in calls if c[:5] == [*GROUP, "update"]]
    assert (
        _flag(update, "--priority") == str(priority)
        and _flag(update, "--name") == cases.CASES[case][0].rcg_name
    )
    assert state.read_text() == str(priority)
    assert f"priority 450 -> {priority}" in stderr


@pytest.mark.parametrize("case", cases.FW_CASES)
def test_running_it_again_changes_no_priority(shared_data: Path, tmp_path: Path, case: str) -> None:
    state = tmp_path / "group"
    first, _ = _apply(shared_data, tmp_path / "first", case, state, existing=450)
    again, stderr = _apply(shared_data, tmp_path / "again", case, state)
    assert _verbs(first) == ["show", "update"]
    assert _verbs(again) == ["show"] and "->" not in stderr
    assert state.read_text() == str(cases.planned(shared_data, case).priority)


@pytest.mark.parametrize("case", cases.FW_CASES)
@pytest.mark.parametrize("existing", [None, 450])
def test_group_commands_follow_the_documented_syntax(
    shared_data: Path, tmp_path: Path, case: str, existing: int | None
) -> None:
    calls, _ = _apply(shared_data, tmp_path / "run", case, tmp_path / "group", existing)
    group_calls = [c for c in calls if c[:4] == GROUP and c[4] in DOCUMENTED]
    assert group_calls
    for argv in group_calls:
        required, optional = DOCUMENTED[argv[4]]
        flags = {w for w in argv[5:] if w.startswith("--")}
        assert required <= flags, argv
        assert flags <= required | optional | GLOBAL_FLAGS, argv
        assert all(not w.startswith("-") for w in argv[6::2]), f"every flag takes one value: {argv}"
        if "--priority" in flags:
            assert PRIORITY_RANGE[0] <= int(_flag(argv, "--priority")) <= PRIORITY_RANGE[1]


@pytest.mark.parametrize("case", cases.FW_CASES)
def test_powershell_saves_the_group_with_the_plan_priority(shared_data: Path, case: str) -> None:
    text = cases.render(shared_data, case, "powershell")["egress-firewall-policy.ps1"]
    priority = cases.planned(shared_data, case).priority
    assert (
        f"Set-AzFirewallPolicyRuleCollectionGroup -Name {cases.CASES[case][0].rcg_name!r} -Priority {priority} `"
        in text
    )
    assert "Properties.Priority" not in text  # the group's own priority is not carried over

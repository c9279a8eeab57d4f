from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import egress.cli.render as render_module
from egress.cli import app
from egress.places.nsg.formats import FORMATS
from tests.helpers import GOLDEN_DIR
from tests.places.nsg import nsg_cases

runner = CliRunner()
DATA = nsg_cases.DATA_NAME
BASE = ["render", "--region", "eastus", "--data", DATA]


@pytest.fixture(autouse=True)
def _in_data_folder(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # --data by file name (as a user in that folder would type it) keeps headers comparable with the goldens.
    monkeypatch.chdir(shared_data / "servicetags")
    monkeypatch.setattr(render_module, "__version__", nsg_cases.VERSION)


def _one_line_error(result: object) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert stderr.startswith("Error: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    return stderr


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_stdout_is_the_golden_file(fmt: str) -> None:
    result = runner.invoke(app, [*BASE, "--format", fmt])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    golden = GOLDEN_DIR / "render" / "service-tags-eastus" / FORMATS[fmt].file_name
    assert result.stdout == golden.read_text(encoding="utf-8")


def test_proxy_with_names_matches_the_golden_file() -> None:
    args = ["render", "--format", "terraform", "--option", "proxy", "--proxy-ip", "10.0.0.5", "--data", DATA]
    result = runner.invoke(app, [*args, "--nsg-name", "nsg-backup", "--resource-group", "rg-backup"])
    assert result.exit_code == 0, result.stderr
    golden = GOLDEN_DIR / "render" / "proxy" / FORMATS["terraform"].file_name
    assert result.stdout == golden.read_text(encoding="utf-8")


def test_help_lists_every_format() -> None:
    assert tuple(FORMATS) == render_module.FORMAT_NAMES
    result = runner.invoke(app, ["render", "--help"])
    assert result.exit_code == 0
    assert "arm|bicep|terraform|azcli|powershell|json" in result.stdout


def test_render_takes_exactly_plans_rule_inputs() -> None:
    group = typer.main.get_command(app)
    options = {
        name: {opt for param in group.commands[name].params for opt in param.opts + param.secondary_opts}  # type: ignore[attr-defined]
        for name in ("plan", "render")
    }
    plan_inputs = options["plan"] - {"--output", "-o"}
    assert options["render"] - plan_inputs == {
        "--format",
        "-f",
        "--out",
        "--nsg-name",
        "--name",
        "--resource-group",
    }
    assert plan_inputs <= options["render"]


def test_out_writes_once_then_reports_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "nsg"
    args = [*BASE, "--format", "azcli", "--out", str(out), "--resource-group", "rg1", "--nsg-name", "nsg1"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    script = out / FORMATS["azcli"].file_name
    assert first.stdout == ""
    assert first.stderr == f"wrote {script}\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    text = script.read_text(encoding="utf-8")
    assert f"--nsg-name nsg1 --option service-tags --out {out} --region eastus --resource-group rg1\n" in text
    before = script.stat().st_mtime_ns
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.stderr
    assert second.stderr == f"unchanged {script}\n"
    assert script.stat().st_mtime_ns == before
    assert sorted(p.name for p in out.iterdir()) == [script.name]  # no temp files left behind


def test_out_rewrites_only_when_the_plan_changes(tmp_path: Path) -> None:
    out = tmp_path / "nsg"
    assert runner.invoke(app, [*BASE, "--format", "arm", "--out", str(out)]).exit_code == 0
    template = out / FORMATS["arm"].file_name
    old = json.loads(template.read_text(encoding="utf-8"))
    changed = runner.invoke(app, [*BASE, "--format", "arm", "--out", str(out), "--priority-start", "300"])
    assert changed.exit_code == 0, changed.stderr
    assert changed.stderr == f"wrote {template}\n"
    rules = json.loads(template.read_text(encoding="utf-8"))["resources"][0]["properties"]["securityRules"]
    assert rules[0]["properties"]["priority"] == 300
    assert old["resources"][0]["properties"]["securityRules"][0]["properties"]["priority"] == 200


def test_config_settings_appear_as_flags_in_the_header(tmp_path: Path) -> None:
    cfg = tmp_path / "egress.toml"
    cfg.write_text(f'[defaults]\nregion = "eastus"\ndata = "{DATA}"\npriority_start = 250\n')
    result = runner.invoke(app, ["render", "--format", "bicep", "--config", str(cfg)])
    assert result.exit_code == 0, result.stderr
    assert (
        f"// Regenerate: egress render --data {DATA} --format bicep --option service-tags "
        "--priority-start 250 --region eastus\n" in result.stdout
    )


HOSTILE = ["'; rm -rf /", "$(id)", "`id`", "nsg\nrm -rf /", 'nsg"', "nsg'", "a b", "../etc"]


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize("flag", ["--nsg-name", "--resource-group", "--format"])
def test_hostile_input_is_refused_before_anything_is_written(tmp_path: Path, flag: str, bad: str) -> None:
    out = tmp_path / "out"
    args = {"--format": "arm", flag: bad}
    words = [*BASE, "--out", str(out)]
    for key, value in args.items():
        words += [key, value]
    result = runner.invoke(app, words)
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    _one_line_error(result)
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--region", "eastuss"], 1, "unknown region 'eastuss'"),
        (["--option", "proxy"], 2, "needs --proxy-ip"),
        (["--priority-start", "4096"], 2, "below the deny"),
    ],
)
def test_bad_rule_inputs_write_nothing(tmp_path: Path, args: list[str], code: int, needle: str) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["render", "--format", "arm", "--data", DATA, "--out", str(out), *args])
    assert result.exit_code == code
    assert needle in _one_line_error(result)
    assert not out.exists()


def test_out_pointing_at_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("keep")
    result = runner.invoke(app, [*BASE, "--format", "arm", "--out", str(target)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert _one_line_error(result) == (
        f"Error: --out {target} is a file, not a folder: give a folder to write the files into.\n"
    )
    assert target.read_text() == "keep"


def test_unwritable_folder_is_refused_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root writes anywhere, so the permission answer is simulated at the one check write_bundle makes.
    import egress.adapters.files as files_module

    monkeypatch.setattr(files_module.os, "access", lambda path, mode: Path(path) != tmp_path)
    result = runner.invoke(app, [*BASE, "--format", "arm", "--out", str(tmp_path / "sub")])
    assert result.exit_code == 1
    assert "is not writable" in _one_line_error(result)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_for_real(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write into any folder, so permissions cannot be tested as root")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    try:
        result = runner.invoke(app, [*BASE, "--format", "arm", "--out", str(locked)])
        assert result.exit_code == 1
        assert "is not writable" in _one_line_error(result)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_format_is_required() -> None:
    result = runner.invoke(app, BASE)
    assert result.exit_code == 2
    assert "--format" in result.stderr

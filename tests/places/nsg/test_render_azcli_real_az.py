"""The generated az scripts' commands, each parsed by the real Azure CLI (signed out, no network).

The stand-in `az` of test_render_azcli records what a script would run; here every distinct command shape is handed
to the real `az` from PyPI's azure-cli, which validates names, enum values and flag combinations before it asks for
a login. A negative control proves the check can fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import assert_az_accepts, require_real_az, run_real_az
from tests.places.nsg import nsg_cases
from tests.places.nsg.test_render_azcli import _run, _stand_in_az, _write_script

# Flags whose values az checks itself (enums); other values (names, prefixes, ports) are Azure's to check.
_ENUM_FLAGS = ("--direction", "--access", "--protocol")


def _shape(argv: list[str]) -> tuple[str, ...]:
    flags = [word for word in argv if word.startswith("--")]
    enums = [argv[argv.index(flag) + 1] for flag in _ENUM_FLAGS if flag in argv]
    return (*argv[:4], *flags, *enums)


def _recorded_calls(shared_data: Path, tmp_path: Path, case: str) -> list[list[str]]:
    script = _write_script(tmp_path, nsg_cases.render(shared_data, case, "azcli"))
    bin_dir, log = _stand_in_az(tmp_path)
    result, calls = _run(script, bin_dir, log, RG="rg-test", NSG="nsg-test")
    assert result.returncode == 0, result.stderr
    return calls


@pytest.mark.slow
@pytest.mark.parametrize("case", list(nsg_cases.CASES))
def test_real_az_accepts_every_command_shape(shared_data: Path, tmp_path: Path, case: str) -> None:
    require_real_az()
    calls = _recorded_calls(shared_data, tmp_path, case)
    assert calls
    shapes: dict[tuple[str, ...], list[str]] = {}
    for argv in calls:
        shapes.setdefault(_shape(argv), argv)
    config = tmp_path / "az-config"
    config.mkdir()
    for argv in shapes.values():
        assert_az_accepts(argv, config)


@pytest.mark.slow
def test_negative_control_a_bad_value_exits_2(shared_data: Path, tmp_path: Path) -> None:
    require_real_az()
    argv = list(_recorded_calls(shared_data, tmp_path, "proxy")[0])
    argv[argv.index("--protocol") + 1] = "Tcpx"
    config = tmp_path / "az-config"
    config.mkdir()
    result = run_real_az(argv, config)
    assert result.returncode == 2, result.stderr
    assert "'Tcpx' is not a valid value for '--protocol'" in result.stderr

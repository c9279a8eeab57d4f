"""The route table's az scripts (and the firewall place's route), each command shape parsed by the real Azure CLI
(signed out, no network), with a negative control. The firewall policy's `az network firewall policy ...`
commands live in the azure-firewall extension, which is not on PyPI: those stay checked by shellcheck only."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import assert_az_accepts, require_real_az, run_real_az
from tests.places import cases
from tests.places.nsg.test_render_azcli import _run, _stand_in_az


def _calls(shared_data: Path, tmp_path: Path, case: str) -> list[list[str]]:
    text = cases.render(shared_data, case, "azcli")["egress-routes.sh"]
    script = tmp_path / "egress-routes.sh"
    script.write_text(text)
    bin_dir, log = _stand_in_az(tmp_path)
    result, calls = _run(script, bin_dir, log, RG="rg-test", RT="rt-test")
    assert result.returncode == 0, result.stderr
    return calls


@pytest.mark.slow
@pytest.mark.parametrize("case", [*cases.ROUTE_CASES, "firewall-policy-eastus"])
def test_real_az_accepts_every_route_command_shape(shared_data: Path, tmp_path: Path, case: str) -> None:
    require_real_az()
    shapes: dict[tuple[str, ...], list[str]] = {}
    for argv in _calls(shared_data, tmp_path, case):
        flags = tuple(w for w in argv if w.startswith("--"))
        hop = argv[argv.index("--next-hop-type") + 1]
        shapes.setdefault((*argv[:4], *flags, hop), argv)
    config = tmp_path / "az-config"
    config.mkdir()
    assert shapes
    for argv in shapes.values():
        assert_az_accepts(argv, config)


@pytest.mark.slow
def test_negative_control_a_bad_next_hop_exits_2(shared_data: Path, tmp_path: Path) -> None:
    require_real_az()
    argv = list(_calls(shared_data, tmp_path, "route-table-eastus")[0])
    argv[argv.index("--next-hop-type") + 1] = "Interweb"
    config = tmp_path / "az-config"
    config.mkdir()
    result = run_real_az(argv, config)
    assert result.returncode == 2 and "Interweb" in result.stderr

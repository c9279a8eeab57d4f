"""Helpers shared by tests: real-program guards, golden files, PowerShell syntax checks."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_ENV = "EGRESS_UPDATE_GOLDEN"


def require_program(name: str) -> str:
    """Path of an installed program, or skip the test saying what to install."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install it, or run .ci/run, to run this test)")
    return path


def require_root(why: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"needs root: {why}")


@lru_cache(maxsize=1)
def _netns_error() -> str | None:
    unshare = shutil.which("unshare")
    if unshare is None:
        return "unshare (util-linux) is not installed"
    if os.geteuid() != 0:
        return "needs root to create a network namespace (unshare -n)"
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"the kernel refused a network namespace: {probe.stderr.strip()}"
    return None


def require_netns() -> str:
    """Path of `unshare` when this machine lets us create a throwaway network namespace, else skip."""
    error = _netns_error()
    if error:
        pytest.skip(error)
    require_program("ip")
    return shutil.which("unshare") or "unshare"


def assert_golden(path: str | Path, text: str) -> None:
    """Compare `text` with a golden file (relative paths are under tests/golden/).

    On mismatch write `<path>.actual` beside it for review and fail with a diff; with EGRESS_UPDATE_GOLDEN=1,
    (re)write the golden file instead.
    """
    golden = Path(path)
    if not golden.is_absolute():
        golden = GOLDEN_DIR / golden
    actual = golden.with_name(golden.name + ".actual")
    if os.environ.get(UPDATE_ENV) == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        actual.unlink(missing_ok=True)
        return
    if not golden.exists():
        actual.parent.mkdir(parents=True, exist_ok=True)
        actual.write_text(text, encoding="utf-8")
        pytest.fail(
            f"golden file {golden} is missing; wrote {actual.name}. Review it, then run with {UPDATE_ENV}=1."
        )
    expected = golden.read_text(encoding="utf-8")
    if expected == text:
        actual.unlink(missing_ok=True)
        return
    actual.write_text(text, encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True), text.splitlines(keepends=True), str(golden), str(actual)
        )
    )
    pytest.fail(
        f"output differs from {golden} (wrote {actual.name}; {UPDATE_ENV}=1 accepts it):\n{diff[:4000]}"
    )


@lru_cache(maxsize=1)
def _pwsh_parser() -> object:
    try:
        import tree_sitter
        import tree_sitter_pwsh
    except ImportError:
        pytest.skip("tree-sitter and tree-sitter-pwsh are not installed (pip install '.[test]')")
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))


def pwsh_problems(text: str) -> list[str]:
    """ERROR and MISSING nodes of a PowerShell script, as `line:col kind snippet` strings."""
    parser = _pwsh_parser()
    source = text.encode("utf-8")
    tree = parser.parse(source)  # type: ignore[attr-defined]
    problems: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            row, col = node.start_point
            snippet = source[node.start_byte : node.end_byte][:60].decode("utf-8", "replace")
            kind = "MISSING" if node.is_missing else "ERROR"
            problems.append(f"{row + 1}:{col + 1} {kind} {node.type} {snippet!r}")
        stack.extend(node.children)
    return sorted(problems)


def assert_pwsh_parses(text: str) -> None:
    """Fail if tree-sitter-pwsh finds syntax errors (no PowerShell engine is available to run the script)."""
    problems = pwsh_problems(text)
    assert not problems, "PowerShell syntax errors:\n" + "\n".join(problems)


def shellcheck(path: Path) -> subprocess.CompletedProcess[str]:
    """`shellcheck -S style` on a file (skips when shellcheck is missing)."""
    program = require_program("shellcheck")
    return subprocess.run([program, "-S", "style", str(path)], capture_output=True, text=True, check=False)


AZ_VENV_ENV = "EGRESS_TEST_AZ_VENV"
AZ_LOGIN_PROMPT = "Please run 'az login'"


def az_venv() -> Path:
    """Where scripts/test keeps the real Azure CLI (its own venv: ~700 MB, installed once per machine)."""
    given = os.environ.get(AZ_VENV_ENV)
    return Path(given) if given else Path.home() / ".cache" / "egress-test" / "azure-cli"


def require_real_az() -> str:
    """The real `az` from PyPI's azure-cli, or skip saying how to get it."""
    az = az_venv() / "bin" / "az"
    if not az.is_file():
        pytest.skip(
            f"the real Azure CLI is not at {az} (scripts/test installs it there; or set ${AZ_VENV_ENV})"
        )
    return str(az)


def run_real_az(argv: list[str], config_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run the real `az` with `argv`, signed out, in a network namespace of its own when we may make one.

    A command az accepts stops at "Please run 'az login'" (exit 1) before any request; a bad argument exits 2
    first. The empty config dir means no account, no telemetry, no update check; `unshare -n` (root) makes
    sure nothing leaves the machine even if az tried.
    """
    az = require_real_az()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(config_dir),
        "AZURE_CONFIG_DIR": str(config_dir),
        "AZURE_CORE_COLLECT_TELEMETRY": "false",
        "AZURE_CORE_NO_COLOR": "true",
        "AZURE_CORE_ONLY_SHOW_ERRORS": "true",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    prefix = [shutil.which("unshare") or "unshare", "-n"] if _netns_error() is None else []
    return subprocess.run(
        [*prefix, az, *argv], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def assert_az_accepts(argv: list[str], config_dir: Path) -> None:
    """The real az parses `argv` and would run it once signed in (exit 1 at the login check, never 2)."""
    result = run_real_az(argv, config_dir)
    assert result.returncode == 1 and AZ_LOGIN_PROMPT in result.stderr, (
        f"az {' '.join(argv[:4])} ... exited {result.returncode}: {result.stderr.strip()[:600]}"
    )

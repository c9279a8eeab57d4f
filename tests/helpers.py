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

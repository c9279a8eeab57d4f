"""`terraform fmt` for tests: HashiCorp's hclwrite.Format (the formatter `terraform fmt` runs), as HashiCorp ships
it compiled to WebAssembly in the npm package @cdktf/hcl-tools, run by node.

The terraform binary cannot be installed here (only PyPI, Debian and npm are reachable); this is the same Go code.
`.ci/run` installs it (`npm install --prefix tests/tools/hclfmt`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import require_program

TOOL = Path(__file__).resolve().parent.parent / "tools" / "hclfmt"
INSTALL = f"npm install --no-package-lock --prefix {TOOL.relative_to(TOOL.parents[2])}"


def hcl_format(text: str) -> str:
    """What `terraform fmt` would make of `text` (skips the test when node or the package is missing)."""
    node = require_program("node")
    if not (TOOL / "node_modules" / "@cdktf" / "hcl-tools").is_dir():
        pytest.skip(f"@cdktf/hcl-tools is not installed (run `{INSTALL}`, or .ci/run)")
    done = subprocess.run(
        [node, str(TOOL / "fmt.js")],
        input=text,
        capture_output=True,
        text=True,
        cwd=TOOL,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout

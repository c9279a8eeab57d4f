"""The Jinja2 environment for text templates under `templates/`.

The wheel carries them as `egress/templates` (hatch force-include); a source checkout or editable install reads
the repository's top-level `templates/`. Undefined variables are errors, not empty strings. Filters `bash`, `ps`,
`bicep` and `hcl` quote a value as one literal string;
`token` and `cidr` pass only a plain identifier or a canonical prefix (for languages without quoting); template comments are `{## ... ##}`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from egress.render.quoting import bash_quote, bicep_quote, cidr, hcl_quote, powershell_quote, token

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def templates_dir() -> Path:
    """Where the templates are: inside the installed package, else the repository checkout."""
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"egress templates are missing (looked in {_PACKAGE_DIR}): reinstall egress.")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # `{#` is everyday bash (`${#array[@]}`); template comments are `{## ... ##}` instead.
        comment_start_string="{##",
        comment_end_string="##}",
    )
    env.filters["bash"] = bash_quote
    env.filters["ps"] = powershell_quote
    env.filters["bicep"] = bicep_quote
    env.filters["hcl"] = hcl_quote
    env.filters["token"] = token  # a bare identifier, refused unless plain
    env.filters["cidr"] = cidr  # a canonical prefix, refused otherwise
    return env


def render(name: str, **context: Any) -> str:
    """Render `templates/<name>` with the given variables."""
    return environment().get_template(name).render(**context)

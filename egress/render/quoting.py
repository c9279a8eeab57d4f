"""Quote a string as one literal word for bash or PowerShell.

Validators in egress.core.values reject hostile input first; quoting is the second line of defence, so it must
be correct for any string, not only for the ones validation lets through.
"""

from __future__ import annotations

from egress.errors import UsageError

# PowerShell treats the typographic single quotes as `'` too; each must be doubled like the ASCII one.
_PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def _no_nul(s: str) -> str:
    if "\x00" in s:
        raise UsageError("a value contains a NUL character, which no script can hold: remove it.")
    return s


def bash_quote(s: str) -> str:
    """`'...'` with each `'` written as `'\\''`: bash expands nothing inside single quotes."""
    return "'" + _no_nul(s).replace("'", "'\\''") + "'"


def powershell_quote(s: str) -> str:
    """`'...'` (a verbatim string) with every kind of single quote doubled."""
    out = "".join(ch + ch if ch in _PS_SINGLE_QUOTES else ch for ch in _no_nul(s))
    return f"'{out}'"

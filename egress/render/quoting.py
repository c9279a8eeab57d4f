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


# Characters that end or disturb a line in any of these languages; written as escapes, never raw.
_BREAKING = {"\u0085", "\u2028", "\u2029"}


def _control(ch: str) -> bool:
    return ord(ch) < 0x20 or ord(ch) == 0x7F or ch in _BREAKING


def bicep_quote(s: str) -> str:
    """A Bicep string literal `'...'`: `\\`, `'` and `${` escaped (no interpolation), control characters as `\\u{X}`."""
    out: list[str] = []
    text = _no_nul(s)
    for index, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == "$" and text.startswith("{", index + 1):
            out.append("\\$")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif _control(ch):
            out.append(f"\\u{{{ord(ch):X}}}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


def hcl_quote(s: str) -> str:
    """An HCL (Terraform) quoted string: `\\` and `"` escaped, `${`/`%{` doubled so nothing is interpolated."""
    out: list[str] = []
    for ch in _no_nul(s):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif _control(ch):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def token(s: str) -> str:
    """A bare identifier (nft set and table names, ipset and squid ACL names): letters, digits, `_`, starting with a
    letter. These languages have no quoting egress could rely on, so anything else is refused, never escaped."""
    if not s or not s[0].isascii() or not s[0].isalpha() or not set(s) <= _TOKEN_CHARS:
        raise UsageError(f"{s!r} is not a plain name (letters, digits and `_`, starting with a letter).")
    return s


def cidr(s: str) -> str:
    """An address prefix written bare in a list or set: it must already be canonical (as egress formats them)."""
    from egress.core import prefixes as px

    try:
        canonical = px.format_prefix(px.parse_prefix(s))
    except ValueError:
        canonical = None
    if canonical != s:
        raise UsageError(f"{s!r} is not a canonical address prefix.")
    return s

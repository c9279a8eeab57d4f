"""Text a terminal shows as text: control characters from data (a tag name, a URL, a file's content) escaped.

A weekly file or an NSG is input egress does not control; printed raw, `ESC ] 0 ; ... BEL` retitles the
terminal, `ESC [ 2 J` clears it and a carriage return or a bidi override makes a line read as something else.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the bidi embeddings, overrides and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character written as its escape (`\\x1b`); tabs and newlines stay."""
    return _CONTROL.sub(_escape, text) if _CONTROL.search(text) else text

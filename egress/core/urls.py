"""URLs as egress prints them: no password, token or signature (`https://user:PW@host`, `?sig=...`).

A mirror's address may carry credentials (EGRESS_DOWNLOAD_BASE, --page-url, --arm-endpoint); an error message,
a report or a log line must not. User information becomes `***@` and every query value `***`, so the host,
path and parameter names still say which address it was.
"""

from __future__ import annotations

import re

HIDDEN = "***"
# scheme://[userinfo@]rest ; the rest stops at whitespace and at quotes or brackets around the URL.
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)(?:([^\s/?#@'\"<>()]*)@)?([^\s'\"<>()]*)")
# a query (with or without a scheme before it, as requests writes `url: /path?sig=...`): name=value pairs
_QUERY_VALUE = re.compile(r"([?&][^\s=&#'\"<>()]+=)[^\s&#'\"<>()]*?(?=[:.,;]*(?:[\s&#'\"<>()]|$))")


def redact_url(url: str) -> str:
    """`https://u:p@host/x?sig=abc&sv=1` -> `https://***@host/x?sig=***&sv=***`."""
    return _URL.sub(_redact_match, url)


def redact_urls(text: str) -> str:
    """Every URL in free text redacted as `redact_url` does, and any `?name=value` query after a bare path."""
    return _QUERY_VALUE.sub(rf"\1{HIDDEN}", _URL.sub(_redact_match, text))


def _redact_match(match: re.Match[str]) -> str:
    scheme, userinfo, rest = match.group(1), match.group(2), match.group(3)
    body = rest.rstrip(":.,;")  # `URL: message`: the punctuation after a URL is the sentence's
    shown = scheme + (f"{HIDDEN}@" if userinfo is not None else "")
    return shown + _QUERY_VALUE.sub(rf"\1{HIDDEN}", body) + rest[len(body) :]

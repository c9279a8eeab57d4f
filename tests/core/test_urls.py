from __future__ import annotations

import pytest

from egress.core.urls import redact_url, redact_urls


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:PW@host/a/b.json?sig=abc%2F&sv=2020", "https://***@host/a/b.json?sig=***&sv=***"),
        ("https://token@host/", "https://***@host/"),
        (
            "https://download.microsoft.com/download/7/ServiceTags_Public_20250127.json",
            "https://download.microsoft.com/download/7/ServiceTags_Public_20250127.json",
        ),
        (
            "https://www.microsoft.com/en-us/download/details.aspx?id=56519",
            "https://www.microsoft.com/en-us/download/details.aspx?id=***",
        ),
        ("https://host/x?flag", "https://host/x?flag"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_urls_in_messages_keeps_the_sentence() -> None:
    message = (
        "https://u:PW@h/x?sig=SECRET: cannot connect; HTTPSConnectionPool(host='h', port=443): Max retries "
        "exceeded with url: /x?sig=SECRET&se=2026 (Caused by NewConnectionError)"
    )
    assert redact_urls(message) == (
        "https://***@h/x?sig=***: cannot connect; HTTPSConnectionPool(host='h', port=443): Max retries "
        "exceeded with url: /x?sig=***&se=*** (Caused by NewConnectionError)"
    )
    assert redact_urls("see 'https://h/a.json?a=b'.") == "see 'https://h/a.json?a=***'."
    assert redact_urls("no urls here: a=b") == "no urls here: a=b"

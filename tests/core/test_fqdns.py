from __future__ import annotations

import pytest

from egress.core import fqdns
from egress.core.values import fqdn_pattern
from egress.errors import UsageError


@pytest.mark.parametrize("cloud", sorted(fqdns.BACKUP_FQDNS))
def test_builtin_lists_are_valid_and_cover_backup_storage_and_entra(cloud: str) -> None:
    names = fqdns.builtin(cloud)
    assert all(fqdn_pattern(name) == name for name in names)
    joined = " ".join(names)
    assert ".backup.windowsazure." in joined
    assert ".blob.core." in joined
    assert "login." in joined


def test_public_list_matches_microsoft_documentation() -> None:
    assert set(fqdns.builtin("public")) == {
        "*.backup.windowsazure.com",
        "*.blob.core.windows.net",
        "*.queue.core.windows.net",
        "*.blob.storage.azure.net",
        "*.login.microsoft.com",
        "login.microsoftonline.com",
    }


def test_unknown_cloud() -> None:
    with pytest.raises(UsageError, match="unknown cloud 'germany'"):
        fqdns.builtin("germany")


def test_parse_list_skips_comments_and_blank_lines() -> None:
    text = "# Azure names\n\n*.Blob.Core.Windows.Net  # storage\n  login.microsoftonline.com\n"
    assert fqdns.parse_list(text, "names.txt") == ("*.blob.core.windows.net", "login.microsoftonline.com")


def test_parse_list_names_the_bad_line() -> None:
    with pytest.raises(UsageError, match=r"^names.txt, line 3: invalid host name '\$\(id\)'"):
        fqdns.parse_list("a.example.com\n# ok\n$(id)\n", "names.txt")


def test_parse_list_refuses_an_empty_list() -> None:
    with pytest.raises(UsageError, match="lists no host names"):
        fqdns.parse_list("# nothing\n\n", "names.txt")


def test_squid_domains_converts_wildcards_and_drops_covered_names() -> None:
    patterns = (
        "login.microsoft.com",
        "*.login.microsoft.com",
        "a.blob.core.windows.net",
        "*.core.windows.net",
        "*.blob.core.windows.net",
        "login.microsoftonline.com",
    )
    assert fqdns.squid_domains(patterns) == [
        ".core.windows.net",
        ".login.microsoft.com",
        "login.microsoftonline.com",
    ]


def test_squid_domains_keeps_unrelated_suffixes() -> None:
    # `xlogin.microsoft.com` is not inside `.login.microsoft.com`: a plain endswith would wrongly drop it.
    assert fqdns.squid_domains(["*.login.microsoft.com", "xlogin.microsoft.com"]) == [
        ".login.microsoft.com",
        "xlogin.microsoft.com",
    ]

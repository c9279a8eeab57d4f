from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egress.core import values
from egress.errors import UsageError

HOSTILE = [
    "'; rm -rf /",
    "$(id)",
    "`id`",
    "10.0.0.5\n",
    "10.0.0.5\nrm -rf /",
    '10.0.0.5"',
    "10.0.0.5'",
    "10.0.0.5;id",
    "10.0.0.5 ",
    " 10.0.0.5",
    "10.0.0.5\x00",
    "${IFS}",
    "a\u2028b",
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.0.0.5", "10.0.0.5"), ("2001:DB8::1", "2001:db8::1"), ("::ffff:10.0.0.1", "::ffff:a00:1")],
)
def test_ip_address_canonical(text: str, expected: str) -> None:
    assert values.ip_address(text) == expected


@pytest.mark.parametrize("text", [*HOSTILE, "", "10.0.0", "010.0.0.5", "10.0.0.256", "fe80::1%eth0", "[::1]"])
def test_ip_address_rejects(text: str) -> None:
    with pytest.raises(UsageError) as err:
        values.ip_address(text)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.0/16", "10.0.0.0/16"),
        ("10.0.0.5", "10.0.0.5/32"),
        ("FD00::/64", "fd00::/64"),
        ("0.0.0.0/0", "0.0.0.0/0"),
    ],
)
def test_cidr_canonical(text: str, expected: str) -> None:
    assert values.cidr(text) == expected


def test_cidr_with_host_bits_suggests_the_network() -> None:
    with pytest.raises(UsageError, match=r"did you mean 10\.0\.0\.0/16\?"):
        values.cidr("10.0.0.5/16")


@pytest.mark.parametrize(
    "text", [*HOSTILE, "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/8\n"]
)
def test_cidr_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        values.cidr(text)


@pytest.mark.parametrize(("n", "expected"), [(1, 1), ("3128", 3128), (65535, 65535)])
def test_port_accepts(n: int | str, expected: int) -> None:
    assert values.port(n) == expected


@pytest.mark.parametrize("n", [0, 65536, -1, "0", "3128\n", "+3128", " 3128", "3e3", True, "٣١٢٨", 3.0])
def test_port_rejects(n: object) -> None:
    with pytest.raises(UsageError):
        values.port(n)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.0.0.5:3128", ("10.0.0.5", 3128)), ("[2001:db8::5]:8080", ("2001:db8::5", 8080))],
)
def test_host_port(text: str, expected: tuple[str, int]) -> None:
    assert values.host_port(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        *HOSTILE,
        "10.0.0.5",
        "http://10.0.0.5:3128",
        "proxy.example.com:3128",
        "10.0.0.5:0",
        "10.0.0.5:3128\n",
        "2001:db8::5:3128",
        "[10.0.0.5]:3128",
        ":3128",
        "10.0.0.5:3128:1",
    ],
)
def test_host_port_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        values.host_port(text)


@pytest.mark.parametrize("text", ["squid.conf", "apply-proxy.sh", "a", "A_1.b-c", "x" * 80])
def test_safe_name_accepts(text: str) -> None:
    assert values.safe_name(text) == text


@pytest.mark.parametrize(
    "text", [*HOSTILE, "", ".hidden", "-rf", "a/b", "../x", "a b", "x" * 81, "name\n", "é", "a:b"]
)
def test_safe_name_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        values.safe_name(text)


@given(st.text())
def test_safe_name_only_lets_safe_characters_through(text: str) -> None:
    try:
        accepted = values.safe_name(text)
    except UsageError:
        return
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", accepted)
    assert len(accepted) <= 80


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*.blob.core.windows.net", "*.blob.core.windows.net"),
        ("Login.MicrosoftOnline.com", "login.microsoftonline.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_fqdn_pattern_accepts(text: str, expected: str) -> None:
    assert values.fqdn_pattern(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        *HOSTILE,
        "",
        "localhost",
        "*.com",
        "*",
        "*.*.example.com",
        "a.*.example.com",
        "example.com.",
        "-a.example.com",
        "a-.example.com",
        "a..example.com",
        "exa mple.com",
        "bücher.example",
        "a_b.example.com",
        "x" * 64 + ".example.com",
        ("a" * 63 + ".") * 4 + "com",
        "example.com\n",
    ],
)
def test_fqdn_pattern_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        values.fqdn_pattern(text)


@given(st.text())
def test_fqdn_pattern_output_is_plain_dns(text: str) -> None:
    try:
        accepted = values.fqdn_pattern(text)
    except UsageError:
        return
    assert re.fullmatch(r"(\*\.)?[a-z0-9.-]+", accepted)
    assert len(accepted) <= 255


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.1.0.0/16", "10.1.0.0/16"),
        ("10.1.2.3", "10.1.2.3"),
        ("*.corp.example", ".corp.example"),
        (".corp.example", ".corp.example"),
        ("intranet", "intranet"),
        ("Host.Corp.Example", "host.corp.example"),
    ],
)
def test_no_proxy_entry(text: str, expected: str) -> None:
    assert values.no_proxy_entry(text) == expected


@pytest.mark.parametrize("text", [*HOSTILE, "", ".", "*.", "a,b", "10.0.0.5/16", "..x.example"])
def test_no_proxy_entry_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        values.no_proxy_entry(text)


@given(st.ip_addresses())
def test_ip_address_round_trips(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert values.ip_address(str(address)) == str(address)
    assert values.cidr(str(address)) == f"{address}/{address.max_prefixlen}"


@pytest.mark.parametrize("text", [*HOSTILE, "", "-nsg", "nsg.", "x" * 81])
def test_nsg_name_rejects(text: str) -> None:
    with pytest.raises(UsageError) as err:
        values.nsg_name(text)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", [*HOSTILE, "", "rg.", "x" * 91])
def test_resource_group_name_rejects(text: str) -> None:
    with pytest.raises(UsageError) as err:
        values.resource_group_name(text)
    assert "\n" not in str(err.value)


@given(st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,78}[A-Za-z0-9_])?", fullmatch=True))
def test_nsg_names_by_azure_rules_pass_unchanged(name: str) -> None:
    assert values.nsg_name(name) == name
    assert values.resource_group_name(name) == name  # every NSG name is also a valid resource group name

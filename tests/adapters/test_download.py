"""`ranges fetch` against a local imitation of the download site: locating, validating, caching, faults."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.adapters import download
from egress.adapters.datastore import cached_files, load_dataset, meta_path
from egress.adapters.download import (
    DATE_GUESS,
    DETAILS_PAGE,
    LATEST_ALIAS,
    PAGE_URL,
    HttpSettings,
    fetch_to_cache,
    guessed_candidates,
    latest_candidate,
    links_in_page,
)
from egress.cli import app
from egress.core.parse import sha256_hex
from egress.errors import FetchError, UsageError
from tests.support.fakesite import PUBLIC_FOLDER, FakeSite, Reply

runner = CliRunner()


def _today() -> date:
    return datetime.now(UTC).date()


def _stamp(day: date) -> str:
    return f"{day:%Y%m%d}"


@pytest.fixture(scope="module")
def public_new(shared_data: Path) -> bytes:
    return (shared_data / "servicetags" / "ServiceTags_Public_20250127.json").read_bytes()


@pytest.fixture(scope="module")
def public_old(shared_data: Path) -> bytes:
    return (shared_data / "servicetags" / "ServiceTags_Public_20250120.json").read_bytes()


@pytest.fixture
def seeded(egress_cache: Path, public_old: bytes) -> dict[str, bytes]:
    """The cache holds one good real file (no sidecar, as if copied in by hand); returns the folder's snapshot."""
    egress_cache.mkdir(parents=True)
    (egress_cache / "ServiceTags_Public_20250120.json").write_bytes(public_old)
    return _snapshot(egress_cache)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _publish(site: FakeSite, reply: Reply | bytes, stamp: str = "20250127") -> str:
    """Serve `reply` as the dated file and link it from the details page; returns the file's URL."""
    path = f"{PUBLIC_FOLDER}ServiceTags_Public_{stamp}.json"
    site.route(path, reply if isinstance(reply, Reply) else Reply(body=reply))
    site.details_page([path])
    return site.base_url + path


# --------------------------------------------------------------------------------------------------- locating


def test_links_in_page_picks_dated_links_of_the_cloud_newest_first() -> None:
    base = "https://download.microsoft.com"
    html = (
        f'<a href="{base}/download/7/1/D/X/ServiceTags_Public_20250120.json">old</a>'
        f'<a href="{base}/download/7/1/D/X/ServiceTags_Public_20250127.json">new</a>'
        f'<a href="{base}/download/6/4/D/Y/ServiceTags_AzureGovernment_20250127.json">gov</a>'
        f'<a href="https://evil.example/download/7/ServiceTags_Public_20250203.json">elsewhere</a>'
        f'<a href="{base}/download/7/1/D/X/ServiceTags_Public_Latest.json">alias</a>'
    )
    assert links_in_page(html, "public", base) == [
        f"{base}/download/7/1/D/X/ServiceTags_Public_20250127.json",
        f"{base}/download/7/1/D/X/ServiceTags_Public_20250120.json",
    ]
    assert links_in_page(html, "usgov", base) == [
        f"{base}/download/6/4/D/Y/ServiceTags_AzureGovernment_20250127.json"
    ]
    assert links_in_page(html, "china", base) == []


def test_guessed_dates_cover_today_and_the_seven_days_before() -> None:
    cands = guessed_candidates("china", date(2025, 3, 3), "https://dl.test")
    assert [c.file_date for c in cands] == [
        (date(2025, 3, 3) - timedelta(days=n)).isoformat() for n in range(8)
    ]
    assert cands[0].url == (
        "https://dl.test/download/9/D/0/9D03B7E2-4B80-4BF3-9B91-DA8C7D3EE9F9/ServiceTags_China_20250303.json"
    )
    assert {c.strategy for c in cands} == {DATE_GUESS}
    assert latest_candidate("germany", "https://dl.test").url.endswith(
        "/076274AB-4B0B-4246-A422-4BAF1E03F974/ServiceTags_AzureGermany_Latest.json"
    )


def test_real_hosts_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EGRESS_DOWNLOAD_BASE")
    monkeypatch.delenv("EGRESS_DETAILS_BASE")
    assert download.download_base() == "https://download.microsoft.com"
    assert (
        download.details_page_url("usgov") == "https://www.microsoft.com/en-us/download/details.aspx?id=57063"
    )
    assert download.details_page_url("public").endswith("id=56519")
    assert download.details_page_url("china").endswith("id=57062")
    assert download.details_page_url("germany").endswith("id=57064")


def test_http_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGRESS_HTTP_TIMEOUT", "3,7.5")
    monkeypatch.setenv("EGRESS_MAX_DOWNLOAD_BYTES", "1000")
    assert HttpSettings.from_env() == HttpSettings(3.0, 7.5, 1000)
    monkeypatch.setenv("EGRESS_HTTP_TIMEOUT", "soon")
    with pytest.raises(UsageError):
        HttpSettings.from_env()


# --------------------------------------------------------------------------------------------------- success


def test_details_page_strategy_stores_the_file_with_sidecar(
    fake_site: FakeSite, public_new: bytes, egress_cache: Path
) -> None:
    url = _publish(fake_site, public_new)
    report = fetch_to_cache("public")

    expected = json.loads(public_new)
    assert report.located_by == DETAILS_PAGE
    assert report.source == url
    assert report.change_number == expected["changeNumber"]
    assert report.entries == len(expected["values"])
    assert report.prefixes == sum(len(v["properties"]["addressPrefixes"]) for v in expected["values"])
    assert report.file_date == "2025-01-27"
    assert report.changed is None and report.previous is None

    stored = egress_cache / "ServiceTags_Public_20250127.json"
    assert report.path == stored
    assert stored.read_bytes() == public_new
    meta = json.loads(meta_path(stored).read_text())
    assert meta["source"] == url and meta["sha256"] == sha256_hex(public_new) and meta["kind"] == "download"
    assert meta["fetchedAt"].endswith("Z")
    assert not [p for p in egress_cache.iterdir() if p.name.startswith(".")], "temp files left behind"
    # A browser-like User-Agent went to the details page.
    assert "Mozilla/5.0" in fake_site.headers[0]["User-Agent"]
    # Later commands read it, with provenance from the sidecar.
    prov = load_dataset(cloud="public").dataset.provenance
    assert (prov.source, prov.fetched_at, prov.path) == (url, meta["fetchedAt"], str(stored))


def test_page_url_option_is_searched_first(fake_site: FakeSite, public_new: bytes) -> None:
    path = f"{PUBLIC_FOLDER}ServiceTags_Public_20250127.json"
    fake_site.route(path, Reply(body=public_new))
    fake_site.route("/mirror.html", Reply(body=f'<a href="{fake_site.base_url}{path}">x</a>'.encode()))
    report = fetch_to_cache("public", page_url=fake_site.base_url + "/mirror.html")
    assert report.located_by == PAGE_URL
    assert fake_site.requests[0] == "/mirror.html"


def test_falls_back_to_date_guessing_when_the_details_page_fails(
    fake_site: FakeSite, public_new: bytes
) -> None:
    fake_site.route(
        "/en-us/download/details.aspx", Reply(status=500, body=b"oops", content_type="text/plain")
    )
    day = _today() - timedelta(days=3)
    fake_site.route(f"{PUBLIC_FOLDER}ServiceTags_Public_{_stamp(day)}.json", Reply(body=public_new))
    report = fetch_to_cache("public")
    assert report.located_by == DATE_GUESS
    assert report.file_date == day.isoformat()
    assert report.path.name == f"ServiceTags_Public_{_stamp(day)}.json"
    guessed = [r for r in fake_site.requests if r.startswith(PUBLIC_FOLDER)]
    assert guessed[0].endswith(f"_{_stamp(_today())}.json")  # newest date tried first
    assert any("HTTP 500" in n for n in report.notes)


def test_falls_back_to_the_latest_alias(fake_site: FakeSite, public_new: bytes) -> None:
    fake_site.details_page([])  # a page that no longer carries the link
    fake_site.route(f"{PUBLIC_FOLDER}ServiceTags_Public_Latest.json", Reply(body=public_new))
    report = fetch_to_cache("public")
    assert report.located_by == LATEST_ALIAS
    assert report.file_date is None
    assert report.path.name.startswith("ServiceTags_Public_") and report.path.read_bytes() == public_new
    assert sum(1 for r in fake_site.requests if "ServiceTags_Public_2" in r) == 8


def test_a_bad_linked_file_falls_through_to_a_good_alias(fake_site: FakeSite, public_new: bytes) -> None:
    _publish(fake_site, Reply(body=b"<!DOCTYPE html><html>sign in</html>", content_type="text/html"))
    fake_site.route(f"{PUBLIC_FOLDER}ServiceTags_Public_Latest.json", Reply(body=public_new))
    report = fetch_to_cache("public")
    assert report.located_by == LATEST_ALIAS
    assert any("HTML page" in n for n in report.notes)


def test_reports_changed_content(
    fake_site: FakeSite, seeded: dict[str, bytes], public_old: bytes, public_new: bytes
) -> None:
    _publish(fake_site, public_new)
    report = fetch_to_cache("public")
    assert report.previous is not None and report.previous.name == "ServiceTags_Public_20250120.json"
    assert report.previous_change_number == json.loads(public_old)["changeNumber"]
    assert report.changed is True
    # Independent count of the tags whose prefix sets differ between the two real files.
    old = {v["name"]: set(v["properties"]["addressPrefixes"]) for v in json.loads(public_old)["values"]}
    new = {v["name"]: set(v["properties"]["addressPrefixes"]) for v in json.loads(public_new)["values"]}
    assert report.diff is not None
    assert set(report.diff.changed_tags) == {n for n in new if n in old and new[n] != old[n]}
    # The older file stays as history, untouched.
    assert (report.path.parent / "ServiceTags_Public_20250120.json").read_bytes() == public_old


def test_reports_unchanged_content_when_only_change_numbers_moved(
    fake_site: FakeSite, egress_cache: Path, public_new: bytes
) -> None:
    egress_cache.mkdir(parents=True)
    (egress_cache / "ServiceTags_Public_20250127.json").write_bytes(public_new)
    bumped = json.loads(public_new)
    bumped["changeNumber"] += 1
    for value in bumped["values"]:
        value["properties"]["changeNumber"] += 1
    _publish(fake_site, json.dumps(bumped).encode(), stamp="20250203")
    report = fetch_to_cache("public")
    assert report.changed is False
    assert report.change_number == bumped["changeNumber"]
    assert [p.name for p in cached_files("public")] == [
        "ServiceTags_Public_20250127.json",
        "ServiceTags_Public_20250203.json",
    ]


def test_cli_fetch_text_and_json(fake_site: FakeSite, seeded: dict[str, bytes], public_new: bytes) -> None:
    _publish(fake_site, public_new)
    result = runner.invoke(app, ["ranges", "fetch"])
    assert result.exit_code == 0, result.stderr
    assert "changeNumber 343" in result.stdout
    assert "changed since ServiceTags_Public_20250120.json" in result.stdout
    assert result.stderr == ""

    result = runner.invoke(app, ["ranges", "fetch", "--output", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["changeNumber"] == 343 and doc["entries"] == len(json.loads(public_new)["values"])
    # The second fetch compares with the first one's file: same content.
    assert doc["changed"] is False and doc["previous"].endswith("ServiceTags_Public_20250127.json")


def test_other_clouds_use_their_own_names(fake_site: FakeSite, shared_data: Path, egress_cache: Path) -> None:
    body = (shared_data / "servicetags" / "ServiceTags_China_20260713.json").read_bytes()
    path = "/download/9/D/0/9D03B7E2-4B80-4BF3-9B91-DA8C7D3EE9F9/ServiceTags_China_20260713.json"
    fake_site.route(path, Reply(body=body))
    fake_site.details_page([path], details_id=57062)
    result = runner.invoke(app, ["ranges", "fetch", "--cloud", "china"])
    assert result.exit_code == 0, result.stderr
    assert (egress_cache / "ServiceTags_China_20260713.json").read_bytes() == body
    listed = runner.invoke(app, ["ranges", "show", "AzureCloud", "--cloud", "china"])
    assert listed.exit_code == 0 and listed.stderr == ""  # cached China data, no bundled notice


def test_history_is_bounded(fake_site: FakeSite, egress_cache: Path, public_new: bytes) -> None:
    egress_cache.mkdir(parents=True)
    for n in range(1, 10):
        (egress_cache / f"ServiceTags_Public_202401{n:02d}.json").write_bytes(b"{}")
    _publish(fake_site, public_new)
    fetch_to_cache("public")
    names = [p.name for p in cached_files("public")]
    assert len(names) == 8 and names[-1] == "ServiceTags_Public_20250127.json"
    assert "ServiceTags_Public_20240101.json" not in names


# --------------------------------------------------------------------------------------------------- faults

FAULTS = {
    "html-instead-of-json": (
        lambda body: Reply(
            body=b"<!DOCTYPE html>\n<html><body>Please sign in</body></html>", content_type="text/html"
        ),
        "HTML page",
    ),
    "truncated-json": (lambda body: Reply(body=body[: len(body) // 2]), "not valid JSON"),
    "truncated-transfer": (
        lambda body: Reply(body=body[: len(body) // 2], content_length=len(body)),
        "truncated",
    ),
    "http-404": (lambda body: Reply(status=404, body=b"gone"), "not found"),
    "http-500": (lambda body: Reply(status=500, body=b"Internal Server Error"), "HTTP 500"),
    "stall-before-headers": (lambda body: Reply(body=body, delay=5), "timed out"),
    "stall-mid-body": (lambda body: Reply(body=body, stall_after=1000), "timed out"),
    "wrong-cloud": (
        lambda body: Reply(body=body.replace(b'"cloud": "Public"', b'"cloud": "China"', 1)),
        "cloud 'China', expected 'Public'",
    ),
    "empty-values": (
        lambda body: Reply(body=b'{"changeNumber": 344, "cloud": "Public", "values": []}'),
        "empty",
    ),
    "bad-prefix": (
        lambda body: Reply(body=body.replace(b'"13.66.143.220/30"', b'"13.66.143.300/30"', 1)),
        "invalid prefix",
    ),
    "oversize-announced": (lambda body: Reply(body=body), "limit"),
    "oversize-streamed": (lambda body: Reply(body=body, send_length=False), "limit"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_leaves_the_cache_untouched(
    fault: str,
    fake_site: FakeSite,
    seeded: dict[str, bytes],
    egress_cache: Path,
    public_new: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_reply, expected = FAULTS[fault]
    if fault.startswith("stall"):
        monkeypatch.setenv("EGRESS_HTTP_TIMEOUT", "0.3")
    if fault.startswith("oversize"):
        monkeypatch.setenv("EGRESS_MAX_DOWNLOAD_BYTES", "100000")
    if fault == "bad-prefix":
        assert b'"13.66.143.220/30"' in public_new
    _publish(fake_site, make_reply(public_new))

    result = runner.invoke(app, ["ranges", "fetch"])

    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: could not fetch the Public service tags"), (
        result.stderr
    )
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert _snapshot(egress_cache) == seeded  # byte for byte, nothing added, nothing removed


def test_nothing_anywhere_is_a_clear_error(
    fake_site: FakeSite, seeded: dict[str, bytes], egress_cache: Path
) -> None:
    with pytest.raises(FetchError) as err:
        fetch_to_cache("public")
    assert "details page" in str(err.value) or "not found" in str(err.value)
    assert _snapshot(egress_cache) == seeded


def test_unreachable_site_is_a_clear_error(seeded: dict[str, bytes], egress_cache: Path) -> None:
    # The autouse fixture points both hosts at a closed loopback port.
    result = runner.invoke(app, ["ranges", "fetch"])
    assert result.exit_code == 1
    assert "cannot connect" in result.stderr and len(result.stderr.splitlines()) == 1
    assert _snapshot(egress_cache) == seeded


def test_unwritable_cache_is_a_clear_error(
    fake_site: FakeSite, public_new: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("EGRESS_CACHE_DIR", str(blocker / "cache"))
    _publish(fake_site, public_new)
    result = runner.invoke(app, ["ranges", "fetch"])
    assert result.exit_code == 1
    assert (
        result.stderr.startswith("Error: cannot write the cache folder")
        and "EGRESS_CACHE_DIR" in result.stderr
    )


# --------------------------------------------------------------------------------------------------- API source

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"  # --subscription is checked as a GUID before any sign-in


def test_api_source_needs_subscription_and_location() -> None:
    result = runner.invoke(app, ["ranges", "fetch", "--source", "api", "--location", "eastus"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: --source api needs --subscription."
    result = runner.invoke(app, ["ranges", "fetch", "--source", "api"])
    assert result.exit_code == 2 and "--subscription and --location" in result.stderr


def test_api_source_stores_the_answer(
    shared_data: Path, egress_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI side of the API path, with the Azure call replaced (no credential may run in tests)."""
    from egress.adapters.azure import service_tags

    answer = json.loads(
        (shared_data / "servicetags" / "ServiceTags_AzureGovernment_20260713.json").read_bytes()
    )
    answer["changeNumber"] = str(answer["changeNumber"])  # the API sends strings
    calls: list[tuple[str, ...]] = []

    def fake_fetch(subscription: str, location: str, cloud: str, auth: str) -> dict[str, object]:
        calls.append((subscription, location, cloud, auth))
        return answer

    monkeypatch.setattr(service_tags, "fetch_service_tags", fake_fetch)
    result = runner.invoke(
        app,
        [
            "ranges",
            "fetch",
            "--source",
            "api",
            "--cloud",
            "usgov",
            "--subscription",
            SUB,
            "--location",
            "usgovvirginia",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert calls == [(SUB, "usgovvirginia", "usgov", "default")]
    doc = json.loads(result.stdout)
    assert doc["kind"] == "api" and doc["source"] == f"api:{SUB}/usgovvirginia"
    assert doc["changeNumber"] == int(answer["changeNumber"]) and doc["entries"] == len(answer["values"])
    prov = load_dataset(cloud="usgov").dataset.provenance
    assert prov.kind == "api" and prov.source == f"api:{SUB}/usgovvirginia"


def test_api_answer_of_the_wrong_cloud_is_refused(
    shared_data: Path, egress_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from egress.adapters.azure import service_tags

    answer = json.loads((shared_data / "servicetags" / "ServiceTags_China_20260713.json").read_bytes())
    monkeypatch.setattr(service_tags, "fetch_service_tags", lambda *a: answer)
    result = runner.invoke(
        app, ["ranges", "fetch", "--source", "api", "--subscription", SUB, "--location", "l"]
    )
    assert result.exit_code == 1
    assert "cloud 'China', expected 'Public'" in result.stderr
    assert not egress_cache.exists() or not list(egress_cache.iterdir())


def test_progress_counter_writes_to_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    from egress.cli.common import ByteProgress

    with ByteProgress(2_000_000, "https://h/x/ServiceTags_Public_20250127.json") as advance:
        advance(1_000_000)
        advance(1_000_000)
    out, err = capsys.readouterr()
    assert out == ""
    assert "Downloading ServiceTags_Public_20250127.json" in err and err.rstrip().endswith("2.0/2.0 MB")


class _FakeCredential:
    """Stands in for azure-identity: no credential chain, no login host, just a token string."""

    def get_token(self, *scopes: str, **kwargs: object):  # type: ignore[no-untyped-def]
        import time

        from azure.core.credentials import AccessToken

        return AccessToken("test-token", int(time.time()) + 3600)


ARM_PATH = "/subscriptions/sub-1/providers/Microsoft.Network/locations/westcentralus/serviceTags"
REST_EXAMPLE = "reference/azure-rest-spec-2026-01-01/examples/ServiceTagsList.json"


def test_discovery_api_through_the_sdk_against_the_arm_double(arm_double, shared_data: Path) -> None:
    from egress.adapters.azure.service_tags import fetch_service_tags
    from egress.adapters.download import check_service_tags

    weekly = shared_data / "servicetags" / "ServiceTags_China_20260713.json"
    arm_double.set_service_tags(weekly)
    answer = fetch_service_tags(
        "00000000-0000-0000-0000-000000000001",
        "chinaeast2",
        "public",
        credential=_FakeCredential(),
        arm_endpoint=arm_double.base_url,
        ca_bundle=arm_double.ca_path,
    )
    gets = [r for r in arm_double.requests if r.method == "GET"]
    assert gets and "/locations/chinaeast2/serviceTags" in gets[0].path
    assert all(r.authorized for r in arm_double.requests)
    original = json.loads(weekly.read_bytes())
    assert answer["changeNumber"] == original["changeNumber"] and answer["cloud"] == original["cloud"]
    dataset = check_service_tags(json.dumps(answer).encode(), "api:sub/chinaeast2", "china", kind="api")
    nsg_usable = [v for v in original["values"] if "NSG" in (v["properties"].get("networkFeatures") or [])]
    assert 0 < len(dataset) <= len(original["values"])
    first = dataset.tags[0]
    assert first.prefixes == tuple(
        next(v for v in original["values"] if v["name"] == first.name)["properties"]["addressPrefixes"]
    )
    assert len(nsg_usable) >= 1


def test_discovery_api_refusal_is_one_line(arm_double, shared_data: Path) -> None:
    from egress.adapters.azure.service_tags import fetch_service_tags
    from egress.errors import AzureError

    arm_double.set_service_tags(shared_data / "servicetags" / "ServiceTags_China_20260713.json")
    arm_double.inject(
        "status",
        method="GET",
        path="*servicetags*",
        status=403,
        code="AuthorizationFailed",
        message="The client does not have authorization.",
    )
    with pytest.raises(AzureError, match=r"AuthorizationFailed|403") as err:
        fetch_service_tags(
            "00000000-0000-0000-0000-000000000001",
            "westcentralus",
            "public",
            credential=_FakeCredential(),
            arm_endpoint=arm_double.base_url,
            ca_bundle=arm_double.ca_path,
        )
    assert "\n" not in str(err.value)


def test_api_source_rejects_unknown_auth_and_germany() -> None:
    result = runner.invoke(
        app,
        ["ranges", "fetch", "--source", "api", "--subscription", SUB, "--location", "l", "--auth", "magic"],
    )
    assert result.exit_code == 2 and "unknown --auth 'magic'" in result.stderr
    from egress.adapters.azure.service_tags import fetch_service_tags

    with pytest.raises(UsageError, match="not available for cloud 'germany'"):
        fetch_service_tags("s", "l", "germany")


# --------------------------------------------------------------------------------------------------- HTTPS only


@pytest.mark.parametrize("variable", ["EGRESS_DOWNLOAD_BASE", "EGRESS_DETAILS_BASE"])
def test_a_plain_http_base_is_refused(
    variable: str, monkeypatch: pytest.MonkeyPatch, seeded: dict[str, bytes], egress_cache: Path
) -> None:
    # Issue 15: EGRESS_DOWNLOAD_BASE=http://... was accepted, though the file decides what NSGs allow.
    plain = FakeSite(plain_http=True)
    plain.start()
    try:
        path = f"{PUBLIC_FOLDER}ServiceTags_Public_20250127.json"
        plain.route(path, Reply(body=b"{}"))
        monkeypatch.setenv(variable, plain.base_url)
        result = runner.invoke(app, ["ranges", "fetch"])
    finally:
        plain.stop()
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: ${variable}='http://127.0.0.1:")
    assert "HTTPS only" in result.stderr
    assert plain.requests == []  # nothing was asked of the plain-HTTP host
    assert _snapshot(egress_cache) == seeded


def test_a_plain_http_page_url_is_refused(fake_site: FakeSite) -> None:
    result = runner.invoke(app, ["ranges", "fetch", "--page-url", "http://127.0.0.1:9/details"])
    assert result.exit_code == 2
    assert "HTTPS only" in result.stderr
    assert fake_site.requests == []


def test_a_redirect_to_plain_http_is_refused(
    fake_site: FakeSite, public_new: bytes, seeded: dict[str, bytes], egress_cache: Path
) -> None:
    plain = FakeSite(plain_http=True)
    plain.start()
    try:
        path = f"{PUBLIC_FOLDER}ServiceTags_Public_20250127.json"
        plain.route(path, Reply(body=public_new))
        _publish(fake_site, Reply(status=302, headers={"Location": plain.base_url + path}))
        result = runner.invoke(app, ["ranges", "fetch"])
    finally:
        plain.stop()
    assert result.exit_code == 1, result.output
    assert "redirected to http://, refused (HTTPS only)" in result.stderr
    assert plain.requests == []
    assert _snapshot(egress_cache) == seeded


# --------------------------------------------------------------------------------------------------- guards


def _edited(body: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    doc = json.loads(body.decode("utf-8-sig"))
    edit(doc)
    return json.dumps(doc).encode()


def test_fetch_refuses_a_week_where_a_tag_gained_a_default_route(
    fake_site: FakeSite, seeded: dict[str, bytes], egress_cache: Path, public_new: bytes
) -> None:
    def widen(doc: dict) -> None:
        for entry in doc["values"]:
            if entry["name"] == "Storage.EastUS":
                entry["properties"]["addressPrefixes"].append("0.0.0.0/0")

    _publish(fake_site, _edited(public_new, widen))
    result = runner.invoke(app, ["ranges", "fetch"])
    assert result.exit_code == 4, result.output
    assert "growth guard: Storage.EastUS holds a default route 0.0.0.0/0" in result.stderr
    assert "the cache keeps its last good file" in result.stderr
    assert _snapshot(egress_cache) == seeded


def test_fetch_refuses_an_absurd_change_number(
    fake_site: FakeSite, seeded: dict[str, bytes], egress_cache: Path, public_new: bytes
) -> None:
    _publish(fake_site, _edited(public_new, lambda doc: doc.update(changeNumber=10**18)))
    result = runner.invoke(app, ["ranges", "fetch"])
    assert result.exit_code == 4, result.output
    assert "changeNumber 1000000000000000000 is implausible for data of 2025-01-27" in result.stderr
    assert _snapshot(egress_cache) == seeded

"""Find and download the current weekly ServiceTags file the way real tools do, with fallbacks.

Order: the details page (regex over its HTML for the dated link), then the fixed folder with dates guessed for
today and the 7 days before, then the undocumented `_Latest` alias. Every candidate is downloaded with
timeouts and a size cap, parsed and validated; the first good one wins. Only HTTPS is spoken (redirects
included). Hosts are overridable for tests:
`EGRESS_DOWNLOAD_BASE` replaces https://download.microsoft.com, `EGRESS_DETAILS_BASE` replaces
https://www.microsoft.com, `--page-url` replaces the details page.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from egress import __version__
from egress.core.growth import GrowthLimits
from egress.core.model import Dataset, cloud_key, cloud_name
from egress.core.parse import detect_format, file_date_from_name, parse_dataset, validate_dataset
from egress.core.urls import redact_url, redact_urls
from egress.errors import DataError, ExitCode, FetchError, UsageError

if TYPE_CHECKING:
    from pathlib import Path

    import requests

    from egress.adapters.cache import FetchReport

DOWNLOAD_BASE = "https://download.microsoft.com"
DETAILS_BASE = "https://www.microsoft.com"
DOWNLOAD_BASE_ENV = "EGRESS_DOWNLOAD_BASE"
DETAILS_BASE_ENV = "EGRESS_DETAILS_BASE"
TIMEOUT_ENV = "EGRESS_HTTP_TIMEOUT"  # seconds, "READ" or "CONNECT,READ"
MAX_BYTES_ENV = "EGRESS_MAX_DOWNLOAD_BYTES"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
MAX_BYTES = 64 * 1024 * 1024  # today's public file is ~4 MB
GUESS_DAYS = 8  # today and the 7 days before, as Microsoft's own sample script does
CHUNK = 64 * 1024
# Some Microsoft pages answer differently (or not at all) to non-browser clients.
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    f"Chrome/126.0 Safari/537.36 egress/{__version__}"
)

DETAILS_PAGE = "details-page"
PAGE_URL = "page-url"
DATE_GUESS = "date-guess"
LATEST_ALIAS = "latest-alias"


@dataclass(frozen=True, slots=True)
class CloudSource:
    """Where Microsoft publishes one cloud's weekly file."""

    cloud: str  # the file's `cloud` value and the name part: Public, AzureGovernment, China, AzureGermany
    details_id: int
    folder: str  # fixed folder on the download host


SOURCES: dict[str, CloudSource] = {
    "Public": CloudSource("Public", 56519, "/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/"),
    "AzureGovernment": CloudSource(
        "AzureGovernment", 57063, "/download/6/4/D/64DB03BF-895B-4173-A8B1-BA4AD5D4DF22/"
    ),
    "China": CloudSource("China", 57062, "/download/9/D/0/9D03B7E2-4B80-4BF3-9B91-DA8C7D3EE9F9/"),
    "AzureGermany": CloudSource(
        "AzureGermany", 57064, "/download/0/7/6/076274AB-4B0B-4246-A422-4BAF1E03F974/"
    ),
}


def source_for(cloud: str) -> CloudSource:
    return SOURCES[cloud_name(cloud)]


def _base(env: str, default: str) -> str:
    value = (os.environ.get(env) or default).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or not parts.netloc:
        # The file decides what NSGs allow: nobody on the path may swap it (ARM endpoints are HTTPS-only too).
        raise UsageError(f"${env}={value!r}: downloads are HTTPS only; give an https:// address.")
    return value


def download_base() -> str:
    return _base(DOWNLOAD_BASE_ENV, DOWNLOAD_BASE)


def check_page_url(url: str) -> None:
    """--page-url must be a web address: requests has no adapter for anything else."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.netloc:
        raise UsageError(
            f"--page-url {redact_url(url)!r}: give the https:// address of the details page (HTTPS only)."
        )


def details_page_url(cloud: str) -> str:
    return f"{_base(DETAILS_BASE_ENV, DETAILS_BASE)}/en-us/download/details.aspx?id={source_for(cloud).details_id}"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    max_bytes: int = MAX_BYTES

    @classmethod
    def from_env(cls) -> HttpSettings:
        connect, read = CONNECT_TIMEOUT, READ_TIMEOUT
        raw = os.environ.get(TIMEOUT_ENV, "").strip()
        try:
            if raw:
                parts = [float(p) for p in raw.split(",")]
                connect, read = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
            max_bytes = int(os.environ.get(MAX_BYTES_ENV) or MAX_BYTES)
        except (ValueError, IndexError):
            raise UsageError(
                f"{TIMEOUT_ENV} must be seconds (`30` or `10,30`) and {MAX_BYTES_ENV} a byte count."
            ) from None
        # NaN and inf pass `<= 0` but the socket layer refuses them with a traceback.
        if not (0 < connect < math.inf and 0 < read < math.inf) or max_bytes <= 0:
            raise UsageError(f"{TIMEOUT_ENV} and {MAX_BYTES_ENV} must be positive (and finite).")
        return cls(connect, read, max_bytes)

    @property
    def deadline(self) -> float:
        # A server trickling bytes never trips the per-read timeout; bound the whole transfer too.
        return max(60.0, self.read_timeout * 10)


@dataclass(frozen=True, slots=True)
class Candidate:
    url: str
    strategy: str
    file_date: str | None  # YYYY-MM-DD from the name


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A validated file fresh from the network."""

    data: bytes
    dataset: Dataset
    candidate: Candidate
    notes: tuple[str, ...]  # candidates that failed before this one


# A progress sink: called with the expected total (or None), returns a context manager yielding `advance(n)`.
ProgressFactory = Callable[[int | None, str], AbstractContextManager[Callable[[int], None]]]


def link_pattern(cloud: str, base: str | None = None) -> re.Pattern[str]:
    """The dated file link as it appears in the details page HTML (tools have used this regex for years)."""
    host = re.escape(base or download_base())
    return re.compile(
        host + r"/download/[^\"'<>\s]+/ServiceTags_" + source_for(cloud).cloud + r"_\d{8}\.json"
    )


def links_in_page(html: str, cloud: str, base: str | None = None) -> list[str]:
    """Distinct dated links in the page, newest date first."""
    found = set(link_pattern(cloud, base).findall(html))
    return sorted(found, key=lambda url: (file_date_from_name(url) or "", url), reverse=True)


def guessed_candidates(cloud: str, today: date, base: str | None = None) -> list[Candidate]:
    src = source_for(cloud)
    root = (base or download_base()) + src.folder
    out = []
    for back in range(GUESS_DAYS):
        day = today - timedelta(days=back)
        out.append(Candidate(f"{root}ServiceTags_{src.cloud}_{day:%Y%m%d}.json", DATE_GUESS, day.isoformat()))
    return out


def latest_candidate(cloud: str, base: str | None = None) -> Candidate:
    src = source_for(cloud)
    return Candidate(
        f"{base or download_base()}{src.folder}ServiceTags_{src.cloud}_Latest.json", LATEST_ALIAS, None
    )


class NothingFetched(FetchError):
    """No candidate downloaded and validated. `detail` is what went wrong, without the advice around it."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


class _NotFound(FetchError):
    """A candidate URL that does not exist (404/410): expected while guessing dates, not worth reporting first."""


class _Unreachable(FetchError):
    """No connection to the host at all: the other candidates on that host are skipped."""


def _describe(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "server stopped responding (read timed out)"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error (check the system's CA certificates or proxy)"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "timed out" in text.lower():
            return "server stopped responding (read timed out)"
        if "IncompleteRead" in text or "Connection broken" in text:
            return "connection closed before the whole file arrived (truncated download)"
        return "cannot connect (check the network or proxy settings)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection closed before the whole file arrived (truncated download)"
    first = redact_urls(str(exc).splitlines()[0])[:120] if str(exc) else ""
    return f"{type(exc).__name__}: {first}".rstrip(": ")


def new_session() -> requests.Session:
    import requests

    class HttpsOnlySession(requests.Session):
        """Follows redirects only to https:// (a redirect to http:// would hand the file to anyone on the path)."""

        def get_redirect_target(self, resp: requests.Response) -> str | None:
            target = super().get_redirect_target(resp)
            if target and urlsplit(target).scheme.lower() not in ("", "https"):
                raise FetchError(
                    f"{resp.url}: redirected to {urlsplit(target).scheme}://, refused (HTTPS only)"
                )
            return target

    session = HttpsOnlySession()
    session.headers.update(
        {"User-Agent": USER_AGENT, "Accept": "application/json, text/html;q=0.9, */*;q=0.5"}
    )
    return session


def get_bytes(
    session: requests.Session,
    url: str,
    settings: HttpSettings,
    *,
    progress: ProgressFactory | None = None,
) -> bytes:
    """GET `url` streaming, within the timeouts and the size cap; raises FetchError (`_NotFound` for 404/410)."""
    import requests

    if urlsplit(url).scheme.lower() != "https":
        raise FetchError(f"{url}: not an https:// address, refused (downloads are HTTPS only)")
    started = time.monotonic()
    try:
        with session.get(
            url, stream=True, timeout=(settings.connect_timeout, settings.read_timeout), allow_redirects=True
        ) as response:
            if response.status_code in (404, 410):
                raise _NotFound(f"{redact_url(url)}: not found (HTTP {response.status_code})")
            if response.status_code != 200:
                raise FetchError(
                    f"{redact_url(url)}: server answered HTTP {response.status_code} {response.reason or ''}".rstrip()
                )
            total = _content_length(response)
            if total is not None and total > settings.max_bytes:
                raise FetchError(
                    f"{redact_url(url)}: file is {total} bytes, over the {settings.max_bytes}-byte limit"
                )
            return _read_capped(response, url, settings, started, total, progress)
    except requests.exceptions.RequestException as exc:
        unreachable = isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
            exc, requests.exceptions.ReadTimeout
        )
        described = _describe(exc)
        if unreachable and described.startswith(("cannot connect", "connection timed out")):
            raise _Unreachable(f"{redact_url(url)}: {described}") from None
        raise FetchError(f"{redact_url(url)}: {described}") from None


def _content_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _read_capped(
    response: requests.Response,
    url: str,
    settings: HttpSettings,
    started: float,
    total: int | None,
    progress: ProgressFactory | None,
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    with progress(total, url) if progress else _no_progress() as advance:
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
            if size > settings.max_bytes:
                raise FetchError(
                    f"{redact_url(url)}: download passed the {settings.max_bytes}-byte limit; aborted"
                )
            if time.monotonic() - started > settings.deadline:
                raise FetchError(
                    f"{redact_url(url)}: download took longer than {settings.deadline:.0f}s; aborted"
                )
            chunks.append(chunk)
            advance(len(chunk))
    data = b"".join(chunks)
    if total is not None and size < total:
        raise FetchError(
            f"{redact_url(url)}: connection closed after {size} of {total} bytes (truncated download)"
        )
    return data


class _no_progress(AbstractContextManager[Callable[[int], None]]):
    def __enter__(self) -> Callable[[int], None]:
        return lambda _n: None

    def __exit__(self, *exc: object) -> None:
        return None


def check_service_tags(data: bytes, url: str, cloud: str, *, kind: str = "download") -> Dataset:
    """Parse and validate what a URL returned; the message says what arrived instead of the file."""
    fmt = detect_format(data)
    if fmt != "json":
        head = data.lstrip()[:200].lower()
        if fmt == "xml" and (b"<html" in head or b"<!doctype html" in head):
            raise FetchError(f"{redact_url(url)}: got an HTML page where the JSON file was expected")
        if not data.strip():
            raise FetchError(f"{redact_url(url)}: got an empty response where the JSON file was expected")
        raise FetchError(f"{redact_url(url)}: response is not JSON (not a ServiceTags file)")
    try:
        dataset = parse_dataset(data, source=redact_url(url), kind=kind)
        validate_dataset(dataset, expect_cloud=cloud_name(cloud))
    except DataError as exc:
        # Keep what is wrong, drop the file-reading advice: the caller says what to do about a bad download.
        raise FetchError(str(exc).rsplit("; ", 1)[0].removesuffix(".")) from None
    return dataset


def _page_candidates(
    session: requests.Session,
    page_url: str,
    strategy: str,
    cloud: str,
    settings: HttpSettings,
    notes: list[str],
) -> Iterator[Candidate]:
    try:
        html = get_bytes(session, page_url, settings).decode("utf-8", "replace")
    except FetchError as exc:
        notes.append(f"details page: {exc}")
        return
    links = links_in_page(html, cloud)
    if not links:
        notes.append(
            f"details page: {redact_url(page_url)}: no ServiceTags_{source_for(cloud).cloud}_<date>.json link in it"
        )
    for url in links:
        yield Candidate(url, strategy, file_date_from_name(url))


def candidates(
    session: requests.Session,
    cloud: str,
    settings: HttpSettings,
    notes: list[str],
    *,
    page_url: str | None = None,
    today: date | None = None,
) -> Iterator[Candidate]:
    """Candidate URLs in the order tools trust them; the details page is only fetched when reached."""
    seen: set[str] = set()
    today = today or datetime.now(UTC).date()
    streams: list[Iterator[Candidate]] = [
        _page_candidates(
            session,
            page_url or details_page_url(cloud),
            PAGE_URL if page_url else DETAILS_PAGE,
            cloud,
            settings,
            notes,
        ),
        iter(guessed_candidates(cloud, today)),
        iter([latest_candidate(cloud)]),
    ]
    for stream in streams:
        for cand in stream:
            if cand.url not in seen:
                seen.add(cand.url)
                yield cand


def download_latest(
    cloud: str = "public",
    *,
    page_url: str | None = None,
    session: requests.Session | None = None,
    settings: HttpSettings | None = None,
    today: date | None = None,
    progress: ProgressFactory | None = None,
) -> Downloaded:
    """The first candidate that downloads and validates; FetchError (one line) when none does."""
    if page_url is not None:
        check_page_url(page_url)
    settings = settings or HttpSettings.from_env()
    own = session is None
    session = session or new_session()
    notes: list[str] = []
    failures: list[tuple[Candidate, FetchError]] = []
    unreachable: set[str] = set()
    try:
        for cand in candidates(session, cloud, settings, notes, page_url=page_url, today=today):
            host = urlsplit(cand.url).netloc
            if host in unreachable:
                continue
            try:
                data = get_bytes(session, cand.url, settings, progress=progress)
                dataset = check_service_tags(data, cand.url, cloud)
            except FetchError as exc:
                failures.append((cand, exc))
                if isinstance(exc, _Unreachable):
                    unreachable.add(host)
                if not isinstance(exc, _NotFound) or cand.strategy != DATE_GUESS:
                    notes.append(str(exc))
                continue
            return Downloaded(data, dataset, cand, tuple(notes))
    finally:
        if own:
            session.close()
    detail = _failure_detail(failures, notes)
    raise NothingFetched(
        f"could not fetch the {cloud_name(cloud)} service tags: {detail}; "
        "the cached data is unchanged - try again later or pass --page-url.",
        detail,
    )


def _failure_detail(failures: list[tuple[Candidate, FetchError]], notes: list[str]) -> str:
    # Lead with the most telling problem: a URL that answered with something wrong beats "not found", and a
    # missing linked file or details page beats a missing guessed date.
    real = [str(e) for _, e in failures if not isinstance(e, _NotFound)]
    page = [n.removeprefix("details page: ") for n in notes if n.startswith("details page:")]
    missing = [str(e) for c, e in failures if isinstance(e, _NotFound) and c.strategy != DATE_GUESS]
    ranked = real + page + missing + [str(e) for _, e in failures]
    lead = ranked[0] if ranked else "no location to try"
    others = len(failures) + len(page) - 1
    more = f" (also tried {others} other locations)" if others > 0 else ""
    return f"{lead}{more}"


class RefusedData(FetchError):
    """A file that downloaded and parsed, but that the growth guard or the changeNumber check refuses."""

    exit_code = ExitCode.REFUSED


def guard_new_file(
    dataset: Dataset,
    file_date: str | None,
    *,
    directory: Path | None = None,
    growth: GrowthLimits | None = None,
    today: date | None = None,
) -> None:
    """Refuse (RefusedData) a new file with a default route or too-wide prefix in any tag, a tag that grew too much
    since the newest cached file, or an implausible changeNumber; the cache then keeps its last good file."""
    from egress.adapters.datastore import cached_files, load_cached
    from egress.core import change_number
    from egress.core.growth import check_growth, refusal_message
    from egress.core.shrink import tag_size

    limits = (growth or GrowthLimits()).validated()
    today = today or datetime.now(UTC).date()
    keep = "the cache keeps its last good file"
    previous: Dataset | None = None
    for path in reversed(cached_files(cloud_key(dataset.provenance.cloud), directory)):
        try:
            previous = load_cached(path)
            break
        except DataError:
            continue
    p = dataset.provenance
    # The Discovery API numbers its answers on a sequence of its own: compare weekly files with weekly files.
    comparable = previous is not None and "api" not in (p.kind, previous.provenance.kind)
    odd = change_number.anomaly(
        p.change_number,
        file_date,
        today,
        previous=previous.provenance.change_number if previous and comparable else None,
        previous_date=previous.provenance.file_date if previous and comparable else None,
    )
    if odd:
        raise RefusedData(f"{p.source}: {odd}; refused as an anomaly, {keep}.")
    before = {t.name: tag_size(t) for t in previous} if previous is not None else {}
    findings = check_growth(before, list(dataset), limits)
    if findings:
        raise RefusedData(f"{p.source}: {refusal_message(findings, limits, outcome=keep)}")


def fetch_to_cache(
    cloud: str = "public",
    *,
    page_url: str | None = None,
    directory: Path | None = None,
    settings: HttpSettings | None = None,
    today: date | None = None,
    progress: ProgressFactory | None = None,
    growth: GrowthLimits | None = None,
) -> FetchReport:
    """Download the current file, validate it and store it in the cache (what `ranges fetch` and refresh call)."""
    from egress.adapters.cache import store_dataset

    got = download_latest(cloud, page_url=page_url, settings=settings, today=today, progress=progress)
    guard_new_file(got.dataset, got.candidate.file_date, directory=directory, growth=growth, today=today)
    return store_dataset(
        got.data,
        got.dataset,
        source=redact_url(got.candidate.url),
        kind="download",
        located_by=got.candidate.strategy,
        file_date=got.candidate.file_date,
        directory=directory,
        notes=got.notes,
    )


def fetch_api_to_cache(
    cloud: str,
    subscription: str,
    location: str,
    *,
    auth: str = "default",
    directory: Path | None = None,
    growth: GrowthLimits | None = None,
) -> FetchReport:
    """Ask the Service Tag Discovery API (azure-mgmt-network `service_tags.list`) and store the answer."""
    import json

    from egress.adapters.azure.service_tags import fetch_service_tags
    from egress.adapters.cache import store_dataset

    obj = fetch_service_tags(subscription, location, cloud_key(cloud_name(cloud)), auth)
    data = (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode()
    source = f"api:{subscription}/{location}"
    dataset = check_service_tags(data, source, cloud, kind="api")
    guard_new_file(dataset, None, directory=directory, growth=growth)
    report = store_dataset(
        data, dataset, source=source, kind="api", located_by="api", file_date=None, directory=directory
    )
    old, new = report.previous_change_number, report.change_number
    if old is not None and new is not None and new < old:
        # The API can lag the weekly file by up to four weeks.
        note = f"the API's data (changeNumber {new}) is older than the previous cached file's ({old})"
        report = replace(report, notes=(*report.notes, note))
    return report

"""`egress refresh`: fetch this week's data, and bring every configured NSG to it — unattended and safely.

One run: take the lock (two runs never overlap), get the data (fetch, else the last good cached file; or
--data), then per target, with bounded concurrency and each target on its own: compare with the data the
target was last brought to, refuse if a tag it uses shrank or vanished (the shrink guard), plan against the
target as it is now and, with --apply, write it. The state file remembers per target which data its rules
now reflect; it only moves forward when a target was applied or found already up to date.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from egress.adapters.cache import remove_stale_cache_temps, utc_now
from egress.adapters.datastore import cached_files, load_cached, load_file
from egress.adapters.lock import exclusive_lock
from egress.adapters.refresh_state import (
    DataRef,
    RefreshState,
    TargetState,
    load_state,
    lock_path,
    save_state,
    spec_digest,
    state_path,
)
from egress.core import change_number
from egress.core.diff import diff_tags
from egress.core.growth import GrowthLimits, check_growth, tag_wide_prefixes
from egress.core.growth import refusal_message as growth_refusal
from egress.core.model import Dataset, cloud_key, cloud_name
from egress.core.refresh_report import (
    APPLIED,
    ERROR,
    PENDING,
    REFUSED,
    UNCHANGED,
    DataInfo,
    RefreshReport,
    TagReport,
    TargetReport,
    age_in_days,
)
from egress.core.shrink import (
    DEFAULT_MAX_SHRINK,
    TagSize,
    check_max_shrink,
    check_shrink,
    refusal_message,
    tag_size,
)
from egress.core.spec import Config, EgressSpec, TargetConfig
from egress.errors import DataError, EgressError, FetchError, SafetyError, UsageError
from egress.places import get_place
from egress.places.common import DEFAULT_MAX_DELETES
from egress.places.nsg.reconcile import ApplyPlan

DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64
# Test hook: seconds to sleep right before a target is written (after planning), so a test can kill the run there.
PAUSE_ENV = "EGRESS_TEST_PAUSE_BEFORE_WRITE"

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RefreshOptions:
    apply: bool = False
    data: str | None = None
    max_shrink: float = DEFAULT_MAX_SHRINK
    concurrency: int = DEFAULT_CONCURRENCY
    auth: str = "default"
    arm_endpoint: str | None = None
    max_deletes: int = DEFAULT_MAX_DELETES
    force: bool = False
    target_names: tuple[str, ...] = ()
    lock_timeout: float = 0.0
    page_url: str | None = None
    graph: bool = True  # trust a Resource Graph row to skip the GET of a target already at its plan
    today: date | None = None  # for tests; default: today (UTC)
    growth: GrowthLimits = field(default_factory=GrowthLimits)
    allow_older: bool = False  # an explicit --data older than a target's data may roll it back

    def validated(self) -> RefreshOptions:
        check_max_shrink(self.max_shrink)
        self.growth.validated()
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise UsageError(f"--concurrency must be 1-{MAX_CONCURRENCY}, not {self.concurrency}.")
        if self.max_deletes < 0:
            raise UsageError("--max-deletes must be 0 or more.")
        if not self.lock_timeout >= 0:  # also NaN, which would make the wait endless
            raise UsageError(f"--lock-timeout must be 0 or more seconds, not {self.lock_timeout:g}.")
        return self


# --- data ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Data:
    dataset: Dataset
    info: DataInfo
    path: str | None
    automatic: bool  # fetched or the cached fallback (not a file the user named)
    fetch_previous: Path | None = None  # the newest cached file before this fetch: a baseline for first runs


class _Sources:
    """Resolves (once each) the data a target uses: --data, a target's own `data`, or its cloud's weekly file."""

    def __init__(self, options: RefreshOptions, today: date, say: Say) -> None:
        self.options = options
        self.today = today
        self.say = say
        self._by_key: dict[str, _Data | EgressError] = {}
        self._files: dict[tuple[str, str], Dataset | None] = {}

    def _info(self, dataset: Dataset, origin: str, path: str | None, notes: Sequence[str] = ()) -> DataInfo:
        p = dataset.provenance
        return DataInfo(
            cloud=p.cloud,
            source=p.source,
            kind=p.kind,
            sha256=p.sha256,
            change_number=p.change_number,
            file_date=p.file_date,
            age_days=age_in_days(p.file_date, self.today),
            origin=origin,
            path=path,
            notes=tuple(notes),
        )

    def _file(self, path: str, origin: str) -> _Data:
        dataset = load_file(path)
        absolute = str(Path(path).expanduser().resolve())
        return _Data(dataset, self._info(dataset, origin, absolute), absolute, automatic=False)

    def _weekly(self, cloud: str) -> _Data:
        from egress.adapters.download import fetch_to_cache

        try:
            report = fetch_to_cache(cloud, page_url=self.options.page_url, growth=self.options.growth)
        except FetchError as exc:
            # The download's own advice (pass --page-url, the cache is unchanged) does not fit here.
            return self._fallback(cloud, getattr(exc, "detail", str(exc)))
        notes = list(report.notes)
        if not report.is_newest:
            # An older file than one already cached was published or found: never move back to it.
            return self._fallback(cloud, None)
        info = self._info(report.dataset, "fetched", str(report.path), notes)
        return _Data(report.dataset, info, str(report.path), automatic=True, fetch_previous=report.previous)

    def _fallback(self, cloud: str, failure: str | None) -> _Data:
        """The newest cached file that still reads (never the bundled snapshot: it may be older than the NSGs)."""
        skipped: list[str] = []
        for path in reversed(cached_files(cloud)):
            try:
                dataset = load_cached(path)
            except DataError as exc:
                skipped.append(f"skipped a damaged cached file ({exc})")
                continue
            why = f"could not fetch the data ({failure})" if failure else "no newer file was published"
            note = f"{why}; using the last good cached file {path.name}"
            self.say(note)
            info = self._info(dataset, "cache-fallback", str(path), [*skipped, note])
            return _Data(dataset, info, str(path), automatic=True)
        raise FetchError(
            f"could not fetch the {cloud_name(cloud)} service tags and nothing is cached to fall back on"
            + (f" ({failure})" if failure else "")
            + "; run `egress ranges fetch` when the network works, or pass --data."
        )

    def for_spec(self, spec: EgressSpec) -> _Data:
        if self.options.data:
            key, make = "--data", lambda: self._file(str(self.options.data), "file")
        elif spec.data:
            key, make = f"file:{spec.data}", lambda: self._file(str(spec.data), "config")
        else:
            cloud = cloud_key(cloud_name(spec.cloud))
            key, make = f"cloud:{cloud}", lambda: self._weekly(cloud)
        if key not in self._by_key:
            try:
                self._by_key[key] = make()
            except EgressError as exc:
                self._by_key[key] = exc
        found = self._by_key[key]
        if isinstance(found, EgressError):
            raise found
        return found

    def adopt_previous(self, dataset: Dataset, ref: DataRef) -> _Data:
        """A target keeps the data it already has (the data on offer is older)."""
        data = _Data(dataset, self._info(dataset, "previous", ref.path), ref.path, automatic=False)
        self._by_key.setdefault(f"previous:{ref.sha256}", data)
        return data

    def used(self) -> list[DataInfo]:
        seen: dict[tuple[str, str], DataInfo] = {}
        for value in self._by_key.values():
            if isinstance(value, _Data):
                seen.setdefault((value.info.sha256, value.info.origin), value.info)
        return list(seen.values())

    def previous(self, ref: DataRef) -> Dataset | None:
        """The file a target was last brought to, if it still holds the same bytes."""
        if not ref.path:
            return None
        key = (ref.path, ref.sha256)
        if key not in self._files:
            for value in self._by_key.values():  # the data on offer this run is that same file: read it once
                if isinstance(value, _Data) and value.path == ref.path and value.info.sha256 == ref.sha256:
                    self._files[key] = value.dataset
                    return value.dataset
            dataset: Dataset | None = None
            path = Path(ref.path)
            try:
                dataset = load_cached(path) if path.name.startswith("ServiceTags_") else load_file(path)
            except (DataError, OSError):
                dataset = None
            if dataset is not None and dataset.provenance.sha256 != ref.sha256:
                dataset = None
            self._files[key] = dataset
        return self._files[key]

    def baseline_file(self, path: Path) -> Dataset | None:
        key = (str(path), "")
        if key not in self._files:
            try:
                self._files[key] = load_cached(path)
            except (DataError, OSError):
                self._files[key] = None
        return self._files[key]


# --- one target ---------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Job:
    config: TargetConfig
    data: _Data | None = None
    previous: Dataset | None = None  # the data the target was last brought to (None: unknown or gone)
    previous_ref: DataRef | None = None
    baseline_sizes: dict[str, TagSize] | None = None  # from the state when the previous file is gone
    error: EgressError | None = None
    refusal: str | None = None
    notes: list[str] = field(default_factory=list)
    graph_row: Any = None  # the Resource Graph row a `discover` entry found this target in


def _azure_session(options: RefreshOptions) -> Any:
    """One AzureSession for the whole run: one sign-in per authority, SDK clients shared per subscription, one
    connection pool, throttling per subscription (see egress.adapters.azure.session). Nothing is contacted, and
    no SDK module loaded, until an Azure target makes its first request."""
    from egress.adapters.azure.session import AzureSession

    return AzureSession(options.auth)


class _ByIdentity:
    """Memoise a function of data objects by their identity. An entry keeps its arguments alive, so no other
    object can take their ids while it is cached. A fleet's targets use the same few tags of the same data:
    counting Storage.EastUS's addresses costs ~1 ms, and a thousand targets did it 15 times each."""

    LIMIT = 4096

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn
        self._lock = threading.Lock()
        self._memo: dict[tuple[int, ...], tuple[tuple[Any, ...], Any]] = {}

    def __call__(self, *args: Any) -> Any:
        key = tuple(map(id, args))
        hit = self._memo.get(key)
        if hit is not None:
            return hit[1]
        value = self._fn(*args)
        with self._lock:
            if len(self._memo) >= self.LIMIT:
                self._memo.clear()
            self._memo[key] = (args, value)
        return value


_tag_size = _ByIdentity(tag_size)
_wide = _ByIdentity(tag_wide_prefixes)
_diff_tags = _ByIdentity(diff_tags)
_used_tags = _ByIdentity(lambda spec, dataset: get_place(spec.place).used_tags(spec, dataset))


def _sizes(tags: Sequence[Any]) -> dict[str, TagSize]:
    return {t.name: _tag_size(t) for t in tags}


def _pause_hook(say: Say) -> Callable[[ApplyPlan], bool] | None:
    raw = os.environ.get(PAUSE_ENV)
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise UsageError(f"${PAUSE_ENV}={raw!r} is not a number of seconds.") from None

    def pause(plan: ApplyPlan) -> bool:
        say(f"test pause before writing {plan.nsg_name or 'the target'} ({PAUSE_ENV}={seconds:g})")
        time.sleep(seconds)
        return True

    return pause


class _NeedsArm(Exception):
    """Raised by a local-only run of a job that has to read its target (see _Runner.run_local)."""


class _Runner:
    def __init__(self, options: RefreshOptions, session: Any, say: Say) -> None:
        self.options = options
        self.session = session
        self.say = say
        self.pause = _pause_hook(say)

    def run(self, job: _Job) -> tuple[TargetReport, TargetState | None]:
        outcome = self._run_timed(job, local=False)
        assert outcome is not None
        return outcome

    def run_local(self, job: _Job) -> tuple[TargetReport, TargetState | None] | None:
        """The job's outcome when it needs no request (an error, a refusal, a Graph no-op), else None. Run in
        the calling thread: a thousand such jobs are pure computation, and handing each to a thread pool only
        makes the threads fight over the GIL (measured: 6 s of a 1,000-NSG no-op went to that)."""
        return self._run_timed(job, local=True)

    def _run_timed(self, job: _Job, *, local: bool) -> tuple[TargetReport, TargetState | None] | None:
        started = time.monotonic()
        requests: dict[str, int] = {}
        base = {"name": job.config.name, "target": job.config.target, "option": job.config.spec.option}
        try:
            report, state = self._run(job, requests, local=local)
        except _NeedsArm:
            return None
        except SafetyError as exc:
            report, state = TargetReport(**base, result=REFUSED, message=str(exc)), None
        except EgressError as exc:
            report, state = TargetReport(**base, result=ERROR, message=str(exc)), None
        except Exception as exc:  # one target's bug must not stop the fleet; the message names it
            text = str(exc).splitlines()[0][:200] if str(exc) else ""
            message = f"unexpected {type(exc).__name__}: {text}; please report this as a bug."
            report, state = TargetReport(**base, result=ERROR, message=message), None
        duration = time.monotonic() - started
        merged_notes = tuple(dict.fromkeys([*job.notes, *report.notes]))
        report = replace(report, duration=duration, requests=report.requests or requests, notes=merged_notes)
        return report, state

    def _run(
        self, job: _Job, requests: dict[str, int], *, local: bool = False
    ) -> tuple[TargetReport, TargetState | None]:
        tc, spec = job.config, job.config.spec
        base: dict[str, Any] = {"name": tc.name, "target": tc.target, "option": spec.option}
        if job.error is not None:
            raise job.error
        assert job.data is not None
        data = job.data
        dataset = data.dataset
        base.update(
            data_sha256=dataset.provenance.sha256,
            change_number=dataset.provenance.change_number,
            previous_sha256=job.previous_ref.sha256 if job.previous_ref else None,
            previous_change_number=job.previous_ref.change_number if job.previous_ref else None,
        )
        if job.refusal:
            return TargetReport(**base, result=REFUSED, message=job.refusal), None

        # The shrink guard: tags the target used, as they were in the last good data, against the new data.
        before: dict[str, TagSize] = {}
        if job.previous is not None:
            try:
                before = _sizes(_used_tags(spec, job.previous))
            except EgressError:
                before = {}  # the settings name tags the old data lacked: nothing to compare with
        elif job.baseline_sizes is not None:
            before = dict(job.baseline_sizes)
        after = {name: (_tag_size(t) if (t := dataset.find(name)) else None) for name in before}
        findings = check_shrink(before, after, self.options.max_shrink)
        place = get_place(spec.place)
        tags_now = _used_tags(spec, dataset) if not any(f.vanished for f in findings) else ()
        # Its mirror, the growth guard: default routes, too-wide prefixes, tags that grew too much.
        grown = check_growth(before, tags_now, self.options.growth, size=_tag_size, wide=_wide)
        tag_reports = self._tag_reports(job, before, tags_now)
        if findings or grown:
            untouched = "the target was left untouched"
            message = "; ".join(
                [refusal_message(findings, self.options.max_shrink)] * bool(findings)
                + [growth_refusal(grown, self.options.growth, outcome=untouched)] * bool(grown)
            )
            return TargetReport(
                **base, result=REFUSED, message=message, tags=tag_reports, shrink=findings, growth=grown
            ), None

        from egress.workflows.apply import run_apply

        seen: list[ApplyPlan] = []  # the last plan shown, so a refusal or failure still reports it
        # A Graph no-op neither opens nor reads the target (its id came from Graph, or was checked against it).
        outcome = self._unchanged_by_graph(job, dataset)
        if outcome is None and local:
            raise _NeedsArm
        try:
            if outcome is None:
                target = place.open_target(tc.target, **self._azure(place, tc.target, spec))
                try:
                    outcome = run_apply(
                        target,
                        spec,
                        dataset,
                        dry_run=not self.options.apply,
                        max_deletes=self.options.max_deletes,
                        force=self.options.force,
                        confirm=self.pause,
                        show=seen.append,
                        growth=self.options.growth,
                        planner=place.plan_apply,
                    )
                finally:
                    requests.update(target.request_counts())
                    target.close()
        except EgressError as exc:
            last = seen[-1] if seen else None
            return TargetReport(
                **base,
                result=REFUSED if isinstance(exc, SafetyError) else ERROR,
                message=str(exc),
                tags=tag_reports,
                changes=tuple(c.to_json() for c in last.changes) if last else (),
                counts=last.counts() if last else {},
                requests=dict(requests),
            ), None
        plan = outcome.plan
        if outcome.applied:
            result = APPLIED
        elif plan.has_changes:
            result = PENDING
        else:
            result = UNCHANGED
        counts = plan.counts()
        message = {
            APPLIED: f"applied: {counts['create']} created, {counts['update']} updated, {counts['delete']} deleted",
            PENDING: f"would create {counts['create']}, update {counts['update']}, delete {counts['delete']}"
            " (dry run; pass --apply)",
            UNCHANGED: "up to date",
        }[result]
        repair = getattr(plan, "repair", None)  # NSG plans only: other places have no Failed-state repair
        if repair:
            message += f"; {'repaired' if outcome.applied else 'needs a repair'}: {repair} (re-PUT)"
        report = TargetReport(
            **base,
            result=result,
            message=message,
            tags=tag_reports,
            changes=tuple(c.to_json() for c in plan.changes),
            counts=counts,
            requests=dict(outcome.requests),
            notes=tuple(plan.ruleset.notes),
        )
        state = None
        if result in (APPLIED, UNCHANGED):
            # The NSG now reflects this data: it becomes the target's last good data.
            p = dataset.provenance
            state = TargetState(
                target=tc.target,
                spec=spec_digest(tc.target, spec),
                data=DataRef(p.sha256, p.cloud, p.change_number, p.file_date, data.path),
                tags=_sizes(tags_now),
                result=result,
                updated_at=utc_now(),
            )
        return report, state

    def _azure(self, place: Any, target: str, spec: EgressSpec) -> dict[str, Any]:
        """How a target reaches Azure: NSGs through the run's shared session (clients, connections, throttling);
        other places with the session's shared credential (one sign-in all the same)."""
        azure: dict[str, Any] = {
            "cloud": spec.cloud,
            "arm_endpoint": self.options.arm_endpoint,
            "auth": self.options.auth,
        }
        if place.name == "nsg":
            azure["session"] = self.session
        elif target.strip().lower().startswith(("azure:", "/subscriptions/")):
            from egress.adapters.azure.target import resolve_endpoint

            azure["credential"] = self.session.credential(
                resolve_endpoint(spec.cloud, self.options.arm_endpoint)
            )
        return azure

    def _unchanged_by_graph(self, job: _Job, dataset: Dataset) -> Any:
        """An outcome without any request when the target's Graph row already matches its plan (see fleet.py)."""
        if job.graph_row is None or not self.options.graph:
            return None
        from egress.workflows.apply import ApplyOutcome
        from egress.workflows.fleet import unchanged_by_graph

        plan = unchanged_by_graph(job.graph_row, job.config.spec, dataset, job.config.target)
        if plan is None:
            return None
        job.notes.append("up to date in Resource Graph's copy: not read (pass --no-graph to read it)")
        return ApplyOutcome(plan, False, 0, {})

    @staticmethod
    def _tag_reports(job: _Job, before: dict[str, TagSize], tags_now: Sequence[Any]) -> tuple[TagReport, ...]:
        assert job.data is not None
        dataset = job.data.dataset
        names = {n.lower(): n for n in before}
        names.update({t.name.lower(): t.name for t in tags_now})
        out = []
        for key in sorted(names):
            name = names[key]
            new_tag = dataset.find(name)
            after = _tag_size(new_tag) if new_tag else None
            if job.previous is not None:
                old_tag = job.previous.find(name)
                diff = _diff_tags(old_tag, new_tag)
                out.append(
                    TagReport(
                        name=name,
                        added=diff.added if diff else (),
                        removed=diff.removed if diff else (),
                        before=_tag_size(old_tag) if old_tag else None,
                        after=after,
                    )
                )
            else:
                out.append(TagReport(name=name, before=before.get(name), after=after, compared=False))
        return tuple(out)


# --- the run ------------------------------------------------------------------------------------------------------


def select_targets(config: Config, names: Sequence[str]) -> tuple[TargetConfig, ...]:
    if not config.targets and not config.exports:
        raise UsageError(
            "the config lists no [[targets]] or [[exports]]; refresh needs an NSG or a file to bring up to date."
        )
    if not names:
        return config.targets
    exported = {e.name for e in config.exports}  # --target-name also picks [[exports]] entries
    wanted = list(dict.fromkeys(names))
    return tuple(config.target(n) for n in wanted if n not in exported)


def select_exports(config: Config, names: Sequence[str]) -> tuple[Any, ...]:
    if not names:
        return config.exports
    return tuple(e for e in config.exports if e.name in set(names))


def _prepare(tc: TargetConfig, sources: _Sources, state: RefreshState) -> _Job:
    """Resolve a target's data and baseline (sequentially: files are parsed once); problems stay with the target."""
    job = _Job(tc)
    try:
        _resolve(job, sources, state)
    except EgressError as exc:
        job.error = exc
    return job


def _resolve(job: _Job, sources: _Sources, state: RefreshState) -> None:
    tc = job.config
    # The checks `--place` applies to flags, on the entry's own keys: a key its place ignores is a mistake.
    get_place(tc.spec.place).check_spec(tc.spec.validated(), dict.fromkeys(tc.keys))
    job.data = sources.for_spec(tc.spec)
    data = job.data
    expected = cloud_name(tc.spec.cloud)
    if data.dataset.provenance.cloud.lower() != expected.lower():
        job.error = DataError(
            f"the data is for cloud {data.dataset.provenance.cloud!r} but the target is in {expected!r}; "
            "check the target's `cloud` or --data."
        )
        return
    saved = state.targets.get(tc.name)
    digest = spec_digest(tc.target, tc.spec)
    if saved is not None:
        job.previous_ref = saved.data
        job.previous = sources.previous(saved.data)
        if job.previous is None:
            if saved.spec == digest:
                job.baseline_sizes = dict(saved.tags)
                job.notes.append(
                    f"the data this target was last brought to ({saved.data.path or 'unknown file'}) is gone; "
                    "the shrink guard compares address counts only"
                )
            else:
                job.notes.append(
                    "the target's settings changed and its last data is gone: no shrink baseline"
                )
        new_cn, old_cn = data.dataset.provenance.change_number, saved.data.change_number
        same_cloud = saved.data.cloud.lower() == data.dataset.provenance.cloud.lower()
        if old_cn is not None and change_number.anomaly(old_cn, saved.data.file_date, sources.today):
            # Recorded before this check existed (a 10^18 froze targets): no baseline for "never backwards".
            job.notes.append(
                f"the changeNumber recorded for this target ({old_cn}) is implausible; it is ignored"
            )
            old_cn = None
        odd = change_number.anomaly(
            new_cn,
            data.dataset.provenance.file_date,
            sources.today,
            previous=old_cn if same_cloud else None,
            previous_date=saved.data.file_date,
        )
        if odd:
            job.refusal = (
                f"the data's {odd}; refused as an anomaly, the target keeps its data. Check the file "
                "(egress ranges show), or fetch it again."
            )
            return
        older = same_cloud and new_cn is not None and old_cn is not None and new_cn < old_cn
        if older and not data.automatic:
            # Named by the user (--data or the config's `data`): a rollback is possible, never silent.
            if not sources.options.allow_older:
                job.refusal = (
                    f"{data.path or 'the data'} (changeNumber {new_cn}) is older than the data this target was "
                    f"last brought to (changeNumber {old_cn}): applying it would roll the target back. Pass "
                    "--allow-older to do that on purpose."
                )
                return
            job.notes.append(
                f"rolling back: changeNumber {new_cn} is older than this target's {old_cn} (--allow-older)"
            )
        if data.automatic and older:
            # Never move a target back to older data than it already has (a fallback, a lagging source).
            if job.previous is not None:
                job.notes.append(
                    f"the data available (changeNumber {new_cn}) is older than this target's "
                    f"(changeNumber {old_cn}); keeping the target's data"
                )
                job.data = sources.adopt_previous(job.previous, saved.data)
            else:
                job.refusal = (
                    f"the data available (changeNumber {new_cn}) is older than the data this target was last "
                    f"brought to (changeNumber {old_cn}), and that file is gone; not moving back. "
                    "Run `egress ranges fetch`, or pass --data."
                )
    elif data.fetch_previous is not None:
        job.previous = sources.baseline_file(data.fetch_previous)
        if job.previous is not None:
            job.notes.append(
                f"first refresh of this target: compared with the previously cached {data.fetch_previous.name}"
            )
    if saved is None and (
        odd := change_number.anomaly(
            data.dataset.provenance.change_number, data.dataset.provenance.file_date, sources.today
        )
    ):
        job.refusal = f"the data's {odd}; refused as an anomaly. Check the file, or fetch it again."
        return
    if job.previous is None and job.baseline_sizes is None and saved is None:
        job.notes.append(
            "no earlier data recorded for this target: the shrink guard starts with the next run"
        )


def run_refresh(
    config: Config,
    config_path: str,
    options: RefreshOptions,
    *,
    say: Say | None = None,
) -> RefreshReport:
    """Refresh the configured targets; never raises for one target's failure (see the report's results)."""
    options = options.validated()
    say = say or (lambda _m: None)
    targets = select_targets(config, options.target_names)
    started = time.monotonic()
    started_at = utc_now()
    today = options.today or datetime.now(UTC).date()
    with exclusive_lock(lock_path(), timeout=options.lock_timeout, waiting=say):
        remove_stale_cache_temps()  # left by a run killed mid-write
        path = state_path(config_path)
        state, state_note = load_state(path, str(Path(config_path).expanduser().resolve()))
        run_notes = [state_note] if state_note else []
        if options.data and any(t.spec.data for t in targets):
            run_notes.append("--data overrides the `data` the config names")
        sources = _Sources(options, today, say)
        session = _azure_session(options)
        outcomes: list[tuple[TargetReport, TargetState | None]] = []
        from egress.workflows.heap import frozen_heap

        heap = frozen_heap()
        refreeze = heap.__enter__()
        try:
            from egress.workflows.fleet import expand_targets

            expanded, found_notes = expand_targets(targets, session, options.arm_endpoint, say)
            run_notes += found_notes
            if options.graph:  # listed NSGs too: a no-op run reads none of them
                from egress.workflows.fleet import with_graph_rows

                expanded, listed_notes = with_graph_rows(expanded, session, options.arm_endpoint, say)
                run_notes += listed_notes
            jobs = [_prepare(e.config, sources, state) for e in expanded]
            for job, e in zip(jobs, expanded, strict=True):
                job.graph_row = e.graph_row
                job.error = e.error or job.error
            refreeze()  # the data and Graph's rows are in: long-lived for the rest of the run
            runner = _Runner(options, session, say)
            local = [runner.run_local(job) for job in jobs]
            remote = [job for job, done in zip(jobs, local, strict=True) if done is None]
            if remote:
                with ThreadPoolExecutor(max_workers=min(options.concurrency, len(remote))) as pool:
                    answers = iter(pool.map(runner.run, remote))
                    outcomes = [done if done is not None else next(answers) for done in local]
            else:
                outcomes = [done for done in local if done is not None]
        finally:
            session.close()
            heap.__exit__(None, None, None)
        export_reports: tuple[Any, ...] = ()
        if config.exports:
            from egress.places.allowlist.refresh import ExportRunner

            exporter = ExportRunner(
                sources,
                apply=options.apply,
                max_shrink=options.max_shrink,
                config_path=config_path,
                say=say,
                growth=options.growth,
            )
            export_reports = exporter.run_all(
                select_exports(config, options.target_names), [e.name for e in config.exports]
            )
        known = {t.name for t in config.targets} | {job.config.name for job in jobs}
        entries = {t.name for t in config.targets if t.discover is not None}
        state.targets = {
            name: s
            for name, s in state.targets.items()
            if name in known
            or name.split("/", 1)[0] in entries  # an NSG Graph missed this run keeps its baseline
        }
        for job, (_, target_state) in zip(jobs, outcomes, strict=True):
            if target_state is not None:
                state.targets[job.config.name] = target_state
        save_state(path, state)
    return RefreshReport(
        config=config_path,
        apply=options.apply,
        started_at=started_at,
        duration=time.monotonic() - started,
        data=tuple(sources.used()),
        targets=tuple(report for report, _ in outcomes),
        notes=tuple(run_notes),
        exports=export_reports,
    )

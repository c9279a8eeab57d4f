"""The small state file `egress refresh` keeps per config: which data each target was last brought to.

It lives in the cache folder (`refresh/<config-name>-<id>.json`), is written atomically, and holds per target the
data file's path and sha256 plus the address counts of the tags the target uses — enough for the shrink guard
even after the data file itself has been pruned from the cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from egress.adapters.cache import atomic_write
from egress.adapters.datastore import cache_dir
from egress.core.shrink import TagSize
from egress.core.spec import EgressSpec
from egress.errors import DataError, OutputError

STATE_FOLDER = "refresh"
LOCK_NAME = "refresh.lock"
STATE_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def lock_path(directory: Path | None = None) -> Path:
    """One lock per cache folder: refresh runs share the cache, so they must not overlap at all."""
    return (directory or cache_dir()) / LOCK_NAME


def state_path(config_path: str | Path, directory: Path | None = None) -> Path:
    resolved = Path(config_path).expanduser().resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    stem = _UNSAFE.sub("_", resolved.stem)[:40] or "config"
    return (directory or cache_dir()) / STATE_FOLDER / f"{stem}-{digest}.json"


def spec_digest(target: str, spec: EgressSpec) -> str:
    """Changes when the target's settings change (then old tag counts are no baseline for the new tags)."""
    # The JSON of {"spec": ..., "target": ...} with sorted keys, the spec's part made once per distinct spec
    # (a fleet's thousand targets share a few).
    text = '{"spec": ' + _spec_json(spec) + ', "target": ' + json.dumps(target) + "}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def _spec_json(spec: EgressSpec) -> str:
    fields = asdict(spec)
    # Neither the data file nor the over-approximation's limits change which tags a target uses; leaving them out
    # also keeps the digests that states recorded before those settings existed.
    for name in ("data", "max_extra_v4", "max_extra_v6", "allow_wide"):
        fields.pop(name, None)
    return json.dumps(fields, sort_keys=True, default=list)


@dataclass(frozen=True, slots=True)
class DataRef:
    sha256: str
    cloud: str
    change_number: int | None
    file_date: str | None
    path: str | None  # a local file holding these bytes when the run used them (may be gone later)

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "cloud": self.cloud,
            "changeNumber": self.change_number,
            "fileDate": self.file_date,
            "path": self.path,
        }

    @classmethod
    def from_json(cls, obj: Any) -> DataRef | None:
        if not isinstance(obj, dict) or not isinstance(obj.get("sha256"), str):
            return None
        change = obj.get("changeNumber")
        return cls(
            sha256=obj["sha256"],
            cloud=str(obj.get("cloud") or ""),
            change_number=change if isinstance(change, int) and not isinstance(change, bool) else None,
            file_date=obj.get("fileDate") if isinstance(obj.get("fileDate"), str) else None,
            path=obj.get("path") if isinstance(obj.get("path"), str) else None,
        )


@dataclass(frozen=True, slots=True)
class TargetState:
    target: str
    spec: str  # spec_digest
    data: DataRef
    tags: dict[str, TagSize]
    result: str
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "spec": self.spec,
            "data": self.data.to_json(),
            "tags": {
                name: size.to_json() for name, size in sorted(self.tags.items(), key=lambda i: i[0].lower())
            },
            "result": self.result,
            "updatedAt": self.updated_at,
        }

    @classmethod
    def from_json(cls, obj: Any) -> TargetState | None:
        if not isinstance(obj, dict):
            return None
        data = DataRef.from_json(obj.get("data"))
        raw_tags = obj.get("tags")
        if data is None or not isinstance(raw_tags, dict):
            return None
        tags: dict[str, TagSize] = {}
        for name, raw in raw_tags.items():
            size = TagSize.from_json(raw)
            if size is None:
                return None
            tags[str(name)] = size
        return cls(
            target=str(obj.get("target") or ""),
            spec=str(obj.get("spec") or ""),
            data=data,
            tags=tags,
            result=str(obj.get("result") or ""),
            updated_at=str(obj.get("updatedAt") or ""),
        )


@dataclass(slots=True)
class RefreshState:
    config: str
    targets: dict[str, TargetState] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "config": self.config,
            "targets": {name: self.targets[name].to_json() for name in sorted(self.targets)},
        }


def load_state(path: Path, config: str) -> tuple[RefreshState, str | None]:
    """The saved state, or an empty one plus a note when it is missing (first run) or unreadable."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return RefreshState(config), None
    except OSError as exc:
        return RefreshState(
            config
        ), f"cannot read the refresh state {path} ({exc.strerror or exc}); starting afresh"
    try:
        obj = json.loads(raw)
    except ValueError:
        obj = None
    if (
        not isinstance(obj, dict)
        or obj.get("version") != STATE_VERSION
        or not isinstance(obj.get("targets"), dict)
    ):
        return RefreshState(config), f"the refresh state {path} is damaged; starting afresh"
    state = RefreshState(config)
    for name, entry in obj["targets"].items():
        parsed = TargetState.from_json(entry)
        if parsed is not None:
            state.targets[str(name)] = parsed
    return state, None


def save_state(path: Path, state: RefreshState) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One line: the C encoder (json's indenting one is pure Python: ~0.3 s for a thousand targets).
        atomic_write(path, (json.dumps(state.to_json(), sort_keys=True) + "\n").encode())
    except (OSError, OutputError) as exc:
        raise DataError(
            f"cannot write the refresh state {path} ({getattr(exc, 'strerror', None) or exc}); set EGRESS_CACHE_DIR to a writable folder."
        ) from None

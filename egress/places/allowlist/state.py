"""What `egress refresh` remembers per export: the data its file reflects, the tags' sizes (the shrink guard's
baseline), the prefixes it holds (for the added/removed report) and whether its `after` hook last succeeded.

Kept beside the targets' state file (`refresh/<config>-<id>.exports.json`), written atomically under refresh's lock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egress.adapters.cache import atomic_write
from egress.adapters.refresh_state import DataRef, state_path
from egress.core.shrink import TagSize
from egress.errors import DataError, OutputError

VERSION = 1


def exports_state_path(config_path: str | Path) -> Path:
    path = state_path(config_path)
    return path.with_name(path.stem + ".exports.json")


@dataclass(frozen=True, slots=True)
class ExportState:
    data: DataRef
    settings: str  # digest of the export's settings: another list is no baseline for this one's prefixes
    tags: dict[str, TagSize]
    prefixes: tuple[str, ...]
    hook_ok: bool
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data.to_json(),
            "settings": self.settings,
            "tags": {n: s.to_json() for n, s in sorted(self.tags.items(), key=lambda i: i[0].lower())},
            "prefixes": list(self.prefixes),
            "hookOk": self.hook_ok,
            "updatedAt": self.updated_at,
        }

    @classmethod
    def from_json(cls, obj: Any) -> ExportState | None:
        if not isinstance(obj, dict):
            return None
        data = DataRef.from_json(obj.get("data"))
        raw_tags, prefixes = obj.get("tags"), obj.get("prefixes")
        if data is None or not isinstance(raw_tags, dict) or not isinstance(prefixes, list):
            return None
        tags = {}
        for name, raw in raw_tags.items():
            size = TagSize.from_json(raw)
            if size is None:
                return None
            tags[str(name)] = size
        if not all(isinstance(p, str) for p in prefixes):
            return None
        return cls(
            data=data,
            settings=str(obj.get("settings") or ""),
            tags=tags,
            prefixes=tuple(prefixes),
            hook_ok=obj.get("hookOk") is not False,
            updated_at=str(obj.get("updatedAt") or ""),
        )


def load_export_states(path: Path) -> tuple[dict[str, ExportState], str | None]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"cannot read the exports' state {path} ({exc.strerror or exc}); starting afresh"
    try:
        obj = json.loads(raw)
    except ValueError:
        obj = None
    if not isinstance(obj, dict) or obj.get("version") != VERSION or not isinstance(obj.get("exports"), dict):
        return {}, f"the exports' state {path} is damaged; starting afresh"
    states = {}
    for name, entry in obj["exports"].items():
        parsed = ExportState.from_json(entry)
        if parsed is not None:
            states[str(name)] = parsed
    return states, None


def save_export_states(path: Path, states: dict[str, ExportState]) -> None:
    doc = {"version": VERSION, "exports": {name: states[name].to_json() for name in sorted(states)}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    except (OSError, OutputError) as exc:
        raise DataError(
            f"cannot write the exports' state {path} ({getattr(exc, 'strerror', None) or exc}); "
            "set EGRESS_CACHE_DIR to a writable folder."
        ) from None

"""Compare two service-tag datasets by content (prefixes and properties), never by changeNumber alone.

Microsoft bumps the top-level changeNumber in weeks where no entry changed; `diff_datasets` and `content_digest`
ignore change numbers so such a file reports no changes. Reused by `egress ranges diff`, `ranges fetch` and
`egress refresh`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from egress.core.cidrs import normalize_prefix, sort_prefixes
from egress.core.model import Dataset, Provenance, ServiceTag

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class TagDiff:
    """One tag that differs. For an added tag every prefix is `added`; for a removed one every prefix is `removed`."""

    name: str  # canonical spelling (the new file's, unless the tag was removed)
    status: str  # "added" | "removed" | "changed"
    added: tuple[str, ...]  # normalized prefixes only in NEW, sorted (IPv4 first, numeric)
    removed: tuple[str, ...]  # normalized prefixes only in OLD, sorted
    old_count: int  # distinct prefixes before (0 for an added tag)
    new_count: int  # distinct prefixes after (0 for a removed tag)
    old_change_number: int | None = None
    new_change_number: int | None = None
    changed_fields: tuple[str, ...] = ()  # non-prefix properties that changed, e.g. ("networkFeatures",)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "status": self.status,
            "added": list(self.added),
            "removed": list(self.removed),
            "oldCount": self.old_count,
            "newCount": self.new_count,
            "oldChangeNumber": self.old_change_number,
            "newChangeNumber": self.new_change_number,
            "changedFields": list(self.changed_fields),
        }


@dataclass(frozen=True, slots=True)
class DatasetDiff:
    old: Provenance
    new: Provenance
    patterns: tuple[str, ...]  # the --tag patterns applied (empty: every tag)
    tags: tuple[TagDiff, ...]  # only tags that differ, sorted case-insensitively by name

    @property
    def is_empty(self) -> bool:
        return not self.tags

    @property
    def added_tags(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tags if t.status == ADDED)

    @property
    def removed_tags(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tags if t.status == REMOVED)

    @property
    def changed_tags(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tags if t.status == CHANGED)

    @property
    def prefixes_added(self) -> int:
        return sum(len(t.added) for t in self.tags)

    @property
    def prefixes_removed(self) -> int:
        return sum(len(t.removed) for t in self.tags)

    def get(self, name: str) -> TagDiff | None:
        """The difference for one tag (any case), or None when it did not change."""
        wanted = name.lower()
        return next((t for t in self.tags if t.name.lower() == wanted), None)

    def to_dict(self) -> dict[str, object]:
        return {
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "patterns": list(self.patterns),
            "changed": not self.is_empty,
            "summary": {
                "tagsAdded": len(self.added_tags),
                "tagsRemoved": len(self.removed_tags),
                "tagsChanged": len(self.changed_tags),
                "prefixesAdded": self.prefixes_added,
                "prefixesRemoved": self.prefixes_removed,
            },
            "tags": [t.to_dict() for t in self.tags],
        }


def matches_any(name: str, patterns: Sequence[str]) -> bool:
    """Case-insensitive fnmatch (`AzureBackup*`, `storage.eastus`); no patterns matches everything."""
    if not patterns:
        return True
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in patterns)


def _features(tag: ServiceTag) -> tuple[str, ...] | None:
    return None if tag.network_features is None else tuple(sorted(tag.network_features))


def _changed_fields(old: ServiceTag, new: ServiceTag) -> tuple[str, ...]:
    fields = []
    if old.region != new.region:
        fields.append("region")
    if old.system_service != new.system_service:
        fields.append("systemService")
    if old.platform != new.platform:
        fields.append("platform")
    if old.region_id != new.region_id:
        fields.append("regionId")
    if _features(old) != _features(new):
        fields.append("networkFeatures")
    return tuple(fields)


def _prefix_sets(old: Iterable[str], new: Iterable[str]) -> tuple[set[str], set[str]]:
    old_set, new_set = set(old), set(new)
    if old_set == new_set:  # the common case: skip parsing
        return old_set, new_set
    return {normalize_prefix(p) for p in old_set}, {normalize_prefix(p) for p in new_set}


def diff_tags(old: ServiceTag | None, new: ServiceTag | None) -> TagDiff | None:
    """The difference between two versions of one tag (None on either side: added / removed), or None."""
    if old is None and new is None:
        return None
    if old is None:
        assert new is not None
        prefixes = {normalize_prefix(p) for p in new.prefixes}
        return TagDiff(
            new.name, ADDED, tuple(sort_prefixes(prefixes)), (), 0, len(prefixes), None, new.change_number
        )
    if new is None:
        prefixes = {normalize_prefix(p) for p in old.prefixes}
        return TagDiff(
            old.name, REMOVED, (), tuple(sort_prefixes(prefixes)), len(prefixes), 0, old.change_number, None
        )
    old_set, new_set = _prefix_sets(old.prefixes, new.prefixes)
    added, removed = new_set - old_set, old_set - new_set
    fields = _changed_fields(old, new)
    if not added and not removed and not fields:
        return None
    return TagDiff(
        name=new.name,
        status=CHANGED,
        added=tuple(sort_prefixes(added)),
        removed=tuple(sort_prefixes(removed)),
        old_count=len(old_set),
        new_count=len(new_set),
        old_change_number=old.change_number,
        new_change_number=new.change_number,
        changed_fields=fields,
    )


def diff_datasets(old: Dataset, new: Dataset, patterns: Sequence[str] | None = None) -> DatasetDiff:
    """Per-tag added/removed prefixes between OLD and NEW, limited to tags matching any of `patterns`."""
    pats = tuple(patterns or ())
    names = {t.name.lower() for t in old} | {t.name.lower() for t in new}
    diffs = []
    for key in sorted(names):
        old_tag, new_tag = old.find(key), new.find(key)
        canonical = (new_tag or old_tag).name  # type: ignore[union-attr]
        if not matches_any(canonical, pats):
            continue
        tag_diff = diff_tags(old_tag, new_tag)
        if tag_diff is not None:
            diffs.append(tag_diff)
    return DatasetDiff(old=old.provenance, new=new.provenance, patterns=pats, tags=tuple(diffs))


def content_digest(dataset: Dataset) -> str:
    """sha256 over the normalized content (names, properties, sorted prefixes); change numbers excluded."""
    digest = hashlib.sha256(dataset.provenance.cloud.lower().encode())
    for tag in dataset.tags:  # Dataset keeps tags sorted case-insensitively
        record = [
            tag.name,
            tag.region,
            tag.system_service,
            tag.platform,
            tag.region_id,
            _features(tag),
            sorted(set(tag.prefixes)),
        ]
        digest.update(json.dumps(record, separators=(",", ":")).encode())
        digest.update(b"\n")
    return digest.hexdigest()

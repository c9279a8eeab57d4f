"""Which service tags a spec names in a dataset: every place plans from the same selection (and `refresh`
watches the same tags), so it lives here rather than in one place's planner."""

from __future__ import annotations

from egress.core.model import Dataset, ServiceTag
from egress.core.spec import BACKUP_TAGS, EgressSpec
from egress.errors import UsageError


def used_tags(spec: EgressSpec, dataset: Dataset) -> tuple[ServiceTag, ...]:
    """The service tags `spec` resolves to in `dataset` (none for the proxy option); raises like planning does."""
    if spec.option == "proxy":
        return ()
    return tuple(resolve_tags(spec, dataset))


def resolve_tags(spec: EgressSpec, dataset: Dataset) -> list[ServiceTag]:
    """`spec.tags` (default: Azure Backup's) in order, without repeats, `{region}` filled in from --region."""
    region = dataset.check_region(spec.region) if spec.region else None
    wanted = spec.tags or BACKUP_TAGS
    found: list[ServiceTag] = []
    for raw in wanted:
        name = raw.strip()
        if "{region}" in name:
            if region is None:
                raise UsageError(
                    f"tag {name!r} needs --region (e.g. --region eastus); "
                    "or name tags explicitly with --tag Storage.EastUS."
                )
            base = name.replace(".{region}", "").replace("{region}", "")
            tag = dataset.regional(base, region)
        else:
            tag = dataset.get(name)
        if tag not in found:
            found.append(tag)
    return found

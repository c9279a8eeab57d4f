"""Shared command helpers: loading the data once per run."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from egress.cli import common

DATA = "servicetags/ServiceTags_Public_20250127.json"


@pytest.mark.parametrize("one_shot", [False, True])
def test_a_one_shot_run_freezes_the_loaded_data(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch, one_shot: bool
) -> None:
    monkeypatch.setattr(common, "ONE_SHOT", one_shot)
    before = gc.get_freeze_count()
    try:
        dataset = common.load(str(shared_data / DATA), "public")
        assert gc.isenabled()  # the collector runs again afterwards
        frozen = gc.get_freeze_count() - before
    finally:
        gc.unfreeze()  # this test process goes on: let the collector see everything again
    assert dataset.get("AzureBackup").name == "AzureBackup"
    if one_shot:
        assert frozen > 10_000  # the file's parsed entries, kept by the dataset until the process ends
    else:
        assert frozen == 0  # a long-lived caller (tests, library use) is left alone

from __future__ import annotations

import pytest

from egress.adapters.datastore import load_file
from egress.core.model import Dataset
from tests.conftest import SHARED_DATA

DATA_FILE = SHARED_DATA / "servicetags" / "ServiceTags_Public_20250127.json"


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    """Microsoft's real weekly file of 2025-01-27."""
    return load_file(DATA_FILE)

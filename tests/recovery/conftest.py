from __future__ import annotations

import pytest
from tests.mmm.conftest import BLAS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/recovery" in str(item.path):
            item.add_marker(pytest.mark.filterwarnings(BLAS))

"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The reference data shared by the team sits beside the project checkout.
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("the shared reference data folder (../shared/data) is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def realworld(shared_data: Path) -> Path:
    return shared_data / "realworld"

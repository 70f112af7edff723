"""Fixtures of the store's unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from brickyard.store.migrate import upgrade
from brickyard.store.sql import SqlStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    """A store on a new SQLite file, tmp_path/heketi.db, at the current schema."""
    opened = SqlStore(f"sqlite:///{tmp_path / 'heketi.db'}")
    upgrade(opened.url)
    yield opened
    opened.close()

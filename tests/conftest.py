"""Fixtures shared by every suite: the PostgreSQL server (tests/pg.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pg import PgServer, PgUnavailable, in_ci


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """A PostgreSQL 15 on loopback for the whole session (skipped where there is none,
    failed in CI)."""
    server = PgServer()
    try:
        server.start()
    except PgUnavailable as exc:
        server.stop()
        if in_ci():
            pytest.fail(f"CI=true but PostgreSQL cannot run: {exc}")
        pytest.skip(f"no PostgreSQL: {exc}")
    try:
        yield server
    finally:
        server.stop()


NewDatabase = Callable[[Path], str]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_kind(request: pytest.FixtureRequest) -> str:
    """Run a test on SQLite and on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def new_database(database_kind: str, request: pytest.FixtureRequest) -> NewDatabase:
    """`new_database(directory)` -> a fresh database of the kind under test, as glusterfs.db
    names it: the path of an SQLite file in `directory` (exactly as before PostgreSQL), or the
    URL of a new database on the session's PostgreSQL."""
    if database_kind == "sqlite":
        return lambda directory: str(directory / "heketi.db")
    server: PgServer = request.getfixturevalue("postgres")
    return lambda _directory: server.new_database()

"""Fixtures shared by every suite: the PostgreSQL server (tests/pg.py)."""

from __future__ import annotations

import contextlib
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

DATABASE_KINDS = ["sqlite", "postgresql"]


@contextlib.contextmanager
def _databases(kind: str, request: pytest.FixtureRequest) -> Iterator[NewDatabase]:
    """The factory for `kind`; the PostgreSQL databases it made are dropped at the end (an
    SQLite file goes with its test's temporary directory)."""
    if kind == "sqlite":
        yield lambda directory: str(directory / "heketi.db")
        return
    server: PgServer = request.getfixturevalue("postgres")
    made: list[str] = []

    def new(_directory: Path) -> str:
        made.append(server.new_database())
        return made[-1]

    try:
        yield new
    finally:
        for url in made:
            server.drop_database(url)


@pytest.fixture(params=DATABASE_KINDS)
def database_kind(request: pytest.FixtureRequest) -> str:
    """Run a test on SQLite and on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def new_database(database_kind: str, request: pytest.FixtureRequest) -> Iterator[NewDatabase]:
    """`new_database(directory)` -> a fresh database of the kind under test, as glusterfs.db
    names it: the path of an SQLite file in `directory` (exactly as before PostgreSQL), or the
    URL of a new database on the session's PostgreSQL."""
    with _databases(database_kind, request) as factory:
        yield factory


# The same for servers shared by a module's or the session's tests (a function-scoped fixture
# cannot feed them). Pytest groups the tests by these parameters, so each shared server starts
# once per kind.


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def module_database_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def module_new_database(
    module_database_kind: str, request: pytest.FixtureRequest
) -> Iterator[NewDatabase]:
    """`new_database` for module-scoped fixtures."""
    with _databases(module_database_kind, request) as factory:
        yield factory


@pytest.fixture(scope="session", params=DATABASE_KINDS)
def session_database_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def session_new_database(
    session_database_kind: str, request: pytest.FixtureRequest
) -> Iterator[NewDatabase]:
    """`new_database` for session-scoped fixtures (the contract suite's shared servers)."""
    with _databases(session_database_kind, request) as factory:
        yield factory


@pytest.fixture
def session_kind_new_database(
    session_database_kind: str, request: pytest.FixtureRequest
) -> Iterator[NewDatabase]:
    """`new_database` of the session's kind for a test's own servers (the contract suite's
    `fresh_server`): the test runs with the shared servers of its kind, and its databases are
    dropped after it."""
    with _databases(session_database_kind, request) as factory:
        yield factory

"""Connections to the store's database, straight on its driver: sqlite3, or psycopg 3 for
PostgreSQL.

The server used SQLAlchemy for this; SQLAlchemy was 13.8 MiB of the server's 53 MiB at start
(issue #14), and most statements of a create already bypassed its execution path for speed.
What it did for the store is here, small: URLs, a connection pool that checks a connection
before lending it, transactions (READ COMMITTED on PostgreSQL), and the driver's errors
translated into the store's own (store.errors), so no module outside the store knows which
driver runs.

SQL is written once for both databases, with named parameters (``:name``): sqlite3 takes them
as they are; for psycopg they become ``%(name)s``. Statements hold no literal ``%`` (a LIKE
pattern is a parameter)."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import DatabaseError, DatabaseUnavailable, IntegrityViolation

SQLITE, POSTGRESQL = "sqlite", "postgresql"

# `scheme[+driver]://rest`, as SQLAlchemy wrote them (the URLs of existing heketi.json files).
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9]*)(?:\+(?P<driver>[A-Za-z0-9_]+))?://(?P<rest>.*)", re.S
)
_PASSWORD = re.compile(r"^(?P<head>[^:/@]*:)(?P<password>[^@/]*)(?=@)")


@dataclass(frozen=True)
class DatabaseUrl:
    text: str  # as given (it may hold a password: never logged; see `shown`)
    dialect: str  # SQLITE or POSTGRESQL
    sqlite_path: str = ""  # SQLite: the file
    conninfo: str = ""  # PostgreSQL: the URI libpq reads
    connect_timeout_set: bool = False  # PostgreSQL: the URL says how long to try

    @property
    def shown(self) -> str:
        """The URL with any password hidden, as SQLAlchemy rendered it (``***``)."""
        match = _URL.fullmatch(self.text)
        if match is None:  # pragma: no cover - parse_url made it
            return self.text
        rest = _PASSWORD.sub(lambda m: f"{m['head']}***", match["rest"], count=1)
        head = self.text[: match.start("rest")]
        return head + rest


def parse_url(url: str) -> DatabaseUrl:
    """A database URL of heketi.json's ``glusterfs.db`` (ValueError if it is none we serve):
    ``sqlite:///PATH`` (relative) or ``sqlite:////PATH`` (absolute), ``postgresql://...`` or
    ``postgresql+psycopg://...`` (libpq's URI: user, password, host, port, database and its
    options, e.g. ``?sslmode=require``)."""
    match = _URL.fullmatch(url)
    if match is None:
        raise ValueError("not a database URL")
    scheme, driver, rest = match["scheme"].lower(), match["driver"], match["rest"]
    if scheme == SQLITE:
        if driver not in (None, "pysqlite"):
            raise ValueError(f"SQLite through {driver} is not supported: use sqlite:///PATH")
        path, _, query = rest.partition("?")
        if query:
            raise ValueError("an SQLite URL takes no options")
        if not path.startswith("/") or path in ("/", "/:memory:"):
            raise ValueError("an SQLite URL is sqlite:///PATH, with the path of a file")
        return DatabaseUrl(url, SQLITE, sqlite_path=path[1:])
    if scheme in (POSTGRESQL, "postgres"):
        if driver not in (None, "psycopg"):
            raise ValueError(
                f"the {driver} driver is not supported: use postgresql+psycopg:// (psycopg 3)"
            )
        parts = urlsplit("pg://" + rest)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
        query = parse_qs(parts.query)
        return DatabaseUrl(
            url,
            POSTGRESQL,
            conninfo="postgresql://" + rest,
            connect_timeout_set="connect_timeout" in query,
        )
    raise ValueError(f"{scheme} databases are not supported: sqlite or postgresql")


# Every SQLite connection's, the migrations' too. WAL lets readers run beside the writer;
# NORMAL sync is durable across process crashes.
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")
# Seconds a PostgreSQL connection attempt waits, unless the URL says.
CONNECT_TIMEOUT = 10
# Connections open at most per database (as SQLAlchemy's default pool: 5 kept + 10 more), and
# how long a transaction waits for one before giving up.
POOL_KEPT, POOL_LIMIT, POOL_WAIT = 5, 15, 30.0

_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


@lru_cache(maxsize=1024)
def psycopg_sql(sql: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s``."""
    if "%" in sql:
        raise ValueError(f"a statement holds a literal %: pass it as a parameter: {sql}")
    return _PARAMETER.sub(r"%(\1)s", sql)


def in_list(name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``(:name_0, :name_1, ...)`` and its parameters, for an ``IN`` of `values` (not empty:
    callers answer an empty list themselves)."""
    keys = [f"{name}_{i}" for i in range(len(values))]
    return "(" + ", ".join(f":{key}" for key in keys) + ")", dict(zip(keys, values, strict=True))


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching what starts with `prefix` (escape character ``/``)."""
    escaped = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return escaped + "%"


class Connection:
    """One driver connection: statements in the store's SQL, the driver's errors translated.
    Outside a transaction each statement commits by itself (reads need no transaction: each
    statement sees what was committed when it began, on both databases)."""

    __slots__ = ("_driver", "broken", "raw", "sqlite")

    def __init__(self, raw: Any, dialect: str, driver: ModuleType) -> None:
        self.raw = raw
        self.sqlite = dialect == SQLITE
        self._driver = driver
        self.broken = False  # the connection failed: it goes back to no pool

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """The driver's cursor, with `rowcount` and the rows."""
        try:
            if self.sqlite:
                return self.raw.execute(sql, params or ())
            return self.raw.execute(psycopg_sql(sql) if params else sql, params or None)
        except self._driver.Error as exc:
            raise self._translate(exc) from exc

    def executemany(self, sql: str, params: Sequence[Mapping[str, Any]]) -> None:
        try:
            if self.sqlite:
                self.raw.executemany(sql, params)
            else:
                with self.raw.cursor() as cursor:
                    cursor.executemany(psycopg_sql(sql), params)
        except self._driver.Error as exc:
            raise self._translate(exc) from exc

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def column(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        return [row[0] for row in self.execute(sql, params).fetchall()]

    def begin(self) -> None:
        """Start a write transaction. SQLite: deferred, as the driver's own transactions were
        (its write lock is taken at the first write; the store's writers are serialized in
        the process anyway). PostgreSQL: READ COMMITTED, stated rather than inherited from
        the server's default, because the conditional UPDATEs the store relies on (claims,
        space, releases) are atomic there: a second writer of the same row waits for the
        first to commit, then re-evaluates its WHERE on the new row (so exactly one claim
        wins, and free space never goes below zero). A stricter level would abort the second
        writer with a serialization error instead."""
        self.execute("BEGIN" if self.sqlite else "BEGIN ISOLATION LEVEL READ COMMITTED")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def abandon(self) -> None:
        """Roll back what is open after a failure, without hiding that failure: a connection
        that cannot even roll back is broken, and goes back to no pool."""
        try:
            if self.in_transaction:
                self.rollback()
        except DatabaseError:
            self.broken = True

    @property
    def in_transaction(self) -> bool:
        if self.sqlite:
            return bool(self.raw.in_transaction)
        return int(self.raw.info.transaction_status) != 0  # 0: idle

    def _translate(self, exc: Exception) -> DatabaseError:
        driver = self._driver
        if isinstance(exc, driver.IntegrityError):
            return IntegrityViolation(exc)
        if isinstance(exc, driver.OperationalError | driver.InterfaceError):
            if not self.sqlite:
                self.broken = True
            return DatabaseUnavailable(exc)
        return DatabaseError(exc)


class Database:
    """Connections to one database, pooled: the most recently returned is lent first (its
    SQLite page cache is the freshest), and a PostgreSQL connection is checked before it is
    lent (the server may have restarted since)."""

    def __init__(self, url: str) -> None:
        self.url = parse_url(url)
        self.dialect = self.url.dialect
        self._driver: ModuleType = sqlite3 if self.dialect == SQLITE else _psycopg()
        self._idle: list[Any] = []
        self._open = 0
        self._cond = threading.Condition()

    # -- connections ------------------------------------------------------------------------
    def _connect(self) -> Any:
        try:
            if self.dialect == SQLITE:
                return _sqlite_connect(self.url.sqlite_path)
            options: dict[str, Any] = {"autocommit": True}
            if not self.url.connect_timeout_set:
                options["connect_timeout"] = CONNECT_TIMEOUT
            return self._driver.connect(self.url.conninfo, **options)
        except self._driver.Error as exc:
            raise DatabaseUnavailable(exc) from exc

    def _alive(self, raw: Any) -> bool:
        if self.dialect == SQLITE:
            return True
        if raw.closed:
            return False
        try:
            raw.execute("SELECT 1")
        except self._driver.Error:
            return False
        return True

    def _take(self) -> Any:
        deadline = time.monotonic() + POOL_WAIT
        with self._cond:
            while True:
                if self._idle:
                    raw = self._idle.pop()
                    break
                if self._open < POOL_LIMIT:
                    self._open += 1
                    raw = None
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DatabaseUnavailable(
                        TimeoutError(f"no connection free in {POOL_WAIT:.0f} s")
                    )
                self._cond.wait(left)
        if raw is not None and self._alive(raw):
            return raw
        if raw is not None:
            _close_quietly(raw)
        try:
            return self._connect()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def give_back(self, conn: Connection) -> None:
        """Return a lent connection: to the pool, or closed if it broke or the pool is full."""
        keep = not conn.broken
        if keep and conn.in_transaction:
            try:  # what the pool's reset on return did: nothing half-done is lent again
                conn.rollback()
            except DatabaseError:
                keep = False
        with self._cond:
            pooled = keep and len(self._idle) < POOL_KEPT
            if pooled:
                self._idle.append(conn.raw)
            else:
                self._open -= 1
            self._cond.notify()
        if not pooled:
            _close_quietly(conn.raw)

    def lend(self) -> Connection:
        """A connection until `give_back` (or `close`)."""
        return Connection(self._take(), self.dialect, self._driver)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        conn = self.lend()
        try:
            yield conn
        finally:
            self.give_back(conn)

    def close(self) -> None:
        """Close the idle connections (those lent go back to the pool as usual). As SQLAlchemy's
        dispose: a later transaction simply opens a new connection."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for raw in idle:
            _close_quietly(raw)


def _psycopg() -> ModuleType:
    import psycopg  # only for PostgreSQL stores: the SQLite server never loads it

    return psycopg


def _sqlite_connect(path: str) -> sqlite3.Connection:
    # isolation_level=None: the store says where transactions begin (Connection.begin), the
    # driver starts none of its own. check_same_thread=False: a pooled connection serves
    # whichever thread borrows it, one at a time.
    raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        raw.execute(pragma)
    return raw


def _close_quietly(raw: Any) -> None:
    with contextlib.suppress(Exception):  # a connection already broken: nothing to close
        raw.close()

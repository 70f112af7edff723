"""store/db.py: database URLs, SQL for psycopg, IN lists and LIKE prefixes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from brickyard.store.db import (
    POSTGRESQL,
    SQLITE,
    Connection,
    Database,
    in_list,
    like_prefix,
    parse_url,
    psycopg_sql,
)
from brickyard.store.errors import DatabaseError, DatabaseUnavailable, IntegrityViolation


@pytest.mark.parametrize(
    ("url", "dialect", "path", "conninfo"),
    [
        ("sqlite:///heketi.db", SQLITE, "heketi.db", ""),
        ("sqlite:////var/lib/heketi/heketi.db", SQLITE, "/var/lib/heketi/heketi.db", ""),
        ("sqlite+pysqlite:////db/h.db", SQLITE, "/db/h.db", ""),
        (
            "postgresql+psycopg://u:p@db:5432/heketi",
            POSTGRESQL,
            "",
            "postgresql://u:p@db:5432/heketi",
        ),
        (
            "postgresql://u@db/heketi?sslmode=require",
            POSTGRESQL,
            "",
            "postgresql://u@db/heketi?sslmode=require",
        ),
        ("postgres://u@db/heketi", POSTGRESQL, "", "postgresql://u@db/heketi"),
    ],
)
def test_the_urls_heketi_json_holds(url: str, dialect: str, path: str, conninfo: str) -> None:
    parsed = parse_url(url)
    assert (parsed.dialect, parsed.sqlite_path, parsed.conninfo) == (dialect, path, conninfo)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("heketi.db", "not a database URL"),
        ("sqlite://", "sqlite:///PATH"),
        ("sqlite:///:memory:", "sqlite:///PATH"),
        ("sqlite:///h.db?timeout=3", "no options"),
        ("postgresql+psycopg2://u@h/x", "psycopg2 driver is not supported"),
        ("postgresql://u@h:port/x", "port"),
        ("mysql://u@h/x", "mysql databases are not supported"),
    ],
)
def test_urls_that_are_refused(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_url(url)


def test_a_password_is_never_shown() -> None:
    parsed = parse_url("postgresql+psycopg://heketi:s3cr:et@db.example.com:5432/heketi")
    assert parsed.shown == "postgresql+psycopg://heketi:***@db.example.com:5432/heketi"
    assert parse_url("postgresql://heketi@db/heketi").shown == "postgresql://heketi@db/heketi"
    assert parsed.connect_timeout_set is False
    assert parse_url("postgresql://h/x?connect_timeout=3").connect_timeout_set is True


def test_named_parameters_for_psycopg() -> None:
    sql = "SELECT CAST(:cls AS integer)::text FROM t WHERE a = :a AND b=:b_2"
    assert (
        psycopg_sql(sql)
        == "SELECT CAST(%(cls)s AS integer)::text FROM t WHERE a = %(a)s AND b=%(b_2)s"
    )
    with pytest.raises(ValueError, match="literal %"):
        psycopg_sql("SELECT 1 WHERE a LIKE 'x%' AND b = :b")


def test_in_lists_and_like_prefixes_on_sqlite() -> None:
    raw = sqlite3.connect(":memory:", isolation_level=None)
    conn = Connection(raw, SQLITE, sqlite3)
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
    for value in ("a", "b", "c", "srv_1/x", "srv%1/y", "srvX1/z", "srv/_1/w"):
        conn.execute("INSERT INTO t VALUES (:v)", {"v": value})
    listed, params = in_list("id", ["a", "c", "zz"])
    assert listed == "(:id_0, :id_1, :id_2)"
    assert conn.column(f"SELECT id FROM t WHERE id IN {listed} ORDER BY id", params) == ["a", "c"]
    like = "SELECT id FROM t WHERE id LIKE :p ESCAPE '/' ORDER BY id"
    assert conn.column(like, {"p": like_prefix("srv_1/")}) == ["srv_1/x"]
    assert conn.column(like, {"p": like_prefix("srv%1/")}) == ["srv%1/y"]
    assert conn.column(like, {"p": like_prefix("srv/_1/")}) == ["srv/_1/w"]


def test_driver_errors_become_the_stores() -> None:
    raw = sqlite3.connect(":memory:", isolation_level=None)
    conn = Connection(raw, SQLITE, sqlite3)
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
    conn.execute("INSERT INTO t VALUES ('a')")
    with pytest.raises(IntegrityViolation) as duplicate:
        conn.execute("INSERT INTO t VALUES ('a')")
    assert isinstance(duplicate.value.orig, sqlite3.IntegrityError)
    with pytest.raises(DatabaseUnavailable):  # sqlite3's OperationalError, as SQLAlchemy's
        conn.execute("SELECT * FROM no_such_table")
    with pytest.raises(DatabaseError):
        conn.execute("SELECT :a", {})
    conn.begin()
    conn.execute("INSERT INTO t VALUES ('b')")
    assert conn.in_transaction
    conn.abandon()
    assert not conn.in_transaction and conn.column("SELECT id FROM t") == ["a"]


def test_the_pool_lends_at_most_its_limit_and_reuses_what_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from brickyard.store import db as db_module

    monkeypatch.setattr(db_module, "POOL_WAIT", 0.2)
    database = Database(f"sqlite:///{tmp_path / 'pool.db'}")
    lent = [database.lend() for _ in range(db_module.POOL_LIMIT)]
    with pytest.raises(DatabaseUnavailable, match="no connection free"):
        database.lend()
    returned = lent.pop()
    database.give_back(returned)
    again = database.lend()
    assert again.raw is returned.raw  # the most recently returned, not a new one
    for conn in [*lent, again]:
        database.give_back(conn)
    database.close()
    with database.connection() as conn:  # a closed pool simply opens anew
        assert conn.scalar("PRAGMA journal_mode") == "wal"

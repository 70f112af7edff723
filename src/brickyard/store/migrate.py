"""Bring a database to the newest schema with Alembic (run at every server start).

A database already at the newest revision, as at most starts, is recognised by reading its
``alembic_version`` table through the store's own connections (store.db): SQLAlchemy, Alembic
and Mako (about 25 MiB) are imported only when there is something to upgrade, or a revision to
refuse, and the server does that in a child process (`upgrade_apart`). The newest revision
is read from the migration files (`head_revisions`), without importing them or Alembic; a test
holds it equal to Alembic's own head."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .db import POSTGRESQL, SQLITE, Database, parse_url
from .errors import DatabaseError

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"

# Alembic's default name for the table holding the database's revision (env.py keeps it).
VERSION_TABLE = "alembic_version"

# The PostgreSQL advisory lock every Brickyard server takes around its upgrade, so that servers
# starting together on one database migrate it once: the first upgrades, the others wait, then
# find the schema current. A fixed 64-bit key ("brickyrd" in ASCII).
UPGRADE_LOCK_KEY = int.from_bytes(b"brickyrd", "big") & 0x7FFF_FFFF_FFFF_FFFF


class SchemaTooNew(Exception):
    """The database was migrated by a newer Brickyard: this one must not touch it."""


def sqlalchemy_url(url: str) -> str:
    """The store's URL as SQLAlchemy reads it: PostgreSQL through psycopg 3 (SQLAlchemy's
    default PostgreSQL driver is psycopg2, which Brickyard does not use)."""
    parsed = parse_url(url)
    if parsed.dialect == POSTGRESQL:
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def migration_engine(url: str) -> Engine:
    """An SQLAlchemy engine on the store's database, set up as the store's connections are:
    SQLite's pragmas, PostgreSQL's connection timeout."""
    from sqlalchemy import create_engine, event

    from .db import CONNECT_TIMEOUT

    parsed = parse_url(url)
    options: dict[str, Any] = {}
    if parsed.dialect == POSTGRESQL and not parsed.connect_timeout_set:
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    engine = create_engine(sqlalchemy_url(url), **options)
    if parsed.dialect == SQLITE:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    from .db import SQLITE_PRAGMAS

    cursor = dbapi_conn.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema, in this process. SQLAlchemy's errors
    come out as the store's DatabaseError."""
    if is_current(url):
        return  # as at most starts: read without SQLAlchemy, which is then never loaded
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    engine = migration_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == POSTGRESQL:
                # Held until this transaction ends (commit or rollback), before Alembic reads
                # the current revision: DDL is transactional on PostgreSQL, so a waiting server
                # sees either no schema or all of it. SQLite needs none: its writers are
                # serialized.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK_KEY})
            heads = head_revisions()
            if heads and _alembic_revisions(conn) == heads:
                return  # nothing to upgrade, nothing unknown: what Alembic would conclude
            _alembic_upgrade(conn)
    except SQLAlchemyError as exc:
        raise DatabaseError(getattr(exc, "orig", None) or exc) from exc
    finally:
        engine.dispose()


class UpgradeFailed(Exception):
    """The upgrade in a child process failed; the message is the child's last error line."""


# The child's exit status for SchemaTooNew, so the parent can raise the same error.
_TOO_NEW_STATUS = 3


def is_current(url: str) -> bool:
    """Whether the database is at the newest revision (nothing for Alembic to do)."""
    heads = head_revisions()
    db = Database(url)
    try:
        return bool(heads) and current_revisions(db) == heads
    finally:
        db.close()


def upgrade_apart(url: str, timeout: float = 600.0) -> None:
    """`upgrade`, in a child process when there is anything to upgrade: the long-running
    server then never imports Alembic and Mako (about 11 MiB it would keep for its whole
    life). The child reads the URL from its standard input, never from its command line,
    where any user could read a password in the process list."""
    if is_current(url):
        return
    child = subprocess.run(
        [sys.executable, "-m", "brickyard.store.migrate"],
        input=url,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = child.stderr.strip().splitlines()
    message = lines[-1] if lines else f"exit status {child.returncode}"
    if child.returncode == _TOO_NEW_STATUS:
        raise SchemaTooNew(message)
    if child.returncode != 0:
        raise UpgradeFailed(message)


def _upgrade_child() -> int:
    try:
        upgrade(sys.stdin.read().strip())
    except SchemaTooNew as exc:
        print(exc, file=sys.stderr)
        return _TOO_NEW_STATUS
    except (DatabaseError, ValueError) as exc:
        reason = str(exc).strip()
        print(reason.splitlines()[0] if reason else repr(exc), file=sys.stderr)
        return 1
    return 0


def _alembic_upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    refuse_newer_schema(conn, ScriptDirectory.from_config(config))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def refuse_newer_schema(conn: Connection, scripts: ScriptDirectory) -> None:
    """Raise SchemaTooNew, before anything is written, when the database's revision is one
    this version does not know (Alembic would fail later, with a less helpful message)."""
    from alembic.runtime.migration import MigrationContext

    current = MigrationContext.configure(conn).get_current_heads()
    known = {script.revision for script in scripts.walk_revisions()}
    unknown = sorted(set(current) - known)
    if unknown:
        head = scripts.get_current_head()
        raise SchemaTooNew(
            f"the database has schema revision {', '.join(unknown)}, newer than this "
            f"version's {head}: it was upgraded by a newer Brickyard. Run that version (or "
            "newer); this one changes nothing"
        )


def current_revisions(db: Database) -> frozenset[str]:
    """The revisions the database is at, as Alembic reads them (none for a new database)."""
    with db.connection() as conn:
        if conn.sqlite:
            sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :name"
        else:  # the schema Alembic's table is made in: the first of the search path
            sql = (
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_name = :name"
            )
        if not conn.scalar(sql, {"name": VERSION_TABLE}):
            return frozenset()
        return frozenset(str(v) for v in conn.column(f"SELECT version_num FROM {VERSION_TABLE}"))


def _alembic_revisions(conn: Connection) -> frozenset[str]:
    """`current_revisions`, on the migration's own SQLAlchemy connection."""
    from sqlalchemy import inspect, text

    if not inspect(conn).has_table(VERSION_TABLE):
        return frozenset()
    rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
    return frozenset(str(row[0]) for row in rows)


@cache
def head_revisions() -> frozenset[str]:
    """The newest revisions of the migration files: those no other file names as its
    ``down_revision``. Read from the files' top-level ``revision = ...`` and
    ``down_revision = ...`` lines, as Alembic writes them."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        values = {
            match["name"]: ast.literal_eval(match["value"])
            for match in _ASSIGNMENT.finditer(path.read_text(encoding="utf-8"))
        }
        revision = values.get("revision")
        if not isinstance(revision, str):
            raise ValueError(f"{path}: no literal 'revision = \"...\"'")
        revisions.add(revision)
        down = values.get("down_revision")
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):
            parents.update(str(d) for d in down)
    return frozenset(revisions - parents)


# `revision = "0007"`, `down_revision: str | None = "0006"`, `down_revision = ("a", "b")`.
_ASSIGNMENT = re.compile(
    r"^(?P<name>revision|down_revision)\s*(?::[^=\n]*)?=\s*(?P<value>.*?)\s*(?:#.*)?$",
    re.MULTILINE,
)


if __name__ == "__main__":
    sys.exit(_upgrade_child())

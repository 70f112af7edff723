"""Bring a database to the newest schema with Alembic (run at every server start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"

# The PostgreSQL advisory lock every Brickyard server takes around its upgrade, so that servers
# starting together on one database migrate it once: the first upgrades, the others wait, then
# find the schema current. A fixed 64-bit key ("brickyrd" in ASCII).
UPGRADE_LOCK_KEY = int.from_bytes(b"brickyrd", "big") & 0x7FFF_FFFF_FFFF_FFFF


class SchemaTooNew(Exception):
    """The database was migrated by a newer Brickyard: this one must not touch it."""


def upgrade(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Held until this transaction ends (commit or rollback), before Alembic reads the
            # current revision: DDL is transactional on PostgreSQL, so a waiting server sees
            # either no schema or all of it. SQLite needs none: its writers are serialized.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK_KEY})
        refuse_newer_schema(conn, ScriptDirectory.from_config(config))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def refuse_newer_schema(conn: Connection, scripts: ScriptDirectory) -> None:
    """Raise SchemaTooNew, before anything is written, when the database's revision is one
    this version does not know (Alembic would fail later, with a less helpful message)."""
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

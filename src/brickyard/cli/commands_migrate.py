"""``brickyard import`` and ``brickyard export``: moving a database in Heketi's export format.

``import`` loads a ``heketi db export`` file into an empty Brickyard database (checks and
loading: heketidb/importer.py); ``export`` writes a database in the same format (the one
``GET /db/dump`` serves). The database is the server's: ``glusterfs.db`` of heketi.json (plus the
``HEKETI_DB_PATH`` override), or ``--db``. Both open it as the server does, migrations included,
so a fresh path works for ``import``. The ``heketi db import/export`` subcommands
(heketi_server.py) share the functions here.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import click

from ..config import ConfigError, load_settings
from ..heketidb.export import dump_database
from ..heketidb.importer import DumpError, HeketiDump, load_dump, parse_dump, parse_json
from ..store.errors import DatabaseError
from ..store.migrate import upgrade
from ..store.sql import SqlStore, sqlite_url
from .session import CliError, Session, emit, err

__all__ = [
    "Database",
    "MigrationError",
    "export_command",
    "export_text",
    "import_command",
    "import_text",
    "read_input",
    "write_output",
]


class MigrationError(Exception):
    """Why an import or export did not happen (the database is unchanged)."""


@dataclass(frozen=True)
class Database:
    """Where the database is: its URL, and the file when it is an SQLite path."""

    url: str
    path: Path | None

    @classmethod
    def at(cls, db: str) -> Database:
        """`db` as glusterfs.db reads it (bootstrap.database_url): a database URL, or
        the path of an SQLite file."""
        if "://" in db:
            return cls(db, None)
        return cls(sqlite_url(db), Path(db))

    @classmethod
    def locate(cls, config_path: str | None, db: str | None, env: Mapping[str, str]) -> Database:
        if config_path is not None and db is not None:
            raise MigrationError("give either --config or --db, not both")
        if db is not None:
            return cls.at(db)
        try:
            settings, _ = load_settings(config_path, env=env)
        except ConfigError as exc:
            raise MigrationError(str(exc)) from None
        return cls.at(settings.glusterfs.db)

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else self.url

    @contextlib.contextmanager
    def open(self) -> Iterator[SqlStore]:
        """The store, brought to the current schema as the server does at start."""
        store = SqlStore(self.url)
        try:
            upgrade(store.url)
            yield store
        except DatabaseError as exc:
            raise MigrationError(f"cannot use the database {self.label}: {exc}") from None
        finally:
            store.close()

    def remove_file(self) -> None:
        """Remove an SQLite file this run created (and its WAL companions)."""
        if self.path is None:
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").unlink()


# ------------------------------------------------------------------------------------------------
# The operations


def import_text(database: Database, text: str) -> HeketiDump:
    """Check `text` (a Heketi export), then load it into the empty `database`. The dump is
    checked before the database is opened, so a bad file never creates or touches one."""
    try:
        dump = parse_dump(parse_json(text))
    except DumpError as exc:
        raise MigrationError(f"nothing was imported: {exc}") from None
    created = database.path is not None and not database.path.exists()
    try:
        with database.open() as store:
            load_dump(store, dump)
    except (DumpError, MigrationError) as exc:
        if created:  # leave no empty database behind where there was none
            database.remove_file()
        prefix = "" if isinstance(exc, MigrationError) else "nothing was imported: "
        raise MigrationError(f"{prefix}{exc}") from None
    return dump


def export_text(database: Database) -> str:
    """The database in Heketi's export format, 4-space indented as ``GET /db/dump``."""
    if database.path is not None and not database.path.exists():
        raise MigrationError(f"no database at {database.path}")
    with database.open() as store:
        return json.dumps(dump_database(store), indent=4) + "\n"


def read_input(file: str) -> str:
    """The text of `file`, or of stdin for ``-``."""
    try:
        if file == "-":
            return sys.stdin.read()
        return Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise MigrationError(f"cannot read {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise MigrationError(f"cannot read {file}: not UTF-8 text") from None


def write_output(file: str, text: str) -> None:
    """Write `text` to stdout for ``-``, else to a new file (never over an existing one, as
    Heketi's ``db export``: an export may be all that is left of a database)."""
    if file == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise MigrationError(f"{file} already exists; give a new file name") from None
    except OSError as exc:
        raise MigrationError(f"cannot create {file}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


# ------------------------------------------------------------------------------------------------
# The commands


def _env() -> Mapping[str, str]:
    session = click.get_current_context().find_object(Session)
    return session.env if session is not None else os.environ


_CONFIG_HELP = "heketi.json whose glusterfs.db names the database"
_DB_HELP = "The database file (or database URL) instead of --config"


@click.command("import", short_help="Load a Heketi db export into an empty database")
@click.option("--config", "config_path", metavar="PATH", help=_CONFIG_HELP)
@click.option("--db", metavar="PATH", help=_DB_HELP)
@click.argument("file", metavar="FILE")
def import_command(config_path: str | None, db: str | None, file: str) -> None:
    """Load a Heketi database export (`heketi db export`) into an empty database.

    FILE is the export, or - for stdin. Stop the server first; afterwards run
    `brickyard examine` to compare the database with the nodes."""
    try:
        database = Database.locate(config_path, db, _env())
        dump = import_text(database, read_input(file))
    except MigrationError as exc:
        raise CliError(str(exc)) from None
    for warning in dump.warnings:
        err(f"Warning: {warning}\n")
    emit(dump.summary().text() + "\n")


@click.command("export", short_help="Write the database in Heketi's export format")
@click.option("--config", "config_path", metavar="PATH", help=_CONFIG_HELP)
@click.option("--db", metavar="PATH", help=_DB_HELP)
@click.argument("file", metavar="[FILE]", default="-")
def export_command(config_path: str | None, db: str | None, file: str) -> None:
    """Write the database in Heketi's export format (as GET /db/dump).

    FILE must not exist yet; without it (or with -) the export goes to stdout."""
    try:
        database = Database.locate(config_path, db, _env())
        write_output(file, export_text(database))
    except MigrationError as exc:
        raise CliError(str(exc)) from None

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from brickyard.domain.model import Cluster, Device, EntryState, Node
from brickyard.store.migrate import (
    MIGRATIONS,
    SchemaTooNew,
    UpgradeFailed,
    current_revisions,
    head_revisions,
    migration_engine,
    upgrade,
    upgrade_apart,
)
from brickyard.store.sql import SqlStore
from brickyard.store.tables import metadata
from pg import as_url

# new_database (tests/conftest.py) runs each test on SQLite and on PostgreSQL.


def test_migrations_create_exactly_the_declared_schema(tmp_path: Path, new_database: Any) -> None:
    store = SqlStore(as_url(new_database(tmp_path)))
    upgrade(store.url)
    engine = migration_engine(store.url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []
    store.close()


def test_upgrade_is_idempotent_and_round_trips_entities(tmp_path: Path, new_database: Any) -> None:
    store = SqlStore(as_url(new_database(tmp_path)))
    upgrade(store.url)
    upgrade(store.url)
    with store.write() as tx:
        tx.add(Cluster("c" * 32, block=True, file=True))
        tx.add(Node("n" * 32, "c" * 32, 2, ["m1"], ["10.0.0.1"], {"rack": "a"}))
        tx.add(Device("d" * 32, "n" * 32, "/dev/sdb", 100, 60, 40, tags={"ssd": "y"}))
    with store.read() as tx:
        node = tx.get(Node, "n" * 32)
        device = tx.get(Device, "d" * 32)
        assert node is not None and node.tags == {"rack": "a"} and node.state is EntryState.ONLINE
        assert device is not None and (device.total, device.free, device.used) == (100, 60, 40)
        assert tx.mount_hosts("c" * 32) == ["10.0.0.1"]
        assert tx.node_with_hostname(manage="m1") == node
    store.close()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _alembic_modules_after(
    url: str, steps: str, packages: tuple[str, ...] = ("alembic", "mako")
) -> str:
    """The modules of `packages` (Alembic and Mako) a fresh process holds after `steps` ran on
    a store at `url` (with `upgrade`, `upgrade_apart` and `is_current` imported)."""
    code = (
        "import sys\n"
        "from brickyard.store.migrate import is_current, upgrade, upgrade_apart\n"
        "from brickyard.store.sql import SqlStore\n"
        f"store = SqlStore({url!r})\n"
        f"{steps}"
        "store.close()\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {packages!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    scripts = ScriptDirectory.from_config(_alembic_config())
    assert head_revisions() == frozenset(scripts.get_heads())


def test_a_database_at_an_older_revision_is_upgraded(tmp_path: Path, new_database: Any) -> None:
    store = SqlStore(as_url(new_database(tmp_path)))
    scripts = ScriptDirectory.from_config(_alembic_config())
    older = scripts.get_revision(scripts.get_current_head()).down_revision
    assert isinstance(older, str)
    config = _alembic_config()
    engine = migration_engine(store.url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, older)
    assert current_revisions(store.db) == {older}
    upgrade(store.url)
    assert current_revisions(store.db) == head_revisions()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()
    store.close()


def test_a_current_database_is_opened_without_importing_alembic(tmp_path: Path) -> None:
    """Alembic (10 MiB of the server's memory) is loaded only when there is work for it."""
    url = as_url(str(tmp_path / "heketi.db"))
    store = SqlStore(url)
    upgrade(store.url)
    store.close()
    assert _alembic_modules_after(url, "upgrade(store.url)\n") == "[]"
    # The server's way (upgrade_apart) does not even load SQLAlchemy: its store runs on the
    # driver (store.db), and a current schema needs no migration child.
    assert _alembic_modules_after(url, "upgrade_apart(store.url)\n", ("sqlalchemy",)) == "[]"


@pytest.mark.parametrize("upgrader", [upgrade, upgrade_apart], ids=["in-process", "child"])
def test_a_newer_revision_is_still_refused(
    tmp_path: Path, new_database: Any, upgrader: Callable[[str], None]
) -> None:
    """In the process (`brickyard migrate`) and in the child `brickyard serve` starts alike."""
    store = SqlStore(as_url(new_database(tmp_path)))
    upgrade(store.url)
    with store.db.connection() as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999'")
    with pytest.raises(SchemaTooNew, match="0999, newer than this version's"):
        upgrader(store.url)
    assert current_revisions(store.db) == {"0999"}
    store.close()


def test_the_server_upgrades_in_a_child_and_never_loads_alembic(
    tmp_path: Path, new_database: Any
) -> None:
    """`brickyard serve` migrates a new database in a child process: the schema is the
    newest, and the server's own process holds no Alembic or Mako."""
    url = as_url(new_database(tmp_path))
    steps = (
        "assert not is_current(store.url)\nupgrade_apart(store.url)\nassert is_current(store.url)\n"
    )
    assert _alembic_modules_after(url, steps, ("alembic", "mako", "sqlalchemy")) == "[]"
    store = SqlStore(url)
    assert current_revisions(store.db) == head_revisions()
    store.close()


def test_a_failed_child_upgrade_says_why(tmp_path: Path) -> None:
    """An upgrade the child cannot finish (here the next revision's table is already there) is
    an error with the database's reason, not a silent start on an old schema."""
    store = SqlStore(as_url(str(tmp_path / "heketi.db")))
    config = _alembic_config()
    engine = migration_engine(store.url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0006")
        conn.execute(text("CREATE TABLE servers (id TEXT)"))
    engine.dispose()
    with pytest.raises(UpgradeFailed, match="table servers already exists"):
        upgrade_apart(store.url)
    assert current_revisions(store.db) == {"0006"}
    store.close()

"""The server runs its store on the database driver (store/db.py): a server on SQLite that
creates, expands, lists, checks and deletes volumes never loads SQLAlchemy, Alembic or
psycopg (issue #14: SQLAlchemy alone was 13.8 MiB of the server's memory). Run in a fresh
process: the tests themselves use SQLAlchemy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_SCRIPT = """
import asyncio, json, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from integration.conftest import Harness
from brickyard.store.migrate import upgrade_apart
from brickyard.store.sql import sqlite_url

async def main() -> None:
    # What `brickyard serve` does: a new database is migrated in a child process.
    upgrade_apart(sqlite_url(str(Path({db_dir!r}) / "heketi.db")))
    h = Harness.open(Path({db_dir!r}))
    topo = await h.build_topology(nodes=3, devices_per_node=2)
    volume = await h.create_volume(size=2)
    await h.expand_volume(volume["id"], 1)
    for path in ("/volumes", "/clusters", f"/nodes/{{topo.nodes[0]}}", "/db/check",
                 "/operations", "/internal/state/examine", "/backup/db"):
        r = await h.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text)
    await h.delete_volume(volume["id"])
    await h.assert_consistent()
    await h.close()
    h.server.store.close()

asyncio.run(main())
print(json.dumps(sorted(m for m in sys.modules
                        if m.split(".")[0] in ("sqlalchemy", "alembic", "mako", "psycopg"))))
"""


def test_a_server_on_sqlite_never_loads_sqlalchemy(tmp_path: Path) -> None:
    tests = str(Path(__file__).resolve().parents[1])
    code = _SCRIPT.format(tests=tests, db_dir=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []

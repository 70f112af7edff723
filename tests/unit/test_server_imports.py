"""What the server's entry point does not load at start, to keep its memory small (issue #14):
each is imported where it is used (the `heketi db import/export` subcommands, the kube
transport, the first /metrics scrape, a schema upgrade)."""

from __future__ import annotations

import json
import subprocess
import sys

NOT_AT_START = (
    "alembic",  # only when a schema upgrade is needed (store/migrate.py)
    "mako",
    "sqlalchemy",  # the migrations only: the store runs on the driver (store/db.py)
    "psycopg",  # PostgreSQL stores only
    "brickyard.cli.commands_migrate",  # heketi db import/export
    "brickyard.heketidb.importer",
    "brickyard.client",  # the CLI's client, and with it jwt and cryptography
    "jwt",
    "cryptography",
    "httpx",  # the kube transport only
    "websockets",
    "brickyard.nodes.kube",
    "asyncssh",  # the ssh transport only
    "prometheus_client",  # the first GET /metrics
    "brickyard.api.metrics",
    "brickyard.api.brickyard_metrics",
    "pydantic",  # not used at all: the configuration is plain dataclasses (config.py)
    "pydantic_core",
)


def test_the_server_entry_point_loads_no_optional_module() -> None:
    code = (
        "import json, sys\n"
        "import brickyard.cli.heketi_server\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(done.stdout)
    found = sorted(
        m for m in loaded for name in NOT_AT_START if m == name or m.startswith(name + ".")
    )
    assert found == []

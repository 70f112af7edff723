"""Moving from Heketi: `brickyard import` / `brickyard export` and Heketi's own
`heketi db import` / `heketi db export`.

* A state built through the API on the simulator survives export -> import -> export byte for
  byte, and the imported server answers every read exactly as the original.
* A dump in Heketi 10's own format (no Backend, SetIndex or Position; LvmThinPool/LvmLv,
  dbattributeentries, an empty blockvolumeentries, a `null` option list) is imported with its ids,
  sizes, states and tags, and its brick sets are derived.
* Bad input is refused with a message naming the place in the dump, and the database is left
  exactly as it was (its export before and after are equal).
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect

from brickyard.cli import heketi_server
from brickyard.cli import main as brickyard_main
from brickyard.domain.model import Brick, BrickSubType, Device, EntryState, Node, PendingOperation
from brickyard.heketidb.export import dump_database
from brickyard.heketidb.importer import load_dump, parse_dump
from brickyard.store.migrate import upgrade
from brickyard.store.sql import SqlStore, Transaction
from pg import PgServer, as_url

from .conftest import DatabaseFactory, Harness, HarnessFactory, Topology

R3 = {"type": "replicate", "replicate": {"replica": 3}}

# ------------------------------------------------------------------------------------------------
# A Heketi 10 export, as `heketi db export` writes it (struct order, Go field names). Only the
# ids are abbreviated as @NAME@ to keep the lines short; IDS spells them out.

IDS = {
    "C": "c1" * 16,
    "N1": "a1" * 16,
    "N2": "a2" * 16,
    "N3": "a3" * 16,
    "D1": "d1" * 16,
    "D2": "d2" * 16,
    "D3": "d3" * 16,
    "D4": "d4" * 16,
    "V1": "e1" * 16,
    "V2": "e2" * 16,
    "V3": "e3" * 16,
    **{f"B{i}": f"b{i}" * 16 for i in range(1, 10)},
    "BA": "ba" * 16,
    "OP": "0f" * 16,
    "TP8": "71" * 16,  # Heketi does not always name a brick's pool after the brick
}

HEKETI_EXPORT = """{
    "clusterentries": {
        "@C@": {
            "Info": {
                "id": "@C@",
                "nodes": ["@N1@", "@N2@", "@N3@"],
                "volumes": ["@V1@", "@V2@", "@V3@"],
                "block": true,
                "file": true,
                "blockvolumes": []
            }
        }
    },
    "volumeentries": {
        "@V1@": {
            "Info": {
                "size": 2,
                "name": "vol_@V1@",
                "durability": {"type": "replicate", "replicate": {"replica": 3}, "disperse": {}},
                "gid": 2001,
                "snapshot": {"enable": false, "factor": 1},
                "id": "@V1@",
                "cluster": "@C@",
                "mount": {
                    "glusterfs": {
                        "hosts": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
                        "device": "10.0.0.1:vol_@V1@",
                        "options": {"backup-volfile-servers": "10.0.0.2,10.0.0.3"}
                    }
                },
                "blockinfo": {}
            },
            "Bricks": ["@B1@", "@B2@", "@B3@", "@B4@", "@B5@", "@B6@"],
            "GlusterVolumeOptions": null,
            "Pending": {"Id": ""}
        },
        "@V2@": {
            "Info": {
                "size": 1,
                "name": "arbitrated",
                "durability": {"type": "replicate", "replicate": {"replica": 3}, "disperse": {}},
                "snapshot": {"enable": true, "factor": 1.5},
                "id": "@V2@",
                "cluster": "@C@",
                "mount": {
                    "glusterfs": {
                        "hosts": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
                        "device": "10.0.0.1:arbitrated",
                        "options": {"backup-volfile-servers": "10.0.0.2,10.0.0.3"}
                    }
                },
                "blockinfo": {}
            },
            "Bricks": ["@B7@", "@B8@", "@B9@"],
            "GlusterVolumeOptions": ["user.heketi.arbiter true"],
            "Pending": {"Id": ""}
        },
        "@V3@": {
            "Info": {
                "size": 1,
                "name": "vol_@V3@",
                "durability": {"type": "none", "replicate": {}, "disperse": {}},
                "snapshot": {"enable": false, "factor": 1},
                "id": "@V3@",
                "cluster": "@C@",
                "mount": {
                    "glusterfs": {
                        "hosts": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
                        "device": "10.0.0.1:vol_@V3@",
                        "options": {"backup-volfile-servers": "10.0.0.2,10.0.0.3"}
                    }
                },
                "blockinfo": {}
            },
            "Bricks": ["@BA@"],
            "GlusterVolumeOptions": [],
            "Pending": {"Id": "@OP@"}
        }
    },
    "brickentries": {
        "@B1@": {
            "Info": {"id": "@B1@", "path": "/var/lib/heketi/mounts/vg_@D1@/brick_@B1@/brick",
                     "device": "@D1@", "node": "@N1@", "volume": "@V1@", "size": 1048576},
            "TpSize": 1048576, "PoolMetadataSize": 8192, "Pending": {"Id": ""},
            "LvmThinPool": "tp_@B1@", "LvmLv": "", "SubType": 1
        },
        "@B2@": {
            "Info": {"id": "@B2@", "path": "/var/lib/heketi/mounts/vg_@D1@/brick_@B2@/brick",
                     "device": "@D1@", "node": "@N1@", "volume": "@V1@", "size": 1048576},
            "TpSize": 1048576, "PoolMetadataSize": 8192, "Pending": {"Id": ""},
            "LvmThinPool": "tp_@B2@", "LvmLv": "", "SubType": 1
        },
        "@B3@": {
            "Info": {"id": "@B3@", "path": "/var/lib/heketi/mounts/vg_@D2@/brick_@B3@/brick",
                     "device": "@D2@", "node": "@N2@", "volume": "@V1@", "size": 1048576},
            "TpSize": 1048576, "PoolMetadataSize": 8192, "Pending": {"Id": ""},
            "LvmThinPool": "tp_@B3@", "LvmLv": "", "SubType": 1
        },
        "@B4@": {
            "Info": {"id": "@B4@", "path": "/var/lib/heketi/mounts/vg_@D2@/brick_@B4@/brick",
                     "device": "@D2@", "node": "@N2@", "volume": "@V1@", "size": 1048576},
            "TpSize": 1048576, "PoolMetadataSize": 8192, "Pending": {"Id": ""},
            "LvmThinPool": "tp_@B4@", "LvmLv": "", "SubType": 1
        },
        "@B5@": {
            "Info": {"id": "@B5@", "path": "/var/lib/heketi/mounts/vg_@D3@/brick_@B5@/brick",
                     "device": "@D3@", "node": "@N3@", "volume": "@V1@", "size": 1048576},
            "TpSize": 1048576, "PoolMetadataSize": 8192, "Pending": {"Id": ""},
            "LvmThinPool": "tp_@B5@", "LvmLv": "", "SubType": 1
        },
        "@B6@": {
            "Info": {"id": "@B6@", "path": "/var/lib/heketi/mounts/vg_@D3@/brick_@B6@/brick",
                     "device": "@D3@", "node": "@N3@", "volume": "@V1@", "size": 1048576},
            "TpSize": 1048576, "PoolMetadataSize": 8192, "Pending": {"Id": ""},
            "LvmThinPool": "tp_@B6@", "LvmLv": "", "SubType": 1
        },
        "@B7@": {
            "Info": {"id": "@B7@", "path": "/var/lib/heketi/mounts/vg_@D1@/brick_@B7@/brick",
                     "device": "@D1@", "node": "@N1@", "volume": "@V2@", "size": 65536},
            "TpSize": 98304, "PoolMetadataSize": 4096, "Pending": {"Id": ""},
            "LvmThinPool": "tp_@B7@", "LvmLv": "", "SubType": 2
        },
        "@B8@": {
            "Info": {"id": "@B8@", "path": "/var/lib/heketi/mounts/vg_@D2@/brick_@B8@/brick",
                     "device": "@D2@", "node": "@N2@", "volume": "@V2@", "size": 1048576},
            "TpSize": 1572864, "PoolMetadataSize": 8192, "Pending": {"Id": ""},
            "LvmThinPool": "tp_@TP8@", "LvmLv": "", "SubType": 1
        },
        "@B9@": {
            "Info": {"id": "@B9@", "path": "/var/lib/heketi/mounts/vg_@D3@/brick_@B9@/brick",
                     "device": "@D3@", "node": "@N3@", "volume": "@V2@", "size": 1048576},
            "TpSize": 1572864, "PoolMetadataSize": 8192, "Pending": {"Id": ""},
            "LvmThinPool": "tp_@B9@", "LvmLv": "", "SubType": 1
        },
        "@BA@": {
            "Info": {"id": "@BA@", "path": "/var/lib/heketi/mounts/vg_@D1@/brick_@BA@/brick",
                     "device": "@D1@", "node": "@N1@", "volume": "@V3@", "size": 1048576},
            "TpSize": 1048576, "PoolMetadataSize": 8192, "Pending": {"Id": "@OP@"},
            "LvmThinPool": "tp_@BA@", "LvmLv": "", "SubType": 1
        }
    },
    "nodeentries": {
        "@N1@": {
            "State": "online",
            "Info": {
                "zone": 1,
                "hostnames": {"manage": ["node1.example.com"], "storage": ["10.0.0.1"]},
                "cluster": "@C@",
                "tags": {"rack": "r1"},
                "id": "@N1@"
            },
            "Devices": ["@D1@"]
        },
        "@N2@": {
            "State": "online",
            "Info": {
                "zone": 2,
                "hostnames": {"manage": ["node2.example.com"], "storage": ["10.0.0.2"]},
                "cluster": "@C@",
                "id": "@N2@"
            },
            "Devices": ["@D2@"]
        },
        "@N3@": {
            "State": "offline",
            "Info": {
                "zone": 3,
                "hostnames": {"manage": ["node3.example.com"], "storage": ["10.0.0.3"]},
                "cluster": "@C@",
                "id": "@N3@"
            },
            "Devices": ["@D3@", "@D4@"]
        }
    },
    "deviceentries": {
        "@D1@": {
            "State": "online",
            "Info": {
                "name": "/dev/sdb",
                "storage": {"total": 524288000, "free": 521015296, "used": 3272704},
                "id": "@D1@",
                "paths": ["/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "/dev/sdb"],
                "pv_uuid": "hv8bXr-HcCl-oT3r-Wq1d-0zPZ-Zr3N-8fUQ2c"
            },
            "Bricks": ["@B1@", "@B2@", "@B7@", "@BA@"],
            "NodeId": "@N1@",
            "ExtentSize": 4096
        },
        "@D2@": {
            "State": "online",
            "Info": {
                "name": "/dev/sdb",
                "tags": {"ssd": "yes"},
                "storage": {"total": 524288000, "free": 520593408, "used": 3694592},
                "id": "@D2@"
            },
            "Bricks": ["@B3@", "@B4@", "@B8@"],
            "NodeId": "@N2@",
            "ExtentSize": 4096
        },
        "@D3@": {
            "State": "online",
            "Info": {
                "name": "/dev/sdb",
                "storage": {"total": 524288000, "free": 520593408, "used": 3694592},
                "id": "@D3@"
            },
            "Bricks": ["@B5@", "@B6@", "@B9@"],
            "NodeId": "@N3@",
            "ExtentSize": 4096
        },
        "@D4@": {
            "State": "offline",
            "Info": {
                "name": "/dev/sdc",
                "storage": {"total": 262144000, "free": 262144000, "used": 0},
                "id": "@D4@"
            },
            "Bricks": [],
            "NodeId": "@N3@",
            "ExtentSize": 8192
        }
    },
    "blockvolumeentries": {},
    "dbattributeentries": {
        "DB_BRICK_HAS_SUBTYPE_FIELD": {"Key": "DB_BRICK_HAS_SUBTYPE_FIELD", "Value": "yes"},
        "DB_CLUSTER_HAS_FILE_BLOCK_FLAG": {"Key": "DB_CLUSTER_HAS_FILE_BLOCK_FLAG", "Value": "yes"},
        "DB_DEVICE_HAS_ID_META": {"Key": "DB_DEVICE_HAS_ID_META", "Value": "yes"},
        "DB_GENERATION_ID": {
            "Key": "DB_GENERATION_ID",
            "Value": "5c1f9a3e0d2b4c6a8e7f1b2d3c4a5e6f"
        },
        "DB_HAS_PENDING_OPS_BUCKET": {"Key": "DB_HAS_PENDING_OPS_BUCKET", "Value": "yes"}
    },
    "pendingoperations": {
        "@OP@": {
            "Id": "@OP@",
            "Timestamp": 1700000000,
            "Type": 1,
            "Actions": [
                {"Change": 2, "Id": "@V3@", "Delta": null},
                {"Change": 1, "Id": "@BA@", "Delta": null}
            ],
            "Status": ""
        }
    }
}
"""


def heketi_text() -> str:
    text = HEKETI_EXPORT
    for name, value in IDS.items():
        text = text.replace(f"@{name}@", value)
    assert "@" not in text
    return text


def heketi_dump() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(heketi_text())
    return data


# ------------------------------------------------------------------------------------------------
# Helpers


@dataclass
class Result:
    code: int
    out: str
    err: str


def brickyard(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> Result:
    """`brickyard ARGV` in-process, the way the console script runs it."""
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdin", io.StringIO(stdin))
        code = brickyard_main.main(list(argv), env={})
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def heketi(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """`heketi ARGV` in-process (click exits with the status in standalone mode)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        heketi_server.main(list(argv))
    captured = capsys.readouterr()
    code = exited.value.code
    return Result(code if isinstance(code, int) else 1, captured.out, captured.err)


def open_store(db: str) -> SqlStore:
    """`db` as glusterfs.db and --db name it: an SQLite path or a URL."""
    store = SqlStore(as_url(db))
    upgrade(store.url)
    return store


def export_of(db: str) -> dict[str, Any]:
    store = open_store(db)
    try:
        return dump_database(store)
    finally:
        store.close()


def untouched(db: str) -> bool:
    """Nothing was created: no SQLite file, or (PostgreSQL, where the test made the database
    itself) not one table."""
    if "://" not in db:
        return not Path(db).exists()
    engine = create_engine(db)
    try:
        return inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def db_of(h: Harness) -> str:
    """A harness's database as --db names it: the SQLite file's path, or the URL."""
    url: str = h.server.store.url
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=4))
    return path


# Every test given a database (`new_db`, `populated`, the harness) runs on SQLite and on
# PostgreSQL; the few with none (refused before a database would be opened) run once.


@pytest.fixture
def harness_database(new_database: DatabaseFactory) -> DatabaseFactory:
    return new_database


NewDb = Callable[[str], str]


@pytest.fixture
def new_db(tmp_path: Path, new_database: DatabaseFactory) -> NewDb:
    """`new_db(name)`: a fresh, empty database of the kind under test (an SQLite file not
    created yet in tmp_path/name, or a new PostgreSQL database); returns it as --db names it."""

    def make(name: str) -> str:
        directory = tmp_path / name
        directory.mkdir()
        return new_database(directory)

    return make


@pytest.fixture
def populated(new_db: NewDb) -> str:
    """A database holding the Heketi export above."""
    db = new_db("populated")
    store = open_store(db)
    try:
        load_dump(store, parse_dump(heketi_dump()))
    finally:
        store.close()
    return db


@pytest.fixture
def opened() -> Iterator[list[Harness]]:
    """Harnesses a test opens on its own database files; closed at the end."""
    harnesses: list[Harness] = []
    yield harnesses
    for h in harnesses:
        h.server.store.close()


# ------------------------------------------------------------------------------------------------
# Round trip of a state built through the API


async def build_state(h: Harness) -> Topology:
    """Replicated (two sets, gid, snapshot factor), arbiter, disperse, a clone, tags, an offline
    device, and an operation that failed and stays journaled."""
    topo = await h.build_topology(nodes=3, devices_per_node=2)
    for path, tags in (
        (f"/nodes/{topo.nodes[0]}/tags", {"rack": "r1"}),
        (f"/devices/{topo.devices[1]}/tags", {"ssd": "yes"}),
    ):
        assert (await h.post(path, {"change_type": "set", "tags": tags})).status_code == 200
    data = await h.create_volume(
        size=1, name="data", durability=R3, gid=2001, snapshot={"enable": True, "factor": 1.5}
    )
    await h.expand_volume(data["id"], 1)
    await h.create_volume(size=1, durability=R3, glustervolumeoptions=["user.heketi.arbiter true"])
    await h.create_volume(
        size=2, durability={"type": "disperse", "disperse": {"data": 2, "redundancy": 1}}
    )
    await h.ok_303(await h.post(f"/volumes/{data['id']}/clone", {"name": "data_clone"}), "/volumes")
    doomed = await h.create_volume(size=1, durability=R3)
    # Twice: the delete retries a brick destroy once as it rolls forward.
    h.world.fail(topo.manage[topo.nodes[1]], "brick_destroy", times=2)
    await h.failed(await h.delete(f"/volumes/{doomed['id']}"))
    await h.ok_204(await h.post(f"/devices/{topo.devices[2]}/state", {"state": "offline"}))
    return topo


async def api_view(h: Harness) -> dict[str, Any]:
    """Everything a client can read, keyed by path."""
    paths = [
        "/topology",
        "/clusters",
        "/volumes",
        "/operations",
        "/operations/pending",
        "/db/check",
    ]
    view = {p: await h.get_json(p) for p in paths}
    for cluster in view["/clusters"]["clusters"]:
        view[f"/clusters/{cluster}"] = await h.get_json(f"/clusters/{cluster}")
    for volume in view["/volumes"]["volumes"]:
        view[f"/volumes/{volume}"] = await h.get_json(f"/volumes/{volume}")
    for cluster in view["/topology"]["clusters"]:
        for node in cluster["nodes"]:
            view[f"/nodes/{node['id']}"] = await h.get_json(f"/nodes/{node['id']}")
            for device in node["devices"]:
                view[f"/devices/{device['id']}"] = await h.get_json(f"/devices/{device['id']}")
    return view


async def test_round_trip_export_import_export_is_identical(
    make_harness: HarnessFactory,
    new_db: NewDb,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    opened: list[Harness],
) -> None:
    original = await make_harness()
    await build_state(original)
    exported = dump_database(original.server.store)
    assert exported["pendingoperations"], "the state should hold a journaled operation"
    assert any(
        b["Info"]["path"].startswith("/run/gluster/snaps/")
        for b in exported["brickentries"].values()
    )
    export_file = tmp_path / "brickyard.json"
    assert brickyard(capsys, "export", "--db", db_of(original), str(export_file)).code == 0
    assert json.loads(export_file.read_text()) == exported

    target = new_db("copy")
    result = brickyard(capsys, "import", "--db", target, str(export_file))
    assert result.code == 0, result.err
    counts = [len(exported[s]) for s in ("volumeentries", "brickentries", "pendingoperations")]
    assert counts[2] == 1
    assert result.out == (
        f"Imported 1 cluster, 3 nodes, 6 devices, {counts[0]} volumes, {counts[1]} bricks, "
        "1 pending operation\n"
    )
    assert result.err == ""  # Brickyard's export says where each brick is: nothing to guess

    again = brickyard(capsys, "export", "--db", target)
    assert again.code == 0
    assert again.out == export_file.read_text()

    copy_server = Harness.open(tmp_path / "copy", db=target)
    opened.append(copy_server)
    assert await api_view(copy_server) == await api_view(original)
    await copy_server.client.aclose()


@pytest.mark.parametrize("source_kind", ["sqlite", "postgresql"])
async def test_a_database_moves_between_sqlite_and_postgresql(
    source_kind: str,
    postgres: PgServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    opened: list[Harness],
) -> None:
    """`brickyard export` from one kind, `brickyard import` into the other: the copy answers
    every read exactly as the original, and exports the same file."""
    sqlite_db, pg_db = str(tmp_path / "moved.db"), postgres.new_database()
    source, target = (sqlite_db, pg_db) if source_kind == "sqlite" else (pg_db, sqlite_db)
    (tmp_path / "source").mkdir()
    original = Harness.open(tmp_path / "source", db=source)
    opened.append(original)
    await build_state(original)
    export_file = tmp_path / "moved.json"
    assert brickyard(capsys, "export", "--db", source, str(export_file)).code == 0
    imported = brickyard(capsys, "import", "--db", target, str(export_file))
    assert imported.code == 0, imported.err
    again = brickyard(capsys, "export", "--db", target)
    assert again.code == 0 and again.out == export_file.read_text()
    (tmp_path / "target").mkdir()
    moved = Harness.open(tmp_path / "target", db=target)
    opened.append(moved)
    assert await api_view(moved) == await api_view(original)
    await moved.client.aclose()
    await original.client.aclose()


# ------------------------------------------------------------------------------------------------
# A real Heketi export


def test_heketi_export_is_imported_with_its_ids_and_values(
    tmp_path: Path, new_db: NewDb, capsys: pytest.CaptureFixture[str]
) -> None:
    export_file = tmp_path / "heketi.json.dump"
    export_file.write_text(heketi_text())
    db = new_db("db")
    result = brickyard(capsys, "import", "--db", db, str(export_file))
    assert result.code == 0, result.err
    assert result.out == (
        "Imported 1 cluster, 3 nodes, 4 devices, 3 volumes, 10 bricks, 1 pending operation\n"
    )
    # V1 has two sets of three: which bricks share a set is not in a Heketi export.
    assert f"Warning: volume vol_{IDS['V1']} ({IDS['V1']}): 6 bricks in sets of 3" in result.err
    assert IDS["V2"] not in result.err

    store = open_store(db)
    try:
        with store.read() as tx:
            n1 = tx.get(Node, IDS["N1"])
            n3 = tx.get(Node, IDS["N3"])
            d1 = tx.get(Device, IDS["D1"])
            d4 = tx.get(Device, IDS["D4"])
            bricks = {b.id: b for b in tx.all(Brick)}
            op = tx.get(PendingOperation, IDS["OP"])
            attributes = tx.attributes()
        exported = dump_database(store)
    finally:
        store.close()
    assert n1 is not None and n3 is not None and d1 is not None and d4 is not None
    assert (n1.zone, n1.manage_hostnames, n1.storage_hostnames, n1.tags, n1.state) == (
        1,
        ["node1.example.com"],
        ["10.0.0.1"],
        {"rack": "r1"},
        EntryState.ONLINE,
    )
    assert n3.state is EntryState.OFFLINE
    assert (d1.total, d1.free, d1.used, d1.extent_size, d1.backend) == (
        524288000,
        521015296,
        3272704,
        4096,
        "lvm",
    )
    assert d1.paths == ["/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "/dev/sdb"]
    assert d1.pv_uuid == "hv8bXr-HcCl-oT3r-Wq1d-0zPZ-Zr3N-8fUQ2c"
    assert (d4.state, d4.node_id, d4.extent_size, d4.name) == (
        EntryState.OFFLINE,
        IDS["N3"],
        8192,
        "/dev/sdc",
    )
    arbiter = bricks[IDS["B7"]]
    assert (arbiter.tp_size, arbiter.pool_metadata_size, arbiter.subtype) == (
        98304,
        4096,
        BrickSubType.ARBITER,
    )
    assert bricks[IDS["BA"]].pending_op_id == IDS["OP"]
    # Every later command on a brick uses the pool Heketi recorded, whatever its name.
    assert (bricks[IDS["B8"]].thin_pool, bricks[IDS["B8"]].lv) == (
        f"tp_{IDS['TP8']}",
        f"brick_{IDS['B8']}",
    )
    assert bricks[IDS["B1"]].thin_pool == f"tp_{IDS['B1']}"
    assert op is not None and op.status == "" and op.timestamp == 1700000000
    assert [(int(c.change), c.id) for c in op.changes] == [(2, IDS["V3"]), (1, IDS["BA"])]
    assert attributes["DB_GENERATION_ID"] == "5c1f9a3e0d2b4c6a8e7f1b2d3c4a5e6f"
    assert len(attributes) == 5

    # Brick sets: the arbiter last in its set; V1's six bricks in two sets, each on 3 nodes
    # (the export lists them by id: b1, b2 on node 1, b3, b4 on node 2, ...).
    v2 = sorted((b.position, b.id) for b in bricks.values() if b.volume_id == IDS["V2"])
    assert [i for _, i in v2] == [IDS["B8"], IDS["B9"], IDS["B7"]]
    sets: dict[int, set[str]] = {}
    for b in bricks.values():
        if b.volume_id == IDS["V1"]:
            sets.setdefault(b.set_index, set()).add(b.node_id)
    assert sets == {0: {IDS["N1"], IDS["N2"], IDS["N3"]}, 1: {IDS["N1"], IDS["N2"], IDS["N3"]}}

    # Brickyard's export of it: Heketi's format plus Backend, SetIndex and Position; the rest
    # as Heketi wrote it, but for what GET /db/dump renders its own way: a null option list
    # is empty, the options show in Info too (as in volume info), a null Delta is 0.
    original = heketi_dump()
    original["volumeentries"][IDS["V1"]]["GlusterVolumeOptions"] = []
    v2_info = original["volumeentries"][IDS["V2"]]["Info"]
    v2_info["glustervolumeoptions"] = ["user.heketi.arbiter true"]
    for action in original["pendingoperations"][IDS["OP"]]["Actions"]:
        action["Delta"] = 0
    for op_entry in original["pendingoperations"].values():
        for action in op_entry["Actions"]:
            action["Delta"] = action["Delta"] or 0  # a null delta reads as 0
    for entry in exported["deviceentries"].values():
        assert entry.pop("Backend") == "lvm"
    for entry in exported["brickentries"].values():
        del entry["SetIndex"], entry["Position"]
    # Brickyard keeps one option list per volume: its Info shows it even where Heketi's Info
    # left the (omitempty) field out.
    for entry in original["volumeentries"].values():
        if entry["GlusterVolumeOptions"]:
            entry["Info"].setdefault("glustervolumeoptions", entry["GlusterVolumeOptions"])
    assert exported == original


async def test_imported_heketi_state_reads_as_heketi_showed_it(
    tmp_path: Path, new_db: NewDb, opened: list[Harness]
) -> None:
    db = new_db("srv")
    store = open_store(db)
    load_dump(store, parse_dump(heketi_dump()))
    store.close()
    h = Harness.open(tmp_path / "srv", db=db)
    opened.append(h)
    assert await h.get_json("/volumes") == {"volumes": sorted([IDS["V1"], IDS["V2"]])}
    assert (await h.get(f"/volumes/{IDS['V3']}")).status_code == 404  # pending: hidden
    v1 = await h.get_json(f"/volumes/{IDS['V1']}")
    assert v1["mount"]["glusterfs"]["device"] == f"10.0.0.1:vol_{IDS['V1']}"
    assert (v1["gid"], v1["size"], len(v1["bricks"])) == (2001, 2, 6)
    pending = await h.get_json("/operations/pending")
    assert pending["pendingoperations"] == [
        {"id": IDS["OP"], "type_name": "create-volume", "status": "stale", "sub_status": ""}
    ]
    check = await h.get_json("/db/check")
    assert check["totalinconsistencies"] == 0, check
    await h.client.aclose()


def test_drift_is_imported_as_it_is_and_reported_by_db_check(
    tmp_path: Path, new_db: NewDb, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = heketi_dump()
    storage = dump["deviceentries"][IDS["D2"]]["Info"]["storage"]
    storage["used"] += 4096  # used no longer adds up, neither with free nor with the bricks
    db = new_db("drift")
    result = brickyard(capsys, "import", "--db", db, str(write_json(tmp_path / "d.json", dump)))
    assert result.code == 0, result.err
    from brickyard.heketidb.check import check_database

    store = open_store(db)
    try:
        problems = check_database(store)["devices"]["inconsistencies"]
    finally:
        store.close()
    assert len(problems) == 2 and all(IDS["D2"] in p for p in problems), problems


# ------------------------------------------------------------------------------------------------
# Bad input: refused, database unchanged


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """Set a field at a dotted path (ids as @NAME@)."""

    def mutate(dump: dict[str, Any]) -> None:
        *parents, last = [IDS.get(p.strip("@"), p) for p in path.split(".")]
        target = dump
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


def _delete(section: str) -> Mutation:
    return lambda dump: dump.pop(section)


def _rekey_device_as_node(dump: dict[str, Any]) -> None:
    entry = dump["deviceentries"].pop(IDS["D4"])
    entry["Info"]["id"] = IDS["N2"]
    dump["deviceentries"][IDS["N2"]] = entry
    dump["nodeentries"][IDS["N3"]]["Devices"] = [IDS["D3"], IDS["N2"]]


def _add_block_volume(dump: dict[str, Any]) -> None:
    """A block volume on V1 that V1's blockinfo (and the cluster) do not list."""
    info = {"size": 1, "name": "bv", "id": "f1" * 16, "cluster": IDS["C"]}
    info["blockhostingvolume"] = IDS["V1"]
    dump["blockvolumeentries"] = {"f1" * 16: {"Info": info, "Pending": {"Id": ""}}}
    dump["clusterentries"][IDS["C"]]["Info"]["blockvolumes"] = ["f1" * 16]


BAD_DUMPS: dict[str, tuple[Mutation, str]] = {
    "missing section": (_delete("nodeentries"), "nodeentries: missing section"),
    "unknown field": (
        _set("volumeentries.@V1@.Info.foo", 1),
        f"volumeentries.{IDS['V1']}.Info.foo: unknown field",
    ),
    "bad id": (
        _set("deviceentries.@D4@.NodeId", "node-3"),
        f"deviceentries.{IDS['D4']}.NodeId: 'node-3' is not a valid id (32 hexadecimal digits)",
    ),
    "colliding ids": (_rekey_device_as_node, f"id {IDS['N2']}: used by both a node and a device"),
    "brick on a missing device": (
        _set("brickentries.@B1@.Info.device", "dd" * 16),
        f"brickentries.{IDS['B1']}.Info.device: device {'dd' * 16} is not in deviceentries",
    ),
    "device listed by another node": (
        _set("deviceentries.@D4@.NodeId", IDS["N1"]),
        f"nodeentries.{IDS['N3']}.Devices: lists device {IDS['D4']}, which belongs to node "
        f"{IDS['N1']}",
    ),
    "duplicate hostname": (
        _set("nodeentries.@N2@.Info.hostnames.manage", ["node1.example.com"]),
        "manage hostname node1.example.com is used by two nodes",
    ),
    "wrong type": (
        _set("nodeentries.@N1@.Info.zone", "1"),
        f"nodeentries.{IDS['N1']}.Info.zone: expected an integer, got a string",
    ),
    "LVM name a node would not take": (
        _set("brickentries.@B1@.LvmThinPool", "-rf"),
        f"brickentries.{IDS['B1']}.LvmThinPool: '-rf' is not a valid LVM name",
    ),
    "block volume its hosting volume does not list": (
        _add_block_volume,
        f"blockvolumeentries.{'f1' * 16}.Info.blockhostingvolume: volume {IDS['V1']} does not "
        "list this block volume",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_DUMPS))
def test_bad_dump_is_refused_and_the_database_unchanged(
    case: str, tmp_path: Path, populated: str, new_db: NewDb, capsys: pytest.CaptureFixture[str]
) -> None:
    mutate, expected = BAD_DUMPS[case]
    dump = heketi_dump()
    mutate(dump)
    fresh = new_db("fresh")
    before = export_of(populated)
    for target in (populated, fresh):
        result = brickyard(capsys, "import", "--db", target, str(write_json(tmp_path / "x", dump)))
        assert result.code == 255
        assert result.out == ""
        assert result.err.startswith("Error: nothing was imported: ")
        assert expected in result.err, result.err
    assert export_of(populated) == before
    assert untouched(fresh)  # the dump is checked before a database is opened


BAD_TEXTS = {
    "truncated": (lambda: heketi_text()[:2000], "(the file ends early: is it truncated?)"),
    "not JSON": (
        lambda: "clusterentries: {}\n",
        "not valid JSON: Expecting value at line 1 column 1",
    ),
    "a list": (lambda: "[]", "the dump must be a JSON object with the sections"),
    "empty": (lambda: "  \n", "the file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_TEXTS))
def test_unreadable_file_is_refused_and_the_database_unchanged(
    case: str, populated: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = BAD_TEXTS[case]
    before = export_of(populated)
    result = brickyard(capsys, "import", "--db", populated, "-", stdin=text())
    assert result.code == 255
    assert expected in result.err, result.err
    assert export_of(populated) == before


def test_truncated_file_names_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Refused while parsing, before any database is opened: SQLite only.
    text = heketi_text()
    cut = text[: text.index('"nodeentries"')]
    result = brickyard(capsys, "import", "--db", str(tmp_path / "t.db"), "-", stdin=cut)
    line = cut.count("\n") + 1
    assert f"at line {line} column" in result.err, result.err


def test_import_into_a_non_empty_database_is_refused(
    populated: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = export_of(populated)
    other = heketi_dump()
    result = brickyard(capsys, "import", "--db", populated, str(write_json(tmp_path / "o", other)))
    assert result.code == 255
    assert result.err == (
        "Error: nothing was imported: the database already holds 1 cluster, 3 nodes, "
        "4 devices, 3 volumes, 10 bricks, 1 pending operation, 5 db attributes; "
        "import only into an empty database\n"
    )
    assert export_of(populated) == before


def test_a_failure_while_loading_leaves_nothing(
    new_db: NewDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everything is written in one transaction: a failure at the very end rolls back all."""
    store = open_store(new_db("t"))

    def broken(self: Transaction, key: str, value: str) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Transaction, "set_attribute", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        load_dump(store, parse_dump(heketi_dump()))
    after = dump_database(store)
    store.close()
    assert all(after[section] == {} for section in after), after


def test_several_problems_are_reported_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Refused while checking the dump, before any database is opened: SQLite only.
    dump = heketi_dump()
    _set("volumeentries.@V1@.Info.foo", 1)(dump)
    _set("nodeentries.@N1@.Info.zone", -1)(dump)
    result = brickyard(
        capsys, "import", "--db", str(tmp_path / "t.db"), str(write_json(tmp_path / "x", dump))
    )
    assert result.err.startswith("Error: nothing was imported: the dump has 2 problems:\n")
    assert f"  volumeentries.{IDS['V1']}.Info.foo: unknown field\n" in result.err
    assert f"  nodeentries.{IDS['N1']}.Info.zone: -1 is out of range" in result.err


# ------------------------------------------------------------------------------------------------
# The commands


def test_import_and_export_through_heketi_json(
    tmp_path: Path, new_db: NewDb, capsys: pytest.CaptureFixture[str]
) -> None:
    db = new_db("var")
    config = write_json(tmp_path / "heketi.json", {"glusterfs": {"executor": "mock", "db": db}})
    export_file = write_json(tmp_path / "heketi.json.dump", heketi_dump())
    assert untouched(db)
    assert brickyard(capsys, "import", "--config", str(config), str(export_file)).code == 0
    assert not untouched(db)
    out = brickyard(capsys, "export", "--config", str(config))
    assert out.code == 0
    assert out.out.startswith('{\n    "clusterentries": {\n')  # 4-space indent, as GET /db/dump
    assert json.loads(out.out) == export_of(db)


def test_command_errors(tmp_path: Path, populated: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_json(tmp_path / "heketi.json", {"glusterfs": {"db": populated}})
    both = brickyard(capsys, "export", "--config", str(config), "--db", populated)
    assert (both.code, both.err) == (255, "Error: give either --config or --db, not both\n")
    if "://" not in populated:
        missing = brickyard(capsys, "export", "--db", str(tmp_path / "none.db"))
        assert missing.err == f"Error: no database at {tmp_path / 'none.db'}\n"
        assert not (tmp_path / "none.db").exists()
    else:
        # PostgreSQL: a database the server does not have is named with the server's reason.
        none = populated.rsplit("/", 1)[0] + "/none"
        missing = brickyard(capsys, "export", "--db", none)
        assert missing.code == 255
        assert missing.err.startswith(f"Error: cannot use the database {none}: "), missing.err
        assert 'database "none" does not exist' in missing.err, missing.err
    taken = tmp_path / "taken.json"
    taken.write_text("keep me")
    refused = brickyard(capsys, "export", "--db", populated, str(taken))
    assert refused.err == f"Error: {taken} already exists; give a new file name\n"
    assert taken.read_text() == "keep me"
    unreadable = brickyard(capsys, "import", "--db", str(tmp_path / "n.db"), str(tmp_path / "nope"))
    assert unreadable.err == f"Error: cannot read {tmp_path / 'nope'}: No such file or directory\n"
    assert "Usage: brickyard import" in brickyard(capsys, "import", "--help").out


def test_heketi_db_import_and_export(
    tmp_path: Path, new_db: NewDb, capsys: pytest.CaptureFixture[str]
) -> None:
    export_file = write_json(tmp_path / "in.json", heketi_dump())
    db = new_db("db")
    done = heketi(capsys, "db", "import", "--jsonfile", str(export_file), "--dbfile", db)
    assert done.code == 0, done.err
    assert done.err.endswith(f"DB imported to {db}\n")
    again = heketi(capsys, "db", "import", "--jsonfile", str(export_file), "--dbfile", db)
    if "://" not in db:  # as Heketi: never into a file that exists
        assert (again.code, again.err) == (1, f"db creation failed: {db} file already exists\n")
    else:  # a PostgreSQL database exists before any import: refused for not being empty
        assert again.code == 1
        assert again.err.startswith(
            "db creation failed: nothing was imported: the database already holds 1 cluster, "
        ), again.err

    to_stdout = heketi(capsys, "db", "export", "--dbfile", db, "--jsonfile", "-")
    assert to_stdout.code == 0
    assert json.loads(to_stdout.out) == export_of(db)
    assert to_stdout.err == "DB exported to -\n"
    out_file = tmp_path / "out.json"
    to_file = heketi(capsys, "db", "export", "--dbfile", db, "--jsonfile", str(out_file))
    assert to_file.code == 0
    assert out_file.read_text() == to_stdout.out
    exists = heketi(capsys, "db", "export", "--dbfile", db, "--jsonfile", str(out_file))
    assert exists.code == 1 and exists.err.startswith("failed to dump db: ")

    no_json = heketi(capsys, "db", "import", "--dbfile", str(tmp_path / "x.db"))
    assert (no_json.code, no_json.err) == (1, "Please provide file for input\n")
    no_db = heketi(capsys, "db", "export", "--jsonfile", "-")
    assert (no_db.code, no_db.err) == (1, "Please provide path for db file\n")


def test_heketi_server_flags_still_start_the_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[str | None, bool, str | None, str | None]] = []

    def fake_run(
        config_path: str | None, disable_auth: bool, log_format: str | None, third: str | None
    ) -> int:
        calls.append((config_path, disable_auth, log_format, third))
        return 0

    monkeypatch.setattr(heketi_server, "run_server", fake_run)
    assert heketi(capsys, "--config=/etc/heketi/heketi.json").code == 0
    assert heketi(capsys, "--config", "h.json", "--disable-auth").code == 0
    started = [("/etc/heketi/heketi.json", False, None, None), ("h.json", True, None, None)]
    assert calls == started
    version = heketi(capsys, "--version")
    assert version.code == 0 and version.out.startswith("Heketi v")
    assert calls == started
    # Brickyard's own log flags (docs/logging.md) come on top of Heketi's.
    assert (
        heketi(capsys, "--config=h.json", "--log-format=json", "--log-third-party=info").code == 0
    )
    assert calls[-1] == ("h.json", False, "json", "info")


def test_import_reads_stdin(new_db: NewDb, capsys: pytest.CaptureFixture[str]) -> None:
    db = new_db("stdin")
    result = brickyard(capsys, "import", "--db", db, "-", stdin=heketi_text())
    assert result.code == 0, result.err
    exported = export_of(db)
    assert set(exported["nodeentries"]) == {IDS["N1"], IDS["N2"], IDS["N3"]}
    # Imported again from Brickyard's own export: identical, sets included.
    copy_db = new_db("copy")
    text = json.dumps(copy.deepcopy(exported), indent=4)
    assert brickyard(capsys, "import", "--db", copy_db, "-", stdin=text).err == ""
    assert export_of(copy_db) == exported

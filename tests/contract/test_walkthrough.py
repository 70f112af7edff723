"""The README's walkthrough, run as a Heketi user would run it: `heketi --config=...` started
from a heketi.json in Heketi's sample style, then `heketi-cli` commands with flags and with the
HEKETI_CLI_* environment, checked against the contract's text formats."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import NewDatabase, free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KEY = "My Secret"


@pytest.fixture
def heketi(tmp_path: Path, session_kind_new_database: NewDatabase) -> Iterator[str]:
    config = json.loads((REPO / "deploy" / "heketi.json").read_text())
    port = free_port()
    config["port"] = str(port)
    config["bind_address"] = "127.0.0.1"
    config["glusterfs"]["db"] = session_kind_new_database(tmp_path)
    assert config["jwt"]["admin"]["key"] == KEY and config["glusterfs"]["executor"] == "mock"
    path = tmp_path / "heketi.json"
    path.write_text(json.dumps(config, indent=2))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    server = subprocess.Popen(
        [str(BIN / "heketi"), f"--config={path}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/hello", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not start")
        yield url
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=10)
    assert b"Listening on port" in out
    assert b"Traceback" not in out


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HEKETI_")}
    base.update(env or {})
    return subprocess.run(
        [str(BIN / "heketi-cli"), *args], env=base, capture_output=True, text=True, timeout=60
    )


def topology_file(tmp_path: Path) -> Path:
    nodes = [
        {
            "node": {"hostnames": {"manage": [f"node{i}"], "storage": [f"10.0.0.{i}"]}, "zone": i},
            "devices": ["/dev/sdb"] if i < 3 else [{"name": "/dev/sdb", "destroydata": False}],
        }
        for i in (1, 2, 3)
    ]
    path = tmp_path / "topology.json"
    path.write_text(json.dumps({"clusters": [{"nodes": nodes}]}))
    return path


def test_heketi_users_walkthrough(heketi: str, tmp_path: Path) -> None:
    assert httpx.get(heketi + "/hello").text == "Hello from Heketi"

    listed = cli("--server", heketi, "--user", "admin", "--secret", KEY, "cluster", "list")
    assert (listed.returncode, listed.stdout) == (0, "Clusters:\n")

    env = {"HEKETI_CLI_SERVER": heketi, "HEKETI_CLI_USER": "admin", "HEKETI_CLI_KEY": KEY}
    load = cli("topology", "load", f"--json={topology_file(tmp_path)}", env=env)
    assert load.returncode == 0, load.stderr
    assert re.match(r"Creating cluster ... ID: [0-9a-f]{32}\n", load.stdout)
    assert load.stdout.count("\tCreating node ") == 3
    assert load.stdout.count("\t\tAdding device /dev/sdb ... OK\n") == 3

    clusters = cli("cluster", "list", env=env).stdout
    cluster_id = re.findall(r"Id:([0-9a-f]{32}) \[file\]\[block\]", clusters)
    assert len(cluster_id) == 1
    nodes = cli("node", "list", env=env).stdout.splitlines()
    assert len(nodes) == 3 and all(line.endswith(f"\tCluster:{cluster_id[0]}") for line in nodes)

    created = cli("volume", "create", "--size=1", env=env)
    assert created.returncode == 0, created.stderr
    volume_id = re.search(r"^Volume Id: ([0-9a-f]{32})$", created.stdout, re.M)
    assert volume_id is not None
    vid = volume_id.group(1)
    lines = created.stdout.splitlines()
    mount = next(line for line in lines if line.startswith("Mount: "))
    options = next(line for line in lines if line.startswith("Mount Options: "))
    first_host = mount.removeprefix("Mount: ").split(":")[0]
    assert mount == f"Mount: {first_host}:vol_{vid}"
    backups = options.removeprefix("Mount Options: backup-volfile-servers=").split(",")
    assert sorted([first_host, *backups]) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert "Durability Type: replicate" in lines and "Replica Count: 3" in lines

    info = cli("volume", "info", vid, env=env)
    assert info.stdout == created.stdout
    # The three bricks sit in three zones (checked through topology info --json).
    topology = json.loads(cli("topology", "info", "--json", env=env).stdout)
    (cluster,) = topology["clusters"]
    zone_of = {n["id"]: n["zone"] for n in cluster["nodes"]}
    (volume,) = cluster["volumes"]
    assert sorted(zone_of[b["node"]] for b in volume["bricks"]) == [1, 2, 3]

    listing = cli("volume", "list", env=env).stdout
    assert listing == f"Id:{vid:<35} Cluster:{cluster_id[0]:<35} Name:vol_{vid}\n"

    deleted = cli("volume", "delete", vid, env=env)
    assert (deleted.returncode, deleted.stdout) == (0, f"Volume {vid} deleted\n")
    assert cli("volume", "list", env=env).stdout == ""

    missing = cli("volume", "info", vid, env=env)
    assert (missing.returncode, missing.stderr) == (255, "Error: Id not found\n")


def test_version_flags() -> None:
    server = subprocess.run([str(BIN / "heketi"), "--version"], capture_output=True, text=True)
    assert server.returncode == 0 and server.stdout.startswith("Heketi v")
    client = cli("--version")
    assert client.returncode == 0 and client.stdout.startswith("heketi-cli v")


def test_missing_jwt_keys_stop_the_server(tmp_path: Path) -> None:
    path = tmp_path / "heketi.json"
    path.write_text(json.dumps({"port": "1", "glusterfs": {"executor": "mock"}}))
    done = subprocess.run(
        [str(BIN / "heketi"), f"--config={path}"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert "ERROR: Missing JWT information in config file" in done.stderr


def test_topology_device_objects_may_choose_the_brick_backend(heketi: str, tmp_path: Path) -> None:
    """Our optional `backend` key of topology.json device objects reaches the server."""
    topology = {
        "clusters": [
            {
                "nodes": [
                    {
                        "node": {
                            "hostnames": {"manage": ["nb1"], "storage": ["10.9.0.1"]},
                            "zone": 1,
                        },
                        "devices": [
                            "/dev/sdb",
                            {"name": "/srv/bricks", "backend": "loopfile"},
                        ],
                    }
                ]
            }
        ]
    }
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(topology))
    env = {"HEKETI_CLI_SERVER": heketi, "HEKETI_CLI_USER": "admin", "HEKETI_CLI_KEY": KEY}
    assert cli("topology", "load", f"--json={path}", env=env).returncode == 0
    dump = json.loads(cli("db", "dump", env=env).stdout)
    backends = {d["Info"]["name"]: d["Backend"] for d in dump["deviceentries"].values()}
    assert backends == {"/dev/sdb": "lvm", "/srv/bricks": "loopfile"}

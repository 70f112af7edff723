"""``topology load``: progress lines, lazy clusters, found nodes/devices, cleanup (§4.5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from brickyard.client.testing import FakeHeketi

# the ``run`` fixture (conftest.py): run(*argv, env=None) -> Result(code, out, err)
Run = Callable[..., Any]


def _write(tmp_path: Path, clusters: list[dict[str, Any]]) -> str:
    path = tmp_path / "topology.json"
    path.write_text(json.dumps({"clusters": clusters}))
    return str(path)


def _node(host: str, zone: int, devices: list[Any], **extra: Any) -> dict[str, Any]:
    node = {"hostnames": {"manage": [host], "storage": [f"10.0.0.{zone}"]}, "zone": zone, **extra}
    return {"node": node, "devices": devices}


@pytest.fixture
def topology_file(tmp_path: Path) -> str:
    return _write(
        tmp_path,
        [
            {
                "nodes": [
                    _node("node1", 1, ["/dev/sdb", {"name": "/dev/sdc", "destroydata": True}]),
                    _node(
                        "node2", 2, [{"name": "/dev/sdb", "tags": {"ssd": "yes"}}], tags={"r": "1"}
                    ),
                ]
            }
        ],
    )


def _ids(fake: FakeHeketi) -> tuple[str, str, str]:
    (cid,) = fake.clusters
    by_host = {v["manage"]: k for k, v in fake.nodes.items()}
    return cid, by_host["node1"], by_host["node2"]


def test_first_load_creates_everything(run: Run, fake: FakeHeketi, topology_file: str) -> None:
    result = run("topology", "load", f"--json={topology_file}")
    assert result.code == 0, result.err
    cid, n1, n2 = _ids(fake)
    assert result.out == (
        f"Creating cluster ... ID: {cid}\n"
        "\tAllowing file volumes on cluster.\n"
        "\tAllowing block volumes on cluster.\n"
        f"\tCreating node node1 ... ID: {n1}\n"
        "\t\tAdding device /dev/sdb ... OK\n"
        "\t\tAdding device /dev/sdc ... OK\n"
        f"\tCreating node node2 ... ID: {n2}\n"
        "\t\tAdding device /dev/sdb ... OK\n"
    )
    assert fake.clusters[cid] == {"block": True, "file": True}
    assert fake.nodes[n2]["tags"] == {"r": "1"}
    bodies = [json.loads(r.content) for r in fake.requests if r.url.path == "/devices"]
    assert bodies == [
        {"name": "/dev/sdb", "node": n1},
        {"name": "/dev/sdc", "node": n1, "destroydata": True},
        {"name": "/dev/sdb", "tags": {"ssd": "yes"}, "node": n2},
    ]
    node_body = json.loads(next(r.content for r in fake.requests if r.url.path == "/nodes"))
    assert node_body == {
        "zone": 1,
        "hostnames": {"manage": ["node1"], "storage": ["10.0.0.1"]},
        "cluster": cid,
    }


def test_second_load_finds_nodes_and_devices(
    run: Run, fake: FakeHeketi, topology_file: str, tmp_path: Path
) -> None:
    run("topology", "load", "-j", topology_file)
    cid, _, _ = _ids(fake)
    again = run("topology", "load", f"-j={topology_file}")
    assert again.out == (
        f"\tFound node node1 on cluster {cid}\n"
        "\t\tFound device /dev/sdb\n"
        "\t\tFound device /dev/sdc\n"
        f"\tFound node node2 on cluster {cid}\n"
        "\t\tFound device /dev/sdb\n"
    )
    assert len(fake.clusters) == 1
    grown = _write(
        tmp_path,
        [{"nodes": [_node("node1", 1, ["/dev/sdb", "/dev/sdd"]), _node("node3", 3, ["/dev/sdb"])]}],
    )
    result = run("topology", "load", "--json", grown)
    n3 = next(k for k, v in fake.nodes.items() if v["manage"] == "node3")
    assert result.out == (
        f"\tFound node node1 on cluster {cid}\n"
        "\t\tFound device /dev/sdb\n"
        "\t\tAdding device /dev/sdd ... OK\n"
        f"\tCreating node node3 ... ID: {n3}\n"
        "\t\tAdding device /dev/sdb ... OK\n"
    )
    assert fake.nodes[n3]["cluster"] == cid


def test_failures_are_reported_and_do_not_change_the_exit_status(
    run: Run, fake: FakeHeketi, topology_file: str
) -> None:
    fake.fail("POST", "/nodes", 400, "New Node doesn't have glusterd running")
    fake.fail("POST", "/devices", -500, "Unable to add device: pvcreate failed")
    result = run("topology", "load", f"--json={topology_file}")
    assert result.code == 0
    (cid,) = fake.clusters
    (n2,) = fake.nodes
    assert result.out == (
        f"Creating cluster ... ID: {cid}\n"
        "\tAllowing file volumes on cluster.\n"
        "\tAllowing block volumes on cluster.\n"
        "\tCreating node node1 ... Unable to create node: New Node doesn't have glusterd running\n"
        f"\tCreating node node2 ... ID: {n2}\n"
        "\t\tAdding device /dev/sdb ... "
        "Unable to add device: Unable to add device: pvcreate failed\n"
    )


def test_a_created_cluster_left_empty_is_deleted(
    run: Run, fake: FakeHeketi, tmp_path: Path
) -> None:
    path = _write(tmp_path, [{"file": False, "nodes": [_node("node1", 1, ["/dev/sdb"])]}])
    fake.fail("POST", "/nodes", 409, "Hostname node1 already used by node with id x\n")
    result = run("topology", "load", f"--json={path}")
    assert result.code == 0
    assert "\tAllowing file volumes" not in result.out
    assert result.out.endswith(
        "\tCreating node node1 ... "
        "Unable to create node: Hostname node1 already used by node with id x\n"
    )
    assert fake.clusters == {}
    posts = [r for r in fake.requests if r.method == "POST" and r.url.path == "/clusters"]
    assert json.loads(posts[0].content) == {
        "block": True,
        "file": False,
    }


def test_cluster_creation_failure_is_an_error(
    run: Run, fake: FakeHeketi, topology_file: str
) -> None:
    fake.fail("POST", "/clusters", 503, "Service disabled for maintenance")
    result = run("topology", "load", f"--json={topology_file}")
    assert (result.code, result.out, result.err) == (
        255,
        "Creating cluster ... ",
        "Error: Service disabled for maintenance\n",
    )


def test_topology_read_failure(run: Run, fake: FakeHeketi, topology_file: str) -> None:
    fake.fail("GET", "/clusters", 401, "Invalid JWT token: Unknown user")
    result = run("topology", "load", f"--json={topology_file}")
    assert (
        result.err == "Error: Unable to get topology information: Invalid JWT token: Unknown user\n"
    )


def test_each_file_cluster_gets_its_own_cluster(run: Run, fake: FakeHeketi, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            {"nodes": [_node("node1", 1, [])]},
            {"block": False, "nodes": [_node("node2", 2, [])]},
        ],
    )
    result = run("topology", "load", f"--json={path}")
    assert result.out.count("Creating cluster ... ") == 2
    assert sorted((c["block"], c["file"]) for c in fake.clusters.values()) == [
        (False, True),
        (True, True),
    ]

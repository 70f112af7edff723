"""The hostile-value corpus through the API on the simulator: every value a node command or
gluster would refuse is refused at submit (4xx), and every value accepted is finished on the
(simulated) nodes. The same corpus runs on real GlusterFS in
tests/e2e/test_hostile_values_on_gluster.py: the simulator must give the same verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from brickyard.bootstrap import build_server
from brickyard.config import ConfigError, load_settings
from brickyard.domain.errors import NodeCommandError
from brickyard.nodes.port import BrickSpec, DeviceSpec, GlusterBrick, GlusterVolumeSpec, NodeAddress
from hostile import Case, cases, is_refused_at_submit

from .conftest import DatabaseFactory, Harness, Topology

# Storage hosts of 10 characters, like the test bed's 10.200.0.N: the corpus's volume-name
# boundaries depend on the brick hosts' length.
HOSTS = ["n1.example", "n2.example", "n3.example"]


@pytest.fixture
def harness_database(new_database: DatabaseFactory) -> DatabaseFactory:
    """Every value that is accepted is stored: each test runs on SQLite and on PostgreSQL,
    whose column types are stricter (lengths, NUL characters, integer ranges)."""
    return new_database


@pytest.fixture
async def bed(harness: Harness) -> Topology:
    cluster = await harness.create_cluster()
    topo = Topology(cluster, [], [], {})
    for zone, host in enumerate(HOSTS, start=1):
        node = await harness.add_node(cluster, zone, manage=host)
        topo.nodes.append(node)
        topo.manage[node] = host
        topo.devices.append(await harness.add_device(node, "/dev/sdb"))
    return topo


@pytest.mark.parametrize("case", cases("volumes"), ids=lambda c: c.id)
async def test_volume_values(harness: Harness, bed: Topology, case: Case) -> None:
    before = await harness.dump()
    r = await harness.post("/volumes", case.volume_body())
    if case.expect == "refused":
        assert is_refused_at_submit(r.status_code), (r.status_code, r.text)
        assert await harness.dump() == before
        return
    volume_id = await harness.ok_303(r, "/volumes")
    await harness.assert_consistent()
    await harness.delete_volume(volume_id)
    await harness.assert_consistent()


@pytest.mark.parametrize("case", cases("devices"), ids=lambda c: c.id)
async def test_device_values(harness: Harness, bed: Topology, case: Case) -> None:
    r = await harness.post("/devices", case.device_body(bed.nodes[0]))
    assert case.expect == "refused"
    assert is_refused_at_submit(r.status_code), (r.status_code, r.text)
    await harness.assert_consistent()


@pytest.mark.parametrize("case", cases("nodes"), ids=lambda c: c.id)
async def test_node_values(harness: Harness, bed: Topology, case: Case) -> None:
    r = await harness.post("/nodes", case.node_body(bed.cluster))
    assert case.expect == "refused"
    assert is_refused_at_submit(r.status_code), (r.status_code, r.text)
    await harness.assert_consistent()


async def test_the_simulator_refuses_what_gluster_refuses(harness: Harness, bed: Topology) -> None:
    """Straight at the node agent, past the API: the simulator refuses each corpus name and
    option that gluster refuses (the remote agent's argv builders, then gluster's own rules,
    recorded from GlusterFS 10.3), and takes each one gluster takes."""
    agent = harness.server.services.ctx.agent
    nodes = [NodeAddress(h, h) for h in HOSTS]
    for number, case in enumerate(cases("volumes")):
        if "replica" in case.values or case.values.get("options") == ["x"]:
            continue  # Heketi's own limits and an option without a value: the API's
        body = case.volume_body()
        bricks = []
        for node, device in zip(nodes, bed.devices, strict=True):
            brick_id = f"{number:02d}" + "b" * 30
            spec = BrickSpec(brick_id, DeviceSpec(device, "/dev/sdb"), 1024, 1024, 8)
            await agent.brick_create(node, spec)
            bricks.append((node, spec))
        options = [o.split(" ", 1) for o in body.get("glustervolumeoptions", [])]
        volume = GlusterVolumeSpec(
            name=body.get("name", "vol_" + "0" * 32),
            bricks=[GlusterBrick(node.storage, spec.path) for node, spec in bricks],
            replica=3,
            options=[(k, v) for k, v in options],
        )
        try:
            await agent.volume_create(nodes[0], volume)
        except (ValueError, NodeCommandError):
            refused = True
        else:
            refused = False
            await agent.volume_destroy(nodes[0], volume.name)
        for node, spec in bricks:
            await agent.brick_destroy(node, spec)
        assert refused == (case.expect == "refused"), case.id


async def test_server_refuses_to_start_with_options_gluster_refuses(tmp_path: Path) -> None:
    # A check of the configuration at start, whatever the database: SQLite only.
    for value, good in (("performance.cache-size 64MB", True), ("foo.bar x", False)):
        env = {
            "HEKETI_EXECUTOR": "mock",
            "HEKETI_DB_PATH": str(tmp_path / f"{good}.db"),
            "HEKETI_PRE_REQUEST_VOLUME_OPTIONS": value,
        }
        settings, _ = load_settings(None, env=env)
        if good:
            build_server(settings, disable_auth=True).store.close()
        else:
            with pytest.raises(ConfigError, match="pre_request_volume_options: volume option"):
                build_server(settings, disable_auth=True)

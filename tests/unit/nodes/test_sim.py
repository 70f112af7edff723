import pytest

from brickyard.domain.errors import NodeCommandError
from brickyard.nodes.port import BrickSpec, DeviceSpec, GlusterBrick, GlusterVolumeSpec, NodeAddress
from brickyard.nodes.sim import SimNodeAgent, SimWorld

A = NodeAddress("node-a", "10.0.0.1")
B = NodeAddress("node-b", "10.0.0.2")
DEV_A = DeviceSpec("a" * 32, "/dev/sdb")
DEV_B = DeviceSpec("b" * 32, "/dev/sdb")


def brick(brick_id: str, device: DeviceSpec, gib: int = 1) -> BrickSpec:
    return BrickSpec(brick_id * 32, device, gib * 1048576, gib * 1048576, 8192)


@pytest.fixture
def agent() -> SimNodeAgent:
    return SimNodeAgent(SimWorld(device_size_gb=10))


async def test_device_setup_reports_the_mock_size_and_refuses_reuse(agent: SimNodeAgent) -> None:
    report = await agent.device_setup(A, DEV_A, destroy_data=False)
    assert (report.total, report.free, report.used) == (10 * 1048576, 10 * 1048576, 0)
    with pytest.raises(NodeCommandError, match="Can't initialize physical volume"):
        await agent.device_setup(A, DeviceSpec("c" * 32, "/dev/sdb"), destroy_data=False)


async def test_brick_needs_space_and_leaves_nothing_after_destroy(agent: SimNodeAgent) -> None:
    await agent.device_setup(A, DEV_A, False)
    with pytest.raises(NodeCommandError, match="insufficient free space"):
        await agent.brick_create(A, brick("1", DEV_A, gib=11))
    await agent.brick_create(A, brick("1", DEV_A))
    node = agent.world.nodes["node-a"]
    assert len(node.mounts) == 1 and len(node.fstab) == 1
    assert await agent.brick_destroy(A, brick("1", DEV_A)) is True
    assert node.mounts == {} and node.fstab == [] and node.volume_groups[DEV_A.vg_name].pools == {}


async def test_volume_needs_peers_and_real_brick_directories(agent: SimNodeAgent) -> None:
    for node, dev in ((A, DEV_A), (B, DEV_B)):
        await agent.device_setup(node, dev, False)
    b1, b2 = brick("1", DEV_A), brick("2", DEV_B)
    await agent.brick_create(A, b1)
    await agent.brick_create(B, b2)
    spec = GlusterVolumeSpec(
        "vol1", [GlusterBrick(A.storage, b1.path), GlusterBrick(B.storage, b2.path)], replica=2
    )
    with pytest.raises(NodeCommandError, match="is not in 'Peer in Cluster' state"):
        await agent.volume_create(A, spec)
    await agent.peer_probe(A, B)
    await agent.volume_create(A, spec)
    with pytest.raises(NodeCommandError, match="already exists"):
        await agent.volume_create(A, spec)
    with pytest.raises(NodeCommandError, match="target is busy"):
        await agent.brick_destroy(A, b1)
    info = await agent.volume_info(B, "vol1")
    assert info is not None and info.status == "Started" and len(info.bricks) == 2
    await agent.volume_destroy(A, "vol1")
    assert await agent.volume_info(A, "vol1") is None


async def test_unreachable_node_and_injected_failure(agent: SimNodeAgent) -> None:
    agent.world.fail("node-a", "check_glusterd", "boom")
    with pytest.raises(NodeCommandError, match="boom"):
        await agent.check_glusterd(A)
    await agent.check_glusterd(A)
    agent.world.nodes["node-a"].reachable = False
    with pytest.raises(NodeCommandError, match="no route to host"):
        await agent.check_glusterd(A)


async def test_heal_info_reports_down_bricks(agent: SimNodeAgent) -> None:
    for node, dev in ((A, DEV_A), (B, DEV_B)):
        await agent.device_setup(node, dev, False)
    b1, b2 = brick("1", DEV_A), brick("2", DEV_B)
    await agent.brick_create(A, b1)
    await agent.brick_create(B, b2)
    await agent.peer_probe(A, B)
    bricks = [GlusterBrick(A.storage, b1.path), GlusterBrick(B.storage, b2.path)]
    await agent.volume_create(A, GlusterVolumeSpec("vol1", bricks, replica=2))
    assert all(h.healthy for h in await agent.heal_info(A, "vol1"))
    agent.world.nodes["node-b"].glusterd_running = False
    statuses = await agent.heal_info(A, "vol1")
    assert [h.healthy for h in statuses] == [True, False]
    assert statuses[1].entries is None

"""Golden argv for gluster commands (heketi-internals §4.5, §4.6, §4.8)."""

from __future__ import annotations

import pytest

from brickyard.nodes.commands import gluster
from brickyard.nodes.commands.settings import CommandSettings
from brickyard.nodes.port import GlusterBrick, GlusterVolumeSpec

P = "gluster --mode=script --timeout=600"


def split(line: str) -> tuple[str, ...]:
    return tuple(line.split(" "))


def bricks(n: int) -> list[GlusterBrick]:
    return [GlusterBrick(f"10.0.0.{i % 3 + 1}", f"/b/{i}/brick") for i in range(n)]


def args(bs: list[GlusterBrick]) -> str:
    return " ".join(f"{b.host}:{b.path}" for b in bs)


def test_prefix_and_timeouts() -> None:
    cfg = CommandSettings()
    assert gluster.gluster_prefix(cfg) == split(P)
    assert gluster.gluster_timeout(cfg) == 11 * 60
    assert gluster.gluster_timeout(CommandSettings(gluster_cli_timeout=120)) == 10 * 60
    assert gluster.gluster_timeout(CommandSettings(gluster_cli_timeout=1200)) == 21 * 60
    assert gluster.volume_start(CommandSettings(gluster_cli_timeout=30), "v").argv[:3] == (
        "gluster",
        "--mode=script",
        "--timeout=30",
    )
    check = gluster.glusterd_check()
    assert check.argv == split("systemctl status glusterd")
    assert check.timeout == 600


def test_peers() -> None:
    cfg = CommandSettings()
    assert gluster.peer_probe(cfg, "node2.example").argvs == [
        split(f"{P} peer probe node2.example")
    ]
    limited = gluster.peer_probe(CommandSettings(snapshot_limit=14), "10.0.0.2")
    assert limited.argvs == [
        split(f"{P} peer probe 10.0.0.2"),
        split(f"{P} snapshot config snap-max-hard-limit 14"),
    ]
    assert gluster.peer_detach(cfg, "10.0.0.2").argv == split(f"{P} peer detach 10.0.0.2")
    assert gluster.peer_status(cfg).argv == split(f"{P} peer status --xml")
    assert gluster.pool_list(cfg).argv == split(f"{P} pool list --xml")
    with pytest.raises(ValueError):
        gluster.peer_probe(cfg, "--help")


def test_create_replica3_single_set() -> None:
    bs = bricks(3)
    spec = GlusterVolumeSpec(
        name="vol_1",
        bricks=bs,
        replica=3,
        options=[("performance.rda-cache-limit", "10MB"), ("user.heketi.id", "abc")],
    )
    out = gluster.volume_create(CommandSettings(), spec)
    assert out.argvs == [
        split(f"{P} volume create vol_1 replica 3 {args(bs)}"),
        split(f"{P} volume set vol_1 performance.rda-cache-limit 10MB"),
        split(f"{P} volume set vol_1 user.heketi.id abc"),
        split(f"{P} volume start vol_1"),
    ]
    assert all(c.timeout == 660 for c in out)


def test_create_arbiter() -> None:
    bs = bricks(3)
    spec = GlusterVolumeSpec(name="v", bricks=bs, replica=3, arbiter=True)
    out = gluster.volume_create(CommandSettings(), spec)
    assert out.argvs[0] == split(f"{P} volume create v replica 3 arbiter 1 {args(bs)}")


def test_create_distribute_chunks_of_15() -> None:
    bs = bricks(20)
    out = gluster.volume_create(CommandSettings(), GlusterVolumeSpec(name="v", bricks=bs))
    assert out.argvs == [
        split(f"{P} volume create v {args(bs[:1])}"),
        split(f"{P} volume add-brick v {args(bs[1:16])}"),
        split(f"{P} volume add-brick v {args(bs[16:20])}"),
        split(f"{P} volume start v"),
    ]


def test_create_replicate_chunks_of_5_sets() -> None:
    bs = bricks(21)  # 7 sets of 3: create 1 set, add 5 sets, add 1 set
    out = gluster.volume_create(
        CommandSettings(), GlusterVolumeSpec(name="v", bricks=bs, replica=3)
    )
    assert out.argvs == [
        split(f"{P} volume create v replica 3 {args(bs[:3])}"),
        split(f"{P} volume add-brick v {args(bs[3:18])}"),
        split(f"{P} volume add-brick v {args(bs[18:21])}"),
        split(f"{P} volume start v"),
    ]
    exact = gluster.volume_create(
        CommandSettings(), GlusterVolumeSpec(name="v", bricks=bricks(18), replica=3)
    )
    assert len(exact) == 3  # create, one add-brick of 15, start


def test_create_disperse_one_set_per_command() -> None:
    bs = bricks(18)  # 3 sets of 4+2
    spec = GlusterVolumeSpec(name="ec", bricks=bs, disperse_data=4, disperse_redundancy=2)
    out = gluster.volume_create(CommandSettings(), spec)
    assert out.argvs == [
        split(f"{P} volume create ec disperse-data 4 redundancy 2 {args(bs[:6])}"),
        split(f"{P} volume add-brick ec {args(bs[6:12])}"),
        split(f"{P} volume add-brick ec {args(bs[12:18])}"),
        split(f"{P} volume start ec"),
    ]


def test_create_options_skip_empty() -> None:
    spec = GlusterVolumeSpec(
        name="v",
        bricks=bricks(1),
        options=[("", ""), ("  ", "x"), ("group", "gluster-block"), ("nfs.disable", "")],
    )
    out = gluster.volume_create(CommandSettings(), spec)
    assert out.argvs[1:3] == [
        split(f"{P} volume set v group gluster-block"),
        split(f"{P} volume set v nfs.disable"),
    ]
    spaced = gluster.volume_set(CommandSettings(), "v", "user.note", "two words")
    assert spaced.argv[-1] == "two words"


def test_create_rejects_bad_layouts() -> None:
    cfg = CommandSettings()
    with pytest.raises(ValueError):
        gluster.volume_create(cfg, GlusterVolumeSpec(name="v", bricks=bricks(2), replica=3))
    with pytest.raises(ValueError):
        gluster.volume_create(cfg, GlusterVolumeSpec(name="v", bricks=bricks(4), replica=3))
    with pytest.raises(ValueError):
        gluster.volume_create(cfg, GlusterVolumeSpec(name="v", bricks=[]))
    with pytest.raises(ValueError):
        gluster.volume_create(cfg, GlusterVolumeSpec(name="v", bricks=bricks(1), arbiter=True))
    with pytest.raises(ValueError):
        gluster.volume_create(
            cfg, GlusterVolumeSpec(name="v", bricks=bricks(3), replica=3, disperse_data=2)
        )
    with pytest.raises(ValueError):
        gluster.volume_create(cfg, GlusterVolumeSpec(name="-v", bricks=bricks(1)))
    with pytest.raises(ValueError):
        gluster.volume_create(cfg, GlusterVolumeSpec(name="v", bricks=[GlusterBrick("h", "rel")]))


def test_add_brick_chunks() -> None:
    bs = bricks(31)
    assert [len(c) for c in gluster.add_brick_chunks(bs, 1, 15)] == [15, 15, 1]
    assert [len(c) for c in gluster.add_brick_chunks(bricks(30), 3, 5)] == [15, 15]
    assert [len(c) for c in gluster.add_brick_chunks(bricks(12), 6, 1)] == [6, 6]
    assert gluster.add_brick_chunks([], 3, 5) == []
    assert [b for chunk in gluster.add_brick_chunks(bs, 1, 15) for b in chunk] == bs
    with pytest.raises(ValueError):
        gluster.add_brick_chunks(bs, 0, 5)


def test_expand() -> None:
    cfg = CommandSettings()
    spec = GlusterVolumeSpec(name="v", bricks=bricks(3), replica=3)
    new = bricks(18)
    out = gluster.volume_expand(cfg, spec, new)
    assert out.argvs == [
        split(f"{P} volume add-brick v {args(new[:15])}"),
        split(f"{P} volume add-brick v {args(new[15:])}"),
    ]
    assert gluster.rebalance_start(cfg, "v").argv == split(f"{P} volume rebalance v start")
    ec = GlusterVolumeSpec(name="e", bricks=bricks(3), disperse_data=2, disperse_redundancy=1)
    assert len(gluster.volume_expand(cfg, ec, bricks(6))) == 2
    plain = GlusterVolumeSpec(name="d", bricks=bricks(1))
    assert len(gluster.volume_expand(cfg, plain, bricks(16))) == 2
    with pytest.raises(ValueError):
        gluster.volume_expand(cfg, spec, bricks(4))
    with pytest.raises(ValueError):
        gluster.volume_expand(cfg, spec, [])


def test_lifecycle_and_queries() -> None:
    cfg = CommandSettings()
    old = GlusterBrick("10.0.0.1", "/var/lib/heketi/mounts/vg_a/brick_b/brick")
    new = GlusterBrick("10.0.0.4", "/var/lib/heketi/mounts/vg_c/brick_d/brick")
    assert gluster.volume_stop(cfg, "v").argv == split(f"{P} volume stop v force")
    assert gluster.volume_stop(cfg, "v", force=False).argv == split(f"{P} volume stop v")
    assert gluster.volume_delete(cfg, "v").argv == split(f"{P} volume delete v")
    assert gluster.volume_info(cfg, "v").argv == split(f"{P} volume info v --xml")
    assert gluster.volume_info(cfg).argv == split(f"{P} volume info --xml")
    assert gluster.volume_list(cfg).argv == split(f"{P} volume list --xml")
    assert gluster.heal_info(cfg, "v").argv == split(f"{P} volume heal v info --xml")
    assert gluster.heal_start(cfg, "v").argv == split(f"{P} volume heal v")
    assert gluster.snapshot_list(cfg, "v").argv == split(f"{P} snapshot list v --xml")
    assert gluster.replace_brick(cfg, "v", old, new).argv == split(
        f"{P} volume replace-brick v {old.host}:{old.path} {new.host}:{new.path} commit force"
    )
    assert gluster.volume_add_brick(cfg, "v", [new]).argv == split(f"{P} volume add-brick v {new}")


def test_clone_sequence() -> None:
    snap = gluster.tmp_snapshot_name("0d1c2b3a495867768594a3b2c1d0e0f1")
    assert snap == "tmpsnap_0d1c2b3a495867768594a3b2c1d0e0f1"
    seq = gluster.clone_sequence(CommandSettings(), "vol_src", "vol_clone", snap)
    assert seq.snapshot == snap
    assert seq.create.argv == split(f"{P} --xml snapshot create {snap} vol_src no-timestamp")
    assert seq.activate.argv == split(f"{P} --xml snapshot activate {snap}")
    assert seq.clone.argv == split(f"{P} --xml snapshot clone vol_clone {snap}")
    assert seq.start.argv == split(f"{P} --xml volume start vol_clone")
    assert seq.info.argv == split(f"{P} volume info vol_clone --xml")
    assert seq.deactivate.argv == split(f"{P} --xml snapshot deactivate {snap}")
    assert seq.delete.argv == split(f"{P} --xml snapshot delete {snap}")


def test_snapshot_list_all() -> None:
    assert gluster.snapshot_list_all(CommandSettings()).argv == split(f"{P} snapshot list --xml")


def test_kill_mount_users_only_acts_on_a_mount_point() -> None:
    from brickyard.nodes.commands import fs

    command = fs.kill_mount_users("/var/lib/heketi/mounts/vg_a/brick_b", 60)
    assert command.argv == ("fuser", "-k", "-M", "-m", "/var/lib/heketi/mounts/vg_a/brick_b")
    assert command.ok_exit_codes == frozenset({0, 1})

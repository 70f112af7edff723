"""Golden argv for the loop-file backend."""

from __future__ import annotations

import pytest

from brickyard.nodes.commands import loopfile
from brickyard.nodes.commands.argv import Outcome
from brickyard.nodes.commands.settings import CommandSettings
from brickyard.nodes.port import BrickSpec, DeviceSpec

D = "3f5d6c0e8b2a4f1c9d7e6b5a4c3d2e1f"
B = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
MNT = f"/var/lib/heketi/mounts/vg_{D}/brick_{B}"
DEVDIR = f"/var/lib/heketi/devices/{D}"

RAW = DeviceSpec(id=D, name="/dev/tb/vdb", backend="loopfile")
DIR = DeviceSpec(id=D, name="/srv/bricks/b1/", backend="loopfile")


def split(line: str) -> tuple[str, ...]:
    return tuple(line.split(" "))


def test_names() -> None:
    assert loopfile.is_block_device_name("/dev/tb/vdb")
    assert not loopfile.is_block_device_name("/srv/bricks")
    assert loopfile.device_dir(RAW) == DEVDIR
    assert loopfile.device_dir(DIR) == "/srv/bricks/b1"
    brick = BrickSpec(id=B, device=DIR, size=1, tp_size=1, pool_metadata_size=1)
    assert loopfile.brick_image(brick) == f"/srv/bricks/b1/images/brick_{B}.img"
    assert loopfile.brick_mount_point(brick) == MNT == brick.mount_point
    with pytest.raises(ValueError):
        loopfile.device_dir(DeviceSpec(id=D, name="relative/dir"))


def test_device_setup_raw_device() -> None:
    out = loopfile.device_setup(CommandSettings(), RAW, destroy_data=False)
    assert out.argvs == [
        split("mkfs.xfs -i size=512 -n size=8192 /dev/tb/vdb"),
        split(f"mkdir -p {DEVDIR}"),
        ("tee", "-a", "/etc/fstab"),
        split(f"mount -o rw,inode64,noatime,nouuid /dev/tb/vdb {DEVDIR}"),
        split(f"mkdir -p {DEVDIR}/images"),
    ]
    assert out[2].stdin == f"/dev/tb/vdb {DEVDIR} xfs rw,inode64,noatime,nouuid 0 0\n".encode()
    wiped = loopfile.device_setup(CommandSettings(), RAW, destroy_data=True)
    assert wiped.argvs[0] == split("wipefs --all /dev/tb/vdb")
    assert all(c.timeout == 300 for c in wiped)


def test_device_setup_directory_never_formats() -> None:
    for destroy in (False, True):
        out = loopfile.device_setup(CommandSettings(), DIR, destroy_data=destroy)
        assert out.argvs == [
            split("test -d /srv/bricks/b1"),
            split("findmnt --json --output TARGET,SOURCE,FSTYPE,OPTIONS --target /srv/bricks/b1"),
            split("mkdir -p /srv/bricks/b1/images"),
        ]


def test_device_sizes_and_probe() -> None:
    assert loopfile.device_df(RAW).argv == split(f"df --output=size,avail -B1K {DEVDIR}")
    assert loopfile.device_statfs(DIR).argv == ("stat", "-f", "-c", "%S %b %a", "/srv/bricks/b1")
    assert loopfile.probe_device(RAW).argv == ("stat", "-L", "-c", "%F", "/dev/tb/vdb")


def test_device_teardown_raw_device() -> None:
    plan = loopfile.device_teardown_plan(CommandSettings(), RAW)
    assert plan.remove.argvs == [
        split(f"rmdir {DEVDIR}/images"),
        split(f"umount {DEVDIR}"),
        ("sed", "-i.save", rf"\%^[^ ]* {DEVDIR} %d", "/etc/fstab"),
        split(f"rmdir {DEVDIR}"),
        split("wipefs --all /dev/tb/vdb"),
    ]
    assert plan.rmdir.argv == split(f"rmdir /var/lib/heketi/mounts/vg_{D}")
    assert plan.remove[0].outcome(1, "Directory not empty") is Outcome.FAILED


def test_device_teardown_directory() -> None:
    plan = loopfile.device_teardown_plan(CommandSettings(), DIR)
    assert plan.remove.argvs == [split("rmdir /srv/bricks/b1/images")]


def test_brick_create() -> None:
    brick = BrickSpec(
        id=B, device=RAW, size=1048576, tp_size=1048576, pool_metadata_size=8192, gid=0
    )
    image = f"{DEVDIR}/images/brick_{B}.img"
    out = loopfile.brick_create(CommandSettings(), brick)
    assert out.argvs == [
        split(f"mkdir -p {DEVDIR}/images"),
        split(f"truncate -s 1056768K {image}"),  # tp_size + pool_metadata_size
        split(f"mkfs.xfs -i size=512 -n size=8192 {image}"),
        split(f"mkdir -p {MNT}"),
        ("tee", "-a", "/etc/fstab"),
        split(f"mount -o loop,rw,inode64,noatime,nouuid {image} {MNT}"),
        split(f"mkdir {MNT}/brick"),
    ]
    assert out[4].stdin == f"{image} {MNT} xfs loop,rw,inode64,noatime,nouuid 0 0\n".encode()
    assert all(c.timeout == 600 for c in out)
    assert not any("fallocate" in c.argv for c in out)


def test_image_is_the_whole_reservation_not_the_brick_size() -> None:
    # snapshot factor 1.5: the image holds the snapshot reserve and the metadata, like a pool
    brick = BrickSpec(id=B, device=DIR, size=1048576, tp_size=1572864, pool_metadata_size=8192)
    assert loopfile.image_size(brick) == 1581056
    assert loopfile.brick_create(CommandSettings(), brick).argvs[1][:3] == (
        "truncate",
        "-s",
        "1581056K",
    )
    for bad in (
        BrickSpec(id=B, device=DIR, size=0, tp_size=8, pool_metadata_size=1),
        BrickSpec(id=B, device=DIR, size=8, tp_size=0, pool_metadata_size=1),
        BrickSpec(id=B, device=DIR, size=8, tp_size=8, pool_metadata_size=0),
    ):
        with pytest.raises(ValueError, match="must be positive"):
            loopfile.brick_create(CommandSettings(), bad)


def test_brick_create_gid_arbiter_and_options() -> None:
    brick = BrickSpec(
        id=B, device=DIR, size=4096, tp_size=4096, pool_metadata_size=8, gid=590, arbiter=True
    )
    cfg = CommandSettings(mountopts="rw,noatime", fstab="/etc/fstab.d/heketi")
    image = f"/srv/bricks/b1/images/brick_{B}.img"
    out = loopfile.brick_create(cfg, brick)
    assert out.argvs[2] == split(f"mkfs.xfs -i maxpct=100 -n size=8192 {image}")
    assert out.argvs[4] == ("tee", "-a", "/etc/fstab.d/heketi")
    assert out.argvs[5] == split(f"mount -o loop,rw,noatime {image} {MNT}")
    assert out.argvs[-2:] == [split(f"chown :590 {MNT}/brick"), split(f"chmod 2775 {MNT}/brick")]
    su_sw = loopfile.brick_create(
        CommandSettings(xfs_su=64, xfs_sw=4),
        BrickSpec(id=B, device=DIR, size=4096, tp_size=4096, pool_metadata_size=8),
    )
    assert su_sw.argvs[2] == split(f"mkfs.xfs -i size=512 -d su=64,sw=4 -n size=8192 {image}")


def test_brick_create_escapes_fstab_fields() -> None:
    device = DeviceSpec(id=D, name="/srv/my bricks")
    brick = BrickSpec(id=B, device=device, size=8, tp_size=8, pool_metadata_size=1)
    out = loopfile.brick_create(CommandSettings(), brick)
    line = out[4].stdin
    assert line is not None
    assert line.startswith(rb"/srv/my\040bricks/images/brick_")
    assert out.argvs[1] == ("truncate", "-s", "9K", f"/srv/my bricks/images/brick_{B}.img")


def test_brick_destroy_plan() -> None:
    brick = BrickSpec(id=B, device=RAW, size=8, tp_size=8, pool_metadata_size=1)
    image = f"{DEVDIR}/images/brick_{B}.img"
    plan = loopfile.brick_destroy_plan(CommandSettings(debug_umount_failures=True), brick)
    assert plan.image == image
    assert plan.mount_point == MNT
    assert plan.umount.argv == split(f"umount {MNT}")
    assert plan.umount.outcome(32, f"umount: {MNT}: not mounted.") is Outcome.TOLERATED
    assert plan.mounted_check.argv[-2:] == ("--mountpoint", MNT)
    assert plan.lsof is not None and plan.lsof.argv == ("lsof", MNT)
    assert plan.loop_find.argv == split(f"losetup -j {image}")
    assert loopfile.loop_detach("/dev/loop3").argv == split("losetup -d /dev/loop3")
    assert plan.fstab_remove.argv == ("sed", "-i.save", f"/brick_{B}/d", "/etc/fstab")
    assert plan.image_remove.argv == split(f"rm -f {image}")
    assert plan.rmdir.argv == split(f"rmdir {MNT}")
    assert loopfile.brick_destroy_plan(CommandSettings(), brick).lsof is None

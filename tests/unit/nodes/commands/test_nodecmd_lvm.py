"""Golden argv for the LVM backend, written by hand from heketi-internals §4.5.

Expected lines are the document's strings split on spaces (where Heketi single-quotes a device
path for the shell, the argv element is the bare path)."""

from __future__ import annotations

import shlex

import pytest

from brickyard.nodes.commands import lvm
from brickyard.nodes.commands.argv import Outcome, to_shell
from brickyard.nodes.commands.settings import CommandSettings
from brickyard.nodes.port import BrickSpec, DeviceSpec

D = "3f5d6c0e8b2a4f1c9d7e6b5a4c3d2e1f"
B = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
MNT = f"/var/lib/heketi/mounts/vg_{D}/brick_{B}"
DEVNODE = f"/dev/mapper/vg_{D}-brick_{B}"

DEVICE = DeviceSpec(id=D, name="/dev/sdb")
BRICK = BrickSpec(id=B, device=DEVICE, size=1048576, tp_size=1048576, pool_metadata_size=8192)


def split(line: str) -> tuple[str, ...]:
    return tuple(line.split(" "))


def test_device_setup_default() -> None:
    out = lvm.device_setup(CommandSettings(), DEVICE, destroy_data=False)
    assert out.argvs == [
        split("/usr/sbin/lvm pvcreate -qq --metadatasize=128M --dataalignment=256K /dev/sdb"),
        split(f"/usr/sbin/lvm vgcreate -qq --physicalextentsize=4M --autobackup=n vg_{D} /dev/sdb"),
    ]
    assert all(c.timeout == 300 for c in out)


def test_device_setup_destroy_data_wipes_first() -> None:
    out = lvm.device_setup(CommandSettings(), DEVICE, destroy_data=True)
    assert out.argvs[0] == split("wipefs --all /dev/sdb")
    assert len(out) == 3


def test_device_setup_config_values() -> None:
    cfg = CommandSettings(
        pv_data_alignment="1M",
        vg_physicalextentsize="32M",
        backup_lvm_metadata=True,
        lvm_wrapper="nsenter --mount=/rootfs/proc/1/ns/mnt --",
    )
    out = lvm.device_setup(cfg, DEVICE, destroy_data=False)
    wrapper = "nsenter --mount=/rootfs/proc/1/ns/mnt --"
    assert out.argvs == [
        split(
            f"{wrapper} /usr/sbin/lvm pvcreate -qq --metadatasize=128M --dataalignment=1M /dev/sdb"
        ),
        split(
            f"{wrapper} /usr/sbin/lvm vgcreate -qq --physicalextentsize=32M --autobackup=y "
            f"vg_{D} /dev/sdb"
        ),
    ]


def test_identification_and_sizes() -> None:
    cfg = CommandSettings()
    assert lvm.pvs_identify(cfg, "/dev/sdb").argv == split(
        "/usr/sbin/lvm pvs -o pv_name,pv_uuid,vg_name --reportformat=json /dev/sdb"
    )
    assert lvm.udev_symlinks(cfg, "/dev/sdb").argv == split(
        "/usr/bin/udevadm info --query=symlink --name=/dev/sdb"
    )
    assert lvm.vgdisplay(cfg, D).argv == split(f"/usr/sbin/lvm vgdisplay -c vg_{D}")
    assert lvm.vgs_pv_uuid(cfg, D).argv == split(
        f"/usr/sbin/lvm vgs -o pv_name,pv_uuid,vg_name --reportformat=json vg_{D}"
    )
    wrapped = CommandSettings(lvm_wrapper="/usr/local/bin/in-host")
    assert lvm.udev_symlinks(wrapped, "/dev/sdb").argv[:2] == (
        "/usr/local/bin/in-host",
        "/usr/bin/udevadm",
    )
    # the wrapper prefixes lvm and udevadm only
    assert lvm.wipefs("/dev/sdb").argv == ("wipefs", "--all", "/dev/sdb")


def test_device_teardown_by_uuid_path_and_rmdir() -> None:
    plan = lvm.device_teardown_plan(
        CommandSettings(), DEVICE, pv_uuid="Xh3Cz0-1bq3-RM5b-Ovv6-5jhs-Np5U-pLnq9d"
    )
    assert plan.remove.argvs == [
        split(f"/usr/sbin/lvm vgremove -qq vg_{D}"),
        split(
            "/usr/sbin/lvm pvremove -qq "
            "/dev/disk/by-id/lvm-pv-uuid-Xh3Cz0-1bq3-RM5b-Ovv6-5jhs-Np5U-pLnq9d"
        ),
    ]
    assert plan.rmdir.argv == split(f"rmdir /var/lib/heketi/mounts/vg_{D}")
    assert plan.rmdir.outcome(1, "rmdir: failed: No such file or directory") is Outcome.TOLERATED
    assert plan.rmdir.outcome(1, "Directory not empty") is Outcome.FAILED


def test_teardown_pv_path_fallbacks() -> None:
    assert lvm.teardown_pv_path(DEVICE, "", ("/dev/disk/by-id/wwn-0x5", "/dev/sdb")) == (
        "/dev/disk/by-id/wwn-0x5"
    )
    assert lvm.teardown_pv_path(DEVICE) == "/dev/sdb"
    plan = lvm.device_teardown_plan(CommandSettings(), DEVICE)
    assert plan.remove.argvs[1] == split("/usr/sbin/lvm pvremove -qq /dev/sdb")


def test_brick_create_default_exact() -> None:
    out = lvm.brick_create(CommandSettings(), BRICK)
    assert out.argvs == [
        split(f"mkdir -p {MNT}"),
        split(
            "/usr/sbin/lvm lvcreate -qq --autobackup=n --poolmetadatasize 8192K --chunksize 256K "
            f"--size 1048576K --thin vg_{D}/tp_{B} --virtualsize 1048576K --name brick_{B}"
        ),
        split(f"mkfs.xfs -i size=512 -n size=8192 {DEVNODE}"),
        ("tee", "-a", "/etc/fstab"),
        split(f"mount -o rw,inode64,noatime,nouuid {DEVNODE} {MNT}"),
        split(f"mkdir {MNT}/brick"),
    ]
    # the line Heketi's awk appends, byte for byte
    assert out[3].stdin == f"{DEVNODE} {MNT} xfs rw,inode64,noatime,nouuid 1 2\n".encode()
    assert all(c.stdin is None for i, c in enumerate(out) if i != 3)
    assert all(c.timeout == 600 for c in out)


def test_brick_create_with_gid() -> None:
    brick = BrickSpec(id=B, device=DEVICE, size=2048, tp_size=2048, pool_metadata_size=12, gid=2001)
    out = lvm.brick_create(CommandSettings(), brick)
    assert out.argvs[-3:] == [
        split(f"mkdir {MNT}/brick"),
        split(f"chown :2001 {MNT}/brick"),
        split(f"chmod 2775 {MNT}/brick"),
    ]
    assert out.argvs[1] == split(
        "/usr/sbin/lvm lvcreate -qq --autobackup=n --poolmetadatasize 12K --chunksize 256K "
        f"--size 2048K --thin vg_{D}/tp_{B} --virtualsize 2048K --name brick_{B}"
    )


def test_brick_create_xfs_su_sw_needs_both() -> None:
    both = lvm.brick_create(CommandSettings(xfs_su=128, xfs_sw=10), BRICK)
    assert both.argvs[2] == split(f"mkfs.xfs -i size=512 -d su=128,sw=10 -n size=8192 {DEVNODE}")
    only_su = lvm.brick_create(CommandSettings(xfs_su=128), BRICK)
    assert only_su.argvs[2] == split(f"mkfs.xfs -i size=512 -n size=8192 {DEVNODE}")
    only_sw = lvm.brick_create(CommandSettings(xfs_sw=10), BRICK)
    assert only_sw.argvs[2] == split(f"mkfs.xfs -i size=512 -n size=8192 {DEVNODE}")


def test_brick_create_arbiter() -> None:
    arbiter = BrickSpec(
        id=B, device=DEVICE, size=1024, tp_size=1024, pool_metadata_size=8, arbiter=True
    )
    cfg = CommandSettings(lv_chunksize="512K", xfs_su=128, xfs_sw=10)
    out = lvm.brick_create(cfg, arbiter)
    assert "--chunksize 256K" in to_shell(out[1].argv)
    assert out.argvs[2] == split(f"mkfs.xfs -i maxpct=100 -n size=8192 {DEVNODE}")
    normal = lvm.brick_create(cfg, BRICK)
    assert "--chunksize 512K" in to_shell(normal[1].argv)


def test_brick_create_config_values() -> None:
    cfg = CommandSettings(
        backup_lvm_metadata=True,
        mountopts="rw,noatime,nouuid",
        fstab="/etc/fstab.heketi",
        lvm_wrapper="chroot /host",
    )
    out = lvm.brick_create(cfg, BRICK)
    assert out.argvs[1][:5] == ("chroot", "/host", "/usr/sbin/lvm", "lvcreate", "-qq")
    assert out.argvs[1][5] == "--autobackup=y"
    assert out.argvs[3] == ("tee", "-a", "/etc/fstab.heketi")
    assert out[3].stdin == f"{DEVNODE} {MNT} xfs rw,noatime,nouuid 1 2\n".encode()
    assert out.argvs[4] == split(f"mount -o rw,noatime,nouuid {DEVNODE} {MNT}")


def test_brick_create_rejects_bad_sizes_and_ids() -> None:
    with pytest.raises(ValueError):
        lvm.brick_create(
            CommandSettings(),
            BrickSpec(id=B, device=DEVICE, size=0, tp_size=1, pool_metadata_size=1),
        )
    with pytest.raises(ValueError):
        lvm.brick_create(
            CommandSettings(),
            BrickSpec(id="x/../y", device=DEVICE, size=1, tp_size=1, pool_metadata_size=1),
        )
    with pytest.raises(ValueError):
        lvm.brick_create(CommandSettings(mountopts="rw noatime"), BRICK)


def test_brick_destroy_plan_default() -> None:
    plan = lvm.brick_destroy_plan(CommandSettings(), BRICK)
    assert plan.mount_point == MNT
    assert plan.umount.argv == split(f"umount {MNT}")
    assert plan.umount.outcome(32, f"umount: {MNT}: not mounted.") is Outcome.TOLERATED
    assert plan.umount.outcome(32, f"umount: {MNT}: target is busy.") is Outcome.FAILED
    assert plan.mounted_check.argv == split(
        f"findmnt --json --list --output TARGET,SOURCE,FSTYPE,OPTIONS --mountpoint {MNT}"
    )
    assert plan.mounted_check.ok_exit_codes == frozenset({0, 1})
    assert plan.lsof is None
    assert plan.fstab_remove is not None
    assert plan.fstab_remove.argv == ("sed", "-i.save", f"/brick_{B}/d", "/etc/fstab")
    # Heketi's string, once its shell quotes are gone, is exactly this argv
    assert plan.fstab_remove.argv == tuple(shlex.split(f'sed -i.save "/brick_{B}/d" /etc/fstab'))
    assert plan.lv_remove.argv == split(
        f"/usr/sbin/lvm lvremove --autobackup=n -f vg_{D}/brick_{B}"
    )
    assert plan.thin_count.argv == split(
        f"/usr/sbin/lvm lvs --noheadings --options=thin_count vg_{D}/tp_{B}"
    )
    assert plan.pool_remove.argv == split(f"/usr/sbin/lvm lvremove --autobackup=n -f vg_{D}/tp_{B}")
    assert plan.rmdir.argv == split(f"rmdir {MNT}")
    for cmd in (plan.lv_remove, plan.thin_count, plan.pool_remove):
        assert cmd.outcome(5, f'Failed to find logical volume "vg_{D}/x"') is Outcome.TOLERATED
        assert cmd.outcome(5, "  Volume group vg_x not found") is Outcome.TOLERATED
        assert cmd.timeout == 300


def test_brick_destroy_plan_options() -> None:
    cfg = CommandSettings(debug_umount_failures=True, backup_lvm_metadata=True, fstab="/etc/ft")
    plan = lvm.brick_destroy_plan(cfg, BRICK)
    assert plan.lsof is not None
    assert plan.lsof.argv == ("lsof", MNT)
    assert plan.fstab_remove is not None
    assert plan.fstab_remove.argv[-1] == "/etc/ft"
    assert plan.lv_remove.argv[2] == "--autobackup=y"


def test_brick_destroy_plan_clone_brick() -> None:
    snap_mnt = "/run/gluster/snaps/abc/brick1"
    plan = lvm.brick_destroy_plan(
        CommandSettings(), BRICK, mount_point=snap_mnt, lv="abc_0", pool=f"tp_{B}"
    )
    assert plan.fstab_remove is None
    assert plan.umount.argv == ("umount", snap_mnt)
    assert plan.lv_remove.argv[-1] == f"vg_{D}/abc_0"
    assert plan.pool_remove.argv[-1] == f"vg_{D}/tp_{B}"
    assert lvm.is_glusterd_managed("/var/run/gluster/snaps/x")
    assert not lvm.is_glusterd_managed(MNT)


def test_names() -> None:
    assert lvm.vg_name(D) == f"vg_{D}"
    assert lvm.brick_devnode(D, B) == DEVNODE
    assert lvm.dm_devnode("vg_a-b", "brick_c") == "/dev/mapper/vg_a--b-brick_c"
    assert lvm.brick_mount_point(D, B) == BRICK.mount_point
    assert lvm.device_mount_parent(D) == f"/var/lib/heketi/mounts/vg_{D}"
    assert lvm.autobackup(CommandSettings()) == "--autobackup=n"
    assert lvm.lvm_prefix(CommandSettings()) == ("/usr/sbin/lvm",)
    assert lvm.lvm_prefix(CommandSettings(lvm_wrapper="  ")) == ("/usr/sbin/lvm",)


# -- names Heketi recorded (LvmThinPool / LvmLv) ---------------------------------------------
POOL = "tp_271b68453991d6a935a6f081b882be89"  # a real Heketi 10 brick's pool, not tp_<brick>


def test_brick_destroy_plan_uses_the_recorded_pool() -> None:
    """A brick imported from Heketi keeps its pool's name: every LVM command names it; the LV,
    mount point and fstab line stay the derived ones (Heketi derives them too)."""
    brick = BrickSpec(
        id=B, device=DEVICE, size=1048576, tp_size=1048576, pool_metadata_size=8192, pool=POOL
    )
    plan = lvm.brick_destroy_plan(CommandSettings(), brick)
    assert plan.mount_point == MNT
    assert plan.fstab_remove is not None
    assert plan.fstab_remove.argv == ("sed", "-i.save", f"/brick_{B}/d", "/etc/fstab")
    assert plan.lv_remove.argv == split(
        f"/usr/sbin/lvm lvremove --autobackup=n -f vg_{D}/brick_{B}"
    )
    assert plan.thin_count.argv == split(
        f"/usr/sbin/lvm lvs --noheadings --options=thin_count vg_{D}/{POOL}"
    )
    assert plan.pool_remove.argv == split(f"/usr/sbin/lvm lvremove --autobackup=n -f vg_{D}/{POOL}")


def test_brick_destroy_plan_of_a_recorded_clone_brick() -> None:
    snap = "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99"
    brick = BrickSpec(
        id=B,
        device=DEVICE,
        size=1048576,
        tp_size=1048576,
        pool_metadata_size=8192,
        path_override=f"/run/gluster/snaps/{snap}/brick2/brick",
        lv=f"{snap}_1",
        pool=POOL,
        pool_guest=True,
    )
    plan = lvm.brick_destroy_plan(CommandSettings(), brick, mount_point=brick.mount_point)
    assert plan.umount.argv == ("umount", f"/run/gluster/snaps/{snap}/brick2")
    assert plan.fstab_remove is None  # glusterd mounts it
    assert plan.lv_remove.argv[-1] == f"vg_{D}/{snap}_1"
    assert plan.thin_count.argv[-1] == f"vg_{D}/{POOL}"
    assert plan.pool_remove.argv[-1] == f"vg_{D}/{POOL}"


@pytest.mark.parametrize("name", ["-rf", "a/b", "", "..", "x y", "tp_\n", "a" * 128, "ä"])
def test_recorded_names_a_node_would_not_take_are_refused(name: str) -> None:
    brick = BrickSpec(
        id=B, device=DEVICE, size=1, tp_size=1, pool_metadata_size=1, pool=name or "x", lv=name
    )
    if name == "":
        brick = BrickSpec(id=B, device=DEVICE, size=1, tp_size=1, pool_metadata_size=1, pool="-x")
    with pytest.raises(ValueError):
        lvm.brick_destroy_plan(CommandSettings(), brick)

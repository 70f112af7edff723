"""LVM backend: the node-level command sequences of Heketi (internals §4.5), as argv.

Every command line is Heketi's, word for word, with the configured values
(`CommandSettings`): ``lvm_wrapper`` (split like a shell would, prefixed to ``/usr/sbin/lvm`` and
``/usr/bin/udevadm`` only), ``--autobackup=y|n`` from ``backup_lvm_metadata``,
``pv_data_alignment``, ``vg_physicalextentsize``, ``lv_chunksize``, ``xfs_su``/``xfs_sw`` (both
needed), ``mountopts`` and ``fstab``. Timeouts are Heketi's: device setup/teardown/info 5 min,
brick create 10 min, each brick-destroy step 5 min.

Deliberate differences from Heketi's strings, and why:

* **No shell.** Heketi sends strings to ``bash -c``; we build argv. Where Heketi single-quotes a
  device (``pvcreate … '<dev>'``, ``pvremove … '<path>'``) the argv element is the bare path.
* **fstab append** (brick create): Heketi runs ``awk "BEGIN {print \\"<devnode> <mnt> xfs
  <mountopts> 1 2\\" >> \\"<fstab>\\"}"``, which needs a shell for its quoting. We run
  ``tee -a <fstab>`` with ``"<devnode> <mnt> xfs <mountopts> 1 2\\n"`` on stdin (`fs.fstab_append`):
  the same line lands in the same file, with no shell and no quoting hazard.
* **fstab remove** (brick destroy): ``("sed", "-i.save", "/brick_<id>/d", <fstab>)`` is Heketi's
  ``sed -i.save "/brick_<id>/d" <fstab>`` without the shell quotes.
* **"Was it mounted?"** after a failed ``umount``: Heketi runs ``mount`` and looks for the path in
  its output (a substring test that also matches longer paths); we run ``findmnt --json --list
  --mountpoint <mnt>`` and compare targets exactly. ``umount`` failing with "not mounted" is
  accepted directly (the outcome Heketi reaches through its ``mount`` check).
* **Arbiter bricks** use ``--chunksize 256K`` whatever ``lv_chunksize`` says, and no su/sw stripe
  options (internals §4.5: "mkfs.xfs -i maxpct=100 -n size=8192 <devnode>, chunksize always
  256K"): an arbiter brick holds metadata only.
* **Device-mapper names**: ``/dev/mapper/<vg>-<lv>`` doubles any ``-`` inside the VG or LV name,
  as device-mapper does. Heketi's hex ids contain none, so its paths are unchanged.
* **udevadm failure** is reported by the command's exit code; Heketi then uses the device name
  as the only path (`parsers.parse_udev_symlinks` adds the name in any case).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from ...domain.validation import is_valid_lvm_name
from ..port import BrickSpec, DeviceSpec
from . import fs
from .argv import Command, CommandBatch, batch, check_abs_path, check_arg, check_id, minutes
from .settings import CommandSettings

__all__ = [
    "ARBITER_CHUNKSIZE",
    "BRICK_CREATE_TIMEOUT",
    "BRICK_DESTROY_TIMEOUT",
    "DEVICE_TIMEOUT",
    "LVM",
    "LVS_BRICK_FIELDS",
    "LV_NOT_FOUND",
    "MOUNTS_ROOT",
    "PV_UUID_PREFIX",
    "UDEVADM",
    "BrickDestroyPlan",
    "DeviceTeardownPlan",
    "autobackup",
    "brick_create",
    "brick_destroy_plan",
    "brick_devnode",
    "brick_fstab_line",
    "brick_mount_options",
    "brick_mount_point",
    "check_brick_sizes",
    "device_mount_parent",
    "device_setup",
    "device_teardown_plan",
    "dm_devnode",
    "is_glusterd_managed",
    "lv_name",
    "lv_pool",
    "lvcreate",
    "lvm_prefix",
    "lvremove",
    "lvs_bricks",
    "pool_name",
    "pvcreate",
    "pvremove",
    "pvs_identify",
    "snapshot_brick_lv",
    "teardown_pv_path",
    "thin_count",
    "udev_symlinks",
    "udevadm_prefix",
    "vg_name",
    "vg_names",
    "vgcreate",
    "vgdisplay",
    "vgremove",
    "vgs_pv_uuid",
    "wipefs",
]

LVM = "/usr/sbin/lvm"
UDEVADM = "/usr/bin/udevadm"
MOUNTS_ROOT = "/var/lib/heketi/mounts"
PV_UUID_PREFIX = "/dev/disk/by-id/lvm-pv-uuid-"
ARBITER_CHUNKSIZE = "256K"
# lvremove / lvs on a missing LV: Heketi's errIsLvNotFound (lower-cased substring test).
LV_NOT_FOUND: tuple[str, ...] = ("not found", "failed to find")

DEVICE_TIMEOUT = minutes(5)
BRICK_CREATE_TIMEOUT = minutes(10)
BRICK_DESTROY_TIMEOUT = minutes(5)


# --------------------------------------------------------------------------------------------
# Names


def vg_name(device_id: str) -> str:
    return f"vg_{check_id(device_id, 'device id')}"


def pool_name(brick_id: str) -> str:
    return f"tp_{check_id(brick_id, 'brick id')}"


def lv_name(brick_id: str) -> str:
    return f"brick_{check_id(brick_id, 'brick id')}"


def check_lvm_name(name: str, what: str) -> str:
    """An LV or pool name the database recorded (Heketi's LvmLv / LvmThinPool)."""
    if not is_valid_lvm_name(name):
        raise ValueError(f"invalid {what}: {name!r}")
    return name


def device_mount_parent(device_id: str) -> str:
    """``/var/lib/heketi/mounts/vg_<device id>``: parent of the device's brick mount points."""
    return f"{MOUNTS_ROOT}/{vg_name(device_id)}"


def brick_mount_point(device_id: str, brick_id: str) -> str:
    return f"{device_mount_parent(device_id)}/{lv_name(brick_id)}"


def dm_devnode(vg: str, lv: str) -> str:
    """``/dev/mapper/<vg>-<lv>`` with device-mapper's doubling of ``-`` inside each name."""
    return f"/dev/mapper/{vg.replace('-', '--')}-{lv.replace('-', '--')}"


def brick_devnode(device_id: str, brick_id: str) -> str:
    """``/dev/mapper/vg_<device id>-brick_<brick id>``."""
    return dm_devnode(vg_name(device_id), lv_name(brick_id))


def is_glusterd_managed(mount_point: str) -> bool:
    """Snapshot/clone bricks under ``/run/gluster/`` or ``/var/run/gluster/`` have no fstab line
    (glusterd mounts them), so brick destroy skips the fstab edit for them."""
    return mount_point.startswith(("/run/gluster/", "/var/run/gluster/"))


# --------------------------------------------------------------------------------------------
# Prefixes


def _wrapper(cfg: CommandSettings) -> tuple[str, ...]:
    words = tuple(shlex.split(cfg.lvm_wrapper)) if cfg.lvm_wrapper.strip() else ()
    for word in words:
        if "\x00" in word:
            raise ValueError("lvm_wrapper contains NUL")
    return words


def lvm_prefix(cfg: CommandSettings) -> tuple[str, ...]:
    """``/usr/sbin/lvm``, or ``<wrapper words…> /usr/sbin/lvm``."""
    return (*_wrapper(cfg), LVM)


def udevadm_prefix(cfg: CommandSettings) -> tuple[str, ...]:
    return (*_wrapper(cfg), UDEVADM)


def autobackup(cfg: CommandSettings) -> str:
    return f"--autobackup={'y' if cfg.backup_lvm_metadata else 'n'}"


def _lvm(
    cfg: CommandSettings, *args: str, timeout: float, tolerate: tuple[str, ...] = ()
) -> Command:
    return Command((*lvm_prefix(cfg), *args), timeout, tolerate=tolerate)


# --------------------------------------------------------------------------------------------
# Device setup, identification, sizes, teardown


def wipefs(device: str, timeout: float = DEVICE_TIMEOUT) -> Command:
    return Command(("wipefs", "--all", check_abs_path(device, "device")), timeout)


def pvcreate(cfg: CommandSettings, device: str, timeout: float = DEVICE_TIMEOUT) -> Command:
    return _lvm(
        cfg,
        "pvcreate",
        "-qq",
        "--metadatasize=128M",
        f"--dataalignment={check_arg(cfg.pv_data_alignment, 'pv_data_alignment')}",
        check_abs_path(device, "device"),
        timeout=timeout,
    )


def vgcreate(
    cfg: CommandSettings, device_id: str, device: str, timeout: float = DEVICE_TIMEOUT
) -> Command:
    return _lvm(
        cfg,
        "vgcreate",
        "-qq",
        f"--physicalextentsize={check_arg(cfg.vg_physicalextentsize, 'vg_physicalextentsize')}",
        autobackup(cfg),
        vg_name(device_id),
        check_abs_path(device, "device"),
        timeout=timeout,
    )


def device_setup(cfg: CommandSettings, device: DeviceSpec, destroy_data: bool) -> CommandBatch:
    """``[wipefs --all <dev>]``, ``pvcreate``, ``vgcreate`` — one batch, 5 min.

    Afterwards: `pvs_identify` + `udev_symlinks` (identification) and `vgdisplay` (sizes); any
    failure after the VG exists must run the teardown. When pvcreate/vgcreate fails, run
    `pvs_identify` to classify the refusal (internals §5.1)."""
    return batch(
        wipefs(device.name) if destroy_data else None,
        pvcreate(cfg, device.name),
        vgcreate(cfg, device.id, device.name),
    )


def pvs_identify(cfg: CommandSettings, device: str, timeout: float = DEVICE_TIMEOUT) -> Command:
    """``pvs -o pv_name,pv_uuid,vg_name --reportformat=json <dev>``
    (parse with `parsers.parse_pv_uuid`)."""
    return _lvm(
        cfg,
        "pvs",
        "-o",
        "pv_name,pv_uuid,vg_name",
        "--reportformat=json",
        check_abs_path(device, "device"),
        timeout=timeout,
    )


def udev_symlinks(cfg: CommandSettings, device: str, timeout: float = DEVICE_TIMEOUT) -> Command:
    """``udevadm info --query=symlink --name=<dev>`` (parse with
    `parsers.parse_udev_symlinks`; on failure the device name is the only path)."""
    return Command(
        (
            *udevadm_prefix(cfg),
            "info",
            "--query=symlink",
            f"--name={check_abs_path(device, 'device')}",
        ),
        timeout,
    )


def vgs_pv_uuid(cfg: CommandSettings, device_id: str, timeout: float = DEVICE_TIMEOUT) -> Command:
    """Look a missing PV UUID up by VG: ``vgs -o pv_name,pv_uuid,vg_name --reportformat=json
    vg_<id>`` (failure only logged)."""
    return _lvm(
        cfg,
        "vgs",
        "-o",
        "pv_name,pv_uuid,vg_name",
        "--reportformat=json",
        vg_name(device_id),
        timeout=timeout,
    )


def vgdisplay(cfg: CommandSettings, device_id: str, timeout: float = DEVICE_TIMEOUT) -> Command:
    """``vgdisplay -c vg_<id>`` (parse with `parsers.parse_vgdisplay`)."""
    return _lvm(cfg, "vgdisplay", "-c", vg_name(device_id), timeout=timeout)


def vg_names(cfg: CommandSettings, timeout: float = DEVICE_TIMEOUT) -> Command:
    """``vgs -o vg_name --reportformat=json``: every VG of the node (`parsers.parse_vg_names`),
    so the node inventory asks `lvs_bricks` only about VGs that exist (lvs fails on a missing
    one)."""
    return _lvm(cfg, "vgs", "-o", "vg_name", "--reportformat=json", timeout=timeout)


def vgremove(cfg: CommandSettings, device_id: str, timeout: float = DEVICE_TIMEOUT) -> Command:
    return _lvm(cfg, "vgremove", "-qq", vg_name(device_id), timeout=timeout)


def pvremove(cfg: CommandSettings, pv_path: str, timeout: float = DEVICE_TIMEOUT) -> Command:
    return _lvm(cfg, "pvremove", "-qq", check_abs_path(pv_path, "PV path"), timeout=timeout)


def teardown_pv_path(device: DeviceSpec, pv_uuid: str = "", paths: tuple[str, ...] = ()) -> str:
    """The path pvremove gets: ``/dev/disk/by-id/lvm-pv-uuid-<uuid>`` when the UUID is known,
    else the first known path, else the device name."""
    if pv_uuid:
        return PV_UUID_PREFIX + check_arg(pv_uuid, "PV UUID")
    if paths:
        return paths[0]
    return device.name


@dataclass(frozen=True)
class DeviceTeardownPlan:
    """Device teardown (internals §4.5): ``remove`` (vgremove, pvremove; one batch) then
    ``rmdir`` of the mount parent ("No such file or directory" tolerated; other errors only
    logged). For *forget* (``forceforget``) run the same commands and ignore every error."""

    remove: CommandBatch
    rmdir: Command


def device_teardown_plan(
    cfg: CommandSettings, device: DeviceSpec, pv_uuid: str = "", paths: tuple[str, ...] = ()
) -> DeviceTeardownPlan:
    return DeviceTeardownPlan(
        remove=batch(
            vgremove(cfg, device.id),
            pvremove(cfg, teardown_pv_path(device, pv_uuid, paths)),
        ),
        rmdir=fs.rmdir(device_mount_parent(device.id), DEVICE_TIMEOUT, tolerate_missing=True),
    )


# --------------------------------------------------------------------------------------------
# Bricks


def check_brick_sizes(brick: BrickSpec) -> None:
    """Every size a brick is made with must be positive (a zero would make a broken LV/image)."""
    for what, value in (
        ("size", brick.size),
        ("tp_size", brick.tp_size),
        ("pool_metadata_size", brick.pool_metadata_size),
    ):
        if value <= 0:
            raise ValueError(f"brick {what} must be positive, got {value}")


def lvcreate(
    cfg: CommandSettings, brick: BrickSpec, timeout: float = BRICK_CREATE_TIMEOUT
) -> Command:
    """``lvcreate -qq --autobackup=n --poolmetadatasize <M>K --chunksize <C> --size <T>K --thin
    vg_<d>/tp_<b> --virtualsize <S>K --name brick_<b>``."""
    check_brick_sizes(brick)
    chunksize = ARBITER_CHUNKSIZE if brick.arbiter else check_arg(cfg.lv_chunksize, "lv_chunksize")
    return _lvm(
        cfg,
        "lvcreate",
        "-qq",
        autobackup(cfg),
        "--poolmetadatasize",
        f"{brick.pool_metadata_size}K",
        "--chunksize",
        chunksize,
        "--size",
        f"{brick.tp_size}K",
        "--thin",
        f"{vg_name(brick.device.id)}/{pool_name(brick.id)}",
        "--virtualsize",
        f"{brick.size}K",
        "--name",
        lv_name(brick.id),
        timeout=timeout,
    )


def brick_mount_options(cfg: CommandSettings) -> str:
    return check_arg(cfg.mountopts, "mountopts")


def brick_fstab_line(cfg: CommandSettings, brick: BrickSpec) -> str:
    """``<devnode> <mnt> xfs <mountopts> 1 2``."""
    return fs.fstab_line(
        brick_devnode(brick.device.id, brick.id),
        brick_mount_point(brick.device.id, brick.id),
        "xfs",
        brick_mount_options(cfg),
        1,
        2,
    )


def brick_create(cfg: CommandSettings, brick: BrickSpec) -> CommandBatch:
    """The brick-create batch (10 min). On any failure run `brick_destroy_plan` for the brick.

    ``mkdir -p <mnt>``; ``lvcreate``; ``mkfs.xfs``; fstab append; ``mount -o <mountopts>
    <devnode> <mnt>``; ``mkdir <mnt>/brick``; and when gid != 0 ``chown :<gid>`` and
    ``chmod 2775`` on it."""
    timeout = BRICK_CREATE_TIMEOUT
    mnt = brick_mount_point(brick.device.id, brick.id)
    devnode = brick_devnode(brick.device.id, brick.id)
    return batch(
        fs.mkdir_p(mnt, timeout),
        lvcreate(cfg, brick, timeout),
        fs.mkfs_xfs(cfg, devnode, timeout, arbiter=brick.arbiter),
        fs.fstab_append(cfg, brick_fstab_line(cfg, brick), timeout),
        fs.mount(brick_mount_options(cfg), devnode, mnt, timeout),
        fs.brick_dir_commands(f"{mnt}/brick", brick.gid, timeout),
    )


def lvremove(cfg: CommandSettings, target: str, timeout: float = BRICK_DESTROY_TIMEOUT) -> Command:
    """``lvremove --autobackup=n -f <vg>/<lv>``; a missing LV ("not found", "failed to find")
    counts as removed."""
    return _lvm(
        cfg,
        "lvremove",
        autobackup(cfg),
        "-f",
        check_arg(target, "LV"),
        timeout=timeout,
        tolerate=LV_NOT_FOUND,
    )


def thin_count(cfg: CommandSettings, pool: str, timeout: float = BRICK_DESTROY_TIMEOUT) -> Command:
    """``lvs --noheadings --options=thin_count <vg>/<pool>``. A TOLERATED outcome means the
    pool is missing: count 0. Otherwise parse stdout with `parsers.parse_thin_count`."""
    return _lvm(
        cfg,
        "lvs",
        "--noheadings",
        "--options=thin_count",
        check_arg(pool, "thin pool"),
        timeout=timeout,
        tolerate=LV_NOT_FOUND,
    )


LVS_BRICK_FIELDS = "vg_name,lv_name,pool_lv,lv_size,lv_metadata_size"


def lv_pool(cfg: CommandSettings, target: str, timeout: float = BRICK_DESTROY_TIMEOUT) -> Command:
    """``lvs --noheadings --options=pool_lv <vg>/<lv>``: the thin pool an LV is in (a snapshot
    clone's brick is in its origin brick's pool). TOLERATED: the LV is missing."""
    return _lvm(
        cfg,
        "lvs",
        "--noheadings",
        "--options=pool_lv",
        check_arg(target, "LV"),
        timeout=timeout,
        tolerate=LV_NOT_FOUND,
    )


_SNAPSHOT_BRICK = re.compile(r"/(?:var/)?run/gluster/snaps/([0-9a-f]{32})/brick([1-9][0-9]*)/brick")


def snapshot_brick_lv(path: str) -> str | None:
    """The LV gluster made for a snapshot clone's brick: ``/run/gluster/snaps/<uuid>/brick<N>/
    brick`` is LV ``<uuid>_<N-1>`` in the origin brick's volume group (seen on GlusterFS 10)."""
    found = _SNAPSHOT_BRICK.fullmatch(path)
    return f"{found.group(1)}_{int(found.group(2)) - 1}" if found else None


def lvs_bricks(
    cfg: CommandSettings, device_ids: list[str], timeout: float = DEVICE_TIMEOUT
) -> Command:
    """``lvs -o vg_name,lv_name,pool_lv,lv_size,lv_metadata_size --units k --reportformat=json
    vg_<id>…``: the LVs of the devices' VGs with sizes in KiB; for a thin pool ``lv_size`` is
    its data size and ``lv_metadata_size`` its metadata LV (`parsers.parse_thin_bricks`)."""
    if not device_ids:
        raise ValueError("lvs_bricks needs at least one device")
    return _lvm(
        cfg,
        "lvs",
        "-o",
        LVS_BRICK_FIELDS,
        "--units",
        "k",
        "--reportformat=json",
        *(vg_name(d) for d in device_ids),
        timeout=timeout,
    )


@dataclass(frozen=True)
class BrickDestroyPlan:
    """Brick destroy (internals §4.5), step by step; each step is a separate run (5 min).

    1. ``umount``. If it FAILED: run ``mounted_check`` (findmnt) and treat the umount as done
       when `parsers.is_mounted` says the mount point is not mounted; log ``lsof`` (only set
       when ``debug_umount_failures``).
    2. ``fstab_remove`` (None for glusterd-managed snapshot bricks) — run even if umount
       failed; if either failed: error, stop.
    3. ``lv_remove`` (missing LV tolerated; other failure: error, stop).
    4. ``thin_count``: TOLERATED → 0; else `parsers.parse_thin_count` (failure: error, stop).
    5. If the count is 0: ``pool_remove``; OK or TOLERATED → space reclaimed; FAILED is only
       logged (space stays used).
    6. ``rmdir`` of the mount point (errors only logged).
    """

    mount_point: str
    umount: Command
    mounted_check: Command
    lsof: Command | None
    fstab_remove: Command | None
    lv_remove: Command
    thin_count: Command
    pool_remove: Command
    rmdir: Command


def brick_destroy_plan(
    cfg: CommandSettings,
    brick: BrickSpec,
    *,
    mount_point: str | None = None,
    lv: str | None = None,
    pool: str | None = None,
) -> BrickDestroyPlan:
    """Plan for destroying ``brick``. ``mount_point``, ``lv`` and ``pool`` (LV names without
    the VG) override the derived names, for clone bricks (Heketi's ``LvmLv``/``LvmThinPool``)."""
    timeout = BRICK_DESTROY_TIMEOUT
    mnt = check_abs_path(mount_point or brick_mount_point(brick.device.id, brick.id))
    vg = vg_name(brick.device.id)
    lv = lv or brick.lv
    pool = pool or brick.pool
    lv_full = f"{vg}/{check_lvm_name(lv, 'LV name') if lv else lv_name(brick.id)}"
    pool_full = f"{vg}/{check_lvm_name(pool, 'pool name') if pool else pool_name(brick.id)}"
    return BrickDestroyPlan(
        mount_point=mnt,
        umount=fs.umount(mnt, timeout),
        mounted_check=fs.findmnt_mountpoint(mnt, timeout),
        lsof=fs.lsof(mnt, timeout) if cfg.debug_umount_failures else None,
        fstab_remove=None
        if is_glusterd_managed(mnt)
        else fs.fstab_remove_brick(cfg, brick.id, timeout),
        lv_remove=lvremove(cfg, lv_full, timeout),
        thin_count=thin_count(cfg, pool_full, timeout),
        pool_remove=lvremove(cfg, pool_full, timeout),
        rmdir=fs.rmdir(mnt, timeout),
    )

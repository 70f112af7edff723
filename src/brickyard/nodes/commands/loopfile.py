"""Loop-file backend: bricks are sparse XFS image files, loop-mounted, for hosts without
device-mapper (the namespace test bed, containers).

A device is either

* a **raw block device** (its name is under ``/dev/``): formatted with XFS and mounted at
  ``/var/lib/heketi/devices/<device id>`` (with an fstab line), or
* an **existing directory** (any other absolute name): used as it is, never formatted; setup only
  checks that it is a directory and reports the filesystem that holds it.

Brick images live in ``<device dir>/images/brick_<brick id>.img``; a brick's mount point is
Heketi's, ``/var/lib/heketi/mounts/vg_<device id>/brick_<brick id>``, and its gluster path is
``<mount point>/brick``, so the layout above the mount point is the LVM backend's.

An image plays the thin pool's role: its size is the brick's whole reservation, ``tp_size +
pool_metadata_size`` (snapshot reserve and metadata included), so the images' apparent sizes add
up to exactly the space the database reserves on the device. Images are created with
``truncate`` (sparse; ``fallocate`` is not used): space is consumed as data is written, the way
a thin LV consumes its pool. fstab lines are appended and removed as in `lvm` (``tee -a`` with
stdin, ``sed -i.save /brick_<id>/d``); the brick line is ``<image> <mount point> xfs
loop,<mountopts> 0 0``. Timeouts are the LVM backend's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..port import BrickSpec, DeviceSpec
from . import fs, lvm
from .argv import Command, CommandBatch, batch, check_abs_path, check_arg, check_id
from .lvm import BRICK_CREATE_TIMEOUT, BRICK_DESTROY_TIMEOUT, DEVICE_TIMEOUT, DeviceTeardownPlan
from .settings import CommandSettings

__all__ = [
    "DEVICES_ROOT",
    "LoopBrickDestroyPlan",
    "brick_create",
    "brick_destroy_plan",
    "brick_fstab_line",
    "brick_image",
    "brick_mount_point",
    "device_df",
    "device_dir",
    "device_fstab_line",
    "device_setup",
    "device_statfs",
    "device_teardown_plan",
    "image_size",
    "images_dir",
    "is_block_device_name",
    "list_images",
    "loop_detach",
    "loop_find",
    "loop_mount_options",
    "probe_device",
]

DEVICES_ROOT = "/var/lib/heketi/devices"


# --------------------------------------------------------------------------------------------
# Names


def is_block_device_name(name: str) -> bool:
    """Names under ``/dev/`` are raw block devices; anything else is a directory."""
    return check_abs_path(name, "device name").startswith("/dev/")


def device_dir(device: DeviceSpec) -> str:
    """Where the device's images live: ``/var/lib/heketi/devices/<id>`` for a block device
    (its mount point), the directory itself otherwise."""
    if is_block_device_name(device.name):
        return f"{DEVICES_ROOT}/{check_id(device.id, 'device id')}"
    return device.name.rstrip("/") or "/"


def images_dir(device: DeviceSpec) -> str:
    return f"{device_dir(device).rstrip('/')}/images"


def brick_image(brick: BrickSpec) -> str:
    """``<device dir>/images/brick_<brick id>.img``."""
    return f"{images_dir(brick.device)}/{lvm.lv_name(brick.id)}.img"


def brick_mount_point(brick: BrickSpec) -> str:
    """Heketi's ``/var/lib/heketi/mounts/vg_<device id>/brick_<brick id>``."""
    return lvm.brick_mount_point(brick.device.id, brick.id)


def loop_mount_options(cfg: CommandSettings) -> str:
    return f"loop,{check_arg(cfg.mountopts, 'mountopts')}"


# --------------------------------------------------------------------------------------------
# Devices


def probe_device(device: DeviceSpec, timeout: float = DEVICE_TIMEOUT) -> Command:
    """``stat -L -c %F <name>``: "block special file" or "directory"
    (`parsers.parse_stat_file_type`). Run before setup to check the name's kind matches
    `is_block_device_name`."""
    return Command(("stat", "-L", "-c", "%F", check_abs_path(device.name, "device name")), timeout)


def device_fstab_line(cfg: CommandSettings, device: DeviceSpec) -> str:
    """``<dev> /var/lib/heketi/devices/<id> xfs <mountopts> 0 0``."""
    return fs.fstab_line(
        device.name, device_dir(device), "xfs", check_arg(cfg.mountopts, "mountopts"), 0, 0
    )


def device_setup(cfg: CommandSettings, device: DeviceSpec, destroy_data: bool) -> CommandBatch:
    """One batch (5 min).

    Block device: ``[wipefs --all <dev>]``, ``mkfs.xfs -i size=512 -n size=8192 <dev>`` (without
    ``-f`` it refuses a device holding a filesystem, as pvcreate refuses one in use), ``mkdir -p``
    the device dir, fstab append, ``mount -o <mountopts> <dev> <dir>``, ``mkdir -p <dir>/images``.

    Directory: ``test -d <dir>``, ``findmnt --json --target <dir>`` (the filesystem holding it;
    `parsers.parse_findmnt`), ``mkdir -p <dir>/images``. ``destroy_data`` is ignored: nothing is
    ever wiped in a directory.

    Afterwards read sizes with `device_df` (or `device_statfs`)."""
    timeout = DEVICE_TIMEOUT
    directory = device_dir(device)
    if not is_block_device_name(device.name):
        return batch(
            Command(("test", "-d", directory), timeout),
            fs.findmnt_target(directory, timeout),
            fs.mkdir_p(images_dir(device), timeout),
        )
    mountopts = check_arg(cfg.mountopts, "mountopts")
    return batch(
        lvm.wipefs(device.name, timeout) if destroy_data else None,
        fs.mkfs_xfs(cfg, device.name, timeout),
        fs.mkdir_p(directory, timeout),
        fs.fstab_append(cfg, device_fstab_line(cfg, device), timeout),
        fs.mount(mountopts, device.name, directory, timeout),
        fs.mkdir_p(images_dir(device), timeout),
    )


def device_df(device: DeviceSpec, timeout: float = DEVICE_TIMEOUT) -> Command:
    """``df --output=size,avail -B1K <dir>`` (`parsers.parse_df`), sizes in KiB."""
    return Command(("df", "--output=size,avail", "-B1K", device_dir(device)), timeout)


def list_images(device: DeviceSpec, timeout: float = DEVICE_TIMEOUT) -> Command:
    """``find <images dir> -maxdepth 1 -name *.img -printf %s\\t%f\\0``: apparent size in
    bytes and name of every image, NUL-terminated (`parsers.parse_image_list`). A missing
    images dir (device torn down, device filesystem not mounted) is TOLERATED; only that
    directory's "No such file or directory" is, not an image vanishing during the listing."""
    images = images_dir(device)
    missing = re.escape(images) + r"[^\w/]*: No such file or directory"
    return Command(
        ("find", images, "-maxdepth", "1", "-name", "*.img", "-printf", "%s\\t%f\\0"),
        timeout,
        tolerate=(missing,),
    )


def device_statfs(device: DeviceSpec, timeout: float = DEVICE_TIMEOUT) -> Command:
    """``stat -f -c "%S %b %a" <dir>``: block size, total and available blocks
    (`parsers.parse_statfs`); an alternative to `device_df`."""
    return Command(("stat", "-f", "-c", "%S %b %a", device_dir(device)), timeout)


def device_teardown_plan(cfg: CommandSettings, device: DeviceSpec) -> DeviceTeardownPlan:
    """``remove`` batch, then ``rmdir`` of the mount parent (missing tolerated).

    Block device: ``rmdir <dir>/images`` (fails while brick images remain), ``umount <dir>``,
    remove the device's fstab line (``sed -i.save '\\%^[^ ]* <dir> %d'``), ``rmdir <dir>``,
    ``wipefs --all <dev>`` (the counterpart of vgremove + pvremove: the disk is left blank).
    Directory: ``rmdir <dir>/images`` (missing tolerated)."""
    timeout = DEVICE_TIMEOUT
    directory = device_dir(device)
    rmdir_parent = fs.rmdir(lvm.device_mount_parent(device.id), timeout, tolerate_missing=True)
    if not is_block_device_name(device.name):
        return DeviceTeardownPlan(
            remove=batch(fs.rmdir(images_dir(device), timeout, tolerate_missing=True)),
            rmdir=rmdir_parent,
        )
    fstab = check_abs_path(cfg.fstab, "fstab")
    return DeviceTeardownPlan(
        remove=batch(
            fs.rmdir(images_dir(device), timeout, tolerate_missing=True),
            fs.umount(directory, timeout),
            Command(("sed", "-i.save", rf"\%^[^ ]* {directory} %d", fstab), timeout),
            fs.rmdir(directory, timeout, tolerate_missing=True),
            lvm.wipefs(device.name, timeout),
        ),
        rmdir=rmdir_parent,
    )


# --------------------------------------------------------------------------------------------
# Bricks


def brick_fstab_line(cfg: CommandSettings, brick: BrickSpec) -> str:
    """``<image> <mount point> xfs loop,<mountopts> 0 0``."""
    return fs.fstab_line(
        brick_image(brick), brick_mount_point(brick), "xfs", loop_mount_options(cfg), 0, 0
    )


def image_size(brick: BrickSpec) -> int:
    """KiB: the brick's whole reservation, ``tp_size + pool_metadata_size``. The image stands
    for the thin pool (data with the snapshot reserve, plus metadata), so a device's free space
    as the node reports it (`device_df` and the images' apparent sizes) equals the database's.
    The filesystem is about 0.5 % larger than the brick size asked for."""
    lvm.check_brick_sizes(brick)
    return brick.tp_size + brick.pool_metadata_size


def brick_create(cfg: CommandSettings, brick: BrickSpec) -> CommandBatch:
    """The brick-create batch (10 min); on failure run `brick_destroy_plan`.

    ``mkdir -p <images dir>``; ``truncate -s <tp_size + pool_metadata_size>K <image>`` (see
    `image_size`); ``mkfs.xfs`` (LVM backend's options, arbiter and su/sw variants included) on
    the image; ``mkdir -p <mnt>``; fstab append; ``mount -o loop,<mountopts> <image> <mnt>``;
    ``mkdir <mnt>/brick``; ``chown``/``chmod`` when gid != 0."""
    timeout = BRICK_CREATE_TIMEOUT
    image = brick_image(brick)
    mnt = brick_mount_point(brick)
    return batch(
        fs.mkdir_p(images_dir(brick.device), timeout),
        Command(("truncate", "-s", f"{image_size(brick)}K", image), timeout),
        fs.mkfs_xfs(cfg, image, timeout, arbiter=brick.arbiter),
        fs.mkdir_p(mnt, timeout),
        fs.fstab_append(cfg, brick_fstab_line(cfg, brick), timeout),
        fs.mount(loop_mount_options(cfg), image, mnt, timeout),
        fs.brick_dir_commands(f"{mnt}/brick", brick.gid, timeout),
    )


def loop_find(image: str, timeout: float = BRICK_DESTROY_TIMEOUT) -> Command:
    """``losetup -j <image>``: loop devices still attached to the image
    (`parsers.parse_losetup`)."""
    return Command(("losetup", "-j", check_abs_path(image, "image")), timeout)


def loop_detach(loop_device: str, timeout: float = BRICK_DESTROY_TIMEOUT) -> Command:
    """``losetup -d <loop device>``."""
    return Command(("losetup", "-d", check_abs_path(loop_device, "loop device")), timeout)


@dataclass(frozen=True)
class LoopBrickDestroyPlan:
    """Brick destroy, step by step (5 min each).

    1. ``umount`` — on FAILED, ``mounted_check`` (findmnt; `parsers.is_mounted`) decides as in
       the LVM backend; ``lsof`` is logged when ``debug_umount_failures``.
    2. ``loop_find``; run `loop_detach` for every device `parsers.parse_losetup` returns (a
       ``mount -o loop`` device normally detaches itself on umount).
    3. ``fstab_remove`` — run even if umount failed; if either failed: error, stop.
    4. ``image_remove`` (``rm -f``): OK → space reclaimed.
    5. ``rmdir`` of the mount point (errors only logged).
    """

    mount_point: str
    image: str
    umount: Command
    mounted_check: Command
    lsof: Command | None
    loop_find: Command
    fstab_remove: Command
    image_remove: Command
    rmdir: Command


def brick_destroy_plan(cfg: CommandSettings, brick: BrickSpec) -> LoopBrickDestroyPlan:
    timeout = BRICK_DESTROY_TIMEOUT
    image = brick_image(brick)
    mnt = brick_mount_point(brick)
    return LoopBrickDestroyPlan(
        mount_point=mnt,
        image=image,
        umount=fs.umount(mnt, timeout),
        mounted_check=fs.findmnt_mountpoint(mnt, timeout),
        lsof=fs.lsof(mnt, timeout) if cfg.debug_umount_failures else None,
        loop_find=loop_find(image, timeout),
        fstab_remove=fs.fstab_remove_brick(cfg, brick.id, timeout),
        image_remove=Command(("rm", "-f", image), timeout),
        rmdir=fs.rmdir(mnt, timeout),
    )

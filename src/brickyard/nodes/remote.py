"""The node agent for real nodes: every NodeAgent operation as command sequences (commands/)
run through a transport (local, ssh). Brick work on different nodes runs in parallel; gluster
changes are serialized, since glusterd accepts one transaction at a time per trusted pool.
Every failure names the command, the node and the command's stderr."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable

from ..domain.errors import NodeCommandError
from ..instruments import node_command_histogram
from .commands import fs, gluster, loopfile, lvm, parsers
from .commands.argv import Command, Outcome, command_name
from .commands.errors import GlusterError, OutputParseError
from .commands.settings import CommandSettings
from .port import (
    ABSENT,
    DESTROYED,
    FOREIGN,
    BrickSpec,
    BrickStorage,
    DeviceReport,
    DeviceSpec,
    GlusterBrick,
    GlusterVolumeInfo,
    GlusterVolumeSpec,
    HealStatus,
    NodeAddress,
    NodeInventory,
    VolumeOwnership,
    collect_bricks,
)
from .transports import CommandResult, Transport

log = logging.getLogger(__name__)

LOOPFILE_EXTENT = 4096  # KiB: loop-file devices are accounted with LVM's default extents
PEER_WAIT_SECONDS = 30.0


def _failure(host: str, command: Command, result: CommandResult) -> NodeCommandError:
    detail = result.stderr.strip() or result.stdout.strip() or f"exit status {result.exit_code}"
    return NodeCommandError(f"{' '.join(command.argv)} on {host}: {detail}")


# glusterd's answers when its cluster-wide transaction lock is held by another transaction.
_GLUSTERD_BUSY = ("another transaction", "locking failed on")
GLUSTERD_BUSY_PATIENCE = 60.0  # seconds of retries before the refusal is the answer


def _glusterd_busy(message: str) -> bool:
    lowered = message.lower()
    return any(fragment in lowered for fragment in _GLUSTERD_BUSY)


class RemoteNodeAgent:
    def __init__(self, transport: Transport, settings: CommandSettings) -> None:
        self.transport = transport
        self.cfg = settings
        self._gluster_lock = asyncio.Lock()
        self._fstab_locks: dict[str, asyncio.Lock] = {}
        # Seconds per command, by (node, command name): read by /metrics.
        self.command_times = node_command_histogram()

    # -- running commands -----------------------------------------------------------------
    async def _run(self, host: str, command: Command, check: bool = True) -> CommandResult:
        """Every command this agent runs passes here: timed (by node and command name) for
        /metrics, and judged by its outcome."""
        if self.cfg.fstab in command.argv:
            # Bricks of one node are made in parallel: their fstab edits must not interleave.
            async with self._fstab_locks.setdefault(host, asyncio.Lock()):
                result = await self._timed(host, command)
                in_place = command.argv[:2] == ("sed", "-i.save")
                if in_place and result.exit_code and "cannot rename" in result.stderr:
                    result = await self._rewrite_fstab(host, command, result)
        else:
            result = await self._timed(host, command)
        if check and command.outcome(result.exit_code, result.stderr) is Outcome.FAILED:
            raise _failure(host, command, result)
        return result

    async def _timed(self, host: str, command: Command) -> CommandResult:
        began = time.monotonic()
        try:
            return await self.transport.run(host, command)
        finally:
            name = command_name(command.argv)
            self.command_times.observe((host, name), time.monotonic() - began)

    async def _batch(self, host: str, commands: Iterable[Command]) -> list[CommandResult]:
        """Run in order, stopping at the first failure (Heketi's ExecCommands)."""
        return [await self._run(host, command) for command in commands]

    async def _gluster(self, host: str, command: Command) -> CommandResult:
        """A gluster CLI call, retried while glusterd's cluster lock is another's (another
        Brickyard server, or an admin, changing the same trusted pool: glusterd refuses at
        its locking phase, before changing anything)."""
        waited = 0.0
        attempt = 0
        while True:
            try:
                return await self._gluster_once(host, command)
            except NodeCommandError as exc:
                if not _glusterd_busy(str(exc)) or waited >= GLUSTERD_BUSY_PATIENCE:
                    raise
                attempt += 1
                # 0.25, 0.5, 1, 2, 2... s, jittered so that two servers do not collide again.
                pause = min(2.0, 0.125 * 2**attempt) * (0.5 + random.random())
                log.info("glusterd on %s is busy (%s); again in %.1f s", host, exc, pause)
                await asyncio.sleep(pause)
                waited += pause

    async def _gluster_once(self, host: str, command: Command) -> CommandResult:
        """With --xml the exit status is 0 even on errors, so the reply's opRet decides."""
        result = await self._run(host, command)
        if "--xml" in command.argv:
            try:
                parsers.check_cli_output(result.stdout)
            except GlusterError as exc:
                raise NodeCommandError(
                    f"{' '.join(command.argv)} on {host}: {exc.message}"
                ) from exc
        return result

    # -- glusterd and peers ---------------------------------------------------------------
    async def check_glusterd(self, node: NodeAddress) -> None:
        # `gluster pool list` answers only when glusterd runs; unlike `systemctl status` it
        # works in containers and namespaces without systemd.
        await self._gluster(node.manage, gluster.pool_list(self.cfg))

    async def peer_probe(self, via: NodeAddress, new_peer: NodeAddress) -> None:
        async with self._gluster_lock:
            for command in gluster.peer_probe(self.cfg, new_peer.storage):
                await self._gluster(via.manage, command)
            await self._wait_for_peer(via, new_peer)

    async def _wait_for_peer(self, via: NodeAddress, new_peer: NodeAddress) -> None:
        """Volume commands need the peer 'in Cluster' and connected, which takes a moment: first
        as `via` sees it, then as the new peer sees every other member. The other members learn
        of it through `via` and connect on their own, later; a volume create run on one of
        them meanwhile fails with "Host ... not connected" (seen on a loaded machine)."""
        deadline = asyncio.get_running_loop().time() + PEER_WAIT_SECONDS
        host = new_peer.storage
        while True:
            result = await self._gluster(via.manage, gluster.peer_status(self.cfg))
            members = parsers.parse_peer_status(result.stdout)
            if any(host in p.hostnames and p.connected and p.state == 3 for p in members):
                break
            if asyncio.get_running_loop().time() > deadline:
                raise NodeCommandError(f"peer {host} did not join the pool of {via.manage}")
            await asyncio.sleep(0.2)
        while True:
            result = await self._gluster(new_peer.manage, gluster.peer_status(self.cfg))
            seen = parsers.parse_peer_status(result.stdout)
            if len(seen) >= len(members) and all(p.connected and p.state == 3 for p in seen):
                return
            if asyncio.get_running_loop().time() > deadline:
                waiting = [p.hostname for p in seen if not (p.connected and p.state == 3)]
                raise NodeCommandError(
                    f"peer {host} joined the pool of {via.manage} but is not connected to "
                    f"{', '.join(waiting) or 'all its members'} yet"
                )
            await asyncio.sleep(0.2)

    async def peer_detach(self, via: NodeAddress, peer: NodeAddress) -> None:
        async with self._gluster_lock:
            await self._gluster(via.manage, gluster.peer_detach(self.cfg, peer.storage))

    # -- devices ----------------------------------------------------------------------------
    async def device_setup(
        self, node: NodeAddress, device: DeviceSpec, destroy_data: bool
    ) -> DeviceReport:
        if device.backend == "loopfile":
            await self._batch(node.manage, loopfile.device_setup(self.cfg, device, destroy_data))
            return await self._loopfile_report(node, device)
        await self._batch(node.manage, lvm.device_setup(self.cfg, device, destroy_data))
        try:
            return await self._lvm_report(node, device)
        except NodeCommandError:
            await self.device_teardown(node, device, forget=True)
            raise

    async def _lvm_report(self, node: NodeAddress, device: DeviceSpec) -> DeviceReport:
        pvs = await self._run(node.manage, lvm.pvs_identify(self.cfg, device.name))
        udev = await self._run(node.manage, lvm.udev_symlinks(self.cfg, device.name), check=False)
        vg = await self._run(node.manage, lvm.vgdisplay(self.cfg, device.id))
        try:
            info = parsers.parse_vgdisplay(vg.stdout)
            pv_uuid = parsers.parse_pv_uuid(pvs.stdout)
            paths = (
                parsers.parse_udev_symlinks(udev.stdout, device.name) if udev.exit_code == 0 else []
            )
        except OutputParseError as exc:
            raise NodeCommandError(f"reading {device.name} on {node.manage}: {exc}") from exc
        return DeviceReport(
            total=info.total,
            free=info.free,
            used=info.used,
            extent_size=info.extent_size,
            paths=paths,
            pv_uuid=pv_uuid,
        )

    async def _loopfile_report(self, node: NodeAddress, device: DeviceSpec) -> DeviceReport:
        images = await self._loopfile_images(node, device)
        if images is None:
            raise NodeCommandError(
                f"reading {device.name} on {node.manage}: "
                f"{loopfile.images_dir(device)}: No such file or directory"
            )
        return await self._loopfile_space(node, device, images)

    async def _loopfile_images(
        self, node: NodeAddress, device: DeviceSpec
    ) -> list[parsers.ImageFile] | None:
        """The device's images, or None when its images dir is missing."""
        command = loopfile.list_images(device)
        result = await self._run(node.manage, command)
        if command.outcome(result.exit_code, result.stderr) is Outcome.TOLERATED:
            return None
        try:
            return parsers.parse_image_list(result.stdout)
        except OutputParseError as exc:
            raise NodeCommandError(f"reading {device.name} on {node.manage}: {exc}") from exc

    async def _loopfile_space(
        self, node: NodeAddress, device: DeviceSpec, images: list[parsers.ImageFile]
    ) -> DeviceReport:
        df = await self._run(node.manage, loopfile.device_df(device))
        try:
            space = parsers.parse_df(df.stdout)
        except OutputParseError as exc:
            raise NodeCommandError(f"reading {device.name} on {node.manage}: {exc}") from exc
        # Free space follows the images' apparent sizes: sparse images may grow to full size.
        used = sum(image.size for image in images) // 1024
        total = space.total - space.total % LOOPFILE_EXTENT
        return DeviceReport(
            total=total,
            free=max(total - used, 0),
            used=min(used, total),
            extent_size=LOOPFILE_EXTENT,
            paths=[device.name],
        )

    async def device_teardown(self, node: NodeAddress, device: DeviceSpec, forget: bool) -> None:
        plan = (
            loopfile.device_teardown_plan(self.cfg, device)
            if device.backend == "loopfile"
            else lvm.device_teardown_plan(self.cfg, device)
        )
        try:
            await self._batch(node.manage, plan.remove)
        except NodeCommandError:
            if not forget:
                raise
            log.warning(
                "forgetting device %s on %s although teardown failed", device.id, node.manage
            )
        result = await self._run(node.manage, plan.rmdir, check=False)
        if plan.rmdir.outcome(result.exit_code, result.stderr) is Outcome.FAILED:
            log.warning("rmdir on %s: %s", node.manage, result.stderr.strip())

    async def device_info(self, node: NodeAddress, device: DeviceSpec) -> DeviceReport:
        if device.backend == "loopfile":
            return await self._loopfile_report(node, device)
        return await self._lvm_report(node, device)

    # -- bricks -----------------------------------------------------------------------------
    async def brick_create(self, node: NodeAddress, brick: BrickSpec) -> None:
        backend = loopfile if brick.device.backend == "loopfile" else lvm
        try:
            await self._batch(node.manage, backend.brick_create(self.cfg, brick))
        except NodeCommandError:
            # Leave nothing half made (Heketi destroys the brick at once, too).
            try:
                await self.brick_destroy(node, brick)
            except NodeCommandError as cleanup:
                log.warning("cleaning up brick %s on %s: %s", brick.id, node.manage, cleanup)
            raise

    async def _unmount(
        self, host: str, mount_point: str, umount: Command, check: Command, lsof: Command | None
    ) -> None:
        result = await self._run(host, umount, check=False)
        if umount.outcome(result.exit_code, result.stderr) is not Outcome.FAILED:
            return
        if lsof is not None:  # sshexec.debug_umount_failures: who keeps the brick busy
            holders = await self._run(host, lsof, check=False)
            log.warning("umount %s on %s failed; lsof:\n%s", mount_point, host, holders.stdout)
        mounts = await self._run(host, check, check=False)
        if mounts.exit_code == 0 and parsers.is_mounted(mounts.stdout, mount_point):
            raise _failure(host, umount, result)

    async def _rewrite_fstab(
        self, host: str, command: Command, failed: CommandResult
    ) -> CommandResult:
        """`sed -i` replaces the file, which fails where fstab is a bind mount (containers,
        namespaces: "Device or resource busy"); run the same edit to stdout and write the result
        back into the same file instead."""
        expression, fstab = command.argv[-2], command.argv[-1]
        edited = await self.transport.run(
            host, Command(("sed", expression, fstab), command.timeout)
        )
        if edited.exit_code != 0:
            return failed
        rewrite = Command(("tee", fstab), command.timeout, stdin=edited.stdout.encode())
        written = await self.transport.run(host, rewrite)
        return (
            CommandResult(written.exit_code, "", written.stderr) if written.exit_code else written
        )

    async def brick_destroy(self, node: NodeAddress, brick: BrickSpec) -> bool:
        host = node.manage
        if brick.device.backend == "loopfile":
            plan = loopfile.brick_destroy_plan(self.cfg, brick)
            await self._unmount(host, plan.mount_point, plan.umount, plan.mounted_check, plan.lsof)
            loops = await self._run(host, plan.loop_find, check=False)
            for loop_device in parsers.parse_losetup(loops.stdout) if loops.exit_code == 0 else []:
                await self._run(host, loopfile.loop_detach(loop_device), check=False)
            await self._run(host, plan.fstab_remove)
            await self._run(host, plan.image_remove)
            await self._run(host, plan.rmdir, check=False)
            return True
        lv_plan = await self._lvm_destroy_plan(host, brick)
        await self._unmount(
            host, lv_plan.mount_point, lv_plan.umount, lv_plan.mounted_check, lv_plan.lsof
        )
        if lv_plan.fstab_remove is not None:
            await self._run(host, lv_plan.fstab_remove)
        await self._run(host, lv_plan.lv_remove)
        count = await self._run(host, lv_plan.thin_count, check=False)
        outcome = lv_plan.thin_count.outcome(count.exit_code, count.stderr)
        if outcome is Outcome.FAILED:
            raise _failure(host, lv_plan.thin_count, count)
        thin_lvs = 0 if outcome is Outcome.TOLERATED else parsers.parse_thin_count(count.stdout)
        reclaimed = False
        if thin_lvs == 0:
            removed = await self._run(host, lv_plan.pool_remove, check=False)
            reclaimed = (
                lv_plan.pool_remove.outcome(removed.exit_code, removed.stderr) is not Outcome.FAILED
            )
            if not reclaimed:
                log.warning("thin pool of brick %s on %s kept: %s", brick.id, host, removed.stderr)
        await self._run(host, lv_plan.rmdir, check=False)
        if brick.path_override:
            # /run/gluster/snaps/<uuid>, once its last brick is gone.
            parent = lv_plan.mount_point.rsplit("/", 1)[0]
            await self._run(host, fs.rmdir(parent, lvm.BRICK_DESTROY_TIMEOUT), check=False)
        # A brick whose pool another brick carries holds no space of its own: with its LV
        # gone, it is gone.
        return reclaimed or brick.pool_guest

    async def _lvm_destroy_plan(self, host: str, brick: BrickSpec) -> lvm.BrickDestroyPlan:
        """Brickyard's bricks follow Heketi's names. A snapshot clone's brick is gluster's LV
        in its origin brick's thin pool, mounted by glusterd: `gluster volume delete` of the
        clone leaves both (seen on GlusterFS 10), so its LV and mount go here, and the pool
        too once nothing else is in it."""
        mount_point = brick.mount_point if brick.path_override else None
        if (brick.lv and brick.pool) or not brick.path_override:
            # Names recorded (imported from Heketi, or a clone made by this version) or derived.
            return lvm.brick_destroy_plan(self.cfg, brick, mount_point=mount_point)
        lv = brick.lv or lvm.snapshot_brick_lv(brick.path_override)
        if lv is None:
            raise NodeCommandError(f"brick {brick.id}: {brick.path_override} is not a clone brick")
        pool_of = lvm.lv_pool(self.cfg, f"{brick.device.vg_name}/{lv}")
        found = await self._run(host, pool_of, check=False)
        pool = (
            found.stdout.strip()
            if pool_of.outcome(found.exit_code, found.stderr) is (Outcome.OK)
            else ""
        )
        return lvm.brick_destroy_plan(
            self.cfg, brick, mount_point=mount_point, lv=lv, pool=pool or lv
        )

    # -- node inventory -------------------------------------------------------------------
    async def inventory(self, node: NodeAddress, devices: list[DeviceSpec]) -> NodeInventory:
        """findmnt, the fstab, then per backend: lvm `vgs` + one `lvs` over the devices' VGs
        that exist + device_info's commands per VG; loopfile one image listing + `df` per
        device. Nothing is changed on the node."""
        host = node.manage
        findmnt = await self._run(host, fs.findmnt_all(lvm.DEVICE_TIMEOUT))
        fstab = await self._run(host, fs.fstab_read(self.cfg, lvm.DEVICE_TIMEOUT))
        try:
            mounted = parsers.parse_brick_mounts(findmnt.stdout)
            in_fstab = parsers.parse_fstab_bricks(fstab.stdout)
        except OutputParseError as exc:
            raise NodeCommandError(f"reading mounts on {host}: {exc}") from exc
        lvm_devices = [d for d in devices if d.backend != "loopfile"]
        reports, storage = await self._lvm_inventory(node, lvm_devices)
        for device in devices:
            if device.backend == "loopfile":
                reports[device.id] = await self._loopfile_inventory(node, device, storage)
        return NodeInventory(
            bricks=collect_bricks(mounted, in_fstab, storage),
            devices={d.id: reports[d.id] for d in devices},
        )

    async def _lvm_inventory(
        self, node: NodeAddress, devices: list[DeviceSpec]
    ) -> tuple[dict[str, DeviceReport | None], dict[str, BrickStorage]]:
        """Reports of the LVM devices (None where the VG is missing) and their bricks' LVs and
        pools. No LVM command at all without LVM devices: loop-file hosts may lack LVM."""
        reports: dict[str, DeviceReport | None] = {d.id: None for d in devices}
        if not devices:
            return reports, {}
        vgs = await self._run(node.manage, lvm.vg_names(self.cfg))
        try:
            existing = parsers.parse_vg_names(vgs.stdout)
        except OutputParseError as exc:
            raise NodeCommandError(f"reading volume groups on {node.manage}: {exc}") from exc
        present = [d for d in devices if d.vg_name in existing]
        if not present:
            return reports, {}
        lvs = await self._run(node.manage, lvm.lvs_bricks(self.cfg, [d.id for d in present]))
        try:
            storage = parsers.parse_thin_bricks(lvs.stdout, _recorded_names(present))
        except OutputParseError as exc:
            raise NodeCommandError(f"reading logical volumes on {node.manage}: {exc}") from exc
        for device in present:
            reports[device.id] = await self._lvm_report(node, device)
        return reports, storage

    async def _loopfile_inventory(
        self, node: NodeAddress, device: DeviceSpec, storage: dict[str, BrickStorage]
    ) -> DeviceReport | None:
        images = await self._loopfile_images(node, device)
        if images is None:
            return None
        for image in images:
            brick_id = parsers.brick_of_image(image.name)
            if brick_id is not None:
                storage[brick_id] = BrickStorage(device.id, True, image.size // 1024)
        return await self._loopfile_space(node, device, images)

    # -- gluster volumes ----------------------------------------------------------------------
    async def volume_list(self, via: NodeAddress) -> list[GlusterVolumeInfo]:
        result = await self._gluster(via.manage, gluster.volume_info(self.cfg))
        try:
            volumes = parsers.parse_volume_info(result.stdout)
        except GlusterError as exc:
            raise NodeCommandError(f"gluster volume info on {via.manage}: {exc.message}") from exc
        return [volume.to_port() for volume in volumes]

    async def volume_create(self, via: NodeAddress, volume: GlusterVolumeSpec) -> None:
        async with self._gluster_lock:
            for command in gluster.volume_create(self.cfg, volume):
                await self._gluster(via.manage, command)

    async def volume_expand(
        self, via: NodeAddress, volume: GlusterVolumeSpec, new_bricks: list[GlusterBrick]
    ) -> None:
        async with self._gluster_lock:
            for command in gluster.volume_expand(self.cfg, volume, new_bricks):
                await self._gluster(via.manage, command)
            if self.cfg.rebalance_on_expansion:
                try:
                    await self._gluster(via.manage, gluster.rebalance_start(self.cfg, volume.name))
                except NodeCommandError as exc:  # Heketi logs and ignores this failure
                    log.warning("rebalance of %s not started: %s", volume.name, exc)

    async def volume_destroy(
        self, via: NodeAddress, name: str, owner: VolumeOwnership | None = None
    ) -> str:
        async with self._gluster_lock:
            info = await self._volume_info(via, name)
            if info is None:
                return ABSENT
            if owner is not None and not owner.owns(info.to_port()):
                log.warning("gluster volume %s on %s is not ours: left alone", name, via.manage)
                return FOREIGN
            stop = gluster.volume_stop(self.cfg, name)
            stopped = await self._run(via.manage, stop, check=False)
            if stop.outcome(stopped.exit_code, stopped.stderr) is Outcome.FAILED:
                log.warning("volume stop %s: %s", name, stopped.stderr.strip())
            await self._gluster(via.manage, gluster.volume_delete(self.cfg, name))
            return DESTROYED

    async def _volume_info(self, via: NodeAddress, name: str) -> parsers.VolumeInfo | None:
        result = await self._run(via.manage, gluster.volume_info(self.cfg, name))
        try:
            return parsers.volume_info_or_none(result.stdout, name)
        except GlusterError as exc:
            raise NodeCommandError(
                f"gluster volume info {name} on {via.manage}: {exc.message}"
            ) from exc

    async def volume_info(self, via: NodeAddress, name: str) -> GlusterVolumeInfo | None:
        found = await self._volume_info(via, name)
        return found.to_port() if found is not None else None

    async def release_brick(self, node: NodeAddress, brick: BrickSpec) -> None:
        await self._run(node.manage, fs.kill_mount_users(brick.mount_point, lvm.DEVICE_TIMEOUT))

    async def heal_info(self, via: NodeAddress, name: str) -> list[HealStatus]:
        result = await self._gluster(via.manage, gluster.heal_info(self.cfg, name))
        try:
            bricks = parsers.parse_heal_info(result.stdout)
        except (GlusterError, OutputParseError) as exc:
            raise NodeCommandError(
                f"gluster volume heal {name} info on {via.manage}: {exc}"
            ) from exc
        return [HealStatus(b.name, b.status, b.entries) for b in bricks]

    async def replace_brick(
        self, via: NodeAddress, volume: str, old: GlusterBrick, new: GlusterBrick
    ) -> None:
        async with self._gluster_lock:
            await self._gluster(via.manage, gluster.replace_brick(self.cfg, volume, old, new))

    async def heal_start(self, via: NodeAddress, volume: str) -> None:
        async with self._gluster_lock:
            await self._gluster(via.manage, gluster.heal_start(self.cfg, volume))

    async def volume_clone(
        self, via: NodeAddress, source: str, clone: str, snapshot: str
    ) -> GlusterVolumeInfo:
        steps = gluster.clone_sequence(self.cfg, source, clone, snapshot)
        host = via.manage
        async with self._gluster_lock:
            await self._gluster(host, steps.create)
            try:
                await self._gluster(host, steps.activate)
                try:
                    await self._gluster(host, steps.clone)
                    await self._gluster(host, steps.start)
                    info = await self._volume_info(via, clone)
                finally:
                    await self._run(host, steps.deactivate, check=False)
            finally:
                await self._run(host, steps.delete, check=False)
        if info is None:
            raise NodeCommandError(f"clone {clone} of {source} on {host}: not found after start")
        return info.to_port()

    async def snapshot_delete(self, via: NodeAddress, snapshot: str) -> None:
        async with self._gluster_lock:
            listing = await self._gluster(via.manage, gluster.snapshot_list_all(self.cfg))
            try:
                names = parsers.parse_snapshot_list(listing.stdout)
            except (GlusterError, OutputParseError) as exc:
                raise NodeCommandError(f"gluster snapshot list on {via.manage}: {exc}") from exc
            if snapshot not in names:
                return
            await self._run(via.manage, gluster.snapshot_deactivate(self.cfg, snapshot), False)
            await self._gluster(via.manage, gluster.snapshot_delete(self.cfg, snapshot))


def _recorded_names(devices: list[DeviceSpec]) -> dict[tuple[str, str], tuple[str, str]]:
    """(vg, LV name) -> (kind, brick id) for the LVM names the database recorded."""
    named: dict[tuple[str, str], tuple[str, str]] = {}
    for device in devices:
        named.update(((device.vg_name, n), ("tp", b)) for n, b in device.named_pools)
        named.update(((device.vg_name, n), ("brick", b)) for n, b in device.named_lvs)
    return named

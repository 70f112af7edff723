"""The simulator node agent (executor `mock`): in-memory storage nodes that keep real state.

Each simulated node has volume groups with per-brick thin pools, mounts, an fstab and a
glusterd that belongs to a trusted pool holding gluster volumes. It refuses what a real node
would refuse (no space in the VG, a disk already in use, a busy mount point, a brick host
outside the pool, a duplicate volume name), with messages shaped like the real tools'.

Both backends are simulated alike: a loop-file device is a volume group here too, its images
thin pools. `inventory` and `volume_list` read this state back, and `SimWorld` has helpers that
make the node and the database disagree, for tests of the reconciliation (see its docstring).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..domain import gluster_rules
from ..domain.errors import NodeCommandError, NodeUnreachable
from ..domain.units import GIB
from ..instruments import node_command_histogram
from .commands import gluster, loopfile, lvm
from .commands.parsers import brick_of_mount_point, parse_fstab_bricks
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

EXTENT_SIZE = 4096  # KiB, LVM's default 4 MiB physical extents
SNAPSHOT_ROOT = "/run/gluster/snaps/"  # where gluster mounts the bricks of snapshot clones


@dataclass
class SimThinPool:
    size: int  # data + metadata, KiB
    lvs: set[str] = field(default_factory=set)


@dataclass
class SimVolumeGroup:
    device: str
    size: int
    backend: str = "lvm"  # loop-file images are kept as thin pools here too
    pools: dict[str, SimThinPool] = field(default_factory=dict)

    @property
    def used(self) -> int:
        return sum(p.size for p in self.pools.values())

    @property
    def free(self) -> int:
        return self.size - self.used


@dataclass
class SimGlusterVolume:
    name: str
    bricks: list[GlusterBrick]
    status: str = "Created"
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class SimTrustedPool:
    peers: set[str] = field(default_factory=set)  # storage hostnames
    volumes: dict[str, SimGlusterVolume] = field(default_factory=dict)
    brick_owner: dict[GlusterBrick, str] = field(default_factory=dict)  # brick -> volume name
    snapshots: dict[str, str] = field(default_factory=dict)  # snapshot name -> volume name

    def add_bricks(self, volume: str, bricks: list[GlusterBrick]) -> None:
        for brick in bricks:
            self.brick_owner[brick] = volume

    def remove_volume(self, name: str) -> None:
        volume = self.volumes.pop(name, None)
        if volume is not None:
            for brick in volume.bricks:
                self.brick_owner.pop(brick, None)


@dataclass
class SimNode:
    address: NodeAddress
    pool: SimTrustedPool
    glusterd_running: bool = True
    reachable: bool = True
    volume_groups: dict[str, SimVolumeGroup] = field(default_factory=dict)
    mounts: dict[str, str] = field(default_factory=dict)  # mount point -> device node
    fstab: list[str] = field(default_factory=list)
    directories: set[str] = field(default_factory=set)


class SimulatedFailure(NodeCommandError):
    pass


class SimWorld:
    """All simulated nodes. Tests reach in to break nodes or inspect their state.

    Faults for reconciliation tests (what `brickyard examine` must find), each acting on the
    node state only, never on a database:

    * `leak_brick` — an orphan: thin pool + LV, mount, fstab line and brick directory of a
      brick no database row knows.
    * `lose_brick` — every trace of a brick gone from its node (pool, LV, mount, fstab line,
      directory); gluster volumes still list it.
    * `unmount_brick` — only the mount gone (a reboot without the fstab line, say).
    * `lose_device` — a device's VG gone, with its bricks' storage; mounts and fstab lines
      stay, as after a disk failure.
    * `drop_volume` — a gluster volume gone from its trusted pool.
    * `add_foreign_volume` — a gluster volume nobody asked Brickyard for.
    * `pending_heal` — "host:path" -> entries `heal info` reports waiting on that brick.
    """

    def __init__(self, device_size_gb: int = 500, delay_ms: float = 0.0) -> None:
        self.device_size = device_size_gb * GIB
        self.delay = delay_ms / 1000.0
        self.nodes: dict[str, SimNode] = {}
        self._by_storage: dict[str, SimNode] = {}
        self._failures: dict[tuple[str, str], tuple[str, int]] = {}
        self.pending_heal: dict[str, int] = {}

    def node(self, address: NodeAddress) -> SimNode:
        found = self.nodes.get(address.manage)
        if found is None:
            pool = SimTrustedPool(peers={address.storage})
            found = SimNode(address=address, pool=pool)
            self.nodes[address.manage] = found
            self._by_storage[address.storage] = found
        return found

    def by_storage(self, host: str) -> SimNode | None:
        return self._by_storage.get(host)

    def fail(
        self,
        manage_host: str,
        operation: str,
        message: str = "simulated failure",
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `operation` (a NodeAgent method name) on the host
        fail."""
        self._failures[(manage_host, operation)] = (message, times)

    def volumes(self) -> dict[str, SimGlusterVolume]:
        result: dict[str, SimGlusterVolume] = {}
        for node in self.nodes.values():
            result.update(node.pool.volumes)
        return result

    # -- faults for reconciliation tests ----------------------------------------------------
    def _node(self, manage_host: str) -> SimNode:
        found = self.nodes.get(manage_host)
        if found is None:
            raise KeyError(f"no simulated node {manage_host}")
        return found

    def leak_brick(
        self, manage_host: str, device_id: str, brick_id: str, size: int, pool: str = ""
    ) -> None:
        """Make a brick on the node that no database row knows: thin pool tp_<id> (or `pool`)
        of `size` KiB (data + metadata) holding LV brick_<id> in vg_<device id>, mounted at
        Heketi's mount point, with its fstab line and brick directory."""
        node = self._node(manage_host)
        vg = node.volume_groups.get(f"vg_{device_id}")
        pool = pool or f"tp_{brick_id}"
        if vg is None:
            raise ValueError(f"no volume group vg_{device_id} on {manage_host}")
        if size > vg.free or pool in vg.pools:
            raise ValueError(f"cannot leak brick {brick_id}: no room or already there")
        vg.pools[pool] = SimThinPool(size=size, lvs={f"brick_{brick_id}"})
        mount_point = f"/var/lib/heketi/mounts/vg_{device_id}/brick_{brick_id}"
        device_node = f"/dev/mapper/vg_{device_id}-brick_{brick_id}"
        node.fstab.append(f"{device_node} {mount_point} xfs rw,inode64,noatime,nouuid 1 2")
        node.mounts[mount_point] = device_node
        node.directories.add(mount_point + "/brick")

    def lose_brick(self, manage_host: str, brick_id: str) -> None:
        """Remove every trace of the brick from the node: its pool and LV in whatever VG,
        its mount, fstab line and directory. Gluster volumes keep listing it."""
        node = self._node(manage_host)
        for vg in node.volume_groups.values():
            vg.pools.pop(f"tp_{brick_id}", None)
        self.unmount_brick(manage_host, brick_id)
        node.fstab = [line for line in node.fstab if f"brick_{brick_id}" not in line]
        node.directories = {d for d in node.directories if f"/brick_{brick_id}/" not in d}

    def unmount_brick(self, manage_host: str, brick_id: str) -> None:
        """Unmount the brick and nothing else: fstab line, LV and directory stay."""
        node = self._node(manage_host)
        for mount_point in list(node.mounts):
            found = brick_of_mount_point(mount_point)
            if found is not None and found[1] == brick_id:
                del node.mounts[mount_point]

    def lose_device(self, manage_host: str, device_id: str) -> None:
        """The device's volume group is gone, and with it its bricks' pools and LVs; mounts
        and fstab lines stay (what a failed disk leaves)."""
        self._node(manage_host).volume_groups.pop(f"vg_{device_id}", None)

    def drop_volume(self, name: str) -> None:
        """The gluster volume disappears from its trusted pool (bricks stay on the nodes)."""
        for node in self.nodes.values():
            node.pool.remove_volume(name)

    def add_foreign_volume(
        self, via_manage_host: str, name: str, bricks: list[GlusterBrick], status: str = "Started"
    ) -> None:
        """A gluster volume in the trusted pool of `via_manage_host` that Brickyard never made;
        its bricks need not exist on any node."""
        pool = self._node(via_manage_host).pool
        if name in pool.volumes:
            raise ValueError(f"volume {name} already exists")
        pool.volumes[name] = SimGlusterVolume(name, list(bricks), status)
        pool.add_bricks(name, bricks)


def _error(command: str, stderr: str) -> NodeCommandError:
    return NodeCommandError(f"{command}: {stderr}")


class SimNodeAgent:
    """NodeAgent backed by a SimWorld.

    Each operation first builds the argv the remote agent would run (and discards it): a value
    the builders refuse (a name with a leading '-', a NUL...) is refused here the same way, so
    the simulator never accepts what a real node's agent would not."""

    def __init__(self, world: SimWorld, settings: CommandSettings | None = None) -> None:
        self.world = world
        self.cfg = settings or CommandSettings()
        self.command_times = node_command_histogram()  # by (node, operation name)

    def _backend(self, device: DeviceSpec) -> Any:
        return loopfile if device.backend == "loopfile" else lvm

    async def _enter(self, address: NodeAddress, operation: str) -> SimNode:
        """Every operation starts here: it waits the world's delay (a simulated node's command
        time, recorded by operation name as a real agent records its commands)."""
        began = time.monotonic()
        try:
            if self.world.delay:
                await asyncio.sleep(self.world.delay)
        finally:
            self.command_times.observe((address.manage, operation), time.monotonic() - began)
        node = self.world.node(address)
        if not node.reachable:
            raise NodeUnreachable(
                f"{operation}: dial tcp {address.manage}:22: connect: no route to host"
            )
        failure = self.world._failures.pop((address.manage, operation), None)
        if failure is not None:
            message, times = failure
            if times > 1:
                self.world._failures[(address.manage, operation)] = (message, times - 1)
            raise SimulatedFailure(f"{operation}: {message}")
        return node

    # -- glusterd and peers -------------------------------------------------------------------
    async def check_glusterd(self, node: NodeAddress) -> None:
        sim = await self._enter(node, "check_glusterd")
        if not sim.glusterd_running:
            raise _error("systemctl status glusterd", "glusterd.service: inactive (dead)")

    async def peer_probe(self, via: NodeAddress, new_peer: NodeAddress) -> None:
        gluster.peer_probe(self.cfg, new_peer.storage)
        sim = await self._enter(via, "peer_probe")
        other = self.world.node(new_peer)
        if other.pool is sim.pool:
            return
        if other.pool.volumes or len(other.pool.peers) > 1:
            raise _error(
                f"gluster peer probe {new_peer.storage}",
                f"peer probe: failed: {new_peer.storage} is either already part of another "
                "cluster or having volumes configured",
            )
        sim.pool.peers.add(new_peer.storage)
        other.pool = sim.pool

    async def peer_detach(self, via: NodeAddress, peer: NodeAddress) -> None:
        gluster.peer_detach(self.cfg, peer.storage)
        sim = await self._enter(via, "peer_detach")
        other = self.world.node(peer)
        if other.pool is not sim.pool:
            return
        for volume in sim.pool.volumes.values():
            if any(b.host == peer.storage for b in volume.bricks):
                raise _error(
                    f"gluster peer detach {peer.storage}",
                    f"peer detach: failed: Peer {peer.storage} hosts one or more bricks",
                )
        sim.pool.peers.discard(peer.storage)
        other.pool = SimTrustedPool(peers={peer.storage})

    # -- devices ------------------------------------------------------------------------------
    async def device_setup(
        self, node: NodeAddress, device: DeviceSpec, destroy_data: bool
    ) -> DeviceReport:
        self._backend(device).device_setup(self.cfg, device, destroy_data)
        sim = await self._enter(node, "device_setup")
        for vg_name, vg in list(sim.volume_groups.items()):
            if vg.device == device.name:
                if destroy_data and not vg.pools:
                    del sim.volume_groups[vg_name]
                    continue
                raise _error(
                    f"pvcreate {device.name}",
                    f'Can\'t initialize physical volume "{device.name}" of volume group '
                    f'"{vg_name}" without -ff',
                )
        if device.vg_name in sim.volume_groups:
            raise _error(
                f"vgcreate {device.vg_name}",
                f"A volume group called {device.vg_name} already exists.",
            )
        sim.volume_groups[device.vg_name] = SimVolumeGroup(
            device=device.name, size=self.world.device_size, backend=device.backend
        )
        return self._report(sim, device)

    async def device_teardown(self, node: NodeAddress, device: DeviceSpec, forget: bool) -> None:
        self._backend(device).device_teardown_plan(self.cfg, device)
        sim = await self._enter(node, "device_teardown")
        vg = sim.volume_groups.get(device.vg_name)
        if vg is None:
            return
        if vg.pools and not forget:
            raise _error(
                f"vgremove {device.vg_name}",
                f'Volume group "{device.vg_name}" still contains {len(vg.pools)} logical volume(s)',
            )
        del sim.volume_groups[device.vg_name]

    async def device_info(self, node: NodeAddress, device: DeviceSpec) -> DeviceReport:
        sim = await self._enter(node, "device_info")
        return self._report(sim, device)

    def _report(self, sim: SimNode, device: DeviceSpec) -> DeviceReport:
        vg = sim.volume_groups.get(device.vg_name)
        if vg is None:
            raise _error(
                f"vgdisplay -c {device.vg_name}", f'Volume group "{device.vg_name}" not found'
            )
        return DeviceReport(total=vg.size, free=vg.free, used=vg.used, extent_size=EXTENT_SIZE)

    # -- bricks -------------------------------------------------------------------------------
    async def brick_create(self, node: NodeAddress, brick: BrickSpec) -> None:
        self._backend(brick.device).brick_create(self.cfg, brick)
        sim = await self._enter(node, "brick_create")
        vg = sim.volume_groups.get(brick.device.vg_name)
        if vg is None:
            raise _error("lvcreate", f'Volume group "{brick.device.vg_name}" not found')
        pool_name = f"tp_{brick.id}"
        needed = brick.tp_size + brick.pool_metadata_size
        if pool_name in vg.pools:
            raise _error("lvcreate", f'Logical volume "{pool_name}" already exists in volume group')
        if needed > vg.free:
            raise _error(
                "lvcreate",
                f'Volume group "{brick.device.vg_name}" has insufficient free space '
                f"({vg.free // EXTENT_SIZE} extents): {needed // EXTENT_SIZE} required.",
            )
        if brick.mount_point in sim.mounts:
            raise _error(f"mount {brick.mount_point}", f"{brick.mount_point}: mount point busy")
        vg.pools[pool_name] = SimThinPool(size=needed, lvs={f"brick_{brick.id}"})
        device_node = f"/dev/mapper/{brick.device.vg_name}-brick_{brick.id}"
        sim.fstab.append(f"{device_node} {brick.mount_point} xfs rw,inode64,noatime,nouuid 1 2")
        sim.mounts[brick.mount_point] = device_node
        sim.directories.add(brick.path)

    async def brick_destroy(self, node: NodeAddress, brick: BrickSpec) -> bool:
        if not brick.path_override:
            self._backend(brick.device).brick_destroy_plan(self.cfg, brick)
        sim = await self._enter(node, "brick_destroy")
        owner = sim.pool.brick_owner.get(GlusterBrick(node.storage, brick.path))
        if owner is not None and sim.pool.volumes[owner].status == "Started":
            raise _error(
                f"umount {brick.mount_point}", f"umount: {brick.mount_point}: target is busy."
            )
        sim.mounts.pop(brick.mount_point, None)
        sim.fstab = [line for line in sim.fstab if f"brick_{brick.id}" not in line]
        sim.directories.discard(brick.path)
        vg = sim.volume_groups.get(brick.device.vg_name)
        if vg is None:
            return True
        # As the remote agent: `lvremove vg/<lv>` (an LV name is unique in its VG, whatever
        # pool holds it), then `lvs -o thin_count vg/<pool>` and `lvremove vg/<pool>` when it
        # is empty. A pool that is not there counts as removed, as on a real node: a wrong
        # pool name would leave the real pool behind, and so it does here.
        lv = brick.lv or lvm.snapshot_brick_lv(brick.path_override) or f"brick_{brick.id}"
        holder = next((n for n, p in vg.pools.items() if lv in p.lvs), "")
        pool_name = brick.pool or (f"tp_{brick.id}" if not brick.path_override else holder)
        for pool in vg.pools.values():
            pool.lvs.discard(lv)
        kept = vg.pools.get(pool_name)
        if kept is not None and kept.lvs:
            return brick.pool_guest
        vg.pools.pop(pool_name, None)
        return True

    # -- node inventory -----------------------------------------------------------------------
    async def inventory(self, node: NodeAddress, devices: list[DeviceSpec]) -> NodeInventory:
        sim = await self._enter(node, "inventory")
        mounted: dict[str, str] = {}
        for mount_point in sim.mounts:
            found = brick_of_mount_point(mount_point)
            if found is not None:
                mounted[found[1]] = found[0]
        storage: dict[str, BrickStorage] = {}
        reports: dict[str, DeviceReport | None] = {}
        for device in devices:
            vg = sim.volume_groups.get(device.vg_name)
            if vg is None:
                reports[device.id] = None
                continue
            reports[device.id] = self._report(sim, device)
            pools, lvs = dict(device.named_pools), dict(device.named_lvs)
            for pool_name, pool in vg.pools.items():
                brick_id = pools.get(pool_name, pool_name.removeprefix("tp_"))
                present = f"brick_{brick_id}" in pool.lvs or any(
                    lvs.get(lv) == brick_id for lv in pool.lvs
                )
                storage[brick_id] = BrickStorage(device.id, present, pool.size)
        in_fstab = parse_fstab_bricks("\n".join(sim.fstab))
        return NodeInventory(bricks=collect_bricks(mounted, in_fstab, storage), devices=reports)

    # -- gluster volumes ----------------------------------------------------------------------
    async def volume_list(self, via: NodeAddress) -> list[GlusterVolumeInfo]:
        sim = await self._enter(via, "volume_list")
        return [
            GlusterVolumeInfo(v.name, v.status, list(v.bricks), dict(v.options))
            for v in sim.pool.volumes.values()
        ]

    def _gluster_refuses(
        self,
        name: str,
        bricks: list[GlusterBrick],
        volume: GlusterVolumeSpec,
        check_options: bool,
    ) -> None:
        """What gluster itself refuses (recorded from GlusterFS 10.3, domain/gluster_rules.py):
        the volume name, a replica count below 2, a brick's volume file name, and each option
        of a create as `volume set` would."""
        command = f"gluster volume create {name}"
        problem = gluster_rules.volume_name_problem(name)
        if problem is None and volume.replica:
            problem = gluster_rules.replica_problem(volume.replica)
        for brick in bricks:
            problem = problem or gluster_rules.volfile_name_problem(name, brick.host, brick.path)
        if problem:
            raise _error(command, f"volume create: {name}: failed: {problem}")
        if not check_options:
            return
        layout = gluster_rules.Layout.of(
            volume.replica,
            volume.disperse_data,
            volume.disperse_redundancy,
            len(volume.bricks) // volume.bricks_per_set,
        )
        problem = gluster_rules.options_problem(volume.options, layout=layout, volume=name)
        if problem:
            raise _error(f"gluster volume set {name}", f"volume set: failed: {problem}")

    def _check_bricks(self, sim: SimNode, name: str, bricks: list[GlusterBrick]) -> None:
        for brick in bricks:
            owner = self.world.by_storage(brick.host)
            if brick.host not in sim.pool.peers or owner is None:
                raise _error(
                    f"gluster volume create {name}",
                    f"volume create: {name}: failed: Host {brick.host} "
                    "is not in 'Peer in Cluster' state",
                )
            if brick.path not in owner.directories:
                raise _error(
                    f"gluster volume create {name}",
                    f"volume create: {name}: failed: Failed to find brick directory {brick.path} "
                    f"for volume {name}. Reason : No such file or directory",
                )
            if brick in sim.pool.brick_owner:
                raise _error(
                    f"gluster volume create {name}",
                    f"volume create: {name}: failed: {brick} is already part of a volume",
                )

    async def volume_create(self, via: NodeAddress, volume: GlusterVolumeSpec) -> None:
        gluster.volume_create(self.cfg, volume)
        sim = await self._enter(via, "volume_create")
        self._gluster_refuses(volume.name, volume.bricks, volume, check_options=True)
        if volume.name in sim.pool.volumes:
            raise _error(
                f"gluster volume create {volume.name}",
                f"volume create: {volume.name}: failed: Volume {volume.name} already exists",
            )
        if len(volume.bricks) % volume.bricks_per_set:
            raise _error(
                f"gluster volume create {volume.name}",
                "volume create: failed: Incorrect number of bricks supplied",
            )
        self._check_bricks(sim, volume.name, volume.bricks)
        created = SimGlusterVolume(volume.name, list(volume.bricks), options=dict(volume.options))
        sim.pool.volumes[volume.name] = created
        sim.pool.add_bricks(volume.name, volume.bricks)
        created.status = "Started"

    async def volume_expand(
        self, via: NodeAddress, volume: GlusterVolumeSpec, new_bricks: list[GlusterBrick]
    ) -> None:
        gluster.volume_expand(self.cfg, volume, new_bricks)
        sim = await self._enter(via, "volume_expand")
        self._gluster_refuses(volume.name, new_bricks, volume, check_options=False)
        existing = sim.pool.volumes.get(volume.name)
        if existing is None:
            raise _error(
                f"gluster volume add-brick {volume.name}",
                f"volume add-brick: failed: Volume {volume.name} does not exist",
            )
        self._check_bricks(sim, volume.name, new_bricks)
        existing.bricks.extend(new_bricks)
        sim.pool.add_bricks(volume.name, new_bricks)

    async def replace_brick(
        self, via: NodeAddress, volume: str, old: GlusterBrick, new: GlusterBrick
    ) -> None:
        gluster.replace_brick(self.cfg, volume, old, new)
        sim = await self._enter(via, "replace_brick")
        command = f"gluster volume replace-brick {volume} {old} {new} commit force"
        existing = sim.pool.volumes.get(volume)
        if existing is None:
            raise _error(command, f"volume replace-brick: failed: Volume {volume} does not exist")
        if old not in existing.bricks:
            raise _error(
                command,
                f"volume replace-brick: failed: brick: {old} does not exist in volume: {volume}",
            )
        self._check_bricks(sim, volume, [new])
        existing.bricks[existing.bricks.index(old)] = new
        sim.pool.brick_owner.pop(old, None)
        sim.pool.add_bricks(volume, [new])

    async def volume_destroy(
        self, via: NodeAddress, name: str, owner: VolumeOwnership | None = None
    ) -> str:
        gluster.volume_delete(self.cfg, name)
        sim = await self._enter(via, "volume_destroy")
        found = sim.pool.volumes.get(name)
        if found is None:
            return ABSENT
        info = GlusterVolumeInfo(found.name, found.status, list(found.bricks), dict(found.options))
        if owner is not None and not owner.owns(info):
            return FOREIGN
        sim.pool.remove_volume(name)
        return DESTROYED

    async def volume_info(self, via: NodeAddress, name: str) -> GlusterVolumeInfo | None:
        gluster.volume_info(self.cfg, name)
        sim = await self._enter(via, "volume_info")
        found = sim.pool.volumes.get(name)
        if found is None:
            return None
        return GlusterVolumeInfo(found.name, found.status, list(found.bricks), dict(found.options))

    async def release_brick(self, node: NodeAddress, brick: BrickSpec) -> None:
        await self._enter(node, "release_brick")  # no processes hold simulated mounts

    async def heal_info(self, via: NodeAddress, name: str) -> list[HealStatus]:
        gluster.heal_info(self.cfg, name)
        sim = await self._enter(via, "heal_info")
        found = sim.pool.volumes.get(name)
        if found is None:
            raise _error(f"gluster volume heal {name} info", f"Volume {name} does not exist")
        result = []
        for brick in found.bricks:
            owner = self.world.by_storage(brick.host)
            up = owner is not None and owner.reachable and owner.glusterd_running
            result.append(
                HealStatus(str(brick), "Connected", self.world.pending_heal.get(str(brick), 0))
                if up
                else HealStatus(
                    "information not available", "Transport endpoint is not connected", None
                )
            )
        return result

    async def heal_start(self, via: NodeAddress, volume: str) -> None:
        gluster.heal_start(self.cfg, volume)
        sim = await self._enter(via, "heal_start")
        found = sim.pool.volumes.get(volume)
        command = f"gluster volume heal {volume}"
        if found is None:
            raise _error(command, f"Volume {volume} does not exist")
        if any(not self._brick_up(b) for b in found.bricks):
            # What gluster answers while a brick of the volume is down.
            raise _error(
                command,
                "Launching heal operation to perform index self heal on volume "
                f"{volume} has been unsuccessful:\nGlusterd Syncop Mgmt brick op 'Heal' "
                "failed. Please check glustershd log file for details.",
            )

    def _brick_up(self, brick: GlusterBrick) -> bool:
        owner = self.world.by_storage(brick.host)
        return owner is not None and owner.reachable and owner.glusterd_running

    async def volume_clone(
        self, via: NodeAddress, source: str, clone: str, snapshot: str
    ) -> GlusterVolumeInfo:
        gluster.clone_sequence(self.cfg, source, clone, snapshot)
        sim = await self._enter(via, "volume_clone")
        problem = gluster_rules.volume_name_problem(clone)
        if problem:
            raise _error(f"gluster snapshot clone {clone}", f"snapshot clone: failed: {problem}")
        origin = sim.pool.volumes.get(source)
        if origin is None:
            raise _error(f"gluster snapshot create {snapshot}", f"Volume ({source}) does not exist")
        if not all(self._thin(b) for b in origin.bricks):
            raise _error(
                f"gluster snapshot create {snapshot} {source}",
                f"snapshot create: failed: Snapshot is supported only for thin provisioned LV. "
                f"Ensure that all bricks of {source} are thinly provisioned LV.",
            )
        if clone in sim.pool.volumes:
            raise _error(f"gluster snapshot clone {clone}", f"Volume ({clone}) already exists")
        sim.pool.snapshots[snapshot] = source
        snap = uuid.uuid4().hex
        bricks = [
            GlusterBrick(b.host, f"{SNAPSHOT_ROOT}{snap}/brick{i + 1}/brick")
            for i, b in enumerate(origin.bricks)
        ]
        for old, new in zip(origin.bricks, bricks, strict=True):
            # gluster's LV of the clone's brick goes into the origin brick's thin pool
            pool = self._pool_of(old)
            lv = lvm.snapshot_brick_lv(new.path)
            if pool is not None and lv is not None:
                pool.lvs.add(lv)
        sim.pool.volumes[clone] = SimGlusterVolume(clone, bricks, "Started", dict(origin.options))
        sim.pool.add_bricks(clone, bricks)
        del sim.pool.snapshots[snapshot]  # the sequence deletes its snapshot at the end
        return GlusterVolumeInfo(clone, "Started", bricks, dict(origin.options))

    def _pool_of(self, brick: GlusterBrick) -> SimThinPool | None:
        """The thin pool holding a gluster brick's LV on its node."""
        owner = self.world.by_storage(brick.host)
        if owner is None:
            return None
        found = brick_of_mount_point(brick.path.removesuffix("/brick"))
        lv = f"brick_{found[1]}" if found else lvm.snapshot_brick_lv(brick.path)
        for vg in owner.volume_groups.values():
            for pool in vg.pools.values():
                if lv in pool.lvs:
                    return pool
        return None

    def _thin(self, brick: GlusterBrick) -> bool:
        """Whether the brick is on a thin LV (gluster snapshots nothing else)."""
        owner = self.world.by_storage(brick.host)
        if owner is None:
            return False
        if brick.path.startswith(SNAPSHOT_ROOT):  # a clone's brick: a thin snapshot LV
            return True
        found = brick_of_mount_point(brick.path.removesuffix("/brick"))
        if found is None:
            return False
        vg = owner.volume_groups.get(f"vg_{found[0]}")
        return vg is not None and vg.backend != "loopfile"

    async def snapshot_delete(self, via: NodeAddress, snapshot: str) -> None:
        gluster.snapshot_delete(self.cfg, snapshot)
        sim = await self._enter(via, "snapshot_delete")
        sim.pool.snapshots.pop(snapshot, None)

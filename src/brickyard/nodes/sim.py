"""The simulator node agent (executor `mock`): in-memory storage nodes that keep real state.

Each simulated node has volume groups with per-brick thin pools, mounts, an fstab and a
glusterd that belongs to a trusted pool holding gluster volumes. It refuses what a real node
would refuse (no space in the VG, a disk already in use, a busy mount point, a brick host
outside the pool, a duplicate volume name), with messages shaped like the real tools'.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from ..domain.errors import NodeCommandError
from ..domain.units import GIB
from .port import (
    BrickSpec,
    DeviceReport,
    DeviceSpec,
    GlusterBrick,
    GlusterVolumeInfo,
    GlusterVolumeSpec,
    HealStatus,
    NodeAddress,
)

EXTENT_SIZE = 4096  # KiB, LVM's default 4 MiB physical extents


@dataclass
class SimThinPool:
    size: int  # data + metadata, KiB
    lvs: set[str] = field(default_factory=set)


@dataclass
class SimVolumeGroup:
    device: str
    size: int
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
    """All simulated nodes. Tests reach in to break nodes or inspect their state."""

    def __init__(self, device_size_gb: int = 500, delay_ms: float = 0.0) -> None:
        self.device_size = device_size_gb * GIB
        self.delay = delay_ms / 1000.0
        self.nodes: dict[str, SimNode] = {}
        self._by_storage: dict[str, SimNode] = {}
        self._failures: dict[tuple[str, str], str] = {}

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

    def fail(self, manage_host: str, operation: str, message: str = "simulated failure") -> None:
        """Make the next `operation` (a NodeAgent method name) on the host fail once."""
        self._failures[(manage_host, operation)] = message

    def volumes(self) -> dict[str, SimGlusterVolume]:
        result: dict[str, SimGlusterVolume] = {}
        for node in self.nodes.values():
            result.update(node.pool.volumes)
        return result


def _error(command: str, stderr: str) -> NodeCommandError:
    return NodeCommandError(f"{command}: {stderr}")


class SimNodeAgent:
    """NodeAgent backed by a SimWorld."""

    def __init__(self, world: SimWorld) -> None:
        self.world = world

    async def _enter(self, address: NodeAddress, operation: str) -> SimNode:
        if self.world.delay:
            await asyncio.sleep(self.world.delay)
        node = self.world.node(address)
        if not node.reachable:
            raise _error(operation, f"dial tcp {address.manage}:22: connect: no route to host")
        message = self.world._failures.pop((address.manage, operation), None)
        if message is not None:
            raise SimulatedFailure(f"{operation}: {message}")
        return node

    # -- glusterd and peers -------------------------------------------------------------------
    async def check_glusterd(self, node: NodeAddress) -> None:
        sim = await self._enter(node, "check_glusterd")
        if not sim.glusterd_running:
            raise _error("systemctl status glusterd", "glusterd.service: inactive (dead)")

    async def peer_probe(self, via: NodeAddress, new_peer: NodeAddress) -> None:
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
            device=device.name, size=self.world.device_size
        )
        return self._report(sim, device)

    async def device_teardown(self, node: NodeAddress, device: DeviceSpec, forget: bool) -> None:
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
        if vg is not None:
            vg.pools.pop(f"tp_{brick.id}", None)
        return True

    # -- gluster volumes ----------------------------------------------------------------------
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
        sim = await self._enter(via, "volume_create")
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
        sim = await self._enter(via, "volume_expand")
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

    async def volume_destroy(self, via: NodeAddress, name: str) -> None:
        sim = await self._enter(via, "volume_destroy")
        sim.pool.remove_volume(name)

    async def volume_info(self, via: NodeAddress, name: str) -> GlusterVolumeInfo | None:
        sim = await self._enter(via, "volume_info")
        found = sim.pool.volumes.get(name)
        if found is None:
            return None
        return GlusterVolumeInfo(found.name, found.status, list(found.bricks), dict(found.options))

    async def heal_info(self, via: NodeAddress, name: str) -> list[HealStatus]:
        sim = await self._enter(via, "heal_info")
        found = sim.pool.volumes.get(name)
        if found is None:
            raise _error(f"gluster volume heal {name} info", f"Volume {name} does not exist")
        result = []
        for brick in found.bricks:
            owner = self.world.by_storage(brick.host)
            up = owner is not None and owner.reachable and owner.glusterd_running
            result.append(
                HealStatus(str(brick), "Connected", 0)
                if up
                else HealStatus(
                    "information not available", "Transport endpoint is not connected", None
                )
            )
        return result

    async def volume_clone(self, via: NodeAddress, source: str, clone: str) -> GlusterVolumeInfo:
        sim = await self._enter(via, "volume_clone")
        origin = sim.pool.volumes.get(source)
        if origin is None:
            raise _error(f"gluster snapshot create {source}", f"Volume ({source}) does not exist")
        if clone in sim.pool.volumes:
            raise _error(f"gluster snapshot clone {clone}", f"Volume ({clone}) already exists")
        snap = uuid.uuid4().hex
        bricks = [
            GlusterBrick(b.host, f"/run/gluster/snaps/{snap}/brick{i + 1}/brick")
            for i, b in enumerate(origin.bricks)
        ]
        sim.pool.volumes[clone] = SimGlusterVolume(clone, bricks, "Started", dict(origin.options))
        sim.pool.add_bricks(clone, bricks)
        return GlusterVolumeInfo(clone, "Started", bricks, dict(origin.options))

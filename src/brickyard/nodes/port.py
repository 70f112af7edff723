"""The node-agent port: everything the services ask of a storage node.

The simulator (`sim`) and real transports implement the same protocol, so the services never
know which one they talk to. Every method raises NodeCommandError with the failing command and
its stderr when the node refuses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class NodeAddress:
    """How to reach a node (manage host) and how peers and clients name it (storage host)."""

    manage: str
    storage: str


@dataclass(frozen=True)
class DeviceSpec:
    id: str
    name: str  # e.g. /dev/sdb
    backend: str = "lvm"
    # LVM names of its bricks that are not the derived tp_<id> / brick_<id> (bricks imported
    # from Heketi, clones): (name, brick id) pairs, so an inventory reads them as those bricks.
    # A shared pool names the brick that carries its space.
    named_pools: tuple[tuple[str, str], ...] = ()
    named_lvs: tuple[tuple[str, str], ...] = ()

    @property
    def vg_name(self) -> str:
        return f"vg_{self.id}"


@dataclass(frozen=True)
class DeviceReport:
    """Sizes in KiB as the node reports them after setup or resync."""

    total: int
    free: int
    used: int
    extent_size: int
    paths: list[str] = field(default_factory=list)
    pv_uuid: str = ""


@dataclass(frozen=True)
class BrickSpec:
    id: str
    device: DeviceSpec
    size: int  # KiB, virtual size of the thin LV
    tp_size: int
    pool_metadata_size: int
    gid: int = 0
    arbiter: bool = False
    # Where gluster put a snapshot clone's brick (/run/gluster/snaps/<uuid>/brick<N>/brick):
    # its LV is gluster's, in the origin brick's thin pool. "" for Brickyard's own bricks.
    path_override: str = ""
    # Its LV and thin pool names when they are not brick_<id> / tp_<id> (Heketi's LvmLv and
    # LvmThinPool); "" means the derived name.
    lv: str = ""
    pool: str = ""
    # Its LV is in a pool whose space another brick carries: destroying it frees its LV only.
    pool_guest: bool = False

    @property
    def mount_point(self) -> str:
        if self.path_override:
            return self.path_override.rsplit("/", 1)[0]
        return f"/var/lib/heketi/mounts/vg_{self.device.id}/brick_{self.id}"

    @property
    def path(self) -> str:
        return self.path_override or self.mount_point + "/brick"


@dataclass(frozen=True)
class GlusterBrick:
    host: str  # storage hostname
    path: str

    def __str__(self) -> str:
        return f"{self.host}:{self.path}"


@dataclass(frozen=True)
class GlusterVolumeSpec:
    name: str
    bricks: list[GlusterBrick]  # gluster order: set 0 positions 0..n-1, then set 1, ...
    replica: int = 0  # 0: no replica clause
    arbiter: bool = False
    disperse_data: int = 0
    disperse_redundancy: int = 0
    options: list[tuple[str, str]] = field(default_factory=list)

    @property
    def bricks_per_set(self) -> int:
        if self.replica:
            return self.replica
        if self.disperse_data:
            return self.disperse_data + self.disperse_redundancy
        return 1


@dataclass(frozen=True)
class GlusterVolumeInfo:
    name: str
    status: str  # "Started", "Stopped", "Created"
    bricks: list[GlusterBrick]
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeOwnership:
    """How to tell a gluster volume Brickyard made from one of the same name it did not:
    gluster names it as ours (option ``user.heketi.id``) or it holds one of our bricks
    ("host:path"; brick paths carry brick ids, which nobody else uses)."""

    volume_id: str
    bricks: frozenset[str] = frozenset()

    def owns(self, info: GlusterVolumeInfo) -> bool:
        if info.options.get("user.heketi.id") == self.volume_id:
            return True
        return any(str(b) in self.bricks for b in info.bricks)


# What volume_destroy found.
DESTROYED, ABSENT, FOREIGN = "destroyed", "absent", "foreign"


@dataclass(frozen=True)
class HealStatus:
    """One brick's line of `gluster volume heal <v> info`."""

    brick: str  # "host:path", or gluster's "information not available" for a down brick
    status: str  # "Connected", or why not
    entries: int | None  # entries waiting to heal; None when gluster cannot tell

    @property
    def healthy(self) -> bool:
        return self.status == "Connected" and self.entries == 0


@dataclass(frozen=True)
class BrickTrace:
    """What a node holds of one brick (Heketi layout: mount point
    /var/lib/heketi/mounts/vg_<device id>/brick_<brick id>)."""

    brick_id: str
    device_id: str
    mounted: bool  # mounted at its mount point
    fstab: bool  # a line for it in fstab
    storage: bool  # its LV (lvm: brick_<id> in vg_<device id>) or image file (loopfile) exists
    # KiB the brick holds on its device: lvm = thin pool tp_<id> data + metadata size; loopfile
    # = image apparent size. 0 when nothing of its storage is there. A thin pool left without
    # its LV (a destroy that could not remove the pool) keeps its size with storage False, so
    # the reservations of a device always add up to what its bricks hold.
    reserved: int


@dataclass(frozen=True)
class NodeInventory:
    bricks: dict[str, BrickTrace]  # by brick id: every brick found by any trace
    # by device id: as device_info reports it; None when the device (vg / device dir) is missing
    devices: dict[str, DeviceReport | None]


@dataclass(frozen=True)
class BrickStorage:
    """A brick's storage as found on its device: the LV or image (``present``) and the KiB it
    holds (thin pool data + metadata, or image apparent size)."""

    device_id: str
    present: bool
    reserved: int


def collect_bricks(
    mounted: Mapping[str, str],
    in_fstab: Mapping[str, str],
    storage: Mapping[str, BrickStorage],
) -> dict[str, BrickTrace]:
    """Merge the traces (brick id -> device id for mounts and fstab lines) into one BrickTrace
    per brick id. The device a brick's storage lives on wins over the one its paths name: the
    storage is what holds the space."""
    bricks: dict[str, BrickTrace] = {}
    for brick_id in sorted({*mounted, *in_fstab, *storage}):
        stored = storage.get(brick_id)
        if stored is not None:
            device_id = stored.device_id
        else:
            device_id = mounted.get(brick_id) or in_fstab[brick_id]
        bricks[brick_id] = BrickTrace(
            brick_id=brick_id,
            device_id=device_id,
            mounted=brick_id in mounted,
            fstab=brick_id in in_fstab,
            storage=stored is not None and stored.present,
            reserved=stored.reserved if stored is not None else 0,
        )
    return bricks


class NodeAgent(Protocol):
    async def check_glusterd(self, node: NodeAddress) -> None: ...

    async def peer_probe(self, via: NodeAddress, new_peer: NodeAddress) -> None: ...

    async def peer_detach(self, via: NodeAddress, peer: NodeAddress) -> None: ...

    async def device_setup(
        self, node: NodeAddress, device: DeviceSpec, destroy_data: bool
    ) -> DeviceReport: ...

    async def device_teardown(
        self, node: NodeAddress, device: DeviceSpec, forget: bool
    ) -> None: ...

    async def device_info(self, node: NodeAddress, device: DeviceSpec) -> DeviceReport: ...

    async def brick_create(self, node: NodeAddress, brick: BrickSpec) -> None: ...

    async def brick_destroy(self, node: NodeAddress, brick: BrickSpec) -> bool:
        """Returns whether the brick's space was reclaimed (its thin pool is gone)."""
        ...

    async def volume_create(self, via: NodeAddress, volume: GlusterVolumeSpec) -> None: ...

    async def volume_expand(
        self, via: NodeAddress, volume: GlusterVolumeSpec, new_bricks: list[GlusterBrick]
    ) -> None: ...

    async def replace_brick(
        self, via: NodeAddress, volume: str, old: GlusterBrick, new: GlusterBrick
    ) -> None:
        """`gluster volume replace-brick <volume> <old> <new> commit force`."""
        ...

    async def heal_start(self, via: NodeAddress, volume: str) -> None:
        """`gluster volume heal <volume>`: heal what is pending now (one attempt)."""
        ...

    async def volume_destroy(
        self, via: NodeAddress, name: str, owner: VolumeOwnership | None = None
    ) -> str:
        """Stop (force) and delete. Returns DESTROYED, or ABSENT when there is no such volume,
        or FOREIGN (nothing done) when `owner` is given and the volume is not its."""
        ...

    async def volume_info(self, via: NodeAddress, name: str) -> GlusterVolumeInfo | None: ...

    async def heal_info(self, via: NodeAddress, name: str) -> list[HealStatus]: ...

    async def release_brick(self, node: NodeAddress, brick: BrickSpec) -> None:
        """Kill what still holds a brick gluster no longer uses (a node that was dead starts
        the brick processes of its stale volume files), so the brick can be destroyed."""
        ...

    async def volume_clone(
        self, via: NodeAddress, source: str, clone: str, snapshot: str
    ) -> GlusterVolumeInfo:
        """Snapshot `source` as `snapshot`, clone it as `clone`, start the clone, and delete
        the snapshot again (Heketi's sequence)."""
        ...

    async def snapshot_delete(self, via: NodeAddress, snapshot: str) -> None:
        """Deactivate and delete a snapshot; one that does not exist counts as deleted."""
        ...

    async def inventory(self, node: NodeAddress, devices: list[DeviceSpec]) -> NodeInventory:
        """What the node holds of Heketi's bricks (mounts, fstab lines, LVs/pools or images,
        on `devices` and on any device a brick path names) and each device's report. Read-only:
        a handful of commands per node, not one per brick."""
        ...

    async def volume_list(self, via: NodeAddress) -> list[GlusterVolumeInfo]:
        """Every gluster volume of the trusted pool `via` belongs to, with status and bricks."""
        ...

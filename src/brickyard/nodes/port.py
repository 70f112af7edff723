"""The node-agent port: everything the services ask of a storage node.

The simulator (`sim`) and real transports implement the same protocol, so the services never
know which one they talk to. Every method raises NodeCommandError with the failing command and
its stderr when the node refuses."""

from __future__ import annotations

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

    @property
    def mount_point(self) -> str:
        return f"/var/lib/heketi/mounts/vg_{self.device.id}/brick_{self.id}"

    @property
    def path(self) -> str:
        return self.mount_point + "/brick"


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
class HealStatus:
    """One brick's line of `gluster volume heal <v> info`."""

    brick: str  # "host:path", or gluster's "information not available" for a down brick
    status: str  # "Connected", or why not
    entries: int | None  # entries waiting to heal; None when gluster cannot tell

    @property
    def healthy(self) -> bool:
        return self.status == "Connected" and self.entries == 0


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

    async def volume_destroy(self, via: NodeAddress, name: str) -> None:
        """Stop (force) and delete; a volume that does not exist counts as destroyed."""
        ...

    async def volume_info(self, via: NodeAddress, name: str) -> GlusterVolumeInfo | None: ...

    async def heal_info(self, via: NodeAddress, name: str) -> list[HealStatus]: ...

    async def volume_clone(
        self, via: NodeAddress, source: str, clone: str
    ) -> GlusterVolumeInfo: ...

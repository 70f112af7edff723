"""All services, built once from one context by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from .clusters import ClusterService
from .context import ServiceContext
from .devices import DeviceService
from .evict import BrickEviction
from .nodes import NodeService
from .volumes import VolumeService


@dataclass
class Services:
    ctx: ServiceContext
    clusters: ClusterService
    nodes: NodeService
    devices: DeviceService
    volumes: VolumeService
    eviction: BrickEviction

    @classmethod
    def build(cls, ctx: ServiceContext) -> Services:
        volumes = VolumeService(ctx)
        eviction = BrickEviction(ctx, volumes)
        return cls(
            ctx,
            ClusterService(ctx),
            NodeService(ctx, eviction),
            DeviceService(ctx, eviction),
            volumes,
            eviction,
        )

"""All services, built once from one context by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from .clusters import ClusterService
from .context import ServiceContext
from .devices import DeviceService
from .nodes import NodeService
from .volumes import VolumeService


@dataclass
class Services:
    ctx: ServiceContext
    clusters: ClusterService
    nodes: NodeService
    devices: DeviceService
    volumes: VolumeService

    @classmethod
    def build(cls, ctx: ServiceContext) -> Services:
        return cls(
            ctx, ClusterService(ctx), NodeService(ctx), DeviceService(ctx), VolumeService(ctx)
        )

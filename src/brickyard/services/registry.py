"""All services, built once from one context by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from .block_volumes import BlockVolumeService
from .clusters import ClusterService
from .context import ServiceContext
from .devices import DeviceService
from .evictions import EvictionService
from .health import MonitorSettings, NodeHealth
from .nodes import NodeService
from .operations.runner import OperationRunner
from .queue import OperationQueue
from .topology import TopologyService
from .volumes import VolumeService


@dataclass
class Services:
    ctx: ServiceContext
    runner: OperationRunner
    queue: OperationQueue
    clusters: ClusterService
    nodes: NodeService
    devices: DeviceService
    volumes: VolumeService
    evictions: EvictionService
    topology: TopologyService
    health: NodeHealth
    block_volumes: BlockVolumeService

    @classmethod
    def build(
        cls,
        ctx: ServiceContext,
        queue: OperationQueue,
        monitor: MonitorSettings | None = None,
    ) -> Services:
        runner = OperationRunner(ctx)
        return cls(
            ctx,
            runner,
            queue,
            ClusterService(ctx),
            NodeService(ctx, runner),
            DeviceService(ctx, runner),
            VolumeService(ctx, runner),
            EvictionService(ctx, runner),
            TopologyService(ctx),
            NodeHealth(ctx, monitor or MonitorSettings()),
            BlockVolumeService(ctx),
        )

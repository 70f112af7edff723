"""All services, built once from one context by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from .block_volumes import BlockVolumeService
from .clusters import ClusterService
from .context import ServiceContext
from .devices import DeviceService
from .evictions import EvictionService
from .heal_sampler import HealSampler, HealSamplerSettings
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
    heal_sampler: HealSampler

    @classmethod
    def build(
        cls,
        ctx: ServiceContext,
        queue: OperationQueue,
        monitor: MonitorSettings | None = None,
        heal_sampling: HealSamplerSettings | None = None,
    ) -> Services:
        runner = OperationRunner(ctx)
        volumes = VolumeService(ctx, runner)
        return cls(
            ctx,
            runner,
            queue,
            ClusterService(ctx),
            NodeService(ctx, runner),
            DeviceService(ctx, runner),
            volumes,
            EvictionService(ctx, runner),
            TopologyService(ctx),
            NodeHealth(ctx, monitor or MonitorSettings()),
            BlockVolumeService(ctx),
            HealSampler(volumes, heal_sampling or HealSamplerSettings()),
        )

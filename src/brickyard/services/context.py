"""What every service needs: the store, the node agent and the settings that shape behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.placement import BalancedPlacer, HeketiRingPlacer, Placer
from ..domain.sizing import BrickLimits
from ..nodes.port import NodeAgent
from ..store.sql import SqlStore
from .placement_cache import PlacementCache


@dataclass
class ServiceSettings:
    limits: BrickLimits = field(default_factory=BrickLimits)
    strict_zones: bool = False
    volume_limit: int | None = 1000  # per cluster; None = unlimited
    pre_request_volume_options: str = ""
    post_request_volume_options: str = ""
    block_hosting_volume_options: str = "group gluster-block"
    create_retries: int = 4
    default_backend: str = "lvm"
    max_replica: int = 3  # Heketi's hard limit; raising it is our extension
    average_file_size_kb: int = 64
    placer: str = "balanced"  # or "heketi": Heketi's ring, first fit


@dataclass
class ServiceContext:
    store: SqlStore
    agent: NodeAgent
    settings: ServiceSettings
    in_flight: set[str] = field(default_factory=set)  # operation ids being executed now
    placement: PlacementCache = field(init=False)
    placer: Placer = field(init=False)

    def __post_init__(self) -> None:
        self.placement = PlacementCache(self.store)
        self.placer = HeketiRingPlacer() if self.settings.placer == "heketi" else BalancedPlacer()

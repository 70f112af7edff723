"""What every service needs: the store, the node agent and the settings that shape behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.sizing import BrickLimits
from ..nodes.port import NodeAgent
from ..store.sql import SqlStore


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


@dataclass
class ServiceContext:
    store: SqlStore
    agent: NodeAgent
    settings: ServiceSettings
    in_flight: set[str] = field(default_factory=set)  # operation ids being executed now

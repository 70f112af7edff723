"""What every service needs: the store, the node agent, the settings that shape behaviour,
and who this worker is (the name it claims operations under)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ..domain.placement import BalancedPlacer, HeketiRingPlacer, Placer
from ..domain.sizing import BrickLimits
from ..instruments import OperationInstruments
from ..nodes.port import NodeAgent
from ..store.sql import SqlStore
from .heal import HealStarter
from .observed import Observations
from .placement_cache import PlacementCache

# Called at every step boundary of every operation with the point's name
# (``<operation type>:<step>:<n>``); the crash tests install one that kills the server there.
CrashHook = Callable[[str], None]


def no_crash(point: str) -> None:
    """The hook of a normal server: step boundaries are not crash points."""


class LeaseLost(BaseException):
    """This server's lease may have run out (it could not renew it, or it was paused): another
    server may be settling its operations, so it stops them where they are. Not an Exception:
    nothing rolls back (the operation is no longer this server's to touch)."""


def lease_kept() -> None:
    """The lease check of a server that keeps no lease (tests, tools): always fine."""


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
    # This server's name in operation claims: unique per process, so a restarted server never
    # mistakes what a dead one held for its own.
    worker: str = field(default_factory=lambda: f"server-{uuid.uuid4().hex[:12]}")
    crash_hook: CrashHook = no_crash
    # Called before each journaled node step: raises LeaseLost once the lease may be gone.
    lease_check: Callable[[], None] = lease_kept
    placement: PlacementCache = field(init=False)
    placer: Placer = field(init=False)
    heals: HealStarter = field(init=False)
    # Leftovers are cleaned by cleanups and by the health monitor: one at a time.
    leftover_lock: asyncio.Lock = field(init=False)
    # The last examine's drift and the sampled heal backlog (read by /metrics, the dashboard).
    observed: Observations = field(default_factory=Observations)
    # Durations and outcomes of this server's operations, which run and which wait (/metrics).
    operations: OperationInstruments = field(default_factory=OperationInstruments)

    def __post_init__(self) -> None:
        self.placement = PlacementCache(self.store)
        self.heals = HealStarter(self.agent)
        self.leftover_lock = asyncio.Lock()
        self.placer = HeketiRingPlacer() if self.settings.placer == "heketi" else BalancedPlacer()

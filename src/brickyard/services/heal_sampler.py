"""The heal backlog sampler: how many entries wait to heal on each replicated or dispersed
volume, for /metrics, the dashboard and `brickyard status` (`ctx.observed.heal`).

`gluster volume heal <v> info` walks each brick's index and can take seconds on a volume with a
large backlog, so its cost is bounded: every `interval` seconds at most `per_round` volumes are
asked, one after the other (never two at once), taking turns over all volumes in name order. A
cluster of 1000 volumes with the defaults (10 every 60 s) has each volume sampled every 100
minutes; the sample's time is kept with it, so a reader knows how old it is."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from ..domain.errors import BrickyardError
from ..domain.model import DurabilityType, Volume
from ..nodes.port import HealStatus
from ..store.errors import DatabaseError
from .observed import HealSample
from .volumes import VolumeService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealSamplerSettings:
    interval: float = 60.0  # seconds between rounds; 0: no sampling
    per_round: int = 10  # volumes asked per round at most

    @property
    def enabled(self) -> bool:
        return self.interval > 0 and self.per_round > 0


def sample_of(statuses: list[HealStatus], when: float) -> HealSample:
    """One volume's sample from its bricks' heal info lines. The bricks that answer also hold
    the entries waiting for a brick that is down, so their sum is the backlog even then."""
    known = [s.entries for s in statuses if s.entries is not None]
    return HealSample(
        sampled=when,
        entries=sum(known) if known else None,
        bricks_down=sum(1 for s in statuses if s.status != "Connected"),
    )


def heals(volume: Volume) -> bool:
    """Only replicated and dispersed volumes heal (gluster refuses heal info on the others)."""
    return volume.durability.type in (DurabilityType.REPLICATE, DurabilityType.DISPERSE)


class HealSampler:
    def __init__(self, volumes: VolumeService, settings: HealSamplerSettings) -> None:
        self.volumes = volumes
        self.ctx = volumes.ctx
        self.settings = settings
        self._last = ""  # name of the last volume sampled: the next round goes on after it

    async def run(self) -> None:
        if not self.settings.enabled:
            return
        while True:
            await asyncio.sleep(self.settings.interval)
            try:
                await self.sample_round()
            except DatabaseError as exc:
                log.warning("heal sampler: database unavailable: %s", exc.orig)
            except Exception:  # the sampler must survive anything and sample again later
                log.exception("heal sampler")

    def _turn(self) -> list[Volume]:
        """The next volumes to ask, in name order after the last one sampled (wrapping)."""
        with self.ctx.store.read() as tx:
            found = sorted(
                (v for v in tx.all(Volume) if v.visible and heals(v)), key=lambda v: v.name
            )
        names = {v.name for v in found}
        for gone in [name for name in self.ctx.observed.heal if name not in names]:
            del self.ctx.observed.heal[gone]  # deleted volumes keep no backlog
        after = [v for v in found if v.name > self._last]
        return (after + [v for v in found if v.name <= self._last])[: self.settings.per_round]

    async def sample_round(self) -> int:
        """Ask the next volumes their heal info, one at a time; returns how many answered."""
        answered = 0
        for volume in self._turn():
            self._last = volume.name
            try:
                statuses = await self.volumes.heal(volume.id)
            except BrickyardError as exc:  # no node answered: the old sample stays, with its age
                log.info("heal sampler: volume %s: %s", volume.name, exc)
                continue
            self.ctx.observed.heal[volume.name] = sample_of(statuses, time.time())
            answered += 1
        return answered

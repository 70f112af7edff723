"""The node health monitor: Heketi's health cache (glusterd checked on every node now and then)
plus what Heketi lacks: a node that answers again gets what it kept while dead (leftover bricks
and devices) destroyed at once, journaled as every leftover cleanup is, instead of waiting for
the hourly cleaner.

First check `start_time_monitor_gluster_nodes` seconds after start, then every
`refresh_time_monitor_gluster_nodes` (Heketi's 10 s and 120 s); off with
`disable_monitor_gluster_nodes` or HEKETI_DISABLE_HEALTH_MONITOR=true. Nodes are checked a few
at a time; hosts that only leftovers still name (their node deleted while dead) are checked
too."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from ..domain.errors import BrickyardError, NodeUnreachable
from ..domain.model import Node
from ..nodes.port import NodeAddress
from ..store import leftovers
from ..store.errors import DatabaseError
from .context import ServiceContext
from .leftovers import clean_leftovers

log = logging.getLogger(__name__)

PARALLEL_CHECKS = 16


@dataclass(frozen=True)
class MonitorSettings:
    enabled: bool = True
    start: float = 10.0
    interval: float = 120.0


@dataclass(frozen=True)
class Health:
    up: bool  # glusterd answered
    reachable: bool  # the node answered at all (its commands can run)
    checked: float
    detail: str = ""


@dataclass
class NodeHealth:
    ctx: ServiceContext
    settings: MonitorSettings = field(default_factory=MonitorSettings)
    hosts: dict[str, Health] = field(default_factory=dict)  # by manage host
    cleaned: int = 0  # leftovers destroyed by the monitor since start

    async def run(self) -> None:
        if not self.settings.enabled:
            return
        await asyncio.sleep(self.settings.start)
        while True:
            try:
                await self.check_all()
            except DatabaseError as exc:  # PostgreSQL away: one line, not a traceback a minute
                log.warning("node health monitor: database unavailable: %s", exc.orig)
            except Exception:  # the monitor must survive anything and check again later
                log.exception("node health monitor")
            await asyncio.sleep(self.settings.interval)

    async def check_all(self) -> None:
        with self.ctx.store.read() as tx:
            nodes = {
                n.manage_host: NodeAddress(n.manage_host, n.storage_host) for n in tx.all(Node)
            }
            kept = leftovers.all_leftovers(tx)
        for leftover in kept:
            nodes.setdefault(
                leftover.manage_hostname,
                NodeAddress(leftover.manage_hostname, leftover.storage_hostname),
            )
        with_leftovers = {x.manage_hostname for x in kept}
        limit = asyncio.Semaphore(PARALLEL_CHECKS)

        async def one(node: NodeAddress) -> None:
            async with limit:
                await self._check(node, node.manage in with_leftovers)

        await asyncio.gather(*(one(n) for n in nodes.values()))

    async def _check(self, node: NodeAddress, has_leftovers: bool) -> None:
        before = self.hosts.get(node.manage)
        try:
            await self.ctx.agent.check_glusterd(node)
            health = Health(True, True, time.time())
        except NodeUnreachable as exc:
            health = Health(False, False, time.time(), str(exc))
        except BrickyardError as exc:
            health = Health(False, True, time.time(), str(exc))
        self.hosts[node.manage] = health
        if before is not None and before.up != health.up:
            log.warning("node %s is %s", node.manage, "up again" if health.up else "down")
        if has_leftovers and health.reachable:
            cleaned = await clean_leftovers(self.ctx, node.manage)
            if cleaned:
                self.cleaned += cleaned
                log.info("node %s answers again: %d leftovers destroyed", node.manage, cleaned)

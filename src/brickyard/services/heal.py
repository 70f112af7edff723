"""Starting heal after a brick was replaced, without waiting for it.

A replaced brick is empty: `gluster volume heal <v>` heals it now instead of at the self-heal
daemons' next crawl (10 minutes). Gluster refuses the start while its daemons reload (seconds
after replace-brick) and while another brick of the volume is down (a dead node's other bricks,
until they are replaced too). So a start is requested, not awaited: a background task per
volume retries it every few seconds for a while, and a new request for the same volume (the
next brick moved) starts the count again. Evacuating a node holding several bricks of one volume
moves on at once instead of waiting a minute per brick."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..domain.errors import BrickyardError
from ..nodes.port import NodeAddress, NodeAgent

log = logging.getLogger(__name__)

ATTEMPTS = 20
PAUSE_SECONDS = 3.0


class HealStarter:
    def __init__(
        self, agent: NodeAgent, attempts: int = ATTEMPTS, pause: float = PAUSE_SECONDS
    ) -> None:
        self.agent = agent
        self.attempts = attempts
        self.pause = pause
        self._wanted: dict[str, tuple[list[NodeAddress], int]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.started: Callable[[str], None] = lambda volume: None  # for tests and metrics

    def request(self, volume: str, via: list[NodeAddress]) -> None:
        """Start heal of `volume` through the first of `via` that accepts, as soon as gluster
        accepts it (in the background)."""
        self._wanted[volume] = (list(via), self.attempts)
        if volume not in self._tasks:
            task = asyncio.get_running_loop().create_task(self._start(volume))
            self._tasks[volume] = task
            task.add_done_callback(lambda _: self._tasks.pop(volume, None))

    def cancel(self) -> None:
        """Stop every pending start (shutdown): the daemons' crawl heals later anyway."""
        for task in list(self._tasks.values()):
            task.cancel()

    async def drain(self) -> None:
        """Wait for every requested start to succeed or give up (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def _start(self, volume: str) -> None:
        while True:
            via, left = self._wanted[volume]
            self._wanted[volume] = (via, left - 1)
            last: BrickyardError | None = None
            for node in via:
                try:
                    await self.agent.heal_start(node, volume)
                except BrickyardError as exc:
                    last = exc
                    continue
                del self._wanted[volume]
                log.info("heal of %s started via %s", volume, node.manage)
                self.started(volume)
                return
            if left <= 1:
                del self._wanted[volume]
                # The self-heal daemons' next crawl heals it anyway.
                log.warning("heal of %s not started: %s", volume, last)
                return
            await asyncio.sleep(self.pause)

"""Heketi's asynchronous queue (contract §2): jobs run in the background, their outcome is
read once through GET /queue/<id>, and throttled jobs count against max_inflight_operations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from ..domain.errors import BrickyardError, Busy
from ..domain.ids import new_id
from ..services.jobs import Job

log = logging.getLogger(__name__)


@dataclass
class QueueEntry:
    done: bool = False
    error: str | None = None
    redirect: str | None = None  # resource path for 303; None with no error means 204
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class Slot:
    """A reserved place under the in-flight limit, held from before planning to the job's end."""

    def __init__(self, queue: OperationQueue, throttled: bool) -> None:
        self.queue = queue
        self.throttled = throttled
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            if self.throttled:
                self.queue.throttled_in_flight -= 1


class OperationQueue:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.entries: dict[str, QueueEntry] = {}
        self.throttled_in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def reserve(self, throttled: bool) -> Slot:
        if throttled:
            if self.throttled_in_flight >= self.limit:
                raise Busy()
            self.throttled_in_flight += 1
        return Slot(self, throttled)

    def submit(self, job: Job, slot: Slot) -> str:
        queue_id = new_id()
        entry = QueueEntry()
        self.entries[queue_id] = entry
        task = asyncio.get_running_loop().create_task(self._run(job, entry, slot))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return f"/queue/{queue_id}"

    async def _run(self, job: Job, entry: QueueEntry, slot: Slot) -> None:
        try:
            entry.redirect = await job.run()
        except BrickyardError as exc:
            log.info("%s failed: %s", job.description, exc)
            entry.error = exc.message
        except Exception as exc:  # a bug must still answer the poller, not hang it
            log.exception("%s crashed", job.description)
            entry.error = f"internal error: {exc}"
        finally:
            entry.done = True
            entry.finished.set()
            slot.release()

    async def wait(self, queue_id: str, seconds: float) -> None:
        """Hold a poll briefly for a job about to finish, so a fast operation is reported done
        on the first poll instead of after the client's next sleep."""
        entry = self.entries.get(queue_id)
        if entry is not None and not entry.done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry.finished.wait(), seconds)

    def take(self, queue_id: str) -> QueueEntry | None:
        """The entry, removed once it reports completion (read-once, as Heketi)."""
        entry = self.entries.get(queue_id)
        if entry is not None and entry.done:
            del self.entries[queue_id]
        return entry

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

"""Heketi's asynchronous queue (contract §2): jobs run in the background, their outcome is
read once through GET /queue/<id>, and throttled jobs count against max_inflight_operations.

Each outcome is also written to the database (Heketi keeps them in memory only): a client that
polls across a restart still gets its answer, and a job the restart interrupted is answered
once recovery has rolled its operation back or forward (`operations.recovery`).

The HTTP side (202 and Location, 303/204/500 when polled) is the API's; this is the part that
runs jobs, counts throttled ones and keeps their outcomes."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..domain.errors import BrickyardError, Busy
from ..domain.ids import new_id
from ..store import queue_results as results
from ..store import servers
from ..store.errors import DatabaseError
from ..store.sql import SqlStore
from . import submission
from .context import LeaseLost
from .jobs import Job
from .submission import SUBMISSION, Submission

log = logging.getLogger(__name__)


# How long a result read on a one-server store stays in the database before its batched delete
# (read-once holds at once, in memory): one commit for all the polls of that moment, instead of
# one per poll. A crash in between only lets a result be read again after the restart.
FORGET_DELAY = 0.5

DATABASE_LOST = (
    "The database was unreachable during this operation; it is recovered (rolled back or "
    "finished) once the database answers: see GET /operations/pending"
)


@dataclass
class QueueEntry:
    done: bool = False
    error: str | None = None
    redirect: str | None = None  # resource path for 303; None with no error means 204
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class Slot:
    """A reserved place under the in-flight limit, held from before planning to the job's end.
    On a shared store it is also a row in the database (`shared_id`): the limit is global."""

    def __init__(self, queue: OperationQueue, throttled: bool, shared_id: str = "") -> None:
        self.queue = queue
        self.throttled = throttled
        self.shared_id = shared_id
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            if self.throttled:
                self.queue.throttled_in_flight -= 1
            if self.shared_id:
                self.queue.release_shared(self.shared_id)


def _no_server() -> str:
    return ""


class OperationQueue:
    def __init__(
        self,
        limit: int,
        store: SqlStore | None = None,
        server: Callable[[], str] = _no_server,
    ) -> None:
        self.limit = limit
        self.store = store
        self.server = server  # this server's current identity (it changes when fenced)
        self.entries: dict[str, QueueEntry] = {}
        self.throttled_in_flight = 0
        self.refused = 0  # requests refused with Busy (429) since start, for /metrics
        self._tasks: set[asyncio.Task[None]] = set()
        self._shared_slots: set[str] = set()
        # Results the database refused to take (an outage): (status, redirect, error).
        self._unrecorded: dict[str, tuple[str, str | None, str | None]] = {}
        # Results handed out whose rows are not deleted yet (one-server stores: `_forget`).
        self._read: set[str] = set()
        self._forget_timer: asyncio.TimerHandle | None = None

    def reserve(self, throttled: bool) -> Slot:
        if not throttled:
            return Slot(self, throttled)
        if self.throttled_in_flight >= self.limit:
            self.refused += 1
            raise Busy()
        shared_id = ""
        if self.store is not None and self.store.shared:
            # Counted across every live server, under a lock in the database.
            shared_id = new_id()
            self._shared_slots.add(shared_id)
            try:
                with self.store.write() as tx:
                    taken = servers.take_slot(tx, shared_id, self.server(), self.limit)
            except BaseException:
                self._shared_slots.discard(shared_id)
                raise
            if not taken:
                self._shared_slots.discard(shared_id)
                self.refused += 1
                raise Busy()
        self.throttled_in_flight += 1
        return Slot(self, throttled, shared_id)

    def release_shared(self, slot_id: str) -> None:
        self._shared_slots.discard(slot_id)
        if self.store is None:
            return
        try:
            with self.store.write() as tx:
                servers.release_slot(tx, slot_id)
        except Exception:  # the next lease renewal drops it (ServerRegistry.renew)
            log.warning("releasing in-flight slot %s failed; dropped at the next renewal", slot_id)

    def slot_ids(self) -> set[str]:
        """The shared slots this server's jobs hold now."""
        return set(self._shared_slots)

    def cancel_running(self) -> int:
        """Stop every running job where it is (a fenced server): each leaves its operation
        and its request for whoever takes this server's old identity over."""
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)

    async def start(
        self, build: Callable[[], Job | Awaitable[Job]], throttled: bool = False
    ) -> str:
        """Reserve a slot (Busy when full), build the job (its plan is journaled then; its
        errors are the request's answer), run it in the background. Returns the queue path."""
        slot = self.reserve(throttled)
        request = None
        if self.store is not None:
            request = Submission(new_id(), self.server(), time.time())
        # The operation the build plans writes its "running" result in its own plan
        # transaction, and its job (whose task inherits this context) its success in its
        # finalizing one: see services/submission.py.
        token = SUBMISSION.set(request)
        try:
            try:
                built = build()
                job = await built if inspect.isawaitable(built) else built
            except BaseException:
                slot.release()
                raise
            return self.submit(job, slot, request)
        finally:
            SUBMISSION.reset(token)

    def submit(self, job: Job, slot: Slot, request: Submission | None = None) -> str:
        queue_id = request.queue_id if request is not None else new_id()
        entry = QueueEntry()
        self.entries[queue_id] = entry
        if self.store is not None and not (request is not None and request.op_id):
            results.add(
                self.store,
                results.QueueResult(
                    id=queue_id,
                    op_id=job.operation_id,
                    description=job.description,
                    status=results.RUNNING,
                    resource=job.resource,
                    redirect=None,
                    error=None,
                    created=time.time(),
                    server=self.server(),
                ),
            )
            if request is not None:
                # Written here (the job was planned outside this request): the operations the
                # job plans as it runs must not write it again; its own may still answer it.
                submission.started(request, job.operation_id or "(queue)")
        task = asyncio.get_running_loop().create_task(
            self._run(queue_id, job, entry, slot, request)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return f"/queue/{queue_id}"

    async def _run(
        self,
        queue_id: str,
        job: Job,
        entry: QueueEntry,
        slot: Slot,
        request: Submission | None = None,
    ) -> None:
        try:
            try:
                entry.redirect = await job.run()
            except Exception as exc:
                if job.operation_id and _database_lost(exc):
                    # Its end could not be written: the operation is recovered from its
                    # journal (ServerRegistry.reclaim_abandoned), which answers the request;
                    # polls read that answer from the database, on any server.
                    log.warning("%s: the database was lost: %s", job.description, exc)
                    self._abandon(queue_id, slot)
                    return
                entry.error = _message(job, exc)
        except LeaseLost as lost:
            # Another server settles the operation and answers the request from the database.
            log.error("%s stopped: %s", job.description, lost)
            self._abandon(queue_id, slot)
            return
        except BaseException:
            # Cancelled at shutdown, fenced, or a simulated crash: the result stays "running"
            # in the database and whoever recovers the operation answers it; a poll here reads
            # it from there meanwhile.
            self._abandon(queue_id, slot)
            raise
        self._record(queue_id, entry, request)
        entry.done = True
        entry.finished.set()
        slot.release()
        if self.store is not None and self.store.shared and queue_id not in self._unrecorded:
            # Polls may come to any server: the database's copy is the one that is read once
            # (a poll here reads it too), so the memory of a finished job is not kept.
            self.entries.pop(queue_id, None)

    def _abandon(self, queue_id: str, slot: Slot) -> None:
        self.entries.pop(queue_id, None)
        slot.release()

    def _record(self, queue_id: str, entry: QueueEntry, request: Submission | None) -> None:
        if self.store is None:
            return
        status = results.FAILED if entry.error is not None else results.DONE
        if request is not None and request.outcome == (status, entry.redirect, entry.error):
            return  # written by the operation's finalizing transaction
        try:
            results.finish(self.store, queue_id, status, entry.redirect, entry.error)
        except Exception:  # the answer in memory still reaches the poller; written later
            log.warning("recording the result of queue entry %s failed: kept to retry", queue_id)
            self._unrecorded[queue_id] = (status, entry.redirect, entry.error)

    def record_pending(self) -> None:
        """Write the results a database outage kept from being written (other servers read
        them from there)."""
        for queue_id, (status, redirect, error) in list(self._unrecorded.items()):
            if self.store is None:
                return
            results.finish(self.store, queue_id, status, redirect, error)
            del self._unrecorded[queue_id]

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
        if entry is None:
            return self._take_stored(queue_id)
        if entry.done:
            del self.entries[queue_id]
            if not self._forget(queue_id):
                return None  # another server handed this result out already
        return entry

    def _take_stored(self, queue_id: str) -> QueueEntry | None:
        """A result from before a restart."""
        if self.store is None or queue_id in self._read:
            return None
        with self.store.read() as tx:
            stored = results.get(tx, queue_id)
        if stored is None:
            return None
        if stored.status == results.RUNNING:  # still running, here or on another server
            return QueueEntry()
        if not self._forget(queue_id):
            return None
        return QueueEntry(done=True, error=stored.error, redirect=stored.redirect)

    def _forget(self, queue_id: str) -> bool:
        """Delete a result once read; False when another server read it first."""
        if self.store is None:
            return True
        if self.store.shared:
            return results.delete(self.store, queue_id)
        # Only this server answers from this database: read-once holds from now on through
        # `_read`; the row goes with the others read in the next FORGET_DELAY.
        self._read.add(queue_id)
        if self._forget_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.forget_read()
                return True
            self._forget_timer = loop.call_later(FORGET_DELAY, self.forget_read)
        return True

    def forget_read(self) -> None:
        """Delete the rows of the results handed out since the last call (at shutdown too)."""
        if self._forget_timer is not None:
            self._forget_timer.cancel()
            self._forget_timer = None
        if self.store is None or not self._read:
            return
        batch = set(self._read)
        try:
            results.delete_all(self.store, batch)
        except Exception as exc:  # kept in `_read`: still read-once, in the next batch or at stop
            log.warning("deleting %d read queue results failed: %s", len(batch), exc)
            return
        self._read -= batch

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _database_lost(exc: BaseException) -> bool:
    """Whether `exc` came from losing the database (anywhere in its chain of causes)."""
    seen: BaseException | None = exc
    for _ in range(20):
        if seen is None:
            return False
        if isinstance(seen, DatabaseError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _message(job: Job, exc: Exception) -> str:
    """The answer to a failed job's poller."""
    if isinstance(exc, BrickyardError):
        log.info("%s failed: %s", job.description, exc)
        return exc.message
    if isinstance(exc, DatabaseError):
        log.warning("%s: database unavailable: %s", job.description, exc.orig)
        return DATABASE_LOST
    log.exception("%s crashed", job.description)  # a bug must still answer the poller
    return f"internal error: {exc}"

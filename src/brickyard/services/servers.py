"""Several servers on one database (PostgreSQL): each registers with a lease and renews it
while it lives; each watches the others, and the first to see a lease expire takes the dead
server's operations over and settles them from their journal, as recovery at start does, then
answers that server's pending requests.

A server that cannot renew its own lease for a whole lease period (the database unreachable,
the process paused) fences itself: its running jobs stop where they are and it takes a new
identity, so what it held is taken over like a dead server's, by whichever server sees the old
lease expire first (itself included, once the database answers again). Without that, two
servers could act on one operation after a partition.

A single server on SQLite registers the same way; at start it takes over every earlier row
(SQLite is one server's: another live process on the file is refused)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..store import queue_results as results
from ..store import servers as rows
from ..store.errors import DatabaseError
from ..store.servers import ServerRecord
from .context import LeaseLost, ServiceContext
from .operations.recovery import DIED, UNREACHABLE, settle
from .operations.runner import OperationRunner
from .queue import OperationQueue

log = logging.getLogger(__name__)

RENEWALS_PER_LEASE = 4  # renewed every lease/4: three renewals may fail before it expires
WATCH_INTERVAL = 1.0  # how often a server looks for expired leases (seconds)
FENCE_AT = (RENEWALS_PER_LEASE - 1) / RENEWALS_PER_LEASE  # of the lease, without a renewal


class IncompatibleServer(Exception):
    """This server must not join the database (its shared settings differ, or an SQLite
    database is another live server's)."""


def new_worker_id() -> str:
    return f"server-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class ServerIdentity:
    host: str
    address: str
    version: str
    lease: float
    settings: dict[str, Any]  # the settings every server of the database must share
    pid: int = field(default_factory=os.getpid)

    @property
    def settings_json(self) -> str:
        return json.dumps(self.settings, sort_keys=True, separators=(",", ":"))


@dataclass
class Inheritance:
    """What this server took over: dead servers, their operations, their pending requests."""

    servers: list[ServerRecord] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)
    results: list[results.QueueResult] = field(default_factory=list)
    detected: float = 0.0  # database time the takeover was decided


@dataclass(frozen=True)
class Takeover:
    """One dead server taken over, for GET /servers and the logs."""

    server: str
    host: str
    expired: float  # when its lease ran out (database clock)
    settled: float  # when its operations were settled (database clock)
    operations: int
    answered: int


class ServerRegistry:
    def __init__(
        self,
        ctx: ServiceContext,
        runner: OperationRunner,
        queue: OperationQueue,
        identity: ServerIdentity,
    ) -> None:
        self.ctx = ctx
        self.runner = runner
        self.queue = queue
        self.identity = identity
        self.registered = False
        self.last_renewed = time.monotonic()
        self.started = 0.0
        # What start-up recovery answers: the requests of earlier runs or dead servers.
        self.inherited = Inheritance()
        self.takeovers: list[Takeover] = []
        self.fenced: list[str] = []  # identities given up, oldest first

    @property
    def worker(self) -> str:
        return self.ctx.worker

    # -- start ------------------------------------------------------------------------------
    def register(self) -> None:
        """Join the database (at build, before any request): refuse if this server cannot,
        writing nothing; then take over what dead servers (or, on SQLite, earlier runs) held."""
        store = self.ctx.store
        with store.write() as tx:
            now = tx.db_time()
            others = [s for s in rows.all_servers(tx) if s.id != self.worker]
            live = [s for s in others if s.expires >= now and not self._gone_here(s)]
            if not store.shared:
                # In this very process, an earlier server on the file is gone (tests restart
                # servers in-process; a real process serves one SQLite database).
                live = [s for s in live if s.pid != self.identity.pid]
            self._check_compatible(live, store.shared)
            if not store.shared:
                # One server: everything an earlier run held is stale, its requests ours.
                for other in others:
                    rows.remove(tx, other.id)
                tx.orphan_operations(self.worker)
                self.inherited.results = _adopt_all_running(tx, self.worker)
            rows.register(tx, self._record(now))
            self.started = now
        self.registered = True
        self.last_renewed = time.monotonic()
        if store.shared:
            self.inherited = self.claim_dead()
            with store.write() as tx:
                rows.orphan_unowned_new(tx)

    def _check_compatible(self, live: list[ServerRecord], shared: bool) -> None:
        if not live:
            return
        if not shared:
            other = live[0]
            raise IncompatibleServer(
                f"this SQLite database is in use by server {other.id} (pid {other.pid} on "
                f"{other.host}, lease valid for {other.lease:g} s after its last renewal): "
                "SQLite is for one server; use PostgreSQL to run several (docs/ha.md)"
            )
        mine = self.identity.settings
        for other in live:
            theirs = json.loads(other.settings)
            differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            if differ:
                raise IncompatibleServer(
                    f"server {other.id} (on {other.host}, address {other.address}) serves this "
                    f"database with different settings: {', '.join(differ)}. Every server of "
                    "one database must share these settings; nothing was written"
                )

    def _record(self, now: float) -> ServerRecord:
        i = self.identity
        return ServerRecord(
            id=self.worker,
            host=i.host,
            pid=i.pid,
            address=i.address,
            version=i.version,
            started=now,
            renewed=now,
            lease=i.lease,
            settings=i.settings_json,
        )

    def _gone_here(self, server: ServerRecord) -> bool:
        """A server of this host whose process is gone (a restart here needs no wait for the
        lease). Another server of this very process is alive: only tests run several."""
        if server.host != self.identity.host or server.pid == self.identity.pid:
            return False
        return not _pid_alive(server.pid)

    # -- takeover ---------------------------------------------------------------------------
    def claim_dead(self) -> Inheritance:
        """Take over every server whose lease expired (or whose process here is gone), in
        one transaction per call: the conditional delete of its row decides which of several
        watching servers takes it; the winner frees its operations (stale, to be recovered),
        adopts its pending requests, and drops its in-flight slots."""
        found = Inheritance()
        with self.ctx.store.write() as tx:
            now = tx.db_time()
            found.detected = now
            for server in rows.all_servers(tx):
                if server.id == self.worker:
                    continue
                gone = self._gone_here(server)
                if not gone and server.expires >= now:
                    continue
                if not rows.remove(tx, server.id, None if gone else now):
                    continue
                found.servers.append(server)
                found.operations.update(rows.orphan_operations_of(tx, server.id))
                found.results.extend(_adopt(tx, server.id, self.worker))
                rows.drop_slots(tx, server.id)
        for server in found.servers:
            log.warning(
                "server %s (pid %d on %s) %s: taking over its %d operations and %d pending "
                "requests",
                server.id,
                server.pid,
                server.host,
                "is gone" if self._gone_here(server) else "let its lease expire",
                len(found.operations),
                len(found.results),
            )
        return found

    async def settle_inherited(self, found: Inheritance) -> None:
        """Recover what was taken over and answer its requests."""
        report = await settle(self.runner, "takeover", found.operations, found.results, DIED)
        with self.ctx.store.read() as tx:
            settled = tx.db_time()
        for server in found.servers:
            self.takeovers.append(
                Takeover(
                    server.id,
                    server.host,
                    server.expires,
                    settled,
                    len(found.operations),
                    len(found.results),
                )
            )
        del self.takeovers[:-20]
        log.warning(
            "takeover of %s: %d operations finished, %d kept for a later cleanup, %d held for "
            "a human, %d requests answered, %.1f s after the lease expired",
            ", ".join(s.id for s in found.servers),
            len(report.finished),
            len(report.failed),
            len(report.held),
            len(found.results),
            settled - min(s.expires for s in found.servers),
        )

    def reclaim_abandoned(self) -> Inheritance:
        """Operations this server holds that no task of it works on any more (a job that died
        on a database error, whose rollback could not be written either) become stale, with
        their pending requests, to be recovered like a dead server's."""
        found = Inheritance()
        with self.ctx.store.write() as tx:
            for op_id, owner in rows.operations_held_by(tx, self.worker):
                if op_id not in self.runner.active and rows.release_abandoned(tx, op_id, owner):
                    found.operations.add(op_id)
            if found.operations:
                found.results = [
                    r for r in results.running(tx, self.worker) if r.op_id in found.operations
                ]
        return found

    # -- background -------------------------------------------------------------------------
    async def keep_lease(self) -> None:
        """Renew this server's lease every lease/4 seconds, fencing itself when it cannot;
        then recover what this server abandoned."""
        every = self.identity.lease / RENEWALS_PER_LEASE
        self.ctx.lease_check = self.check_lease
        while True:
            await asyncio.sleep(every)
            self.renew()
            if not self.registered:
                continue
            try:
                found = self.reclaim_abandoned()
            except DatabaseError:
                continue
            if found.operations:
                log.warning(
                    "%d operations of this server were abandoned by their jobs: recovering them",
                    len(found.operations),
                )
                try:
                    await settle(
                        self.runner, "recovery", found.operations, found.results, UNREACHABLE
                    )
                except (Exception, LeaseLost):  # the cleaner or a restart settles the rest
                    log.exception("recovering abandoned operations")

    def renew(self) -> None:
        try:
            if not self.registered:
                with self.ctx.store.write() as tx:
                    now = tx.db_time()
                    rows.register(tx, self._record(now))
                self.registered = True
                self.last_renewed = time.monotonic()
                log.warning("registered again as server %s", self.worker)
                return
            with self.ctx.store.write() as tx:
                kept = rows.renew(tx, self.worker, tx.db_time())
                if kept:
                    rows.drop_stale_slots(tx, self.worker, self.queue.slot_ids())
            self.queue.record_pending()
        except DatabaseError as exc:
            silent = time.monotonic() - self.last_renewed
            log.warning("cannot renew the lease of %s (%.1f s): %s", self.worker, silent, exc)
            # Fence before the others may take over (at `lease` after the last renewal): by
            # the last attempt that still comes before it.
            if self.registered and silent >= self.identity.lease * FENCE_AT:
                self.fence(f"lease not renewed for {silent:.1f} s (database unreachable)")
            return
        if not kept:
            self.fence("another server presumed this one dead and took its operations over")
            return
        self.last_renewed = time.monotonic()

    def check_lease(self) -> None:
        """Raise LeaseLost when the last renewal is so old that others may take this server's
        operations over (monotonic time: it runs on while the process is stopped)."""
        silent = time.monotonic() - self.last_renewed
        if silent >= self.identity.lease * FENCE_AT:
            raise LeaseLost(f"lease not renewed for {silent:.1f} s")

    def fence(self, why: str) -> None:
        """Stop everything this identity runs and take a new one (see the module's doc)."""
        old = self.worker
        cancelled = self.queue.cancel_running()
        self.ctx.worker = new_worker_id()
        self.registered = False
        self.fenced.append(old)
        log.error(
            "server %s fenced itself: %s. %d running jobs stopped where they were; what it "
            "held is taken over once its lease expires. Continuing as %s",
            old,
            why,
            cancelled,
            self.worker,
        )
        self.renew()

    async def watch(self) -> None:
        """Look for dead servers every second and take each over."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            if not self.registered:
                continue
            try:
                found = self.claim_dead()
            except DatabaseError as exc:
                log.debug("looking for dead servers: %s", exc)
                continue
            if found.servers:
                try:
                    await self.settle_inherited(found)
                except (Exception, LeaseLost):  # left for the cleaner, a restart, another
                    log.exception("takeover of %s", ", ".join(s.id for s in found.servers))

    def describe(self) -> list[dict[str, Any]]:
        """GET /servers: every registered server, its lease and what it holds."""
        with self.ctx.store.read() as tx:
            now = tx.db_time()
            servers = rows.all_servers(tx)
            held = rows.operations_by_server(tx)
            slots = rows.slots_of(tx)
        return [
            {
                "id": s.id,
                "host": s.host,
                "pid": s.pid,
                "address": s.address,
                "version": s.version,
                "started": s.started,
                "renewed": s.renewed,
                "lease_seconds": s.lease,
                "lease_expires": s.expires,
                "live": s.expires >= now,
                "this_server": s.id == self.worker,
                "inflight_slots": slots.get(s.id, 0),
                "operations": held.get(s.id, []),
            }
            for s in servers
        ]


def _adopt(tx: Any, dead: str, heir: str) -> list[results.QueueResult]:
    found = results.running(tx, dead)
    results.adopt(tx, dead, heir)
    return found


def _adopt_all_running(tx: Any, heir: str) -> list[results.QueueResult]:
    """Single server at start: every result still running is an earlier run's."""
    found = [r for r in results.running(tx) if r.server != heir]
    for server in {r.server for r in found}:
        results.adopt(tx, server, heir)
    return found


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True

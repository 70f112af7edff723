"""Several servers on one PostgreSQL database (issue #13): any server takes any request, no
space is ever booked twice, a stale placement index costs nothing, queue ids answer on every
server, the in-flight limit is global, and a dead server's operations are taken over.

The servers run in this process on one simulated set of nodes (so the nodes can be compared
with the database), each with its own store, placement index, queue and identity, exactly as
separate processes would have. They share one event loop, so their transactions never overlap
here; the placement lock under truly concurrent transactions is tested on real processes in
tests/e2e/test_several_servers_on_gluster.py and below with threads
(test_concurrent_placements_in_threads_never_overbook)."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from brickyard.config import ConfigError
from brickyard.domain.errors import BrickyardError
from brickyard.domain.ids import new_id
from brickyard.domain.model import Durability, DurabilityType, Volume
from brickyard.nodes.sim import SimWorld
from brickyard.services import volume_placement
from brickyard.services.allocation import write_allocation
from brickyard.services.context import ServiceContext
from brickyard.store.sql import SqlStore
from pg import PgServer

from .conftest import GIB_KIB, ONE_GIB_BRICK, Harness, SimulatedCrash, expire_lease

REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}
LEASE = "2"  # seconds: the takeover tests wait for it to run out


Servers = Callable[..., Awaitable[list[Harness]]]


@pytest.fixture
async def several(postgres: PgServer, tmp_path: Path) -> AsyncIterator[Servers]:
    """`await several(n, device_size_gb=..., delay_ms=..., env={...})`: n servers on one new
    PostgreSQL database and one simulated set of nodes."""
    opened: list[Harness] = []
    counter = itertools.count()

    async def start(
        n: int, device_size_gb: int = 500, delay_ms: float = 0, env: dict[str, str] | None = None
    ) -> list[Harness]:
        url = postgres.new_database()
        world = SimWorld(device_size_gb=device_size_gb, delay_ms=delay_ms)
        started = []
        for _ in range(n):
            directory = tmp_path / f"server{next(counter)}"
            directory.mkdir()
            harness = Harness.open(directory, world=world, db=url, env=env)
            opened.append(harness)
            started.append(harness)
        return started

    yield start
    for harness in opened:
        harness.server.registry.queue.cancel_running()
        await harness.close()


async def answer(h: Harness, location: str, timeout: float = 30.0) -> httpx.Response:
    """Poll `location` on `h` until it is no longer pending."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await h.get(location)
        if r.headers.get("x-pending") != "true":
            return r
        assert asyncio.get_running_loop().time() < deadline, f"{location} still pending"
        await asyncio.sleep(0.01)


def capacity(device_gb: int) -> int:
    """1 GiB replica-3 volumes that fit on three nodes of one device each."""
    return device_gb * GIB_KIB // ONE_GIB_BRICK


async def test_hundred_creates_by_ten_clients_over_three_servers_never_overbook(
    several: Servers,
) -> None:
    hs = await several(
        3, device_size_gb=12, delay_ms=2, env={"HEKETI_MAX_INFLIGHT_OPERATIONS": "4"}
    )
    await hs[0].build_topology()
    fits = capacity(12)
    assert fits == 11
    outcomes: list[tuple[int, str]] = []
    seen_busy = 0
    most_slots = 0
    requests = iter(range(100))
    stop = asyncio.Event()

    async def client(number: int) -> None:
        nonlocal seen_busy
        for i in requests:
            submit, poll = hs[(number + i) % 3], hs[(number + i + 1) % 3]
            while True:
                r = await submit.post("/volumes", {"size": 1, "durability": REPLICA3})
                if r.status_code != 429:
                    break
                seen_busy += 1
                await asyncio.sleep(random.uniform(0.005, 0.02))
            if r.status_code != 202:  # refused at plan, before any queue entry
                outcomes.append((r.status_code, r.text))
                continue
            final = await answer(poll, r.headers["location"])
            outcomes.append((final.status_code, final.text))
            # Read once, whichever server is asked next.
            again = await hs[(number + i + 2) % 3].get(r.headers["location"])
            assert again.status_code == 404, again.text

    async def watch_slots() -> None:
        nonlocal most_slots
        store = hs[0].server.store
        while not stop.is_set():
            with store.read() as tx:
                held = tx.conn.scalar("SELECT count(*) FROM inflight_slots")
                most_slots = max(most_slots, int(held))
            await asyncio.sleep(0.002)

    watcher = asyncio.create_task(watch_slots())
    await asyncio.gather(*(client(n) for n in range(10)))
    stop.set()
    await watcher
    created = [text for status, text in outcomes if status == 303]
    refused = [text for status, text in outcomes if status != 303]
    assert len(outcomes) == 100
    assert len(created) == fits, (len(created), refused[:3])
    assert all(status == 500 and "No space" in text for status, text in outcomes if status != 303)
    assert seen_busy > 0, "the in-flight limit was never reached: the test proves nothing"
    assert 0 < most_slots <= 4
    dump = await hs[1].assert_consistent()
    assert len(dump["volumeentries"]) == fits
    # Answered by other servers: no server keeps the finished jobs in memory.
    assert [len(h.queue.entries) for h in hs] == [0, 0, 0]
    with hs[2].server.store.read() as tx:
        assert tx.conn.scalar("SELECT count(*) FROM inflight_slots") == 0


async def no_space(h: Harness) -> None:
    r = await h.post("/volumes", {"size": 1, "durability": REPLICA3})
    assert r.status_code == 500 and "No space" in r.text, (r.status_code, r.text)


async def test_a_server_sees_space_another_server_freed(several: Servers) -> None:
    """B's placement index was loaded when the cluster was full; A deletes a volume. Without
    the change counter B would still say "No space"."""
    a, b = await several(2, device_size_gb=3)
    await a.build_topology()
    volumes = [await a.create_volume(size=1, durability=REPLICA3) for _ in range(capacity(3))]
    await no_space(b)
    await a.delete_volume(volumes[0]["id"])
    created = await b.create_volume(size=1, durability=REPLICA3)
    await no_space(a)
    await b.delete_volume(created["id"])
    await a.create_volume(size=1, durability=REPLICA3)
    await a.assert_consistent()


async def test_the_in_flight_limit_holds_across_servers(several: Servers) -> None:
    a, b = await several(2, delay_ms=150, env={"HEKETI_MAX_INFLIGHT_OPERATIONS": "2"})
    await a.build_topology()
    first = await a.post("/volumes", {"size": 1})
    second = await b.post("/volumes", {"size": 1})
    assert (first.status_code, second.status_code) == (202, 202)
    third = await b.post("/volumes", {"size": 1})
    assert third.status_code == 429, third.text
    assert (await a.post("/volumes", {"size": 1})).status_code == 429
    for r, poll in ((first, b), (second, a)):
        assert (await answer(poll, r.headers["location"])).status_code == 303
    assert (await b.wait(await b.post("/volumes", {"size": 1}))).status_code == 303


async def test_get_servers_lists_each_server_and_what_it_holds(several: Servers) -> None:
    a, b = await several(2, delay_ms=100)
    await a.build_topology()
    r = await a.post("/volumes", {"size": 1})
    listing = (await b.get_json("/servers"))["servers"]
    assert {s["id"] for s in listing} == {
        a.server.services.ctx.worker,
        b.server.services.ctx.worker,
    }
    mine = next(s for s in listing if s["id"] == a.server.services.ctx.worker)
    assert mine["live"] and not mine["this_server"]
    assert mine["lease_expires"] == pytest.approx(mine["renewed"] + 8.0)
    assert [op["type"] for op in mine["operations"]] == ["create-volume"] or mine["operations"]
    assert mine["inflight_slots"] == 1
    assert (await answer(b, r.headers["location"])).status_code == 303
    after = (await a.get_json("/servers"))["servers"]
    assert all(s["operations"] == [] and s["inflight_slots"] == 0 for s in after)


# -- a dead server --------------------------------------------------------------------------


def crash_at(h: Harness, point: str) -> None:
    def hook(name: str) -> None:
        if name == point:
            raise SimulatedCrash(name)

    h.server.services.ctx.crash_hook = hook


@pytest.mark.parametrize(
    "point",
    [
        "create-volume:brick-made:2",
        "delete-volume:volume-destroyed:1",
        "expand-volume:brick-made:3",
    ],
)
async def test_a_survivor_takes_over_a_dead_servers_operation(several: Servers, point: str) -> None:
    a, b = await several(2, env={"BRICKYARD_SERVER_LEASE_SECONDS": LEASE})
    await a.build_topology()
    volume = await a.create_volume(size=1, durability=REPLICA3)
    crash_at(a, point)
    if point.startswith("create"):
        r = await a.post("/volumes", {"size": 1, "durability": REPLICA3})
    elif point.startswith("delete"):
        r = await a.delete(f"/volumes/{volume['id']}")
    else:
        r = await a.post(f"/volumes/{volume['id']}/expand", {"expand_size": 1})
    assert r.status_code == 202
    await a.queue.drain()  # the job hit the crash point: A is dead from here on
    pending = await b.pending_operations()
    assert len(pending) == 1, "the crash point was not reached"
    started = asyncio.get_running_loop().time()
    watch = asyncio.create_task(b.server.registry.watch())
    try:
        final = await answer(b, r.headers["location"], timeout=15)
    finally:
        watch.cancel()
    took = asyncio.get_running_loop().time() - started
    assert took < float(LEASE) + 3, took
    assert final.status_code in (303, 204, 500), final.text
    if final.status_code == 500:
        assert final.text.startswith("The server running this request stopped"), final.text
    await b.assert_consistent()
    listing = (await b.get_json("/servers"))["servers"]
    assert [s["id"] for s in listing] == [b.server.services.ctx.worker]
    takeover = b.server.registry.takeovers[-1]
    assert takeover.server == a.server.services.ctx.worker and takeover.operations == 1


async def test_a_server_that_lost_its_lease_fences_itself(several: Servers) -> None:
    a, b = await several(2, delay_ms=300, env={"BRICKYARD_SERVER_LEASE_SECONDS": LEASE})
    await a.build_topology()
    old = a.server.services.ctx.worker
    r = await a.post("/volumes", {"size": 1})
    expire_lease(a.server)  # A paused past its lease (a long GC, SIGSTOP, a partition)
    found = b.server.registry.claim_dead()
    assert [s.id for s in found.servers] == [old]
    a.server.registry.renew()  # A wakes up: its row is gone, so it must stop
    assert a.server.services.ctx.worker != old
    assert a.server.registry.fenced == [old]
    await a.queue.drain()
    await b.server.registry.settle_inherited(found)
    final = await answer(b, r.headers["location"])
    assert final.status_code == 500 and "stopped" in final.text, final.text
    await b.assert_consistent()
    # A serves on under its new identity.
    assert a.server.services.ctx.worker in {
        s["id"] for s in (await b.get_json("/servers"))["servers"]
    }
    await a.create_volume(size=1)


async def test_a_paused_server_stops_at_its_next_step(several: Servers) -> None:
    """A server paused past its lease (SIGSTOP, a long GC) wakes in the middle of a job: the
    job stops at its next journaled step instead of going on beside the server that took its
    operation over, and nothing is rolled back by it."""
    a, b = await several(2, delay_ms=50, env={"BRICKYARD_SERVER_LEASE_SECONDS": LEASE})
    await a.build_topology()
    a.server.services.ctx.lease_check = a.server.registry.check_lease  # as keep_lease does
    r = await a.post("/volumes", {"size": 1, "durability": REPLICA3})
    while not await a.pending_operations():
        await asyncio.sleep(0.01)
    a.server.registry.last_renewed -= 100  # the pause
    await a.queue.drain()
    (held,) = await b.pending_operations()
    assert held["status"] in ("", "new")  # untouched: no rollback by the paused server
    assert (await a.get(r.headers["location"])).headers.get("x-pending") == "true"
    expire_lease(a.server)
    await b.server.registry.settle_inherited(b.server.registry.claim_dead())
    final = await answer(a, r.headers["location"])
    assert final.status_code == 500 and "stopped" in final.text, final.text
    await b.assert_consistent()


# -- refused at start, nothing written --------------------------------------------------------


def _rows(url: str) -> list[Any]:
    store = SqlStore(url)
    try:
        with store.read() as tx:
            return [tuple(r) for r in tx.execute("SELECT * FROM servers ORDER BY id").fetchall()]
    finally:
        store.close()


async def test_different_shared_settings_are_refused(several: Servers, tmp_path: Path) -> None:
    (a,) = await several(1)
    url = a.server.store.url
    before = _rows(url)
    with pytest.raises(ConfigError) as refused:
        Harness.open(
            tmp_path,
            db=url,
            env={"HEKETI_ADMIN_KEY": "another", "BRICKYARD_SERVER_LEASE_SECONDS": "20"},
        )
    message = str(refused.value)
    assert "glusterfs.server_lease_seconds" in message and "jwt.admin.key" in message
    assert "another" not in message
    assert _rows(url) == before


_TABLE_NAMES = (
    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
)


async def test_a_newer_schema_is_refused(postgres: PgServer, tmp_path: Path) -> None:
    url = postgres.new_database()
    await Harness.open(tmp_path, db=url).close()
    store = SqlStore(url)
    with store.write() as tx:
        tx.execute("UPDATE alembic_version SET version_num = '0999'")
        tables = set(tx.conn.column(_TABLE_NAMES))
    store.close()
    with pytest.raises(ConfigError, match="newer than this version's"):
        Harness.open(tmp_path, db=url)
    store = SqlStore(url)
    with store.read() as tx:
        assert tx.conn.column("SELECT version_num FROM alembic_version") == ["0999"]
        assert set(tx.conn.column(_TABLE_NAMES)) == tables
    store.close()


def test_an_sqlite_database_in_use_by_another_process_is_refused(tmp_path: Path) -> None:
    import subprocess

    first = Harness.open(tmp_path)
    other = subprocess.Popen(["sleep", "60"])  # a live process that is not this one
    try:
        with first.server.store.write() as tx:  # as if that process served the file
            tx.execute(
                "UPDATE servers SET pid = :pid WHERE id = :id",
                {"pid": other.pid, "id": first.server.services.ctx.worker},
            )
        with pytest.raises(ConfigError, match="in use by server"):
            Harness.open(tmp_path)
        other.kill()
        other.wait()
        Harness.open(tmp_path).server.store.close()  # that process is gone: taken over
    finally:
        other.kill()
        first.server.store.close()


# -- truly concurrent transactions ------------------------------------------------------------


def test_concurrent_placements_in_threads_never_overbook(
    postgres: PgServer, tmp_path: Path
) -> None:
    """Placement transactions of six stores at once (threads, each its own connection and
    placement index, as six servers): the cluster lock lets one place at a time, so exactly
    what fits is booked and no device goes below zero."""
    loop = asyncio.new_event_loop()
    h = Harness.open(tmp_path, db=postgres.new_database(), device_size_gb=10)
    try:
        topo = loop.run_until_complete(h.build_topology())
    finally:
        loop.run_until_complete(h.close())
        loop.close()
    fits = capacity(10)
    base = h.server.services.ctx
    contexts = [
        ServiceContext(store=SqlStore(base.store.url), agent=base.agent, settings=base.settings)
        for _ in range(6)
    ]
    placed = [0] * len(contexts)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(contexts))

    def place(i: int) -> None:
        ctx = contexts[i]
        barrier.wait()
        for _ in range(4):
            volume = Volume(
                id=new_id(),
                cluster_id="",
                name=f"vol_{new_id()}",
                size=1,
                durability=Durability(DurabilityType.REPLICATE, replica=3),
            )
            try:
                with ctx.store.write() as tx:
                    choice = volume_placement.choose(ctx, tx, volume, [topo.cluster], new_id())
                    assert choice.allocation is not None
                    tx.add(volume)
                    write_allocation(tx, choice.allocation)
                placed[i] += 1
            except BrickyardError as exc:
                if "No space" not in exc.message:
                    errors.append(exc)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=place, args=(i,)) for i in range(len(contexts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert errors == []
        assert sum(placed) == fits, placed
        with contexts[0].store.read() as tx:
            space = tx.execute("SELECT free, used FROM devices").fetchall()
        assert all(free >= 0 and used == fits * ONE_GIB_BRICK for free, used in space), space
    finally:
        for ctx in contexts:
            ctx.store.close()


# -- PostgreSQL restarted under load ----------------------------------------------------------


@pytest.fixture
def own_postgres(postgres: PgServer) -> Iterator[PgServer]:
    """A PostgreSQL of this test alone (it is stopped and started again under load); the
    session's is asked for first so that a machine without PostgreSQL skips (or fails in CI)
    the same way."""
    server = PgServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_postgresql_restarted_under_load(own_postgres: PgServer, tmp_path: Path) -> None:
    url = own_postgres.new_database()
    world = SimWorld(device_size_gb=500, delay_ms=20)
    hs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        hs.append(Harness.open(tmp_path / name, world=world, db=url))
    tasks = [
        asyncio.create_task(work)
        for h in hs
        for work in (h.server.registry.keep_lease(), h.server.registry.watch())
    ]
    try:
        await hs[0].build_topology()
        answers: list[tuple[str, int, str]] = []  # (what, status, text)
        outage_seen = 0

        async def poll(h: Harness, location: str) -> httpx.Response:
            nonlocal outage_seen
            while True:
                r = await h.get(location)
                if r.status_code == 503:
                    outage_seen += 1
                elif r.headers.get("x-pending") != "true":
                    return r
                await asyncio.sleep(0.02)

        async def client(n: int) -> None:
            nonlocal outage_seen
            for i in range(12):
                submit, other = hs[(n + i) % 2], hs[(n + i + 1) % 2]
                r = await submit.post("/volumes", {"size": 1, "durability": REPLICA3})
                if r.status_code == 503:
                    outage_seen += 1
                    await asyncio.sleep(0.1)
                    continue
                assert r.status_code == 202, (r.status_code, r.text)
                final = await poll(other, r.headers["location"])
                answers.append(("create", final.status_code, final.headers.get("location", "")))
                if final.status_code != 303:
                    answers[-1] = ("create", final.status_code, final.text)
                    continue
                volume = final.headers["location"].rsplit("/", 1)[1]
                r = await other.delete(f"/volumes/{volume}")
                if r.status_code == 503:
                    outage_seen += 1
                    continue
                final = await poll(submit, r.headers["location"])
                answers.append(
                    (
                        "delete",
                        final.status_code,
                        volume if final.status_code == 204 else final.text,
                    )
                )

        async def restart_postgres() -> None:
            await asyncio.sleep(0.6)
            await asyncio.to_thread(own_postgres.halt)
            await asyncio.sleep(1.5)
            await asyncio.to_thread(own_postgres.resume)

        await asyncio.gather(*(client(n) for n in range(4)), restart_postgres())
        assert outage_seen or any(s == 500 for _, s, _ in answers), "the outage was not seen"
        # What is left by jobs the outage broke is recovered by their server's lease loop.
        deadline = asyncio.get_running_loop().time() + 20
        while await hs[0].pending_operations():
            assert asyncio.get_running_loop().time() < deadline, await hs[0].pending_operations()
            await asyncio.sleep(0.2)
        dump = await hs[1].assert_consistent()
        # No answer was wrong: every volume said created exists unless said deleted, and every
        # failure says why.
        created = {t.rsplit("/", 1)[1] for w, s, t in answers if w == "create" and s == 303}
        deleted = {t for w, s, t in answers if w == "delete" and s == 204}
        assert set(dump["volumeentries"]) == created - deleted
        for what, status, text_ in answers:
            if status not in (303, 204):
                assert status == 500 and "database was unreachable" in text_.lower(), (
                    what,
                    status,
                    text_,
                )
        assert len(created) > 10
    finally:
        for task in tasks:
            task.cancel()
        for h in hs:
            await h.close()

"""Failover on real GlusterFS (issue #13): two server processes share one PostgreSQL; one is
killed with SIGKILL in the middle of a create, a delete and an expand it runs. The survivor
notices the expired lease, rolls each operation back or forward from its journal, and answers
the dead server's queue ids; nothing is left on the nodes that the database does not know.
Then the dead server comes back and joins again."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_crash_recovery import assert_node_matches_db

from conftest import Testbed, poll_queue, scrub_bed, start_heketi
from pg import PgServer

REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}
LEASE = 4.0  # seconds; short, so that the test waits little (the default is 8)
SETTLED_WITHIN = 60.0  # after the kill: the lease, then recovery's node commands


@dataclass
class Member:
    """One server process of the pair (the interface assert_node_matches_db reads)."""

    testbed: Testbed
    workdir: Path
    db: str
    process: subprocess.Popen[bytes] | None = None
    url: str = ""

    def start(self) -> None:
        glusterfs = {"db": self.db, "server_lease_seconds": LEASE}
        self.process, self.url = start_heketi(
            self.testbed, self.workdir, disable_auth=True, glusterfs=glusterfs
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)  # a stopped process dies of it too
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, self.url + path, json=body, timeout=60)

    def finish(self, response: httpx.Response, timeout: float = 180) -> httpx.Response:
        assert response.status_code == 202, response.text
        return self.answer(response.headers["location"], timeout)

    def answer(self, location: str, timeout: float = 180) -> httpx.Response:
        """Poll a queue location until it is done."""
        return poll_queue(self.url, location, timeout)

    def dump(self) -> dict[str, Any]:
        r = self.request("GET", "/db/dump")
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def servers(self) -> list[dict[str, Any]]:
        listing: list[dict[str, Any]] = self.request("GET", "/servers").json()["servers"]
        return listing


@dataclass
class Pair:
    members: list[Member] = field(default_factory=list)


@pytest.fixture(scope="module")
def pair(
    testbed: Testbed, tmp_path_factory: pytest.TempPathFactory, postgres: PgServer
) -> Iterator[Pair]:
    """Two servers on one new database; a cluster of the bed's nodes, each with its raw disk
    and a directory device, loaded through the first."""
    db = postgres.new_database()
    pair = Pair([Member(testbed, tmp_path_factory.mktemp(f"ha{i}"), db) for i in range(2)])
    for member in pair.members:
        member.start()
    a = pair.members[0]
    cluster = a.request("POST", "/clusters", {"block": False, "file": True}).json()["id"]
    for i, ip in enumerate(testbed.nodes, start=1):
        body = {"cluster": cluster, "zone": i, "hostnames": {"manage": [ip], "storage": [ip]}}
        node = a.finish(a.request("POST", "/nodes", body)).headers["location"].rsplit("/", 1)[1]
        for name in (testbed.disks[0], testbed.device_dir):
            added = a.finish(a.request("POST", "/devices", {"node": node, "name": name}))
            assert added.status_code == 204, added.text
    try:
        yield pair
    finally:
        for member in pair.members:
            member.stop()
        scrub_bed(testbed)


def _create(member: Member) -> str:
    r = member.finish(member.request("POST", "/volumes", {"size": 1, "durability": REPLICA3}))
    assert r.status_code == 303, r.text
    return r.headers["location"].rsplit("/", 1)[1]


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_the_survivor_settles_a_dead_servers_create_delete_and_expand(pair: Pair, how: str) -> None:
    """SIGKILL: the survivor, on the same host, sees the process gone at its next look (every
    second). SIGSTOP: the process is there but renews nothing, so its lease runs out (as a
    dead host's, or a partitioned one's); it is killed once the survivor has taken over."""
    a, b = pair.members
    doomed, grown = _create(b), _create(b)
    before = assert_node_matches_db(b)
    requests = [
        a.request("POST", "/volumes", {"size": 1, "durability": REPLICA3}),
        a.request("DELETE", f"/volumes/{doomed}"),
        a.request("POST", f"/volumes/{grown}/expand", {"expand_size": 1}),
    ]
    assert [r.status_code for r in requests] == [202] * 3, [r.text for r in requests]
    # Kill A once it holds all three and has done some node work (a brick made, say).
    deadline = time.monotonic() + 60
    while True:
        held = next(s for s in b.servers() if s["address"] and not s["this_server"])
        if len(held["operations"]) == 3:
            break
        assert time.monotonic() < deadline, held
        time.sleep(0.05)
    time.sleep(1.5)
    assert a.process is not None
    a.process.send_signal(getattr(signal, how))
    killed = time.monotonic()
    if how == "SIGKILL":
        a.process.wait(timeout=30)  # reaped, as its service manager would (no zombie)
    answers = [b.answer(r.headers["location"], SETTLED_WITHIN) for r in requests]
    settled = time.monotonic() - killed
    if how == "SIGSTOP":
        assert settled >= LEASE  # it had to wait for the lease
        a.kill()
    # Each is answered by the survivor: done if the journal shows it had got far enough to
    # finish, otherwise rolled back with that said.
    for r in answers:
        assert r.status_code in (303, 204) or (
            r.status_code == 500 and r.text.startswith("The server running this request stopped")
        ), (r.status_code, r.text)
    assert settled < SETTLED_WITHIN
    dump = assert_node_matches_db(b)  # nothing leaked on any node, space exact
    volumes = set(dump["volumeentries"])
    create, delete, expand = answers
    if delete.status_code == 204:
        assert doomed not in volumes
    else:
        assert doomed in volumes
    grown_size = dump["volumeentries"][grown]["Info"]["size"]
    assert grown_size == (2 if expand.status_code == 303 else 1)
    created = {create.headers["location"].rsplit("/", 1)[1]} if create.status_code == 303 else set()
    assert (
        volumes
        == (set(before["volumeentries"]) - ({doomed} if delete.status_code == 204 else set()))
        | created
    )
    listing = b.servers()
    assert [s["this_server"] for s in listing] == [True], listing
    takeover_log = (b.workdir / "server.log").read_text()
    expected = "is gone" if how == "SIGKILL" else "let its lease expire"
    assert f"{expected}: taking over its 3 operations" in takeover_log
    print(f"{how} -> all three answered by the survivor: {settled:.1f} s (lease {LEASE:g} s)")
    # The dead server comes back under a new identity and serves again.
    a.start()
    assert len([s for s in a.servers() if s["live"]]) == 2
    assert a.finish(a.request("DELETE", f"/volumes/{grown}")).status_code == 204
    for volume in created:
        assert b.finish(b.request("DELETE", f"/volumes/{volume}")).status_code == 204
    assert_node_matches_db(a)

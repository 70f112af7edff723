"""§1.0 throttle (429), §2 X-Pending, pending operations while an op is running.

Uses a server whose mock executor sleeps BRICKYARD_SIM_DELAY_MS per node command, so that
operations stay in flight long enough to be observed deterministically.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .conftest import (
    Api,
    NewDatabase,
    Server,
    Topology,
    assert_json,
    assert_text_error,
    build_topology,
    make_token,
    replicate3,
    start_server,
)

DELAY_MS = 150
LIMIT = 2


@pytest.fixture(scope="module")
def slow_server(
    tmp_path_factory: pytest.TempPathFactory, session_new_database: NewDatabase
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("heketi-slow")
    srv = start_server(
        workdir,
        db=session_new_database(workdir),
        glusterfs={"max_inflight_operations": LIMIT},
        env={"BRICKYARD_SIM_DELAY_MS": str(DELAY_MS)},
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def slow_api(slow_server: Server) -> Api:
    return slow_server.api()


@pytest.fixture(scope="module")
def slow_topo(slow_api: Api) -> Topology:
    return build_topology(slow_api)


def _concurrent_posts(base_url: str, path: str, bodies: list[Any]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(bodies))
    results: list[Any] = [None] * len(bodies)

    def run(i: int) -> None:
        tok = make_token("POST", path)
        with httpx.Client(base_url=base_url, timeout=30.0) as c:
            barrier.wait()
            results[i] = c.post(
                path, content=json.dumps(bodies[i]), headers={"Authorization": f"bearer {tok}"}
            )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_throttle_429(slow_server: Server, slow_api: Api, slow_topo: Topology) -> None:
    n = LIMIT + 4
    bodies = [replicate3(slow_topo.cluster) for _ in range(n)]
    results = _concurrent_posts(slow_server.base_url, "/volumes", bodies)
    accepted = [r for r in results if r.status_code == 202]
    busy = [r for r in results if r.status_code == 429]
    assert len(accepted) + len(busy) == n, [(r.status_code, r.text) for r in results]
    assert 1 <= len(accepted) <= LIMIT
    assert busy
    for r in busy:
        assert_text_error(r, 429, "Server busy. Retry operation later.")
        assert "retry-after" not in r.headers
    for r in accepted:
        slow_api.wait_303(r, "/volumes")
    # slots are released once the operations finish
    slow_api.create_volume(**replicate3(slow_topo.cluster))


def test_pending_visible_while_running(slow_api: Api, slow_topo: Topology) -> None:
    before = assert_json(slow_api.get("/volumes"))["volumes"]
    r = slow_api.post("/volumes", replicate3(slow_topo.cluster))
    assert r.status_code == 202
    qloc = r.headers["location"]

    # §2: still running -> 200, X-Pending: true, empty body
    p = slow_api.get(qloc)
    assert p.status_code == 200, (p.status_code, p.text)
    assert p.headers.get("x-pending") == "true"
    assert p.content == b""

    # pending volume is invisible to lists/cluster info; GET returns 404
    assert assert_json(slow_api.get("/volumes"))["volumes"] == before
    cinfo = slow_api.get_json(f"/clusters/{slow_topo.cluster}")
    assert sorted(cinfo["volumes"]) == sorted(before)
    dump = slow_api.db_dump()
    pending_vols = [v for v, e in dump["volumeentries"].items() if e["Pending"]["Id"]]
    assert len(pending_vols) == 1
    vid = pending_vols[0]
    assert_text_error(slow_api.get(f"/volumes/{vid}"), 404, "Id not found")
    assert_text_error(
        slow_api.delete(f"/volumes/{vid}"),
        500,
        "Failed to set up volume delete: The target exists, contains other items, or is in use.",
    )

    # operations endpoints show the in-flight op
    ops = assert_json(slow_api.get("/operations"))
    assert ops["in_flight"] >= 1
    assert ops["total"] >= 1
    pend = assert_json(slow_api.get("/operations/pending"))["pendingoperations"]
    creates = [o for o in pend if o["type_name"] == "create-volume"]
    assert len(creates) == 1
    assert creates[0]["status"] == ""
    assert creates[0]["sub_status"] == "in-flight"
    detail = assert_json(slow_api.get(f"/operations/pending/{creates[0]['id']}"))
    assert detail["id"] == creates[0]["id"]
    assert detail["type_name"] == "create-volume"
    descs = sorted(c["description"] for c in detail["changes"])
    assert descs == ["Add brick", "Add brick", "Add brick", "Add volume"]

    assert slow_api.wait_303(r, "/volumes") == vid
    assert vid in assert_json(slow_api.get("/volumes"))["volumes"]
    assert assert_json(slow_api.get("/operations/pending")) == {"pendingoperations": []}


def test_device_add_not_throttled(slow_api: Api, slow_topo: Topology) -> None:
    # §3.9 internals: "device add, node add/delete, device delete/resync are not throttled"
    running = [slow_api.post("/volumes", replicate3(slow_topo.cluster)) for _ in range(LIMIT)]
    assert all(r.status_code == 202 for r in running)
    t0 = time.monotonic()
    r = slow_api.post("/devices", {"node": slow_topo.nodes[0], "name": "/dev/sdz"})
    assert r.status_code == 202, (r.status_code, r.text)
    assert time.monotonic() - t0 < 5
    slow_api.wait_204(r)
    for r in running:
        slow_api.wait_303(r, "/volumes")

"""The hostile-value corpus (tests/fixtures/hostile_values.json) through a real server on real
GlusterFS: every value a node or gluster would refuse is refused at submit (4xx), every value
accepted is finished on the nodes (and deleted again), and afterwards the nodes hold exactly
what the database knows. The simulator gets the same corpus in
tests/integration/test_hostile_values.py and must give the same verdicts."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Testbed, node_leftovers, scrub_bed, start_heketi

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hostile import Case, cases, is_refused_at_submit

pytestmark = pytest.mark.e2e


class Api:
    def __init__(self, testbed: Testbed, workdir: Path) -> None:
        self.process, self.url = start_heketi(testbed, workdir, disable_auth=True)
        self.cluster = ""
        self.nodes: list[str] = []

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, self.url + path, json=body, timeout=120)

    def finish(self, response: httpx.Response, timeout: float = 300) -> httpx.Response:
        assert response.status_code == 202, response.text
        location = response.headers["location"]
        deadline = time.monotonic() + timeout
        while True:
            r = httpx.get(self.url + location, timeout=120)
            if r.headers.get("x-pending") != "true":
                return r
            assert time.monotonic() < deadline, f"{location} still pending"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def api(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    api = Api(testbed, tmp_path_factory.mktemp("brickyard-hostile"))
    try:
        api.cluster = api.call("POST", "/clusters", {"block": False, "file": True}).json()["id"]
        for i, ip in enumerate(testbed.nodes, start=1):
            body = {
                "cluster": api.cluster,
                "zone": i,
                "hostnames": {"manage": [ip], "storage": [ip]},
            }
            node = api.finish(api.call("POST", "/nodes", body))
            api.nodes.append(node.headers["location"].rsplit("/", 1)[1])
            device = {"node": api.nodes[-1], "name": testbed.disks[0]}
            assert api.finish(api.call("POST", "/devices", device)).status_code == 204
        yield api
    finally:
        api.process.terminate()
        api.process.wait(timeout=30)
        scrub_bed(testbed)


def _assert_clean(api: Api, testbed: Testbed) -> None:
    """No operation left, nothing on the nodes but what the database has (no volume here)."""
    dump = api.call("GET", "/db/dump").json()
    assert dump["pendingoperations"] == {}, dump["pendingoperations"]
    if not dump["volumeentries"]:
        for node in range(1, len(testbed.nodes) + 1):
            assert node_leftovers(testbed, node) == [], node
    examined = api.call("GET", "/internal/state/examine").json()
    assert examined["differences"] == [], examined


@pytest.mark.parametrize("case", cases("volumes"), ids=lambda c: c.id)
def test_volume_values(api: Api, testbed: Testbed, case: Case) -> None:
    r = api.call("POST", "/volumes", case.volume_body())
    if case.expect == "refused":
        assert is_refused_at_submit(r.status_code), (r.status_code, r.text)
    else:
        answer = api.finish(r)
        assert answer.status_code == 303, answer.text  # accepted, so gluster took it
        volume = answer.headers["location"]
        info = api.call("GET", volume).json()
        listed = testbed.gluster(1, "volume", "info", info["name"]).stdout
        assert "Status: Started" in listed, listed
        assert api.finish(api.call("DELETE", volume)).status_code == 204
    _assert_clean(api, testbed)


@pytest.mark.parametrize("case", cases("devices"), ids=lambda c: c.id)
def test_device_values(api: Api, testbed: Testbed, case: Case) -> None:
    r = api.call("POST", "/devices", case.device_body(api.nodes[0]))
    assert case.expect == "refused"
    assert is_refused_at_submit(r.status_code), (r.status_code, r.text)
    _assert_clean(api, testbed)


@pytest.mark.parametrize("case", cases("nodes"), ids=lambda c: c.id)
def test_node_values(api: Api, testbed: Testbed, case: Case) -> None:
    r = api.call("POST", "/nodes", case.node_body(api.cluster))
    assert case.expect == "refused"
    assert is_refused_at_submit(r.status_code), (r.status_code, r.text)
    _assert_clean(api, testbed)

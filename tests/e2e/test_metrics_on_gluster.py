"""/metrics on real GlusterFS (docs/metrics.md): node commands timed by node and command name,
a stopped node shown unreachable by the health monitor, and a heal backlog (files written while
a brick's node was down) shown by the heal sampler with the brick down and the volume degraded,
then drained once the node is back."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Testbed, poll_queue, scrub_bed, start_heketi
from metrics_samples import Samples, samples_of

REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}
PERIOD = 2  # seconds between health checks and between heal sampling rounds
SETTINGS = {
    "refresh_time_monitor_gluster_nodes": PERIOD,
    "start_time_monitor_gluster_nodes": 1,
    "heal_sample_interval_seconds": PERIOD,
    "heal_sample_volumes": 5,
}


class Bed:
    def __init__(self, testbed: Testbed, workdir: Path) -> None:
        self.testbed = testbed
        self.process, self.url = start_heketi(
            testbed, workdir, disable_auth=True, glusterfs=SETTINGS
        )

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, self.url + path, json=body, timeout=120)

    def finish(self, response: httpx.Response, timeout: float = 300) -> httpx.Response:
        assert response.status_code == 202, response.text
        return poll_queue(self.url, response.headers["location"], timeout, follow=True)

    def scrape(self) -> Samples:
        r = httpx.get(self.url + "/metrics", timeout=30)
        assert r.status_code == 200, r.text
        return samples_of(r.text)

    def until(self, what: str, check: Callable[[Samples], bool], timeout: float = 60) -> Samples:
        """Scrape until `check` holds (the monitor and the sampler work every PERIOD)."""
        deadline = time.monotonic() + timeout
        while True:
            samples = self.scrape()
            if check(samples):
                return samples
            assert time.monotonic() < deadline, f"{what}: not seen in {timeout} s"
            time.sleep(0.5)


def by(samples: Samples, name: str, key: str) -> dict[str, float]:
    return {labels[key]: v for labels, v in samples.get(name, [])}


@pytest.fixture(scope="module")
def bed(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    made = Bed(testbed, tmp_path_factory.mktemp("brickyard-metrics"))
    try:
        r = made.call("POST", "/clusters", {"block": False, "file": True})
        cluster = r.json()["id"]
        for i, ip in enumerate(testbed.nodes, start=1):
            body = {"cluster": cluster, "zone": i, "hostnames": {"manage": [ip], "storage": [ip]}}
            node = made.finish(made.call("POST", "/nodes", body))
            assert node.status_code == 200, node.text
            device = {"node": node.json()["id"], "name": testbed.disks[0]}
            assert made.finish(made.call("POST", "/devices", device)).status_code == 204
        yield made
    finally:
        made.process.terminate()
        made.process.wait(timeout=30)
        scrub_bed(testbed)


def command_counts(samples: Samples) -> dict[tuple[str, str], float]:
    return {
        (labels["node"], labels["command"]): v
        for labels, v in samples.get("brickyard_node_command_duration_seconds_count", [])
    }


def test_node_commands_are_timed_by_node_and_command(bed: Bed) -> None:
    nodes = bed.testbed.nodes
    # the health monitor's `gluster pool list` reaches every node within a period or two
    samples = bed.until(
        "a health check of every node",
        lambda s: all(command_counts(s).get((ip, "gluster pool list"), 0) >= 1 for ip in nodes),
    )
    counts = command_counts(samples)
    for ip in nodes:  # and each had its device set up: more than the health checks
        assert len([c for node, c in counts if node == ip]) > 2, counts
    assert any(command == "gluster peer probe" for _, command in counts), counts
    # names of programs and subcommands only: no volume, device or brick names
    assert all("/" not in c and "vol_" not in c for _, c in counts), counts


def test_a_stopped_node_shows_unreachable_and_a_heal_backlog_shows(
    bed: Bed, tmp_path: Path
) -> None:
    tb = bed.testbed
    r = bed.finish(bed.call("POST", "/volumes", {"size": 1, "durability": REPLICA3}))
    assert r.status_code == 200, r.text
    volume = r.json()
    name, volume_id = volume["name"], volume["id"]
    created = bed.scrape()
    ops = "brickyard_operation_duration_seconds_count"
    assert {(x["type"], x["outcome"]) for x, v in created[ops] if v} >= {
        ("create-volume", "succeeded")
    }
    bed.until(
        "every node reachable",
        lambda s: by(s, "brickyard_node_reachable", "node") == {ip: 1 for ip in tb.nodes},
    )
    bed.until("a first heal sample", lambda s: by(s, "brickyard_volume_heal_entries", "volume"))

    stopped = 3
    ip = tb.ip(stopped)
    mount = tmp_path / "mnt"
    mount.mkdir()
    hosts = volume["mount"]["glusterfs"]["hosts"]
    subprocess.run(
        ["mount", "-t", "glusterfs", f"{hosts[0]}:/{name}", str(mount)], check=True, timeout=60
    )
    tb.tb("stop-node", str(stopped))  # glusterd, bricks and sshd killed: a dead node
    try:
        unreachable = bed.until(
            f"node {ip} unreachable",
            lambda s: by(s, "brickyard_node_reachable", "node").get(ip) == 0,
        )
        assert by(unreachable, "brickyard_node_glusterd_up", "node")[ip] == 0
        others = {k: v for k, v in by(unreachable, "brickyard_node_reachable", "node").items()}
        assert others == {n: (0 if n == ip else 1) for n in tb.nodes}
        # Files written while its brick is down wait for it on the two others.
        for i in range(10):
            (mount / f"file{i}").write_bytes(b"x" * 4096)
        backlog = bed.until(
            "a heal backlog",
            lambda s: by(s, "brickyard_volume_heal_entries", "volume").get(name, 0) >= 10,
        )
        assert by(backlog, "brickyard_volume_heal_bricks_down", "volume")[name] == 1
        degraded = [
            v for labels, v in backlog["brickyard_volumes"] if labels["state"] == "degraded" and v
        ]
        assert degraded == [1]
    finally:
        subprocess.run(["umount", str(mount)], check=False, timeout=60)
        tb.tb("start", str(stopped))
    bed.until(
        f"node {ip} reachable again",
        lambda s: by(s, "brickyard_node_reachable", "node").get(ip) == 1,
    )
    # Back: gluster heals what waited, and the next samples say so.
    healed = bed.until(
        "the backlog healed",
        lambda s: (
            by(s, "brickyard_volume_heal_entries", "volume").get(name) == 0
            and by(s, "brickyard_volume_heal_bricks_down", "volume").get(name) == 0
        ),
        timeout=180,
    )
    assert by(healed, "brickyard_volume_heal_sampled_timestamp_seconds", "volume")[name] > 0
    assert bed.finish(bed.call("DELETE", f"/volumes/{volume_id}")).status_code == 204

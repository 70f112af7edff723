"""Brickyard's GlusterFS rules (brickyard.domain.gluster_rules) against real GlusterFS verdicts.

A compact corpus: volume names (reserved, lengths at the volfile boundary with Brickyard's brick
path layout and two storage host lengths, characters), layouts, and options of every rule kind,
good and bad.  For each case gluster's real verdict must equal the rule's verdict.  Volumes are
created, never started, and removed again; the bed is left as found.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from brickyard.domain.gluster_rules import (
    Layout,
    catalog,
    options_problem,
    replica_problem,
    volfile_name_problem,
    volume_name_problem,
)

if TYPE_CHECKING:  # tests/e2e is not a package; the fixture hands out the object
    from conftest import Testbed

pytestmark = pytest.mark.e2e

ROOT = "/var/lib/heketi/mounts"
# a storage hostname longer than the nodes' addresses (the e2e bed's 10.2xx.0.1 are 10
# characters), this 40
ALIAS = "node1-storage-network.brickyard-e2e.test"
assert len(ALIAS) == 40


SHORT_ROOT = "/srv/bygr"


def brick_path(n: int, short: bool = False) -> str:
    """Brickyard's layout: /var/lib/heketi/mounts/vg_<device id>/brick_<brick id>/brick, or a
    short path (/srv/bygr/s<n>: 10 characters below 100 bricks)."""
    if short:
        return f"{SHORT_ROOT}/s{n:02d}"
    return f"{ROOT}/vg_{'e2e0' * 8}/brick_{n:032x}/brick"


def gluster(tb: Testbed, *args: str) -> tuple[bool, str]:
    done = tb.x(1, "gluster", "--mode=script", *args, check=False)
    out = (done.stdout + done.stderr).strip()
    return done.returncode == 0, out


@dataclass
class Bed:
    tb: Testbed
    bricks: int = 0

    def new_brick(self, node: int, host: str | None = None, short: bool = False) -> str:
        self.bricks += 1
        path = brick_path(self.bricks, short)
        self.tb.x(node, "mkdir", "-p", path)
        return f"{host or self.tb.ip(node)}:{path}"

    def create(self, name: str, *spec: str) -> tuple[bool, str]:
        return gluster(self.tb, "volume", "create", name, *spec, "force")

    def remove(self, name: str) -> None:
        gluster(self.tb, "volume", "stop", name, "force")
        ok, out = gluster(self.tb, "volume", "delete", name)
        assert ok, f"could not delete volume {name!r}: {out}"
        for i in range(1, len(self.tb.nodes) + 1):  # glusterd leaves this behind
            self.tb.x(i, "rm", "-rf", f"/var/run/gluster/vols/{name}")


@pytest.fixture(scope="module")
def bed(testbed: Testbed) -> Iterator[Bed]:
    probed = []
    for i in range(2, len(testbed.nodes) + 1):
        if f"Hostname: {testbed.ip(i)}\n" not in testbed.x(1, "gluster", "peer", "status").stdout:
            testbed.x(1, "gluster", "--mode=script", "peer", "probe", testbed.ip(i))
            probed.append(i)
    hosts = f"{testbed.ip(1)} {ALIAS}"
    for i in range(1, len(testbed.nodes) + 1):
        testbed.x(i, "sh", "-c", f"echo '{hosts}' >> /etc/hosts")
    try:
        yield Bed(testbed)
    finally:
        # /etc/hosts is a bind mount: rewrite it in place
        cleanup = (
            f"grep -vx '{hosts}' /etc/hosts > /tmp/h.$$; cat /tmp/h.$$ > /etc/hosts;"
            f" rm -f /tmp/h.$$; rm -rf {ROOT}/vg_{'e2e0' * 8} {SHORT_ROOT}"
        )
        for i in range(1, len(testbed.nodes) + 1):
            testbed.x(i, "sh", "-c", cleanup)
        for i in probed:
            testbed.x(1, "gluster", "--mode=script", "peer", "detach", testbed.ip(i), check=False)


# ---- names and layouts --------------------------------------------------------------------------


def longest_name(host: str) -> int:
    """The longest volume name gluster takes with Brickyard's brick path on `host`."""
    return 251 - len(f".{host}.") - len(brick_path(0).lstrip("/")) - len(".vol")


LONGEST_AT_ALIAS = longest_name(ALIAS)
LONGEST_SHORT = 251 - len("trusted-.tcp-gfproxy-fuse.vol")  # 222, whatever the brick


def name_cases(host1: str) -> list[tuple[str, str, bool]]:
    """(name, storage host, short brick path?), `host1` being node 1's address.  No spelling
    of 'all' other than the reserved one: gluster creates 'aLL' but then cannot stop or delete
    it (measured), so it is not tried here."""
    longest_at_ip = longest_name(host1)
    return [
        ("vol_" + "0123456789abcdef" * 2, host1, False),  # Brickyard's default
        ("n" * longest_at_ip, host1, False),  # 133: the longest
        ("n" * (longest_at_ip + 1), host1, False),
        ("a" * LONGEST_AT_ALIAS, ALIAS, False),  # 103 with a 40-character host
        ("a" * (LONGEST_AT_ALIAS + 1), ALIAS, False),
        ("vol_" + "0123456789abcdef" * 2, ALIAS, False),
        ("k" * LONGEST_SHORT, host1, True),  # the client volfiles' limit
        ("k" * (LONGEST_SHORT + 1), host1, True),
        ("x" * 257, host1, True),
        ("all", host1, False),
        ("volume", host1, False),
        ("force", host1, False),
        ("snap-max-soft-limit", host1, False),
        ("Volume", host1, False),
        ("a.b", host1, False),
        ("-ab", host1, False),
        ("a@b", host1, False),
        ("A_b-9", host1, False),
    ]


STATE_DIRS = ("/var/lib/glusterd/vols", "/var/run/gluster/vols")


def leftover_dirs(tb: Testbed, name: str) -> set[tuple[int, str]]:
    """(node, directory) of glusterd's state for a volume name: a failed create leaves them."""
    if "/" in name or name in (".", ".."):
        return set()
    found = set()
    for i in range(1, len(tb.nodes) + 1):
        for root in STATE_DIRS:
            if tb.x(i, "test", "-e", f"{root}/{name}", check=False).returncode == 0:
                found.add((i, f"{root}/{name}"))
    return found


def real_name_verdict(bed: Bed, name: str, host: str, short: bool) -> bool:
    """Does gluster create the volume, and can it be addressed by its name afterwards?"""
    before = leftover_dirs(bed.tb, name)
    ok, _ = bed.create(name, bed.new_brick(1, host, short))
    if not ok:
        for node, path in leftover_dirs(bed.tb, name) - before:
            bed.tb.x(node, "rm", "-rf", path)
        return False
    try:
        got = gluster(bed.tb, "volume", "get", name, "performance.cache-size")[1]
        return "performance.cache-size" in got
    finally:
        bed.remove(name)


def test_volume_names(bed: Bed) -> None:
    host1 = bed.tb.ip(1)
    # the limits measured with a 10-character address; the hostile-value corpus needs it too
    assert (longest_name(host1), LONGEST_AT_ALIAS, LONGEST_SHORT) == (133, 103, 222), host1
    mismatches = []
    for name, host, short in name_cases(host1):
        path = brick_path(bed.bricks + 1, short)
        ours = volume_name_problem(name) or volfile_name_problem(name, host, path)
        real = real_name_verdict(bed, name, host, short)
        if real != (ours is None):
            mismatches.append((name[:20], len(name), host, real, ours))
    assert mismatches == []


@pytest.mark.parametrize("replica", [1, 2])
def test_replica_counts(bed: Bed, replica: int) -> None:
    bricks = [bed.new_brick(i) for i in range(1, 3)][:replica]
    ok, _ = bed.create(f"bygr_replica{replica}", "replica", str(replica), *bricks)
    if ok:
        bed.remove(f"bygr_replica{replica}")
    assert ok == (replica_problem(replica) is None)


# ---- options ------------------------------------------------------------------------------------

VOLUMES: dict[str, tuple[Layout, list[str | int]]] = {  # layout, create args (int: a node)
    "bygr_rep3": (Layout("replicate", replica=3, bricks=3), ["replica", "3", 1, 2, 3]),
    "bygr_rep2": (Layout("replicate", replica=2, bricks=2), ["replica", "2", 1, 2]),
    "bygr_none": (Layout("none", bricks=2, distribute_count=2), [1, 2]),
}

OPTION_CASES: list[tuple[str, list[tuple[str, str]]]] = [
    ("bygr_rep3", [("performance.client-io-threads", "on")]),
    ("bygr_rep3", [("performance.client-io-threads", "maybe")]),
    ("bygr_rep3", [("cluster.lookup-unhashed", "auto")]),
    ("bygr_rep3", [("cluster.lookup-unhashed", "YES")]),
    ("bygr_rep3", [("diagnostics.brick-log-level", "debug")]),
    ("bygr_rep3", [("performance.cache-size", "1.5GB")]),
    ("bygr_rep3", [("performance.cache-size", "abc")]),
    ("bygr_rep3", [("performance.cache-size", "-1")]),
    ("bygr_rep3", [("network.ping-timeout", "1013")]),
    ("bygr_rep3", [("network.ping-timeout", "1014")]),
    ("bygr_rep3", [("network.ping-timeout", "10m")]),
    ("bygr_rep3", [("performance.io-thread-count", "65")]),
    ("bygr_rep3", [("cluster.min-free-disk", "10%")]),
    ("bygr_rep3", [("cluster.min-free-disk", "200%")]),
    ("bygr_rep3", [("auth.allow", "10.0.0.*,192.168.1.0/24,host.example.com")]),
    ("bygr_rep3", [("auth.allow", "a;b")]),
    ("bygr_rep3", [("server.statedump-path", "/tmp")]),
    ("bygr_rep3", [("server.statedump-path", "/nonexistent")]),
    ("bygr_rep3", [("server.statedump-path", "/var/run/gluster")]),  # the default
    ("bygr_rep3", [("foo.bar", "x")]),
    ("bygr_rep3", [("cluster.brick-multiplex", "on")]),
    ("bygr_rep3", [("user.note", "a b")]),
    ("bygr_rep3", [("user.note", "")]),
    ("bygr_rep3", [("group", "virt")]),
    ("bygr_none", [("group", "virt")]),
    ("bygr_none", [("group", "metadata-cache")]),
    ("bygr_rep3", [("features.shard-block-size", "1KB"), ("features.shard", "on")]),
    ("bygr_rep3", [("features.shard", "on"), ("features.shard-block-size", "16MB")]),
    ("bygr_rep3", [("features.trash-dir", "bin")]),
    ("bygr_rep3", [("features.trash", "on"), ("features.trash-dir", "bin")]),
    ("bygr_rep2", [("cluster.quorum-count", "2")]),
    ("bygr_rep2", [("cluster.quorum-count", "3")]),
    ("bygr_none", [("cluster.self-heal-daemon", "off")]),
    ("bygr_rep3", [("cluster.self-heal-daemon", "off")]),
    ("bygr_rep3", [("cluster.read-subvolume", "bygr_rep3-client-2")]),
    ("bygr_rep3", [("cluster.read-subvolume", "bygr_rep3-client-3")]),
]


@pytest.fixture(scope="module")
def volumes(bed: Bed) -> Iterator[dict[str, Layout]]:
    made = []
    try:
        for name, (_, spec) in VOLUMES.items():
            args = [s if isinstance(s, str) else bed.new_brick(s) for s in spec]
            ok, out = bed.create(name, *args)
            assert ok, out
            made.append(name)
        yield {name: layout for name, (layout, _) in VOLUMES.items()}
    finally:
        for name in made:
            bed.remove(name)


def real_options_verdict(tb: Testbed, volume: str, options: list[tuple[str, str]]) -> bool:
    """Does gluster take these options, set in order?  The volume is reset afterwards."""
    ok = True
    for key, value in options:
        ok, _ = gluster(tb, "volume", "set", volume, key, value)
        if not ok:
            break
    keys = {k for k, _ in options if not k.startswith("user.")}
    for key, value in options:
        if key == "group":
            keys |= set(catalog()["groups"].get(value, {}).get("options", {}))
    for key in sorted(keys - {"group"}):
        gluster(tb, "volume", "reset", volume, key)
    return ok


def test_options(bed: Bed, volumes: dict[str, Layout]) -> None:
    mismatches = []
    for volume, options in OPTION_CASES:
        ours = options_problem(options, layout=volumes[volume], volume=volume)
        real = real_options_verdict(bed.tb, volume, options)
        if real != (ours is None):
            mismatches.append((volume, options, real, ours))
    assert mismatches == []

"""The controller's view of a server's volumes: read at most once per ttl, plus its own
creates and deletes."""

from __future__ import annotations

from typing import Any

from brickyard.csi.index import VolumeIndex


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_read_once_per_ttl_and_merged_with_own_changes() -> None:
    clock = Clock()
    index = VolumeIndex(ttl=2.0, clock=clock)
    server: list[dict[str, Any]] = [{"id": "a", "gid": 2000}]
    reads: list[int] = []

    def read() -> list[dict[str, Any]]:
        reads.append(1)
        return list(server)

    volumes, fresh = index.volumes(read)
    assert [v["id"] for v in volumes] == ["a"] and fresh
    index.made({"id": "b", "gid": 2001})
    index.deleted("a")
    clock.now += 1
    volumes, fresh = index.volumes(read)
    assert [v["id"] for v in volumes] == ["b"] and not fresh and len(reads) == 1
    # a read started after our changes is the truth (the server had them committed)
    server[:] = [{"id": "b", "gid": 2001}, {"id": "c", "gid": 2002}]
    clock.now += 2
    volumes, fresh = index.volumes(read)
    assert sorted(v["id"] for v in volumes) == ["b", "c"] and fresh and len(reads) == 2


def test_a_create_that_ends_during_a_read_is_not_lost() -> None:
    clock = Clock()
    index = VolumeIndex(ttl=2.0, clock=clock)

    def read() -> list[dict[str, Any]]:
        # the listing was taken before the create below committed
        clock.now += 0.01
        index.made({"id": "late", "gid": 2005})
        return [{"id": "a", "gid": 2000}]

    volumes, _ = index.volumes(read)
    assert sorted(v["id"] for v in volumes) == ["a", "late"]


def test_fresh_and_drop_force_a_read() -> None:
    clock = Clock()
    index = VolumeIndex(ttl=60.0, clock=clock)
    reads: list[int] = []

    def read() -> list[dict[str, Any]]:
        reads.append(1)
        return []

    index.volumes(read)
    index.volumes(read)
    assert len(reads) == 1
    index.volumes(read, fresh=True)
    assert len(reads) == 2
    index.drop()
    index.volumes(read)
    assert len(reads) == 3


def test_gids_never_given_twice_even_from_a_stale_listing() -> None:
    """A create that read the volumes before another create ended must not reuse that one's
    gid: the index has it from the moment the create ended, the reservation until then."""
    from brickyard.csi.controller import Controller, ServerConfig
    from brickyard.csi.params import parse_class
    from brickyard.csi.stubs import load

    controller = Controller(load(), ServerConfig("http://x"))
    index = VolumeIndex()
    params = parse_class({"gidMin": "2000", "gidMax": "2003"})
    running = controller._pick_gid("http://x", index, [], params)  # a create now running
    assert running == 2000
    assert controller._pick_gid("http://x", index, [], params) == 2001  # reserved: not reused
    index.made({"id": "a", "gid": 2000})  # the first create ended...
    controller._release_gid("http://x", 2000)  # ...and dropped its reservation
    stale: list[dict[str, Any]] = []  # what a third create read before the first ended
    assert controller._pick_gid("http://x", index, stale, params) == 2002
    assert index.gids() == {2000}

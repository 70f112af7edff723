"""Accept only what can be finished: the GlusterFS rules (domain/gluster_rules.py, recorded
from a real GlusterFS 10.3) applied to volume requests, so a value gluster would refuse after
the bricks are made is refused at submit instead (HTTP 400), with the reason.

At submit (before placement): the volume name, the replica count, every option (key and value,
for the volume's durability). In the planning transaction (after placement, still before the
202): the per-brick volume file names, which depend on the chosen bricks' hosts, and the
options again with the real number of brick sets."""

from __future__ import annotations

from ..domain import gluster_rules
from ..domain.errors import InvalidRequest
from ..domain.model import Brick, Durability, DurabilityType

# The brick path of a snapshot clone: /run/gluster/snaps/<32 hex>/brick<N>/brick.
SNAPSHOT_BRICK_PATH = "/run/gluster/snaps/" + "0" * 32 + "/brick{}/brick"


def split_option(text: str) -> tuple[str, str] | None:
    """``"key value"`` as gluster gets it (``volume set <v> key value``); None for an empty
    entry (nothing to set). A key alone is refused: gluster has nothing to set it to."""
    if not text.strip():
        return None
    key, _, value = text.strip().partition(" ")
    if not value.strip():
        raise InvalidRequest(f"volume option {key!r} has no value (write it as 'key value')")
    return key, value.strip()


def split_options(options: list[str]) -> list[tuple[str, str]]:
    return [found for text in options if (found := split_option(text)) is not None]


def layout(durability: Durability, sets: int = 0) -> gluster_rules.Layout:
    """The layout the option rules need; `sets` 0 (not placed yet) leaves the bounds that
    depend on the number of brick sets unchecked."""
    replicate = durability.type is DurabilityType.REPLICATE
    disperse = durability.type is DurabilityType.DISPERSE
    return gluster_rules.Layout.of(
        durability.bricks_per_set if replicate else 0,
        durability.data if disperse else 0,
        durability.redundancy if disperse else 0,
        sets,
    )


def check_name(name: str) -> None:
    if name:
        problem = gluster_rules.volume_name_problem(name)
        if problem:
            raise InvalidRequest(problem)


def check_replica(durability: Durability) -> None:
    if durability.type is DurabilityType.REPLICATE and durability.replica:
        problem = gluster_rules.replica_problem(durability.replica)
        if problem:
            raise InvalidRequest(f"Invalid replica value: {problem}")


def check_options(options: list[str], durability: Durability, name: str, sets: int = 0) -> None:
    problem = gluster_rules.options_problem(
        split_options(options), layout=layout(durability, sets), volume=name or None
    )
    if problem:
        raise InvalidRequest(problem)


def check_volume_files(name: str, bricks: list[Brick], hosts: dict[str, str]) -> None:
    """Gluster names a volume file after the volume, each brick's host and its path: all must
    fit a file name (`hosts`: storage host by node id)."""
    for brick in bricks:
        problem = gluster_rules.volfile_name_problem(name, hosts[brick.node_id], brick.path)
        if problem:
            raise InvalidRequest(problem)


def check_clone_files(name: str, source_bricks: list[Brick], hosts: dict[str, str]) -> None:
    """The same for a clone, whose bricks gluster puts under /run/gluster/snaps."""
    for number, brick in enumerate(source_bricks, start=1):
        path = SNAPSHOT_BRICK_PATH.format(number)
        problem = gluster_rules.volfile_name_problem(name, hosts[brick.node_id], path)
        if problem:
            raise InvalidRequest(problem)

"""The progress line of the waits that move bricks: ``node remove``, ``device remove`` and
``brickyard node evacuate``, counted in bricks moved (then, for an evacuation that waits for
heal, in volumes healed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

from brickyard.cli.progress import Task
from brickyard.cli.session import Session
from brickyard.client import HeketiError, JSONDict

__all__ = ["evacuation_counts", "removal_progress"]


def _bricks(kind: Literal["node", "device"], info: JSONDict) -> int:
    if kind == "device":
        return len(info.get("bricks") or [])
    return sum(len(d.get("bricks") or []) for d in info.get("devices") or [])


@contextmanager
def removal_progress(s: Session, kind: Literal["node", "device"], object_id: str) -> Iterator[None]:
    """The line while a node or a device is removed: how many of the bricks it held have moved
    (asked of the server about once a second; only when the line is drawn, so a script's
    requests stay those of heketi-cli)."""
    line = s.progress
    if not line.enabled:
        yield
        return
    client = s.client()
    fetch: Callable[[str], JSONDict] = client.node_info if kind == "node" else client.device_info
    try:
        total = _bricks(kind, fetch(object_id))
    except HeketiError:
        total = 0  # the removal itself will say what is wrong

    def probe(task: Task) -> None:
        try:
            left = _bricks(kind, fetch(object_id))
        except HeketiError:
            return
        line.update(done=total - left)

    with line.task(
        f"Removing {kind} {object_id}",
        total=total or None,
        unit="bricks moved",
        probe=probe if total else None,
    ):
        yield


def evacuation_counts(s: Session, node_id: str) -> Callable[[str, int, int], None]:
    """``node_evacuate``'s ``counts``: first bricks moved, then volumes healed."""

    def counts(what: str, done: int, total: int) -> None:
        label = f"Evacuating node {node_id}"
        if what != "bricks moved":
            label = f"Waiting for the volumes of node {node_id} to heal"
        s.progress.update(label=label, done=done, total=total, unit=what)

    return counts

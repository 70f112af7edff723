"""Devices that may receive bricks, and an index of them ordered by free space."""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace


class ArbiterRole(enum.Enum):
    """What the merged `arbiter` tag of a device allows (Heketi: required/supported/disabled)."""

    ARBITER_ONLY = "required"
    DATA_ONLY = "disabled"
    ANY = "supported"

    @classmethod
    def of(cls, tags: Mapping[str, str]) -> ArbiterRole:
        value = tags.get("arbiter", "")
        if value == "required":
            return cls.ARBITER_ONLY
        if value == "disabled":
            return cls.DATA_ONLY
        return cls.ANY


@dataclass(frozen=True)
class Candidate:
    """A device that may receive bricks, with what placement needs to know of its node."""

    device_id: str
    node_id: str
    zone: int
    free: int  # KiB
    extent_size: int = 4096
    tags: Mapping[str, str] = field(default_factory=dict)  # node tags, overridden by device tags
    device_name: str = ""
    hostname: str = ""

    @property
    def arbiter_role(self) -> ArbiterRole:
        return ArbiterRole.of(self.tags)


def merge_tags(node_tags: Mapping[str, str], device_tags: Mapping[str, str]) -> dict[str, str]:
    return {**node_tags, **device_tags}


class DeviceIndex:
    """Candidates of one cluster, kept sorted by free space (largest first), so the balanced
    placer finds the emptiest acceptable device without looking at every device."""

    def __init__(self, candidates: Iterable[Candidate] = ()) -> None:
        self._by_id: dict[str, Candidate] = {c.device_id: c for c in candidates}
        # (-free, device id), ascending: sorted once here, kept sorted by put/remove.
        self._order: list[tuple[int, str]] = sorted(
            (-c.free, c.device_id) for c in self._by_id.values()
        )
        self.zones: set[int] = {c.zone for c in self._by_id.values()}
        self.roles: set[ArbiterRole] = {c.arbiter_role for c in self._by_id.values()}

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._by_id

    def get(self, device_id: str) -> Candidate | None:
        return self._by_id.get(device_id)

    def put(self, candidate: Candidate) -> None:
        self.remove(candidate.device_id)
        self._by_id[candidate.device_id] = candidate
        bisect.insort(self._order, (-candidate.free, candidate.device_id))
        # Zones and roles present only grow here; a removal leaves them as an upper bound,
        # which only makes placement look a little further.
        self.zones.add(candidate.zone)
        self.roles.add(candidate.arbiter_role)

    def remove(self, device_id: str) -> None:
        old = self._by_id.pop(device_id, None)
        if old is not None:
            position = bisect.bisect_left(self._order, (-old.free, device_id))
            del self._order[position]

    def change_free(self, device_id: str, delta: int) -> None:
        """Apply a committed change of free space (negative when bricks were placed)."""
        old = self._by_id.get(device_id)
        if old is not None:
            self.put(replace(old, free=old.free + delta))

    def by_free(self) -> Iterator[Candidate]:
        """Most free space first; equal free space in device id order."""
        for _, device_id in self._order:
            yield self._by_id[device_id]

    def by_free_ascending(self) -> Iterator[Candidate]:
        for _, device_id in reversed(self._order):
            yield self._by_id[device_id]

    def all(self) -> list[Candidate]:
        return list(self._by_id.values())

    def largest_free(self) -> int:
        return -self._order[0][0] if self._order else 0

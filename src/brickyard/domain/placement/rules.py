"""Placement rules: each filter says why a device may not take a position of the set being
filled (None when it may). Filters compose with AND; they are tried in a fixed order so the
reason reported for a skipped device is the most basic one."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .candidates import ArbiterRole, Candidate

# Reasons, also the keys of the dry run's skipped-device counts.
SAME_NODE = "same node"
ZONE_IN_USE = "zone in use (strict)"
NO_SPACE = "no space"
TAGS = "tags"
ARBITER_ROLE = "arbiter role"
EXCLUDED = "device being replaced"


@dataclass
class SetInProgress:
    """The bricks of a set placed so far: nodes and zones they use, positions filled."""

    nodes: set[str] = field(default_factory=set)
    zones: set[int] = field(default_factory=set)
    node_position: dict[str, tuple[int, int]] = field(default_factory=dict)  # node -> (set, pos)

    def take(self, candidate: Candidate, set_index: int, position: int) -> None:
        self.nodes.add(candidate.node_id)
        self.zones.add(candidate.zone)
        self.node_position[candidate.node_id] = (set_index, position)


@dataclass(frozen=True)
class Position:
    """The slot being filled: which set, which position, whether it is the arbiter."""

    set_index: int
    position: int
    arbiter: bool = False


# A filter: (candidate, set so far, position) -> reason it is refused, or None.
Filter = Callable[[Candidate, SetInProgress, Position], str | None]


def different_node(candidate: Candidate, current: SetInProgress, _: Position) -> str | None:
    """Never two bricks of a set on one node (Heketi's hard rule)."""
    return SAME_NODE if candidate.node_id in current.nodes else None


def different_zone(candidate: Candidate, current: SetInProgress, _: Position) -> str | None:
    """zone_checking strict: never two bricks of a set in one zone."""
    return ZONE_IN_USE if candidate.zone in current.zones else None


def arbiter_role(candidate: Candidate, _: SetInProgress, slot: Position) -> str | None:
    """Devices tagged arbiter=required take only arbiter bricks, arbiter=disabled only data."""
    role = candidate.arbiter_role
    if slot.arbiter and role is ArbiterRole.DATA_ONLY:
        return ARBITER_ROLE
    if not slot.arbiter and role is ArbiterRole.ARBITER_ONLY:
        return ARBITER_ROLE
    return None


TAG_RULE = re.compile(r"^([a-zA-Z0-9._-]+)(!?=)([a-zA-Z0-9._-]+)$")


@dataclass(frozen=True)
class TagRule:
    """`user.heketi.device-tag-match`: `key=value` or `key!=value` on merged tags (a missing
    key reads as the empty string)."""

    key: str
    value: str
    negate: bool

    @classmethod
    def parse(cls, text: str) -> TagRule:
        found = TAG_RULE.fullmatch(text.strip())
        if found is None:
            raise ValueError(
                f"invalid device tag match rule: {text!r} (want key=value or key!=value)"
            )
        return cls(found.group(1), found.group(3), found.group(2) == "!=")

    def matches(self, tags: Mapping[str, str]) -> bool:
        return (tags.get(self.key, "") == self.value) != self.negate

    def __str__(self) -> str:
        return f"{self.key}{'!=' if self.negate else '='}{self.value}"


def tag_filter(rule: TagRule) -> Filter:
    def check(candidate: Candidate, _: SetInProgress, __: Position) -> str | None:
        return None if rule.matches(candidate.tags) else TAGS

    return check

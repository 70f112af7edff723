"""Brick placement: candidates and their index, rules (filters), placers (balanced and
Heketi's ring), and the explanation a dry run returns."""

from .candidates import ArbiterRole, Candidate, DeviceIndex, merge_tags
from .planner import (
    ARBITER_POSITION,
    BalancedPlacer,
    Explanation,
    HeketiRingPlacer,
    PlacedBrick,
    PlacementRequest,
    Placer,
    diagnose,
    plan_bricks,
    plan_replacement,
)
from .rules import Position, SetInProgress, TagRule

__all__ = [
    "ARBITER_POSITION",
    "ArbiterRole",
    "BalancedPlacer",
    "Candidate",
    "DeviceIndex",
    "Explanation",
    "HeketiRingPlacer",
    "PlacedBrick",
    "PlacementRequest",
    "Placer",
    "Position",
    "SetInProgress",
    "TagRule",
    "diagnose",
    "merge_tags",
    "plan_bricks",
    "plan_replacement",
]

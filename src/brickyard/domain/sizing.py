"""Brick sizing as Heketi does it (internals §2.2 and §2.6)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .units import GIB, round_up

THIN_POOL_METADATA_RATIO = 0.005
THIN_POOL_METADATA_MAX = 16 * GIB


@dataclass(frozen=True)
class BrickSpace:
    """What one brick takes from a device, in KiB."""

    brick_size: int
    tp_size: int
    metadata_size: int

    @property
    def total(self) -> int:
        return self.tp_size + self.metadata_size


def brick_space(brick_size: int, snapshot_factor: float, extent_size: int) -> BrickSpace:
    """Thin pool = brick x snapshot factor, plus 0.5 % metadata capped at 16 GiB, each rounded
    up to the device's extent size."""
    tp = round_up(int(float(brick_size) * snapshot_factor), extent_size)
    metadata = min(int(float(tp) * THIN_POOL_METADATA_RATIO), THIN_POOL_METADATA_MAX)
    metadata = round_up(metadata, extent_size)
    return BrickSpace(brick_size, tp, metadata)


@dataclass(frozen=True)
class BrickLimits:
    min_size: int = 1 * GIB  # KiB
    max_size: int = 4096 * GIB
    max_bricks: int = 32


class MinimumBrickSizeReached(Exception):
    pass


def brick_layouts(
    volume_kib: int, data_per_set: int, limits: BrickLimits
) -> Iterator[tuple[int, int]]:
    """Yield (sets, brick size KiB) from one set upwards, doubling the sets each step.
    A layout is offered only when its bricks fit under the maximum brick size; once a brick
    would fall below the minimum the generator raises MinimumBrickSizeReached."""
    sets = 1
    while True:
        brick = (volume_kib // sets) // data_per_set
        if brick < limits.min_size:
            raise MinimumBrickSizeReached
        if brick <= limits.max_size:
            yield sets, brick
        sets *= 2


ARBITER_MIN_SIZE = 16 * 1024  # KiB: 16 MiB, the smallest XFS Heketi makes


class ArbiterSizeError(ValueError):
    pass


def arbiter_brick_size(data_brick: int, average_file_size: int) -> int:
    """An arbiter brick holds metadata only, about 1 KiB per file: the data brick's size over
    the average file size (KiB), at least 16 MiB (internals §2.7)."""
    if average_file_size <= 0 or data_brick < average_file_size:
        raise ArbiterSizeError(
            f"Average file size ({average_file_size}) is greater than Brick size ({data_brick})"
        )
    return max(data_brick // average_file_size, ARBITER_MIN_SIZE)

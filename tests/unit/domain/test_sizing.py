from itertools import islice

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brickyard.domain.sizing import (
    BrickLimits,
    MinimumBrickSizeReached,
    brick_layouts,
    brick_space,
)
from brickyard.domain.units import GIB, TIB


def test_one_gib_brick_takes_heketis_documented_space() -> None:
    space = brick_space(1 * GIB, 1.0, 4096)
    assert (space.tp_size, space.metadata_size, space.total) == (1048576, 8192, 1056768)


def test_one_tib_brick_matches_heketi_debug_log_figure() -> None:
    assert brick_space(1 * TIB, 1.0, 4096).total == 1079111680


def test_metadata_is_capped_at_16_gib() -> None:
    space = brick_space(8 * TIB, 1.0, 4096)
    assert space.metadata_size == 16 * GIB


def test_snapshot_factor_grows_the_pool_not_the_brick() -> None:
    space = brick_space(10 * GIB, 1.5, 4096)
    assert space.brick_size == 10 * GIB
    assert space.tp_size == 15 * GIB


@given(st.integers(min_value=1, max_value=64 * TIB), st.sampled_from([1.0, 1.5, 2.0, 3.3]))
def test_pool_sizes_are_whole_extents(brick: int, factor: float) -> None:
    space = brick_space(brick, factor, 4096)
    assert space.tp_size % 4096 == 0 and space.metadata_size % 4096 == 0
    assert space.tp_size >= int(brick * factor)


def test_layouts_double_sets_until_minimum() -> None:
    layouts = brick_layouts(4 * GIB, 1, BrickLimits())
    assert list(islice(layouts, 3)) == [(1, 4 * GIB), (2, 2 * GIB), (4, 1 * GIB)]
    with pytest.raises(MinimumBrickSizeReached):
        next(layouts)


def test_layouts_skip_bricks_above_the_maximum() -> None:
    first = next(brick_layouts(10 * TIB, 1, BrickLimits()))
    assert first == (4, 10 * TIB // 4)


def test_disperse_divides_by_data_bricks() -> None:
    assert next(brick_layouts(8 * GIB, 4, BrickLimits())) == (1, 2 * GIB)

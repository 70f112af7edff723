"""Volume options that steer placement (`user.heketi.*`) read into a PlacementPolicy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brickyard.domain.errors import InvalidRequest
from brickyard.domain.placement import TagRule
from brickyard.domain.policy import (
    ARBITER,
    AVERAGE_FILE_SIZE,
    TAG_MATCH,
    ZONE_CHECKING,
    PlacementPolicy,
    option_values,
    placement_policy,
)


def policy(*options: str, strict: bool = False, average: int = 64) -> PlacementPolicy:
    return placement_policy(list(options), strict, average)


def test_option_names_are_heketis() -> None:
    assert ZONE_CHECKING == "user.heketi.zone-checking"
    assert TAG_MATCH == "user.heketi.device-tag-match"
    assert ARBITER == "user.heketi.arbiter"
    assert AVERAGE_FILE_SIZE == "user.heketi.average-file-size"


def test_no_options_give_the_server_defaults() -> None:
    assert policy() == PlacementPolicy(False, None, False, 64)
    assert policy(strict=True, average=128) == PlacementPolicy(True, None, False, 128)
    # Unrelated options (and the empty strings pre/post request options leave) change nothing.
    assert policy("", "performance.rda-cache-limit 10MB", " ", strict=True) == PlacementPolicy(
        True, None, False, 64
    )


def test_option_values_last_setting_wins_and_values_are_trimmed() -> None:
    values = option_values(["a 1", "b  two words ", "a 3", "", "lonely"])
    assert values == {"a": "3", "b": "two words", "lonely": ""}


# ----------------------------------------------------------------------------------------------
# zone checking


@pytest.mark.parametrize("default", [False, True])
def test_zone_checking_option_overrides_the_server_setting(default: bool) -> None:
    assert policy(f"{ZONE_CHECKING} strict", strict=default).strict_zones is True
    assert policy(f"{ZONE_CHECKING} none", strict=default).strict_zones is False


@pytest.mark.parametrize("default", [False, True])
def test_unknown_zone_checking_value_is_treated_as_none(default: bool) -> None:
    """Heketi: an unknown value logs a warning and is treated as 'none' (internals §2.5)."""
    for value in ("foobar", "STRICT", "Strict"):
        assert policy(f"{ZONE_CHECKING} {value}", strict=default).strict_zones is False


def test_the_last_zone_checking_option_wins() -> None:
    assert policy(f"{ZONE_CHECKING} strict", f"{ZONE_CHECKING} none").strict_zones is False
    assert policy(f"{ZONE_CHECKING} none", f"{ZONE_CHECKING} strict").strict_zones is True


@pytest.mark.parametrize("option", [ZONE_CHECKING, f"{ZONE_CHECKING} ", f"{ZONE_CHECKING}   "])
def test_an_empty_zone_checking_value_keeps_the_server_setting(option: str) -> None:
    assert policy(option, strict=True).strict_zones is True


# ----------------------------------------------------------------------------------------------
# device tag matching


def test_device_tag_match_option() -> None:
    assert policy(f"{TAG_MATCH} disk=ssd").tag_rule == TagRule("disk", "ssd", False)
    assert policy(f"{TAG_MATCH} disk!=hdd").tag_rule == TagRule("disk", "hdd", True)
    assert policy(f"{TAG_MATCH} a=1", f"{TAG_MATCH} b=2").tag_rule == TagRule("b", "2", False)


@pytest.mark.parametrize("rule", ["disk", "disk=", "=ssd", "disk==ssd", "disk ssd", ""])
def test_an_invalid_device_tag_match_rule_is_refused(rule: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid device tag match rule"):
        policy(f"{TAG_MATCH} {rule}")


# ----------------------------------------------------------------------------------------------
# arbiter


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True"])
def test_arbiter_go_true_values(value: str) -> None:
    assert policy(f"{ARBITER} {value}").arbiter is True


@pytest.mark.parametrize("value", ["0", "f", "F", "FALSE", "false", "False"])
def test_arbiter_go_false_values(value: str) -> None:
    assert policy(f"{ARBITER} {value}").arbiter is False


@pytest.mark.parametrize("value", ["yes", "on", "tRUE", "2", "", "true!"])
def test_arbiter_values_go_does_not_parse_mean_no_arbiter(value: str) -> None:
    """Go's strconv.ParseBool accepts exactly the twelve spellings above; Heketi reads anything
    else as false (a plain replica volume), and so do we, for drop-in compatibility."""
    assert policy(f"{ARBITER} {value}").arbiter is False


def test_arbiter_last_setting_wins() -> None:
    assert policy(f"{ARBITER} true", f"{ARBITER} false").arbiter is False


# ----------------------------------------------------------------------------------------------
# average file size


@pytest.mark.parametrize(
    ("value", "expected"),
    [("128", 128), ("1", 1), ("0", 64), ("-5", 64), ("abc", 64), ("", 64), ("1.5", 64)],
)
def test_average_file_size_falls_back_to_the_default(value: str, expected: int) -> None:
    assert policy(f"{AVERAGE_FILE_SIZE} {value}").average_file_size == expected


def test_average_file_size_fallback_is_the_configured_default() -> None:
    assert policy(f"{AVERAGE_FILE_SIZE} 0", average=256).average_file_size == 256
    assert policy(average=256).average_file_size == 256


# ----------------------------------------------------------------------------------------------
# all together


@given(
    st.permutations(
        [
            f"{ZONE_CHECKING} strict",
            f"{TAG_MATCH} rack=r1",
            f"{ARBITER} true",
            f"{AVERAGE_FILE_SIZE} 32",
            "other 1",
        ]
    ),
    st.booleans(),
)
def test_options_are_independent_of_their_order(options: list[str], default: bool) -> None:
    assert placement_policy(options, default, 64) == PlacementPolicy(
        True, TagRule("rack", "r1", False), True, 32
    )

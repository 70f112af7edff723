"""Volume options that steer placement (`user.heketi.*`, internals §1.7), read once into a
policy: zone checking, device tag matching, arbiter, average file size."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidRequest
from .placement.rules import TagRule

ZONE_CHECKING = "user.heketi.zone-checking"
TAG_MATCH = "user.heketi.device-tag-match"
ARBITER = "user.heketi.arbiter"
AVERAGE_FILE_SIZE = "user.heketi.average-file-size"

_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}


@dataclass(frozen=True)
class PlacementPolicy:
    strict_zones: bool = False
    tag_rule: TagRule | None = None
    arbiter: bool = False
    average_file_size: int = 64  # KiB


def option_values(options: list[str]) -> dict[str, str]:
    """`"key value"` strings as a map; the last setting of a key wins, as in gluster."""
    result: dict[str, str] = {}
    for option in options:
        key, _, value = option.strip().partition(" ")
        if key:
            result[key] = value.strip()
    return result


def placement_policy(
    options: list[str], strict_zones_default: bool, average_file_size_default: int
) -> PlacementPolicy:
    """Raises InvalidRequest for an option Heketi would also refuse to act on."""
    values = option_values(options)
    strict = strict_zones_default
    if values.get(ZONE_CHECKING):
        # Heketi treats an unknown value as "none", with a warning; an empty one as unset.
        strict = values[ZONE_CHECKING] == "strict"
    tag_rule = None
    if TAG_MATCH in values:
        try:
            tag_rule = TagRule.parse(values[TAG_MATCH])
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
    # Go's ParseBool spellings; Heketi reads anything else as false, and so do we.
    arbiter = values.get(ARBITER, "") in _GO_TRUE
    average = average_file_size_default
    if AVERAGE_FILE_SIZE in values:
        try:
            parsed = int(values[AVERAGE_FILE_SIZE])
        except ValueError:
            parsed = 0
        # Heketi: 0 or unparsable falls back to the global default.
        average = parsed if parsed > 0 else average_file_size_default
    return PlacementPolicy(strict, tag_rule, arbiter, average)

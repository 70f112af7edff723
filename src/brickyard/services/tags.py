"""Tag changes shared by nodes and devices: set, update (merge) or delete keys."""

from __future__ import annotations


def apply_tag_change(
    current: dict[str, str], change: dict[str, str], change_type: str
) -> dict[str, str]:
    if change_type == "set":
        return dict(change)
    if change_type == "update":
        return {**current, **change}
    return {k: v for k, v in current.items() if k not in change}

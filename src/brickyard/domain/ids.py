"""Identifiers: 32 lowercase hex characters from a CSPRNG, as Heketi makes them."""

import re
import secrets

ID_PATTERN = re.compile(r"^[0-9a-fA-F]{32}$")


def new_id() -> str:
    return secrets.token_hex(16)


def is_valid_id(value: str) -> bool:
    """Request-side check: exactly 32 hex digits, either case (lookups stay case-sensitive)."""
    return bool(ID_PATTERN.fullmatch(value))

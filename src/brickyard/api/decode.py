"""Request bodies decoded the way Go's encoding/json decodes them into Heketi's structs:
keys match case-insensitively, unknown keys are ignored, null leaves the zero value, and a
type mismatch or malformed body is a decode error (HTTP 422)."""

from __future__ import annotations

import json
import math
from typing import Any

# A spec maps each JSON key to its Go type: int, float, bool, str, a one-element list for a
# slice, a dict of key specs for a nested struct, or MAP_OF_STR for map[string]string.
MAP_OF_STR = "map[string]string"
Spec = dict[str, Any]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class DecodeError(Exception):
    pass


FLOAT32_MAX = 3.4028234663852886e38


def _refuse_constant(name: str) -> Any:
    raise DecodeError(f"invalid character in JSON: {name}")


def decode_body(body: bytes, spec: Spec) -> dict[str, Any]:
    """Go reads UTF-8 only (no byte-order mark, no UTF-16) and knows no NaN or Infinity."""
    try:
        text = body.decode("utf-8")
        if text.startswith("\ufeff"):
            raise DecodeError("invalid character 'ï' looking for beginning of value")
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DecodeError(str(exc)) from exc
    return _decode_struct(data, spec)


def _zero(kind: Any) -> Any:
    if kind is int:
        return 0
    if kind is float:
        return 0.0
    if kind is bool:
        return False
    if kind is str:
        return ""
    if isinstance(kind, list):
        return []
    if kind == MAP_OF_STR:
        return {}
    return _decode_struct(None, kind)


def _decode_struct(data: Any, spec: Spec) -> dict[str, Any]:
    result = {key: _zero(kind) for key, kind in spec.items()}
    if data is None:
        return result
    if not isinstance(data, dict):
        raise DecodeError("json: cannot unmarshal into struct")
    by_fold = {key.lower(): key for key in spec}
    for raw_key, value in data.items():
        key = raw_key if raw_key in spec else by_fold.get(raw_key.lower())
        if key is None:
            continue
        result[key] = _decode_value(value, spec[key])
    return result


def _decode_value(value: Any, kind: Any) -> Any:
    if value is None:
        return _zero(kind)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and INT64_MIN <= value <= INT64_MAX
        ):
            return value
    elif kind is float:  # Heketi's float fields are float32
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError as exc:
                raise DecodeError("json: number out of range") from exc
            if math.isfinite(number) and abs(number) <= FLOAT32_MAX:
                return number
    elif kind is str:
        if isinstance(value, str):
            return value
    elif isinstance(kind, list):
        if isinstance(value, list):
            return [_decode_value(v, kind[0]) for v in value]
    elif kind == MAP_OF_STR:
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return dict(value)
    elif isinstance(kind, dict):
        return _decode_struct(value, kind)
    raise DecodeError(f"json: cannot unmarshal {type(value).__name__} into Go value")


class Validation:
    """Collects ozzo-validation style errors: `field: message` pairs sorted by key, the first
    failing rule per field, rendered `validation failed: a: m; b: m.`"""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def nested(self, field: str, inner: Validation) -> None:
        if inner.errors:
            self.add(field, "(" + inner.render_pairs() + ".)")

    def render_pairs(self) -> str:
        return "; ".join(f"{k}: {self.errors[k]}" for k in sorted(self.errors))

    def message(self) -> str | None:
        if not self.errors:
            return None
        return f"validation failed: {self.render_pairs()}."

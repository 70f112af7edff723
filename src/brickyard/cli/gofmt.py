"""Go's ``fmt.Sprint``/``Sprintf``/``Sprintln`` for template values (common verbs)."""

from __future__ import annotations

import json
import re
from typing import Any

from brickyard.cli.gotypes import F32, GoStruct, format_value

__all__ = ["sprint", "sprintf", "sprintln"]

_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?([a-zA-Z%])")


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, F32):
        return "float32"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]string" if all(isinstance(v, str) for v in value) else "[]interface {}"
    if isinstance(value, dict):
        return "map[string]string"
    if isinstance(value, GoStruct):
        return value.type.name
    return "<nil>" if value is None else type(value).__name__


def _bad(verb: str, value: Any) -> str:
    return f"%!{verb}({_go_type(value)}={format_value(value)})"


def _number(verb: str, value: Any, precision: int | None, flags: str) -> str | None:
    if verb in "dxXob" and isinstance(value, int) and not isinstance(value, bool):
        spec = {"d": "d", "x": "x", "X": "X", "o": "o", "b": "b"}[verb]
        text = format(abs(value), spec)
        if "#" in flags and verb in "xX":
            text = "0" + verb + text
        sign = "-" if value < 0 else ("+" if "+" in flags else (" " if " " in flags else ""))
        return sign + text
    if verb in "feEgG" and isinstance(value, int | float) and not isinstance(value, bool):
        if verb in "gG" and precision is None:
            return format_value(F32(value) if isinstance(value, F32) else float(value))
        text = format(
            float(value),
            f"{'+' if '+' in flags else ''}.{6 if precision is None else precision}{verb}",
        )
        return re.sub(r"e([+-])(\d)$", r"e\g<1>0\2", text)
    return None


def _string(verb: str, value: Any, precision: int | None) -> str | None:
    if verb in "sv":
        text = value if isinstance(value, str) and verb == "s" else format_value(value)
        if verb == "s" and not isinstance(value, str | list | dict | GoStruct):
            return None
        return text if precision is None else text[:precision]
    if verb == "q" and isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if verb == "t" and isinstance(value, bool):
        return format_value(value)
    if verb in "xX" and isinstance(value, str):
        text = value.encode().hex()
        return text.upper() if verb == "X" else text
    if verb == "c" and isinstance(value, int):
        return chr(value)
    return None


def _pad(text: str, width: int | None, flags: str, numeric: bool) -> str:
    if width is None or len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    if "0" in flags and numeric:
        sign = text[0] if text[:1] in "+- " else ""
        return sign + text[len(sign) :].rjust(width - len(sign), "0")
    return text.rjust(width)


def sprintf(format_: Any, *args: Any) -> str:
    """``fmt.Sprintf`` for the verbs v s d f e g t q x X o b c and ``%%``."""
    source = str(format_)
    out: list[str] = []
    pos = 0
    used = 0
    for match in _VERB.finditer(source):
        out.append(source[pos : match.start()])
        pos = match.end()
        flags, width, precision, verb = match.groups()
        if verb == "%":
            out.append("%")
            continue
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        value = args[used]
        used += 1
        prec = int(precision or 0) if precision is not None else None
        text = _number(verb, value, prec, flags)
        numeric = text is not None
        if text is None:
            text = _string(verb, value, prec)
        if text is None:
            text = _bad(verb, value)
        out.append(_pad(text, int(width) if width else None, flags, numeric))
    tail = source[pos:]
    out.append(tail.replace("%", "%!(NOVERB)") if tail.endswith("%") else tail)
    if used < len(args):
        extra = ", ".join(f"{_go_type(v)}={format_value(v)}" for v in args[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def sprint(*args: Any) -> str:
    """``fmt.Sprint``: spaces between operands when neither is a string."""
    out: list[str] = []
    for i, value in enumerate(args):
        if i and not isinstance(value, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(format_value(value))
    return "".join(out)


def sprintln(*args: Any) -> str:
    return " ".join(format_value(v) for v in args) + "\n"

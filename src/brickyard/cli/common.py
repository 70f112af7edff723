"""Small helpers shared by the command modules."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from brickyard.cli.session import CliError, emit, emit_json, session
from brickyard.client import JSONDict

__all__ = ["require", "show", "split_tags", "warn_heal_check_disabled"]


def require(args: Sequence[str], message: str) -> str:
    """The first positional argument, or the heketi-cli error ``message``."""
    if not args:
        raise CliError(message)
    return args[0]


def split_tags(pairs: Sequence[str]) -> dict[str, str]:
    """``k:v`` arguments of ``settags``."""
    tags: dict[str, str] = {}
    for pair in pairs:
        name, colon, value = pair.partition(":")
        if not colon:
            raise CliError(f"expected colon (:) between tag name and value, got: {pair}")
        tags[name] = value
    return tags


def show(obj: JSONDict, text: Callable[[JSONDict], str]) -> None:
    """``--json`` prints the object compactly; otherwise its text rendering."""
    if session().json:
        emit_json(obj)
    else:
        emit(text(obj))


#: Seconds heketi-cli waits after warning about a disabled heal check (tests shorten it).
HEAL_CHECK_WARNING_DELAY = 10.0


def warn_heal_check_disabled() -> str:
    """Print heketi-cli's warning, give the user time to cancel; return the healcheck value."""
    emit(
        "Skipping the heal check may be dangerous and increase the risk of data loss.\n"
        " Press CTRL-C within 10 seconds to cancel this action.\n"
    )
    line = session().progress
    with line.task(f"Waiting {HEAL_CHECK_WARNING_DELAY:.0f} s before going on (CTRL-C cancels)"):
        line.sleep(HEAL_CHECK_WARNING_DELAY)
    return "disable"

"""Progress on the terminal while the CLI waits: one line on stderr, redrawn in place.

Only for a person at a terminal: the line is drawn only when stderr is a terminal, TERM is not
``dumb``, and neither ``--no-progress`` nor ``BRICKYARD_NO_PROGRESS`` asked otherwise. Nothing
ever goes to stdout, whose bytes scripts parse (heketi-cli's output is a contract): stdout text
passes through :meth:`Progress.write_out` only so that the line is wiped before it and, on a
terminal, so that a half-written line ("Creating node n1 ... ") waits for its end instead of
being overwritten by the progress line; the bytes and their order stay the same.

The line says what is waited on, how far it got when that is known ("3 of 8 nodes") and for how
long; it is redrawn at most every :data:`REDRAW_INTERVAL` seconds, only from the points where
the CLI waits anyway (the client's sleeps between polls), so it costs no thread and no timer.
It is wiped when the wait ends well and left, with the outcome, when it fails.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

__all__ = [
    "NO_PROGRESS_ENV",
    "Progress",
    "Task",
    "active",
    "format_elapsed",
    "progress_wanted",
    "render_line",
]

#: Set (to anything but "" or "0") to turn the progress line off.
NO_PROGRESS_ENV = "BRICKYARD_NO_PROGRESS"
#: Seconds between two redraws at most (about ten a second).
REDRAW_INTERVAL = 0.1
#: A wait shorter than this never shows a line: no flicker for the quick operations.
SHOW_AFTER = 0.3
#: Seconds between two calls of a task's ``probe`` (it may ask the server how far it got).
PROBE_INTERVAL = 1.0
_BAR_WIDTH = 20
_SPINNER = "|/-\\"


def progress_wanted(stream: TextIO, env: Mapping[str, str], no_progress_flag: bool) -> bool:
    """Whether the progress line is drawn on ``stream``."""
    if no_progress_flag or env.get(NO_PROGRESS_ENV, "") not in ("", "0"):
        return False
    if env.get("TERM", "") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream
        return False


def format_elapsed(seconds: float) -> str:
    """``4.2 s`` under a minute, ``3m07s`` after."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


@dataclass
class Task:
    """What is waited on, and how far it got (``done`` of ``total`` ``unit`` when known)."""

    label: str
    started: float
    total: int | None = None
    done: int = 0
    unit: str = ""
    detail: str = ""
    probe: Callable[[Task], None] | None = None
    implicit: bool = False


def render_line(task: Task, elapsed: float, width: int, spin: int = 0, outcome: str = "") -> str:
    """The text of the line (at most ``width - 1`` characters: the line must never wrap, or
    ``\\r`` would no longer bring the cursor back to its start). When it is too long the
    detail is cut first, then the label: the counts and the time are what a person looks at."""
    if task.total is not None:
        total = max(task.total, 0)
        done = min(max(task.done, 0), total)
        filled = _BAR_WIDTH * done // total if total else _BAR_WIDTH
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        middle = f" [{bar}] {done} of {total} {task.unit}".rstrip()
    else:
        middle = "" if outcome else " " + _SPINNER[spin % len(_SPINNER)]
    time_text = format_elapsed(elapsed)
    tail = f": {outcome} after {time_text}" if outcome else f"  {time_text}"
    room = max(width - 1, 1)
    label = task.label
    detail = f" - {task.detail}" if task.detail else ""
    over = len(label) + len(middle) + len(detail) + len(tail) - room
    if over > 0 and detail:
        detail = _cut(detail, len(detail) - over, 8)
        over = len(label) + len(middle) + len(detail) + len(tail) - room
    if over > 0:
        label = _cut(label, len(label) - over, 4)
    text = label + middle + detail + tail
    return text if len(text) <= room else text[-room:]


def _cut(text: str, keep: int, shortest: int) -> str:
    """``text`` in at most ``keep`` characters, ending with "..."; "" when that would leave
    fewer than ``shortest`` of its own."""
    if len(text) <= keep:
        return text
    if keep - 3 < shortest:
        return ""
    return text[: keep - 3] + "..."


def _columns(stream: TextIO) -> int:
    """The terminal's width (COLUMNS when it cannot be asked, as shutil does; else 80)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = 0
    if columns <= 0:
        text = os.environ.get("COLUMNS", "")
        columns = int(text) if text.isdigit() else 0
    return columns or 80


class Progress:
    """The progress line of one CLI invocation; ``err=None``: disabled (every call is cheap and
    changes nothing, and :meth:`sleep` is a plain sleep)."""

    def __init__(
        self,
        err: TextIO | None,
        out: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        columns: Callable[[], int] | None = None,
        hold_partial_lines: bool | None = None,
    ) -> None:
        self._err = err
        self._out = out
        self._clock = clock
        self._sleep = sleep
        self._columns = columns or (lambda: _columns(err) if err is not None else 80)
        if hold_partial_lines is None:
            hold_partial_lines = err is not None and _isatty(out)
        # only when stdout shares the terminal: a half line there would be drawn over
        self._hold = hold_partial_lines
        self._task: Task | None = None
        self._drawn = ""  # what the line shows now ("": nothing)
        self._last_draw = float("-inf")
        self._last_probe = float("-inf")
        self._probing = False
        self._spin = 0
        self._held = ""  # stdout text after its last newline, not written yet
        self._midline = False  # the terminal's cursor is not at the start of a line

    @property
    def enabled(self) -> bool:
        return self._err is not None

    @property
    def current(self) -> Task | None:
        return self._task

    # -- tasks ----------------------------------------------------------------------------

    def start(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "",
        probe: Callable[[Task], None] | None = None,
        implicit: bool = False,
    ) -> Task:
        """Begin waiting on ``label`` (replaces the task in progress, if any)."""
        self._task = Task(label, self._clock(), total, 0, unit, "", probe, implicit)
        self._last_probe = self._task.started
        return self._task

    def update(
        self,
        *,
        done: int | None = None,
        total: int | None = None,
        detail: str | None = None,
        label: str | None = None,
        unit: str | None = None,
    ) -> None:
        task = self._task
        if task is None:
            return
        if done is not None:
            task.done = done
        if total is not None:
            task.total = total
        if detail is not None:
            task.detail = detail
        if label is not None:
            task.label = label
        if unit is not None:
            task.unit = unit
        self.tick()

    def finish(self, outcome: str = "") -> None:
        """End the task: wipe the line (``outcome`` ""), or leave it with ``outcome``
        ("failed", "interrupted") when it was on the screen."""
        task = self._task
        self._task = None
        if self._err is None or task is None:
            return
        if self._drawn and outcome:
            text = render_line(task, self._clock() - task.started, self._columns(), 0, outcome)
            self._write_err("\r" + _padded(text, self._drawn) + "\n")
            self._drawn = ""
        else:
            self._wipe()

    @contextmanager
    def task(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "",
        probe: Callable[[Task], None] | None = None,
    ) -> Iterator[Task]:
        """``with progress.task("Creating volume"):`` the wait; the line ends with the block."""
        started = self.start(label, total=total, unit=unit, probe=probe)
        try:
            yield started
        except KeyboardInterrupt:
            self.finish("interrupted")
            raise
        except BaseException:
            self.finish("failed")
            raise
        self.finish()

    # -- time passing ---------------------------------------------------------------------

    def tick(self) -> None:
        """Redraw if the line is due (cheap when it is not)."""
        task = self._task
        if self._err is None or task is None or self._midline:
            return
        now = self._clock()
        # (a few ms of slack: sleeps of exactly one interval must not skip a frame)
        if now - task.started < SHOW_AFTER or now - self._last_draw < REDRAW_INTERVAL - 0.005:
            return
        self._last_draw = now
        self._spin += 1
        text = render_line(task, now - task.started, self._columns(), self._spin)
        if text != self._drawn:
            self._write_err("\r" + _padded(text, self._drawn))
            self._drawn = text

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, redrawing the line (and probing) meanwhile."""
        if self._err is None:
            self._sleep(seconds)
            return
        end = self._clock() + seconds
        while True:
            self._maybe_probe()
            self.tick()
            left = end - self._clock()
            if left <= 0:
                return
            self._sleep(min(left, REDRAW_INTERVAL))

    def _maybe_probe(self) -> None:
        task = self._task
        if task is None or task.probe is None or self._probing:
            return
        now = self._clock()
        if now - self._last_probe < PROBE_INTERVAL:
            return
        self._last_probe = now
        self._probing = True  # a probe's own requests may sleep (429): no probe inside it
        try:
            task.probe(task)
        finally:
            self._probing = False

    # -- the two output streams -----------------------------------------------------------

    def write_out(self, text: str) -> None:
        """Text for stdout: the same bytes in the same order, around the progress line."""
        if self._err is None or not self._hold:
            self._wipe()
            self._out.write(text)
            self._out.flush()
            return
        text = self._held + text
        complete, newline, rest = text.rpartition("\n")
        self._held = rest
        if newline:
            self._wipe()
            self._out.write(complete + newline)
            self._out.flush()
            self._midline = False

    def write_err(self, text: str) -> None:
        """Text for stderr (a message of the command): the line is wiped first and comes back
        at the next redraw."""
        self._wipe()
        if self._err is not None:
            self._write_err(text)
            if text.endswith("\n"):
                self._midline = False

    def close(self, outcome: str = "") -> None:
        """The end of the invocation: the line goes (or stays with ``outcome``), then the
        stdout text still held is written."""
        self.finish(outcome)
        if self._held:
            self._out.write(self._held)
            self._out.flush()
            self._held = ""
            # the terminal's cursor is now after that text: no line may be drawn over it
            self._midline = True

    def _wipe(self) -> None:
        if self._drawn and self._err is not None:
            self._write_err("\r" + " " * len(self._drawn) + "\r")
            self._drawn = ""

    def _write_err(self, text: str) -> None:
        assert self._err is not None
        self._err.write(text)
        self._err.flush()


def _padded(text: str, previous: str) -> str:
    """``text`` with spaces over what is left of a longer previous line."""
    return text + " " * max(len(previous) - len(text), 0)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


_active: Progress | None = None


def active() -> Progress | None:
    """The progress line of the running invocation, if it draws one."""
    return _active


def install(progress: Progress | None) -> None:
    """Make ``progress`` the line the output helpers go around (``None``: no line)."""
    global _active
    _active = progress if progress is not None and progress.enabled else None

"""Commands as argv vectors: never a shell string.

A `Command` is what a transport runs on a node: an argv tuple (``argv[0]`` is the program), a
timeout in seconds, the exit codes that count as success, regular expressions for stderr text
that also count as success (``tolerate``, e.g. ``"not found"``), and optional bytes for stdin.

A `CommandBatch` is Heketi's ``ExecCommands`` unit (internals §4.1): its commands run **in order,
stopping at the first one that fails**; the error shown to users is that command's stderr.

Transports that exec argv directly (local subprocess, Kubernetes exec) prefix `with_sudo` when
configured; transports that must go through a remote shell (ssh) send `to_shell`, which quotes
every element with `shlex.quote`, so ``shlex.split(to_shell(argv)) == list(argv)`` for any argv.
Sudo is ``sudo -n`` (non-interactive): Heketi prepends plain ``sudo`` and documents that it needs
passwordless, tty-less sudo; ``-n`` makes a misconfigured sudoers fail at once with "a password is
required" instead of hanging until the command timeout.

The ``check_*`` helpers validate values before they reach an argv: a NUL can never be passed to
exec, a leading ``-`` would turn a name into an option, and ids end up inside LVM names, paths
and ``sed`` addresses, so they are restricted to ``[A-Za-z0-9_-]`` (Heketi ids are 32 hex chars).
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "SUDO",
    "Command",
    "CommandBatch",
    "Outcome",
    "batch",
    "check_abs_path",
    "check_arg",
    "check_id",
    "minutes",
    "to_shell",
    "with_sudo",
]

SUDO: tuple[str, ...] = ("sudo", "-n")

_ID_RE = re.compile(r"[A-Za-z0-9_-]+")


def minutes(value: float) -> float:
    """Heketi states timeouts in minutes; `Command.timeout` is in seconds."""
    return float(value) * 60.0


class Outcome(Enum):
    """How a finished command is judged."""

    OK = "ok"  # exit code in ok_exit_codes
    TOLERATED = "tolerated"  # failed, but stderr matched a tolerate pattern: counts as success
    FAILED = "failed"


@functools.lru_cache(maxsize=256)
def _tolerate_patterns(tolerate: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """The compiled `tolerate` patterns (a few fixed sets serve every command)."""
    try:
        return tuple(re.compile(p, re.IGNORECASE) for p in tolerate)
    except re.error as exc:
        raise ValueError(f"invalid tolerate pattern: {exc}") from None


@dataclass(frozen=True)
class Command:
    """One program run on a node.

    ``argv`` elements never contain NUL (rejected with ValueError); ``timeout`` is in seconds.
    ``tolerate`` patterns are searched case-insensitively in stderr only when the exit code is
    not an ok one."""

    argv: tuple[str, ...]
    timeout: float
    ok_exit_codes: frozenset[int] = frozenset({0})
    tolerate: tuple[str, ...] = ()
    stdin: bytes | None = None
    _patterns: tuple[re.Pattern[str], ...] = field(
        init=False, repr=False, compare=False, default=()
    )

    def __post_init__(self) -> None:
        if isinstance(self.argv, str | bytes):
            raise TypeError("argv must be a sequence of strings, not a string")
        argv = tuple(self.argv)
        if not argv:
            raise ValueError("argv must not be empty")
        # Checked in one pass over all words (every node command is built here, many per
        # operation); the offending word is looked for only when there is one.
        if not all(isinstance(arg, str) for arg in argv):
            bad = next(arg for arg in argv if not isinstance(arg, str))
            raise TypeError(f"argv elements must be str, got {type(bad).__name__}")
        if "\x00" in "".join(argv):
            bad = next(arg for arg in argv if "\x00" in arg)
            raise ValueError(f"argv element contains NUL: {bad!r}")
        if not argv[0]:
            raise ValueError("argv[0] must not be empty")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, got {self.timeout!r}")
        if self.stdin is not None and not isinstance(self.stdin, bytes):
            raise TypeError("stdin must be bytes or None")
        tolerate = tuple(self.tolerate)
        object.__setattr__(self, "argv", argv)
        object.__setattr__(self, "timeout", float(self.timeout))
        object.__setattr__(self, "ok_exit_codes", frozenset(self.ok_exit_codes))
        object.__setattr__(self, "tolerate", tolerate)
        object.__setattr__(self, "_patterns", _tolerate_patterns(tolerate))

    @property
    def program(self) -> str:
        return self.argv[0]

    def outcome(self, exit_code: int, stderr: str = "") -> Outcome:
        if exit_code in self.ok_exit_codes:
            return Outcome.OK
        if any(p.search(stderr) for p in self._patterns):
            return Outcome.TOLERATED
        return Outcome.FAILED

    def succeeded(self, exit_code: int, stderr: str = "") -> bool:
        return self.outcome(exit_code, stderr) is not Outcome.FAILED

    def shell(self, *, sudo: bool = False) -> str:
        """The command line for a transport that goes through a remote shell."""
        return to_shell(self.argv, sudo=sudo)

    def __str__(self) -> str:
        return to_shell(self.argv)


@dataclass(frozen=True)
class CommandBatch:
    """Commands run in order, stopping at the first whose outcome is FAILED (Heketi's
    ``ExecCommands``)."""

    commands: tuple[Command, ...] = ()

    def __post_init__(self) -> None:
        commands = tuple(self.commands)
        for command in commands:
            if not isinstance(command, Command):
                raise TypeError(f"CommandBatch holds Commands, got {type(command).__name__}")
        object.__setattr__(self, "commands", commands)

    def __iter__(self) -> Iterator[Command]:
        return iter(self.commands)

    def __len__(self) -> int:
        return len(self.commands)

    def __getitem__(self, index: int) -> Command:
        return self.commands[index]

    def __add__(self, other: CommandBatch | Command | Iterable[Command]) -> CommandBatch:
        return batch(self, other)

    @property
    def argvs(self) -> list[tuple[str, ...]]:
        return [command.argv for command in self.commands]

    def first_failure(self, results: Sequence[tuple[int, str]]) -> int | None:
        """Index of the first command whose ``(exit_code, stderr)`` result is a failure, or
        None when every result is OK or tolerated. ``results`` may be shorter than the batch
        (a transport stops at the first failure)."""
        for index, (command, (code, stderr)) in enumerate(
            zip(self.commands, results, strict=False)
        ):
            if not command.succeeded(code, stderr):
                return index
        return None


def batch(*items: Command | CommandBatch | Iterable[Command] | None) -> CommandBatch:
    """Flatten commands, batches and iterables of commands into one batch; None is skipped
    (convenient for optional steps)."""
    out: list[Command] = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, Command):
            out.append(item)
        else:
            out.extend(item)
    return CommandBatch(tuple(out))


def with_sudo(argv: Sequence[str]) -> tuple[str, ...]:
    """``argv`` prefixed with ``sudo -n`` for transports that exec argv directly."""
    return (*SUDO, *argv)


def to_shell(argv: Sequence[str], *, sudo: bool = False) -> str:
    """One shell command line whose words are exactly ``argv`` (each element `shlex.quote`d),
    prefixed with ``sudo -n`` when ``sudo``."""
    if isinstance(argv, str):
        raise TypeError("argv must be a sequence of strings, not a string")
    words = with_sudo(argv) if sudo else tuple(argv)
    if not words:
        raise ValueError("argv must not be empty")
    for word in words:
        if "\x00" in word:
            raise ValueError(f"argv element contains NUL: {word!r}")
    return " ".join(shlex.quote(word) for word in words)


# --------------------------------------------------------------------------------------------
# Validation of values that go into argv


# re's \s is str.isspace's set of characters (both are Py_UNICODE_ISSPACE), searched in C.
_WHITESPACE = re.compile(r"\s")


def check_id(value: str, what: str = "id") -> str:
    """An object id used in LVM names, paths and sed addresses: ``[A-Za-z0-9_-]+``, no leading
    ``-``."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value) or value.startswith("-"):
        raise ValueError(f"{what} must match [A-Za-z0-9_-]+ without a leading '-': {value!r}")
    return value


def check_abs_path(value: str, what: str = "path") -> str:
    """An absolute path (so it can never be read as an option), without NUL."""
    if not isinstance(value, str) or not value.startswith("/") or "\x00" in value:
        raise ValueError(f"{what} must be an absolute path without NUL: {value!r}")
    return value


def check_arg(value: str, what: str = "argument") -> str:
    """A positional word such as a gluster volume or host name: non-empty, no NUL, no
    whitespace, no leading ``-`` (it would be parsed as an option)."""
    if (
        not isinstance(value, str)
        or not value
        or value.startswith("-")
        or "\x00" in value
        or _WHITESPACE.search(value) is not None
    ):
        raise ValueError(
            f"{what} must be a non-empty word without whitespace, NUL or a leading '-': {value!r}"
        )
    return value


# Programs whose first words after the options say what they do ("gluster volume create",
# "lvm lvcreate"): the rest are names and paths, which would make a label per volume.
_SUBCOMMAND_WORDS = {"gluster": 2, "lvm": 1, "udevadm": 1}


def command_name(argv: Sequence[str]) -> str:
    """A short, bounded name of what `argv` runs, for metrics: the program's base name (after
    any wrapper words such as an lvm_wrapper's) and, for gluster, lvm and udevadm, the
    subcommand words."""
    for start, word in enumerate(argv):
        program = word.rsplit("/", 1)[-1]
        wanted = _SUBCOMMAND_WORDS.get(program)
        if wanted is None:
            continue
        words = [w for w in argv[start + 1 :] if not w.startswith("-")][:wanted]
        return " ".join((program, *words))
    return argv[0].rsplit("/", 1)[-1] if argv else ""

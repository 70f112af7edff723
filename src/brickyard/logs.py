"""The server's log: one line per HTTP request, one per operation step, in text or JSON lines.

Brickyard's own loggers live under ``brickyard`` (their level is heketi.json's
glusterfs.loglevel, changed live by POST /internal/logging); everything else (asyncssh,
uvicorn, the database drivers) goes through the root logger, at WARNING unless the admin asks
for more (``--log-third-party LEVEL`` or BRICKYARD_LOG_THIRD_PARTY). A handler on the root
logger writes every line to stderr, formatted once, as text (the default) or JSON
(``--log-format json`` or BRICKYARD_LOG_FORMAT=json).

The two kinds of lines the admin reads most are events (`AccessEntry`, `StepEntry`): the text
formatter writes their summary, the JSON one their fields. They are built only when INFO is
enabled for their logger and emitted without the stack walk `Logger.info` does (`emit`): a
line per request is paid by every request. See docs/logging.md."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
import sys
import time
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any, Literal

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")
THIRD_PARTY_LEVELS = ("debug", "info", "warning", "error", "critical")
ENV_FORMAT = "BRICKYARD_LOG_FORMAT"
ENV_THIRD_PARTY = "BRICKYARD_LOG_THIRD_PARTY"

ACCESS = logging.getLogger("brickyard.access")
STEPS = logging.getLogger("brickyard.operations")

# The request a line belongs to: set for each HTTP request; the background task of a job
# started by a request inherits it (asyncio copies the context), so its step lines carry it.
REQUEST_ID: ContextVar[str] = ContextVar("brickyard_request_id", default="")

# Request ids: this process's random prefix and a counter (unique across servers sharing a
# database, and far cheaper than a random id per request).
_PREFIX = secrets.token_hex(4)
_counter = itertools.count(1)


def new_request_id() -> str:
    return f"{_PREFIX}-{next(_counter):x}"


@dataclass(slots=True)
class AccessEntry:
    """One HTTP request, as Heketi's access log has it, with our request id."""

    method: str
    path: str  # without the query string: a token may ride in it
    status: int
    duration_ms: float
    peer: str
    request_id: str

    def __str__(self) -> str:
        return (
            f"{self.method} {self.path} {self.status} {self.duration_ms:.2f}ms "
            f"peer={self.peer} req={self.request_id}"
        )

    def fields(self) -> dict[str, Any]:
        return {
            "event": "request",
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "peer": self.peer,
            "request_id": self.request_id,
        }


@dataclass(slots=True)
class StepEntry:
    """One step of an operation: its plan, a journal record, its end."""

    op_type: str
    op_id: str
    step: str
    outcome: str
    duration_ms: float  # since the operation's previous step (its start for the first)
    request_id: str
    detail: str = ""  # how many records, the queue id, why it failed...

    def __str__(self) -> str:
        text = (
            f"operation {self.op_type} {self.op_id} {self.step} {self.outcome} "
            f"{self.duration_ms:.2f}ms req={self.request_id or '-'}"
        )
        return f"{text} {self.detail}" if self.detail else text

    def fields(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "event": "step",
            "operation": self.op_type,
            "operation_id": self.op_id,
            "step": self.step,
            "outcome": self.outcome,
            "duration_ms": round(self.duration_ms, 3),
            "request_id": self.request_id,
        }
        if self.detail:
            found["detail"] = self.detail
        return found


Event = AccessEntry | StepEntry


class EventRecord(logging.LogRecord):
    """The record of an event, made for a fraction of a LogRecord's cost: no caller's file,
    line, thread or process is looked up (these lines never show them); handlers and
    formatters still find every attribute a LogRecord has, in its ``__dict__`` (where
    %-style formats look)."""

    def __init__(self, name: str, level: int, event: Event) -> None:
        # LogRecord.__init__ is not called: it computes what these lines never show.
        self.__dict__.update(_UNKNOWN)
        self.name = name
        self.msg = event
        self.levelno = level
        self.levelname = logging.getLevelName(level)
        self.created = time.time()
        self.msecs = (self.created - int(self.created)) * 1000
        self.relativeCreated = (self.created - _STARTED) * 1000


_UNKNOWN: dict[str, Any] = {
    "args": (),
    "exc_info": None,
    "exc_text": None,
    "stack_info": None,
    "pathname": "",
    "filename": "",
    "module": "",
    "lineno": 0,
    "funcName": None,
    "thread": None,
    "threadName": None,
    "process": None,
    "processName": None,
    "taskName": None,
}
_STARTED = time.time()


def emit(logger: logging.Logger, event: Event, level: int = logging.INFO) -> None:
    """Log `event` (the caller checked ``logger.isEnabledFor(level)`` before building it),
    without `Logger.info`'s walk up the stack for a caller's file and line."""
    logger.handle(EventRecord(logger.name, level, event))


def step(
    op_type: str,
    op_id: str,
    name: str,
    outcome: str,
    duration_ms: float,
    detail: str = "",
    level: int = logging.INFO,
) -> None:
    """One operation step line, carrying the request that started the operation. Its detail
    may be an error's text (a node's answer): scrubbed as a free-form message is."""
    if STEPS.isEnabledFor(level):
        request = REQUEST_ID.get()
        text = redact(detail) if detail else ""
        emit(STEPS, StepEntry(op_type, op_id, name, outcome, duration_ms, request, text), level)


# -- secrets ----------------------------------------------------------------------------------
# Free-form messages (exceptions, third-party lines) are scrubbed of what looks like a secret:
# a bearer token or a JWT, a password in a URL, a private key. Events are built from fields
# that hold none (the path without its query, ids, durations) and are not scanned.
_SECRET = re.compile(
    r"(?P<bearer>\bbearer\s+)\S+"
    r"|(?P<jwt>\beyJ[\w-]*\.[\w-]+\.[\w-]*)"
    r"|(?P<url>://[^/\s:@]*:)[^/\s@]+@"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
    r"|(?P<keyword>\b(?:password|passwd|token|secret|key)=)[^\s&;,]+",
    re.IGNORECASE | re.DOTALL,
)


def _hide(match: re.Match[str]) -> str:
    for group in ("bearer", "url", "keyword"):
        if match.group(group):
            return match.group(group) + "***" + ("@" if group == "url" else "")
    return "***"


def redact(text: str) -> str:
    return _SECRET.sub(_hide, text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str) -> str:
    """A message as one line: a newline or other control character a client put in a path or
    a name is written escaped, never as a line of its own."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


# -- formatters -------------------------------------------------------------------------------
class _Clock:
    """The time of a line, formatted once per second (most lines share their second)."""

    def __init__(self, pattern: str, convert: Any = time.localtime) -> None:
        self.pattern = pattern
        self.convert = convert
        self._second = -1
        self._text = ""

    def at(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._text = time.strftime(self.pattern, self.convert(second))
        return self._text


def _message(record: logging.LogRecord) -> str:
    if isinstance(record.msg, AccessEntry | StepEntry):
        return one_line(str(record.msg))
    return one_line(redact(record.getMessage()))


def _exception(record: logging.LogRecord) -> str:
    if record.exc_info is None:
        return ""
    return redact("".join(traceback.format_exception(*record.exc_info)).rstrip())


class TextFormatter(logging.Formatter):
    """``[brickyard] INFO 2026-12-06 23:00:00,123 message``: the logger's top name in
    brackets (``[asyncssh]`` for asyncssh's lines), as the server always wrote them."""

    def __init__(self) -> None:
        super().__init__()
        self._clock = _Clock("%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        source = record.name.partition(".")[0] or "root"
        when = f"{self._clock.at(record.created)},{int(record.msecs):03d}"
        line = f"[{source}] {record.levelname} {when} {_message(record)}"
        trace = _exception(record)
        # A traceback keeps its lines (read by a human); each is indented under its message.
        return f"{line}\n    " + trace.replace("\n", "\n    ") if trace else line


# One encoder for every line (json.dumps with options builds a new one per call). ASCII only:
# every byte a client sent stays on its line, escaped.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, msg, and an event's own
    fields (event, request_id, operation_id, duration_ms...); a traceback in "exception"."""

    def __init__(self) -> None:
        super().__init__()
        self._clock = _Clock("%Y-%m-%dT%H:%M:%S", time.gmtime)

    def format(self, record: logging.LogRecord) -> str:
        found: dict[str, Any] = {
            "time": f"{self._clock.at(record.created)}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _message(record),
        }
        if isinstance(record.msg, AccessEntry | StepEntry):
            found.update(record.msg.fields())
        trace = _exception(record)
        if trace:
            found["exception"] = trace
        return _encode(found)


# -- set-up -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogOptions:
    format: LogFormat = "text"
    third_party: str = "warning"  # the level of every logger outside ``brickyard``

    @classmethod
    def resolve(cls, log_format: str | None, third_party: str | None) -> LogOptions:
        """The command line's choices, else the environment's, else the defaults. Raises
        ValueError for a value that is not one of the choices."""
        chosen = (log_format or os.environ.get(ENV_FORMAT) or "text").lower()
        if chosen not in FORMATS:
            raise ValueError(f"log format {chosen!r}: use one of {', '.join(FORMATS)}")
        level = (third_party or os.environ.get(ENV_THIRD_PARTY) or "warning").lower()
        if level not in THIRD_PARTY_LEVELS:
            raise ValueError(
                f"third-party log level {level!r}: use one of {', '.join(THIRD_PARTY_LEVELS)}"
            )
        return cls("json" if chosen == "json" else "text", level)


def configure(options: LogOptions, stream: IO[str] | None = None) -> logging.Handler:
    """Install the one handler (on the root logger) and the levels: brickyard's at INFO until
    the configuration's loglevel is applied, everything else at `options.third_party`."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if options.format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(options.third_party.upper())
    logging.getLogger("brickyard").setLevel(logging.INFO)
    # Python's warnings (a library's deprecation notice) as lines of this log, not raw text
    # on stderr: in JSON mode every line still parses.
    logging.captureWarnings(True)
    # No line shows the thread or process: not looked up for every record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    return handler


def announce(options: LogOptions, text: str) -> None:
    """A start-up message Heketi prints on stdout ("Listening on port 8080"): printed as it is
    in text mode; a log line in JSON mode, so that every line of the output parses."""
    if options.format == "json":
        # Whatever the level, as the printed message is (`handle` does not look at it).
        logger = logging.getLogger("brickyard")
        logger.handle(logger.makeRecord(logger.name, logging.INFO, "", 0, text, (), None))
    else:
        print(text, flush=True)

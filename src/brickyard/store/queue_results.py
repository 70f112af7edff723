"""Outcomes of asynchronous requests kept in the database, so a client polling /queue/<id>
gets its answer even across a server restart (Heketi keeps them in memory only)."""

from __future__ import annotations

from dataclasses import dataclass

from . import schema
from .sql import SqlStore, Transaction

RUNNING, DONE, FAILED = "running", "done", "failed"

_TABLE = schema.QUEUE_RESULTS
_INSERT = _TABLE.insert()
_FINISH = (
    "UPDATE queue_results SET status = :status, redirect = :redirect, error = :error "
    "WHERE id = :queue_id"
)
_GET = f"{_TABLE.select} WHERE id = :queue_id"
_DELETE = "DELETE FROM queue_results WHERE id = :queue_id"
_RUNNING = f"{_TABLE.select} WHERE status = '{RUNNING}'"
_PRUNE = f"DELETE FROM queue_results WHERE status != '{RUNNING}' AND created < :before"
_ADOPT = f"UPDATE queue_results SET server = :heir WHERE server = :dead AND status = '{RUNNING}'"


@dataclass(frozen=True)
class QueueResult:
    id: str
    op_id: str
    description: str
    status: str
    resource: str  # where a success redirects, when known at submission ("" otherwise)
    redirect: str | None
    error: str | None
    created: float
    server: str = ""  # whose job it is: the server that runs it, or took it over


def _result(row: tuple[object, ...]) -> QueueResult:
    return QueueResult(*row)  # type: ignore[arg-type]


def add(store: SqlStore, result: QueueResult) -> None:
    store.quick_write(_INSERT, dict(result.__dict__))


def add_in(tx: Transaction, result: QueueResult) -> None:
    """`add`, inside a transaction of the caller's."""
    tx.execute(_INSERT, dict(result.__dict__))


def finish_in(
    tx: Transaction, queue_id: str, status: str, redirect: str | None, error: str | None
) -> None:
    """`finish`, inside a transaction of the caller's."""
    tx.execute(
        _FINISH, {"queue_id": queue_id, "status": status, "redirect": redirect, "error": error}
    )


def finish(
    store: SqlStore, queue_id: str, status: str, redirect: str | None, error: str | None
) -> None:
    store.quick_write(
        _FINISH, {"queue_id": queue_id, "status": status, "redirect": redirect, "error": error}
    )


def get(tx: Transaction, queue_id: str) -> QueueResult | None:
    row = tx.execute(_GET, {"queue_id": queue_id}).fetchone()
    return _result(row) if row is not None else None


def delete(store: SqlStore, queue_id: str) -> bool:
    """Forget a result once read. On a shared store, says whether this caller removed it:
    a result another server already handed out is not answered twice."""
    if not store.shared:
        store.quick_write(_DELETE, {"queue_id": queue_id})
        return True
    with store.write() as tx:
        return bool(tx.execute(_DELETE, {"queue_id": queue_id}).rowcount == 1)


def delete_all(store: SqlStore, queue_ids: set[str]) -> None:
    """Forget results read on a store no other server shares (one commit for all)."""
    store.quick_write_many(_DELETE, [{"queue_id": queue_id} for queue_id in sorted(queue_ids)])


def running(tx: Transaction, server: str | None = None) -> list[QueueResult]:
    """Results still running: all of them, or those of `server`."""
    if server is None:
        return [_result(row) for row in tx.execute(_RUNNING).fetchall()]
    found = tx.execute(f"{_RUNNING} AND server = :server", {"server": server}).fetchall()
    return [_result(row) for row in found]


def adopt(tx: Transaction, dead: str, heir: str) -> int:
    """The running results of a dead server become `heir`'s to answer."""
    return int(tx.execute(_ADOPT, {"dead": dead, "heir": heir}).rowcount)


def prune(tx: Transaction, before: float) -> int:
    """Forget finished results nobody read since `before`."""
    return int(tx.execute(_PRUNE, {"before": before}).rowcount)

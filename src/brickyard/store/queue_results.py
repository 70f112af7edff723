"""Outcomes of asynchronous requests kept in the database, so a client polling /queue/<id>
gets its answer even across a server restart (Heketi keeps them in memory only)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select

from .sql import SqlStore, Transaction
from .tables import queue_results

RUNNING, DONE, FAILED = "running", "done", "failed"

_INSERT = queue_results.insert().values({c.name: bindparam(c.name) for c in queue_results.columns})
_FINISH = (
    queue_results.update()
    .where(queue_results.c.id == bindparam("queue_id"))
    .values(status=bindparam("status"), redirect=bindparam("redirect"), error=bindparam("error"))
)
_GET = select(queue_results).where(queue_results.c.id == bindparam("queue_id"))
_DELETE = queue_results.delete().where(queue_results.c.id == bindparam("queue_id"))
_RUNNING = select(queue_results).where(queue_results.c.status == RUNNING)
_PRUNE = queue_results.delete().where(
    queue_results.c.status != RUNNING, queue_results.c.created < bindparam("before")
)


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


def _result(row: object) -> QueueResult:
    values = dict(row._mapping)  # type: ignore[attr-defined]
    return QueueResult(**values)


def add(store: SqlStore, result: QueueResult) -> None:
    store.quick_write(_INSERT, dict(result.__dict__))


def add_in(tx: Transaction, result: QueueResult) -> None:
    """`add`, inside a transaction of the caller's."""
    tx._plain(_INSERT, dict(result.__dict__))


def finish_in(
    tx: Transaction, queue_id: str, status: str, redirect: str | None, error: str | None
) -> None:
    """`finish`, inside a transaction of the caller's."""
    tx._plain(
        _FINISH, {"queue_id": queue_id, "status": status, "redirect": redirect, "error": error}
    )


def finish(
    store: SqlStore, queue_id: str, status: str, redirect: str | None, error: str | None
) -> None:
    store.quick_write(
        _FINISH, {"queue_id": queue_id, "status": status, "redirect": redirect, "error": error}
    )


def get(tx: Transaction, queue_id: str) -> QueueResult | None:
    row = tx.conn.execute(_GET, {"queue_id": queue_id}).first()
    return _result(row) if row is not None else None


def delete(store: SqlStore, queue_id: str) -> bool:
    """Forget a result once read. On a shared store, says whether this caller removed it:
    a result another server already handed out is not answered twice."""
    if not store.shared:
        store.quick_write(_DELETE, {"queue_id": queue_id})
        return True
    with store.write() as tx:
        return bool(tx.conn.execute(_DELETE, {"queue_id": queue_id}).rowcount == 1)


def delete_all(store: SqlStore, queue_ids: set[str]) -> None:
    """Forget results read on a store no other server shares (one commit for all)."""
    store.quick_write_many(_DELETE, [{"queue_id": queue_id} for queue_id in sorted(queue_ids)])


def running(tx: Transaction, server: str | None = None) -> list[QueueResult]:
    """Results still running: all of them, or those of `server`."""
    statement = _RUNNING if server is None else _RUNNING.where(queue_results.c.server == server)
    return [_result(row) for row in tx.conn.execute(statement)]


def adopt(tx: Transaction, dead: str, heir: str) -> int:
    """The running results of a dead server become `heir`'s to answer."""
    return int(
        tx.conn.execute(
            queue_results.update()
            .where(queue_results.c.server == dead, queue_results.c.status == RUNNING)
            .values(server=heir)
        ).rowcount
    )


def prune(tx: Transaction, before: float) -> int:
    """Forget finished results nobody read since `before`."""
    return tx.conn.execute(_PRUNE, {"before": before}).rowcount

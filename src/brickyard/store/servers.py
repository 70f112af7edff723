"""The servers sharing a database, their leases, and the in-flight slots they hold.

Times are the database's clock (Transaction.db_time): every server judges every lease by the
same clock, whatever its own says."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.model import OperationStatus, OperationType
from . import schema
from .db import in_list, like_prefix
from .sql import Transaction

# Advisory lock class of the in-flight count (see sql.PLACEMENT_LOCK_CLASS).
SLOTS_LOCK_CLASS = 0x6272_6B02


@dataclass(frozen=True)
class ServerRecord:
    id: str
    host: str
    pid: int
    address: str
    version: str
    started: float
    renewed: float
    lease: float
    settings: str  # canonical JSON of the settings servers must share

    @property
    def expires(self) -> float:
        return self.renewed + self.lease


def owner_prefix(server_id: str) -> str:
    """Claims of a server's workers are `<server id>/<purpose>` (OperationRunner.owner)."""
    return f"{server_id}/"


# The operations a server's workers hold: their owner starts with `owner_prefix`.
_HELD_BY = "owner LIKE :prefix ESCAPE '/'"
_STALE = OperationStatus.STALE.value


def _held_by(server_id: str) -> dict[str, str]:
    return {"prefix": like_prefix(owner_prefix(server_id))}


def register(tx: Transaction, record: ServerRecord) -> None:
    tx.execute(schema.SERVERS.insert(), dict(record.__dict__))


def all_servers(tx: Transaction) -> list[ServerRecord]:
    found = tx.execute(f"{schema.SERVERS.select} ORDER BY started, id").fetchall()
    return [ServerRecord(*row) for row in found]


def renew(tx: Transaction, server_id: str, now: float) -> bool:
    """Renew the lease of `server_id` and of the operations it holds. False when the row is
    gone: another server presumed this one dead and took its operations over."""
    done = tx.execute(
        "UPDATE servers SET renewed = :now WHERE id = :id", {"now": now, "id": server_id}
    )
    if done.rowcount != 1:
        return False
    tx.execute(
        f"UPDATE pending_operations SET claimed_at = :now WHERE {_HELD_BY}",
        {"now": now, **_held_by(server_id)},
    )
    return True


def remove(tx: Transaction, server_id: str, renewed_before: float | None = None) -> bool:
    """Remove a server's row; with `renewed_before`, only if its lease is still expired then
    (the conditional delete decides which of several servers takes a dead one over)."""
    if renewed_before is None:
        done = tx.execute("DELETE FROM servers WHERE id = :id", {"id": server_id})
    else:
        done = tx.execute(
            "DELETE FROM servers WHERE id = :id AND renewed + lease < :before",
            {"id": server_id, "before": renewed_before},
        )
    return bool(done.rowcount == 1)


def orphan_operations_of(tx: Transaction, server_id: str) -> list[str]:
    """What a dead server held becomes stale and free (to be recovered). Returns the ids."""
    held = _held_by(server_id)
    ids = tx.conn.column(f"SELECT id FROM pending_operations WHERE {_HELD_BY}", held)
    if ids:
        tx.execute(
            f"UPDATE pending_operations SET owner = '', status = :stale WHERE {_HELD_BY}",
            {"stale": _STALE, **held},
        )
    return ids


def orphan_unowned_new(tx: Transaction) -> int:
    """New operations nobody holds (none is written so today; an import may bring them)."""
    done = tx.execute(
        "UPDATE pending_operations SET status = :stale WHERE owner = '' AND status = :new",
        {"stale": _STALE, "new": OperationStatus.NEW.value},
    )
    return int(done.rowcount)


# -- in-flight slots (a global max_inflight_operations on a shared store) ---------------------
_LOCK_SLOTS = "SELECT pg_advisory_xact_lock(CAST(:cls AS integer), 0)"
_LIVE_SLOTS = (
    "SELECT count(*) FROM inflight_slots JOIN servers ON inflight_slots.server = servers.id "
    "WHERE servers.renewed + servers.lease >= :now"
)


def take_slot(tx: Transaction, slot_id: str, server_id: str, limit: int) -> bool:
    """Take a place under `limit`, counting the slots of live servers only (a dead server's
    are dropped when it is taken over, and never count meanwhile)."""
    tx.execute(_LOCK_SLOTS, {"cls": SLOTS_LOCK_CLASS})
    now = tx.db_time()
    if int(tx.conn.scalar(_LIVE_SLOTS, {"now": now})) >= limit:
        return False
    tx.execute(schema.INFLIGHT_SLOTS.insert(), {"id": slot_id, "server": server_id, "taken": now})
    return True


def release_slot(tx: Transaction, slot_id: str) -> None:
    tx.execute("DELETE FROM inflight_slots WHERE id = :id", {"id": slot_id})


def drop_slots(tx: Transaction, server_id: str) -> int:
    done = tx.execute("DELETE FROM inflight_slots WHERE server = :server", {"server": server_id})
    return int(done.rowcount)


def slots_of(tx: Transaction) -> dict[str, int]:
    """Slots held per server."""
    found = tx.execute("SELECT server, count(*) FROM inflight_slots GROUP BY server")
    return {row[0]: int(row[1]) for row in found.fetchall()}


def drop_stale_slots(tx: Transaction, server_id: str, held: set[str]) -> int:
    """Slots of `server_id` its queue no longer holds (a release the database missed)."""
    sql = "DELETE FROM inflight_slots WHERE server = :server"
    params: dict[str, object] = {"server": server_id}
    if held:
        listed, ids = in_list("id", sorted(held))
        sql += f" AND id NOT IN {listed}"
        params.update(ids)
    return int(tx.execute(sql, params).rowcount)


def operations_by_server(tx: Transaction) -> dict[str, list[dict[str, object]]]:
    """The operations each server holds: id, type, what for, since when."""
    found: dict[str, list[dict[str, object]]] = {}
    rows = tx.execute(
        "SELECT id, type, owner, status, claimed_at FROM pending_operations WHERE owner != ''"
    ).fetchall()
    for op_id, op_type, owner, status, claimed_at in rows:
        server, _, purpose = str(owner).partition("/")
        found.setdefault(server, []).append(
            {
                "id": op_id,
                "type": OperationType(op_type).type_name,
                "purpose": purpose,
                "status": status,
                "lease_renewed": claimed_at,
            }
        )
    return found


def operations_held_by(tx: Transaction, server_id: str) -> list[tuple[str, str]]:
    """(operation id, owner) of every operation `server_id`'s workers hold."""
    found = tx.execute(
        f"SELECT id, owner FROM pending_operations WHERE {_HELD_BY}", _held_by(server_id)
    )
    return [(row[0], row[1]) for row in found.fetchall()]


def release_abandoned(tx: Transaction, op_id: str, owner: str) -> bool:
    """Free an operation its holder no longer works on (stale: to be recovered)."""
    done = tx.execute(
        "UPDATE pending_operations SET owner = '', status = :stale "
        "WHERE id = :op AND owner = :owner",
        {"stale": _STALE, "op": op_id, "owner": owner},
    )
    return bool(done.rowcount == 1)

"""The servers sharing a database, their leases, and the in-flight slots they hold.

Times are the database's clock (Transaction.db_time): every server judges every lease by the
same clock, whatever its own says."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, text

from ..domain.model import OperationStatus, OperationType
from .sql import Transaction
from .tables import inflight_slots, pending_operations, servers

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


def register(tx: Transaction, record: ServerRecord) -> None:
    tx.conn.execute(servers.insert().values(**record.__dict__))


def all_servers(tx: Transaction) -> list[ServerRecord]:
    rows = tx.conn.execute(select(servers).order_by(servers.c.started, servers.c.id))
    return [ServerRecord(**dict(row._mapping)) for row in rows]


def renew(tx: Transaction, server_id: str, now: float) -> bool:
    """Renew the lease of `server_id` and of the operations it holds. False when the row is
    gone: another server presumed this one dead and took its operations over."""
    done = tx.conn.execute(servers.update().where(servers.c.id == server_id).values(renewed=now))
    if done.rowcount != 1:
        return False
    tx.conn.execute(
        pending_operations.update()
        .where(pending_operations.c.owner.startswith(owner_prefix(server_id), autoescape=True))
        .values(claimed_at=now)
    )
    return True


def remove(tx: Transaction, server_id: str, renewed_before: float | None = None) -> bool:
    """Remove a server's row; with `renewed_before`, only if its lease is still expired then
    (the conditional delete decides which of several servers takes a dead one over)."""
    statement = servers.delete().where(servers.c.id == server_id)
    if renewed_before is not None:
        statement = statement.where(servers.c.renewed + servers.c.lease < renewed_before)
    return bool(tx.conn.execute(statement).rowcount == 1)


def orphan_operations_of(tx: Transaction, server_id: str) -> list[str]:
    """What a dead server held becomes stale and free (to be recovered). Returns the ids."""
    held = pending_operations.c.owner.startswith(owner_prefix(server_id), autoescape=True)
    ids = [row[0] for row in tx.conn.execute(select(pending_operations.c.id).where(held))]
    if ids:
        tx.conn.execute(
            pending_operations.update()
            .where(held)
            .values(owner="", status=OperationStatus.STALE.value)
        )
    return ids


def orphan_unowned_new(tx: Transaction) -> int:
    """New operations nobody holds (none is written so today; an import may bring them)."""
    return int(
        tx.conn.execute(
            pending_operations.update()
            .where(
                pending_operations.c.owner == "",
                pending_operations.c.status == OperationStatus.NEW.value,
            )
            .values(status=OperationStatus.STALE.value)
        ).rowcount
    )


# -- in-flight slots (a global max_inflight_operations on a shared store) ---------------------
_LOCK_SLOTS = text("SELECT pg_advisory_xact_lock(CAST(:cls AS integer), 0)")
_LIVE_SLOTS = (
    select(func.count())
    .select_from(inflight_slots.join(servers, inflight_slots.c.server == servers.c.id))
    .where(servers.c.renewed + servers.c.lease >= bindparam("now"))
)


def take_slot(tx: Transaction, slot_id: str, server_id: str, limit: int) -> bool:
    """Take a place under `limit`, counting the slots of live servers only (a dead server's
    are dropped when it is taken over, and never count meanwhile)."""
    tx.conn.execute(_LOCK_SLOTS, {"cls": SLOTS_LOCK_CLASS})
    now = tx.db_time()
    if int(tx.conn.execute(_LIVE_SLOTS, {"now": now}).scalar_one()) >= limit:
        return False
    tx.conn.execute(inflight_slots.insert().values(id=slot_id, server=server_id, taken=now))
    return True


def release_slot(tx: Transaction, slot_id: str) -> None:
    tx.conn.execute(inflight_slots.delete().where(inflight_slots.c.id == slot_id))


def drop_slots(tx: Transaction, server_id: str) -> int:
    return int(
        tx.conn.execute(
            inflight_slots.delete().where(inflight_slots.c.server == server_id)
        ).rowcount
    )


def slots_of(tx: Transaction) -> dict[str, int]:
    """Slots held per server."""
    rows = tx.conn.execute(
        select(inflight_slots.c.server, func.count()).group_by(inflight_slots.c.server)
    )
    return {row[0]: int(row[1]) for row in rows}


def drop_stale_slots(tx: Transaction, server_id: str, held: set[str]) -> int:
    """Slots of `server_id` its queue no longer holds (a release the database missed)."""
    statement = inflight_slots.delete().where(inflight_slots.c.server == server_id)
    if held:
        statement = statement.where(inflight_slots.c.id.not_in(sorted(held)))
    return int(tx.conn.execute(statement).rowcount)


def operations_by_server(tx: Transaction) -> dict[str, list[dict[str, object]]]:
    """The operations each server holds: id, type, what for, since when."""
    found: dict[str, list[dict[str, object]]] = {}
    rows = tx.conn.execute(
        select(
            pending_operations.c.id,
            pending_operations.c.type,
            pending_operations.c.owner,
            pending_operations.c.status,
            pending_operations.c.claimed_at,
        ).where(pending_operations.c.owner != "")
    )
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
    held = pending_operations.c.owner.startswith(owner_prefix(server_id), autoescape=True)
    rows = tx.conn.execute(select(pending_operations.c.id, pending_operations.c.owner).where(held))
    return [(row[0], row[1]) for row in rows]


def release_abandoned(tx: Transaction, op_id: str, owner: str) -> bool:
    """Free an operation its holder no longer works on (stale: to be recovered)."""
    done = tx.conn.execute(
        pending_operations.update()
        .where(pending_operations.c.id == op_id, pending_operations.c.owner == owner)
        .values(owner="", status=OperationStatus.STALE.value)
    )
    return bool(done.rowcount == 1)

"""What the store reports to the services. The services catch these, never the database
driver's own exceptions: store.db translates them."""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store's errors."""


class StaleSpace(StoreError):
    """A device no longer has the space a placement counted on (another writer took it)."""


class Duplicate(StoreError):
    """A row breaks a uniqueness rule (a hostname or volume name already used)."""


class ClaimLost(StoreError):
    """The operation is not held by the worker that tried to change it: another worker claimed
    it, or it is finished. The change is not made."""

    def __init__(self, op_id: str, owner: str) -> None:
        super().__init__(f"operation {op_id} is not held by {owner}")
        self.op_id = op_id
        self.owner = owner


class DatabaseError(Exception):
    """The database driver failed (what SQLAlchemy called DBAPIError): `orig` is the driver's
    own exception. Not a StoreError: the services treat it as the database being in trouble,
    never as an answer about the data."""

    def __init__(self, orig: BaseException) -> None:
        super().__init__(str(orig))
        self.orig = orig


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached or the connection broke (PostgreSQL restarting, a
    network cut, a locked or unreadable SQLite file): worth retrying later."""


class IntegrityViolation(DatabaseError):
    """A row broke a constraint (a unique or foreign key)."""

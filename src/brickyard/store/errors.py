"""What the store reports to the services. The services catch these, never the database
driver's or SQLAlchemy's own exceptions: the adapter translates them."""

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

"""Domain errors. Each kind maps to one HTTP status in the API layer; the message is what
the user sees, so it keeps Heketi's wording where clients depend on it."""


class BrickyardError(Exception):
    """Base of every error the service layer reports to a caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(BrickyardError):
    def __init__(self, message: str = "Id not found") -> None:
        super().__init__(message)


class InvalidRequest(BrickyardError):
    """The request is understood but refused (HTTP 400)."""


class Conflict(BrickyardError):
    """The target is in a state that forbids the request (HTTP 409)."""


class Busy(BrickyardError):
    """Too many operations in flight (HTTP 429)."""

    def __init__(self, message: str = "Server busy. Retry operation later.") -> None:
        super().__init__(message)


class OperationFailed(BrickyardError):
    """An operation failed while planning or running (HTTP 500)."""


class PendingConflict(OperationFailed):
    """The object is already being changed by another operation."""

    def __init__(self) -> None:
        super().__init__("The target exists, contains other items, or is in use.")


class PlacementError(OperationFailed):
    """No placement satisfies the request. Heketi reports these as 'No space'."""


class NoSpace(PlacementError):
    """Heketi's "No space", with what exactly did not fit after the colon."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("No space" + (f": {detail}" if detail else ""))
        self.detail = detail


class NodeCommandError(OperationFailed):
    """A command on a storage node failed; the message carries the command and its stderr."""


class NodeUnreachable(NodeCommandError):
    """The node did not answer at all (no route, connection refused, no pod): nothing ran on
    it. Removal and evacuation treat such a node as dead instead of failing."""

"""Exceptions raised by the pure command builders and output parsers."""

from __future__ import annotations

__all__ = ["GlusterError", "GlusterOutputError", "OutputParseError"]


class OutputParseError(ValueError):
    """A node tool (lvm, findmnt, df, losetup, ...) printed something we cannot read."""


class GlusterError(Exception):
    """The gluster CLI refused an operation.

    Raised for ``--xml`` replies whose ``opRet`` is non-zero or whose ``opErrstr`` is non-empty:
    the CLI exits 0 in that case, so the exit status alone proves nothing. ``message`` is the
    ``opErrstr`` text (what Heketi shows users); ``op_ret`` and ``op_errno`` are kept for callers
    that need to tell errors apart."""

    def __init__(self, message: str, *, op_ret: int | None = None, op_errno: int | None = None):
        super().__init__(message)
        self.message = message
        self.op_ret = op_ret
        self.op_errno = op_errno


class GlusterOutputError(GlusterError):
    """The gluster CLI printed something that is not the expected XML document."""

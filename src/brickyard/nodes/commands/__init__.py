"""Pure command builders and output parsers for real storage nodes.

Nothing here performs I/O: builders return `Command`/`CommandBatch` values (argv tuples, never
shell strings) that a transport runs, and parsers turn the tools' output into values.

* `argv` — `Command`, `CommandBatch`, `Outcome`, `to_shell`, `with_sudo`, input checks.
* `lvm` — Heketi's LVM sequences (internals §4.5), exact.
* `loopfile` — sparse XFS image bricks for hosts without device-mapper.
* `fs` — mkfs/fstab/mount steps shared by both backends.
* `gluster` — gluster CLI commands (§4.5, §4.6, §4.8).
* `parsers` — gluster ``--xml``, LVM JSON, vgdisplay, findmnt, df, losetup, udevadm.
"""

from __future__ import annotations

from . import fs, gluster, loopfile, lvm, parsers
from .argv import Command, CommandBatch, Outcome, batch, to_shell, with_sudo
from .errors import GlusterError, GlusterOutputError, OutputParseError

__all__ = [
    "Command",
    "CommandBatch",
    "GlusterError",
    "GlusterOutputError",
    "Outcome",
    "OutputParseError",
    "batch",
    "fs",
    "gluster",
    "loopfile",
    "lvm",
    "parsers",
    "to_shell",
    "with_sudo",
]

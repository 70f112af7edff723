"""Filesystem steps shared by the LVM and loop-file backends: directories, mkfs.xfs, fstab,
mount/umount, the brick directory and its group ownership.

The two fstab edits are the deliberate differences from Heketi's strings (see `lvm`):

* append: Heketi runs ``awk "BEGIN {print \\"<line>\\" >> \\"<fstab>\\"}"`` through a shell; we
  run ``tee -a <fstab>`` with ``<line>\\n`` on stdin. Same bytes appended, no shell, and no
  quoting hazard if a path contains a quote. (tee echoes the line on stdout; ignore it.)
* remove: Heketi's ``sed -i.save "/brick_<id>/d" <fstab>`` is already one argv once the shell
  quotes are gone: ``("sed", "-i.save", "/brick_<id>/d", <fstab>)``. The id is restricted to
  ``[A-Za-z0-9_-]`` so the address cannot contain ``/`` or regex metacharacters.

Fields written to fstab are escaped the way fstab(5) reads them (space ``\\040``, tab ``\\011``,
newline ``\\012``, backslash ``\\134``); for Heketi's paths this changes nothing.
"""

from __future__ import annotations

from .argv import Command, check_abs_path, check_arg, check_id
from .settings import CommandSettings

__all__ = [
    "FINDMNT_COLUMNS",
    "UMOUNT_NOT_MOUNTED",
    "brick_dir_commands",
    "findmnt_all",
    "findmnt_mountpoint",
    "findmnt_target",
    "fstab_append",
    "fstab_escape",
    "fstab_line",
    "fstab_read",
    "fstab_remove_brick",
    "lsof",
    "mkdir",
    "mkdir_p",
    "mkfs_xfs",
    "mkfs_xfs_options",
    "mount",
    "rmdir",
    "umount",
]

FINDMNT_COLUMNS = "TARGET,SOURCE,FSTYPE,OPTIONS"
# umount's messages when nothing is mounted at the path (util-linux): not a failure for us.
UMOUNT_NOT_MOUNTED: tuple[str, ...] = ("not mounted", "no mount point specified")
NO_SUCH_FILE: tuple[str, ...] = ("No such file or directory",)


def mkdir_p(path: str, timeout: float) -> Command:
    return Command(("mkdir", "-p", check_abs_path(path)), timeout)


def mkdir(path: str, timeout: float) -> Command:
    return Command(("mkdir", check_abs_path(path)), timeout)


def rmdir(path: str, timeout: float, *, tolerate_missing: bool = False) -> Command:
    return Command(
        ("rmdir", check_abs_path(path)),
        timeout,
        tolerate=NO_SUCH_FILE if tolerate_missing else (),
    )


def mkfs_xfs_options(cfg: CommandSettings, *, arbiter: bool = False) -> tuple[str, ...]:
    """Heketi's mkfs.xfs options: ``-i size=512 -n size=8192``; with both ``xfs_su`` and
    ``xfs_sw`` set, ``-i size=512 -d su=<su>,sw=<sw> -n size=8192``; arbiter bricks (metadata
    only) ``-i maxpct=100 -n size=8192`` and no stripe geometry."""
    if arbiter:
        return ("-i", "maxpct=100", "-n", "size=8192")
    if cfg.xfs_su > 0 and cfg.xfs_sw > 0:
        return ("-i", "size=512", "-d", f"su={cfg.xfs_su},sw={cfg.xfs_sw}", "-n", "size=8192")
    return ("-i", "size=512", "-n", "size=8192")


def mkfs_xfs(
    cfg: CommandSettings, target: str, timeout: float, *, arbiter: bool = False
) -> Command:
    return Command(
        ("mkfs.xfs", *mkfs_xfs_options(cfg, arbiter=arbiter), check_abs_path(target)), timeout
    )


def fstab_escape(field: str) -> str:
    """Escape one fstab field as fstab(5)/getmntent(3) unescape it."""
    return (
        field.replace("\\", "\\134")
        .replace(" ", "\\040")
        .replace("\t", "\\011")
        .replace("\n", "\\012")
    )


def fstab_line(source: str, target: str, fstype: str, options: str, dump: int, passno: int) -> str:
    fields = (source, target, fstype, options, str(dump), str(passno))
    return " ".join(fstab_escape(f) for f in fields)


def _fstab(cfg: CommandSettings) -> str:
    return check_abs_path(cfg.fstab, "fstab")


def fstab_append(cfg: CommandSettings, line: str, timeout: float) -> Command:
    """Append ``line`` to the configured fstab: ``tee -a <fstab>`` with the line on stdin."""
    if "\n" in line or "\x00" in line:
        raise ValueError(f"an fstab line must be one line without NUL: {line!r}")
    return Command(("tee", "-a", _fstab(cfg)), timeout, stdin=(line + "\n").encode())


def fstab_remove_brick(cfg: CommandSettings, brick_id: str, timeout: float) -> Command:
    """``sed -i.save /brick_<id>/d <fstab>`` (Heketi's line, minus the shell quotes)."""
    return Command(
        ("sed", "-i.save", f"/brick_{check_id(brick_id, 'brick id')}/d", _fstab(cfg)), timeout
    )


def fstab_read(cfg: CommandSettings, timeout: float) -> Command:
    """``cat <fstab>``; a missing fstab reads as empty (TOLERATED), since brick create's
    ``tee -a`` would create it."""
    return Command(("cat", _fstab(cfg)), timeout, tolerate=NO_SUCH_FILE)


def mount(options: str, source: str, target: str, timeout: float) -> Command:
    return Command(
        (
            "mount",
            "-o",
            check_arg(options, "mount options"),
            check_abs_path(source),
            check_abs_path(target),
        ),
        timeout,
    )


def umount(target: str, timeout: float) -> Command:
    """``umount <target>``; "not mounted" counts as success. Any other failure must be checked
    with `findmnt_mountpoint` (Heketi runs ``mount`` and accepts when the path is absent)."""
    return Command(("umount", check_abs_path(target)), timeout, tolerate=UMOUNT_NOT_MOUNTED)


def findmnt_mountpoint(target: str, timeout: float) -> Command:
    """What is mounted exactly at ``target``: JSON list output; exit 1 (no output) when
    nothing is, which is an ok exit here."""
    return Command(
        (
            "findmnt",
            "--json",
            "--list",
            "--output",
            FINDMNT_COLUMNS,
            "--mountpoint",
            check_abs_path(target),
        ),
        timeout,
        ok_exit_codes=frozenset({0, 1}),
    )


def kill_mount_users(target: str, timeout: float) -> Command:
    """``fuser -k -M -m <target>``: kill every process using the filesystem mounted at target.
    ``-M`` makes fuser do nothing unless target is a mount point (never the filesystem that
    holds it, e.g. /). Exit 1 means nobody used it."""
    return Command(
        ("fuser", "-k", "-M", "-m", check_abs_path(target, "mount point")),
        timeout,
        ok_exit_codes=frozenset({0, 1}),
    )


def findmnt_all(timeout: float) -> Command:
    """Every mounted filesystem, JSON list output (`parsers.parse_brick_mounts` keeps the
    bricks'). findmnt cannot select targets by path prefix, so the filter is ours."""
    return Command(("findmnt", "--json", "--list", "--output", FINDMNT_COLUMNS), timeout)


def findmnt_target(path: str, timeout: float) -> Command:
    """The filesystem that contains ``path`` (always one entry for an existing path)."""
    return Command(
        ("findmnt", "--json", "--output", FINDMNT_COLUMNS, "--target", check_abs_path(path)),
        timeout,
    )


def lsof(target: str, timeout: float) -> Command:
    """``lsof <mount point>``, only logged (``debug_umount_failures``); exit 1 = no users."""
    return Command(("lsof", check_abs_path(target)), timeout, ok_exit_codes=frozenset({0, 1}))


def brick_dir_commands(brick_path: str, gid: int, timeout: float) -> tuple[Command, ...]:
    """``mkdir <brick path>``, then when ``gid != 0``: ``chown :<gid>`` and ``chmod 2775``."""
    path = check_abs_path(brick_path)
    if gid < 0:
        raise ValueError(f"gid must not be negative: {gid}")
    commands = [mkdir(path, timeout)]
    if gid != 0:
        commands.append(Command(("chown", f":{gid}", path), timeout))
        commands.append(Command(("chmod", "2775", path), timeout))
    return tuple(commands)

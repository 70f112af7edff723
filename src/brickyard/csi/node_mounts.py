"""The node side of the CSI driver: GlusterFS FUSE mounts for kubelet, without gRPC.

``NodeMounts`` does what NodeStageVolume, NodePublishVolume, NodeUnpublishVolume,
NodeUnstageVolume and NodeGetVolumeStats ask (docs/csi-node.md):

* stage: ``mount -t glusterfs -o <options> <server>:/<volume> <staging path>``, once per node;
* publish: a bind mount of the staging path onto the pod's target path (``ro`` when asked);
* unpublish / unstage: unmount (lazily when the plain unmount fails), never leave a mount;
* stats: bytes and inodes from ``statvfs``, ``abnormal`` when the mount is dead.

Every call is idempotent as the CSI spec asks, and retried calls never stack a second mount.
A dead mount (its client gone: ``Transport endpoint is not connected``) is unmounted and
mounted again on the next stage or publish of the volume, from the stage record kept in the
state directory.  Commands are argv lists (never a shell line); every path is checked to be
under ``allowed_roots`` once resolved, and every value of the volume context is matched
against the strict patterns of :mod:`brickyard.domain.validation` before it reaches ``mount``.

The GlusterFS client (the ``glusterfs`` process that serves the FUSE mount) must outlive the
plugin: the mount is started in a cgroup of its own (``client_cgroup``), or in a transient
systemd scope when the host runs systemd, or at least in a session of its own; see
docs/csi-node.md for what the DaemonSet needs.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brickyard.domain.validation import VOLUME_NAME, is_valid_hostname

__all__ = [
    "CODES",
    "DEAD_ERRNOS",
    "CommandResult",
    "MountEntry",
    "MountError",
    "NodeMounts",
    "VolumeStats",
    "parse_findmnt",
]

log = logging.getLogger(__name__)

# The gRPC status names a MountError may carry (csi-core maps them 1:1 to grpc.StatusCode).
CODES = frozenset(
    {
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "FAILED_PRECONDITION",
        "ABORTED",
        "INTERNAL",
    }
)

# What statvfs on a FUSE mount whose client is gone (killed, crashed, its connection aborted)
# or whose servers are unreachable answers.  stat() is not a reliable probe: the kernel may
# answer it from its attribute cache for a while after the client died; statvfs always asks.
# ECONNABORTED: a FUSE connection the kernel aborted when the client died (seen in CI right
# after a SIGKILL of the client, where ENOTCONN is the usual answer).
DEAD_ERRNOS = frozenset(
    {
        errno.ENOTCONN,
        errno.ECONNABORTED,
        errno.ESTALE,
        errno.EIO,
        errno.EACCES,
        errno.EHOSTDOWN,
    }
)

GLUSTER_FSTYPE = "fuse.glusterfs"
VOLUME_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
HEKETI_ID = re.compile(r"[0-9a-f]{32}")
GID = re.compile(r"[0-9]{1,10}")
MAX_VOLUME_NAME = 255
MAX_PATH = 4096

# Mount flags (a PV's mountOptions, the capability's mount_flags) that mount.glusterfs knows
# and that cannot change what is mounted or where its client writes: bare flags ...
BARE_FLAGS = frozenset(
    {
        "ro", "rw", "acl", "selinux", "worm", "async", "sync", "dirsync", "nofail", "_netdev",
        "atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime",
        "nostrictatime", "lazyatime", "nolazyatime", "dev", "nodev", "exec", "noexec", "suid",
        "nosuid", "auto_unmount", "fopen-keep-cache",
    }
)  # fmt: skip
_NUMBER = re.compile(r"[0-9]{1,12}(\.[0-9]{1,6})?")
_SWITCH = re.compile(r"yes|no|on|off|true|false|enable|disable|1|0")
# ... and key=value flags, each with the pattern its value must match.
VALUE_FLAGS: Mapping[str, re.Pattern[str]] = {
    "log-level": re.compile(r"TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL|NONE"),
    "transport": re.compile(r"tcp|rdma|socket"),
    "direct-io-mode": re.compile(r"enable|disable|auto|yes|no|on|off|true|false"),
    "attribute-timeout": _NUMBER,
    "entry-timeout": _NUMBER,
    "negative-timeout": _NUMBER,
    "gid-timeout": _NUMBER,
    "lru-limit": _NUMBER,
    "invalidate-limit": _NUMBER,
    "background-qlen": _NUMBER,
    "congestion-threshold": _NUMBER,
    "reader-thread-count": _NUMBER,
    "fetch-attempts": _NUMBER,
    "attr-times-granularity": _NUMBER,
    "use-readdirp": _SWITCH,
    "kernel-writeback-cache": _SWITCH,
    "auto-invalidation": _SWITCH,
    "event-history": _SWITCH,
    "fopen-keep-cache": _SWITCH,
    "xlator-option": re.compile(r"[A-Za-z0-9_*.-]{1,128}=[A-Za-z0-9_.:/-]{1,256}"),
}
# Set by the plugin itself, or would change what is mounted: never from a mount flag.
OWN_FLAGS = frozenset({"log-file", "backup-volfile-servers", "backupvolfile-server"})

# Moves itself into a cgroup, then becomes the mount command: the mount helper and the
# glusterfs client it starts are born in that cgroup (what `systemd-run --scope` does, without
# systemd).  A constant program: its arguments arrive as argv, never inside the code.
_ENTER_CGROUP = (
    "import os, sys\n"
    "with open(sys.argv[1], 'w') as procs:\n"
    "    procs.write('0')\n"
    "try:\n"
    "    os.setsid()\n"
    "except OSError:\n"
    "    pass\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


class MountError(Exception):
    """A failed node call: `code` is a gRPC status name (see CODES), `message` names the
    problem."""

    def __init__(self, code: str, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"unknown MountError code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class VolumeStats:
    """Bytes and inodes of the mounted filesystem; abnormal + message when the mount is dead."""

    total_bytes: int
    used_bytes: int
    available_bytes: int
    total_inodes: int
    used_inodes: int
    available_inodes: int
    abnormal: bool = False
    message: str = ""


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str = ""
    stderr: str = ""


# runner(argv, timeout) -> CommandResult: how commands run (tests pass a fake one).
Runner = Callable[[Sequence[str], float], CommandResult]
# probe(path) -> 0 when the mounted filesystem answers, else the errno of statvfs.
Probe = Callable[[str], int]


def run_command(argv: Sequence[str], timeout: float) -> CommandResult:
    """Run `argv` (no shell), stdin closed, output captured."""
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise MountError("INTERNAL", f"{argv[0]} did not finish in {timeout:g} s") from None
    except OSError as exc:
        raise MountError("INTERNAL", f"cannot run {argv[0]}: {exc.strerror}") from None
    return CommandResult(done.returncode, done.stdout, done.stderr)


def probe_statvfs(path: str) -> int:
    try:
        os.statvfs(path)
    except OSError as exc:
        return exc.errno or errno.EIO
    return 0


@dataclass(frozen=True)
class MountEntry:
    """One line of the mount table (findmnt --list), in the order the kernel lists them: of
    several mounts stacked on one target, the last is the one on top."""

    target: str
    source: str
    fstype: str
    options: tuple[str, ...]

    @property
    def read_only(self) -> bool:
        return "ro" in self.options

    @property
    def gluster_volume(self) -> str | None:
        """The volume name of a GlusterFS mount ("host:/name" or "host:name"), else None."""
        if self.fstype != GLUSTER_FSTYPE or ":" not in self.source:
            return None
        name = self.source.rsplit(":", 1)[1].lstrip("/")
        return name.split("/", 1)[0] or None


_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def _unescape(value: str) -> str:
    """findmnt writes spaces and other unsafe bytes of paths as \\xNN."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


def parse_findmnt(text: str) -> list[MountEntry]:
    """Entries of ``findmnt --json --list --output TARGET,SOURCE,FSTYPE,OPTIONS``."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MountError("INTERNAL", f"findmnt printed no JSON: {exc}") from None
    entries = []
    for row in data.get("filesystems") or []:
        entries.append(
            MountEntry(
                target=_unescape(str(row.get("target") or "")),
                source=_unescape(str(row.get("source") or "")),
                fstype=str(row.get("fstype") or ""),
                options=tuple(str(row.get("options") or "").split(",")),
            )
        )
    return entries


@dataclass
class StageRecord:
    """What the stage of a volume did: enough to mount it again after its client died."""

    volume_id: str
    server: str
    volume: str
    backup_servers: list[str]
    mount_flags: list[str]
    read_only: bool
    staging_path: str
    targets: dict[str, bool] = field(default_factory=dict)  # target path -> read_only

    @property
    def source(self) -> str:
        return f"{self.server}:/{self.volume}"

    def to_json(self) -> dict[str, Any]:
        return {
            "volume_id": self.volume_id,
            "server": self.server,
            "volume": self.volume,
            "backup_servers": self.backup_servers,
            "mount_flags": self.mount_flags,
            "read_only": self.read_only,
            "staging_path": self.staging_path,
            "targets": self.targets,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StageRecord:
        return cls(
            volume_id=str(data["volume_id"]),
            server=str(data["server"]),
            volume=str(data["volume"]),
            backup_servers=[str(s) for s in data.get("backup_servers") or []],
            mount_flags=[str(f) for f in data.get("mount_flags") or []],
            read_only=bool(data.get("read_only")),
            staging_path=str(data["staging_path"]),
            targets={str(k): bool(v) for k, v in (data.get("targets") or {}).items()},
        )


def _plain_hostname(value: str, what: str) -> str:
    # mount.glusterfs splits backup servers on ':' and "host:/volume" on the last ':': an
    # IPv6 address cannot be given to it, and is refused here with its reason.
    if ":" in value:
        raise MountError("INVALID_ARGUMENT", f"{what} {value!r}: IPv6 addresses are not supported")
    if not is_valid_hostname(value):
        raise MountError("INVALID_ARGUMENT", f"{what} {value!r} is not a valid hostname")
    return value


def validate_context(context: Mapping[str, str]) -> tuple[str, str, list[str]]:
    """(server, volume, backup servers) of a volume context, every value checked."""
    server = context.get("server", "")
    volume = context.get("volume", "")
    if not server:
        raise MountError("INVALID_ARGUMENT", "volume context has no 'server'")
    if not volume:
        raise MountError("INVALID_ARGUMENT", "volume context has no 'volume'")
    _plain_hostname(server, "volume context 'server'")
    if len(volume) > MAX_VOLUME_NAME or not VOLUME_NAME.fullmatch(volume):
        raise MountError("INVALID_ARGUMENT", f"volume context 'volume' {volume!r} is not valid")
    backups: list[str] = []
    for host in (context.get("backup-volfile-servers") or "").split(","):
        host = host.strip()
        if host:
            backups.append(_plain_hostname(host, "volume context 'backup-volfile-servers' entry"))
    gid = context.get("gid")
    if gid is not None and gid != "" and not GID.fullmatch(gid):
        raise MountError("INVALID_ARGUMENT", f"volume context 'gid' {gid!r} is not a number")
    hid = context.get("heketi-volume-id")
    if hid and not HEKETI_ID.fullmatch(hid):
        raise MountError(
            "INVALID_ARGUMENT", f"volume context 'heketi-volume-id' {hid!r} is not 32 hex digits"
        )
    return server, volume, [h for h in dict.fromkeys(backups) if h != server]


def validate_mount_flags(flags: Sequence[str]) -> list[str]:
    """The flags, each checked against the known safe ones; duplicates dropped."""
    checked: list[str] = []
    for flag in flags:
        flag = flag.strip()
        if not flag:
            continue
        if "," in flag:
            raise MountError(
                "INVALID_ARGUMENT", f"mount flag {flag!r}: give one flag per entry, no commas"
            )
        key, eq, value = flag.partition("=")
        if key in OWN_FLAGS:
            raise MountError("INVALID_ARGUMENT", f"mount flag {key!r} is set by the driver")
        if not eq:
            if key not in BARE_FLAGS:
                raise MountError("INVALID_ARGUMENT", f"mount flag {flag!r} is not supported")
        else:
            pattern = VALUE_FLAGS.get(key)
            if pattern is None:
                raise MountError("INVALID_ARGUMENT", f"mount flag {key!r} is not supported")
            if not pattern.fullmatch(value):
                raise MountError("INVALID_ARGUMENT", f"mount flag {key!r}: bad value {value!r}")
        if flag not in checked:
            checked.append(flag)
    return checked


def _atomic_write(path: Path, data: bytes) -> None:
    """Write `path` (mode 0600) so that a crash leaves the old or the new content, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class NodeMounts:
    """Stage, publish, unpublish, unstage and stats of GlusterFS volumes on this node.

    `state_dir` keeps a record per staged volume (``volumes/<id>.json``) and the clients'
    log files (``logs/<volume>.log``).  `runner` and `probe` are for tests.
    `client_cgroup` (env ``BRICKYARD_CSI_CLIENT_CGROUP``): a cgroup v2 directory the
    GlusterFS client is started in, outside the plugin container's cgroup.  `systemd` (env
    ``BRICKYARD_CSI_SYSTEMD``, "0" to disable): start it in a transient systemd scope instead;
    by default when the host runs systemd.  Otherwise the client gets a session of its own."""

    def __init__(
        self,
        state_dir: Path,
        *,
        allowed_roots: Sequence[Path] = (Path("/var/lib/kubelet"),),
        runner: Runner | None = None,
        probe: Probe | None = None,
        client_cgroup: Path | None = None,
        systemd: bool | None = None,
        command_timeout: float = 120.0,
        lock_timeout: float = 300.0,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        if "," in str(self.state_dir) or not str(self.state_dir).isprintable():
            raise ValueError(f"state dir {self.state_dir}: no commas or control characters")
        self.allowed_roots = tuple(Path(os.path.realpath(root)) for root in allowed_roots)
        if not self.allowed_roots:
            raise ValueError("allowed_roots is empty")
        self.runner: Runner = runner or run_command
        self.probe: Probe = probe or probe_statvfs
        if client_cgroup is None and os.environ.get("BRICKYARD_CSI_CLIENT_CGROUP"):
            client_cgroup = Path(os.environ["BRICKYARD_CSI_CLIENT_CGROUP"])
        self.client_cgroup = client_cgroup
        if systemd is None:
            env = os.environ.get("BRICKYARD_CSI_SYSTEMD", "")
            if env:
                systemd = env not in ("0", "no", "false")
            else:
                systemd = os.path.isdir("/run/systemd/system") and bool(shutil.which("systemd-run"))
        self.systemd = systemd
        self.command_timeout = command_timeout
        self.lock_timeout = lock_timeout
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.volumes_dir = self.state_dir / "volumes"
        self.logs_dir = self.state_dir / "logs"
        for directory in (self.state_dir, self.volumes_dir, self.logs_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    # ---- the API ------------------------------------------------------------------------

    def stage(
        self,
        volume_id: str,
        context: Mapping[str, str],
        staging_path: str,
        mount_flags: Sequence[str],
        read_only: bool,
    ) -> None:
        """Mount the volume at `staging_path` (once: a retry finds it mounted and answers OK)."""
        self._check_id(volume_id)
        server, volume, backups = validate_context(context)
        flags = validate_mount_flags(mount_flags)
        if read_only and "rw" in flags:
            raise MountError("INVALID_ARGUMENT", "mount flag 'rw' given for a read-only stage")
        staging = self._path(staging_path, "staging path")
        record = StageRecord(
            volume_id, server, volume, backups, [f for f in flags if f not in ("ro", "rw")],
            read_only or "ro" in flags, staging,
        )  # fmt: skip
        with self._lock(volume_id):
            old = self._load(volume_id)
            if old is not None and old.staging_path != staging:
                if self._mounts_at(old.staging_path):
                    raise MountError(
                        "FAILED_PRECONDITION",
                        f"volume {volume_id} is already staged at {old.staging_path}",
                    )
                old = None
            if old is not None:
                record.targets = old.targets
            entries = self._mounts_at(staging)
            if entries:
                top = entries[-1]
                if top.gluster_volume != volume:
                    raise MountError(
                        "ALREADY_EXISTS",
                        f"{staging} is already a mount of {top.source} ({top.fstype}), "
                        f"not of volume {volume}",
                    )
                dead = self.probe(staging)
                if dead in DEAD_ERRNOS:
                    log.warning(
                        "staging mount %s of %s is dead (%s): mounting it again",
                        staging, volume, os.strerror(dead),
                    )  # fmt: skip
                    self._unmount_all(staging, volume)
                elif top.read_only != record.read_only:
                    raise MountError(
                        "ALREADY_EXISTS",
                        f"volume {volume} is staged at {staging} "
                        f"{'read-only' if top.read_only else 'read-write'}, "
                        f"asked {'read-only' if record.read_only else 'read-write'}",
                    )
                else:
                    self._save(record)
                    return
            else:
                try:  # the CO makes it; made here too when missing, as a mount point
                    os.makedirs(staging, exist_ok=True)
                except OSError as exc:
                    raise MountError(
                        "INTERNAL", f"cannot create {staging}: {exc.strerror}"
                    ) from None
            self._mount(record)
            self._save(record)

    def unstage(self, volume_id: str, staging_path: str) -> None:
        """Unmount the staging mount; OK when the volume is not staged there."""
        self._check_id(volume_id)
        staging = self._path(staging_path, "staging path")
        with self._lock(volume_id):
            record = self._load(volume_id)
            volume = record.volume if record is not None else None
            if record is not None and record.staging_path == staging:
                # The CO unpublishes every target first (the spec's reference counting): a
                # target still mounted is a pod's, and unmounting under it is refused.
                busy = [t for t in record.targets if self._gluster_mounts_at(t, volume)]
                if busy:
                    raise MountError(
                        "FAILED_PRECONDITION",
                        f"volume {volume_id} is still published at {', '.join(sorted(busy))}",
                    )
            self._unmount_all(staging, volume)
            if record is not None and record.staging_path == staging:
                self._delete_record(volume_id)

    def publish(self, volume_id: str, staging_path: str, target_path: str, read_only: bool) -> None:
        """Bind-mount the staged volume onto `target_path` (created), read-only when asked."""
        self._check_id(volume_id)
        staging = self._path(staging_path, "staging path")
        target = self._path(target_path, "target path")
        if target == staging:
            raise MountError("INVALID_ARGUMENT", "target path is the staging path")
        with self._lock(volume_id):
            record = self._load(volume_id)
            if record is not None and record.staging_path != staging:
                record = None
            volume, record = self._ensure_staged(volume_id, staging, record)
            staged = self._mounts_at(staging)[-1]
            if staged.read_only and not read_only:
                raise MountError(
                    "FAILED_PRECONDITION",
                    f"volume {volume} is staged read-only: it cannot be published read-write",
                )
            if not self._target_ok(target, volume, read_only):
                self._bind(staging, target, read_only)
            record.targets[target] = read_only
            self._save(record)

    def unpublish(self, volume_id: str, target_path: str) -> None:
        """Unmount `target_path` (every mount stacked there) and remove the directory."""
        self._check_id(volume_id)
        target = self._path(target_path, "target path")
        with self._lock(volume_id):
            record = self._load(volume_id)
            self._unmount_all(target, record.volume if record is not None else None)
            try:
                os.rmdir(target)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno == errno.ENOTDIR:
                    raise MountError(
                        "FAILED_PRECONDITION", f"target path {target} is not a directory"
                    ) from None
                # Not empty: a pod wrote into the bare directory; its data is left alone.
                log.warning("target path %s not removed: %s", target, exc.strerror)
            if record is not None and target in record.targets:
                del record.targets[target]
                self._save(record)

    def stats(self, volume_id: str, volume_path: str) -> VolumeStats:
        """Bytes and inodes of the GlusterFS mount at `volume_path` (a target or the staging
        path); abnormal with the reason when the mount is dead."""
        self._check_id(volume_id)
        path = self._path(volume_path, "volume path")
        record = self._load(volume_id)
        entries = self._mounts_at(path)
        if not entries or entries[-1].gluster_volume is None:
            raise MountError("NOT_FOUND", f"{path} is not a GlusterFS mount")
        if record is not None and entries[-1].gluster_volume != record.volume:
            raise MountError("NOT_FOUND", f"{path} is not a mount of volume {volume_id}")
        try:
            st = os.statvfs(path)
        except OSError as exc:
            if exc.errno in DEAD_ERRNOS:
                name = errno.errorcode.get(exc.errno or 0, "?")
                return VolumeStats(
                    0, 0, 0, 0, 0, 0, abnormal=True,
                    message=f"mount {path} of {entries[-1].source} is dead: "
                    f"{exc.strerror} ({name}); the next stage or publish mounts it again",
                )  # fmt: skip
            raise MountError("INTERNAL", f"statvfs {path}: {exc.strerror}") from None
        return VolumeStats(
            total_bytes=st.f_blocks * st.f_frsize,
            used_bytes=(st.f_blocks - st.f_bfree) * st.f_frsize,
            available_bytes=st.f_bavail * st.f_frsize,
            total_inodes=st.f_files,
            used_inodes=st.f_files - st.f_ffree,
            available_inodes=st.f_favail,
        )

    # ---- argv ---------------------------------------------------------------------------

    def log_file(self, volume: str) -> Path:
        return self.logs_dir / f"{volume}.log"

    def mount_options(self, record: StageRecord) -> list[str]:
        options = []
        if record.backup_servers:
            options.append("backup-volfile-servers=" + ":".join(record.backup_servers))
        if not any(f.startswith("log-level=") for f in record.mount_flags):
            options.append("log-level=ERROR")
        options.append(f"log-file={self.log_file(record.volume)}")
        options += record.mount_flags
        if record.read_only:
            options.append("ro")
        return options

    def mount_argv(self, record: StageRecord) -> list[str]:
        """The command that mounts `record`'s volume, its client outside the plugin's life."""
        mount = ["mount", "-t", "glusterfs", "-o", ",".join(self.mount_options(record))]
        mount += [record.source, record.staging_path]
        if self.client_cgroup is not None:
            procs = str(self.client_cgroup / "cgroup.procs")
            return [sys.executable, "-c", _ENTER_CGROUP, procs, *mount]
        if self.systemd:
            return [
                "systemd-run", "--scope", "--collect", "--quiet",
                f"--description=brickyard-csi GlusterFS client of {record.volume}", "--", *mount,
            ]  # fmt: skip
        return ["setsid", "--wait", *mount]

    # ---- steps --------------------------------------------------------------------------

    def _ensure_staged(
        self, volume_id: str, staging: str, record: StageRecord | None
    ) -> tuple[str, StageRecord]:
        """The volume staged at `staging`, alive: mounted again when dead (and its other
        published targets bound again); returns the gluster volume name and its record (made
        from the mount table when the state directory lost it)."""
        entries = self._mounts_at(staging)
        if not entries or entries[-1].gluster_volume is None:
            if record is None:
                raise MountError(
                    "FAILED_PRECONDITION", f"volume {volume_id} is not staged at {staging}"
                )
            log.warning("staging mount %s of %s is gone: mounting it again", staging, volume_id)
            os.makedirs(staging, exist_ok=True)
            self._mount(record)
            return record.volume, record
        top = entries[-1]
        volume = top.gluster_volume
        assert volume is not None
        if record is not None and record.volume != volume:
            raise MountError(
                "FAILED_PRECONDITION",
                f"{staging} holds volume {volume}, volume {volume_id} is {record.volume}",
            )
        if record is None:  # no record (state lost): the mount table still names the source
            server = top.source.rsplit(":", 1)[0]
            validate_context({"server": server, "volume": volume})
            record = StageRecord(volume_id, server, volume, [], [], top.read_only, staging)
        dead = self.probe(staging)
        if dead not in DEAD_ERRNOS:
            return volume, record
        log.warning(
            "staging mount %s of %s is dead (%s): mounting it again",
            staging, volume, os.strerror(dead),
        )  # fmt: skip
        self._unmount_all(staging, volume)
        self._mount(record)
        for target, ro in sorted(record.targets.items()):
            # The other pods' bind mounts of the dead client are dead too: bind them again so
            # that a restarted container gets a working volume.
            if self._gluster_mounts_at(target, volume) and self.probe(target) in DEAD_ERRNOS:
                self._unmount_all(target, volume)
                self._bind(staging, target, ro)
        return volume, record

    def _target_ok(self, target: str, volume: str, read_only: bool) -> bool:
        """True when `target` already holds a live bind of `volume` as asked; a dead or
        stacked one is unmounted (and False returned) so that exactly one bind is made."""
        entries = self._mounts_at(target)
        if not entries:
            return False
        top = entries[-1]
        if top.gluster_volume != volume:
            raise MountError(
                "ALREADY_EXISTS",
                f"target path {target} is already a mount of {top.source} ({top.fstype})",
            )
        if self.probe(target) in DEAD_ERRNOS:
            log.warning("bind mount %s of %s is dead: binding it again", target, volume)
            self._unmount_all(target, volume)
            return False
        if top.read_only != read_only:
            raise MountError(
                "ALREADY_EXISTS",
                f"volume {volume} is published at {target} "
                f"{'read-only' if top.read_only else 'read-write'}, "
                f"asked {'read-only' if read_only else 'read-write'}",
            )
        while len(entries) > 1:  # stacked by an earlier retry: keep the top one only
            log.warning("%d mounts stacked on %s: unmounting the extra ones", len(entries), target)
            lower = entries[-2]
            if lower.gluster_volume != volume:
                break
            self._umount(target, lazy=False)
            entries = self._mounts_at(target)
        return bool(entries) and entries[-1].gluster_volume == volume

    def _mount(self, record: StageRecord) -> None:
        if self.client_cgroup is not None:
            self.client_cgroup.mkdir(parents=True, exist_ok=True)
        done = self.runner(self.mount_argv(record), self.command_timeout)
        if done.returncode == 0 and self.probe(record.staging_path) == 0:
            entries = self._mounts_at(record.staging_path)
            if entries and entries[-1].gluster_volume == record.volume:
                return
        log_file = self.log_file(record.volume)
        tail = self._log_tail(log_file)
        # A mount that half worked (mounted but dead) must not stay behind.
        if self._gluster_mounts_at(record.staging_path, record.volume):
            self._unmount_all(record.staging_path, record.volume)
        reason = (done.stderr or done.stdout).strip() or f"exit {done.returncode}"
        missing = "failed to get the 'volume file'" in tail or "Failed to fetch volume file" in tail
        code = "NOT_FOUND" if missing else "INTERNAL"
        raise MountError(
            code,
            f"mount of {record.source} at {record.staging_path} failed: {reason}"
            + (f"; {log_file}: {tail.strip().splitlines()[-1]}" if tail.strip() else ""),
        )

    def _bind(self, staging: str, target: str, read_only: bool) -> None:
        try:
            os.makedirs(target, exist_ok=True)
        except OSError as exc:
            raise MountError("INTERNAL", f"cannot create {target}: {exc.strerror}") from None
        self._run(["mount", "--bind", staging, target])
        if read_only:
            done = self.runner(["mount", "-o", "remount,bind,ro", target], self.command_timeout)
            if done.returncode != 0:
                if not self._umount(target, lazy=False):
                    self._umount(target, lazy=True)
                raise MountError(
                    "INTERNAL", f"read-only remount of {target} failed: {done.stderr.strip()}"
                )

    def _unmount_all(self, path: str, volume: str | None) -> None:
        """Unmount every GlusterFS mount (of `volume` when given) stacked on `path`."""
        for _ in range(16):
            entries = self._mounts_at(path)
            if not entries:
                return
            top = entries[-1]
            if top.gluster_volume is None or (volume is not None and top.gluster_volume != volume):
                raise MountError(
                    "FAILED_PRECONDITION",
                    f"{path} is a mount of {top.source} ({top.fstype}), not ours: left alone",
                )
            if self._umount(path, lazy=False):
                continue
            if len(self._mounts_at(path)) < len(entries):
                continue  # gone meanwhile (mount.glusterfs unmounts a mount that failed)
            if not self._umount(path, lazy=True) and len(self._mounts_at(path)) >= len(entries):
                raise MountError("INTERNAL", f"umount -l {path} failed")
        raise MountError("INTERNAL", f"{path} is still mounted after 16 unmounts")

    def _umount(self, path: str, *, lazy: bool) -> bool:
        argv = ["umount", "-l", path] if lazy else ["umount", path]
        done = self.runner(argv, self.command_timeout)
        if done.returncode != 0:
            log.info("%s: %s", " ".join(argv), done.stderr.strip())
        return done.returncode == 0

    def _run(self, argv: Sequence[str]) -> CommandResult:
        done = self.runner(argv, self.command_timeout)
        if done.returncode != 0:
            raise MountError(
                "INTERNAL", f"{' '.join(argv)} failed: {(done.stderr or done.stdout).strip()}"
            )
        return done

    # ---- mount table, paths, records ----------------------------------------------------

    def mount_table(self) -> list[MountEntry]:
        argv = ["findmnt", "--json", "--list", "--output", "TARGET,SOURCE,FSTYPE,OPTIONS"]
        done = self.runner(argv, self.command_timeout)
        if done.returncode != 0 and done.stdout.strip():
            raise MountError("INTERNAL", f"findmnt failed: {done.stderr.strip()}")
        return parse_findmnt(done.stdout)

    def _mounts_at(self, path: str) -> list[MountEntry]:
        return [e for e in self.mount_table() if e.target == path]

    def _gluster_mounts_at(self, path: str, volume: str | None) -> list[MountEntry]:
        return [
            e
            for e in self._mounts_at(path)
            if e.gluster_volume is not None and (volume is None or e.gluster_volume == volume)
        ]

    def _path(self, value: str, what: str) -> str:
        """`value` resolved (its parent: the path itself may be a dead mount, which no stat
        answers), and checked to be strictly under one of the allowed roots."""
        if not value or not value.startswith("/"):
            raise MountError("INVALID_ARGUMENT", f"{what} {value!r} is not an absolute path")
        if len(value) > MAX_PATH or not value.isprintable():
            raise MountError("INVALID_ARGUMENT", f"{what} {value!r} is not a valid path")
        parts = value.rstrip("/").rsplit("/", 1)
        name = parts[1] if len(parts) == 2 else ""
        if name in ("", ".", ".."):
            raise MountError("INVALID_ARGUMENT", f"{what} {value!r} is not a valid path")
        parent = os.path.realpath(parts[0] or "/")
        resolved = os.path.join(parent, name)
        with contextlib.suppress(OSError):
            if os.path.islink(resolved):
                raise MountError("INVALID_ARGUMENT", f"{what} {value!r} is a symbolic link")
        if not any(Path(parent).is_relative_to(root) for root in self.allowed_roots):
            roots = ", ".join(str(r) for r in self.allowed_roots)
            raise MountError("INVALID_ARGUMENT", f"{what} {value!r} is outside {roots}")
        return resolved

    @staticmethod
    def _check_id(volume_id: str) -> None:
        if not VOLUME_ID.fullmatch(volume_id or ""):
            raise MountError("INVALID_ARGUMENT", f"volume id {volume_id!r} is not valid")

    @contextlib.contextmanager
    def _lock(self, volume_id: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault(volume_id, threading.Lock())
        if not lock.acquire(timeout=self.lock_timeout):
            raise MountError("ABORTED", f"an operation on volume {volume_id} is still running")
        try:
            yield
        finally:
            lock.release()

    def _record_path(self, volume_id: str) -> Path:
        return self.volumes_dir / f"{volume_id}.json"

    def _load(self, volume_id: str) -> StageRecord | None:
        try:
            data = json.loads(self._record_path(volume_id).read_text())
            return StageRecord.from_json(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("stage record of %s unreadable, ignored: %s", volume_id, exc)
            return None

    def _save(self, record: StageRecord) -> None:
        data = json.dumps(record.to_json(), indent=1, sort_keys=True).encode()
        _atomic_write(self._record_path(record.volume_id), data)

    def _delete_record(self, volume_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._record_path(volume_id).unlink()

    @staticmethod
    def _log_tail(path: Path, size: int = 4096) -> str:
        try:
            with path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - size))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

"""The composition root: settings in, a ready application out. The only module that knows
which store and which node agent are in use."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .api.app import BrickyardApp, create_app
from .api.auth import JwtKeys
from .api.routes.admin import apply_log_level
from .api.state import ApiState
from .config import ConfigError, ExecConfig, Settings
from .crashtest import hook_from_env
from .domain import gluster_rules
from .domain.errors import InvalidRequest
from .domain.sizing import BrickLimits
from .domain.units import GIB
from .nodes.commands.settings import CommandSettings
from .nodes.port import NodeAgent
from .nodes.remote import RemoteNodeAgent
from .nodes.sim import SimNodeAgent, SimWorld
from .nodes.transports import LocalTransport, SshSettings, SshTransport, private_key_problem
from .services.context import LeaseLost, ServiceContext, ServiceSettings
from .services.heal_sampler import HealSamplerSettings
from .services.health import MonitorSettings
from .services.operations.recovery import (
    CleanerSettings,
    background_cleaner,
    recover_at_start,
)
from .services.queue import OperationQueue
from .services.registry import Services
from .services.servers import IncompatibleServer, ServerIdentity, ServerRegistry
from .services.volume_checks import split_option
from .store.db import parse_url
from .store.errors import DatabaseError
from .store.migrate import SchemaTooNew, UpgradeFailed, upgrade, upgrade_apart
from .store.sql import SqlStore, sqlite_url

log = logging.getLogger("brickyard")

# Milliseconds the simulator waits per node command, to make in-flight work observable in
# tests (throttling, concurrency). Never set in production.
SIM_DELAY_ENV = "BRICKYARD_SIM_DELAY_MS"


def check_volume_options(settings: Settings) -> None:
    """Options the server adds to every volume are refused at start when gluster would refuse
    them at every create (ConfigError names the key)."""
    g = settings.glusterfs
    for key in (
        "pre_request_volume_options",
        "post_request_volume_options",
        "block_hosting_volume_options",
    ):
        for entry in str(getattr(g, key)).split(","):
            try:
                found = split_option(entry)
            except InvalidRequest as exc:
                raise ConfigError(f"glusterfs.{key}: {exc}") from exc
            problem = gluster_rules.option_problem(*found) if found else None
            if problem:
                raise ConfigError(f"glusterfs.{key}: {problem}")


def service_settings(settings: Settings) -> ServiceSettings:
    g = settings.glusterfs
    return ServiceSettings(
        limits=BrickLimits(
            min_size=g.brick_min_size_gb * GIB,
            max_size=g.brick_max_size_gb * GIB,
            max_bricks=g.max_bricks_per_volume,
        ),
        strict_zones=g.zone_checking == "strict",
        volume_limit=g.volume_limit,
        pre_request_volume_options=g.pre_request_volume_options,
        post_request_volume_options=g.post_request_volume_options,
        block_hosting_volume_options=g.block_hosting_volume_options,
        create_retries=g.operation_retry_limits.volume_create,
        default_backend=g.brick_backend,
        max_replica=g.max_replica,
        average_file_size_kb=g.average_file_size_kb,
        placer=g.placer,
    )


# What every server of one database must agree on: how bricks are placed and sized, volume
# options, the global in-flight limit, the lease, how nodes are reached, the JWT keys.
_SHARED_GLUSTERFS_KEYS = (
    "executor",
    "brick_max_size_gb",
    "brick_min_size_gb",
    "max_bricks_per_volume",
    "average_file_size_kb",
    "pre_request_volume_options",
    "post_request_volume_options",
    "zone_checking",
    "max_volumes_per_cluster",
    "auto_create_block_hosting_volume",
    "block_hosting_volume_size",
    "block_hosting_volume_options",
    "max_inflight_operations",
    "operation_retry_limits",
    "brick_backend",
    "placer",
    "max_replica",
    "server_lease_seconds",
)


def shared_settings(settings: Settings) -> dict[str, Any]:
    """The settings servers sharing a database must share, by key (compared at start). The
    JWT keys are kept as salted digests: a key itself never reaches the database."""
    g = dataclasses.asdict(settings.glusterfs)
    shared: dict[str, Any] = {f"glusterfs.{key}": g[key] for key in _SHARED_GLUSTERFS_KEYS}
    for role in ("admin", "user"):
        key = getattr(settings.jwt, role).key
        digest = hashlib.sha256(b"brickyard shared settings\0" + key.encode()).hexdigest()
        shared[f"jwt.{role}.key"] = digest[:16] if key else ""
    return shared


def server_identity(settings: Settings) -> ServerIdentity:
    host = socket.gethostname()
    g = settings.glusterfs
    return ServerIdentity(
        host=host,
        address=g.advertise_address or f"{host}:{settings.port}",
        version=__version__,
        lease=g.server_lease_seconds,
        settings=shared_settings(settings),
    )


def command_settings(exec_config: ExecConfig) -> CommandSettings:
    """What the node layer reads of the exec section (``sshexec`` or ``kubeexec``): every field
    of `CommandSettings`, copied by name."""
    c = exec_config
    return CommandSettings(
        fstab=c.fstab,
        mountopts=c.mountopts,
        snapshot_limit=c.snapshot_limit,
        rebalance_on_expansion=c.rebalance_on_expansion,
        backup_lvm_metadata=c.backup_lvm_metadata,
        gluster_cli_timeout=c.gluster_cli_timeout,
        pv_data_alignment=c.pv_data_alignment,
        vg_physicalextentsize=c.vg_physicalextentsize,
        lv_chunksize=c.lv_chunksize,
        xfs_sw=c.xfs_sw,
        xfs_su=c.xfs_su,
        debug_umount_failures=c.debug_umount_failures,
        lvm_wrapper=c.lvm_wrapper,
    )


def build_agent(settings: Settings) -> NodeAgent:
    g = settings.glusterfs
    executor = g.executor
    if executor == "mock":
        delay = float(os.environ.get(SIM_DELAY_ENV, "0") or 0)
        return SimNodeAgent(SimWorld(g.mock_device_size_gb, delay_ms=delay))
    if executor == "local":
        return RemoteNodeAgent(LocalTransport(sudo=g.sshexec.sudo), command_settings(g.sshexec))
    if executor == "ssh":
        ssh = g.sshexec
        if not ssh.keyfile:
            raise ConfigError(
                "glusterfs.sshexec.keyfile: Missing ssh private key file in configuration"
            )
        problem = private_key_problem(ssh.keyfile)
        if problem:
            raise ConfigError(f"glusterfs.sshexec.keyfile: {problem}")
        # As Heketi: host keys are checked only when SSH_KNOWN_HOSTS names known_hosts files.
        known_hosts = tuple(p for p in os.environ.get("SSH_KNOWN_HOSTS", "").split(":") if p)
        settings_ = SshSettings(ssh.keyfile, ssh.user, ssh.port, ssh.sudo, known_hosts)
        return RemoteNodeAgent(SshTransport(settings_), command_settings(ssh))
    if executor in ("kube", "kubernetes"):
        # Exec into the pod labelled glusterfs-node=<host>; proven against a fake API only.
        # Imported here: httpx and websockets are loaded only by servers that use them.
        from .nodes.kube import KubeTransport

        return RemoteNodeAgent(KubeTransport(g.kubeexec), command_settings(g.kubeexec))
    raise ConfigError(
        f"glusterfs.executor: '{executor}' is not available in this version; "
        'use "ssh", "local", "kubernetes" or "mock" (the simulator)'
    )


def database_url(settings: Settings) -> str:
    db = settings.glusterfs.db
    if "://" in db:  # ours: a database URL, e.g. postgresql+psycopg://... (store/db.py)
        return db
    return sqlite_url(db)


def open_store(url: str, migrate_apart: bool = False) -> SqlStore:
    """The store at `url`, brought to the current schema; a database that cannot be opened
    (a wrong URL, a driver not installed, PostgreSQL unreachable or refusing) is a ConfigError
    that says which database and why, with any password hidden. With `migrate_apart` an
    upgrade runs in a child process (the long-running server's choice: see upgrade_apart)."""
    try:
        shown = parse_url(url).shown
    except ValueError as exc:
        raise ConfigError(
            f"glusterfs.db: not a valid database URL (nor an SQLite path): {exc}"
        ) from None
    store: SqlStore | None = None
    try:
        store = SqlStore(url)
        if migrate_apart:
            upgrade_apart(url)
        else:
            upgrade(url)
    except (SchemaTooNew, UpgradeFailed) as exc:
        if store is not None:
            store.close()
        raise ConfigError(f"glusterfs.db: {shown}: {exc}") from None
    except (DatabaseError, ImportError) as exc:
        if store is not None:
            store.close()
        reason = getattr(exc, "orig", None) or exc
        detail = str(reason).strip().splitlines()[0] if str(reason).strip() else repr(reason)
        raise ConfigError(f"glusterfs.db: cannot open the database {shown}: {detail}") from None
    return store


@dataclass
class Server:
    app: BrickyardApp
    services: Services
    store: SqlStore
    registry: ServerRegistry
    cleaner: CleanerSettings = field(default_factory=CleanerSettings)
    tasks: set[asyncio.Task[object]] = field(default_factory=set)

    def close(self) -> None:
        """Stop using the database: the read queue results' rows go first (see
        OperationQueue.forget_read)."""
        self.services.queue.forget_read()
        self.store.close()

    async def recover(self) -> None:
        """Crash recovery: settle what an earlier run (or a dead server) left, and answer its
        requests (requests are answered meanwhile: every operation is claimed before anyone
        acts on it)."""
        await recover_at_start(self.services.runner, self.registry.inherited.results)

    def start_background(self) -> None:
        """Recovery at once, then the background cleaner; the node health monitor, the lease
        and the watch for dead servers beside them (on the running event loop)."""

        async def run() -> None:
            try:
                await self.recover()
            except (Exception, LeaseLost):  # keep serving; the cleaner retries what is left
                log.exception("crash recovery at start")
            await background_cleaner(self.services.runner, self.cleaner)

        loop = asyncio.get_running_loop()
        for work in (
            run(),
            self.services.health.run(),
            self.services.heal_sampler.run(),
            self.registry.keep_lease(),
            self.registry.watch(),
        ):
            task: asyncio.Task[object] = loop.create_task(work)
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)


def build_server(
    settings: Settings,
    disable_auth: bool = False,
    agent: NodeAgent | None = None,
    migrate_apart: bool = False,
) -> Server:
    check_volume_options(settings)
    store = open_store(database_url(settings), migrate_apart)
    ctx = ServiceContext(
        store=store,
        agent=agent or build_agent(settings),
        settings=service_settings(settings),
        crash_hook=hook_from_env(),
    )
    queue = OperationQueue(
        settings.glusterfs.max_inflight_operations, store, server=lambda: ctx.worker
    )
    g = settings.glusterfs
    monitor = MonitorSettings(
        enabled=not g.disable_monitor_gluster_nodes,
        start=float(g.start_time_monitor_gluster_nodes),
        interval=float(g.refresh_time_monitor_gluster_nodes),
    )
    heal_sampling = HealSamplerSettings(
        float(g.heal_sample_interval_seconds), g.heal_sample_volumes
    )
    services = Services.build(ctx, queue, monitor, heal_sampling)
    registry = ServerRegistry(ctx, services.runner, queue, server_identity(settings))
    try:
        registry.register()
    except IncompatibleServer as exc:
        store.close()
        raise ConfigError(f"glusterfs.db: {exc}") from None
    keys = None
    if not disable_auth:
        keys = JwtKeys(
            admin=settings.jwt.admin.key,
            user=settings.jwt.user.key,
            iat_leeway=settings.jwt_iat_leeway_seconds,
        )
    apply_log_level(settings.glusterfs.loglevel)
    state = ApiState(
        services=services,
        keys=keys,
        admin_state=settings.default_state,
        log_level=settings.glusterfs.loglevel,
        max_body=settings.max_request_body_bytes,
    )
    cleaner = CleanerSettings(
        enabled=not settings.glusterfs.disable_background_cleaner,
        interval=float(settings.glusterfs.refresh_time_background_cleaner),
    )
    state.registry = registry
    return Server(create_app(state), services, store, registry, cleaner)

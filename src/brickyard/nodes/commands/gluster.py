"""Gluster CLI commands (internals §4.5 peers, §4.6 volumes, §4.8 clone) as argv.

Every command starts with ``gluster --mode=script --timeout=<gluster_cli_timeout>`` and runs
with Heketi's timeout ``max(10, 1 + (cli_timeout + 1) // 60)`` minutes (11 by default). Commands
whose output is parsed carry ``--xml`` at Heketi's position (after the volume name for ``volume
info``/``heal info``/``snapshot list``, right after the prefix for the clone sequence). Remember
that ``gluster --xml`` exits 0 even when the operation failed: always run the reply through
`parsers.check_cli_output` (or a specific parser).

Differences from Heketi's strings: no shell, so a volume option is ``volume set <name> <key>
<value>`` with the value as **one** argument even if it contains spaces (Heketi's string would
be split by the shell); an option with an empty key is skipped and one with an empty value is
sent without a value (Heketi's option string would be just the key).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..port import GlusterBrick, GlusterVolumeSpec
from .argv import Command, CommandBatch, batch, check_abs_path, check_arg, minutes
from .settings import CommandSettings

__all__ = [
    "GLUSTERD_CHECK_TIMEOUT",
    "MAX_SETS_DISPERSE",
    "MAX_SETS_NONE",
    "MAX_SETS_REPLICATE",
    "CloneSequence",
    "add_brick_chunks",
    "brick_arg",
    "clone_sequence",
    "gluster_prefix",
    "gluster_timeout",
    "glusterd_check",
    "heal_info",
    "max_sets_per_command",
    "peer_detach",
    "peer_probe",
    "peer_status",
    "pool_list",
    "rebalance_start",
    "replace_brick",
    "snapshot_activate",
    "snapshot_clone",
    "snapshot_config_hard_limit",
    "snapshot_create",
    "snapshot_deactivate",
    "snapshot_delete",
    "snapshot_list",
    "snapshot_list_all",
    "tmp_snapshot_name",
    "volume_add_brick",
    "volume_create",
    "volume_create_command",
    "volume_delete",
    "volume_expand",
    "volume_info",
    "volume_list",
    "volume_set",
    "volume_set_options",
    "volume_start",
    "volume_stop",
]

GLUSTERD_CHECK_TIMEOUT = minutes(10)
# Heketi's maxPerSet: how many brick sets one create/add-brick command carries.
MAX_SETS_NONE = 15
MAX_SETS_REPLICATE = 5
MAX_SETS_DISPERSE = 1


def gluster_prefix(cfg: CommandSettings) -> tuple[str, ...]:
    return ("gluster", "--mode=script", f"--timeout={cfg.gluster_cli_timeout}")


def gluster_timeout(cfg: CommandSettings) -> float:
    """Seconds: ``max(10, 1 + (cli_timeout + 1) // 60)`` minutes (660 s by default)."""
    return minutes(max(10, 1 + (cfg.gluster_cli_timeout + 1) // 60))


def _gluster(cfg: CommandSettings, *args: str) -> Command:
    return Command((*gluster_prefix(cfg), *args), gluster_timeout(cfg))


def _volume(name: str) -> str:
    return check_arg(name, "volume name")


def brick_arg(brick: GlusterBrick) -> str:
    """``<storage host>:<brick path>``."""
    return f"{check_arg(brick.host, 'brick host')}:{check_abs_path(brick.path, 'brick path')}"


# --------------------------------------------------------------------------------------------
# glusterd and peers


def glusterd_check() -> Command:
    """``systemctl status glusterd`` (node add, health monitor), 10 min."""
    return Command(("systemctl", "status", "glusterd"), GLUSTERD_CHECK_TIMEOUT)


def snapshot_config_hard_limit(cfg: CommandSettings, limit: int) -> Command:
    if limit <= 0:
        raise ValueError(f"snapshot limit must be positive, got {limit}")
    return _gluster(cfg, "snapshot", "config", "snap-max-hard-limit", str(limit))


def peer_probe(cfg: CommandSettings, host: str) -> CommandBatch:
    """``peer probe <storage host>``, then ``snapshot config snap-max-hard-limit <N>`` when
    ``snapshot_limit > 0``."""
    return batch(
        _gluster(cfg, "peer", "probe", check_arg(host, "host")),
        snapshot_config_hard_limit(cfg, cfg.snapshot_limit) if cfg.snapshot_limit > 0 else None,
    )


def peer_detach(cfg: CommandSettings, host: str) -> Command:
    """``peer detach <storage host>`` (Heketi logs and ignores its failure)."""
    return _gluster(cfg, "peer", "detach", check_arg(host, "host"))


def peer_status(cfg: CommandSettings) -> Command:
    return _gluster(cfg, "peer", "status", "--xml")


def pool_list(cfg: CommandSettings) -> Command:
    return _gluster(cfg, "pool", "list", "--xml")


# --------------------------------------------------------------------------------------------
# Volumes


def max_sets_per_command(volume: GlusterVolumeSpec) -> int:
    """Heketi's maxPerSet: none 15, replicate 5, disperse 1."""
    if volume.replica:
        return MAX_SETS_REPLICATE
    if volume.disperse_data:
        return MAX_SETS_DISPERSE
    return MAX_SETS_NONE


def _check_layout(volume: GlusterVolumeSpec) -> None:
    if volume.replica < 0 or volume.disperse_data < 0 or volume.disperse_redundancy < 0:
        raise ValueError("replica and disperse counts must not be negative")
    if volume.replica and volume.disperse_data:
        raise ValueError("a volume is either replicated or dispersed, not both")
    if volume.arbiter and not volume.replica:
        raise ValueError("arbiter needs a replica count")
    if volume.disperse_redundancy and not volume.disperse_data:
        raise ValueError("disperse redundancy needs a disperse data count")


def add_brick_chunks(
    bricks: Sequence[GlusterBrick], bricks_per_set: int, max_sets: int
) -> list[list[GlusterBrick]]:
    """Split ``bricks`` into chunks of ``bricks_per_set * max_sets`` (Heketi's
    createAddBrickCommands); the last chunk may be shorter."""
    size = bricks_per_set * max_sets
    if size <= 0:
        raise ValueError("bricks per set and sets per command must be positive")
    return [list(bricks[i : i + size]) for i in range(0, len(bricks), size)]


def volume_add_brick(cfg: CommandSettings, name: str, bricks: Iterable[GlusterBrick]) -> Command:
    args = [brick_arg(b) for b in bricks]
    if not args:
        raise ValueError("add-brick needs at least one brick")
    return _gluster(cfg, "volume", "add-brick", _volume(name), *args)


def volume_create_command(cfg: CommandSettings, volume: GlusterVolumeSpec) -> Command:
    """``volume create <name> [replica <R> [arbiter 1] | disperse-data <D> redundancy <R>]
    <host:path>…`` with the first brick set only."""
    _check_layout(volume)
    per_set = volume.bricks_per_set
    if not volume.bricks or len(volume.bricks) % per_set:
        raise ValueError(
            f"volume {volume.name!r} needs whole brick sets of {per_set} bricks, "
            f"got {len(volume.bricks)}"
        )
    args: list[str] = ["volume", "create", _volume(volume.name)]
    if volume.replica:
        args += ["replica", str(volume.replica)]
        if volume.arbiter:
            args += ["arbiter", "1"]
    elif volume.disperse_data:
        args += [
            "disperse-data",
            str(volume.disperse_data),
            "redundancy",
            str(volume.disperse_redundancy),
        ]
    args += [brick_arg(b) for b in volume.bricks[:per_set]]
    return _gluster(cfg, *args)


def volume_set(cfg: CommandSettings, name: str, key: str, value: str) -> Command:
    """``volume set <name> <key> <value>`` (no value argument when ``value`` is empty)."""
    args = ["volume", "set", _volume(name), check_arg(key, "option name")]
    if value:
        if "\x00" in value:
            raise ValueError(f"option value contains NUL: {value!r}")
        args.append(value)
    return _gluster(cfg, *args)


def volume_set_options(
    cfg: CommandSettings, name: str, options: Iterable[tuple[str, str]]
) -> list[Command]:
    """One ``volume set`` per option, in order; options whose key is empty are skipped."""
    return [volume_set(cfg, name, k.strip(), v) for k, v in options if k.strip()]


def volume_start(cfg: CommandSettings, name: str, *, xml: bool = False) -> Command:
    """``volume start <name>`` (``--xml volume start`` in the clone sequence)."""
    if xml:
        return _gluster(cfg, "--xml", "volume", "start", _volume(name))
    return _gluster(cfg, "volume", "start", _volume(name))


def volume_create(cfg: CommandSettings, volume: GlusterVolumeSpec) -> CommandBatch:
    """The create batch: ``volume create`` (first set), ``volume add-brick`` for the remaining
    bricks in chunks of ``bricks_per_set * maxPerSet``, one ``volume set`` per option,
    ``volume start``. On failure Heketi destroys the volume (`volume_stop` + `volume_delete`)."""
    create = volume_create_command(cfg, volume)
    rest = volume.bricks[volume.bricks_per_set :]
    chunks = add_brick_chunks(rest, volume.bricks_per_set, max_sets_per_command(volume))
    return batch(
        create,
        [volume_add_brick(cfg, volume.name, chunk) for chunk in chunks],
        volume_set_options(cfg, volume.name, volume.options),
        volume_start(cfg, volume.name),
    )


def volume_expand(
    cfg: CommandSettings, volume: GlusterVolumeSpec, new_bricks: Sequence[GlusterBrick]
) -> CommandBatch:
    """``volume add-brick`` chunks for ``new_bricks`` (from the first new brick; the layout comes
    from ``volume``). Follow with `rebalance_start` when rebalancing on expansion; its failure is
    ignored."""
    _check_layout(volume)
    per_set = volume.bricks_per_set
    if not new_bricks or len(new_bricks) % per_set:
        raise ValueError(f"expansion needs whole brick sets of {per_set}")
    chunks = add_brick_chunks(new_bricks, per_set, max_sets_per_command(volume))
    return batch([volume_add_brick(cfg, volume.name, chunk) for chunk in chunks])


def rebalance_start(cfg: CommandSettings, name: str) -> Command:
    return _gluster(cfg, "volume", "rebalance", _volume(name), "start")


def volume_stop(cfg: CommandSettings, name: str, *, force: bool = True) -> Command:
    """``volume stop <name> force`` (failure logged and ignored on delete)."""
    return _gluster(cfg, "volume", "stop", _volume(name), *(("force",) if force else ()))


def volume_delete(cfg: CommandSettings, name: str) -> Command:
    """``volume delete <name>``; callers treat "does not exist" as deleted."""
    return _gluster(cfg, "volume", "delete", _volume(name))


def volume_info(cfg: CommandSettings, name: str | None = None) -> Command:
    """``volume info <name> --xml``, or ``volume info --xml`` for every volume."""
    if name is None:
        return _gluster(cfg, "volume", "info", "--xml")
    return _gluster(cfg, "volume", "info", _volume(name), "--xml")


def volume_list(cfg: CommandSettings) -> Command:
    return _gluster(cfg, "volume", "list", "--xml")


def replace_brick(
    cfg: CommandSettings, volume: str, old: GlusterBrick, new: GlusterBrick
) -> Command:
    return _gluster(
        cfg,
        "volume",
        "replace-brick",
        _volume(volume),
        brick_arg(old),
        brick_arg(new),
        "commit",
        "force",
    )


def heal_start(cfg: CommandSettings, name: str) -> Command:
    """``volume heal <v>``: heal the entries pending now, instead of at the self-heal daemon's
    next crawl (cluster.heal-timeout, 10 minutes by default)."""
    return _gluster(cfg, "volume", "heal", _volume(name))


def heal_info(cfg: CommandSettings, name: str) -> Command:
    return _gluster(cfg, "volume", "heal", _volume(name), "info", "--xml")


# --------------------------------------------------------------------------------------------
# Snapshots and clones (§4.8)


def tmp_snapshot_name(uuid: str) -> str:
    """``tmpsnap_<uuid>``: the temporary snapshot a clone is made from."""
    return f"tmpsnap_{check_arg(uuid, 'uuid')}"


def snapshot_list(cfg: CommandSettings, volume: str) -> Command:
    return _gluster(cfg, "snapshot", "list", _volume(volume), "--xml")


def snapshot_list_all(cfg: CommandSettings) -> Command:
    """``snapshot list --xml``: every snapshot of the trusted pool."""
    return _gluster(cfg, "snapshot", "list", "--xml")


def snapshot_create(cfg: CommandSettings, snapshot: str, volume: str) -> Command:
    return _gluster(
        cfg,
        "--xml",
        "snapshot",
        "create",
        check_arg(snapshot, "snapshot name"),
        _volume(volume),
        "no-timestamp",
    )


def snapshot_activate(cfg: CommandSettings, snapshot: str) -> Command:
    return _gluster(cfg, "--xml", "snapshot", "activate", check_arg(snapshot, "snapshot name"))


def snapshot_clone(cfg: CommandSettings, clone: str, snapshot: str) -> Command:
    return _gluster(
        cfg, "--xml", "snapshot", "clone", _volume(clone), check_arg(snapshot, "snapshot name")
    )


def snapshot_deactivate(cfg: CommandSettings, snapshot: str) -> Command:
    return _gluster(cfg, "--xml", "snapshot", "deactivate", check_arg(snapshot, "snapshot name"))


def snapshot_delete(cfg: CommandSettings, snapshot: str) -> Command:
    return _gluster(cfg, "--xml", "snapshot", "delete", check_arg(snapshot, "snapshot name"))


@dataclass(frozen=True)
class CloneSequence:
    """Heketi's clone (§4.8). Run ``create``, ``activate``, ``clone``, ``start`` in order (each
    reply checked with `parsers.check_cli_output`); if ``start`` fails destroy the clone
    (`volume_stop` + `volume_delete`); then ``info`` (`parsers.parse_volume_info`). Whatever
    happened after ``activate`` succeeded, run ``deactivate``; after ``create`` succeeded, run
    ``delete`` (deferred cleanup: failures only logged)."""

    snapshot: str
    create: Command
    activate: Command
    clone: Command
    start: Command
    info: Command
    deactivate: Command
    delete: Command


def clone_sequence(cfg: CommandSettings, source: str, clone: str, snapshot: str) -> CloneSequence:
    """The sequence for `clone` of `source` through the temporary snapshot `snapshot` (the
    caller names it, e.g. `tmp_snapshot_name`, and journals the name first, so a crash in the
    middle can be cleaned up)."""
    check_arg(snapshot, "snapshot name")
    return CloneSequence(
        snapshot=snapshot,
        create=snapshot_create(cfg, snapshot, source),
        activate=snapshot_activate(cfg, snapshot),
        clone=snapshot_clone(cfg, clone, snapshot),
        start=volume_start(cfg, clone, xml=True),
        info=volume_info(cfg, clone),
        deactivate=snapshot_deactivate(cfg, snapshot),
        delete=snapshot_delete(cfg, snapshot),
    )

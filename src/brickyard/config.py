"""heketi.json-compatible server settings.

`load_settings` reads a Heketi configuration file (the same JSON a Heketi server reads), applies the
``HEKETI_*`` environment overrides on top, and returns validated `Settings` plus a list of warnings.

Compatibility rules, following how Heketi (Go, ``encoding/json``) reads the file:

* Keys starting with ``_`` (at any depth) are comments and are skipped silently.
* Key names match case-insensitively when there is no exact match (as Go does); ``null`` leaves the
  default in place; text after the first JSON value is ignored (with a warning).
* Keys Heketi reads but Brickyard does not use (``allocator``, ``injectexec``, ``kubeexec.host`` /
  ``cert`` / ``insecure`` / ``user`` / ``password``) are accepted silently; any other unknown key
  produces a warning naming its dotted path, never an error.
* Where Heketi treats ``0`` or ``""`` as "not set, use the default", so do we: the model holds the
  effective value (``brick_max_size_gb: 0`` loads as 4096).
* Values are type-checked like Go does (``"4"`` is not an integer), except that ``port`` and
  ``sshexec.port`` accept both ``"8080"`` and ``8080``.
* The ``sshexec`` section is only checked when the executor uses it (``ssh``, ``local``), and the
  ``kubeexec`` section only for ``kube``/``kubernetes``: Heketi's own sample file has placeholder
  text such as ``"port": "Optional: ssh port.  Default is 22"`` under ``sshexec`` while it
  selects the mock executor.  Invalid values in an unused section fall back to their defaults.
* ``rebalance_on_expansion`` in the file is ignored (Heketi forces it to true); only the environment
  variable ``HEKETI_GLUSTERAPP_REBALANCE_ON_EXPANSION`` can turn it off.
* Environment variables win over the file.  An empty variable counts as unset (as in Heketi).

Errors are raised as `ConfigError`, whose message always names the offending key (or environment
variable, or file) and never contains a secret value.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

__all__ = [
    "ENV_OVERRIDES",
    "ConfigError",
    "ExecConfig",
    "GlusterFSConfig",
    "JwtConfig",
    "JwtKey",
    "KubeExecConfig",
    "RetryLimits",
    "Settings",
    "SshExecConfig",
    "field_names",
    "load_settings",
    "require_auth_keys",
]

_INT64_MAX = 2**63 - 1
_UINT32_MAX = 2**32 - 1
_PREALLOC_RE = re.compile(r"^[a-zA-Z0-9_-]+$")


class ConfigError(Exception):
    """The configuration cannot be used.  The message names the key, variable or file at fault."""


# --------------------------------------------------------------------------------------------------
# Models
#
# Plain dataclasses checked by `_build` below (not pydantic: the server keeps its configuration
# for its whole life, and pydantic with these models cost 7 MiB of its memory). A field's
# metadata carries its bounds; `_BEFORE` and `_AFTER` hold the few checks of their own.


class _Invalid(Exception):
    """A value a field does not take; the message says what it must be."""


@dataclass
class _Section:
    """Strict base: JSON types are checked like Go's decoder does; unknown keys are rejected
    by `_build` (the loader strips and reports them before)."""

    # Fields for which Heketi treats 0 / "" as "not set": they are replaced by the field default.
    unset_means_default: ClassVar[frozenset[str]] = frozenset()


def _bounded(default: float, ge: float, le: float) -> Any:
    return field(default=default, metadata={"ge": ge, "le": le})


def _parse_port(value: Any, default: int) -> Any:
    """Heketi stores ports as JSON strings ("8080"); accept those and plain integers."""
    if isinstance(value, str):
        if value == "":
            return default
        if not value.isascii() or not value.isdigit():
            raise _Invalid("must be a port number 1-65535")
        value = int(value)
    if type(value) is not int or not 1 <= value <= 65535:
        raise _Invalid("must be a port number 1-65535")
    return value


def _check_prealloc(value: str) -> str:
    if not _PREALLOC_RE.match(value):
        raise _Invalid("must be a gluster-block prealloc mode such as full or no")
    return value


@dataclass
class JwtKey(_Section):
    key: str = field(default="", repr=False)


@dataclass
class JwtConfig(_Section):
    admin: JwtKey = field(default_factory=JwtKey)
    user: JwtKey = field(default_factory=JwtKey)


@dataclass
class ExecConfig(_Section):
    """Settings shared by the ``sshexec`` and ``kubeexec`` sections (Heketi's ``CmdConfig``)."""

    unset_means_default: ClassVar[frozenset[str]] = frozenset(
        {
            "fstab",
            "mountopts",
            "gluster_cli_timeout",
            "pv_data_alignment",
            "vg_physicalextentsize",
            "lv_chunksize",
            "block_prealloc",
        }
    )

    fstab: str = "/etc/fstab"
    mountopts: str = "rw,inode64,noatime,nouuid"
    sudo: bool = False
    snapshot_limit: int = _bounded(0, 0, _INT64_MAX)
    # Ignored in the file (Heketi forces it true);
    # HEKETI_GLUSTERAPP_REBALANCE_ON_EXPANSION=false clears it.
    rebalance_on_expansion: bool = True
    backup_lvm_metadata: bool = False
    gluster_cli_timeout: int = _bounded(600, 1, _UINT32_MAX)
    pv_data_alignment: str = "256K"
    vg_physicalextentsize: str = "4M"
    lv_chunksize: str = "256K"
    xfs_sw: int = _bounded(0, 0, _INT64_MAX)
    xfs_su: int = _bounded(0, 0, _INT64_MAX)
    debug_umount_failures: bool = False
    block_prealloc: str = "full"
    lvm_wrapper: str = ""


@dataclass
class SshExecConfig(ExecConfig):
    unset_means_default: ClassVar[frozenset[str]] = ExecConfig.unset_means_default | {"user"}

    keyfile: str = ""
    user: str = "heketi"
    port: int = 22


@dataclass
class KubeExecConfig(ExecConfig):
    unset_means_default: ClassVar[frozenset[str]] = ExecConfig.unset_means_default | {
        "max_connections"
    }

    namespace: str = ""
    gluster_daemonset: bool = False
    use_pod_names: bool = False
    max_connections: int = _bounded(64, -_INT64_MAX, _INT64_MAX)
    disable_timeout_prefix: bool = False

    @property
    def connection_limit(self) -> int | None:
        """Concurrent exec connections allowed, or None when unlimited (negative in the file)."""
        return None if self.max_connections < 0 else self.max_connections


@dataclass
class RetryLimits(_Section):
    unset_means_default: ClassVar[frozenset[str]] = frozenset({"volume_create"})

    volume_create: int = _bounded(4, 0, _INT64_MAX)


ExecutorName = Literal["mock", "ssh", "kube", "kubernetes", "local"]
LogLevel = Literal["none", "critical", "error", "warning", "info", "debug"]


@dataclass
class GlusterFSConfig(_Section):
    unset_means_default: ClassVar[frozenset[str]] = frozenset(
        {
            "executor",
            "db",
            "loglevel",
            "brick_max_size_gb",
            "brick_min_size_gb",
            "max_bricks_per_volume",
            "average_file_size_kb",
            "zone_checking",
            "max_volumes_per_cluster",
            "block_hosting_volume_size",
            "block_hosting_volume_options",
            "refresh_time_monitor_gluster_nodes",
            "start_time_monitor_gluster_nodes",
            "max_inflight_operations",
            "refresh_time_background_cleaner",
            "start_time_background_cleaner",
            "brick_backend",
            "placer",
            "max_replica",
        }
    )

    executor: ExecutorName = "ssh"
    db: str = "heketi.db"
    db_read_only: bool = False
    loglevel: LogLevel = "info"
    brick_max_size_gb: int = _bounded(4096, 1, _INT64_MAX)
    brick_min_size_gb: int = _bounded(1, 1, _INT64_MAX)
    max_bricks_per_volume: int = _bounded(32, 1, _INT64_MAX)
    average_file_size_kb: int = _bounded(64, 1, _INT64_MAX)
    pre_request_volume_options: str = ""
    post_request_volume_options: str = ""
    zone_checking: Literal["none", "strict"] = "none"
    max_volumes_per_cluster: int = _bounded(1000, -_INT64_MAX, _INT64_MAX)
    auto_create_block_hosting_volume: bool = False
    block_hosting_volume_size: int = _bounded(1024, 1, _INT64_MAX)
    block_hosting_volume_options: str = "group gluster-block"
    disable_monitor_gluster_nodes: bool = False
    refresh_time_monitor_gluster_nodes: int = _bounded(120, 1, _UINT32_MAX)
    start_time_monitor_gluster_nodes: int = _bounded(10, 1, _UINT32_MAX)
    max_inflight_operations: int = _bounded(8, 1, _INT64_MAX)
    disable_background_cleaner: bool = False
    refresh_time_background_cleaner: int = _bounded(3600, 1, _UINT32_MAX)
    start_time_background_cleaner: int = _bounded(60, 1, _UINT32_MAX)
    operation_retry_limits: RetryLimits = field(default_factory=RetryLimits)
    sshexec: SshExecConfig = field(default_factory=SshExecConfig)
    kubeexec: KubeExecConfig = field(default_factory=KubeExecConfig)
    # Brickyard additions.
    mock_device_size_gb: int = _bounded(500, 1, _INT64_MAX)
    brick_backend: Literal["lvm", "loopfile"] = "lvm"
    # How bricks are placed: "balanced" (emptiest acceptable device, new zones first) or
    # "heketi" (Heketi's ring: first fit from a random start).
    placer: Literal["balanced", "heketi"] = "balanced"
    # Highest replica count accepted; Heketi hard-codes 3 and so does the default.
    max_replica: int = _bounded(3, 1, 16)
    # Several servers on one PostgreSQL (docs/ha.md): a server that has not renewed its lease
    # for this long is presumed dead and its operations are taken over by another.
    server_lease_seconds: float = _bounded(8.0, 2.0, 3600.0)
    # How other servers and admins reach this one (GET /servers); default: hostname:port.
    advertise_address: str = field(default="", metadata={"max_length": 512})
    # The heal backlog sampler (/metrics: brickyard_volume_heal_entries): every interval it asks
    # gluster `heal info` of at most heal_sample_volumes volumes, one at a time, taking turns
    # over all volumes. An interval of 0 turns it off.
    heal_sample_interval_seconds: int = _bounded(60, 0, _UINT32_MAX)
    heal_sample_volumes: int = _bounded(10, 1, 100000)

    @property
    def volume_limit(self) -> int | None:
        """Maximum volumes per cluster, or None when unlimited (negative in the file)."""
        return None if self.max_volumes_per_cluster < 0 else self.max_volumes_per_cluster


@dataclass
class Settings(_Section):
    unset_means_default: ClassVar[frozenset[str]] = frozenset({"bind_address", "default_state"})

    port: int = 8080
    bind_address: str = "0.0.0.0"
    use_auth: bool = False  # deprecated and ignored, as in Heketi: auth is on unless --disable-auth
    jwt: JwtConfig = field(default_factory=JwtConfig)
    backup_db_to_kube_secret: bool = False
    enable_tls: bool = False
    cert_file: str = ""
    key_file: str = ""
    profiling: bool = False
    default_state: Literal["normal", "read-only", "local-client"] = "normal"
    jwt_iat_leeway_seconds: int = _bounded(120, 0, _UINT32_MAX)
    max_request_body_bytes: int = _bounded(1048576, 1, _INT64_MAX)
    glusterfs: GlusterFSConfig = field(default_factory=GlusterFSConfig)


# Checks of single fields of their own, before their type's and after it; a section's checks
# hold for the sections derived from it (see `_own_check`).
_BEFORE: dict[tuple[type[_Section], str], Callable[[Any], Any]] = {
    (Settings, "port"): lambda value: _parse_port(value, 8080),
    (SshExecConfig, "port"): lambda value: _parse_port(value, 22),
}
_AFTER: dict[tuple[type[_Section], str], Callable[[Any], Any]] = {
    (ExecConfig, "block_prealloc"): _check_prealloc,
}

# Keys Heketi reads that Brickyard accepts without using them (no warning, value not checked).
_IGNORED_KEYS: dict[type[_Section], frozenset[str]] = {
    GlusterFSConfig: frozenset({"allocator", "injectexec"}),
    KubeExecConfig: frozenset({"host", "cert", "insecure", "user", "password"}),
}

# Fields whose values must never be echoed back in messages.
_SECRET_KEYS = frozenset({"jwt.admin.key", "jwt.user.key"})


def require_auth_keys(settings: Settings, disable_auth: bool) -> None:
    """Heketi refuses to start with auth on unless both JWT keys are set."""
    if disable_auth:
        return
    if not settings.jwt.admin.key or not settings.jwt.user.key:
        raise ConfigError("Missing JWT information in config file")


# --------------------------------------------------------------------------------------------------
# Environment overrides


class _IgnoredEnv(Exception):
    """Raised by a parser when a variable is set but has no effect (becomes a warning)."""


_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _text(value: str) -> Any:
    return value


def _go_bool(value: str) -> Any:
    """Go's strconv.ParseBool."""
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    raise ValueError("must be a boolean (true/false, t/f, 1/0)")


def _yes_no(value: str) -> Any:
    """Heketi's kubeexec switches: first letter y/1 or n/0; we also take true/false."""
    first = value[0].lower()
    if first in "y1":
        return True
    if first in "n0":
        return False
    try:
        return _go_bool(value)
    except ValueError:
        raise ValueError("must be y/yes/1/true or n/no/0/false") from None


def _non_empty_is_true(value: str) -> Any:
    return True


def _only_true_disables(value: str) -> Any:
    if value == "true":
        return True
    raise _IgnoredEnv("has no effect: only the value 'true' disables this task")


def _int(value: str) -> Any:
    if not re.fullmatch(r"[+-]?[0-9]+", value):
        raise ValueError("must be an integer")
    return int(value)


def _seconds(value: str) -> Any:
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        raise ValueError("must be a number of seconds")
    return float(value)


def _uint(value: str) -> Any:
    if not re.fullmatch(r"[0-9]+", value):
        raise ValueError("must be a non-negative integer")
    return int(value)


@dataclass(frozen=True)
class _EnvVar:
    name: str
    keys: tuple[str, ...]
    parse: Callable[[str], Any]
    secret: bool = False


_BOTH_EXEC = ("glusterfs.sshexec.", "glusterfs.kubeexec.")


def _exec_keys(field: str) -> tuple[str, ...]:
    return tuple(prefix + field for prefix in _BOTH_EXEC)


ENV_OVERRIDES: tuple[_EnvVar, ...] = (
    _EnvVar("HEKETI_HTTP_PORT", ("port",), _text),
    _EnvVar("HEKETI_ADMIN_KEY", ("jwt.admin.key",), _text, secret=True),
    _EnvVar("HEKETI_USER_KEY", ("jwt.user.key",), _text, secret=True),
    _EnvVar("HEKETI_BACKUP_DB_TO_KUBE_SECRET", ("backup_db_to_kube_secret",), _non_empty_is_true),
    _EnvVar("HEKETI_PROFILING", ("profiling",), _non_empty_is_true),
    _EnvVar("HEKETI_DEFAULT_STATE", ("default_state",), _text),
    _EnvVar("HEKETI_JWT_IAT_LEEWAY_SECONDS", ("jwt_iat_leeway_seconds",), _uint),
    _EnvVar("HEKETI_EXECUTOR", ("glusterfs.executor",), _text),
    _EnvVar("HEKETI_DB_PATH", ("glusterfs.db",), _text),
    # Ours (after HEKETI_DB_PATH, so it wins): a path or a database URL (store/db.py).
    _EnvVar("BRICKYARD_DB", ("glusterfs.db",), _text),
    _EnvVar("BRICKYARD_SERVER_LEASE_SECONDS", ("glusterfs.server_lease_seconds",), _seconds),
    _EnvVar("BRICKYARD_ADVERTISE_ADDRESS", ("glusterfs.advertise_address",), _text),
    _EnvVar(
        "BRICKYARD_HEAL_SAMPLE_INTERVAL_SECONDS",
        ("glusterfs.heal_sample_interval_seconds",),
        _int,
    ),
    _EnvVar("BRICKYARD_HEAL_SAMPLE_VOLUMES", ("glusterfs.heal_sample_volumes",), _int),
    _EnvVar("HEKETI_GLUSTERAPP_LOGLEVEL", ("glusterfs.loglevel",), _text),
    _EnvVar(
        "HEKETI_AUTO_CREATE_BLOCK_HOSTING_VOLUME",
        ("glusterfs.auto_create_block_hosting_volume",),
        _go_bool,
    ),
    _EnvVar("HEKETI_BLOCK_HOSTING_VOLUME_SIZE", ("glusterfs.block_hosting_volume_size",), _int),
    _EnvVar(
        "HEKETI_BLOCK_HOSTING_VOLUME_OPTIONS", ("glusterfs.block_hosting_volume_options",), _text
    ),
    _EnvVar(
        "HEKETI_GLUSTERAPP_REBALANCE_ON_EXPANSION", _exec_keys("rebalance_on_expansion"), _go_bool
    ),
    _EnvVar("HEKETI_MAX_INFLIGHT_OPERATIONS", ("glusterfs.max_inflight_operations",), _int),
    _EnvVar("HEKETI_PRE_REQUEST_VOLUME_OPTIONS", ("glusterfs.pre_request_volume_options",), _text),
    _EnvVar(
        "HEKETI_POST_REQUEST_VOLUME_OPTIONS", ("glusterfs.post_request_volume_options",), _text
    ),
    _EnvVar("HEKETI_ZONE_CHECKING", ("glusterfs.zone_checking",), _text),
    _EnvVar("BRICKYARD_PLACER", ("glusterfs.placer",), _text),
    _EnvVar("BRICKYARD_MAX_REPLICA", ("glusterfs.max_replica",), _int),
    _EnvVar("HEKETI_GLUSTER_MAX_VOLUMES_PER_CLUSTER", ("glusterfs.max_volumes_per_cluster",), _int),
    _EnvVar(
        "HEKETI_DISABLE_HEALTH_MONITOR",
        ("glusterfs.disable_monitor_gluster_nodes",),
        _only_true_disables,
    ),
    _EnvVar(
        "HEKETI_DISABLE_BACKGROUND_CLEANER",
        ("glusterfs.disable_background_cleaner",),
        _only_true_disables,
    ),
    _EnvVar("HEKETI_MOCK_DEVICE_SIZE_GB", ("glusterfs.mock_device_size_gb",), _int),
    _EnvVar("HEKETI_SSH_KEYFILE", ("glusterfs.sshexec.keyfile",), _text),
    _EnvVar("HEKETI_SSH_USER", ("glusterfs.sshexec.user",), _text),
    _EnvVar("HEKETI_SSH_PORT", ("glusterfs.sshexec.port",), _text),
    _EnvVar("HEKETI_FSTAB", _exec_keys("fstab"), _text),
    _EnvVar("HEKETI_MOUNT_OPTS", _exec_keys("mountopts"), _text),
    _EnvVar("HEKETI_SNAPSHOT_LIMIT", _exec_keys("snapshot_limit"), _int),
    _EnvVar("HEKETI_GLUSTER_CLI_TIMEOUT", _exec_keys("gluster_cli_timeout"), _uint),
    _EnvVar("HEKETI_DEBUG_UMOUNT_FAILURES", _exec_keys("debug_umount_failures"), _go_bool),
    _EnvVar("HEKETI_BLOCK_VOLUME_DEFAULT_PREALLOC", _exec_keys("block_prealloc"), _text),
    _EnvVar("HEKETI_LVM_WRAPPER", _exec_keys("lvm_wrapper"), _text),
    _EnvVar("HEKETI_KUBE_NAMESPACE", ("glusterfs.kubeexec.namespace",), _text),
    _EnvVar("HEKETI_KUBE_GLUSTER_DAEMONSET", ("glusterfs.kubeexec.gluster_daemonset",), _yes_no),
    _EnvVar("HEKETI_KUBE_USE_POD_NAMES", ("glusterfs.kubeexec.use_pod_names",), _yes_no),
)


# --------------------------------------------------------------------------------------------------
# Loading


def _show(value: Any) -> str:
    """A short, JSON-flavoured rendering of an offending value for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 60 else text[:56] + "...'"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


_FIELD_TYPES: dict[str, dict[str, Any]] = {}


def _field_types(model: type[_Section]) -> dict[str, Any]:
    """Each field's type, resolved (the annotations are strings here); by class name, as
    mypy takes a non-frozen dataclass for unhashable."""
    types = _FIELD_TYPES.get(model.__qualname__)
    if types is None:
        hints = typing.get_type_hints(model)
        types = {f.name: hints[f.name] for f in dataclasses.fields(model)}
        _FIELD_TYPES[model.__qualname__] = types
    return types


def field_names(model: type[_Section]) -> list[str]:
    """The keys a section takes, in declaration order."""
    return list(_field_types(model))


def _nested_model(model: type[_Section], name: str) -> type[_Section] | None:
    annotation = _field_types(model)[name]
    if isinstance(annotation, type) and issubclass(annotation, _Section):
        return annotation
    return None


def _clean(
    raw: Mapping[str, Any], model: type[_Section], prefix: str, warnings: list[str]
) -> dict[str, Any]:
    """Drop comments, ignored and unknown keys (warning for the latter), resolve key case."""
    fields = _field_types(model)
    by_lower = {name.lower(): name for name in fields}
    ignored = _IGNORED_KEYS.get(model, frozenset())
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith("_"):
            continue
        name = key if key in fields else by_lower.get(key.lower())
        if name is None:
            if key.lower() not in ignored:
                warnings.append(f"unknown key {prefix}{key} ignored")
            continue
        if value is None:  # Go leaves the field untouched on null
            continue
        sub = _nested_model(model, name)
        if sub is not None and isinstance(value, dict):
            out[name] = _clean(value, sub, f"{prefix}{name}.", warnings)
        else:
            out[name] = value
    return out


def _read_file(path: str | os.PathLike[str], warnings: list[str]) -> dict[str, Any]:
    shown = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError(f"Unable to open config file {shown}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"Unable to parse configuration {shown}: not UTF-8 text (byte {exc.start})"
        ) from None

    def _reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    start = len(text) - len(text.lstrip())
    try:
        document, end = decoder.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"Unable to parse configuration {shown}: {exc.msg} "
            f"(line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"Unable to parse configuration {shown}: {exc}") from None
    if text[end:].strip():
        warnings.append(f"{shown}: text after the JSON object ignored")
    if not isinstance(document, dict):
        raise ConfigError(
            f"Unable to parse configuration {shown}: the top level must be a JSON object"
        )
    return document


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):  # the file has a non-object here: let validation report it
            return
        node = child
    node[leaf] = value


def _delete_loc(data: dict[str, Any], loc: tuple[str, ...]) -> bool:
    node: Any = data
    for part in loc[:-1]:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    if isinstance(node, dict) and loc[-1] in node:
        del node[loc[-1]]
        return True
    return False


def _dotted(loc: tuple[str, ...]) -> str:
    return ".".join(str(part) for part in loc)


@dataclass(frozen=True)
class _Problem:
    """One value a section refused: where, why, and the value (`extra` for an unknown key)."""

    loc: tuple[str, ...]
    message: str
    value: Any
    extra: bool = False


_MISSING = object()


def _check_type(kind: Any, value: Any) -> str:
    """Why `value` is not of type `kind` ("" when it is), as Go's decoder would refuse it."""
    if typing.get_origin(kind) is Literal:
        allowed = typing.get_args(kind)
        if type(value) is str and value in allowed:
            return ""
        return "must be one of " + ", ".join(allowed)
    if kind is bool:
        return "" if type(value) is bool else "must be true or false"
    if kind is int:
        return "" if type(value) is int else "must be an integer"
    if kind is float:
        return "" if type(value) in (int, float) else "must be a number"
    if kind is str:
        return "" if type(value) is str else "must be a string"
    raise TypeError(f"no check for fields of type {kind!r}")  # a new field's type: add it


def _check_field(model: type[_Section], spec: dataclasses.Field[Any], kind: Any, value: Any) -> Any:
    """The field's value from `value`, or _Invalid."""
    before = _own_check(_BEFORE, model, spec.name)
    if before is not None:
        value = before(value)
    problem = _check_type(kind, value)
    if problem:
        raise _Invalid(problem)
    bounds = spec.metadata
    if "ge" in bounds and value < bounds["ge"]:
        raise _Invalid(f"must be at least {bounds['ge']}")
    if "le" in bounds and value > bounds["le"]:
        raise _Invalid(f"must be at most {bounds['le']}")
    if "max_length" in bounds and len(value) > bounds["max_length"]:
        raise _Invalid(f"must be at most {bounds['max_length']} characters long")
    after = _own_check(_AFTER, model, spec.name)
    return value if after is None else after(value)


def _own_check(
    checks: Mapping[tuple[type[_Section], str], Callable[[Any], Any]],
    model: type[_Section],
    name: str,
) -> Callable[[Any], Any] | None:
    """The check of field `name` of `model` or of the nearest section it derives from."""
    for section in model.__mro__:
        found = checks.get((section, name))
        if found is not None:
            return found
    return None


def _build(model: type[_Section], data: Any, loc: tuple[str, ...], problems: list[_Problem]) -> Any:
    """A `model` from a JSON object; what it refuses is added to `problems` (all of them, in
    field order), and the result is then meaningless."""
    if not isinstance(data, dict):
        problems.append(_Problem(loc, "must be a JSON object", data))
        return None
    data = dict(data)
    for name in model.unset_means_default:
        value = data.get(name)
        if (type(value) is int and value == 0) or (type(value) is str and value == ""):
            del data[name]
    types = _field_types(model)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(model):
        value = data.get(spec.name, _MISSING)
        if value is _MISSING:
            continue
        nested = _nested_model(model, spec.name)
        if nested is not None:
            values[spec.name] = _build(nested, value, (*loc, spec.name), problems)
            continue
        try:
            values[spec.name] = _check_field(model, spec, types[spec.name], value)
        except _Invalid as exc:
            problems.append(_Problem((*loc, spec.name), str(exc), value))
    problems.extend(
        _Problem((*loc, key), "unknown key", None, True) for key in data if key not in types
    )
    return model(**values)


def _format_errors(problems: list[_Problem], origin: Mapping[str, _EnvVar]) -> str:
    messages = []
    for problem in problems:
        key = _dotted(problem.loc)
        env = origin.get(key)
        where = f"{env.name} ({key})" if env else key
        message = f"{where}: {problem.message}"
        secret = key in _SECRET_KEYS or (env is not None and env.secret)
        if not problem.extra:
            shown = type(problem.value).__name__ if secret else _show(problem.value)
            message += f" (got {shown})"
        messages.append(message)
    return "; ".join(messages)


def _section_in_use(section: str, executor: Any) -> bool:
    if section == "sshexec":
        return executor in ("ssh", "local", "") or not isinstance(executor, str)
    return executor in ("kube", "kubernetes")


def _validate(data: dict[str, Any], origin: Mapping[str, _EnvVar]) -> Settings:
    glusterfs = data.get("glusterfs")
    executor = glusterfs.get("executor", "ssh") if isinstance(glusterfs, dict) else "ssh"
    while True:
        problems: list[_Problem] = []
        settings = _build(Settings, data, (), problems)
        if not problems:
            return typing.cast(Settings, settings)
        fatal: list[_Problem] = []
        forgivable: list[tuple[str, ...]] = []
        for problem in problems:
            loc = problem.loc
            unused_section = (
                len(loc) >= 2
                and loc[0] == "glusterfs"
                and loc[1] in ("sshexec", "kubeexec")
                and not _section_in_use(loc[1], executor)
            )
            if unused_section and _dotted(loc) not in origin:
                forgivable.append(loc)
            else:
                fatal.append(problem)
        # Values in an executor section that is not in use fall back to their defaults.
        if fatal or not all([_delete_loc(data, loc) for loc in forgivable]):
            raise ConfigError(_format_errors(fatal or problems, origin))


def load_settings(
    path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> tuple[Settings, list[str]]:
    """Load a heketi.json file (or defaults when `path` is None) plus ``HEKETI_*`` overrides.

    Returns the settings and a list of human-readable warnings (unknown keys, ignored values).
    Raises `ConfigError` for an unreadable or malformed file and for invalid values.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    warnings: list[str] = []
    raw = _read_file(path, warnings) if path is not None else {}
    data = _clean(raw, Settings, "", warnings)

    # Heketi ignores rebalance_on_expansion in the file and always rebalances.
    glusterfs = data.get("glusterfs")
    if isinstance(glusterfs, dict):
        for section in ("sshexec", "kubeexec"):
            block = glusterfs.get(section)
            if (
                isinstance(block, dict)
                and "rebalance_on_expansion" in block
                and block.pop("rebalance_on_expansion") is not True
            ):
                warnings.append(
                    f"glusterfs.{section}.rebalance_on_expansion in the file is ignored "
                    "(as in Heketi); set HEKETI_GLUSTERAPP_REBALANCE_ON_EXPANSION=false "
                    "to disable rebalancing"
                )

    origin: dict[str, _EnvVar] = {}
    for var in ENV_OVERRIDES:
        value = environ.get(var.name, "")
        if value == "":
            continue
        try:
            parsed = var.parse(value)
        except _IgnoredEnv as exc:
            warnings.append(f"{var.name}={value!r} {exc}")
            continue
        except ValueError as exc:
            shown = "" if var.secret else f" (got {_show(value)})"
            raise ConfigError(f"{var.name}: {exc}{shown}") from None
        for key in var.keys:
            _set_dotted(data, key, parsed)
            origin[key] = var

    glusterfs = data.get("glusterfs")
    if isinstance(glusterfs, dict):
        executor = glusterfs.get("executor")
        if isinstance(executor, str) and executor.startswith("inject/"):
            replacement = executor.removeprefix("inject/")
            if replacement in ("ssh", "mock"):
                source = origin.get("glusterfs.executor")
                where = source.name if source else "glusterfs.executor"
                warnings.append(
                    f"{where}: fault-injection executor {executor!r} is not supported; "
                    f"using {replacement!r}"
                )
                glusterfs["executor"] = replacement

    settings = _validate(data, origin)

    if settings.enable_tls:
        for key in ("cert_file", "key_file"):
            if not getattr(settings, key):
                raise ConfigError(f"{key}: required when enable_tls is true")
    gfs = settings.glusterfs
    if gfs.brick_min_size_gb > gfs.brick_max_size_gb:
        raise ConfigError(
            "glusterfs.brick_min_size_gb: must not exceed glusterfs.brick_max_size_gb "
            f"(got {gfs.brick_min_size_gb} > {gfs.brick_max_size_gb})"
        )
    return settings, warnings

"""heketi.json loading: Heketi's sample, defaults, environment overrides, errors, secrets."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brickyard import config as config_module
from brickyard.config import (
    ENV_OVERRIDES,
    ConfigError,
    ExecConfig,
    GlusterFSConfig,
    KubeExecConfig,
    Settings,
    SshExecConfig,
    field_names,
    load_settings,
    require_auth_keys,
)

REPO = Path(__file__).resolve().parents[2]

# Heketi's sample etc/heketi.json, placeholders included (its sshexec.port is prose, not a number).
HEKETI_SAMPLE: dict[str, Any] = {
    "_port_comment": "Heketi Server Port Number",
    "port": "8080",
    "_use_auth": "Enable JWT authorization. Please enable for deployment",
    "use_auth": False,
    "_jwt": "Private keys for access",
    "jwt": {
        "_admin": "Admin has access to all APIs",
        "admin": {"key": "My Secret"},
        "_user": "User only has access to /volumes endpoint",
        "user": {"key": "My Secret"},
    },
    "_glusterfs_comment": "GlusterFS Configuration",
    "glusterfs": {
        "_executor_comment": [
            "Execute plugin. Possible choices: mock, ssh",
            "mock: This setting is used for testing and development.",
            "      It will not send commands to any node.",
            "ssh:  This setting will notify Heketi to ssh to the nodes.",
            "      It will need the values in sshexec to be configured.",
            "kubernetes: Communicate with GlusterFS containers over",
            "            Kubernetes exec api.",
        ],
        "executor": "mock",
        "_sshexec_comment": "SSH username and private key file information",
        "sshexec": {
            "keyfile": "path/to/private_key",
            "user": "sshuser",
            "port": "Optional: ssh port.  Default is 22",
            "fstab": "Optional: Specify fstab file on node.  Default is /etc/fstab",
        },
        "_kubeexec_comment": "Kubernetes configuration",
        "kubeexec": {
            "host": "https://kubernetes.host:8443",
            "cert": "/path/to/crt.file",
            "insecure": False,
            "user": "kubernetes username",
            "password": "password for kubernetes user",
            "namespace": "OpenShift project or Kubernetes namespace",
            "fstab": "Optional: Specify fstab file on node.  Default is /etc/fstab",
        },
        "_db_comment": "Database file name",
        "db": "/var/lib/heketi/heketi.db",
        "brick_max_size_gb": 1024,
        "brick_min_size_gb": 1,
        "max_bricks_per_volume": 33,
        "_loglevel_comment": [
            "Set log level. Choices are:",
            "  none, critical, error, warning, info, debug",
            "Default is warning",
        ],
        "loglevel": "debug",
    },
}


def write(tmp_path: Path, document: Any, name: str = "heketi.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def load(tmp_path: Path, document: Any, env: dict[str, str] | None = None) -> Settings:
    loaded, warnings = load_settings(write(tmp_path, document), env or {})
    assert warnings == []
    return loaded


def load_error(tmp_path: Path, document: Any, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, document), env or {})
    return str(info.value)


def attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


# --------------------------------------------------------------------------------------------------
# The sample file, defaults


def test_heketi_sample_loads_without_warnings(tmp_path: Path) -> None:
    loaded, warnings = load_settings(write(tmp_path, HEKETI_SAMPLE), {})
    assert warnings == []
    assert loaded.port == 8080
    assert loaded.use_auth is False
    assert loaded.jwt.admin.key == "My Secret"
    assert loaded.jwt.user.key == "My Secret"
    gfs = loaded.glusterfs
    assert gfs.executor == "mock"
    assert gfs.db == "/var/lib/heketi/heketi.db"
    assert gfs.loglevel == "debug"
    assert (gfs.brick_max_size_gb, gfs.brick_min_size_gb, gfs.max_bricks_per_volume) == (
        1024,
        1,
        33,
    )
    assert gfs.sshexec.keyfile == "path/to/private_key"
    assert gfs.sshexec.user == "sshuser"
    assert gfs.sshexec.port == 22  # placeholder prose in an unused section falls back
    assert gfs.kubeexec.namespace == "OpenShift project or Kubernetes namespace"


def test_shipped_example_config_loads_without_warnings() -> None:
    loaded, warnings = load_settings(REPO / "deploy" / "heketi.json", {})
    assert warnings == []
    assert loaded.glusterfs.executor == "mock"
    assert loaded.port == 8080


EXPECTED_DEFAULTS: dict[str, Any] = {
    "port": 8080,
    "bind_address": "0.0.0.0",
    "use_auth": False,
    "jwt.admin.key": "",
    "jwt.user.key": "",
    "backup_db_to_kube_secret": False,
    "enable_tls": False,
    "cert_file": "",
    "key_file": "",
    "profiling": False,
    "default_state": "normal",
    "jwt_iat_leeway_seconds": 120,
    "max_request_body_bytes": 1048576,
    "glusterfs.executor": "ssh",
    "glusterfs.db": "heketi.db",
    "glusterfs.db_read_only": False,
    "glusterfs.loglevel": "info",
    "glusterfs.brick_max_size_gb": 4096,
    "glusterfs.brick_min_size_gb": 1,
    "glusterfs.max_bricks_per_volume": 32,
    "glusterfs.average_file_size_kb": 64,
    "glusterfs.pre_request_volume_options": "",
    "glusterfs.post_request_volume_options": "",
    "glusterfs.zone_checking": "none",
    "glusterfs.max_volumes_per_cluster": 1000,
    "glusterfs.volume_limit": 1000,
    "glusterfs.auto_create_block_hosting_volume": False,
    "glusterfs.block_hosting_volume_size": 1024,
    "glusterfs.block_hosting_volume_options": "group gluster-block",
    "glusterfs.disable_monitor_gluster_nodes": False,
    "glusterfs.refresh_time_monitor_gluster_nodes": 120,
    "glusterfs.start_time_monitor_gluster_nodes": 10,
    "glusterfs.max_inflight_operations": 8,
    "glusterfs.disable_background_cleaner": False,
    "glusterfs.refresh_time_background_cleaner": 3600,
    "glusterfs.start_time_background_cleaner": 60,
    "glusterfs.operation_retry_limits.volume_create": 4,
    "glusterfs.mock_device_size_gb": 500,
    "glusterfs.brick_backend": "lvm",
    "glusterfs.placer": "balanced",
    "glusterfs.max_replica": 3,
    "glusterfs.server_lease_seconds": 8.0,
    "glusterfs.advertise_address": "",
    "glusterfs.heal_sample_interval_seconds": 60,
    "glusterfs.heal_sample_volumes": 10,
    "glusterfs.sshexec.keyfile": "",
    "glusterfs.sshexec.user": "heketi",
    "glusterfs.sshexec.port": 22,
    "glusterfs.kubeexec.namespace": "",
    "glusterfs.kubeexec.gluster_daemonset": False,
    "glusterfs.kubeexec.use_pod_names": False,
    "glusterfs.kubeexec.max_connections": 64,
    "glusterfs.kubeexec.connection_limit": 64,
    "glusterfs.kubeexec.disable_timeout_prefix": False,
}
EXEC_DEFAULTS: dict[str, Any] = {
    "fstab": "/etc/fstab",
    "mountopts": "rw,inode64,noatime,nouuid",
    "sudo": False,
    "snapshot_limit": 0,
    "rebalance_on_expansion": True,
    "backup_lvm_metadata": False,
    "gluster_cli_timeout": 600,
    "pv_data_alignment": "256K",
    "vg_physicalextentsize": "4M",
    "lv_chunksize": "256K",
    "xfs_sw": 0,
    "xfs_su": 0,
    "debug_umount_failures": False,
    "block_prealloc": "full",
    "lvm_wrapper": "",
}


def test_every_default_without_a_file() -> None:
    loaded, warnings = load_settings(None, {})
    assert warnings == []
    assert loaded == Settings()
    for key, expected in EXPECTED_DEFAULTS.items():
        assert attr(loaded, key) == expected, key
    for section in ("sshexec", "kubeexec"):
        for key, expected in EXEC_DEFAULTS.items():
            assert attr(loaded.glusterfs, f"{section}.{key}") == expected, (section, key)


def test_every_model_field_has_an_expected_default() -> None:
    covered = {k for k in EXPECTED_DEFAULTS if not k.endswith(("volume_limit", "connection_limit"))}
    fields = set()
    for name in field_names(Settings):
        if name not in ("jwt", "glusterfs"):
            fields.add(name)
    fields |= {"jwt.admin.key", "jwt.user.key"}
    for name in field_names(GlusterFSConfig):
        if name not in ("sshexec", "kubeexec", "operation_retry_limits"):
            fields.add(f"glusterfs.{name}")
    fields.add("glusterfs.operation_retry_limits.volume_create")
    for model, section in ((SshExecConfig, "sshexec"), (KubeExecConfig, "kubeexec")):
        for name in field_names(model):
            if name not in field_names(ExecConfig):
                fields.add(f"glusterfs.{section}.{name}")
    assert fields == covered
    assert set(field_names(ExecConfig)) == set(EXEC_DEFAULTS)


def test_empty_object_file_gives_defaults(tmp_path: Path) -> None:
    assert load(tmp_path, {}) == Settings()


def test_env_none_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEKETI_HTTP_PORT", "9191")
    loaded, _ = load_settings(None)
    assert loaded.port == 9191


def test_relative_db_path_is_kept_as_given(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"glusterfs": {"db": "data/heketi.db"}})
    assert loaded.glusterfs.db == "data/heketi.db"


# --------------------------------------------------------------------------------------------------
# Heketi's "0 / empty means default" rules, ports, limits


@pytest.mark.parametrize(
    ("key", "unset", "expected"),
    [
        ("glusterfs.executor", "", "ssh"),
        ("glusterfs.db", "", "heketi.db"),
        ("glusterfs.loglevel", "", "info"),
        ("glusterfs.zone_checking", "", "none"),
        ("glusterfs.brick_max_size_gb", 0, 4096),
        ("glusterfs.brick_min_size_gb", 0, 1),
        ("glusterfs.max_bricks_per_volume", 0, 32),
        ("glusterfs.average_file_size_kb", 0, 64),
        ("glusterfs.max_volumes_per_cluster", 0, 1000),
        ("glusterfs.block_hosting_volume_size", 0, 1024),
        ("glusterfs.block_hosting_volume_options", "", "group gluster-block"),
        ("glusterfs.refresh_time_monitor_gluster_nodes", 0, 120),
        ("glusterfs.start_time_monitor_gluster_nodes", 0, 10),
        ("glusterfs.max_inflight_operations", 0, 8),
        ("glusterfs.refresh_time_background_cleaner", 0, 3600),
        ("glusterfs.start_time_background_cleaner", 0, 60),
        ("glusterfs.operation_retry_limits.volume_create", 0, 4),
        ("glusterfs.sshexec.fstab", "", "/etc/fstab"),
        ("glusterfs.sshexec.mountopts", "", "rw,inode64,noatime,nouuid"),
        ("glusterfs.sshexec.gluster_cli_timeout", 0, 600),
        ("glusterfs.sshexec.pv_data_alignment", "", "256K"),
        ("glusterfs.sshexec.vg_physicalextentsize", "", "4M"),
        ("glusterfs.sshexec.lv_chunksize", "", "256K"),
        ("glusterfs.sshexec.block_prealloc", "", "full"),
        ("glusterfs.sshexec.user", "", "heketi"),
        ("glusterfs.sshexec.port", "", 22),
        ("glusterfs.kubeexec.max_connections", 0, 64),
        ("port", "", 8080),
        ("default_state", "", "normal"),
    ],
)
def test_unset_values_mean_default(tmp_path: Path, key: str, unset: Any, expected: Any) -> None:
    document: dict[str, Any] = {}
    node = document
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = unset
    executor = {"glusterfs.kubeexec.max_connections": "kube"}.get(key, "ssh")
    if key != "glusterfs.executor":
        document.setdefault("glusterfs", {})["executor"] = executor
    assert attr(load(tmp_path, document), key) == expected


def test_null_values_keep_defaults(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"port": None, "glusterfs": {"db": None, "sshexec": None}})
    assert loaded == Settings()


@pytest.mark.parametrize("value", ["8081", 8081])
def test_port_accepts_string_or_integer(tmp_path: Path, value: Any) -> None:
    assert load(tmp_path, {"port": value}).port == 8081


@pytest.mark.parametrize("value", ["2222", 2222])
def test_ssh_port_accepts_string_or_integer(tmp_path: Path, value: Any) -> None:
    loaded = load(tmp_path, {"glusterfs": {"executor": "ssh", "sshexec": {"port": value}}})
    assert loaded.glusterfs.sshexec.port == 2222


def test_volume_limit_negative_is_unlimited(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"glusterfs": {"max_volumes_per_cluster": -1}})
    assert loaded.glusterfs.max_volumes_per_cluster == -1
    assert loaded.glusterfs.volume_limit is None
    assert load(tmp_path, {"glusterfs": {"max_volumes_per_cluster": 5}}).glusterfs.volume_limit == 5


def test_kube_connections_negative_is_unlimited(tmp_path: Path) -> None:
    document = {"glusterfs": {"executor": "kube", "kubeexec": {"max_connections": -1}}}
    assert load(tmp_path, document).glusterfs.kubeexec.connection_limit is None


def test_key_names_match_case_insensitively_like_go(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"Port": "9000", "GlusterFS": {"Executor": "mock", "DB": "x.db"}})
    assert loaded.port == 9000
    assert loaded.glusterfs.executor == "mock"
    assert loaded.glusterfs.db == "x.db"


def test_all_executors_and_levels_accepted(tmp_path: Path) -> None:
    for executor in ("mock", "ssh", "kube", "kubernetes", "local"):
        assert load(tmp_path, {"glusterfs": {"executor": executor}}).glusterfs.executor == executor
    for level in ("none", "critical", "error", "warning", "info", "debug"):
        assert load(tmp_path, {"glusterfs": {"loglevel": level}}).glusterfs.loglevel == level
    for state in ("normal", "read-only", "local-client"):
        assert load(tmp_path, {"default_state": state}).default_state == state
    assert load(tmp_path, {"glusterfs": {"brick_backend": "loopfile"}}).glusterfs.brick_backend == (
        "loopfile"
    )


# --------------------------------------------------------------------------------------------------
# Ignored and unknown keys


def test_keys_heketi_reads_but_we_do_not_use_are_silent(tmp_path: Path) -> None:
    document = {
        "use_auth": True,
        "glusterfs": {
            "allocator": "simple",
            "injectexec": {"cmd_results": [{"cmd": ".*", "result": "x"}]},
            "executor": "kube",
            "kubeexec": {
                "host": "https://k:8443",
                "cert": "/c",
                "insecure": True,
                "user": "u",
                "password": "hunter2",
            },
        },
    }
    loaded = load(tmp_path, document)
    assert loaded.use_auth is True
    assert "hunter2" not in repr(loaded)


def test_unknown_keys_warn_with_dotted_path(tmp_path: Path) -> None:
    document = {
        "foo": 1,
        "jwt": {"admin": {"key": "k", "extra": 1}},
        "glusterfs": {
            "bar": {"deep": 1},
            "sshexec": {"baz": 2},
            "operation_retry_limits": {"q": 1},
        },
    }
    _, warnings = load_settings(write(tmp_path, document), {})
    assert sorted(warnings) == sorted(
        [
            "unknown key foo ignored",
            "unknown key jwt.admin.extra ignored",
            "unknown key glusterfs.bar ignored",
            "unknown key glusterfs.sshexec.baz ignored",
            "unknown key glusterfs.operation_retry_limits.q ignored",
        ]
    )


def test_unknown_key_warning_does_not_echo_its_value(tmp_path: Path) -> None:
    _, warnings = load_settings(write(tmp_path, {"admin_password": "s3cr3t-value"}), {})
    assert warnings == ["unknown key admin_password ignored"]


_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12)
_KNOWN = {
    name.lower()
    for model in (Settings, GlusterFSConfig, SshExecConfig, KubeExecConfig)
    for name in field_names(model)
} | {"allocator", "injectexec", "host", "cert", "insecure", "user", "password", "admin", "key"}
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
_PLACES = ["", "jwt", "jwt.admin", "glusterfs", "glusterfs.sshexec", "glusterfs.kubeexec"]


def _base_document() -> dict[str, Any]:
    return copy.deepcopy(HEKETI_SAMPLE)


def _node(document: dict[str, Any], place: str) -> dict[str, Any]:
    node = document
    for part in filter(None, place.split(".")):
        node = node[part]
    return node


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    comments=st.lists(
        st.tuples(st.sampled_from(_PLACES), _NAME, st.one_of(_SCALAR, st.lists(_SCALAR))),
        max_size=8,
    )
)
def test_property_comment_keys_never_warn(
    tmp_path: Path, comments: list[tuple[str, str, Any]]
) -> None:
    document = _base_document()
    for place, name, value in comments:
        _node(document, place)["_" + name] = value
    loaded, warnings = load_settings(write(tmp_path, document), {})
    assert warnings == []
    assert loaded.glusterfs.executor == "mock"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    unknown=st.dictionaries(
        st.tuples(st.sampled_from(_PLACES), _NAME.filter(lambda n: not n.startswith("_"))).filter(
            lambda pair: pair[1].lower() not in _KNOWN
        ),
        _SCALAR,
        max_size=6,
    )
)
def test_property_each_unknown_key_warns_once(
    tmp_path: Path, unknown: dict[tuple[str, str], Any]
) -> None:
    document = _base_document()
    expected = []
    for (place, name), value in unknown.items():
        node = _node(document, place)
        if any(existing.lower() == name.lower() for existing in node):
            continue  # same key in another case: Go merges those, so skip
        node[name] = value
        expected.append(f"unknown key {place + '.' if place else ''}{name} ignored")
    _, warnings = load_settings(write(tmp_path, document), {})
    assert sorted(warnings) == sorted(expected)


# --------------------------------------------------------------------------------------------------
# Environment


ENV_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("HEKETI_HTTP_PORT", "9090", {"port": 9090}),
    ("HEKETI_ADMIN_KEY", "adm", {"jwt.admin.key": "adm"}),
    ("HEKETI_USER_KEY", "usr", {"jwt.user.key": "usr"}),
    ("HEKETI_BACKUP_DB_TO_KUBE_SECRET", "anything", {"backup_db_to_kube_secret": True}),
    ("HEKETI_PROFILING", "no", {"profiling": True}),  # any non-empty value means true
    ("HEKETI_DEFAULT_STATE", "read-only", {"default_state": "read-only"}),
    ("HEKETI_JWT_IAT_LEEWAY_SECONDS", "30", {"jwt_iat_leeway_seconds": 30}),
    ("HEKETI_EXECUTOR", "kubernetes", {"glusterfs.executor": "kubernetes"}),
    ("HEKETI_DB_PATH", "/srv/h.db", {"glusterfs.db": "/srv/h.db"}),
    (
        "BRICKYARD_DB",
        "postgresql+psycopg://heketi@db:5432/heketi",
        {"glusterfs.db": "postgresql+psycopg://heketi@db:5432/heketi"},
    ),
    ("HEKETI_GLUSTERAPP_LOGLEVEL", "warning", {"glusterfs.loglevel": "warning"}),
    (
        "HEKETI_AUTO_CREATE_BLOCK_HOSTING_VOLUME",
        "true",
        {"glusterfs.auto_create_block_hosting_volume": True},
    ),
    ("HEKETI_BLOCK_HOSTING_VOLUME_SIZE", "200", {"glusterfs.block_hosting_volume_size": 200}),
    (
        "HEKETI_BLOCK_HOSTING_VOLUME_OPTIONS",
        "group x",
        {"glusterfs.block_hosting_volume_options": "group x"},
    ),
    (
        "HEKETI_GLUSTERAPP_REBALANCE_ON_EXPANSION",
        "false",
        {
            "glusterfs.sshexec.rebalance_on_expansion": False,
            "glusterfs.kubeexec.rebalance_on_expansion": False,
        },
    ),
    ("HEKETI_MAX_INFLIGHT_OPERATIONS", "3", {"glusterfs.max_inflight_operations": 3}),
    ("HEKETI_PRE_REQUEST_VOLUME_OPTIONS", "a b", {"glusterfs.pre_request_volume_options": "a b"}),
    ("HEKETI_POST_REQUEST_VOLUME_OPTIONS", "c d", {"glusterfs.post_request_volume_options": "c d"}),
    ("HEKETI_ZONE_CHECKING", "strict", {"glusterfs.zone_checking": "strict"}),
    ("BRICKYARD_PLACER", "heketi", {"glusterfs.placer": "heketi"}),
    ("BRICKYARD_MAX_REPLICA", "4", {"glusterfs.max_replica": 4}),
    ("BRICKYARD_SERVER_LEASE_SECONDS", "2.5", {"glusterfs.server_lease_seconds": 2.5}),
    (
        "BRICKYARD_HEAL_SAMPLE_INTERVAL_SECONDS",
        "0",
        {"glusterfs.heal_sample_interval_seconds": 0},
    ),
    ("BRICKYARD_HEAL_SAMPLE_VOLUMES", "3", {"glusterfs.heal_sample_volumes": 3}),
    (
        "BRICKYARD_ADVERTISE_ADDRESS",
        "10.0.0.5:8080",
        {"glusterfs.advertise_address": "10.0.0.5:8080"},
    ),
    (
        "HEKETI_GLUSTER_MAX_VOLUMES_PER_CLUSTER",
        "-1",
        {"glusterfs.max_volumes_per_cluster": -1, "glusterfs.volume_limit": None},
    ),
    ("HEKETI_DISABLE_HEALTH_MONITOR", "true", {"glusterfs.disable_monitor_gluster_nodes": True}),
    ("HEKETI_DISABLE_BACKGROUND_CLEANER", "true", {"glusterfs.disable_background_cleaner": True}),
    ("HEKETI_MOCK_DEVICE_SIZE_GB", "42", {"glusterfs.mock_device_size_gb": 42}),
    ("HEKETI_SSH_KEYFILE", "/k", {"glusterfs.sshexec.keyfile": "/k"}),
    ("HEKETI_SSH_USER", "root", {"glusterfs.sshexec.user": "root"}),
    ("HEKETI_SSH_PORT", "2200", {"glusterfs.sshexec.port": 2200}),
    (
        "HEKETI_FSTAB",
        "/var/lib/heketi/fstab",
        {
            "glusterfs.sshexec.fstab": "/var/lib/heketi/fstab",
            "glusterfs.kubeexec.fstab": "/var/lib/heketi/fstab",
        },
    ),
    (
        "HEKETI_MOUNT_OPTS",
        "rw",
        {"glusterfs.sshexec.mountopts": "rw", "glusterfs.kubeexec.mountopts": "rw"},
    ),
    (
        "HEKETI_SNAPSHOT_LIMIT",
        "14",
        {"glusterfs.sshexec.snapshot_limit": 14, "glusterfs.kubeexec.snapshot_limit": 14},
    ),
    (
        "HEKETI_GLUSTER_CLI_TIMEOUT",
        "120",
        {
            "glusterfs.sshexec.gluster_cli_timeout": 120,
            "glusterfs.kubeexec.gluster_cli_timeout": 120,
        },
    ),
    (
        "HEKETI_DEBUG_UMOUNT_FAILURES",
        "1",
        {
            "glusterfs.sshexec.debug_umount_failures": True,
            "glusterfs.kubeexec.debug_umount_failures": True,
        },
    ),
    (
        "HEKETI_BLOCK_VOLUME_DEFAULT_PREALLOC",
        "no",
        {"glusterfs.sshexec.block_prealloc": "no", "glusterfs.kubeexec.block_prealloc": "no"},
    ),
    (
        "HEKETI_LVM_WRAPPER",
        "/usr/sbin/exec-on-host",
        {
            "glusterfs.sshexec.lvm_wrapper": "/usr/sbin/exec-on-host",
            "glusterfs.kubeexec.lvm_wrapper": "/usr/sbin/exec-on-host",
        },
    ),
    ("HEKETI_KUBE_NAMESPACE", "storage", {"glusterfs.kubeexec.namespace": "storage"}),
    ("HEKETI_KUBE_GLUSTER_DAEMONSET", "y", {"glusterfs.kubeexec.gluster_daemonset": True}),
    ("HEKETI_KUBE_USE_POD_NAMES", "1", {"glusterfs.kubeexec.use_pod_names": True}),
]


def test_env_cases_cover_every_override() -> None:
    assert {name for name, _, _ in ENV_CASES} == {var.name for var in ENV_OVERRIDES}


@pytest.mark.parametrize(("name", "value", "expected"), ENV_CASES, ids=[c[0] for c in ENV_CASES])
def test_env_override_without_file(name: str, value: str, expected: dict[str, Any]) -> None:
    loaded, warnings = load_settings(None, {name: value})
    assert warnings == []
    for key, want in expected.items():
        assert attr(loaded, key) == want, key


@pytest.mark.parametrize(("name", "value", "expected"), ENV_CASES, ids=[c[0] for c in ENV_CASES])
def test_env_override_wins_over_file(
    tmp_path: Path, name: str, value: str, expected: dict[str, Any]
) -> None:
    document = {
        "port": "8000",
        "jwt": {"admin": {"key": "file-admin"}, "user": {"key": "file-user"}},
        "default_state": "local-client",
        "glusterfs": {
            "executor": "ssh",
            "db": "file.db",
            "loglevel": "error",
            "block_hosting_volume_size": 7,
            "max_inflight_operations": 9,
            "zone_checking": "none",
            "max_volumes_per_cluster": 5,
            "mock_device_size_gb": 9,
            "sshexec": {"keyfile": "/file", "user": "fileuser", "port": "23", "fstab": "/f"},
            "kubeexec": {"namespace": "filens", "fstab": "/f"},
        },
    }
    loaded, _ = load_settings(write(tmp_path, document), {name: value})
    for key, want in expected.items():
        assert attr(loaded, key) == want, key


def test_empty_env_values_are_ignored(tmp_path: Path) -> None:
    env = {var.name: "" for var in ENV_OVERRIDES}
    assert load(tmp_path, {"port": "8000"}, env).port == 8000
    assert load_settings(None, env) == (Settings(), [])


def test_env_port_wins_over_file_port(tmp_path: Path) -> None:
    assert load(tmp_path, {"port": "8000"}, {"HEKETI_HTTP_PORT": "8001"}).port == 8001


@pytest.mark.parametrize(
    "name", ["HEKETI_DISABLE_HEALTH_MONITOR", "HEKETI_DISABLE_BACKGROUND_CLEANER"]
)
@pytest.mark.parametrize("value", ["1", "yes", "TRUE", "false"])
def test_disable_switches_only_take_true(name: str, value: str) -> None:
    loaded, warnings = load_settings(None, {name: value})
    assert not loaded.glusterfs.disable_monitor_gluster_nodes
    assert not loaded.glusterfs.disable_background_cleaner
    assert len(warnings) == 1
    assert name in warnings[0]


def test_disable_env_false_does_not_reenable_file_setting(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"glusterfs": {"disable_background_cleaner": True}})
    assert loaded.glusterfs.disable_background_cleaner
    loaded2, _ = load_settings(
        write(tmp_path, {"glusterfs": {"disable_background_cleaner": True}}),
        {"HEKETI_DISABLE_BACKGROUND_CLEANER": "false"},
    )
    assert loaded2.glusterfs.disable_background_cleaner


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("y", True),
        ("Yes", True),
        ("1", True),
        ("n", False),
        ("No", False),
        ("0", False),
        ("true", True),
        ("false", False),
        ("T", True),
        ("F", False),
    ],
)
def test_kube_yes_no_switches(tmp_path: Path, value: str, expected: bool) -> None:
    document = {"glusterfs": {"kubeexec": {"gluster_daemonset": not expected}}}
    loaded, _ = load_settings(write(tmp_path, document), {"HEKETI_KUBE_GLUSTER_DAEMONSET": value})
    assert loaded.glusterfs.kubeexec.gluster_daemonset is expected


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_boolean_true_spellings(value: str) -> None:
    loaded, _ = load_settings(None, {"HEKETI_AUTO_CREATE_BLOCK_HOSTING_VOLUME": value})
    assert loaded.glusterfs.auto_create_block_hosting_volume is True


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"HEKETI_HTTP_PORT": "http"}, "HEKETI_HTTP_PORT (port): must be a port number"),
        ({"HEKETI_HTTP_PORT": "0"}, "HEKETI_HTTP_PORT (port)"),
        ({"HEKETI_SSH_PORT": "70000"}, "HEKETI_SSH_PORT (glusterfs.sshexec.port)"),
        ({"HEKETI_EXECUTOR": "bogus"}, "HEKETI_EXECUTOR (glusterfs.executor): must be one of"),
        ({"HEKETI_ZONE_CHECKING": "x"}, "HEKETI_ZONE_CHECKING (glusterfs.zone_checking)"),
        ({"HEKETI_GLUSTERAPP_LOGLEVEL": "loud"}, "HEKETI_GLUSTERAPP_LOGLEVEL"),
        ({"HEKETI_DEFAULT_STATE": "frozen"}, "HEKETI_DEFAULT_STATE (default_state)"),
        ({"HEKETI_MAX_INFLIGHT_OPERATIONS": "x"}, "HEKETI_MAX_INFLIGHT_OPERATIONS: must be an"),
        ({"HEKETI_MAX_INFLIGHT_OPERATIONS": "-2"}, "HEKETI_MAX_INFLIGHT_OPERATIONS ("),
        ({"HEKETI_GLUSTER_MAX_VOLUMES_PER_CLUSTER": "1.5"}, "HEKETI_GLUSTER_MAX_VOLUMES_PER"),
        ({"HEKETI_BLOCK_HOSTING_VOLUME_SIZE": "big"}, "HEKETI_BLOCK_HOSTING_VOLUME_SIZE"),
        ({"HEKETI_SNAPSHOT_LIMIT": "lots"}, "HEKETI_SNAPSHOT_LIMIT: must be an integer"),
        ({"HEKETI_GLUSTER_CLI_TIMEOUT": "-1"}, "HEKETI_GLUSTER_CLI_TIMEOUT"),
        ({"HEKETI_AUTO_CREATE_BLOCK_HOSTING_VOLUME": "maybe"}, "HEKETI_AUTO_CREATE_BLOCK"),
        ({"HEKETI_GLUSTERAPP_REBALANCE_ON_EXPANSION": "nope"}, "HEKETI_GLUSTERAPP_REBALANCE"),
        ({"HEKETI_DEBUG_UMOUNT_FAILURES": "yes"}, "HEKETI_DEBUG_UMOUNT_FAILURES"),
        ({"HEKETI_KUBE_GLUSTER_DAEMONSET": "maybe"}, "HEKETI_KUBE_GLUSTER_DAEMONSET"),
        ({"HEKETI_KUBE_USE_POD_NAMES": "sure"}, "HEKETI_KUBE_USE_POD_NAMES"),
        ({"HEKETI_JWT_IAT_LEEWAY_SECONDS": "-5"}, "HEKETI_JWT_IAT_LEEWAY_SECONDS"),
        ({"HEKETI_MOCK_DEVICE_SIZE_GB": "-5"}, "HEKETI_MOCK_DEVICE_SIZE_GB ("),
        ({"HEKETI_BLOCK_VOLUME_DEFAULT_PREALLOC": "full; rm"}, "HEKETI_BLOCK_VOLUME_DEFAULT"),
    ],
)
def test_invalid_env_value_names_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, env)
    assert fragment in str(info.value)


def test_inject_executors_fall_back_with_a_warning(tmp_path: Path) -> None:
    loaded, warnings = load_settings(
        write(tmp_path, {"glusterfs": {"executor": "inject/mock"}}), {}
    )
    assert loaded.glusterfs.executor == "mock"
    assert len(warnings) == 1 and "glusterfs.executor" in warnings[0]
    loaded, warnings = load_settings(None, {"HEKETI_EXECUTOR": "inject/ssh"})
    assert loaded.glusterfs.executor == "ssh"
    assert "HEKETI_EXECUTOR" in warnings[0]


def test_rebalance_in_file_is_ignored(tmp_path: Path) -> None:
    document = {"glusterfs": {"sshexec": {"rebalance_on_expansion": False}}}
    loaded, warnings = load_settings(write(tmp_path, document), {})
    assert loaded.glusterfs.sshexec.rebalance_on_expansion is True
    assert len(warnings) == 1
    assert "glusterfs.sshexec.rebalance_on_expansion" in warnings[0]
    true_doc = {"glusterfs": {"kubeexec": {"rebalance_on_expansion": True}}}
    assert load(tmp_path, true_doc).glusterfs.kubeexec.rebalance_on_expansion is True


# --------------------------------------------------------------------------------------------------
# Invalid values in the file


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"port": "eighty"}, "port: must be a port number 1-65535 (got 'eighty')"),
        ({"port": 0}, "port: must be a port number"),
        ({"port": 70000}, "port: must be a port number"),
        ({"port": "-1"}, "port: must be a port number"),
        ({"port": True}, "port: must be a port number"),
        ({"port": 8080.0}, "port: must be a port number"),
        (
            {"glusterfs": {"zone_checking": "x"}},
            "glusterfs.zone_checking: must be one of none, strict (got 'x')",
        ),
        (
            {"glusterfs": {"executor": "docker"}},
            "glusterfs.executor: must be one of mock, ssh, kube, kubernetes, local",
        ),
        ({"glusterfs": {"loglevel": "verbose"}}, "glusterfs.loglevel: must be one of none,"),
        ({"default_state": "paused"}, "default_state: must be one of normal, read-only"),
        ({"glusterfs": {"brick_backend": "zfs"}}, "glusterfs.brick_backend: must be one of"),
        ({"glusterfs": {"brick_max_size_gb": "4"}}, "glusterfs.brick_max_size_gb: must be an int"),
        ({"glusterfs": {"brick_max_size_gb": 1.5}}, "glusterfs.brick_max_size_gb: must be an int"),
        ({"glusterfs": {"db_read_only": "yes"}}, "glusterfs.db_read_only: must be true or false"),
        ({"enable_tls": 1}, "enable_tls: must be true or false (got 1)"),
        ({"glusterfs": {"db": 5}}, "glusterfs.db: must be a string (got 5)"),
        ({"glusterfs": []}, "glusterfs: must be a JSON object (got a list)"),
        ({"jwt": "secret"}, "jwt: must be a JSON object"),
        ({"glusterfs": {"operation_retry_limits": 3}}, "glusterfs.operation_retry_limits: must be"),
        (
            {"glusterfs": {"brick_max_size_gb": -1}},
            "glusterfs.brick_max_size_gb: must be at least 1",
        ),
        ({"glusterfs": {"brick_min_size_gb": -1}}, "glusterfs.brick_min_size_gb: must be at least"),
        ({"glusterfs": {"max_bricks_per_volume": -3}}, "glusterfs.max_bricks_per_volume: must be"),
        ({"glusterfs": {"average_file_size_kb": -3}}, "glusterfs.average_file_size_kb: must be"),
        ({"glusterfs": {"max_inflight_operations": -1}}, "glusterfs.max_inflight_operations: must"),
        ({"glusterfs": {"block_hosting_volume_size": -1}}, "glusterfs.block_hosting_volume_size:"),
        (
            {"glusterfs": {"refresh_time_monitor_gluster_nodes": -5}},
            "glusterfs.refresh_time_monitor_gluster_nodes: must be at least 1",
        ),
        (
            {"glusterfs": {"start_time_background_cleaner": 2**32}},
            "glusterfs.start_time_background_cleaner: must be at most 4294967295",
        ),
        (
            {"glusterfs": {"operation_retry_limits": {"volume_create": -1}}},
            "glusterfs.operation_retry_limits.volume_create: must be at least 0",
        ),
        ({"glusterfs": {"mock_device_size_gb": -1}}, "glusterfs.mock_device_size_gb: must be"),
        ({"jwt_iat_leeway_seconds": -1}, "jwt_iat_leeway_seconds: must be at least 0"),
        ({"max_request_body_bytes": 0}, "max_request_body_bytes: must be at least 1"),
        (
            {"glusterfs": {"sshexec": {"snapshot_limit": -1}}},
            "glusterfs.sshexec.snapshot_limit: must be at least 0",
        ),
        (
            {"glusterfs": {"sshexec": {"port": "Optional: ssh port.  Default is 22"}}},
            "glusterfs.sshexec.port: must be a port number",
        ),
        (
            {"glusterfs": {"sshexec": {"sudo": "true"}}},
            "glusterfs.sshexec.sudo: must be true or false",
        ),
        (
            {"glusterfs": {"sshexec": {"block_prealloc": "full; reboot"}}},
            "glusterfs.sshexec.block_prealloc: must be a gluster-block prealloc mode",
        ),
        (
            {"glusterfs": {"sshexec": {"gluster_cli_timeout": -1}}},
            "glusterfs.sshexec.gluster_cli_timeout: must be at least 1",
        ),
        (
            {"glusterfs": {"executor": "kube", "kubeexec": {"max_connections": "many"}}},
            "glusterfs.kubeexec.max_connections: must be an integer",
        ),
        (
            {"enable_tls": True, "cert_file": "/c"},
            "key_file: required when enable_tls is true",
        ),
        (
            {"glusterfs": {"brick_min_size_gb": 10, "brick_max_size_gb": 5}},
            "glusterfs.brick_min_size_gb: must not exceed glusterfs.brick_max_size_gb",
        ),
    ],
)
def test_invalid_value_names_the_key(tmp_path: Path, document: Any, fragment: str) -> None:
    message = load_error(tmp_path, document)
    assert fragment in message
    assert "pydantic" not in message.lower()
    assert "validation error" not in message.lower()


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    message = load_error(tmp_path, {"port": "x", "glusterfs": {"zone_checking": "y"}})
    assert "port:" in message and "glusterfs.zone_checking:" in message


def test_error_has_no_chained_traceback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, {"port": "x"}), {})
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ or info.value.__context__ is None


def test_unused_executor_section_is_lenient_but_used_one_is_strict(tmp_path: Path) -> None:
    document = {"glusterfs": {"executor": "mock", "kubeexec": {"max_connections": "x"}}}
    assert load(tmp_path, document).glusterfs.kubeexec.max_connections == 64
    document["glusterfs"]["executor"] = "kubernetes"
    assert "glusterfs.kubeexec.max_connections" in load_error(tmp_path, document)
    sample = _base_document()
    message = load_error(tmp_path, sample, {"HEKETI_EXECUTOR": "ssh"})
    assert "glusterfs.sshexec.port" in message


def test_local_executor_checks_sshexec(tmp_path: Path) -> None:
    document = {"glusterfs": {"executor": "local", "sshexec": {"port": "x"}}}
    assert "glusterfs.sshexec.port" in load_error(tmp_path, document)


# --------------------------------------------------------------------------------------------------
# File problems


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    assert str(path) in str(info.value)
    assert "Unable to open config file" in str(info.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, {})
    assert str(tmp_path) in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, {})
    path.chmod(0)
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    assert str(path) in str(info.value)


def test_permission_denied_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def deny(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(config_module, "open", deny, raising=False)
    path = write(tmp_path, {})
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    assert str(info.value) == f"Unable to open config file {path}: Permission denied"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        '{"port": "8080",}',
        '{"port": 8080 "x": 1}',
        "{'port': 1}",
        '{"glusterfs": {"brick_max_size_gb": NaN}}',
    ],
)
def test_invalid_json(tmp_path: Path, text: str) -> None:
    message = load_error(tmp_path, text)
    assert "Unable to parse configuration" in message
    assert str(tmp_path / "heketi.json") in message


@pytest.mark.parametrize("text", ["[]", '"heketi"', "42", "null"])
def test_top_level_must_be_an_object(tmp_path: Path, text: str) -> None:
    assert "top level must be a JSON object" in load_error(tmp_path, text)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "heketi.json"
    path.write_bytes(b'{"port": "\xff"}')
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    assert "not UTF-8" in str(info.value)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "heketi.json"
    path.write_bytes(b'\xef\xbb\xbf{"port": "8123"}')
    assert load_settings(path, {})[0].port == 8123


def test_text_after_the_object_is_ignored_with_a_warning(tmp_path: Path) -> None:
    loaded, warnings = load_settings(write(tmp_path, '{"port": "8124"}\n}junk'), {})
    assert loaded.port == 8124
    assert len(warnings) == 1 and "after the JSON object" in warnings[0]


# --------------------------------------------------------------------------------------------------
# Secrets and auth


def test_secrets_are_not_in_repr_or_str(tmp_path: Path) -> None:
    loaded = load(
        tmp_path, {"jwt": {"admin": {"key": "ADMIN-SECRET"}, "user": {"key": "USR-SECRET"}}}
    )
    for text in (repr(loaded), str(loaded), repr(loaded.jwt), str(loaded.jwt.admin)):
        assert "ADMIN-SECRET" not in text
        assert "USR-SECRET" not in text
    assert loaded.jwt.admin.key == "ADMIN-SECRET"  # callers get the plain string
    assert dataclasses.asdict(loaded)["jwt"]["user"]["key"] == "USR-SECRET"


def test_secret_env_values_not_in_repr() -> None:
    loaded, _ = load_settings(None, {"HEKETI_ADMIN_KEY": "ENV-ADMIN", "HEKETI_USER_KEY": "ENV-USR"})
    assert "ENV-ADMIN" not in repr(loaded) and "ENV-USR" not in repr(loaded)


def test_secrets_not_in_error_messages(tmp_path: Path) -> None:
    message = load_error(tmp_path, {"jwt": {"admin": {"key": ["TOP-SECRET"]}}})
    assert "jwt.admin.key: must be a string" in message
    assert "TOP-SECRET" not in message
    message = load_error(tmp_path, {"jwt": {"user": {"key": 12345678}}})
    assert "12345678" not in message
    message = load_error(tmp_path, '{"jwt": {"admin": {"key": "TOP-SECRET"}}, oops}')
    assert "TOP-SECRET" not in message
    message = load_error(tmp_path, {"jwt": {"admin": {"key": "TOP-SECRET"}}, "port": "x"})
    assert "TOP-SECRET" not in message


def test_require_auth_keys() -> None:
    with pytest.raises(ConfigError, match=r"^Missing JWT information in config file$"):
        require_auth_keys(Settings(), disable_auth=False)
    half, _ = load_settings(None, {"HEKETI_ADMIN_KEY": "a"})
    with pytest.raises(ConfigError, match="Missing JWT information"):
        require_auth_keys(half, disable_auth=False)
    require_auth_keys(Settings(), disable_auth=True)
    both, _ = load_settings(None, {"HEKETI_ADMIN_KEY": "a", "HEKETI_USER_KEY": "b"})
    require_auth_keys(both, disable_auth=False)


def test_use_auth_is_ignored_for_auth_decision(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"use_auth": False})
    with pytest.raises(ConfigError):
        require_auth_keys(loaded, disable_auth=False)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"glusterfs": {"server_lease_seconds": True}},
            "glusterfs.server_lease_seconds: must be a number (got true)",
        ),
        (
            {"glusterfs": {"server_lease_seconds": 1}},
            "glusterfs.server_lease_seconds: must be at least 2.0 (got 1)",
        ),
        (
            {"glusterfs": {"advertise_address": "a" * 513}},
            "glusterfs.advertise_address: must be at most 512 characters long (got 'aaaa",
        ),
        ({"glusterfs": {"loglevel": 3}}, "glusterfs.loglevel: must be one of none, critical,"),
        ({"glusterfs": "x"}, "glusterfs: must be a JSON object (got 'x')"),
    ],
)
def test_refused_values_are_named_with_what_they_must_be(
    tmp_path: Path, document: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, document), {})
    assert str(raised.value).startswith(message)


def test_a_float_setting_takes_an_integer(tmp_path: Path) -> None:
    loaded, _ = load_settings(write(tmp_path, {"glusterfs": {"server_lease_seconds": 3}}), {})
    assert loaded.glusterfs.server_lease_seconds == 3

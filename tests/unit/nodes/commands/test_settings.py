"""`CommandSettings` is the node layer's copy of the exec section: same names, same defaults,
and the composition root copies every field."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import pytest

import brickyard.nodes.commands.settings as settings_module
from brickyard.bootstrap import command_settings
from brickyard.config import ExecConfig, KubeExecConfig, SshExecConfig, field_names
from brickyard.nodes.commands.settings import CommandSettings

FIELDS = [f.name for f in dataclasses.fields(CommandSettings)]

# A value different from the default for every field of CommandSettings.
NON_DEFAULT: dict[str, Any] = {
    "fstab": "/etc/fstab.d/heketi",
    "mountopts": "rw,noatime",
    "snapshot_limit": 14,
    "rebalance_on_expansion": False,
    "backup_lvm_metadata": True,
    "gluster_cli_timeout": 1200,
    "pv_data_alignment": "1M",
    "vg_physicalextentsize": "32M",
    "lv_chunksize": "512K",
    "xfs_sw": 10,
    "xfs_su": 128,
    "debug_umount_failures": True,
    "lvm_wrapper": "nsenter --mount=/proc/1/ns/mnt --",
}


def test_fields_are_exec_config_fields() -> None:
    assert set(FIELDS) <= set(field_names(ExecConfig))
    assert set(NON_DEFAULT) == set(FIELDS)


def test_defaults_match_exec_config() -> None:
    node, server = CommandSettings(), ExecConfig()
    for name in FIELDS:
        assert getattr(node, name) == getattr(server, name), name


@pytest.mark.parametrize("model", [ExecConfig, SshExecConfig, KubeExecConfig])
def test_conversion_copies_every_field(model: type[ExecConfig]) -> None:
    source = model(**NON_DEFAULT)
    defaults = model()
    for name in FIELDS:
        assert getattr(source, name) != getattr(defaults, name), name
    converted = command_settings(source)
    assert isinstance(converted, CommandSettings)
    for name in FIELDS:
        assert getattr(converted, name) == getattr(source, name), name
    assert converted == CommandSettings(**NON_DEFAULT)


def test_conversion_of_defaults() -> None:
    assert command_settings(ExecConfig()) == CommandSettings()


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CommandSettings().fstab = "/x"  # type: ignore[misc]


def test_does_not_import_the_server_config() -> None:
    assert settings_module.__file__ is not None
    tree = ast.parse(Path(settings_module.__file__).read_text())
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append("." * node.level + (node.module or ""))
    assert not [name for name in imported if "config" in name], imported

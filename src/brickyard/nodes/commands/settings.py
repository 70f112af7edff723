"""The values the command builders and the remote node agent read from the configuration.

The node layer must not depend on the server's configuration model (`brickyard.config`, the
dataclasses of the whole server's file and environment): it takes this small frozen value
instead, and the composition root (`brickyard.bootstrap.command_settings`) copies the fields
from the configured ``sshexec``/``kubeexec`` section. Names and defaults are those of the
configuration's exec section (Heketi's ``CmdConfig``), so the defaults here are the defaults
there. Only what the builders and the agent read is here: ``sudo`` belongs to the transports and
``block_prealloc`` is not used by any node command.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CommandSettings"]


@dataclass(frozen=True, slots=True)
class CommandSettings:
    fstab: str = "/etc/fstab"
    mountopts: str = "rw,inode64,noatime,nouuid"
    snapshot_limit: int = 0
    rebalance_on_expansion: bool = True
    backup_lvm_metadata: bool = False
    gluster_cli_timeout: int = 600
    pv_data_alignment: str = "256K"
    vg_physicalextentsize: str = "4M"
    lv_chunksize: str = "256K"
    xfs_sw: int = 0
    xfs_su: int = 0
    debug_umount_failures: bool = False
    lvm_wrapper: str = ""

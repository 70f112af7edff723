"""``heketi-cli setup-openshift-heketi-storage`` (accepted, not supported)."""

from __future__ import annotations

import click

from brickyard.cli.params import GO_INT, CobraGroup, bool_flag, leaf
from brickyard.cli.session import CliError

__all__ = ["add_storage_setup"]


def add_storage_setup(root: CobraGroup) -> None:
    @leaf(
        root,
        "setup-openshift-heketi-storage",
        aliases=("setup-heketi-db-storage", "setup-kubernetes-heketi-storage"),
        help="Setup OpenShift/Kubernetes persistent storage for Heketi (not supported)",
    )
    @click.option("--listfile", default="heketi-storage.json", help="Output file")
    @click.option("--image", default="heketi/heketi:dev", help="Container image")
    @click.option("--durability", default="replicate", help="Durability type")
    @click.option("--replica", type=GO_INT, default=3, help="Replica count")
    @click.option("--gluster-volume-options", default="", help="Volume options")
    @bool_flag("--append-volume-options", help="Append to the default volume options")
    @click.option("--node-selector", default="", help="Node selector for the copy job")
    def setup_storage(**_: object) -> None:
        raise CliError(
            "setup-openshift-heketi-storage is not supported by Brickyard: "
            "Brickyard keeps its database outside the cluster"
        )

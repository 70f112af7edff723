"""``brickyard csi``: run the CSI driver (controller, node plugin, or both). See docs/csi.md."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from brickyard.cli.log_flags import logging_flags

__all__ = ["csi"]


def _read_key(path: str | None) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        print(f"Error: --key-file {path}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)


@click.command("csi")
@click.option(
    "--mode",
    type=click.Choice(["controller", "node", "all"]),
    default="all",
    show_default=True,
    help="Services to serve besides Identity",
)
@click.option(
    "--endpoint",
    default="unix:///csi/csi.sock",
    show_default=True,
    envvar="CSI_ENDPOINT",
    help="Unix socket to listen on",
)
@click.option("--node-id", envvar="BRICKYARD_CSI_NODE_ID", default="", help="This node's name")
@click.option(
    "--server",
    envvar="BRICKYARD_CSI_SERVER",
    default="",
    help="Volume manager URL used when a StorageClass has no resturl",
)
@click.option(
    "--user", envvar="BRICKYARD_CSI_USER", default="admin", show_default=True, help="JWT user"
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="File holding the JWT key (else $BRICKYARD_CSI_KEY)",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default="/var/lib/brickyard-csi",
    show_default=True,
    help="Node plugin state (stage records)",
)
@click.option(
    "--kubelet-dir",
    type=click.Path(file_okay=False),
    envvar="BRICKYARD_CSI_KUBELET_DIR",
    default="/var/lib/kubelet",
    show_default=True,
    help="kubelet's root directory: staging and target paths must be under it",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@logging_flags
def csi(
    mode: str,
    endpoint: str,
    node_id: str,
    server: str,
    user: str,
    key_file: str | None,
    state_dir: str,
    kubelet_dir: str,
    log_level: str,
    log_format: str | None,
    log_third_party: str | None,
) -> None:
    """Run the CSI driver glusterfs.brickyard.io on a unix socket until SIGTERM."""
    import os

    from brickyard.csi.k8s_secrets import in_cluster_reader
    from brickyard.csi.server import DriverOptions, build_server
    from brickyard.logs import LogOptions, announce, configure

    try:
        log_options = LogOptions.resolve(log_format, log_third_party)
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(2)
    # The server's format (text or JSON lines, secrets scrubbed); grpc's and httpx's own lines
    # at warning unless asked for, the driver's at --log-level.
    configure(log_options)
    logging.getLogger("brickyard").setLevel(log_level.upper())
    key = _read_key(key_file) or os.environ.get("BRICKYARD_CSI_KEY", "")
    options = DriverOptions(
        mode=mode,
        endpoint=endpoint,
        node_id=node_id,
        server=server,
        user=user,
        key=key,
        state_dir=Path(state_dir),
        kubelet_dir=Path(kubelet_dir),
        secret_reader=in_cluster_reader() if mode != "node" else None,
    )
    try:
        running = build_server(options)
    except (ValueError, OSError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(2)
    announce(log_options, f"brickyard csi ({mode}) listening on {running.path}")
    running.wait_for_signal()

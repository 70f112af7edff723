"""``heketi-cli volume ...``."""

from __future__ import annotations

import click

from brickyard.cli import render
from brickyard.cli.common import require, show
from brickyard.cli.params import GO_FLOAT, GO_INT, CobraGroup, bool_flag, leaf
from brickyard.cli.session import CliError, emit, emit_json, err, session
from brickyard.client import JSONDict, build_volume_create, go_json

__all__ = ["volume"]

volume = CobraGroup("volume", help="Heketi Volume Management")


CREATE_HELP = """Create a GlusterFS volume

With --dry-run nothing is created: the server (Brickyard's POST /volumes/plan, sent the very
body POST /volumes would get) tells where the bricks would go and why. The output:

\b
  Dry run: nothing was created.
  Cluster Id: <cluster id>
  Layout: <S> brick sets x <B> bricks of <size> GiB (<durability>)
  Set <n>:
      Brick <p>[ (arbiter)]: node <id> (<hostname>, zone <z>),
        device <id> (<name>), <size> GiB: <why>           (one line)
  Skipped devices: <reason> <count>, ...      ("none" if no device was)
      <device id> (<name>) on <hostname>: <why>     (at most 50 examples)
      (<n> more not shown)
  Attempts:
      <S> sets of <size> GiB bricks: <result>
  Clusters:                     (when several clusters were considered)
      <cluster id>: <result>

Sizes are in GiB: whole numbers, otherwise two decimals. <durability> is "replicate 3",
"disperse 4+2" or "none". Without a placement the output has "Cluster Id: (none)", "Layout:
none found for <size> GiB (<durability>)" and no sets, and the command fails with "Error:
<why>" (exit status 255). With --json the server's answer is printed as is (exit status 255
too when there is no placement).

The --dry-run flag cannot be combined with --persistent-volume(-file).
"""


@leaf(volume, "create", help=CREATE_HELP)
@click.option("--size", type=GO_INT, default=0, help="Size of volume in GiB")
@click.option("--name", default="", help="Optional: Name of volume.")
@click.option(
    "--durability", default="replicate", help="Durability type: none, replicate or disperse."
)
@click.option("--replica", type=GO_INT, default=3, help="Replica value for 'replicate'.")
@click.option("--disperse-data", type=GO_INT, default=4, help="Dispersion value for 'disperse'.")
@click.option("--redundancy", type=GO_INT, default=2, help="Redundancy value for 'disperse'.")
@click.option(
    "--snapshot-factor", type=GO_FLOAT, default=1.0, help="Storage to allocate for snapshots."
)
@click.option("--gid", type=GO_INT, default=0, help="Initialize volume with this group id.")
@click.option("--clusters", default="", help="Comma separated list of cluster ids.")
@click.option("--gluster-volume-options", default="", help="Comma separated volume options.")
@bool_flag("--block", help="Create a block-hosting volume.")
@bool_flag("--persistent-volume", help="Print a Kubernetes persistent volume to stdout.")
@click.option("--persistent-volume-file", default="", help="Write the persistent volume here.")
@click.option("--persistent-volume-endpoint", default="", help="Endpoint name for the PV.")
@bool_flag("--dry-run", help="Show where the bricks would go and why; create nothing.")
def volume_create(
    size: int,
    name: str,
    durability: str,
    replica: int,
    disperse_data: int,
    redundancy: int,
    snapshot_factor: float,
    gid: int,
    clusters: str,
    gluster_volume_options: str,
    block: bool,
    persistent_volume: bool,
    persistent_volume_file: str,
    persistent_volume_endpoint: str,
    dry_run: bool,
) -> None:
    if size == 0:
        raise CliError("Missing volume size")
    if dry_run and persistent_volume:
        raise CliError("--dry-run cannot be combined with --persistent-volume")
    if dry_run and persistent_volume_file:
        raise CliError("--dry-run cannot be combined with --persistent-volume-file")
    if persistent_volume and persistent_volume_endpoint == "":
        err("--persistent-volume-endpoint must be provided when using --persistent-volume\n")
        raise CliError("Missing endpoint")
    body = build_volume_create(
        size,
        name=name,
        durability=durability,
        replica=replica,
        disperse_data=disperse_data,
        redundancy=redundancy,
        snapshot_factor=snapshot_factor,
        gid=gid,
        clusters=clusters.split(",") if clusters else (),
        gluster_volume_options=gluster_volume_options.split(",") if gluster_volume_options else (),
        block=block,
    )
    if dry_run:
        _dry_run(body)
        return
    s = session()
    with s.progress.task(f"Creating volume {name + ' ' if name else ''}({size} GiB)"):
        info = s.client().volume_create_body(body)
    if persistent_volume or persistent_volume_file:
        pv = render.persistent_volume(info, persistent_volume_endpoint)
        if persistent_volume:
            emit(pv + "\n")
            return
        try:
            with open(persistent_volume_file, "w", encoding="utf-8") as handle:
                handle.write(pv)
        except OSError as exc:
            err(f"Unable to write to file {persistent_volume_file}\n")
            raise CliError(str(exc)) from None
        return
    show(info, render.volume_info)


def _dry_run(body: JSONDict) -> None:
    """``volume create --dry-run``: print the plan; fail (exit 255) when there is none."""
    plan = session().client().volume_plan_body(body)
    show(plan, render.volume_plan)
    if not plan.get("ok"):
        raise CliError(str(plan.get("error") or "no placement found"))


@leaf(volume, "info", help="Retrieves information about the volume")
@click.argument("args", nargs=-1)
def volume_info(args: tuple[str, ...]) -> None:
    volume_id = require(args, "Volume id missing")
    show(session().client().volume_info(volume_id), render.volume_info)


@leaf(volume, "delete", help="Deletes the volume")
@click.argument("args", nargs=-1)
def volume_delete(args: tuple[str, ...]) -> None:
    volume_id = require(args, "Volume id missing")
    session().client().volume_delete(volume_id)
    emit(f"Volume {volume_id} deleted\n")


@leaf(volume, "list", help="Lists the volumes managed by Heketi")
def volume_list() -> None:
    s = session()
    client = s.client()
    listing = client.volume_list()
    if s.json:
        emit_json(listing)
        return
    for volume_id in listing.get("volumes") or []:
        emit(render.volume_list_line(volume_id, client.volume_info(volume_id)))


@leaf(volume, "expand", help="Expand a volume")
@click.option("--expand-size", type=GO_INT, default=0, help="Amount in GiB to add to the volume")
@click.option("--volume", "volume_id", default="", help="Id of volume to expand")
@click.argument("args", nargs=-1)
def volume_expand(expand_size: int, volume_id: str, args: tuple[str, ...]) -> None:
    if expand_size == 0:
        raise CliError("Missing volume amount to expand")
    volume_id = volume_id or require(args, "Volume id missing")
    s = session()
    with s.progress.task(f"Expanding volume {volume_id} by {expand_size} GiB"):
        info = s.client().volume_expand(volume_id, expand_size)
    show(info, render.volume_info)


@leaf(volume, "clone", help="Creates a clone")
@click.option("--name", default="", help="Name of the newly cloned volume.")
@click.argument("args", nargs=-1)
def volume_clone(name: str, args: tuple[str, ...]) -> None:
    volume_id = require(args, "Volume id missing")
    show(session().client().volume_clone(volume_id, name), render.volume_info)


_RESTRICTIONS = {"locked": "locked", "unlocked": ""}


@leaf(
    volume,
    "set-block-hosting-restriction",
    help="Set restriction on a block hosting volume: locked or unlocked",
)
@click.argument("args", nargs=-1)
def volume_set_block_hosting_restriction(args: tuple[str, ...]) -> None:
    if not args:
        raise CliError("Restriction value missing")
    restriction = args[0]
    volume_id = require(args[1:], "Volume id missing")
    if restriction not in _RESTRICTIONS:
        raise CliError(f'Invalid restriction "{restriction}": use "locked" or "unlocked"')
    info = session().client().volume_set_block_restriction(volume_id, _RESTRICTIONS[restriction])
    show(info, render.volume_info)


endpoint = CobraGroup("endpoint", help="Manage the Kubernetes endpoints of a volume")
volume.add_command(endpoint)


@leaf(endpoint, "patch", help="Print a patch for the endpoints of a volume")
@click.argument("args", nargs=-1)
def volume_endpoint_patch(args: tuple[str, ...]) -> None:
    volume_id = require(args, "Volume id missing")
    info = session().client().volume_info(volume_id)
    hosts = ((info.get("mount") or {}).get("glusterfs") or {}).get("hosts") or []
    subsets = [{"addresses": [{"ip": host}], "ports": [{"port": 1}]} for host in hosts]
    emit(go_json({"subsets": subsets}) + "\n")

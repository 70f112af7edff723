"""``brickyard node evacuate <id>``: disable the node, move every brick it holds to other nodes
(the node may be dead), with progress; ``--wait-heal`` then waits for the volumes to heal."""

from __future__ import annotations

import click

from brickyard.cli.evacuation import evacuation_counts
from brickyard.cli.params import CobraCommand, CobraGroup, bool_flag
from brickyard.cli.session import CliError, emit, emit_json, session

__all__ = ["brickyard_node_group", "evacuate"]


@click.command("evacuate", cls=CobraCommand)
@bool_flag("--wait-heal", help="Then wait until every affected volume has healed")
@click.option(
    "--heal-timeout",
    type=float,
    default=3600.0,
    show_default=True,
    help="Seconds to wait for heal before giving up",
)
@bool_flag(
    "--expert-option-disable-heal-check",
    help="[DANGEROUS] Move bricks even when their brick set cannot lose them",
)
@click.argument("args", nargs=-1)
def evacuate(
    wait_heal: bool,
    heal_timeout: float,
    expert_option_disable_heal_check: bool,
    args: tuple[str, ...],
) -> int:
    """Disable a node and move every brick it holds to other nodes (works on a dead node)."""
    if len(args) != 1:
        raise CliError("Node id missing" if not args else "Too many arguments provided")
    s = session()
    with s.progress.task(f"Evacuating node {args[0]}"):
        summary = s.client().node_evacuate(
            args[0],
            heal_check=not expert_option_disable_heal_check,
            wait_heal=wait_heal,
            heal_timeout=heal_timeout,
            progress=None if s.json else lambda line: emit(line + "\n"),
            counts=evacuation_counts(s, args[0]),
        )
    if s.json:
        emit_json(summary)
    return 0


def brickyard_node_group(heketi_node: CobraGroup) -> CobraGroup:
    """heketi-cli's ``node`` commands plus ``evacuate``, for ``brickyard`` only (heketi-cli's
    own tree stays Heketi's)."""
    group = CobraGroup(heketi_node.name, help=heketi_node.help)
    for name, command in heketi_node.commands.items():
        group.add_command(command, name)
    group.add_command(evacuate)
    return group

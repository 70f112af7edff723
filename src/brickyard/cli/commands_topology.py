"""``heketi-cli topology info|load``."""

from __future__ import annotations

import click

from brickyard.cli import render
from brickyard.cli.common import show
from brickyard.cli.params import CobraGroup, leaf
from brickyard.cli.session import CliError, emit, session
from brickyard.cli.topology_load import load_topology, parse_topology_file

__all__ = ["topology"]

topology = CobraGroup("topology", help="Heketi Topology Management")


@leaf(topology, "info", help="Retrieves information about the current Topology")
@click.option(
    "--template", "-T", default="", help="Go text/template used instead of the default output."
)
def topology_info(template: str) -> None:
    s = session()
    info = s.client().topology()
    if template and not s.json:
        from brickyard.cli.gotemplate import TemplateError, render_topology

        try:
            emit(render_topology(template, info))
        except TemplateError as exc:
            raise CliError(str(exc)) from None
        return
    show(info, render.topology_info)


@leaf(topology, "load", help="Add devices to Heketi from a configuration file")
@click.option("--json", "-j", "json_file", default="", help="Configuration file in JSON format.")
def topology_load(json_file: str) -> None:
    clusters = parse_topology_file(json_file)
    s = session()
    load_topology(s.client(), clusters, emit, s.progress)

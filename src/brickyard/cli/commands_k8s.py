"""``brickyard k8s``: Kubernetes helpers. ``convert-pvs`` turns the PVs of the removed in-tree
GlusterFS plugin into CSI PVs of glusterfs.brickyard.io (see docs/kubernetes.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from brickyard.cli.params import CobraCommand, CobraGroup
from brickyard.cli.session import CliError, emit, err, session
from brickyard.k8s.convert import (
    ConvertError,
    HeketiLookup,
    convert,
    parse_endpoints,
    parse_pvs,
    render_steps,
)

__all__ = ["k8s"]

k8s = CobraGroup("k8s", help="Kubernetes helpers (migration to the CSI driver)")


def _read(path: str, what: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {what} {path}: {exc}") from None


@k8s.command("convert-pvs", cls=CobraCommand)
@click.argument("pv_file", metavar="PV_JSON", default="-")
@click.option(
    "--output-dir",
    "-o",
    required=True,
    help="Directory for the manifests (<pv>.pv.json, <pv>.pvc.json) and steps.txt",
)
@click.option(
    "--endpoints",
    "endpoints_file",
    default=None,
    help="kubectl get endpoints -A -o json: the storage hosts of the in-tree PVs",
)
@click.option(
    "--handle-server",
    default="",
    help="Name this REST URL in the volume handles (see docs/csi.md, volume ids) when the"
    " volumes are not on the driver's own server",
)
def convert_pvs(
    pv_file: str, output_dir: str, endpoints_file: str | None, handle_server: str
) -> int:
    """Write CSI PVs (and the claims to recreate) for the in-tree GlusterFS PVs of
    PV_JSON (kubectl get pv -o json; "-" or nothing: stdin), and print the steps that move
    them without losing data. With --server (or HEKETI_CLI_SERVER) volumes are checked and
    looked up on the server, which also gives their hosts. Exit status 1 when some GlusterFS
    PV could not be converted."""
    s = session()
    try:
        pvs = parse_pvs(_read(pv_file, "PV list"), "stdin" if pv_file == "-" else pv_file)
        endpoints = (
            parse_endpoints(_read(endpoints_file, "Endpoints list"), endpoints_file)
            if endpoints_file
            else None
        )
        server = s.flags.server or s.env.get("HEKETI_CLI_SERVER")
        lookup = HeketiLookup(s.client()) if server else None
        result = convert(pvs, endpoints=endpoints, lookup=lookup, handle_server=handle_server)
    except ConvertError as exc:
        raise CliError(str(exc)) from None
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for c in result.converted:
            _write(out / f"{c.name}.pv.json", c.pv)
            if c.pvc is not None:
                _write(out / f"{c.name}.pvc.json", c.pvc)
        steps = render_steps(result, output_dir.rstrip("/") or ".")
        (out / "steps.txt").write_text(steps, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write to {output_dir}: {exc}") from None
    emit(steps)
    if result.failed:
        err(f"{len(result.failed)} GlusterFS PV(s) not converted (see NOT CONVERTED above)\n")
        return 1
    return 0


def _write(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")

"""``brickyard status``: one screen answering an admin's first questions, from
``GET /internal/status`` (the dashboard's summary): capacity per zone, nodes down, degraded
volumes, operations running or stuck, recent failures, the last examine's drift.

Exit status 0 when nothing needs attention, 1 when something does (a node down, a degraded
volume, a failed or waiting operation, drift found by the last examine), 255 on an error (as
every heketi-cli command)."""

from __future__ import annotations

import time
from typing import Any

import click

from brickyard.cli.params import CobraCommand
from brickyard.cli.session import emit, emit_json, session
from brickyard.domain.units import counted

__all__ = ["render_status", "status"]

SHOWN = 5  # items per list before "... and N more": the summary fits one screen
BAR = 20
_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def human_kib(kib: float) -> str:
    """1048576 -> "1.0 GiB"."""
    value = float(kib)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def bar(used: int, total: int) -> str:
    filled = round(BAR * used / total) if total else 0
    return "[" + "#" * filled + "." * (BAR - filled) + "]"


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _more(items: list[Any], lines: list[str]) -> list[Any]:
    """The first SHOWN items; a line says how many are left out."""
    if len(items) > SHOWN:
        lines.append(f"    ... and {len(items) - SHOWN} more")
    return items[:SHOWN]


def render_status(report: dict[str, Any]) -> str:
    counts = report["counts"]
    lines = [f"Brickyard status at {_when(report['generated'])}", "", "Capacity"]
    if not report["clusters"]:
        lines.append("  no clusters")
    for cluster in report["clusters"]:
        lines.append(f"  cluster {cluster['id']} ({cluster['volumes']} volumes)")
        for zone in cluster["zones"]:
            c = zone["capacity"]
            percent = 100 * c["used"] / c["total"] if c["total"] else 0
            lines.append(
                f"    zone {zone['zone']:<3} {bar(c['used'], c['total'])} {percent:3.0f}% "
                f"used {human_kib(c['used'])} of {human_kib(c['total'])}, "
                f"{human_kib(c['free'])} free"
            )
    nodes = [n for c in report["clusters"] for z in c["zones"] for n in z["nodes"]]
    down = [n for n in nodes if n["up"] is False]
    checked = "" if report["monitored"] else " (health monitor has not checked yet)"
    lines += ["", f"Nodes: {counts['nodes']}, {counts['nodes_down']} down{checked}"]
    for n in _more(down, lines):
        detail = f": {n['detail']}" if n["detail"] else ""
        lines.append(f"  {n['health'].upper():<14} {n['manage']} (zone {n['zone']}){detail}")
    degraded = [v for v in report["volumes"] if v["health"] == "degraded"]
    lines += ["", f"Volumes: {counts['volumes']}, {counts['volumes_degraded']} degraded"]
    for v in _more(degraded, lines):
        lines.append(f"  {v['name']}: {'; '.join(v['problems'])}")
    running = [op for op in report["operations"] if op["in_flight"]]
    stuck = [op for op in report["operations"] if not op["in_flight"]]
    lines += ["", f"Operations: {len(running)} running, {len(stuck)} failed or waiting"]
    for op in _more(running + stuck, lines):
        last = f", last step: {op['steps'][-1]}" if op["steps"] else ""
        why = f": {op['needs_human']}" if op["needs_human"] else ""
        lines.append(f"  {op['state']:<13} {op['type']} {op['id']}{why}{last}")
    failures = report["failures"]
    if failures:
        lines += ["", f"Recent failures (rolled back): {len(failures)}"]
        for f in _more(failures, lines):
            lines.append(f"  {_when(f['at'])} {f['description']}: {f['error']}")
    drift = report["drift"]
    lines.append("")
    if drift is None:
        lines.append("Drift: no examine since the server started (run `brickyard examine`)")
    elif drift["drift"]:
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(drift["remaining"].items()))
        lines.append(
            f"Drift: {counted(drift['drift'], 'difference')} at the examine of "
            f"{_when(drift['finished'])} ({kinds})"
        )
    else:
        lines.append(f"Drift: none at the examine of {_when(drift['finished'])}")
    lines.append("")
    if report["attention"]:
        lines.append("Needs attention: " + "; ".join(report["attention"]))
    else:
        lines.append("All is well.")
    return "\n".join(lines) + "\n"


@click.command("status", cls=CobraCommand)
def status() -> int:
    """One screen: capacity per zone, nodes down, degraded volumes, operations, drift (exit
    status 1 when something needs attention)."""
    s = session()
    report = s.client().status()
    if s.flags.json:
        emit_json(report)
    else:
        emit(render_status(report))
    return 1 if report.get("attention") else 0

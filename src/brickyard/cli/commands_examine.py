"""``brickyard examine [--fix]``: the differences between the database and the nodes."""

from __future__ import annotations

from typing import Any

import click

from brickyard.cli.params import CobraCommand, bool_flag
from brickyard.cli.session import emit, emit_json, session

__all__ = ["examine", "render_examine"]


def render_examine(report: dict[str, Any], fixing: bool) -> str:
    """One line per difference, then a summary an admin can act on."""
    lines = [
        f"Examined {report['nodes']} nodes, {report['devices']} devices, "
        f"{report['volumes']} volumes, {report['bricks']} bricks."
    ]
    differences = report.get("differences") or []
    for d in differences:
        where = f" on {d['node']}" if d.get("node") else ""
        if d.get("fixed"):
            state = "fixed"
        elif d.get("fix_error"):
            state = f"not fixed: {d['fix_error']}"
        else:
            state = "fixable" if d.get("fixable") else "needs a human"
        lines.append(f"{d['kind']}: {d['subject']}{where}: {d['detail']} [{state}]")
    if not differences:
        lines.append("No differences: the database matches the nodes.")
    else:
        fixed = sum(1 for d in differences if d.get("fixed"))
        fixable = sum(1 for d in differences if d.get("fixable") and not d.get("fixed"))
        human = sum(1 for d in differences if not d.get("fixable"))
        summary = f"{len(differences)} differences: "
        if fixing:
            summary += f"{fixed} fixed, {fixable} could not be fixed, {human} need a human."
        else:
            summary += f"{fixable} fixable (run with --fix), {human} need a human."
        lines.append(summary)
    return "\n".join(lines) + "\n"


@click.command("examine", cls=CobraCommand)
@bool_flag("--fix", help="Repair what is safe: free orphan bricks no volume uses, recount space")
def examine(fix: bool) -> int:
    """Compare the database with every node and list each difference (exit status 1 while
    differences remain)."""
    s = session()
    report = s.client().examine(fix)
    if s.flags.json:
        emit_json(report)
    else:
        emit(render_examine(report, fix))
    return 1 if report.get("remaining") else 0

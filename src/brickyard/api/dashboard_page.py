"""The dashboard's HTML, rendered on the server from the overview (services/overview.py): no
script at all, capacity bars are <meter> elements, the page reloads itself (meta refresh),
the volume list is paginated (degraded volumes first) and each volume's bricks fold away, so a
page with thousands of volumes stays small. Every value is HTML-escaped."""

from __future__ import annotations

import time

from ..services.observed import ExamineSummary, FailureRecord
from ..services.overview import (
    Capacity,
    ClusterSummary,
    NodeSummary,
    OperationSummary,
    Overview,
    VolumeSummary,
)

# The html module would load html.entities (a large table) into every server: five characters
# are all that need escaping here.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


REFRESH_SECONDS = 15  # the default; ?refresh=N asks for another period (MIN_REFRESH at least)
MIN_REFRESH = 2
PAGE_SIZE = 100  # volumes per page
_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2329;background:#f4f6f8}
header{background:#23303d;color:#fff;padding:.6em 1.2em;display:flex;align-items:center;gap:1em}
header h1{font-size:1.2em;margin:0}header .when{opacity:.8;flex:1}
header form{margin:0}main{padding:1em 1.2em}
section{background:#fff;border:1px solid #d5dbe1;border-radius:6px;margin:0 0 1em;padding:.6em 1em}
h2{font-size:1.05em;margin:.2em 0 .6em}h3{font-size:1em;margin:.8em 0 .3em}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.2em .5em;
border-bottom:1px solid #eef1f4;vertical-align:top}th{font-weight:600;color:#52606d}
.counts{display:flex;gap:1em;flex-wrap:wrap;list-style:none;padding:0;margin:0}
.counts li{background:#fff;border:1px solid #d5dbe1;border-radius:6px;padding:.4em .8em}
.counts b{font-size:1.3em;display:block}
.attention{background:#fff4e5;border-color:#f0b46a}.ok{color:#1e7b34}
.bad,.down,.degraded,.failed{color:#b3261e;font-weight:600}.unknown{color:#7b8794}
meter{width:12em;height:1em}code{font-size:.92em;background:#eef1f4;padding:0 .3em}
.zone{border-left:3px solid #9fb3c8;padding-left:.8em;margin:.6em 0}
.zone table{table-layout:fixed}.zone th:nth-child(1){width:22%}.zone th:nth-child(2){width:8%}
.zone th:nth-child(3){width:20%}.zone th:nth-child(4){width:14%}.zone th:nth-child(6){width:6%}
.pages a,.pages span{margin-right:.5em}ol{margin:.2em 0;padding-left:1.4em}
.login{max-width:22em;margin:4em auto}.login label{display:block;margin:.6em 0 .2em}
.login input{width:100%;box-sizing:border-box;padding:.3em}.login button{margin-top:1em}
""".strip()


def human_kib(kib: float) -> str:
    """1048576 -> "1.0 GiB"."""
    value = float(kib)
    for unit in _UNITS[:-1]:
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} {_UNITS[-1]}"


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _document(title: str, body: str, refresh: int = 0) -> str:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta}<title>{escape(title)}</title>"
        '<link rel="stylesheet" href="/dashboard/style.css"></head>'
        f"<body>{body}</body></html>"
    )


def login_page(message: str = "") -> str:
    error = f'<p class="bad" id="login-error">{escape(message)}</p>' if message else ""
    body = (
        '<main class="login"><section><h2>Brickyard dashboard</h2>'
        "<p>Sign in with the server's admin or user key (the JWT key of heketi.json).</p>"
        f'{error}<form method="post" action="/dashboard/login">'
        '<label for="user">User</label>'
        '<select id="user" name="user"><option>admin</option><option>user</option></select>'
        '<label for="key">Key</label>'
        '<input id="key" name="key" type="password" autocomplete="current-password" required>'
        '<button type="submit">Sign in</button></form></section></main>'
    )
    return _document("Brickyard: sign in", body)


def dashboard_page(
    view: Overview, page: int, signed_in_as: str | None, refresh: int = REFRESH_SECONDS
) -> str:
    logout = ""
    if signed_in_as is not None:
        logout = (
            f"<span>signed in as {escape(signed_in_as)}</span>"
            '<form method="post" action="/dashboard/logout"><button>Sign out</button></form>'
        )
    header = (
        "<header><h1>Brickyard</h1>"
        f'<span class="when" id="generated">{_when(view.generated)} · refreshes every '
        f"{refresh} s</span>{logout}</header>"
    )
    parts = [
        _attention(view),
        _counts(view),
        _topology(view.clusters),
        _operations(view.operations),
        _failures(view.failures),
        _drift(view.drift),
        _volumes(view.volumes, page),
    ]
    return _document("Brickyard dashboard", header + "<main>" + "".join(parts) + "</main>", refresh)


def _attention(view: Overview) -> str:
    if not view.attention:
        return '<section id="attention"><p class="ok">All is well.</p></section>'
    items = "".join(f"<li>{escape(line)}</li>" for line in view.attention)
    return (
        '<section id="attention" class="attention"><h2>Needs attention</h2>'
        f"<ul>{items}</ul></section>"
    )


def _counts(view: Overview) -> str:
    checked = "" if view.monitored else " (not checked yet)"
    cells = [
        ("nodes", f"{len(view.nodes)}", f"nodes, {len(view.nodes_down)} down{checked}"),
        ("volumes", f"{len(view.volumes)}", f"volumes, {len(view.degraded)} degraded"),
        ("running", f"{len(view.running)}", "operations running"),
        ("stuck", f"{len(view.stuck)}", "operations failed or waiting"),
        ("failures", f"{len(view.failures)}", "recent failures"),
    ]
    items = "".join(
        f'<li id="count-{key}"><b>{number}</b>{escape(label)}</li>' for key, number, label in cells
    )
    return f'<ul class="counts">{items}</ul><p></p>'


def _meter(c: Capacity, label: str) -> str:
    # A device near full turns the bar red (high = 80 %, optimum at empty).
    total = max(c.total, 1)
    return (
        f'<meter min="0" max="{total}" value="{c.used}" low="{total * 0.6:.0f}" '
        f'high="{total * 0.8:.0f}" optimum="0" title="{escape(label)}"></meter>'
    )


def _space(c: Capacity) -> str:
    return (
        f'<span class="used">{human_kib(c.used)}</span> used of '
        f'<span class="total">{human_kib(c.total)}</span>, '
        f'<span class="free">{human_kib(c.free)}</span> free '
        f"({c.used_percent:.0f} %)"
    )


def _topology(clusters: list[ClusterSummary]) -> str:
    if not clusters:
        return '<section id="topology"><h2>Clusters</h2><p>No clusters yet.</p></section>'
    out = ['<section id="topology"><h2>Clusters, zones, nodes and devices</h2>']
    for cluster in clusters:
        out.append(
            f'<div class="cluster" id="cluster-{cluster.id}"><h3>Cluster '
            f"<code>{cluster.id}</code> · {cluster.volumes} volumes · "
            f"{_meter(cluster.capacity, 'cluster')} {_space(cluster.capacity)}</h3>"
        )
        for zone in cluster.zones:
            out.append(
                f'<div class="zone" id="zone-{cluster.id}-{zone.zone}"><b>Zone {zone.zone}</b> '
                f"{_meter(zone.capacity, f'zone {zone.zone}')} "
                f'<span class="capacity">{_space(zone.capacity)}</span>'
                "<table><tr><th>Node / device</th><th>State</th><th>Health</th>"
                "<th>Capacity</th><th>Space</th><th>Bricks</th></tr>"
            )
            for node in zone.nodes:
                out.append(_node_rows(node))
            out.append("</table></div>")
        out.append("</div>")
    out.append("</section>")
    return "".join(out)


def _node_rows(node: NodeSummary) -> str:
    detail = f' title="{escape(node.detail)}"' if node.detail else ""
    checked = f" (checked {_when(node.checked)})" if node.checked else ""
    rows = [
        f'<tr class="node" id="node-{node.id}"><td class="name"><b>{escape(node.manage)}</b>'
        f'</td><td class="state">{escape(node.state)}</td>'
        f'<td class="health {_health_class(node)}"{detail}>{escape(node.health)}'
        f"<small>{checked}</small></td><td></td><td></td><td></td></tr>"
    ]
    for d in node.devices:
        capacity = Capacity(d.total, d.used, d.free)
        rows.append(
            f'<tr class="device" id="device-{d.id}"><td class="name">&nbsp;&nbsp;'
            f'{escape(d.name)}</td><td class="state">{escape(d.state)}</td><td></td>'
            f"<td>{_meter(capacity, d.name)}</td><td>{_space(capacity)}</td>"
            f'<td class="bricks">{d.bricks}</td></tr>'
        )
    return "".join(rows)


def _health_class(node: NodeSummary) -> str:
    if node.up is None:
        return "unknown"
    return "ok" if node.up else "down"


def _table_section(
    section_id: str, title: str, empty: str, headers: tuple[str, ...], rows: list[str]
) -> str:
    """A section with a table of `rows` (each a whole ``<tr>``), or one line when empty."""
    head = f'<section id="{section_id}"><h2>{title}</h2>'
    if not rows:
        return f"{head}<p>{empty}</p></section>"
    header = "".join(f"<th>{h}</th>" for h in headers)
    return f"{head}<table><tr>{header}</tr>{''.join(rows)}</table></section>"


def _operations(operations: list[OperationSummary]) -> str:
    rows = []
    for op in operations:
        state_class = "ok" if op.in_flight else "failed"
        why = f"<br><small>{escape(op.needs_human)}</small>" if op.needs_human else ""
        rows.append(
            f'<tr class="operation" id="op-{op.id}"><td class="{state_class}">'
            f"{escape(op.state)}{why}</td><td>{escape(op.type_name)}</td>"
            f"<td><code>{op.id}</code></td><td>{_when(op.started)}</td>"
            f"<td>{_steps(op.steps)}</td></tr>"
        )
    return _table_section(
        "operations",
        "Operations in the journal",
        "None: nothing running, nothing left failed.",
        ("State", "Type", "Operation", "Started", "Steps done"),
        rows,
    )


def _steps(steps: list[str] | tuple[str, ...]) -> str:
    if not steps:
        return "<small>no node step done</small>"
    return '<ol class="steps">' + "".join(f"<li>{escape(s)}</li>" for s in steps) + "</ol>"


def _failures(failures: list[FailureRecord]) -> str:
    rows = [
        f'<tr class="failure" id="failure-{f.op_id}"><td>{_when(f.at)}</td>'
        f"<td>{escape(f.description)}<br><code>{f.op_id}</code></td>"
        f'<td class="failed error">{escape(f.error)}</td><td>{escape(f.outcome)}</td>'
        f"<td>{_steps(f.steps)}</td></tr>"
        for f in failures
    ]
    return _table_section(
        "failures",
        "Recent failures (rolled back)",
        "None since the server started.",
        ("When", "Operation", "Error", "Outcome", "Steps it had done"),
        rows,
    )


def _drift(drift: ExamineSummary | None) -> str:
    out = ['<section id="drift"><h2>Drift (last examine)</h2>']
    if drift is None:
        out.append(
            "<p>No examine since this server started: run <code>brickyard examine</code>.</p>"
        )
    elif not drift.drift:
        out.append(
            f'<p class="ok">None: the database matched the nodes at {_when(drift.finished)}.'
        )
        if drift.fixed:
            out.append(f" {drift.fixed} differences were fixed.")
        out.append("</p>")
    else:
        out.append(
            f'<p class="bad"><span id="drift-count">{drift.drift}</span> differences at the '
            f"examine of {_when(drift.finished)}"
            + (f", {drift.fixed} fixed" if drift.fixed else "")
            + ":</p><ul>"
        )
        for kind, count in sorted(drift.remaining.items()):
            out.append(f"<li>{escape(kind)}: {count}</li>")
        out.append("</ul>")
    out.append("</section>")
    return "".join(out)


def _volumes(volumes: list[VolumeSummary], page: int) -> str:
    pages = max(1, -(-len(volumes) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = volumes[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    out = [
        f'<section id="volumes"><h2>Volumes ({len(volumes)}; degraded first)</h2>',
        _pager(page, pages),
    ]
    if not volumes:
        out.append("<p>No volumes.</p></section>")
        return "".join(out)
    out.append(
        "<table><tr><th>Name</th><th>Size</th><th>Durability</th><th>Health</th>"
        "<th>Mount</th><th>Bricks</th></tr>"
    )
    for v in shown:
        health = "degraded" if v.degraded else "ok"
        problems = "".join(f"<br><small>{escape(p)}</small>" for p in v.problems)
        bricks = "".join(
            f'<li class="{"down" if b.node_down else ""}">{escape(b.host)}:{escape(b.path)}'
            f"{' (node down)' if b.node_down else ''}</li>"
            for b in v.bricks
        )
        out.append(
            f'<tr class="volume" id="volume-{v.id}"><td class="name">{escape(v.name)}</td>'
            f"<td>{v.size} GiB</td><td>{escape(v.durability)}</td>"
            f'<td class="health {health}">{health}{problems}</td>'
            f'<td><code class="mount">{escape(v.mount_line)}</code></td>'
            f"<td><details><summary>{len(v.bricks)} bricks</summary><ul>{bricks}</ul>"
            "</details></td></tr>"
        )
    out.append("</table>")
    out.append(_pager(page, pages))
    out.append("</section>")
    return "".join(out)


def _pager(page: int, pages: int) -> str:
    if pages == 1:
        return ""
    links = []
    for number in range(1, pages + 1):
        if number == page:
            links.append(f'<span class="current">{number}</span>')
        else:
            links.append(f'<a href="/dashboard?page={number}#volumes">{number}</a>')
    return f'<p class="pages">Page: {"".join(links)}</p>'

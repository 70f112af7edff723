"""Every metric the Grafana dashboard (deploy/grafana/brickyard.json) and the alert rules
(deploy/prometheus/alerts.yml) name is one a real server exports: the server is scraped after a
few operations on the simulator that make every series appear (a create and a failing one, a
health check, a heal sample, an examine with drift)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from brickyard.domain.ids import new_id

from .conftest import ONE_GIB_BRICK, Harness, Topology
from .metrics_helpers import scrape

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NUMBERS = re.compile(r"(?<![A-Za-z0-9_:])\d[\w.+]*")  # 0.95, 1e3, 5m (an offset)
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without"}
_LABEL_VALUES = re.compile(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers outside strings, label
    matchers, ranges, grouping clauses and numbers that are not functions or keywords."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _NUMBERS.sub(" ", text)
    names = set()
    for found in _IDENTIFIER.finditer(text):
        rest = text[found.end() :].lstrip()
        if rest.startswith("(") or found.group().lower() in _KEYWORDS:
            continue  # a function or aggregation, or an operator
        names.add(found.group())
    return names


def test_metric_names_finds_the_metrics_and_nothing_else() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, type) (rate(a_bucket{type=~"x|y", cluster="$c"}'
        "[5m]))) / on (type) group_left (zone) b_total and c or vector(0) > bool 1 unless d offset"
        " 5m"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c", "d"}
    assert metric_names("count(x == 0) or vector(0)") == {"x"}
    assert metric_names("rate(x_total[1h]) * 1e3 > 0.5") == {"x_total"}


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and templating query of the dashboard."""
    board: dict[str, Any] = json.loads((DEPLOY / "grafana" / "brickyard.json").read_text())

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(board["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        if variable["type"] == "query":
            found = _LABEL_VALUES.match(str(query))
            assert found, f"variable {variable['name']}: {query}"
            yield f"variable {variable['name']}", found.group(1)


def alert_expressions() -> Iterator[tuple[str, str]]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield f"alert {rule['alert']}", rule["expr"]


async def exported_after_operations(harness: Harness, topology: Topology) -> set[str]:
    volume = await harness.create_volume(size=1, durability=REPLICA3)
    for node in topology.nodes:  # a create that fails: a rolled_back outcome
        harness.world.fail(topology.manage[node], "brick_create", "disk on fire", times=100)
    await harness.failed(await harness.post("/volumes", {"size": 1}))
    await harness.server.services.health.check_all()
    brick = volume["bricks"][0]
    harness.world.pending_heal[f"{topology.manage[brick['node']]}:{brick['path']}"] = 3
    assert await harness.server.services.heal_sampler.sample_round() == 1
    host, device = topology.manage[topology.nodes[0]], topology.devices[0]
    harness.world.leak_brick(host, device, new_id(), ONE_GIB_BRICK)
    assert (await harness.get("/internal/state/examine")).status_code == 200
    return set(await scrape(harness))


async def test_every_dashboard_and_alert_metric_is_exported(
    harness: Harness, topology: Topology
) -> None:
    exported = await exported_after_operations(harness, topology)
    expressions = [*dashboard_expressions(), *alert_expressions()]
    assert len(expressions) > 30
    unknown = {}
    for where, expr in expressions:
        names = metric_names(expr)
        assert names, f"{where} names no metric: {expr}"
        missing = names - exported
        if missing:
            unknown[where] = sorted(missing)
    assert unknown == {}
    # and the dashboard shows Brickyard's own metrics, not only Heketi's
    used = {n for _, expr in expressions for n in metric_names(expr)}
    assert sum(n.startswith("brickyard_") for n in used) >= 15

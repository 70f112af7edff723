"""deploy/prometheus/alerts.yml: valid for Prometheus (`promtool check rules`) and doing what
its unit tests say (`promtool test rules alerts_test.yml`). promtool is Debian's (package
`prometheus`, installed by `make test`); without it these tests are skipped, except in CI
(CI=true), where that is a failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        why = "promtool is not installed (Debian package prometheus; make test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=120
    )


def test_the_alert_rules_are_valid() -> None:
    done = run("check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_alert_rules_pass_their_unit_tests() -> None:
    done = run("test", "rules", "alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_unit_tests_cover_every_alert() -> None:
    rules = (RULES_DIR / "alerts.yml").read_text()
    tests = (RULES_DIR / "alerts_test.yml").read_text()
    alerts = [line.split(":", 1)[1].strip() for line in rules.splitlines() if "- alert:" in line]
    assert alerts
    untested = [a for a in alerts if f"alertname: {a}\n" not in tests]
    assert untested == []


def test_the_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Each panel query of deploy/grafana/brickyard.json, as a recording rule that promtool
    parses (Grafana's $cluster variable replaced by what "All" sends)."""
    board = json.loads((RULES_DIR.parent / "grafana" / "brickyard.json").read_text())
    exprs = [
        target["expr"].replace("$cluster", ".*")
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]
    assert len(exprs) > 20
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    done = run("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in done.stdout

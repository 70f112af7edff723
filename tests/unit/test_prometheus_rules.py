"""deploy/prometheus/alerts.yml: valid for Prometheus (`promtool check rules`) and doing what
its unit tests say (`promtool test rules alerts_test.yml`). promtool is Debian's (package
`prometheus`, installed by `make test`); without it these tests are skipped, except in CI
(CI=true), where that is a failure."""

from __future__ import annotations

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

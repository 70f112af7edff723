"""`brickyard status`: the endpoint it calls, what the screen says, the exit status."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from brickyard.cli.commands_status import bar, human_kib, render_status
from brickyard.cli.main import main

GIB = 1024 * 1024


def _node(manage: str, zone: int, up: bool | None, health: str, detail: str = "") -> dict[str, Any]:
    return {
        "id": manage * 2,
        "manage": manage,
        "storage": manage,
        "zone": zone,
        "state": "online",
        "health": health,
        "up": up,
        "reachable": up,
        "checked": 0.0,
        "detail": detail,
        "devices": [],
    }


def _report(**over: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "generated": 0.0,
        "monitored": True,
        "attention": [],
        "clusters": [
            {
                "id": "c1",
                "volumes": 2,
                "capacity": {"total": 1000 * GIB, "used": 250 * GIB, "free": 750 * GIB},
                "zones": [
                    {
                        "zone": 1,
                        "capacity": {"total": 500 * GIB, "used": 250 * GIB, "free": 250 * GIB},
                        "nodes": [_node("n1", 1, True, "up")],
                    },
                    {
                        "zone": 2,
                        "capacity": {"total": 500 * GIB, "used": 0, "free": 500 * GIB},
                        "nodes": [_node("n2", 2, True, "up")],
                    },
                ],
            }
        ],
        "volumes": [],
        "operations": [],
        "failures": [],
        "drift": None,
        "counts": {
            "nodes": 2,
            "nodes_down": 0,
            "volumes": 2,
            "volumes_degraded": 0,
            "operations_running": 0,
            "operations_stuck": 0,
        },
    }
    report.update(over)
    return report


def test_units_and_bars() -> None:
    assert human_kib(GIB) == "1.0 GiB" and human_kib(1536) == "1.5 MiB"
    assert bar(1, 4) == "[" + "#" * 5 + "." * 15 + "]" and bar(0, 0) == "[" + "." * 20 + "]"


def test_a_healthy_cluster() -> None:
    text = render_status(_report())
    assert "Brickyard status at 1970-01-01 00:00:00 UTC" in text
    assert (
        "    zone 1   [##########..........]  50% used 250.0 GiB of 500.0 GiB, 250.0 GiB free"
        in text
    )
    assert (
        "    zone 2   [....................]   0% used 0.0 KiB of 500.0 GiB, 500.0 GiB free" in text
    )
    assert "Nodes: 2, 0 down\n" in text and "Volumes: 2, 0 degraded" in text
    assert "Drift: no examine since the server started" in text
    assert text.endswith("All is well.\n")


def test_what_needs_attention() -> None:
    report = _report()
    report["clusters"][0]["zones"][1]["nodes"] = [_node("n2", 2, False, "down", "no route")]
    report["counts"].update(nodes_down=1, volumes_degraded=1, operations_running=1)
    report["volumes"] = [
        {"name": "vol_a", "health": "degraded", "problems": ["brick b1 on n2: node down"]},
        {"name": "vol_b", "health": "ok", "problems": []},
    ]
    report["operations"] = [
        {
            "id": "op1",
            "type": "create-volume",
            "state": "running",
            "in_flight": True,
            "needs_human": "",
            "steps": ["brick b1 made on n1"],
        },
        {
            "id": "op2",
            "type": "delete-volume",
            "state": "needs a human",
            "in_flight": False,
            "needs_human": "volume busy",
            "steps": [],
        },
    ]
    report["failures"] = [
        {"at": 60.0, "description": "Create volume", "error": "disk on fire", "steps": []}
    ]
    report["drift"] = {"finished": 0.0, "drift": 2, "remaining": {"orphan brick": 2}, "fixed": 0}
    report["attention"] = ["node n2 is down", "1 volume degraded"]
    text = render_status(report)
    assert "  DOWN           n2 (zone 2): no route" in text
    assert "  vol_a: brick b1 on n2: node down" in text and "vol_b" not in text
    assert "Operations: 1 running, 1 failed or waiting" in text
    assert "  running       create-volume op1, last step: brick b1 made on n1" in text
    assert "  needs a human delete-volume op2: volume busy" in text
    assert "  1970-01-01 00:01:00 UTC Create volume: disk on fire" in text
    assert (
        "Drift: 2 differences at the examine of 1970-01-01 00:00:00 UTC (orphan brick: 2)" in text
    )
    assert text.endswith("Needs attention: node n2 is down; 1 volume degraded\n")


def test_long_lists_are_cut_to_one_screen() -> None:
    volumes = [
        {"name": f"vol_{i}", "health": "degraded", "problems": ["3 entries waiting to heal"]}
        for i in range(40)
    ]
    text = render_status(_report(volumes=volumes))
    assert "vol_4:" in text and "vol_5:" not in text and "... and 35 more" in text
    assert len(text.splitlines()) < 40


@pytest.mark.parametrize(("attention", "code"), [([], 0), (["node n2 is down"], 1)])
def test_command_calls_the_endpoint_and_exits_1_when_something_needs_attention(
    attention: list[str], code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        return httpx.Response(200, json=_report(attention=attention))

    assert main(["status"], env={}, transport=httpx.MockTransport(handler)) == code
    assert seen == [("GET", "/internal/status")]
    assert "Capacity" in capsys.readouterr().out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=_report()))
    assert main(["--json", "status"], env={}, transport=transport) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["nodes"] == 2


def test_an_error_is_heketi_clis(capsys: pytest.CaptureFixture[str]) -> None:
    transport = httpx.MockTransport(
        lambda _: httpx.Response(401, text="Administrator access required\n")
    )
    assert main(["status"], env={}, transport=transport) == 255
    assert "Error: Administrator access required" in capsys.readouterr().err

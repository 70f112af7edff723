"""`brickyard examine [--fix]`: which endpoint it calls, how the report reads, the exit status."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from brickyard.cli.commands_examine import render_examine
from brickyard.cli.main import main

ORPHAN = {
    "kind": "orphan brick",
    "subject": "b1",
    "detail": "on device d1: mounted, in fstab, storage 1.01 GiB; no volume uses it",
    "node": "10.0.0.1",
    "device": "d1",
    "fixable": True,
    "fixed": False,
    "fix_error": "",
}
MISSING = {
    "kind": "volume missing on gluster",
    "subject": "vol_x",
    "detail": "volume x is not on gluster",
    "node": "",
    "device": "",
    "fixable": False,
    "fixed": False,
    "fix_error": "",
}


def _report(*differences: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodes": 3,
        "devices": 3,
        "volumes": 2,
        "bricks": 6,
        "differences": list(differences),
        "remaining": sum(1 for d in differences if not d["fixed"]),
    }


def test_render_lists_each_difference_and_what_to_do() -> None:
    text = render_examine(_report(ORPHAN, MISSING), fixing=False)
    assert text.splitlines() == [
        "Examined 3 nodes, 3 devices, 2 volumes, 6 bricks.",
        "orphan brick: b1 on 10.0.0.1: on device d1: mounted, in fstab, storage 1.01 GiB; "
        "no volume uses it [fixable]",
        "volume missing on gluster: vol_x: volume x is not on gluster [needs a human]",
        "2 differences: 1 fixable (run with --fix), 1 need a human.",
    ]


def test_render_after_fix() -> None:
    fixed = dict(ORPHAN, fixed=True)
    text = render_examine(_report(fixed, MISSING), fixing=True)
    assert "[fixed]" in text
    assert text.endswith("2 differences: 1 fixed, 0 could not be fixed, 1 need a human.\n")


def test_render_clean() -> None:
    assert render_examine(_report(), fixing=False).endswith(
        "No differences: the database matches the nodes.\n"
    )


@pytest.mark.parametrize(
    ("argv", "method", "path"),
    [
        (["examine"], "GET", "/internal/state/examine"),
        (["examine", "--fix"], "POST", "/internal/state/examine/fix"),
    ],
)
def test_command_calls_the_endpoint_and_exits_1_while_differences_remain(
    argv: list[str], method: str, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        return httpx.Response(200, json=_report(MISSING))

    code = main(argv, env={}, transport=httpx.MockTransport(handler))
    assert (code, seen) == (1, [(method, path)])
    assert "volume missing on gluster" in capsys.readouterr().out


def test_json_output_and_clean_exit(capsys: pytest.CaptureFixture[str]) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=_report()))
    assert main(["--json", "examine"], env={}, transport=transport) == 0
    assert json.loads(capsys.readouterr().out)["remaining"] == 0

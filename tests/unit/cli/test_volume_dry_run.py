"""``volume create --dry-run``: POST /volumes/plan with create's body, its text and --json."""

# ruff: noqa: E501

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from brickyard.cli import render
from brickyard.cli.heketi_cli import main
from brickyard.client import go_json
from brickyard.client.testing import FakeHeketi

# the ``run`` fixture (conftest.py): run(*argv, env=None) -> Result(code, out, err)
Run = Callable[..., Any]

GIB = 1024 * 1024
C1 = "c1" * 16
C2 = "c2" * 16
N = ["n1" * 16, "n2" * 16, "n3" * 16]
D = ["d1" * 16, "d2" * 16, "d3" * 16, "d4" * 16]


def _brick(position: int, node: int, device: int, size: int, reason: str) -> dict[str, Any]:
    return {
        "position": position,
        "device": D[device],
        "device_name": f"/dev/sd{'bcde'[device]}",
        "node": N[node],
        "hostname": f"10.0.0.{node + 1}",
        "zone": node + 1,
        "size": size,
        "space": size + 41 * 1024,
        "arbiter": False,
        "reason": reason,
    }


def _plan() -> dict[str, Any]:
    """The agreed example answer of POST /volumes/plan (2 sets of 3 bricks of 5 GiB)."""
    free = "most free space (498 GiB) in a zone the set does not use yet"
    return {
        "ok": True,
        "cluster": C1,
        "size": 10,
        "durability": {"type": "replicate", "replicate": {"replica": 3}, "disperse": {}},
        "sets": 2,
        "bricks_per_set": 3,
        "brick_size": 5 * GIB,
        "brick_sets": [
            {
                "set": 0,
                "bricks": [
                    _brick(0, 0, 0, 5 * GIB, free),
                    _brick(1, 1, 1, 5 * GIB, free),
                    _brick(2, 2, 2, 5 * GIB, free),
                ],
            },
            {
                "set": 1,
                "bricks": [
                    _brick(0, 1, 1, 5 * GIB, "most free space (493 GiB)"),
                    _brick(1, 2, 2, 5 * GIB, ""),
                    {**_brick(2, 0, 3, 5 * GIB // 3, "arbiter capable"), "arbiter": True},
                ],
            },
        ],
        "skipped": [
            {
                "device": D[3],
                "device_name": "/dev/sde",
                "node": N[0],
                "hostname": "10.0.0.1",
                "reason": "same node as brick 0 of set 0",
            }
        ],
        "skipped_counts": {
            "same node": 12,
            "no space": 3,
            "offline": 1,
            "zone in use (strict)": 0,
            "tags": 0,
            "arbiter role": 0,
        },
        "attempts": [
            {
                "sets": 1,
                "brick_size": 10 * GIB,
                "result": "no device has 10.05 GiB free (largest free: 8.00 GiB)",
            },
            {"sets": 2, "brick_size": 5 * GIB, "result": "placed"},
        ],
        "clusters": [{"id": C1, "result": "placed"}],
    }


PLAN_TEXT = (
    "Dry run: nothing was created.\n"
    "Cluster Id: c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1\n"
    "Layout: 2 brick sets x 3 bricks of 5 GiB (replicate 3)\n"
    "Set 0:\n"
    "    Brick 0: node n1n1n1n1n1n1n1n1n1n1n1n1n1n1n1n1 (10.0.0.1, zone 1), device d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1 (/dev/sdb), 5 GiB: most free space (498 GiB) in a zone the set does not use yet\n"
    "    Brick 1: node n2n2n2n2n2n2n2n2n2n2n2n2n2n2n2n2 (10.0.0.2, zone 2), device d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2 (/dev/sdc), 5 GiB: most free space (498 GiB) in a zone the set does not use yet\n"
    "    Brick 2: node n3n3n3n3n3n3n3n3n3n3n3n3n3n3n3n3 (10.0.0.3, zone 3), device d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3 (/dev/sdd), 5 GiB: most free space (498 GiB) in a zone the set does not use yet\n"
    "Set 1:\n"
    "    Brick 0: node n2n2n2n2n2n2n2n2n2n2n2n2n2n2n2n2 (10.0.0.2, zone 2), device d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2 (/dev/sdc), 5 GiB: most free space (493 GiB)\n"
    "    Brick 1: node n3n3n3n3n3n3n3n3n3n3n3n3n3n3n3n3 (10.0.0.3, zone 3), device d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3 (/dev/sdd), 5 GiB\n"
    "    Brick 2 (arbiter): node n1n1n1n1n1n1n1n1n1n1n1n1n1n1n1n1 (10.0.0.1, zone 1), device d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4 (/dev/sde), 1.67 GiB: arbiter capable\n"
    "Skipped devices: same node 12, no space 3, offline 1\n"
    "    d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4 (/dev/sde) on 10.0.0.1: same node as brick 0 of set 0\n"
    "    (15 more not shown)\n"
    "Attempts:\n"
    "    1 set of 10 GiB bricks: no device has 10.05 GiB free (largest free: 8.00 GiB)\n"
    "    2 sets of 5 GiB bricks: placed\n"
)


def _failed_plan() -> dict[str, Any]:
    plan = _plan()
    plan.update(
        ok=False,
        error="No space: no device has 10.05 GiB free (largest free: 8.00 GiB)",
        cluster="",
        sets=0,
        bricks_per_set=0,
        brick_size=0,
        brick_sets=[],
        skipped=[],
        skipped_counts=dict.fromkeys(plan["skipped_counts"], 0),
        attempts=plan["attempts"][:1],
        clusters=[
            {"id": C1, "result": "no device has 10.05 GiB free (largest free: 8.00 GiB)"},
            {"id": C2, "result": "file volumes are disabled"},
        ],
    )
    return plan


FAILED_TEXT = (
    "Dry run: nothing was created.\n"
    "Cluster Id: (none)\n"
    "Layout: none found for 10 GiB (replicate 3)\n"
    "Skipped devices: none\n"
    "Attempts:\n"
    "    1 set of 10 GiB bricks: no device has 10.05 GiB free (largest free: 8.00 GiB)\n"
    "Clusters:\n"
    "    c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1: no device has 10.05 GiB free (largest free: 8.00 GiB)\n"
    "    c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2: file volumes are disabled\n"
)


class PlanServer:
    """A server answering POST /volumes/plan with a fixed plan (and nothing else)."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if (request.method, request.url.path) != ("POST", "/volumes/plan"):
            return httpx.Response(404, text="Invalid path or request\n")
        return httpx.Response(200, json=self.plan)

    def run(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv), env={}, transport=httpx.MockTransport(self))
        captured = capsys.readouterr()
        return code, captured.out, captured.err


# --- text rendering ------------------------------------------------------------------------------


def test_plan_text_golden(capsys: pytest.CaptureFixture[str]) -> None:
    server = PlanServer(_plan())
    assert server.run(capsys, "volume", "create", "--size=10", "--dry-run") == (0, PLAN_TEXT, "")
    assert [f"{r.method} {r.url.path}" for r in server.requests] == ["POST /volumes/plan"]


def test_failed_plan_text_golden_exits_255(capsys: pytest.CaptureFixture[str]) -> None:
    server = PlanServer(_failed_plan())
    code, out, err = server.run(capsys, "volume", "create", "--size=10", "--dry-run")
    assert (code, out) == (255, FAILED_TEXT)
    assert err == "Error: No space: no device has 10.05 GiB free (largest free: 8.00 GiB)\n"


def test_failed_plan_without_an_error_message(capsys: pytest.CaptureFixture[str]) -> None:
    plan = _failed_plan()
    del plan["error"]
    assert render.volume_plan(plan) == FAILED_TEXT
    code, out, err = PlanServer(plan).run(capsys, "volume", "create", "--size=10", "--dry-run")
    assert (code, out, err) == (255, FAILED_TEXT, "Error: no placement found\n")


@pytest.mark.parametrize(
    ("durability", "expected"),
    [
        ({"type": "replicate", "replicate": {"replica": 2}, "disperse": {}}, "replicate 2"),
        (
            {"type": "disperse", "replicate": {}, "disperse": {"data": 4, "redundancy": 2}},
            "disperse 4+2",
        ),
        ({"type": "none", "replicate": {}, "disperse": {}}, "none"),
        (None, "none"),
    ],
)
def test_durability_text(durability: Any, expected: str) -> None:
    assert render.durability_text(durability) == expected


@pytest.mark.parametrize(
    ("kib", "expected"),
    [(0, "0"), (GIB, "1"), (5 * GIB, "5"), (GIB // 2, "0.50"), (GIB * 10.05, "10.05"), (None, "0")],
)
def test_gib_text(kib: Any, expected: str) -> None:
    assert render.gib_text(kib) == expected


def test_plan_text_singular_counts_and_missing_details() -> None:
    plan = _plan()
    plan.update(sets=1, bricks_per_set=1, brick_size=GIB // 4, skipped_counts={}, attempts=[])
    plan["durability"] = {"type": "none", "replicate": {}, "disperse": {}}
    brick = {"device": D[0], "node": N[0], "zone": 1, "size": GIB // 4}
    plan["brick_sets"] = [{"bricks": [brick]}]
    plan["skipped"] = []
    plan["clusters"] = [{"id": C1, "result": "placed"}, {"id": C2, "result": "not tried"}]
    assert render.volume_plan(plan) == (
        "Dry run: nothing was created.\n"
        f"Cluster Id: {C1}\n"
        "Layout: 1 brick set x 1 brick of 0.25 GiB (none)\n"
        "Set 0:\n"
        f"    Brick 0: node {N[0]} (zone 1), device {D[0]} (), 0.25 GiB\n"
        "Skipped devices: none\n"
        "Clusters:\n"
        f"    {C1}: placed\n"
        f"    {C2}: not tried\n"
    )


# --- --json ------------------------------------------------------------------------------------


def test_json_is_the_answer_compact_without_newline(capsys: pytest.CaptureFixture[str]) -> None:
    plan = _plan()
    server = PlanServer(plan)
    code, out, err = server.run(capsys, "volume", "create", "--size=10", "--dry-run", "--json")
    assert (code, out, err) == (0, go_json(plan), "")
    assert not out.endswith("\n")


def test_json_of_a_failed_plan_exits_255(capsys: pytest.CaptureFixture[str]) -> None:
    plan = _failed_plan()
    server = PlanServer(plan)
    code, out, err = server.run(capsys, "--json", "volume", "create", "--size=10", "--dry-run")
    assert (code, json.loads(out)) == (255, plan)
    assert err == f"Error: {plan['error']}\n"


# --- against the fake server -------------------------------------------------------------------


def _cluster(run: Run, nodes: int, *, extra_device: bool = False) -> str:
    result = run("cluster", "create", "--json")
    assert result.code == 0, result.err
    cid: str = json.loads(result.out)["id"]
    for i in range(1, nodes + 1):
        added = run(
            "node",
            "add",
            f"--zone={i}",
            f"--cluster={cid}",
            f"--management-host-name=node{i}",
            f"--storage-host-name=10.0.0.{i}",
            "--json",
        )
        nid = json.loads(added.out)["id"]
        assert run("device", "add", "--name=/dev/sdb", f"--node={nid}").code == 0
        if extra_device:
            assert run("device", "add", "--name=/dev/sdc", f"--node={nid}").code == 0
    return cid


def _unchanged(fake: FakeHeketi) -> None:
    assert not [c for c in fake.calls() if c == "POST /volumes"]
    assert fake.volumes == {}


def test_dry_run_against_the_fake(run: Run, fake: FakeHeketi) -> None:
    cid = _cluster(run, 3)
    result = run("volume", "create", "--size=10", "--dry-run")
    assert (result.code, result.err) == (0, "")
    lines = result.out.splitlines()
    assert lines[:4] == [
        "Dry run: nothing was created.",
        f"Cluster Id: {cid}",
        "Layout: 1 brick set x 3 bricks of 10 GiB (replicate 3)",
        "Set 0:",
    ]
    nodes = sorted(fake.nodes)
    for position, nid in enumerate(nodes):
        did = next(d for d, v in fake.devices.items() if v["node"] == nid)
        host = fake.nodes[nid]["storage"]
        zone = fake.nodes[nid]["zone"]
        assert lines[4 + position] == (
            f"    Brick {position}: node {nid} ({host}, zone {zone}), device {did} (/dev/sdb), "
            "10 GiB: first device of the node with enough free space"
        )
    assert lines[7:] == ["Skipped devices: none", "Attempts:", "    1 set of 10 GiB bricks: placed"]
    assert fake.calls()[-1] == "POST /volumes/plan"
    _unchanged(fake)


def test_dry_run_reports_skipped_devices(run: Run, fake: FakeHeketi) -> None:
    _cluster(run, 3, extra_device=True)
    result = run("volume", "create", "--size=10", "--dry-run")
    assert result.code == 0
    assert "Skipped devices: same node 3\n" in result.out
    assert result.out.count(": same node as brick ") == 3
    _unchanged(fake)


def test_dry_run_without_enough_nodes_fails(run: Run, fake: FakeHeketi) -> None:
    cid = _cluster(run, 2)
    result = run("volume", "create", "--size=10", "--dry-run")
    assert result.code == 255
    assert result.out == (
        "Dry run: nothing was created.\n"
        "Cluster Id: (none)\n"
        "Layout: none found for 10 GiB (replicate 3)\n"
        "Skipped devices: none\n"
        "Attempts:\n"
        "    1 set of 10 GiB bricks: 3 nodes with a usable device needed, 2 found\n"
        "Clusters:\n"
        f"    {cid}: 3 nodes with a usable device needed, 2 found\n"
    )
    assert result.err == "Error: No space: 3 nodes with a usable device needed, 2 found\n"
    as_json = run("volume", "create", "--size=10", "--dry-run", "--json")
    assert as_json.code == 255
    assert json.loads(as_json.out)["ok"] is False
    _unchanged(fake)


CREATE_FLAGS = [
    ["--size=1"],
    [
        "--size",
        "2",
        "--name=v1",
        "--durability=disperse",
        "--disperse-data=2",
        "--redundancy=1",
        "--snapshot-factor=1.5",
        "--gid=2000",
        "--gluster-volume-options=a 1,b 2",
        "--block",
    ],
    ["--size=3", "--durability=none", "--replica=0", "--block=false"],
    ["--size=4", "--replica=2", "--snapshot-factor=1", "--name", "x y"],
]


@pytest.mark.parametrize("flags", CREATE_FLAGS)
def test_dry_run_sends_the_body_create_sends(run: Run, fake: FakeHeketi, flags: list[str]) -> None:
    cid = _cluster(run, 3)
    flags = [*flags, f"--clusters={cid}"]
    planned = run("volume", "create", *flags, "--dry-run", "--json")
    assert planned.code == 0, planned.err
    _unchanged(fake)
    created = run("volume", "create", *flags, "--json")
    assert created.code == 0, created.err
    (plan_request,) = [r for r in fake.requests if r.url.path == "/volumes/plan"]
    (create_request,) = [
        r for r in fake.requests if r.method == "POST" and r.url.path == "/volumes"
    ]
    assert plan_request.method == "POST"
    assert plan_request.content == create_request.content
    assert json.loads(planned.out)["size"] == json.loads(created.out)["size"]


def test_dry_run_false_creates(run: Run, fake: FakeHeketi) -> None:
    _cluster(run, 3)
    assert run("volume", "create", "--size=1", "--dry-run=false").code == 0
    assert len(fake.volumes) == 1
    assert "POST /volumes/plan" not in fake.calls()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--persistent-volume", "--persistent-volume-endpoint=ep"],
            "--dry-run cannot be combined with --persistent-volume",
        ),
        (["--persistent-volume"], "--dry-run cannot be combined with --persistent-volume"),
        (
            ["--persistent-volume-file=/tmp/pv.json"],
            "--dry-run cannot be combined with --persistent-volume-file",
        ),
    ],
)
def test_dry_run_conflicts(run: Run, fake: FakeHeketi, flags: list[str], message: str) -> None:
    result = run("volume", "create", "--size=1", "--dry-run", *flags)
    assert (result.code, result.out, result.err) == (255, "", f"Error: {message}\n")
    assert fake.requests == []


def test_dry_run_still_needs_a_size(run: Run, fake: FakeHeketi) -> None:
    result = run("volume", "create", "--dry-run")
    assert (result.code, result.err) == (255, "Error: Missing volume size\n")
    assert fake.requests == []


def test_server_errors_of_the_plan(run: Run, fake: FakeHeketi) -> None:
    _cluster(run, 3)
    fake.fail("POST", "/volumes/plan", 400, "Invalid JSON: durability type")
    result = run("volume", "create", "--size=1", "--dry-run")
    assert (result.code, result.out, result.err) == (
        255,
        "",
        "Error: Invalid JSON: durability type\n",
    )
    fake.fail("POST", "/volumes/plan", 401, "Administrator access required")
    result = run("volume", "create", "--size=1", "--dry-run")
    assert result.err == "Error: Administrator access required\n"
    _unchanged(fake)


def test_server_without_the_extension(run: Run, fake: FakeHeketi) -> None:
    fake.fail("POST", "/volumes/plan", 404, "404 page not found")
    result = run("volume", "create", "--size=1", "--dry-run")
    assert (result.code, result.err) == (
        255,
        "Error: the server does not support dry runs (POST /volumes/plan: 404 page not found)\n",
    )
    _unchanged(fake)


def test_dry_run_jwt(run: Run, fake: FakeHeketi) -> None:
    _cluster(run, 3)
    fake.keys = {"admin": "secret"}
    ok = run("volume", "create", "--size=1", "--dry-run", "--user=admin", "--secret=secret")
    assert ok.code == 0, ok.err
    assert fake.requests[-1].headers["authorization"].startswith("bearer ")


def test_brickyard_program_has_the_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    from brickyard.cli import main as brickyard_main

    plan = copy.deepcopy(_plan())
    server = PlanServer(plan)
    code = brickyard_main.main(
        ["volume", "create", "--size=10", "--dry-run"],
        env={},
        transport=httpx.MockTransport(server),
    )
    assert (code, capsys.readouterr().out) == (0, PLAN_TEXT)


def test_help_documents_the_dry_run(run: Run) -> None:
    result = run("volume", "create", "--help")
    assert result.code == 0
    assert "--dry-run" in result.out
    assert "Dry run: nothing was created." in result.out
    assert "Skipped devices:" in result.out
    short = run("volume", "--help").out
    assert "create                         Create a GlusterFS volume\n" in short

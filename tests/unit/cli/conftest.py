"""Fixtures for the heketi-cli tests: a fake Heketi and a runner that captures output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from brickyard.cli import common
from brickyard.cli.heketi_cli import main
from brickyard.client.testing import FakeHeketi

GIB = 1024 * 1024


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def _no_heal_check_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "HEAL_CHECK_WARNING_DELAY", 0.0)


@pytest.fixture
def fake() -> FakeHeketi:
    return FakeHeketi()


@pytest.fixture
def run(fake: FakeHeketi, capsys: pytest.CaptureFixture[str]) -> Run:
    """``run("volume", "list", env={...})`` runs heketi-cli against ``fake``."""

    def runner(*argv: str, env: dict[str, str] | None = None) -> Result:
        capsys.readouterr()
        code = main(list(argv), env=env or {}, transport=fake.transport())
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return runner


C = "c" * 32
N1 = "1" * 32
N2 = "2" * 32
D1 = "d1" * 16
D2 = "d2" * 16
B1 = "b1" * 16
B2 = "b2" * 16
VA = "a" * 32
VE = "e" * 32


def _brick(bid: str, vid: str) -> dict[str, Any]:
    return {
        "id": bid,
        "path": f"/var/lib/heketi/mounts/vg_{D1}/brick_{bid}/brick",
        "device": D1,
        "node": N1,
        "volume": vid,
        "size": GIB,
    }


def _volume(vid: str, durability: dict[str, Any], snapshot: dict[str, Any], bid: str) -> Any:
    return {
        "size": 1,
        "name": f"vol_{vid}",
        "durability": durability,
        "glustervolumeoptions": ["", ""],
        "snapshot": snapshot,
        "id": vid,
        "cluster": C,
        "mount": {
            "glusterfs": {
                "hosts": ["10.0.0.1", "10.0.0.2"],
                "device": f"10.0.0.1:vol_{vid}",
                "options": {"backup-volfile-servers": "10.0.0.2"},
            }
        },
        "blockinfo": {},
        "bricks": [_brick(bid, vid)],
    }


@pytest.fixture
def contract_topology() -> dict[str, Any]:
    """The topology of the contract's §4.4 example."""
    used = 2 * GIB + 2 * 8192
    return {
        "clusters": [
            {
                "volumes": [
                    _volume(
                        VA,
                        {"type": "none", "replicate": {}, "disperse": {}},
                        {"enable": False, "factor": 1},
                        B1,
                    ),
                    _volume(
                        VE,
                        {
                            "type": "disperse",
                            "replicate": {},
                            "disperse": {"data": 2, "redundancy": 1},
                        },
                        {"enable": True, "factor": 1.5},
                        B2,
                    ),
                ],
                "nodes": [
                    {
                        "zone": 1,
                        "hostnames": {"manage": ["node1.example.com"], "storage": ["10.0.0.1"]},
                        "cluster": C,
                        "tags": {"rack": "r1", "arbiter": "supported"},
                        "id": N1,
                        "state": "online",
                        "devices": [
                            {
                                "name": "/dev/sdb",
                                "storage": {
                                    "total": 500 * GIB,
                                    "free": 500 * GIB - used,
                                    "used": used,
                                },
                                "id": D1,
                                "paths": ["/dev/sdb"],
                                "state": "online",
                                "bricks": [_brick(B1, VA), _brick(B2, VE)],
                            },
                            {
                                "name": "/dev/sdc",
                                "tags": {"ssd": "yes"},
                                "storage": {"total": 500 * GIB, "free": 500 * GIB, "used": 0},
                                "id": D2,
                                "paths": ["/dev/sdc", "/dev/disk/by-id/wwn-0x5000"],
                                "state": "failed",
                                "bricks": [],
                            },
                        ],
                    },
                    {
                        "zone": 2,
                        "hostnames": {"manage": ["node2.example.com"], "storage": ["10.0.0.2"]},
                        "cluster": C,
                        "id": N2,
                        "state": "offline",
                        "devices": [],
                    },
                ],
                "id": C,
                "block": True,
                "file": True,
            }
        ]
    }

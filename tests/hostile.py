"""The hostile-value corpus (tests/fixtures/hostile_values.json) turned into requests, shared by
the simulator test (tests/integration/test_hostile_values.py) and the real-GlusterFS one
(tests/e2e/test_hostile_values_on_gluster.py): the same values must get the same verdicts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CORPUS = json.loads((Path(__file__).parent / "fixtures" / "hostile_values.json").read_text())
REPLICATE = "replicate"
KEYS = ("case", "expect")


@dataclass(frozen=True)
class Case:
    kind: str  # volumes, devices, nodes
    case: str
    expect: str  # refused (4xx at submit) or accepted (202, then success)
    values: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.kind}: {self.case}"

    def volume_body(self) -> dict[str, Any]:
        v = self.values
        name = v.get("name") or ("v" * v["name_len"] if "name_len" in v else "")
        body: dict[str, Any] = {"size": 1}
        if name:
            body["name"] = name
        replica = v.get("replica", 3)
        body["durability"] = {"type": REPLICATE, "replicate": {"replica": replica}}
        if "options" in v:
            body["glustervolumeoptions"] = v["options"]
        return body

    def device_body(self, node_id: str) -> dict[str, Any]:
        v = self.values
        if "name_len" in v:
            name = "/dev/" + "d" * (v["name_len"] - 5)
        elif "component_len" in v:
            name = "/srv/" + "c" * v["component_len"] + "/disk"
        else:
            name = v["name"]
        return {"node": node_id, "name": name}

    def node_body(self, cluster: str) -> dict[str, Any]:
        v = self.values
        host = v.get("host") or ("h" * (v["host_len"] - 8) + ".example" if "host_len" in v else "")
        host = host or "good.example"
        return {
            "cluster": cluster,
            "zone": v.get("zone", 1),
            "hostnames": {"manage": [host], "storage": [host]},
        }


def cases(kind: str) -> list[Case]:
    return [
        Case(kind, c["case"], c["expect"], {k: v for k, v in c.items() if k not in KEYS})
        for c in CORPUS[kind]
    ]


def is_refused_at_submit(status: int) -> bool:
    """A refusal the client gets at once: 400 (and 404/409 where Heketi answers so), never a
    202 that fails later."""
    return 400 <= status < 500

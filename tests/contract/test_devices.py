"""§1.6 devices: add, info, delete, state, resync, tags, storage accounting."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import (
    BRICK_1G_CHARGE,
    MOCK_DEVICE_KIB,
    QUEUE_RE,
    Api,
    Topology,
    assert_json,
    assert_text_error,
    new_id,
    replicate3,
    uniq,
)
from .test_nodes import TAG_ERRORS

DEVICE_KEYS = {"name", "storage", "id", "state", "bricks"}


@pytest.fixture
def node(api: Api) -> str:
    cid = api.create_cluster()
    return api.add_node(cid, 1, f"{uniq()}.example.com")


def test_add_device_204_and_info_shape(api: Api, node: str) -> None:
    r = api.post("/devices", {"node": node, "name": "/dev/sdb"})
    api.wait_204(r)
    devices = api.get_json(f"/nodes/{node}")["devices"]
    assert len(devices) == 1
    did = devices[0]["id"]
    info = api.get_json(f"/devices/{did}")
    assert set(info) == DEVICE_KEYS  # mock: no tags, paths, pv_uuid
    assert info == {
        "name": "/dev/sdb",
        "storage": {"total": MOCK_DEVICE_KIB, "free": MOCK_DEVICE_KIB, "used": 0},
        "id": did,
        "state": "online",
        "bricks": [],
    }
    assert devices[0] == info


def test_add_device_with_tags_and_destroydata(api: Api, node: str) -> None:
    r = api.post(
        "/devices",
        {
            "node": node,
            "name": "/dev/disk/by-id/wwn-0x5000:1",
            "destroydata": True,
            "tags": {"ssd": "yes"},
        },
    )
    api.wait_204(r)
    (dev,) = api.get_json(f"/nodes/{node}")["devices"]
    assert dev["name"] == "/dev/disk/by-id/wwn-0x5000:1"
    assert dev["tags"] == {"ssd": "yes"}


def test_add_device_unknown_node_404(api: Api) -> None:
    assert_text_error(
        api.post("/devices", {"node": new_id(), "name": "/dev/sdb"}), 404, "Node id does not exist"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"node": "N"}, "validation failed: name: cannot be blank."),
        ({"node": "N", "name": "sdb"}, "validation failed: name: must be in a valid format."),
        ({"node": "N", "name": "/dev/sd b"}, "validation failed: name: must be in a valid format."),
        ({"name": "/dev/sdb"}, "validation failed: node: cannot be blank."),
        # same UUID rule as the §1.0 example "cluster: bad_id is not a valid UUID."
        ({"node": "xyz", "name": "/dev/sdb"}, "validation failed: node: xyz is not a valid UUID."),
    ],
)
def test_add_device_validation(api: Api, node: str, body: dict[str, Any], message: str) -> None:
    if body.get("node") == "N":
        body["node"] = node
    assert_text_error(api.post("/devices", body), 400, message)
    assert api.get_json(f"/nodes/{node}")["devices"] == []


def test_add_device_undecodable_422(api: Api, node: str) -> None:
    assert_text_error(
        api.request("POST", "/devices", content=b'{"node": 5}'), 422, "request unable to be parsed"
    )


def test_device_info_unknown_404(api: Api) -> None:
    assert_text_error(api.get(f"/devices/{new_id()}"), 404, "Id not found")


def test_delete_device_lifecycle(api: Api, node: str) -> None:
    did = api.add_device(node, "/dev/sdc")
    assert_text_error(api.delete(f"/devices/{did}"), 400, f"device: {did} is not in failed state")
    api.wait_204(api.set_state("devices", did, "offline"))
    assert_text_error(api.delete(f"/devices/{did}"), 400, f"device: {did} is not in failed state")
    api.wait_204(api.set_state("devices", did, "failed"))
    assert api.get_json(f"/devices/{did}")["state"] == "failed"
    api.wait_204(api.delete(f"/devices/{did}", {"forceforget": False}))
    assert_text_error(api.get(f"/devices/{did}"), 404, "Id not found")
    assert api.get_json(f"/nodes/{node}")["devices"] == []


def test_delete_device_unknown_404(api: Api) -> None:
    assert_text_error(api.delete(f"/devices/{new_id()}"), 404, "Id not found")


def test_device_state_transitions(api: Api, node: str) -> None:
    did = api.add_device(node, "/dev/sdd")
    msg = api.wait_500(api.set_state("devices", did, "failed"))
    assert msg == f"Device must be offline before remove operation is performed, device:{did}"
    assert api.get_json(f"/devices/{did}")["state"] == "online"
    api.wait_204(api.set_state("devices", did, "offline"))
    assert api.get_json(f"/devices/{did}")["state"] == "offline"
    api.wait_204(api.set_state("devices", did, "online"))
    assert api.get_json(f"/devices/{did}")["state"] == "online"
    api.wait_204(api.set_state("devices", did, "offline"))
    api.wait_204(api.set_state("devices", did, "failed"))
    assert api.get_json(f"/devices/{did}")["state"] == "failed"
    msg = api.wait_500(api.set_state("devices", did, "online"))
    assert msg == "Cannot move a failed/removed device to online state"
    api.wait_204(api.set_state("devices", did, "offline"))  # failed -> offline is allowed
    assert api.get_json(f"/devices/{did}")["state"] == "offline"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "validation failed: state: cannot be blank."),
        ({"state": "gone"}, "validation failed: state: gone is not valid state."),
        (
            {"state": "offline", "healcheck": "x"},
            "validation failed: healcheck: x is not valid heal info check.",
        ),
    ],
)
def test_device_state_validation(api: Api, topology: Topology, body: Any, message: str) -> None:
    assert_text_error(api.post(f"/devices/{topology.devices[0]}/state", body), 400, message)


def test_device_state_unknown_404(api: Api) -> None:
    assert_text_error(api.set_state("devices", new_id(), "offline"), 404, "Id not found")


def test_offline_device_not_used_for_placement(api: Api, topology_factory: Any) -> None:
    topo = topology_factory(n_nodes=3, devices_per_node=2)
    offline = {topo.devices[0], topo.devices[2], topo.devices[4]}
    for did in offline:
        api.wait_204(api.set_state("devices", did, "offline"))
    for _ in range(3):
        vol = api.create_volume(**replicate3(topo.cluster))
        assert not {b["device"] for b in vol["bricks"]} & offline


def test_device_remove_migrates_bricks(api: Api, topology_factory: Any) -> None:
    topo = topology_factory(n_nodes=4)
    vol = api.create_volume(**replicate3(topo.cluster))
    victim = vol["bricks"][0]["device"]
    old_brick = vol["bricks"][0]["id"]
    api.wait_204(api.set_state("devices", victim, "offline"))
    api.wait_204(api.set_state("devices", victim, "failed", healcheck="disable"))
    dev = api.get_json(f"/devices/{victim}")
    assert dev["state"] == "failed"
    assert dev["bricks"] == []
    assert dev["storage"] == {"total": MOCK_DEVICE_KIB, "free": MOCK_DEVICE_KIB, "used": 0}
    vol2 = api.get_json(f"/volumes/{vol['id']}")
    assert len(vol2["bricks"]) == 3
    assert old_brick not in [b["id"] for b in vol2["bricks"]]
    assert victim not in [b["device"] for b in vol2["bricks"]]
    assert len({b["node"] for b in vol2["bricks"]}) == 3
    api.wait_204(api.delete(f"/devices/{victim}"))


def test_device_remove_without_replacement_fails(api: Api, topology: Topology) -> None:
    vol = api.create_volume(**replicate3(topology.cluster))
    victim = vol["bricks"][0]["device"]
    api.wait_204(api.set_state("devices", victim, "offline"))
    msg = api.wait_500(api.set_state("devices", victim, "failed", healcheck="disable"))
    assert msg.startswith(
        f"Unable to delete device [{victim}] as no device was found to replace it"
    ), msg
    dev = api.get_json(f"/devices/{victim}")
    assert dev["state"] == "offline"
    assert len(dev["bricks"]) == 1


def test_delete_device_with_bricks_not_allowed(api: Api, topology: Topology) -> None:
    api.create_volume(**replicate3(topology.cluster))
    did = topology.devices[0]
    assert_text_error(api.delete(f"/devices/{did}"), 400, f"device: {did} is not in failed state")
    assert api.get_json(f"/devices/{did}")["bricks"]


# ------------------------------------------------------------------------------ resync


def test_resync_is_get_202_with_html_body(api: Api, topology: Topology) -> None:
    did = topology.devices[0]
    r = api.get(f"/devices/{did}/resync")
    assert r.status_code == 202
    loc = r.headers["location"]
    assert QUEUE_RE.match(loc), loc
    assert r.headers["content-type"].lower() == "text/html; charset=utf-8"
    assert r.text == f'<a href="{loc}">Accepted</a>.\n\n'
    api.wait_204(r)
    info = api.get_json(f"/devices/{did}")
    assert info["storage"]["total"] == info["storage"]["free"] + info["storage"]["used"]


def test_resync_unknown_404(api: Api) -> None:
    assert_text_error(api.get(f"/devices/{new_id()}/resync"), 404, "Id not found")


# ------------------------------------------------------------------------------ storage


def test_storage_accounting_replica3_volume(api: Api, topology: Topology) -> None:
    vol = api.create_volume(**replicate3(topology.cluster))
    for did in topology.devices:
        info = api.get_json(f"/devices/{did}")
        st = info["storage"]
        assert st["used"] == BRICK_1G_CHARGE
        assert st["total"] == MOCK_DEVICE_KIB
        assert st["total"] == st["free"] + st["used"]
        assert len(info["bricks"]) == 1
        (brick,) = info["bricks"]
        assert brick["volume"] == vol["id"]
        assert brick["device"] == did
        assert brick["size"] == 1048576
    api.wait_204(api.delete(f"/volumes/{vol['id']}"))
    for did in topology.devices:
        info = api.get_json(f"/devices/{did}")
        assert info["storage"] == {"total": MOCK_DEVICE_KIB, "free": MOCK_DEVICE_KIB, "used": 0}
        assert info["bricks"] == []


def test_device_bricks_sorted(api: Api, topology: Topology) -> None:
    for _ in range(3):
        api.create_volume(**replicate3(topology.cluster))
    for did in topology.devices:
        bricks = api.get_json(f"/devices/{did}")["bricks"]
        assert len(bricks) == 3
        assert [b["id"] for b in bricks] == sorted(b["id"] for b in bricks)
        st = api.get_json(f"/devices/{did}")["storage"]
        assert st["used"] == 3 * BRICK_1G_CHARGE


# ------------------------------------------------------------------------------ tags


def test_device_tags_set_update_delete(api: Api, node: str) -> None:
    did = api.add_device(node, "/dev/sde")
    path = f"/devices/{did}/tags"
    assert assert_json(api.post(path, {"tags": {"a": "1"}, "change_type": "set"})) == {"a": "1"}
    assert assert_json(api.post(path, {"tags": {"b": "2"}, "change_type": "update"})) == {
        "a": "1",
        "b": "2",
    }
    assert assert_json(api.post(path, {"tags": {"a": ""}, "change_type": "delete"})) == {"b": "2"}
    assert api.get_json(f"/devices/{did}")["tags"] == {"b": "2"}


def test_device_tags_unknown_404(api: Api) -> None:
    assert_text_error(
        api.post(f"/devices/{new_id()}/tags", {"tags": {}, "change_type": "set"}),
        404,
        "Id not found",
    )


@pytest.mark.parametrize(("body", "message"), TAG_ERRORS)
def test_device_tags_validation(api: Api, topology: Topology, body: Any, message: str) -> None:
    did = topology.devices[0]
    assert_text_error(api.post(f"/devices/{did}/tags", body), 400, message)
    assert "tags" not in api.get_json(f"/devices/{did}")

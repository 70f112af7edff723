"""§1.5 nodes: add, info, delete, state, tags."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import (
    ID_RE,
    Api,
    Topology,
    assert_json,
    assert_text_error,
    new_id,
    replicate3,
    uniq,
)

NODE_KEYS = {"zone", "hostnames", "cluster", "id", "state", "devices"}


def node_body(cluster: str, host: str, zone: Any = 1, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "cluster": cluster,
        "zone": zone,
        "hostnames": {"manage": [host], "storage": [host]},
    }
    body.update(kw)
    return body


def test_add_node_303_and_info_shape(api: Api) -> None:
    cid = api.create_cluster()
    manage, storage = f"{uniq()}.example.com", "10.11.12.13"
    r = api.post(
        "/nodes",
        {"cluster": cid, "zone": 2, "hostnames": {"manage": [manage], "storage": [storage]}},
    )
    nid = api.wait_303(r, "/nodes")
    info = api.get_json(f"/nodes/{nid}")
    assert set(info) == NODE_KEYS  # no "tags" key when there are none (omitempty)
    assert info == {
        "zone": 2,
        "hostnames": {"manage": [manage], "storage": [storage]},
        "cluster": cid,
        "id": nid,
        "state": "online",
        "devices": [],
    }
    assert ID_RE.match(nid)
    assert api.get_json(f"/clusters/{cid}")["nodes"] == [nid]


def test_add_node_with_tags(api: Api) -> None:
    cid = api.create_cluster()
    nid = api.add_node(cid, 1, f"{uniq()}.example.com", tags={"rack": "r1", "arbiter": "supported"})
    info = api.get_json(f"/nodes/{nid}")
    assert info["tags"] == {"rack": "r1", "arbiter": "supported"}


def test_add_node_ipv4_and_multiple_hostnames(api: Api) -> None:
    cid = api.create_cluster()
    body = {
        "cluster": cid,
        "zone": 1,
        "hostnames": {
            "manage": [f"{uniq()}.example.com", f"{uniq()}.example.com"],
            "storage": ["192.168.77.1", "192.168.77.2"],
        },
    }
    nid = api.wait_303(api.post("/nodes", body), "/nodes")
    assert api.get_json(f"/nodes/{nid}")["hostnames"] == body["hostnames"]


def test_hostname_conflict_manage_409(api: Api, topology: Topology) -> None:
    nid = topology.nodes[0]
    host = topology.manage[nid]
    other = api.create_cluster()
    r = api.post(
        "/nodes",
        {"cluster": other, "zone": 1, "hostnames": {"manage": [host], "storage": [uniq()]}},
    )
    assert r.status_code == 409
    assert r.text == f"Hostname {host} already used by node with id {nid}\n\n"
    assert r.headers["content-type"].lower().startswith("text/plain")
    assert api.get_json(f"/clusters/{other}")["nodes"] == []


def test_hostname_conflict_storage_409(api: Api, topology: Topology) -> None:
    nid = topology.nodes[1]
    host = topology.storage[nid]
    r = api.post(
        "/nodes",
        {
            "cluster": topology.cluster,
            "zone": 1,
            "hostnames": {"manage": [f"{uniq()}.example.com"], "storage": [host]},
        },
    )
    assert r.status_code == 409
    assert r.text == f"Hostname {host} already used by node with id {nid}\n\n"
    assert api.get_json(f"/clusters/{topology.cluster}")["nodes"] == sorted(topology.nodes)


def test_add_node_unknown_cluster_404(api: Api) -> None:
    assert_text_error(
        api.post("/nodes", node_body(new_id(), f"{uniq()}.example.com")),
        404,
        "Cluster id does not exist",
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.pop("zone"), "validation failed: zone: cannot be blank."),
        (lambda b: b.update(zone=0), "validation failed: zone: cannot be blank."),
        (
            lambda b: b.update(hostnames={}),
            "validation failed: hostnames: (manage: cannot be blank; storage: cannot be blank.).",
        ),
        (
            lambda b: b["hostnames"].update(storage=[]),
            "validation failed: hostnames: (storage: cannot be blank.).",
        ),
        (
            lambda b: b.update(cluster="bad_id"),
            "validation failed: cluster: bad_id is not a valid UUID.",
        ),
        (lambda b: b.pop("cluster"), "validation failed: cluster: cannot be blank."),
    ],
)
def test_add_node_validation(api: Api, mutate: Any, message: str) -> None:
    body = node_body(new_id(), f"{uniq()}.example.com")
    mutate(body)
    assert_text_error(api.post("/nodes", body), 400, message)


def test_add_node_negative_zone(api: Api) -> None:
    # §1.0: Min rule message "must be no less than N"; §1.5 zone: "required, ≥1".
    body = node_body(new_id(), f"{uniq()}.example.com", zone=-1)
    assert_text_error(
        api.post("/nodes", body), 400, "validation failed: zone: must be no less than 1."
    )


def test_add_node_invalid_manage_hostname(api: Api) -> None:
    # §1.5: "manage: [<list>] is not a valid manage hostname"
    body = node_body(new_id(), "ok.example.com")
    body["hostnames"]["manage"] = ["bad host!"]
    assert_text_error(
        api.post("/nodes", body),
        400,
        "validation failed: hostnames: (manage: [bad host!] is not a valid manage hostname.).",
    )


def test_add_node_invalid_storage_hostname(api: Api) -> None:
    body = node_body(new_id(), "ok.example.com")
    body["hostnames"]["storage"] = ["under_score@x"]
    assert_text_error(
        api.post("/nodes", body),
        400,
        "validation failed: hostnames: "
        "(storage: [under_score@x] is not a valid storage hostname.).",
    )


def test_add_node_undecodable_422(api: Api) -> None:
    assert_text_error(
        api.request("POST", "/nodes", content=b'{"zone": "one"}'),
        422,
        "request unable to be parsed",
    )


def test_node_info_unknown_404(api: Api) -> None:
    assert_text_error(api.get(f"/nodes/{new_id()}"), 404, "Id not found")


def test_node_info_devices_sorted(api: Api) -> None:
    cid = api.create_cluster()
    nid = api.add_node(cid, 1, f"{uniq()}.example.com")
    dids = [api.add_device(nid, f"/dev/vd{c}") for c in "bcde"]
    info = api.get_json(f"/nodes/{nid}")
    assert [d["id"] for d in info["devices"]] == sorted(dids)
    for d in info["devices"]:
        assert set(d) >= {"name", "storage", "id", "state", "bricks"}


def test_delete_node_with_devices_409(api: Api, topology: Topology) -> None:
    nid = topology.nodes[0]
    assert_text_error(
        api.delete(f"/nodes/{nid}"),
        409,
        f"Unable to delete node [{nid}] because it contains devices",
    )


def test_delete_node_unknown_404(api: Api) -> None:
    assert_text_error(api.delete(f"/nodes/{new_id()}"), 404, "Id not found")


def test_delete_node_frees_hostname(api: Api) -> None:
    cid = api.create_cluster()
    host = f"{uniq()}.example.com"
    nid = api.add_node(cid, 1, host)
    other = api.add_node(cid, 2, f"{uniq()}.example.com")
    api.wait_204(api.delete(f"/nodes/{nid}"))
    assert_text_error(api.get(f"/nodes/{nid}"), 404, "Id not found")
    assert api.get_json(f"/clusters/{cid}")["nodes"] == [other]
    again = api.add_node(cid, 1, host)
    assert again != nid


def test_delete_node_refreshes_volume_mount_hosts(api: Api, topology: Topology) -> None:
    extra_host = f"{uniq()}.example.com"
    extra = api.add_node(topology.cluster, 1, extra_host)
    vol = api.create_volume(**replicate3(topology.cluster))
    all_nodes = sorted([*topology.nodes, extra])
    hosts = [topology.storage.get(n, extra_host) for n in all_nodes]
    assert vol["mount"]["glusterfs"]["hosts"] == hosts
    api.wait_204(api.delete(f"/nodes/{extra}"))
    vol = api.get_json(f"/volumes/{vol['id']}")
    hosts = topology.sorted_storage_hosts()
    assert vol["mount"]["glusterfs"]["hosts"] == hosts
    assert vol["mount"]["glusterfs"]["device"] == f"{hosts[0]}:{vol['name']}"
    assert vol["mount"]["glusterfs"]["options"] == {"backup-volfile-servers": ",".join(hosts[1:])}


# ------------------------------------------------------------------------------ state


def test_node_state_transitions(api: Api) -> None:
    cid = api.create_cluster()
    nid = api.add_node(cid, 1, f"{uniq()}.example.com")
    api.add_node(cid, 2, f"{uniq()}.example.com")

    # online -> failed refused (inside the job)
    msg = api.wait_500(api.set_state("nodes", nid, "failed"))
    assert msg == f"Node must be offline before remove operation is performed, node:{nid}"
    assert api.get_json(f"/nodes/{nid}")["state"] == "online"

    api.wait_204(api.set_state("nodes", nid, "offline"))
    assert api.get_json(f"/nodes/{nid}")["state"] == "offline"
    api.wait_204(api.set_state("nodes", nid, "offline"))  # same state: no-op
    api.wait_204(api.set_state("nodes", nid, "online"))
    assert api.get_json(f"/nodes/{nid}")["state"] == "online"

    api.wait_204(api.set_state("nodes", nid, "offline"))
    api.wait_204(api.set_state("nodes", nid, "failed"))
    assert api.get_json(f"/nodes/{nid}")["state"] == "failed"

    msg = api.wait_500(api.set_state("nodes", nid, "online"))
    assert msg == "Cannot move a failed/removed node to online state"
    msg = api.wait_500(api.set_state("nodes", nid, "offline"))
    assert msg == "Cannot move a failed/removed node to offline state"
    assert api.get_json(f"/nodes/{nid}")["state"] == "failed"


def test_node_remove_fails_its_devices(api: Api) -> None:
    cid = api.create_cluster()
    nid = api.add_node(cid, 1, f"{uniq()}.example.com")
    did = api.add_device(nid, "/dev/sdb")
    api.wait_204(api.set_state("nodes", nid, "offline"))
    api.wait_204(api.set_state("nodes", nid, "failed", healcheck="disable"))
    assert api.get_json(f"/devices/{did}")["state"] == "failed"


def test_node_remove_migrates_bricks(api: Api, topology_factory: Any) -> None:
    topo = topology_factory(n_nodes=4)
    vol = api.create_volume(**replicate3(topo.cluster))
    victim = vol["bricks"][0]["node"]
    api.wait_204(api.set_state("nodes", victim, "offline"))
    api.wait_204(api.set_state("nodes", victim, "failed", healcheck="disable"))
    assert api.get_json(f"/nodes/{victim}")["state"] == "failed"
    vol2 = api.get_json(f"/volumes/{vol['id']}")
    nodes = [b["node"] for b in vol2["bricks"]]
    assert victim not in nodes
    assert len(set(nodes)) == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "validation failed: state: cannot be blank."),
        ({"state": "bogus"}, "validation failed: state: bogus is not valid state."),
        (
            {"state": "offline", "healcheck": "maybe"},
            "validation failed: healcheck: maybe is not valid heal info check.",
        ),
    ],
)
def test_node_state_validation(api: Api, topology: Topology, body: Any, message: str) -> None:
    assert_text_error(api.post(f"/nodes/{topology.nodes[0]}/state", body), 400, message)


def test_node_state_unknown_404(api: Api) -> None:
    assert_text_error(api.set_state("nodes", new_id(), "offline"), 404, "Id not found")


def test_node_state_undecodable_422(api: Api, topology: Topology) -> None:
    assert_text_error(
        api.request("POST", f"/nodes/{topology.nodes[0]}/state", content=b"{"),
        422,
        "request unable to be parsed",
    )


# ------------------------------------------------------------------------------ tags


def test_node_tags_set_update_delete(api: Api) -> None:
    cid = api.create_cluster()
    nid = api.add_node(cid, 1, f"{uniq()}.example.com", tags={"a": "1"})
    path = f"/nodes/{nid}/tags"
    assert assert_json(api.post(path, {"tags": {"x": "1", "y": "2"}, "change_type": "set"})) == {
        "x": "1",
        "y": "2",
    }
    assert assert_json(api.post(path, {"tags": {"y": "3", "z": "4"}, "change_type": "update"})) == {
        "x": "1",
        "y": "3",
        "z": "4",
    }
    assert assert_json(api.post(path, {"tags": {"x": "ignored"}, "change_type": "delete"})) == {
        "y": "3",
        "z": "4",
    }
    assert api.get_json(f"/nodes/{nid}")["tags"] == {"y": "3", "z": "4"}
    assert assert_json(api.post(path, {"tags": {}, "change_type": "set"})) == {}
    # §1.2: node "tags"? is omitted when empty.
    assert "tags" not in api.get_json(f"/nodes/{nid}")


def test_node_tags_unknown_404(api: Api) -> None:
    assert_text_error(
        api.post(f"/nodes/{new_id()}/tags", {"tags": {"a": "b"}, "change_type": "set"}),
        404,
        "Id not found",
    )


TAG_ERRORS = [
    ({"tags": {"a": "b"}}, "validation failed: change_type: cannot be blank."),
    (
        {"tags": {"a": "b"}, "change_type": "merge"},
        "validation failed: change_type: must be a valid value.",
    ),
    (
        {"tags": {"b@d": "x"}, "change_type": "set"},
        "validation failed: tags: invalid characters in tag name b@d.",
    ),
    (
        {"tags": {"": "x"}, "change_type": "set"},
        "validation failed: tags: tag names may not be empty.",
    ),
    (
        {"tags": {f"k{i}": "v" for i in range(33)}, "change_type": "set"},
        "validation failed: tags: too many tags specified (33), up to 32 supported.",
    ),
]


@pytest.mark.parametrize(("body", "message"), TAG_ERRORS)
def test_node_tags_validation(api: Api, topology: Topology, body: Any, message: str) -> None:
    nid = topology.nodes[0]
    assert_text_error(api.post(f"/nodes/{nid}/tags", body), 400, message)
    assert "tags" not in api.get_json(f"/nodes/{nid}")


@pytest.mark.parametrize("tags", [{"k" * 33: "v"}, {"k": "v" * 65}])
def test_node_tags_too_long(api: Api, topology: Topology, tags: Any) -> None:
    # §1.5: "name ≤32 chars ..., value ≤64 chars. Errors appear as validation failed: tags: <msg>."
    nid = topology.nodes[0]
    assert_text_error(
        api.post(f"/nodes/{nid}/tags", {"tags": tags, "change_type": "set"}),
        400,
        startswith="validation failed: tags: ",
    )


def test_node_tags_limits_accepted(api: Api, topology: Topology) -> None:
    nid = topology.nodes[0]
    tags = {f"k{i}": "v" for i in range(31)}
    tags["a" * 32] = "v" * 64
    assert assert_json(api.post(f"/nodes/{nid}/tags", {"tags": tags, "change_type": "set"})) == tags


def test_add_node_invalid_tags_400(api: Api) -> None:
    body = node_body(api.create_cluster(), f"{uniq()}.example.com", tags={"b@d": "x"})
    assert_text_error(
        api.post("/nodes", body),
        400,
        "validation failed: tags: invalid characters in tag name b@d.",
    )

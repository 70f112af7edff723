"""§1.4 clusters."""

from __future__ import annotations

import pytest

from .conftest import ID_RE, Api, Topology, assert_json, assert_text_error, new_id, replicate3

CLUSTER_KEYS = {"id", "nodes", "volumes", "block", "file", "blockvolumes"}


def test_create_empty_object_defaults_false(api: Api) -> None:
    info = assert_json(api.post("/clusters", {}), 201)
    assert set(info) == CLUSTER_KEYS
    assert ID_RE.match(info["id"])
    assert info == {
        "id": info["id"],
        "nodes": [],
        "volumes": [],
        "block": False,
        "file": False,
        "blockvolumes": [],
    }


def test_create_with_flags(api: Api) -> None:
    info = assert_json(api.post("/clusters", {"block": True, "file": True}), 201)
    assert info["block"] is True and info["file"] is True
    assert api.get_json(f"/clusters/{info['id']}") == info


def test_create_key_matching_is_case_insensitive(api: Api) -> None:
    # §1.0: "unknown keys are ignored, key matching is case-insensitive"
    info = assert_json(api.post("/clusters", {"FILE": True, "Block": False, "other": 1}), 201)
    assert info["file"] is True
    assert info["block"] is False


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b'{"block": "yes"}', b"[]"])
def test_create_undecodable_is_422(api: Api, body: bytes) -> None:
    before = api.get_json("/clusters")
    assert_text_error(
        api.request("POST", "/clusters", content=body), 422, "request unable to be parsed"
    )
    assert api.get_json("/clusters") == before


def test_list_sorted_and_contains_new(api: Api) -> None:
    ids = {api.create_cluster() for _ in range(3)}
    listed = api.get_json("/clusters")
    assert set(listed) == {"clusters"}
    assert ids <= set(listed["clusters"])
    assert listed["clusters"] == sorted(listed["clusters"])


def test_info_lists_nodes_sorted(api: Api, topology: Topology) -> None:
    info = api.get_json(f"/clusters/{topology.cluster}")
    assert set(info) == CLUSTER_KEYS
    assert info["nodes"] == sorted(topology.nodes)
    assert info["volumes"] == []
    assert info["blockvolumes"] == []


def test_info_unknown_404(api: Api) -> None:
    assert_text_error(api.get(f"/clusters/{new_id()}"), 404, "Id not found")


def test_setflags_200_empty_and_missing_key_false(api: Api) -> None:
    cid = api.create_cluster(block=True, file=True)
    r = api.post(f"/clusters/{cid}/flags", {"block": True})
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers.get("content-type", "").lower().startswith("application/json")
    info = api.get_json(f"/clusters/{cid}")
    assert info["block"] is True
    assert info["file"] is False
    r = api.post(f"/clusters/{cid}/flags", {"file": True, "block": False})
    assert r.status_code == 200
    info = api.get_json(f"/clusters/{cid}")
    assert (info["block"], info["file"]) == (False, True)


def test_setflags_unknown_404(api: Api) -> None:
    assert_text_error(api.post(f"/clusters/{new_id()}/flags", {"file": True}), 404, "Id not found")


def test_setflags_bad_body_422(api: Api) -> None:
    cid = api.create_cluster()
    assert_text_error(
        api.request("POST", f"/clusters/{cid}/flags", content=b"{bad"),
        422,
        "request unable to be parsed",
    )


def test_delete_empty_cluster(api: Api) -> None:
    cid = api.create_cluster()
    r = api.delete(f"/clusters/{cid}")
    assert r.status_code == 200
    assert r.content == b""
    assert_text_error(api.get(f"/clusters/{cid}"), 404, "Id not found")
    assert cid not in api.get_json("/clusters")["clusters"]


def test_delete_unknown_404(api: Api) -> None:
    assert_text_error(api.delete(f"/clusters/{new_id()}"), 404, "Id not found")


def test_delete_with_nodes_409(api: Api, topology: Topology) -> None:
    cid = topology.cluster
    assert_text_error(
        api.delete(f"/clusters/{cid}"),
        409,
        f"Unable to delete cluster [{cid}] because it contains volumes and/or nodes",
    )
    assert api.get_json(f"/clusters/{cid}")["id"] == cid


def test_cluster_all_flags_false_rejects_volumes(api: Api) -> None:
    cid = api.create_cluster(block=False, file=False)
    assert_text_error(
        api.post("/volumes", replicate3(cid)),
        500,
        "Failed to allocate new volume: Cluster has disabled all volume types",
    )


def test_cluster_block_only_rejects_file_volume(api: Api) -> None:
    cid = api.create_cluster(block=True, file=False)
    assert_text_error(
        api.post("/volumes", replicate3(cid)),
        500,
        "Failed to allocate new volume: Cluster does not support requested volume type",
    )


def test_volume_on_cluster_without_nodes(api: Api) -> None:
    # §2.10 of the internals: "No nodes in cluster" is kept as the allocation error.
    cid = api.create_cluster()
    assert_text_error(
        api.post("/volumes", replicate3(cid)),
        500,
        "Failed to allocate new volume: No nodes in cluster",
    )

"""§1.9 db/logging/operations/examiner, §1.10 admin state, GET /topology (our extension)."""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from typing import Any

import httpx
import pytest

from .conftest import (
    BRICK_1G_CHARGE,
    Api,
    StartServer,
    Topology,
    assert_json,
    assert_text_error,
    build_topology,
    new_id,
    replicate3,
    uniq,
)

DUMP_KEYS = {
    "clusterentries",
    "volumeentries",
    "brickentries",
    "nodeentries",
    "deviceentries",
    "blockvolumeentries",
    "dbattributeentries",
    "pendingoperations",
}
CHECK_KEYS = {
    "clusters",
    "volumes",
    "bricks",
    "nodes",
    "devices",
    "blockvolumes",
    "dbattributes",
    "pendingoperations",
    "totalinconsistencies",
}
OPS_KEYS = {"total", "in_flight", "stale", "failed", "new"}


def assert_indented_json(r: httpx.Response) -> Any:
    body = assert_json(r)
    assert '\n    "' in r.text, "expected 4-space indented JSON"
    return body


# ------------------------------------------------------------------------------ admin state


def test_admin_get_normal(api: Api) -> None:
    assert assert_json(api.get("/admin")) == {"state": "normal"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "validation failed: state: cannot be blank."),
        ({"state": ""}, "validation failed: state: cannot be blank."),
        ({"state": "frozen"}, "validation failed: state: must be a valid value."),
    ],
)
def test_admin_post_validation(api: Api, body: Any, message: str) -> None:
    assert_text_error(api.post("/admin", body), 400, message)
    assert assert_json(api.get("/admin")) == {"state": "normal"}


def test_admin_post_undecodable_400(api: Api) -> None:
    assert_text_error(
        api.request("POST", "/admin", content=b"{nope"),
        400,
        startswith="request unable to be parsed",
    )


def test_admin_read_only_gate(fresh_server: StartServer) -> None:
    srv = fresh_server()
    api = srv.api()
    anon = srv.api(issuer=None)
    cid = api.create_cluster()
    r = api.post("/admin", {"state": "read-only"})
    assert r.status_code == 204
    assert r.content == b""
    assert assert_json(api.get("/admin")) == {"state": "read-only"}
    assert_text_error(api.post("/clusters", {}), 503, "Service disabled for maintenance")
    assert_text_error(api.delete(f"/clusters/{cid}"), 503, "Service disabled for maintenance")
    assert_text_error(api.post("/volumes", {"size": 1}), 503, "Service disabled for maintenance")
    # read-only also blocks POST /admin itself
    assert_text_error(
        api.post("/admin", {"state": "normal"}), 503, "Service disabled for maintenance"
    )
    # GETs still work; the gate runs after JWT
    assert assert_json(api.get("/clusters")) == {"clusters": [cid]}
    assert_text_error(anon.post("/clusters", {}), 401, "Required authorization token not found")
    assert anon.get("/hello").text == "Hello from Heketi"
    assert anon.get("/metrics").status_code == 200
    # SIGUSR2 resets the state to normal (§1.10)
    srv.proc.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + 5
    while assert_json(api.get("/admin"))["state"] != "normal":
        assert time.monotonic() < deadline, "SIGUSR2 did not reset the admin state"
        time.sleep(0.05)
    assert api.post("/clusters", {}).status_code == 201


@pytest.mark.parametrize(
    ("top", "env"),
    [({"default_state": "read-only"}, None), (None, {"HEKETI_DEFAULT_STATE": "read-only"})],
)
def test_default_state_read_only(
    fresh_server: StartServer, top: dict[str, Any] | None, env: dict[str, str] | None
) -> None:
    api = fresh_server(top=top, env=env).api()
    assert assert_json(api.get("/admin")) == {"state": "read-only"}
    assert_text_error(api.post("/clusters", {}), 503, "Service disabled for maintenance")
    assert assert_json(api.get("/clusters")) == {"clusters": []}


def _non_loopback_ip() -> str | None:
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
        ip = str(s.getsockname()[0])
        if not ip.startswith("127."):
            return ip
    return None


def test_admin_local_client(fresh_server: StartServer) -> None:
    ip = _non_loopback_ip()
    srv = fresh_server(bind_address="0.0.0.0" if ip else "127.0.0.1")
    api = srv.api()
    assert api.post("/admin", {"state": "local-client"}).status_code == 204
    assert assert_json(api.get("/admin")) == {"state": "local-client"}
    # 127.0.0.1 may still mutate
    cid = api.create_cluster()
    assert api.post(f"/clusters/{cid}/flags", {"file": True}).status_code == 200
    # The peer is the socket's, as Go's RemoteAddr: a forwarding header changes nothing.
    forwarded = {"X-Forwarded-For": "192.0.2.7"}
    answer = api.request(
        "POST", f"/clusters/{cid}/flags", json_body={"file": True}, headers=forwarded
    )
    assert answer.status_code == 200, answer.text
    if ip is None:
        pytest.skip("no non-loopback address to test the remote side of local-client")
    remote = Api(f"http://{ip}:{srv.port}")
    try:
        assert assert_json(remote.get("/clusters")) == {"clusters": [cid]}
        assert_text_error(remote.post("/clusters", {}), 503, "Service disabled for maintenance")
        spoofed = remote.request(
            "POST", "/clusters", json_body={}, headers={"X-Forwarded-For": "127.0.0.1"}
        )
        assert_text_error(spoofed, 503, "Service disabled for maintenance")
    finally:
        remote.close()
    assert api.post("/admin", {"state": "normal"}).status_code == 204


# ------------------------------------------------------------------------------ operations


def test_operations_empty_server(fresh_server: StartServer) -> None:
    api = fresh_server().api()
    ops = assert_json(api.get("/operations"))
    assert ops == {"total": 0, "in_flight": 0, "stale": 0, "failed": 0, "new": 0}
    assert assert_json(api.get("/operations/pending")) == {"pendingoperations": []}


def test_operations_shapes(api: Api) -> None:
    ops = assert_json(api.get("/operations"))
    assert set(ops) == OPS_KEYS
    assert all(isinstance(v, int) for v in ops.values())
    pend = assert_json(api.get("/operations/pending"))
    assert set(pend) == {"pendingoperations"}
    for op in pend["pendingoperations"]:
        assert set(op) == {"id", "type_name", "status", "sub_status"}


def test_operations_pending_unknown(api: Api) -> None:
    oid = new_id()
    assert_text_error(api.get(f"/operations/pending/{oid}"), 404, f"Id not found: {oid}")


def test_operations_cleanup(api: Api) -> None:
    api.wait_204(api.post("/operations/pending/cleanup", {}))
    api.wait_204(api.post("/operations/pending/cleanup", {"operations": []}))
    assert_text_error(
        api.request("POST", "/operations/pending/cleanup", content=b""),
        422,
        "request unable to be parsed",
    )


# ------------------------------------------------------------------------------ db


def test_db_dump_shape(fresh_server: StartServer) -> None:
    api = fresh_server().api()
    empty = assert_indented_json(api.get("/db/dump"))
    assert set(empty) == DUMP_KEYS
    for k in DUMP_KEYS - {"dbattributeentries"}:
        assert empty[k] == {}, k
    topo = build_topology(api)
    vol = api.create_volume(**replicate3(topo.cluster))
    dump = assert_indented_json(api.get("/db/dump"))
    assert set(dump) == DUMP_KEYS
    assert set(dump["clusterentries"]) == {topo.cluster}
    assert dump["clusterentries"][topo.cluster]["Info"] == api.get_json(f"/clusters/{topo.cluster}")
    assert set(dump["nodeentries"]) == set(topo.nodes)
    for nid in topo.nodes:
        entry = dump["nodeentries"][nid]
        assert {"State", "Info", "Devices"} <= set(entry)
        assert entry["State"] == "online"
        assert entry["Info"]["id"] == nid
        assert entry["Info"]["cluster"] == topo.cluster
    assert set(dump["deviceentries"]) == set(topo.devices)
    for did in topo.devices:
        entry = dump["deviceentries"][did]
        assert {"State", "Info", "Bricks", "NodeId", "ExtentSize"} <= set(entry)
        assert entry["NodeId"] == topo.device_node[did]
        assert entry["ExtentSize"] == 4096
        assert entry["Info"]["storage"]["used"] == BRICK_1G_CHARGE
    assert set(dump["volumeentries"]) == {vol["id"]}
    ventry = dump["volumeentries"][vol["id"]]
    assert {"Info", "Bricks", "GlusterVolumeOptions", "Pending"} <= set(ventry)
    assert sorted(ventry["Bricks"]) == sorted(b["id"] for b in vol["bricks"])
    assert ventry["Pending"] == {"Id": ""}
    assert set(dump["brickentries"]) == {b["id"] for b in vol["bricks"]}
    for bentry in dump["brickentries"].values():
        assert {
            "Info",
            "TpSize",
            "PoolMetadataSize",
            "Pending",
            "LvmThinPool",
            "LvmLv",
            "SubType",
        } <= set(bentry)
        assert bentry["TpSize"] == 1048576
        assert bentry["PoolMetadataSize"] == 8192
    assert dump["pendingoperations"] == {}
    for attr in dump["dbattributeentries"].values():
        assert set(attr) == {"Key", "Value"}


def test_db_check_consistent_after_normal_use(fresh_server: StartServer) -> None:
    api = fresh_server().api()
    topo = build_topology(api)
    v1 = api.create_volume(**replicate3(topo.cluster))
    v2 = api.create_volume(**replicate3(topo.cluster, size=2))
    api.wait_303(api.post(f"/volumes/{v1['id']}/expand", {"expand_size": 1}), "/volumes")
    api.wait_204(api.delete(f"/volumes/{v2['id']}"))
    api.create_volume(size=1, clusters=[topo.cluster])
    check = assert_indented_json(api.get("/db/check"))
    assert set(check) == CHECK_KEYS
    assert check["totalinconsistencies"] == 0, check
    for k in CHECK_KEYS - {"totalinconsistencies"}:
        assert set(check[k]) == {"total", "pending", "ok", "notok", "inconsistencies"}, k
        assert check[k]["notok"] == 0
        assert check[k]["inconsistencies"] in ([], None)
    assert check["clusters"]["total"] == check["clusters"]["ok"] == 1
    assert check["nodes"]["total"] == 3
    assert check["devices"]["total"] == 3
    assert check["volumes"]["total"] == 2
    assert check["bricks"]["total"] == 6 + 1


def test_backup_db(api: Api, session_database_kind: str) -> None:
    r = api.get("/backup/db")
    if session_database_kind == "sqlite":
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/octet-stream")
        assert r.content.startswith(b"SQLite format 3\x00")  # a whole database file
    else:  # SQLite only: PostgreSQL is backed up with its own tools
        assert_text_error(
            r, 501, "GET /backup/db copies SQLite databases only: back up PostgreSQL with pg_dump"
        )


def test_examine_gluster(api: Api, topology: Topology) -> None:
    # §1.9: "JSON indented report comparing DB and Gluster (500 on error)"
    api.create_volume(**replicate3(topology.cluster))
    r = api.get("/internal/state/examine/gluster")
    if r.status_code == 500:
        assert_text_error(r, 500)
    else:
        assert isinstance(assert_indented_json(r), dict)


# ------------------------------------------------------------------------------ logging


LEVELS = {"none", "critical", "error", "warning", "info", "debug"}


def test_logging_get_and_set(api: Api) -> None:
    cur = assert_json(api.get("/internal/logging"))
    assert set(cur) == {"loglevel"}
    assert set(cur["loglevel"]) == {"glusterfs"}
    assert cur["loglevel"]["glusterfs"] in LEVELS
    try:
        for level in ("debug", "warning"):
            r = api.post("/internal/logging", {"loglevel": {"glusterfs": level}})
            assert assert_json(r) == {"loglevel": {"glusterfs": level}}
            assert assert_json(api.get("/internal/logging")) == {"loglevel": {"glusterfs": level}}
    finally:
        api.post("/internal/logging", cur)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"loglevel": {"other": "debug"}}, 422, 'Only "glusterfs" logger may be modified'),
        ({"loglevel": {}}, 422, 'Only "glusterfs" logger may be modified'),
        ({"loglevel": {"glusterfs": "loud"}}, 422, "invalid log level: loud"),
    ],
)
def test_logging_errors(api: Api, body: Any, status: int, message: str) -> None:
    before = assert_json(api.get("/internal/logging"))
    assert_text_error(api.post("/internal/logging", body), status, message)
    assert assert_json(api.get("/internal/logging")) == before


def test_logging_undecodable_400(api: Api) -> None:
    assert_text_error(
        api.request("POST", "/internal/logging", content=b"[1,"),
        400,
        startswith="request unable to be parsed",
    )


# ------------------------------------------------------------------------------ /topology


def test_topology_extension(api: Api, topology: Topology) -> None:
    vol = api.create_volume(**replicate3(topology.cluster, name=f"topo_{uniq('t')}"))
    body = assert_json(api.get("/topology"))
    assert set(body) == {"clusters"}
    (ours,) = [c for c in body["clusters"] if c["id"] == topology.cluster]
    assert {"volumes", "nodes", "id", "block", "file"} <= set(ours)
    assert ours["block"] is True and ours["file"] is True
    # order of "nodes" is not specified by the brief; compare as a set
    assert {n["id"] for n in ours["nodes"]} == set(topology.nodes)
    for n in ours["nodes"]:
        assert n == api.get_json(f"/nodes/{n['id']}")
    assert ours["volumes"] == [api.get_json(f"/volumes/{vol['id']}")]

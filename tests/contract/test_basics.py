"""§1.0 request pipeline, §1.3 /hello and /metrics, routing rules, response conventions."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest

from .conftest import (
    BRICK_1G_CHARGE,
    MOCK_DEVICE_KIB,
    Api,
    Topology,
    assert_json,
    assert_text_error,
    metric_values,
    new_id,
    parse_metrics,
    replicate3,
)


def test_hello_exact_body_no_auth(anon_api: Api) -> None:
    r = anon_api.get("/hello")
    assert r.status_code == 200
    assert r.text == "Hello from Heketi"
    assert r.headers["content-type"].lower() == "text/plain; charset=utf-8"


def test_hello_ignores_garbage_auth_header(anon_api: Api) -> None:
    r = anon_api.get("/hello", headers={"Authorization": "garbage"})
    assert r.status_code == 200
    assert r.text == "Hello from Heketi"


def test_hello_other_method_goes_through_auth(anon_api: Api, api: Api) -> None:
    # Contract §1.3: "Any other method on /hello falls through to the authenticated router
    # (→ 401/404)."
    assert_text_error(anon_api.post("/hello", {}), 401, "Required authorization token not found")
    assert_text_error(api.post("/hello", {}), 404, "Invalid path or request")


def test_metrics_no_auth_basic_gauges(anon_api: Api) -> None:
    r = anon_api.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    samples = parse_metrics(r.text)
    assert metric_values(samples, "heketi_up") == [1.0]
    assert len(metric_values(samples, "heketi_cluster_count")) == 1
    for name in (
        "heketi_operations_stale_count",
        "heketi_operations_failed_count",
        "heketi_operations_new_count",
        "heketi_operations_total_count",
        "heketi_operations_inFlight_count",
    ):
        assert metric_values(samples, name), name


def test_metrics_per_cluster_node_device(anon_api: Api, api: Api, topology: Topology) -> None:
    samples = parse_metrics(anon_api.get("/metrics").text)
    clusters = api.get_json("/clusters")["clusters"]
    assert metric_values(samples, "heketi_cluster_count") == [float(len(clusters))]
    cid = topology.cluster
    assert metric_values(samples, "heketi_nodes_count", cluster=cid) == [3.0]
    assert metric_values(samples, "heketi_volumes_count", cluster=cid) == [0.0]
    assert metric_values(samples, "heketi_block_volumes_count", cluster=cid) == [0.0]
    for did in topology.devices:
        nid = topology.device_node[did]
        host = topology.manage[nid]
        shost = topology.storage[nid]
        assert metric_values(
            samples, "heketi_device_count", cluster=cid, hostname=host, storage_hostname=shost
        ) == [1.0]
        labels = {
            "cluster": cid,
            "hostname": host,
            "storage_hostname": shost,
            "id": did,
            "device": "/dev/sdb",
        }
        assert metric_values(samples, "heketi_device_size", **labels) == [float(MOCK_DEVICE_KIB)]
        assert metric_values(samples, "heketi_device_free", **labels) == [float(MOCK_DEVICE_KIB)]
        assert metric_values(samples, "heketi_device_used", **labels) == [0.0]
        assert metric_values(samples, "heketi_device_size_bytes", **labels) == [
            float(MOCK_DEVICE_KIB * 1024)
        ]
        assert metric_values(samples, "heketi_device_free_bytes", **labels) == [
            float(MOCK_DEVICE_KIB * 1024)
        ]
        assert metric_values(samples, "heketi_device_used_bytes", **labels) == [0.0]
        assert metric_values(samples, "heketi_device_brick_count", **labels) == [0.0]


@pytest.mark.parametrize(
    "path",
    ["/nonexistent", "/volumes/badid", "/clusters/xyz", "/nodes/zz/state", "/queue/not-hex"],
)
def test_unknown_path_is_404_invalid_path(api: Api, path: str) -> None:
    assert_text_error(api.get(path), 404, "Invalid path or request")


def test_text_error_headers(api: Api) -> None:
    # Contract conventions: "text error" = Content-Type text/plain; charset=utf-8,
    # X-Content-Type-Options: nosniff, body = message + "\n".
    r = api.get("/nonexistent")
    assert r.headers["content-type"].lower() == "text/plain; charset=utf-8"
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.text == "Invalid path or request\n"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/volumes"),
        ("DELETE", "/volumes"),
        ("GET", "/volumes/{id}/expand"),
        ("PUT", "/clusters/{id}"),
        ("GET", "/clusters/{id}/flags"),
        ("DELETE", "/clusters"),
        ("PATCH", "/nodes/{id}"),
        ("GET", "/nodes/{id}/state"),
        ("GET", "/devices/{id}/tags"),
        ("POST", "/devices/{id}/resync"),
        ("DELETE", "/admin"),
        ("PUT", "/internal/logging"),
    ],
)
def test_wrong_method_is_405_empty(api: Api, method: str, path: str) -> None:
    p = path.replace("{id}", new_id())
    r = api.request(method, p)
    assert r.status_code == 405, (r.status_code, r.text)
    assert r.content == b""


@pytest.mark.parametrize("path", ["/volumes/", "/clusters/", "/clusters/{id}/"])
def test_trailing_slash_redirects_301(api: Api, path: str) -> None:
    p = path.replace("{id}", new_id())
    r = api.get(p)
    assert r.status_code == 301, (r.status_code, r.text)
    assert urlparse(r.headers["location"]).path == p.rstrip("/")


@pytest.mark.parametrize(
    "path",
    [
        "/clusters/{id}",
        "/nodes/{id}",
        "/devices/{id}",
        "/volumes/{id}",
    ],
)
def test_unknown_hex_id_is_404_id_not_found(api: Api, path: str) -> None:
    assert_text_error(api.get(path.replace("{id}", new_id())), 404, "Id not found")


def test_uppercase_hex_id_routes_but_not_found(api: Api, topology: Topology) -> None:
    # §6: "lookups are case-sensitive byte matches. Route params accept [A-Fa-f0-9]+".
    assert_text_error(api.get(f"/clusters/{topology.cluster.upper()}"), 404, "Id not found")


def test_body_on_get_is_tolerated(api: Api) -> None:
    # §1.0: "A body on GET/DELETE is tolerated (the Python client always sends {})."
    r = api.request("GET", "/clusters", content=b"{}")
    assert assert_json(r)["clusters"] is not None


def test_json_content_type_and_compact_encoding(api: Api) -> None:
    # Conventions: JSON response = Content-Type: application/json; charset=UTF-8,
    # compact JSON + "\n".
    r = api.post("/clusters", {"block": True, "file": False})
    assert r.status_code == 201
    assert r.headers["content-type"].lower() == "application/json; charset=utf-8"
    body = r.json()
    assert r.text == json.dumps(body, separators=(",", ":")) + "\n"


def test_field_order_of_shapes(api: Api, topology: Topology) -> None:
    # §1.2: "Field order below is the order Heketi emits."
    cinfo = api.get_json(f"/clusters/{topology.cluster}")
    assert list(cinfo) == ["id", "nodes", "volumes", "block", "file", "blockvolumes"]
    ninfo = api.get_json(f"/nodes/{topology.nodes[0]}")
    assert list(ninfo) == ["zone", "hostnames", "cluster", "id", "state", "devices"]
    dinfo = api.get_json(f"/devices/{topology.devices[0]}")
    assert list(dinfo) == ["name", "storage", "id", "state", "bricks"]
    assert list(dinfo["storage"]) == ["total", "free", "used"]
    vol = api.create_volume(size=1, clusters=[topology.cluster], durability={"type": "replicate"})
    assert list(vol) == [
        "size",
        "name",
        "durability",
        "glustervolumeoptions",
        "snapshot",
        "id",
        "cluster",
        "mount",
        "blockinfo",
        "bricks",
    ]
    assert list(vol["bricks"][0]) == ["id", "path", "device", "node", "volume", "size"]


def test_metrics_after_volume(anon_api: Api, api: Api, topology: Topology) -> None:
    api.create_volume(**replicate3(topology.cluster))
    samples = parse_metrics(anon_api.get("/metrics").text)
    assert metric_values(samples, "heketi_volumes_count", cluster=topology.cluster) == [1.0]
    for did in topology.devices:
        assert metric_values(samples, "heketi_device_brick_count", id=did) == [1.0]
        assert metric_values(samples, "heketi_device_used", id=did) == [float(BRICK_1G_CHARGE)]
        assert metric_values(samples, "heketi_device_free", id=did) == [
            float(MOCK_DEVICE_KIB - BRICK_1G_CHARGE)
        ]

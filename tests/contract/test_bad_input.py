"""Bad input is never a 500: decode errors 422, validation 400, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import (
    Api,
    Topology,
    assert_text_error,
    build_topology,
    new_id,
    replicate3,
    uniq,
)

# "ok.example.com\n": Go's regexp `$` only matches at the very end (Python's `$` also matches
# before a trailing newline, a classic reimplementation bug).
SHELLY = [
    ";rm -rf /",
    "$(x)",
    "`x`",
    "a b",
    "a|b",
    "a&&b",
    "a>b",
    "x\ny",
    "ok.example.com\n",
    "../etc",
    "*",
    "'q'",
]


@pytest.fixture(scope="module")
def ids(api: Api) -> dict[str, str]:
    """Real ids so that decode errors are not mixed up with lookups."""
    topo = build_topology(api)
    vol = api.create_volume(**replicate3(topo.cluster))
    return {
        "cluster": topo.cluster,
        "node": topo.nodes[0],
        "device": topo.devices[0],
        "volume": vol["id"],
    }


@pytest.fixture
def snapshot_db(api: Api) -> Any:
    """Compare the whole DB dump before/after a test body."""

    class Snap:
        def __enter__(self) -> None:
            self.before = api.db_dump()

        def __exit__(self, *exc: object) -> None:
            if exc[0] is None:
                assert api.db_dump() == self.before, "database changed"

    return Snap()


@pytest.mark.parametrize("host", SHELLY)
def test_shell_metachars_in_manage_hostname(api: Api, snapshot_db: Any, host: str) -> None:
    cid = api.create_cluster()
    body = {
        "cluster": cid,
        "zone": 1,
        "hostnames": {"manage": [host], "storage": [f"{uniq()}.example.com"]},
    }
    with snapshot_db:
        assert_text_error(
            api.post("/nodes", body),
            400,
            f"validation failed: hostnames: (manage: [{host}] is not a valid manage hostname.).",
        )


@pytest.mark.parametrize("host", SHELLY)
def test_shell_metachars_in_storage_hostname(api: Api, snapshot_db: Any, host: str) -> None:
    cid = api.create_cluster()
    body = {
        "cluster": cid,
        "zone": 1,
        "hostnames": {"manage": [f"{uniq()}.example.com"], "storage": [host]},
    }
    with snapshot_db:
        assert_text_error(
            api.post("/nodes", body),
            400,
            f"validation failed: hostnames: (storage: [{host}] is not a valid storage hostname.).",
        )


@pytest.mark.parametrize(
    "host", ["a" * 300, "-lead.example.com", "ex..ample.com", "héllo.example.com"]
)
def test_invalid_dns_names(api: Api, snapshot_db: Any, host: str) -> None:
    cid = api.create_cluster()
    body = {"cluster": cid, "zone": 1, "hostnames": {"manage": [host], "storage": [host]}}
    with snapshot_db:
        msg = assert_text_error(api.post("/nodes", body), 400)
        assert msg.startswith("validation failed: hostnames: (manage: ["), msg


@pytest.mark.parametrize(
    "name",
    [
        "/dev/sdb;rm -rf /",
        "/dev/$(x)",
        "/dev/`x`",
        "/dev/sd b",
        "/dev/a|b",
        "/dev/a&b",
        "sdb",
        "/dev/sdb\n",
    ],
)
def test_shell_metachars_in_device_name(
    api: Api, topology: Topology, snapshot_db: Any, name: str
) -> None:
    with snapshot_db:
        assert_text_error(
            api.post("/devices", {"node": topology.nodes[0], "name": name}),
            400,
            "validation failed: name: must be in a valid format.",
        )


@pytest.mark.parametrize("name", ["v;rm -rf /", "$(x)", "`x`", "a b", "a/b", "..", "ü", "vol\n"])
def test_bad_volume_names(api: Api, topology: Topology, snapshot_db: Any, name: str) -> None:
    with snapshot_db:
        assert_text_error(
            api.post("/volumes", replicate3(topology.cluster, name=name)),
            400,
            "validation failed: name: must be in a valid format.",
        )


@pytest.mark.parametrize("tag", ["a;b", "$(x)", "`x`", "a b", "a/b", "a\n"])
def test_bad_tag_names(api: Api, topology: Topology, snapshot_db: Any, tag: str) -> None:
    with snapshot_db:
        assert_text_error(
            api.post(
                f"/nodes/{topology.nodes[0]}/tags", {"tags": {tag: "v"}, "change_type": "set"}
            ),
            400,
            f"validation failed: tags: invalid characters in tag name {tag}.",
        )


POSTS = [
    "/clusters",
    "/clusters/{cluster}/flags",
    "/nodes",
    "/nodes/{node}/state",
    "/nodes/{node}/tags",
    "/devices",
    "/devices/{device}/state",
    "/devices/{device}/tags",
    "/volumes",
    "/volumes/{volume}/expand",
    "/volumes/{volume}/clone",
    "/volumes/{volume}/block-restriction",
    "/operations/pending/cleanup",
]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("body", [b"{", b"nonsense", b'{"a": }', b"\xff\xfe", b"[1, 2]"])
def test_malformed_json_is_422(
    api: Api, ids: dict[str, str], snapshot_db: Any, path: str, body: bytes
) -> None:
    # §1.0: "Decoding failure → 422 text error request unable to be parsed".
    with snapshot_db:
        r = api.request("POST", path.format(**ids), content=body)
        assert_text_error(r, 422, "request unable to be parsed")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/clusters", {"block": 1}),
        ("/nodes", {"zone": "1"}),
        ("/nodes", {"zone": 1.5}),
        ("/nodes", {"hostnames": "h"}),
        ("/nodes", {"hostnames": {"manage": "h"}}),
        ("/nodes", {"tags": {"a": 1}}),
        ("/nodes", {"cluster": 12}),
        ("/devices", {"name": ["/dev/sdb"]}),
        ("/devices", {"destroydata": "yes"}),
        ("/volumes", {"size": "1"}),
        ("/volumes", {"size": 2**63}),
        ("/volumes", {"size": 1, "durability": "replicate"}),
        ("/volumes", {"size": 1, "snapshot": {"factor": "2"}}),
        ("/volumes", {"size": 1, "glustervolumeoptions": "a b"}),
        ("/volumes", {"size": 1, "block": "true"}),
    ],
)
def test_wrong_types_are_422(api: Api, snapshot_db: Any, path: str, body: Any) -> None:
    with snapshot_db:
        assert_text_error(api.post(path, body), 422, "request unable to be parsed")


def test_huge_body_is_4xx(api: Api, snapshot_db: Any) -> None:
    body = b'{"size": 1, "name": "' + b"a" * (16 * 1024 * 1024)  # 16 MiB, unterminated
    with snapshot_db:
        r = api.request("POST", "/volumes", content=body)
        assert 400 <= r.status_code < 500, r.status_code
    assert api.get("/hello").status_code == 200


def test_huge_valid_json_is_not_500(api: Api, snapshot_db: Any) -> None:
    # 10k unknown keys are ignored (§1.0); a missing size is then a validation error.
    body = {f"k{i}": "x" * 100 for i in range(10000)}
    with snapshot_db:
        r = api.post("/volumes", body)
        assert 400 <= r.status_code < 500, r.status_code


def test_uuid_fields_reject_junk(api: Api, snapshot_db: Any) -> None:
    with snapshot_db:
        body = {
            "cluster": "../../etc",
            "zone": 1,
            "hostnames": {"manage": ["a.b"], "storage": ["a.b"]},
        }
        assert_text_error(
            api.post("/nodes", body),
            400,
            "validation failed: cluster: ../../etc is not a valid UUID.",
        )
        upper = new_id().upper()
        body["cluster"] = upper
        # 32 hex digits in upper case pass validation (§6), then the lookup fails
        assert_text_error(api.post("/nodes", body), 404, "Cluster id does not exist")


def test_null_and_empty_objects(api: Api, topology: Topology, snapshot_db: Any) -> None:
    # Go's encoding/json: JSON null leaves the field at its zero value (no decode error), so the
    # validation message follows. Not spelled out in the contract; follows from §1.0 "decoded
    # with Go encoding/json".
    with snapshot_db:
        assert_text_error(
            api.post("/volumes", {}), 400, "validation failed: size: cannot be blank."
        )
        assert_text_error(
            api.post(f"/nodes/{topology.nodes[0]}/state", {"state": None}),
            400,
            "validation failed: state: cannot be blank.",
        )


def test_server_alive_after_abuse(api: Api) -> None:
    assert api.get("/hello").text == "Hello from Heketi"
    assert api.get("/clusters").status_code == 200

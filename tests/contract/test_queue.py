"""§2 asynchronous protocol."""

from __future__ import annotations

from .conftest import (
    QUEUE_RE,
    Api,
    Topology,
    assert_text_error,
    new_id,
    replicate3,
    uniq,
)


def test_post_202_location_path_no_body(api: Api, topology: Topology) -> None:
    r = api.post("/volumes", replicate3(topology.cluster))
    assert r.status_code == 202
    loc = r.headers["location"]
    assert QUEUE_RE.match(loc), loc  # a path, not an absolute URL
    assert r.content == b""
    assert "content-type" not in r.headers
    api.wait(r)


def test_303_location_and_body(api: Api, topology: Topology) -> None:
    r = api.post("/volumes", replicate3(topology.cluster))
    done = api.wait(r)
    assert done.status_code == 303
    loc = done.headers["location"]
    assert loc.startswith("/volumes/")
    vid = loc.rsplit("/", 1)[1]
    # §2: GET-style body and text/html content type on the 303.
    assert done.headers["content-type"].lower() == "text/html; charset=utf-8"
    assert done.text == f'<a href="{loc}">See Other</a>.\n\n'
    assert api.get_json(loc)["id"] == vid


def test_queue_entry_is_read_once(api: Api, topology: Topology) -> None:
    r = api.post("/volumes", replicate3(topology.cluster))
    qloc = r.headers["location"]
    done = api.wait(r)
    assert done.status_code == 303
    assert_text_error(api.get(qloc), 404, "Id not found")
    assert_text_error(api.get(qloc), 404, "Id not found")


def test_queue_204_then_gone(api: Api, topology: Topology) -> None:
    r = api.set_state("nodes", topology.nodes[0], "offline")
    qloc = r.headers["location"]
    done = api.wait(r)
    assert done.status_code == 204
    assert done.content == b""
    assert_text_error(api.get(qloc), 404, "Id not found")
    api.wait_204(api.set_state("nodes", topology.nodes[0], "online"))


def test_queue_500_text_then_gone(api: Api) -> None:
    cid = api.create_cluster()
    nid = api.add_node(cid, 1, f"{uniq()}.example.com")
    r = api.set_state("nodes", nid, "failed")
    qloc = r.headers["location"]
    done = api.wait(r)
    assert_text_error(
        done, 500, f"Node must be offline before remove operation is performed, node:{nid}"
    )
    assert_text_error(api.get(qloc), 404, "Id not found")


def test_unknown_queue_id_404(api: Api) -> None:
    assert_text_error(api.get(f"/queue/{new_id()}"), 404, "Id not found")


def test_queue_requires_auth(api: Api, anon_api: Api, topology: Topology) -> None:
    r = api.post("/volumes", replicate3(topology.cluster))
    qloc = r.headers["location"]
    assert_text_error(anon_api.get(qloc), 401, "Required authorization token not found")
    assert api.wait(r).status_code == 303


def test_sync_errors_never_queued(api: Api, topology: Topology) -> None:
    # §2: errors detected before acceptance are returned directly on the original request.
    r = api.post("/volumes", {"size": 0, "clusters": [topology.cluster]})
    assert r.status_code == 400
    assert "location" not in r.headers

"""The last wire details: /metrics' content type, gorilla/mux's redirects (path cleaning before
everything, StrictSlash after auth, written by Go's http.Redirect), the qsh over the decoded
path, and heketi-cli (run as a program) with ids that are special in a URL.

Requests go out through http.client so that the request target is sent exactly as written
(httpx would resolve "/volumes/.." before sending it).
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from .conftest import ADMIN_KEY, Server, make_token, new_id


@dataclass
class Raw:
    status: int
    headers: dict[str, str]
    body: bytes


def send(
    server: Server, method: str, target: str, *, qsh_path: str | None = None, auth: bool = True
) -> Raw:
    """``target`` goes on the request line as it is; the token's qsh is over ``qsh_path``
    (default: the target's path, which is the decoded path when it holds no escapes)."""
    headers = {}
    if auth:
        path = qsh_path if qsh_path is not None else target.split("?")[0]
        headers["Authorization"] = f"bearer {make_token(method, path)}"
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request(method, target, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return Raw(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


# --- /metrics ---------------------------------------------------------------------------------


def test_metrics_content_type_is_the_classic_text_format(server: Server) -> None:
    r = send(server, "GET", "/metrics", auth=False)
    assert r.status == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert b"# TYPE heketi_up gauge\nheketi_up 1.0\n" in r.body


# --- StrictSlash: http.Redirect's answer ------------------------------------------------------


def test_get_with_a_trailing_slash_gets_gos_redirect_body(server: Server) -> None:
    r = send(server, "GET", "/clusters/")
    assert r.status == 301
    assert r.headers["location"] == "/clusters"
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.body == b'<a href="/clusters">Moved Permanently</a>.\n\n'


def test_the_redirect_keeps_the_query_and_escapes_it_in_the_body(server: Server) -> None:
    vid = new_id()
    r = send(server, "GET", f"/volumes/{vid}/?a=1&b='x'")
    assert r.status == 301
    assert r.headers["location"] == f"/volumes/{vid}?a=1&b='x'"
    assert r.body == f'<a href="/volumes/{vid}?a=1&amp;b=&#39;x&#39;">'.encode() + (
        b"Moved Permanently</a>.\n\n"
    )


def test_head_is_not_a_get(server: Server) -> None:
    # mux's Methods("GET") does not take HEAD: the path matches, the method does not.
    r = send(server, "HEAD", "/clusters/")
    assert (r.status, r.body) == (405, b"")
    assert "location" not in r.headers


@pytest.mark.parametrize(("method", "path"), [("POST", "/clusters/"), ("DELETE", "/volumes/{id}/")])
def test_other_methods_get_neither_body_nor_content_type(
    server: Server, method: str, path: str
) -> None:
    target = path.replace("{id}", new_id())
    r = send(server, method, target)
    assert (r.status, r.headers["location"]) == (301, target[:-1])
    assert "content-type" not in r.headers
    assert r.body == b""


@pytest.mark.parametrize("path", ["/clusters/{id}/flags/", "/volumes/{id}/expand/"])
def test_a_route_with_another_method_is_405(server: Server, path: str) -> None:
    # GET matches the path of a POST route once the slash is taken off: mux answers 405.
    r = send(server, "GET", path.replace("{id}", new_id()))
    assert (r.status, r.body) == (405, b"")


@pytest.mark.parametrize("path", ["/nonexistent/", "/volumes/not-hex/", "/hello/", "/metrics/"])
def test_no_route_without_the_slash_is_404(server: Server, path: str) -> None:
    r = send(server, "GET", path)
    assert (r.status, r.body) == (404, b"Invalid path or request\n")


def test_the_slash_redirect_comes_after_auth(server: Server) -> None:
    r = send(server, "GET", "/clusters/", auth=False)
    assert (r.status, r.body) == (401, b"Required authorization token not found\n")


# --- path cleaning: before /hello, /metrics and auth --------------------------------------------


@pytest.mark.parametrize(
    ("method", "target", "location"),
    [
        ("GET", "/volumes/../clusters", "/clusters"),
        ("GET", "//hello", "/hello"),
        ("GET", "/clusters//x?q=1", "/clusters/x?q=1"),
        ("GET", "/volumes/./", "/volumes/"),
        ("DELETE", "/volumes/..", "/"),
        ("POST", "/a/b/../../nodes/./", "/nodes/"),
        ("GET", "/volumes/%2E%2E", "/"),  # the decoded path is cleaned
        ("GET", "/x/../a%20b", "/a%20b"),
    ],
)
def test_unclean_paths_are_redirected_without_auth(
    server: Server, method: str, target: str, location: str
) -> None:
    r = send(server, method, target, auth=False)
    assert (r.status, r.headers["location"], r.body) == (301, location, b"")
    assert "content-type" not in r.headers


# --- qsh over the decoded path ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "decoded"),
    [
        ("/volumes/a%20b", "/volumes/a b"),
        ("/volumes/%C3%A9", "/volumes/é"),
        ("/volumes/%252F", "/volumes/%2F"),
    ],
)
def test_qsh_is_over_the_decoded_path(server: Server, target: str, decoded: str) -> None:
    r = send(server, "GET", target, qsh_path=decoded)
    assert (r.status, r.body) == (404, b"Invalid path or request\n")
    r = send(server, "GET", target, qsh_path=target)
    assert (r.status, r.body) == (401, b"Invalid qsh claim in token\n")


def test_qsh_over_an_escaped_slash(server: Server) -> None:
    # "/volumes/%2F" decodes to "/volumes//": unclean, so mux redirects before auth.
    r = send(server, "GET", "/volumes/%2F", auth=False)
    assert (r.status, r.headers["location"]) == (301, "/volumes/")


def test_decoded_path_and_user_rule(server: Server) -> None:
    # The user may only use /volumes, however it is spelt on the wire.
    tok = make_token("GET", "/volumes", issuer="user")
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("GET", "/%76olumes", headers={"Authorization": f"bearer {tok}"})
        response = conn.getresponse()
        assert response.status == 200, response.read()
    finally:
        conn.close()


# --- heketi-cli with special ids, against the real server ---------------------------------------


@pytest.mark.parametrize("special", ["a b", "%2F", "é", "..", "ü/../.."])
def test_cli_special_ids_get_invalid_path(server: Server, special: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    env.update(HEKETI_CLI_SERVER=server.base_url, HEKETI_CLI_USER="admin", HEKETI_CLI_KEY=ADMIN_KEY)
    done = subprocess.run(
        [sys.executable, "-m", "brickyard.cli.heketi_cli", "volume", "info", special],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        255,
        "",
        "Error: Invalid path or request\n",
    )

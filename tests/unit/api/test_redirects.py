"""gorilla/mux's path cleaning and Go's http.Redirect, as app.py reproduces them."""

from __future__ import annotations

import pytest

from brickyard.api.app import clean_path, clean_path_redirect, decoded_path, slash_redirect

# Go's path.Clean table (src/path/path_test.go) for rooted paths, with mux's cleanPath rule on
# top: a trailing slash is put back unless the result is the root.
GO_CLEAN = [
    ("/abc", "/abc"),
    ("/abc/def/", "/abc/def/"),
    ("//abc", "/abc"),
    ("///abc", "/abc"),
    ("/abc//def//ghi", "/abc/def/ghi"),
    ("/./", "/"),
    ("/abc/./def", "/abc/def"),
    ("/abc/../def", "/def"),
    ("/../abc", "/abc"),
    ("/abc/def/../../..", "/"),
    ("/abc/def/../../../ghi/jkl/../../../mno", "/mno"),
    ("/.", "/"),
    ("/..", "/"),
    ("/abc/./", "/abc/"),
    ("/abc/../", "/"),
    ("/.../x", "/.../x"),
    ("/.hidden/", "/.hidden/"),
    ("", "/"),
    ("abc", "/abc"),
]


@pytest.mark.parametrize(("path", "cleaned"), GO_CLEAN)
def test_clean_path_as_mux(path: str, cleaned: str) -> None:
    assert clean_path(path.encode()) == cleaned.encode()


def test_the_decoded_path_is_the_one_cleaned() -> None:
    scope = {"raw_path": b"/volumes/%2E%2E/%C3%A9%20x", "path": "ignored"}
    assert decoded_path(scope) == "/volumes/../é x".encode()
    assert clean_path(decoded_path(scope)) == "/é x".encode()
    assert decoded_path({"path": "/a b"}) == b"/a b"  # a server that gives no raw path


def test_clean_path_redirect_has_no_body() -> None:
    response = clean_path_redirect("/é x".encode(), b"q=1")
    assert response.status_code == 301
    assert response.headers["location"] == "/%C3%A9%20x?q=1"
    assert response.body == b""
    assert "content-type" not in response.headers


def test_location_escapes_as_gos_escaped_path() -> None:
    # Go leaves letters, digits, -._~ and $&+,/:;=@ alone in a path and escapes the rest.
    response = clean_path_redirect(b"/a-._~$&+,:;=@!*()'?#%b", b"")
    assert response.headers["location"] == "/a-._~$&+,:;=@%21%2A%28%29%27%3F%23%25b"


def test_slash_redirect_per_method() -> None:
    get = slash_redirect("GET", b"/clusters", b"x=<'&'>")
    assert get.headers["content-type"] == "text/html; charset=utf-8"
    assert get.headers["location"] == "/clusters?x=<'&'>"
    assert get.body == b'<a href="/clusters?x=&lt;&#39;&amp;&#39;&gt;">Moved Permanently</a>.\n\n'
    head = slash_redirect("HEAD", b"/clusters", b"")
    assert (head.headers["content-type"], head.body) == ("text/html; charset=utf-8", b"")
    for method in ("POST", "DELETE", "PUT"):
        other = slash_redirect(method, b"/clusters", b"")
        assert (other.headers["location"], other.body) == ("/clusters", b"")
        assert "content-type" not in other.headers


def test_slash_redirect_hex_escapes_raw_bytes_of_the_query() -> None:
    # Go's hexEscapeNonASCII on the Location (lower-case hex), the body keeps the bytes.
    response = slash_redirect("GET", b"/clusters", "q=é".encode())
    assert response.headers["location"] == "/clusters?q=%c3%a9"
    assert "q=é".encode() in response.body

"""Property tests: random request bodies against every endpoint that reads one.

For each request the server must

* never answer 500 for a body that must be rejected synchronously (undecodable JSON, a JSON
  type that does not fit Heketi's Go struct, an oversized body) -- it answers 422
  ``request unable to be parsed`` (400 ``request unable to be parsed: ...`` for ``/admin`` and
  ``/internal/logging``), contract §1.0, §1.9, §1.10;
* answer every error (anything but 202 and the 2xx successes) as a non-empty text/plain body;
* leave the database exactly as it was when it rejects a request (status >= 400), and also when
  an accepted job fails (queue 500);
* keep the simulated nodes in agreement with the database.

The "Go oracle" below decides, independently of the server, whether Heketi's decoder
(``encoding/json``, ``json.Unmarshal`` of the whole body) would fail on a body. The tests at the
end of this file pin the bugs these properties found (now fixed) with exact inputs.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from brickyard.api.routes.admin import apply_log_level

from .conftest import DatabaseFactory, FuzzTarget, assert_nodes_match_db


# Whatever a request gets past the decoder is stored: every test runs on SQLite and on
# PostgreSQL, whose column types are stricter (lengths, NUL characters, integer ranges).
@pytest.fixture
def harness_database(new_database: DatabaseFactory) -> DatabaseFactory:
    return new_database


@pytest.fixture(scope="module")
def shared_harness_database(module_new_database: DatabaseFactory) -> DatabaseFactory:
    return module_new_database


MAX_BODY = 1024 * 1024  # settings.max_request_body_bytes default
PARSE_ERROR = "request unable to be parsed"

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

# ----------------------------------------------------------------------------------------------
# Go types of the request structs (contract §1.4-§1.10), written from the contract, not from the
# server's own decoder.

MAP = "map[string]string"
F64 = "float"

CLUSTER = {"block": bool, "file": bool}
NODE = {"zone": int, "hostnames": {"manage": [str], "storage": [str]}, "cluster": str, "tags": MAP}
STATE = {"state": str, "healcheck": str}
TAGS = {"tags": MAP, "change_type": str}
DEVICE = {"node": str, "name": str, "destroydata": bool, "tags": MAP}
VOLUME = {
    "size": int,
    "name": str,
    "clusters": [str],
    "durability": {
        "type": str,
        "replicate": {"replica": int},
        "disperse": {"data": int, "redundancy": int},
    },
    "gid": int,
    "glustervolumeoptions": [str],
    "block": bool,
    "snapshot": {"enable": bool, "factor": F64},
}
EXPAND = {"expand_size": int}
CLONE = {"name": str}
RESTRICTION = {"restriction": str}
BLOCKVOLUME = {"size": int, "clusters": [str], "name": str, "hacount": int, "auth": bool}
EVICT = {"healcheck": str}
CLEANUP = {"operations": [str]}
ADMIN = {"state": str}
LOGGING = {"loglevel": MAP}
DEVICE_DELETE = {"forceforget": bool}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {cluster} {node} {device} {volume} {brick} placeholders
    spec: dict[str, Any]
    # Status for a body Go cannot decode into the struct; None: the contract allows the body
    # to be ignored.
    undecodable: int | None = 422
    legit_500: tuple[str, ...] = ()  # synchronous build-phase errors (internals §2.10)
    empty_body_ok: bool = False  # the body is optional (read only when Content-Length > 0)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


POST_ENDPOINTS = [
    Endpoint("POST", "/clusters", CLUSTER),
    Endpoint("POST", "/clusters/{cluster}/flags", CLUSTER),
    Endpoint("POST", "/nodes", NODE),
    Endpoint("POST", "/nodes/{node}/state", STATE),
    Endpoint("POST", "/nodes/{node}/tags", TAGS),
    Endpoint("POST", "/devices", DEVICE),
    Endpoint("POST", "/devices/{device}/state", STATE),
    Endpoint("POST", "/devices/{device}/tags", TAGS),
    Endpoint("POST", "/volumes", VOLUME, legit_500=("Failed to allocate new volume: ",)),
    Endpoint(
        "POST",
        "/volumes/{volume}/expand",
        EXPAND,
        legit_500=("Failed to allocate volume expansion: ",),
    ),
    Endpoint("POST", "/volumes/{volume}/clone", CLONE, legit_500=("Failed clone volume ",)),
    Endpoint(
        "POST",
        "/volumes/{volume}/block-restriction",
        RESTRICTION,
        legit_500=("Failed to set block restriction: ",),
    ),
    # Undecodable bodies on /blockvolumes: pinned by test_blockvolumes_bad_body_is_not_500.
    Endpoint(
        "POST",
        "/blockvolumes",
        BLOCKVOLUME,
        undecodable=None,
        legit_500=("Failed to allocate new block volume: ",),
    ),
    Endpoint(
        "POST",
        "/bricks/to-evict/{brick}",
        EVICT,
        legit_500=("Failed to set up brick eviction: ",),
        empty_body_ok=True,
    ),
    Endpoint("POST", "/operations/pending/cleanup", CLEANUP),
    Endpoint("POST", "/admin", ADMIN, undecodable=400),
    Endpoint("POST", "/internal/logging", LOGGING, undecodable=400),
    Endpoint("DELETE", "/devices/{device}", DEVICE_DELETE, empty_body_ok=True),
]

# ----------------------------------------------------------------------------------------------
# The Go oracle


class NotJson(Exception):
    pass


def _reject_constant(name: str) -> Any:
    raise NotJson(f"{name} is not JSON")


def go_parse(body: bytes) -> Any:
    """The value json.Unmarshal sees, or NotJson when Go rejects the text (RFC 8259 JSON in
    UTF-8: no BOM, no NaN/Infinity, nothing after the value)."""
    try:
        text = body.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise NotJson(str(exc)) from exc


def python_parses(body: bytes) -> bool:
    try:
        json.loads(body)
        return True
    except (ValueError, RecursionError):
        return False


def go_field(spec: dict[str, Any], key: str) -> str | None:
    """encoding/json: exact match first, then case-insensitive (ASCII keys here)."""
    if key in spec:
        return key
    for name in spec:
        if name.lower() == key.lower():
            return name
    return None


def go_mismatch(value: Any, kind: Any) -> bool:
    """Would decoding `value` into a Go field of `kind` fail? null never fails (zero value)."""
    if value is None:
        return False
    if kind is bool:
        return not isinstance(value, bool)
    if kind is int:
        return not (
            isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
        )
    if kind == F64:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return True
        return isinstance(value, int) and abs(value) >= 2**1024  # overflows float64
    if kind is str:
        return not isinstance(value, str)
    if kind == MAP:
        # A null map value decodes to "" in Go.
        return not isinstance(value, dict) or not all(
            v is None or isinstance(v, str) for v in value.values()
        )
    if isinstance(kind, list):
        return not isinstance(value, list) or any(go_mismatch(v, kind[0]) for v in value)
    assert isinstance(kind, dict)
    if not isinstance(value, dict):
        return True
    for key, item in value.items():
        name = go_field(kind, key)
        if name is not None and go_mismatch(item, kind[name]):
            return True
    return False


def must_reject(endpoint: Endpoint, body: bytes) -> bool:
    """True when Heketi fails to decode this body (so the answer is a synchronous 4xx)."""
    if len(body) > MAX_BODY:
        return True  # our body limit; Heketi has none, but a refusal is the only sane answer
    if not body and endpoint.empty_body_ok:
        return False
    try:
        value = go_parse(body)
    except NotJson:
        return True
    return go_mismatch(value, endpoint.spec)


# ----------------------------------------------------------------------------------------------
# Strategies

METACHARS = [
    ";",
    "$(",
    ")",
    "`",
    "|",
    "&",
    "&&",
    "\n",
    "\r",
    "\t",
    " ",
    "'",
    '"',
    "<",
    ">",
    "*",
    "?",
    "\\",
    "!",
    "#",
    "~",
    "{",
    "}",
    "[",
    "]",
    "=",
    ",",
    "%",
    "\x00",
    "é",
    "中",
    "☃",
]

INTERESTING_STRINGS = [
    "",
    "a",
    "online",
    "offline",
    "failed",
    "enable",
    "disable",
    "set",
    "update",
    "delete",
    "none",
    "replicate",
    "disperse",
    "locked",
    "locked-by-update",
    "normal",
    "read-only",
    "local-client",
    "info",
    "debug",
    "glusterfs",
    "/dev/sdc",
    "/dev/sdb",
    "/dev/disk/by-id/x",
    "host.example.com",
    "10.0.0.9",
    "vol_x",
    "performance.quick-read off",
    "user.heketi.zone-checking strict",
    "$(reboot)",
    "; rm -rf /",
    "`id`",
    "a|b",
    "a && b",
    "x\ny",
    "../../etc/passwd",
    "é",
    "@cluster",
    "@node",
    "@device",
    "@volume",
    "@brick",
    "@unknown",
    "@CLUSTER",
]

HUGE_INTS = [
    0,
    -1,
    1,
    2,
    3,
    4,
    8,
    2**31 - 1,
    2**31,
    2147483647,
    2**32,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64,
    10**30,
]

small_text = st.text(
    st.one_of(st.sampled_from([m for m in METACHARS if len(m) == 1]), st.characters(codec="utf-8")),
    max_size=12,
)
strings = st.one_of(st.sampled_from(INTERESTING_STRINGS), small_text)
ints = st.one_of(st.integers(-3, 6), st.sampled_from(HUGE_INTS), st.integers())
floats = st.one_of(
    st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 100.0, 100.5, -1.0, 1e30]),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, strings)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(strings, st.sampled_from(["size", "name", "tags"])), inner, max_size=4
        ),
    ),
    max_leaves=12,
)
junk_keys = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=10)


def right_typed(kind: Any) -> st.SearchStrategy[Any]:
    """A value of the right JSON type (valid or not for the validation rules)."""
    if kind is bool:
        return st.booleans()
    if kind is int:
        return ints
    if kind == F64:
        return st.one_of(floats, st.integers(-5, 200))
    if kind is str:
        return strings
    if kind == MAP:
        return st.dictionaries(strings, strings, max_size=3)
    if isinstance(kind, list):
        return st.lists(right_typed(kind[0]), max_size=3)
    return struct_of(kind)


def value_for(kind: Any) -> st.SearchStrategy[Any]:
    # Mostly the right type (to reach validation and the services), sometimes anything.
    return st.one_of(right_typed(kind), right_typed(kind), json_values)


@st.composite
def struct_of(draw: st.DrawFn, spec: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, kind in spec.items():
        if draw(st.booleans()):
            variant = draw(st.sampled_from([key, key, key.upper(), key.title()]))
            obj[variant] = draw(value_for(kind))
    if draw(st.integers(0, 3)) == 0:
        obj[draw(junk_keys)] = draw(json_values)
    return obj


def to_bytes(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False).encode()


@st.composite
def truncated(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> bytes:
    text = to_bytes(draw(values))
    assume(len(text) > 1)
    return text[: draw(st.integers(0, len(text) - 1))]


@st.composite
def corrupted(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> bytes:
    text = to_bytes(draw(values))
    at = draw(st.integers(0, len(text)))
    junk = draw(st.sampled_from([b"{", b"}", b"[", b"]", b",", b":", b'"', b"x", b"\xff", b"'"]))
    return text[:at] + junk + text[at:]


@st.composite
def oversized(draw: st.DrawFn) -> bytes:
    extra = draw(st.integers(1, 4096))
    fill = b"a" * (MAX_BODY + extra)
    shape = draw(st.sampled_from(["string", "unterminated", "raw"]))
    if shape == "string":
        return b'{"name": "' + fill + b'"}'
    if shape == "unterminated":
        return b'{"size": 1, "name": "' + fill
    return fill


def wrong_top_level() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.lists(json_values, max_size=3),
        strings,
        ints,
        floats,
        st.booleans(),
    ).map(to_bytes)


def random_bodies(spec: dict[str, Any]) -> st.SearchStrategy[bytes]:
    structs = struct_of(spec)
    return st.one_of(
        st.just(b""),
        st.binary(max_size=64),
        wrong_top_level(),
        json_values.map(to_bytes),
        truncated(structs),
        corrupted(structs),
        oversized(),
    )


def typed_bodies(spec: dict[str, Any]) -> st.SearchStrategy[bytes]:
    return struct_of(spec).map(to_bytes)


@st.composite
def shelly(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A valid-looking name with at least one shell metacharacter inserted somewhere."""
    name = draw(base)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(name)))
        name = name[:at] + draw(st.sampled_from(METACHARS)) + name[at:]
    return name


# ----------------------------------------------------------------------------------------------
# The property


def resolve(target: FuzzTarget, text: str) -> str:
    ids = {
        "cluster": target.topo.cluster,
        "node": target.topo.nodes[0],
        "device": target.topo.devices[0],
        "volume": target.volume["id"],
        "brick": target.brick,
        "unknown": "0123456789abcdef0123456789abcdef",
        "CLUSTER": target.topo.cluster.upper(),
    }
    for name, value in ids.items():
        text = text.replace("{" + name + "}", value).replace("@" + name, value)
    return text


def resolve_body(target: FuzzTarget, body: bytes) -> bytes:
    if b"@" not in body:
        return body
    try:
        return resolve(target, body.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:
        return body


def assert_error_text(r: httpx.Response) -> None:
    ctype = r.headers.get("content-type", "")
    assert ctype.startswith("text/plain"), (r.status_code, ctype, r.text[:200])
    assert r.text.strip(), f"empty error body (status {r.status_code})"
    assert r.text.endswith("\n"), repr(r.text[-50:])
    assert "Traceback" not in r.text and "Internal Server Error" not in r.text, r.text[:300]


def reset_server_state(target: FuzzTarget) -> None:
    """Undo the in-memory settings a fuzzed request may legitimately change."""
    api = target.lh.h.api_state
    api.admin_state = "normal"
    if api.log_level != "info":
        api.log_level = "info"
        apply_log_level("info")


def send_and_check(target: FuzzTarget, endpoint: Endpoint, path: str, body: bytes) -> int:
    """One request and the whole property; returns the status."""
    h = target.lh.h
    run = target.lh.run
    before = run(h.dump())
    r = run(h.call(endpoint.method, path, content=body))
    status = r.status_code
    event(f"{endpoint} -> {status}")
    try:
        if must_reject(endpoint, body) and endpoint.undecodable is not None:
            assert status == endpoint.undecodable, (str(endpoint), body[:200], status, r.text)
            if status == 422:
                assert r.text == PARSE_ERROR + "\n", r.text
            else:
                assert r.text.startswith(PARSE_ERROR), r.text
        if status == 500:
            assert r.text.startswith(endpoint.legit_500) if endpoint.legit_500 else False, (
                f"500 from {endpoint}: {r.text[:300]!r} for body {body[:200]!r}"
            )
        assert status in (200, 201, 202, 204, 400, 404, 409, 422, 500), (status, r.text)
        if status >= 400:
            assert_error_text(r)
            assert run(h.dump()) == before, f"rejected request ({status}) changed the database"
        elif status == 202:
            outcome = run(h.wait(r))
            assert outcome.status_code in (204, 303, 500), outcome.status_code
            if outcome.status_code == 500:
                assert_error_text(outcome)
                assert not outcome.text.startswith("internal error"), outcome.text
                assert run(h.dump()) == before, "failed job changed the database"
        elif status == 201:
            assert r.headers["content-type"].startswith("application/json")
            r.json()
        elif status == 200:
            assert r.headers.get("content-type", "").startswith("application/json")
            if r.content:
                r.json()
        else:
            assert status == 204 and r.content == b""
        assert_nodes_match_db(h.world, run(h.dump()))
    finally:
        reset_server_state(target)
    return status


# ----------------------------------------------------------------------------------------------
# Broad properties


endpoints = st.sampled_from(POST_ENDPOINTS)


@FUZZ
@given(data=st.data())
def test_random_bodies_on_every_endpoint(fuzz_target: FuzzTarget, data: st.DataObject) -> None:
    """Random bytes, malformed/truncated JSON, wrong top-level types, oversized bodies."""
    endpoint = data.draw(endpoints, label="endpoint")
    body = resolve_body(fuzz_target, data.draw(random_bodies(endpoint.spec), label="body"))
    send_and_check(fuzz_target, endpoint, resolve(fuzz_target, endpoint.path), body)


@FUZZ
@given(data=st.data())
def test_typed_bodies_on_every_endpoint(fuzz_target: FuzzTarget, data: st.DataObject) -> None:
    """Objects with the right keys (any case) and values of right or wrong types: strings for
    ints, floats, huge and negative numbers, nulls, nested junk, metacharacters."""
    endpoint = data.draw(endpoints, label="endpoint")
    body = resolve_body(fuzz_target, data.draw(typed_bodies(endpoint.spec), label="body"))
    send_and_check(fuzz_target, endpoint, resolve(fuzz_target, endpoint.path), body)


@FUZZ
@given(data=st.data())
def test_every_endpoint_decode_failure_is_sync_4xx(
    fuzz_target: FuzzTarget, data: st.DataObject
) -> None:
    """Only bodies Go cannot decode: always the endpoint's decode status, nothing stored."""
    endpoint = data.draw(st.sampled_from([e for e in POST_ENDPOINTS if e.undecodable is not None]))
    body = resolve_body(
        fuzz_target,
        data.draw(st.one_of(random_bodies(endpoint.spec), typed_bodies(endpoint.spec))),
    )
    assume(must_reject(endpoint, body))
    status = send_and_check(fuzz_target, endpoint, resolve(fuzz_target, endpoint.path), body)
    assert status == endpoint.undecodable


# ----------------------------------------------------------------------------------------------
# Ids in paths

ID_ENDPOINTS: list[tuple[str, str, bytes | None, str | None]] = [
    # method, path with {id}, a valid body, the exact 404 message for a hex id (None: any)
    ("POST", "/clusters/{id}/flags", b'{"block": true, "file": true}', "Id not found"),
    ("GET", "/clusters/{id}", None, "Id not found"),
    ("DELETE", "/clusters/{id}", None, "Id not found"),
    ("GET", "/nodes/{id}", None, "Id not found"),
    ("DELETE", "/nodes/{id}", None, "Id not found"),
    ("POST", "/nodes/{id}/state", b'{"state": "offline"}', "Id not found"),
    ("POST", "/nodes/{id}/tags", b'{"tags": {"a": "b"}, "change_type": "set"}', "Id not found"),
    ("GET", "/devices/{id}", None, "Id not found"),
    ("DELETE", "/devices/{id}", b'{"forceforget": true}', "Id not found"),
    ("POST", "/devices/{id}/state", b'{"state": "offline"}', "Id not found"),
    ("POST", "/devices/{id}/tags", b'{"tags": {}, "change_type": "set"}', "Id not found"),
    ("GET", "/devices/{id}/resync", None, "Id not found"),
    ("GET", "/volumes/{id}", None, "Id not found"),
    ("DELETE", "/volumes/{id}", None, "Id not found"),
    ("POST", "/volumes/{id}/expand", b'{"expand_size": 1}', "Id not found"),
    ("POST", "/volumes/{id}/clone", b"{}", "Id not found"),
    ("POST", "/volumes/{id}/block-restriction", b'{"restriction": "locked"}', "Id not found"),
    ("GET", "/blockvolumes/{id}", None, None),
    ("DELETE", "/blockvolumes/{id}", None, None),
    ("POST", "/blockvolumes/{id}/expand", b'{"new_size": 5}', None),
    ("POST", "/bricks/to-evict/{id}", None, "Id not found"),
    ("GET", "/queue/{id}", None, "Id not found"),
    ("GET", "/operations/pending/{id}", None, None),  # "Id not found: <id>"
]

NON_HEX_CHARS = string.ascii_letters[6:26] + "-_~" + "éß"


@st.composite
def bad_ids(draw: st.DrawFn) -> tuple[str, bool]:
    """(id, is_hex): unknown, wrong length, upper-cased real id, or not hex at all."""
    kind = draw(st.sampled_from(["unknown", "short", "long", "upper", "nonhex"]))
    hexchars = "0123456789abcdef"
    if kind == "unknown":
        return draw(st.text(hexchars, min_size=32, max_size=32)), True
    if kind == "short":
        return draw(st.text(hexchars + "ABCDEF", min_size=1, max_size=31)), True
    if kind == "long":
        return draw(st.text(hexchars, min_size=33, max_size=300)), True
    if kind == "upper":
        return "@UPPER", True
    head = draw(st.text(hexchars, max_size=20))
    bad = draw(st.text(NON_HEX_CHARS, min_size=1, max_size=5))
    tail = draw(st.text(hexchars, max_size=20))
    return head + bad + tail, False


@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_unknown_and_malformed_ids(fuzz_target: FuzzTarget, data: st.DataObject) -> None:
    """Non-hex ids are unknown paths (404 `Invalid path or request`); hex ids that do not
    exist (any length, or a real id in upper case: lookups are case-sensitive) are
    `404 Id not found`. Nothing changes."""
    method, template, body, message = data.draw(st.sampled_from(ID_ENDPOINTS))
    bad, is_hex = data.draw(bad_ids())
    if bad == "@UPPER":
        real = {
            "cl": fuzz_target.topo.cluster,
            "no": fuzz_target.topo.nodes[0],
            "de": fuzz_target.topo.devices[0],
            "vo": fuzz_target.volume["id"],
            "br": fuzz_target.brick,
        }
        bad = real.get(template.split("/")[1][:2], fuzz_target.volume["id"]).upper()
    h, run = fuzz_target.lh.h, fuzz_target.lh.run
    before = run(h.dump())
    r = run(h.call(method, template.replace("{id}", bad), content=body))
    assert r.status_code == 404, (method, template, bad, r.status_code, r.text)
    assert_error_text(r)
    if not is_hex:
        assert r.text == "Invalid path or request\n", r.text
    elif message is not None:
        assert r.text == message + "\n", r.text
    elif template.startswith("/operations"):
        assert r.text == f"Id not found: {bad}\n", r.text
    assert run(h.dump()) == before


body_ids = st.one_of(
    st.just(""),
    st.text("0123456789abcdef", min_size=32, max_size=32),  # well-formed, unknown
    st.just("@CLUSTER"),  # a real id in upper case: well-formed, but lookups are exact
    st.text("0123456789abcdefABCDEF", min_size=1, max_size=40).filter(lambda s: len(s) != 32),
    shelly(st.text("0123456789abcdef", max_size=32)),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
)
ID_RE = r"[0-9a-fA-F]{32}"


@settings(FUZZ, max_examples=120)
@given(value=body_ids, field=st.sampled_from(["cluster", "node", "clusters", "operations"]))
@example(value="\x00", field="clusters")  # PostgreSQL refuses a NUL in any text parameter
@example(value="a\x00b", field="node")
@example(value="\x00", field="operations")
def test_id_fields_in_bodies(fuzz_target: FuzzTarget, value: str, field: str) -> None:
    """Ids inside bodies: empty -> `cannot be blank`, not 32 hex digits -> `<v> is not a
    valid UUID` (node/device add) or `must be in a valid format` (cleanup), well-formed but
    unknown -> 404 (node/device add) / 400 `Cluster id <v> not found` (volume create, where
    the list is not format-checked, §1.7). Nothing changes."""
    value = resolve(fuzz_target, value)
    well_formed = re.fullmatch(ID_RE, value) is not None
    h, run = fuzz_target.lh.h, fuzz_target.lh.run
    before = run(h.dump())
    hostnames = {"manage": ["fresh.example.com"], "storage": ["fresh.example.com"]}
    if field == "cluster":
        r = run(h.post("/nodes", {"cluster": value, "zone": 1, "hostnames": hostnames}))
        expected = (404, "Cluster id does not exist")
    elif field == "node":
        r = run(h.post("/devices", {"node": value, "name": "/dev/sdz"}))
        expected = (404, "Node id does not exist")
    elif field == "clusters":
        r = run(h.post("/volumes", {"size": 1, "clusters": [value]}))
        expected = (400, f"Cluster id {value} not found")
    else:
        r = run(h.post("/operations/pending/cleanup", {"operations": [value]}))
        if well_formed:  # an unknown operation is simply not there to clean up
            assert run(h.ok_204(r)) is None
            assert run(h.dump()) == before
            return
        expected = (400, "validation failed: operations: must be in a valid format.")
    if field in ("cluster", "node") and not well_formed:
        problem = "cannot be blank" if value == "" else f"{value} is not a valid UUID"
        expected = (400, f"validation failed: {field}: {problem}.")
    assert (r.status_code, r.text) == (expected[0], expected[1] + "\n")
    assert run(h.dump()) == before


# ----------------------------------------------------------------------------------------------
# GET (and other body-less requests) with a body: tolerated, §1.0

GET_PATHS = [
    "/hello",
    "/clusters",
    "/clusters/{cluster}",
    "/nodes/{node}",
    "/devices/{device}",
    "/volumes",
    "/volumes/{volume}",
    "/blockvolumes",
    "/db/dump",
    "/db/check",
    "/operations",
    "/operations/pending",
    "/admin",
    "/internal/logging",
    "/internal/state/examine/gluster",
    "/backup/db",
    "/metrics",
]


@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_get_with_random_body(fuzz_target: FuzzTarget, data: st.DataObject) -> None:
    path = resolve(fuzz_target, data.draw(st.sampled_from(GET_PATHS)))
    body = data.draw(random_bodies(VOLUME))
    if len(body) > MAX_BODY:
        body = body[:4096]  # keep it quick: GETs never read the body anyway
    h, run = fuzz_target.lh.h, fuzz_target.lh.run
    before = run(h.dump())
    r = run(h.call("GET", path, content=body))
    # GET /backup/db copies SQLite databases only: 501 on PostgreSQL, whatever the body.
    sqlite = not h.server.store.shared
    expected = 200 if sqlite or path != "/backup/db" else 501
    assert r.status_code == expected, (path, r.status_code, r.text[:200])
    assert run(h.dump()) == before


@settings(FUZZ, max_examples=30)
@given(body=random_bodies(VOLUME))
def test_bodies_on_resync_and_refused_deletes(fuzz_target: FuzzTarget, body: bytes) -> None:
    """A GET that starts a job (resync) and deletes that must be refused ignore the body."""
    body = body[:4096]
    h, run = fuzz_target.lh.h, fuzz_target.lh.run
    before = run(h.dump())
    r = run(h.call("GET", f"/devices/{fuzz_target.topo.devices[0]}/resync", content=body))
    assert r.status_code == 202, r.text
    assert run(h.wait(r)).status_code == 204
    assert run(h.dump()) == before
    for path, message in [
        (
            f"/nodes/{fuzz_target.topo.nodes[0]}",
            f"Unable to delete node [{fuzz_target.topo.nodes[0]}] because it contains devices",
        ),
        (
            f"/clusters/{fuzz_target.topo.cluster}",
            f"Unable to delete cluster [{fuzz_target.topo.cluster}] because it contains "
            "volumes and/or nodes",
        ),
    ]:
        r = run(h.call("DELETE", path, content=body))
        assert r.status_code == 409, (path, r.status_code, r.text)
        assert r.text == message + "\n"
    assert run(h.dump()) == before


# ----------------------------------------------------------------------------------------------
# Shell metacharacters in names that reach node commands

dns_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
dns_name = st.lists(dns_label, min_size=1, max_size=4).map(".".join)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.ip_addresses(v=6).map(str)


good_host = st.one_of(dns_name, ipv4, ipv6)
bad_host = shelly(st.one_of(dns_name, ipv4, ipv6))


@settings(FUZZ, max_examples=150)
@given(
    manage=st.lists(st.one_of(good_host, bad_host), min_size=1, max_size=3),
    storage=st.lists(st.one_of(good_host, bad_host), min_size=1, max_size=3),
    zone=st.integers(1, 3),
)
@example(manage=["ok.example.com\n"], storage=["ok.example.com"], zone=1)
@example(manage=["fe80::1%eth0;reboot"], storage=["fe80::1%$(id)"], zone=2)
@example(manage=["a.b"], storage=["10.0.0.1 && reboot"], zone=3)
def test_node_add_with_shell_metachars_in_hostnames_is_refused(
    fuzz_target: FuzzTarget, manage: list[str], storage: list[str], zone: int
) -> None:
    def bad(names: list[str]) -> bool:
        return any(any(m in n for m in METACHARS) for n in names)

    assume(bad(manage) or bad(storage))
    problems = [
        f"{key}: [{' '.join(names)}] is not a valid {key} hostname"
        for key, names in (("manage", manage), ("storage", storage))
        if bad(names)
    ]
    h, run = fuzz_target.lh.h, fuzz_target.lh.run
    before = run(h.dump())
    sim_nodes = set(h.world.nodes)
    body = {
        "cluster": fuzz_target.topo.cluster,
        "zone": zone,
        "hostnames": {"manage": manage, "storage": storage},
    }
    r = run(h.post("/nodes", body))
    assert r.status_code == 400, (body, r.status_code, r.text)
    assert r.text == f"validation failed: hostnames: ({'; '.join(problems)}.).\n", r.text
    assert run(h.dump()) == before
    assert set(h.world.nodes) == sim_nodes, "a refused node was contacted"


device_path = st.lists(
    st.from_regex(r"[a-zA-Z0-9_.:-]{1,8}", fullmatch=True).filter(lambda s: s not in (".", "..")),
    min_size=1,
    max_size=3,
).map(lambda parts: "/dev/" + "/".join(parts))


@settings(FUZZ, max_examples=100)
@given(name=shelly(device_path))
@example(name="/dev/sdb\n")
@example(name="/dev/sdb;mkfs /dev/sda")
def test_device_add_with_shell_metachars_is_refused(fuzz_target: FuzzTarget, name: str) -> None:
    h, run = fuzz_target.lh.h, fuzz_target.lh.run
    before = run(h.dump())
    r = run(h.post("/devices", {"node": fuzz_target.topo.nodes[0], "name": name}))
    assert r.status_code == 400, (name, r.status_code, r.text)
    assert r.text == "validation failed: name: must be in a valid format.\n", r.text
    assert run(h.dump()) == before


volume_name = st.from_regex(r"[a-zA-Z0-9_-]{1,12}", fullmatch=True)


@settings(FUZZ, max_examples=100)
@given(name=shelly(volume_name), where=st.sampled_from(["create", "clone"]))
@example(name="vol\n", where="create")
@example(name="vol\n", where="clone")
def test_volume_names_with_shell_metachars_are_refused(
    fuzz_target: FuzzTarget, name: str, where: str
) -> None:
    h, run = fuzz_target.lh.h, fuzz_target.lh.run
    before = run(h.dump())
    if where == "create":
        r = run(h.post("/volumes", {"size": 1, "name": name}))
    else:
        r = run(h.post(f"/volumes/{fuzz_target.volume['id']}/clone", {"name": name}))
    assert r.status_code == 400, (name, r.status_code, r.text)
    assert r.text == "validation failed: name: must be in a valid format.\n", r.text
    assert run(h.dump()) == before


tag_name = st.from_regex(r"[a-zA-Z0-9_.-]{1,10}", fullmatch=True)


@settings(FUZZ, max_examples=60)
@given(tag=shelly(tag_name), kind=st.sampled_from(["nodes", "devices"]))
@example(tag="a\n", kind="nodes")
def test_tag_names_with_shell_metachars_are_refused(
    fuzz_target: FuzzTarget, tag: str, kind: str
) -> None:
    assume(len(tag) <= 32)
    h, run = fuzz_target.lh.h, fuzz_target.lh.run
    target_id = fuzz_target.topo.nodes[0] if kind == "nodes" else fuzz_target.topo.devices[0]
    before = run(h.dump())
    r = run(h.post(f"/{kind}/{target_id}/tags", {"tags": {tag: "v"}, "change_type": "set"}))
    assert r.status_code == 400, (tag, r.status_code, r.text)
    assert r.text == f"validation failed: tags: invalid characters in tag name {tag}.\n"
    assert run(h.dump()) == before


# ----------------------------------------------------------------------------------------------
# Server bugs found by the properties above, pinned with the inputs that found them.

BODY_ENDPOINTS = [e for e in POST_ENDPOINTS if e.undecodable is not None]


def endpoint_for(path: str) -> Endpoint:
    (found,) = [e for e in POST_ENDPOINTS if e.method == "POST" and e.path == path]
    return found


def _post_once(target: FuzzTarget, endpoint: Endpoint, body: bytes) -> tuple[httpx.Response, bool]:
    h, run = target.lh.h, target.lh.run
    before = run(h.dump())
    r = run(h.call(endpoint.method, resolve(target, endpoint.path), content=body))
    if r.status_code == 202:
        run(h.wait(r))
    unchanged = run(h.dump()) == before
    reset_server_state(target)
    return r, unchanged


DEEP = b"[" * 100_000 + b"]" * 100_000  # 200 kB, under the body limit


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS, ids=str)
def test_deeply_nested_json_is_rejected_not_500(
    shared_fuzz_target: FuzzTarget, endpoint: Endpoint
) -> None:
    r, unchanged = _post_once(shared_fuzz_target, endpoint, DEEP)
    assert r.status_code == endpoint.undecodable, (r.status_code, r.text[:100])
    assert unchanged


def test_huge_integer_in_float_field_is_422(shared_fuzz_target: FuzzTarget) -> None:
    body = b'{"size": 1, "snapshot": {"enable": true, "factor": 1' + b"0" * 400 + b"}}"
    r, unchanged = _post_once(shared_fuzz_target, endpoint_for("/volumes"), body)
    assert (r.status_code, r.text) == (422, PARSE_ERROR + "\n")
    assert unchanged


LENIENT = {
    "nan": b'{"size": 1, "x": NaN}',
    "infinity": b'{"size": 1, "x": Infinity}',
    "minus-infinity": b'{"size": 1, "x": -Infinity}',
    "utf8-bom": b'\xef\xbb\xbf{"size": 1}',
    "utf16": '{"size": 1}'.encode("utf-16-le"),
    "utf32": '{"size": 1}'.encode("utf-32-be"),
}


@pytest.mark.parametrize("body", list(LENIENT.values()), ids=list(LENIENT))
def test_non_json_bodies_are_422(shared_fuzz_target: FuzzTarget, body: bytes) -> None:
    r, unchanged = _post_once(shared_fuzz_target, endpoint_for("/clusters"), body)
    assert (r.status_code, r.text) == (422, PARSE_ERROR + "\n")
    assert unchanged


@pytest.mark.parametrize("body", [b"", b"{", b"[1]", b'{"size": "1"}'])
def test_blockvolumes_bad_body_is_not_500(shared_fuzz_target: FuzzTarget, body: bytes) -> None:
    r, unchanged = _post_once(shared_fuzz_target, endpoint_for("/blockvolumes"), body)
    assert (r.status_code, r.text) == (422, PARSE_ERROR + "\n")
    assert unchanged


def test_float32_overflow_in_snapshot_factor_is_422(shared_fuzz_target: FuzzTarget) -> None:
    body = b'{"size": 1, "snapshot": {"enable": false, "factor": 1e39}}'
    r, unchanged = _post_once(shared_fuzz_target, endpoint_for("/volumes"), body)
    assert (r.status_code, r.text) == (422, PARSE_ERROR + "\n")
    assert unchanged

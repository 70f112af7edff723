"""Volume ids, gluster volume names, stub generation, server error mapping, secret reading."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import grpc
import httpx
import pytest

from brickyard.client import HeketiError
from brickyard.csi import stubs
from brickyard.csi.errors import from_server
from brickyard.csi.ids import MAX_VOLUME_ID, VolumeId, same_server, volume_name
from brickyard.csi.k8s_secrets import reader
from brickyard.csi.params import ParamError
from brickyard.domain.gluster_rules import volume_name_problem

HID = "0123456789abcdef0123456789abcdef"
SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")  # what the node plugin accepts


@pytest.mark.parametrize(
    ("server", "text"),
    [
        ("http://d:8080", HID),
        ("http://d:8080/", HID),
        ("http://10.0.0.5:8080", f"{HID}_http_10.0.0.5_8080"),
        ("https://heketi.svc", f"{HID}_https_heketi.svc_443"),
        ("http://heketi", f"{HID}_http_heketi_80"),
    ],
)
def test_volume_id_forms(server: str, text: str) -> None:
    vid = VolumeId.make(HID, server, "http://d:8080")
    assert str(vid) == text
    back = VolumeId.parse(text)
    assert back.heketi_id == HID
    assert same_server(back.server or "http://d:8080", server)


@pytest.mark.parametrize(
    "server", ["http://[::1]:8080", "http://h:1/heketi/api", "https://user@h:9", "http://h_x:1"]
)
def test_other_urls_go_base32_and_come_back(server: str) -> None:
    text = str(VolumeId.make(HID, server, ""))
    assert SAFE.fullmatch(text) and "_b32_" in text
    assert VolumeId.parse(text).server == server


def test_every_id_is_safe_for_the_node_plugin() -> None:
    for server in ["", "http://10.1.2.3:8080", "https://a.b.c:443", "http://[fe80::1]:1"]:
        assert SAFE.fullmatch(str(VolumeId.make(HID, server, "http://x")))


def test_too_long_a_url_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        VolumeId.make(HID, "http://" + "h" * 100 + ".example:8080", "")
    longest = "http://" + "h" * (MAX_VOLUME_ID - len(HID) - len("_http__8080")) + ":8080"
    assert len(str(VolumeId.make(HID, longest, ""))) == MAX_VOLUME_ID


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x",
        HID.upper(),
        HID[:-1],
        HID + "_",
        HID + "_ftp_h_1",
        HID + "_http_h_0",
        HID + "_http_h_x",
        HID + "_http__80",
        HID + "_b32_!!",
        HID + "_b32_" + base64.b32encode(b"ftp://x").decode().rstrip("=").lower(),
        HID + "@http://h:1",
        "a" * 129,
    ],
)
def test_malformed_ids(text: str) -> None:
    with pytest.raises(ValueError, match="volume id"):
        VolumeId.parse(text)


def test_volume_names() -> None:
    assert volume_name("pvc-5f3c1e2a-8b7d-4c1e-9a2b-0d6f4e3c2b1a") == (
        "vol_pvc-5f3c1e2a-8b7d-4c1e-9a2b-0d6f4e3c2b1a"
    )
    assert volume_name("pvc-1", "team") == "team_pvc-1"
    # deterministic, and a hash for names gluster would not take
    odd = volume_name("my volume/ü")
    assert odd == volume_name("my volume/ü") and odd.startswith("vol_csi-")
    assert volume_name("x" * 80).startswith("vol_csi-")
    assert volume_name(HID).startswith("vol_csi-")  # never vol_<hex>, Heketi's own names
    assert volume_name("a") != volume_name("b")
    for name in ["pvc-1", "my volume/ü", "x" * 80, "-lead"]:
        assert volume_name_problem(volume_name(name, "p")) is None


def test_stubs_are_generated_once_per_proto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = stubs.generate(tmp_path)
    assert (first / stubs.PACKAGE / "csi_pb2.py").exists()
    assert first.name == stubs.proto_hash()
    mtime = (first / stubs.PACKAGE / "csi_pb2.py").stat().st_mtime_ns
    assert stubs.generate(tmp_path) == first
    assert (first / stubs.PACKAGE / "csi_pb2.py").stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary left
    monkeypatch.setenv(stubs.STUBS_ENV, str(tmp_path / "env"))
    assert stubs.cache_root() == tmp_path / "env"


def test_field_numbers_of_the_spec() -> None:
    """A few wire facts of CSI v1.9.0 checked on the generated descriptors."""
    pb2 = stubs.load().pb2
    d = pb2.DESCRIPTOR
    assert d.package == "csi.v1"
    fields = {f.name: f.number for f in d.message_types_by_name["NodePublishVolumeRequest"].fields}
    assert fields == {
        "volume_id": 1,
        "publish_context": 2,
        "staging_target_path": 3,
        "target_path": 4,
        "volume_capability": 5,
        "readonly": 6,
        "secrets": 7,
        "volume_context": 8,
    }
    create = {f.name: f.number for f in d.message_types_by_name["CreateVolumeRequest"].fields}
    assert create["volume_content_source"] == 6 and create["mutable_parameters"] == 8
    assert pb2.ControllerServiceCapability.RPC.EXPAND_VOLUME == 9
    assert pb2.NodeServiceCapability.RPC.VOLUME_CONDITION == 4
    assert pb2.PluginCapability.VolumeExpansion.ONLINE == 1
    assert [m.name for m in d.services_by_name["Identity"].methods] == [
        "GetPluginInfo",
        "GetPluginCapabilities",
        "Probe",
    ]


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (0, "connection refused", grpc.StatusCode.UNAVAILABLE),
        (429, "Server busy", grpc.StatusCode.UNAVAILABLE),
        (503, "down", grpc.StatusCode.UNAVAILABLE),
        (500, "Failed to allocate new volume: No space", grpc.StatusCode.RESOURCE_EXHAUSTED),
        (500, "Volume name 'v' already in use", grpc.StatusCode.ABORTED),
        (401, "token expired", grpc.StatusCode.UNAUTHENTICATED),
        (403, "Administrator access required", grpc.StatusCode.PERMISSION_DENIED),
        (404, "Id not found", grpc.StatusCode.NOT_FOUND),
        (400, "Invalid volume size", grpc.StatusCode.INVALID_ARGUMENT),
        (500, "brick failed", grpc.StatusCode.INTERNAL),
    ],
)
def test_server_errors(status: int, message: str, code: grpc.StatusCode) -> None:
    err = from_server(HeketiError(message, status), "http://h", "creating volume v")
    assert err.code == code and message in err.message and "http://h" in err.message


def _api(secret: dict[str, object] | None, status: int = 200) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer tok"
        assert request.url.path == "/api/v1/namespaces/ns/secrets/heketi"
        return httpx.Response(status, content=json.dumps(secret or {}).encode())

    return httpx.MockTransport(handle)


def test_secret_reader() -> None:
    good = {"type": "kubernetes.io/glusterfs", "data": {"key": base64.b64encode(b"k3y").decode()}}
    assert reader("https://api", "tok", transport=_api(good))("ns", "heketi") == "k3y"
    cases = [
        (_api({"type": "Opaque", "data": {}}), "of type 'Opaque'"),
        (_api({"type": "kubernetes.io/glusterfs", "data": {"pw": "eA=="}}), "no data key 'key'"),
        (_api({"type": "kubernetes.io/glusterfs", "data": {"key": "!!"}}), "not valid base64"),
        (_api(None, 403), "HTTP 403"),
    ]
    for transport, message in cases:
        with pytest.raises(ParamError, match=message):
            reader("https://api", "tok", transport=transport)("ns", "heketi")

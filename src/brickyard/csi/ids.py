"""Volume ids and gluster volume names of the CSI driver.

Volume id (what Kubernetes keeps in ``PV.spec.csi.volumeHandle``): at most 128 bytes of
``[A-Za-z0-9_.-]`` (so it is safe in paths and in the node plugin's records), one of

- ``<heketi id>`` (32 lowercase hex) for a volume on the driver's own server (``--server``);
- ``<heketi id>_<http|https>_<host>_<port>`` for a volume on another server (a StorageClass's
  ``resturl`` such as ``http://10.0.0.5:8080``), so DeleteVolume and ControllerExpandVolume,
  which get no parameters, reach the same server; the host is a DNS name or IPv4 address;
- ``<heketi id>_b32_<the URL in lowercase base32, no padding>`` for any other URL (a path,
  IPv6 brackets, user info) that fits in 128 bytes. A longer URL is refused by CreateVolume
  before anything is made.

Gluster volume name, derived only from the request name (``pvc-<PVC UID>``) and the class's
``volumenameprefix`` (default ``vol``), so a retried CreateVolume finds the volume by name:
``<prefix>_<request name>`` when the request name is made of letters, digits and ``-`` only and
the result is at most 64 characters; otherwise ``<prefix>_csi-<first 32 hex of the SHA-256 of
the request name>``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["MAX_VOLUME_ID", "VolumeId", "same_server", "volume_name"]

MAX_VOLUME_ID = 128
MAX_NAME = 64
DEFAULT_PREFIX = "vol"
_HEX32 = re.compile(r"[0-9a-f]{32}")
_CLEAN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def volume_name(request_name: str, prefix: str = "") -> str:
    """The gluster volume name of a CreateVolume request name."""
    head = prefix or DEFAULT_PREFIX
    if _CLEAN.fullmatch(request_name) and not _HEX32.fullmatch(request_name):
        candidate = f"{head}_{request_name}"
        if len(candidate) <= MAX_NAME:
            return candidate
    digest = hashlib.sha256(request_name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{head}_csi-{digest}"


_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _encode_server(server: str) -> str:
    parsed = urlsplit(server)
    try:
        port = parsed.port
    except ValueError:
        port = None
    simple = (
        parsed.scheme in _DEFAULT_PORTS
        and parsed.hostname is not None
        and _HOST.fullmatch(parsed.netloc.rsplit(":", 1)[0] if port else parsed.netloc)
        and parsed.path in ("", "/")
        and not parsed.query
        and not parsed.fragment
    )
    if simple and parsed.hostname:
        host = parsed.netloc.rsplit(":", 1)[0] if port else parsed.netloc
        return f"{parsed.scheme}_{host}_{port or _DEFAULT_PORTS[parsed.scheme]}"
    return "b32_" + base64.b32encode(server.encode()).decode().rstrip("=").lower()


def _decode_server(text: str, whole: str) -> str:
    kind, _, rest = text.partition("_")
    if kind in _DEFAULT_PORTS:
        host, _, port = rest.rpartition("_")
        if _HOST.fullmatch(host) and port.isdigit() and 0 < int(port) < 65536:
            return f"{kind}://{host}:{int(port)}"
    elif kind == "b32" and re.fullmatch(r"[a-z2-7]+", rest):
        padded = rest.upper() + "=" * (-len(rest) % 8)
        try:
            url = base64.b32decode(padded).decode()
        except (ValueError, UnicodeDecodeError):
            url = ""
        if url.startswith(("http://", "https://")):
            return url
    raise ValueError(
        f"volume id {whole!r}: {text!r} after the Heketi id names no server"
        " (expected http_<host>_<port>, https_<host>_<port> or b32_<base32 URL>)"
    )


def same_server(a: str, b: str) -> bool:
    """Whether two server URLs name the same server as far as a volume id tells."""
    a, b = a.rstrip("/"), b.rstrip("/")
    return a == b or (bool(a) and bool(b) and _encode_server(a) == _encode_server(b))


@dataclass(frozen=True)
class VolumeId:
    """A volume on a server ("" = the driver's own server)."""

    heketi_id: str
    server: str = ""

    def __str__(self) -> str:
        return self.heketi_id + (f"_{_encode_server(self.server)}" if self.server else "")

    @classmethod
    def make(cls, heketi_id: str, server: str, default_server: str) -> VolumeId:
        """The id of ``heketi_id`` on ``server``: short when that is the driver's server."""
        server = server.rstrip("/")
        if server and same_server(server, default_server):
            server = ""
        made = cls(heketi_id, server)
        if len(str(made).encode()) > MAX_VOLUME_ID:
            raise ValueError(
                f"server URL {server!r} is too long to be kept in a CSI volume id"
                f" ({len(str(made))} bytes with the id; at most {MAX_VOLUME_ID})"
            )
        return made

    @classmethod
    def parse(cls, text: str) -> VolumeId:
        """Parse a volume id; :class:`ValueError` names what is wrong."""
        if not text:
            raise ValueError("volume id is empty")
        if len(text.encode()) > MAX_VOLUME_ID:
            raise ValueError(f"volume id is {len(text.encode())} bytes; at most {MAX_VOLUME_ID}")
        head, sep, rest = text.partition("_")
        if not _HEX32.fullmatch(head) or (sep and not rest):
            raise ValueError(
                f"volume id {text!r} is not a Brickyard CSI volume id: expected 32 lowercase hex"
                " digits (the Heketi volume id), optionally followed by _<server>"
            )
        return cls(head, _decode_server(rest, text) if sep else "")

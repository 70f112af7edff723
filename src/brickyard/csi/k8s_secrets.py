"""Reading the in-tree plugin's secret (``secretNamespace``/``secretName`` of a StorageClass)
from the Kubernetes API, with the pod's service account, as the in-tree plugin did.

Only used when a CreateVolume names such a secret and the provisioner passed no CSI secret.
The secret must be of type ``kubernetes.io/glusterfs`` and hold the data key ``key``.
The controller's service account needs ``get`` on ``secrets`` (deploy/kubernetes RBAC).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import httpx

from brickyard.csi.params import ParamError, SecretReader

__all__ = ["SECRET_TYPE", "in_cluster_reader", "reader"]

SECRET_TYPE = "kubernetes.io/glusterfs"
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def reader(
    api: str,
    token: str,
    *,
    verify: bool | str = True,
    timeout: float = 5.0,
    transport: httpx.BaseTransport | None = None,
) -> SecretReader:
    """A :data:`SecretReader` on the API server ``api`` with a bearer ``token``
    (``transport`` is for tests)."""

    def read(namespace: str, name: str) -> str:
        where = f"secret {namespace}/{name}"
        url = f"{api.rstrip('/')}/api/v1/namespaces/{namespace}/secrets/{name}"
        try:
            with httpx.Client(verify=verify, timeout=timeout, transport=transport) as client:
                response = client.get(url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise ParamError(f"cannot read {where}: {exc}") from None
        if response.status_code != 200:
            raise ParamError(f"cannot read {where}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise ParamError(f"cannot read {where}: the answer is not JSON") from None
        kind = body.get("type", "")
        if kind != SECRET_TYPE:
            raise ParamError(f"{where} is of type {kind!r}, expected {SECRET_TYPE!r}")
        data = body.get("data") or {}
        if "key" not in data:
            present = ", ".join(sorted(data)) or "none"
            raise ParamError(f"{where} has no data key 'key' (keys present: {present})")
        try:
            return base64.b64decode(data["key"], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise ParamError(f"{where}: data key 'key' is not valid base64 text") from None

    return read


def in_cluster_reader() -> SecretReader | None:
    """The reader of the pod's own cluster, or None outside a pod."""
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    token_file = SERVICE_ACCOUNT / "token"
    if not host or not token_file.exists():
        return None
    ca = SERVICE_ACCOUNT / "ca.crt"
    host = f"[{host}]" if ":" in host else host
    return reader(
        f"https://{host}:{port}",
        token_file.read_text().strip(),
        verify=str(ca) if ca.exists() else True,
    )

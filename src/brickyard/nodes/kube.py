"""Kubernetes transport: runs node commands inside the GlusterFS pod of each node (internals §4.3).

The pod for a node "host" (the node's ``Manage[0]``) is looked up on every call, as Heketi does:

* default: the one pod labelled ``glusterfs-node=<host>`` (none or several is an error);
* ``gluster_daemonset``: the pod carrying the label key ``glusterfs-node`` with
  ``spec.nodeName == host``;
* ``use_pod_names``: ``host`` is the pod name.

The command runs in the pod's **first container** through the ``pods/exec`` API over a WebSocket
(subprotocol ``v4.channel.k8s.io``; ``v5.channel.k8s.io`` is offered first, and when the server
picks it stdin is closed explicitly). Channel 0 is stdin, 1 stdout, 2 stderr, 3 the final status
(``{"status": "Success"}`` or ``Failure`` with ``details.causes[{reason: ExitCode, message: n}]``).

The exec argv is ``timeout <N>m bash -c <shell>`` (``bash -c <shell>`` when
``disable_timeout_prefix``), ``<shell>`` being `to_shell` of the command's argv, so every argument
is ``shlex.quote``d; ``N`` is the command timeout rounded up to whole minutes. Exit code 124 is a
timeout; a client-side watchdog gives up one minute after ``N``. When the command has stdin the
shell line is ``head -c <len> | <shell>`` so that the command sees end-of-file even on
``v4.channel.k8s.io``, which cannot signal it. There is no sudo (Heketi neither).

At most ``max_connections`` runs are in flight at once (negative: unlimited).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from ..config import KubeExecConfig
from ..domain.errors import NodeCommandError, NodeUnreachable
from .commands.argv import Command, to_shell
from .transports import CommandResult

__all__ = ["SERVICE_ACCOUNT_DIR", "KubeApi", "KubeTransport"]

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
NODE_LABEL = "glusterfs-node"
TIMEOUT_EXIT_CODE = 124
_DEFAULT_CONNECTIONS = 64
# Seconds past the in-pod timeout before the client gives up (Heketi: +1 min).
_WATCHDOG_GRACE = 60.0
_STDIN, _STDOUT, _STDERR, _STATUS, _CLOSE = 0, 1, 2, 3, 255
_V5 = Subprotocol("v5.channel.k8s.io")
_V4 = Subprotocol("v4.channel.k8s.io")
_STDIN_CHUNK = 64 * 1024


@dataclass(frozen=True)
class KubeApi:
    """Where and how to reach the Kubernetes API.

    ``token`` is sent as a bearer token; ``token_file`` (used when ``token`` is empty) is re-read
    on every request, since projected service-account tokens rotate. ``ca_file`` verifies the
    server certificate; ``verify=False`` disables verification (tests only). ``namespace`` is
    used when the kubeexec config names none."""

    base_url: str
    token: str = ""
    token_file: str = ""
    ca_file: str = ""
    verify: bool = True
    namespace: str = ""
    request_timeout: float = 30.0

    @classmethod
    def in_cluster(cls, account_dir: Path = SERVICE_ACCOUNT_DIR) -> KubeApi:
        """The API as seen from inside a pod: ``KUBERNETES_SERVICE_HOST``/``_PORT`` and the
        mounted service account (token, ``ca.crt``, ``namespace``)."""
        host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "")
        if not host or not port:
            raise NodeCommandError(
                "kubernetes executor: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                "must be set (not running inside a pod?)"
            )
        token_file = account_dir / "token"
        if not token_file.is_file():
            raise NodeCommandError(f"kubernetes executor: no service account token at {token_file}")
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # IPv6 literal
        ca = account_dir / "ca.crt"
        namespace_file = account_dir / "namespace"
        namespace = namespace_file.read_text().strip() if namespace_file.is_file() else ""
        return cls(
            base_url=f"https://{host}:{port}",
            token_file=str(token_file),
            ca_file=str(ca) if ca.is_file() else "",
            namespace=namespace,
        )

    def bearer(self) -> str:
        if self.token:
            return self.token
        if self.token_file:
            try:
                return Path(self.token_file).read_text().strip()
            except OSError as exc:
                raise NodeCommandError(f"kubernetes executor: cannot read token: {exc}") from exc
        return ""

    def ssl_context(self) -> ssl.SSLContext | None:
        if urlsplit(self.base_url).scheme != "https":
            return None
        if not self.verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.ca_file or None)


@dataclass(frozen=True)
class _Target:
    pod: str
    container: str


class KubeTransport:
    """The `Transport` for ``executor: kube``/``kubernetes``.

    ``KubeTransport(settings.glusterfs.kubeexec)`` uses the in-cluster API; pass
    ``api=KubeApi(base_url=..., token=...)`` to target another server."""

    def __init__(self, config: KubeExecConfig, api: KubeApi | None = None) -> None:
        self.config = config
        self.api = api if api is not None else KubeApi.in_cluster()
        self.namespace = config.namespace or self.api.namespace
        if not self.namespace:
            raise NodeCommandError(
                "kubernetes executor: no namespace (set kubeexec.namespace or "
                "HEKETI_KUBE_NAMESPACE)"
            )
        limit = config.connection_limit
        if limit == 0:
            limit = _DEFAULT_CONNECTIONS
        self._slots = asyncio.Semaphore(limit) if limit is not None else None
        self._ssl = self.api.ssl_context()
        self._http = httpx.AsyncClient(
            base_url=self.api.base_url.rstrip("/"),
            verify=self._ssl if self._ssl is not None else True,
            timeout=self.api.request_timeout,
            trust_env=False,
        )

    # ---------------------------------------------------------------------------------------
    # Transport

    async def run(self, host: str, command: Command) -> CommandResult:
        if self._slots is None:
            return await self._run(host, command)
        async with self._slots:
            return await self._run(host, command)

    async def close(self) -> None:
        await self._http.aclose()

    # ---------------------------------------------------------------------------------------
    # Exec argv

    def exec_argv(self, command: Command) -> list[str]:
        """What the container runs for ``command``."""
        shell = to_shell(command.argv)
        if command.stdin is not None:
            shell = f"head -c {len(command.stdin)} | {shell}"
        argv = ["bash", "-c", shell]
        if not self.config.disable_timeout_prefix:
            argv = ["timeout", f"{self.timeout_minutes(command)}m", *argv]
        return argv

    @staticmethod
    def timeout_minutes(command: Command) -> int:
        return max(1, math.ceil(command.timeout / 60.0))

    # ---------------------------------------------------------------------------------------
    # Internals

    def _headers(self) -> dict[str, str]:
        token = self.api.bearer()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _pods_path(self) -> str:
        return f"/api/v1/namespaces/{quote(self.namespace, safe='')}/pods"

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        try:
            response = await self._http.get(path, params=params, headers=self._headers())
        except httpx.HTTPError as exc:
            raise NodeCommandError(f"kubernetes API {path}: {exc or type(exc).__name__}") from exc
        if response.status_code != 200:
            raise NodeCommandError(
                f"kubernetes API {path}: HTTP {response.status_code}: {_api_message(response)}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise NodeCommandError(f"kubernetes API {path}: invalid JSON") from exc

    async def _target(self, host: str) -> _Target:
        if self.config.use_pod_names:
            pod = await self._get(f"{self._pods_path()}/{quote(host, safe='')}")
            return _target_of(pod, f"pod {host} in namespace {self.namespace}")
        if self.config.gluster_daemonset:
            listing = await self._get(
                self._pods_path(),
                {"labelSelector": NODE_LABEL, "fieldSelector": f"spec.nodeName={host}"},
            )
            pods = [
                p
                for p in _items(listing)
                if p.get("spec", {}).get("nodeName") == host
                and NODE_LABEL in (p.get("metadata", {}).get("labels") or {})
            ]
            live = [p for p in pods if not p.get("metadata", {}).get("deletionTimestamp")]
            pods = live or pods
            what = f"pod with label {NODE_LABEL} on node {host} in namespace {self.namespace}"
        else:
            selector = f"{NODE_LABEL}=={host}"
            pods = _items(await self._get(self._pods_path(), {"labelSelector": selector}))
            what = f"pod with label {NODE_LABEL}={host} in namespace {self.namespace}"
        if not pods:
            raise NodeUnreachable(f"kubernetes executor: no {what}")
        if len(pods) > 1:
            names = ", ".join(sorted(str(p.get("metadata", {}).get("name")) for p in pods))
            raise NodeCommandError(
                f"kubernetes executor: expected one {what}, found {len(pods)}: {names}"
            )
        return _target_of(pods[0], what)

    def _exec_url(self, target: _Target, argv: list[str], stdin: bool) -> str:
        base = urlsplit(self.api.base_url.rstrip("/"))
        scheme = "wss" if base.scheme == "https" else "ws"
        query: list[tuple[str, str]] = [("container", target.container)]
        query += [("command", arg) for arg in argv]
        query += [
            ("stdin", "true" if stdin else "false"),
            ("stdout", "true"),
            ("stderr", "true"),
            ("tty", "false"),
        ]
        path = f"{base.path}{self._pods_path()}/{quote(target.pod, safe='')}/exec"
        return f"{scheme}://{base.netloc}{path}?{urlencode(query)}"

    async def _run(self, host: str, command: Command) -> CommandResult:
        target = await self._target(host)
        argv = self.exec_argv(command)
        url = self._exec_url(target, argv, command.stdin is not None)
        limit = command.timeout + _WATCHDOG_GRACE
        what = f"{' '.join(command.argv)} on {host} (pod {target.pod})"
        try:
            code, out, err = await asyncio.wait_for(self._exec(url, command.stdin, what), limit)
        except TimeoutError as exc:
            raise NodeCommandError(f"{what}: no answer after {limit:.0f} s") from exc
        if code == TIMEOUT_EXIT_CODE and not self.config.disable_timeout_prefix:
            raise NodeCommandError(
                f"{' '.join(command.argv)} on {host}: timed out after "
                f"{self.timeout_minutes(command)} min"
            )
        return CommandResult(code, out.decode(errors="replace"), err.decode(errors="replace"))

    async def _exec(self, url: str, stdin: bytes | None, what: str) -> tuple[int, bytes, bytes]:
        out = bytearray()
        err = bytearray()
        status: dict[str, Any] | None = None
        try:
            async with connect(
                url,
                additional_headers=self._headers(),
                subprotocols=[_V5, _V4],
                ssl=self._ssl,
                proxy=None,
                compression=None,
                open_timeout=self.api.request_timeout,
                max_size=None,
                ping_interval=None,
            ) as ws:
                if stdin is not None:
                    for start in range(0, len(stdin), _STDIN_CHUNK):
                        await ws.send(bytes([_STDIN]) + stdin[start : start + _STDIN_CHUNK])
                    if ws.subprotocol == _V5:
                        await ws.send(bytes([_CLOSE, _STDIN]))
                async for message in ws:
                    data = message.encode() if isinstance(message, str) else message
                    if not data:
                        continue
                    channel, payload = data[0], data[1:]
                    if channel == _STDOUT:
                        out += payload
                    elif channel == _STDERR:
                        err += payload
                    elif channel == _STATUS and payload:
                        try:
                            status = json.loads(payload)
                        except ValueError as exc:
                            raise NodeCommandError(f"{what}: invalid exec status") from exc
        except InvalidStatus as exc:
            response = exc.response
            detail = response.body.decode(errors="replace") if response.body else ""
            raise NodeCommandError(
                f"{what}: exec refused: HTTP {response.status_code} {_status_message(detail)}"
            ) from exc
        except (OSError, WebSocketException) as exc:
            raise NodeCommandError(f"{what}: exec failed: {exc or type(exc).__name__}") from exc
        return _exit_code(status, what), bytes(out), bytes(err)


# -------------------------------------------------------------------------------------------------
# Helpers


def _items(listing: Any) -> list[dict[str, Any]]:
    items = listing.get("items") if isinstance(listing, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _target_of(pod: Any, what: str) -> _Target:
    if not isinstance(pod, dict):
        raise NodeCommandError(f"kubernetes executor: malformed {what}")
    name = pod.get("metadata", {}).get("name")
    containers = pod.get("spec", {}).get("containers") or []
    if not isinstance(name, str) or not name:
        raise NodeCommandError(f"kubernetes executor: {what} has no name")
    if not containers or not isinstance(containers[0], dict) or not containers[0].get("name"):
        raise NodeCommandError(f"kubernetes executor: pod {name} has no container")
    return _Target(name, str(containers[0]["name"]))


def _status_message(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return text.strip()


def _api_message(response: httpx.Response) -> str:
    return _status_message(response.text)


def _exit_code(status: dict[str, Any] | None, what: str) -> int:
    if status is None:
        raise NodeCommandError(f"{what}: exec ended without an exit status")
    if status.get("status") == "Success":
        return 0
    causes = (status.get("details") or {}).get("causes") or []
    for cause in causes:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                break
    message = status.get("message") or status.get("reason") or json.dumps(status)
    raise NodeCommandError(f"{what}: exec failed: {message}")

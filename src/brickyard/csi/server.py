"""The gRPC server of ``brickyard csi``: the Identity service and, by mode, the Controller and
Node services, on a unix socket.

Handlers are built from the generated service descriptors: every RPC of a served service is
routed to the method of the same name, and RPCs we do not implement answer UNIMPLEMENTED. A
:class:`~brickyard.csi.errors.CsiError` becomes its status; any other exception is logged with
its traceback and answered INTERNAL with a one-line message (never a traceback).
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from brickyard.csi import stubs as stub_loader
from brickyard.csi.controller import Controller, ServerConfig
from brickyard.csi.errors import CsiError
from brickyard.csi.identity import Identity
from brickyard.csi.node import Mounts, Node, default_mounts
from brickyard.csi.params import SecretReader

__all__ = ["MODES", "CsiServer", "DriverOptions", "build_server", "socket_path"]

log = logging.getLogger(__name__)

MODES = ("controller", "node", "all")
Handler = Callable[[Any, grpc.ServicerContext], Any]


@dataclass
class DriverOptions:
    mode: str = "all"
    endpoint: str = "unix:///csi/csi.sock"
    node_id: str = ""
    server: str = ""
    user: str = "admin"
    key: str = field(default="", repr=False)
    state_dir: Path = Path("/var/lib/brickyard-csi")
    kubelet_dir: Path = Path("/var/lib/kubelet")  # kubelet's --root-dir
    # A create runs on in its handler after the caller's deadline while the retry waits for
    # it: two threads per claimed name; external-provisioner runs 100 workers by default.
    workers: int = 256
    poll_timeout: float = 300.0
    secret_reader: SecretReader | None = None
    mounts_factory: Callable[[], Mounts] | None = None


def socket_path(endpoint: str) -> Path:
    """The file of ``unix:///path`` (or ``unix:/path``, or a bare absolute path)."""
    if endpoint.startswith("unix://"):
        rest = endpoint[len("unix://") :]
    elif endpoint.startswith("unix:"):
        rest = endpoint[len("unix:") :]
    else:
        rest = endpoint
    if not rest.startswith("/"):
        raise ValueError(f"endpoint {endpoint!r}: expected unix:///absolute/path")
    return Path(rest)


def _wrap(service: str, name: str, method: Handler | None) -> Handler:
    full = f"{service}.{name}"

    def unimplemented(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{full} is not implemented by this driver")

    if method is None:
        return unimplemented

    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        started = time.monotonic()
        try:
            answer = method(request, context)
        except CsiError as exc:
            log.info("%s: %s (%.1f ms)", full, exc, (time.monotonic() - started) * 1000)
            context.abort(exc.code, exc.message)
        except Exception as exc:
            log.exception("%s failed", full)
            context.abort(grpc.StatusCode.INTERNAL, f"{full}: internal error: {exc}")
        log.debug("%s: OK (%.1f ms)", full, (time.monotonic() - started) * 1000)
        return answer

    return handler


def _service_handler(pb2: Any, service: str, impl: object) -> grpc.GenericRpcHandler:
    descriptor = pb2.DESCRIPTOR.services_by_name[service]
    handlers = {}
    for method in descriptor.methods:
        request_type = getattr(pb2, method.input_type.name)
        response_type = getattr(pb2, method.output_type.name)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            _wrap(service, method.name, getattr(impl, method.name, None)),
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(descriptor.full_name, handlers)


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


class CsiServer:
    """A started server; :meth:`stop` ends it and removes the socket."""

    def __init__(self, server: grpc.Server, path: Path, controller: Controller | None) -> None:
        self.server = server
        self.path = path
        self.controller = controller

    def stop(self, grace: float = 5.0) -> None:
        self.server.stop(grace).wait()
        if self.controller is not None:
            self.controller.close()
        try:
            if stat.S_ISSOCK(self.path.lstat().st_mode):
                self.path.unlink()
        except OSError:
            pass

    def wait_for_signal(self) -> None:
        """Serve until SIGTERM or SIGINT, then stop gracefully (main thread only)."""
        done = threading.Event()

        def on_signal(signum: int, frame: object) -> None:
            log.info("signal %d: stopping", signum)
            done.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not done.wait(1.0):
                pass
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.stop()


def build_server(options: DriverOptions) -> CsiServer:
    """Build and start the server on ``options.endpoint``."""
    if options.mode not in MODES:
        raise ValueError(f"mode {options.mode!r}: expected one of {', '.join(MODES)}")
    if options.mode in ("node", "all") and not options.node_id:
        raise ValueError("the node service needs --node-id (or BRICKYARD_CSI_NODE_ID)")
    path = socket_path(options.endpoint)
    stubs = stub_loader.load()
    pb2 = stubs.pb2
    controller: Controller | None = None
    if options.mode in ("controller", "all"):
        controller = Controller(
            stubs,
            ServerConfig(options.server, options.user, options.key),
            secret_reader=options.secret_reader,
            poll_timeout=options.poll_timeout,
        )
    probe = controller.probe if controller is not None else (lambda: True)
    handlers = [
        _service_handler(
            pb2, "Identity", Identity(stubs, controller=controller is not None, probe=probe)
        )
    ]
    if controller is not None:
        handlers.append(_service_handler(pb2, "Controller", controller))
    if options.mode in ("node", "all"):
        state_dir = options.state_dir
        kubelet_dir = options.kubelet_dir
        factory = options.mounts_factory or (lambda: default_mounts(state_dir, kubelet_dir))
        handlers.append(_service_handler(pb2, "Node", Node(stubs, options.node_id, factory)))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="csi"),
        handlers=handlers,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()  # a stale socket of a previous run
        else:
            raise ValueError(f"endpoint {path} exists and is not a socket")
    except FileNotFoundError:
        pass
    with _umask(0o177):
        if server.add_insecure_port(f"unix://{path}") == 0:
            raise OSError(f"cannot listen on {path}")
        server.start()
    if path.exists():
        os.chmod(path, 0o600)
    log.info(
        "brickyard csi (%s) listening on %s%s",
        options.mode,
        path,
        f", server {options.server}" if options.server and controller else "",
    )
    return CsiServer(server, path, controller)

"""The CSI Controller service: volumes made, grown, listed and deleted through the Heketi REST
API only (Brickyard's or Heketi's), with our client.

Idempotency (what the external-provisioner relies on): the gluster volume name is derived from
the request name alone (:func:`~brickyard.csi.ids.volume_name`), so CreateVolume first looks
the name up on the server and returns the volume it finds; while a create of a name runs in
this process, another CreateVolume of that name is ABORTED at once (the sidecar retries) rather
than starting a second one; a name the server already holds for a create still in flight is
refused by the server ("already in use") and answered ABORTED too.

The gid of a new volume is the lowest one of the class's gidMin..gidMax that no volume on the
server has (read from the server at each create) and no create running in this process has
taken; it is set on the volume, as the in-tree plugin did, and put in the volume context.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import grpc

from brickyard.client import Backoff, HeketiClient, HeketiError, build_volume_create
from brickyard.csi.errors import CsiError, from_server, invalid
from brickyard.csi.ids import VolumeId, same_server, volume_name
from brickyard.csi.index import DEFAULT_TTL, VolumeIndex
from brickyard.csi.locks import KeyLocks
from brickyard.csi.params import (
    ClassParams,
    Credentials,
    ParamError,
    SecretReader,
    credentials,
    parse_class,
)

__all__ = ["GIB", "Controller", "ServerConfig", "csi_backoff"]

log = logging.getLogger(__name__)

GIB = 1 << 30
Message = Any  # generated protobuf messages are untyped


# A retry of a create still running waits for it at most this long without a deadline, and
# otherwise until this margin before its deadline (to answer before the caller gives up).
_NO_DEADLINE_WAIT = 30.0
_DEADLINE_MARGIN = 0.5


def _patience(context: Any) -> float:
    """How long a call may wait for an operation on the same volume to end: the sidecar
    retries a create whose 10 s deadline passed while it still runs; answering that retry as
    soon as the create ends (rather than ABORTED at once, then its backoff of 1, 2, 4 ... s)
    keeps a PVC storm as fast as the same creates over REST."""
    remaining = context.time_remaining() if context is not None else None
    if remaining is None:
        return _NO_DEADLINE_WAIT
    return max(0.0, min(float(remaining), _NO_DEADLINE_WAIT) - _DEADLINE_MARGIN)


def csi_backoff(poll_timeout: float = 300.0) -> Backoff:
    """The client's timing for the CSI controller: a 429 is not retried (the RPC answers
    UNAVAILABLE and the sidecar retries with its own backoff, within its 10 s deadline);
    the queue is polled as usual, for at most ``poll_timeout`` seconds."""
    return Backoff(retry_attempts=0, poll_timeout=poll_timeout)


class ServerConfig:
    """The driver's own server and credentials (``--server``, ``--user``, ``--key-file``)."""

    def __init__(self, server: str = "", user: str = "admin", key: str = "") -> None:
        self.server = server.rstrip("/")
        self.user = user
        self.key = key

    def __repr__(self) -> str:  # never the key
        return f"ServerConfig(server={self.server!r}, user={self.user!r})"


ClientFactory = Callable[[Credentials], HeketiClient]


def _bytes_to_gib(required: int) -> int:
    return max(1, math.ceil(required / GIB)) if required > 0 else 1


def _capacity(capacity_range: Message) -> tuple[int, int, int]:
    """(size in GiB, required bytes, limit bytes) of a CapacityRange."""
    required = int(capacity_range.required_bytes)
    limit = int(capacity_range.limit_bytes)
    if required < 0 or limit < 0:
        raise invalid("capacity_range: required_bytes and limit_bytes must not be negative")
    gib = _bytes_to_gib(required)
    if limit and gib * GIB > limit:
        if required == 0 and limit >= 1:
            raise CsiError(
                grpc.StatusCode.OUT_OF_RANGE,
                f"limit_bytes {limit} is below 1 GiB, the smallest volume",
            )
        raise CsiError(
            grpc.StatusCode.OUT_OF_RANGE,
            f"required_bytes {required} rounds up to {gib} GiB, above limit_bytes {limit}"
            " (GlusterFS volumes are made in whole GiB)",
        )
    return gib, required, limit


class Controller:
    """The Controller service (and the controller's Probe)."""

    def __init__(
        self,
        stubs: Any,
        config: ServerConfig,
        *,
        secret_reader: SecretReader | None = None,
        client_factory: ClientFactory | None = None,
        http_timeout: float = 30.0,
        poll_timeout: float = 300.0,
        index_ttl: float = DEFAULT_TTL,
    ) -> None:
        self.pb = stubs.pb2
        self.config = config
        self.secret_reader = secret_reader
        self._client_factory = client_factory
        self._http_timeout = http_timeout
        self._backoff = csi_backoff(poll_timeout)
        self._clients: dict[tuple[str, str, str], HeketiClient] = {}
        self._clients_lock = threading.Lock()
        self._names = KeyLocks()
        self._ids = KeyLocks()
        self._index_ttl = index_ttl
        self._indexes: dict[str, VolumeIndex] = {}
        self._gid_lock = threading.Lock()
        self._gids_taken: dict[str, set[int]] = {}

    # ---- plumbing ----------------------------------------------------------------------

    def client(self, creds: Credentials) -> HeketiClient:
        if self._client_factory is not None:
            return self._client_factory(creds)
        key = (creds.server, creds.user, creds.key)
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                client = HeketiClient(
                    creds.server,
                    creds.user if creds.key else "",  # no key: no token (as no auth)
                    creds.key,
                    timeout=self._http_timeout,
                    backoff=self._backoff,
                )
                self._clients[key] = client
            return client

    def close(self) -> None:
        with self._clients_lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def _creds(
        self,
        params: ClassParams | None,
        secrets: Mapping[str, str],
        server: str = "",
    ) -> Credentials:
        try:
            return credentials(
                params,
                secrets,
                default_server=self.config.server,
                default_user=self.config.user,
                default_key=self.config.key,
                server=server,
                secret_reader=self.secret_reader,
            )
        except ParamError as exc:
            raise invalid(str(exc)) from None

    @staticmethod
    def _params(parameters: Mapping[str, str]) -> ClassParams:
        try:
            return parse_class(parameters)
        except ParamError as exc:
            raise invalid(str(exc)) from None

    @staticmethod
    def _volume_id(text: str) -> VolumeId:
        try:
            return VolumeId.parse(text)
        except ValueError as exc:
            raise invalid(str(exc)) from None

    @contextmanager
    def _server_errors(self, creds: Credentials, doing: str) -> Iterator[None]:
        try:
            yield
        except HeketiError as exc:
            raise from_server(exc, creds.server, doing) from None

    def _server_of(self, vid: VolumeId) -> str:
        server = vid.server or self.config.server
        if not server:
            raise invalid(
                f"volume id {vid} names no server and the driver was started without --server"
            )
        return server

    def _make_id(self, heketi_id: str, creds: Credentials) -> str:
        try:
            return str(VolumeId.make(heketi_id, creds.server, self.config.server))
        except ValueError as exc:
            raise invalid(str(exc)) from None

    def _check_capabilities(self, capabilities: Any, *, required: bool = True) -> None:
        if required and not capabilities:
            raise invalid("volume_capabilities is required")
        for cap in capabilities:
            problem = self._capability_problem(cap)
            if problem:
                raise invalid(problem)

    def _capability_problem(self, cap: Message) -> str:
        kind = cap.WhichOneof("access_type")
        if kind == "block":
            return "block access type is not supported: GlusterFS volumes are filesystems"
        if kind != "mount":
            return "volume capability names no access type (mount is required)"
        if cap.mount.fs_type not in ("", "glusterfs"):
            return f"fs_type {cap.mount.fs_type!r} is not supported (GlusterFS volumes only)"
        if cap.access_mode.mode == 0:
            return "volume capability has no access mode"
        return ""

    def _context(self, info: Mapping[str, Any]) -> dict[str, str]:
        """The volume context NodeStageVolume needs to mount the volume."""
        mount = (info.get("mount") or {}).get("glusterfs") or {}
        hosts = [str(h) for h in mount.get("hosts") or []]
        device = str(mount.get("device") or "")
        first = device.rpartition(":")[0] if ":" in device else (hosts[0] if hosts else "")
        options = mount.get("options") or {}
        backup = str(options.get("backup-volfile-servers") or "")
        if not backup:
            backup = ",".join(h for h in hosts if h != first)
        context = {
            "server": first,
            "volume": str(info.get("name") or ""),
            "backup-volfile-servers": backup,
            "heketi-volume-id": str(info.get("id") or ""),
        }
        gid = int(info.get("gid") or 0)
        if gid:
            context["gid"] = str(gid)
        return context

    def _volume(self, info: Mapping[str, Any], creds: Credentials, source: Any = None) -> Message:
        volume = self.pb.Volume(
            capacity_bytes=int(info.get("size") or 0) * GIB,
            volume_id=self._make_id(str(info["id"]), creds),
            volume_context=self._context(info),
        )
        if source is not None:
            volume.content_source.CopyFrom(source)
        return volume

    # ---- Identity's Probe (controller side) ---------------------------------------------

    def probe(self) -> bool:
        if not self.config.server:
            return True  # every class names its server; nothing to ask yet
        creds = Credentials(self.config.server, self.config.user, self.config.key)
        try:
            self.client(creds).hello()
        except HeketiError as exc:
            raise CsiError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"volume manager {self.config.server} does not answer GET /hello: {exc}",
            ) from None
        return True

    # ---- CreateVolume -------------------------------------------------------------------

    def CreateVolume(self, request: Message, context: Any) -> Message:
        if not request.name:
            raise invalid("name is required")
        self._check_capabilities(request.volume_capabilities)
        gib, required, limit = _capacity(request.capacity_range)
        params = self._params(request.parameters)
        creds = self._creds(params, request.secrets)
        self._make_id("0" * 32, creds)  # a server URL too long for an id: refuse before acting
        source = None
        source_id: VolumeId | None = None
        if request.HasField("volume_content_source"):
            source = request.volume_content_source
            kind = source.WhichOneof("type")
            if kind != "volume":
                raise invalid("volume content source: only volumes can be cloned (no snapshots)")
            source_id = self._volume_id(source.volume.volume_id)
            if not same_server(self._server_of(source_id), creds.server):
                raise invalid(
                    f"cannot clone {source_id}: it is on {self._server_of(source_id)},"
                    f" the class provisions on {creds.server}"
                )
        name = volume_name(request.name, params.volume_name_prefix)
        what = f"volume {name} ({request.name})"
        with self._names.hold(f"{creds.server} {name}", what, wait=_patience(context)):
            client = self.client(creds)
            index = self._index(creds.server)
            with self._server_errors(creds, f"looking up volume {name}"):
                volumes, found = self._find(client, index, name, params)
            if found is not None:
                return self._existing(found, gib, required, limit, params, creds, source)
            try:
                if source_id is not None:
                    info = self._clone(client, creds, source_id, name, gib, limit)
                else:
                    info = self._create(client, creds, index, volumes, params, name, gib)
            except CsiError as exc:
                if exc.code == grpc.StatusCode.ABORTED:
                    index.drop()  # made by someone else meanwhile: the retry reads anew
                raise
            index.made(info)
            log.info(
                "CreateVolume %s: made volume %s (%s, %d GiB) on %s",
                request.name,
                info.get("id"),
                name,
                info.get("size"),
                creds.server,
            )
            return self.pb.CreateVolumeResponse(volume=self._volume(info, creds, source))

    def _index(self, server: str) -> VolumeIndex:
        with self._clients_lock:
            index = self._indexes.get(server)
            if index is None:
                index = self._indexes[server] = VolumeIndex(self._index_ttl)
            return index

    def _find(
        self, client: HeketiClient, index: VolumeIndex, name: str, params: ClassParams
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Every volume of the server, and the one named ``name`` (confirmed on the server)."""
        for attempt in range(2):
            volumes, read_now = index.volumes(lambda: self._all_volumes(client), fresh=attempt > 0)
            found = [v for v in volumes if v.get("name") == name]
            if params.clusters and len(found) > 1:
                found = [v for v in found if v.get("cluster") in params.clusters] or found
            if not found:
                return volumes, None
            if read_now:
                return volumes, found[0]
            try:
                return volumes, client.volume_info(str(found[0]["id"]))
            except HeketiError as exc:
                if exc.status != 404:
                    raise
                index.deleted(str(found[0]["id"]))  # gone meanwhile: read the server anew
        return volumes, None

    def _all_volumes(self, client: HeketiClient) -> list[dict[str, Any]]:
        topology = client.topology()
        return [v for c in topology.get("clusters") or [] for v in c.get("volumes") or []]

    def _existing(
        self,
        info: Mapping[str, Any],
        gib: int,
        required: int,
        limit: int,
        params: ClassParams,
        creds: Credentials,
        source: Any,
    ) -> Message:
        size = int(info.get("size") or 0) * GIB
        problems = []
        if size < required or (limit and size > limit):
            problems.append(
                f"its size is {size} bytes, the request asks for {required or gib * GIB}"
                + (f"..{limit}" if limit else "")
                + " bytes"
            )
        durability = info.get("durability") or {}
        kind = durability.get("type")
        want = params.durability
        if kind and kind != want.type:
            problems.append(f"its volume type is {kind}, the class asks for {want.type}")
        elif kind == "replicate":
            replica = int((durability.get("replicate") or {}).get("replica") or 0)
            if replica and replica != want.replica:
                problems.append(f"it has {replica} replicas, the class asks for {want.replica}")
        if problems:
            raise CsiError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"volume {info.get('name')} ({info.get('id')}) already exists for this name but"
                f" is incompatible: {'; '.join(problems)}",
            )
        return self.pb.CreateVolumeResponse(volume=self._volume(info, creds, source))

    def _pick_gid(
        self, server: str, index: VolumeIndex, volumes: list[dict[str, Any]], params: ClassParams
    ) -> int:
        """The lowest free gid of the class's range, not on a volume of ``volumes`` nor of the
        index (which has the creates that ended since ``volumes`` was read), nor taken by a
        create running now; reserved until :meth:`_release_gid`."""
        with self._gid_lock:
            taken = self._gids_taken.setdefault(server, set())
            used = {int(v.get("gid") or 0) for v in volumes} | index.gids() | taken
            gid = params.gid_min
            for g in sorted(u for u in used if params.gid_min <= u <= params.gid_max):
                if g == gid:
                    gid += 1
                elif g > gid:
                    break
            if gid > params.gid_max:
                raise CsiError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"no free gid in gidMin..gidMax ({params.gid_min}..{params.gid_max}):"
                    " every one is used by a volume",
                )
            taken.add(gid)
            return gid

    def _release_gid(self, server: str, gid: int) -> None:
        with self._gid_lock:
            self._gids_taken.get(server, set()).discard(gid)

    def _create(
        self,
        client: HeketiClient,
        creds: Credentials,
        index: VolumeIndex,
        volumes: list[dict[str, Any]],
        params: ClassParams,
        name: str,
        gib: int,
    ) -> dict[str, Any]:
        gid = self._pick_gid(creds.server, index, volumes, params)
        d = params.durability
        body = build_volume_create(
            gib,
            name=name,
            durability=d.type,
            replica=d.replica,
            disperse_data=d.data,
            redundancy=d.redundancy,
            snapshot_factor=params.snap_factor,
            gid=gid,
            clusters=params.clusters,
            gluster_volume_options=params.volume_options,
        )
        try:
            with self._server_errors(creds, f"creating volume {name}"):
                info = client.volume_create_body(body)
            index.made(info)  # its gid is known before the reservation ends
            return info
        finally:
            self._release_gid(creds.server, gid)

    def _clone(
        self,
        client: HeketiClient,
        creds: Credentials,
        source: VolumeId,
        name: str,
        gib: int,
        limit: int,
    ) -> dict[str, Any]:
        with self._server_errors(creds, f"reading clone source {source.heketi_id}"):
            try:
                origin = client.volume_info(source.heketi_id)
            except HeketiError as exc:
                if exc.status == 404:
                    raise CsiError(
                        grpc.StatusCode.NOT_FOUND, f"clone source volume {source} does not exist"
                    ) from None
                raise
        origin_size = int(origin.get("size") or 0)
        if limit and origin_size * GIB > limit:
            raise CsiError(
                grpc.StatusCode.OUT_OF_RANGE,
                f"clone source {source} is {origin_size} GiB, above limit_bytes {limit}",
            )
        with self._server_errors(creds, f"cloning volume {source.heketi_id} as {name}"):
            try:
                info = client.volume_clone(source.heketi_id, name)
            except HeketiError as exc:
                if exc.status in (404, 405) and "not found" not in exc.message.lower():
                    raise CsiError(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"the server {creds.server} cannot clone volumes: {exc.message}",
                    ) from None
                raise
        if gib > int(info.get("size") or 0):
            try:
                with self._server_errors(creds, f"expanding clone {name} to {gib} GiB"):
                    info = client.volume_expand(str(info["id"]), gib - int(info.get("size") or 0))
            except CsiError:
                # never leave a clone of the wrong size behind: the retry starts afresh
                try:
                    client.volume_delete(str(info["id"]))
                except HeketiError as exc:
                    log.warning("could not remove clone %s after a failed expand: %s", name, exc)
                raise
        return info

    # ---- DeleteVolume -------------------------------------------------------------------

    def DeleteVolume(self, request: Message, context: Any) -> Message:
        vid = self._volume_id(request.volume_id)
        creds = self._creds(None, request.secrets, self._server_of(vid))
        with self._ids.hold(str(vid), f"volume {vid}"):
            client = self.client(creds)
            try:
                client.volume_delete(vid.heketi_id)
            except HeketiError as exc:
                if exc.status != 404:
                    raise from_server(
                        exc, creds.server, f"deleting volume {vid.heketi_id}"
                    ) from None
                log.info("DeleteVolume %s: no such volume on %s (done)", vid, creds.server)
            else:
                log.info("DeleteVolume %s: deleted on %s", vid, creds.server)
            self._index(creds.server).deleted(vid.heketi_id)
        return self.pb.DeleteVolumeResponse()

    # ---- ControllerExpandVolume ---------------------------------------------------------

    def ControllerExpandVolume(self, request: Message, context: Any) -> Message:
        vid = self._volume_id(request.volume_id)
        if not request.HasField("capacity_range"):
            raise invalid("capacity_range is required")
        if request.HasField("volume_capability"):
            self._check_capabilities([request.volume_capability])
        gib, _required, _limit = _capacity(request.capacity_range)
        creds = self._creds(None, request.secrets, self._server_of(vid))
        with self._ids.hold(str(vid), f"volume {vid}"):
            client = self.client(creds)
            with self._server_errors(creds, f"expanding volume {vid.heketi_id}"):
                info = client.volume_info(vid.heketi_id)
                size = int(info.get("size") or 0)
                if gib > size:
                    info = client.volume_expand(vid.heketi_id, gib - size)
                    log.info("ControllerExpandVolume %s: %d -> %s GiB", vid, size, info.get("size"))
        return self.pb.ControllerExpandVolumeResponse(
            capacity_bytes=int(info.get("size") or 0) * GIB, node_expansion_required=False
        )

    # ---- ValidateVolumeCapabilities -----------------------------------------------------

    def ValidateVolumeCapabilities(self, request: Message, context: Any) -> Message:
        vid = self._volume_id(request.volume_id)
        if not request.volume_capabilities:
            raise invalid("volume_capabilities is required")
        params = self._params(request.parameters) if request.parameters else None
        creds = self._creds(params, request.secrets, self._server_of(vid))
        client = self.client(creds)
        with self._server_errors(creds, f"reading volume {vid.heketi_id}"):
            try:
                client.volume_info(vid.heketi_id)
            except HeketiError as exc:
                if exc.status == 404:
                    raise CsiError(
                        grpc.StatusCode.NOT_FOUND, f"volume {vid} does not exist on {creds.server}"
                    ) from None
                raise
        problems = [p for p in map(self._capability_problem, request.volume_capabilities) if p]
        if problems:
            return self.pb.ValidateVolumeCapabilitiesResponse(message="; ".join(problems))
        confirmed = self.pb.ValidateVolumeCapabilitiesResponse.Confirmed(
            volume_context=dict(request.volume_context),
            volume_capabilities=list(request.volume_capabilities),
            parameters=dict(request.parameters),
        )
        return self.pb.ValidateVolumeCapabilitiesResponse(confirmed=confirmed)

    # ---- ListVolumes --------------------------------------------------------------------

    def ListVolumes(self, request: Message, context: Any) -> Message:
        if request.max_entries < 0:
            raise invalid("max_entries must not be negative")
        start = 0
        if request.starting_token:
            if not request.starting_token.isdigit():
                raise CsiError(
                    grpc.StatusCode.ABORTED, f"starting_token {request.starting_token!r} is invalid"
                )
            start = int(request.starting_token)
        if not self.config.server:
            raise CsiError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "ListVolumes lists the driver's own server: start it with --server",
            )
        creds = Credentials(self.config.server, self.config.user, self.config.key)
        with self._server_errors(creds, "listing volumes"):
            volumes = self._all_volumes(self.client(creds))
        volumes = sorted((v for v in volumes if not v.get("block")), key=lambda v: str(v["id"]))
        if start > len(volumes):
            raise CsiError(
                grpc.StatusCode.ABORTED,
                f"starting_token {start} is past the end ({len(volumes)} volumes)",
            )
        end = start + request.max_entries if request.max_entries else len(volumes)
        page = volumes[start:end]
        response = self.pb.ListVolumesResponse(
            entries=[self.pb.ListVolumesResponse.Entry(volume=self._volume(v, creds)) for v in page]
        )
        if end < len(volumes):
            response.next_token = str(end)
        return response

    # ---- GetCapacity --------------------------------------------------------------------

    def GetCapacity(self, request: Message, context: Any) -> Message:
        self._check_capabilities(request.volume_capabilities, required=False)
        params = self._params(request.parameters)
        creds = self._creds(params, {})
        with self._server_errors(creds, "reading the topology"):
            topology = self.client(creds).topology()
        free_kib = 0
        for cluster in topology.get("clusters") or []:
            if params.clusters and cluster.get("id") not in params.clusters:
                continue
            if cluster.get("file") is False:
                continue
            for node in cluster.get("nodes") or []:
                if node.get("state", "online") != "online":
                    continue
                for device in node.get("devices") or []:
                    if device.get("state", "online") != "online":
                        continue
                    free_kib += int((device.get("storage") or {}).get("free") or 0)
        usable = int(free_kib * 1024 * params.durability.usable_fraction())
        return self.pb.GetCapacityResponse(available_capacity=usable)

    # ---- ControllerGetCapabilities ------------------------------------------------------

    def ControllerGetCapabilities(self, request: Message, context: Any) -> Message:
        rpc = self.pb.ControllerServiceCapability.RPC
        kinds = [
            rpc.CREATE_DELETE_VOLUME,
            rpc.LIST_VOLUMES,
            rpc.GET_CAPACITY,
            rpc.CLONE_VOLUME,
            rpc.EXPAND_VOLUME,
        ]
        return self.pb.ControllerGetCapabilitiesResponse(
            capabilities=[self.pb.ControllerServiceCapability(rpc=rpc(type=kind)) for kind in kinds]
        )

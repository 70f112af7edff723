"""The CSI Node service: gRPC glue over :class:`brickyard.csi.node_mounts.NodeMounts`, which
does the mounting (imported only when the node service is first used)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import grpc

from brickyard.csi.errors import CsiError, invalid

__all__ = ["Mounts", "Node", "default_mounts", "mount_error"]

log = logging.getLogger(__name__)

Message = Any
#: Keys NodeStageVolume needs in the volume context.
REQUIRED_CONTEXT = ("server", "volume")


class Stats(Protocol):
    """What ``NodeMounts.stats`` returns (``VolumeStats``)."""

    @property
    def total_bytes(self) -> int: ...
    @property
    def used_bytes(self) -> int: ...
    @property
    def available_bytes(self) -> int: ...
    @property
    def total_inodes(self) -> int: ...
    @property
    def used_inodes(self) -> int: ...
    @property
    def available_inodes(self) -> int: ...
    @property
    def abnormal(self) -> bool: ...
    @property
    def message(self) -> str: ...


class Mounts(Protocol):
    """What the node service needs of ``NodeMounts``."""

    def stage(
        self,
        volume_id: str,
        context: Mapping[str, str],
        staging_path: str,
        mount_flags: Sequence[str],
        read_only: bool,
    ) -> None: ...

    def unstage(self, volume_id: str, staging_path: str) -> None: ...

    def publish(
        self, volume_id: str, staging_path: str, target_path: str, read_only: bool
    ) -> None: ...

    def unpublish(self, volume_id: str, target_path: str) -> None: ...

    def stats(self, volume_id: str, volume_path: str) -> Stats: ...


def default_mounts(state_dir: Path, kubelet_dir: Path = Path("/var/lib/kubelet")) -> Mounts:
    from brickyard.csi.node_mounts import NodeMounts  # written separately; loaded on first use

    # Staging and target paths must be kubelet's: anything else is refused.
    mounts: Mounts = NodeMounts(state_dir, allowed_roots=(kubelet_dir,))
    return mounts


def _mount_error_type() -> type[Exception] | None:
    try:
        from brickyard.csi.node_mounts import MountError
    except ImportError:
        return None
    return MountError


_CODES = {
    "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "FAILED_PRECONDITION": grpc.StatusCode.FAILED_PRECONDITION,
    "ABORTED": grpc.StatusCode.ABORTED,
    "ALREADY_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    "INTERNAL": grpc.StatusCode.INTERNAL,
}


def mount_error(exc: Exception) -> CsiError | None:
    """A ``MountError`` (anything with ``code`` and ``message``) as a gRPC status."""
    code = getattr(exc, "code", None)
    if not isinstance(code, str):
        return None
    message = str(getattr(exc, "message", "") or exc)
    return CsiError(_CODES.get(code, grpc.StatusCode.INTERNAL), message)


class Node:
    def __init__(
        self,
        stubs: Any,
        node_id: str,
        mounts_factory: Callable[[], Mounts],
    ) -> None:
        self.pb = stubs.pb2
        self.node_id = node_id
        self._factory = mounts_factory
        self._mounts: Mounts | None = None

    @property
    def mounts(self) -> Mounts:
        if self._mounts is None:
            self._mounts = self._factory()
        return self._mounts

    def _call(self, volume_id: str, action: Callable[[Mounts], Any]) -> Any:
        # NodeMounts serialises the calls of one volume itself
        try:
            return action(self.mounts)
        except CsiError:
            raise
        except Exception as exc:
            mapped = mount_error(exc)
            known = _mount_error_type()
            if mapped is not None and (known is None or isinstance(exc, known)):
                raise mapped from None
            raise

    @staticmethod
    def _need(value: str, name: str) -> str:
        if not value:
            raise invalid(f"{name} is required")
        return value

    def _read_only_mode(self, cap: Message) -> bool:
        mode = self.pb.VolumeCapability.AccessMode
        return cap.access_mode.mode in (mode.SINGLE_NODE_READER_ONLY, mode.MULTI_NODE_READER_ONLY)

    def _check_capability(self, request: Message, field: str) -> Message:
        if not request.HasField(field):
            raise invalid(f"{field} is required")
        cap = getattr(request, field)
        if cap.WhichOneof("access_type") == "block":
            raise invalid("block access type is not supported: GlusterFS volumes are filesystems")
        return cap

    def NodeStageVolume(self, request: Message, context: Any) -> Message:
        volume_id = self._need(request.volume_id, "volume_id")
        staging = self._need(request.staging_target_path, "staging_target_path")
        cap = self._check_capability(request, "volume_capability")
        ctx = dict(request.volume_context)
        missing = [k for k in REQUIRED_CONTEXT if not ctx.get(k)]
        if missing:
            raise invalid(
                f"volume_context lacks {', '.join(missing)}: the volume was not made by this"
                " driver's CreateVolume (or the PV was written by hand without them)"
            )
        flags = list(cap.mount.mount_flags)
        read_only = self._read_only_mode(cap)
        self._call(volume_id, lambda m: m.stage(volume_id, ctx, staging, flags, read_only))
        return self.pb.NodeStageVolumeResponse()

    def NodeUnstageVolume(self, request: Message, context: Any) -> Message:
        volume_id = self._need(request.volume_id, "volume_id")
        staging = self._need(request.staging_target_path, "staging_target_path")
        self._call(volume_id, lambda m: m.unstage(volume_id, staging))
        return self.pb.NodeUnstageVolumeResponse()

    def NodePublishVolume(self, request: Message, context: Any) -> Message:
        volume_id = self._need(request.volume_id, "volume_id")
        target = self._need(request.target_path, "target_path")
        staging = self._need(request.staging_target_path, "staging_target_path")
        cap = self._check_capability(request, "volume_capability")
        read_only = bool(request.readonly) or self._read_only_mode(cap)
        self._call(volume_id, lambda m: m.publish(volume_id, staging, target, read_only))
        return self.pb.NodePublishVolumeResponse()

    def NodeUnpublishVolume(self, request: Message, context: Any) -> Message:
        volume_id = self._need(request.volume_id, "volume_id")
        target = self._need(request.target_path, "target_path")
        self._call(volume_id, lambda m: m.unpublish(volume_id, target))
        return self.pb.NodeUnpublishVolumeResponse()

    def NodeGetVolumeStats(self, request: Message, context: Any) -> Message:
        volume_id = self._need(request.volume_id, "volume_id")
        path = self._need(request.volume_path, "volume_path")
        stats: Stats = self._call(volume_id, lambda m: m.stats(volume_id, path))
        usage = self.pb.VolumeUsage
        return self.pb.NodeGetVolumeStatsResponse(
            usage=[
                usage(
                    unit=usage.BYTES,
                    total=stats.total_bytes,
                    used=stats.used_bytes,
                    available=stats.available_bytes,
                ),
                usage(
                    unit=usage.INODES,
                    total=stats.total_inodes,
                    used=stats.used_inodes,
                    available=stats.available_inodes,
                ),
            ],
            volume_condition=self.pb.VolumeCondition(
                abnormal=bool(stats.abnormal), message=stats.message or ""
            ),
        )

    def NodeGetInfo(self, request: Message, context: Any) -> Message:
        return self.pb.NodeGetInfoResponse(node_id=self.node_id)

    def NodeGetCapabilities(self, request: Message, context: Any) -> Message:
        rpc = self.pb.NodeServiceCapability.RPC
        kinds = [rpc.STAGE_UNSTAGE_VOLUME, rpc.GET_VOLUME_STATS, rpc.VOLUME_CONDITION]
        return self.pb.NodeGetCapabilitiesResponse(
            capabilities=[self.pb.NodeServiceCapability(rpc=rpc(type=kind)) for kind in kinds]
        )

"""The Node service's gRPC glue over a real unix socket, on a fake NodeMounts (the fixed
interface): what each RPC passes down, what it answers, and MountError codes as gRPC codes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import grpc
import pytest

from brickyard.csi.node_mounts import MountError, VolumeStats

from .csi_helpers import Driver, block_cap, code_of, csi_driver, mount_cap, pb

C = grpc.StatusCode
VID = "0123456789abcdef0123456789abcdef"
CONTEXT = {
    "server": "10.1.0.1",
    "volume": "vol_pvc-1",
    "backup-volfile-servers": "10.1.0.2,10.1.0.3",
    "gid": "2000",
    "heketi-volume-id": VID,
}
STAGING = "/var/lib/kubelet/plugins/kubernetes.io/csi/glusterfs.brickyard.io/x/globalmount"
TARGET = "/var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/pvc-1/mount"


class FakeMounts:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail: MountError | None = None
        self.stats_answer = VolumeStats(100, 40, 60, 10, 4, 6)

    def _record(self, *call: Any) -> None:
        self.calls.append(call)
        if self.fail is not None:
            raise self.fail

    def stage(
        self,
        volume_id: str,
        context: Mapping[str, str],
        staging_path: str,
        mount_flags: Sequence[str],
        read_only: bool,
    ) -> None:
        self._record("stage", volume_id, dict(context), staging_path, list(mount_flags), read_only)

    def unstage(self, volume_id: str, staging_path: str) -> None:
        self._record("unstage", volume_id, staging_path)

    def publish(self, volume_id: str, staging_path: str, target_path: str, read_only: bool) -> None:
        self._record("publish", volume_id, staging_path, target_path, read_only)

    def unpublish(self, volume_id: str, target_path: str) -> None:
        self._record("unpublish", volume_id, target_path)

    def stats(self, volume_id: str, volume_path: str) -> VolumeStats:
        self._record("stats", volume_id, volume_path)
        return self.stats_answer


@pytest.fixture
def fake() -> FakeMounts:
    return FakeMounts()


@pytest.fixture
def node(fake: FakeMounts) -> Iterator[Driver]:
    with csi_driver(mode="node", node_id="worker-1", mounts_factory=lambda: fake) as d:
        yield d


def stage_request(**overrides: Any) -> Any:
    cap = mount_cap()
    cap.mount.mount_flags.extend(["log-level=WARNING"])
    fields: dict[str, Any] = {
        "volume_id": VID,
        "staging_target_path": STAGING,
        "volume_capability": cap,
        "volume_context": CONTEXT,
    }
    fields.update(overrides)
    return pb.NodeStageVolumeRequest(**fields)


def test_info_capabilities_and_identity(node: Driver) -> None:
    assert node.node.NodeGetInfo(pb.NodeGetInfoRequest()).node_id == "worker-1"
    caps = node.node.NodeGetCapabilities(pb.NodeGetCapabilitiesRequest()).capabilities
    rpc = pb.NodeServiceCapability.RPC
    assert [c.rpc.type for c in caps] == [
        rpc.STAGE_UNSTAGE_VOLUME,
        rpc.GET_VOLUME_STATS,
        rpc.VOLUME_CONDITION,
    ]
    assert node.identity.Probe(pb.ProbeRequest()).ready.value is True
    plugin = node.identity.GetPluginCapabilities(pb.GetPluginCapabilitiesRequest())
    assert not any(c.HasField("service") for c in plugin.capabilities)  # no controller here
    code, _ = code_of(node.controller.CreateVolume, pb.CreateVolumeRequest(name="x"))
    assert code == C.UNIMPLEMENTED


def test_stage_publish_unpublish_unstage(node: Driver, fake: FakeMounts) -> None:
    node.node.NodeStageVolume(stage_request())
    node.node.NodePublishVolume(
        pb.NodePublishVolumeRequest(
            volume_id=VID,
            staging_target_path=STAGING,
            target_path=TARGET,
            volume_capability=mount_cap(),
            readonly=True,
            volume_context=CONTEXT,
        )
    )
    reader = mount_cap(pb.VolumeCapability.AccessMode.MULTI_NODE_READER_ONLY)
    node.node.NodePublishVolume(
        pb.NodePublishVolumeRequest(
            volume_id=VID,
            staging_target_path=STAGING,
            target_path=TARGET + "2",
            volume_capability=reader,
        )
    )
    node.node.NodeUnpublishVolume(pb.NodeUnpublishVolumeRequest(volume_id=VID, target_path=TARGET))
    node.node.NodeUnstageVolume(
        pb.NodeUnstageVolumeRequest(volume_id=VID, staging_target_path=STAGING)
    )
    assert fake.calls == [
        ("stage", VID, CONTEXT, STAGING, ["log-level=WARNING"], False),
        ("publish", VID, STAGING, TARGET, True),
        ("publish", VID, STAGING, TARGET + "2", True),  # a read-only access mode
        ("unpublish", VID, TARGET),
        ("unstage", VID, STAGING),
    ]


def test_volume_stats(node: Driver, fake: FakeMounts) -> None:
    answer = node.node.NodeGetVolumeStats(
        pb.NodeGetVolumeStatsRequest(volume_id=VID, volume_path=TARGET)
    )
    usage = {u.unit: (u.total, u.used, u.available) for u in answer.usage}
    assert usage == {pb.VolumeUsage.BYTES: (100, 40, 60), pb.VolumeUsage.INODES: (10, 4, 6)}
    assert not answer.volume_condition.abnormal
    fake.stats_answer = VolumeStats(0, 0, 0, 0, 0, 0, True, "Transport endpoint is not connected")
    dead = node.node.NodeGetVolumeStats(
        pb.NodeGetVolumeStatsRequest(volume_id=VID, volume_path=TARGET)
    )
    assert dead.volume_condition.abnormal
    assert "not connected" in dead.volume_condition.message


@pytest.mark.parametrize(
    "code",
    [
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "FAILED_PRECONDITION",
        "ABORTED",
        "ALREADY_EXISTS",
        "INTERNAL",
    ],
)
def test_mount_errors_become_their_status(node: Driver, fake: FakeMounts, code: str) -> None:
    fake.fail = MountError(code, f"the reason ({code})")
    got, message = code_of(node.node.NodeStageVolume, stage_request())
    assert got == getattr(C, code) and message == f"the reason ({code})"


def test_an_unexpected_error_is_internal_without_a_traceback(
    node: Driver, fake: FakeMounts
) -> None:
    def boom(*args: Any) -> None:
        raise RuntimeError("disk on fire")

    fake.unstage = boom  # type: ignore[method-assign]
    got, message = code_of(
        node.node.NodeUnstageVolume,
        pb.NodeUnstageVolumeRequest(volume_id=VID, staging_target_path=STAGING),
    )
    assert got == C.INTERNAL and "disk on fire" in message and "Traceback" not in message


BAD = [
    (stage_request(volume_id=""), "volume_id is required"),
    (stage_request(staging_target_path=""), "staging_target_path is required"),
    (
        pb.NodeStageVolumeRequest(
            volume_id=VID, staging_target_path=STAGING, volume_context=CONTEXT
        ),
        "volume_capability is required",
    ),
    (stage_request(volume_capability=block_cap()), "block access type"),
    (stage_request(volume_context={"server": "10.1.0.1"}), "volume_context lacks volume"),
]


@pytest.mark.parametrize(("request_", "text"), BAD)
def test_bad_stage_requests(node: Driver, fake: FakeMounts, request_: Any, text: str) -> None:
    got, message = code_of(node.node.NodeStageVolume, request_)
    assert got == C.INVALID_ARGUMENT and text in message
    assert fake.calls == []


def test_bad_publish_and_stats_requests(node: Driver, fake: FakeMounts) -> None:
    cases = [
        (
            node.node.NodePublishVolume,
            pb.NodePublishVolumeRequest(volume_id=VID, target_path=TARGET),
            "staging_target_path",
        ),
        (
            node.node.NodePublishVolume,
            pb.NodePublishVolumeRequest(
                volume_id=VID, staging_target_path=STAGING, volume_capability=mount_cap()
            ),
            "target_path",
        ),
        (
            node.node.NodeUnpublishVolume,
            pb.NodeUnpublishVolumeRequest(volume_id=VID),
            "target_path",
        ),
        (
            node.node.NodeGetVolumeStats,
            pb.NodeGetVolumeStatsRequest(volume_id=VID),
            "volume_path",
        ),
    ]
    for call, request, text in cases:
        got, message = code_of(call, request)
        assert got == C.INVALID_ARGUMENT and text in message, message
    assert fake.calls == []


def test_node_mode_needs_a_node_id() -> None:
    with pytest.raises(ValueError, match="node-id"), csi_driver(mode="node"):
        pass

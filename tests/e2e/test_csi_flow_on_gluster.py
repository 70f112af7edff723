"""The Kubernetes flow of issue #12 on real GlusterFS, played as the sidecars and kubelet play
it: the real `brickyard csi --mode all` process on a unix socket, called over gRPC.

CreateVolume with the example StorageClass's parameters (deploy/kubernetes/example, the
in-tree ones: resturl, restuser, secretName, volumetype replicate:3; the key comes as the
provisioner secret, as external-provisioner passes it) → NodeStageVolume → NodePublishVolume
for two "pods" → write from one, read from the other → ControllerExpandVolume → stats show the
new size → the plugin is SIGKILLed and started again: the pods' mounts keep working → the FUSE
client is killed: stats say abnormal, the next publish repairs it → unpublish both → unstage →
DeleteVolume (twice: the second of an unknown id is OK) → nothing left on any node or on the
host."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from test_csi_node_on_gluster import clients_of, mounts_under, wait_for

from brickyard.csi.stubs import load

if TYPE_CHECKING:
    from conftest import Server, Testbed

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BRICKYARD = Path(sys.executable).parent / "brickyard"
ADMIN_KEY = "e2e-admin-key"  # the e2e server's (tests/e2e/conftest.py)
DRIVER = "glusterfs.brickyard.io"
GIB = 1 << 30
pb = load().pb2
pb_grpc = load().grpc


def example_parameters(server_url: str) -> dict[str, str]:
    """The parameters of deploy/kubernetes/example/storageclass.yaml, pointed at our server."""
    text = (REPO / "deploy/kubernetes/example/storageclass.yaml").read_text()
    params: dict[str, str] = {}
    inside = False
    for line in text.splitlines():
        if line.startswith("parameters:"):
            inside = True
            continue
        if inside and line.startswith("  ") and ":" in line:
            key, value = line.strip().split(":", 1)
            params[key] = value.strip().strip('"')
        elif inside and line and not line.startswith(" "):
            break
    assert set(params) == {"resturl", "restuser", "secretNamespace", "secretName", "volumetype"}
    params["resturl"] = server_url
    return params


class Plugin:
    """`brickyard csi --mode all` as a process of its own, restartable."""

    def __init__(self, workdir: Path, server_url: str, kubelet: Path) -> None:
        self.socket = Path(f"/tmp/csi-e2e-{uuid.uuid4().hex[:8]}.sock")
        self.argv = [
            str(BRICKYARD),
            "csi",
            "--mode=all",
            f"--endpoint=unix://{self.socket}",
            "--node-id=e2e-host",
            f"--server={server_url}",
            "--user=admin",
            f"--state-dir={workdir / 'state'}",
            f"--kubelet-dir={kubelet}",
        ]
        self.log = workdir / "plugin.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
        env["BRICKYARD_CSI_KEY"] = ADMIN_KEY
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        grpc.channel_ready_future(self.channel).result(timeout=60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        if self.channel is not None:
            self.channel.close()

    def stop(self) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        assert not self.socket.exists(), "a stopped plugin removes its socket"

    @property
    def identity(self) -> Any:
        return pb_grpc.IdentityStub(self.channel)

    @property
    def controller(self) -> Any:
        return pb_grpc.ControllerStub(self.channel)

    @property
    def node(self) -> Any:
        return pb_grpc.NodeStub(self.channel)


@pytest.fixture
def kubelet(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "kubelet"
    root.mkdir()
    try:
        yield root
    finally:  # whatever a failed test left: no mount and no client may outlive it
        for target in sorted(mounts_under(root), key=len, reverse=True):
            subprocess.run(["umount", "-l", target], check=False, timeout=60)
        for staging in root.glob("plugins/kubernetes.io/csi/*/*/globalmount"):
            for pid in clients_of(staging):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def plugin(tmp_path: Path, server: Server, kubelet: Path) -> Iterator[Plugin]:
    started = Plugin(tmp_path, server.url, kubelet)
    started.start()
    try:
        yield started
    finally:
        started.stop()


def capability(read_only: bool = False) -> Any:
    cap = pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume())
    mode = pb.VolumeCapability.AccessMode
    cap.access_mode.mode = (
        mode.MULTI_NODE_READER_ONLY if read_only else mode.MULTI_NODE_MULTI_WRITER
    )
    return cap


def test_the_kubernetes_flow_on_real_gluster(
    server: Server, testbed: Testbed, plugin: Plugin, kubelet: Path, leftovers: Any
) -> None:
    server.load_topology()
    info = plugin.identity.GetPluginInfo(pb.GetPluginInfoRequest(), timeout=10)
    assert info.name == DRIVER
    assert plugin.identity.Probe(pb.ProbeRequest(), timeout=10).ready.value

    # -- the provisioner: CreateVolume, retried with the same name as after a timeout --------
    name = f"pvc-{uuid.uuid4()}"
    request = pb.CreateVolumeRequest(
        name=name,
        capacity_range=pb.CapacityRange(required_bytes=GIB // 2),  # rounds up to 1 GiB
        volume_capabilities=[capability()],
        parameters=example_parameters(server.url),
        secrets={"key": ADMIN_KEY},
    )
    created = plugin.controller.CreateVolume(request, timeout=300).volume
    assert created.capacity_bytes == GIB
    again = plugin.controller.CreateVolume(request, timeout=300).volume
    assert again.volume_id == created.volume_id  # the same volume, never a second
    context = dict(created.volume_context)
    volumes = server.json("volume", "list")["volumes"]
    heketi_id = context["heketi-volume-id"]
    assert volumes == [heketi_id]
    volume = server.json("volume", "info", heketi_id)
    assert volume["durability"]["replicate"]["replica"] == 3
    assert context["volume"] == volume["name"]
    assert context["server"] in testbed.nodes
    assert int(context["gid"]) == volume["gid"] >= 2000

    # -- kubelet: stage once, publish to two pods -------------------------------------------
    vid = created.volume_id
    staging = kubelet / f"plugins/kubernetes.io/csi/{DRIVER}/{uuid.uuid4().hex}/globalmount"
    staging.mkdir(parents=True)
    stage = pb.NodeStageVolumeRequest(
        volume_id=vid,
        staging_target_path=str(staging),
        volume_capability=capability(),
        volume_context=context,
    )
    plugin.node.NodeStageVolume(stage, timeout=120)
    targets = []
    for pod in ("pod-a", "pod-b"):
        target = kubelet / f"pods/{pod}/volumes/kubernetes.io~csi/{name}/mount"
        target.parent.mkdir(parents=True)
        publish = pb.NodePublishVolumeRequest(
            volume_id=vid,
            staging_target_path=str(staging),
            target_path=str(target),
            volume_capability=capability(),
            volume_context=context,
        )
        plugin.node.NodePublishVolume(publish, timeout=120)
        targets.append((target, publish))
    (targets[0][0] / "hello.txt").write_text("written by pod-a\n")
    assert (targets[1][0] / "hello.txt").read_text() == "written by pod-a\n"

    # -- the resizer: expand online; the mount shows the new size ---------------------------
    expanded = plugin.controller.ControllerExpandVolume(
        pb.ControllerExpandVolumeRequest(
            volume_id=vid,
            capacity_range=pb.CapacityRange(required_bytes=2 * GIB),
            secrets={"key": ADMIN_KEY},
        ),
        timeout=300,
    )
    assert expanded.capacity_bytes == 2 * GIB and not expanded.node_expansion_required

    def total_bytes() -> int:
        stats = plugin.node.NodeGetVolumeStats(
            pb.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=str(targets[0][0])),
            timeout=30,
        )
        assert not stats.volume_condition.abnormal, stats.volume_condition.message
        return max(u.total for u in stats.usage if u.unit == pb.VolumeUsage.BYTES)

    wait_for(lambda: total_bytes() > 1.5 * GIB, "the mount to show the expanded size", 60)

    # -- the node plugin restarts (SIGKILL, as a crashed container): the pods keep their data -
    client = clients_of(staging)
    assert len(client) == 1
    plugin.kill()
    assert (targets[1][0] / "hello.txt").read_text() == "written by pod-a\n"
    (targets[1][0] / "second.txt").write_text("written while the plugin was down\n")
    plugin.start()
    assert clients_of(staging) == client  # the same client: it never died
    plugin.node.NodePublishVolume(targets[0][1], timeout=120)  # kubelet's retry: a no-op
    assert sum(m == str(targets[0][0]) for m in mounts_under(kubelet)) == 1

    # -- the FUSE client dies: stats say so, the next publish repairs the mount -------------
    os.kill(client[0], signal.SIGKILL)
    stats = plugin.node.NodeGetVolumeStats(
        pb.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=str(targets[0][0])), timeout=30
    )
    assert stats.volume_condition.abnormal, stats
    plugin.node.NodePublishVolume(targets[0][1], timeout=120)
    assert (targets[0][0] / "second.txt").read_text() == "written while the plugin was down\n"
    assert (targets[1][0] / "hello.txt").read_text() == "written by pod-a\n"

    # -- teardown as kubelet and the provisioner do it --------------------------------------
    for target, _ in targets:
        unpublish = pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
        plugin.node.NodeUnpublishVolume(unpublish, timeout=60)
        plugin.node.NodeUnpublishVolume(unpublish, timeout=60)  # idempotent
    unstage = pb.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=str(staging))
    plugin.node.NodeUnstageVolume(unstage, timeout=60)
    plugin.node.NodeUnstageVolume(unstage, timeout=60)
    delete = pb.DeleteVolumeRequest(volume_id=vid, secrets={"key": ADMIN_KEY})
    plugin.controller.DeleteVolume(delete, timeout=300)
    plugin.controller.DeleteVolume(delete, timeout=300)  # unknown id now: OK
    assert server.json("volume", "list").get("volumes") in (None, [])
    assert mounts_under(kubelet) == []
    wait_for(lambda: clients_of(staging) == [], "the GlusterFS client to exit")
    assert leftovers() == {}
    log = plugin.log.read_text()
    assert ADMIN_KEY not in log and "Traceback" not in log, log

"""The CSI node side on real GlusterFS: NodeMounts played as kubelet plays it.

A replica-3 volume made through the server is staged (a FUSE mount from this host), published
to two "pods" (bind mounts) and a read-only third, written from one and read from the other;
stats come from the mount.  Its GlusterFS client is SIGKILLed: stats say abnormal and the next
publish mounts it again and binds every target again.  Then the plugin restart: a separate
process stages and publishes, and is killed (plainly, or as a container stop kills every
process of its cgroup); the mount keeps working when the client was started outside the
plugin, and a new NodeMounts publishes again.  At the end nothing is left mounted
(/proc/self/mountinfo) and no client process is left for the volume.

Staging and target directories live under a tmp dir passed as allowed_roots."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from brickyard.csi.node_mounts import MountError, NodeMounts

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e

GIB = 1 << 30


# ---- what the test looks at: the kernel's mount table, the processes ---------------------


def mountinfo_targets() -> list[str]:
    """Mount points of this process's mount namespace, from the kernel itself."""
    targets = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        target = line.split()[4]
        targets.append(target.replace("\\040", " "))
    return targets


def mounts_under(root: Path) -> list[str]:
    return [t for t in mountinfo_targets() if t == str(root) or t.startswith(f"{root}/")]


def clients_of(mount_point: Path) -> list[int]:
    """Pids of the GlusterFS FUSE clients serving `mount_point` (glusterfs ... --process-name
    fuse ... --volfile-id=/<volume> <mount point>)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            raw = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        argv = [a.decode(errors="replace") for a in raw if a]
        if state == "Z" or not argv or not argv[0].endswith("glusterfs"):
            continue
        if "fuse" in argv and argv[-1] == str(mount_point):
            found.append(int(proc.name))
    return found


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def statvfs_errno(path: Path) -> int:
    try:
        os.statvfs(path)
    except OSError as exc:
        return exc.errno or -1
    return 0


# ---- the volume, and kubelet's directories ----------------------------------------------


@pytest.fixture(scope="module")
def volume(server: Server) -> dict[str, str]:
    """A replica-3 volume made through the server; its CSI volume context."""
    server.load_topology()
    vid = server.create_volume("--size=1")
    info = server.json("volume", "info", vid)
    hosts = info["mount"]["glusterfs"]["hosts"]
    name = info["name"]
    assert info["durability"]["replicate"]["replica"] == 3
    return {
        "id": vid,
        "server": hosts[0],
        "volume": name,
        "backup-volfile-servers": ",".join(hosts[1:]),
        "heketi-volume-id": vid,
    }


class Kubelet:
    """kubelet's directories for one volume under a tmp root (the allowed root)."""

    def __init__(self, root: Path, vid: str) -> None:
        self.root = root
        self.staging = (
            root / "plugins/kubernetes.io/csi/glusterfs.brickyard.io" / vid / "globalmount"
        )
        self.staging.mkdir(parents=True)  # kubelet makes the staging dir ...
        self.pods: list[Path] = []

    def target(self, pod: str) -> Path:
        path = self.root / "pods" / pod / "volumes/kubernetes.io~csi/pvc-1/mount"
        path.parent.mkdir(parents=True, exist_ok=True)  # ... and the target's parent
        return path


@pytest.fixture
def kubelet(tmp_path: Path, volume: dict[str, str]) -> Iterator[Kubelet]:
    root = tmp_path / "kubelet"
    root.mkdir()
    made = Kubelet(root, volume["id"])
    try:
        yield made
    finally:  # whatever a failed test left: no mount and no client may outlive it
        for target in sorted(mounts_under(root), key=len, reverse=True):
            subprocess.run(["umount", "-l", target], check=False, timeout=60)
        for pid in clients_of(made.staging):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def context_of(volume: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in volume.items() if k != "id"}


def assert_nothing_left(kubelet: Kubelet, targets: list[Path]) -> None:
    assert mounts_under(kubelet.root) == []
    wait_for(lambda: clients_of(kubelet.staging) == [], "the GlusterFS client to exit")
    assert not any(t.exists() for t in targets)  # unpublish removes the target dirs


# ---- the flow ---------------------------------------------------------------------------


def test_stage_publish_two_pods_kill_the_client_repair_unstage(
    kubelet: Kubelet, volume: dict[str, str], tmp_path: Path
) -> None:
    vid, staging = volume["id"], str(kubelet.staging)
    nm = NodeMounts(tmp_path / "state", allowed_roots=[kubelet.root], systemd=False)
    pod_a, pod_b, pod_r = kubelet.target("a"), kubelet.target("b"), kubelet.target("r")

    started = time.monotonic()
    nm.stage(vid, context_of(volume), staging, ["acl"], False)
    stage_seconds = time.monotonic() - started
    nm.stage(vid, context_of(volume), staging, ["acl"], False)  # kubelet's retry
    assert mounts_under(kubelet.root) == [staging]
    [client] = clients_of(kubelet.staging)
    argv = Path(f"/proc/{client}/cmdline").read_bytes().decode().split("\0")
    assert f"--volfile-id=/{volume['volume']}" in argv
    assert len([a for a in argv if a.startswith("--volfile-server=")]) == 3  # + backups
    assert f"--log-file={nm.log_file(volume['volume'])}" in argv

    started = time.monotonic()
    nm.publish(vid, staging, str(pod_a), False)
    publish_seconds = time.monotonic() - started
    nm.publish(vid, staging, str(pod_b), False)
    nm.publish(vid, staging, str(pod_r), True)
    for _ in range(2):  # retries never stack a second bind
        nm.publish(vid, staging, str(pod_a), False)
        nm.publish(vid, staging, str(pod_r), True)
    assert sorted(mounts_under(kubelet.root)) == sorted(
        [staging, str(pod_a), str(pod_b), str(pod_r)]
    )

    data = os.urandom(3 << 20)
    (pod_a / "from-a").write_bytes(data)
    assert (pod_b / "from-a").read_bytes() == data
    (pod_b / "from-b").write_text("hello")
    assert (pod_r / "from-b").read_text() == "hello"
    with pytest.raises(OSError) as denied:
        (pod_r / "nope").write_text("x")
    assert denied.value.errno == errno.EROFS

    stats = nm.stats(vid, str(pod_a))
    assert not stats.abnormal and 0.9 * GIB < stats.total_bytes <= 1.1 * GIB
    assert 0 < stats.used_bytes < stats.total_bytes and stats.available_bytes > 0
    assert stats.total_inodes > 0 and stats.used_inodes > 0 and stats.available_inodes > 0
    with pytest.raises(MountError) as not_ours:
        nm.stats(vid, str(kubelet.root / "pods"))
    assert not_ours.value.code == "NOT_FOUND"

    # The client dies: every mount of it is dead, stats say so, the next publish repairs.
    os.kill(client, signal.SIGKILL)
    wait_for(lambda: statvfs_errno(pod_a) == errno.ENOTCONN, "the mount to die")
    dead = nm.stats(vid, str(pod_b))
    assert dead.abnormal and "Transport endpoint is not connected" in dead.message
    started = time.monotonic()
    nm.publish(vid, staging, str(pod_a), False)
    repair_seconds = time.monotonic() - started
    [new_client] = clients_of(kubelet.staging)
    assert new_client != client
    for pod in (pod_a, pod_b, pod_r):  # the other pods' binds were made again too
        assert statvfs_errno(pod) == 0, pod
        assert (pod / "from-a").read_bytes() == data
    assert sorted(mounts_under(kubelet.root)) == sorted(
        [staging, str(pod_a), str(pod_b), str(pod_r)]
    )
    assert not nm.stats(vid, str(pod_b)).abnormal
    with pytest.raises(OSError):
        (pod_r / "nope").write_text("x")  # still read-only after the repair

    with pytest.raises(MountError) as busy:
        nm.unstage(vid, staging)
    assert busy.value.code == "FAILED_PRECONDITION"
    for pod in (pod_a, pod_b, pod_r):
        nm.unpublish(vid, str(pod))
        nm.unpublish(vid, str(pod))  # kubelet's retry
    started = time.monotonic()
    nm.unstage(vid, staging)
    unstage_seconds = time.monotonic() - started
    nm.unstage(vid, staging)
    assert_nothing_left(kubelet, [pod_a, pod_b, pod_r])
    assert nm.log_file(volume["volume"]).exists()
    print(
        f"\nstage {stage_seconds * 1000:.0f} ms, publish {publish_seconds * 1000:.0f} ms, "
        f"repair after client kill {repair_seconds * 1000:.0f} ms, "
        f"unstage {unstage_seconds * 1000:.0f} ms"
    )


# ---- plugin restart ---------------------------------------------------------------------

PLUGIN = """
import json, sys
from pathlib import Path
from brickyard.csi.node_mounts import NodeMounts
args = json.loads(sys.argv[1])
cgroup = Path(args["client_cgroup"]) if args["client_cgroup"] else None
nm = NodeMounts(Path(args["state"]), allowed_roots=[Path(args["root"])], client_cgroup=cgroup,
                systemd=False)
nm.stage(args["vid"], args["context"], args["staging"], [], False)
nm.publish(args["vid"], args["staging"], args["target"], False)
print("published", flush=True)
sys.stdin.read()  # runs until killed
"""

# Starts a command inside a cgroup (writes itself into cgroup.procs, then execs): the
# "container" of the plugin.
ENTER = "import os, sys\nopen(sys.argv[1], 'w').write('0')\nos.execvp(sys.argv[2], sys.argv[2:])"


def cgroup2_root() -> Path | None:
    """A writable cgroup v2 hierarchy (cgroup.kill needs Linux >= 5.14), or None."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        fstype = fields[fields.index("-") + 1]
        if fstype == "cgroup2":
            root = Path(fields[4])
            probe = root / f"brickyard-csinode-probe-{os.getpid()}"
            try:
                probe.mkdir()
            except OSError:
                continue
            try:
                if (probe / "cgroup.kill").exists():
                    return root
            finally:
                probe.rmdir()
    return None


@contextlib.contextmanager
def cgroup(path: Path) -> Iterator[Path]:
    path.mkdir()
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            (path / "cgroup.kill").write_text("1")
        wait_for(lambda: not (path / "cgroup.procs").read_text().split(), f"{path} to empty")
        path.rmdir()


@pytest.mark.parametrize("how", ["sigkill", "container-stop", "container-stop-no-escape"])
def test_mount_survives_a_plugin_restart(
    kubelet: Kubelet, volume: dict[str, str], tmp_path: Path, how: str
) -> None:
    """sigkill: the plugin process is SIGKILLed.  container-stop: every process of the
    plugin's cgroup is killed (what the container runtime does), the client having been
    started in a cgroup of its own (client_cgroup).  container-stop-no-escape: the same
    without client_cgroup, the negative control: the client dies with the plugin, and a new
    plugin's publish repairs the mount."""
    vid, staging = volume["id"], str(kubelet.staging)
    pod_a, pod_b = kubelet.target("a"), kubelet.target("b")
    state = tmp_path / "state"
    cg2 = cgroup2_root() if how != "sigkill" else None
    if how != "sigkill" and cg2 is None:
        pytest.skip("no writable cgroup v2 hierarchy with cgroup.kill on this machine")
    with contextlib.ExitStack() as stack:
        plugin_cg = client_cg = None
        if cg2 is not None:
            plugin_cg = stack.enter_context(cgroup(cg2 / f"brickyard-csinode-plugin-{os.getpid()}"))
            if how == "container-stop":
                client_cg = stack.enter_context(
                    cgroup(cg2 / f"brickyard-csinode-clients-{os.getpid()}")
                )
        args = {
            "state": str(state), "root": str(kubelet.root), "vid": vid, "staging": staging,
            "target": str(pod_a), "context": context_of(volume),
            "client_cgroup": str(client_cg) if client_cg else None,
        }  # fmt: skip
        argv = [sys.executable, "-c", PLUGIN, json.dumps(args)]
        if plugin_cg is not None:
            argv = [sys.executable, "-c", ENTER, str(plugin_cg / "cgroup.procs"), *argv]
        plugin = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        stack.callback(plugin.kill)
        assert plugin.stdout is not None
        line = plugin.stdout.readline()
        assert line == "published\n", plugin.stderr.read() if plugin.stderr else ""
        [client] = clients_of(kubelet.staging)
        (pod_a / f"before-{how}").write_text("before")

        if plugin_cg is None:
            plugin.send_signal(signal.SIGKILL)
        else:  # the container runtime's stop: every process in the container's cgroup
            assert str(client) in (plugin_cg / "cgroup.procs").read_text().split() or (
                client_cg is not None
            )
            (plugin_cg / "cgroup.kill").write_text("1")
        plugin.wait(timeout=30)
        assert plugin.returncode == -signal.SIGKILL

        nm = NodeMounts(state, allowed_roots=[kubelet.root], systemd=False)  # the new plugin
        if how == "container-stop-no-escape":
            wait_for(lambda: statvfs_errno(pod_a) == errno.ENOTCONN, "the mount to die")
            assert nm.stats(vid, str(pod_a)).abnormal
            nm.publish(vid, staging, str(pod_b), False)  # repairs the stage, rebinds pod a
            assert clients_of(kubelet.staging) != [client]
        else:
            time.sleep(1)  # a client that dies with the plugin is gone by now
            assert clients_of(kubelet.staging) == [client]
            assert statvfs_errno(pod_a) == 0
            nm.publish(vid, staging, str(pod_a), False)  # kubelet's retry: nothing to do
            nm.publish(vid, staging, str(pod_b), False)
            assert clients_of(kubelet.staging) == [client]
        assert (pod_a / f"before-{how}").read_text() == "before"
        (pod_a / f"after-{how}").write_text("after")
        assert (pod_b / f"after-{how}").read_text() == "after"
        assert sorted(mounts_under(kubelet.root)) == sorted([staging, str(pod_a), str(pod_b)])

        nm.unpublish(vid, str(pod_a))
        nm.unpublish(vid, str(pod_b))
        nm.unstage(vid, staging)
        assert_nothing_left(kubelet, [pod_a, pod_b])


def test_staging_a_missing_volume_is_not_found_and_leaves_nothing(
    kubelet: Kubelet, volume: dict[str, str], tmp_path: Path
) -> None:
    nm = NodeMounts(tmp_path / "state", allowed_roots=[kubelet.root], systemd=False)
    context = {**context_of(volume), "volume": "vol_does_not_exist"}
    with pytest.raises(MountError) as missing:
        nm.stage(volume["id"], context, str(kubelet.staging), [], False)
    assert missing.value.code == "NOT_FOUND", missing.value.message
    assert mounts_under(kubelet.root) == [] and clients_of(kubelet.staging) == []

"""End-to-end tests on real GlusterFS: the namespace test bed of ``testbed/tb``.

The session fixture ``testbed`` brings up N nodes on this machine (each in its own network and
mount namespace with its own glusterd and key-only sshd, addresses 10.200.0.1..N, raw disks
``/dev/tb/vdb``...) and removes them at the end.  It skips, with the reason, when the machine
cannot run the bed: not root, no /dev/fuse, no ``ip netns`` or namespaces, GlusterFS missing and
not installable.  ``BRICKYARD_E2E=0`` skips on purpose; ``TB_KEEP=1`` reuses a running bed and
leaves it up afterwards (faster iterations; ``testbed/tb down`` removes it).

The nodes start unpeered with raw disks: peer probe and brick preparation are the manager's job.
Tests that change the nodes must undo what they did (the bed is shared by the session).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TB = REPO / "testbed" / "tb"
E2E_DIR = Path(__file__).resolve().parent
Proc = subprocess.CompletedProcess[str]
NEEDED = ("glusterd", "gluster", "mount.glusterfs", "sshd", "ssh", "mkfs.xfs", "nsenter", "unshare")


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    check: bool = True,
    timeout: float = 120,
    input: str | None = None,
) -> Proc:
    """Run a command, capture text output; on failure (check) raise with the output attached."""
    proc = subprocess.run(
        [os.fspath(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{shlex.join(proc.args)} -> rc {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


@dataclass(frozen=True)
class Testbed:
    """A running bed.  Nodes are numbered from 1 as in ``tb``: node ``i`` is ``nodes[i - 1]``."""

    nodes: list[str]  # node addresses, "10.200.0.1" ...
    ssh_key: Path  # private key that logs in as ssh_user on every node
    ssh_user: str
    known_hosts: Path  # the nodes' host keys
    state: Path  # TB_STATE: everything the bed keeps on disk
    disks: list[str]  # raw, unformatted disks on every node: "/dev/tb/vdb" ...
    device_dir: str  # a plain directory on every node, for the loop-file backend
    host_ip: str  # this machine's address on the bed's bridge

    @classmethod
    def from_tb_env(cls) -> Testbed:
        env: dict[str, str] = {}
        for line in run([TB, "env"]).stdout.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = shlex.split(value)[0] if value else ""
        return cls(
            nodes=env["TB_NODES"].split(),
            ssh_key=Path(env["TB_SSH_KEY"]),
            ssh_user=env["TB_SSH_USER"],
            known_hosts=Path(env["TB_SSH_KNOWN_HOSTS"]),
            state=Path(env["TB_STATE"]),
            disks=env["TB_DISKS"].split(),
            device_dir=env["TB_DEVICE_DIR"],
            host_ip=env["TB_HOST_IP"],
        )

    run = staticmethod(run)  # run(argv, check=True, timeout=120, input=None)

    def ip(self, node: int) -> str:
        return self.nodes[node - 1]

    def tb(self, *args: str, check: bool = True, timeout: float = 120) -> Proc:
        """``testbed/tb ARGS...``, e.g. ``tb("crash", "3")``."""
        return run([TB, *args], check=check, timeout=timeout)

    def x(
        self,
        node: int,
        *cmd: str,
        check: bool = True,
        input: str | None = None,
        timeout: float = 60,
    ) -> Proc:
        """Run CMD inside the node's namespaces, as root, without ssh (``tb x``)."""
        return run([TB, "x", str(node), *cmd], check=check, input=input, timeout=timeout)

    @property
    def ssh_options(self) -> list[str]:
        """Options for the system ``ssh`` client: the bed's key and host keys, never prompt."""
        return [
            "-F", "/dev/null",
            "-i", str(self.ssh_key),
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "ConnectTimeout=5",
            "-o", "LogLevel=ERROR",
        ]  # fmt: skip

    def ssh(self, node: int, command: str, *, check: bool = True, timeout: float = 60) -> Proc:
        """Run a shell command line on the node over ssh, as the manager does."""
        argv = ["ssh", *self.ssh_options, f"{self.ssh_user}@{self.ip(node)}", command]
        return run(argv, check=check, timeout=timeout)

    def gluster(self, node: int, *args: str, check: bool = True) -> Proc:
        """``gluster --mode=script ARGS`` on the node over ssh."""
        return self.ssh(node, shlex.join(["gluster", "--mode=script", *args]), check=check)

    @property
    def sshexec(self) -> dict[str, str]:
        """The bed as Heketi's ``glusterfs.sshexec`` configuration section."""
        return {"keyfile": str(self.ssh_key), "user": self.ssh_user, "port": "22"}


def _unavailable() -> str | None:
    """Why the bed cannot run here, or None."""
    if os.environ.get("BRICKYARD_E2E") == "0":
        return "BRICKYARD_E2E=0"
    if os.geteuid() != 0:
        return "the GlusterFS test bed needs root (namespaces, loop devices, mounts)"
    if not Path("/dev/fuse").exists():
        return "no /dev/fuse: the host cannot FUSE-mount GlusterFS volumes"
    if shutil.which("ip") is None or run(["ip", "netns", "list"], check=False).returncode != 0:
        return "`ip netns` is not available"
    probe = run(["unshare", "--net", "--mount", "--uts", "true"], check=False)
    if probe.returncode != 0:
        return f"cannot create namespaces (needs CAP_SYS_ADMIN): {probe.stderr.strip()}"
    if any(shutil.which(c) is None for c in NEEDED):
        inst = run([TB, "install"], check=False, timeout=900)
        missing = [c for c in NEEDED if shutil.which(c) is None]
        if missing:
            tail = "\n".join((inst.stdout + inst.stderr).strip().splitlines()[-5:])
            return f"GlusterFS/sshd/xfsprogs missing ({', '.join(missing)}); `tb install`: {tail}"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def testbed() -> Iterator[Testbed]:
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    keep = os.environ.get("TB_KEEP") == "1"
    if not keep:
        run([TB, "down"])  # leftovers of an earlier run: start from a fresh bed
    up = run([TB, "up"], check=False, timeout=300)
    if up.returncode != 0:
        run([TB, "down"], check=False)
        pytest.fail(f"testbed/tb up failed:\n{up.stdout}{up.stderr}", pytrace=False)
    try:
        yield Testbed.from_tb_env()
    finally:
        if not keep:
            run([TB, "down"], check=False)

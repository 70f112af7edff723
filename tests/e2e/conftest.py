"""End-to-end tests on real GlusterFS: the namespace test bed of ``testbed/tb``.

The session fixture ``testbed`` brings up N nodes on this machine (each in its own network and
mount namespace with its own glusterd and key-only sshd, raw disks ``/dev/e2e/vdb``...) and
removes them at the end.  It is a bed of its own, ``TB_NAME=e2e`` (netns ``e2en<i>``, subnet
derived from the name, state in /tmp/brickyard-testbed-e2e): the suite never touches the bed
of ``make demo`` or any other, and they never touch it.  It skips, with the reason, when the
machine cannot run the bed: not root, no /dev/fuse, no ``ip netns`` or namespaces, GlusterFS
missing and not installable.  ``BRICKYARD_E2E=0`` skips on purpose; ``TB_KEEP=1`` reuses a
running e2e bed and leaves it up afterwards (faster iterations; ``TB_NAME=e2e testbed/tb down``
removes it).

The nodes start unpeered with raw disks: peer probe and brick preparation are the manager's job.
Tests that change the nodes must undo what they did (the bed is shared by the session).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
TB = REPO / "testbed" / "tb"
E2E_DIR = Path(__file__).resolve().parent
Proc = subprocess.CompletedProcess[str]
NEEDED = ("glusterd", "gluster", "mount.glusterfs", "sshd", "ssh", "mkfs.xfs", "nsenter", "unshare")
# TB_NAME of the suite's bed. BRICKYARD_E2E_BED picks another, so that a developer can run the
# suite while another run (CI on a clone, say) holds "e2e".
E2E_BED = os.environ.get("BRICKYARD_E2E_BED", "e2e")


def bed_env(name: str = E2E_BED) -> dict[str, str]:
    """This process's environment with ``testbed/tb`` pointed at the bed `name`.  A shell that
    ran ``eval "$(testbed/tb env)"`` for another bed exports its TB_STATE and TB_NET, which
    would otherwise lead tb to that bed."""
    env = {k: v for k, v in os.environ.items() if k not in ("TB_NAME", "TB_STATE", "TB_NET")}
    env["TB_NAME"] = name
    return env


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    check: bool = True,
    timeout: float = 120,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Proc:
    """Run a command, capture text output; on failure (check) raise with the output attached.
    The environment is `env`, by default ``bed_env()``: ``testbed/tb`` acts on the e2e bed."""
    proc = subprocess.run(
        [os.fspath(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        env=bed_env() if env is None else env,
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

    __test__ = False  # a name starting with "Test", imported by test modules: not a test class

    nodes: list[str]  # node addresses, "10.226.0.1" ...
    ssh_key: Path  # private key that logs in as ssh_user on every node
    ssh_user: str
    known_hosts: Path  # the nodes' host keys
    state: Path  # TB_STATE: everything the bed keeps on disk
    disks: list[str]  # raw, unformatted disks on every node: "/dev/e2e/vdb" ...
    device_dir: str  # a plain directory on every node, for the loop-file backend
    host_ip: str  # this machine's address on the bed's bridge
    name: str  # TB_NAME: "e2e"
    net: str  # the first three octets of every address: "10.226.0"
    netns: list[str]  # the nodes' network namespaces: "e2en1" ...
    links: list[str]  # the bridge and the host ends of the veths: "e2ebr0", "e2ev1" ...
    disk_dir: str  # where the disks are on every node: "/dev/e2e"

    @classmethod
    def from_tb_env(cls, env: Mapping[str, str] | None = None) -> Testbed:
        """The bed `testbed/tb` acts on in `env` (default: the e2e bed), as ``tb env`` says."""
        bed: dict[str, str] = {}
        for line in run([TB, "env"], env=env).stdout.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            bed[key] = shlex.split(value)[0] if value else ""
        return cls(
            nodes=bed["TB_NODES"].split(),
            ssh_key=Path(bed["TB_SSH_KEY"]),
            ssh_user=bed["TB_SSH_USER"],
            known_hosts=Path(bed["TB_SSH_KNOWN_HOSTS"]),
            state=Path(bed["TB_STATE"]),
            disks=bed["TB_DISKS"].split(),
            device_dir=bed["TB_DEVICE_DIR"],
            host_ip=bed["TB_HOST_IP"],
            name=bed["TB_NAME"],
            net=bed["TB_NET"],
            netns=bed["TB_NETNS"].split(),
            links=bed["TB_LINKS"].split(),
            disk_dir=bed["TB_DISK_DIR"],
        )

    run = staticmethod(run)  # run(argv, check=True, timeout=120, input=None)

    def ip(self, node: int) -> str:
        return self.nodes[node - 1]

    def tb(self, *args: str, check: bool = True, timeout: float = 120) -> Proc:
        """``testbed/tb ARGS...`` on this bed, e.g. ``tb("crash", "3")``."""
        return run([TB, *args], check=check, timeout=timeout, env=bed_env(self.name))

    def x(
        self,
        node: int,
        *cmd: str,
        check: bool = True,
        input: str | None = None,
        timeout: float = 60,
    ) -> Proc:
        """Run CMD inside the node's namespaces, as root, without ssh (``tb x``)."""
        argv = [TB, "x", str(node), *cmd]
        return run(argv, check=check, input=input, timeout=timeout, env=bed_env(self.name))

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


def set_up_bed(keep: bool) -> Testbed:
    """The session's bed setup: ``tb down`` (unless `keep`: reuse a running bed) and ``tb up``
    of the e2e bed, and nothing else (tests/e2e/test_demo.py checks that it leaves other beds
    alone)."""
    if not keep:
        run([TB, "down"])  # leftovers of an earlier run: start from a fresh bed
    up = run([TB, "up"], check=False, timeout=300)
    if up.returncode != 0:
        run([TB, "down"], check=False)
        pytest.fail(f"testbed/tb up failed:\n{up.stdout}{up.stderr}", pytrace=False)
    return Testbed.from_tb_env()


@pytest.fixture(scope="session")
def testbed() -> Iterator[Testbed]:
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    keep = os.environ.get("TB_KEEP") == "1"
    bed = set_up_bed(keep)
    try:
        yield bed
    finally:
        if not keep:
            run([TB, "down"], check=False)


# ---- the `heketi` server driving the bed (shared by the e2e modules) --------------------------

BIN = Path(sys.executable).parent
ADMIN_KEY = "e2e-admin-key"


def poll_queue(
    url: str, location: str, timeout: float = 180, follow: bool = False
) -> httpx.Response:
    """Poll a queue location of the server at `url` until it is no longer pending; with
    `follow`, the answer is where its 303 leads (the volume made), not the 303."""
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(url + location, timeout=60, follow_redirects=follow)
        if r.headers.get("x-pending") != "true":
            return r
        assert time.monotonic() < deadline, f"{location} still pending"
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A running ``heketi`` (executor ssh, loop-file backend) and heketi-cli against it."""

    def __init__(self, url: str, workdir: Path, testbed: Testbed) -> None:
        self.url = url
        self.workdir = workdir
        self.testbed = testbed

    def cli(self, *args: str, check: bool = True, timeout: float = 600) -> Proc:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEKETI_")}
        env.update(HEKETI_CLI_SERVER=self.url, HEKETI_CLI_USER="admin", HEKETI_CLI_KEY=ADMIN_KEY)
        done = subprocess.run(
            [str(BIN / "heketi-cli"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"heketi-cli {' '.join(args)}: {done.stderr}{done.stdout}")
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.cli("--json", *args).stdout)

    def load_topology(self) -> None:
        """All nodes of the bed in one cluster, zone i for node i, the first raw disk each."""
        tb = self.testbed
        topology = {
            "clusters": [
                {
                    "nodes": [
                        {
                            "node": {"hostnames": {"manage": [ip], "storage": [ip]}, "zone": i},
                            "devices": [tb.disks[0]],
                        }
                        for i, ip in enumerate(tb.nodes, start=1)
                    ]
                }
            ]
        }
        path = self.workdir / "topology.json"
        path.write_text(json.dumps(topology))
        load = self.cli("topology", "load", f"--json={path}")
        assert load.stdout.count("OK") == len(tb.nodes), load.stdout

    def devices(self) -> dict[str, tuple[int, str]]:
        """device id -> (node number, device name) of the loaded topology."""
        found = {}
        for cluster in self.json("topology", "info").get("clusters") or []:
            for node in cluster.get("nodes") or []:
                number = self.testbed.nodes.index(node["hostnames"]["manage"][0]) + 1
                for device in node.get("devices") or []:
                    found[device["id"]] = (number, device["name"])
        return found

    def free_space(self) -> dict[str, int]:
        """device id -> free KiB, as `heketi-cli device info` reports it."""
        return {d: self.json("device", "info", d)["storage"]["free"] for d in self.devices()}

    def create_volume(self, *args: str) -> str:
        created = self.cli("volume", "create", *args)
        vid = re.search(r"^Volume Id: ([0-9a-f]{32})$", created.stdout, re.M)
        assert vid is not None, created.stdout
        return vid.group(1)

    def teardown_topology(self, check: bool = True) -> None:
        """Delete volumes, devices (wiped), nodes (detached) and clusters through the API."""
        for vid in self.json("volume", "list").get("volumes") or []:
            self.cli("volume", "delete", vid, check=check)
        for cluster in self.json("topology", "info").get("clusters") or []:
            for node in cluster.get("nodes") or []:
                for device in node.get("devices") or []:
                    for step in ("disable", "remove", "delete"):
                        self.cli("device", step, device["id"], check=check)
                self.cli("node", "disable", node["id"], check=False)
                self.cli("node", "delete", node["id"], check=check)
            self.cli("cluster", "delete", cluster["id"], check=check)


def start_heketi(
    testbed: Testbed,
    workdir: Path,
    env: dict[str, str] | None = None,
    disable_auth: bool = False,
    glusterfs: dict[str, Any] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``heketi --config=...`` (executor ssh, the bed's key, loop-file bricks, its database
    in `workdir`, plus the `glusterfs` settings given the first time) and wait until it
    answers; returns the process and its URL. `env` adds variables (the crash tests'
    BRICKYARD_TEST_CRASH_AT). The log is appended to server.log."""
    config_path = workdir / "heketi.json"
    if not config_path.exists():
        config = {
            "port": str(_free_port()),
            "bind_address": "127.0.0.1",
            "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": "e2e-user-key"}},
            "glusterfs": {
                "executor": "ssh",
                "db": str(workdir / "heketi.db"),
                "brick_backend": "loopfile",
                "sshexec": testbed.sshexec,
                **(glusterfs or {}),
            },
        }
        config_path.write_text(json.dumps(config))
    port = json.loads(config_path.read_text())["port"]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    full_env.update(env or {})
    argv = [str(BIN / "heketi"), f"--config={config_path}"] + (["--disable-auth"] * disable_auth)
    with (workdir / "server.log").open("ab") as log:
        process = subprocess.Popen(
            argv, cwd=workdir, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/hello", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise AssertionError((workdir / "server.log").read_text())
        time.sleep(0.1)


@contextlib.contextmanager
def heketi_server(testbed: Testbed, workdir: Path) -> Iterator[Server]:
    """``heketi --config=...`` on loopback with the ssh executor and the bed's key; on exit the
    topology it made is removed again, then the server stopped."""
    process, url = start_heketi(testbed, workdir)
    try:
        server = Server(url, workdir, testbed)
        try:
            yield server
            server.teardown_topology(check=False)
        finally:
            scrub_bed(testbed)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per module, with an empty database; its topology is removed at the end."""
    with heketi_server(testbed, tmp_path_factory.mktemp("brickyard-e2e")) as started:
        yield started


def brick_loops(testbed: Testbed) -> list[str]:
    """The loop devices holding this bed's brick images, as "<device>: (<image>)".

    The kernel has one set of loop devices: every node of every bed sees all of them in
    `losetup`, a `make demo` bed's bricks too.  A brick image sits on the filesystem a node
    made on its raw disk, a loop on ``<state>/node<i>/disks/<disk>.img``: a loop whose backing
    filesystem is a loop on another bed's disk image belongs to that bed.  (Images in a
    directory device sit on the host's filesystem and cannot be told apart this way: only
    the e2e tests use directory devices.)"""
    columns = "NAME,MAJ:MIN,BACK-MAJ:MIN,BACK-FILE"
    listing = run(["losetup", "--json", "--list", "--output", columns]).stdout
    loops = json.loads(listing or "{}").get("loopdevices") or []
    by_number = {loop["maj:min"].strip(): loop for loop in loops}
    own = []
    for loop in loops:
        under = by_number.get(loop["back-maj:min"].strip())
        if under is not None and not str(under["back-file"]).startswith(f"{testbed.state}/"):
            continue
        if "/brick_" in str(loop["back-file"]):
            own.append(f"{loop['name']}: ({loop['back-file']})")
    return own


def node_leftovers(testbed: Testbed, node: int) -> list[str]:
    """What bricks leave on a node if not cleaned: mounts, images, loop devices (of the bed:
    all nodes see them), fstab lines, gluster volumes."""
    found = []
    mounts = testbed.x(node, "findmnt", "-rn", "-o", "TARGET", check=False).stdout
    found += [m for m in mounts.split() if m.startswith("/var/lib/heketi/mounts/")]
    images = testbed.x(
        node, "sh", "-c", "ls /var/lib/heketi/devices/*/images/ 2>/dev/null || true"
    ).stdout
    found += [f"image {i}" for i in images.split() if i.endswith(".img")]
    found += [f"loop {line}" for line in brick_loops(testbed)]
    fstab = testbed.x(node, "cat", "/etc/fstab").stdout
    found += [f"fstab {line}" for line in fstab.splitlines() if "brick_" in line]
    volumes = testbed.x(node, "gluster", "--mode=script", "volume", "list", check=False)
    found += [f"volume {v}" for v in volumes.stdout.split() if v.startswith("vol_")]
    return found


@pytest.fixture
def leftovers(testbed: Testbed) -> Callable[[], dict[int, list[str]]]:
    """leftovers() -> {node: [what is left]} for nodes with something left."""

    def check() -> dict[int, list[str]]:
        found = {i: node_leftovers(testbed, i) for i in range(1, len(testbed.nodes) + 1)}
        return {i: left for i, left in found.items() if left}

    return check


SCRUB = r"""
for v in $(gluster --mode=script volume list 2>/dev/null | grep '^vol_'); do
  gluster --mode=script volume stop "$v" force; gluster --mode=script volume delete "$v"
done >/dev/null 2>&1
findmnt -rn -o TARGET | grep '^/var/lib/heketi/' | sort -r | xargs -r -n1 umount -l
for loop; do losetup -d "$loop"; done 2>/dev/null  # the bed's brick loops (brick_loops)
kept=$(grep -v /var/lib/heketi/ /etc/fstab); printf '%s\n' "$kept" > /etc/fstab
rm -rf /var/lib/heketi/devices /var/lib/heketi/mounts /srv/devices/*/images
"""


def scrub_bed(testbed: Testbed) -> None:
    """Put the bed back as `tb up` leaves it (unpeered nodes, raw disks, nothing of Heketi's),
    whatever a module's server left behind: the next module loads its topology afresh."""
    count = len(testbed.nodes)
    for i in range(1, count + 1):
        # never another bed's: `losetup -d` of a mounted loop detaches it at its next unmount
        loops = [line.split(":", 1)[0] for line in brick_loops(testbed)]
        testbed.x(i, "sh", "-c", SCRUB, "scrub", *loops, check=False)
    for i in range(2, count + 1):
        testbed.gluster(1, "peer", "detach", testbed.ip(i), "force", check=False)
    for i in range(1, count + 1):
        for disk in testbed.disks:
            testbed.x(i, "wipefs", "-q", "-a", disk, check=False)
